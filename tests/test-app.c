/* test-app.c: the GTK app driven in-process under Xvfb — people, photo drops through the drop
 * target's own handler, refusals as toasts, remove and undo, renaming and removing a person
 * through their dialogs' buttons; and a screenshot of every page in a normal and a narrow window
 * (build/screenshots/)
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "lk-application.h"
#include "lk-catalog-files.h"
#include "lk-catalog-list.h"
#include "lk-model-registry.h"
#include "lk-person-page-private.h"
#include "lk-preferences-window.h"
#include "lk-test-models.h"
#include "lk-thumbnailer.h"
#include "lk-window-private.h"

static char *test_data_dir;
static char *models_dir;   /* ../shared/models, served on 127.0.0.1; NULL when missing */

static void
rm_rf (const char *path)
{
  g_autoptr(GDir) dir = NULL;
  const char *name;

  if (!g_file_test (path, G_FILE_TEST_IS_SYMLINK) && g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      dir = g_dir_open (path, 0, NULL);
      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);

          rm_rf (child);
        }
    }
  g_remove (path);
}

static gboolean
has_photo (const char *dir,
           const char *name)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);

  return g_file_test (path, G_FILE_TEST_EXISTS);
}

/* Where the shared test photos are, or NULL after g_test_skip(). */
static const char *
photos_dir (void)
{
  if (test_data_dir == NULL)
    {
      const char *env = g_getenv ("LIKENESS_TEST_DATA");
      const char *source = g_getenv ("LIKENESS_SOURCE_DIR");

      if (env != NULL)
        test_data_dir = g_build_filename (env, "testdata", NULL);
      if ((test_data_dir == NULL || !g_file_test (test_data_dir, G_FILE_TEST_IS_DIR)) && env != NULL)
        test_data_dir = g_strdup (env);
      if ((test_data_dir == NULL || !g_file_test (test_data_dir, G_FILE_TEST_IS_DIR)) && source != NULL)
        {
          g_free (test_data_dir);
          test_data_dir = g_build_filename (source, "..", "shared", "testdata", NULL);
        }
    }
  if (test_data_dir == NULL || !g_file_test (test_data_dir, G_FILE_TEST_IS_DIR) ||
      !has_photo (test_data_dir, "group-1.jpg"))
    {
      g_test_skip ("The shared test photos are missing: set LIKENESS_TEST_DATA to ../shared/testdata");
      return NULL;
    }
  return test_data_dir;
}

static GFile *
test_photo (const char *name)
{
  g_autofree char *path = g_build_filename (photos_dir (), name, NULL);

  return g_file_new_for_path (path);
}

/* ../shared/models (through LIKENESS_TEST_DATA or beside the source tree), or NULL. */
static char *
find_models_dir (void)
{
  const char *env = g_getenv ("LIKENESS_TEST_DATA");
  const char *source = g_getenv ("LIKENESS_SOURCE_DIR");
  g_autofree char *dir = NULL;

  if (env != NULL)
    dir = g_build_filename (env, "models", NULL);
  if ((dir == NULL || !g_file_test (dir, G_FILE_TEST_IS_DIR)) && source != NULL)
    {
      g_free (dir);
      dir = g_build_filename (source, "..", "shared", "models", NULL);
    }
  if (dir == NULL || !g_file_test (dir, G_FILE_TEST_IS_DIR))
    return NULL;
  return g_steal_pointer (&dir);
}

typedef gboolean (*Condition) (gpointer data);

/* Runs the main loop until cond holds; fails the test after timeout_ms. */
static void
wait_until (Condition   cond,
            gpointer    data,
            guint       timeout_ms,
            const char *what)
{
  gint64 end = g_get_monotonic_time () + timeout_ms * G_TIME_SPAN_MILLISECOND;

  while (!cond (data))
    {
      if (g_get_monotonic_time () > end)
        g_error ("Timed out waiting for %s", what);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (2000);
    }
}

/* Lets GTK lay out and draw for a while. */
static void
settle (guint ms)
{
  gint64 end = g_get_monotonic_time () + ms * G_TIME_SPAN_MILLISECOND;

  while (g_get_monotonic_time () < end)
    {
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (2000);
    }
}

static gboolean
page_idle (gpointer data)
{
  return !lk_person_page_get_busy (data);
}

static gboolean
thumbnails_done (gpointer data)
{
  return lk_thumbnailer_get_pending () == 0;
}

typedef gboolean (*WidgetMatch) (GtkWidget     *widget,
                                 gconstpointer  data);

/* The first widget under widget, itself included, that match accepts. */
static GtkWidget *
find_widget (GtkWidget     *widget,
             WidgetMatch    match,
             gconstpointer  data)
{
  if (match (widget, data))
    return widget;
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_widget (child, match, data);

      if (found != NULL)
        return found;
    }
  return NULL;
}

static gboolean
label_contains (GtkWidget     *widget,
                gconstpointer  needle)
{
  return GTK_IS_LABEL (widget) && strstr (gtk_label_get_label (GTK_LABEL (widget)), needle) != NULL;
}

/* Does any label under widget show text containing needle? Toasts are labels too. */
static gboolean
find_label (GtkWidget  *widget,
            const char *needle)
{
  return find_widget (widget, label_contains, needle) != NULL;
}

static gboolean
is_list_box (GtkWidget     *widget,
             gconstpointer  data)
{
  return GTK_IS_LIST_BOX (widget);
}

static gboolean
button_labelled (GtkWidget     *widget,
                 gconstpointer  label)
{
  return GTK_IS_BUTTON (widget) &&
         g_strcmp0 (gtk_button_get_label (GTK_BUTTON (widget)), label) == 0;
}

/* Clicks a response button of the page's open dialog, as the user would; the dialog closes. */
static void
click_response (LkPersonPage *page,
                const char   *label)
{
  AdwMessageDialog *dialog = lk_person_page_get_dialog (page);
  GtkWidget *button;

  g_assert_nonnull (dialog);
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (dialog)));
  button = find_widget (GTK_WIDGET (dialog), button_labelled, label);
  g_assert_nonnull (button);
  g_assert_true (gtk_widget_is_sensitive (button));
  g_object_add_weak_pointer (G_OBJECT (dialog), (gpointer *) &dialog);
  g_signal_emit_by_name (button, "clicked");
  settle (50);
  g_assert_true (dialog == NULL || !gtk_widget_get_visible (GTK_WIDGET (dialog)));
  if (dialog != NULL)
    g_object_remove_weak_pointer (G_OBJECT (dialog), (gpointer *) &dialog);
  g_assert_null (lk_person_page_get_dialog (page));
}

