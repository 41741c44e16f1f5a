/* lk-cli-faces.c: likeness-cli faces detect|compare, likeness-cli upscale
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <json-glib/json-glib.h>

#include "lk-cli.h"
#include "lk-esrgan.h"
#include "lk-face-detector.h"
#include "lk-face-id.h"
#include "lk-face-landmarks.h"
#include "lk-image.h"

/* The folder of the face and upscaler models (the layout of ../shared/models): --models, else
 * $LIKENESS_FACE_MODELS. */
static const char *
models_dir (const char *option)
{
  return option ? option : g_getenv ("LIKENESS_FACE_MODELS");
}

typedef struct
{
  LkContext         *context;
  LkStream          *stream;
  LkFaceDetector    *detector;
  LkFaceLandmarkNet *landmarks;
  LkFaceIdNet       *id;
} Faces;

static void
faces_clear (Faces *f)
{
  g_clear_pointer (&f->id, lk_face_id_net_free);
  g_clear_pointer (&f->landmarks, lk_face_landmark_net_free);
  g_clear_pointer (&f->detector, lk_face_detector_free);
  g_clear_pointer (&f->stream, lk_stream_free);
  g_clear_object (&f->context);
}

static gboolean
faces_open (Faces       *f,
            const char  *dir,
            gboolean     with_id,
            GError     **error)
{
  g_autofree char *human = g_build_filename (dir, "human", NULL);
  g_autofree char *lm = g_build_filename (dir, "face-api",
                                          "face_landmark_68_model-weights_manifest.json", NULL);
  g_autofree char *id = g_build_filename (dir, "face-api",
                                          "face_recognition_model-weights_manifest.json", NULL);

  return (f->context = lk_context_new (NULL, LK_CONTEXT_FLAGS_NONE, error)) != NULL &&
         (f->stream = lk_stream_new (f->context, error)) != NULL &&
         (f->detector = lk_face_detector_new (f->context, human, error)) != NULL &&
         (f->landmarks = lk_face_landmark_net_new (f->context, lm, error)) != NULL &&
         (!with_id || (f->id = lk_face_id_net_new (f->context, id, error)) != NULL);
}

static void
add_points (JsonBuilder *b,
            const char  *name,
            const float (*points)[2],
            guint        n)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  for (guint i = 0; i < n; i++)
    {
      json_builder_begin_array (b);
      json_builder_add_double_value (b, points[i][0]);
      json_builder_add_double_value (b, points[i][1]);
      json_builder_end_array (b);
    }
  json_builder_end_array (b);
}

static int
faces_detect (Faces      *f,
              const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LkImage) image = lk_image_load (path, 3, &error);
  g_autoptr(GArray) faces = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;

  if (image == NULL)
    return lk_cli_fail ("%s: %s", path, error->message);
  faces = lk_face_detector_detect (f->detector, f->stream, image, &error);
  if (faces == NULL)
    return lk_cli_fail ("%s: %s", path, error->message);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "image");
  json_builder_add_string_value (b, path);
  json_builder_set_member_name (b, "faces");
  json_builder_begin_array (b);
  for (guint i = 0; i < faces->len; i++)
    {
      const LkFaceDetection *d = &g_array_index (faces, LkFace, i).detection;
      float box[4] = { d->x, d->y, d->width, d->height };
      LkFaceLandmarks lm;

      if (!lk_face_landmark_net_detect (f->landmarks, f->stream, image, box, &lm, &error))
        return lk_cli_fail ("%s: %s", path, error->message);
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "box");
      json_builder_begin_array (b);
      for (guint k = 0; k < 4; k++)
        json_builder_add_double_value (b, box[k]);
      json_builder_end_array (b);
      json_builder_set_member_name (b, "score");
      json_builder_add_double_value (b, d->score);
      add_points (b, "keypoints", (const float (*)[2]) d->keypoints, LK_BLAZEFACE_N_KEYPOINTS);
      add_points (b, "landmarks", (const float (*)[2]) lm.points, LK_FACE_LANDMARKS_N_POINTS);
      add_points (b, "alignment", (const float (*)[2]) lm.align, 5);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  text = json_generator_to_data (gen, NULL);
  g_print ("%s\n", text);
  return 0;
}

static gboolean
describe (Faces       *f,
          const char  *path,
          float       *descriptor,
          GError     **error)
{
  g_autoptr(LkImage) image = lk_image_load (path, 3, error);
  LkFace face;
  float box[4];

  if (image == NULL ||
      !lk_face_detector_detect_one (f->detector, f->stream, image, &face, error))
    return FALSE;
  box[0] = face.detection.x;
  box[1] = face.detection.y;
  box[2] = face.detection.width;
  box[3] = face.detection.height;
  return lk_face_id_net_describe (f->id, f->stream, image, box, descriptor, error);
}

