/* test-lora-trainer.c: the LoRA training job end to end on a tiny SD1.5-layout checkpoint
 *
 * The checkpoint is lk-test-sd's (a 32-channel UNet, a 32-channel VAE, a 2-layer 64-wide CLIP,
 * random weights); the photos are small crops of ../shared/testdata, trained at 64² (8×8
 * latents), so a step takes a fraction of a second on lavapipe.
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <math.h>
#include <signal.h>
#include <sys/resource.h>

#include "lk-image-warp.h"
#include "lk-lora-train-job.h"
#include "lk-lora.h"
#include "lk-pipeline-extras.h"
#include "lk-safetensors.h"
#include "lk-test-sd.h"
#include "lk-test-util.h"

#define CAPTION "easyphoto_face, easyphoto, 1person"
#define SIZE    64
#define LOSS_STEPS 100  /* /lora-trainer/loss-falls */
#define N_LAYERS   (16 * 12 + LK_TEST_SD_LAYERS * 6)

static char *tmp_dir;
static LkTokenizer *tokenizer;
static LkPipeline *pipeline;
static GPtrArray *photos;      /* paths of the training crops, NULL-terminated */
static char *trained_lora;     /* written by /lora-trainer/loss-falls */

static char *
find_shared (const char *rel)
{
  const char *data = g_getenv ("LIKENESS_TEST_DATA");
  const char *source = g_getenv ("LIKENESS_SOURCE_DIR");
  g_autofree char *from_data = data ? g_build_filename (data, rel, NULL) : NULL;
  g_autofree char *from_source = source ? g_build_filename (source, "..", "shared", rel, NULL)
                                        : NULL;

  if (from_data != NULL && g_file_test (from_data, G_FILE_TEST_EXISTS))
    return g_steal_pointer (&from_data);
  if (from_source != NULL && g_file_test (from_source, G_FILE_TEST_EXISTS))
    return g_steal_pointer (&from_source);
  return NULL;
}

static const char *
get_tmp_dir (void)
{
  g_autoptr(GError) error = NULL;

  if (tmp_dir == NULL)
    {
      tmp_dir = g_dir_make_tmp ("likeness-lora-trainer-XXXXXX", &error);
      g_assert_no_error (error);
    }
  return tmp_dir;
}

static char *
tmp_path (const char *name)
{
  return g_build_filename (get_tmp_dir (), name, NULL);
}

/* Crops of the test photos: three square ones and one wider than high, so random crops move. */
static gboolean
make_photos (void)
{
  static const struct { const char *file; int x, y, side; guint width; } crops[] = {
    { "astronaut.png", 128, 40, 256, SIZE },
    { "group-1.jpg", 700, 250, 500, SIZE },
    { "group-2.jpg", 900, 300, 500, SIZE + 8 },
    { "group-3.jpg", 500, 200, 600, SIZE },
  };
  g_autoptr(GError) error = NULL;

  if (photos != NULL)
    return TRUE;
  for (guint i = 0; i < G_N_ELEMENTS (crops); i++)
    {
      g_autofree char *rel = g_build_filename ("testdata", crops[i].file, NULL);
      g_autofree char *path = find_shared (rel);

      if (path == NULL)
        {
          g_test_skip_printf ("test photo %s not found; set LIKENESS_TEST_DATA to the shared "
                              "folder", rel);
          return FALSE;
        }
    }
  photos = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < G_N_ELEMENTS (crops); i++)
    {
      g_autofree char *rel = g_build_filename ("testdata", crops[i].file, NULL);
      g_autofree char *path = find_shared (rel);
      g_autofree char *name = g_strdup_printf ("photo-%u.png", i);
      g_autoptr(LkImage) image = lk_image_load (path, 3, &error);
      g_autoptr(LkImage) crop = NULL, small = NULL;
      LkRect rect = { crops[i].x, crops[i].y, crops[i].side * crops[i].width / SIZE,
                      crops[i].side };
      char *out = tmp_path (name);

      g_assert_no_error (error);
      crop = lk_image_crop (image, &rect);
      g_assert_nonnull (crop);
      small = lk_image_resize (crop, crops[i].width, SIZE, LK_INTERP_AREA);
      lk_image_save_png (small, out, NULL, &error);
      g_assert_no_error (error);
      g_ptr_array_add (photos, out);
    }
  g_ptr_array_add (photos, NULL);
  return TRUE;
}

