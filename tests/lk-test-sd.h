/* lk-test-sd.h: tiny SD1.5-layout checkpoints for the tests
 *
 * The checkpoints carry SD1.5's exact LDM names and architecture at a tiny width: a UNet of 32
 * model channels, a VAE of 32 base channels and a 2-layer, 64-wide CLIP, all with random f16
 * weights. 64×64 images (8×8 latents) go through them in about a second on lavapipe.
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define LK_TEST_SD_WIDTH     64    /* CLIP width = the UNet's context */
#define LK_TEST_SD_LAYERS    2
#define LK_TEST_SD_MLP       256
#define LK_TEST_SD_CHANNELS  32    /* UNet model channels */
#define LK_TEST_SD_VAE       32    /* VAE base channels */

/* Random f16 tensors to be written as one safetensors file. */
typedef struct
{
  GPtrArray *names;
  GPtrArray *data;
  GArray    *shapes;  /* gint64[4] per tensor */
  GArray    *ndims;   /* guint per tensor */
  guint64    state;
} LkTestCheckpoint;

void  lk_test_checkpoint_init   (LkTestCheckpoint *ckpt);
void  lk_test_checkpoint_clear  (LkTestCheckpoint *ckpt);
/* Weights at the variance-keeping scale of their fan-in, norms 1 ± 0.2, biases ± 0.1, so the
 * activations stay of order 1 through every layer. */
void  lk_test_checkpoint_add    (LkTestCheckpoint *ckpt,
                                 const char       *name,
                                 gboolean          norm_weight,
                                 gboolean          bias,
                                 guint             ndim,
                                 const gint64     *shape);
/* Writes the tensors to @path; @nan_tensor, when not NULL, gets a NaN in its 3rd element. */
void  lk_test_checkpoint_write  (LkTestCheckpoint *ckpt,
                                 const char       *path,
                                 const char       *nan_tensor);

/* A whole SD1.5-layout checkpoint at the tiny configuration, @unet_in_channels 4 or 9
 * (inpainting), written to dir/file; returns the path. */
char *lk_test_sd_write_tiny     (const char       *dir,
                                 const char       *file,
                                 guint             unet_in_channels,
                                 const char       *nan_tensor);

G_END_DECLS
