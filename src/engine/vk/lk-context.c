/* lk-context.c: the Vulkan instance, the chosen device and everything that lives as long as it
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "lk-vk"

#include "config.h"

#include <string.h>

#include "lk-context-private.h"
#include "lk-shaders.h"

#define VALIDATION_LAYER "VK_LAYER_KHRONOS_validation"
#define BLOCK_SIZE       (64u * 1024 * 1024)

struct _LkContext
{
  GObject                   parent_instance;

  VkInstance                instance;
  VkDebugUtilsMessengerEXT  messenger;
  VkPhysicalDevice          physical;
  VkDevice                  device;
  VkQueue                   queue;
  VkQueue                   transfer_queue;
  VkSemaphore               timeline;
  VkPipelineCache           pipeline_cache;

  LkDeviceInfo             *info;
  LkAllocator              *allocator;
  GResource                *shaders;

  GMutex                    queue_lock;
  guint64                   timeline_value;

  GMutex                    pipelines_lock;
  GHashTable               *pipelines;        /* key → LkKernel */
  GHashTable               *shader_modules;   /* name → VkShaderModule */
  VkDescriptorSetLayout     set_layouts[LK_MAX_BINDINGS + 1];
  guint                     n_compiled;

  guint64                   max_binding_range;
  guint                     validation_messages;
};

G_DEFINE_FINAL_TYPE (LkContext, lk_context, G_TYPE_OBJECT)
G_DEFINE_QUARK (lk-vk-error-quark, lk_vk_error)

gboolean
lk_vk_check (VkResult    result,
             const char *call,
             GError    **error)
{
  const char *what;
  int code = LK_VK_ERROR_FAILED;

  if (result >= VK_SUCCESS)
    return TRUE;

  switch (result)
    {
    case VK_ERROR_OUT_OF_HOST_MEMORY:
      what = "out of host memory";
      code = LK_VK_ERROR_OUT_OF_MEMORY;
      break;
    case VK_ERROR_OUT_OF_DEVICE_MEMORY:
      what = "out of GPU memory; close other programs that use the GPU or choose a smaller size";
      code = LK_VK_ERROR_OUT_OF_MEMORY;
      break;
    case VK_ERROR_DEVICE_LOST:
      what = "the GPU stopped responding (device lost); a driver reset may be needed";
      code = LK_VK_ERROR_DEVICE_LOST;
      break;
    case VK_ERROR_INITIALIZATION_FAILED:
      what = "initialization failed";
      break;
    case VK_ERROR_LAYER_NOT_PRESENT:
      what = "layer not present";
      code = LK_VK_ERROR_NO_VALIDATION;
      break;
    case VK_ERROR_EXTENSION_NOT_PRESENT:
      what = "extension not present";
      code = LK_VK_ERROR_UNSUPPORTED;
      break;
    case VK_ERROR_FEATURE_NOT_PRESENT:
      what = "feature not present";
      code = LK_VK_ERROR_UNSUPPORTED;
      break;
    case VK_ERROR_INCOMPATIBLE_DRIVER:
      what = "no compatible Vulkan driver";
      code = LK_VK_ERROR_NO_DEVICE;
      break;
    case VK_ERROR_TOO_MANY_OBJECTS:
      what = "too many objects";
      break;
    case VK_ERROR_OUT_OF_POOL_MEMORY:
      what = "descriptor pool exhausted";
      break;
    default:
      what = "error";
      break;
    }

  /* `call` is the stringified expression: keep the function's name only. */
  g_set_error (error, LK_VK_ERROR, code, "%.*s failed: %s (VkResult %d)",
               (int) strcspn (call, " ("), call, what, result);
  return FALSE;
}

const char *
lk_device_type_to_string (VkPhysicalDeviceType type)
{
  switch (type)
    {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete GPU";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated GPU";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual GPU";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "CPU";
    default: return "other";
    }
}

void
lk_device_info_free (LkDeviceInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->name);
  g_free (info->driver);
  g_free (info->unusable_reason);
  g_free (info);
}

