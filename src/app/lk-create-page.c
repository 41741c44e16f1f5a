/* lk-create-page.c: choose people and a template, then Generate
 *
 * People fill the template's faces left to right in the order they were chosen. Generate
 * queues a "generate" job once nothing is missing; until the engine can generate, the page
 * says so instead of pretending. A running generate job's progress shows under the button.
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "lk-app-util.h"
#include "lk-capabilities.h"
#include "lk-catalog-list.h"
#include "lk-create-page.h"
#include "lk-template-tile.h"
#include "lk-thumbnailer.h"

#define RESULT_SIZE 720

struct _LkCreatePage
{
  GtkWidget           parent_instance;

  /* template widgets */
  GtkWidget          *scroller;
  GtkListBox         *people_list;
  GtkLabel           *slots_label;
  GtkListView        *template_view;
  GtkLabel           *missing_label;
  GtkWidget          *models_button;
  GtkRevealer        *result_revealer;
  GtkPicture         *result_template;
  GtkPicture         *result_picture;
  GtkLabel           *result_label;
  GtkRevealer        *progress_revealer;
  GtkProgressBar     *progress_bar;

  /* owned */
  LkCatalog          *catalog;
  GListModel         *people;
  GListModel         *templates;
  GListModel         *jobs;
  GListModel         *generations;
  LkGeneration       *result;          /* the newest portrait made while the page was open */
  gint64              newest_seen;     /* the newest generation id when the page opened */
  GtkSingleSelection *template_selection;
  GArray             *chosen;          /* person ids, in face-slot order */
  GSettings          *settings;
  gulong              changed_id;
};

G_DEFINE_FINAL_TYPE (LkCreatePage, lk_create_page, GTK_TYPE_WIDGET)

static LkPerson *
find_person (LkCreatePage *self,
             gint64        person_id)
{
  for (guint i = 0; self->people != NULL && i < g_list_model_get_n_items (self->people); i++)
    {
      g_autoptr(LkPerson) person = g_list_model_get_item (self->people, i);

      if (lk_person_get_id (person) == person_id)
        return g_steal_pointer (&person);
    }
  return NULL;
}

static GPtrArray *
dup_chosen_people (LkCreatePage *self)
{
  GPtrArray *people = g_ptr_array_new_with_free_func (g_object_unref);

  for (guint i = 0; i < self->chosen->len; i++)
    {
      LkPerson *person = find_person (self, g_array_index (self->chosen, gint64, i));

      if (person != NULL)
        g_ptr_array_add (people, person);
    }
  return people;
}

char *
lk_create_page_dup_missing (LkCreatePage *self)
{
  g_autoptr(GPtrArray) people = NULL;
  LkTemplate *template;

  g_return_val_if_fail (LK_IS_CREATE_PAGE (self), NULL);

  if (self->catalog == NULL)
    return g_strdup (_("The catalog is not open"));
  people = dup_chosen_people (self);
  template = self->template_selection != NULL
             ? gtk_single_selection_get_selected_item (self->template_selection) : NULL;
  return lk_capabilities_check_generation (self->catalog, people, template);
}

static void
update_state (LkCreatePage *self)
{
  g_autoptr(GPtrArray) people = dup_chosen_people (self);
  g_autoptr(GString) slots = g_string_new (NULL);
  g_autofree char *missing = lk_create_page_dup_missing (self);

  for (guint i = 0; i < people->len; i++)
    {
      if (i > 0)
        g_string_append (slots, ", ");
      g_string_append_printf (slots, _("face %u: %s"), i + 1,
                              lk_person_get_name (g_ptr_array_index (people, i)));
    }
  if (people->len > 0)
    {
      g_autofree char *text = g_strdup_printf (_("Left to right, %s"), slots->str);

      gtk_label_set_label (self->slots_label, text);
    }
  else
    gtk_label_set_label (self->slots_label, _("Choose one person per face in the template."));

  gtk_label_set_label (self->missing_label, missing != NULL ? missing : "");
  gtk_widget_set_visible (GTK_WIDGET (self->missing_label), missing != NULL);
  gtk_widget_set_visible (self->models_button, self->catalog != NULL &&
                          !lk_capabilities_have_base_model (self->catalog));
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "create.generate", missing == NULL);
}

