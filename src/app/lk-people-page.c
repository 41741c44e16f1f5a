/* lk-people-page.c: the people list beside the chosen person's page
 *
 * An AdwLeaflet: side by side in a wide window, one at a time in a narrow one.
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "lk-app-util.h"
#include "lk-catalog-list.h"
#include "lk-people-page.h"
#include "lk-thumbnailer.h"

#define AVATAR_SIZE 40

struct _LkPeoplePage
{
  GtkWidget     parent_instance;

  /* template widgets */
  AdwLeaflet   *leaflet;
  GtkWidget    *sidebar;
  GtkMenuButton *add_button;
  GtkEntry     *name_entry;
  GtkListBox   *list_box;
  GtkStack     *content_stack;
  LkPersonPage *person_page;

  /* owned */
  LkCatalog    *catalog;
  GListModel   *people;
  gint64        selected_id;
};

G_DEFINE_FINAL_TYPE (LkPeoplePage, lk_people_page, GTK_TYPE_WIDGET)

static void
avatar_loaded_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(AdwAvatar) avatar = user_data;
  g_autoptr(GdkTexture) texture = lk_thumbnailer_load_finish (result, NULL);

  if (texture != NULL)
    adw_avatar_set_custom_image (avatar, GDK_PAINTABLE (texture));
}

static GtkWidget *
create_row (gpointer item,
            gpointer user_data)
{
  LkPeoplePage *self = user_data;
  LkPerson *person = item;
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *avatar = adw_avatar_new (AVATAR_SIZE, lk_person_get_name (person), TRUE);
  guint n = lk_person_get_photo_count (person);
  g_autofree char *escaped = g_markup_escape_text (lk_person_get_name (person), -1);
  g_autofree char *subtitle = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u photo",
                                                            "%u photos", n), n);

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), escaped);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
  adw_action_row_add_prefix (ADW_ACTION_ROW (row), avatar);
  gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (row), TRUE);
  g_object_set_data (G_OBJECT (row), "person-id", GINT_TO_POINTER ((int) lk_person_get_id (person)));
  lk_set_accessible_label (row, lk_person_get_name (person));

  /* The face crop needs the face toolkit: until then the first photo stands in. */
  if (n > 0 && self->catalog != NULL)
    {
      g_autoptr(GListModel) photos = lk_catalog_list_photos (self->catalog, lk_person_get_id (person));
      g_autoptr(LkPhoto) first = g_list_model_get_item (photos, 0);

      if (first != NULL)
        lk_thumbnailer_load_async (lk_photo_get_path (first), AVATAR_SIZE * 2, NULL,
                                   avatar_loaded_cb, g_object_ref (avatar));
    }
  return row;
}

static LkPerson *
find_person (LkPeoplePage *self,
             gint64        person_id,
             guint        *position)
{
  for (guint i = 0; self->people != NULL && i < g_list_model_get_n_items (self->people); i++)
    {
      g_autoptr(LkPerson) person = g_list_model_get_item (self->people, i);

      if (lk_person_get_id (person) == person_id)
        {
          if (position != NULL)
            *position = i;
          return g_steal_pointer (&person);
        }
    }
  return NULL;
}

static void
update_content (LkPeoplePage *self)
{
  g_autoptr(LkPerson) person = find_person (self, self->selected_id, NULL);

  lk_person_page_set_person (self->person_page, person);
  gtk_stack_set_visible_child_name (self->content_stack, person != NULL ? "person" : "empty");
}

static void
select_row_for (LkPeoplePage *self,
                gint64        person_id)
{
  guint position;
  g_autoptr(LkPerson) person = find_person (self, person_id, &position);

  if (person == NULL)
    gtk_list_box_unselect_all (self->list_box);
  else
    gtk_list_box_select_row (self->list_box, gtk_list_box_get_row_at_index (self->list_box, position));
}

static void
people_changed_cb (LkPeoplePage *self)
{
  g_autoptr(LkPerson) selected = find_person (self, self->selected_id, NULL);

  /* The chosen person was removed: the first one left takes their place, as at startup. */
  if (selected == NULL && self->selected_id != 0)
    {
      g_autoptr(LkPerson) first = g_list_model_get_item (self->people, 0);

      self->selected_id = first != NULL ? lk_person_get_id (first) : 0;
    }
  /* Rows are remade when a person's snapshot changes: keep the selection by id. */
  select_row_for (self, self->selected_id);
  update_content (self);
}

static void
row_selected_cb (LkPeoplePage  *self,
                 GtkListBoxRow *row)
{
  if (row == NULL)
    return;
  self->selected_id = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (row), "person-id"));
  update_content (self);
}

static void
row_activated_cb (LkPeoplePage  *self,
                  GtkListBoxRow *row)
{
  row_selected_cb (self, row);
  adw_leaflet_navigate (self->leaflet, ADW_NAVIGATION_DIRECTION_FORWARD);
}

void
lk_people_page_show_person (LkPeoplePage *self,
                            gint64        person_id)
{
  g_return_if_fail (LK_IS_PEOPLE_PAGE (self));

  self->selected_id = person_id;
  select_row_for (self, person_id);
  update_content (self);
  adw_leaflet_set_visible_child (self->leaflet, GTK_WIDGET (self->content_stack));
}