static guint
count_grid_children (GtkWidget *grid)
{
  guint n = 0;

  for (GtkWidget *child = gtk_widget_get_first_child (grid); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    if (g_strcmp0 (gtk_widget_get_css_name (child), "child") == 0)
      n++;
  return n;
}

static guint
catalog_photo_count (LkCatalog *catalog,
                     gint64     person_id)
{
  g_autoptr(GListModel) photos = lk_catalog_list_photos (catalog, person_id);

  return g_list_model_get_n_items (photos);
}

/* Drops files on the page as a file manager would: a GdkFileList into the drop target's
 * "drop" handler. */
static gboolean
drop_files (LkPersonPage *page,
            GSList       *files)
{
  GtkDropTarget *target = lk_person_page_get_drop_target (page);
  g_auto(GValue) value = G_VALUE_INIT;
  gboolean accepted = FALSE;

  g_value_init (&value, GDK_TYPE_FILE_LIST);
  g_value_take_boxed (&value, gdk_file_list_new_from_list (files));
  g_signal_emit_by_name (target, "drop", &value, 10.0, 10.0, &accepted);
  return accepted;
}

typedef struct
{
  char      *dir;
  LkCatalog *catalog;
  LkWindow  *window;
} Fixture;

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  f->dir = g_dir_make_tmp ("likeness-app-XXXXXX", &error);
  g_assert_no_error (error);
  g_setenv ("LIKENESS_DATA_DIR", f->dir, TRUE);
  f->catalog = lk_catalog_open (f->dir, &error);
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  if (f->window != NULL)
    gtk_window_destroy (GTK_WINDOW (f->window));
  settle (50);
  g_clear_object (&f->catalog);
  rm_rf (f->dir);
  g_free (f->dir);
}

static LkWindow *
open_window (Fixture *f,
             int      width,
             int      height)
{
  LkWindow *window = lk_window_new (NULL, f->catalog);

  gtk_window_set_default_size (GTK_WINDOW (window), width, height);
  gtk_window_present (GTK_WINDOW (window));
  settle (100);
  return window;
}

static void
test_drop_photos (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LkPerson) person = NULL;
  g_autoptr(GFile) text = NULL;
  g_autofree char *text_path = NULL;
  GSList *files = NULL;
  LkPersonPage *page;
  GListModel *shown;
  AdwToast *toast;
  gint64 person_id;
  gint64 photo_id;

  if (photos_dir () == NULL)
    return;

  f->window = open_window (f, 1000, 700);
  person = lk_people_page_add_person (lk_window_get_people_page (f->window), "Ada", &error);
  g_assert_no_error (error);
  person_id = lk_person_get_id (person);
  page = lk_people_page_get_person_page (lk_window_get_people_page (f->window));
  g_assert_true (lk_person_page_get_person (page) != NULL);
  g_assert_cmpint (lk_person_get_id (lk_person_page_get_person (page)), ==, person_id);

  /* Three photos, dropped at once. */
  files = g_slist_append (files, test_photo ("group-1.jpg"));
  files = g_slist_append (files, test_photo ("group-2.jpg"));
  files = g_slist_append (files, test_photo ("group-3.jpg"));
  g_assert_true (drop_files (page, files));
  g_slist_free_full (files, g_object_unref);
  files = NULL;
  wait_until (page_idle, page, 30000, "the import");
  wait_until (thumbnails_done, NULL, 30000, "the thumbnails");
  settle (200);

  shown = lk_person_page_get_photos (page);
  g_assert_cmpuint (g_list_model_get_n_items (shown), ==, 3);
  g_assert_cmpuint (count_grid_children (GTK_WIDGET (lk_person_page_get_grid_view (page))), ==, 3);
  g_assert_cmpuint (catalog_photo_count (f->catalog, person_id), ==, 3);
  g_assert_true (find_label (GTK_WIDGET (page), "3 photos"));
  /* Not enough photos to train, and the button says so. */
  g_assert_true (find_label (GTK_WIDGET (page), "Add at least 5 photos"));

  /* A text file: refused with the catalog's reason in a toast, and no row. */
  text_path = g_build_filename (f->dir, "notes.txt", NULL);
  g_assert_true (g_file_set_contents (text_path, "not a photo\n", -1, NULL));
  text = g_file_new_for_path (text_path);
  files = g_slist_append (NULL, g_object_ref (text));
  g_assert_true (drop_files (page, files));
  g_slist_free_full (files, g_object_unref);
  wait_until (page_idle, page, 30000, "the refused import");
  settle (50);
  g_assert_true (find_label (GTK_WIDGET (lk_window_get_toast_overlay (f->window)), "notes.txt"));
  g_assert_cmpuint (catalog_photo_count (f->catalog, person_id), ==, 3);
  g_assert_cmpuint (g_list_model_get_n_items (shown), ==, 3);

  /* Remove through the photo's button action: hidden at once, still in the catalog. */
  {
    g_autoptr(LkPhoto) first = g_list_model_get_item (shown, 0);

    photo_id = lk_photo_get_id (first);
  }
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "person.remove-photo", "x", photo_id));
  g_assert_cmpuint (g_list_model_get_n_items (shown), ==, 2);
  g_assert_cmpuint (catalog_photo_count (f->catalog, person_id), ==, 3);
  toast = lk_person_page_get_undo_toast (page);
  g_assert_nonnull (toast);

  /* Undo: back in the grid; the toast going later changes nothing. */
  g_signal_emit_by_name (toast, "button-clicked");
  adw_toast_dismiss (toast);
  settle (50);
  g_assert_cmpuint (g_list_model_get_n_items (shown), ==, 3);
  g_assert_cmpuint (catalog_photo_count (f->catalog, person_id), ==, 3);

  /* Remove again and let the toast go: now the row goes too. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "person.remove-photo", "x", photo_id));
  toast = lk_person_page_get_undo_toast (page);
  adw_toast_dismiss (toast);
  settle (50);
  g_assert_cmpuint (g_list_model_get_n_items (shown), ==, 2);
  g_assert_cmpuint (catalog_photo_count (f->catalog, person_id), ==, 2);

  /* A folder from the file manager: its photos come in. */
  {
    g_autofree char *folder = g_build_filename (f->dir, "holiday", NULL);
    g_autofree char *copy = g_build_filename (folder, "astronaut.png", NULL);
    g_autoptr(GFile) source = test_photo ("astronaut.png");
    g_autoptr(GFile) destination = g_file_new_for_path (copy);

    g_assert_cmpint (g_mkdir_with_parents (folder, 0755), ==, 0);
    g_assert_true (g_file_copy (source, destination, G_FILE_COPY_NONE, NULL, NULL, NULL, &error));
    files = g_slist_append (NULL, g_file_new_for_path (folder));
    g_assert_true (drop_files (page, files));
    g_slist_free_full (files, g_object_unref);
    wait_until (page_idle, page, 30000, "the folder import");
    g_assert_cmpuint (g_list_model_get_n_items (shown), ==, 3);
    g_assert_cmpuint (catalog_photo_count (f->catalog, person_id), ==, 3);
  }
}