char *
lk_device_info_describe (const LkDeviceInfo *info)
{
  GString *s = g_string_new (NULL);
  g_autofree char *ops = NULL;
  const struct { VkSubgroupFeatureFlags bit; const char *name; } subgroup_names[] = {
    { VK_SUBGROUP_FEATURE_BASIC_BIT, "basic" },
    { VK_SUBGROUP_FEATURE_VOTE_BIT, "vote" },
    { VK_SUBGROUP_FEATURE_ARITHMETIC_BIT, "arithmetic" },
    { VK_SUBGROUP_FEATURE_BALLOT_BIT, "ballot" },
    { VK_SUBGROUP_FEATURE_SHUFFLE_BIT, "shuffle" },
    { VK_SUBGROUP_FEATURE_SHUFFLE_RELATIVE_BIT, "shuffle-relative" },
    { VK_SUBGROUP_FEATURE_CLUSTERED_BIT, "clustered" },
    { VK_SUBGROUP_FEATURE_QUAD_BIT, "quad" },
  };
  GString *ops_s = g_string_new (NULL);

  for (guint i = 0; i < G_N_ELEMENTS (subgroup_names); i++)
    if (info->subgroup_ops & subgroup_names[i].bit)
      g_string_append_printf (ops_s, "%s%s", ops_s->len ? " " : "", subgroup_names[i].name);
  ops = g_string_free (ops_s, FALSE);

  g_string_append_printf (s, "  name:                 %s\n", info->name);
  g_string_append_printf (s, "  type:                 %s\n", lk_device_type_to_string (info->type));
  g_string_append_printf (s, "  driver:               %s\n", info->driver);
  g_string_append_printf (s, "  vendor / device id:   0x%04x / 0x%04x\n", info->vendor_id, info->device_id);
  g_string_append_printf (s, "  Vulkan:               %u.%u.%u\n",
                          VK_API_VERSION_MAJOR (info->api_version),
                          VK_API_VERSION_MINOR (info->api_version),
                          VK_API_VERSION_PATCH (info->api_version));
  g_string_append_printf (s, "  device-local memory:  %.1f GiB\n",
                          info->device_local_bytes / (1024.0 * 1024 * 1024));
  g_string_append_printf (s, "  fp16 arithmetic:      %s\n", info->shader_float16 ? "yes" : "no");
  g_string_append_printf (s, "  16-bit storage:       %s\n", info->storage_buffer_16bit ? "yes" : "no");
  g_string_append_printf (s, "  subgroup size:        %u (control: %s, %u–%u)\n", info->subgroup_size,
                          info->subgroup_size_control ? "yes" : "no",
                          info->min_subgroup_size, info->max_subgroup_size);
  g_string_append_printf (s, "  subgroup operations:  %s\n", ops);
  g_string_append_printf (s, "  cooperative matrix:   %s\n", info->cooperative_matrix ? "yes" : "no");
  g_string_append_printf (s, "  max storage binding:  %" G_GUINT64_FORMAT " MiB\n",
                          info->max_storage_buffer_range / (1024 * 1024));
  g_string_append_printf (s, "  shared memory:        %u KiB\n", info->max_shared_memory / 1024);
  g_string_append_printf (s, "  max invocations:      %u\n", info->max_workgroup_invocations);
  g_string_append_printf (s, "  compute queue family: %u\n", info->compute_queue_family);
  if (info->transfer_queue_family >= 0)
    g_string_append_printf (s, "  transfer queue family: %d\n", info->transfer_queue_family);
  else
    g_string_append (s, "  transfer queue:       shared with compute\n");
  if (!info->usable)
    g_string_append_printf (s, "  unusable:             %s\n", info->unusable_reason);
  return g_string_free (s, FALSE);
}

static gboolean
has_extension (const VkExtensionProperties *exts,
               guint32                      n_exts,
               const char                  *name)
{
  for (guint32 i = 0; i < n_exts; i++)
    if (strcmp (exts[i].extensionName, name) == 0)
      return TRUE;
  return FALSE;
}

