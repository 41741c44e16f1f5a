/* lk-tokenizer.c: the CLIP BPE tokenizer and A1111 prompt weighting
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Follows OpenAI CLIP's simple_tokenizer.py. Of ftfy.fix_text it does what changes real prompts:
 * curly quotes made straight, Latin ligatures and full-width forms expanded, control characters
 * dropped, NFC; not its mojibake repair. html.unescape knows the common named entities and all
 * numeric ones, not the whole HTML5 table. Lower-casing is g_utf8_strdown and \s is
 * g_unichar_isspace, which agree with Python on everything a prompt is likely to hold.
 * (Hugging Face's CLIPTokenizer, which A1111 uses, skips the html unescaping.)
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "lk-tokenizer.h"

#define N_MERGES (49152 - 256 - 2)
#define ROUND_MULTIPLIER 1.1
#define COMMA_BACKTRACK 20

G_DEFINE_QUARK (lk-tokenizer-error-quark, lk_tokenizer_error)

struct _LkTokenizer
{
  gatomicrefcount  ref_count;
  char            *byte_symbol[256];  /* UTF-8 of the unicode stand-in for each byte */
  GPtrArray       *vocab;             /* id → token */
  GHashTable      *encoder;           /* token → id + 1 */
  GHashTable      *ranks;             /* "first second" → rank + 1 */
  GMutex           cache_lock;
  GHashTable      *cache;             /* word → GArray of ids */
  gint32           comma;
};

G_DEFINE_BOXED_TYPE (LkTokenizer, lk_tokenizer, lk_tokenizer_ref, lk_tokenizer_unref)

static char *
read_maybe_gzipped (const char  *path,
                    GError     **error)
{
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GInputStream) raw = NULL;
  g_autoptr(GInputStream) stream = NULL;
  g_autoptr(GOutputStream) out = NULL;
  guint8 magic[2] = { 0 };
  gsize got = 0;

  raw = G_INPUT_STREAM (g_file_read (file, NULL, error));
  if (raw == NULL)
    return NULL;
  if (!g_input_stream_read_all (raw, magic, 2, &got, NULL, error) ||
      !g_seekable_seek (G_SEEKABLE (raw), 0, G_SEEK_SET, NULL, error))
    return NULL;
  if (got == 2 && magic[0] == 0x1f && magic[1] == 0x8b)
    {
      g_autoptr(GZlibDecompressor) gunzip = g_zlib_decompressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP);

      stream = g_converter_input_stream_new (raw, G_CONVERTER (gunzip));
    }
  else
    stream = g_object_ref (raw);
  out = g_memory_output_stream_new_resizable ();
  if (g_output_stream_splice (out, stream, G_OUTPUT_STREAM_SPLICE_CLOSE_SOURCE |
                                           G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET, NULL, error) < 0)
    return NULL;
  /* NUL-terminate. */
  {
    GMemoryOutputStream *mem = G_MEMORY_OUTPUT_STREAM (out);
    gsize size = g_memory_output_stream_get_data_size (mem);
    char *data = g_memory_output_stream_steal_data (mem);

    data = g_realloc (data, size + 1);
    data[size] = '\0';
    return data;
  }
}

static void
add_token (LkTokenizer *self,
           char        *token)
{
  g_ptr_array_add (self->vocab, token);
  /* The first id of a duplicate wins, as dict(zip()) would keep the last; there are none. */
  g_hash_table_replace (self->encoder, token, GINT_TO_POINTER (self->vocab->len));
}