/* What the catalog holds as the person's name. */
static void
assert_person_name (LkCatalog  *catalog,
                    gint64      person_id,
                    const char *expected)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LkPerson) person = lk_catalog_get_person (catalog, person_id, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (lk_person_get_name (person), ==, expected);
}

/* Rename… from the person's menu: the entry is checked, the list row and the page title follow,
 * and a name someone else has is refused with the catalog's reason. */
static void
test_rename_person (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LkPerson) ada = NULL;
  g_autoptr(LkPerson) grace = NULL;
  LkPeoplePage *people;
  LkPersonPage *page;
  AdwMessageDialog *dialog;
  GtkWidget *entry;
  GtkWidget *list_box;

  f->window = open_window (f, 1000, 700);
  people = lk_window_get_people_page (f->window);
  grace = lk_catalog_add_person (f->catalog, "Grace", &error);
  g_assert_no_error (error);
  ada = lk_people_page_add_person (people, "Ada", &error);
  g_assert_no_error (error);
  page = lk_people_page_get_person_page (people);
  list_box = find_widget (GTK_WIDGET (people), is_list_box, NULL);
  g_assert_nonnull (list_box);
  settle (50);

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "person.rename", NULL));
  dialog = lk_person_page_get_dialog (page);
  g_assert_nonnull (dialog);
  entry = adw_message_dialog_get_extra_child (dialog);
  g_assert_true (GTK_IS_EDITABLE (entry));
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (entry)), ==, "Ada");

  /* Nothing to rename to yet: the same name, then only spaces. */
  g_assert_false (adw_message_dialog_get_response_enabled (dialog, "rename"));
  gtk_editable_set_text (GTK_EDITABLE (entry), "   ");
  g_assert_false (adw_message_dialog_get_response_enabled (dialog, "rename"));
  gtk_editable_set_text (GTK_EDITABLE (entry), "  Ada Lovelace ");
  g_assert_true (adw_message_dialog_get_response_enabled (dialog, "rename"));
  click_response (page, "_Rename");

  assert_person_name (f->catalog, lk_person_get_id (ada), "Ada Lovelace");
  g_assert_true (find_label (list_box, "Ada Lovelace"));
  g_assert_true (find_label (GTK_WIDGET (page), "Ada Lovelace"));
  g_assert_cmpint (lk_person_get_id (lk_person_page_get_person (page)), ==, lk_person_get_id (ada));

  /* Grace is taken: a toast says so and the name stays. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "person.rename", NULL));
  entry = adw_message_dialog_get_extra_child (lk_person_page_get_dialog (page));
  gtk_editable_set_text (GTK_EDITABLE (entry), "Grace");
  click_response (page, "_Rename");
  g_assert_true (find_label (GTK_WIDGET (lk_window_get_toast_overlay (f->window)),
                             "There is already a person called"));
  assert_person_name (f->catalog, lk_person_get_id (ada), "Ada Lovelace");

  /* Cancel changes nothing. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "person.rename", NULL));
  entry = adw_message_dialog_get_extra_child (lk_person_page_get_dialog (page));
  gtk_editable_set_text (GTK_EDITABLE (entry), "Augusta");
  click_response (page, "_Cancel");
  assert_person_name (f->catalog, lk_person_get_id (ada), "Ada Lovelace");
  g_assert_false (find_label (list_box, "Augusta"));
}

/* The Generate and Train buttons say what is missing instead of pretending. */
static void
test_missing_models (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LkPerson) person = NULL;
  g_autoptr(LkTemplate) template = NULL;
  g_autofree char *missing = NULL;
  g_autofree char *template_path = NULL;
  GtkWidget *models_button;
  LkCreatePage *create;

  if (photos_dir () == NULL)
    return;

  f->window = open_window (f, 1000, 700);
  person = lk_people_page_add_person (lk_window_get_people_page (f->window), "Ada", &error);
  g_assert_no_error (error);
  template_path = g_build_filename (photos_dir (), "astronaut.png", NULL);
  template = lk_catalog_add_template (f->catalog, template_path, FALSE, NULL, NULL, &error);
  g_assert_no_error (error);
  create = lk_window_get_create_page (f->window);
  settle (700);

  missing = lk_create_page_dup_missing (create);
  g_assert_cmpstr (missing, ==, "Choose who to portray");
  g_clear_pointer (&missing, g_free);
  lk_create_page_toggle_person (create, lk_person_get_id (person), TRUE);
  missing = lk_create_page_dup_missing (create);
  g_assert_cmpstr (missing, ==, "Choose a template");
  g_clear_pointer (&missing, g_free);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f->window), "win.create-with-template", "x",
                                             lk_template_get_id (template)));
  missing = lk_create_page_dup_missing (create);
  g_assert_cmpstr (missing, ==, "Add a Stable Diffusion 1.5 model first");
  g_clear_pointer (&missing, g_free);
  /* The page offers the way to one: its button opens the Models page. */
  models_button = find_widget (GTK_WIDGET (create), button_labelled, "Open _Models");
  g_assert_nonnull (models_button);
  g_assert_true (gtk_widget_get_visible (models_button));
  g_signal_emit_by_name (models_button, "clicked");
  settle (50);
  g_assert_true (gtk_widget_get_mapped (GTK_WIDGET (lk_window_get_models_page (f->window))));
  lk_window_show_page (f->window, "create");
  settle (50);

  g_assert_true (lk_catalog_set_model (f->catalog, "base", "test", "/nonexistent.safetensors", 1,
                                       NULL, NULL, "ready", &error));
  missing = lk_create_page_dup_missing (create);
  g_assert_cmpstr (missing, ==, "Train Ada first");
  g_clear_pointer (&missing, g_free);
  g_assert_false (gtk_widget_get_visible (models_button));

  /* A portrait recorded while the page is open shows beside its template (the engine will
   * record them; here the test does, with a test photo standing in for the result). */
  {
    g_autoptr(GBytes) png = NULL;
    g_autoptr(LkGeneration) generation = NULL;
    g_autoptr(GFile) file = g_file_new_for_path (template_path);
    gint64 person_id = lk_person_get_id (person);

    png = g_file_load_bytes (file, NULL, NULL, &error);
    g_assert_no_error (error);
    generation = lk_catalog_add_generation (f->catalog, lk_template_get_id (template), &person_id, 1,
                                            "{\"first_steps\": 50}", 42, "{}", png, 0.87, &error);
    g_assert_no_error (error);
    settle (800);
    g_assert_true (find_label (GTK_WIDGET (create), "Similarity 87 %"));

    /* "Use again" from History chooses the same person and template. */
    lk_create_page_toggle_person (create, lk_person_get_id (person), FALSE);
    missing = lk_create_page_dup_missing (create);
    g_assert_cmpstr (missing, ==, "Choose who to portray");
    g_clear_pointer (&missing, g_free);
    lk_history_page_show_position (lk_window_get_history_page (f->window), 0);
    g_assert_true (gtk_widget_activate_action (GTK_WIDGET (lk_window_get_history_page (f->window)),
                                               "history.use-again", NULL));
    missing = lk_create_page_dup_missing (create);
    g_assert_cmpstr (missing, ==, "Train Ada first");
  }
}

