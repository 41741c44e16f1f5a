/* lk-model-registry.c: the registry JSON, validated before anything trusts it
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include <json-glib/json-glib.h>

#include "lk-model-registry.h"
#include "lk-models-resources.h"

G_DEFINE_QUARK (lk-models-error-quark, lk_models_error)

#define REGISTRY_RESOURCE "/io/github/likeness/Likeness/models/models.json"
#define LICENSE_RESOURCES "/io/github/likeness/Likeness/models/licenses/"

struct _LkModelRegistry
{
  GObject     parent_instance;

  GPtrArray  *entries;  /* LkModelEntry, owned */
};

G_DEFINE_FINAL_TYPE (LkModelRegistry, lk_model_registry, G_TYPE_OBJECT)

static void
file_spec_free (LkModelFileSpec *file)
{
  g_free (file->path);
  g_free (file->sha256);
  g_strfreev (file->urls);
  g_free (file);
}

static void
entry_free (LkModelEntry *entry)
{
  g_free (entry->name);
  g_free (entry->role);
  g_free (entry->title);
  g_free (entry->license);
  g_free (entry->license_url);
  g_strfreev (entry->license_files);
  g_clear_pointer (&entry->files, g_ptr_array_unref);
  g_free (entry);
}

static void
lk_model_registry_finalize (GObject *object)
{
  LkModelRegistry *self = LK_MODEL_REGISTRY (object);

  g_clear_pointer (&self->entries, g_ptr_array_unref);
  G_OBJECT_CLASS (lk_model_registry_parent_class)->finalize (object);
}

static void
lk_model_registry_class_init (LkModelRegistryClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = lk_model_registry_finalize;
}

static void
lk_model_registry_init (LkModelRegistry *self)
{
  self->entries = g_ptr_array_new_with_free_func ((GDestroyNotify) entry_free);
}

static gboolean
is_name (const char *text)
{
  if (text == NULL || *text == '\0')
    return FALSE;
  for (const char *p = text; *p; p++)
    if (!g_ascii_islower (*p) && !g_ascii_isdigit (*p) && *p != '-')
      return FALSE;
  return TRUE;
}

/* A plain file name: it is joined to a folder, so no separators and no dot-only names. */
static gboolean
is_file_name (const char *text)
{
  return text != NULL && *text != '\0' && strchr (text, '/') == NULL &&
         strchr (text, '\\') == NULL && strcmp (text, ".") != 0 && strcmp (text, "..") != 0;
}

static gboolean
is_sha256 (const char *text)
{
  if (text == NULL || strlen (text) != 64)
    return FALSE;
  for (const char *p = text; *p; p++)
    if (!g_ascii_isdigit (*p) && !(*p >= 'a' && *p <= 'f'))
      return FALSE;
  return TRUE;
}

static const char *
member_string (JsonObject *object,
               const char *member)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

static gboolean
registry_error (GError    **error,
                const char *format,
                ...) G_GNUC_PRINTF (2, 3);

static gboolean
registry_error (GError    **error,
                const char *format,
                ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, LK_MODELS_ERROR, LK_MODELS_ERROR_REGISTRY, "Model registry: %s", message);
  return FALSE;
}