static LkDeviceInfo *
query_device (VkPhysicalDevice physical,
              guint            index)
{
  LkDeviceInfo *info = g_new0 (LkDeviceInfo, 1);
  VkPhysicalDeviceProperties props;
  VkPhysicalDeviceMemoryProperties mem;
  g_autofree VkExtensionProperties *exts = NULL;
  g_autofree VkQueueFamilyProperties *families = NULL;
  guint32 n_exts = 0, n_families = 0;

  vkGetPhysicalDeviceProperties (physical, &props);
  info->index = index;
  info->name = g_strdup (props.deviceName);
  info->type = props.deviceType;
  info->vendor_id = props.vendorID;
  info->device_id = props.deviceID;
  info->api_version = props.apiVersion;
  info->max_storage_buffer_range = props.limits.maxStorageBufferRange;
  info->min_storage_buffer_offset_alignment = props.limits.minStorageBufferOffsetAlignment;
  info->max_shared_memory = props.limits.maxComputeSharedMemorySize;
  info->max_workgroup_invocations = props.limits.maxComputeWorkGroupInvocations;
  memcpy (info->max_workgroup_count, props.limits.maxComputeWorkGroupCount, sizeof info->max_workgroup_count);
  info->max_push_constants = props.limits.maxPushConstantsSize;
  info->transfer_queue_family = -1;
  info->compute_queue_family = G_MAXUINT32;

  vkEnumerateDeviceExtensionProperties (physical, NULL, &n_exts, NULL);
  exts = g_new0 (VkExtensionProperties, MAX (n_exts, 1));
  vkEnumerateDeviceExtensionProperties (physical, NULL, &n_exts, exts);
  info->cooperative_matrix = has_extension (exts, n_exts, "VK_KHR_cooperative_matrix");

  vkGetPhysicalDeviceMemoryProperties (physical, &mem);
  for (guint32 i = 0; i < mem.memoryHeapCount; i++)
    if (mem.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
      info->device_local_bytes += mem.memoryHeaps[i].size;

  vkGetPhysicalDeviceQueueFamilyProperties (physical, &n_families, NULL);
  families = g_new0 (VkQueueFamilyProperties, MAX (n_families, 1));
  vkGetPhysicalDeviceQueueFamilyProperties (physical, &n_families, families);
  for (guint32 i = 0; i < n_families; i++)
    {
      VkQueueFlags f = families[i].queueFlags;

      if ((f & VK_QUEUE_COMPUTE_BIT) && info->compute_queue_family == G_MAXUINT32)
        info->compute_queue_family = i;
      if ((f & VK_QUEUE_TRANSFER_BIT) && !(f & (VK_QUEUE_COMPUTE_BIT | VK_QUEUE_GRAPHICS_BIT)) &&
          info->transfer_queue_family < 0)
        info->transfer_queue_family = i;
    }

  {
    g_autofree char *vk_name = NULL;

    if (props.apiVersion >= VK_API_VERSION_1_2)
      {
        VkPhysicalDeviceSubgroupSizeControlProperties size_control = {
          .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_PROPERTIES,
        };
        VkPhysicalDeviceVulkan12Properties p12 = {
          .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_PROPERTIES,
        };
        VkPhysicalDeviceSubgroupProperties subgroup = {
          .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES,
          .pNext = &p12,
        };
        VkPhysicalDeviceProperties2 props2 = {
          .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
          .pNext = &subgroup,
        };
        VkPhysicalDeviceVulkan11Features f11 = {
          .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES,
        };
        VkPhysicalDeviceVulkan12Features f12 = {
          .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES,
          .pNext = &f11,
        };
        VkPhysicalDeviceSubgroupSizeControlFeatures size_control_features = {
          .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES,
          .pNext = &f12,
        };
        VkPhysicalDeviceFeatures2 features2 = {
          .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2,
          .pNext = &f12,
        };
        gboolean has_size_control = props.apiVersion >= VK_API_VERSION_1_3 ||
                                    has_extension (exts, n_exts, "VK_EXT_subgroup_size_control");

        if (has_size_control)
          {
            p12.pNext = &size_control;
            features2.pNext = &size_control_features;
          }
        vkGetPhysicalDeviceProperties2 (physical, &props2);
        vkGetPhysicalDeviceFeatures2 (physical, &features2);

        info->driver = g_strdup_printf ("%s %s", p12.driverName, p12.driverInfo);
        info->subgroup_size = subgroup.subgroupSize;
        info->subgroup_ops = subgroup.supportedOperations;
        info->min_subgroup_size = has_size_control ? size_control.minSubgroupSize : subgroup.subgroupSize;
        info->max_subgroup_size = has_size_control ? size_control.maxSubgroupSize : subgroup.subgroupSize;
        info->subgroup_size_control = has_size_control && size_control_features.subgroupSizeControl;
        info->shader_float16 = f12.shaderFloat16;
        info->storage_buffer_16bit = f11.storageBuffer16BitAccess;

        if (!f12.timelineSemaphore)
          vk_name = g_strdup ("the driver lacks timeline semaphores");
        else if (!f11.storageBuffer16BitAccess)
          vk_name = g_strdup ("the driver lacks 16-bit storage buffers");
        else if (info->compute_queue_family == G_MAXUINT32)
          vk_name = g_strdup ("no compute queue");
      }
    else
      {
        info->driver = g_strdup ("unknown");
        vk_name = g_strdup_printf ("Vulkan %u.%u is too old; Likeness needs Vulkan 1.2",
                                   VK_API_VERSION_MAJOR (props.apiVersion),
                                   VK_API_VERSION_MINOR (props.apiVersion));
      }

    info->usable = vk_name == NULL;
    info->unusable_reason = g_steal_pointer (&vk_name);
  }

  return info;
}

static const char no_device_advice[] =
  "No usable Vulkan device was found. Install the GPU's Vulkan driver (mesa-vulkan-drivers on "
  "Debian and Ubuntu, which also provides lavapipe, a slow CPU fallback; nvidia-driver for NVIDIA) "
  "and check with “vulkaninfo --summary”.";

static VkInstance
create_instance (gboolean   validation,
                 GError   **error)
{
  const char *layers[] = { VALIDATION_LAYER };
  const char *extensions[] = { VK_EXT_DEBUG_UTILS_EXTENSION_NAME };
  guint32 loader_version = VK_API_VERSION_1_0;
  VkInstance instance = VK_NULL_HANDLE;
  VkResult res;

  if (vkEnumerateInstanceVersion (&loader_version) != VK_SUCCESS)
    loader_version = VK_API_VERSION_1_0;

  if (validation)
    {
      guint32 n = 0;
      g_autofree VkLayerProperties *props = NULL;
      gboolean found = FALSE;

      vkEnumerateInstanceLayerProperties (&n, NULL);
      props = g_new0 (VkLayerProperties, MAX (n, 1));
      vkEnumerateInstanceLayerProperties (&n, props);
      for (guint32 i = 0; i < n; i++)
        found |= strcmp (props[i].layerName, VALIDATION_LAYER) == 0;
      if (!found)
        {
          g_set_error (error, LK_VK_ERROR, LK_VK_ERROR_NO_VALIDATION,
                       "Vulkan validation was requested but %s is not installed "
                       "(package vulkan-validationlayers on Debian and Ubuntu)", VALIDATION_LAYER);
          return VK_NULL_HANDLE;
        }
    }

  res = vkCreateInstance (&(VkInstanceCreateInfo) {
                            .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
                            .pApplicationInfo = &(VkApplicationInfo) {
                              .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
                              .pApplicationName = "Likeness",
                              .applicationVersion = VK_MAKE_API_VERSION (0, 0, 1, 0),
                              .pEngineName = "likeness-engine",
                              .apiVersion = MIN (loader_version, VK_API_VERSION_1_3),
                            },
                            .enabledLayerCount = validation ? 1 : 0,
                            .ppEnabledLayerNames = layers,
                            .enabledExtensionCount = validation ? 1 : 0,
                            .ppEnabledExtensionNames = extensions,
                          },
                          NULL, &instance);
  if (res == VK_ERROR_INCOMPATIBLE_DRIVER)
    {
      g_set_error_literal (error, LK_VK_ERROR, LK_VK_ERROR_NO_DEVICE, no_device_advice);
      return VK_NULL_HANDLE;
    }
  if (!LK_VK_CHECK (res, error))
    return VK_NULL_HANDLE;
  return instance;
}

static GPtrArray *
enumerate_devices (VkInstance         instance,
                   VkPhysicalDevice **physicals_out,
                   GError           **error)
{
  g_autoptr(GPtrArray) devices = g_ptr_array_new_with_free_func ((GDestroyNotify) lk_device_info_free);
  g_autofree VkPhysicalDevice *physicals = NULL;
  guint32 n = 0;

  if (!LK_VK_CHECK (vkEnumeratePhysicalDevices (instance, &n, NULL), error))
    return NULL;
  physicals = g_new0 (VkPhysicalDevice, MAX (n, 1));
  if (!LK_VK_CHECK (vkEnumeratePhysicalDevices (instance, &n, physicals), error))
    return NULL;
  for (guint32 i = 0; i < n; i++)
    g_ptr_array_add (devices, query_device (physicals[i], i));

  if (physicals_out)
    *physicals_out = g_steal_pointer (&physicals);
  return g_steal_pointer (&devices);
}

/**
 * lk_context_list_devices:
 *
 * Returns: (transfer full): every Vulkan device with its features, usable or not.
 */
GPtrArray *
lk_context_list_devices (GError **error)
{
  VkInstance instance = create_instance (FALSE, error);
  GPtrArray *devices;

  if (instance == VK_NULL_HANDLE)
    return NULL;
  devices = enumerate_devices (instance, NULL, error);
  vkDestroyInstance (instance, NULL);
  return devices;
}

static int
type_rank (VkPhysicalDeviceType type)
{
  switch (type)
    {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 4;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 3;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 1;
    default: return 0;
    }
}

/**
 * lk_context_choose_device:
 * @devices: from lk_context_list_devices()
 * @selector: (nullable): an index or a case-insensitive substring of the name; %NULL picks the
 *   best usable device (discrete > integrated > virtual > CPU)
 *
 * Returns: the index into @devices, or G_MAXUINT with @error set
 */
guint
lk_context_choose_device (GPtrArray   *devices,
                          const char  *selector,
                          GError     **error)
{
  guint best = G_MAXUINT;

  if (selector != NULL && *selector != '\0')
    {
      guint64 index;

      if (g_ascii_string_to_unsigned (selector, 10, 0, G_MAXUINT, &index, NULL))
        {
          if (index >= devices->len)
            {
              g_set_error (error, LK_VK_ERROR, LK_VK_ERROR_NO_DEVICE,
                           "LIKENESS_DEVICE=%s: there are only %u Vulkan devices "
                           "(see “likeness-cli info”)", selector, devices->len);
              return G_MAXUINT;
            }
          best = index;
        }
      else
        {
          g_autofree char *needle = g_utf8_casefold (selector, -1);

          for (guint i = 0; i < devices->len && best == G_MAXUINT; i++)
            {
              const LkDeviceInfo *info = g_ptr_array_index (devices, i);
              g_autofree char *hay = g_utf8_casefold (info->name, -1);

              if (strstr (hay, needle) != NULL)
                best = i;
            }
          if (best == G_MAXUINT)
            {
              g_set_error (error, LK_VK_ERROR, LK_VK_ERROR_NO_DEVICE,
                           "LIKENESS_DEVICE=%s matches no Vulkan device (see “likeness-cli info”)",
                           selector);
              return G_MAXUINT;
            }
        }

      {
        const LkDeviceInfo *info = g_ptr_array_index (devices, best);

        if (!info->usable)
          {
            g_set_error (error, LK_VK_ERROR, LK_VK_ERROR_UNSUPPORTED,
                         "The chosen Vulkan device “%s” cannot be used: %s",
                         info->name, info->unusable_reason);
            return G_MAXUINT;
          }
      }
      return best;
    }

  for (guint i = 0; i < devices->len; i++)
    {
      const LkDeviceInfo *info = g_ptr_array_index (devices, i);

      if (!info->usable)
        continue;
      if (best == G_MAXUINT ||
          type_rank (info->type) > type_rank (((LkDeviceInfo *) g_ptr_array_index (devices, best))->type))
        best = i;
    }

  if (best == G_MAXUINT)
    g_set_error_literal (error, LK_VK_ERROR, LK_VK_ERROR_NO_DEVICE, no_device_advice);
  return best;
}

static VkBool32 VKAPI_PTR
debug_messenger_cb (VkDebugUtilsMessageSeverityFlagBitsEXT      severity,
                    VkDebugUtilsMessageTypeFlagsEXT             types,
                    const VkDebugUtilsMessengerCallbackDataEXT *data,
                    void                                       *user_data)
{
  LkContext *self = user_data;

  g_atomic_int_inc (&self->validation_messages);
  /* Fatal in the tests (G_DEBUG=fatal-warnings): a validation message fails the test. */
  g_warning ("Vulkan validation (%s): %s",
             severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT ? "error" : "warning",
             data->pMessage);
  return VK_FALSE;
}

static void
lk_context_finalize (GObject *object)
{
  LkContext *self = (LkContext *) object;

  if (self->device != VK_NULL_HANDLE)
    {
      g_autoptr(GError) error = NULL;
      GHashTableIter iter;
      gpointer value;

      vkDeviceWaitIdle (self->device);
      if (self->pipeline_cache != VK_NULL_HANDLE && self->n_compiled > 0 &&
          !lk_context_save_pipeline_cache (self, &error))
        g_debug ("Could not save the pipeline cache: %s", error->message);

      g_hash_table_iter_init (&iter, self->pipelines);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        lk_kernel_free (value, self->device);
      g_clear_pointer (&self->pipelines, g_hash_table_unref);
      g_hash_table_iter_init (&iter, self->shader_modules);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        vkDestroyShaderModule (self->device, (VkShaderModule) value, NULL);
      g_clear_pointer (&self->shader_modules, g_hash_table_unref);
      for (guint i = 0; i <= LK_MAX_BINDINGS; i++)
        if (self->set_layouts[i] != VK_NULL_HANDLE)
          vkDestroyDescriptorSetLayout (self->device, self->set_layouts[i], NULL);
      g_clear_pointer (&self->allocator, lk_allocator_free);
      if (self->pipeline_cache != VK_NULL_HANDLE)
        vkDestroyPipelineCache (self->device, self->pipeline_cache, NULL);
      if (self->timeline != VK_NULL_HANDLE)
        vkDestroySemaphore (self->device, self->timeline, NULL);
      vkDestroyDevice (self->device, NULL);
    }
  if (self->messenger != VK_NULL_HANDLE)
    {
      PFN_vkDestroyDebugUtilsMessengerEXT destroy =
        (PFN_vkDestroyDebugUtilsMessengerEXT) vkGetInstanceProcAddr (self->instance,
                                                                     "vkDestroyDebugUtilsMessengerEXT");
      destroy (self->instance, self->messenger, NULL);
    }
  if (self->instance != VK_NULL_HANDLE)
    vkDestroyInstance (self->instance, NULL);

  g_clear_pointer (&self->pipelines, g_hash_table_unref);
  g_clear_pointer (&self->shader_modules, g_hash_table_unref);
  g_clear_pointer (&self->info, lk_device_info_free);
  g_clear_pointer (&self->shaders, g_resource_unref);
  g_mutex_clear (&self->queue_lock);
  g_mutex_clear (&self->pipelines_lock);

  G_OBJECT_CLASS (lk_context_parent_class)->finalize (object);
}

static void
lk_context_class_init (LkContextClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = lk_context_finalize;
}

static void
lk_context_init (LkContext *self)
{
  g_mutex_init (&self->queue_lock);
  g_mutex_init (&self->pipelines_lock);
  self->pipelines = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, NULL);
  self->shader_modules = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

char *
lk_context_get_pipeline_cache_path (LkContext *self)
{
  VkPhysicalDeviceProperties props;
  g_autofree char *uuid = NULL;
  g_autofree char *name = NULL;

  g_return_val_if_fail (LK_IS_CONTEXT (self), NULL);

  vkGetPhysicalDeviceProperties (self->physical, &props);
  uuid = g_malloc (VK_UUID_SIZE * 2 + 1);
  for (guint i = 0; i < VK_UUID_SIZE; i++)
    g_snprintf (uuid + 2 * i, 3, "%02x", props.pipelineCacheUUID[i]);
  name = g_strdup_printf ("pipelines-%04x-%04x-%s.bin", props.vendorID, props.deviceID, uuid);
  return g_build_filename (g_get_user_cache_dir (), "likeness", name, NULL);
}

static void
load_pipeline_cache (LkContext *self,
                     GError   **error)
{
  g_autofree char *path = lk_context_get_pipeline_cache_path (self);
  g_autofree char *contents = NULL;
  gsize length = 0;
  VkPhysicalDeviceProperties props;
  const guint32 *header;

  vkGetPhysicalDeviceProperties (self->physical, &props);

  /* The header says which device and driver wrote it; a stale or foreign file is ignored. */
  if (g_file_get_contents (path, &contents, &length, NULL) && length >= 16 + VK_UUID_SIZE)
    {
      header = (const guint32 *) contents;
      if (header[0] < 16 + VK_UUID_SIZE || header[1] != VK_PIPELINE_CACHE_HEADER_VERSION_ONE ||
          header[2] != props.vendorID || header[3] != props.deviceID ||
          memcmp (contents + 16, props.pipelineCacheUUID, VK_UUID_SIZE) != 0)
        g_clear_pointer (&contents, g_free);
    }
  else
    g_clear_pointer (&contents, g_free);

  LK_VK_CHECK (vkCreatePipelineCache (self->device,
                                      &(VkPipelineCacheCreateInfo) {
                                        .sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO,
                                        .initialDataSize = contents ? length : 0,
                                        .pInitialData = contents,
                                      },
                                      NULL, &self->pipeline_cache),
               error);
}

gboolean
lk_context_save_pipeline_cache (LkContext  *self,
                                GError    **error)
{
  g_autofree char *path = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *data = NULL;
  size_t size = 0;

  g_return_val_if_fail (LK_IS_CONTEXT (self), FALSE);

  if (!LK_VK_CHECK (vkGetPipelineCacheData (self->device, self->pipeline_cache, &size, NULL), error))
    return FALSE;
  data = g_malloc (MAX (size, 1));
  if (!LK_VK_CHECK (vkGetPipelineCacheData (self->device, self->pipeline_cache, &size, data), error))
    return FALSE;

  path = lk_context_get_pipeline_cache_path (self);
  dir = g_path_get_dirname (path);
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   "Could not create %s: %s", dir, g_strerror (errsv));
      return FALSE;
    }
  /* g_file_set_contents writes a temporary file and renames it: never a torn cache. */
  return g_file_set_contents (path, data, size, error);
}

