/* test-tokenizer.c: CLIP BPE against known ids, A1111 weighting and chunking
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The expected ids beyond the one in the issue were computed with an independent Python
 * transcription of CLIP's simple_tokenizer.py (re + unicodedata for \p{L} / \p{N}) over the
 * same vocabulary file.
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "lk-tokenizer.h"

static LkTokenizer *tokenizer;
static char *skip_reason;

/* ../shared/models/clip/… via LIKENESS_TEST_DATA (the shared folder) or the source tree. */
static char *
find_vocab (void)
{
  const char *data = g_getenv ("LIKENESS_TEST_DATA");
  const char *source = g_getenv ("LIKENESS_SOURCE_DIR");
  const char *rel = "models/clip/bpe_simple_vocab_16e6.txt.gz";
  g_autofree char *tried = NULL;

  if (data != NULL)
    {
      g_autofree char *path = g_build_filename (data, rel, NULL);

      if (g_file_test (path, G_FILE_TEST_EXISTS))
        return g_steal_pointer (&path);
      tried = g_steal_pointer (&path);
    }
  if (source != NULL)
    {
      g_autofree char *path = g_build_filename (source, "..", "shared", rel, NULL);

      if (g_file_test (path, G_FILE_TEST_EXISTS))
        return g_steal_pointer (&path);
      g_free (tried);
      tried = g_steal_pointer (&path);
    }
  skip_reason = g_strdup_printf ("CLIP vocabulary not found (%s); set LIKENESS_TEST_DATA to the "
                                 "shared folder", tried ? tried : rel);
  return NULL;
}

static gboolean
have_tokenizer (void)
{
  if (tokenizer == NULL)
    {
      g_test_skip (skip_reason);
      return FALSE;
    }
  return TRUE;
}

static void
assert_ids (const char   *text,
            const gint32 *expected,
            guint         n)
{
  g_autoptr(GArray) ids = lk_tokenizer_encode (tokenizer, text);

  if (ids->len != n || (n > 0 && memcmp (ids->data, expected, n * sizeof (gint32)) != 0))
    {
      g_autoptr(GString) got = g_string_new (NULL);

      for (guint i = 0; i < ids->len; i++)
        g_string_append_printf (got, " %d", g_array_index (ids, gint32, i));
      g_error ("“%s” → [%s ]", text, got->str);
    }
}

#define ASSERT_IDS(text, ...) \
  G_STMT_START { \
    static const gint32 expected_[] = { __VA_ARGS__ }; \
    assert_ids (text, expected_, G_N_ELEMENTS (expected_)); \
  } G_STMT_END

static void
test_tokenizer_known_ids (void)
{
  gint32 ids[LK_CLIP_CONTEXT];
  static const gint32 expected[] = { 49406, 320, 1125, 539, 320, 786, 267, 949, 3027, 49407 };

  if (!have_tokenizer ())
    return;
  lk_tokenizer_encode_padded (tokenizer, "a photo of a man, best quality", ids);
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    g_assert_cmpint (ids[i], ==, expected[i]);
  for (guint i = G_N_ELEMENTS (expected); i < LK_CLIP_CONTEXT; i++)
    g_assert_cmpint (ids[i], ==, LK_CLIP_END_TOKEN);

  g_assert_cmpstr (lk_tokenizer_get_token (tokenizer, 320), ==, "a</w>");
  g_assert_cmpstr (lk_tokenizer_get_token (tokenizer, 267), ==, ",</w>");
  g_assert_cmpstr (lk_tokenizer_get_token (tokenizer, 49406), ==, "<|startoftext|>");
  g_assert_cmpstr (lk_tokenizer_get_token (tokenizer, 49407), ==, "<|endoftext|>");
  g_assert_null (lk_tokenizer_get_token (tokenizer, 49408));
  /* The byte symbols come in bytes_to_unicode order: '!' first, then the printable Latin-1
   * range, then the unprintable bytes (0 → U+0100). */
  g_assert_cmpstr (lk_tokenizer_get_token (tokenizer, 0), ==, "!");
  g_assert_cmpstr (lk_tokenizer_get_token (tokenizer, 188), ==, "Ā");
  g_assert_cmpstr (lk_tokenizer_get_token (tokenizer, 256), ==, "!</w>");
}

