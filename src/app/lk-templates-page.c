/* lk-templates-page.c: built-in and user templates; import, remove
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "lk-app-util.h"
#include "lk-catalog-list.h"
#include "lk-file-chooser.h"
#include "lk-import.h"
#include "lk-template-tile.h"
#include "lk-templates-page.h"

struct _LkTemplatesPage
{
  GtkWidget     parent_instance;

  /* template widgets */
  GtkWidget    *box;
  GtkSpinner   *spinner;
  GtkStack     *stack;
  GtkGridView  *grid_view;

  /* owned */
  LkCatalog    *catalog;
  GListModel   *templates;
  GCancellable *cancellable;
  guint         n_imports;
};

G_DEFINE_FINAL_TYPE (LkTemplatesPage, lk_templates_page, GTK_TYPE_WIDGET)

static void
update_state (LkTemplatesPage *self)
{
  gboolean any = self->templates != NULL && g_list_model_get_n_items (self->templates) > 0;

  gtk_stack_set_visible_child_name (self->stack, any ? "grid" : "empty");
  gtk_spinner_set_spinning (self->spinner, self->n_imports > 0);
  gtk_widget_set_visible (GTK_WIDGET (self->spinner), self->n_imports > 0);
}

static void
import_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(LkTemplatesPage) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(LkImportResult) imported = lk_import_finish (result, &error);
  g_autofree char *message = NULL;

  self->n_imports--;
  update_state (self);
  if (imported == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        lk_show_error_toast (GTK_WIDGET (self), error->message);
      return;
    }
  if (self->templates != NULL)
    lk_catalog_list_reload (LK_CATALOG_LIST (self->templates));
  message = lk_import_result_describe (imported, LK_IMPORT_TEMPLATES);
  if (message != NULL)
    lk_show_error_toast (GTK_WIDGET (self), message);
}

void
lk_templates_page_import (LkTemplatesPage *self,
                          GPtrArray       *files)
{
  g_return_if_fail (LK_IS_TEMPLATES_PAGE (self));

  if (self->catalog == NULL)
    return;
  self->n_imports++;
  update_state (self);
  lk_import_async (lk_catalog_get_data_dir (self->catalog), LK_IMPORT_TEMPLATES, 0, files,
                   self->cancellable, import_cb, g_object_ref (self));
}

gboolean
lk_templates_page_get_busy (LkTemplatesPage *self)
{
  g_return_val_if_fail (LK_IS_TEMPLATES_PAGE (self), FALSE);

  return self->n_imports > 0;
}

static gboolean
drop_cb (GtkDropTarget   *target,
         const GValue    *value,
         double           x,
         double           y,
         LkTemplatesPage *self)
{
  g_autoptr(GPtrArray) files = NULL;

  if (!G_VALUE_HOLDS (value, GDK_TYPE_FILE_LIST))
    return FALSE;
  files = lk_file_list_to_array (g_value_get_boxed (value));
  lk_templates_page_import (self, files);
  return TRUE;
}

static void
files_chosen (GtkWidget *owner,
              GPtrArray *files,
              gpointer   user_data)
{
  if (files != NULL)
    lk_templates_page_import (LK_TEMPLATES_PAGE (owner), files);
}

static void
import_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  lk_choose_files (widget, LK_CHOOSE_IMAGES, _("Import Templates"), NULL, files_chosen, NULL);
}

static void
remove_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  LkTemplatesPage *self = LK_TEMPLATES_PAGE (widget);
  g_autoptr(GError) error = NULL;

  if (!lk_catalog_remove_template (self->catalog, g_variant_get_int64 (parameter), &error))
    {
      lk_show_error_toast (widget, error->message);
      return;
    }
  lk_catalog_list_reload (LK_CATALOG_LIST (self->templates));
  lk_show_toast (widget, adw_toast_new (_("Template removed")));
}

static void
activate_cb (LkTemplatesPage *self,
             guint            position)
{
  g_autoptr(LkTemplate) template = g_list_model_get_item (self->templates, position);

  /* Choosing a template here starts a portrait with it. */
  gtk_widget_activate_action (GTK_WIDGET (self), "win.create-with-template", "x",
                              lk_template_get_id (template));
}

void
lk_templates_page_set_catalog (LkTemplatesPage *self,
                               LkCatalog       *catalog)
{
  g_autoptr(GtkNoSelection) selection = NULL;

  g_return_if_fail (LK_IS_TEMPLATES_PAGE (self));

  if (self->templates != NULL)
    g_signal_handlers_disconnect_by_func (self->templates, update_state, self);
  g_clear_object (&self->templates);
  g_set_object (&self->catalog, catalog);
  if (catalog != NULL)
    {
      self->templates = lk_catalog_list_templates (catalog);
      g_signal_connect_swapped (self->templates, "items-changed", G_CALLBACK (update_state), self);
      selection = gtk_no_selection_new (g_object_ref (self->templates));
    }
  gtk_grid_view_set_model (self->grid_view, GTK_SELECTION_MODEL (selection));
  update_state (self);
}

static void
lk_templates_page_dispose (GObject *object)
{
  LkTemplatesPage *self = (LkTemplatesPage *) object;

  g_cancellable_cancel (self->cancellable);
  if (self->templates != NULL)
    g_signal_handlers_disconnect_by_func (self->templates, update_state, self);
  if (self->grid_view != NULL)
    gtk_grid_view_set_model (self->grid_view, NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), LK_TYPE_TEMPLATES_PAGE);
  self->grid_view = NULL;
  g_clear_object (&self->templates);
  g_clear_object (&self->catalog);
  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (lk_templates_page_parent_class)->dispose (object);
}

static void
lk_templates_page_class_init (LkTemplatesPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = lk_templates_page_dispose;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/likeness/Likeness/lk-templates-page.ui");
  gtk_widget_class_bind_template_child (widget_class, LkTemplatesPage, box);
  gtk_widget_class_bind_template_child (widget_class, LkTemplatesPage, spinner);
  gtk_widget_class_bind_template_child (widget_class, LkTemplatesPage, stack);
  gtk_widget_class_bind_template_child (widget_class, LkTemplatesPage, grid_view);
  gtk_widget_class_bind_template_callback (widget_class, activate_cb);

  gtk_widget_class_install_action (widget_class, "templates.import", NULL, import_action);
  gtk_widget_class_install_action (widget_class, "templates.remove", "x", remove_action);

  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
}

static void
lk_templates_page_init (LkTemplatesPage *self)
{
  g_autoptr(GtkListItemFactory) factory = gtk_signal_list_item_factory_new ();
  GtkDropTarget *drop_target;

  gtk_widget_init_template (GTK_WIDGET (self));
  self->cancellable = g_cancellable_new ();

  lk_template_tile_setup_factory (factory, TRUE);
  gtk_grid_view_set_factory (self->grid_view, factory);

  drop_target = gtk_drop_target_new (GDK_TYPE_FILE_LIST, GDK_ACTION_COPY);
  g_signal_connect (drop_target, "drop", G_CALLBACK (drop_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (drop_target));
  update_state (self);
}