LkTokenizer *
lk_tokenizer_new_from_file (const char  *path,
                            GError     **error)
{
  g_autoptr(LkTokenizer) self = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *text = NULL;
  const char *line;
  guint8 order[256];
  guint n = 0, extra = 0;
  gboolean printable[256] = { FALSE };

  g_return_val_if_fail (path != NULL, NULL);

  text = read_maybe_gzipped (path, &local_error);
  if (text == NULL)
    {
      g_set_error (error, LK_TOKENIZER_ERROR, LK_TOKENIZER_ERROR_FAILED,
                   "%s: %s", path, local_error->message);
      return NULL;
    }
  if (!g_utf8_validate (text, -1, NULL))
    {
      g_set_error (error, LK_TOKENIZER_ERROR, LK_TOKENIZER_ERROR_CORRUPT,
                   "%s: the vocabulary is not UTF-8", path);
      return NULL;
    }
  self = g_new0 (LkTokenizer, 1);
  g_atomic_ref_count_init (&self->ref_count);
  g_mutex_init (&self->cache_lock);
  self->vocab = g_ptr_array_new_with_free_func (g_free);
  self->encoder = g_hash_table_new (g_str_hash, g_str_equal);
  self->ranks = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->cache = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                       (GDestroyNotify) g_array_unref);

  /* bytes_to_unicode: printable Latin-1 bytes stand for themselves, the rest map to 256 + n;
   * the vocabulary lists the printable ones first. */
  for (guint b = '!'; b <= '~'; b++)
    printable[b] = TRUE;
  for (guint b = 0xa1; b <= 0xac; b++)
    printable[b] = TRUE;
  for (guint b = 0xae; b <= 0xff; b++)
    printable[b] = TRUE;
  for (guint b = 0; b < 256; b++)
    if (printable[b])
      {
        self->byte_symbol[b] = g_malloc0 (8);
        g_unichar_to_utf8 (b, self->byte_symbol[b]);
        order[n++] = b;
      }
  for (guint b = 0; b < 256; b++)
    if (!printable[b])
      {
        self->byte_symbol[b] = g_malloc0 (8);
        g_unichar_to_utf8 (256 + extra++, self->byte_symbol[b]);
        order[n++] = b;
      }
  for (guint i = 0; i < 256; i++)
    add_token (self, g_strdup (self->byte_symbol[order[i]]));
  for (guint i = 0; i < 256; i++)
    add_token (self, g_strconcat (self->byte_symbol[order[i]], "</w>", NULL));

  /* Line 0 is a version header; merges 1..N_MERGES follow, in rank order. */
  line = strchr (text, '\n');
  for (guint i = 1; i <= N_MERGES; i++)
    {
      const char *end, *space;
      g_autofree char *merge = NULL;
      char *first;

      if (line == NULL)
        {
          g_set_error (error, LK_TOKENIZER_ERROR, LK_TOKENIZER_ERROR_CORRUPT,
                       "%s: %u lines, a CLIP vocabulary has at least %u", path, i, N_MERGES + 1);
          return NULL;
        }
      line++;
      end = strchr (line, '\n');
      merge = end != NULL ? g_strndup (line, end - line) : g_strdup (line);
      g_strchomp (merge);
      space = strchr (merge, ' ');
      if (space == NULL || space == merge || space[1] == '\0' || strchr (space + 1, ' ') != NULL)
        {
          g_set_error (error, LK_TOKENIZER_ERROR, LK_TOKENIZER_ERROR_CORRUPT,
                       "%s:%u: a merge is two symbols separated by a space", path, i + 1);
          return NULL;
        }
      /* The merged token is the pair without its space. */
      add_token (self, g_strconcat (first = g_strndup (merge, space - merge), space + 1, NULL));
      g_free (first);
      g_hash_table_insert (self->ranks, g_steal_pointer (&merge), GUINT_TO_POINTER (i));
      line = end;
    }
  add_token (self, g_strdup ("<|startoftext|>"));
  add_token (self, g_strdup ("<|endoftext|>"));
  g_assert (self->vocab->len == LK_CLIP_VOCAB_SIZE);
  self->comma = lk_tokenizer_lookup (self, ",</w>");
  return g_steal_pointer (&self);
}

