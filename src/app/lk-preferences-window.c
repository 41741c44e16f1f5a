/* lk-preferences-window.c: data folder, GPU, model folders, quality defaults (GSettings)
 *
 * Every control is bound to its key; nothing is polled or saved by hand.
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "lk-app-util.h"
#include "lk-context.h"
#include "lk-file-chooser.h"
#include "lk-preferences-window.h"

struct _LkPreferencesWindow
{
  AdwPreferencesWindow  parent_instance;

  /* template widgets */
  AdwActionRow         *data_dir_row;
  GtkListBox           *model_folders_list;
  AdwComboRow          *device_row;
  AdwPreferencesGroup  *device_group;
  GtkSpinButton        *first_steps;
  GtkSpinButton        *second_steps;
  GtkSwitch            *super_resolution;
  GtkSwitch            *skin_retouch;
  GtkSpinButton        *training_steps;

  /* owned */
  GSettings            *settings;
  GPtrArray            *devices;      /* LkDeviceInfo */
  GPtrArray            *device_rows;  /* borrowed: the rows update_device_info() added */
  GtkStringList        *device_names;
  GCancellable         *cancellable;
  char                 *data_dir;
  gboolean              loaded;
};

G_DEFINE_FINAL_TYPE (LkPreferencesWindow, lk_preferences_window, ADW_TYPE_PREFERENCES_WINDOW)

static void
update_data_dir (LkPreferencesWindow *self)
{
  g_autofree char *configured = g_settings_get_string (self->settings, "data-dir");
  g_autofree char *subtitle = NULL;

  if (g_getenv ("LIKENESS_DATA_DIR") != NULL)
    subtitle = g_strdup_printf (_("%s (set by LIKENESS_DATA_DIR)"), self->data_dir);
  else if (configured[0] != '\0' && g_strcmp0 (configured, self->data_dir) != 0)
    subtitle = g_strdup_printf (_("%s (from the next start)"), configured);
  else
    subtitle = g_strdup (self->data_dir);
  adw_action_row_set_subtitle (self->data_dir_row, subtitle);
}

static void
data_dir_chosen (GtkWidget *owner,
                 GPtrArray *files,
                 gpointer   user_data)
{
  LkPreferencesWindow *self = LK_PREFERENCES_WINDOW (owner);
  g_autofree char *path = NULL;

  if (files == NULL || (path = g_file_get_path (g_ptr_array_index (files, 0))) == NULL)
    return;
  g_settings_set_string (self->settings, "data-dir", path);
}

static void
choose_data_dir_action (GtkWidget  *widget,
                        const char *action_name,
                        GVariant   *parameter)
{
  lk_choose_files (widget, LK_CHOOSE_FOLDER, _("Choose Data Folder"), NULL, data_dir_chosen, NULL);
}

static void
remove_folder_clicked_cb (GtkButton           *button,
                          LkPreferencesWindow *self)
{
  const char *folder = g_object_get_data (G_OBJECT (button), "folder");
  g_auto(GStrv) folders = g_settings_get_strv (self->settings, "model-folders");
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) kept = NULL;

  for (guint i = 0; folders[i] != NULL; i++)
    if (g_strcmp0 (folders[i], folder) != 0)
      g_strv_builder_add (builder, folders[i]);
  kept = g_strv_builder_end (builder);
  g_settings_set_strv (self->settings, "model-folders", (const char * const *) kept);
}

static void
update_model_folders (LkPreferencesWindow *self)
{
  g_auto(GStrv) folders = g_settings_get_strv (self->settings, "model-folders");
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->model_folders_list))) != NULL)
    gtk_list_box_remove (self->model_folders_list, child);
  for (guint i = 0; folders[i] != NULL; i++)
    {
      GtkWidget *row = adw_action_row_new ();
      GtkWidget *remove = gtk_button_new_from_icon_name ("user-trash-symbolic");
      g_autofree char *escaped = g_markup_escape_text (folders[i], -1);
      g_autofree char *label = g_strdup_printf (_("Remove %s"), folders[i]);

      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), escaped);
      gtk_widget_set_valign (remove, GTK_ALIGN_CENTER);
      gtk_widget_add_css_class (remove, "flat");
      gtk_widget_set_tooltip_text (remove, label);
      lk_set_accessible_label (remove, label);
      g_object_set_data_full (G_OBJECT (remove), "folder", g_strdup (folders[i]), g_free);
      g_signal_connect_object (remove, "clicked", G_CALLBACK (remove_folder_clicked_cb), self, 0);
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), remove);
      gtk_list_box_append (self->model_folders_list, row);
    }
  gtk_widget_set_visible (GTK_WIDGET (self->model_folders_list), folders[0] != NULL);
}