static void
test_tokenizer_text (void)
{
  if (!have_tokenizer ())
    return;
  /* Digits one by one, punctuation runs, contractions, whitespace collapsed, lower case. */
  ASSERT_IDS ("It's 2024!!  Hello   World", 585, 568, 273, 271, 273, 275, 748, 3306, 1002);
  ASSERT_IDS ("don't we'll they're I'VE", 847, 713, 649, 1342, 889, 982, 328, 1200);
  ASSERT_IDS ("masterpiece, ultra-detailed 8k", 12066, 267, 8118, 268, 12609, 279, 330);
  /* Non-ASCII letters, CJK and an emoji go through the byte-level symbols. */
  ASSERT_IDS ("café naïve 東京 emoji 😀", 15304, 1097, 35689, 563, 48338, 21078, 361, 16327, 7334);
  /* html.unescape twice. */
  ASSERT_IDS ("&amp;lt;tag&amp;gt; x&y", 283, 3640, 285, 343, 261, 344);
  /* The special tokens are matched only where a token starts, as the original regex does. */
  ASSERT_IDS ("hello,<|endoftext|>", 3306, 11, 27, 347, 40786, 4160, 91, 285);
  ASSERT_IDS ("<|startoftext|>a", 49406, 320);
  ASSERT_IDS ("");
  ASSERT_IDS (" \t\n ");
}

static void
assert_same_ids (const char *a,
                 const char *b)
{
  g_autoptr(GArray) ids_a = lk_tokenizer_encode (tokenizer, a);
  g_autoptr(GArray) ids_b = lk_tokenizer_encode (tokenizer, b);

  if (ids_a->len != ids_b->len ||
      (ids_a->len > 0 && memcmp (ids_a->data, ids_b->data, ids_a->len * sizeof (gint32)) != 0))
    g_error ("“%s” and “%s” tokenize differently", a, b);
}

/* What ftfy.fix_text does before CLIP sees the text. */
static void
test_tokenizer_fix_text (void)
{
  if (!have_tokenizer ())
    return;
  assert_same_ids ("the man’s “best” hat", "the man's \"best\" hat");
  assert_same_ids ("ﬁne ﬂowers", "fine flowers");
  assert_same_ids ("ＡＢＣ　１２３！", "abc 123!");
  assert_same_ids ("cafe\xcc\x81", "café");
  assert_same_ids ("a\x01" "b\xef\xbb\xbf", "ab");
  assert_same_ids ("line\r\nbreak\u2028here", "line break here");
}

static void
test_tokenizer_truncates (void)
{
  g_autoptr(GString) text = g_string_new (NULL);
  gint32 ids[LK_CLIP_CONTEXT];

  if (!have_tokenizer ())
    return;
  for (guint i = 0; i < 100; i++)
    g_string_append (text, "a ");
  lk_tokenizer_encode_padded (tokenizer, text->str, ids);
  g_assert_cmpint (ids[0], ==, LK_CLIP_START_TOKEN);
  for (guint i = 1; i < 76; i++)
    g_assert_cmpint (ids[i], ==, 320);
  g_assert_cmpint (ids[76], ==, LK_CLIP_END_TOKEN);
}

typedef struct
{
  const char *text;
  float       weight;
} Expected;

static void
assert_parts (const char     *prompt,
              const Expected *expected,
              guint           n)
{
  g_autoptr(GArray) parts = lk_prompt_parse_attention (prompt);

  if (g_test_verbose ())
    for (guint i = 0; i < parts->len; i++)
      g_test_message ("%s: “%s” %g", prompt, g_array_index (parts, LkPromptPart, i).text,
                      g_array_index (parts, LkPromptPart, i).weight);
  g_assert_cmpuint (parts->len, ==, n);
  for (guint i = 0; i < n; i++)
    {
      LkPromptPart *part = &g_array_index (parts, LkPromptPart, i);

      g_assert_cmpstr (part->text, ==, expected[i].text);
      g_assert_cmpfloat_with_epsilon (part->weight, expected[i].weight, 1e-5);
    }
}

#define ASSERT_PARTS(prompt, ...) \
  G_STMT_START { \
    static const Expected expected_[] = { __VA_ARGS__ }; \
    assert_parts (prompt, expected_, G_N_ELEMENTS (expected_)); \
  } G_STMT_END

