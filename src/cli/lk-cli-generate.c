/* lk-cli-generate.c: likeness-cli txt2img | img2img | inpaint
 *
 * One generation with a Stable Diffusion 1.x checkpoint, written as a PNG whose "parameters" text
 * chunk is what A1111 writes, so the image can be dropped into its PNG Info tab (or read back by
 * Likeness) to redo it.
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lk-catalog.h"
#include "lk-cli.h"
#include "lk-control-image.h"
#include "lk-image.h"
#include "lk-model-registry.h"
#include "lk-pipeline-extras.h"
#include "lk-pipeline.h"
#include "lk-prompt-lora.h"

typedef enum
{
  MODE_TXT2IMG,
  MODE_IMG2IMG,
  MODE_INPAINT,
} Mode;

static const char *mode_names[] = { "txt2img", "img2img", "inpaint" };

/* The sampler as A1111 names it in its infotext (the 1.x form, with " Karras" appended). */
static char *
a1111_sampler_name (LkSamplerKind kind,
                    gboolean      karras)
{
  static const char *names[LK_N_SAMPLERS] = {
    [LK_SAMPLER_EULER] = "Euler",
    [LK_SAMPLER_EULER_ANCESTRAL] = "Euler a",
    [LK_SAMPLER_DPMPP_2M] = "DPM++ 2M",
    [LK_SAMPLER_DPMPP_2M_SDE] = "DPM++ 2M SDE",
    [LK_SAMPLER_DDIM] = "DDIM",
    [LK_SAMPLER_LCM] = "LCM",
  };

  return g_strconcat (names[kind], karras && kind != LK_SAMPLER_DDIM ? " Karras" : "", NULL);
}

/* A1111's short model hash: the first 10 hex digits of the file's SHA-256. NULL for a folder. */
static char *
model_hash (const char  *path,
            GError     **error)
{
  g_autoptr(GMappedFile) mapped = NULL;
  g_autoptr(GChecksum) checksum = NULL;
  const guchar *data;
  gsize length;

  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    return NULL;
  if ((mapped = g_mapped_file_new (path, FALSE, error)) == NULL)
    return NULL;
  checksum = g_checksum_new (G_CHECKSUM_SHA256);
  data = (const guchar *) g_mapped_file_get_contents (mapped);
  length = g_mapped_file_get_length (mapped);
  for (gsize done = 0; done < length; done += 1 << 24)
    g_checksum_update (checksum, data + done, MIN (length - done, (gsize) 1 << 24));
  return g_strndup (g_checksum_get_string (checksum), 10);
}

static char *
infotext (const LkPipelineParams *params,
          Mode                    mode,
          guint                   width,
          guint                   height,
          const char             *model,
          const char             *hash)
{
  GString *s = g_string_new (params->prompt);
  g_autofree char *sampler = a1111_sampler_name (params->sampler, params->karras);
  g_autofree char *base = g_path_get_basename (model);
  char *dot = strrchr (base, '.');
  char number[G_ASCII_DTOSTR_BUF_SIZE];

  if (dot != NULL && dot != base)
    *dot = '\0';
  if (params->negative_prompt != NULL && params->negative_prompt[0] != '\0')
    g_string_append_printf (s, "\nNegative prompt: %s", params->negative_prompt);
  g_string_append_printf (s, "\nSteps: %u, Sampler: %s, CFG scale: %s, Seed: %" G_GUINT64_FORMAT
                          ", Size: %ux%u", params->steps, sampler,
                          g_ascii_formatd (number, sizeof number, "%g", params->cfg_scale),
                          params->seed, width, height);
  if (hash != NULL)
    g_string_append_printf (s, ", Model hash: %s", hash);
  g_string_append_printf (s, ", Model: %s", base);
  if (mode != MODE_TXT2IMG)
    g_string_append_printf (s, ", Denoising strength: %s",
                            g_ascii_formatd (number, sizeof number, "%g", params->strength));
  if (params->clip_skip != 1)
    g_string_append_printf (s, ", Clip skip: %u", params->clip_skip);
  if (mode == MODE_INPAINT)
    g_string_append_printf (s, ", Mask blur: %u", params->mask_blur);
  g_string_append_printf (s, ", Version: likeness %s", PACKAGE_VERSION);
  return g_string_free (s, FALSE);
}

