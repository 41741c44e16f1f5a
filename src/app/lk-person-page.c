/* lk-person-page.c: one person's photos, the drop target for more, and the Train button
 *
 * A removed photo is hidden at once and leaves the catalog only when its toast goes without
 * Undo, so undoing never needs the file back. Removing the person asks first instead: their
 * files go at once.
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "lk-app-util.h"
#include "lk-capabilities.h"
#include "lk-catalog-list.h"
#include "lk-file-chooser.h"
#include "lk-import.h"
#include "lk-person-page-private.h"
#include "lk-thumbnailer.h"

#define THUMBNAIL_SIZE 256

struct _LkPersonPage
{
  GtkWidget           parent_instance;

  /* template widgets */
  GtkWidget          *box;
  GtkWidget          *back_button;
  GtkWidget          *train_button;
  GtkLabel           *name_label;
  GtkSpinner         *spinner;
  GtkLabel           *count_label;
  GtkLabel           *missing_label;
  GtkStack           *stack;
  GtkGridView        *grid_view;

  /* owned */
  LkCatalog          *catalog;
  LkPerson           *person;
  GListModel         *catalog_photos;
  GtkFilterListModel *photos;
  GtkCustomFilter    *filter;
  GHashTable         *removing;       /* photo ids hidden until their toast goes */
  GtkDropTarget      *drop_target;
  GCancellable       *cancellable;
  guint               n_imports;
  gulong              changed_id;

  /* borrowed */
  AdwToast           *undo_toast;     /* weak */
  AdwMessageDialog   *dialog;         /* weak: the rename or remove dialog while it is open */
};

G_DEFINE_FINAL_TYPE (LkPersonPage, lk_person_page, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_CATALOG,
  PROP_PERSON,
  PROP_BUSY,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
update_state (LkPersonPage *self)
{
  guint n = self->photos != NULL ? g_list_model_get_n_items (G_LIST_MODEL (self->photos)) : 0;
  g_autofree char *count = NULL;
  g_autofree char *missing = NULL;

  gtk_stack_set_visible_child_name (self->stack, n > 0 ? "grid" : "empty");
  if (n > LK_MAX_TRAINING_PHOTOS)
    count = g_strdup_printf (_("%u photos: training uses the best %u"), n, LK_MAX_TRAINING_PHOTOS);
  else
    count = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u photo", "%u photos", n), n);
  gtk_label_set_label (self->count_label, count);

  if (self->catalog != NULL && self->person != NULL)
    missing = lk_capabilities_check_training (self->catalog, self->person, n);
  gtk_label_set_label (self->missing_label, missing != NULL ? missing : "");
  gtk_widget_set_visible (GTK_WIDGET (self->missing_label), missing != NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "person.train",
                                 self->person != NULL && missing == NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "person.add-photos", self->person != NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "person.paste", self->person != NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "person.rename", self->person != NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "person.remove", self->person != NULL);
  /* The reason is also the button's tooltip: the label may be scrolled off in a small window. */
  gtk_widget_set_tooltip_text (self->train_button,
                               missing != NULL ? missing : _("Train a digital double of this person"));
}

static gboolean
photo_visible (gpointer item,
               gpointer user_data)
{
  LkPersonPage *self = user_data;
  gint64 id = lk_photo_get_id (LK_PHOTO (item));

  return !g_hash_table_contains (self->removing, &id);
}

static void
photos_changed_cb (LkPersonPage *self)
{
  update_state (self);
}

static void
catalog_changed_cb (LkPersonPage *self)
{
  /* Models may have been added by the CLI: the Train button's reason may have changed. */
  update_state (self);
}

static void
rebuild_model (LkPersonPage *self)
{
  g_autoptr(GtkNoSelection) selection = NULL;

  if (self->photos != NULL)
    g_signal_handlers_disconnect_by_func (self->photos, photos_changed_cb, self);
  g_clear_object (&self->photos);
  g_clear_object (&self->catalog_photos);
  g_hash_table_remove_all (self->removing);

  if (self->catalog != NULL && self->person != NULL)
    {
      self->catalog_photos = lk_catalog_list_photos (self->catalog, lk_person_get_id (self->person));
      self->photos = gtk_filter_list_model_new (g_object_ref (self->catalog_photos),
                                                g_object_ref (GTK_FILTER (self->filter)));
      g_signal_connect_swapped (self->photos, "items-changed", G_CALLBACK (photos_changed_cb), self);
      selection = gtk_no_selection_new (g_object_ref (G_LIST_MODEL (self->photos)));
    }
  gtk_grid_view_set_model (self->grid_view, GTK_SELECTION_MODEL (selection));
  gtk_label_set_label (self->name_label, self->person != NULL ? lk_person_get_name (self->person) : "");
  update_state (self);
}

static void
set_busy (LkPersonPage *self,
          gboolean      busy)
{
  gboolean was_busy = self->n_imports > 0;

  self->n_imports += busy ? 1 : -1;
  if (was_busy == (self->n_imports > 0))
    return;
  gtk_spinner_set_spinning (self->spinner, self->n_imports > 0);
  gtk_widget_set_visible (GTK_WIDGET (self->spinner), self->n_imports > 0);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
}

static void
import_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(LkPersonPage) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(LkImportResult) imported = lk_import_finish (result, &error);
  g_autofree char *message = NULL;

  set_busy (self, FALSE);
  if (imported == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        lk_show_error_toast (GTK_WIDGET (self), error->message);
      return;
    }
  /* Show the rows now rather than at the next poll. */
  if (self->catalog_photos != NULL)
    lk_catalog_list_reload (LK_CATALOG_LIST (self->catalog_photos));
  message = lk_import_result_describe (imported, LK_IMPORT_PHOTOS);
  if (message != NULL)
    lk_show_error_toast (GTK_WIDGET (self), message);
}