static LkTokenizer *
get_tokenizer (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *vocab = NULL;

  if (tokenizer != NULL)
    return tokenizer;
  if ((vocab = find_shared ("models/clip/bpe_simple_vocab_16e6.txt.gz")) == NULL)
    {
      g_test_skip ("CLIP vocabulary models/clip/bpe_simple_vocab_16e6.txt.gz not found; set "
                   "LIKENESS_TEST_DATA to the shared folder");
      return NULL;
    }
  tokenizer = lk_tokenizer_new_from_file (vocab, &error);
  g_assert_no_error (error);
  return tokenizer;
}

static LkPipeline *
load_tiny (guint unet_in_channels)
{
  LkContext *context = lk_test_context ();
  g_autoptr(GError) error = NULL;
  g_autoptr(LkWeights) weights = NULL;
  g_autofree char *path = NULL;
  LkPipeline *loaded;

  if (context == NULL || get_tokenizer () == NULL)
    return NULL;
  path = lk_test_sd_write_tiny (get_tmp_dir (), "tiny.safetensors", unet_in_channels, NULL);
  weights = lk_safetensors_open (path, &error);
  g_assert_no_error (error);
  loaded = lk_pipeline_new_for_weights (context, weights, NULL, tokenizer, &error);
  g_assert_no_error (error);
  g_unlink (path);
  return loaded;
}

/* The tiny pipeline and the photos; FALSE after a skip. */
static gboolean
setup (void)
{
  if (pipeline == NULL && (pipeline = load_tiny (4)) == NULL)
    return FALSE;
  return make_photos ();
}

static LkLoraTrainOptions
tiny_options (void)
{
  LkLoraTrainOptions o = LK_LORA_TRAIN_OPTIONS_DEFAULT;

  o.rank = 4;
  o.alpha = 4;
  o.te_lr = 1e-3;
  o.accumulation = 1;
  o.size = SIZE;
  o.seed = 11;
  o.save_every = 0;
  /* The same bits either way (test-unet-train), and faster on lavapipe. */
  o.checkpointing = FALSE;
  return o;
}

static LkLoraTrainJob *
new_job (const LkLoraTrainOptions *o)
{
  g_autoptr(GError) error = NULL;
  LkLoraTrainJob *job = lk_lora_train_job_new (pipeline, tokenizer,
                                               (const char * const *) photos->pdata, CAPTION, o,
                                               &error);

  g_assert_no_error (error);
  return job;
}

static GBytes *
read_file (const char *path)
{
  g_autoptr(GError) error = NULL;
  char *contents;
  gsize length;

  g_file_get_contents (path, &contents, &length, &error);
  g_assert_no_error (error);
  return g_bytes_new_take (contents, length);
}

typedef struct
{
  guint    reports;
  guint    steps_done;
  guint    notes;
  double   first_loss, last_loss;
  guint64  peak;
  /* cancel after this micro-batch of this step (1-based; 0: never) */
  guint64  cancel_step;
  guint    cancel_micro;
  GCancellable *cancellable;
} Seen;