LkTokenizer *
lk_tokenizer_ref (LkTokenizer *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
lk_tokenizer_unref (LkTokenizer *self)
{
  g_return_if_fail (self != NULL);
  if (!g_atomic_ref_count_dec (&self->ref_count))
    return;
  for (guint b = 0; b < 256; b++)
    g_free (self->byte_symbol[b]);
  g_clear_pointer (&self->encoder, g_hash_table_unref);
  g_clear_pointer (&self->vocab, g_ptr_array_unref);
  g_clear_pointer (&self->ranks, g_hash_table_unref);
  g_clear_pointer (&self->cache, g_hash_table_unref);
  g_mutex_clear (&self->cache_lock);
  g_free (self);
}

const char *
lk_tokenizer_get_token (LkTokenizer *self,
                        gint32       id)
{
  g_return_val_if_fail (self != NULL, NULL);
  if (id < 0 || (guint) id >= self->vocab->len)
    return NULL;
  return g_ptr_array_index (self->vocab, id);
}

gint32
lk_tokenizer_lookup (LkTokenizer *self,
                     const char  *token)
{
  g_return_val_if_fail (self != NULL, -1);
  return GPOINTER_TO_INT (g_hash_table_lookup (self->encoder, token)) - 1;
}

/* ---- text clean-up ------------------------------------------------------------------------ */

static const struct
{
  const char *name;
  gunichar    c;
} entities[] = {
  { "amp", '&' }, { "lt", '<' }, { "gt", '>' }, { "quot", '"' }, { "apos", '\'' },
  { "nbsp", 0xa0 }, { "copy", 0xa9 }, { "reg", 0xae }, { "hellip", 0x2026 },
  { "mdash", 0x2014 }, { "ndash", 0x2013 }, { "lsquo", 0x2018 }, { "rsquo", 0x2019 },
  { "ldquo", 0x201c }, { "rdquo", 0x201d }, { "times", 0xd7 }, { "deg", 0xb0 },
};

/* html.unescape for numeric references and the entities above. */
static char *
html_unescape (const char *text)
{
  GString *out = g_string_new (NULL);
  const char *p = text;

  while (*p != '\0')
    {
      const char *amp = strchr (p, '&');
      const char *end;
      gboolean done = FALSE;

      if (amp == NULL)
        {
          g_string_append (out, p);
          break;
        }
      g_string_append_len (out, p, amp - p);
      p = amp;
      if (p[1] == '#')
        {
          gboolean hex = p[2] == 'x' || p[2] == 'X';
          const char *digits = p + (hex ? 3 : 2);
          guint64 value = 0;

          end = digits;
          while (hex ? g_ascii_isxdigit (*end) : g_ascii_isdigit (*end))
            {
              value = value * (hex ? 16 : 10) + (hex ? g_ascii_xdigit_value (*end) :
                                                       g_ascii_digit_value (*end));
              value = MIN (value, 0x110000);
              end++;
            }
          if (end > digits)
            {
              gunichar c = value;

              if (c == 0 || c >= 0x110000 || (c >= 0xd800 && c <= 0xdfff))
                c = 0xfffd;
              g_string_append_unichar (out, c);
              p = *end == ';' ? end + 1 : end;
              done = TRUE;
            }
        }
      else
        {
          for (guint i = 0; i < G_N_ELEMENTS (entities) && !done; i++)
            {
              gsize len = strlen (entities[i].name);

              if (strncmp (p + 1, entities[i].name, len) == 0 && p[1 + len] == ';')
                {
                  g_string_append_unichar (out, entities[i].c);
                  p += len + 2;
                  done = TRUE;
                }
            }
        }
      if (!done)
        {
          g_string_append_c (out, '&');
          p++;
        }
    }
  return g_string_free (out, FALSE);
}

static gboolean
is_space (gunichar c)
{
  return g_unichar_isspace (c) || c == 0x85 || (c >= 0x1c && c <= 0x1f);
}

static gboolean
is_letter (gunichar c)
{
  return g_unichar_isalpha (c);
}

static gboolean
is_number (gunichar c)
{
  GUnicodeType type = g_unichar_type (c);

  return type == G_UNICODE_DECIMAL_NUMBER || type == G_UNICODE_LETTER_NUMBER ||
         type == G_UNICODE_OTHER_NUMBER;
}

/* The parts of ftfy.fix_text's defaults that do not guess at encodings: fix_latin_ligatures,
 * fix_character_width, uncurl_quotes, remove_control_chars, then NFC. */
static char *
fix_text (const char *text)
{
  g_autoptr(GString) out = g_string_new (NULL);

  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if ((c <= 0x08) || c == 0x0b || (c >= 0x0e && c <= 0x1f) || c == 0x7f ||
          (c >= 0x206a && c <= 0x206f) || c == 0xfeff || (c >= 0xfff9 && c <= 0xfffc) ||
          (c >= 0x1d173 && c <= 0x1d17a) || (c >= 0xe0000 && c <= 0xe007f))
        continue;
      if (c == 0x02bc || (c >= 0x2018 && c <= 0x201b))
        g_string_append_c (out, '\'');
      else if (c >= 0x201c && c <= 0x201f)
        g_string_append_c (out, '"');
      else if (c == 0x3000)
        g_string_append_c (out, ' ');
      else if (c == 0xfb05)
        g_string_append (out, "ſt");
      else if (c == 0x0132 || c == 0x0133 || c == 0x0149 || (c >= 0x01c4 && c <= 0x01cc) ||
               (c >= 0xfb00 && c <= 0xfb06) || (c >= 0xff01 && c <= 0xffee))
        {
          g_autofree char *expanded = g_utf8_normalize (p, g_utf8_next_char (p) - p,
                                                        G_NORMALIZE_NFKC);

          g_string_append (out, expanded != NULL ? expanded : "");
        }
      else
        g_string_append_unichar (out, c);
    }
  return g_utf8_normalize (out->str, out->len, G_NORMALIZE_NFC);
}

