/* lk-template-tile.c: a template in a grid — picture, face count badge, name
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "lk-app-util.h"
#include "lk-template-tile.h"
#include "lk-thumbnailer.h"

#define THUMBNAIL_SIZE 320

struct _LkTemplateTile
{
  GtkWidget   parent_instance;

  /* template widgets */
  GtkWidget  *box;
  GtkPicture *picture;
  GtkLabel   *badge;
  GtkWidget  *remove_button;
  GtkLabel   *name_label;
};

G_DEFINE_FINAL_TYPE (LkTemplateTile, lk_template_tile, GTK_TYPE_WIDGET)

void
lk_template_tile_set_template (LkTemplateTile *self,
                               LkTemplate     *template)
{
  int faces;
  g_autofree char *badge = NULL;
  g_autofree char *label = NULL;

  g_return_if_fail (LK_IS_TEMPLATE_TILE (self));

  if (template == NULL)
    {
      lk_thumbnailer_show (self->picture, NULL, 0);
      return;
    }
  faces = lk_template_get_face_count (template);
  /* Faces are counted by the face toolkit: until it has looked, say nothing. */
  if (faces >= 0)
    badge = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%d face", "%d faces", faces), faces);
  if (lk_template_get_builtin (template))
    {
      char *with_builtin = badge != NULL ? g_strdup_printf (_("Built-in · %s"), badge)
                                         : g_strdup (_("Built-in"));

      g_free (badge);
      badge = with_builtin;
    }
  gtk_label_set_label (self->badge, badge != NULL ? badge : "");
  gtk_widget_set_visible (GTK_WIDGET (self->badge), badge != NULL);
  gtk_label_set_label (self->name_label, lk_template_get_name (template));
  gtk_widget_set_visible (self->remove_button, !lk_template_get_builtin (template) &&
                          gtk_widget_get_visible (self->remove_button));
  /* Target first: an action name without its target would be a type mismatch. */
  gtk_actionable_set_action_target_value (GTK_ACTIONABLE (self->remove_button),
                                          g_variant_new_int64 (lk_template_get_id (template)));
  gtk_actionable_set_action_name (GTK_ACTIONABLE (self->remove_button), "templates.remove");
  lk_thumbnailer_show (self->picture, lk_template_get_path (template), THUMBNAIL_SIZE);
  label = badge != NULL ? g_strdup_printf (_("Template %s, %s"), lk_template_get_name (template), badge)
                        : g_strdup_printf (_("Template %s"), lk_template_get_name (template));
  lk_set_accessible_label (GTK_WIDGET (self->picture), label);
}

GtkWidget *
lk_template_tile_new (gboolean removable)
{
  LkTemplateTile *self = g_object_new (LK_TYPE_TEMPLATE_TILE, NULL);

  g_object_set_data (G_OBJECT (self), "removable", GINT_TO_POINTER (removable));
  gtk_widget_set_visible (self->remove_button, removable);
  return GTK_WIDGET (self);
}

static void
setup_cb (GtkSignalListItemFactory *factory,
          GtkListItem              *item,
          gpointer                  user_data)
{
  gtk_list_item_set_child (item, lk_template_tile_new (GPOINTER_TO_INT (user_data)));
}

static void
bind_cb (GtkSignalListItemFactory *factory,
         GtkListItem              *item,
         gpointer                  user_data)
{
  LkTemplateTile *tile = LK_TEMPLATE_TILE (gtk_list_item_get_child (item));

  gtk_widget_set_visible (tile->remove_button, GPOINTER_TO_INT (user_data));
  lk_template_tile_set_template (tile, gtk_list_item_get_item (item));
}

static void
unbind_cb (GtkSignalListItemFactory *factory,
           GtkListItem              *item,
           gpointer                  user_data)
{
  lk_template_tile_set_template (LK_TEMPLATE_TILE (gtk_list_item_get_child (item)), NULL);
}

void
lk_template_tile_setup_factory (GtkListItemFactory *factory,
                                gboolean            removable)
{
  g_return_if_fail (GTK_IS_SIGNAL_LIST_ITEM_FACTORY (factory));

  g_signal_connect (factory, "setup", G_CALLBACK (setup_cb), GINT_TO_POINTER (removable));
  g_signal_connect (factory, "bind", G_CALLBACK (bind_cb), GINT_TO_POINTER (removable));
  g_signal_connect (factory, "unbind", G_CALLBACK (unbind_cb), NULL);
}

static void
lk_template_tile_dispose (GObject *object)
{
  gtk_widget_dispose_template (GTK_WIDGET (object), LK_TYPE_TEMPLATE_TILE);

  G_OBJECT_CLASS (lk_template_tile_parent_class)->dispose (object);
}

static void
lk_template_tile_class_init (LkTemplateTileClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = lk_template_tile_dispose;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/likeness/Likeness/lk-template-tile.ui");
  gtk_widget_class_bind_template_child (widget_class, LkTemplateTile, box);
  gtk_widget_class_bind_template_child (widget_class, LkTemplateTile, picture);
  gtk_widget_class_bind_template_child (widget_class, LkTemplateTile, badge);
  gtk_widget_class_bind_template_child (widget_class, LkTemplateTile, remove_button);
  gtk_widget_class_bind_template_child (widget_class, LkTemplateTile, name_label);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
}

static void
lk_template_tile_init (LkTemplateTile *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}