static void
test_prompt_attention (void)
{
  /* The examples of A1111's parse_prompt_attention docstring. */
  ASSERT_PARTS ("normal text", { "normal text", 1.0f });
  ASSERT_PARTS ("an (important) word", { "an ", 1.0f }, { "important", 1.1f }, { " word", 1.0f });
  ASSERT_PARTS ("(unbalanced", { "unbalanced", 1.1f });
  ASSERT_PARTS ("\\(literal\\]", { "(literal]", 1.0f });
  ASSERT_PARTS ("(unnecessary)(parens)", { "unnecessaryparens", 1.1f });
  ASSERT_PARTS ("a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).",
                { "a ", 1.0f }, { "house", 1.5730f }, { " ", 1.1f }, { "on", 1.0f },
                { " a ", 1.1f }, { "hill", 0.55f }, { ", sun, ", 1.1f }, { "sky", 1.4641f },
                { ".", 1.1f });
  /* Square brackets, weights without an opener, stray closers, colons that are text. */
  ASSERT_PARTS ("[word]", { "word", 1.0f / 1.1f });
  ASSERT_PARTS ("a:1.2) b] c)", { "a:1.2) b] c)", 1.0f });
  ASSERT_PARTS ("(a:b)", { "a:b", 1.1f });
  ASSERT_PARTS ("(a: 0.8 )", { "a", 0.8f });
  ASSERT_PARTS ("", { "", 1.0f });
  ASSERT_PARTS ("a BREAK b", { "a", 1.0f }, { "BREAK", -1.0f }, { "b", 1.0f });
  ASSERT_PARTS ("BREAKFAST", { "BREAKFAST", 1.0f });
}

static void
test_prompt_chunks (void)
{
  g_autoptr(GString) text = g_string_new (NULL);
  gint32 a, b;

  if (!have_tokenizer ())
    return;
  a = lk_tokenizer_lookup (tokenizer, "a</w>");
  b = lk_tokenizer_lookup (tokenizer, "b</w>");
  g_assert_cmpint (a, ==, 320);

  /* Empty prompt: one chunk of start and end tokens. */
  {
    g_autoptr(LkPromptTokens) t = lk_tokenizer_encode_prompt (tokenizer, "");

    g_assert_cmpuint (t->n_chunks, ==, 1);
    g_assert_cmpuint (t->n_tokens, ==, 0);
    g_assert_cmpint (t->ids[0], ==, LK_CLIP_START_TOKEN);
    for (guint i = 1; i < LK_CLIP_CONTEXT; i++)
      g_assert_cmpint (t->ids[i], ==, LK_CLIP_END_TOKEN);
  }

  /* Weights follow their tokens; start, end and padding keep 1. */
  {
    g_autoptr(LkPromptTokens) t = lk_tokenizer_encode_prompt (tokenizer, "(a:1.5) [b]");

    g_assert_cmpuint (t->n_chunks, ==, 1);
    g_assert_cmpint (t->ids[1], ==, a);
    g_assert_cmpint (t->ids[2], ==, b);
    g_assert_cmpint (t->ids[3], ==, LK_CLIP_END_TOKEN);
    g_assert_cmpfloat_with_epsilon (t->weights[0], 1.0f, 1e-6);
    g_assert_cmpfloat_with_epsilon (t->weights[1], 1.5f, 1e-6);
    g_assert_cmpfloat_with_epsilon (t->weights[2], 1.0f / 1.1f, 1e-6);
    g_assert_cmpfloat_with_epsilon (t->weights[3], 1.0f, 1e-6);
  }

  /* 80 tokens: 75 + 5. */
  for (guint i = 0; i < 80; i++)
    g_string_append (text, "a ");
  {
    g_autoptr(LkPromptTokens) t = lk_tokenizer_encode_prompt (tokenizer, text->str);

    g_assert_cmpuint (t->n_chunks, ==, 2);
    g_assert_cmpuint (t->n_tokens, ==, 80);
    for (guint c = 0; c < 2; c++)
      {
        g_assert_cmpint (t->ids[c * 77], ==, LK_CLIP_START_TOKEN);
        g_assert_cmpint (t->ids[c * 77 + 76], ==, LK_CLIP_END_TOKEN);
      }
    g_assert_cmpint (t->ids[75], ==, a);
    g_assert_cmpint (t->ids[77 + 5], ==, a);
    g_assert_cmpint (t->ids[77 + 6], ==, LK_CLIP_END_TOKEN);
  }

  /* Exactly 75 tokens: one chunk, no empty second one. */
  g_string_truncate (text, 0);
  for (guint i = 0; i < 75; i++)
    g_string_append (text, "a ");
  {
    g_autoptr(LkPromptTokens) t = lk_tokenizer_encode_prompt (tokenizer, text->str);

    g_assert_cmpuint (t->n_chunks, ==, 1);
    g_assert_cmpint (t->ids[75], ==, a);
  }

  /* 70 a, a comma, 10 b: the chunk fills at the 4th b, within 20 tokens of the comma, so the
   * four b move to the second chunk. */
  g_string_truncate (text, 0);
  for (guint i = 0; i < 70; i++)
    g_string_append (text, "a ");
  g_string_append (text, ", b b b b b b b b b b");
  {
    g_autoptr(LkPromptTokens) t = lk_tokenizer_encode_prompt (tokenizer, text->str);

    g_assert_cmpuint (t->n_chunks, ==, 2);
    g_assert_cmpint (t->ids[70], ==, a);
    g_assert_cmpint (t->ids[71], ==, 267);
    for (guint i = 72; i < 77; i++)
      g_assert_cmpint (t->ids[i], ==, LK_CLIP_END_TOKEN);
    for (guint i = 1; i <= 10; i++)
      g_assert_cmpint (t->ids[77 + i], ==, b);
    g_assert_cmpint (t->ids[77 + 11], ==, LK_CLIP_END_TOKEN);
  }

  /* A comma further back than 20 tokens is not used. */
  g_string_truncate (text, 0);
  for (guint i = 0; i < 50; i++)
    g_string_append (text, "a ");
  g_string_append (text, ",");
  for (guint i = 0; i < 30; i++)
    g_string_append (text, " b");
  {
    g_autoptr(LkPromptTokens) t = lk_tokenizer_encode_prompt (tokenizer, text->str);

    g_assert_cmpuint (t->n_chunks, ==, 2);
    g_assert_cmpint (t->ids[75], ==, b);
    g_assert_cmpint (t->ids[77 + 1], ==, b);
    g_assert_cmpint (t->ids[77 + 7], ==, LK_CLIP_END_TOKEN);
  }

  /* BREAK pads the chunk and starts another. */
  {
    g_autoptr(LkPromptTokens) t = lk_tokenizer_encode_prompt (tokenizer, "a BREAK b");

    g_assert_cmpuint (t->n_chunks, ==, 2);
    g_assert_cmpint (t->ids[1], ==, a);
    g_assert_cmpint (t->ids[2], ==, LK_CLIP_END_TOKEN);
    g_assert_cmpint (t->ids[78], ==, b);
  }
}