char *
lk_cli_find_vocab (const char  *vocab,
                   GError     **error)
{
  g_autoptr(LkModelRegistry) registry = NULL;
  g_autofree char *data_dir = NULL, *dir = NULL, *path = NULL;
  const LkModelEntry *entry;

  if (vocab != NULL)
    return g_strdup (vocab);
  if ((registry = lk_model_registry_new_default (error)) == NULL)
    return NULL;
  if ((entry = lk_model_registry_lookup (registry, "clip-vocab")) == NULL)
    {
      g_set_error (error, LK_MODELS_ERROR, LK_MODELS_ERROR_NOT_FOUND,
                   "the model registry has no clip-vocab entry");
      return NULL;
    }
  data_dir = lk_catalog_default_data_dir ();
  dir = lk_model_entry_get_dir (entry, data_dir);
  path = g_build_filename (dir, ((LkModelFileSpec *) g_ptr_array_index (entry->files, 0))->path,
                           NULL);
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                   "the CLIP vocabulary is not at %s: run “likeness-cli models download "
                   "clip-vocab” or pass --vocab FILE", path);
      return NULL;
    }
  return g_steal_pointer (&path);
}

/* The image (and mask) at the size to generate: --width/--height when given, else the image's
 * own size rounded down to multiples of 64; resized with OpenCV's bicubic filter when needed. */
static LkImage *
fit_image (const LkImage *image,
           guint          width,
           guint          height)
{
  g_autoptr(LkImage) rgb = image->channels == 3 ? lk_image_copy (image) : lk_image_convert (image, 3);
  g_autofree guint8 *resized = NULL;
  LkImage *out;

  if (rgb->width == width && rgb->height == height)
    return g_steal_pointer (&rgb);
  resized = lk_resize_cubic_rgb (rgb->data, rgb->width, rgb->height, rgb->stride, width, height);
  out = lk_image_new (width, height, 3);
  for (guint y = 0; y < height; y++)
    memcpy (lk_image_pixel (out, 0, y), resized + (gsize) y * width * 3, (gsize) width * 3);
  return out;
}

/* A mask as the pipeline reads it, one channel, resized like the image. */
static LkImage *
fit_mask (const LkImage *mask,
          guint          width,
          guint          height)
{
  g_autoptr(LkImage) gray = lk_image_new (mask->width, mask->height, 1);
  g_autoptr(LkImage) luma = NULL, rgb = NULL, fitted = NULL;
  gboolean use_alpha = FALSE;
  LkImage *out;

  /* A1111 reads an RGBA mask's alpha unless it is opaque everywhere. */
  if (mask->channels == 4)
    for (guint y = 0; y < mask->height && !use_alpha; y++)
      for (guint x = 0; x < mask->width && !use_alpha; x++)
        use_alpha = lk_image_pixel (mask, x, y)[3] != 255;
  luma = use_alpha ? NULL : lk_image_convert (mask, 1);
  for (guint y = 0; y < mask->height; y++)
    for (guint x = 0; x < mask->width; x++)
      *lk_image_pixel (gray, x, y) = use_alpha ? lk_image_pixel (mask, x, y)[3]
                                               : *lk_image_pixel (luma, x, y);
  if (gray->width == width && gray->height == height)
    return g_steal_pointer (&gray);
  rgb = lk_image_convert (gray, 3);
  fitted = fit_image (rgb, width, height);
  out = lk_image_convert (fitted, 1);
  return out;
}

typedef struct
{
  gboolean tty;
  guint    steps;
  double   total;
} Progress;

static void
progress_cb (guint    step,
             guint    n_steps,
             double   seconds,
             gpointer user_data)
{
  Progress *progress = user_data;

  progress->total += seconds;
  progress->steps = step;
  if (progress->tty)
    {
      fprintf (stderr, "\rstep %u/%u  %.2f s/step ", step, n_steps, seconds);
      if (step == n_steps)
        fputc ('\n', stderr);
      fflush (stderr);
    }
}