static LkModelFileSpec *
parse_file (const char  *model,
            JsonNode    *node,
            GError     **error)
{
  g_autoptr(GStrvBuilder) urls = g_strv_builder_new ();
  LkModelFileSpec *file;
  JsonObject *object;
  JsonNode *size, *sha256;
  JsonArray *url_array;
  const char *path;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    return registry_error (error, "%s: a file is not an object", model), NULL;
  object = json_node_get_object (node);
  path = member_string (object, "path");
  if (!is_file_name (path))
    return registry_error (error, "%s: a file has no plain file name", model), NULL;
  size = json_object_get_member (object, "size");
  if (size != NULL && !JSON_NODE_HOLDS_NULL (size) &&
      (json_node_get_value_type (size) != G_TYPE_INT64 || json_node_get_int (size) < 0))
    return registry_error (error, "%s/%s: size is not a byte count", model, path), NULL;
  sha256 = json_object_get_member (object, "sha256");
  if (sha256 != NULL && !JSON_NODE_HOLDS_NULL (sha256) &&
      !is_sha256 (member_string (object, "sha256")))
    return registry_error (error, "%s/%s: sha256 is not 64 lower-case hex digits", model,
                           path), NULL;
  if (!json_object_has_member (object, "urls") ||
      !JSON_NODE_HOLDS_ARRAY (json_object_get_member (object, "urls")) ||
      json_array_get_length (url_array = json_object_get_array_member (object, "urls")) == 0)
    return registry_error (error, "%s/%s: no urls", model, path), NULL;
  for (guint i = 0; i < json_array_get_length (url_array); i++)
    {
      JsonNode *url = json_array_get_element (url_array, i);
      const char *text = JSON_NODE_HOLDS_VALUE (url) &&
                         json_node_get_value_type (url) == G_TYPE_STRING
                         ? json_node_get_string (url) : NULL;

      if (text == NULL || (!g_str_has_prefix (text, "https://") &&
                           !g_str_has_prefix (text, "http://")))
        return registry_error (error, "%s/%s: url %u is not http(s)", model, path, i), NULL;
      g_strv_builder_add (urls, text);
    }

  file = g_new0 (LkModelFileSpec, 1);
  file->path = g_strdup (path);
  file->size = size != NULL && !JSON_NODE_HOLDS_NULL (size) ? json_node_get_int (size) : -1;
  file->sha256 = g_strdup (member_string (object, "sha256"));
  file->urls = g_strv_builder_end (urls);
  return file;
}

/* license_files: plain names of texts built into Likeness, none of them also a model file. */
static gboolean
parse_license_files (LkModelEntry  *entry,
                     JsonObject    *object,
                     GError       **error)
{
  g_autoptr(GStrvBuilder) names = g_strv_builder_new ();
  JsonNode *node = json_object_get_member (object, "license_files");
  JsonArray *array;

  if (node != NULL && !JSON_NODE_HOLDS_ARRAY (node))
    return registry_error (error, "%s: license_files is not an array", entry->name);
  array = node != NULL ? json_node_get_array (node) : NULL;
  for (guint i = 0; array != NULL && i < json_array_get_length (array); i++)
    {
      JsonNode *item = json_array_get_element (array, i);
      const char *name = JSON_NODE_HOLDS_VALUE (item) &&
                         json_node_get_value_type (item) == G_TYPE_STRING
                         ? json_node_get_string (item) : NULL;
      g_autofree char *resource = NULL;

      if (!is_file_name (name))
        return registry_error (error, "%s: licence file %u has no plain file name", entry->name,
                               i);
      for (guint k = 0; k < entry->files->len; k++)
        if (strcmp (((LkModelFileSpec *) g_ptr_array_index (entry->files, k))->path, name) == 0)
          return registry_error (error, "%s: “%s” is both a model file and a licence",
                                 entry->name, name);
      resource = g_strconcat (LICENSE_RESOURCES, name, NULL);
      if (!g_resource_get_info (lk_models_get_resource (), resource,
                                G_RESOURCE_LOOKUP_FLAGS_NONE, NULL, NULL, NULL))
        return registry_error (error, "%s: the licence text “%s” is not built into Likeness",
                               entry->name, name);
      g_strv_builder_add (names, name);
    }
  entry->license_files = g_strv_builder_end (names);
  return TRUE;
}

