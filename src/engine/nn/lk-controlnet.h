/* lk-controlnet.h: SD1.x ControlNets (v1.0 / v1.1) and their units, on the device
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A ControlNet is a trainable copy of the UNet's encoder (time embedding, input blocks, middle
 * block) whose first convolution also receives the control image through a small hint encoder;
 * zero-initialised 1×1 convolutions turn each of its 12 input-block outputs and its middle output
 * into residuals the UNet adds to its skip connections and middle block (LkUnetResiduals).
 *
 * Canonical names are the LDM ones, "control_model.input_hint_block.0.weight" and so on; files
 * with those names, without the prefix, or in the diffusers layout (controlnet_cond_embedding,
 * down_blocks, controlnet_down_blocks…) load the same, from .safetensors or .pth/.ckpt.
 */
#pragma once

#include "lk-unet.h"

G_BEGIN_DECLS

#define LK_CONTROLNET_PREFIX "control_model."

/* Control image channels and the hint encoder's total down-sampling (pixels per latent). */
#define LK_CONTROLNET_HINT_CHANNELS 3
#define LK_CONTROLNET_HINT_FACTOR   8

typedef struct _LkControlNet LkControlNet;

#define LK_TYPE_CONTROLNET (lk_controlnet_get_type ())

GType               lk_controlnet_get_type       (void) G_GNUC_CONST;

/* Every tensor of a ControlNet of @config (out_channels is ignored), canonical names, in load
 * order; elements are LkUnetTensorSpec, freed with the array. */
GArray             *lk_controlnet_config_list_tensors (const LkUnetConfig *config);

/* Reads and uploads (recorded into @stream; the caller submits) a ControlNet. Channel counts come
 * from the shapes; SD2 (1024-wide context) and SDXL ControlNets are refused as unsupported, and
 * any tensor whose shape SD1.x does not give it is refused by name. */
LkControlNet       *lk_controlnet_new            (LkStream            *stream,
                                                  LkWeights           *weights,
                                                  GError             **error);
LkControlNet       *lk_controlnet_open           (LkStream            *stream,
                                                  const char          *path,
                                                  GError             **error);
LkControlNet       *lk_controlnet_ref            (LkControlNet        *self);
void                lk_controlnet_unref          (LkControlNet        *self);

const LkUnetConfig *lk_controlnet_get_config     (LkControlNet        *self);

/* x [B, in_channels, h, w], timesteps [B], context [B, n, context_dim] as the UNet gets them
 * (an inpainting UNet's caller passes the 4 latent channels only); hint [B or 1, 3, 8h, 8w], the
 * control image in [0, 1] (lk_controlnet_prepare_hint()). Fills @out with the 13 residuals, each
 * multiplied by @scales[i] (NULL: all 1), new f32 tensors. */
gboolean            lk_controlnet_forward        (LkControlNet        *self,
                                                  LkStream            *stream,
                                                  LkTensor            *x,
                                                  LkTensor            *timesteps,
                                                  LkTensor            *context,
                                                  LkTensor            *hint,
                                                  const float         *scales,
                                                  LkUnetResiduals     *out,
                                                  GError             **error);

/* A control image (8-bit RGB, rows @stride bytes apart) as a hint tensor [1, 3, height, width]
 * in [0, 1], resized first when its size differs — sd-webui-controlnet's "just resize",
 * lk_control_just_resize(): each axis stretched on its own, nearest neighbour for a map of 3 to
 * 199 flat colours, INTER_AREA when the pixel count shrinks, INTER_CUBIC otherwise, and a
 * black-and-white map (Canny edges) re-binarised after (Otsu; one-pixel lines thinned again). */
LkTensor           *lk_controlnet_prepare_hint   (LkStream            *stream,
                                                  const guint8        *rgb,
                                                  guint                image_width,
                                                  guint                image_height,
                                                  gsize                stride,
                                                  guint                width,
                                                  guint                height,
                                                  GError             **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LkControlNet, lk_controlnet_unref)

/* sd-webui-controlnet's control modes. */
typedef enum
{
  LK_CONTROL_MODE_BALANCED,  /* every residual × weight, on both halves of CFG */
  LK_CONTROL_MODE_PROMPT,    /* "My prompt is more important": residual i × weight · 0.825^(12 − i) */
  LK_CONTROL_MODE_CONTROL,   /* "ControlNet is more important": those soft weights, and the
                              * unconditional half of CFG gets no control at all */
} LkControlMode;

const char         *lk_control_mode_to_string    (LkControlMode        mode);
gboolean            lk_control_mode_from_string  (const char          *name,
                                                  LkControlMode       *mode);

/* One ControlNet as a generation uses it. */
typedef struct
{
  LkControlNet  *net;     /* borrowed */
  LkTensor      *hint;    /* borrowed: [1 or B, 3, 8h, 8w] in [0, 1] */
  float          weight;  /* "control weight", A1111's default 1 */
  float          start;   /* guidance start and end, fractions of the steps: 0 and 1 */
  float          end;
  LkControlMode  mode;
} LkControlUnit;

/* The 13 per-residual multipliers of @unit's mode for batch entries that are conditional
 * (@conditional) or unconditional. */
void                lk_control_unit_scales       (const LkControlUnit *unit,
                                                  gboolean             conditional,
                                                  float               *scales);
/* Whether @unit guides the step at @fraction = step / n_steps (A1111: not before start nor after
 * end). */
gboolean            lk_control_unit_is_active    (const LkControlUnit *unit,
                                                  float                fraction);

/* Runs every unit active at @fraction and sums their scaled residuals into @out (zero-initialise
 * it before the first call; what it holds is dropped first; all NULL when no unit is active, so
 * the UNet runs plain). @conditional[b] says which batch
 * entries of x carry the prompt (the others are CFG's unconditional half); NULL: all. */
gboolean            lk_control_units_apply       (const LkControlUnit *units,
                                                  guint                n_units,
                                                  LkStream            *stream,
                                                  LkTensor            *x,
                                                  LkTensor            *timesteps,
                                                  LkTensor            *context,
                                                  const gboolean      *conditional,
                                                  float                fraction,
                                                  LkUnetResiduals     *out,
                                                  GError             **error);

G_END_DECLS