static void
update_progress (LkCreatePage *self)
{
  g_autoptr(LkJob) active = NULL;

  for (guint i = 0; self->jobs != NULL && i < g_list_model_get_n_items (self->jobs); i++)
    {
      g_autoptr(LkJob) job = g_list_model_get_item (self->jobs, i);

      if (g_strcmp0 (lk_job_get_kind (job), "generate") == 0 &&
          (lk_job_get_state (job) == LK_JOB_STATE_RUNNING ||
           lk_job_get_state (job) == LK_JOB_STATE_QUEUED))
        {
          active = g_steal_pointer (&job);
          break;
        }
    }
  gtk_revealer_set_reveal_child (self->progress_revealer, active != NULL);
  if (active != NULL)
    {
      gtk_progress_bar_set_fraction (self->progress_bar, lk_job_get_progress (active));
      gtk_progress_bar_set_text (self->progress_bar,
                                 lk_job_get_message (active) != NULL ? lk_job_get_message (active)
                                 : lk_job_state_to_string (lk_job_get_state (active)));
    }
}

static gboolean
is_chosen (LkCreatePage *self,
           gint64        person_id)
{
  for (guint i = 0; i < self->chosen->len; i++)
    if (g_array_index (self->chosen, gint64, i) == person_id)
      return TRUE;
  return FALSE;
}

/* Check marks follow the choice when it was made in code ("use again", tests). Setting one
 * toggles it, which calls back here with no change. */
static void
sync_checks (LkCreatePage *self)
{
  GtkListBoxRow *row;

  for (int i = 0; (row = gtk_list_box_get_row_at_index (self->people_list, i)) != NULL; i++)
    {
      GtkCheckButton *check = g_object_get_data (G_OBJECT (row), "check");
      gint64 *id = g_object_get_data (G_OBJECT (check), "person-id");

      if (gtk_check_button_get_active (check) != is_chosen (self, *id))
        gtk_check_button_set_active (check, is_chosen (self, *id));
    }
}

/* A portrait that arrives while the page is open is shown beside its template. */
static void
generations_changed_cb (LkCreatePage *self)
{
  g_autoptr(LkGeneration) newest = NULL;
  g_autoptr(LkTemplate) template = NULL;
  g_autofree char *label = NULL;

  for (guint i = 0; i < g_list_model_get_n_items (self->generations); i++)
    {
      g_autoptr(LkGeneration) generation = g_list_model_get_item (self->generations, i);

      if (lk_generation_get_id (generation) > self->newest_seen &&
          (newest == NULL || lk_generation_get_id (generation) > lk_generation_get_id (newest)))
        g_set_object (&newest, generation);
    }
  if (newest == NULL)
    return;
  self->newest_seen = lk_generation_get_id (newest);
  g_set_object (&self->result, newest);
  if (lk_generation_get_template_id (newest) > 0)
    template = lk_catalog_get_template (self->catalog, lk_generation_get_template_id (newest), NULL);
  lk_thumbnailer_show (self->result_template, template != NULL ? lk_template_get_path (template) : NULL,
                       RESULT_SIZE);
  lk_thumbnailer_show (self->result_picture, lk_generation_get_path (newest), RESULT_SIZE);
  if (lk_generation_get_similarity (newest) >= 0)
    label = g_strdup_printf (_("Similarity %.0f %%"), lk_generation_get_similarity (newest) * 100);
  gtk_label_set_label (self->result_label, label != NULL ? label : "");
  gtk_revealer_set_reveal_child (self->result_revealer, TRUE);
}

static void
save_result_action (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *parameter)
{
  LkCreatePage *self = LK_CREATE_PAGE (widget);

  if (self->result != NULL)
    gtk_widget_activate_action (widget, "win.save-generation", "x", lk_generation_get_id (self->result));
}