/**
 * lk_context_new:
 * @selector: (nullable): device index or name substring; %NULL reads LIKENESS_DEVICE
 * @flags: %LK_CONTEXT_FLAGS_VALIDATION to require the validation layer; it is also turned on by
 *   LIKENESS_VK_VALIDATION=1
 */
LkContext *
lk_context_new (const char     *selector,
                LkContextFlags  flags,
                GError        **error)
{
  g_autoptr(LkContext) self = g_object_new (LK_TYPE_CONTEXT, NULL);
  g_autoptr(GPtrArray) devices = NULL;
  g_autofree VkPhysicalDevice *physicals = NULL;
  const char *env_validation = g_getenv ("LIKENESS_VK_VALIDATION");
  gboolean validation = (flags & LK_CONTEXT_FLAGS_VALIDATION) ||
                        g_strcmp0 (env_validation, "1") == 0;
  const char *extensions[4];
  guint n_extensions = 0;
  float priority = 1.0f;
  VkDeviceQueueCreateInfo queues[2];
  guint n_queues = 1;
  guint index;
  const char *env_range;

  if (selector == NULL)
    selector = g_getenv ("LIKENESS_DEVICE");

  self->instance = create_instance (validation, error);
  if (self->instance == VK_NULL_HANDLE)
    return NULL;

  if (validation)
    {
      PFN_vkCreateDebugUtilsMessengerEXT create =
        (PFN_vkCreateDebugUtilsMessengerEXT) vkGetInstanceProcAddr (self->instance,
                                                                    "vkCreateDebugUtilsMessengerEXT");
      if (create == NULL ||
          !LK_VK_CHECK (create (self->instance,
                                &(VkDebugUtilsMessengerCreateInfoEXT) {
                                  .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
                                  .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                                                     VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
                                  .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                                                 VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT,
                                  .pfnUserCallback = debug_messenger_cb,
                                  .pUserData = self,
                                },
                                NULL, &self->messenger),
                        error))
        return NULL;
    }

  devices = enumerate_devices (self->instance, &physicals, error);
  if (devices == NULL)
    return NULL;
  index = lk_context_choose_device (devices, selector, error);
  if (index == G_MAXUINT)
    return NULL;

  self->physical = physicals[index];
  self->info = g_ptr_array_steal_index (devices, index);

  queues[0] = (VkDeviceQueueCreateInfo) {
    .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
    .queueFamilyIndex = self->info->compute_queue_family,
    .queueCount = 1,
    .pQueuePriorities = &priority,
  };
  if (self->info->transfer_queue_family >= 0)
    queues[n_queues++] = (VkDeviceQueueCreateInfo) {
      .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
      .queueFamilyIndex = self->info->transfer_queue_family,
      .queueCount = 1,
      .pQueuePriorities = &priority,
    };

  if (self->info->api_version < VK_API_VERSION_1_3 && self->info->subgroup_size_control)
    extensions[n_extensions++] = "VK_EXT_subgroup_size_control";

  {
    VkPhysicalDeviceVulkan11Features f11 = {
      .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES,
      .storageBuffer16BitAccess = VK_TRUE,
    };
    VkPhysicalDeviceVulkan12Features f12 = {
      .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES,
      .pNext = &f11,
      .timelineSemaphore = VK_TRUE,
      .shaderFloat16 = self->info->shader_float16,
    };
    VkPhysicalDeviceSubgroupSizeControlFeatures size_control = {
      .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES,
      .pNext = &f12,
      .subgroupSizeControl = VK_TRUE,
    };

    if (!LK_VK_CHECK (vkCreateDevice (self->physical,
                                      &(VkDeviceCreateInfo) {
                                        .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
                                        .pNext = self->info->subgroup_size_control ? (void *) &size_control : (void *) &f12,
                                        .queueCreateInfoCount = n_queues,
                                        .pQueueCreateInfos = queues,
                                        .enabledExtensionCount = n_extensions,
                                        .ppEnabledExtensionNames = extensions,
                                      },
                                      NULL, &self->device),
                      error))
      return NULL;
  }

  vkGetDeviceQueue (self->device, self->info->compute_queue_family, 0, &self->queue);
  if (self->info->transfer_queue_family >= 0)
    vkGetDeviceQueue (self->device, self->info->transfer_queue_family, 0, &self->transfer_queue);

  if (!LK_VK_CHECK (vkCreateSemaphore (self->device,
                                       &(VkSemaphoreCreateInfo) {
                                         .sType = VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO,
                                         .pNext = &(VkSemaphoreTypeCreateInfo) {
                                           .sType = VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO,
                                           .semaphoreType = VK_SEMAPHORE_TYPE_TIMELINE,
                                           .initialValue = 0,
                                         },
                                       },
                                       NULL, &self->timeline),
                    error))
    return NULL;

  load_pipeline_cache (self, NULL);
  if (self->pipeline_cache == VK_NULL_HANDLE)
    return NULL;

  self->allocator = lk_allocator_new (self, self->physical, self->device, BLOCK_SIZE);
  self->shaders = g_resource_ref (lk_shaders_get_resource ());

  /* Tests lower the binding range to exercise the split paths on small tensors. */
  self->max_binding_range = self->info->max_storage_buffer_range;
  env_range = g_getenv ("LIKENESS_MAX_BINDING_RANGE");
  if (env_range != NULL)
    {
      guint64 v;

      if (g_ascii_string_to_unsigned (env_range, 10, 1024, G_MAXUINT64, &v, NULL))
        self->max_binding_range = MIN (self->max_binding_range, v);
    }

  return g_steal_pointer (&self);
}

