/* test-vk.c: device choice, allocator, pipeline cache, command stream, tensors and arena
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "lk-context-private.h"
#include "lk-half.h"
#include "lk-test-util.h"
#include "lk-ref.h"

static LkDeviceInfo *
fake_device (const char           *name,
             VkPhysicalDeviceType  type,
             gboolean              usable)
{
  LkDeviceInfo *info = g_new0 (LkDeviceInfo, 1);

  info->name = g_strdup (name);
  info->driver = g_strdup ("test");
  info->type = type;
  info->usable = usable;
  info->unusable_reason = usable ? NULL : g_strdup ("too old");
  return info;
}

static void
test_choose_device (void)
{
  g_autoptr(GPtrArray) devices = g_ptr_array_new_with_free_func ((GDestroyNotify) lk_device_info_free);
  g_autoptr(GError) error = NULL;

  g_ptr_array_add (devices, fake_device ("llvmpipe (LLVM 15.0.6, 256 bits)", VK_PHYSICAL_DEVICE_TYPE_CPU, TRUE));
  g_ptr_array_add (devices, fake_device ("Intel(R) UHD Graphics 630", VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU, TRUE));
  g_ptr_array_add (devices, fake_device ("NVIDIA GeForce RTX 3060", VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU, TRUE));
  g_ptr_array_add (devices, fake_device ("Old Radeon", VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU, FALSE));

  /* discrete > integrated > virtual > CPU, never an unusable one */
  g_assert_cmpuint (lk_context_choose_device (devices, NULL, &error), ==, 2);
  g_assert_cmpuint (lk_context_choose_device (devices, "", &error), ==, 2);
  /* by index and by case-insensitive name substring */
  g_assert_cmpuint (lk_context_choose_device (devices, "0", &error), ==, 0);
  g_assert_cmpuint (lk_context_choose_device (devices, "intel", &error), ==, 1);
  g_assert_cmpuint (lk_context_choose_device (devices, "LLVMPIPE", &error), ==, 0);
  g_assert_no_error (error);

  g_assert_cmpuint (lk_context_choose_device (devices, "7", &error), ==, G_MAXUINT);
  g_assert_error (error, LK_VK_ERROR, LK_VK_ERROR_NO_DEVICE);
  g_clear_error (&error);
  g_assert_cmpuint (lk_context_choose_device (devices, "radeon", &error), ==, G_MAXUINT);
  g_assert_error (error, LK_VK_ERROR, LK_VK_ERROR_UNSUPPORTED);
  g_assert_nonnull (strstr (error->message, "too old"));
  g_clear_error (&error);

  g_ptr_array_remove_range (devices, 0, 3);
  g_assert_cmpuint (lk_context_choose_device (devices, NULL, &error), ==, G_MAXUINT);
  g_assert_error (error, LK_VK_ERROR, LK_VK_ERROR_NO_DEVICE);
  g_assert_nonnull (strstr (error->message, "mesa-vulkan-drivers"));
}

static void
test_features (void)
{
  LkContext *context = lk_test_context ();
  const LkDeviceInfo *info;

  if (context == NULL)
    return;
  info = lk_context_get_info (context);
  g_assert_true (info->usable);
  g_assert_true (info->storage_buffer_16bit);
  g_assert_cmpuint (info->subgroup_size, >=, 1);
  g_assert_cmpuint (info->max_storage_buffer_range, >=, 1 << 20);
  g_assert_cmpuint (info->max_shared_memory, >=, 16384);
  g_assert_cmpuint (lk_context_get_binding_alignment (context) % 16, ==, 0);
  g_test_message ("device: %s, subgroup %u, binding range %" G_GUINT64_FORMAT,
                  info->name, info->subgroup_size, info->max_storage_buffer_range);
}

