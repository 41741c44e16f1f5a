/* lk-history-page.c: generated portraits with their parameters and similarity scores
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "lk-app-util.h"
#include "lk-catalog-list.h"
#include "lk-history-page.h"
#include "lk-thumbnailer.h"

#define THUMBNAIL_SIZE 256
#define DETAIL_SIZE    720

struct _LkHistoryPage
{
  GtkWidget     parent_instance;

  /* template widgets */
  AdwLeaflet   *leaflet;
  GtkStack     *stack;
  GtkGridView  *grid_view;
  GtkWidget    *detail;
  GtkWidget    *back_button;
  GtkLabel     *title_label;
  GtkPicture   *template_picture;
  GtkPicture   *result_picture;
  GtkLabel     *params_label;

  /* owned */
  LkCatalog    *catalog;
  GListModel   *generations;
  LkGeneration *shown;
};

G_DEFINE_FINAL_TYPE (LkHistoryPage, lk_history_page, GTK_TYPE_WIDGET)

static char *
describe_similarity (LkGeneration *generation)
{
  double similarity = lk_generation_get_similarity (generation);

  if (similarity < 0)
    return g_strdup (_("Not scored"));
  return g_strdup_printf (_("Similarity %.0f %%"), similarity * 100);
}

static void
show_generation (LkHistoryPage *self,
                 LkGeneration  *generation)
{
  g_autoptr(LkTemplate) template = NULL;
  g_autoptr(GDateTime) created = NULL;
  g_autofree char *when = NULL;
  g_autofree char *similarity = NULL;
  g_autofree char *params = NULL;
  g_autofree char *seed = NULL;

  g_set_object (&self->shown, generation);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "history.save", generation != NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "history.use-again", generation != NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "history.remove", generation != NULL);
  if (generation == NULL)
    {
      gtk_label_set_label (self->title_label, _("Choose a Portrait"));
      gtk_label_set_label (self->params_label, "");
      lk_thumbnailer_show (self->template_picture, NULL, 0);
      lk_thumbnailer_show (self->result_picture, NULL, 0);
      return;
    }
  if (lk_generation_get_template_id (generation) > 0)
    template = lk_catalog_get_template (self->catalog, lk_generation_get_template_id (generation), NULL);
  created = g_date_time_new_from_unix_local (lk_generation_get_created_at (generation));
  when = g_date_time_format (created, "%x %X");
  similarity = describe_similarity (generation);
  /* The seed is formatted apart: a G_GINT64_FORMAT inside the msgid would cut it short for
   * xgettext, which does not expand macros. */
  seed = g_strdup_printf ("%" G_GINT64_FORMAT, lk_generation_get_seed (generation));
  params = g_strdup_printf (_("%s\n%s\nSeed %s\nParameters %s\nModels %s"),
                            when, similarity, seed,
                            lk_generation_get_params (generation),
                            lk_generation_get_model_hashes (generation));
  gtk_label_set_label (self->title_label, lk_generation_get_people (generation) != NULL
                                          ? lk_generation_get_people (generation) : "");
  gtk_label_set_label (self->params_label, params);
  lk_thumbnailer_show (self->result_picture, lk_generation_get_path (generation), DETAIL_SIZE);
  lk_thumbnailer_show (self->template_picture,
                       template != NULL ? lk_template_get_path (template) : NULL, DETAIL_SIZE);
}

void
lk_history_page_show_position (LkHistoryPage *self,
                               guint          position)
{
  g_autoptr(LkGeneration) generation = NULL;

  g_return_if_fail (LK_IS_HISTORY_PAGE (self));

  if (self->generations != NULL)
    generation = g_list_model_get_item (self->generations, position);
  show_generation (self, generation);
  if (generation != NULL)
    adw_leaflet_set_visible_child (self->leaflet, self->detail);
}

static void
activate_cb (LkHistoryPage *self,
             guint          position)
{
  lk_history_page_show_position (self, position);
}

static void
save_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  LkHistoryPage *self = LK_HISTORY_PAGE (widget);

  if (self->shown != NULL)
    gtk_widget_activate_action (widget, "win.save-generation", "x", lk_generation_get_id (self->shown));
}

static void
use_again_action (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  LkHistoryPage *self = LK_HISTORY_PAGE (widget);

  if (self->shown != NULL)
    gtk_widget_activate_action (widget, "win.use-again", "x", lk_generation_get_id (self->shown));
}

static void
remove_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  LkHistoryPage *self = LK_HISTORY_PAGE (widget);
  g_autoptr(GError) error = NULL;

  if (self->shown == NULL)
    return;
  if (!lk_catalog_remove_generation (self->catalog, lk_generation_get_id (self->shown), &error))
    {
      lk_show_error_toast (widget, error->message);
      return;
    }
  show_generation (self, NULL);
  lk_catalog_list_reload (LK_CATALOG_LIST (self->generations));
  adw_leaflet_navigate (self->leaflet, ADW_NAVIGATION_DIRECTION_BACK);
}

static void
back_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  adw_leaflet_navigate (LK_HISTORY_PAGE (widget)->leaflet, ADW_NAVIGATION_DIRECTION_BACK);
}

static void
setup_cb (GtkSignalListItemFactory *factory,
          GtkListItem              *item,
          gpointer                  user_data)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 4);
  GtkWidget *picture = gtk_picture_new ();
  GtkWidget *label = gtk_label_new (NULL);

  gtk_picture_set_content_fit (GTK_PICTURE (picture), GTK_CONTENT_FIT_COVER);
  gtk_picture_set_can_shrink (GTK_PICTURE (picture), TRUE);
  gtk_widget_set_size_request (picture, 150, 150);
  gtk_widget_add_css_class (picture, "lk-thumbnail");
  gtk_widget_add_css_class (label, "caption");
  gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
  gtk_box_append (GTK_BOX (box), picture);
  gtk_box_append (GTK_BOX (box), label);
  gtk_list_item_set_child (item, box);
}

