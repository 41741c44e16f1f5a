/* lk-pipeline-extras.h: ControlNet units and LoRAs around an LkPipeline's generations
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * EasyPhoto generates with the user's LoRA merged into the checkpoint and three or four
 * ControlNets guiding each step. The extras hold both for one pipeline: LoRAs are merged into the
 * UNet's and the text encoder's device weights when added (so they cost nothing per step, and
 * prompts encoded afterwards see them) and restored bit-exactly when the extras are freed;
 * ControlNet units run through the pipeline's unet_forward hook.
 */
#pragma once

#include "lk-controlnet.h"
#include "lk-image.h"
#include "lk-lora.h"
#include "lk-pipeline.h"

G_BEGIN_DECLS

typedef struct _LkPipelineExtras LkPipelineExtras;

LkPipelineExtras      *lk_pipeline_extras_new          (LkPipeline         *pipeline);
/* Restores the weights the LoRAs changed; errors there are logged (the device is then lost). */
void                   lk_pipeline_extras_free         (LkPipelineExtras   *self);

/* Adds one ControlNet unit: @image (RGB) becomes its hint at @width × @height pixels, the
 * generation's size, resized as sd-webui-controlnet's "just resize" does. @start and @end are
 * fractions of the steps. */
gboolean               lk_pipeline_extras_add_control  (LkPipelineExtras   *self,
                                                        LkControlNet       *net,
                                                        const LkImage      *image,
                                                        guint               width,
                                                        guint               height,
                                                        float               weight,
                                                        float               start,
                                                        float               end,
                                                        LkControlMode       mode,
                                                        GError            **error);
guint                  lk_pipeline_extras_get_n_controls (LkPipelineExtras *self);

/* Merges @lora into the text encoder with @te_weight and into the UNet with @unet_weight. A LoRA
 * for only one of them (text-encoder-only, UNet-only) is fine, as in A1111; one that matches
 * nothing in either is refused (LK_LORA_ERROR_NO_MATCH: made for another architecture), and on
 * any failure the weights are left as they were. Keys that matched neither are added to
 * @unmatched when it is not NULL (file keys, newly allocated strings). */
gboolean               lk_pipeline_extras_add_lora     (LkPipelineExtras   *self,
                                                        LkLora             *lora,
                                                        float               te_weight,
                                                        float               unet_weight,
                                                        GPtrArray          *unmatched,
                                                        GError            **error);

/* Hooks to put in LkPipelineParams.hooks; NULL when no ControlNet unit was added (the UNet runs
 * plain). Borrowed, valid while the extras live. */
const LkPipelineHooks *lk_pipeline_extras_get_hooks    (LkPipelineExtras   *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LkPipelineExtras, lk_pipeline_extras_free)

G_END_DECLS
