/* lk-tokenizer.h: the CLIP BPE tokenizer and A1111 prompt weighting
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define LK_CLIP_START_TOKEN 49406   /* <|startoftext|> */
#define LK_CLIP_END_TOKEN   49407   /* <|endoftext|>, also the padding in SD1.x */
#define LK_CLIP_VOCAB_SIZE  49408
#define LK_CLIP_CONTEXT     77
#define LK_CLIP_CHUNK       75      /* tokens between start and end */

#define LK_TOKENIZER_ERROR (lk_tokenizer_error_quark ())

typedef enum
{
  LK_TOKENIZER_ERROR_FAILED,
  LK_TOKENIZER_ERROR_CORRUPT,
} LkTokenizerError;

GQuark lk_tokenizer_error_quark (void);

typedef struct _LkTokenizer LkTokenizer;

#define LK_TYPE_TOKENIZER (lk_tokenizer_get_type ())

GType         lk_tokenizer_get_type      (void) G_GNUC_CONST;

/* Loads bpe_simple_vocab_16e6.txt.gz (gzip, or plain text). */
LkTokenizer  *lk_tokenizer_new_from_file (const char    *path,
                                          GError       **error);
LkTokenizer  *lk_tokenizer_ref           (LkTokenizer   *self);
void          lk_tokenizer_unref         (LkTokenizer   *self);

/* Token ids of text as CLIP's simple_tokenizer encodes it: html unescaping, whitespace clean-up,
 * lower case, the pre-tokenizer regex, byte-level BPE. No start/end tokens. Thread-safe. */
GArray       *lk_tokenizer_encode        (LkTokenizer   *self,
                                          const char    *text);
/* start, at most 75 tokens of text, end, then end tokens up to 77. */
void          lk_tokenizer_encode_padded (LkTokenizer   *self,
                                          const char    *text,
                                          gint32         ids[LK_CLIP_CONTEXT]);
/* The vocabulary entry of one id ("photo</w>"), or NULL when out of range. */
const char   *lk_tokenizer_get_token     (LkTokenizer   *self,
                                          gint32         id);
/* Id of one vocabulary entry, or -1. */
gint32        lk_tokenizer_lookup        (LkTokenizer   *self,
                                          const char    *token);

/* A1111 attention syntax: "(word)" ×1.1, "[word]" ÷1.1, "(word:1.3)", "\(" for a literal
 * bracket, unbalanced openers closed at the end; "BREAK" starts a new chunk (weight < 0). */
typedef struct
{
  char   *text;
  float   weight;
} LkPromptPart;

/* Array of LkPromptPart (texts freed with the array); adjacent parts of equal weight are merged;
 * never empty. */
GArray       *lk_prompt_parse_attention  (const char    *prompt);

typedef struct
{
  guint    n_chunks;
  gint32  *ids;       /* n_chunks × 77 */
  float   *weights;   /* n_chunks × 77, 1 for start, end and padding */
  guint    n_tokens;  /* prompt tokens, as A1111 counts them */
} LkPromptTokens;

/* The whole prompt in 75-token chunks, each wrapped in start/end and padded: A1111's rules,
 * including moving the text after the last comma to the next chunk when that comma is within the
 * last 20 tokens of a full chunk. */
LkPromptTokens *lk_tokenizer_encode_prompt (LkTokenizer    *self,
                                            const char     *prompt);
void            lk_prompt_tokens_free      (LkPromptTokens *tokens);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LkTokenizer, lk_tokenizer_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LkPromptTokens, lk_prompt_tokens_free)

G_END_DECLS