static gboolean
templates_idle (gpointer data)
{
  return !lk_templates_page_get_busy (data);
}

/* Templates come in off the main thread; a non-image is refused with the catalog's reason. */
static void
test_templates (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GListModel) templates = NULL;
  g_autofree char *text_path = NULL;
  LkTemplatesPage *page;

  if (photos_dir () == NULL)
    return;

  f->window = open_window (f, 1000, 700);
  page = lk_window_get_templates_page (f->window);
  text_path = g_build_filename (f->dir, "readme.txt", NULL);
  g_assert_true (g_file_set_contents (text_path, "not a photo\n", -1, NULL));
  g_ptr_array_add (files, test_photo ("astronaut.png"));
  g_ptr_array_add (files, g_file_new_for_path (text_path));
  lk_templates_page_import (page, files);
  g_assert_true (lk_templates_page_get_busy (page));
  wait_until (templates_idle, page, 30000, "the template import");
  settle (50);

  templates = lk_catalog_list_templates (f->catalog);
  g_assert_cmpuint (g_list_model_get_n_items (templates), ==, 1);
  g_assert_true (find_label (GTK_WIDGET (lk_window_get_toast_overlay (f->window)), "readme.txt"));

  /* Remove, through the tile's action. */
  {
    g_autoptr(LkTemplate) template = g_list_model_get_item (templates, 0);

    g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "templates.remove", "x",
                                               lk_template_get_id (template)));
  }
  lk_catalog_list_reload (LK_CATALOG_LIST (templates));
  g_assert_cmpuint (g_list_model_get_n_items (templates), ==, 0);
}

/* A queued job shows on the Jobs page with its badge, and Cancel moves it to cancelled. */
static void
test_jobs (Fixture       *f,
           gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LkJob) job = NULL;
  g_autoptr(LkJob) after = NULL;
  GtkWidget *jobs_page;

  f->window = open_window (f, 1000, 700);
  job = lk_catalog_add_job (f->catalog, "train", "{\"person_id\": 1}", &error);
  g_assert_no_error (error);
  settle (700);
  lk_window_show_page (f->window, "jobs");
  settle (100);
  jobs_page = gtk_widget_get_ancestor (GTK_WIDGET (lk_window_get_history_page (f->window)),
                                       ADW_TYPE_VIEW_STACK);
  g_assert_true (find_label (jobs_page, "Training"));
  g_assert_true (find_label (jobs_page, "Waiting"));

  {
    GtkWidget *page = GTK_WIDGET (adw_view_stack_get_visible_child (ADW_VIEW_STACK (jobs_page)));

    g_assert_true (gtk_widget_activate_action (page, "jobs.cancel", "x", lk_job_get_id (job)));
  }
  after = lk_catalog_get_job (f->catalog, lk_job_get_id (job), &error);
  g_assert_no_error (error);
  g_assert_cmpint (lk_job_get_state (after), ==, LK_JOB_STATE_CANCELLED);
  settle (100);
  g_assert_true (find_label (jobs_page, "Cancelled"));
}

/* ---- models ---------------------------------------------------------------------------- */

static gboolean
models_idle (gpointer data)
{
  return !lk_models_page_get_busy (data);
}

static LkWindow *models_window;

/* Whether the Models page of models_window shows this text. */
static gboolean
label_shown (gpointer text)
{
  return find_label (GTK_WIDGET (lk_window_get_models_page (models_window)), text);
}

static LkModelsPage *
show_models_page (Fixture *f)
{
  f->window = models_window = open_window (f, 1000, 700);
  lk_window_show_page (f->window, "models");
  settle (100);
  return lk_window_get_models_page (f->window);
}

/* One registry file entry for a file under ../shared/models, fetched from URL_PATH (the
 * server's behaviour) + relative. */
static void
append_file (GString    *json,
             const char *url_path,
             const char *relative)
{
  g_autofree char *path = g_build_filename (models_dir, relative, NULL);
  g_autofree char *base = g_path_get_basename (relative);
  g_autofree char *sha256 = NULL;
  g_autoptr(GError) error = NULL;
  goffset size = 0;

  sha256 = lk_catalog_files_hash (path, &size, NULL, &error);
  g_assert_no_error (error);
  g_string_append_printf (json, "{ \"path\": \"%s\", \"size\": %" G_GINT64_FORMAT ", \"sha256\": "
                          "\"%s\", \"urls\": [ \"http://127.0.0.1:%u%s%s\" ] }", base,
                          (gint64) size, sha256, lk_test_server_get_port (), url_path, relative);
}

/* Four models on the test server: a two-file face model served whole, one that stalls after
 * 10 % (to cancel), a checkpoint nobody downloads (to adopt files as), and one the server does
 * not have. */