static void
test_allocator (void)
{
  LkContext *context = lk_test_context ();
  g_autoptr(GError) error = NULL;
  LkBuffer *buffers[64];
  guint64 before;
  gsize align;

  if (context == NULL)
    return;
  align = lk_context_get_binding_alignment (context);
  before = lk_context_get_allocated_bytes (context);

  /* Many small buffers share blocks, are aligned, and never overlap. */
  for (guint i = 0; i < G_N_ELEMENTS (buffers); i++)
    {
      buffers[i] = lk_buffer_new (context, LK_MEMORY_DEVICE, 1000 + i * 37, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (buffers[i]->offset % align, ==, 0);
    }
  for (guint i = 0; i < G_N_ELEMENTS (buffers); i++)
    for (guint j = i + 1; j < G_N_ELEMENTS (buffers); j++)
      if (buffers[i]->block == buffers[j]->block)
        g_assert_true (buffers[i]->offset + buffers[i]->size <= buffers[j]->offset ||
                       buffers[j]->offset + buffers[j]->size <= buffers[i]->offset);
  g_assert_cmpuint (lk_allocator_get_n_blocks (lk_context_get_allocator (context), LK_MEMORY_DEVICE), ==, 1);

  /* Freeing every other one and allocating again reuses the holes. */
  for (guint i = 0; i < G_N_ELEMENTS (buffers); i += 2)
    g_clear_pointer (&buffers[i], lk_buffer_unref);
  for (guint i = 0; i < G_N_ELEMENTS (buffers); i += 2)
    {
      buffers[i] = lk_buffer_new (context, LK_MEMORY_DEVICE, 900, &error);
      g_assert_no_error (error);
    }
  g_assert_cmpuint (lk_allocator_get_n_blocks (lk_context_get_allocator (context), LK_MEMORY_DEVICE), ==, 1);
  for (guint i = 0; i < G_N_ELEMENTS (buffers); i++)
    lk_buffer_unref (buffers[i]);
  g_assert_cmpuint (lk_context_get_allocated_bytes (context), ==, before);

  /* Everything coalesced: one allocation of almost a whole block fits again. */
  buffers[0] = lk_buffer_new (context, LK_MEMORY_DEVICE, 30 * 1024 * 1024, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (lk_allocator_get_n_blocks (lk_context_get_allocator (context), LK_MEMORY_DEVICE), ==, 1);
  lk_buffer_unref (buffers[0]);

  /* A large request gets a dedicated block that goes back to the driver when freed. */
  buffers[0] = lk_buffer_new (context, LK_MEMORY_DEVICE, 40 * 1024 * 1024, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (lk_allocator_get_n_blocks (lk_context_get_allocator (context), LK_MEMORY_DEVICE), ==, 2);
  g_assert_cmpuint (lk_context_get_peak_allocated_bytes (context), >=, before + 40 * 1024 * 1024);
  lk_buffer_unref (buffers[0]);
  g_assert_cmpuint (lk_allocator_get_n_blocks (lk_context_get_allocator (context), LK_MEMORY_DEVICE), ==, 1);

  /* Host-visible kinds are mapped. */
  buffers[0] = lk_buffer_new (context, LK_MEMORY_UPLOAD, 4096, &error);
  g_assert_no_error (error);
  g_assert_nonnull (lk_buffer_get_data (buffers[0]));
  lk_buffer_unref (buffers[0]);

  /* An impossible request is an error, not a crash. */
  buffers[0] = lk_buffer_new (context, LK_MEMORY_DEVICE, G_GUINT64_CONSTANT (1) << 50, &error);
  g_assert_null (buffers[0]);
  g_assert_nonnull (error);
  g_test_message ("huge allocation: %s", error->message);
  g_clear_error (&error);
  lk_test_check_validation ();
}

static void
test_pipeline_cache (void)
{
  LkContext *context = lk_test_context ();
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  guint32 spec_a[] = { 64, 1, 1, 0, 0, 0 };
  guint32 spec_b[] = { 64, 1, 1, 2, 0, 1 };
  LkKernel *a, *a2, *b;
  guint compiled;

  if (context == NULL)
    return;

  compiled = lk_context_get_pipeline_compile_count (context);
  a = lk_context_get_kernel (context, "unary", 2, 12, spec_a, G_N_ELEMENTS (spec_a), &error);
  g_assert_no_error (error);
  a2 = lk_context_get_kernel (context, "unary", 2, 12, spec_a, G_N_ELEMENTS (spec_a), &error);
  g_assert_no_error (error);
  b = lk_context_get_kernel (context, "unary", 2, 12, spec_b, G_N_ELEMENTS (spec_b), &error);
  g_assert_no_error (error);
  g_assert_true (a == a2);
  g_assert_true (a != b);
  g_assert_cmpuint (lk_context_get_pipeline_compile_count (context), ==, compiled + 2);

  g_assert_null (lk_context_get_kernel (context, "no-such-shader", 1, 0, NULL, 0, &error));
  g_assert_error (error, G_RESOURCE_ERROR, G_RESOURCE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* The VkPipelineCache is persisted under the XDG cache dir, atomically. */
  path = lk_context_get_pipeline_cache_path (context);
  g_assert_true (g_str_has_prefix (path, g_get_user_cache_dir ()));
  g_unlink (path);
  lk_context_save_pipeline_cache (context, &error);
  g_assert_no_error (error);
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));

  /* A second context starts from it (and a corrupt file is ignored, not trusted). */
  {
    g_autoptr(LkContext) second = lk_context_new (NULL, LK_CONTEXT_FLAGS_VALIDATION, &error);

    g_assert_no_error (error);
    g_assert_nonnull (lk_context_get_kernel (second, "unary", 2, 12, spec_a, G_N_ELEMENTS (spec_a), &error));
    g_assert_no_error (error);
    g_assert_cmpuint (lk_context_get_validation_message_count (second), ==, 0);
  }
  g_file_set_contents (path, "garbage that is not a pipeline cache, long enough for a header", -1, &error);
  g_assert_no_error (error);
  {
    g_autoptr(LkContext) third = lk_context_new (NULL, LK_CONTEXT_FLAGS_VALIDATION, &error);

    g_assert_no_error (error);
    g_assert_nonnull (lk_context_get_kernel (third, "unary", 2, 12, spec_b, G_N_ELEMENTS (spec_b), &error));
    g_assert_no_error (error);
  }
  lk_test_check_validation ();
}

static void
test_stream_barriers (void)
{
  LkStream *stream = lk_test_stream ();
  g_autoptr(GError) error = NULL;
  const gint64 shape[] = { 1000 };
  g_autofree float *x = lk_test_random (1000, -2, 2, 1);
  g_autofree float *ref = g_new (float, 1000);
  g_autofree float *out = NULL;
  g_autoptr(LkTensor) a = NULL, b = NULL, c = NULL, d = NULL;
  guint64 barriers;

  if (stream == NULL)
    return;

  a = lk_test_tensor_from (stream, LK_DTYPE_F32, 1, shape, x);
  b = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 1, shape);
  c = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 1, shape);
  d = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 1, shape);
  lk_stream_finish (stream, &error);
  g_assert_no_error (error);

  /* Two reads of the same input into different outputs need no barrier between them (the
   * first one waits for the uploads). */
  lk_op_scale (stream, a, 2.0f, b, &error);
  barriers = lk_stream_get_stats (stream)->barriers;
  lk_op_scale (stream, a, 3.0f, c, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (lk_stream_get_stats (stream)->barriers, ==, barriers);

  /* Reading what was just written needs one. */
  lk_op_add (stream, b, c, d, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (lk_stream_get_stats (stream)->barriers, ==, barriers + 1);

  /* Writing what was just read needs one too (write after read). */
  lk_op_scale (stream, a, -1.0f, b, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (lk_stream_get_stats (stream)->barriers, ==, barriers + 2);

  out = lk_test_download (stream, d);
  for (guint i = 0; i < 1000; i++)
    ref[i] = 5.0f * x[i];
  lk_test_assert_close ("2x + 3x", out, ref, 1000, 1e-6, 0);
  g_free (out);
  out = lk_test_download (stream, b);
  for (guint i = 0; i < 1000; i++)
    ref[i] = -x[i];
  lk_test_assert_close ("-x", out, ref, 1000, 0, 0);
}

static void
test_stream_batching (void)
{
  LkStream *stream = lk_test_stream ();
  g_autoptr(GError) error = NULL;
  const gint64 shape[] = { 333 };
  g_autofree float *x = lk_test_random (333, -1, 1, 2);
  g_autofree float *ref = g_new (float, 333);
  g_autofree float *out = NULL;
  g_autoptr(LkTensor) a = NULL, b = NULL;
  guint64 submits;

  if (stream == NULL)
    return;

  a = lk_test_tensor_from (stream, LK_DTYPE_F32, 1, shape, x);
  b = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 1, shape);
  lk_stream_finish (stream, &error);
  g_assert_no_error (error);
  submits = lk_stream_get_stats (stream)->submits;

  /* 1000 dependent dispatches: batched into a handful of submits, ordered by barriers. */
  lk_op_scale (stream, a, 1.0f, b, &error);
  for (guint i = 0; i < 999; i++)
    lk_op_unary (stream, LK_UNARY_IDENTITY, b, 1.0f, 0.001f, b, &error);
  g_assert_no_error (error);
  out = lk_test_download (stream, b);
  g_assert_cmpuint (lk_stream_get_stats (stream)->submits - submits, <=, 6);
  g_assert_cmpuint (lk_stream_get_stats (stream)->submits - submits, >=, 2);
  /* The same f32 additions on the host: any reordering or lost dispatch shows. */
  for (guint i = 0; i < 333; i++)
    {
      volatile float v = x[i];

      for (guint j = 0; j < 999; j++)
        v = v + 0.001f;
      ref[i] = v;
    }
  lk_test_assert_close ("chained adds", out, ref, 333, 1e-7, 1e-6);
}

static void
test_stream_upload_large (void)
{
  LkStream *stream = lk_test_stream ();
  /* Larger than the staging ring, so it goes in several chunks. */
  const gint64 shape[] = { 5 * 1024 * 1024 + 7 };
  gsize n = shape[0];
  g_autofree float *x = lk_test_random (n, -100, 100, 3);
  g_autofree float *out = NULL;
  g_autoptr(LkTensor) a = NULL;

  if (stream == NULL)
    return;
  a = lk_test_tensor_from (stream, LK_DTYPE_F32, 1, shape, x);
  out = lk_test_download (stream, a);
  g_assert_cmpmem (out, n * 4, x, n * 4);
}

static void
test_split_bindings (void)
{
  /* With a 256 KiB binding range, a 1.2 MB tensor is processed in chunks. */
  g_autoptr(GError) error = NULL;
  g_autoptr(LkContext) context = NULL;
  g_autoptr(LkStream) stream = NULL;
  const gint64 shape[] = { 3, 100000 };
  const gint64 bias_shape[] = { 100000 };
  gsize n = 300000;
  g_autofree float *x = lk_test_random (n, -3, 3, 4);
  g_autofree float *bias = lk_test_random (100000, -1, 1, 5);
  g_autofree float *ref = g_new (float, n);
  g_autofree float *out = NULL;
  g_autoptr(LkTensor) a = NULL, b = NULL, y = NULL, z = NULL;
  const gint64 pad_x[] = { 1, 1, 3, 100000 }, pad_b[] = { 1, 1, 1, 100000 };

  context = lk_test_context_with_binding_range (262144);
  if (context == NULL)
    return;
  stream = lk_stream_new (context, &error);
  g_assert_no_error (error);

  a = lk_test_tensor_from (stream, LK_DTYPE_F32, 2, shape, x);
  b = lk_test_tensor_from (stream, LK_DTYPE_F16, 1, bias_shape, bias);
  y = lk_test_tensor_poisoned (stream, LK_DTYPE_F16, 2, shape);
  z = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 2, shape);
  lk_op_silu (stream, a, y, &error);
  g_assert_no_error (error);
  lk_op_add (stream, y, b, z, &error);
  g_assert_no_error (error);
  out = g_new (float, n);
  lk_tensor_download_f32 (z, stream, out, &error);
  g_assert_no_error (error);

  lk_ref_unary (LK_UNARY_SILU, x, 1, 0, ref, n);
  lk_round_to_half (ref, n);
  lk_round_to_half (bias, 100000);
  lk_ref_binary (LK_BINARY_ADD, ref, pad_x, bias, pad_b, ref, pad_x);
  /* The f16 intermediate may round either way where silu lands near a tie: one f16 ulp. */
  lk_test_assert_close ("silu + bias in chunks", out, ref, n, 1e-3, 4e-3);

  /* GEGLU splits by rows: 1000 rows of 2×64 are 512 KB of f32. */
  {
    const gint64 gx_shape[] = { 1000, 128 }, gy_shape[] = { 1000, 64 };
    g_autofree float *gx = lk_test_random (1000 * 128, -3, 3, 6);
    g_autofree float *gref = g_new (float, 1000 * 64);
    g_autofree float *gout = g_new (float, 1000 * 64);
    g_autoptr(LkTensor) tgx = lk_test_tensor_from (stream, LK_DTYPE_F32, 2, gx_shape, gx);
    g_autoptr(LkTensor) tgy = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 2, gy_shape);

    lk_op_geglu (stream, tgx, tgy, &error);
    g_assert_no_error (error);
    lk_tensor_download_f32 (tgy, stream, gout, &error);
    g_assert_no_error (error);
    lk_ref_geglu (gx, gref, 1000, 64);
    lk_test_assert_close ("geglu in chunks", gout, gref, 1000 * 64, 2e-6, 1e-5);
  }
  g_assert_cmpuint (lk_context_get_validation_message_count (context), ==, 0);
}

