/* test-prompt-lora.c: <lora:name:weight> tags out of prompts, and their files
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <glib/gstdio.h>
#include <string.h>

#include "lk-prompt-lora.h"

static void
test_extract (void)
{
  static const struct
  {
    const char *prompt;
    const char *stripped;
    guint       n;
    const char *names[3];
    float       te[3];
    float       unet[3];
  } cases[] = {
    { "a photo of sks man, <lora:me:0.9>, smiling", "a photo of sks man, , smiling", 1,
      { "me" }, { 0.9f }, { 0.9f } },
    { "<lora:face_v2>portrait", "portrait", 1, { "face_v2" }, { 1 }, { 1 } },
    { "x <lora:a:0.5:0.25> y <lyco:b:-1> z <lora:c:unet=0.3:te=0.7>", "x  y  z ", 3,
      { "a", "b", "c" }, { 0.5f, -1, 0.7f }, { 0.25f, -1, 0.3f } },
    /* Keywords win over positions, as in A1111. */
    { "<lora:d:2:te=0.5>", "", 1, { "d" }, { 0.5f }, { 0.5f } },
    { "<lora: spaced name : 0.8 >", "", 1, { "spaced name" }, { 0.8f }, { 0.8f } },
    /* Other tags, emphasis and lone brackets stay. */
    { "<hypernet:h:1> (a:1.2) 1 < 2 <lora> <:x> <lora:>", "<hypernet:h:1> (a:1.2) 1 < 2 <lora> <:x> <lora:>",
      0, { NULL }, { 0 }, { 0 } },
    { "no tags", "no tags", 0, { NULL }, { 0 }, { 0 } },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GArray) loras = NULL;
      g_autofree char *stripped = lk_prompt_extract_loras (cases[i].prompt, &loras, &error);

      g_assert_no_error (error);
      g_assert_cmpstr (stripped, ==, cases[i].stripped);
      g_assert_cmpuint (loras->len, ==, cases[i].n);
      for (guint k = 0; k < cases[i].n; k++)
        {
          LkPromptLora *lora = &g_array_index (loras, LkPromptLora, k);

          g_assert_cmpstr (lora->name, ==, cases[i].names[k]);
          g_assert_cmpfloat_with_epsilon (lora->te_weight, cases[i].te[k], 1e-6);
          g_assert_cmpfloat_with_epsilon (lora->unet_weight, cases[i].unet[k], 1e-6);
        }
    }
}

static void
test_extract_errors (void)
{
  static const struct
  {
    const char *prompt;
    const char *named;
  } cases[] = {
    { "a <lora:me:lots> b", "lots" },
    { "a <lora:me:0.5:te=x>", "x" },
    { "<lora::0.5>", "names no LoRA" },
    { "<lora:me:1e999>", "1e999" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GArray) loras = NULL;
      g_autofree char *stripped = lk_prompt_extract_loras (cases[i].prompt, &loras, &error);

      g_assert_null (stripped);
      g_assert_null (loras);
      g_assert_error (error, LK_PROMPT_LORA_ERROR, LK_PROMPT_LORA_ERROR_SYNTAX);
      g_test_message ("%s", error->message);
      g_assert_nonnull (strstr (error->message, cases[i].named));
    }
}

static void
touch (const char *dir,
       const char *file)
{
  g_autofree char *path = g_build_filename (dir, file, NULL);
  g_autofree char *parent = g_path_get_dirname (path);

  g_assert_cmpint (g_mkdir_with_parents (parent, 0700), ==, 0);
  g_assert_true (g_file_set_contents (path, "x", 1, NULL));
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *entry;

  while (dir != NULL && (entry = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, entry, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR))
        remove_tree (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

static void
test_resolve (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *root = g_dir_make_tmp ("likeness-prompt-lora-XXXXXX", &error);
  g_autofree char *a = g_build_filename (root, "a", NULL);
  g_autofree char *b = g_build_filename (root, "b", NULL);
  const char *folders[] = { a, b, NULL };
  static const struct
  {
    const char *name;
    const char *expected;  /* relative to root */
  } cases[] = {
    { "me", "a/me.safetensors" },       /* .safetensors before .pt */
    { "old", "b/old.pt" },
    { "ckpt", "a/ckpt.ckpt" },
    { "nested", "b/nested.safetensors" }, /* directly in b before below a */
    { "deep", "a/people/x/deep.pt" },
  };

  g_assert_no_error (error);
  touch (a, "me.safetensors");
  touch (a, "me.pt");
  touch (b, "me.safetensors");
  touch (b, "old.pt");
  touch (a, "ckpt.ckpt");
  touch (a, "sub/nested.safetensors");
  touch (b, "nested.safetensors");
  touch (a, "people/x/deep.pt");
  touch (a, "notes.txt");

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *expected = g_build_filename (root, cases[i].expected, NULL);
      g_autofree char *found = lk_prompt_lora_resolve (cases[i].name, folders, &error);

      g_assert_no_error (error);
      g_assert_cmpstr (found, ==, expected);
    }

  {
    g_autofree char *found = lk_prompt_lora_resolve ("notes", folders, &error);

    g_assert_null (found);
    g_assert_error (error, LK_PROMPT_LORA_ERROR, LK_PROMPT_LORA_ERROR_NOT_FOUND);
    g_test_message ("%s", error->message);
    g_assert_nonnull (strstr (error->message, "“notes”"));
    g_assert_nonnull (strstr (error->message, b));
    g_clear_error (&error);
  }
  {
    g_autofree char *found = lk_prompt_lora_resolve ("../b/old", folders, &error);

    g_assert_null (found);
    g_assert_error (error, LK_PROMPT_LORA_ERROR, LK_PROMPT_LORA_ERROR_SYNTAX);
    g_clear_error (&error);
  }
  remove_tree (root);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/nn/prompt-lora/extract", test_extract);
  g_test_add_func ("/nn/prompt-lora/extract-errors", test_extract_errors);
  g_test_add_func ("/nn/prompt-lora/resolve", test_resolve);
  return g_test_run ();
}