static void
use_again_action (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  LkCreatePage *self = LK_CREATE_PAGE (widget);

  if (self->result != NULL)
    lk_create_page_use_generation (self, self->result);
}

void
lk_create_page_toggle_person (LkCreatePage *self,
                              gint64        person_id,
                              gboolean      chosen)
{
  guint i;

  g_return_if_fail (LK_IS_CREATE_PAGE (self));

  for (i = 0; i < self->chosen->len; i++)
    if (g_array_index (self->chosen, gint64, i) == person_id)
      break;
  if (chosen && i == self->chosen->len)
    g_array_append_val (self->chosen, person_id);
  else if (!chosen && i < self->chosen->len)
    g_array_remove_index (self->chosen, i);
  sync_checks (self);
  update_state (self);
}

static void
check_toggled_cb (GtkCheckButton *check,
                  LkCreatePage   *self)
{
  gint64 *id = g_object_get_data (G_OBJECT (check), "person-id");

  lk_create_page_toggle_person (self, *id, gtk_check_button_get_active (check));
}

static GtkWidget *
create_person_row (gpointer item,
                   gpointer user_data)
{
  LkCreatePage *self = user_data;
  LkPerson *person = item;
  gint64 id = lk_person_get_id (person);
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *check = gtk_check_button_new ();
  g_autofree char *escaped = g_markup_escape_text (lk_person_get_name (person), -1);
  gboolean active = is_chosen (self, id);

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), escaped);
  adw_action_row_add_prefix (ADW_ACTION_ROW (row), adw_avatar_new (32, lk_person_get_name (person), TRUE));
  gtk_widget_set_valign (check, GTK_ALIGN_CENTER);
  gtk_check_button_set_active (GTK_CHECK_BUTTON (check), active);
  lk_set_accessible_label (check, lk_person_get_name (person));
  g_object_set_data_full (G_OBJECT (check), "person-id", g_memdup2 (&id, sizeof id), g_free);
  g_signal_connect_object (check, "toggled", G_CALLBACK (check_toggled_cb), self, 0);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), check);
  adw_action_row_set_activatable_widget (ADW_ACTION_ROW (row), check);
  g_object_set_data (G_OBJECT (row), "check", check);
  return row;
}

void
lk_create_page_select_template (LkCreatePage *self,
                                gint64        template_id)
{
  g_return_if_fail (LK_IS_CREATE_PAGE (self));

  for (guint i = 0; self->templates != NULL && i < g_list_model_get_n_items (self->templates); i++)
    {
      g_autoptr(LkTemplate) template = g_list_model_get_item (self->templates, i);

      if (lk_template_get_id (template) == template_id)
        {
          gtk_single_selection_set_selected (self->template_selection, i);
          return;
        }
    }
}

void
lk_create_page_use_generation (LkCreatePage *self,
                               LkGeneration *generation)
{
  g_auto(GStrv) names = NULL;

  g_return_if_fail (LK_IS_CREATE_PAGE (self));
  g_return_if_fail (LK_IS_GENERATION (generation));

  g_array_set_size (self->chosen, 0);
  names = g_strsplit (lk_generation_get_people (generation) != NULL
                      ? lk_generation_get_people (generation) : "", ", ", -1);
  for (guint i = 0; names[i] != NULL; i++)
    {
      g_autoptr(LkPerson) person = lk_catalog_find_person (self->catalog, names[i], NULL);

      if (person != NULL)
        {
          gint64 id = lk_person_get_id (person);

          g_array_append_val (self->chosen, id);
        }
    }
  sync_checks (self);
  lk_create_page_select_template (self, lk_generation_get_template_id (generation));
  update_state (self);
}

