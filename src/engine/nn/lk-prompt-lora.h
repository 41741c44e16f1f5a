/* lk-prompt-lora.h: A1111's <lora:name:weight> prompt tags, taken out of a prompt and resolved
 * to files
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A1111's extra-network syntax: <lora:NAME>, <lora:NAME:WEIGHT> (text encoder and UNet alike),
 * <lora:NAME:TE:UNET>, and the keyword forms te=…, unet=… among the arguments. <lyco:…>
 * (the LyCORIS extension's tag) means the same. The tag is removed from the prompt, text around
 * it is left as it is; other <…> tags are not touched.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define LK_PROMPT_LORA_ERROR (lk_prompt_lora_error_quark ())

typedef enum
{
  LK_PROMPT_LORA_ERROR_SYNTAX,     /* an empty name, a weight that is not a number */
  LK_PROMPT_LORA_ERROR_NOT_FOUND,  /* no file of that name in the folders */
} LkPromptLoraError;

GQuark lk_prompt_lora_error_quark (void);

typedef struct
{
  char  *name;
  float  te_weight;    /* text encoder strength; 1 when the tag gives none */
  float  unet_weight;  /* UNet strength; the text encoder's when the tag gives none */
} LkPromptLora;

/* Returns @prompt without its LoRA tags (newly allocated) and, in @loras, an array of
 * LkPromptLora in prompt order (freed with its elements by g_array_unref). */
char    *lk_prompt_extract_loras  (const char          *prompt,
                                   GArray             **loras,
                                   GError             **error);

/* The file of a LoRA @name: NAME.safetensors, NAME.pt or NAME.ckpt, in that order, first
 * directly in each of @folders (NULL-terminated, in order), then anywhere below them (A1111
 * finds LoRAs in sub-folders by their file name). Names with a path component are refused.
 * Newly allocated; an LK_PROMPT_LORA_ERROR_NOT_FOUND naming the folders otherwise. */
char    *lk_prompt_lora_resolve   (const char          *name,
                                   const char * const  *folders,
                                   GError             **error);

G_END_DECLS
