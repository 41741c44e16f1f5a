/* lk-catalog.h: everything the user has — people, photos, LoRAs, templates, generations,
 * models and jobs — in one SQLite file plus content-addressed files beside it
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "lk-generation.h"
#include "lk-job.h"
#include "lk-person.h"
#include "lk-photo.h"
#include "lk-template.h"

G_BEGIN_DECLS

#define LK_CATALOG_ERROR (lk_catalog_error_quark ())

typedef enum
{
  LK_CATALOG_ERROR_FAILED,
  LK_CATALOG_ERROR_DATABASE,   /* SQLite said no */
  LK_CATALOG_ERROR_VERSION,    /* written by a newer Likeness */
  LK_CATALOG_ERROR_NOT_FOUND,
  LK_CATALOG_ERROR_EXISTS,
  LK_CATALOG_ERROR_NOT_IMAGE,
  LK_CATALOG_ERROR_TOO_LARGE,
  LK_CATALOG_ERROR_EMPTY,
  LK_CATALOG_ERROR_IO,
  LK_CATALOG_ERROR_NO_SPACE,
  LK_CATALOG_ERROR_CORRUPT,
} LkCatalogError;

GQuark lk_catalog_error_quark (void);

/* Defaults for what an imported image may be: 64 MiB, 100 megapixels. */
#define LK_CATALOG_DEFAULT_MAX_FILE_SIZE (G_GUINT64_CONSTANT (64) << 20)
#define LK_CATALOG_DEFAULT_MAX_PIXELS    (G_GUINT64_CONSTANT (100000000))

#define LK_TYPE_CATALOG (lk_catalog_get_type ())

G_DECLARE_FINAL_TYPE (LkCatalog, lk_catalog, LK, CATALOG, GObject)

/* $LIKENESS_DATA_DIR, else $XDG_DATA_HOME/likeness. */
char          *lk_catalog_default_data_dir    (void);
/* Opens (creating, upgrading) the catalog in data_dir, or the default one when NULL. One
 * LkCatalog per thread; any number of processes may open the same directory. */
LkCatalog     *lk_catalog_open                (const char     *data_dir,
                                               GError        **error);
const char    *lk_catalog_get_data_dir        (LkCatalog      *self);
guint64        lk_catalog_get_max_file_size   (LkCatalog      *self);
void           lk_catalog_set_max_file_size   (LkCatalog      *self,
                                               guint64         max_file_size);
guint64        lk_catalog_get_max_pixels      (LkCatalog      *self);
void           lk_catalog_set_max_pixels      (LkCatalog      *self,
                                               guint64         max_pixels);

/* People */
LkPerson      *lk_catalog_add_person          (LkCatalog      *self,
                                               const char     *name,
                                               GError        **error);
LkPerson      *lk_catalog_get_person          (LkCatalog      *self,
                                               gint64          person_id,
                                               GError        **error);
/* By name (case-insensitive) or, when the text is a number no name matches, by id. */
LkPerson      *lk_catalog_find_person         (LkCatalog      *self,
                                               const char     *name_or_id,
                                               GError        **error);
gboolean       lk_catalog_rename_person       (LkCatalog      *self,
                                               gint64          person_id,
                                               const char     *name,
                                               GError        **error);
/* Removes the person with their photos, datasets and LoRAs; generations stay. */
gboolean       lk_catalog_remove_person       (LkCatalog      *self,
                                               gint64          person_id,
                                               GError        **error);
GListModel    *lk_catalog_list_people         (LkCatalog      *self);

/* Photos. Adding a photo the catalog already holds for this person returns that photo with
 * *already_present set; one held for someone else is LK_CATALOG_ERROR_EXISTS. */
LkPhoto       *lk_catalog_add_photo           (LkCatalog      *self,
                                               gint64          person_id,
                                               const char     *path,
                                               gboolean       *already_present,
                                               GCancellable   *cancellable,
                                               GError        **error);
LkPhoto       *lk_catalog_get_photo           (LkCatalog      *self,
                                               gint64          photo_id,
                                               GError        **error);
gboolean       lk_catalog_remove_photo        (LkCatalog      *self,
                                               gint64          photo_id,
                                               GError        **error);
GListModel    *lk_catalog_list_photos         (LkCatalog      *self,
                                               gint64          person_id);

/* Templates */
LkTemplate    *lk_catalog_add_template        (LkCatalog      *self,
                                               const char     *path,
                                               gboolean        builtin,
                                               gboolean       *already_present,
                                               GCancellable   *cancellable,
                                               GError        **error);
/* face_boxes_json: [[x, y, w, h], …] left to right. */
LkTemplate    *lk_catalog_get_template        (LkCatalog      *self,
                                               gint64          template_id,
                                               GError        **error);
gboolean       lk_catalog_set_template_faces  (LkCatalog      *self,
                                               gint64          template_id,
                                               guint           face_count,
                                               const char     *face_boxes_json,
                                               GError        **error);