static void
generate_action (GtkWidget  *widget,
                 const char *action_name,
                 GVariant   *parameter)
{
  LkCreatePage *self = LK_CREATE_PAGE (widget);
  g_autofree char *missing = lk_create_page_dup_missing (self);
  g_autoptr(GString) params = NULL;
  g_autoptr(LkJob) job = NULL;
  g_autoptr(GError) error = NULL;
  LkTemplate *template;

  if (missing != NULL)
    {
      lk_show_error_toast (widget, missing);
      return;
    }
  template = gtk_single_selection_get_selected_item (self->template_selection);
  params = g_string_new ("{\"template_id\": ");
  g_string_append_printf (params, "%" G_GINT64_FORMAT ", \"person_ids\": [", lk_template_get_id (template));
  for (guint i = 0; i < self->chosen->len; i++)
    g_string_append_printf (params, "%s%" G_GINT64_FORMAT, i > 0 ? ", " : "",
                            g_array_index (self->chosen, gint64, i));
  g_string_append_printf (params, "], \"first_steps\": %d, \"second_steps\": %d,"
                          " \"super_resolution\": %s, \"skin_retouch\": %s}",
                          g_settings_get_int (self->settings, "first-diffusion-steps"),
                          g_settings_get_int (self->settings, "second-diffusion-steps"),
                          g_settings_get_boolean (self->settings, "super-resolution") ? "true" : "false",
                          g_settings_get_boolean (self->settings, "skin-retouch") ? "true" : "false");
  job = lk_catalog_add_job (self->catalog, "generate", params->str, &error);
  if (job == NULL)
    lk_show_error_toast (widget, error->message);
}

static void
catalog_changed_cb (LkCreatePage *self)
{
  update_state (self);
}

void
lk_create_page_set_catalog (LkCreatePage *self,
                            LkCatalog    *catalog)
{
  g_return_if_fail (LK_IS_CREATE_PAGE (self));

  if (self->catalog != NULL)
    g_clear_signal_handler (&self->changed_id, self->catalog);
  if (self->jobs != NULL)
    g_signal_handlers_disconnect_by_func (self->jobs, update_progress, self);
  if (self->generations != NULL)
    g_signal_handlers_disconnect_by_func (self->generations, generations_changed_cb, self);
  g_clear_object (&self->generations);
  g_clear_object (&self->result);
  self->newest_seen = 0;
  gtk_revealer_set_reveal_child (self->result_revealer, FALSE);
  g_clear_object (&self->people);
  g_clear_object (&self->templates);
  g_clear_object (&self->jobs);
  g_set_object (&self->catalog, catalog);
  g_array_set_size (self->chosen, 0);
  if (catalog != NULL)
    {
      self->people = lk_catalog_list_people (catalog);
      self->templates = lk_catalog_list_templates (catalog);
      self->jobs = lk_catalog_list_jobs (catalog);
      self->changed_id = g_signal_connect_swapped (catalog, "changed",
                                                   G_CALLBACK (catalog_changed_cb), self);
      g_signal_connect_swapped (self->jobs, "items-changed", G_CALLBACK (update_progress), self);
      self->generations = lk_catalog_list_generations (catalog);
      for (guint i = 0; i < g_list_model_get_n_items (self->generations); i++)
        {
          g_autoptr(LkGeneration) generation = g_list_model_get_item (self->generations, i);

          self->newest_seen = MAX (self->newest_seen, lk_generation_get_id (generation));
        }
      g_signal_connect_swapped (self->generations, "items-changed",
                                G_CALLBACK (generations_changed_cb), self);
    }
  gtk_list_box_bind_model (self->people_list, self->people, create_person_row, self, NULL);
  g_clear_object (&self->template_selection);
  self->template_selection = gtk_single_selection_new (self->templates != NULL
                                                       ? g_object_ref (self->templates) : NULL);
  gtk_single_selection_set_autoselect (self->template_selection, FALSE);
  gtk_single_selection_set_can_unselect (self->template_selection, TRUE);
  gtk_single_selection_set_selected (self->template_selection, GTK_INVALID_LIST_POSITION);
  g_signal_connect_swapped (self->template_selection, "notify::selected",
                            G_CALLBACK (update_state), self);
  gtk_list_view_set_model (self->template_view, GTK_SELECTION_MODEL (self->template_selection));
  update_state (self);
  update_progress (self);
}

