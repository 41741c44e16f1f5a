/* lk-models-page.c: what each feature needs, what is there; downloads and adopted files
 *
 * One row per registry model, grouped by the feature that needs it. A row reads its state from
 * the catalog's models table, which the downloader and the adoption write from their workers
 * through their own connections: the page re-reads it when the catalog says it changed, when it
 * is shown and when a job ends, and never keeps a second copy of that state. Cancel deletes the partial file (the user said they
 * do not want it); a network failure keeps it, so Download resumes where it stopped.
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "lk-app-util.h"
#include "lk-file-chooser.h"
#include "lk-model-download.h"
#include "lk-model-scan.h"
#include "lk-models-page.h"

typedef struct
{
  /* borrowed: the registry outlives the rows */
  const LkModelEntry *entry;

  /* widgets of lk-model-row.ui, owned by the builder and the list box */
  GtkBuilder         *builder;
  GtkWidget          *row;
  GtkWidget          *status;
  GtkWidget          *download_button;
  GtkWidget          *use_existing;
  GtkWidget          *cancel;
  GtkWidget          *progress;
  GtkWidget          *progress_label;
  GtkWidget          *error;

  /* owned while a job runs */
  LkModelDownload    *download;
  GCancellable       *cancellable;
  gboolean            adopting;
} ModelRow;

struct _LkModelsPage
{
  GtkWidget        parent_instance;

  /* template widgets */
  GtkLabel        *page_error;
  GtkListBox      *generation_list;
  GtkListBox      *controlnet_list;
  GtkListBox      *face_list;
  GtkListBox      *upscale_list;

  /* owned */
  LkCatalog       *catalog;
  LkModelRegistry *registry;
  GPtrArray       *rows;      /* ModelRow */
  GSettings       *settings;
  gboolean         busy;      /* as last notified */
};