static gboolean
parse_registry (LkModelRegistry  *self,
                GBytes           *json,
                GError          **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GHashTable) names = g_hash_table_new (g_str_hash, g_str_equal);
  gsize length;
  const char *data = g_bytes_get_data (json, &length);
  JsonNode *root;
  JsonArray *models;

  if (!json_parser_load_from_data (parser, data, length, &local_error))
    return registry_error (error, "%s", local_error->message);
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root) ||
      json_object_get_int_member_with_default (json_node_get_object (root), "version", 0) != 1)
    return registry_error (error, "not a version 1 registry");
  if (!JSON_NODE_HOLDS_ARRAY (json_object_get_member (json_node_get_object (root), "models")))
    return registry_error (error, "no models array");
  models = json_object_get_array_member (json_node_get_object (root), "models");

  for (guint i = 0; i < json_array_get_length (models); i++)
    {
      JsonNode *node = json_array_get_element (models, i);
      JsonObject *object;
      JsonArray *files;
      LkModelEntry *entry;
      const char *name, *role;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        return registry_error (error, "model %u is not an object", i);
      object = json_node_get_object (node);
      name = member_string (object, "name");
      role = member_string (object, "role");
      if (!is_name (name) || !is_name (role))
        return registry_error (error, "model %u has no valid name and role", i);
      if (!g_hash_table_add (names, (gpointer) name))
        return registry_error (error, "two models are called “%s”", name);
      if (!JSON_NODE_HOLDS_ARRAY (json_object_get_member (object, "files")) ||
          json_array_get_length (files = json_object_get_array_member (object, "files")) == 0)
        return registry_error (error, "%s: no files", name);

      entry = g_new0 (LkModelEntry, 1);
      entry->name = g_strdup (name);
      entry->role = g_strdup (role);
      entry->title = g_strdup (member_string (object, "title") ?: name);
      entry->license = g_strdup (member_string (object, "license"));
      entry->license_url = g_strdup (member_string (object, "license_url"));
      entry->required = json_object_get_boolean_member_with_default (object, "required", FALSE);
      entry->files = g_ptr_array_new_with_free_func ((GDestroyNotify) file_spec_free);
      g_ptr_array_add (self->entries, entry);
      for (guint j = 0; j < json_array_get_length (files); j++)
        {
          LkModelFileSpec *file = parse_file (name, json_array_get_element (files, j), error);

          if (file == NULL)
            return FALSE;
          for (guint k = 0; k < entry->files->len; k++)
            if (strcmp (((LkModelFileSpec *) g_ptr_array_index (entry->files, k))->path,
                        file->path) == 0)
              {
                file_spec_free (file);
                return registry_error (error, "%s: two files are called “%s”", name,
                                       ((LkModelFileSpec *) g_ptr_array_index (entry->files,
                                                                               k))->path);
              }
          g_ptr_array_add (entry->files, file);
        }
      if (!parse_license_files (entry, object, error))
        return FALSE;
    }
  return TRUE;
}

LkModelRegistry *
lk_model_registry_new_from_bytes (GBytes  *json,
                                  GError **error)
{
  g_autoptr(LkModelRegistry) self = NULL;

  g_return_val_if_fail (json != NULL, NULL);

  self = g_object_new (LK_TYPE_MODEL_REGISTRY, NULL);
  if (!parse_registry (self, json, error))
    return NULL;
  return g_steal_pointer (&self);
}

LkModelRegistry *
lk_model_registry_new_from_file (const char  *path,
                                 GError     **error)
{
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GFile) file = NULL;

  g_return_val_if_fail (path != NULL, NULL);

  file = g_file_new_for_path (path);
  bytes = g_file_load_bytes (file, NULL, NULL, error);
  return bytes != NULL ? lk_model_registry_new_from_bytes (bytes, error) : NULL;
}

LkModelRegistry *
lk_model_registry_new_default (GError **error)
{
  /* Looked up in the resource itself, which also keeps its object file linked in. */
  g_autoptr(GBytes) bytes = g_resource_lookup_data (lk_models_get_resource (), REGISTRY_RESOURCE,
                                                    G_RESOURCE_LOOKUP_FLAGS_NONE, error);

  return bytes != NULL ? lk_model_registry_new_from_bytes (bytes, error) : NULL;
}

GBytes *
lk_model_license_text (const char  *file,
                       GError     **error)
{
  g_autofree char *resource = NULL;

  g_return_val_if_fail (file != NULL, NULL);

  if (!is_file_name (file))
    {
      g_set_error (error, LK_MODELS_ERROR, LK_MODELS_ERROR_NOT_FOUND,
                   "“%s” is not a licence file name", file);
      return NULL;
    }
  resource = g_strconcat (LICENSE_RESOURCES, file, NULL);
  return g_resource_lookup_data (lk_models_get_resource (), resource,
                                 G_RESOURCE_LOOKUP_FLAGS_NONE, error);
}