static void
progress_cb (const LkLoraTrainProgress *p,
             gpointer                   user_data)
{
  Seen *seen = user_data;

  seen->reports++;
  if (p->message != NULL)
    {
      seen->notes++;
      g_test_message ("note: %s", p->message);
      return;
    }
  g_assert_cmpuint (p->micro_step, >=, 1);
  g_assert_cmpuint (p->micro_step, <=, p->accumulation);
  g_assert_true (isfinite (p->loss));
  g_assert_cmpuint (p->peak_device_bytes, >, 0);
  if (p->step_done)
    {
      g_assert_cmpuint (p->micro_step, ==, p->accumulation);
      if (seen->steps_done++ == 0)
        seen->first_loss = p->loss;
      seen->last_loss = p->loss;
      seen->peak = p->peak_device_bytes;
    }
  if (seen->cancellable != NULL && p->step + !p->step_done == seen->cancel_step &&
      (p->step_done ? p->accumulation : p->micro_step) == seen->cancel_micro)
    g_cancellable_cancel (seen->cancellable);
}

/* A rank-4 LoRA trained for LOSS_STEPS steps (batch 1, no accumulation, lr 3e-3) on the four
 * crops: the ε-MSE on a fixed evaluation set (the centre crops at 4 timesteps, fixed noise)
 * falls. The text encoder's LoRA is trained too (lr 1e-3). Measured on lavapipe: 1.368 → 0.721
 * (÷ 1.90) in 100 steps, 0.4–0.7 s/step on the loaded two-core machine; asserted ÷ 1.5. The
 * training losses of single noised samples scatter too widely to show it. */
static void
test_loss_falls (void)
{
  LkLoraTrainOptions o = tiny_options ();
  g_autoptr(LkLoraTrainJob) job = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *ckpt = NULL;
  Seen seen = { 0 };
  double before, after;
  gint64 start;

  if (!setup ())
    return;
  o.steps = LOSS_STEPS;
  o.lr = 3e-3;
  job = new_job (&o);
  g_assert_cmpuint (lk_lora_train_job_get_n_images (job), ==, 4);
  trained_lora = tmp_path ("trained.safetensors");
  lk_lora_train_job_set_output (job, trained_lora);
  lk_lora_train_job_set_base_model (job, "tiny.safetensors");
  lk_lora_train_job_set_progress_func (job, progress_cb, &seen, NULL);
  ckpt = g_strdup (lk_lora_train_job_get_checkpoint (job));
  g_assert_true (g_str_has_suffix (ckpt, "trained.train-checkpoint"));

  g_assert_true (lk_lora_train_job_evaluate (job, 4, 99, &before, &error));
  g_assert_no_error (error);
  /* 16 UNet transformers × 12 targets, 2 text encoder layers × 6 */
  g_assert_cmpuint (lk_lora_train_job_get_n_layers (job), ==, N_LAYERS);
  start = g_get_monotonic_time ();
  g_assert_true (lk_lora_train_job_run (job, NULL, &error));
  g_assert_no_error (error);
  g_test_message ("%d steps in %.1f s (%.2f s/step at %d², rank %u), peak device memory "
                  "%.1f MiB", LOSS_STEPS, (g_get_monotonic_time () - start) / 1e6,
                  (g_get_monotonic_time () - start) / 1e6 / LOSS_STEPS, SIZE, o.rank,
                  seen.peak / (1024.0 * 1024.0));
  g_assert_true (lk_lora_train_job_evaluate (job, 4, 99, &after, &error));
  g_assert_no_error (error);
  g_test_message ("evaluation loss %.4f → %.4f (÷ %.2f); training losses %.3f … %.3f", before,
                  after, before / after, seen.first_loss, seen.last_loss);
  g_assert_cmpuint (seen.steps_done, ==, LOSS_STEPS);
  g_assert_cmpuint (seen.reports, ==, LOSS_STEPS);
  g_assert_cmpuint (lk_lora_train_job_get_step (job), ==, LOSS_STEPS);
  g_assert_cmpfloat (lk_lora_train_job_get_fraction (job), ==, 1.0);
  {
    g_autofree char *message = g_strdup_printf ("step %d/%d", LOSS_STEPS, LOSS_STEPS);

    g_assert_true (g_str_has_prefix (lk_lora_train_job_get_message (job), message));
  }
  g_assert_cmpfloat (after, <, before / 1.5);
  g_assert_true (g_file_test (trained_lora, G_FILE_TEST_IS_REGULAR));
  g_assert_true (g_file_test (ckpt, G_FILE_TEST_IS_REGULAR));
  /* The same evaluation again: the same bits. */
  {
    double again;

    g_assert_true (lk_lora_train_job_evaluate (job, 4, 99, &again, &error));
    g_assert_cmpfloat (again, ==, after);
  }
  g_unlink (ckpt);
  lk_test_check_validation ();
}

