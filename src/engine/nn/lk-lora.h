/* lk-lora.h: LoRA adapters — kohya/A1111 and diffusers/PEFT files, merge into device weights,
 * exact unmerge, kohya output
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * An adapter changes one weight W [out, in] (Linear) or [out, in, kh, kw] (conv) by
 *   ΔW = strength · (alpha / rank) · up · down,   down [rank, in(, kh, kw)], up [out, rank(, 1, 1)]
 * and is keyed by the canonical (LDM) name of W, as lk-model-kind.h defines them. Kohya names
 * (lora_unet_…, lora_te_…) are resolved against the weights a model actually has, whether they
 * were derived from LDM module names (A1111) or from diffusers ones; diffusers/PEFT names
 * (lora_A / lora_B) go through the diffusers → LDM mapping of lk-model-kind.
 *
 * Targets are a GHashTable of canonical name → LkTensor * (f16 or f32, contiguous), which the
 * UNet and text encoder hand in; one table may hold both.
 */
#pragma once

#include "lk-model-kind.h"
#include "lk-tensor.h"

G_BEGIN_DECLS

#define LK_LORA_ERROR (lk_lora_error_quark ())

typedef enum
{
  LK_LORA_ERROR_FORMAT,    /* not a LoRA file, or an adapter lacks a factor or is inconsistent */
  LK_LORA_ERROR_NO_MATCH,  /* none of its adapters modifies a weight of this model */
  LK_LORA_ERROR_SHAPE,     /* an adapter's factors do not fit the weight it names */
} LkLoraError;

GQuark lk_lora_error_quark (void);

typedef enum
{
  LK_LORA_FORMAT_KOHYA,    /* lora_unet_… .lora_down.weight / .lora_up.weight / .alpha */
  LK_LORA_FORMAT_PEFT,     /* [unet.|text_encoder.|base_model.model.]… .lora_A.weight / .lora_B.weight */
} LkLoraFormat;

#define LK_LORA_KOHYA_UNET_PREFIX "lora_unet_"
#define LK_LORA_KOHYA_TEXT_PREFIX "lora_te_"

typedef struct
{
  char    *key;            /* the module as the file names it, without the factor suffix */
  char    *target;         /* canonical weight name; NULL until matched */
  guint    rank;
  float    alpha;          /* the rank itself when the file stores none (scale 1) */
  guint    down_ndim;
  gint64   down_shape[4];  /* [rank, in] or [rank, in, kh, kw] */
  float   *down;
  guint    up_ndim;
  gint64   up_shape[4];    /* [out, rank] or [out, rank, 1, 1] */
  float   *up;
} LkLoraAdapter;

typedef struct _LkLora LkLora;

#define LK_TYPE_LORA (lk_lora_get_type ())

GType                lk_lora_get_type         (void) G_GNUC_CONST;

/* An empty LoRA (kohya format) that lk_lora_add() fills, for training and averaging. */
LkLora              *lk_lora_new              (void);
LkLora              *lk_lora_open             (const char       *path,
                                               GError          **error);
LkLora              *lk_lora_new_from_weights (LkWeights        *weights,
                                               GError          **error);
LkLora              *lk_lora_ref              (LkLora           *self);
void                 lk_lora_unref            (LkLora           *self);

LkLoraFormat         lk_lora_get_format       (LkLora           *self);
/* The file's safetensors metadata (ss_network_dim…), borrowed; empty for a new LoRA. */
GHashTable          *lk_lora_get_metadata     (LkLora           *self);
guint                lk_lora_get_n_adapters   (LkLora           *self);
const LkLoraAdapter *lk_lora_get_adapter      (LkLora           *self,
                                               guint             index);
/* By canonical weight name, after lk_lora_match() (or for adapters added by lk_lora_add()). */
const LkLoraAdapter *lk_lora_lookup           (LkLora           *self,
                                               const char       *target);

/* Adds an adapter for the canonical weight @target; the factors are copied. */
gboolean             lk_lora_add              (LkLora           *self,
                                               const char       *target,
                                               float             alpha,
                                               guint             down_ndim,
                                               const gint64     *down_shape,
                                               const float      *down,
                                               guint             up_ndim,
                                               const gint64     *up_shape,
                                               const float      *up,
                                               GError          **error);

/* Resolves every adapter against @targets (canonical name → LkTensor *) and checks its shapes.
 * Keys that name no weight there are returned in @unmatched (file keys, newly allocated array;
 * may be NULL). Fails with LK_LORA_ERROR_NO_MATCH when no adapter matches (a LoRA for another
 * architecture), LK_LORA_ERROR_SHAPE naming the key when one does not fit its weight. */
gboolean             lk_lora_match            (LkLora           *self,
                                               GHashTable       *targets,
                                               GPtrArray       **unmatched,
                                               GError          **error);

/* Canonical LDM weight name → kohya module name (lora_unet_… / lora_te_…), or NULL for a
 * weight outside the UNet and text encoder. */
char                *lk_lora_kohya_name       (const char       *target);

/* Writes a kohya-format safetensors file (lora_down/lora_up in @dtype, LK_WEIGHT_F16 or
 * LK_WEIGHT_F32; alpha as a scalar of the same dtype) with ss_network_dim, ss_network_alpha,
 * ss_network_module, ss_base_model_version and the entries of @metadata (may be NULL). Every
 * adapter must have a target. */
gboolean             lk_lora_save             (LkLora           *self,
                                               const char       *path,
                                               LkWeightDType     dtype,
                                               GHashTable       *metadata,
                                               GError          **error);

/* Merging several LoRAs into device weights, and undoing it exactly. */
typedef struct _LkLoraMerge LkLoraMerge;

/* Matches each LoRA against @targets (lk_lora_match()), keeps a host copy of the original bits of
 * every weight it changes, and records into @stream, per weight, one f32 GEMM of the stacked
 * factors (each up scaled by strength · alpha / rank) and its addition into the weight. */
LkLoraMerge         *lk_lora_merge            (LkStream         *stream,
                                               GHashTable       *targets,
                                               LkLora          **loras,
                                               const float      *strengths,
                                               guint             n_loras,
                                               GError          **error);
/* Names of the weights changed, borrowed. */
GPtrArray           *lk_lora_merge_get_targets (LkLoraMerge     *self);
/* Restores every changed weight to its original bits (records uploads into @stream). */
gboolean             lk_lora_merge_restore    (LkLoraMerge      *self,
                                               LkStream         *stream,
                                               GError          **error);
void                 lk_lora_merge_free       (LkLoraMerge      *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LkLora, lk_lora_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LkLoraMerge, lk_lora_merge_free)

G_END_DECLS
