/* lk-train-checkpoint.h: saving and resuming LoRA training
 *
 * A checkpoint is one safetensors file written atomically (temporary name, fsync, rename): per
 * layer NAME.lora_down.weight and NAME.lora_up.weight with their AdamW moments
 * (NAME.lora_down.exp_avg, NAME.lora_down.exp_avg_sq, the same for lora_up) and NAME.alpha, all
 * f32, so a resumed run starts from exactly the bits it stopped at; the step, the noise
 * generator's state and the loss scale (with its skipped and good step counts; a checkpoint
 * without them reads as 0) go in the metadata, as decimal text that reads back to the same
 * values.
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "lk-lora-layer.h"
#include "lk-rng.h"

G_BEGIN_DECLS

typedef struct
{
  guint64 step;        /* optimizer steps done */
  LkRng   rng;         /* the training noise and timestep generator */
  double  loss_scale;  /* dynamic loss scaling's current scale */
  guint64 skipped;     /* steps skipped for an overflow; AdamW's own t is step − skipped */
  guint64 good_steps;  /* steps without overflow since the scale last changed (GradScaler's
                        * growth tracker) */
} LkTrainState;

/* Downloads every layer's tensors (recorded into @stream, which is then waited for) and writes
 * @path. names[i] is layers[i]'s kohya module name (lora_unet_…); names must be distinct. */
gboolean lk_train_checkpoint_save (const char          *path,
                                   LkStream            *stream,
                                   const char * const  *names,
                                   LkLoraLayer        **layers,
                                   guint                n_layers,
                                   const LkTrainState  *state,
                                   GError             **error);
/* Reads @path into layers made with the same names, shapes and alpha (anything else is an
 * LK_IO_ERROR naming the file and tensor) and fills @state. The layers are not touched unless
 * the whole file checks out. */
gboolean lk_train_checkpoint_load (const char          *path,
                                   LkStream            *stream,
                                   const char * const  *names,
                                   LkLoraLayer        **layers,
                                   guint                n_layers,
                                   LkTrainState        *state,
                                   GError             **error);

G_END_DECLS