G_DEFINE_FINAL_TYPE (LkModelsPage, lk_models_page, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_BUSY,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
model_row_free (ModelRow *mrow)
{
  if (mrow->cancellable != NULL)
    g_cancellable_cancel (mrow->cancellable);
  g_clear_object (&mrow->cancellable);
  if (mrow->download != NULL)
    g_signal_handlers_disconnect_matched (mrow->download, G_SIGNAL_MATCH_DATA, 0, 0, NULL, NULL,
                                          mrow);
  g_clear_object (&mrow->download);
  g_clear_object (&mrow->builder);
  g_free (mrow);
}

static ModelRow *
find_row (LkModelsPage *self,
          const char   *name)
{
  for (guint i = 0; self->rows != NULL && i < self->rows->len; i++)
    {
      ModelRow *mrow = g_ptr_array_index (self->rows, i);

      if (g_strcmp0 (mrow->entry->name, name) == 0)
        return mrow;
    }
  return NULL;
}

gboolean
lk_models_page_get_busy (LkModelsPage *self)
{
  g_return_val_if_fail (LK_IS_MODELS_PAGE (self), FALSE);

  for (guint i = 0; self->rows != NULL && i < self->rows->len; i++)
    {
      ModelRow *mrow = g_ptr_array_index (self->rows, i);

      if (mrow->download != NULL || mrow->adopting)
        return TRUE;
    }
  return FALSE;
}

static void
update_busy (LkModelsPage *self)
{
  gboolean busy = lk_models_page_get_busy (self);

  if (busy == self->busy)
    return;
  self->busy = busy;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
}

/* The feature a model serves, by its catalog role. */
static GtkListBox *
list_for_role (LkModelsPage *self,
               const char   *role)
{
  static const char *face_roles[] = {
    "face-detect", "face-mesh", "segmentation", "landmarks", "face-id",
  };

  if (g_strcmp0 (role, "controlnet") == 0)
    return self->controlnet_list;
  if (g_strcmp0 (role, "upscale") == 0)
    return self->upscale_list;
  for (guint i = 0; i < G_N_ELEMENTS (face_roles); i++)
    if (g_strcmp0 (role, face_roles[i]) == 0)
      return self->face_list;
  return self->generation_list;
}

/* The Flatpak ships the small face models under /app/share/likeness/models/NAME (checked by
 * SHA-256 when it was built); a system install may too. */
static char *
find_bundled (const LkModelEntry *entry)
{
  const char * const *dirs = g_get_system_data_dirs ();

  for (guint i = 0; dirs[i] != NULL; i++)
    {
      g_autofree char *dir = g_build_filename (dirs[i], "likeness", "models", entry->name, NULL);
      gboolean all = TRUE;

      for (guint j = 0; j < entry->files->len && all; j++)
        {
          const LkModelFileSpec *spec = g_ptr_array_index (entry->files, j);
          g_autofree char *path = g_build_filename (dir, spec->path, NULL);

          all = g_file_test (path, G_FILE_TEST_IS_REGULAR);
        }
      if (all)
        return g_steal_pointer (&dir);
    }
  return NULL;
}

/* A ready model of the same role the pipeline would use instead (the user's own checkpoint). */
static char *
find_stand_in (LkModelsPage       *self,
               const LkModelEntry *entry)
{
  g_autoptr(GPtrArray) rows = NULL;

  if (g_strcmp0 (entry->role, "base") != 0 && g_strcmp0 (entry->role, "vae") != 0)
    return NULL;
  rows = lk_catalog_list_models (self->catalog, NULL);
  for (guint i = 0; rows != NULL && i < rows->len; i++)
    {
      const LkCatalogModel *row = g_ptr_array_index (rows, i);

      if (g_strcmp0 (row->role, entry->role) == 0 && g_strcmp0 (row->name, entry->name) != 0 &&
          g_strcmp0 (row->state, "ready") == 0)
        return g_strdup (row->name);
    }
  return NULL;
}

/* The sentence under the title, and whether the model is there to use. */
static char *
describe_state (LkModelsPage       *self,
                const LkModelEntry *entry,
                gboolean           *present)
{
  const LkModelFileSpec *first = g_ptr_array_index (entry->files, 0);
  g_autoptr(LkCatalogModel) row = NULL;
  g_autofree char *bundled = NULL;
  g_autofree char *stand_in = NULL;
  gint64 size = lk_model_entry_get_size (entry);

  *present = FALSE;
  if (self->catalog != NULL)
    row = lk_catalog_get_model (self->catalog, entry->role, entry->name, NULL);
  if (row != NULL && g_strcmp0 (row->state, "ready") == 0)
    {
      g_autofree char *path = lk_model_resolve_path (lk_catalog_get_data_dir (self->catalog),
                                                     row->path);
      gboolean verified = first->sha256 != NULL && g_strcmp0 (row->sha256, first->sha256) == 0;

      if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
        return g_strdup_printf (_("Missing · %s is gone"), path);
      *present = TRUE;
      if (!g_path_is_absolute (row->path))
        {
          g_autofree char *text = g_format_size (MAX (row->size, 0));

          return g_strdup_printf (_("Verified · %s"), text);
        }
      if (verified)
        return g_strdup_printf (_("Verified · uses %s"), path);
      return g_strdup_printf (_("Adopted · uses %s"), path);
    }
  if ((bundled = find_bundled (entry)) != NULL)
    {
      *present = TRUE;
      return g_strdup (_("Included with Likeness"));
    }
  if (row != NULL && g_strcmp0 (row->state, "corrupt") == 0)
    return g_strdup (_("Damaged · download it again"));
  if (self->catalog != NULL && (stand_in = find_stand_in (self, entry)) != NULL)
    {
      *present = TRUE;
      return g_strdup_printf (_("Using “%s” instead"), stand_in);
    }
  if (size > 0)
    {
      g_autofree char *text = g_format_size (size);

      if (entry->required)
        return g_strdup_printf (_("Missing · %s to download"), text);
      return g_strdup_printf (_("Not installed (optional) · %s to download"), text);
    }
  return entry->required ? g_strdup (_("Missing")) : g_strdup (_("Not installed (optional)"));
}

static void
update_row (LkModelsPage *self,
            ModelRow     *mrow)
{
  gboolean downloading = mrow->download != NULL;
  gboolean busy = downloading || mrow->adopting;
  gboolean present = FALSE;
  g_autofree char *state = NULL;

  if (downloading)
    state = g_strdup (_("Downloading…"));
  else if (mrow->adopting)
    state = g_strdup (_("Checking the file…"));
  else
    state = describe_state (self, mrow->entry, &present);
  gtk_label_set_label (GTK_LABEL (mrow->status), state);
  gtk_widget_set_visible (mrow->download_button, self->catalog != NULL && !busy && !present);
  /* The parts of a TF.js model only work together: those come by download or bundled. */
  gtk_widget_set_visible (mrow->use_existing,
                          self->catalog != NULL && !busy && mrow->entry->files->len == 1);
  gtk_widget_set_visible (mrow->cancel, downloading);
  gtk_widget_set_visible (mrow->progress, downloading);
  gtk_widget_set_visible (mrow->progress_label, downloading);
}

static void
refresh (LkModelsPage *self)
{
  for (guint i = 0; self->rows != NULL && i < self->rows->len; i++)
    update_row (self, g_ptr_array_index (self->rows, i));
}

static void
show_row_error (ModelRow     *mrow,
                const GError *error)
{
  const char *hint = NULL;
  g_autofree char *text = NULL;

  if (error == NULL)
    {
      gtk_label_set_label (GTK_LABEL (mrow->error), "");
      gtk_widget_set_visible (mrow->error, FALSE);
      return;
    }
  if (g_error_matches (error, LK_MODELS_ERROR, LK_MODELS_ERROR_NETWORK))
    hint = _("Check the connection, or set a mirror in Preferences, then download again: "
             "it continues where it stopped.");
  else if (g_error_matches (error, LK_MODELS_ERROR, LK_MODELS_ERROR_HTTP))
    hint = _("The publisher’s server refused the file. Try again later, or set a mirror in "
             "Preferences.");
  else if (g_error_matches (error, LK_MODELS_ERROR, LK_MODELS_ERROR_HASH_MISMATCH))
    hint = _("What arrived is not the publisher’s file and was deleted. Download again, or use "
             "a mirror you trust.");
  else if (g_error_matches (error, LK_MODELS_ERROR, LK_MODELS_ERROR_UNPINNED))
    hint = _("Likeness cannot check this file’s bytes. Use an existing copy you trust instead.");
  else if (g_error_matches (error, LK_MODELS_ERROR, LK_MODELS_ERROR_WRONG_KIND))
    hint = _("Choose the file this model needs, or download it.");
  else if (g_error_matches (error, LK_MODELS_ERROR, LK_MODELS_ERROR_NO_SPACE) ||
           g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE) ||
           g_error_matches (error, LK_CATALOG_ERROR, LK_CATALOG_ERROR_NO_SPACE))
    hint = _("Free some disk space, then download again.");
  text = hint != NULL ? g_strdup_printf ("%s\n%s", error->message, hint)
                      : g_strdup (error->message);
  gtk_label_set_label (GTK_LABEL (mrow->error), text);
  gtk_widget_set_visible (mrow->error, TRUE);
}

