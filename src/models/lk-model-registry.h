/* lk-model-registry.h: the models Likeness knows — names, roles, files, sizes, SHA-256, URLs
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The registry is data (data/models.json, compiled into a GResource), not code: a new model or a
 * moved URL is a JSON edit. Downloaded models live in DATA_DIR/models/NAME/FILE; the catalog's
 * models row (role, name) records the first file (the entry point a loader opens), the total size
 * and the first file's SHA-256.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define LK_MODELS_ERROR (lk_models_error_quark ())

typedef enum
{
  LK_MODELS_ERROR_FAILED,
  LK_MODELS_ERROR_REGISTRY,       /* the registry JSON is malformed */
  LK_MODELS_ERROR_NOT_FOUND,      /* no model of that name */
  LK_MODELS_ERROR_UNPINNED,       /* no SHA-256 to check against and none was adopted */
  LK_MODELS_ERROR_HASH_MISMATCH,  /* the bytes are not the pinned ones */
  LK_MODELS_ERROR_HTTP,           /* the server answered with an error status */
  LK_MODELS_ERROR_NETWORK,        /* connection refused, cut, timed out */
  LK_MODELS_ERROR_UNSUPPORTED,    /* a model kind Likeness cannot use (SD2, SDXL…) */
  LK_MODELS_ERROR_WRONG_KIND,     /* a file offered for a model it is not (a LoRA as a checkpoint) */
  LK_MODELS_ERROR_NO_SPACE,       /* the disk (or quota, or file-size limit) cannot hold the file */
} LkModelsError;

GQuark lk_models_error_quark (void);

typedef struct
{
  char   *path;     /* a plain file name inside the model's folder */
  gint64  size;     /* -1 when unknown; informational only */
  char   *sha256;   /* lower-case hex, or NULL when not pinned */
  GStrv   urls;     /* tried in order; at least one */
} LkModelFileSpec;

/* The role of a starter template pack: its files are portrait photos the downloader also adds
 * to the catalog's templates. */
#define LK_MODEL_ROLE_TEMPLATES "templates"

typedef struct
{
  char      *name;      /* [a-z0-9-]+, unique */
  char      *role;      /* the catalog role: base, vae, controlnet, text, face-detect… */
  char      *title;
  char      *license;        /* the licence's name, as "Apache-2.0" */
  char      *license_url;    /* where the publisher states it; may be NULL */
  GStrv      license_files;  /* texts built into Likeness (lk_model_license_text()), installed
                              * beside the model's files; empty when none is shipped */
  gboolean   required;  /* the portrait pipeline cannot run without it */
  GPtrArray *files;     /* LkModelFileSpec, at least one */
} LkModelEntry;

#define LK_TYPE_MODEL_REGISTRY (lk_model_registry_get_type ())

G_DECLARE_FINAL_TYPE (LkModelRegistry, lk_model_registry, LK, MODEL_REGISTRY, GObject)

/* The registry built into Likeness. */
LkModelRegistry     *lk_model_registry_new_default      (GError           **error);
LkModelRegistry     *lk_model_registry_new_from_bytes   (GBytes            *json,
                                                         GError           **error);
LkModelRegistry     *lk_model_registry_new_from_file    (const char        *path,
                                                         GError           **error);
guint                lk_model_registry_get_n_models     (LkModelRegistry   *self);
const LkModelEntry  *lk_model_registry_get_nth          (LkModelRegistry   *self,
                                                         guint              index);
const LkModelEntry  *lk_model_registry_lookup           (LkModelRegistry   *self,
                                                         const char        *name);
/* The model one of whose files has this SHA-256, or NULL. */
const LkModelEntry  *lk_model_registry_find_by_sha256   (LkModelRegistry   *self,
                                                         const char        *sha256,
                                                         const LkModelFileSpec **file);

/* Sum of the files' sizes, or -1 when one is unknown. */
gint64               lk_model_entry_get_size            (const LkModelEntry *entry);
/* Whether every file has a pinned SHA-256. */
gboolean             lk_model_entry_is_pinned           (const LkModelEntry *entry);
/* DATA_DIR/models/NAME */
char                *lk_model_entry_get_dir             (const LkModelEntry *entry,
                                                         const char         *data_dir);
/* models/NAME/FIRST-FILE: what the catalog row records (relative to the data folder). */
char                *lk_model_entry_get_catalog_path    (const LkModelEntry *entry);

/* The mirror to use: $LIKENESS_MODEL_MIRROR when set and not empty, else fallback (the
 * model-mirror setting; may be NULL or ""), else NULL for the publishers' own hosts. */
const char          *lk_model_mirror_choose             (const char         *fallback);
/* With a mirror, https://HOST/PATH becomes MIRROR/HOST/PATH; without one, url unchanged. */
char                *lk_model_mirror_url                (const char         *url,
                                                         const char         *mirror);
/* A licence text built into Likeness (data/licenses/FILE), as named by license_files. */
GBytes              *lk_model_license_text              (const char         *file,
                                                         GError            **error);

/* A row path (relative to data_dir, or absolute) as an absolute path. */
char                *lk_model_resolve_path              (const char         *data_dir,
                                                         const char         *path);

G_END_DECLS
