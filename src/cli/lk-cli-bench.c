/* lk-cli-bench.c: likeness-cli bench
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "lk-cli.h"

int
lk_cli_bench (int    argc,
              char **argv)
{
  return lk_cli_fail ("bench: not written yet");
}