const LkDeviceInfo *
lk_context_get_info (LkContext *self)
{
  g_return_val_if_fail (LK_IS_CONTEXT (self), NULL);
  return self->info;
}

VkDevice
lk_context_get_device (LkContext *self)
{
  return self->device;
}

guint64
lk_context_get_max_binding_range (LkContext *self)
{
  return self->max_binding_range;
}

guint64
lk_context_get_binding_alignment (LkContext *self)
{
  return MAX (self->info->min_storage_buffer_offset_alignment, 16);
}

guint
lk_context_get_validation_message_count (LkContext *self)
{
  return g_atomic_int_get (&self->validation_messages);
}

guint64
lk_context_get_allocated_bytes (LkContext *self)
{
  return lk_allocator_get_allocated (self->allocator);
}

guint64
lk_context_get_peak_allocated_bytes (LkContext *self)
{
  return lk_allocator_get_peak (self->allocator);
}

void
lk_context_reset_peak_allocated_bytes (LkContext *self)
{
  lk_allocator_reset_peak (self->allocator);
}

LkAllocator *
lk_context_get_allocator (LkContext *self)
{
  return self->allocator;
}

VkQueue
lk_context_get_queue (LkContext *self)
{
  return self->queue;
}

VkSemaphore
lk_context_get_timeline (LkContext *self)
{
  return self->timeline;
}