LkPerson *
lk_people_page_add_person (LkPeoplePage  *self,
                           const char    *name,
                           GError       **error)
{
  LkPerson *person;

  g_return_val_if_fail (LK_IS_PEOPLE_PAGE (self), NULL);

  person = lk_catalog_add_person (self->catalog, name, error);
  if (person == NULL)
    return NULL;
  lk_catalog_list_reload (LK_CATALOG_LIST (self->people));
  lk_people_page_show_person (self, lk_person_get_id (person));
  return person;
}

static void
name_entry_activate_cb (LkPeoplePage *self)
{
  g_autofree char *name = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->name_entry))));
  g_autoptr(LkPerson) person = NULL;
  g_autoptr(GError) error = NULL;

  if (name[0] == '\0' || self->catalog == NULL)
    return;
  person = lk_people_page_add_person (self, name, &error);
  if (person == NULL)
    {
      lk_show_error_toast (GTK_WIDGET (self), error->message);
      return;
    }
  gtk_editable_set_text (GTK_EDITABLE (self->name_entry), "");
  gtk_menu_button_popdown (self->add_button);
}

static void
new_person_action (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *parameter)
{
  LkPeoplePage *self = LK_PEOPLE_PAGE (widget);

  adw_leaflet_set_visible_child (self->leaflet, self->sidebar);
  gtk_menu_button_popup (self->add_button);
}

static void
back_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  LkPeoplePage *self = LK_PEOPLE_PAGE (widget);

  adw_leaflet_navigate (self->leaflet, ADW_NAVIGATION_DIRECTION_BACK);
}

static void
folded_cb (LkPeoplePage *self)
{
  lk_person_page_set_show_back (self->person_page, adw_leaflet_get_folded (self->leaflet));
}

void
lk_people_page_set_catalog (LkPeoplePage *self,
                            LkCatalog    *catalog)
{
  g_return_if_fail (LK_IS_PEOPLE_PAGE (self));

  if (self->people != NULL)
    g_signal_handlers_disconnect_by_func (self->people, people_changed_cb, self);
  g_clear_object (&self->people);
  g_set_object (&self->catalog, catalog);
  lk_person_page_set_catalog (self->person_page, catalog);
  if (catalog != NULL)
    {
      self->people = lk_catalog_list_people (catalog);
      gtk_list_box_bind_model (self->list_box, self->people, create_row, self, NULL);
      g_signal_connect_object (self->people, "items-changed", G_CALLBACK (people_changed_cb),
                               self, G_CONNECT_SWAPPED | G_CONNECT_AFTER);
    }
  else
    gtk_list_box_bind_model (self->list_box, NULL, NULL, NULL, NULL);
  /* The first person is the likeliest one the user wants. */
  if (self->people != NULL && g_list_model_get_n_items (self->people) > 0)
    {
      g_autoptr(LkPerson) first = g_list_model_get_item (self->people, 0);

      self->selected_id = lk_person_get_id (first);
      select_row_for (self, self->selected_id);
    }
  update_content (self);
}

LkPersonPage *
lk_people_page_get_person_page (LkPeoplePage *self)
{
  g_return_val_if_fail (LK_IS_PEOPLE_PAGE (self), NULL);

  return self->person_page;
}

static void
lk_people_page_dispose (GObject *object)
{
  LkPeoplePage *self = (LkPeoplePage *) object;

  if (self->list_box != NULL)
    gtk_list_box_bind_model (self->list_box, NULL, NULL, NULL, NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), LK_TYPE_PEOPLE_PAGE);
  self->list_box = NULL;
  g_clear_object (&self->people);
  g_clear_object (&self->catalog);

  G_OBJECT_CLASS (lk_people_page_parent_class)->dispose (object);
}

static void
lk_people_page_class_init (LkPeoplePageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = lk_people_page_dispose;

  g_type_ensure (LK_TYPE_PERSON_PAGE);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/likeness/Likeness/lk-people-page.ui");
  gtk_widget_class_bind_template_child (widget_class, LkPeoplePage, leaflet);
  gtk_widget_class_bind_template_child (widget_class, LkPeoplePage, sidebar);
  gtk_widget_class_bind_template_child (widget_class, LkPeoplePage, add_button);
  gtk_widget_class_bind_template_child (widget_class, LkPeoplePage, name_entry);
  gtk_widget_class_bind_template_child (widget_class, LkPeoplePage, list_box);
  gtk_widget_class_bind_template_child (widget_class, LkPeoplePage, content_stack);
  gtk_widget_class_bind_template_child (widget_class, LkPeoplePage, person_page);
  gtk_widget_class_bind_template_callback (widget_class, name_entry_activate_cb);
  gtk_widget_class_bind_template_callback (widget_class, row_activated_cb);

  gtk_widget_class_install_action (widget_class, "people.new-person", NULL, new_person_action);
  gtk_widget_class_install_action (widget_class, "people.back", NULL, back_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_n, GDK_CONTROL_MASK,
                                       "people.new-person", NULL);

  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
}

static void
lk_people_page_init (LkPeoplePage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  g_signal_connect_swapped (self->list_box, "row-selected", G_CALLBACK (row_selected_cb), self);
  g_signal_connect_swapped (self->leaflet, "notify::folded", G_CALLBACK (folded_cb), self);
  folded_cb (self);
}
