/* lk-window.c: the main window. Until the full app lands it shows which Vulkan device the
 * engine chose, or why there is none.
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "lk-window.h"
#include "lk-context.h"

struct _LkWindow
{
  AdwApplicationWindow  parent_instance;

  AdwStatusPage        *status;
};

G_DEFINE_FINAL_TYPE (LkWindow, lk_window, ADW_TYPE_APPLICATION_WINDOW)

/* Device discovery creates a Vulkan instance: keep it off the main thread. */
static void
list_devices_thread (GTask        *task,
                     gpointer      source,
                     gpointer      task_data,
                     GCancellable *cancellable)
{
  g_autoptr(GPtrArray) devices = NULL;
  GError *error = NULL;
  guint chosen;

  devices = lk_context_list_devices (&error);
  if (devices == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  chosen = lk_context_choose_device (devices, g_getenv ("LIKENESS_DEVICE"), &error);
  if (chosen == G_MAXUINT)
    {
      g_task_return_error (task, error);
      return;
    }
  g_task_return_pointer (task, g_ptr_array_steal_index (devices, chosen),
                         (GDestroyNotify) lk_device_info_free);
}

static void
add_row (AdwPreferencesGroup *group,
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
  adw_preferences_group_add (group, row);
}

static void
list_devices_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  LkWindow *self = LK_WINDOW (object);
  g_autoptr(GError) error = NULL;
  g_autoptr(LkDeviceInfo) info = g_task_propagate_pointer (G_TASK (result), &error);
  AdwPreferencesGroup *group;
  g_autofree char *memory = NULL;
  g_autofree char *vulkan = NULL;
  g_autofree char *subgroup = NULL;
  g_autofree char *binding = NULL;

  if (info == NULL)
    {
      adw_status_page_set_icon_name (self->status, "dialog-warning-symbolic");
      adw_status_page_set_title (self->status, _("No Usable GPU"));
      adw_status_page_set_description (self->status, error->message);
      return;
    }

  adw_status_page_set_icon_name (self->status, "video-display-symbolic");
  adw_status_page_set_title (self->status, info->name);
  adw_status_page_set_description (self->status,
                                   info->type == VK_PHYSICAL_DEVICE_TYPE_CPU
                                   ? _("No GPU was found, so Likeness computes on the processor. It works, but slowly.")
                                   : _("Likeness computes on this GPU."));

  memory = g_strdup_printf ("%.1f GiB", info->device_local_bytes / (1024.0 * 1024 * 1024));
  vulkan = g_strdup_printf ("%u.%u", VK_API_VERSION_MAJOR (info->api_version),
                            VK_API_VERSION_MINOR (info->api_version));
  subgroup = g_strdup_printf ("%u", info->subgroup_size);
  binding = g_strdup_printf ("%" G_GUINT64_FORMAT " MiB", info->max_storage_buffer_range / (1024 * 1024));

  group = ADW_PREFERENCES_GROUP (adw_preferences_group_new ());
  add_row (group, _("Type"), lk_device_type_to_string (info->type));
  add_row (group, _("Driver"), info->driver);
  add_row (group, _("Vulkan"), vulkan);
  add_row (group, _("Memory"), memory);
  add_row (group, _("Half-precision arithmetic"), info->shader_float16 ? _("Yes") : _("No"));
  add_row (group, _("Subgroup size"), subgroup);
  add_row (group, _("Cooperative matrices"), info->cooperative_matrix ? _("Yes") : _("No"));
  add_row (group, _("Largest buffer binding"), binding);
  gtk_widget_set_size_request (GTK_WIDGET (group), 360, -1);
  adw_status_page_set_child (self->status, GTK_WIDGET (group));
}

static void
lk_window_class_init (LkWindowClass *klass)
{
}

static void
lk_window_init (LkWindow *self)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  g_autoptr(GTask) task = NULL;

  gtk_window_set_title (GTK_WINDOW (self), _("Likeness"));

  gtk_box_append (GTK_BOX (box), adw_header_bar_new ());
  self->status = ADW_STATUS_PAGE (adw_status_page_new ());
  adw_status_page_set_icon_name (self->status, "camera-photo-symbolic");
  adw_status_page_set_title (self->status, _("Looking for a GPU…"));
  gtk_widget_set_vexpand (GTK_WIDGET (self->status), TRUE);
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (self->status));
  gtk_window_set_default_size (GTK_WINDOW (self), 640, 640);
  adw_application_window_set_content (ADW_APPLICATION_WINDOW (self), box);

  task = g_task_new (self, NULL, list_devices_cb, NULL);
  g_task_set_source_tag (task, lk_window_init);
  g_task_run_in_thread (task, list_devices_thread);
}

LkWindow *
lk_window_new (GtkApplication *application)
{
  return g_object_new (LK_TYPE_WINDOW, "application", application, NULL);
}