/* Called with the queue lock held. */
guint64
lk_context_next_timeline_value (LkContext *self)
{
  return ++self->timeline_value;
}

GMutex *
lk_context_get_queue_lock (LkContext *self)
{
  return &self->queue_lock;
}

guint
lk_context_get_pipeline_count (LkContext *self)
{
  guint n;

  g_mutex_lock (&self->pipelines_lock);
  n = g_hash_table_size (self->pipelines);
  g_mutex_unlock (&self->pipelines_lock);
  return n;
}

guint
lk_context_get_pipeline_compile_count (LkContext *self)
{
  return self->n_compiled;
}

/* Called with pipelines_lock held. */
VkDescriptorSetLayout
lk_context_get_set_layout (LkContext *self,
                           guint      n_bindings)
{
  VkDescriptorSetLayoutBinding bindings[LK_MAX_BINDINGS];

  g_assert (n_bindings <= LK_MAX_BINDINGS);
  if (self->set_layouts[n_bindings] != VK_NULL_HANDLE)
    return self->set_layouts[n_bindings];

  for (guint i = 0; i < n_bindings; i++)
    bindings[i] = (VkDescriptorSetLayoutBinding) {
      .binding = i,
      .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
      .descriptorCount = 1,
      .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
    };
  if (!LK_VK_CHECK (vkCreateDescriptorSetLayout (self->device,
                                                 &(VkDescriptorSetLayoutCreateInfo) {
                                                   .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
                                                   .bindingCount = n_bindings,
                                                   .pBindings = bindings,
                                                 },
                                                 NULL, &self->set_layouts[n_bindings]),
                    NULL))
    return VK_NULL_HANDLE;
  return self->set_layouts[n_bindings];
}