/* ---- downloads ------------------------------------------------------------------------- */

static char *
format_eta (double seconds)
{
  int s = (int) (seconds + 0.5);

  if (s < 60)
    return g_strdup_printf (_("%d s left"), s);
  if (s < 3600)
    return g_strdup_printf (_("%d min left"), (s + 30) / 60);
  return g_strdup_printf (_("%d h %02d min left"), s / 3600, (s % 3600) / 60);
}

static void
download_progress_cb (LkModelDownload *download,
                      GParamSpec      *pspec,
                      ModelRow        *mrow)
{
  gint64 done = lk_model_download_get_bytes_done (download);
  gint64 total = lk_model_download_get_bytes_total (download);
  double rate = lk_model_download_get_rate (download);
  double eta = lk_model_download_get_eta (download);
  g_autofree char *done_text = g_format_size (done);
  g_autofree char *total_text = total >= 0 ? g_format_size (total) : NULL;
  g_autofree char *rate_text = g_format_size ((guint64) rate);
  g_autoptr(GString) text = g_string_new (NULL);

  if (total_text != NULL)
    g_string_append_printf (text, _("%s of %s"), done_text, total_text);
  else
    g_string_append (text, done_text);
  if (rate > 0)
    {
      g_string_append (text, " · ");
      g_string_append_printf (text, _("%s/s"), rate_text);
    }
  if (eta >= 0 && rate > 0)
    {
      g_autofree char *eta_text = format_eta (eta);

      g_string_append (text, " · ");
      g_string_append (text, eta_text);
    }
  if (total > 0)
    gtk_progress_bar_set_fraction (GTK_PROGRESS_BAR (mrow->progress),
                                   lk_model_download_get_fraction (download));
  else
    gtk_progress_bar_pulse (GTK_PROGRESS_BAR (mrow->progress));
  gtk_label_set_label (GTK_LABEL (mrow->progress_label), text->str);
}