static void
model_folder_chosen (GtkWidget *owner,
                     GPtrArray *files,
                     gpointer   user_data)
{
  LkPreferencesWindow *self = LK_PREFERENCES_WINDOW (owner);
  g_autofree char *path = NULL;
  g_auto(GStrv) folders = NULL;
  g_autoptr(GStrvBuilder) builder = NULL;
  g_auto(GStrv) added = NULL;

  if (files == NULL || (path = g_file_get_path (g_ptr_array_index (files, 0))) == NULL)
    return;
  folders = g_settings_get_strv (self->settings, "model-folders");
  if (g_strv_contains ((const char * const *) folders, path))
    return;
  builder = g_strv_builder_new ();
  g_strv_builder_addv (builder, (const char **) folders);
  g_strv_builder_add (builder, path);
  added = g_strv_builder_end (builder);
  g_settings_set_strv (self->settings, "model-folders", (const char * const *) added);
}

static void
add_model_folder_action (GtkWidget  *widget,
                         const char *action_name,
                         GVariant   *parameter)
{
  lk_choose_files (widget, LK_CHOOSE_FOLDER, _("Add Model Folder"), NULL, model_folder_chosen, NULL);
}

static void
add_info_row (LkPreferencesWindow *self,
              const char          *title,
              const char          *value)
{
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *label = gtk_label_new (value);

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  gtk_widget_add_css_class (label, "dim-label");
  gtk_label_set_selectable (GTK_LABEL (label), TRUE);
  gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), label);
  adw_preferences_group_add (self->device_group, row);
  g_ptr_array_add (self->device_rows, row);
}

/* Shows what the engine knows about the device the setting chooses. */
static void
update_device_info (LkPreferencesWindow *self)
{
  g_autofree char *selector = g_settings_get_string (self->settings, "device");
  g_autoptr(GError) error = NULL;
  g_autofree char *memory = NULL;
  g_autofree char *vulkan = NULL;
  g_autofree char *subgroup = NULL;
  g_autofree char *binding = NULL;
  LkDeviceInfo *info;
  guint chosen;

  /* Rows of a previous choice go; AdwPreferencesGroup has no "remove all" in 1.2. */
  for (guint i = 0; i < self->device_rows->len; i++)
    adw_preferences_group_remove (self->device_group, g_ptr_array_index (self->device_rows, i));
  g_ptr_array_set_size (self->device_rows, 0);

  if (self->devices == NULL)
    return;
  chosen = lk_context_choose_device (self->devices,
                                     selector[0] != '\0' ? selector : g_getenv ("LIKENESS_DEVICE"),
                                     &error);
  if (chosen == G_MAXUINT)
    {
      adw_preferences_group_set_description (self->device_group, error->message);
      return;
    }
  info = g_ptr_array_index (self->devices, chosen);
  adw_preferences_group_set_description (self->device_group,
                                         info->type == VK_PHYSICAL_DEVICE_TYPE_CPU
                                         ? _("No GPU was found, so Likeness computes on the processor. It works, but slowly.")
                                         : NULL);
  memory = g_strdup_printf ("%.1f GiB", info->device_local_bytes / (1024.0 * 1024 * 1024));
  vulkan = g_strdup_printf ("%u.%u", VK_API_VERSION_MAJOR (info->api_version),
                            VK_API_VERSION_MINOR (info->api_version));
  subgroup = g_strdup_printf ("%u", info->subgroup_size);
  binding = g_strdup_printf ("%" G_GUINT64_FORMAT " MiB", info->max_storage_buffer_range / (1024 * 1024));
  add_info_row (self, _("Name"), info->name);
  add_info_row (self, _("Type"), lk_device_type_to_string (info->type));
  add_info_row (self, _("Driver"), info->driver);
  add_info_row (self, _("Vulkan"), vulkan);
  add_info_row (self, _("Memory"), memory);
  add_info_row (self, _("Half-precision arithmetic"), info->shader_float16 ? _("Yes") : _("No"));
  add_info_row (self, _("Subgroup size"), subgroup);
  add_info_row (self, _("Cooperative matrices"), info->cooperative_matrix ? _("Yes") : _("No"));
  add_info_row (self, _("Largest buffer binding"), binding);
}

static void
device_selected_cb (LkPreferencesWindow *self)
{
  guint selected = adw_combo_row_get_selected (self->device_row);
  const char *name = "";

  if (!self->loaded)
    return;
  if (selected > 0 && selected != GTK_INVALID_LIST_POSITION)
    name = ((LkDeviceInfo *) g_ptr_array_index (self->devices, selected - 1))->name;
  g_settings_set_string (self->settings, "device", name);
  update_device_info (self);
}

/* Device discovery creates a Vulkan instance: keep it off the main thread. */
static void
list_devices_thread (GTask        *task,
                     gpointer      source,
                     gpointer      task_data,
                     GCancellable *cancellable)
{
  GError *error = NULL;
  GPtrArray *devices = lk_context_list_devices (&error);

  if (devices == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, devices, (GDestroyNotify) g_ptr_array_unref);
}

