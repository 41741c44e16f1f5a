/* lk-context.h: the Vulkan instance, the chosen device and everything that lives as long as it
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <vulkan/vulkan.h>

G_BEGIN_DECLS

#define LK_VK_ERROR (lk_vk_error_quark ())

typedef enum
{
  LK_VK_ERROR_FAILED,
  LK_VK_ERROR_NO_DEVICE,
  LK_VK_ERROR_NO_VALIDATION,
  LK_VK_ERROR_UNSUPPORTED,
  LK_VK_ERROR_OUT_OF_MEMORY,
  LK_VK_ERROR_DEVICE_LOST,
  LK_VK_ERROR_INVALID,
} LkVkError;

GQuark lk_vk_error_quark (void);

/* What a physical device can do, as far as the engine cares. */
typedef struct
{
  guint                    index;
  char                    *name;
  char                    *driver;
  VkPhysicalDeviceType     type;
  guint32                  vendor_id;
  guint32                  device_id;
  guint32                  api_version;
  guint64                  device_local_bytes;
  gboolean                 usable;
  char                    *unusable_reason;

  gboolean                 shader_float16;
  gboolean                 storage_buffer_16bit;
  gboolean                 subgroup_size_control;
  gboolean                 cooperative_matrix;
  guint32                  subgroup_size;
  guint32                  min_subgroup_size;
  guint32                  max_subgroup_size;
  VkSubgroupFeatureFlags   subgroup_ops;
  guint64                  max_storage_buffer_range;
  guint64                  min_storage_buffer_offset_alignment;
  guint32                  max_shared_memory;
  guint32                  max_workgroup_invocations;
  guint32                  max_workgroup_count[3];
  guint32                  max_push_constants;
  guint32                  compute_queue_family;
  gint32                   transfer_queue_family;  /* -1 when there is no separate one */
} LkDeviceInfo;

void          lk_device_info_free          (LkDeviceInfo *info);
const char   *lk_device_type_to_string     (VkPhysicalDeviceType type);
char         *lk_device_info_describe      (const LkDeviceInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LkDeviceInfo, lk_device_info_free)

#define LK_TYPE_CONTEXT (lk_context_get_type ())
G_DECLARE_FINAL_TYPE (LkContext, lk_context, LK, CONTEXT, GObject)

typedef enum
{
  LK_CONTEXT_FLAGS_NONE       = 0,
  LK_CONTEXT_FLAGS_VALIDATION = 1 << 0,  /* require VK_LAYER_KHRONOS_validation */
} LkContextFlags;

GPtrArray          *lk_context_list_devices                 (GError             **error);
guint               lk_context_choose_device                (GPtrArray           *devices,
                                                             const char          *selector,
                                                             GError             **error);
LkContext          *lk_context_new                          (const char          *selector,
                                                             LkContextFlags       flags,
                                                             GError             **error);
const LkDeviceInfo *lk_context_get_info                     (LkContext           *self);
VkDevice            lk_context_get_device                   (LkContext           *self);
guint64             lk_context_get_max_binding_range        (LkContext           *self);
guint64             lk_context_get_binding_alignment        (LkContext           *self);
guint               lk_context_get_validation_message_count (LkContext           *self);
guint64             lk_context_get_allocated_bytes          (LkContext           *self);
guint64             lk_context_get_peak_allocated_bytes     (LkContext           *self);
void                lk_context_reset_peak_allocated_bytes   (LkContext           *self);
gboolean            lk_context_save_pipeline_cache          (LkContext           *self,
                                                             GError             **error);
char               *lk_context_get_pipeline_cache_path      (LkContext           *self);
guint               lk_context_get_pipeline_count           (LkContext           *self);
guint               lk_context_get_pipeline_compile_count   (LkContext           *self);

G_END_DECLS