static void
assert_same_lora (const char *path_a,
                  const char *path_b)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LkLora) a = lk_lora_open (path_a, &error);
  g_autoptr(LkLora) b = lk_lora_open (path_b, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (lk_lora_get_n_adapters (a), ==, lk_lora_get_n_adapters (b));
  g_assert_cmpstr (g_hash_table_lookup (lk_lora_get_metadata (a), "ss_steps"), ==,
                   g_hash_table_lookup (lk_lora_get_metadata (b), "ss_steps"));
  for (guint i = 0; i < lk_lora_get_n_adapters (a); i++)
    {
      const LkLoraAdapter *x = lk_lora_get_adapter (a, i), *y = lk_lora_get_adapter (b, i);
      gsize n_down = x->down_shape[0] * x->down_shape[1], n_up = x->up_shape[0] * x->up_shape[1];

      g_assert_cmpstr (x->key, ==, y->key);
      g_assert_cmpmem (x->down, n_down * sizeof (float), y->down, n_down * sizeof (float));
      g_assert_cmpmem (x->up, n_up * sizeof (float), y->up, n_up * sizeof (float));
    }
}

/* Batch 2 × accumulation 2, 4 steps, uninterrupted; then cancelled after the first micro-batch
 * of step 3 (a checkpoint of step 2, no LoRA) and resumed from that checkpoint; then stopped
 * at step 2 by its step count and resumed. All three end with the same checkpoint, byte for
 * byte, and LoRAs of the same factors (their metadata name the output files). */
