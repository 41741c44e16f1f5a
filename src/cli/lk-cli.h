/* lk-cli.h: the likeness-cli subcommands
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Each subcommand gets argv with its own name first and returns the exit status. */
int lk_cli_info  (int argc, char **argv);
int lk_cli_bench (int argc, char **argv);
int lk_cli_person    (int argc, char **argv);
int lk_cli_photos    (int argc, char **argv);
int lk_cli_templates (int argc, char **argv);
int lk_cli_catalog   (int argc, char **argv);
int lk_cli_models    (int argc, char **argv);
int lk_cli_txt2img   (int argc, char **argv);
int lk_cli_img2img   (int argc, char **argv);
int lk_cli_inpaint   (int argc, char **argv);
int lk_cli_preprocess (int argc, char **argv);
int lk_cli_faces      (int argc, char **argv);
int lk_cli_upscale    (int argc, char **argv);
int lk_cli_train_lora (int argc, char **argv);
/* likeness-cli bench train, from lk_cli_bench (argv starts at "train"). */
int lk_cli_bench_train (int argc, char **argv);

/* --vocab, else the copy the model manager downloads (likeness-cli models download clip-vocab). */
char *lk_cli_find_vocab (const char *vocab, GError **error);

/* Opens the catalog in data_dir (NULL: the default one), or says why not and returns NULL. */
typedef struct _LkCatalog LkCatalog;
LkCatalog *lk_cli_open_catalog (const char *data_dir);

/* Prints "likeness-cli: MESSAGE" to stderr and returns 1. */
int lk_cli_fail  (const char *format, ...) G_GNUC_PRINTF (1, 2);

G_END_DECLS
