/* lk-app-util.h: small helpers the app's pages share
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

/* Shows toast in the toast overlay above widget; takes the toast's floating reference. */
void        lk_show_toast        (GtkWidget  *widget,
                                  AdwToast   *toast);
void        lk_show_error_toast  (GtkWidget  *widget,
                                  const char *message);
/* A widget's text with its accessible label set, for list rows made in C. */
void        lk_set_accessible_label (GtkWidget  *widget,
                                     const char *label);

/* The GFiles of a drop or paste, as lk_import_async() takes them. */
GPtrArray  *lk_file_list_to_array   (GdkFileList *file_list);

G_END_DECLS