/* whitespace_clean(basic_clean(text)).lower() */
static char *
clean_text (const char *text)
{
  g_autofree char *valid = g_utf8_make_valid (text, -1);
  g_autofree char *fixed = fix_text (valid);
  g_autofree char *once = html_unescape (fixed);
  g_autofree char *twice = html_unescape (once);
  g_autoptr(GString) collapsed = g_string_new (NULL);
  gboolean pending_space = FALSE;

  for (const char *p = twice; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (is_space (c))
        {
          pending_space = collapsed->len > 0;
          continue;
        }
      if (pending_space)
        g_string_append_c (collapsed, ' ');
      pending_space = FALSE;
      g_string_append_unichar (collapsed, c);
    }
  return g_utf8_strdown (collapsed->str, collapsed->len);
}

/* ---- BPE ---------------------------------------------------------------------------------- */

static void
bpe_word (LkTokenizer *self,
          const char  *word,
          GArray      *ids)
{
  g_autoptr(GPtrArray) symbols = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GString) pair = g_string_new (NULL);
  GArray *cached;
  gsize before = ids->len;

  g_mutex_lock (&self->cache_lock);
  cached = g_hash_table_lookup (self->cache, word);
  if (cached != NULL)
    g_array_append_vals (ids, cached->data, cached->len);
  g_mutex_unlock (&self->cache_lock);
  if (cached != NULL)
    return;

  /* One symbol per byte; the last carries the end-of-word mark. */
  for (const guint8 *p = (const guint8 *) word; *p != '\0'; p++)
    g_ptr_array_add (symbols, g_strconcat (self->byte_symbol[*p], p[1] == '\0' ? "</w>" : "",
                                           NULL));

  while (symbols->len > 1)
    {
      guint best_rank = G_MAXUINT, best = 0;
      const char *first, *second;
      g_autoptr(GPtrArray) merged = NULL;

      for (guint i = 0; i + 1 < symbols->len; i++)
        {
          guint rank;

          g_string_printf (pair, "%s %s", (char *) symbols->pdata[i],
                           (char *) symbols->pdata[i + 1]);
          rank = GPOINTER_TO_UINT (g_hash_table_lookup (self->ranks, pair->str));
          if (rank != 0 && rank < best_rank)
            {
              best_rank = rank;
              best = i;
            }
        }
      if (best_rank == G_MAXUINT)
        break;
      first = symbols->pdata[best];
      second = symbols->pdata[best + 1];
      merged = g_ptr_array_new_with_free_func (g_free);
      for (guint i = 0; i < symbols->len;)
        {
          if (i + 1 < symbols->len && g_str_equal (symbols->pdata[i], first) &&
              g_str_equal (symbols->pdata[i + 1], second))
            {
              g_ptr_array_add (merged, g_strconcat (first, second, NULL));
              i += 2;
            }
          else
            {
              g_ptr_array_add (merged, g_strdup (symbols->pdata[i]));
              i++;
            }
        }
      g_ptr_array_unref (symbols);
      symbols = g_steal_pointer (&merged);
    }

  for (guint i = 0; i < symbols->len; i++)
    {
      gint32 id = lk_tokenizer_lookup (self, symbols->pdata[i]);

      /* Every byte and byte</w> is in the vocabulary, and every merge result too. */
      g_assert (id >= 0);
      g_array_append_val (ids, id);
    }

  g_mutex_lock (&self->cache_lock);
  if (g_hash_table_size (self->cache) < 100000 && !g_hash_table_contains (self->cache, word))
    {
      GArray *copy = g_array_sized_new (FALSE, FALSE, sizeof (gint32), ids->len - before);

      g_array_append_vals (copy, &g_array_index (ids, gint32, before), ids->len - before);
      g_hash_table_insert (self->cache, g_strdup (word), copy);
    }
  g_mutex_unlock (&self->cache_lock);
}