guint
lk_model_registry_get_n_models (LkModelRegistry *self)
{
  g_return_val_if_fail (LK_IS_MODEL_REGISTRY (self), 0);
  return self->entries->len;
}

const LkModelEntry *
lk_model_registry_get_nth (LkModelRegistry *self,
                           guint            index)
{
  g_return_val_if_fail (LK_IS_MODEL_REGISTRY (self), NULL);
  g_return_val_if_fail (index < self->entries->len, NULL);
  return g_ptr_array_index (self->entries, index);
}

const LkModelEntry *
lk_model_registry_lookup (LkModelRegistry *self,
                          const char      *name)
{
  g_return_val_if_fail (LK_IS_MODEL_REGISTRY (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);

  for (guint i = 0; i < self->entries->len; i++)
    {
      const LkModelEntry *entry = g_ptr_array_index (self->entries, i);

      if (strcmp (entry->name, name) == 0)
        return entry;
    }
  return NULL;
}

const LkModelEntry *
lk_model_registry_find_by_sha256 (LkModelRegistry        *self,
                                  const char             *sha256,
                                  const LkModelFileSpec **file)
{
  g_return_val_if_fail (LK_IS_MODEL_REGISTRY (self), NULL);

  for (guint i = 0; sha256 != NULL && i < self->entries->len; i++)
    {
      const LkModelEntry *entry = g_ptr_array_index (self->entries, i);

      for (guint j = 0; j < entry->files->len; j++)
        {
          const LkModelFileSpec *spec = g_ptr_array_index (entry->files, j);

          if (g_strcmp0 (spec->sha256, sha256) == 0)
            {
              if (file != NULL)
                *file = spec;
              return entry;
            }
        }
    }
  return NULL;
}

gint64
lk_model_entry_get_size (const LkModelEntry *entry)
{
  gint64 total = 0;

  for (guint i = 0; i < entry->files->len; i++)
    {
      const LkModelFileSpec *file = g_ptr_array_index (entry->files, i);

      if (file->size < 0)
        return -1;
      total += file->size;
    }
  return total;
}

gboolean
lk_model_entry_is_pinned (const LkModelEntry *entry)
{
  for (guint i = 0; i < entry->files->len; i++)
    if (((const LkModelFileSpec *) g_ptr_array_index (entry->files, i))->sha256 == NULL)
      return FALSE;
  return TRUE;
}

char *
lk_model_entry_get_dir (const LkModelEntry *entry,
                        const char         *data_dir)
{
  return g_build_filename (data_dir, "models", entry->name, NULL);
}

char *
lk_model_entry_get_catalog_path (const LkModelEntry *entry)
{
  const LkModelFileSpec *first = g_ptr_array_index (entry->files, 0);

  return g_build_filename ("models", entry->name, first->path, NULL);
}

const char *
lk_model_mirror_choose (const char *fallback)
{
  const char *env = g_getenv ("LIKENESS_MODEL_MIRROR");

  if (env != NULL && *env != '\0')
    return env;
  if (fallback != NULL && *fallback != '\0')
    return fallback;
  return NULL;
}

char *
lk_model_mirror_url (const char *url,
                     const char *mirror)
{
  g_autoptr(GUri) uri = NULL;
  g_autofree char *base = NULL;
  const char *query;

  g_return_val_if_fail (url != NULL, NULL);

  if (mirror == NULL || *mirror == '\0')
    return g_strdup (url);
  uri = g_uri_parse (url, G_URI_FLAGS_ENCODED, NULL);
  if (uri == NULL || g_uri_get_host (uri) == NULL)
    return g_strdup (url);
  base = g_strdup (mirror);
  while (g_str_has_suffix (base, "/"))
    base[strlen (base) - 1] = '\0';
  query = g_uri_get_query (uri);
  return g_strconcat (base, "/", g_uri_get_host (uri), g_uri_get_path (uri),
                      query != NULL ? "?" : "", query != NULL ? query : "", NULL);
}

char *
lk_model_resolve_path (const char *data_dir,
                       const char *path)
{
  if (g_path_is_absolute (path))
    return g_strdup (path);
  return g_build_filename (data_dir, path, NULL);
}
