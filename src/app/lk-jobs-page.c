/* lk-jobs-page.c: running, queued and finished jobs; progress, cancel, errors
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "lk-app-util.h"
#include "lk-catalog-list.h"
#include "lk-jobs-page.h"

struct _LkJobsPage
{
  GtkWidget    parent_instance;

  /* template widgets */
  GtkStack    *stack;
  GtkListView *list_view;

  /* owned */
  LkCatalog   *catalog;
  GListModel  *jobs;
};

G_DEFINE_FINAL_TYPE (LkJobsPage, lk_jobs_page, GTK_TYPE_WIDGET)

const char *
lk_job_kind_to_label (const char *kind)
{
  if (g_strcmp0 (kind, "train") == 0)
    return _("Training");
  if (g_strcmp0 (kind, "generate") == 0)
    return _("Generation");
  if (g_strcmp0 (kind, "download") == 0)
    return _("Download");
  return kind;
}

static const char *
state_label (LkJobState state)
{
  switch (state)
    {
    case LK_JOB_STATE_QUEUED:
      return _("Waiting");
    case LK_JOB_STATE_RUNNING:
      return _("Running");
    case LK_JOB_STATE_DONE:
      return _("Done");
    case LK_JOB_STATE_FAILED:
      return _("Failed");
    case LK_JOB_STATE_CANCELLED:
      return _("Cancelled");
    default:
      return "";
    }
}

static void
cancel_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  LkJobsPage *self = LK_JOBS_PAGE (widget);
  g_autoptr(LkJob) job = NULL;
  g_autoptr(GError) error = NULL;

  job = lk_catalog_get_job (self->catalog, g_variant_get_int64 (parameter), &error);
  /* The worker sees the state and stops at its next step. */
  if (job == NULL ||
      !lk_catalog_update_job (self->catalog, lk_job_get_id (job), LK_JOB_STATE_CANCELLED,
                              lk_job_get_progress (job), NULL, NULL, NULL, &error))
    lk_show_error_toast (widget, error->message);
  else
    lk_catalog_list_reload (LK_CATALOG_LIST (self->jobs));
}

static void
setup_cb (GtkSignalListItemFactory *factory,
          GtkListItem              *item,
          gpointer                  user_data)
{
  GtkBuilder *builder = gtk_builder_new_from_resource ("/io/github/likeness/Likeness/lk-job-row.ui");

  gtk_list_item_set_child (item, GTK_WIDGET (gtk_builder_get_object (builder, "row")));
  g_object_set_data_full (G_OBJECT (item), "builder", builder, g_object_unref);
  gtk_list_item_set_activatable (item, FALSE);
}

static void
bind_cb (GtkSignalListItemFactory *factory,
         GtkListItem              *item,
         gpointer                  user_data)
{
  GtkBuilder *builder = g_object_get_data (G_OBJECT (item), "builder");
  LkJob *job = gtk_list_item_get_item (item);
  LkJobState state = lk_job_get_state (job);
  gboolean active = state == LK_JOB_STATE_QUEUED || state == LK_JOB_STATE_RUNNING;
  GtkWidget *progress = GTK_WIDGET (gtk_builder_get_object (builder, "progress"));
  GtkWidget *error = GTK_WIDGET (gtk_builder_get_object (builder, "error"));
  GtkWidget *cancel = GTK_WIDGET (gtk_builder_get_object (builder, "cancel"));
  g_autofree char *status = NULL;

  if (lk_job_get_message (job) != NULL)
    status = g_strdup_printf ("%s · %s", state_label (state), lk_job_get_message (job));
  else
    status = g_strdup (state_label (state));
  gtk_label_set_label (GTK_LABEL (gtk_builder_get_object (builder, "title")),
                       lk_job_kind_to_label (lk_job_get_kind (job)));
  gtk_label_set_label (GTK_LABEL (gtk_builder_get_object (builder, "status")), status);
  gtk_progress_bar_set_fraction (GTK_PROGRESS_BAR (progress), lk_job_get_progress (job));
  gtk_widget_set_visible (progress, state == LK_JOB_STATE_RUNNING);
  gtk_label_set_label (GTK_LABEL (error), lk_job_get_error_message (job) != NULL
                                          ? lk_job_get_error_message (job) : "");
  gtk_widget_set_visible (error, lk_job_get_error_message (job) != NULL);
  gtk_widget_set_visible (cancel, active);
  gtk_actionable_set_action_target_value (GTK_ACTIONABLE (cancel),
                                          g_variant_new_int64 (lk_job_get_id (job)));
  gtk_actionable_set_action_name (GTK_ACTIONABLE (cancel), "jobs.cancel");
}

static void
update_state (LkJobsPage *self)
{
  gboolean any = self->jobs != NULL && g_list_model_get_n_items (self->jobs) > 0;

  gtk_stack_set_visible_child_name (self->stack, any ? "list" : "empty");
}

void
lk_jobs_page_set_catalog (LkJobsPage *self,
                          LkCatalog  *catalog)
{
  g_autoptr(GtkNoSelection) selection = NULL;

  g_return_if_fail (LK_IS_JOBS_PAGE (self));

  if (self->jobs != NULL)
    g_signal_handlers_disconnect_by_func (self->jobs, update_state, self);
  g_clear_object (&self->jobs);
  g_set_object (&self->catalog, catalog);
  if (catalog != NULL)
    {
      self->jobs = lk_catalog_list_jobs (catalog);
      g_signal_connect_swapped (self->jobs, "items-changed", G_CALLBACK (update_state), self);
      selection = gtk_no_selection_new (g_object_ref (self->jobs));
    }
  gtk_list_view_set_model (self->list_view, GTK_SELECTION_MODEL (selection));
  update_state (self);
}

static void
lk_jobs_page_dispose (GObject *object)
{
  LkJobsPage *self = (LkJobsPage *) object;

  if (self->jobs != NULL)
    g_signal_handlers_disconnect_by_func (self->jobs, update_state, self);
  if (self->list_view != NULL)
    gtk_list_view_set_model (self->list_view, NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), LK_TYPE_JOBS_PAGE);
  self->list_view = NULL;
  g_clear_object (&self->jobs);
  g_clear_object (&self->catalog);

  G_OBJECT_CLASS (lk_jobs_page_parent_class)->dispose (object);
}

static void
lk_jobs_page_class_init (LkJobsPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = lk_jobs_page_dispose;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/likeness/Likeness/lk-jobs-page.ui");
  gtk_widget_class_bind_template_child (widget_class, LkJobsPage, stack);
  gtk_widget_class_bind_template_child (widget_class, LkJobsPage, list_view);

  gtk_widget_class_install_action (widget_class, "jobs.cancel", "x", cancel_action);

  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
}

static void
lk_jobs_page_init (LkJobsPage *self)
{
  g_autoptr(GtkListItemFactory) factory = gtk_signal_list_item_factory_new ();

  gtk_widget_init_template (GTK_WIDGET (self));

  g_signal_connect (factory, "setup", G_CALLBACK (setup_cb), self);
  g_signal_connect (factory, "bind", G_CALLBACK (bind_cb), self);
  gtk_list_view_set_factory (self->list_view, factory);
  update_state (self);
}