static void
test_tokenizer_bad_file (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("lk-tokenizer-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "vocab.txt", NULL);
  g_autoptr(LkTokenizer) bad = NULL;

  g_assert_true (g_file_set_contents (path, "#version: 0.2\na b\n", -1, NULL));
  bad = lk_tokenizer_new_from_file (path, &error);
  g_assert_null (bad);
  g_assert_error (error, LK_TOKENIZER_ERROR, LK_TOKENIZER_ERROR_CORRUPT);
  g_assert_nonnull (strstr (error->message, path));
  g_clear_error (&error);
  g_unlink (path);
  g_rmdir (dir);

  bad = lk_tokenizer_new_from_file ("/nonexistent/vocab.txt.gz", &error);
  g_assert_null (bad);
  g_assert_error (error, LK_TOKENIZER_ERROR, LK_TOKENIZER_ERROR_FAILED);
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *vocab = NULL;
  int ret;

  g_test_init (&argc, &argv, NULL);
  vocab = find_vocab ();
  if (vocab != NULL)
    {
      g_autoptr(GError) error = NULL;

      tokenizer = lk_tokenizer_new_from_file (vocab, &error);
      g_assert_no_error (error);
    }
  g_test_add_func ("/tokenizer/known-ids", test_tokenizer_known_ids);
  g_test_add_func ("/tokenizer/text", test_tokenizer_text);
  g_test_add_func ("/tokenizer/fix-text", test_tokenizer_fix_text);
  g_test_add_func ("/tokenizer/truncates", test_tokenizer_truncates);
  g_test_add_func ("/tokenizer/bad-file", test_tokenizer_bad_file);
  g_test_add_func ("/prompt/attention", test_prompt_attention);
  g_test_add_func ("/prompt/chunks", test_prompt_chunks);
  ret = g_test_run ();
  g_clear_pointer (&tokenizer, lk_tokenizer_unref);
  g_free (skip_reason);
  return ret;
}