void
lk_person_page_import (LkPersonPage *self,
                       GPtrArray    *files)
{
  g_return_if_fail (LK_IS_PERSON_PAGE (self));
  g_return_if_fail (files != NULL);

  if (self->catalog == NULL || self->person == NULL)
    return;
  set_busy (self, TRUE);
  lk_import_async (lk_catalog_get_data_dir (self->catalog), LK_IMPORT_PHOTOS,
                   lk_person_get_id (self->person), files, self->cancellable,
                   import_cb, g_object_ref (self));
}

static void
import_file_list (LkPersonPage *self,
                  GdkFileList  *file_list)
{
  g_autoptr(GPtrArray) files = lk_file_list_to_array (file_list);

  lk_person_page_import (self, files);
}

static gboolean
drop_cb (GtkDropTarget *target,
         const GValue  *value,
         double         x,
         double         y,
         LkPersonPage  *self)
{
  if (!G_VALUE_HOLDS (value, GDK_TYPE_FILE_LIST) || self->person == NULL)
    return FALSE;
  import_file_list (self, g_value_get_boxed (value));
  return TRUE;
}

static void
paste_cb (GObject      *object,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(LkPersonPage) self = user_data;
  g_autoptr(GError) error = NULL;
  const GValue *value = gdk_clipboard_read_value_finish (GDK_CLIPBOARD (object), result, &error);

  if (value == NULL)
    lk_show_error_toast (GTK_WIDGET (self), _("The clipboard holds no photos"));
  else
    import_file_list (self, g_value_get_boxed (value));
}

static void
paste_action (GtkWidget  *widget,
              const char *action_name,
              GVariant   *parameter)
{
  LkPersonPage *self = LK_PERSON_PAGE (widget);

  gdk_clipboard_read_value_async (gtk_widget_get_clipboard (widget), GDK_TYPE_FILE_LIST,
                                  G_PRIORITY_DEFAULT, self->cancellable, paste_cb,
                                  g_object_ref (self));
}

static void
files_chosen (GtkWidget *owner,
              GPtrArray *files,
              gpointer   user_data)
{
  if (files != NULL)
    lk_person_page_import (LK_PERSON_PAGE (owner), files);
}

static void
add_photos_action (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *parameter)
{
  lk_choose_files (widget, LK_CHOOSE_IMAGES, _("Add Photos"), NULL, files_chosen, NULL);
}