static LkModelRegistry *
make_test_registry (void)
{
  g_autoptr(GString) json = g_string_new ("{ \"version\": 1, \"models\": [ ");
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  LkModelRegistry *registry;

  g_string_append (json, "{ \"name\": \"test-blazeface\", \"role\": \"face-detect\", \"title\": "
                   "\"Test BlazeFace\", \"required\": true, \"files\": [ ");
  append_file (json, "/files/", "human/blazeface.json");
  g_string_append (json, ", ");
  append_file (json, "/files/", "human/blazeface.bin");
  g_string_append (json, " ] }, { \"name\": \"test-stalling\", \"role\": \"face-mesh\", "
                   "\"title\": \"Test Stalling Mesh\", \"required\": true, \"files\": [ ");
  append_file (json, "/drip/", "human/facemesh.bin");
  g_string_append (json, " ] }, { \"name\": \"test-checkpoint\", \"role\": \"base\", "
                   "\"title\": \"Test Checkpoint\", \"required\": true, \"files\": [ { \"path\": "
                   "\"model.safetensors\", \"size\": null, \"sha256\": null, \"urls\": "
                   "[ \"http://127.0.0.1:1/none\" ] } ] }, ");
  g_string_append_printf (json, "{ \"name\": \"test-gone\", \"role\": \"upscale\", \"title\": "
                          "\"Test Gone\", \"files\": [ { \"path\": \"gone.bin\", \"size\": 10, "
                          "\"sha256\": \"%064d\", \"urls\": [ \"http://127.0.0.1:%u/files/no/"
                          "gone.bin\" ] } ] } ] }", 0, lk_test_server_get_port ());
  bytes = g_bytes_new (json->str, json->len);
  registry = lk_model_registry_new_from_bytes (bytes, &error);
  g_assert_no_error (error);
  return registry;
}

/* The Models page listing the test registry, or NULL after g_test_skip(). */
static LkModelsPage *
show_test_models_page (Fixture *f)
{
  g_autoptr(LkModelRegistry) registry = NULL;
  LkModelsPage *page;

  if (models_dir == NULL)
    {
      g_test_skip ("../shared/models is missing: set LIKENESS_TEST_DATA");
      return NULL;
    }
  page = show_models_page (f);
  registry = make_test_registry ();
  lk_models_page_set_registry (page, registry);
  return page;
}

static char *
catalog_model_state (LkCatalog  *catalog,
                     const char *role,
                     const char *name)
{
  g_autoptr(LkCatalogModel) row = lk_catalog_get_model (catalog, role, name, NULL);

  return row != NULL ? g_strdup (row->state) : NULL;
}

/* Every model of the built-in registry is listed, with what it is missing. */
static void
test_models_list (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LkModelRegistry) registry = lk_model_registry_new_default (&error);
  g_autofree char *expected = NULL;
  LkModelsPage *page;

  g_assert_no_error (error);
  page = show_models_page (f);
  g_assert_cmpuint (lk_model_registry_get_n_models (registry), >, 10);
  for (guint i = 0; i < lk_model_registry_get_n_models (registry); i++)
    {
      const LkModelEntry *entry = lk_model_registry_get_nth (registry, i);

      g_assert_true (find_label (GTK_WIDGET (page), entry->title));
    }
  g_assert_true (find_label (GTK_WIDGET (page), "Generation"));
  g_assert_true (find_label (GTK_WIDGET (page), "Face Tools"));
  /* g_format_size() puts a no-break space between number and unit. */
  g_assert_true (find_label (GTK_WIDGET (page), "Missing · 4.3\302\240GB to download"));
  g_assert_false (lk_models_page_get_busy (page));

  /* Another process (the CLI) records a checkpoint: the row follows without being asked. */
  {
    g_autoptr(LkCatalog) other = lk_catalog_open (f->dir, &error);
    g_autofree char *path = g_build_filename (f->dir, "mine.safetensors", NULL);

    g_assert_no_error (error);
    g_assert_true (g_file_set_contents (path, "weights", -1, NULL));
    g_assert_true (lk_catalog_set_model (other, "base", "sd15", path, 7, NULL, NULL, "ready",
                                         &error));
    g_assert_no_error (error);
    expected = g_strdup_printf ("Adopted · uses %s", path);
    wait_until (label_shown, expected, 10000, "the page to notice the new model");
  }
}

/* Download from the local server: the row goes from missing to verified, the files are where
 * the catalog says. */
static void
test_models_download (Fixture       *f,
                      gconstpointer  data)
{
  g_autofree char *state = NULL;
  g_autofree char *bin = NULL;
  GtkWidget *error_label;
  LkModelsPage *page;

  if ((page = show_test_models_page (f)) == NULL)
    return;
  g_assert_true (find_label (GTK_WIDGET (page), "Test BlazeFace"));
  g_assert_true (find_label (GTK_WIDGET (page), "Missing · 618.0\302\240kB to download"));

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "models.download", "s",
                                             "test-blazeface"));
  g_assert_true (lk_models_page_get_busy (page));
  g_assert_true (find_label (GTK_WIDGET (page), "Downloading…"));
  wait_until (models_idle, page, 30000, "the download");
  settle (50);

  state = catalog_model_state (f->catalog, "face-detect", "test-blazeface");
  g_assert_cmpstr (state, ==, "ready");
  bin = g_build_filename (f->dir, "models", "test-blazeface", "blazeface.bin", NULL);
  g_assert_true (g_file_test (bin, G_FILE_TEST_IS_REGULAR));
  g_assert_true (find_label (GTK_WIDGET (page), "Verified · 618.0\302\240kB"));
  g_assert_false (find_label (GTK_WIDGET (page), "Downloading…"));

  /* A file the server does not have: the row says what happened and what to do. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "models.download", "s",
                                             "test-gone"));
  wait_until (models_idle, page, 30000, "the failed download");
  settle (50);
  error_label = find_widget (GTK_WIDGET (page), label_contains, "the server answered 404");
  g_assert_nonnull (error_label);
  g_assert_true (gtk_widget_get_visible (error_label));
  g_assert_nonnull (strstr (gtk_label_get_label (GTK_LABEL (error_label)),
                            "Try again later, or set a mirror in Preferences."));
  g_clear_pointer (&state, g_free);
  state = catalog_model_state (f->catalog, "upscale", "test-gone");
  g_assert_cmpstr (state, ==, "missing");
}

static gboolean
file_has_bytes (gpointer data)
{
  GStatBuf st;

  return g_stat (data, &st) == 0 && st.st_size > 0;
}

/* Cancel mid-body: nothing is left in the model's folder and the row offers Download again. */
static void
test_models_cancel (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GDir) dir = NULL;
  g_autofree char *state = NULL;
  g_autofree char *folder = NULL;
  g_autofree char *part = NULL;
  LkModelsPage *page;

  if ((page = show_test_models_page (f)) == NULL)
    return;

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "models.download", "s",
                                             "test-stalling"));
  folder = g_build_filename (f->dir, "models", "test-stalling", NULL);
  part = g_build_filename (folder, "facemesh.bin.part", NULL);
  wait_until (file_has_bytes, part, 30000, "the first bytes");
  /* The progress line counts against the registry's size (its updates are throttled, so the
   * count itself may lag behind the file). */
  settle (50);
  g_assert_true (find_label (GTK_WIDGET (page), " of 1.5\302\240MB"));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "models.cancel", "s",
                                             "test-stalling"));
  wait_until (models_idle, page, 30000, "the cancelled download");
  settle (50);

  dir = g_dir_open (folder, 0, NULL);
  g_assert_true (dir == NULL || g_dir_read_name (dir) == NULL);
  state = catalog_model_state (f->catalog, "face-mesh", "test-stalling");
  g_assert_cmpstr (state, ==, "missing");
  g_assert_true (find_label (GTK_WIDGET (page), "Missing · 1.5\302\240MB to download"));
}

