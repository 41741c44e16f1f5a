/* lk-app-util.c: small helpers the app's pages share
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "lk-app-util.h"

void
lk_show_toast (GtkWidget *widget,
               AdwToast  *toast)
{
  GtkWidget *overlay;

  g_return_if_fail (GTK_IS_WIDGET (widget));
  g_return_if_fail (ADW_IS_TOAST (toast));

  overlay = gtk_widget_get_ancestor (widget, ADW_TYPE_TOAST_OVERLAY);
  if (overlay == NULL)
    {
      /* Not in a window (yet): the message still reaches the log. */
      g_message ("%s", adw_toast_get_title (toast));
      g_object_ref_sink (toast);
      g_object_unref (toast);
      return;
    }
  adw_toast_overlay_add_toast (ADW_TOAST_OVERLAY (overlay), toast);
}

void
lk_show_error_toast (GtkWidget  *widget,
                     const char *message)
{
  /* Before libadwaita 1.4 a toast's title is always markup. */
  g_autofree char *escaped = g_markup_escape_text (message, -1);
  AdwToast *toast = adw_toast_new (escaped);

  adw_toast_set_timeout (toast, 8);
  adw_toast_set_priority (toast, ADW_TOAST_PRIORITY_HIGH);
  lk_show_toast (widget, toast);
}

void
lk_set_accessible_label (GtkWidget  *widget,
                         const char *label)
{
  gtk_accessible_update_property (GTK_ACCESSIBLE (widget),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, label,
                                  -1);
}

GPtrArray *
lk_file_list_to_array (GdkFileList *file_list)
{
  GPtrArray *files = g_ptr_array_new_with_free_func (g_object_unref);
  GSList *list = gdk_file_list_get_files (file_list);

  for (GSList *l = list; l != NULL; l = l->next)
    g_ptr_array_add (files, g_object_ref (l->data));
  g_slist_free (list);
  return files;
}
