/* lk-generation.h: LkGeneration, one generated portrait and everything needed to make it again
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* A snapshot of one row; the catalog's list models replace it when the row changes. */
#define LK_TYPE_GENERATION (lk_generation_get_type ())

G_DECLARE_FINAL_TYPE (LkGeneration, lk_generation, LK, GENERATION, GObject)

gint64      lk_generation_get_id           (LkGeneration *self);
gint64      lk_generation_get_template_id  (LkGeneration *self);
const char *lk_generation_get_people       (LkGeneration *self);
const char *lk_generation_get_params       (LkGeneration *self);
gint64      lk_generation_get_seed         (LkGeneration *self);
const char *lk_generation_get_model_hashes (LkGeneration *self);
const char *lk_generation_get_sha256       (LkGeneration *self);
const char *lk_generation_get_path         (LkGeneration *self);
double      lk_generation_get_similarity   (LkGeneration *self);
gint64      lk_generation_get_created_at   (LkGeneration *self);

G_END_DECLS