/* Use Existing File…: a LoRA offered as the checkpoint is refused on the row, saying what it
 * is; a checkpoint is recorded where it lies. */
static void
test_models_adopt (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(LkCatalogModel) row = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *lora_path = NULL;
  g_autofree char *checkpoint_path = NULL;
  g_autofree char *adopted = NULL;
  GtkWidget *error_label;
  LkModelsPage *page;

  if ((page = show_test_models_page (f)) == NULL)
    return;
  lora_path = lk_test_write_tiny_lora (f->dir, "face-lora.safetensors", 768);
  checkpoint_path = lk_test_write_tiny_checkpoint (f->dir, "my-sd15.safetensors", 4);

  {
    g_autoptr(GFile) file = g_file_new_for_path (lora_path);

    lk_models_page_adopt_file (page, "test-checkpoint", file);
  }
  g_assert_true (lk_models_page_get_busy (page));
  wait_until (models_idle, page, 30000, "the refused file");
  settle (50);
  error_label = find_widget (GTK_WIDGET (page), label_contains,
                             "face-lora.safetensors is of kind “SD1.x LoRA”");
  g_assert_nonnull (error_label);
  g_assert_true (gtk_widget_get_visible (error_label));
  g_assert_true (find_label (GTK_WIDGET (page), "Choose the file this model needs"));
  row = lk_catalog_get_model (f->catalog, "base", "test-checkpoint", &error);
  g_assert_error (error, LK_CATALOG_ERROR, LK_CATALOG_ERROR_NOT_FOUND);
  g_assert_null (row);
  g_clear_error (&error);

  {
    g_autoptr(GFile) file = g_file_new_for_path (checkpoint_path);

    lk_models_page_adopt_file (page, "test-checkpoint", file);
  }
  wait_until (models_idle, page, 30000, "the adopted file");
  settle (50);
  row = lk_catalog_get_model (f->catalog, "base", "test-checkpoint", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (row->state, ==, "ready");
  g_assert_cmpstr (row->path, ==, checkpoint_path);
  adopted = g_strdup_printf ("Adopted · uses %s", checkpoint_path);
  g_assert_true (find_label (GTK_WIDGET (page), adopted));
  g_assert_false (gtk_widget_get_visible (error_label));
}

/* The shortcuts window GtkApplication loads from the resource builds without a warning. */
static void
test_shortcuts (void)
{
  g_autoptr(GtkBuilder) builder =
    gtk_builder_new_from_resource ("/io/github/likeness/Likeness/gtk/help-overlay.ui");
  GtkWidget *overlay = GTK_WIDGET (gtk_builder_get_object (builder, "help_overlay"));

  g_assert_true (GTK_IS_SHORTCUTS_WINDOW (overlay));
  gtk_window_present (GTK_WINDOW (overlay));
  settle (100);
  gtk_window_destroy (GTK_WINDOW (overlay));
}

static void
save_screenshot (GtkWidget  *widget,
                 const char *name)
{
  g_autoptr(GdkPaintable) paintable = gtk_widget_paintable_new (widget);
  g_autoptr(GskRenderNode) node = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  g_autofree char *path = NULL;
  GtkSnapshot *snapshot = gtk_snapshot_new ();
  int width = gtk_widget_get_width (widget);
  int height = gtk_widget_get_height (widget);

  g_assert_cmpint (width, >, 0);
  gdk_paintable_snapshot (paintable, snapshot, width, height);
  node = gtk_snapshot_free_to_node (snapshot);
  g_assert_nonnull (node);
  texture = gsk_renderer_render_texture (gtk_native_get_renderer (GTK_NATIVE (widget)), node,
                                         &GRAPHENE_RECT_INIT (0, 0, width, height));
  g_mkdir_with_parents (LK_SCREENSHOT_DIR, 0755);
  path = g_build_filename (LK_SCREENSHOT_DIR, name, NULL);
  g_assert_true (gdk_texture_save_to_png (texture, path));
  g_test_message ("wrote %s (%d×%d)", path, width, height);
}

static gboolean
preferences_loaded (gpointer data)
{
  return lk_preferences_window_get_loaded (data);
}

static void
fill_catalog (Fixture *f,
              gint64  *ada_id)
{
  static const char *photos[] = { "group-1.jpg", "group-2.jpg", "group-3.jpg", "astronaut.png" };
  /* Face counts from the test data's README (the face toolkit will count them itself). */
  static const struct { const char *file; int faces; } templates[] = {
    { "group-2.jpg", 3 }, { "astronaut.png", 1 }, { "group-3.jpg", 3 }, { "group-1.jpg", 3 },
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(LkPerson) ada = lk_catalog_add_person (f->catalog, "Ada", &error);
  g_autoptr(LkPerson) grace = lk_catalog_add_person (f->catalog, "Grace", &error);

  g_assert_no_error (error);
  *ada_id = lk_person_get_id (ada);
  for (guint i = 0; i < G_N_ELEMENTS (photos); i++)
    {
      g_autofree char *path = g_build_filename (photos_dir (), photos[i], NULL);
      g_autoptr(LkPhoto) photo = lk_catalog_add_photo (f->catalog, *ada_id, path, NULL, NULL, &error);

      g_assert_no_error (error);
    }
  for (guint i = 0; i < G_N_ELEMENTS (templates); i++)
    {
      g_autofree char *path = g_build_filename (photos_dir (), templates[i].file, NULL);
      g_autoptr(LkTemplate) template = lk_catalog_add_template (f->catalog, path, FALSE, NULL, NULL, &error);

      g_assert_no_error (error);
      g_assert_true (lk_catalog_set_template_faces (f->catalog, lk_template_get_id (template),
                                                    templates[i].faces, NULL, &error));
    }
}

/* Remove Person… asks first, saying what goes; Cancel keeps everything, Remove takes the row,
 * the photos' rows and files, and returns to the list (a narrow window shows one at a time). */
static void
test_remove_person (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LkPerson) grace = NULL;
  g_autoptr(LkPerson) gone = NULL;
  g_autoptr(GListModel) photos = NULL;
  g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);
  LkPeoplePage *people;
  LkPersonPage *page;
  AdwLeaflet *leaflet;
  GtkWidget *content;
  GtkWidget *list_box;
  const char *body;
  gint64 ada_id;

  if (photos_dir () == NULL)
    return;

  fill_catalog (f, &ada_id);
  grace = lk_catalog_find_person (f->catalog, "Grace", &error);
  g_assert_no_error (error);
  photos = lk_catalog_list_photos (f->catalog, ada_id);
  for (guint i = 0; i < g_list_model_get_n_items (photos); i++)
    {
      g_autoptr(LkPhoto) photo = g_list_model_get_item (photos, i);

      g_assert_true (g_file_test (lk_photo_get_path (photo), G_FILE_TEST_IS_REGULAR));
      g_ptr_array_add (paths, g_strdup (lk_photo_get_path (photo)));
    }
  g_assert_cmpuint (paths->len, ==, 4);

  f->window = open_window (f, 380, 760);
  people = lk_window_get_people_page (f->window);
  page = lk_people_page_get_person_page (people);
  lk_people_page_show_person (people, ada_id);
  settle (100);
  leaflet = ADW_LEAFLET (gtk_widget_get_ancestor (GTK_WIDGET (page), ADW_TYPE_LEAFLET));
  content = gtk_widget_get_ancestor (GTK_WIDGET (page), GTK_TYPE_STACK);
  list_box = find_widget (GTK_WIDGET (people), is_list_box, NULL);
  g_assert_true (adw_leaflet_get_folded (leaflet));
  g_assert_true (adw_leaflet_get_visible_child (leaflet) == content);

  /* The dialog says what goes; Cancel is the default and keeps everything. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "person.remove", NULL));
  g_assert_nonnull (lk_person_page_get_dialog (page));
  g_assert_cmpstr (adw_message_dialog_get_heading (lk_person_page_get_dialog (page)), ==,
                   "Remove Ada?");
  body = adw_message_dialog_get_body (lk_person_page_get_dialog (page));
  g_assert_nonnull (strstr (body, "4 photos"));
  g_assert_null (strstr (body, "LoRA"));
  g_assert_cmpstr (adw_message_dialog_get_default_response (lk_person_page_get_dialog (page)), ==,
                   "cancel");
  click_response (page, "_Cancel");
  {
    g_autoptr(LkPerson) kept = lk_catalog_get_person (f->catalog, ada_id, &error);

    g_assert_no_error (error);
    g_assert_nonnull (kept);
  }
  g_assert_cmpuint (catalog_photo_count (f->catalog, ada_id), ==, 4);
  for (guint i = 0; i < paths->len; i++)
    g_assert_true (g_file_test (g_ptr_array_index (paths, i), G_FILE_TEST_EXISTS));
  g_assert_true (adw_leaflet_get_visible_child (leaflet) == content);
  g_assert_cmpint (lk_person_get_id (lk_person_page_get_person (page)), ==, ada_id);

  /* Escape (closing the dialog) is Cancel too. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "person.remove", NULL));
  gtk_window_close (GTK_WINDOW (lk_person_page_get_dialog (page)));
  settle (50);
  g_assert_null (lk_person_page_get_dialog (page));
  g_assert_cmpuint (catalog_photo_count (f->catalog, ada_id), ==, 4);

  /* With a trained LoRA the dialog says it goes too. */
  {
    g_autofree char *weights = g_build_filename (f->dir, "ada.safetensors", NULL);
    g_autofree char *face = g_build_filename (photos_dir (), "astronaut.png", NULL);

    g_assert_true (g_file_set_contents (weights, "\x08\0\0\0\0\0\0\0{}      ", 16, NULL));
    g_assert_cmpint (lk_catalog_add_lora (f->catalog, ada_id, "basehash", "{}", 800, "[]", weights,
                                          face, NULL, &error), >, 0);
    g_assert_no_error (error);
  }

  /* Remove: the person, their photos' rows and files and their LoRA go, and the list shows. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "person.remove", NULL));
  body = adw_message_dialog_get_body (lk_person_page_get_dialog (page));
  g_assert_nonnull (strstr (body, "4 photos and their trained LoRA"));
  click_response (page, "_Remove");
  gone = lk_catalog_get_person (f->catalog, ada_id, &error);
  g_assert_error (error, LK_CATALOG_ERROR, LK_CATALOG_ERROR_NOT_FOUND);
  g_assert_null (gone);
  g_clear_error (&error);
  g_assert_cmpuint (catalog_photo_count (f->catalog, ada_id), ==, 0);
  {
    gboolean has_lora = TRUE;

    g_assert_true (lk_catalog_has_ready_lora (f->catalog, ada_id, &has_lora, &error));
    g_assert_false (has_lora);
  }
  for (guint i = 0; i < paths->len; i++)
    g_assert_false (g_file_test (g_ptr_array_index (paths, i), G_FILE_TEST_EXISTS));
  g_assert_false (adw_leaflet_get_visible_child (leaflet) == content);
  g_assert_false (find_label (list_box, "Ada"));
  g_assert_true (find_label (list_box, "Grace"));
  g_assert_true (find_label (GTK_WIDGET (lk_window_get_toast_overlay (f->window)), "Ada removed"));
  /* Grace, the one left, is who the page shows when opened again. */
  g_assert_nonnull (lk_person_page_get_person (page));
  g_assert_cmpint (lk_person_get_id (lk_person_page_get_person (page)), ==,
                   lk_person_get_id (grace));
}