/* Splits "A:B:C…" at its colons into at least @min and at most @max fields. */
static char **
split_spec (const char  *option,
            const char  *spec,
            guint        min,
            guint        max,
            GError     **error)
{
  g_auto(GStrv) fields = g_strsplit (spec, ":", -1);
  guint n = g_strv_length (fields);

  if (n < min || n > max)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--%s “%s”: expected %u to %u fields separated by “:”", option, spec, min, max);
      return NULL;
    }
  return g_steal_pointer (&fields);
}

static gboolean
parse_float (const char  *option,
             const char  *text,
             float       *value,
             GError     **error)
{
  char *end;
  double v = g_ascii_strtod (text, &end);

  if (end == text || *end != '\0' || !isfinite (v))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--%s: “%s” is not a number", option, text);
      return FALSE;
    }
  *value = (float) v;
  return TRUE;
}

/* --controlnet PATH:IMAGE:WEIGHT[:START:END], each a unit at the generation's size. */
static gboolean
add_controls (LkPipelineExtras  *extras,
              LkContext         *context,
              char             **specs,
              LkControlMode      mode,
              guint              width,
              guint              height,
              GError           **error)
{
  g_autoptr(LkStream) stream = NULL;

  if (specs == NULL)
    return TRUE;
  if ((stream = lk_stream_new (context, error)) == NULL)
    return FALSE;
  for (guint i = 0; specs[i] != NULL; i++)
    {
      g_auto(GStrv) f = split_spec ("controlnet", specs[i], 3, 5, error);
      g_autoptr(LkControlNet) net = NULL;
      g_autoptr(LkImage) image = NULL;
      float weight, start = 0, end = 1;

      if (f == NULL ||
          !parse_float ("controlnet", f[2], &weight, error) ||
          (f[3] != NULL && !parse_float ("controlnet", f[3], &start, error)) ||
          (f[3] != NULL && f[4] != NULL && !parse_float ("controlnet", f[4], &end, error)) ||
          (image = lk_image_load (f[1], 3, error)) == NULL ||
          (net = lk_controlnet_open (stream, f[0], error)) == NULL ||
          !lk_stream_finish (stream, error) ||
          !lk_pipeline_extras_add_control (extras, net, image, width, height, weight, start, end,
                                           mode, error))
        return FALSE;
      fprintf (stderr, "ControlNet %s on %s, weight %g, steps %g–%g (%s)\n", f[0], f[1], weight,
               start, end, lk_control_mode_to_string (mode));
    }
  return TRUE;
}

static gboolean
add_lora (LkPipelineExtras  *extras,
          const char        *path,
          float              te_weight,
          float              unet_weight,
          GError           **error)
{
  g_autoptr(LkLora) lora = NULL;
  g_autoptr(GPtrArray) unmatched = g_ptr_array_new_with_free_func (g_free);

  if ((lora = lk_lora_open (path, error)) == NULL ||
      !lk_pipeline_extras_add_lora (extras, lora, te_weight, unet_weight, unmatched, error))
    return FALSE;
  fprintf (stderr, "LoRA %s merged (text encoder %g, UNet %g)", path, te_weight, unet_weight);
  if (unmatched->len > 0)
    fprintf (stderr, "; %u of its modules match nothing here, such as %s", unmatched->len,
             (const char *) g_ptr_array_index (unmatched, 0));
  fputc ('\n', stderr);
  return TRUE;
}

/* --lora PATH[:WEIGHT], then the prompt's <lora:NAME:WEIGHT> tags, found at @tag_paths. */
static gboolean
add_loras (LkPipelineExtras    *extras,
           char               **specs,
           GArray              *tags,
           GPtrArray           *tag_paths,
           GError             **error)
{
  for (guint i = 0; specs != NULL && specs[i] != NULL; i++)
    {
      /* The weight is what follows the last colon, when that is a number. */
      const char *colon = strrchr (specs[i], ':');
      g_autofree char *path = NULL;
      float weight = 1;

      if (colon != NULL && parse_float ("lora", colon + 1, &weight, NULL))
        path = g_strndup (specs[i], colon - specs[i]);
      else
        path = g_strdup (specs[i]);
      if (!add_lora (extras, path, weight, weight, error))
        return FALSE;
    }
  for (guint i = 0; tags != NULL && i < tags->len; i++)
    {
      const LkPromptLora *tag = &g_array_index (tags, LkPromptLora, i);

      if (!add_lora (extras, g_ptr_array_index (tag_paths, i), tag->te_weight, tag->unet_weight,
                     error))
        return FALSE;
    }
  return TRUE;
}