/* The pre-tokenizer pattern of simple_tokenizer.py, by hand:
 * <|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+ */
GArray *
lk_tokenizer_encode (LkTokenizer *self,
                     const char  *text)
{
  static const char *contractions[] = { "'s", "'t", "'re", "'ve", "'m", "'ll", "'d" };
  g_autofree char *clean = NULL;
  GArray *ids;
  const char *p;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (text != NULL, NULL);

  ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  clean = clean_text (text);
  p = clean;
  while (*p != '\0')
    {
      gunichar c = g_utf8_get_char (p);
      const char *end = NULL;
      g_autofree char *word = NULL;

      if (is_space (c))
        {
          p = g_utf8_next_char (p);
          continue;
        }
      if (g_str_has_prefix (p, "<|startoftext|>") || g_str_has_prefix (p, "<|endoftext|>"))
        {
          gint32 id = p[2] == 's' ? LK_CLIP_START_TOKEN : LK_CLIP_END_TOKEN;

          g_array_append_val (ids, id);
          p += p[2] == 's' ? strlen ("<|startoftext|>") : strlen ("<|endoftext|>");
          continue;
        }
      if (c == '\'')
        for (guint i = 0; i < G_N_ELEMENTS (contractions) && end == NULL; i++)
          if (g_str_has_prefix (p, contractions[i]))
            end = p + strlen (contractions[i]);
      if (end == NULL && is_letter (c))
        {
          end = p;
          while (*end != '\0' && is_letter (g_utf8_get_char (end)))
            end = g_utf8_next_char (end);
        }
      else if (end == NULL && is_number (c))
        end = g_utf8_next_char (p);
      else if (end == NULL)
        {
          end = p;
          while (*end != '\0')
            {
              gunichar d = g_utf8_get_char (end);

              if (is_space (d) || is_letter (d) || is_number (d))
                break;
              end = g_utf8_next_char (end);
            }
        }
      word = g_strndup (p, end - p);
      bpe_word (self, word, ids);
      p = end;
    }
  return ids;
}

