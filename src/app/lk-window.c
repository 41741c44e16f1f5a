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
  g_task_return_pointer (task, lk_device_info_describe (g_ptr_array_index (devices, chosen)), g_free);
}

static void
list_devices_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  LkWindow *self = LK_WINDOW (object);
  g_autoptr(GError) error = NULL;
  g_autofree char *description = g_task_propagate_pointer (G_TASK (result), &error);

  if (description == NULL)
    {
      adw_status_page_set_icon_name (self->status, "dialog-warning-symbolic");
      adw_status_page_set_title (self->status, _("No Usable GPU"));
      adw_status_page_set_description (self->status, error->message);
      return;
    }
  adw_status_page_set_title (self->status, _("Ready"));
  adw_status_page_set_description (self->status, description);
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
  gtk_window_set_default_size (GTK_WINDOW (self), 720, 560);

  gtk_box_append (GTK_BOX (box), adw_header_bar_new ());
  self->status = ADW_STATUS_PAGE (adw_status_page_new ());
  adw_status_page_set_icon_name (self->status, "camera-photo-symbolic");
  adw_status_page_set_title (self->status, _("Looking for a GPU…"));
  gtk_widget_set_vexpand (GTK_WIDGET (self->status), TRUE);
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (self->status));
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
