/* lk-test-train.h: random UNet and text encoder checkpoints, and LoRA helpers, for the training
 * tests
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "lk-clip.h"
#include "lk-lora-layer.h"
#include "lk-unet.h"

G_BEGIN_DECLS

/* A CLIP text encoder's shape; heads are 64 wide. */
typedef struct
{
  guint vocab;
  guint context;
  guint width;
  guint n_layers;
  guint mlp;
} LkTestClipConfig;

/* dir/unet.safetensors, the UNet of @config with weights as test-unet.c draws them: 1.5× the
 * variance-keeping scale of their fan-in, norms 1 ± 0.2, biases ± 0.1. Returns the path. */
char     *lk_test_train_write_unet     (const char             *dir,
                                        const LkUnetConfig     *config);
/* dir/clip.safetensors, a text encoder under its canonical names with uniform weights large
 * enough that attention and QuickGELU are far from linear (as test-clip.c's). */
char     *lk_test_train_write_clip     (const char             *dir,
                                        const LkTestClipConfig *config);

/* Every layer's A then B, or their gradients, one after the other (the oracles' layout). */
float    *lk_test_train_download_lora  (LkLoraLayer           **layers,
                                        guint                   n_layers,
                                        LkStream               *stream,
                                        gboolean                grads,
                                        gsize                  *n);
/* kohya's B = 0 would leave every A gradient zero: B values ± 0.3 so that both are tested. */
void      lk_test_train_randomize_ups  (LkLoraLayer           **layers,
                                        guint                   n_layers,
                                        LkStream               *stream,
                                        guint32                 seed);

G_END_DECLS