void
lk_tokenizer_encode_padded (LkTokenizer *self,
                            const char  *text,
                            gint32       ids[LK_CLIP_CONTEXT])
{
  g_autoptr(GArray) tokens = NULL;
  guint n;

  g_return_if_fail (self != NULL);
  g_return_if_fail (text != NULL);

  tokens = lk_tokenizer_encode (self, text);
  n = MIN (tokens->len, LK_CLIP_CHUNK);
  ids[0] = LK_CLIP_START_TOKEN;
  memcpy (ids + 1, tokens->data, n * sizeof (gint32));
  for (guint i = n + 1; i < LK_CLIP_CONTEXT; i++)
    ids[i] = LK_CLIP_END_TOKEN;
}

/* ---- A1111 prompt weighting --------------------------------------------------------------- */

typedef struct
{
  GString *text;
  double   weight;  /* < 0: BREAK */
} Part;

static void
add_text_parts (GArray     *parts,
                const char *text,
                gsize       length)
{
  /* re.split(r"\s*\bBREAK\b\s*", text), a BREAK marker between the pieces. */
  const char *p = text, *end = text + length, *piece = text;

  while (p + 5 <= end)
    {
      const char *q = g_strstr_len (p, end - p, "BREAK");
      const char *before, *after;

      if (q == NULL)
        break;
      if ((q > text && (g_ascii_isalnum (q[-1]) || q[-1] == '_' || (guint8) q[-1] >= 0x80)) ||
          (q + 5 < end && (g_ascii_isalnum (q[5]) || q[5] == '_' || (guint8) q[5] >= 0x80)))
        {
          p = q + 1;
          continue;
        }
      before = q;
      while (before > piece && g_ascii_isspace (before[-1]))
        before--;
      after = q + 5;
      while (after < end && g_ascii_isspace (*after))
        after++;
      {
        Part part = { g_string_new_len (piece, before - piece), 1.0 };
        Part mark = { g_string_new ("BREAK"), -1.0 };

        g_array_append_val (parts, part);
        g_array_append_val (parts, mark);
      }
      piece = p = after;
    }
  {
    Part part = { g_string_new_len (piece, end - piece), 1.0 };

    g_array_append_val (parts, part);
  }
}

static void
multiply_range (GArray *parts,
                guint   start,
                double  multiplier)
{
  for (guint i = start; i < parts->len; i++)
    g_array_index (parts, Part, i).weight *= multiplier;
}

/* Matches :\s*([+-]?[.\d]+)\s*\) at p; sets *end past it and *value when the number parses. */
static gboolean
match_weight (const char *p,
              const char **end,
              double      *value,
              gboolean    *parsed)
{
  const char *q = p + 1, *num;
  g_autofree char *number = NULL;
  char *num_end = NULL;

  while (g_ascii_isspace (*q))
    q++;
  num = q;
  if (*q == '+' || *q == '-')
    q++;
  if (!(*q == '.' || g_ascii_isdigit (*q)))
    return FALSE;
  while (*q == '.' || g_ascii_isdigit (*q))
    q++;
  number = g_strndup (num, q - num);
  while (g_ascii_isspace (*q))
    q++;
  if (*q != ')')
    return FALSE;
  *end = q + 1;
  *value = g_ascii_strtod (number, &num_end);
  *parsed = num_end != NULL && *num_end == '\0' && num_end != number &&
            !(num_end == number + 1 && (*number == '+' || *number == '-'));
  return TRUE;
}

static void
clear_prompt_part (gpointer data)
{
  LkPromptPart *part = data;

  g_clear_pointer (&part->text, g_free);
}