static void
test_arena (void)
{
  LkContext *context = lk_test_context ();
  g_autoptr(GError) error = NULL;
  g_autoptr(LkArena) arena = NULL;
  const gint64 s1[] = { 64, 1000 }, s2[] = { 64, 990 }, s3[] = { 128, 1000 };

  if (context == NULL)
    return;
  arena = lk_arena_new (context);

  /* A chain x → y → z where each is released after use needs two live buffers, not three. */
  for (guint step = 0; step < 10; step++)
    {
      g_autoptr(LkTensor) a = lk_arena_tensor (arena, LK_DTYPE_F32, 2, step % 2 ? s1 : s2, &error);
      g_autoptr(LkTensor) b = lk_arena_tensor (arena, LK_DTYPE_F32, 2, s1, &error);

      g_assert_no_error (error);
      g_assert_true (a->buffer != b->buffer);
    }
  g_assert_cmpuint (lk_arena_get_live_bytes (arena), ==, 0);
  g_assert_cmpuint (lk_arena_get_reuse_count (arena), >=, 18);
  g_assert_cmpuint (lk_arena_get_bytes (arena), <=, 2 * 64 * 1000 * 4 * 5 / 4);

  {
    g_autoptr(LkTensor) big = lk_arena_tensor (arena, LK_DTYPE_F16, 2, s3, &error);

    g_assert_no_error (error);
    g_assert_cmpuint (lk_arena_get_peak_live_bytes (arena), >=, 128 * 1000 * 2);
  }
  lk_arena_trim (arena);
  g_assert_cmpuint (lk_arena_get_bytes (arena), ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/vk/choose-device", test_choose_device);
  g_test_add_func ("/vk/features", test_features);
  g_test_add_func ("/vk/allocator", test_allocator);
  g_test_add_func ("/vk/pipeline-cache", test_pipeline_cache);
  g_test_add_func ("/vk/stream/barriers", test_stream_barriers);
  g_test_add_func ("/vk/stream/batching", test_stream_batching);
  g_test_add_func ("/vk/stream/upload-large", test_stream_upload_large);
  g_test_add_func ("/vk/split-bindings", test_split_bindings);
  g_test_add_func ("/vk/arena", test_arena);
  return g_test_run ();
}