static void
download_done_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(LkModelsPage) self = user_data;
  g_autoptr(GError) error = NULL;
  ModelRow *mrow = NULL;

  lk_model_download_run_finish (LK_MODEL_DOWNLOAD (object), result, &error);
  for (guint i = 0; self->rows != NULL && i < self->rows->len; i++)
    if (((ModelRow *) g_ptr_array_index (self->rows, i))->download == (gpointer) object)
      mrow = g_ptr_array_index (self->rows, i);
  if (mrow == NULL)
    return;  /* the page moved to another catalog or registry meanwhile */

  g_signal_handlers_disconnect_matched (mrow->download, G_SIGNAL_MATCH_DATA, 0, 0, NULL, NULL,
                                        mrow);
  g_clear_object (&mrow->download);
  g_clear_object (&mrow->cancellable);
  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    show_row_error (mrow, error);
  update_row (self, mrow);
  update_busy (self);
}

static void
download_action (GtkWidget  *widget,
                 const char *action_name,
                 GVariant   *parameter)
{
  LkModelsPage *self = LK_MODELS_PAGE (widget);
  ModelRow *mrow = find_row (self, g_variant_get_string (parameter, NULL));
  g_autofree char *mirror = NULL;

  if (mrow == NULL || self->catalog == NULL || mrow->download != NULL || mrow->adopting)
    return;
  mirror = g_settings_get_string (self->settings, "model-mirror");
  mrow->download = lk_model_download_new (lk_catalog_get_data_dir (self->catalog), self->registry,
                                          mrow->entry->name);
  mrow->cancellable = g_cancellable_new ();
  lk_model_download_set_mirror (mrow->download, lk_model_mirror_choose (mirror));
  lk_model_download_set_keep_partial (mrow->download, FALSE);
  g_signal_connect (mrow->download, "notify::bytes-done", G_CALLBACK (download_progress_cb), mrow);
  g_signal_connect (mrow->download, "notify::bytes-total", G_CALLBACK (download_progress_cb), mrow);
  gtk_progress_bar_set_fraction (GTK_PROGRESS_BAR (mrow->progress), 0);
  gtk_label_set_label (GTK_LABEL (mrow->progress_label), _("Connecting…"));
  show_row_error (mrow, NULL);
  update_row (self, mrow);
  lk_model_download_run_async (mrow->download, mrow->cancellable, download_done_cb,
                               g_object_ref (self));
  update_busy (self);
}

static void
cancel_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  ModelRow *mrow = find_row (LK_MODELS_PAGE (widget), g_variant_get_string (parameter, NULL));

  /* The worker stops at its next read and deletes the partial file; the row follows then. */
  if (mrow != NULL && mrow->cancellable != NULL)
    g_cancellable_cancel (mrow->cancellable);
}

/* ---- adopting a file ------------------------------------------------------------------- */

typedef struct
{
  char            *data_dir;
  char            *name;
  char            *path;
  LkModelRegistry *registry;
} Adoption;

