/* lk-test-models.h: what the model manager's tests share — a SoupServer on 127.0.0.1 serving
 * a folder, and small weight files for the classifier
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The server runs on its own thread and main context, so a test can block its own main context
 * or iterate it while a download runs. URL paths choose the server's behaviour:
 *   /files/REL  the file, with Range support
 *   /cut/REL    the first request after lk_test_server_rearm_cut() gets the headers and 40 % of
 *               the body, then the connection closes; later requests behave like /files/
 *   /drip/REL   the headers and 10 % of the body, then silence (for cancelling mid-body)
 *   /slow/REL   the connection is accepted and nothing is ever written (for timeouts)
 *   /trickle/REL the headers, then the body in 20 pieces 100 ms apart (slow but alive)
 *   /testdata/REL  ROOT/../testdata/REL, with Range support (the test photos)
 */
#pragma once

#include <glib.h>

#include "lk-weights.h"

G_BEGIN_DECLS

void   lk_test_server_start        (const char *root);
void   lk_test_server_stop         (void);
guint  lk_test_server_get_port     (void);
/* Requests seen so far, each "PATH RANGE" ("-" without a Range header). */
guint  lk_test_server_n_requests   (void);
char  *lk_test_server_nth_request  (guint       index);
/* The next /cut/ request is cut again. */
void   lk_test_server_rearm_cut    (void);

/* DIR/FILE as safetensors: n zero-filled f16 tensors with these names and shapes (up to 4-D,
 * at most 320 × 768 elements each); returns the path. */
char  *lk_test_write_weights       (const char         *dir,
                                    const char         *file,
                                    const char * const *names,
                                    const gint64      (*shapes)[4],
                                    const guint        *ndims,
                                    guint               n);
/* The few tensors the classifier reads, under their real SD1.5 names: a checkpoint whose UNet
 * takes in_channels (4, or 9 for inpainting), and a kohya LoRA for a text context this wide
 * (768 for SD1.x, 2048 for SDXL). Return the path. */
char  *lk_test_write_tiny_checkpoint (const char    *dir,
                                      const char    *file,
                                      gint64         in_channels);
char  *lk_test_write_tiny_lora       (const char    *dir,
                                      const char    *file,
                                      gint64         context_width);

G_END_DECLS