static int
faces_compare (Faces      *f,
               const char *a,
               const char *b)
{
  float da[LK_FACE_ID_DIM], db[LK_FACE_ID_DIM];
  g_autoptr(GError) error = NULL;
  float distance;

  if (!describe (f, a, da, &error))
    return lk_cli_fail ("%s: %s", a, error->message);
  if (!describe (f, b, db, &error))
    return lk_cli_fail ("%s: %s", b, error->message);
  distance = lk_face_id_distance (da, db);
  g_print ("{\n  \"distance\": %.4f,\n  \"cosine\": %.4f,\n  \"threshold\": %.2f,\n"
           "  \"same_person\": %s\n}\n", distance, lk_face_id_cosine (da, db),
           LK_FACE_ID_SAME_PERSON_DISTANCE, lk_face_id_same_person (da, db) ? "true" : "false");
  return 0;
}

int
lk_cli_faces (int    argc,
              char **argv)
{
  g_autofree char *models = NULL;
  GOptionEntry entries[] = {
    { "models", 0, 0, G_OPTION_ARG_FILENAME, &models,
      "The face models folder (default: $LIKENESS_FACE_MODELS)", "DIR" },
    { NULL },
  };
  g_autoptr(GOptionContext) options =
    g_option_context_new ("detect IMAGE | compare IMAGE_A IMAGE_B — find and compare faces");
  g_autoptr(GError) error = NULL;
  const char *dir;
  Faces f = { 0 };
  int status;

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    return lk_cli_fail ("%s", error->message);
  if (!((argc == 3 && g_str_equal (argv[1], "detect")) ||
        (argc == 4 && g_str_equal (argv[1], "compare"))))
    return lk_cli_fail ("faces needs “detect IMAGE” or “compare IMAGE_A IMAGE_B”; see "
                        "“likeness-cli faces --help”");
  dir = models_dir (models);
  if (dir == NULL)
    return lk_cli_fail ("faces: say where the face models are with --models DIR "
                        "(or LIKENESS_FACE_MODELS)");
  if (!faces_open (&f, dir, g_str_equal (argv[1], "compare"), &error))
    {
      faces_clear (&f);
      return lk_cli_fail ("faces: %s", error->message);
    }
  status = g_str_equal (argv[1], "detect") ? faces_detect (&f, argv[2]) :
                                             faces_compare (&f, argv[2], argv[3]);
  faces_clear (&f);
  return status;
}

int
lk_cli_upscale (int    argc,
                char **argv)
{
  g_autofree char *models = NULL, *output = NULL;
  int scale = 2;
  GOptionEntry entries[] = {
    { "scale", 0, 0, G_OPTION_ARG_INT, &scale, "2 or 4 (2)", "N" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output, "Where to write the PNG", "OUT" },
    { "models", 0, 0, G_OPTION_ARG_FILENAME, &models,
      "The models folder (default: $LIKENESS_FACE_MODELS)", "DIR" },
    { NULL },
  };
  g_autoptr(GOptionContext) options =
    g_option_context_new ("IMAGE — ESRGAN super-resolution ×2 or ×4");
  g_autoptr(GError) error = NULL;
  g_autoptr(LkContext) context = NULL;
  g_autoptr(LkStream) stream = NULL;
  g_autoptr(LkEsrgan) esrgan = NULL;
  g_autoptr(LkImage) input = NULL, result = NULL;
  g_autofree char *model = NULL;
  const char *dir;

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    return lk_cli_fail ("%s", error->message);
  if (argc != 2)
    return lk_cli_fail ("upscale needs one image; see “likeness-cli upscale --help”");
  if (output == NULL)
    return lk_cli_fail ("upscale: say where to write the result with -o OUT");
  if (scale != 2 && scale != 4)
    return lk_cli_fail ("upscale: the scale must be 2 or 4");
  dir = models_dir (models);
  if (dir == NULL)
    return lk_cli_fail ("upscale: say where the models are with --models DIR "
                        "(or LIKENESS_FACE_MODELS)");
  model = g_build_filename (dir, "upscalerjs", "esrgan-slim", scale == 2 ? "x2" : "x4",
                            "model.json", NULL);
  if ((input = lk_image_load (argv[1], 3, &error)) == NULL)
    return lk_cli_fail ("%s: %s", argv[1], error->message);
  if ((context = lk_context_new (NULL, LK_CONTEXT_FLAGS_NONE, &error)) == NULL ||
      (stream = lk_stream_new (context, &error)) == NULL ||
      (esrgan = lk_esrgan_new (context, model, &error)) == NULL ||
      (result = lk_esrgan_upscale (esrgan, stream, input, 0, 0, &error)) == NULL ||
      !lk_image_save_png (result, output, NULL, &error))
    return lk_cli_fail ("upscale: %s", error->message);
  return 0;
}