static void
bind_cb (GtkSignalListItemFactory *factory,
         GtkListItem              *item,
         gpointer                  user_data)
{
  LkGeneration *generation = gtk_list_item_get_item (item);
  GtkWidget *box = gtk_list_item_get_child (item);
  GtkWidget *picture = gtk_widget_get_first_child (box);
  GtkWidget *label = gtk_widget_get_last_child (box);
  g_autofree char *similarity = describe_similarity (generation);
  g_autofree char *text = g_strdup_printf ("%s · %s", lk_generation_get_people (generation) != NULL
                                           ? lk_generation_get_people (generation) : "", similarity);

  gtk_label_set_label (GTK_LABEL (label), text);
  lk_set_accessible_label (picture, text);
  lk_thumbnailer_show (GTK_PICTURE (picture), lk_generation_get_path (generation), THUMBNAIL_SIZE);
}

static void
unbind_cb (GtkSignalListItemFactory *factory,
           GtkListItem              *item,
           gpointer                  user_data)
{
  lk_thumbnailer_show (GTK_PICTURE (gtk_widget_get_first_child (gtk_list_item_get_child (item))), NULL, 0);
}

static void
update_state (LkHistoryPage *self)
{
  gboolean any = self->generations != NULL && g_list_model_get_n_items (self->generations) > 0;

  gtk_stack_set_visible_child_name (self->stack, any ? "grid" : "empty");
}

static void
folded_cb (LkHistoryPage *self)
{
  gtk_widget_set_visible (self->back_button, adw_leaflet_get_folded (self->leaflet));
}

void
lk_history_page_set_catalog (LkHistoryPage *self,
                             LkCatalog     *catalog)
{
  g_autoptr(GtkNoSelection) selection = NULL;

  g_return_if_fail (LK_IS_HISTORY_PAGE (self));

  if (self->generations != NULL)
    g_signal_handlers_disconnect_by_func (self->generations, update_state, self);
  g_clear_object (&self->generations);
  g_set_object (&self->catalog, catalog);
  if (catalog != NULL)
    {
      self->generations = lk_catalog_list_generations (catalog);
      g_signal_connect_swapped (self->generations, "items-changed", G_CALLBACK (update_state), self);
      selection = gtk_no_selection_new (g_object_ref (self->generations));
    }
  gtk_grid_view_set_model (self->grid_view, GTK_SELECTION_MODEL (selection));
  show_generation (self, NULL);
  update_state (self);
}

static void
lk_history_page_dispose (GObject *object)
{
  LkHistoryPage *self = (LkHistoryPage *) object;

  if (self->generations != NULL)
    g_signal_handlers_disconnect_by_func (self->generations, update_state, self);
  if (self->grid_view != NULL)
    gtk_grid_view_set_model (self->grid_view, NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), LK_TYPE_HISTORY_PAGE);
  self->grid_view = NULL;
  g_clear_object (&self->generations);
  g_clear_object (&self->shown);
  g_clear_object (&self->catalog);

  G_OBJECT_CLASS (lk_history_page_parent_class)->dispose (object);
}

static void
lk_history_page_class_init (LkHistoryPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = lk_history_page_dispose;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/likeness/Likeness/lk-history-page.ui");
  gtk_widget_class_bind_template_child (widget_class, LkHistoryPage, leaflet);
  gtk_widget_class_bind_template_child (widget_class, LkHistoryPage, stack);
  gtk_widget_class_bind_template_child (widget_class, LkHistoryPage, grid_view);
  gtk_widget_class_bind_template_child (widget_class, LkHistoryPage, detail);
  gtk_widget_class_bind_template_child (widget_class, LkHistoryPage, back_button);
  gtk_widget_class_bind_template_child (widget_class, LkHistoryPage, title_label);
  gtk_widget_class_bind_template_child (widget_class, LkHistoryPage, template_picture);
  gtk_widget_class_bind_template_child (widget_class, LkHistoryPage, result_picture);
  gtk_widget_class_bind_template_child (widget_class, LkHistoryPage, params_label);
  gtk_widget_class_bind_template_callback (widget_class, activate_cb);

  gtk_widget_class_install_action (widget_class, "history.save", NULL, save_action);
  gtk_widget_class_install_action (widget_class, "history.use-again", NULL, use_again_action);
  gtk_widget_class_install_action (widget_class, "history.remove", NULL, remove_action);
  gtk_widget_class_install_action (widget_class, "history.back", NULL, back_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_s, GDK_CONTROL_MASK, "history.save", NULL);

  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
}

static void
lk_history_page_init (LkHistoryPage *self)
{
  g_autoptr(GtkListItemFactory) factory = gtk_signal_list_item_factory_new ();

  gtk_widget_init_template (GTK_WIDGET (self));

  g_signal_connect (factory, "setup", G_CALLBACK (setup_cb), self);
  g_signal_connect (factory, "bind", G_CALLBACK (bind_cb), self);
  g_signal_connect (factory, "unbind", G_CALLBACK (unbind_cb), self);
  gtk_grid_view_set_factory (self->grid_view, factory);
  g_signal_connect_swapped (self->leaflet, "notify::folded", G_CALLBACK (folded_cb), self);
  folded_cb (self);
  show_generation (self, NULL);
}
