/* lk-pickle.h: a restricted reader for PyTorch .ckpt / .pth / .bin files
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * torch.save writes a zip whose data.pkl is a pickle of (nested) dicts of tensors, the tensor
 * bytes living in data/<key> entries. This reader interprets only the opcodes that such a pickle
 * uses and the globals that rebuild tensors (torch._utils._rebuild_tensor_v2,
 * torch._utils._rebuild_parameter, collections.OrderedDict, torch.*Storage), plus a few inert
 * data types that training checkpoints carry beside the weights (numpy scalars, Lightning's
 * ModelCheckpoint state), which become opaque values and are skipped. Any other global is refused
 * with an error naming it. Nothing is ever executed.
 */
#pragma once

#include "lk-weights.h"

G_BEGIN_DECLS

/* The tensors of the checkpoint; a top-level "state_dict" dict is used when there is one, and
 * nested dicts of tensors become dotted names. Non-tensor values (epoch, global_step) are
 * skipped. */
LkWeights *lk_pickle_open (const char  *path,
                           GError     **error);

G_END_DECLS