static void
capture_pages (Fixture    *f,
               gint64      ada_id,
               int         width,
               int         height,
               const char *suffix)
{
  static const char *pages[] = { "templates", "create", "history", "jobs", "models" };
  LkPeoplePage *people;
  GtkWidget *preferences;
  g_autofree char *name = NULL;

  f->window = open_window (f, width, height);
  people = lk_window_get_people_page (f->window);

  /* People: the list (a narrow window shows it alone), then a person's photos. */
  lk_people_page_show_person (people, ada_id);
  gtk_widget_activate_action (GTK_WIDGET (people), "people.back", NULL);
  wait_until (thumbnails_done, NULL, 30000, "the avatars");
  settle (400);
  name = g_strdup_printf ("people-%s.png", suffix);
  save_screenshot (GTK_WIDGET (f->window), name);

  lk_people_page_show_person (people, ada_id);
  settle (200);
  wait_until (thumbnails_done, NULL, 30000, "the thumbnails");
  settle (400);
  g_free (name);
  name = g_strdup_printf ("person-%s.png", suffix);
  save_screenshot (GTK_WIDGET (f->window), name);

  for (guint i = 0; i < G_N_ELEMENTS (pages); i++)
    {
      lk_window_show_page (f->window, pages[i]);
      if (g_str_equal (pages[i], "create"))
        {
          LkCreatePage *create = lk_window_get_create_page (f->window);

          lk_create_page_toggle_person (create, ada_id, TRUE);
          gtk_widget_activate_action (GTK_WIDGET (f->window), "win.show-page", "s", "templates");
          settle (200);
          {
            g_autoptr(GListModel) templates = lk_catalog_list_templates (f->catalog);
            g_autoptr(LkTemplate) second = g_list_model_get_item (templates, 1);

            gtk_widget_activate_action (GTK_WIDGET (f->window), "win.create-with-template", "x",
                                        lk_template_get_id (second));
          }
        }
      settle (200);
      wait_until (thumbnails_done, NULL, 30000, "the thumbnails");
      settle (400);
      g_free (name);
      name = g_strdup_printf ("%s-%s.png", pages[i], suffix);
      save_screenshot (GTK_WIDGET (f->window), name);
    }

  preferences = lk_preferences_window_new (GTK_WINDOW (f->window), f->dir);
  gtk_window_set_default_size (GTK_WINDOW (preferences), MIN (width, 640), MIN (height, 700));
  gtk_window_present (GTK_WINDOW (preferences));
  wait_until (preferences_loaded, preferences, 60000, "the GPU list");
  settle (400);
  g_free (name);
  name = g_strdup_printf ("preferences-%s.png", suffix);
  save_screenshot (preferences, name);
  gtk_window_destroy (GTK_WINDOW (preferences));

  gtk_window_destroy (GTK_WINDOW (f->window));
  f->window = NULL;
  settle (100);
}

