/* lk-catalog-list.c: LkCatalogList, rows as items, diffed on each change
 *
 * Items are snapshots; on each "changed" of the catalog the rows are read again and the run
 * between the common prefix and the common suffix is replaced, so a view keeps its scroll
 * position and selection for everything that did not change.
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "lk-catalog-list.h"
#include "lk-catalog-private.h"

struct _LkCatalogList
{
  GObject            parent_instance;

  /* owned */
  LkCatalog         *catalog;
  GPtrArray         *items;

  LkCatalogLoadFunc  load;
  GEqualFunc         equal;
  GType              item_type;
  gint64             filter;
  gulong             changed_id;
};

static void list_model_iface_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (LkCatalogList, lk_catalog_list, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, list_model_iface_init))

enum {
  PROP_0,
  PROP_CATALOG,
  PROP_N_ITEMS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static GType
get_item_type (GListModel *model)
{
  return LK_CATALOG_LIST (model)->item_type;
}

static guint
get_n_items (GListModel *model)
{
  return LK_CATALOG_LIST (model)->items->len;
}

static gpointer
get_item (GListModel *model,
          guint       position)
{
  LkCatalogList *self = LK_CATALOG_LIST (model);

  if (position >= self->items->len)
    return NULL;
  return g_object_ref (g_ptr_array_index (self->items, position));
}

static void
list_model_iface_init (GListModelInterface *iface)
{
  iface->get_item_type = get_item_type;
  iface->get_n_items = get_n_items;
  iface->get_item = get_item;
}

void
lk_catalog_list_reload (LkCatalogList *self)
{
  g_autoptr(GPtrArray) fresh = NULL;
  g_autoptr(GPtrArray) old = NULL;
  g_autoptr(GError) error = NULL;
  guint prefix = 0;
  guint suffix = 0;
  guint old_len;

  g_return_if_fail (LK_IS_CATALOG_LIST (self));

  fresh = self->load (self->catalog, self->filter, &error);
  if (fresh == NULL)
    {
      /* Busy past the timeout or a damaged file: keep showing what we have. */
      g_message ("Could not refresh a catalog list: %s", error->message);
      return;
    }

  old_len = self->items->len;
  while (prefix < old_len && prefix < fresh->len &&
         self->equal (g_ptr_array_index (self->items, prefix), g_ptr_array_index (fresh, prefix)))
    prefix++;
  while (suffix < old_len - prefix && suffix < fresh->len - prefix &&
         self->equal (g_ptr_array_index (self->items, old_len - 1 - suffix),
                      g_ptr_array_index (fresh, fresh->len - 1 - suffix)))
    suffix++;
  if (prefix + suffix == old_len && old_len == fresh->len)
    return;

  old = g_steal_pointer (&self->items);
  self->items = g_steal_pointer (&fresh);
  g_list_model_items_changed (G_LIST_MODEL (self), prefix, old_len - prefix - suffix,
                              self->items->len - prefix - suffix);
  if (old_len != self->items->len)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_ITEMS]);
}

static void
catalog_changed_cb (LkCatalogList *self,
                    LkCatalog     *catalog)
{
  lk_catalog_list_reload (self);
}

LkCatalog *
lk_catalog_list_get_catalog (LkCatalogList *self)
{
  g_return_val_if_fail (LK_IS_CATALOG_LIST (self), NULL);

  return self->catalog;
}

static void
lk_catalog_list_dispose (GObject *object)
{
  LkCatalogList *self = (LkCatalogList *) object;

  if (self->catalog != NULL)
    {
      g_clear_signal_handler (&self->changed_id, self->catalog);
      lk_catalog_list_stopped (self->catalog);
      g_clear_object (&self->catalog);
    }

  G_OBJECT_CLASS (lk_catalog_list_parent_class)->dispose (object);
}

static void
lk_catalog_list_finalize (GObject *object)
{
  LkCatalogList *self = (LkCatalogList *) object;

  g_clear_pointer (&self->items, g_ptr_array_unref);

  G_OBJECT_CLASS (lk_catalog_list_parent_class)->finalize (object);
}

static void
lk_catalog_list_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  LkCatalogList *self = LK_CATALOG_LIST (object);

  switch (prop_id)
    {
    case PROP_CATALOG:
      g_value_set_object (value, self->catalog);
      break;

    case PROP_N_ITEMS:
      g_value_set_uint (value, self->items->len);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lk_catalog_list_class_init (LkCatalogListClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = lk_catalog_list_dispose;
  object_class->finalize = lk_catalog_list_finalize;
  object_class->get_property = lk_catalog_list_get_property;

  properties[PROP_CATALOG] =
    g_param_spec_object ("catalog", NULL, "The catalog the rows come from",
                         LK_TYPE_CATALOG,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_N_ITEMS] =
    g_param_spec_uint ("n-items", NULL, "Number of rows", 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
lk_catalog_list_init (LkCatalogList *self)
{
  self->items = g_ptr_array_new_with_free_func (g_object_unref);
}

static GListModel *
list_new (LkCatalog         *catalog,
          GType              item_type,
          LkCatalogLoadFunc  load,
          GEqualFunc         equal,
          gint64             filter)
{
  LkCatalogList *self = g_object_new (LK_TYPE_CATALOG_LIST, NULL);

  self->catalog = g_object_ref (catalog);
  self->item_type = item_type;
  self->load = load;
  self->equal = equal;
  self->filter = filter;
  self->changed_id = g_signal_connect_swapped (catalog, "changed",
                                               G_CALLBACK (catalog_changed_cb), self);
  lk_catalog_list_started (catalog);
  lk_catalog_list_reload (self);
  return G_LIST_MODEL (self);
}

GListModel *
lk_catalog_list_people (LkCatalog *self)
{
  g_return_val_if_fail (LK_IS_CATALOG (self), NULL);

  return list_new (self, LK_TYPE_PERSON, lk_catalog_load_people, lk_person_equal, 0);
}

GListModel *
lk_catalog_list_photos (LkCatalog *self,
                        gint64     person_id)
{
  g_return_val_if_fail (LK_IS_CATALOG (self), NULL);

  return list_new (self, LK_TYPE_PHOTO, lk_catalog_load_photos, lk_photo_equal, person_id);
}

GListModel *
lk_catalog_list_templates (LkCatalog *self)
{
  g_return_val_if_fail (LK_IS_CATALOG (self), NULL);

  return list_new (self, LK_TYPE_TEMPLATE, lk_catalog_load_templates, lk_template_equal, 0);
}

GListModel *
lk_catalog_list_generations (LkCatalog *self)
{
  g_return_val_if_fail (LK_IS_CATALOG (self), NULL);

  return list_new (self, LK_TYPE_GENERATION, lk_catalog_load_generations,
                   lk_generation_equal, 0);
}

GListModel *
lk_catalog_list_jobs (LkCatalog *self)
{
  g_return_val_if_fail (LK_IS_CATALOG (self), NULL);

  return list_new (self, LK_TYPE_JOB, lk_catalog_load_jobs, lk_job_equal, 0);
}