GArray *
lk_prompt_parse_attention (const char *prompt)
{
  g_autoptr(GArray) parts = g_array_new (FALSE, FALSE, sizeof (Part));
  g_autoptr(GArray) round = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr(GArray) square = g_array_new (FALSE, FALSE, sizeof (guint));
  GArray *result;
  const char *p = prompt;

  g_return_val_if_fail (prompt != NULL, NULL);

  while (*p != '\0')
    {
      const char *end;
      double value;
      gboolean parsed;

      if (*p == '\\')
        {
          /* \( \) \[ \] \\ are literals; a lone backslash disappears. */
          gboolean escape = p[1] == '(' || p[1] == ')' || p[1] == '[' || p[1] == ']' ||
                            p[1] == '\\';
          Part part = { g_string_new_len (p + 1, escape ? 1 : 0), 1.0 };

          g_array_append_val (parts, part);
          p += escape ? 2 : 1;
        }
      else if (*p == '(')
        {
          guint at = parts->len;

          g_array_append_val (round, at);
          p++;
        }
      else if (*p == '[')
        {
          guint at = parts->len;

          g_array_append_val (square, at);
          p++;
        }
      else if (*p == ':' && match_weight (p, &end, &value, &parsed))
        {
          if (round->len > 0 && parsed)
            {
              multiply_range (parts, g_array_index (round, guint, round->len - 1), value);
              g_array_set_size (round, round->len - 1);
            }
          else
            add_text_parts (parts, p, end - p);
          p = end;
        }
      else if (*p == ')' && round->len > 0)
        {
          multiply_range (parts, g_array_index (round, guint, round->len - 1), ROUND_MULTIPLIER);
          g_array_set_size (round, round->len - 1);
          p++;
        }
      else if (*p == ']' && square->len > 0)
        {
          multiply_range (parts, g_array_index (square, guint, square->len - 1),
                          1.0 / ROUND_MULTIPLIER);
          g_array_set_size (square, square->len - 1);
          p++;
        }
      else if (*p == ':' || *p == ')' || *p == ']')
        {
          add_text_parts (parts, p, 1);
          p++;
        }
      else
        {
          end = p;
          while (*end != '\0' && strchr ("\\()[]:", *end) == NULL)
            end++;
          add_text_parts (parts, p, end - p);
          p = end;
        }
    }
  for (guint i = 0; i < round->len; i++)
    multiply_range (parts, g_array_index (round, guint, i), ROUND_MULTIPLIER);
  for (guint i = 0; i < square->len; i++)
    multiply_range (parts, g_array_index (square, guint, i), 1.0 / ROUND_MULTIPLIER);

  if (parts->len == 0)
    {
      Part part = { g_string_new (""), 1.0 };

      g_array_append_val (parts, part);
    }

  /* Merge runs of equal weight (BREAK markers stay apart). */
  result = g_array_new (FALSE, FALSE, sizeof (LkPromptPart));
  g_array_set_clear_func (result, clear_prompt_part);
  for (guint i = 0; i < parts->len; i++)
    {
      Part *part = &g_array_index (parts, Part, i);

      if (i > 0 && part->weight >= 0 && g_array_index (parts, Part, i - 1).weight == part->weight)
        {
          LkPromptPart *last = &g_array_index (result, LkPromptPart, result->len - 1);
          char *joined = g_strconcat (last->text, part->text->str, NULL);

          g_free (last->text);
          last->text = joined;
        }
      else
        {
          LkPromptPart out = { g_strdup (part->text->str), (float) part->weight };

          g_array_append_val (result, out);
        }
      g_string_free (part->text, TRUE);
    }
  return result;
}

typedef struct
{
  GArray *ids;      /* finished chunks, 77 each */
  GArray *weights;
  GArray *chunk;    /* current chunk without start/end */
  GArray *chunk_w;
  guint   n_tokens;
  gint    last_comma;
} Chunker;