static void
train_action (GtkWidget  *widget,
              const char *action_name,
              GVariant   *parameter)
{
  LkPersonPage *self = LK_PERSON_PAGE (widget);
  g_autofree char *missing = NULL;
  g_autofree char *params = NULL;
  g_autoptr(LkJob) job = NULL;
  g_autoptr(GError) error = NULL;

  if (self->person == NULL)
    return;
  missing = lk_capabilities_check_training (self->catalog, self->person,
                                            g_list_model_get_n_items (G_LIST_MODEL (self->photos)));
  if (missing != NULL)
    {
      lk_show_error_toast (widget, missing);
      return;
    }
  params = g_strdup_printf ("{\"person_id\": %" G_GINT64_FORMAT "}", lk_person_get_id (self->person));
  job = lk_catalog_add_job (self->catalog, "train", params, &error);
  if (job == NULL)
    lk_show_error_toast (widget, error->message);
  else
    gtk_widget_activate_action (widget, "win.show-page", "s", "jobs");
}

static void
finish_removal (LkPersonPage *self,
                gint64        photo_id)
{
  g_autoptr(GError) error = NULL;

  if (!g_hash_table_contains (self->removing, &photo_id))
    return;
  if (self->catalog != NULL && !lk_catalog_remove_photo (self->catalog, photo_id, &error))
    lk_show_error_toast (GTK_WIDGET (self), error->message);
  g_hash_table_remove (self->removing, &photo_id);
  if (self->catalog_photos != NULL)
    lk_catalog_list_reload (LK_CATALOG_LIST (self->catalog_photos));
}

static void
finish_all_removals (LkPersonPage *self)
{
  g_autoptr(GList) ids = g_hash_table_get_keys (self->removing);

  for (GList *l = ids; l != NULL; l = l->next)
    finish_removal (self, *(gint64 *) l->data);
}

static void
undo_toast_dismissed_cb (AdwToast     *toast,
                         LkPersonPage *self)
{
  finish_removal (self, *(gint64 *) g_object_get_data (G_OBJECT (toast), "photo-id"));
}

static void
undo_clicked_cb (AdwToast     *toast,
                 LkPersonPage *self)
{
  gint64 id = *(gint64 *) g_object_get_data (G_OBJECT (toast), "photo-id");

  if (g_hash_table_remove (self->removing, &id))
    gtk_filter_changed (GTK_FILTER (self->filter), GTK_FILTER_CHANGE_LESS_STRICT);
}

void
lk_person_page_remove_photo (LkPersonPage *self,
                             gint64        photo_id)
{
  AdwToast *toast;

  g_return_if_fail (LK_IS_PERSON_PAGE (self));

  if (g_hash_table_contains (self->removing, &photo_id))
    return;
  g_hash_table_add (self->removing, g_memdup2 (&photo_id, sizeof photo_id));
  gtk_filter_changed (GTK_FILTER (self->filter), GTK_FILTER_CHANGE_MORE_STRICT);

  toast = adw_toast_new (_("Photo removed"));
  adw_toast_set_button_label (toast, _("_Undo"));
  g_object_set_data_full (G_OBJECT (toast), "photo-id",
                          g_memdup2 (&photo_id, sizeof photo_id), g_free);
  g_signal_connect_object (toast, "button-clicked", G_CALLBACK (undo_clicked_cb), self, 0);
  g_signal_connect_object (toast, "dismissed", G_CALLBACK (undo_toast_dismissed_cb), self, 0);
  g_set_weak_pointer (&self->undo_toast, toast);
  lk_show_toast (GTK_WIDGET (self), toast);
}

static void
remove_photo_action (GtkWidget  *widget,
                     const char *action_name,
                     GVariant   *parameter)
{
  lk_person_page_remove_photo (LK_PERSON_PAGE (widget), g_variant_get_int64 (parameter));
}

/* The person a dialog was opened for, even if the page has moved on since. */
static gint64
dialog_person_id (AdwMessageDialog *dialog)
{
  return *(gint64 *) g_object_get_data (G_OBJECT (dialog), "person-id");
}

static AdwMessageDialog *
new_person_dialog (LkPersonPage *self,
                   const char   *heading,
                   const char   *body)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  GtkWidget *dialog = adw_message_dialog_new (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                              heading, body);
  gint64 person_id = lk_person_get_id (self->person);

  g_object_set_data_full (G_OBJECT (dialog), "person-id",
                          g_memdup2 (&person_id, sizeof person_id), g_free);
  g_object_set_data_full (G_OBJECT (dialog), "person-name",
                          g_strdup (lk_person_get_name (self->person)), g_free);
  gtk_window_set_modal (GTK_WINDOW (dialog), TRUE);
  g_set_weak_pointer (&self->dialog, ADW_MESSAGE_DIALOG (dialog));
  return ADW_MESSAGE_DIALOG (dialog);
}