static void
lk_create_page_dispose (GObject *object)
{
  LkCreatePage *self = (LkCreatePage *) object;

  if (self->catalog != NULL)
    g_clear_signal_handler (&self->changed_id, self->catalog);
  if (self->jobs != NULL)
    g_signal_handlers_disconnect_by_func (self->jobs, update_progress, self);
  if (self->template_selection != NULL)
    g_signal_handlers_disconnect_by_func (self->template_selection, update_state, self);
  if (self->generations != NULL)
    g_signal_handlers_disconnect_by_func (self->generations, generations_changed_cb, self);
  g_clear_object (&self->generations);
  g_clear_object (&self->result);
  if (self->people_list != NULL)
    gtk_list_box_bind_model (self->people_list, NULL, NULL, NULL, NULL);
  if (self->template_view != NULL)
    gtk_list_view_set_model (self->template_view, NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), LK_TYPE_CREATE_PAGE);
  self->people_list = NULL;
  self->template_view = NULL;
  g_clear_object (&self->template_selection);
  g_clear_object (&self->people);
  g_clear_object (&self->templates);
  g_clear_object (&self->jobs);
  g_clear_object (&self->catalog);
  g_clear_object (&self->settings);
  g_clear_pointer (&self->chosen, g_array_unref);

  G_OBJECT_CLASS (lk_create_page_parent_class)->dispose (object);
}

static void
lk_create_page_class_init (LkCreatePageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = lk_create_page_dispose;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/likeness/Likeness/lk-create-page.ui");
  gtk_widget_class_bind_template_child (widget_class, LkCreatePage, scroller);
  gtk_widget_class_bind_template_child (widget_class, LkCreatePage, people_list);
  gtk_widget_class_bind_template_child (widget_class, LkCreatePage, slots_label);
  gtk_widget_class_bind_template_child (widget_class, LkCreatePage, template_view);
  gtk_widget_class_bind_template_child (widget_class, LkCreatePage, missing_label);
  gtk_widget_class_bind_template_child (widget_class, LkCreatePage, models_button);
  gtk_widget_class_bind_template_child (widget_class, LkCreatePage, result_revealer);
  gtk_widget_class_bind_template_child (widget_class, LkCreatePage, result_template);
  gtk_widget_class_bind_template_child (widget_class, LkCreatePage, result_picture);
  gtk_widget_class_bind_template_child (widget_class, LkCreatePage, result_label);
  gtk_widget_class_bind_template_child (widget_class, LkCreatePage, progress_revealer);
  gtk_widget_class_bind_template_child (widget_class, LkCreatePage, progress_bar);

  gtk_widget_class_install_action (widget_class, "create.generate", NULL, generate_action);
  gtk_widget_class_install_action (widget_class, "create.save-result", NULL, save_result_action);
  gtk_widget_class_install_action (widget_class, "create.use-again", NULL, use_again_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Return, GDK_CONTROL_MASK,
                                       "create.generate", NULL);

  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
}

static void
map_cb (GtkWidget *widget,
        gpointer   user_data)
{
  update_state (LK_CREATE_PAGE (widget));
}

static void
lk_create_page_init (LkCreatePage *self)
{
  g_autoptr(GtkListItemFactory) factory = gtk_signal_list_item_factory_new ();

  gtk_widget_init_template (GTK_WIDGET (self));
  self->chosen = g_array_new (FALSE, FALSE, sizeof (gint64));
  self->settings = g_settings_new (APP_ID);

  lk_template_tile_setup_factory (factory, FALSE);
  gtk_list_view_set_factory (self->template_view, factory);
  /* A model added on the Models page meanwhile changes what is missing. */
  g_signal_connect (self, "map", G_CALLBACK (map_cb), NULL);
  update_state (self);
}
