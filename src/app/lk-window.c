/* lk-window.c: the main window — People, Templates, Create, History, Jobs, Models
 *
 * An AdwViewStack whose switcher sits in the header bar in a wide window and at the bottom in
 * a narrow one; People and History fold their list and detail with AdwLeaflet.
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "lk-app-util.h"
#include "lk-catalog-list.h"
#include "lk-file-chooser.h"
#include "lk-window-private.h"

struct _LkWindow
{
  AdwApplicationWindow  parent_instance;

  /* template widgets */
  AdwToastOverlay      *toast_overlay;
  AdwViewStack         *stack;
  AdwViewStackPage     *jobs_stack_page;
  LkPeoplePage         *people_page;
  LkTemplatesPage      *templates_page;
  LkCreatePage         *create_page;
  LkHistoryPage        *history_page;
  LkJobsPage           *jobs_page;
  LkModelsPage         *models_page;

  /* owned */
  LkCatalog            *catalog;
  GListModel           *jobs;
  GHashTable           *job_states;   /* job id → LkJobState last seen, to notice endings */
  GSettings            *settings;
};

G_DEFINE_FINAL_TYPE (LkWindow, lk_window, ADW_TYPE_APPLICATION_WINDOW)

enum {
  PROP_0,
  PROP_CATALOG,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

void
lk_window_show_page (LkWindow   *self,
                     const char *name)
{
  g_return_if_fail (LK_IS_WINDOW (self));

  adw_view_stack_set_visible_child_name (self->stack, name);
}

static void
show_page_action (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  lk_window_show_page (LK_WINDOW (widget), g_variant_get_string (parameter, NULL));
}

static void
new_person_action (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *parameter)
{
  LkWindow *self = LK_WINDOW (widget);

  lk_window_show_page (self, "people");
  gtk_widget_activate_action (GTK_WIDGET (self->people_page), "people.new-person", NULL);
}

static void
import_template_action (GtkWidget  *widget,
                        const char *action_name,
                        GVariant   *parameter)
{
  LkWindow *self = LK_WINDOW (widget);

  lk_window_show_page (self, "templates");
  gtk_widget_activate_action (GTK_WIDGET (self->templates_page), "templates.import", NULL);
}

static void
create_with_template_action (GtkWidget  *widget,
                             const char *action_name,
                             GVariant   *parameter)
{
  LkWindow *self = LK_WINDOW (widget);

  lk_create_page_select_template (self->create_page, g_variant_get_int64 (parameter));
  lk_window_show_page (self, "create");
}

static void
use_again_action (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  LkWindow *self = LK_WINDOW (widget);
  g_autoptr(LkGeneration) generation = NULL;
  g_autoptr(GError) error = NULL;

  generation = lk_catalog_get_generation (self->catalog, g_variant_get_int64 (parameter), &error);
  if (generation == NULL)
    {
      lk_show_error_toast (widget, error->message);
      return;
    }
  lk_create_page_use_generation (self->create_page, generation);
  lk_window_show_page (self, "create");
}

static void
generation_saved (GtkWidget *owner,
                  GPtrArray *files,
                  gpointer   user_data)
{
  g_autoptr(GFile) source = g_file_new_for_path (user_data);
  g_autoptr(GError) error = NULL;

  if (files != NULL &&
      !g_file_copy (source, g_ptr_array_index (files, 0), G_FILE_COPY_OVERWRITE, NULL, NULL, NULL,
                    &error))
    lk_show_error_toast (owner, error->message);
  else if (files != NULL)
    lk_show_toast (owner, adw_toast_new (_("Portrait saved")));
  g_free (user_data);
}

static void
save_generation_action (GtkWidget  *widget,
                        const char *action_name,
                        GVariant   *parameter)
{
  LkWindow *self = LK_WINDOW (widget);
  g_autoptr(LkGeneration) generation = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *name = NULL;

  generation = lk_catalog_get_generation (self->catalog, g_variant_get_int64 (parameter), &error);
  if (generation == NULL)
    {
      lk_show_error_toast (widget, error->message);
      return;
    }
  name = g_strdup_printf ("likeness-%" G_GINT64_FORMAT ".png", lk_generation_get_id (generation));
  lk_choose_files (widget, LK_CHOOSE_SAVE_PNG, _("Save Portrait"), name, generation_saved,
                   g_strdup (lk_generation_get_path (generation)));
}

/* A long job that ends while the user looks elsewhere gets a desktop notification. */
static void
notify_job_ended (LkWindow *self,
                  LkJob    *job)
{
  GApplication *app = G_APPLICATION (gtk_window_get_application (GTK_WINDOW (self)));
  g_autoptr(GNotification) notification = NULL;
  const char *kind = lk_job_kind_to_label (lk_job_get_kind (job));
  g_autofree char *title = NULL;

  if (app == NULL || gtk_window_is_active (GTK_WINDOW (self)))
    return;
  if (lk_job_get_state (job) == LK_JOB_STATE_DONE)
    title = g_strdup_printf (_("%s finished"), kind);
  else
    title = g_strdup_printf (_("%s failed"), kind);
  notification = g_notification_new (title);
  if (lk_job_get_error_message (job) != NULL)
    g_notification_set_body (notification, lk_job_get_error_message (job));
  g_notification_set_default_action_and_target (notification, "app.show-page", "s", "jobs");
  g_application_send_notification (app, "job-ended", notification);
}

static void
jobs_changed_cb (LkWindow *self)
{
  guint active = 0;

  for (guint i = 0; i < g_list_model_get_n_items (self->jobs); i++)
    {
      g_autoptr(LkJob) job = g_list_model_get_item (self->jobs, i);
      gint64 id = lk_job_get_id (job);
      LkJobState state = lk_job_get_state (job);
      gpointer seen;

      if (state == LK_JOB_STATE_QUEUED || state == LK_JOB_STATE_RUNNING)
        active++;
      if (g_hash_table_lookup_extended (self->job_states, &id, NULL, &seen) &&
          GPOINTER_TO_INT (seen) == LK_JOB_STATE_RUNNING &&
          (state == LK_JOB_STATE_DONE || state == LK_JOB_STATE_FAILED))
        notify_job_ended (self, job);
      g_hash_table_insert (self->job_states, g_memdup2 (&id, sizeof id), GINT_TO_POINTER (state));
    }
  adw_view_stack_page_set_badge_number (self->jobs_stack_page, active);
  adw_view_stack_page_set_needs_attention (self->jobs_stack_page, active > 0);
}

LkCatalog *
lk_window_get_catalog (LkWindow *self)
{
  g_return_val_if_fail (LK_IS_WINDOW (self), NULL);

  return self->catalog;
}

static void
set_catalog (LkWindow  *self,
             LkCatalog *catalog)
{
  g_set_object (&self->catalog, catalog);
  lk_people_page_set_catalog (self->people_page, catalog);
  lk_templates_page_set_catalog (self->templates_page, catalog);
  lk_create_page_set_catalog (self->create_page, catalog);
  lk_history_page_set_catalog (self->history_page, catalog);
  lk_jobs_page_set_catalog (self->jobs_page, catalog);
  lk_models_page_set_catalog (self->models_page, catalog);
  if (catalog != NULL)
    {
      self->jobs = lk_catalog_list_jobs (catalog);
      g_signal_connect_object (self->jobs, "items-changed", G_CALLBACK (jobs_changed_cb), self,
                               G_CONNECT_SWAPPED);
      jobs_changed_cb (self);
    }
}

LkPeoplePage *
lk_window_get_people_page (LkWindow *self)
{
  return self->people_page;
}

LkTemplatesPage *
lk_window_get_templates_page (LkWindow *self)
{
  return self->templates_page;
}

LkCreatePage *
lk_window_get_create_page (LkWindow *self)
{
  return self->create_page;
}

LkHistoryPage *
lk_window_get_history_page (LkWindow *self)
{
  return self->history_page;
}

LkModelsPage *
lk_window_get_models_page (LkWindow *self)
{
  return self->models_page;
}

AdwToastOverlay *
lk_window_get_toast_overlay (LkWindow *self)
{
  return self->toast_overlay;
}

static void
lk_window_dispose (GObject *object)
{
  LkWindow *self = (LkWindow *) object;

  gtk_widget_dispose_template (GTK_WIDGET (self), LK_TYPE_WINDOW);
  g_clear_object (&self->jobs);
  g_clear_object (&self->catalog);
  g_clear_object (&self->settings);
  g_clear_pointer (&self->job_states, g_hash_table_unref);

  G_OBJECT_CLASS (lk_window_parent_class)->dispose (object);
}

static void
lk_window_get_property (GObject    *object,
                        guint       prop_id,
                        GValue     *value,
                        GParamSpec *pspec)
{
  LkWindow *self = LK_WINDOW (object);

  switch (prop_id)
    {
    case PROP_CATALOG:
      g_value_set_object (value, self->catalog);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lk_window_set_property (GObject      *object,
                        guint         prop_id,
                        const GValue *value,
                        GParamSpec   *pspec)
{
  LkWindow *self = LK_WINDOW (object);

  switch (prop_id)
    {
    case PROP_CATALOG:
      set_catalog (self, g_value_get_object (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lk_window_class_init (LkWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  static const char *pages[] = { "people", "templates", "create", "history", "jobs", "models" };

  object_class->dispose = lk_window_dispose;
  object_class->get_property = lk_window_get_property;
  object_class->set_property = lk_window_set_property;

  properties[PROP_CATALOG] =
    g_param_spec_object ("catalog", NULL, NULL, LK_TYPE_CATALOG,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  g_type_ensure (LK_TYPE_PEOPLE_PAGE);
  g_type_ensure (LK_TYPE_TEMPLATES_PAGE);
  g_type_ensure (LK_TYPE_CREATE_PAGE);
  g_type_ensure (LK_TYPE_HISTORY_PAGE);
  g_type_ensure (LK_TYPE_JOBS_PAGE);
  g_type_ensure (LK_TYPE_MODELS_PAGE);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/likeness/Likeness/lk-window.ui");
  gtk_widget_class_bind_template_child (widget_class, LkWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, LkWindow, stack);
  gtk_widget_class_bind_template_child (widget_class, LkWindow, jobs_stack_page);
  gtk_widget_class_bind_template_child (widget_class, LkWindow, people_page);
  gtk_widget_class_bind_template_child (widget_class, LkWindow, templates_page);
  gtk_widget_class_bind_template_child (widget_class, LkWindow, create_page);
  gtk_widget_class_bind_template_child (widget_class, LkWindow, history_page);
  gtk_widget_class_bind_template_child (widget_class, LkWindow, jobs_page);
  gtk_widget_class_bind_template_child (widget_class, LkWindow, models_page);

  gtk_widget_class_install_action (widget_class, "win.show-page", "s", show_page_action);
  gtk_widget_class_install_action (widget_class, "win.new-person", NULL, new_person_action);
  gtk_widget_class_install_action (widget_class, "win.import-template", NULL, import_template_action);
  gtk_widget_class_install_action (widget_class, "win.create-with-template", "x",
                                   create_with_template_action);
  gtk_widget_class_install_action (widget_class, "win.use-again", "x", use_again_action);
  gtk_widget_class_install_action (widget_class, "win.save-generation", "x", save_generation_action);

  for (guint i = 0; i < G_N_ELEMENTS (pages); i++)
    gtk_widget_class_add_binding_action (widget_class, GDK_KEY_1 + i, GDK_ALT_MASK,
                                         "win.show-page", "s", pages[i]);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_n, GDK_CONTROL_MASK, "win.new-person", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_i, GDK_CONTROL_MASK,
                                       "win.import-template", NULL);
}

static void
lk_window_init (LkWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  self->job_states = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  self->settings = g_settings_new (APP_ID);
  g_settings_bind (self->settings, "window-width", self, "default-width", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "window-height", self, "default-height", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "window-maximized", self, "maximized", G_SETTINGS_BIND_DEFAULT);
}

LkWindow *
lk_window_new (GtkApplication *application,
               LkCatalog      *catalog)
{
  return g_object_new (LK_TYPE_WINDOW,
                       "application", application,
                       "catalog", catalog,
                       NULL);
}