static void
test_resume (void)
{
  LkLoraTrainOptions o = tiny_options ();
  g_autoptr(GError) error = NULL;
  g_autofree char *out_a = tmp_path ("a.safetensors"), *ckpt_a = tmp_path ("a.ckpt");
  g_autofree char *out_b = tmp_path ("b.safetensors"), *ckpt_b = tmp_path ("b.ckpt");
  g_autofree char *out_c = tmp_path ("c.safetensors"), *ckpt_c = tmp_path ("c.ckpt");
  g_autoptr(GBytes) bytes_a = NULL, bytes_b = NULL, bytes_c = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();

  if (!setup ())
    return;
  o.steps = 4;
  o.batch = 2;
  o.accumulation = 2;
  o.lr = 1e-3;

  {
    g_autoptr(LkLoraTrainJob) job = new_job (&o);

    lk_lora_train_job_set_output (job, out_a);
    lk_lora_train_job_set_checkpoint (job, ckpt_a);
    g_assert_true (lk_lora_train_job_run (job, NULL, &error));
    g_assert_no_error (error);
  }

  {
    g_autoptr(LkLoraTrainJob) job = new_job (&o);
    Seen seen = { .cancel_step = 3, .cancel_micro = 1, .cancellable = cancellable };

    lk_lora_train_job_set_output (job, out_b);
    lk_lora_train_job_set_checkpoint (job, ckpt_b);
    lk_lora_train_job_set_progress_func (job, progress_cb, &seen, NULL);
    g_assert_false (lk_lora_train_job_run (job, cancellable, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_test_message ("%s", error->message);
    g_assert_nonnull (strstr (error->message, ckpt_b));
    g_clear_error (&error);
    g_assert_cmpuint (lk_lora_train_job_get_step (job), ==, 2);
    g_assert_cmpuint (seen.steps_done, ==, 2);
    g_assert_false (g_file_test (out_b, G_FILE_TEST_EXISTS));
    g_assert_true (g_file_test (ckpt_b, G_FILE_TEST_IS_REGULAR));
  }
  {
    g_autoptr(LkLoraTrainJob) job = NULL;
    Seen seen = { 0 };

    /* Another seed: the checkpoint's wins. */
    o.seed = 12345;
    job = new_job (&o);
    lk_lora_train_job_set_output (job, out_b);
    lk_lora_train_job_set_checkpoint (job, ckpt_b);
    lk_lora_train_job_set_resume (job, ckpt_b);
    lk_lora_train_job_set_progress_func (job, progress_cb, &seen, NULL);
    g_assert_true (lk_lora_train_job_run (job, NULL, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (seen.steps_done, ==, 2);
    g_assert_cmpuint (seen.notes, ==, 2);  /* the seed, the resumed step */
    o.seed = tiny_options ().seed;
  }

  {
    g_autoptr(LkLoraTrainJob) half = NULL, rest = NULL;

    o.steps = 2;
    half = new_job (&o);
    lk_lora_train_job_set_output (half, out_c);
    lk_lora_train_job_set_checkpoint (half, ckpt_c);
    g_assert_true (lk_lora_train_job_run (half, NULL, &error));
    g_assert_no_error (error);
    o.steps = 4;
    rest = new_job (&o);
    lk_lora_train_job_set_output (rest, out_c);
    lk_lora_train_job_set_checkpoint (rest, ckpt_c);
    lk_lora_train_job_set_resume (rest, ckpt_c);
    g_assert_true (lk_lora_train_job_run (rest, NULL, &error));
    g_assert_no_error (error);
  }

  bytes_a = read_file (ckpt_a);
  bytes_b = read_file (ckpt_b);
  bytes_c = read_file (ckpt_c);
  g_assert_true (g_bytes_equal (bytes_a, bytes_b));
  g_assert_true (g_bytes_equal (bytes_a, bytes_c));
  assert_same_lora (out_a, out_b);
  assert_same_lora (out_a, out_c);
  g_test_message ("checkpoints of %zu bytes identical, and the LoRAs' factors",
                  g_bytes_get_size (bytes_a));
  for (const char *const *f = (const char *const[]) { out_a, ckpt_a, out_b, ckpt_b, out_c,
                                                      ckpt_c, NULL }; *f; f++)
    g_unlink (*f);
  lk_test_check_validation ();
}

static LkImage *
generate (LkLora *lora,
          float   weight)
{
  g_autoptr(LkPipelineExtras) extras = lk_pipeline_extras_new (pipeline);
  g_autoptr(GPtrArray) unmatched = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  LkPipelineParams params;
  LkImage *image;

  lk_pipeline_params_init (&params);
  params.prompt = CAPTION ", a portrait";
  params.steps = 3;
  params.sampler = LK_SAMPLER_EULER;
  params.seed = 321;
  params.width = params.height = SIZE;
  if (lora != NULL)
    {
      lk_pipeline_extras_add_lora (extras, lora, weight, weight, unmatched, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (unmatched->len, ==, 0);
    }
  params.hooks = lk_pipeline_extras_get_hooks (extras);
  image = lk_pipeline_txt2img (pipeline, &params, NULL, &error);
  g_assert_no_error (error);
  return image;
}

static double
mean_abs_difference (const LkImage *a,
                     const LkImage *b)
{
  double sum = 0;

  g_assert_cmpuint (a->width, ==, b->width);
  g_assert_cmpuint (a->height, ==, b->height);
  for (guint y = 0; y < a->height; y++)
    for (guint x = 0; x < a->width * 3; x++)
      sum += fabs ((double) lk_image_pixel (a, 0, y)[x] - lk_image_pixel (b, 0, y)[x]);
  return sum / (a->width * a->height * 3);
}

/* The trained LoRA is a kohya file that the inference loader matches key for key, with the
 * metadata A1111 shows; merged at weight 1 it changes the picture, at weight 0 it does not. */
static void
test_lora_loads (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LkLora) lora = NULL;
  g_autoptr(GHashTable) targets = NULL, unet = NULL, te = NULL;
  g_autoptr(GPtrArray) unmatched = NULL;
  g_autoptr(LkImage) plain = NULL, with = NULL, zero = NULL;
  GHashTable *meta;
  GHashTableIter iter;
  gpointer key, value;
  guint n_conv = 0, n_te = 0;
  double difference;

  if (!setup ())
    return;
  if (trained_lora == NULL || !g_file_test (trained_lora, G_FILE_TEST_EXISTS))
    {
      g_test_skip ("no trained LoRA: /lora-trainer/loss-falls did not run");
      return;
    }
  lora = lk_lora_open (trained_lora, &error);
  g_assert_no_error (error);
  g_assert_cmpint (lk_lora_get_format (lora), ==, LK_LORA_FORMAT_KOHYA);
  g_assert_cmpuint (lk_lora_get_n_adapters (lora), ==, N_LAYERS);
  meta = lk_lora_get_metadata (lora);
  g_assert_cmpstr (g_hash_table_lookup (meta, "ss_network_dim"), ==, "4");
  g_assert_cmpstr (g_hash_table_lookup (meta, "ss_network_alpha"), ==, "4");
  g_assert_cmpstr (g_hash_table_lookup (meta, "ss_base_model_version"), ==, "sd_v1");
  g_assert_cmpuint (g_ascii_strtoull (g_hash_table_lookup (meta, "ss_steps"), NULL, 10), ==,
                    LOSS_STEPS);
  g_assert_cmpstr (g_hash_table_lookup (meta, "ss_resolution"), ==, "(64, 64)");
  g_assert_cmpstr (g_hash_table_lookup (meta, "ss_num_train_images"), ==, "4");
  g_assert_cmpstr (g_hash_table_lookup (meta, "ss_sd_model_name"), ==, "tiny.safetensors");
  g_assert_cmpstr (g_hash_table_lookup (meta, "ss_tag_frequency"), ==,
                   "{\"images\":{\"easyphoto_face\":4,\"easyphoto\":4,\"1person\":4}}");

  unet = lk_unet_get_weights (lk_pipeline_get_unet (pipeline));
  te = lk_clip_text_model_get_weights (lk_pipeline_get_text_model (pipeline));
  targets = g_hash_table_new (g_str_hash, g_str_equal);
  for (GHashTable **table = (GHashTable *[]) { unet, te, NULL }; *table != NULL; table++)
    {
      g_hash_table_iter_init (&iter, *table);
      while (g_hash_table_iter_next (&iter, &key, &value))
        g_hash_table_insert (targets, key, value);
    }
  g_assert_true (lk_lora_match (lora, targets, &unmatched, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (unmatched->len, ==, 0);
  for (guint i = 0; i < lk_lora_get_n_adapters (lora); i++)
    {
      const LkLoraAdapter *a = lk_lora_get_adapter (lora, i);

      g_assert_nonnull (a->target);
      if (g_str_has_prefix (a->key, LK_LORA_KOHYA_TEXT_PREFIX))
        {
          g_assert_true (g_str_has_prefix (a->target, LK_CLIP_TEXT_PREFIX));
          n_te++;
        }
      else
        g_assert_true (g_str_has_prefix (a->key, LK_LORA_KOHYA_UNET_PREFIX));
      g_assert_cmpuint (a->rank, ==, 4);
      g_assert_cmpfloat (a->alpha, ==, 4);
      /* proj_in / proj_out are 1×1 convolutions in SD1.x: kohya's conv layout */
      if (a->down_ndim == 4)
        {
          g_assert_true (g_str_has_suffix (a->target, "proj_in.weight") ||
                         g_str_has_suffix (a->target, "proj_out.weight"));
          n_conv++;
        }
    }
  g_assert_cmpuint (n_conv, ==, 32);
  g_assert_cmpuint (n_te, ==, LK_TEST_SD_LAYERS * 6);
  g_assert_cmpstr (g_hash_table_lookup (meta, "ss_network_train_unet_only"), ==, "False");
  g_assert_cmpstr (g_hash_table_lookup (meta, "ss_text_encoder_lr"), ==, "0.001");

  plain = generate (NULL, 0);
  with = generate (lora, 1);
  zero = generate (lora, 0);
  difference = mean_abs_difference (plain, with);
  g_test_message ("the LoRA at weight 1 changes the 64² picture by %.2f levels on average",
                  difference);
  g_assert_cmpfloat (difference, >, 2);
  g_assert_cmpfloat (mean_abs_difference (plain, zero), ==, 0);
  lk_test_check_validation ();
}

/* Lists the folder: TRUE when it holds nothing but @allowed (NULL-terminated). */
static gboolean
dir_holds_only (const char         *dir,
                const char * const *allowed)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  while ((name = g_dir_read_name (d)) != NULL)
    if (!g_strv_contains (allowed, name))
      {
        g_test_message ("unexpected file %s", name);
        return FALSE;
      }
  return TRUE;
}

/* Bad input: clear errors, and nothing written. */
static void
test_bad_input (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL, *notes = NULL, *broken = NULL, *photo = NULL, *out = NULL;
  g_autoptr(GPtrArray) listed = NULL, skipped = NULL;
  g_autoptr(LkPipeline) inpainting = NULL;
  g_autoptr(LkLoraTrainJob) job = NULL;
  LkLoraTrainOptions o = tiny_options ();
  const char *only_photos[] = { "photo.png", "notes.txt", "broken.jpg", NULL };

  if (!setup ())
    return;
  dir = tmp_path ("bad");
  g_assert_cmpint (g_mkdir (dir, 0755), ==, 0);
  out = g_build_filename (dir, "out.safetensors", NULL);

  /* An empty folder; one with a caption file only. */
  g_assert_null (lk_lora_train_list_images (dir, NULL, &error));
  g_assert_error (error, LK_TRAIN_ERROR, LK_TRAIN_ERROR_NO_IMAGES);
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  notes = g_build_filename (dir, "notes.txt", NULL);
  g_file_set_contents (notes, CAPTION, -1, &error);
  g_assert_no_error (error);
  g_assert_null (lk_lora_train_list_images (dir, NULL, &error));
  g_assert_error (error, LK_TRAIN_ERROR, LK_TRAIN_ERROR_NO_IMAGES);
  g_assert_nonnull (strstr (error->message, "captions"));
  g_clear_error (&error);
  g_assert_null (lk_lora_train_job_new (pipeline, tokenizer, (const char *[]) { NULL }, CAPTION,
                                        &o, &error));
  g_assert_error (error, LK_TRAIN_ERROR, LK_TRAIN_ERROR_NO_IMAGES);
  g_clear_error (&error);

  /* A photo, the caption file (skipped) and a file that is not an image (refused by name). */
  photo = g_build_filename (dir, "photo.png", NULL);
  broken = g_build_filename (dir, "broken.jpg", NULL);
  {
    g_autoptr(GBytes) bytes = read_file (g_ptr_array_index (photos, 0));

    g_file_set_contents (photo, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), &error);
    g_assert_no_error (error);
  }
  g_file_set_contents (broken, "this is not a JPEG", -1, &error);
  g_assert_no_error (error);
  listed = lk_lora_train_list_images (dir, &skipped, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (listed->len, ==, 2);
  g_assert_cmpuint (skipped->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (skipped, 0), ==, "notes.txt");
  g_ptr_array_add (listed, NULL);
  g_assert_null (lk_lora_train_job_new (pipeline, tokenizer, (const char * const *) listed->pdata,
                                        CAPTION, &o, &error));
  g_assert_error (error, LK_TRAIN_ERROR, LK_TRAIN_ERROR_IMAGE);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "broken.jpg"));
  g_clear_error (&error);

  /* Options out of range. */
  o.size = 100;
  g_assert_null (lk_lora_train_job_new (pipeline, tokenizer, (const char *[]) { photo, NULL },
                                        CAPTION, &o, &error));
  g_assert_error (error, LK_TRAIN_ERROR, LK_TRAIN_ERROR_INVALID);
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  o = tiny_options ();

  /* An inpainting checkpoint. */
  inpainting = load_tiny (9);
  g_assert_null (lk_lora_train_job_new (inpainting, tokenizer, (const char *[]) { photo, NULL },
                                        CAPTION, &o, &error));
  g_assert_error (error, LK_TRAIN_ERROR, LK_TRAIN_ERROR_MODEL);
  g_test_message ("%s", error->message);
  g_clear_error (&error);

  /* A resume file that is not a checkpoint of this training. */
  o.steps = 1;
  job = lk_lora_train_job_new (pipeline, tokenizer, (const char *[]) { photo, NULL }, CAPTION,
                               &o, &error);
  g_assert_no_error (error);
  lk_lora_train_job_set_output (job, out);
  lk_lora_train_job_set_resume (job, photo);
  g_assert_false (lk_lora_train_job_run (job, NULL, &error));
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "cannot resume"));
  g_clear_error (&error);
  g_clear_object (&job);

  /* An output folder that does not exist: refused before training. */
  {
    g_autofree char *nowhere = g_build_filename (dir, "no-such-folder", "out.safetensors", NULL);

    job = lk_lora_train_job_new (pipeline, tokenizer, (const char *[]) { photo, NULL }, CAPTION,
                                 &o, &error);
    g_assert_no_error (error);
    lk_lora_train_job_set_output (job, nowhere);
    g_assert_false (lk_lora_train_job_run (job, NULL, &error));
    g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
    g_test_message ("%s", error->message);
    g_assert_cmpuint (lk_lora_train_job_get_step (job), ==, 0);
    g_clear_error (&error);
    g_clear_object (&job);
  }

  /* A full disk (a file size limit: writes fail with EFBIG): no LoRA, no checkpoint, no
   * temporary file left. */
  {
    struct rlimit old, limit;

    job = lk_lora_train_job_new (pipeline, tokenizer, (const char *[]) { photo, NULL }, CAPTION,
                                 &o, &error);
    g_assert_no_error (error);
    lk_lora_train_job_set_output (job, out);
    signal (SIGXFSZ, SIG_IGN);
    g_assert_cmpint (getrlimit (RLIMIT_FSIZE, &old), ==, 0);
    limit = old;
    limit.rlim_cur = 16 * 1024;
    g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &limit), ==, 0);
    g_assert_false (lk_lora_train_job_run (job, NULL, &error));
    g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &old), ==, 0);
    signal (SIGXFSZ, SIG_DFL);
    g_assert_nonnull (error);
    g_test_message ("%s", error->message);
    g_clear_error (&error);
  }
  g_assert_true (dir_holds_only (dir, only_photos));
  g_unlink (photo);
  g_unlink (broken);
  g_unlink (notes);
  g_rmdir (dir);
  lk_test_check_validation ();
}

int
main (int    argc,
      char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/lora-trainer/loss-falls", test_loss_falls);
  g_test_add_func ("/lora-trainer/resume", test_resume);
  g_test_add_func ("/lora-trainer/lora-loads", test_lora_loads);
  g_test_add_func ("/lora-trainer/bad-input", test_bad_input);
  status = g_test_run ();

  g_clear_pointer (&pipeline, lk_pipeline_unref);
  g_clear_pointer (&tokenizer, lk_tokenizer_unref);
  if (photos != NULL)
    for (guint i = 0; i + 1 < photos->len; i++)
      g_unlink (g_ptr_array_index (photos, i));
  g_clear_pointer (&photos, g_ptr_array_unref);
  if (trained_lora != NULL)
    g_unlink (trained_lora);
  g_free (trained_lora);
  if (tmp_dir != NULL)
    g_rmdir (tmp_dir);
  g_free (tmp_dir);
  return status;
}
