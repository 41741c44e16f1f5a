/* lk-model-scan.h: recognise model files the user already has, and adopt them where they lie
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Adopted files are recorded in the catalog by reference (absolute path, no copy): a checkpoint
 * as role "base" (or "inpaint"), a LoRA as "lora", a ControlNet as "controlnet", a VAE as "vae";
 * the row's name is the file name without its extension.
 */
#pragma once

#include "lk-catalog.h"
#include "lk-model-registry.h"

G_BEGIN_DECLS

typedef enum
{
  LK_MODEL_CLASS_CHECKPOINT,          /* SD1.x */
  LK_MODEL_CLASS_CHECKPOINT_INPAINT,  /* SD1.x inpainting */
  LK_MODEL_CLASS_LORA,
  LK_MODEL_CLASS_CONTROLNET,
  LK_MODEL_CLASS_VAE,
  LK_MODEL_CLASS_UNSUPPORTED,         /* a model, but for SD2, SDXL… */
  LK_MODEL_CLASS_UNKNOWN,             /* weights Likeness does not recognise */
  LK_MODEL_CLASS_NOT_MODEL,           /* not a weights file at all */
} LkModelClass;

/* The catalog role of a class, or NULL for the last three. */
const char   *lk_model_class_get_role   (LkModelClass   klass);
const char   *lk_model_class_get_label  (LkModelClass   klass);

/* Opens path with LkWeights and looks at its tensor names (and the few shapes that tell SD1 from
 * SD2/SDXL). detail, when not NULL, gets a sentence for the user (why unsupported, what it is). */
LkModelClass  lk_model_classify         (const char    *path,
                                         char         **detail);

typedef struct
{
  char         *path;
  LkModelClass  klass;
  char         *note;      /* what happened: recorded as role/name, or why it was ignored */
  gboolean      recorded;
} LkModelScanItem;

void          lk_model_scan_item_free   (LkModelScanItem *item);

/* Records one file by reference. With hash, its SHA-256 is computed (slow for checkpoints) and,
 * when it matches a registry file, the row takes that model's role and name. */
LkModelScanItem *lk_models_adopt        (LkCatalog       *catalog,
                                         LkModelRegistry *registry,
                                         const char      *path,
                                         gboolean         hash,
                                         GCancellable    *cancellable,
                                         GError         **error);

/* Records path as the registry model entry (role and name), by reference, after checking that
 * it is that kind of file: an SD1.x checkpoint for "base", an inpainting checkpoint for
 * "inpaint", a VAE for "vae", a ControlNet for "controlnet"; a model of any other role only when
 * the file's SHA-256 is the registry's own (one-file models only). Anything else fails with
 * LK_MODELS_ERROR_WRONG_KIND, naming what the file is, and records nothing. The file is hashed
 * (slow for checkpoints: call it on a worker); the row keeps the hash, so a file that is the
 * publisher's own counts as verified. */
LkModelScanItem *lk_models_adopt_as     (LkCatalog          *catalog,
                                         const LkModelEntry *entry,
                                         const char         *path,
                                         GCancellable       *cancellable,
                                         GError            **error);

/* Walks the usual Stable Diffusion web UI and ComfyUI model folders under dir (dir itself when it
 * has none of them), adopting every model file found. Returns LkModelScanItem, one per file. */
GPtrArray    *lk_models_scan            (LkCatalog       *catalog,
                                         LkModelRegistry *registry,
                                         const char      *dir,
                                         gboolean         hash,
                                         GCancellable    *cancellable,
                                         GError         **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LkModelScanItem, lk_model_scan_item_free)

G_END_DECLS