/* The new name as the catalog wants it, or NULL while there is nothing to rename to. */
static char *
dup_new_name (AdwMessageDialog *dialog)
{
  GtkEditable *entry = g_object_get_data (G_OBJECT (dialog), "entry");
  const char *old_name = g_object_get_data (G_OBJECT (dialog), "person-name");
  g_autofree char *name = g_strstrip (g_strdup (gtk_editable_get_text (entry)));

  if (name[0] == '\0' || g_str_equal (name, old_name))
    return NULL;
  return g_steal_pointer (&name);
}

static void
rename_entry_changed_cb (AdwMessageDialog *dialog)
{
  g_autofree char *name = dup_new_name (dialog);

  adw_message_dialog_set_response_enabled (dialog, "rename", name != NULL);
}

static void
rename_response_cb (AdwMessageDialog *dialog,
                    const char       *response,
                    LkPersonPage     *self)
{
  g_autofree char *name = NULL;
  g_autoptr(GError) error = NULL;

  if (!g_str_equal (response, "rename") || self->catalog == NULL)
    return;
  name = dup_new_name (dialog);
  if (name == NULL)
    return;
  /* The catalog's "changed" brings the new name to the list and to this page. */
  if (!lk_catalog_rename_person (self->catalog, dialog_person_id (dialog), name, &error))
    lk_show_error_toast (GTK_WIDGET (self), error->message);
}

