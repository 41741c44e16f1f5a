/* lk-file-chooser.h: file dialogs — GtkFileDialog where GTK has it, else GtkFileChooserNative
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

typedef enum
{
  LK_CHOOSE_IMAGES,    /* open one or more images */
  LK_CHOOSE_FOLDER,    /* one folder */
  LK_CHOOSE_SAVE_PNG,  /* where to save a PNG */
  LK_CHOOSE_MODEL,     /* open one model file (weights, or any file) */
} LkChooseMode;

/* files: GFiles the user chose, NULL when they cancelled. */
typedef void (*LkFilesChosenFunc) (GtkWidget *owner,
                                   GPtrArray *files,
                                   gpointer   user_data);

/* Opens a dialog over owner's window; owner is kept alive until func has run. */
void lk_choose_files (GtkWidget         *owner,
                      LkChooseMode       mode,
                      const char        *title,
                      const char        *initial_name,
                      LkFilesChosenFunc  func,
                      gpointer           user_data);

G_END_DECLS