static void
test_screenshots (Fixture       *f,
                  gconstpointer  data)
{
  gint64 ada_id;

  if (photos_dir () == NULL)
    return;

  fill_catalog (f, &ada_id);
  capture_pages (f, ada_id, 1100, 760, "normal");
  capture_pages (f, ada_id, 380, 760, "narrow");

  /* Dark mode: libadwaita's dark palette plus the app's style-dark.css. */
  {
    AdwStyleManager *style = adw_style_manager_get_default ();
    g_autoptr(GtkCssProvider) dark = gtk_css_provider_new ();

    gtk_css_provider_load_from_resource (dark, "/io/github/likeness/Likeness/style-dark.css");
    gtk_style_context_add_provider_for_display (gdk_display_get_default (), GTK_STYLE_PROVIDER (dark),
                                                GTK_STYLE_PROVIDER_PRIORITY_APPLICATION + 1);
    adw_style_manager_set_color_scheme (style, ADW_COLOR_SCHEME_FORCE_DARK);
    f->window = open_window (f, 1100, 760);
    lk_people_page_show_person (lk_window_get_people_page (f->window), ada_id);
    settle (200);
    wait_until (thumbnails_done, NULL, 30000, "the thumbnails");
    settle (400);
    save_screenshot (GTK_WIDGET (f->window), "people-dark.png");
    gtk_style_context_remove_provider_for_display (gdk_display_get_default (),
                                                   GTK_STYLE_PROVIDER (dark));
    adw_style_manager_set_color_scheme (style, ADW_COLOR_SCHEME_DEFAULT);
  }
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GtkCssProvider) css = NULL;
  int status;

  g_setenv ("GSETTINGS_SCHEMA_DIR", LK_SCHEMA_DIR, FALSE);
  g_setenv ("GSETTINGS_BACKEND", "memory", FALSE);
  g_setenv ("GSK_RENDERER", "cairo", FALSE);
  /* A mirror would send the test downloads elsewhere than the test server. */
  g_unsetenv ("LIKENESS_MODEL_MIRROR");
  g_test_init (&argc, &argv, NULL);

  if (!gtk_init_check ())
    {
      g_test_skip ("No display: run under xvfb-run");
      return g_test_run ();
    }
  adw_init ();
  lk_application_init_resources ();
  /* An AdwApplication loads these itself; the tests have none. */
  css = gtk_css_provider_new ();
  gtk_css_provider_load_from_resource (css, "/io/github/likeness/Likeness/style.css");
  gtk_style_context_add_provider_for_display (gdk_display_get_default (), GTK_STYLE_PROVIDER (css),
                                              GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
  g_object_set (gtk_settings_get_default (), "gtk-enable-animations", FALSE, NULL);

  g_test_add ("/app/drop-photos", Fixture, NULL, fixture_set_up, test_drop_photos, fixture_tear_down);
  g_test_add ("/app/rename-person", Fixture, NULL, fixture_set_up, test_rename_person,
              fixture_tear_down);
  g_test_add ("/app/remove-person", Fixture, NULL, fixture_set_up, test_remove_person,
              fixture_tear_down);
  g_test_add ("/app/missing-models", Fixture, NULL, fixture_set_up, test_missing_models,
              fixture_tear_down);
  g_test_add ("/app/templates", Fixture, NULL, fixture_set_up, test_templates, fixture_tear_down);
  g_test_add ("/app/jobs", Fixture, NULL, fixture_set_up, test_jobs, fixture_tear_down);
  g_test_add ("/app/models-list", Fixture, NULL, fixture_set_up, test_models_list,
              fixture_tear_down);
  g_test_add ("/app/models-download", Fixture, NULL, fixture_set_up, test_models_download,
              fixture_tear_down);
  g_test_add ("/app/models-cancel", Fixture, NULL, fixture_set_up, test_models_cancel,
              fixture_tear_down);
  g_test_add ("/app/models-adopt", Fixture, NULL, fixture_set_up, test_models_adopt,
              fixture_tear_down);
  g_test_add_func ("/app/shortcuts", test_shortcuts);
  g_test_add ("/app/screenshots", Fixture, NULL, fixture_set_up, test_screenshots, fixture_tear_down);

  models_dir = find_models_dir ();
  if (models_dir != NULL)
    lk_test_server_start (models_dir);
  status = g_test_run ();
  if (models_dir != NULL)
    lk_test_server_stop ();
  g_free (models_dir);
  return status;
}
