/* lk-prompt-lora.c: <lora:name:weight> tags
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "lk-prompt-lora"

#include "config.h"

#include <gio/gio.h>
#include <math.h>
#include <string.h>

#include "lk-prompt-lora.h"

G_DEFINE_QUARK (lk-prompt-lora-error-quark, lk_prompt_lora_error)

/* How deep below a folder a LoRA is looked for: enough for A1111's sub-folders, bounded so a
 * link loop or a huge tree cannot hang generation. */
#define MAX_DEPTH 4

static const char *const extensions[] = { ".safetensors", ".pt", ".ckpt" };

static void
prompt_lora_clear (gpointer data)
{
  LkPromptLora *lora = data;

  g_free (lora->name);
}

static gboolean
parse_weight (const char  *text,
              const char  *tag,
              float       *weight,
              GError     **error)
{
  g_autofree char *stripped = g_strstrip (g_strdup (text));
  char *end = NULL;
  double value;

  value = g_ascii_strtod (stripped, &end);
  if (*stripped == '\0' || end == NULL || *end != '\0' || !isfinite (value))
    {
      g_set_error (error, LK_PROMPT_LORA_ERROR, LK_PROMPT_LORA_ERROR_SYNTAX,
                   "“%s” in the prompt: the weight “%s” is not a number", tag, stripped);
      return FALSE;
    }
  *weight = value;
  return TRUE;
}

/* "NAME[:TE[:UNET]]" with te=… / unet=… anywhere after the name, as A1111 reads them. */
static gboolean
parse_tag (const char    *args,
           const char    *tag,
           LkPromptLora  *lora,
           GError       **error)
{
  g_auto(GStrv) items = g_strsplit (args, ":", -1);
  gboolean have_te = FALSE, have_unet = FALSE;
  guint n_positional = 0;

  lora->te_weight = lora->unet_weight = 1.0f;
  for (guint i = 0; items[i] != NULL; i++)
    {
      const char *eq = strchr (items[i], '=');

      if (i > 0 && eq != NULL)
        {
          g_autofree char *key = g_strstrip (g_strndup (items[i], eq - items[i]));
          float value;

          if (!parse_weight (eq + 1, tag, &value, error))
            return FALSE;
          if (g_str_equal (key, "te"))
            lora->te_weight = value, have_te = TRUE;
          else if (g_str_equal (key, "unet"))
            lora->unet_weight = value, have_unet = TRUE;
          /* Other keys (dyn=…, the block weights of extensions) do not apply to us. */
          continue;
        }
      switch (n_positional++)
        {
        case 0:
          lora->name = g_strstrip (g_strdup (items[i]));
          break;
        case 1:
          if (!have_te && !parse_weight (items[i], tag, &lora->te_weight, error))
            return FALSE;
          break;
        case 2:
          if (!have_unet && !parse_weight (items[i], tag, &lora->unet_weight, error))
            return FALSE;
          have_unet = TRUE;
          break;
        default:
          break;
        }
    }
  if (!have_unet)
    lora->unet_weight = lora->te_weight;
  if (lora->name == NULL || *lora->name == '\0')
    {
      g_set_error (error, LK_PROMPT_LORA_ERROR, LK_PROMPT_LORA_ERROR_SYNTAX,
                   "“%s” in the prompt names no LoRA", tag);
      return FALSE;
    }
  return TRUE;
}