static void
rename_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  LkPersonPage *self = LK_PERSON_PAGE (widget);
  AdwMessageDialog *dialog;
  GtkWidget *entry;

  if (self->person == NULL || self->catalog == NULL)
    return;
  dialog = new_person_dialog (self, _("Rename Person"), NULL);
  adw_message_dialog_add_responses (dialog,
                                    "cancel", _("_Cancel"),
                                    "rename", _("_Rename"),
                                    NULL);
  adw_message_dialog_set_response_appearance (dialog, "rename", ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (dialog, "rename");
  adw_message_dialog_set_close_response (dialog, "cancel");

  entry = gtk_entry_new ();
  gtk_editable_set_text (GTK_EDITABLE (entry), lk_person_get_name (self->person));
  gtk_entry_set_activates_default (GTK_ENTRY (entry), TRUE);
  lk_set_accessible_label (entry, _("New name"));
  adw_message_dialog_set_extra_child (dialog, entry);
  /* The response handler runs after the dialog has closed: keep the entry for it. */
  g_object_set_data_full (G_OBJECT (dialog), "entry", g_object_ref (entry), g_object_unref);
  g_signal_connect_swapped (entry, "changed", G_CALLBACK (rename_entry_changed_cb), dialog);
  rename_entry_changed_cb (dialog);

  g_signal_connect_object (dialog, "response", G_CALLBACK (rename_response_cb), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
  gtk_widget_grab_focus (entry);
}

static char *
describe_removal (guint    n_photos,
                  gboolean has_lora)
{
  const char *format;

  if (n_photos == 0)
    return g_strdup (has_lora
                     ? _("Their trained LoRA will be deleted. "
                         "Portraits already made stay in History.")
                     : _("They have no photos yet. Portraits already made stay in History."));
  if (has_lora)
    format = g_dngettext (GETTEXT_PACKAGE,
                          "Their %u photo and their trained LoRA will be deleted. "
                          "Portraits already made stay in History.",
                          "Their %u photos and their trained LoRA will be deleted. "
                          "Portraits already made stay in History.",
                          n_photos);
  else
    format = g_dngettext (GETTEXT_PACKAGE,
                          "Their %u photo will be deleted. "
                          "Portraits already made stay in History.",
                          "Their %u photos will be deleted. "
                          "Portraits already made stay in History.",
                          n_photos);
  return g_strdup_printf (format, n_photos);
}

static void
remove_response_cb (AdwMessageDialog *dialog,
                    const char       *response,
                    LkPersonPage     *self)
{
  gint64 person_id = dialog_person_id (dialog);
  const char *name = g_object_get_data (G_OBJECT (dialog), "person-name");
  g_autoptr(GError) error = NULL;
  g_autofree char *escaped = NULL;
  g_autofree char *message = NULL;

  if (!g_str_equal (response, "remove") || self->catalog == NULL)
    return;
  /* Photos waiting on their Undo toast go now, so that nothing of the person outlives them;
   * the toast then has nothing left to undo. */
  if (self->person != NULL && lk_person_get_id (self->person) == person_id)
    {
      finish_all_removals (self);
      if (self->undo_toast != NULL)
        adw_toast_dismiss (self->undo_toast);
    }
  if (!lk_catalog_remove_person (self->catalog, person_id, &error))
    {
      lk_show_error_toast (GTK_WIDGET (self), error->message);
      return;
    }
  /* The people page follows the catalog and shows someone else; standing alone, show no one. */
  if (self->person != NULL && lk_person_get_id (self->person) == person_id)
    lk_person_page_set_person (self, NULL);
  gtk_widget_activate_action (GTK_WIDGET (self), "people.back", NULL);

  /* Before libadwaita 1.4 a toast's title is always markup. */
  escaped = g_markup_escape_text (name, -1);
  /* Translators: %s is the name of the person just removed */
  message = g_strdup_printf (_("%s removed"), escaped);
  lk_show_toast (GTK_WIDGET (self), adw_toast_new (message));
}

static void
remove_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  LkPersonPage *self = LK_PERSON_PAGE (widget);
  g_autoptr(GError) error = NULL;
  g_autofree char *heading = NULL;
  g_autofree char *body = NULL;
  AdwMessageDialog *dialog;
  gboolean has_lora = FALSE;

  if (self->person == NULL || self->catalog == NULL)
    return;
  if (!lk_catalog_has_ready_lora (self->catalog, lk_person_get_id (self->person), &has_lora,
                                  &error))
    {
      lk_show_error_toast (widget, error->message);
      return;
    }
  /* Translators: %s is the person's name */
  heading = g_strdup_printf (_("Remove %s?"), lk_person_get_name (self->person));
  body = describe_removal (g_list_model_get_n_items (G_LIST_MODEL (self->photos)), has_lora);
  dialog = new_person_dialog (self, heading, body);
  adw_message_dialog_add_responses (dialog,
                                    "cancel", _("_Cancel"),
                                    "remove", _("_Remove"),
                                    NULL);
  adw_message_dialog_set_response_appearance (dialog, "remove", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (dialog, "cancel");
  adw_message_dialog_set_close_response (dialog, "cancel");
  g_signal_connect_object (dialog, "response", G_CALLBACK (remove_response_cb), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
setup_photo_cb (GtkSignalListItemFactory *factory,
                GtkListItem              *item,
                LkPersonPage             *self)
{
  GtkWidget *overlay = gtk_overlay_new ();
  GtkWidget *picture = gtk_picture_new ();
  GtkWidget *remove = gtk_button_new_from_icon_name ("user-trash-symbolic");

  gtk_picture_set_content_fit (GTK_PICTURE (picture), GTK_CONTENT_FIT_COVER);
  gtk_picture_set_can_shrink (GTK_PICTURE (picture), TRUE);
  gtk_widget_set_size_request (picture, 150, 150);
  gtk_widget_add_css_class (picture, "lk-thumbnail");
  gtk_overlay_set_child (GTK_OVERLAY (overlay), picture);

  gtk_widget_set_halign (remove, GTK_ALIGN_END);
  gtk_widget_set_valign (remove, GTK_ALIGN_START);
  gtk_widget_set_margin_top (remove, 6);
  gtk_widget_set_margin_end (remove, 6);
  gtk_widget_add_css_class (remove, "osd");
  gtk_widget_add_css_class (remove, "circular");
  gtk_widget_set_tooltip_text (remove, _("Remove Photo"));
  lk_set_accessible_label (remove, _("Remove Photo"));
  gtk_overlay_add_overlay (GTK_OVERLAY (overlay), remove);

  gtk_list_item_set_child (item, overlay);
}

static void
bind_photo_cb (GtkSignalListItemFactory *factory,
               GtkListItem              *item,
               LkPersonPage             *self)
{
  LkPhoto *photo = gtk_list_item_get_item (item);
  GtkWidget *overlay = gtk_list_item_get_child (item);
  GtkWidget *picture = gtk_overlay_get_child (GTK_OVERLAY (overlay));
  GtkWidget *remove = gtk_widget_get_last_child (overlay);
  g_autofree char *label = g_strdup_printf (_("Photo %s"), lk_photo_get_original_name (photo));

  lk_thumbnailer_show (GTK_PICTURE (picture), lk_photo_get_path (photo), THUMBNAIL_SIZE);
  lk_set_accessible_label (picture, label);
  /* Target first: an action name without its target would be a type mismatch. */
  gtk_actionable_set_action_target_value (GTK_ACTIONABLE (remove),
                                          g_variant_new_int64 (lk_photo_get_id (photo)));
  gtk_actionable_set_action_name (GTK_ACTIONABLE (remove), "person.remove-photo");
}

static void
unbind_photo_cb (GtkSignalListItemFactory *factory,
                 GtkListItem              *item,
                 LkPersonPage             *self)
{
  GtkWidget *overlay = gtk_list_item_get_child (item);

  lk_thumbnailer_show (GTK_PICTURE (gtk_overlay_get_child (GTK_OVERLAY (overlay))), NULL, 0);
}

LkCatalog *
lk_person_page_get_catalog (LkPersonPage *self)
{
  g_return_val_if_fail (LK_IS_PERSON_PAGE (self), NULL);

  return self->catalog;
}

void
lk_person_page_set_catalog (LkPersonPage *self,
                            LkCatalog    *catalog)
{
  g_return_if_fail (LK_IS_PERSON_PAGE (self));
  g_return_if_fail (catalog == NULL || LK_IS_CATALOG (catalog));

  if (self->catalog == catalog)
    return;
  if (self->catalog != NULL)
    g_clear_signal_handler (&self->changed_id, self->catalog);
  g_set_object (&self->catalog, catalog);
  if (catalog != NULL)
    self->changed_id = g_signal_connect_swapped (catalog, "changed",
                                                 G_CALLBACK (catalog_changed_cb), self);
  rebuild_model (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CATALOG]);
}

LkPerson *
lk_person_page_get_person (LkPersonPage *self)
{
  g_return_val_if_fail (LK_IS_PERSON_PAGE (self), NULL);

  return self->person;
}

void
lk_person_page_set_person (LkPersonPage *self,
                           LkPerson     *person)
{
  g_return_if_fail (LK_IS_PERSON_PAGE (self));
  g_return_if_fail (person == NULL || LK_IS_PERSON (person));

  /* Same row, perhaps a newer snapshot (photo count): keep the grid as it is. */
  if (self->person != NULL && person != NULL &&
      lk_person_get_id (self->person) == lk_person_get_id (person))
    {
      g_set_object (&self->person, person);
      gtk_label_set_label (self->name_label, lk_person_get_name (person));
      return;
    }
  if (self->person == person)
    return;
  finish_all_removals (self);
  g_set_object (&self->person, person);
  rebuild_model (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PERSON]);
}

gboolean
lk_person_page_get_busy (LkPersonPage *self)
{
  g_return_val_if_fail (LK_IS_PERSON_PAGE (self), FALSE);

  return self->n_imports > 0;
}

void
lk_person_page_set_show_back (LkPersonPage *self,
                              gboolean      show_back)
{
  g_return_if_fail (LK_IS_PERSON_PAGE (self));

  gtk_widget_set_visible (self->back_button, show_back);
}

GtkDropTarget *
lk_person_page_get_drop_target (LkPersonPage *self)
{
  return self->drop_target;
}

GtkGridView *
lk_person_page_get_grid_view (LkPersonPage *self)
{
  return self->grid_view;
}

GListModel *
lk_person_page_get_photos (LkPersonPage *self)
{
  return G_LIST_MODEL (self->photos);
}

AdwToast *
lk_person_page_get_undo_toast (LkPersonPage *self)
{
  return self->undo_toast;
}

AdwMessageDialog *
lk_person_page_get_dialog (LkPersonPage *self)
{
  return self->dialog;
}

static void
lk_person_page_dispose (GObject *object)
{
  LkPersonPage *self = (LkPersonPage *) object;

  g_cancellable_cancel (self->cancellable);
  /* Removals the user did not undo still happen. */
  if (self->removing != NULL)
    finish_all_removals (self);
  g_clear_weak_pointer (&self->undo_toast);
  g_clear_weak_pointer (&self->dialog);
  if (self->catalog != NULL)
    g_clear_signal_handler (&self->changed_id, self->catalog);
  if (self->photos != NULL)
    g_signal_handlers_disconnect_by_func (self->photos, photos_changed_cb, self);
  if (self->grid_view != NULL)
    gtk_grid_view_set_model (self->grid_view, NULL);
  g_clear_object (&self->photos);
  g_clear_object (&self->catalog_photos);
  gtk_widget_dispose_template (GTK_WIDGET (self), LK_TYPE_PERSON_PAGE);
  self->box = NULL;
  self->grid_view = NULL;
  g_clear_object (&self->filter);
  g_clear_object (&self->person);
  g_clear_object (&self->catalog);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->removing, g_hash_table_unref);

  G_OBJECT_CLASS (lk_person_page_parent_class)->dispose (object);
}