static void
next_chunk (Chunker  *c,
            gboolean  is_last)
{
  gint32 start = LK_CLIP_START_TOKEN, end = LK_CLIP_END_TOKEN;
  float one = 1.0f;

  c->n_tokens += is_last ? c->chunk->len : LK_CLIP_CHUNK;
  g_array_append_val (c->ids, start);
  g_array_append_val (c->weights, one);
  g_array_append_vals (c->ids, c->chunk->data, c->chunk->len);
  g_array_append_vals (c->weights, c->chunk_w->data, c->chunk_w->len);
  for (guint i = c->chunk->len; i < LK_CLIP_CHUNK + 1; i++)
    {
      g_array_append_val (c->ids, end);
      g_array_append_val (c->weights, one);
    }
  g_array_set_size (c->chunk, 0);
  g_array_set_size (c->chunk_w, 0);
  c->last_comma = -1;
}

LkPromptTokens *
lk_tokenizer_encode_prompt (LkTokenizer *self,
                            const char  *prompt)
{
  g_autoptr(GArray) parts = NULL;
  Chunker c = { 0 };
  LkPromptTokens *out;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (prompt != NULL, NULL);

  parts = lk_prompt_parse_attention (prompt);
  c.ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  c.weights = g_array_new (FALSE, FALSE, sizeof (float));
  c.chunk = g_array_new (FALSE, FALSE, sizeof (gint32));
  c.chunk_w = g_array_new (FALSE, FALSE, sizeof (float));
  c.last_comma = -1;

  for (guint i = 0; i < parts->len; i++)
    {
      LkPromptPart *part = &g_array_index (parts, LkPromptPart, i);
      g_autoptr(GArray) tokens = NULL;

      if (part->weight < 0)
        {
          next_chunk (&c, FALSE);
          continue;
        }
      tokens = lk_tokenizer_encode (self, part->text);
      for (guint t = 0; t < tokens->len; t++)
        {
          gint32 token = g_array_index (tokens, gint32, t);

          if (token == self->comma)
            c.last_comma = c.chunk->len;
          else if (c.chunk->len == LK_CLIP_CHUNK && c.last_comma != -1 &&
                   (gint) c.chunk->len - c.last_comma <= COMMA_BACKTRACK)
            {
              /* Move what follows the last comma into the next chunk. */
              guint at = c.last_comma + 1;
              g_autoptr(GArray) moved = g_array_new (FALSE, FALSE, sizeof (gint32));
              g_autoptr(GArray) moved_w = g_array_new (FALSE, FALSE, sizeof (float));

              g_array_append_vals (moved, &g_array_index (c.chunk, gint32, at), c.chunk->len - at);
              g_array_append_vals (moved_w, &g_array_index (c.chunk_w, float, at),
                                   c.chunk_w->len - at);
              g_array_set_size (c.chunk, at);
              g_array_set_size (c.chunk_w, at);
              next_chunk (&c, FALSE);
              g_array_append_vals (c.chunk, moved->data, moved->len);
              g_array_append_vals (c.chunk_w, moved_w->data, moved_w->len);
            }
          if (c.chunk->len == LK_CLIP_CHUNK)
            next_chunk (&c, FALSE);
          g_array_append_val (c.chunk, token);
          g_array_append_val (c.chunk_w, part->weight);
        }
    }
  if (c.chunk->len > 0 || c.ids->len == 0)
    next_chunk (&c, TRUE);

  out = g_new0 (LkPromptTokens, 1);
  out->n_chunks = c.ids->len / LK_CLIP_CONTEXT;
  out->n_tokens = c.n_tokens;
  out->ids = (gint32 *) (gpointer) g_array_free (c.ids, FALSE);
  out->weights = (float *) (gpointer) g_array_free (c.weights, FALSE);
  g_array_unref (c.chunk);
  g_array_unref (c.chunk_w);
  return out;
}

void
lk_prompt_tokens_free (LkPromptTokens *tokens)
{
  if (tokens == NULL)
    return;
  g_free (tokens->ids);
  g_free (tokens->weights);
  g_free (tokens);
}
