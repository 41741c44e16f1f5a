/* lk-file-chooser.c: file dialogs — GtkFileDialog where GTK has it, else GtkFileChooserNative
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "lk-file-chooser.h"

typedef struct
{
  GtkWidget         *owner;
  LkChooseMode       mode;
  LkFilesChosenFunc  func;
  gpointer           user_data;
} Choice;

static void
choice_finish (Choice    *choice,
               GPtrArray *files)
{
  choice->func (choice->owner, files, choice->user_data);
  g_object_unref (choice->owner);
  g_free (choice);
}

static Choice *
choice_new (GtkWidget         *owner,
            LkChooseMode       mode,
            LkFilesChosenFunc  func,
            gpointer           user_data)
{
  Choice *choice = g_new0 (Choice, 1);

  choice->owner = g_object_ref (owner);
  choice->mode = mode;
  choice->func = func;
  choice->user_data = user_data;
  return choice;
}

static GtkFileFilter *
image_filter (void)
{
  GtkFileFilter *filter = gtk_file_filter_new ();

  gtk_file_filter_set_name (filter, _("Images"));
  gtk_file_filter_add_pixbuf_formats (filter);
  return filter;
}

/* Weights in the formats Likeness reads, and the other files of the registry's models. */
static GtkFileFilter *
model_filter (void)
{
  static const char *patterns[] = {
    "*.safetensors", "*.ckpt", "*.pth", "*.pt", "*.bin", "*.json", "*.gz",
  };
  GtkFileFilter *filter = gtk_file_filter_new ();

  gtk_file_filter_set_name (filter, _("Model Files"));
  for (guint i = 0; i < G_N_ELEMENTS (patterns); i++)
    gtk_file_filter_add_pattern (filter, patterns[i]);
  return filter;
}

#if GTK_CHECK_VERSION (4, 10, 0)

static void
dialog_done_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  GtkFileDialog *dialog = GTK_FILE_DIALOG (object);
  Choice *choice = user_data;
  g_autoptr(GPtrArray) files = NULL;
  g_autoptr(GListModel) model = NULL;
  g_autoptr(GFile) file = NULL;

  switch (choice->mode)
    {
    case LK_CHOOSE_IMAGES:
      model = gtk_file_dialog_open_multiple_finish (dialog, result, NULL);
      break;
    case LK_CHOOSE_MODEL:
      file = gtk_file_dialog_open_finish (dialog, result, NULL);
      break;
    case LK_CHOOSE_FOLDER:
      file = gtk_file_dialog_select_folder_finish (dialog, result, NULL);
      break;
    case LK_CHOOSE_SAVE_PNG:
      file = gtk_file_dialog_save_finish (dialog, result, NULL);
      break;
    }
  if (model != NULL || file != NULL)
    {
      files = g_ptr_array_new_with_free_func (g_object_unref);
      if (file != NULL)
        g_ptr_array_add (files, g_steal_pointer (&file));
      for (guint i = 0; model != NULL && i < g_list_model_get_n_items (model); i++)
        g_ptr_array_add (files, g_list_model_get_item (model, i));
    }
  choice_finish (choice, files);
}

void
lk_choose_files (GtkWidget         *owner,
                 LkChooseMode       mode,
                 const char        *title,
                 const char        *initial_name,
                 LkFilesChosenFunc  func,
                 gpointer           user_data)
{
  g_autoptr(GtkFileDialog) dialog = gtk_file_dialog_new ();
  GtkWindow *parent = GTK_WINDOW (gtk_widget_get_root (owner));
  Choice *choice = choice_new (owner, mode, func, user_data);

  gtk_file_dialog_set_title (dialog, title);
  gtk_file_dialog_set_modal (dialog, TRUE);
  switch (mode)
    {
    case LK_CHOOSE_IMAGES:
      {
        g_autoptr(GListStore) filters = g_list_store_new (GTK_TYPE_FILE_FILTER);
        g_autoptr(GtkFileFilter) filter = image_filter ();

        g_list_store_append (filters, filter);
        gtk_file_dialog_set_filters (dialog, G_LIST_MODEL (filters));
        gtk_file_dialog_open_multiple (dialog, parent, NULL, dialog_done_cb, choice);
      }
      break;
    case LK_CHOOSE_FOLDER:
      gtk_file_dialog_select_folder (dialog, parent, NULL, dialog_done_cb, choice);
      break;
    case LK_CHOOSE_MODEL:
      {
        g_autoptr(GListStore) filters = g_list_store_new (GTK_TYPE_FILE_FILTER);
        g_autoptr(GtkFileFilter) filter = model_filter ();

        g_list_store_append (filters, filter);
        gtk_file_dialog_set_filters (dialog, G_LIST_MODEL (filters));
        gtk_file_dialog_open (dialog, parent, NULL, dialog_done_cb, choice);
      }
      break;
    case LK_CHOOSE_SAVE_PNG:
      gtk_file_dialog_set_initial_name (dialog, initial_name);
      gtk_file_dialog_save (dialog, parent, NULL, dialog_done_cb, choice);
      break;
    }
}

#else

static void
native_response_cb (GtkNativeDialog *native,
                    int              response,
                    gpointer         user_data)
{
  Choice *choice = user_data;
  g_autoptr(GPtrArray) files = NULL;

  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GListModel) model = gtk_file_chooser_get_files (GTK_FILE_CHOOSER (native));

      files = g_ptr_array_new_with_free_func (g_object_unref);
      for (guint i = 0; i < g_list_model_get_n_items (model); i++)
        g_ptr_array_add (files, g_list_model_get_item (model, i));
    }
  gtk_native_dialog_destroy (native);
  g_object_unref (native);
  choice_finish (choice, files);
}

void
lk_choose_files (GtkWidget         *owner,
                 LkChooseMode       mode,
                 const char        *title,
                 const char        *initial_name,
                 LkFilesChosenFunc  func,
                 gpointer           user_data)
{
  static const GtkFileChooserAction actions[] = {
    [LK_CHOOSE_IMAGES] = GTK_FILE_CHOOSER_ACTION_OPEN,
    [LK_CHOOSE_FOLDER] = GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER,
    [LK_CHOOSE_SAVE_PNG] = GTK_FILE_CHOOSER_ACTION_SAVE,
    [LK_CHOOSE_MODEL] = GTK_FILE_CHOOSER_ACTION_OPEN,
  };
  GtkWindow *parent = GTK_WINDOW (gtk_widget_get_root (owner));
  GtkFileChooserNative *native;
  Choice *choice = choice_new (owner, mode, func, user_data);

  native = gtk_file_chooser_native_new (title, parent, actions[mode],
                                        mode == LK_CHOOSE_SAVE_PNG ? _("_Save") : _("_Open"),
                                        _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (native), TRUE);
  if (mode == LK_CHOOSE_IMAGES)
    {
      g_autoptr(GtkFileFilter) filter = image_filter ();

      gtk_file_chooser_set_select_multiple (GTK_FILE_CHOOSER (native), TRUE);
      gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (native), filter);
    }
  if (mode == LK_CHOOSE_MODEL)
    {
      g_autoptr(GtkFileFilter) filter = model_filter ();

      gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (native), filter);
    }
  if (mode == LK_CHOOSE_SAVE_PNG && initial_name != NULL)
    gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (native), initial_name);
  g_signal_connect (native, "response", G_CALLBACK (native_response_cb), choice);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (native));
}

#endif