static void
lk_person_page_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  LkPersonPage *self = LK_PERSON_PAGE (object);

  switch (prop_id)
    {
    case PROP_CATALOG:
      g_value_set_object (value, self->catalog);
      break;
    case PROP_PERSON:
      g_value_set_object (value, self->person);
      break;
    case PROP_BUSY:
      g_value_set_boolean (value, lk_person_page_get_busy (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lk_person_page_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  LkPersonPage *self = LK_PERSON_PAGE (object);

  switch (prop_id)
    {
    case PROP_CATALOG:
      lk_person_page_set_catalog (self, g_value_get_object (value));
      break;
    case PROP_PERSON:
      lk_person_page_set_person (self, g_value_get_object (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lk_person_page_class_init (LkPersonPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = lk_person_page_dispose;
  object_class->get_property = lk_person_page_get_property;
  object_class->set_property = lk_person_page_set_property;

  properties[PROP_CATALOG] =
    g_param_spec_object ("catalog", NULL, NULL, LK_TYPE_CATALOG,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_PERSON] =
    g_param_spec_object ("person", NULL, NULL, LK_TYPE_PERSON,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_BUSY] =
    g_param_spec_boolean ("busy", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/likeness/Likeness/lk-person-page.ui");
  gtk_widget_class_bind_template_child (widget_class, LkPersonPage, box);
  gtk_widget_class_bind_template_child (widget_class, LkPersonPage, back_button);
  gtk_widget_class_bind_template_child (widget_class, LkPersonPage, train_button);
  gtk_widget_class_bind_template_child (widget_class, LkPersonPage, name_label);
  gtk_widget_class_bind_template_child (widget_class, LkPersonPage, spinner);
  gtk_widget_class_bind_template_child (widget_class, LkPersonPage, count_label);
  gtk_widget_class_bind_template_child (widget_class, LkPersonPage, missing_label);
  gtk_widget_class_bind_template_child (widget_class, LkPersonPage, stack);
  gtk_widget_class_bind_template_child (widget_class, LkPersonPage, grid_view);

  gtk_widget_class_install_action (widget_class, "person.add-photos", NULL, add_photos_action);
  gtk_widget_class_install_action (widget_class, "person.paste", NULL, paste_action);
  gtk_widget_class_install_action (widget_class, "person.train", NULL, train_action);
  gtk_widget_class_install_action (widget_class, "person.remove-photo", "x", remove_photo_action);
  gtk_widget_class_install_action (widget_class, "person.rename", NULL, rename_action);
  gtk_widget_class_install_action (widget_class, "person.remove", NULL, remove_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_F2, 0, "person.rename", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_v, GDK_CONTROL_MASK, "person.paste", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_o, GDK_CONTROL_MASK,
                                       "person.add-photos", NULL);

  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_GROUP);
}

static void
lk_person_page_init (LkPersonPage *self)
{
  g_autoptr(GtkListItemFactory) factory = gtk_signal_list_item_factory_new ();

  gtk_widget_init_template (GTK_WIDGET (self));

  self->removing = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  self->filter = gtk_custom_filter_new (photo_visible, self, NULL);
  self->cancellable = g_cancellable_new ();

  g_signal_connect (factory, "setup", G_CALLBACK (setup_photo_cb), self);
  g_signal_connect (factory, "bind", G_CALLBACK (bind_photo_cb), self);
  g_signal_connect (factory, "unbind", G_CALLBACK (unbind_photo_cb), self);
  gtk_grid_view_set_factory (self->grid_view, factory);

  self->drop_target = gtk_drop_target_new (GDK_TYPE_FILE_LIST, GDK_ACTION_COPY);
  g_signal_connect (self->drop_target, "drop", G_CALLBACK (drop_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (self->drop_target));

  gtk_widget_set_visible (GTK_WIDGET (self->spinner), FALSE);
  rebuild_model (self);
}
