/* test-pipeline.c: txt2img, img2img and inpainting end to end on tiny random checkpoints
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The checkpoints carry SD1.5's exact LDM names and architecture at a tiny width: a UNet of 32
 * model channels, a VAE of 32 base channels and a 2-layer, 64-wide CLIP, all with random f16
 * weights, written by lk_test_sd_write_tiny() (lk-test-sd.c). Images are 64×64 (8×8 latents),
 * so a whole generation takes about a second on lavapipe.
 */
#include "config.h"

#include <glib/gstdio.h>
#include <math.h>

#include "lk-pipeline-extras.h"
#include "lk-pipeline.h"
#include "lk-safetensors.h"
#include "lk-test-sd.h"
#include "lk-test-util.h"

#define TINY_WIDTH     LK_TEST_SD_WIDTH
#define TINY_CHANNELS  LK_TEST_SD_CHANNELS
#define SIZE           64    /* image side, pixels */

/* Shared state */

static char *tmp_dir;
static LkTokenizer *tokenizer;
static LkPipeline *pipelines[2];  /* 4-channel UNet, 9-channel inpainting UNet */

static char *
find_vocab (void)
{
  const char *rel = "models/clip/bpe_simple_vocab_16e6.txt.gz";
  const char *data = g_getenv ("LIKENESS_TEST_DATA");
  const char *source = g_getenv ("LIKENESS_SOURCE_DIR");
  g_autofree char *from_data = data ? g_build_filename (data, rel, NULL) : NULL;
  g_autofree char *from_source = source ? g_build_filename (source, "..", "shared", rel, NULL) : NULL;

  if (from_data != NULL && g_file_test (from_data, G_FILE_TEST_EXISTS))
    return g_steal_pointer (&from_data);
  if (from_source != NULL && g_file_test (from_source, G_FILE_TEST_EXISTS))
    return g_steal_pointer (&from_source);
  return NULL;
}

static LkTokenizer *
get_tokenizer (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *vocab = NULL;

  if (tokenizer != NULL)
    return tokenizer;
  if ((vocab = find_vocab ()) == NULL)
    {
      g_test_skip ("CLIP vocabulary models/clip/bpe_simple_vocab_16e6.txt.gz not found; set "
                   "LIKENESS_TEST_DATA to the shared folder");
      return NULL;
    }
  tokenizer = lk_tokenizer_new_from_file (vocab, &error);
  g_assert_no_error (error);
  return tokenizer;
}

static const char *
get_tmp_dir (void)
{
  g_autoptr(GError) error = NULL;

  if (tmp_dir == NULL)
    {
      tmp_dir = g_dir_make_tmp ("likeness-pipeline-XXXXXX", &error);
      g_assert_no_error (error);
    }
  return tmp_dir;
}

/* The tiny pipeline with a 4- or 9-channel UNet; NULL after a skip. */
static LkPipeline *
get_pipeline (gboolean inpainting)
{
  LkContext *context;
  g_autoptr(GError) error = NULL;
  g_autoptr(LkWeights) weights = NULL;
  g_autofree char *path = NULL;
  gint64 start;

  if (pipelines[inpainting] != NULL)
    return pipelines[inpainting];
  if ((context = lk_test_context ()) == NULL || get_tokenizer () == NULL)
    return NULL;
  start = g_get_monotonic_time ();
  path = lk_test_sd_write_tiny (get_tmp_dir (),
                                inpainting ? "inpaint.safetensors" : "tiny.safetensors",
                                inpainting ? 9 : 4, NULL);
  weights = lk_safetensors_open (path, &error);
  g_assert_no_error (error);
  pipelines[inpainting] = lk_pipeline_new_for_weights (context, weights, NULL, tokenizer, &error);
  g_assert_no_error (error);
  g_assert_cmpint (lk_pipeline_get_kind (pipelines[inpainting]), ==,
                   inpainting ? LK_MODEL_KIND_SD1_INPAINT : LK_MODEL_KIND_SD1);
  g_test_message ("tiny %s checkpoint written and loaded: %.2f s",
                  inpainting ? "inpainting" : "SD1.5", (g_get_monotonic_time () - start) / 1e6);
  g_unlink (path);
  return pipelines[inpainting];
}

static void
tiny_params (LkPipelineParams *params)
{
  lk_pipeline_params_init (params);
  params->prompt = "a photo of a man, (best quality:1.2)";
  params->negative_prompt = "blurry";
  params->steps = 3;
  params->sampler = LK_SAMPLER_EULER_ANCESTRAL;
  params->seed = 1234;
  params->width = params->height = SIZE;
}

/* A smooth test picture: gradients and a disc. */
static LkImage *
test_picture (void)
{
  LkImage *image = lk_image_new (SIZE, SIZE, 3);

  for (guint y = 0; y < SIZE; y++)
    for (guint x = 0; x < SIZE; x++)
      {
        guint8 *px = lk_image_pixel (image, x, y);
        gboolean disc = (x - 40) * (x - 40) + (y - 24) * (y - 24) < 144;

        px[0] = x * 4;
        px[1] = disc ? 230 : y * 3;
        px[2] = 128 + (x + y) / 2;
      }
  return image;
}

/* The right half white (repaint), the left half black. */
static LkImage *
half_mask (void)
{
  LkImage *mask = lk_image_new (SIZE, SIZE, 1);

  for (guint y = 0; y < SIZE; y++)
    for (guint x = SIZE / 2; x < SIZE; x++)
      *lk_image_pixel (mask, x, y) = 255;
  return mask;
}

static gboolean
images_equal (const LkImage *a,
              const LkImage *b)
{
  if (a->width != b->width || a->height != b->height || a->channels != b->channels)
    return FALSE;
  for (guint y = 0; y < a->height; y++)
    if (memcmp (lk_image_pixel (a, 0, y), lk_image_pixel (b, 0, y), a->width * a->channels) != 0)
      return FALSE;
  return TRUE;
}

/* Mean absolute difference in 8-bit levels. */
static double
mean_abs_diff (const LkImage *a,
               const LkImage *b)
{
  double sum = 0;

  for (guint y = 0; y < a->height; y++)
    for (guint x = 0; x < a->width * a->channels; x++)
      sum += abs ((int) lk_image_pixel (a, 0, y)[x] - (int) lk_image_pixel (b, 0, y)[x]);
  return sum / ((double) a->width * a->height * a->channels);
}

/* Standard deviation of all bytes: a generation that collapsed to one colour has none. */
static double
pixel_spread (const LkImage *image)
{
  double sum = 0, sum2 = 0, n = (double) image->width * image->height * image->channels;

  for (guint y = 0; y < image->height; y++)
    for (guint x = 0; x < image->width * image->channels; x++)
      {
        double v = lk_image_pixel (image, 0, y)[x];

        sum += v;
        sum2 += v * v;
      }
  return sqrt (MAX (sum2 / n - (sum / n) * (sum / n), 0));
}

