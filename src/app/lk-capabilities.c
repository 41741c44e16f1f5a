/* lk-capabilities.c: what stands between the user and training or generating
 *
 * The buttons say exactly what is missing instead of pretending: models first, then the
 * person's photos or LoRA, then the engine itself while its trainer and generator are still
 * being written.
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "lk-capabilities.h"

/* The engine's portrait jobs (DESIGN.md §2) have not landed: flip these when they do. */
#define LK_ENGINE_CAN_TRAIN    FALSE
#define LK_ENGINE_CAN_GENERATE FALSE

static char *
check_base_model (LkCatalog *catalog)
{
  g_autoptr(GError) error = NULL;
  gboolean ready = FALSE;

  if (!lk_catalog_has_ready_model (catalog, "base", &ready, &error))
    return g_strdup (error->message);
  if (!ready)
    return g_strdup (_("Add a Stable Diffusion 1.5 model first"));
  return NULL;
}

gboolean
lk_capabilities_have_base_model (LkCatalog *catalog)
{
  g_autofree char *missing = NULL;

  g_return_val_if_fail (LK_IS_CATALOG (catalog), FALSE);

  missing = check_base_model (catalog);
  return missing == NULL;
}

char *
lk_capabilities_check_training (LkCatalog *catalog,
                                LkPerson  *person,
                                guint      n_photos)
{
  char *missing;

  g_return_val_if_fail (LK_IS_CATALOG (catalog), NULL);
  g_return_val_if_fail (LK_IS_PERSON (person), NULL);

  if (n_photos < LK_MIN_TRAINING_PHOTOS)
    return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                         "Add at least %u photos first (%u so far)",
                                         "Add at least %u photos first (%u so far)",
                                         n_photos),
                            LK_MIN_TRAINING_PHOTOS, n_photos);
  if ((missing = check_base_model (catalog)) != NULL)
    return missing;
  if (!LK_ENGINE_CAN_TRAIN)
    return g_strdup (_("Training is not available in this version yet"));
  return NULL;
}

char *
lk_capabilities_check_generation (LkCatalog  *catalog,
                                  GPtrArray  *people,
                                  LkTemplate *template)
{
  char *missing;

  g_return_val_if_fail (LK_IS_CATALOG (catalog), NULL);

  if (people == NULL || people->len == 0)
    return g_strdup (_("Choose who to portray"));
  if (template == NULL)
    return g_strdup (_("Choose a template"));
  if (lk_template_get_face_count (template) > 0 &&
      people->len > (guint) lk_template_get_face_count (template))
    return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                         "This template has room for %d person",
                                         "This template has room for %d people",
                                         lk_template_get_face_count (template)),
                            lk_template_get_face_count (template));
  if ((missing = check_base_model (catalog)) != NULL)
    return missing;
  for (guint i = 0; i < people->len; i++)
    {
      LkPerson *person = g_ptr_array_index (people, i);
      g_autoptr(GError) error = NULL;
      gboolean ready = FALSE;

      if (!lk_catalog_has_ready_lora (catalog, lk_person_get_id (person), &ready, &error))
        return g_strdup (error->message);
      if (!ready)
        return g_strdup_printf (_("Train %s first"), lk_person_get_name (person));
    }
  if (!LK_ENGINE_CAN_GENERATE)
    return g_strdup (_("Generation is not available in this version yet"));
  return NULL;
}
