/* lk-jobs-page.h: running, queued and finished jobs; progress, cancel, errors
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "lk-catalog.h"

G_BEGIN_DECLS

#define LK_TYPE_JOBS_PAGE (lk_jobs_page_get_type ())

G_DECLARE_FINAL_TYPE (LkJobsPage, lk_jobs_page, LK, JOBS_PAGE, GtkWidget)

void        lk_jobs_page_set_catalog (LkJobsPage *self,
                                      LkCatalog  *catalog);
/* A job kind as the user reads it: "train" → "Training". */
const char *lk_job_kind_to_label     (const char *kind);

G_END_DECLS