static void
adoption_free (Adoption *adoption)
{
  g_free (adoption->data_dir);
  g_free (adoption->name);
  g_free (adoption->path);
  g_clear_object (&adoption->registry);
  g_free (adoption);
}

static void
adopt_thread (GTask        *task,
              gpointer      source_object,
              gpointer      task_data,
              GCancellable *cancellable)
{
  Adoption *adoption = task_data;
  const LkModelEntry *entry = lk_model_registry_lookup (adoption->registry, adoption->name);
  g_autoptr(LkCatalog) catalog = NULL;
  g_autoptr(LkModelScanItem) item = NULL;
  GError *error = NULL;

  /* A connection of its own: the page's belongs to the main thread. */
  catalog = lk_catalog_open (adoption->data_dir, &error);
  if (catalog != NULL)
    item = lk_models_adopt_as (catalog, entry, adoption->path, cancellable, &error);
  if (item == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
adopt_done_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  LkModelsPage *self = LK_MODELS_PAGE (object);
  Adoption *adoption = g_task_get_task_data (G_TASK (result));
  g_autoptr(GError) error = NULL;
  ModelRow *mrow = find_row (self, adoption->name);

  g_task_propagate_boolean (G_TASK (result), &error);
  if (mrow == NULL)
    return;
  mrow->adopting = FALSE;
  show_row_error (mrow, error);
  update_row (self, mrow);
  update_busy (self);
}

void
lk_models_page_adopt_file (LkModelsPage *self,
                           const char   *name,
                           GFile        *file)
{
  g_autoptr(GTask) task = NULL;
  g_autofree char *path = NULL;
  ModelRow *mrow;
  Adoption *adoption;

  g_return_if_fail (LK_IS_MODELS_PAGE (self));
  g_return_if_fail (name != NULL);
  g_return_if_fail (G_IS_FILE (file));

  mrow = find_row (self, name);
  if (mrow == NULL || self->catalog == NULL || mrow->download != NULL || mrow->adopting)
    return;
  path = g_file_get_path (file);
  if (path == NULL)
    {
      g_autoptr(GError) error = g_error_new (G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                                             _("Only files on this computer can be used"));

      show_row_error (mrow, error);
      return;
    }
  adoption = g_new0 (Adoption, 1);
  adoption->data_dir = g_strdup (lk_catalog_get_data_dir (self->catalog));
  adoption->name = g_strdup (name);
  adoption->path = g_steal_pointer (&path);
  adoption->registry = g_object_ref (self->registry);
  mrow->adopting = TRUE;
  show_row_error (mrow, NULL);
  update_row (self, mrow);

  task = g_task_new (self, NULL, adopt_done_cb, NULL);
  g_task_set_source_tag (task, lk_models_page_adopt_file);
  g_task_set_task_data (task, adoption, (GDestroyNotify) adoption_free);
  g_task_run_in_thread (task, adopt_thread);
  update_busy (self);
}

static void
file_chosen (GtkWidget *owner,
             GPtrArray *files,
             gpointer   user_data)
{
  g_autofree char *name = user_data;

  if (files != NULL && files->len > 0)
    lk_models_page_adopt_file (LK_MODELS_PAGE (owner), name, g_ptr_array_index (files, 0));
}

static void
use_existing_action (GtkWidget  *widget,
                     const char *action_name,
                     GVariant   *parameter)
{
  LkModelsPage *self = LK_MODELS_PAGE (widget);
  ModelRow *mrow = find_row (self, g_variant_get_string (parameter, NULL));
  g_autofree char *title = NULL;

  if (mrow == NULL)
    return;
  title = g_strdup_printf (_("Use a File as “%s”"), mrow->entry->title);
  lk_choose_files (widget, LK_CHOOSE_MODEL, title, NULL, file_chosen,
                   g_strdup (mrow->entry->name));
}

/* ---- rows ------------------------------------------------------------------------------ */

static void
clear_rows (LkModelsPage *self)
{
  GtkListBox *lists[] = {
    self->generation_list, self->controlnet_list, self->face_list, self->upscale_list,
  };

  for (guint i = 0; self->rows != NULL && i < self->rows->len; i++)
    {
      ModelRow *mrow = g_ptr_array_index (self->rows, i);

      for (guint j = 0; j < G_N_ELEMENTS (lists); j++)
        if (lists[j] != NULL && gtk_widget_get_parent (mrow->row) == GTK_WIDGET (lists[j]))
          gtk_list_box_remove (lists[j], mrow->row);
    }
  g_clear_pointer (&self->rows, g_ptr_array_unref);
}

static ModelRow *
model_row_new (const LkModelEntry *entry)
{
  ModelRow *mrow = g_new0 (ModelRow, 1);
  GVariant *target = g_variant_new_string (entry->name);
  GtkBuilder *builder;

  builder = gtk_builder_new_from_resource ("/io/github/likeness/Likeness/lk-model-row.ui");
  mrow->entry = entry;
  mrow->builder = builder;
  mrow->row = GTK_WIDGET (gtk_builder_get_object (builder, "row"));
  mrow->status = GTK_WIDGET (gtk_builder_get_object (builder, "status"));
  mrow->download_button = GTK_WIDGET (gtk_builder_get_object (builder, "download"));
  mrow->use_existing = GTK_WIDGET (gtk_builder_get_object (builder, "use_existing"));
  mrow->cancel = GTK_WIDGET (gtk_builder_get_object (builder, "cancel"));
  mrow->progress = GTK_WIDGET (gtk_builder_get_object (builder, "progress"));
  mrow->progress_label = GTK_WIDGET (gtk_builder_get_object (builder, "progress_label"));
  mrow->error = GTK_WIDGET (gtk_builder_get_object (builder, "error"));
  gtk_label_set_label (GTK_LABEL (gtk_builder_get_object (builder, "title")), entry->title);
  /* Every row has the same buttons: a screen reader says which model each one is for. */
  gtk_accessible_update_property (GTK_ACCESSIBLE (mrow->download_button),
                                  GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, entry->title, -1);
  gtk_accessible_update_property (GTK_ACCESSIBLE (mrow->use_existing),
                                  GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, entry->title, -1);
  gtk_accessible_update_property (GTK_ACCESSIBLE (mrow->cancel),
                                  GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, entry->title, -1);

  g_variant_ref_sink (target);
  gtk_actionable_set_action_target_value (GTK_ACTIONABLE (mrow->download_button), target);
  gtk_actionable_set_action_name (GTK_ACTIONABLE (mrow->download_button), "models.download");
  gtk_actionable_set_action_target_value (GTK_ACTIONABLE (mrow->cancel), target);
  gtk_actionable_set_action_name (GTK_ACTIONABLE (mrow->cancel), "models.cancel");
  gtk_actionable_set_action_target_value (GTK_ACTIONABLE (mrow->use_existing), target);
  gtk_actionable_set_action_name (GTK_ACTIONABLE (mrow->use_existing), "models.use-existing");
  g_variant_unref (target);
  return mrow;
}

static void
build_rows (LkModelsPage *self)
{
  GtkListBox *lists[] = {
    self->generation_list, self->controlnet_list, self->face_list, self->upscale_list,
  };

  clear_rows (self);
  self->rows = g_ptr_array_new_with_free_func ((GDestroyNotify) model_row_free);
  for (guint i = 0; self->registry != NULL && i < lk_model_registry_get_n_models (self->registry);
       i++)
    {
      const LkModelEntry *entry = lk_model_registry_get_nth (self->registry, i);
      ModelRow *mrow = model_row_new (entry);

      g_ptr_array_add (self->rows, mrow);
      gtk_list_box_append (list_for_role (self, entry->role), mrow->row);
    }
  /* An empty group says nothing useful: hide it. */
  for (guint i = 0; i < G_N_ELEMENTS (lists); i++)
    gtk_widget_set_visible (gtk_widget_get_ancestor (GTK_WIDGET (lists[i]),
                                                     ADW_TYPE_PREFERENCES_GROUP),
                            gtk_widget_get_first_child (GTK_WIDGET (lists[i])) != NULL);
  refresh (self);
}

void
lk_models_page_set_registry (LkModelsPage    *self,
                             LkModelRegistry *registry)
{
  g_return_if_fail (LK_IS_MODELS_PAGE (self));
  g_return_if_fail (registry == NULL || LK_IS_MODEL_REGISTRY (registry));

  if (registry == NULL)
    {
      g_autoptr(GError) error = NULL;

      registry = lk_model_registry_new_default (&error);
      gtk_label_set_label (self->page_error, error != NULL ? error->message : "");
      gtk_widget_set_visible (GTK_WIDGET (self->page_error), error != NULL);
      g_clear_object (&self->registry);
      self->registry = registry;
    }
  else
    g_set_object (&self->registry, registry);
  build_rows (self);
  update_busy (self);
}

void
lk_models_page_set_catalog (LkModelsPage *self,
                            LkCatalog    *catalog)
{
  g_return_if_fail (LK_IS_MODELS_PAGE (self));

  if (self->catalog == catalog)
    return;
  if (self->catalog != NULL)
    g_signal_handlers_disconnect_by_func (self->catalog, refresh, self);
  g_set_object (&self->catalog, catalog);
  /* Commits of this catalog, and of the workers' and the CLI's connections, which it polls. */
  if (catalog != NULL)
    g_signal_connect_object (catalog, "changed", G_CALLBACK (refresh), self, G_CONNECT_SWAPPED);
  /* Jobs started for another data folder finish there but no longer show here. */
  build_rows (self);
  update_busy (self);
}

static void
map_cb (GtkWidget *widget,
        gpointer   user_data)
{
  refresh (LK_MODELS_PAGE (widget));
}

/* ---- object ---------------------------------------------------------------------------- */

static void
lk_models_page_dispose (GObject *object)
{
  LkModelsPage *self = (LkModelsPage *) object;
  GtkWidget *child;

  clear_rows (self);
  gtk_widget_dispose_template (GTK_WIDGET (self), LK_TYPE_MODELS_PAGE);
  /* The scrolled window at the template's root is not a bound child: unparent it here. */
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self))) != NULL)
    gtk_widget_unparent (child);
  if (self->catalog != NULL)
    g_signal_handlers_disconnect_by_func (self->catalog, refresh, self);
  g_clear_object (&self->catalog);
  g_clear_object (&self->registry);
  g_clear_object (&self->settings);

  G_OBJECT_CLASS (lk_models_page_parent_class)->dispose (object);
}