static VkShaderModule
get_shader_module (LkContext   *self,
                   const char  *name,
                   GError     **error)
{
  g_autofree char *path = g_strdup_printf ("/io/github/likeness/shaders/%s.spv", name);
  g_autoptr(GBytes) code = NULL;
  VkShaderModule module;
  gsize size;
  const void *data;

  module = g_hash_table_lookup (self->shader_modules, name);
  if (module != VK_NULL_HANDLE)
    return module;

  code = g_resource_lookup_data (self->shaders, path, G_RESOURCE_LOOKUP_FLAGS_NONE, error);
  if (code == NULL)
    return VK_NULL_HANDLE;
  data = g_bytes_get_data (code, &size);
  if (!LK_VK_CHECK (vkCreateShaderModule (self->device,
                                          &(VkShaderModuleCreateInfo) {
                                            .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
                                            .codeSize = size,
                                            .pCode = data,
                                          },
                                          NULL, &module),
                    error))
    return VK_NULL_HANDLE;
  g_hash_table_insert (self->shader_modules, g_strdup (name), module);
  return module;
}

void
lk_kernel_free (LkKernel *self,
                VkDevice  device)
{
  vkDestroyPipeline (device, self->pipeline, NULL);
  vkDestroyPipelineLayout (device, self->layout, NULL);
  g_free (self->key);
  g_free (self);
}