static void
list_devices_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(LkPreferencesWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  GPtrArray *devices = g_task_propagate_pointer (G_TASK (result), &error);
  g_autofree char *selector = NULL;
  guint selected = 0;

  if (devices == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      adw_preferences_group_set_description (self->device_group, error->message);
      self->loaded = TRUE;
      return;
    }
  self->devices = devices;
  selector = g_settings_get_string (self->settings, "device");
  for (guint i = 0; i < devices->len; i++)
    {
      LkDeviceInfo *info = g_ptr_array_index (devices, i);

      gtk_string_list_append (self->device_names, info->name);
      if (selector[0] != '\0' && g_strcmp0 (selector, info->name) == 0)
        selected = i + 1;
    }
  adw_combo_row_set_selected (self->device_row, selected);
  self->loaded = TRUE;
  update_device_info (self);
}

gboolean
lk_preferences_window_get_loaded (LkPreferencesWindow *self)
{
  g_return_val_if_fail (LK_IS_PREFERENCES_WINDOW (self), FALSE);

  return self->loaded;
}

GtkWidget *
lk_preferences_window_new (GtkWindow  *parent,
                           const char *data_dir)
{
  LkPreferencesWindow *self = g_object_new (LK_TYPE_PREFERENCES_WINDOW,
                                            "transient-for", parent,
                                            "modal", parent != NULL,
                                            NULL);

  self->data_dir = g_strdup (data_dir);
  update_data_dir (self);
  return GTK_WIDGET (self);
}

static void
lk_preferences_window_dispose (GObject *object)
{
  LkPreferencesWindow *self = (LkPreferencesWindow *) object;

  g_cancellable_cancel (self->cancellable);
  gtk_widget_dispose_template (GTK_WIDGET (self), LK_TYPE_PREFERENCES_WINDOW);
  g_clear_object (&self->settings);
  g_clear_object (&self->device_names);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->devices, g_ptr_array_unref);
  g_clear_pointer (&self->device_rows, g_ptr_array_unref);
  g_clear_pointer (&self->data_dir, g_free);

  G_OBJECT_CLASS (lk_preferences_window_parent_class)->dispose (object);
}

static void
lk_preferences_window_class_init (LkPreferencesWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = lk_preferences_window_dispose;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/likeness/Likeness/lk-preferences-window.ui");
  gtk_widget_class_bind_template_child (widget_class, LkPreferencesWindow, data_dir_row);
  gtk_widget_class_bind_template_child (widget_class, LkPreferencesWindow, model_folders_list);
  gtk_widget_class_bind_template_child (widget_class, LkPreferencesWindow, device_row);
  gtk_widget_class_bind_template_child (widget_class, LkPreferencesWindow, device_group);
  gtk_widget_class_bind_template_child (widget_class, LkPreferencesWindow, first_steps);
  gtk_widget_class_bind_template_child (widget_class, LkPreferencesWindow, second_steps);
  gtk_widget_class_bind_template_child (widget_class, LkPreferencesWindow, super_resolution);
  gtk_widget_class_bind_template_child (widget_class, LkPreferencesWindow, skin_retouch);
  gtk_widget_class_bind_template_child (widget_class, LkPreferencesWindow, training_steps);

  gtk_widget_class_install_action (widget_class, "prefs.choose-data-dir", NULL, choose_data_dir_action);
  gtk_widget_class_install_action (widget_class, "prefs.add-model-folder", NULL, add_model_folder_action);
}

static void
lk_preferences_window_init (LkPreferencesWindow *self)
{
  g_autoptr(GTask) task = NULL;

  gtk_widget_init_template (GTK_WIDGET (self));

  self->settings = g_settings_new (APP_ID);
  self->cancellable = g_cancellable_new ();
  self->device_rows = g_ptr_array_new ();
  self->device_names = gtk_string_list_new (NULL);
  gtk_string_list_append (self->device_names, _("Automatic"));
  adw_combo_row_set_model (self->device_row, G_LIST_MODEL (self->device_names));
  g_signal_connect_swapped (self->device_row, "notify::selected", G_CALLBACK (device_selected_cb), self);

  g_settings_bind (self->settings, "first-diffusion-steps", self->first_steps, "value", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "second-diffusion-steps", self->second_steps, "value", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "super-resolution", self->super_resolution, "active", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "skin-retouch", self->skin_retouch, "active", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "training-max-steps", self->training_steps, "value", G_SETTINGS_BIND_DEFAULT);
  g_signal_connect_object (self->settings, "changed::data-dir", G_CALLBACK (update_data_dir), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->settings, "changed::model-folders",
                           G_CALLBACK (update_model_folders), self, G_CONNECT_SWAPPED);
  update_model_folders (self);

  task = g_task_new (NULL, self->cancellable, list_devices_cb, g_object_ref (self));
  g_task_set_source_tag (task, lk_preferences_window_init);
  g_task_run_in_thread (task, list_devices_thread);
}