gboolean       lk_catalog_remove_template     (LkCatalog      *self,
                                               gint64          template_id,
                                               GError        **error);
GListModel    *lk_catalog_list_templates      (LkCatalog      *self);

/* Generations: the image (PNG bytes) and every parameter needed to make it again. */
LkGeneration  *lk_catalog_add_generation      (LkCatalog      *self,
                                               gint64          template_id,
                                               const gint64   *person_ids,
                                               guint           n_people,
                                               const char     *params_json,
                                               gint64          seed,
                                               const char     *model_hashes_json,
                                               GBytes         *png,
                                               double          similarity,
                                               GError        **error);
LkGeneration  *lk_catalog_get_generation      (LkCatalog      *self,
                                               gint64          generation_id,
                                               GError        **error);
gboolean       lk_catalog_remove_generation   (LkCatalog      *self,
                                               gint64          generation_id,
                                               GError        **error);
GListModel    *lk_catalog_list_generations    (LkCatalog      *self);

/* LoRAs: the weights file and the face-ID image are copied in. Returns the new row's id. */
gint64         lk_catalog_add_lora            (LkCatalog      *self,
                                               gint64          person_id,
                                               const char     *base_model_sha256,
                                               const char     *params_json,
                                               guint           steps,
                                               const char     *scores_json,
                                               const char     *lora_path,
                                               const char     *face_id_path,
                                               GCancellable   *cancellable,
                                               GError        **error);

/* Models: one row per (role, name), replaced on each call. state is one of missing,
 * downloading, ready, corrupt. */
gboolean       lk_catalog_set_model           (LkCatalog      *self,
                                               const char     *role,
                                               const char     *name,
                                               const char     *path,
                                               gint64          size,
                                               const char     *sha256,
                                               const char     *source_url,
                                               const char     *state,
                                               GError        **error);
/* One models row, as lk_catalog_list_models() returns it. path is relative to the data
 * folder (downloaded) or absolute (adopted where it lies); size -1 and sha256 NULL when unknown. */
typedef struct
{
  char   *role;
  char   *name;
  char   *path;
  gint64  size;
  char   *sha256;
  char   *source_url;
  char   *state;
} LkCatalogModel;

void           lk_catalog_model_free          (LkCatalogModel *model);
/* Every models row (LkCatalogModel), by role then name. */
GPtrArray     *lk_catalog_list_models         (LkCatalog      *self,
                                               GError        **error);
/* The row of (role, name), or NULL with LK_CATALOG_ERROR_NOT_FOUND. */
LkCatalogModel *lk_catalog_get_model          (LkCatalog      *self,
                                               const char     *role,
                                               const char     *name,
                                               GError        **error);
/* Whether a model of this role (e.g. "base") is ready; FALSE only when the catalog could not
 * be read. */
gboolean       lk_catalog_has_ready_model     (LkCatalog      *self,
                                               const char     *role,
                                               gboolean       *has_model,
                                               GError        **error);
/* Whether the person has a trained LoRA ready to generate with. */
gboolean       lk_catalog_has_ready_lora      (LkCatalog      *self,
                                               gint64          person_id,
                                               gboolean       *has_lora,
                                               GError        **error);

/* Jobs */
LkJob         *lk_catalog_add_job             (LkCatalog      *self,
                                               const char     *kind,
                                               const char     *params_json,
                                               GError        **error);
LkJob         *lk_catalog_get_job             (LkCatalog      *self,
                                               gint64          job_id,
                                               GError        **error);
/* Moves a job on; message, checkpoint and error_message keep their old value when NULL. */
gboolean       lk_catalog_update_job          (LkCatalog      *self,
                                               gint64          job_id,
                                               LkJobState      state,
                                               double          progress,
                                               const char     *message,
                                               const char     *checkpoint,
                                               const char     *error_message,
                                               GError        **error);
GListModel    *lk_catalog_list_jobs           (LkCatalog      *self);

/* What lk_catalog_check() found and, with repair, did. */
typedef struct
{
  guint      interrupted;       /* operations a killed process left half done, now finished */
  guint      orphan_rows;       /* rows whose file is missing */
  guint      orphan_files;      /* files no row names */
  guint      hash_mismatches;   /* files whose content is not what their row says */
  guint      database_problems; /* PRAGMA quick_check and foreign_key_check findings */
  guint      rows_checked;
  guint      files_checked;
  gboolean   repaired;
  GPtrArray *messages;          /* one human-readable line per finding or action */
} LkCatalogCheck;

void            lk_catalog_check_free         (LkCatalogCheck *check);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LkCatalogCheck, lk_catalog_check_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LkCatalogModel, lk_catalog_model_free)

/* Verifies every file against its row and hash and every file against some row. With repair,
 * a row whose file is missing or damaged goes (a damaged file moves to lost+found/), and so
 * does an orphan file (to lost+found/). */
LkCatalogCheck *lk_catalog_check              (LkCatalog      *self,
                                               gboolean        repair,
                                               GCancellable   *cancellable,
                                               GError        **error);

G_END_DECLS