static int
generate_main (Mode    mode,
               int     argc,
               char  **argv)
{
  g_autofree char *model = NULL, *vae = NULL, *vocab = NULL, *prompt = NULL, *negative = NULL;
  g_autofree char *sampler = NULL, *image_path = NULL, *mask_path = NULL, *output = NULL;
  gint64 seed = -1;
  int steps = 20, width = 0, height = 0, clip_skip = 1, mask_blur = 4;
  double cfg = 7.0, strength = 0.75;
  gboolean karras = FALSE;
  g_auto(GStrv) controlnets = NULL, loras = NULL, lora_dirs = NULL;
  g_autofree char *control_mode = NULL;
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model, "Checkpoint (.safetensors, .ckpt) or diffusers folder", "PATH" },
    { "vae", 0, 0, G_OPTION_ARG_FILENAME, &vae, "A VAE file replacing the checkpoint's", "PATH" },
    { "vocab", 0, 0, G_OPTION_ARG_FILENAME, &vocab, "CLIP vocabulary (default: the downloaded clip-vocab)", "FILE" },
    { "prompt", 'p', 0, G_OPTION_ARG_STRING, &prompt, "Prompt, with A1111 (emphasis:1.2)", "TEXT" },
    { "negative", 'n', 0, G_OPTION_ARG_STRING, &negative, "Negative prompt", "TEXT" },
    { "steps", 0, 0, G_OPTION_ARG_INT, &steps, "Sampling steps (20)", "N" },
    { "cfg", 0, 0, G_OPTION_ARG_DOUBLE, &cfg, "Classifier-free guidance scale (7)", "X" },
    { "sampler", 0, 0, G_OPTION_ARG_STRING, &sampler, "euler, euler_a (default), dpmpp_2m, dpmpp_2m_sde, ddim, lcm", "NAME" },
    { "karras", 0, 0, G_OPTION_ARG_NONE, &karras, "Karras sigmas", NULL },
    { "seed", 's', 0, G_OPTION_ARG_INT64, &seed, "Seed (default: a random one)", "N" },
    { "width", 'W', 0, G_OPTION_ARG_INT, &width, "Width, a multiple of 64 (512; img2img: the image's)", "PX" },
    { "height", 'H', 0, G_OPTION_ARG_INT, &height, "Height, a multiple of 64 (512; img2img: the image's)", "PX" },
    { "strength", 0, 0, G_OPTION_ARG_DOUBLE, &strength, "img2img/inpaint: denoising strength (0.75)", "S" },
    { "image", 'i', 0, G_OPTION_ARG_FILENAME, &image_path, "img2img/inpaint: the input image", "IN" },
    { "mask", 0, 0, G_OPTION_ARG_FILENAME, &mask_path, "inpaint: white where to paint", "MASK" },
    { "mask-blur", 0, 0, G_OPTION_ARG_INT, &mask_blur, "inpaint: mask blur in pixels (4)", "PX" },
    { "clip-skip", 0, 0, G_OPTION_ARG_INT, &clip_skip, "1 (default) or 2", "N" },
    { "controlnet", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &controlnets, "A ControlNet unit (repeatable); START and END are fractions of the steps (0, 1)", "PATH:IMAGE:WEIGHT[:START:END]" },
    { "control-mode", 0, 0, G_OPTION_ARG_STRING, &control_mode, "balanced (default), prompt (my prompt is more important) or control (ControlNet is more important)", "MODE" },
    { "lora", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &loras, "A LoRA merged at WEIGHT (1; repeatable)", "PATH[:WEIGHT]" },
    { "lora-dir", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &lora_dirs, "Where the prompt's <lora:NAME:WEIGHT> tags are looked for (repeatable; default: the current folder)", "DIR" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output, "The PNG to write", "OUT" },
    { NULL }
  };
  g_autofree char *summary = g_strdup_printf ("— %s with a Stable Diffusion 1.x checkpoint",
                                              mode == MODE_TXT2IMG ? "an image from a prompt"
                                              : mode == MODE_IMG2IMG ? "redraw an image"
                                              : "repaint the masked part of an image");
  g_autoptr(GOptionContext) options = g_option_context_new (summary);
  g_autoptr(GError) error = NULL;
  g_autoptr(LkImage) image = NULL, mask = NULL, result = NULL;
  g_autoptr(LkModelFiles) files = NULL;
  g_autoptr(LkTokenizer) tokenizer = NULL;
  g_autoptr(LkContext) context = NULL;
  g_autoptr(LkPipeline) pipeline = NULL;
  g_autoptr(LkPipelineExtras) extras = NULL;
  g_autoptr(GArray) tags = NULL;
  g_autoptr(GPtrArray) tag_paths = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GHashTable) text = NULL;
  g_autofree char *stripped = NULL;
  LkControlMode mode_of_control = LK_CONTROL_MODE_BALANCED;
  g_autofree char *vocab_path = NULL, *hash = NULL, *parameters = NULL;
  LkPipelineParams params;
  Progress progress = { isatty (STDERR_FILENO), 0, 0 };
  gint64 start;

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    return lk_cli_fail ("%s: %s", mode_names[mode], error->message);
  if (argc > 1)
    return lk_cli_fail ("%s: unexpected argument “%s”", mode_names[mode], argv[1]);
  if (model == NULL || output == NULL)
    return lk_cli_fail ("%s: --model PATH and -o OUT.png are required", mode_names[mode]);
  if (mode != MODE_TXT2IMG && image_path == NULL)
    return lk_cli_fail ("%s: --image IN is required", mode_names[mode]);
  if (mode == MODE_INPAINT && mask_path == NULL)
    return lk_cli_fail ("inpaint: --mask MASK is required (white where to paint)");
  if (mode != MODE_INPAINT && mask_path != NULL)
    return lk_cli_fail ("%s: --mask is for inpaint", mode_names[mode]);

  if (control_mode != NULL && !lk_control_mode_from_string (control_mode, &mode_of_control))
    return lk_cli_fail ("%s: unknown control mode “%s” (balanced, prompt, control)",
                        mode_names[mode], control_mode);
  if ((stripped = lk_prompt_extract_loras (prompt != NULL ? prompt : "", &tags, &error)) == NULL)
    return lk_cli_fail ("%s: %s", mode_names[mode], error->message);
  /* Found before anything loads, so a misspelt name fails at once. */
  for (guint i = 0; i < tags->len; i++)
    {
      const char *here[] = { ".", NULL };
      const char * const *folders = lora_dirs != NULL ? (const char * const *) lora_dirs : here;
      char *path = lk_prompt_lora_resolve (g_array_index (tags, LkPromptLora, i).name, folders,
                                           &error);

      if (path == NULL)
        return lk_cli_fail ("%s: %s", mode_names[mode], error->message);
      g_ptr_array_add (tag_paths, path);
    }

  lk_pipeline_params_init (&params);
  params.prompt = stripped;
  params.negative_prompt = negative != NULL ? negative : "";
  if (steps < 1 || width < 0 || height < 0 || clip_skip < 1 || mask_blur < 0)
    return lk_cli_fail ("%s: --steps, --clip-skip must be at least 1 and --width, --height, "
                        "--mask-blur not negative", mode_names[mode]);
  params.steps = steps;
  params.cfg_scale = cfg;
  if (sampler != NULL && !lk_sampler_kind_from_string (sampler, &params.sampler))
    return lk_cli_fail ("%s: unknown sampler “%s” (euler, euler_a, dpmpp_2m, dpmpp_2m_sde, "
                        "ddim, lcm)", mode_names[mode], sampler);
  params.karras = karras;
  params.seed = seed >= 0 ? (guint64) seed : g_random_int ();
  params.strength = strength;
  params.clip_skip = clip_skip;
  params.mask_blur = mask_blur;
  params.progress = progress_cb;
  params.progress_data = &progress;

  if (mode != MODE_TXT2IMG)
    {
      g_autoptr(LkImage) loaded = lk_image_load (image_path, 3, &error);

      if (loaded == NULL)
        return lk_cli_fail ("%s: %s", mode_names[mode], error->message);
      if (width == 0)
        width = loaded->width / 64 * 64;
      if (height == 0)
        height = loaded->height / 64 * 64;
      if (width == 0 || height == 0)
        return lk_cli_fail ("%s: %s is smaller than 64×64", mode_names[mode], image_path);
      image = fit_image (loaded, width, height);
    }
  if (mode == MODE_INPAINT)
    {
      g_autoptr(LkImage) loaded = lk_image_load (mask_path, 4, &error);

      if (loaded == NULL)
        return lk_cli_fail ("inpaint: %s", error->message);
      mask = fit_mask (loaded, width, height);
    }
  params.width = width > 0 ? width : 512;
  params.height = height > 0 ? height : 512;
  if (params.width % 64 != 0 || params.height % 64 != 0)
    return lk_cli_fail ("%s: the size %u×%u is not made of multiples of 64", mode_names[mode],
                        params.width, params.height);

  start = g_get_monotonic_time ();
  if ((vocab_path = lk_cli_find_vocab (vocab, &error)) == NULL ||
      (tokenizer = lk_tokenizer_new_from_file (vocab_path, &error)) == NULL ||
      (files = lk_model_files_open (model, vae, &error)) == NULL ||
      (context = lk_context_new (NULL, LK_CONTEXT_FLAGS_NONE, &error)) == NULL ||
      (pipeline = lk_pipeline_new (context, files, tokenizer, &error)) == NULL)
    return lk_cli_fail ("%s: %s", mode_names[mode], error->message);
  g_clear_pointer (&files, lk_model_files_unref);
  fprintf (stderr, "%s loaded in %.1f s (%s)\n", model, (g_get_monotonic_time () - start) / 1e6,
           lk_model_kind_get_name (lk_pipeline_get_kind (pipeline)));

  extras = lk_pipeline_extras_new (pipeline);
  if (!add_loras (extras, loras, tags, tag_paths, &error) ||
      !add_controls (extras, context, controlnets, mode_of_control, params.width, params.height,
                     &error))
    return lk_cli_fail ("%s: %s", mode_names[mode], error->message);
  params.hooks = lk_pipeline_extras_get_hooks (extras);

  start = g_get_monotonic_time ();
  if (mode == MODE_TXT2IMG)
    result = lk_pipeline_txt2img (pipeline, &params, NULL, &error);
  else if (mode == MODE_IMG2IMG)
    result = lk_pipeline_img2img (pipeline, &params, image, NULL, &error);
  else
    result = lk_pipeline_inpaint (pipeline, &params, image, mask, NULL, &error);
  if (result == NULL)
    return lk_cli_fail ("%s: %s", mode_names[mode], error->message);

  if ((hash = model_hash (model, &error)) == NULL && error != NULL)
    return lk_cli_fail ("%s: %s", mode_names[mode], error->message);
  /* A1111 keeps the LoRA tags in the prompt it records. */
  params.prompt = prompt != NULL ? prompt : "";
  parameters = infotext (&params, mode, params.width, params.height, model, hash);
  text = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_insert (text, "parameters", parameters);
  if (!lk_image_save_png (result, output, text, &error))
    return lk_cli_fail ("%s: %s", mode_names[mode], error->message);
  printf ("%s: %u×%u, seed %" G_GUINT64_FORMAT ", %.1f s (%.2f s/step)\n", output, params.width,
          params.height, params.seed, (g_get_monotonic_time () - start) / 1e6,
          progress.total / MAX (progress.steps, 1));
  return 0;
}

int
lk_cli_txt2img (int    argc,
                char **argv)
{
  return generate_main (MODE_TXT2IMG, argc, argv);
}

int
lk_cli_img2img (int    argc,
                char **argv)
{
  return generate_main (MODE_IMG2IMG, argc, argv);
}

int
lk_cli_inpaint (int    argc,
                char **argv)
{
  return generate_main (MODE_INPAINT, argc, argv);
}