char *
lk_prompt_extract_loras (const char  *prompt,
                         GArray     **loras,
                         GError     **error)
{
  g_autoptr(GString) out = NULL;
  g_autoptr(GArray) found = NULL;
  const char *p;

  g_return_val_if_fail (prompt != NULL, NULL);
  g_return_val_if_fail (loras != NULL, NULL);

  out = g_string_new (NULL);
  found = g_array_new (FALSE, TRUE, sizeof (LkPromptLora));
  g_array_set_clear_func (found, prompt_lora_clear);
  for (p = prompt; *p != '\0';)
    {
      const char *open = strchr (p, '<');
      const char *type, *colon, *close;
      gsize type_len;

      if (open == NULL)
        {
          g_string_append (out, p);
          break;
        }
      g_string_append_len (out, p, open - p);
      /* A1111's pattern: <(\w+):([^>]+)> */
      type = open + 1;
      for (colon = type; g_ascii_isalnum (*colon) || *colon == '_'; colon++)
        ;
      type_len = colon - type;
      close = *colon == ':' ? strchr (colon, '>') : NULL;
      if (type_len == 0 || close == NULL || close == colon + 1 ||
          !((type_len == 4 && strncmp (type, "lora", 4) == 0) ||
            (type_len == 4 && strncmp (type, "lyco", 4) == 0)))
        {
          g_string_append_c (out, '<');
          p = open + 1;
          continue;
        }

      {
        g_autofree char *tag = g_strndup (open, close + 1 - open);
        g_autofree char *args = g_strndup (colon + 1, close - colon - 1);
        LkPromptLora lora = { NULL, 1.0f, 1.0f };

        if (!parse_tag (args, tag, &lora, error))
          {
            g_free (lora.name);
            return NULL;
          }
        g_array_append_val (found, lora);
      }
      p = close + 1;
    }
  *loras = g_steal_pointer (&found);
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static char *
find_below (const char *folder,
            const char *file,
            guint       depth)
{
  g_autofree char *direct = g_build_filename (folder, file, NULL);
  g_autoptr(GDir) dir = NULL;
  const char *entry;

  if (g_file_test (direct, G_FILE_TEST_IS_REGULAR))
    return g_steal_pointer (&direct);
  if (depth == 0 || (dir = g_dir_open (folder, 0, NULL)) == NULL)
    return NULL;
  while ((entry = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (folder, entry, NULL);
      char *found;

      if (entry[0] == '.' || g_file_test (child, G_FILE_TEST_IS_SYMLINK) ||
          !g_file_test (child, G_FILE_TEST_IS_DIR))
        continue;
      if ((found = find_below (child, file, depth - 1)) != NULL)
        return found;
    }
  return NULL;
}

char *
lk_prompt_lora_resolve (const char          *name,
                        const char * const  *folders,
                        GError             **error)
{
  g_autoptr(GString) looked = NULL;

  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (folders != NULL, NULL);

  if (*name == '\0' || strchr (name, '/') != NULL || strchr (name, '\\') != NULL ||
      g_str_equal (name, ".") || g_str_equal (name, ".."))
    {
      g_set_error (error, LK_PROMPT_LORA_ERROR, LK_PROMPT_LORA_ERROR_SYNTAX,
                   "“%s” is not a LoRA name: it may not be empty or contain a path", name);
      return NULL;
    }

  /* Directly in a folder first, in the folders' order, so a nearer file wins over one deep in
   * an earlier folder. */
  for (guint depth = 0; depth <= MAX_DEPTH; depth += MAX_DEPTH)
    for (guint f = 0; folders[f] != NULL; f++)
      for (guint e = 0; e < G_N_ELEMENTS (extensions); e++)
        {
          g_autofree char *file = g_strconcat (name, extensions[e], NULL);
          char *found = find_below (folders[f], file, depth);

          if (found != NULL)
            return found;
        }

  looked = g_string_new (NULL);
  for (guint f = 0; folders[f] != NULL; f++)
    g_string_append_printf (looked, "%s%s", f > 0 ? ", " : "", folders[f]);
  g_set_error (error, LK_PROMPT_LORA_ERROR, LK_PROMPT_LORA_ERROR_NOT_FOUND,
               "no LoRA named “%s” (%s.safetensors, .pt or .ckpt) in %s", name, name,
               looked->len > 0 ? looked->str : "any folder: none is set");
  return NULL;
}