static void
lk_models_page_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  LkModelsPage *self = LK_MODELS_PAGE (object);

  switch (prop_id)
    {
    case PROP_BUSY:
      g_value_set_boolean (value, lk_models_page_get_busy (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lk_models_page_class_init (LkModelsPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = lk_models_page_dispose;
  object_class->get_property = lk_models_page_get_property;

  properties[PROP_BUSY] =
    g_param_spec_boolean ("busy", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/likeness/Likeness/lk-models-page.ui");
  gtk_widget_class_bind_template_child (widget_class, LkModelsPage, page_error);
  gtk_widget_class_bind_template_child (widget_class, LkModelsPage, generation_list);
  gtk_widget_class_bind_template_child (widget_class, LkModelsPage, controlnet_list);
  gtk_widget_class_bind_template_child (widget_class, LkModelsPage, face_list);
  gtk_widget_class_bind_template_child (widget_class, LkModelsPage, upscale_list);

  gtk_widget_class_install_action (widget_class, "models.download", "s", download_action);
  gtk_widget_class_install_action (widget_class, "models.cancel", "s", cancel_action);
  gtk_widget_class_install_action (widget_class, "models.use-existing", "s", use_existing_action);

  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
}

static void
lk_models_page_init (LkModelsPage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  self->settings = g_settings_new (APP_ID);
  /* The CLI or another window may have changed the models: read them again when shown. */
  g_signal_connect (self, "map", G_CALLBACK (map_cb), NULL);
  lk_models_page_set_registry (self, NULL);
}