typedef struct
{
  guint   calls;
  guint   last_step;
  guint   n_steps;
  double  seconds;
  GCancellable *cancel_after_first;
} Progress;

static void
progress_cb (guint    step,
             guint    n_steps,
             double   seconds,
             gpointer user_data)
{
  Progress *progress = user_data;

  g_assert_cmpuint (step, ==, progress->last_step + 1);
  progress->calls++;
  progress->last_step = step;
  progress->n_steps = n_steps;
  progress->seconds += seconds;
  g_assert_cmpfloat (seconds, >=, 0);
  if (progress->cancel_after_first != NULL)
    g_cancellable_cancel (progress->cancel_after_first);
}

static LkImage *
run_txt2img (LkPipeline             *pipeline,
             const LkPipelineParams *params)
{
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();
  LkImage *image = lk_pipeline_txt2img (pipeline, params, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (image);
  g_assert_cmpuint (image->width, ==, params->width);
  g_assert_cmpuint (image->height, ==, params->height);
  g_assert_cmpuint (image->channels, ==, 3);
  g_test_message ("txt2img, %s, %u steps: %.2f s", lk_sampler_kind_to_string (params->sampler),
                  params->steps, (g_get_monotonic_time () - start) / 1e6);
  return image;
}

/* Tests */

static void
test_txt2img_seed (void)
{
  LkPipeline *pipeline = get_pipeline (FALSE);
  LkPipelineParams params;
  Progress progress = { 0 };
  g_autoptr(LkImage) a = NULL, b = NULL, c = NULL;

  if (pipeline == NULL)
    return;
  tiny_params (&params);
  params.progress = progress_cb;
  params.progress_data = &progress;
  a = run_txt2img (pipeline, &params);
  g_assert_cmpuint (progress.calls, ==, params.steps);
  g_assert_cmpuint (progress.n_steps, ==, params.steps);
  g_test_message ("%.3f s/step", progress.seconds / progress.calls);

  params.progress = NULL;
  b = run_txt2img (pipeline, &params);
  params.seed = 1235;
  c = run_txt2img (pipeline, &params);

  g_assert_true (images_equal (a, b));
  g_assert_false (images_equal (a, c));
  g_test_message ("pixel spread %.1f, seed 1234 vs 1235: mean |Δ| %.2f levels", pixel_spread (a),
                  mean_abs_diff (a, c));
  g_assert_cmpfloat (pixel_spread (a), >, 2.0);
  g_assert_cmpfloat (mean_abs_diff (a, c), >, 0.5);
  lk_test_check_validation ();
}

/* Each sampler, with and without Karras sigmas; the prompt, the negative prompt and the clip skip
 * each change the image; CFG 1 (a batch of one), a two-chunk prompt and a non-square size run
 * too. */
static void
test_txt2img_variants (void)
{
  LkPipeline *pipeline = get_pipeline (FALSE);
  LkPipelineParams params;
  g_autoptr(LkImage) base = NULL;

  if (pipeline == NULL)
    return;
  tiny_params (&params);
  params.sampler = LK_SAMPLER_EULER;
  params.steps = 2;
  base = run_txt2img (pipeline, &params);

  for (LkSamplerKind kind = 0; kind < LK_N_SAMPLERS; kind++)
    {
      LkPipelineParams p = params;
      g_autoptr(LkImage) image = NULL;

      p.sampler = kind;
      p.karras = kind % 2 == 0;
      image = run_txt2img (pipeline, &p);
      g_assert_cmpfloat (pixel_spread (image), >, 2.0);
    }

  {
    LkPipelineParams p = params;
    const char *prompts[] = { "a photo of a woman", NULL };
    const char *negatives[] = { "blurry", "low quality, bad hands" };

    for (guint i = 0; i < 2; i++)
      {
        g_autoptr(LkImage) image = NULL;

        p.prompt = prompts[i] != NULL ? prompts[i] : params.prompt;
        p.negative_prompt = negatives[i];
        image = run_txt2img (pipeline, &p);
        g_assert_false (images_equal (base, image));
      }
  }
  {
    LkPipelineParams p = params;
    g_autoptr(LkImage) skip2 = NULL, cfg1 = NULL;

    p.clip_skip = 2;
    skip2 = run_txt2img (pipeline, &p);
    g_assert_false (images_equal (base, skip2));
    p.clip_skip = 1;
    p.cfg_scale = 1.0;
    cfg1 = run_txt2img (pipeline, &p);
    g_assert_false (images_equal (base, cfg1));
  }
  /* A prompt longer than one 75-token chunk against a one-chunk negative prompt. */
  {
    LkPipelineParams p = params;
    g_autoptr(GString) longer = g_string_new ("a photo");
    g_autoptr(LkImage) image = NULL;

    for (guint i = 0; i < 40; i++)
      g_string_append (longer, ", red hat");
    p.prompt = longer->str;
    image = run_txt2img (pipeline, &p);
    g_assert_false (images_equal (base, image));
  }
  {
    LkPipelineParams p = params;
    g_autoptr(LkImage) wide = NULL;

    p.width = 2 * SIZE;
    wide = run_txt2img (pipeline, &p);
    g_assert_cmpfloat (pixel_spread (wide), >, 2.0);
  }
  lk_test_check_validation ();
}

/* The image decoded straight from its own latent, as strength 0 must give it. */
static LkImage *
vae_round_trip (LkPipeline    *pipeline,
                const LkImage *image)
{
  LkStream *stream = lk_test_stream ();
  LkVae *vae = lk_pipeline_get_vae (pipeline);
  gsize plane = (gsize) image->width * image->height;
  gint64 shape[4] = { 1, 3, image->height, image->width };
  g_autofree float *planes = g_new (float, 3 * plane), *decoded = NULL;
  g_autoptr(LkTensor) x = NULL, latent = NULL, out = NULL;
  g_autoptr(GError) error = NULL;
  LkImage *result = lk_image_new (image->width, image->height, 3);

  for (gsize i = 0; i < plane; i++)
    for (guint c = 0; c < 3; c++)
      planes[c * plane + i] = image->data[i * 3 + c] / 127.5f - 1.0f;
  x = lk_test_tensor_from (stream, LK_DTYPE_F32, 4, shape, planes);
  latent = lk_vae_encode (vae, stream, x, &error);
  g_assert_no_error (error);
  out = lk_vae_decode (vae, stream, latent, &error);
  g_assert_no_error (error);
  decoded = lk_test_download (stream, out);
  for (gsize i = 0; i < plane; i++)
    for (guint c = 0; c < 3; c++)
      result->data[i * 3 + c] = CLAMP ((decoded[c * plane + i] + 1) * 0.5f, 0, 1) * 255.0f;
  return result;
}

static void
test_img2img (void)
{
  LkPipeline *pipeline = get_pipeline (FALSE);
  LkPipelineParams params;
  g_autoptr(LkImage) picture = NULL, round_trip = NULL, kept = NULL, half = NULL, again = NULL;
  g_autoptr(LkImage) full = NULL;
  g_autoptr(GError) error = NULL;
  Progress progress = { 0 };

  if (pipeline == NULL)
    return;
  tiny_params (&params);
  picture = test_picture ();
  round_trip = vae_round_trip (pipeline, picture);

  /* Strength 0 runs no step: the image through the autoencoder, byte for byte. */
  params.strength = 0;
  params.progress = progress_cb;
  params.progress_data = &progress;
  kept = lk_pipeline_img2img (pipeline, &params, picture, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (progress.calls, ==, 0);
  g_assert_true (images_equal (kept, round_trip));

  /* A1111's rule: 6 steps at 0.5 run ⌊0.5·6⌋ + 1 = 4; the result moves away from the round
   * trip, further at strength 1, and a seed reproduces it. */
  params.steps = 6;
  params.strength = 0.5;
  params.sampler = LK_SAMPLER_DPMPP_2M;
  half = lk_pipeline_img2img (pipeline, &params, picture, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (progress.calls, ==, 4);
  g_assert_cmpuint (progress.n_steps, ==, 4);
  params.progress = NULL;
  again = lk_pipeline_img2img (pipeline, &params, picture, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (images_equal (half, again));
  params.strength = 1;
  full = lk_pipeline_img2img (pipeline, &params, picture, NULL, &error);
  g_assert_no_error (error);
  g_test_message ("img2img vs the autoencoder round trip: mean |Δ| %.2f levels at strength 0.5, "
                  "%.2f at 1", mean_abs_diff (half, round_trip), mean_abs_diff (full, round_trip));
  g_assert_cmpfloat (mean_abs_diff (half, round_trip), >, 0.5);
  g_assert_cmpfloat (mean_abs_diff (full, round_trip), >, mean_abs_diff (half, round_trip));
  lk_test_check_validation ();
}

/* Pixels the blurred mask leaves at 0 are the original's exactly; inside, the image changed. */
static void
check_inpainted (const LkImage *result,
                 const LkImage *original,
                 const LkImage *mask,
                 guint          blur)
{
  g_autofree guint8 *blurred = lk_pipeline_blur_mask (mask->data, mask->width, mask->height,
                                                      mask->stride, blur);
  guint outside = 0, inside = 0;
  double changed = 0;

  for (guint y = 0; y < result->height; y++)
    for (guint x = 0; x < result->width; x++)
      {
        const guint8 *a = lk_image_pixel (result, x, y), *b = lk_image_pixel (original, x, y);
        guint8 m = blurred[y * result->width + x];

        if (m == 0)
          {
            g_assert_cmpmem (a, 3, b, 3);
            outside++;
          }
        else if (m == 255)
          {
            for (guint c = 0; c < 3; c++)
              changed += abs ((int) a[c] - (int) b[c]);
            inside++;
          }
      }
  g_test_message ("inpaint: %u pixels outside the mask kept exactly; %u inside changed by %.1f "
                  "levels on average", outside, inside, changed / (3.0 * MAX (inside, 1)));
  g_assert_cmpuint (outside, >, 0);
  g_assert_cmpuint (inside, >, 0);
  g_assert_cmpfloat (changed / (3.0 * inside), >, 1.0);
}

static void
inpaint_case (gboolean inpainting)
{
  LkPipeline *pipeline = get_pipeline (inpainting);
  LkPipelineParams params;
  g_autoptr(LkImage) picture = NULL, mask = NULL, a = NULL, b = NULL;
  g_autoptr(GError) error = NULL;

  if (pipeline == NULL)
    return;
  tiny_params (&params);
  params.strength = 0.9;
  params.steps = 3;
  params.sampler = LK_SAMPLER_DPMPP_2M_SDE;
  params.karras = TRUE;
  picture = test_picture ();
  mask = half_mask ();
  a = lk_pipeline_inpaint (pipeline, &params, picture, mask, NULL, &error);
  g_assert_no_error (error);
  check_inpainted (a, picture, mask, params.mask_blur);
  b = lk_pipeline_inpaint (pipeline, &params, picture, mask, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (images_equal (a, b));

  /* No blur: the mask's edge is sharp, and the left half is kept to the last pixel. */
  params.mask_blur = 0;
  g_clear_pointer (&a, lk_image_free);
  a = lk_pipeline_inpaint (pipeline, &params, picture, mask, NULL, &error);
  g_assert_no_error (error);
  check_inpainted (a, picture, mask, 0);
  lk_test_check_validation ();
}

static void
test_inpaint (void)
{
  inpaint_case (FALSE);
}

static void
test_inpaint_9_channels (void)
{
  LkPipeline *pipeline;
  LkPipelineParams params;
  g_autoptr(LkImage) image = NULL;
  g_autoptr(LkImage) picture = NULL;
  g_autoptr(GError) error = NULL;

  inpaint_case (TRUE);
  if ((pipeline = get_pipeline (TRUE)) == NULL)
    return;
  /* txt2img and unmasked img2img condition the inpainting UNet on a full mask. */
  tiny_params (&params);
  params.steps = 2;
  image = run_txt2img (pipeline, &params);
  g_assert_cmpfloat (pixel_spread (image), >, 2.0);
  picture = test_picture ();
  g_clear_pointer (&image, lk_image_free);
  image = lk_pipeline_img2img (pipeline, &params, picture, NULL, &error);
  g_assert_no_error (error);
  lk_test_check_validation ();
}

static void
test_cancel (void)
{
  LkPipeline *pipeline = get_pipeline (FALSE);
  LkPipelineParams params;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(LkImage) image = NULL, before = NULL, after = NULL;
  g_autoptr(GError) error = NULL;
  Progress progress = { 0 };

  if (pipeline == NULL)
    return;
  tiny_params (&params);
  params.steps = 3;
  before = run_txt2img (pipeline, &params);

  progress.cancel_after_first = cancellable;
  params.progress = progress_cb;
  params.progress_data = &progress;
  image = lk_pipeline_txt2img (pipeline, &params, cancellable, &error);
  g_assert_null (image);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (progress.calls, ==, 1);
  g_clear_error (&error);

  /* Cancelled before it starts: nothing runs. */
  progress = (Progress) { 0 };
  image = lk_pipeline_txt2img (pipeline, &params, cancellable, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (progress.calls, ==, 0);
  g_clear_error (&error);

  /* The pipeline is still good for the next generation, and gives the same image. */
  params.progress = NULL;
  after = run_txt2img (pipeline, &params);
  g_assert_true (images_equal (before, after));
  lk_test_check_validation ();
}

/* ControlNet units and LoRAs through LkPipelineExtras */

/* A ControlNet for the tiny UNet with random weights (its zero convolutions too, so it acts). */
static char *
write_tiny_controlnet (void)
{
  LkUnetConfig config = { 4, 4, TINY_CHANNELS, TINY_WIDTH };
  g_autoptr(GArray) specs = lk_controlnet_config_list_tensors (&config);
  char *path = g_build_filename (get_tmp_dir (), "control.safetensors", NULL);
  LkTestCheckpoint ckpt;

  lk_test_checkpoint_init (&ckpt);
  for (guint i = 0; i < specs->len; i++)
    {
      const LkUnetTensorSpec *spec = &g_array_index (specs, LkUnetTensorSpec, i);

      lk_test_checkpoint_add (&ckpt, spec->name, spec->role == LK_UNET_TENSOR_NORM_WEIGHT,
                              spec->role == LK_UNET_TENSOR_BIAS ||
                              spec->role == LK_UNET_TENSOR_NORM_BIAS,
                              spec->ndim, spec->shape);
    }
  lk_test_checkpoint_write (&ckpt, path, NULL);
  lk_test_checkpoint_clear (&ckpt);
  return path;
}

static LkControlNet *
tiny_controlnet (void)
{
  g_autoptr(LkStream) stream = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = write_tiny_controlnet ();
  LkControlNet *net;

  stream = lk_stream_new (lk_test_context (), &error);
  g_assert_no_error (error);
  net = lk_controlnet_open (stream, path, &error);
  g_assert_no_error (error);
  lk_stream_finish (stream, &error);
  g_assert_no_error (error);
  g_unlink (path);
  return net;
}

/* A rank-4 LoRA with random factors on @unet_target ([TINY_CHANNELS, TINY_WIDTH]; none when
 * NULL) and, when @with_te, on the text encoder's first query projection. */
static LkLora *
tiny_lora (const char *unet_target,
           gboolean    with_te)
{
  const gint64 down_shape[2] = { 4, TINY_WIDTH };
  const gint64 unet_up_shape[2] = { TINY_CHANNELS, 4 }, te_up_shape[2] = { TINY_WIDTH, 4 };
  float factors[4 * TINY_WIDTH];
  g_autoptr(GError) error = NULL;
  LkLora *lora = lk_lora_new ();
  guint32 state = 7;

  for (guint i = 0; i < G_N_ELEMENTS (factors); i++)
    {
      state = state * 1664525u + 1013904223u;
      factors[i] = ((state >> 8) / 16777216.0f - 0.5f) * 2.0f;
    }
  if (unet_target != NULL)
    {
      lk_lora_add (lora, unet_target, 4, 2, down_shape, factors, 2, unet_up_shape, factors,
                   &error);
      g_assert_no_error (error);
    }
  if (with_te)
    {
      lk_lora_add (lora, LK_CLIP_TEXT_PREFIX "encoder.layers.0.self_attn.q_proj.weight", 4, 2,
                   down_shape, factors, 2, te_up_shape, factors, &error);
      g_assert_no_error (error);
    }
  return lora;
}

/* The text encoder's output for a few fixed token ids, on the host. */
static float *
encode_ids (LkPipeline *pipeline)
{
  LkClipTextModel *clip = lk_pipeline_get_text_model (pipeline);
  guint n = lk_clip_text_model_get_context (clip);
  g_autofree gint32 *ids = g_new (gint32, n);
  g_autoptr(LkTensor) hidden = NULL;
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < n; i++)
    ids[i] = i == 0 ? 49406 : i < 6 ? 320 + 17 * i : 49407;
  hidden = lk_clip_text_model_forward (clip, lk_test_stream (), ids, 1, 1, &error);
  g_assert_no_error (error);
  return lk_test_download (lk_test_stream (), hidden);
}

static double
max_abs_diff_f32 (const float *a,
                  const float *b,
                  gsize        n)
{
  double max = 0;

  for (gsize i = 0; i < n; i++)
    max = MAX (max, fabs ((double) a[i] - b[i]));
  return max;
}

static void
test_extras (void)
{
  LkPipeline *pipeline = get_pipeline (FALSE);
  g_autoptr(LkControlNet) net = NULL;
  g_autoptr(LkImage) picture = NULL, plain = NULL, guided = NULL, unguided = NULL;
  g_autoptr(LkImage) merged = NULL, restored = NULL, after_refusal = NULL;
  g_autoptr(LkLora) lora = NULL, foreign = NULL;
  g_autoptr(GPtrArray) unmatched = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  LkPipelineParams params;

  if (pipeline == NULL)
    return;
  tiny_params (&params);
  plain = run_txt2img (pipeline, &params);
  net = tiny_controlnet ();
  picture = test_picture ();

  /* One unit at weight 1 steers the image; at weight 0 it adds exact zeros. */
  {
    g_autoptr(LkPipelineExtras) extras = lk_pipeline_extras_new (pipeline);

    g_assert_null (lk_pipeline_extras_get_hooks (extras));
    lk_pipeline_extras_add_control (extras, net, picture, SIZE, SIZE, 1.0f, 0.0f, 1.0f,
                                    LK_CONTROL_MODE_BALANCED, &error);
    g_assert_no_error (error);
    params.hooks = lk_pipeline_extras_get_hooks (extras);
    g_assert_nonnull (params.hooks);
    guided = run_txt2img (pipeline, &params);
  }
  {
    g_autoptr(LkPipelineExtras) extras = lk_pipeline_extras_new (pipeline);

    lk_pipeline_extras_add_control (extras, net, picture, SIZE, SIZE, 0.0f, 0.0f, 1.0f,
                                    LK_CONTROL_MODE_PROMPT, &error);
    g_assert_no_error (error);
    g_assert_false (lk_pipeline_extras_add_control (extras, net, picture, SIZE, SIZE, 1.0f, 0.8f,
                                                    0.2f, LK_CONTROL_MODE_BALANCED, &error));
    g_assert_error (error, LK_PIPELINE_ERROR, LK_PIPELINE_ERROR_INVALID);
    g_clear_error (&error);
    g_assert_cmpuint (lk_pipeline_extras_get_n_controls (extras), ==, 1);
    params.hooks = lk_pipeline_extras_get_hooks (extras);
    unguided = run_txt2img (pipeline, &params);
  }
  g_test_message ("ControlNet at weight 1: mean |Δ| %.2f levels", mean_abs_diff (plain, guided));
  g_assert_cmpfloat (mean_abs_diff (plain, guided), >, 0.5);
  g_assert_true (images_equal (plain, unguided));

  /* A LoRA changes the image while merged and leaves no trace after. */
  lora = tiny_lora (LK_UNET_PREFIX "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight", TRUE);
  params.hooks = NULL;
  {
    g_autoptr(LkPipelineExtras) extras = lk_pipeline_extras_new (pipeline);

    lk_pipeline_extras_add_lora (extras, lora, 0.8f, 1.0f, unmatched, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (unmatched->len, ==, 0);
    g_assert_null (lk_pipeline_extras_get_hooks (extras));
    merged = run_txt2img (pipeline, &params);
  }
  restored = run_txt2img (pipeline, &params);
  g_test_message ("LoRA merged: mean |Δ| %.2f levels", mean_abs_diff (plain, merged));
  g_assert_cmpfloat (mean_abs_diff (plain, merged), >, 0.5);
  g_assert_true (images_equal (plain, restored));

  /* A UNet-only LoRA (no lora_te_ keys) and a text-encoder-only one are both taken, as A1111
   * takes them: each changes the image while merged, the TE-only one through the text
   * embedding alone, and both leave no trace. */
  {
    LkClipTextModel *clip = lk_pipeline_get_text_model (pipeline);
    gsize n = (gsize) lk_clip_text_model_get_context (clip) * lk_clip_text_model_get_width (clip);
    g_autoptr(LkLora) unet_only = tiny_lora (LK_UNET_PREFIX "input_blocks.1.1.transformer_blocks."
                                             "0.attn2.to_k.weight", FALSE);
    g_autoptr(LkLora) te_only = tiny_lora (NULL, TRUE);
    g_autoptr(LkImage) with_unet = NULL, with_te = NULL, after = NULL;
    g_autofree float *hidden = encode_ids (pipeline), *hidden_te = NULL, *hidden_unet = NULL;
    g_autofree float *hidden_after = NULL;

    {
      g_autoptr(LkPipelineExtras) extras = lk_pipeline_extras_new (pipeline);

      g_assert_true (lk_pipeline_extras_add_lora (extras, unet_only, 1.0f, 1.0f, NULL, &error));
      g_assert_no_error (error);
      hidden_unet = encode_ids (pipeline);
      with_unet = run_txt2img (pipeline, &params);
    }
    {
      g_autoptr(LkPipelineExtras) extras = lk_pipeline_extras_new (pipeline);

      g_assert_true (lk_pipeline_extras_add_lora (extras, te_only, 1.0f, 1.0f, NULL, &error));
      g_assert_no_error (error);
      hidden_te = encode_ids (pipeline);
      with_te = run_txt2img (pipeline, &params);
    }
    hidden_after = encode_ids (pipeline);
    after = run_txt2img (pipeline, &params);
    g_test_message ("UNet-only LoRA: text embedding max |Δ| %g, image mean |Δ| %.2f levels; "
                    "TE-only LoRA: embedding max |Δ| %g, image mean |Δ| %.2f levels",
                    max_abs_diff_f32 (hidden, hidden_unet, n), mean_abs_diff (plain, with_unet),
                    max_abs_diff_f32 (hidden, hidden_te, n), mean_abs_diff (plain, with_te));
    g_assert_cmpmem (hidden, n * sizeof (float), hidden_unet, n * sizeof (float));
    g_assert_cmpfloat (max_abs_diff_f32 (hidden, hidden_te, n), >, 1e-2);
    g_assert_cmpfloat (mean_abs_diff (plain, with_unet), >, 0.5);
    g_assert_cmpfloat (mean_abs_diff (plain, with_te), >, 0.5);
    g_assert_cmpmem (hidden, n * sizeof (float), hidden_after, n * sizeof (float));
    g_assert_true (images_equal (plain, after));
  }

  /* A LoRA whose keys name nothing in this model is refused and changes nothing. */
  foreign = tiny_lora (LK_UNET_PREFIX "no_such_block.weight", FALSE);
  {
    g_autoptr(LkPipelineExtras) extras = lk_pipeline_extras_new (pipeline);

    g_assert_false (lk_pipeline_extras_add_lora (extras, foreign, 1.0f, 1.0f, NULL, &error));
    g_assert_error (error, LK_LORA_ERROR, LK_LORA_ERROR_NO_MATCH);
    g_test_message ("%s", error->message);
    g_clear_error (&error);
  }
  after_refusal = run_txt2img (pipeline, &params);
  g_assert_true (images_equal (plain, after_refusal));
  lk_test_check_validation ();
}

/* The extras' ControlNet in img2img and inpainting (on the plain and the 9-channel inpainting
 * UNet), with a LoRA merged: a seed gives the same image twice; a unit at weight 0 gives exactly
 * the image without it (its residuals are the zero convolutions' outputs scaled by 0, exact zeros,
 * and x + 0 is x in f32); inpainting keeps every pixel the blurred mask leaves at 0. */
static LkImage *
run_guided (LkPipeline             *pipeline,
            const LkPipelineParams *base,
            LkControlNet           *net,
            float                   control_weight,
            LkLora                 *lora,
            const LkImage          *picture,
            const LkImage          *mask)
{
  g_autoptr(LkPipelineExtras) extras = lk_pipeline_extras_new (pipeline);
  g_autoptr(LkImage) control = NULL;
  g_autoptr(GError) error = NULL;
  LkPipelineParams params = *base;
  LkImage *image;

  if (net != NULL)
    {
      /* The control image at another size: resized to the generation's. */
      control = lk_image_new (SIZE / 2, SIZE / 2, 3);
      for (guint y = 0; y < SIZE / 2; y++)
        for (guint x = 0; x < SIZE / 2; x++)
          memcpy (lk_image_pixel (control, x, y), lk_image_pixel (picture, SIZE - 1 - 2 * x, 2 * y),
                  3);
      g_assert_true (lk_pipeline_extras_add_control (extras, net, control, SIZE, SIZE,
                                                     control_weight, 0.0f, 1.0f,
                                                     LK_CONTROL_MODE_BALANCED, &error));
      g_assert_no_error (error);
    }
  if (lora != NULL)
    {
      g_assert_true (lk_pipeline_extras_add_lora (extras, lora, 0.9f, 0.9f, NULL, &error));
      g_assert_no_error (error);
    }
  params.hooks = lk_pipeline_extras_get_hooks (extras);
  if (mask != NULL)
    image = lk_pipeline_inpaint (pipeline, &params, picture, mask, NULL, &error);
  else
    image = lk_pipeline_img2img (pipeline, &params, picture, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (image);
  return image;
}

static void
test_extras_img2img_inpaint (void)
{
  g_autoptr(LkControlNet) net = NULL;
  g_autoptr(LkLora) lora = NULL;
  g_autoptr(LkImage) picture = test_picture (), mask = half_mask ();
  LkPipelineParams params;

  if (get_pipeline (FALSE) == NULL)
    return;
  net = tiny_controlnet ();
  lora = tiny_lora (LK_UNET_PREFIX "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight", TRUE);
  tiny_params (&params);
  params.sampler = LK_SAMPLER_DPMPP_2M;

  /* img2img with one unit. */
  {
    LkPipeline *pipeline = get_pipeline (FALSE);
    g_autoptr(LkImage) plain = NULL, guided = NULL, again = NULL, zero = NULL;

    params.strength = 0.6;
    plain = run_guided (pipeline, &params, NULL, 0, NULL, picture, NULL);
    guided = run_guided (pipeline, &params, net, 1.0f, NULL, picture, NULL);
    again = run_guided (pipeline, &params, net, 1.0f, NULL, picture, NULL);
    zero = run_guided (pipeline, &params, net, 0.0f, NULL, picture, NULL);
    g_test_message ("img2img + ControlNet: mean |Δ| %.2f levels from plain img2img",
                    mean_abs_diff (plain, guided));
    g_assert_true (images_equal (guided, again));
    g_assert_cmpfloat (mean_abs_diff (plain, guided), >, 0.5);
    g_assert_true (images_equal (plain, zero));
  }

  /* Inpainting with a unit and a LoRA, on both UNets. */
  params.strength = 0.9;
  for (guint inpainting = 0; inpainting < 2; inpainting++)
    {
      LkPipeline *pipeline = get_pipeline (inpainting);
      g_autoptr(LkImage) plain = NULL, lora_only = NULL, guided = NULL, again = NULL;
      g_autoptr(LkImage) zero = NULL;

      if (pipeline == NULL)
        return;
      plain = run_guided (pipeline, &params, NULL, 0, NULL, picture, mask);
      lora_only = run_guided (pipeline, &params, NULL, 0, lora, picture, mask);
      guided = run_guided (pipeline, &params, net, 1.0f, lora, picture, mask);
      again = run_guided (pipeline, &params, net, 1.0f, lora, picture, mask);
      zero = run_guided (pipeline, &params, net, 0.0f, lora, picture, mask);
      g_test_message ("inpaint (%s UNet) + LoRA: mean |Δ| %.2f levels from plain inpainting; "
                      "+ ControlNet: %.2f from the LoRA alone", inpainting ? "9-channel" : "plain",
                      mean_abs_diff (plain, lora_only), mean_abs_diff (lora_only, guided));
      check_inpainted (guided, picture, mask, params.mask_blur);
      g_assert_true (images_equal (guided, again));
      g_assert_cmpfloat (mean_abs_diff (plain, lora_only), >, 0.5);
      g_assert_cmpfloat (mean_abs_diff (lora_only, guided), >, 0.5);
      g_assert_true (images_equal (lora_only, zero));
    }
  lk_test_check_validation ();
}

/* likeness-cli txt2img / img2img / inpaint end to end on files: the tiny checkpoint, a ControlNet,
 * a LoRA by --lora and by prompt tag. Two runs with one seed write the same pixels. */
static char *
run_cli (const char *const *args)
{
  const char *cli = g_getenv ("LIKENESS_CLI");
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  char *err = NULL;
  int status;

  g_ptr_array_add (argv, (gpointer) cli);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
                &status, &error);
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("likeness-cli %s failed:\n%s%s", args[0], out, err);
  return err;
}

static void
test_cli (void)
{
  const char *dir;
  g_autofree char *vocab = find_vocab ();
  g_autofree char *model = NULL, *control = NULL, *lora_path = NULL, *picture_path = NULL;
  g_autofree char *mask_path = NULL, *a = NULL, *b = NULL, *c = NULL, *log = NULL;
  g_autoptr(LkImage) picture = half_mask (), mask = NULL, image_a = NULL, image_b = NULL;
  g_autoptr(LkImage) source = NULL, image_c = NULL;
  g_autoptr(GHashTable) text = NULL;
  g_autoptr(LkLora) lora = NULL;
  g_autoptr(GError) error = NULL;

  if (g_getenv ("LIKENESS_CLI") == NULL)
    {
      g_test_skip ("LIKENESS_CLI is not set (meson test sets it)");
      return;
    }
  if (lk_test_context () == NULL || get_tokenizer () == NULL)
    return;
  dir = get_tmp_dir ();
  model = lk_test_sd_write_tiny (dir, "cli.safetensors", 4, NULL);
  control = write_tiny_controlnet ();
  lora_path = g_build_filename (dir, "face.safetensors", NULL);
  lora = tiny_lora (LK_UNET_PREFIX "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight", TRUE);
  lk_lora_save (lora, lora_path, LK_WEIGHT_F16, NULL, &error);
  g_assert_no_error (error);
  picture_path = g_build_filename (dir, "picture.png", NULL);
  mask_path = g_build_filename (dir, "mask.png", NULL);
  g_clear_pointer (&picture, lk_image_free);
  picture = test_picture ();
  mask = half_mask ();
  lk_image_save_png (picture, picture_path, NULL, &error);
  g_assert_no_error (error);
  lk_image_save_png (mask, mask_path, NULL, &error);
  g_assert_no_error (error);
  a = g_build_filename (dir, "a.png", NULL);
  b = g_build_filename (dir, "b.png", NULL);
  c = g_build_filename (dir, "c.png", NULL);

  {
    g_autofree char *unit = g_strdup_printf ("%s:%s:0.8:0:1", control, picture_path);
    const char *args[] = { "txt2img", "--model", model, "--vocab", vocab, "--prompt",
                           "a photo of a man <lora:face:0.9>", "--lora-dir", dir,
                           "--controlnet", unit, "--control-mode", "prompt", "--steps", "2",
                           "--seed", "5", "--width", "64", "--height", "64", "-o", a, NULL };

    log = run_cli (args);
    g_test_message ("%s", log);
    g_assert_nonnull (strstr (log, "LoRA"));
    g_assert_nonnull (strstr (log, "ControlNet"));
    args[G_N_ELEMENTS (args) - 2] = b;
    g_free (run_cli (args));
  }
  image_a = lk_image_load_with_text (a, 3, &text, &error);
  g_assert_no_error (error);
  image_b = lk_image_load (b, 3, &error);
  g_assert_no_error (error);
  g_assert_true (images_equal (image_a, image_b));
  g_assert_cmpfloat (pixel_spread (image_a), >, 2.0);
  g_test_message ("parameters: %s", (const char *) g_hash_table_lookup (text, "parameters"));
  g_assert_true (g_str_has_prefix (g_hash_table_lookup (text, "parameters"),
                                   "a photo of a man <lora:face:0.9>\nSteps: 2, Sampler: Euler a"));
  g_assert_nonnull (strstr (g_hash_table_lookup (text, "parameters"), "Seed: 5, Size: 64x64"));

  {
    const char *args[] = { "inpaint", "--model", model, "--vocab", vocab, "--prompt", "a cat",
                           "--image", picture_path, "--mask", mask_path, "--steps", "2",
                           "--seed", "5", "-o", c, NULL };

    g_free (run_cli (args));
  }
  image_c = lk_image_load (c, 3, &error);
  g_assert_no_error (error);
  source = lk_image_load (picture_path, 3, &error);
  g_assert_no_error (error);
  /* The left quarter is beyond the blurred mask's reach: unchanged. */
  for (guint y = 0; y < SIZE; y++)
    g_assert_cmpmem (lk_image_pixel (image_c, 0, y), 3 * SIZE / 4,
                     lk_image_pixel (source, 0, y), 3 * SIZE / 4);
  g_assert_false (images_equal (image_c, source));

  for (const char *const *f = (const char *const[]) { model, control, lora_path, picture_path,
                                                      mask_path, a, b, c, NULL }; *f; f++)
    g_unlink (*f);
}

typedef struct
{
  guint begins, ends, forwards;
  guint batch;
} HookCounts;

static gboolean
hook_begin (LkPipeline *pipeline,
            LkStream   *stream,
            gpointer    user_data,
            GError    **error)
{
  ((HookCounts *) user_data)->begins++;
  return TRUE;
}

static LkTensor *
hook_unet_forward (LkPipeline           *pipeline,
                   LkStream             *stream,
                   const LkPipelineStep *step,
                   gpointer              user_data,
                   GError              **error)
{
  HookCounts *counts = user_data;

  g_assert_cmpuint (step->step, ==, counts->forwards);
  g_assert_cmpfloat (step->sigma, >, 0);
  counts->batch = step->x->shape[0];
  counts->forwards++;
  return lk_unet_forward (lk_pipeline_get_unet (pipeline), stream, step->x, step->timesteps,
                          step->context, error);
}

static void
hook_end (LkPipeline *pipeline,
          LkStream   *stream,
          gpointer    user_data)
{
  ((HookCounts *) user_data)->ends++;
}

static gboolean
hook_begin_fails (LkPipeline *pipeline,
                  LkStream   *stream,
                  gpointer    user_data,
                  GError    **error)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "the ControlNet is not ready");
  return FALSE;
}

/* The extension point: a UNet evaluation through the hook gives the same image as without
 * one, and begin/end bracket the steps. */
static void
test_hooks (void)
{
  LkPipeline *pipeline = get_pipeline (FALSE);
  LkPipelineParams params;
  HookCounts counts = { 0 };
  LkPipelineHooks hooks = { hook_begin, hook_unet_forward, hook_end, &counts };
  LkPipelineHooks failing = { hook_begin_fails, NULL, hook_end, &counts };
  g_autoptr(LkImage) plain = NULL, hooked = NULL, none = NULL;
  g_autoptr(GError) error = NULL;

  if (pipeline == NULL)
    return;
  tiny_params (&params);
  plain = run_txt2img (pipeline, &params);
  params.hooks = &hooks;
  hooked = run_txt2img (pipeline, &params);
  g_assert_true (images_equal (plain, hooked));
  g_assert_cmpuint (counts.begins, ==, 1);
  g_assert_cmpuint (counts.ends, ==, 1);
  g_assert_cmpuint (counts.forwards, ==, params.steps);
  g_assert_cmpuint (counts.batch, ==, 2);

  params.hooks = &failing;
  none = lk_pipeline_txt2img (pipeline, &params, NULL, &error);
  g_assert_null (none);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FAILED);
  g_assert_cmpuint (counts.ends, ==, 1);
  lk_test_check_validation ();
}

static void
expect_error (LkImage    *image,
              GError     *error,
              GQuark      domain,
              int         code,
              const char *fragment)
{
  g_assert_null (image);
  g_assert_error (error, domain, code);
  g_test_message ("refused: %s", error->message);
  g_assert_nonnull (strstr (error->message, fragment));
}

static void
test_bad_input (void)
{
  LkPipeline *pipeline = get_pipeline (FALSE);
  LkPipelineParams params;
  g_autoptr(LkImage) picture = NULL, mask = NULL, small_mask = NULL, odd = NULL;
  GError *error = NULL;
  LkImage *image;

  if (pipeline == NULL)
    return;
  picture = test_picture ();
  mask = half_mask ();
  small_mask = lk_image_new (32, 32, 1);
  odd = lk_image_new (72, 64, 3);

  tiny_params (&params);
  image = lk_pipeline_inpaint (pipeline, &params, picture, NULL, NULL, &error);
  expect_error (image, error, LK_PIPELINE_ERROR, LK_PIPELINE_ERROR_IMAGE, "mask");
  g_clear_error (&error);
  image = lk_pipeline_inpaint (pipeline, &params, picture, small_mask, NULL, &error);
  expect_error (image, error, LK_PIPELINE_ERROR, LK_PIPELINE_ERROR_IMAGE, "32×32");
  g_clear_error (&error);
  image = lk_pipeline_img2img (pipeline, &params, NULL, NULL, &error);
  expect_error (image, error, LK_PIPELINE_ERROR, LK_PIPELINE_ERROR_IMAGE, "image");
  g_clear_error (&error);

  params.width = 72;
  image = lk_pipeline_txt2img (pipeline, &params, NULL, &error);
  expect_error (image, error, LK_PIPELINE_ERROR, LK_PIPELINE_ERROR_INVALID, "multiples of 64");
  g_clear_error (&error);
  params.width = params.height = 0;
  image = lk_pipeline_img2img (pipeline, &params, odd, NULL, &error);
  expect_error (image, error, LK_PIPELINE_ERROR, LK_PIPELINE_ERROR_INVALID, "72×64");
  g_clear_error (&error);
  params.width = params.height = SIZE;
  image = lk_pipeline_img2img (pipeline, &params, odd, NULL, &error);
  expect_error (image, error, LK_PIPELINE_ERROR, LK_PIPELINE_ERROR_IMAGE, "72×64");
  g_clear_error (&error);

  tiny_params (&params);
  params.clip_skip = 3;
  image = lk_pipeline_txt2img (pipeline, &params, NULL, &error);
  expect_error (image, error, LK_PIPELINE_ERROR, LK_PIPELINE_ERROR_INVALID, "clip skip 3");
  g_clear_error (&error);
  tiny_params (&params);
  params.steps = 0;
  image = lk_pipeline_txt2img (pipeline, &params, NULL, &error);
  expect_error (image, error, LK_PIPELINE_ERROR, LK_PIPELINE_ERROR_INVALID, "steps");
  g_clear_error (&error);
  tiny_params (&params);
  params.strength = 1.5;
  image = lk_pipeline_img2img (pipeline, &params, picture, NULL, &error);
  expect_error (image, error, LK_PIPELINE_ERROR, LK_PIPELINE_ERROR_INVALID, "strength");
  g_clear_error (&error);
  tiny_params (&params);
  params.cfg_scale = NAN;
  image = lk_pipeline_txt2img (pipeline, &params, NULL, &error);
  expect_error (image, error, LK_PIPELINE_ERROR, LK_PIPELINE_ERROR_INVALID, "CFG");
  g_clear_error (&error);

  /* After all that, a generation still works. */
  tiny_params (&params);
  params.steps = 1;
  image = run_txt2img (pipeline, &params);
  lk_image_free (image);
  lk_test_check_validation ();
}

/* A NaN in a UNet or VAE weight stops the load, naming the tensor. */
static void
test_nan_weight (void)
{
  static const char *tensors[] = {
    LK_UNET_PREFIX "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight",
    LK_VAE_PREFIX "decoder.mid.attn_1.q.weight",
  };
  LkContext *context = lk_test_context ();
  LkStream *stream = lk_test_stream ();

  if (context == NULL || get_tokenizer () == NULL)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (tensors); i++)
    {
      g_autofree char *path = lk_test_sd_write_tiny (get_tmp_dir (), "nan.safetensors", 4,
                                                     tensors[i]);
      g_autoptr(LkWeights) weights = NULL;
      g_autoptr(LkPipeline) pipeline = NULL;
      g_autoptr(LkVae) vae = NULL;
      g_autoptr(GError) error = NULL;

      weights = lk_safetensors_open (path, &error);
      g_assert_no_error (error);
      pipeline = lk_pipeline_new_for_weights (context, weights, NULL, tokenizer, &error);
      g_assert_null (pipeline);
      g_assert_error (error, LK_IO_ERROR, LK_IO_ERROR_CORRUPT);
      g_test_message ("refused: %s", error->message);
      g_assert_nonnull (strstr (error->message, tensors[i]));
      g_assert_nonnull (strstr (error->message, "NaN"));
      g_assert_nonnull (strstr (error->message, "element 2"));
      g_clear_error (&error);
      if (i == 1)
        {
          /* The module on its own says the same. */
          vae = lk_vae_new (stream, weights, &error);
          g_assert_null (vae);
          g_assert_error (error, LK_IO_ERROR, LK_IO_ERROR_CORRUPT);
          lk_stream_finish (stream, NULL);
        }
      g_clear_pointer (&weights, lk_weights_unref);
      g_unlink (path);
    }
  lk_test_check_validation ();
}

/* The mask blur against OpenCV's cv2.GaussianBlur, as A1111 calls it. */
static void
test_mask_blur (void)
{
  const guint width = 53, height = 37;
  g_autofree guint8 *mask = g_new0 (guint8, width * height);
  g_autofree float *mask_f = g_new (float, width * height);
  const double sigmas[] = { 4, 1.5 };

  for (guint y = 0; y < height; y++)
    for (guint x = 0; x < width; x++)
      {
        gboolean inside = (x > 10 && x < 30 && y > 5 && y < 25) || (x + y) % 17 == 0;

        mask[y * width + x] = inside ? 255 : (x * 7 + y * 3) % 40;
        mask_f[y * width + x] = mask[y * width + x];
      }
  for (guint s = 0; s < G_N_ELEMENTS (sigmas); s++)
    {
      g_autoptr(LkOracle) oracle = lk_oracle_new ("oracle_mask_blur.py");
      g_autofree guint8 *blurred = lk_pipeline_blur_mask (mask, width, height, width, sigmas[s]);
      g_autofree float *expected = NULL;
      guint max_diff = 0, n_diff = 0;

      if (oracle == NULL)
        return;
      lk_oracle_add_input (oracle, "mask", mask_f, width * height);
      lk_oracle_set_param_int (oracle, "width", width);
      lk_oracle_set_param_int (oracle, "height", height);
      lk_oracle_set_param_double (oracle, "sigma", sigmas[s]);
      if ((expected = lk_oracle_run (oracle, width * height)) == NULL)
        return;
      for (guint i = 0; i < width * height; i++)
        {
          guint diff = abs ((int) blurred[i] - (int) expected[i]);

          max_diff = MAX (max_diff, diff);
          n_diff += diff != 0;
        }
      g_test_message ("mask blur σ %.1f vs cv2.GaussianBlur: %u of %u pixels differ, by at most "
                      "%u", sigmas[s], n_diff, width * height, max_diff);
      g_assert_cmpuint (n_diff, ==, 0);
    }
}

int
main (int    argc,
      char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/pipeline/mask-blur", test_mask_blur);
  g_test_add_func ("/pipeline/txt2img/seed", test_txt2img_seed);
  g_test_add_func ("/pipeline/txt2img/variants", test_txt2img_variants);
  g_test_add_func ("/pipeline/img2img", test_img2img);
  g_test_add_func ("/pipeline/inpaint", test_inpaint);
  g_test_add_func ("/pipeline/inpaint-9-channels", test_inpaint_9_channels);
  g_test_add_func ("/pipeline/cancel", test_cancel);
  g_test_add_func ("/pipeline/hooks", test_hooks);
  g_test_add_func ("/pipeline/extras", test_extras);
  g_test_add_func ("/pipeline/extras/img2img-inpaint", test_extras_img2img_inpaint);
  g_test_add_func ("/pipeline/cli", test_cli);
  g_test_add_func ("/pipeline/bad-input", test_bad_input);
  g_test_add_func ("/pipeline/nan-weight", test_nan_weight);
  status = g_test_run ();

  for (guint i = 0; i < G_N_ELEMENTS (pipelines); i++)
    g_clear_pointer (&pipelines[i], lk_pipeline_unref);
  g_clear_pointer (&tokenizer, lk_tokenizer_unref);
  if (tmp_dir != NULL)
    g_rmdir (tmp_dir);
  g_free (tmp_dir);
  return status;
}