static char *
pipeline_key (const char    *shader,
              guint          n_bindings,
              gsize          push_size,
              const guint32 *spec,
              guint          n_spec)
{
  GString *key = g_string_new (shader);

  g_string_append_printf (key, "/%u/%zu", n_bindings, push_size);
  for (guint i = 0; i < n_spec; i++)
    g_string_append_printf (key, "%c%u", i == 0 ? ':' : ',', spec[i]);
  return g_string_free (key, FALSE);
}

/**
 * lk_context_get_kernel:
 *
 * Looks a pipeline up by its key (shader, binding count, push size, specialization constants)
 * and compiles it on first use.
 *
 * Returns: (transfer none): the pipeline, owned by @context
 */
LkKernel *
lk_context_get_kernel (LkContext     *self,
                       const char    *shader,
                       guint          n_bindings,
                       gsize          push_size,
                       const guint32 *spec,
                       guint          n_spec,
                       GError       **error)
{
  g_autofree char *key = NULL;
  VkSpecializationMapEntry entries[LK_MAX_SPEC_CONSTANTS];
  g_autofree LkKernel *pipeline = NULL;
  VkShaderModule module;
  VkDescriptorSetLayout set_layout;
  LkKernel *found;

  g_return_val_if_fail (LK_IS_CONTEXT (self), NULL);
  g_return_val_if_fail (n_bindings <= LK_MAX_BINDINGS, NULL);
  g_return_val_if_fail (n_spec <= LK_MAX_SPEC_CONSTANTS, NULL);
  g_return_val_if_fail (push_size <= LK_MAX_PUSH_CONSTANTS, NULL);

  key = pipeline_key (shader, n_bindings, push_size, spec, n_spec);

  g_mutex_lock (&self->pipelines_lock);
  found = g_hash_table_lookup (self->pipelines, key);
  if (found != NULL)
    {
      g_mutex_unlock (&self->pipelines_lock);
      return found;
    }

  module = get_shader_module (self, shader, error);
  set_layout = lk_context_get_set_layout (self, n_bindings);
  if (module == VK_NULL_HANDLE || set_layout == VK_NULL_HANDLE)
    {
      if (set_layout == VK_NULL_HANDLE && (error == NULL || *error == NULL))
        g_set_error (error, LK_VK_ERROR, LK_VK_ERROR_FAILED, "Could not create a descriptor set layout");
      g_mutex_unlock (&self->pipelines_lock);
      return NULL;
    }

  for (guint i = 0; i < n_spec; i++)
    entries[i] = (VkSpecializationMapEntry) { .constantID = i, .offset = i * 4, .size = 4 };

  pipeline = g_new0 (LkKernel, 1);
  pipeline->n_bindings = n_bindings;
  pipeline->push_size = push_size;
  pipeline->set_layout = set_layout;

  if (!LK_VK_CHECK (vkCreatePipelineLayout (self->device,
                                            &(VkPipelineLayoutCreateInfo) {
                                              .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
                                              .setLayoutCount = 1,
                                              .pSetLayouts = &set_layout,
                                              .pushConstantRangeCount = push_size ? 1 : 0,
                                              .pPushConstantRanges = &(VkPushConstantRange) {
                                                .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
                                                .size = push_size,
                                              },
                                            },
                                            NULL, &pipeline->layout),
                    error))
    {
      g_mutex_unlock (&self->pipelines_lock);
      return NULL;
    }

  if (!LK_VK_CHECK (vkCreateComputePipelines (self->device, self->pipeline_cache, 1,
                                              &(VkComputePipelineCreateInfo) {
                                                .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
                                                .stage = {
                                                  .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                                                  .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                                                  .module = module,
                                                  .pName = "main",
                                                  .pSpecializationInfo = &(VkSpecializationInfo) {
                                                    .mapEntryCount = n_spec,
                                                    .pMapEntries = entries,
                                                    .dataSize = n_spec * 4,
                                                    .pData = spec,
                                                  },
                                                },
                                                .layout = pipeline->layout,
                                              },
                                              NULL, &pipeline->pipeline),
                    error))
    {
      vkDestroyPipelineLayout (self->device, pipeline->layout, NULL);
      g_prefix_error (error, "Compiling shader “%s”: ", shader);
      g_mutex_unlock (&self->pipelines_lock);
      return NULL;
    }

  pipeline->key = g_steal_pointer (&key);
  self->n_compiled++;
  found = g_steal_pointer (&pipeline);
  g_hash_table_insert (self->pipelines, found->key, found);
  g_mutex_unlock (&self->pipelines_lock);
  return found;
}
