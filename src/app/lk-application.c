/* lk-application.c: the app — one catalog, windows, app-wide actions
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "lk-app-util.h"
#include "lk-application.h"
#include "lk-catalog.h"
#include "lk-preferences-window.h"
#include "lk-resources.h"
#include "lk-window.h"

struct _LkApplication
{
  AdwApplication  parent_instance;

  /* owned */
  GSettings      *settings;
  LkCatalog      *catalog;
  GError         *catalog_error;
};

G_DEFINE_FINAL_TYPE (LkApplication, lk_application, ADW_TYPE_APPLICATION)

void
lk_application_init_resources (void)
{
  static gsize done;

  if (g_once_init_enter (&done))
    {
      lk_register_resource ();
      g_once_init_leave (&done, 1);
    }
}

char *
lk_application_dup_data_dir (GSettings *settings)
{
  g_autofree char *configured = NULL;

  if (g_getenv ("LIKENESS_DATA_DIR") != NULL)
    return lk_catalog_default_data_dir ();
  configured = g_settings_get_string (settings, "data-dir");
  if (configured[0] != '\0')
    return g_steal_pointer (&configured);
  return lk_catalog_default_data_dir ();
}

static void
lk_application_activate (GApplication *app)
{
  LkApplication *self = LK_APPLICATION (app);
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (app));

  if (window == NULL)
    {
      window = GTK_WINDOW (lk_window_new (GTK_APPLICATION (app), self->catalog));
      if (self->catalog_error != NULL)
        lk_show_error_toast (GTK_WIDGET (window), self->catalog_error->message);
    }
  gtk_window_present (window);
}

static void
quit_activated (GSimpleAction *action,
                GVariant      *parameter,
                gpointer       user_data)
{
  g_application_quit (G_APPLICATION (user_data));
}

static void
preferences_activated (GSimpleAction *action,
                       GVariant      *parameter,
                       gpointer       user_data)
{
  LkApplication *self = user_data;
  GtkWindow *parent = gtk_application_get_active_window (GTK_APPLICATION (self));
  g_autofree char *data_dir = lk_application_dup_data_dir (self->settings);
  GtkWidget *preferences;

  preferences = lk_preferences_window_new (parent, self->catalog != NULL
                                           ? lk_catalog_get_data_dir (self->catalog) : data_dir);
  gtk_window_present (GTK_WINDOW (preferences));
}

static void
about_activated (GSimpleAction *action,
                 GVariant      *parameter,
                 gpointer       user_data)
{
  GtkWindow *parent = gtk_application_get_active_window (GTK_APPLICATION (user_data));
  const char *developers[] = { _("The Likeness authors"), NULL };

  adw_show_about_window (parent,
                         "application-name", _("Likeness"),
                         "application-icon", APP_ID,
                         "developer-name", _("The Likeness authors"),
                         "version", PACKAGE_VERSION,
                         "website", "https://github.com/likeness/likeness",
                         "issue-url", "https://github.com/likeness/likeness/issues",
                         "comments", _("Train a digital double of yourself and paint it into any photo, on your own GPU."),
                         "developers", developers,
                         "copyright", "© 2026 The Likeness authors",
                         "license-type", GTK_LICENSE_GPL_3_0,
                         "translator-credits", _("translator-credits"),
                         NULL);
}

static void
show_page_activated (GSimpleAction *action,
                     GVariant      *parameter,
                     gpointer       user_data)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (user_data));

  if (window == NULL)
    {
      g_application_activate (G_APPLICATION (user_data));
      window = gtk_application_get_active_window (GTK_APPLICATION (user_data));
    }
  lk_window_show_page (LK_WINDOW (window), g_variant_get_string (parameter, NULL));
  gtk_window_present (window);
}

static void
lk_application_startup (GApplication *app)
{
  LkApplication *self = LK_APPLICATION (app);
  static const GActionEntry entries[] = {
    { .name = "quit", .activate = quit_activated },
    { .name = "preferences", .activate = preferences_activated },
    { .name = "about", .activate = about_activated },
    { .name = "show-page", .activate = show_page_activated, .parameter_type = "s" },
  };
  const char *quit_accels[] = { "<Control>q", NULL };
  const char *preferences_accels[] = { "<Control>comma", NULL };
  g_autofree char *data_dir = NULL;

  lk_application_init_resources ();
  G_APPLICATION_CLASS (lk_application_parent_class)->startup (app);
  g_action_map_add_action_entries (G_ACTION_MAP (app), entries, G_N_ELEMENTS (entries), app);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "app.quit", quit_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "app.preferences", preferences_accels);

  self->settings = g_settings_new (APP_ID);
  data_dir = lk_application_dup_data_dir (self->settings);
  self->catalog = lk_catalog_open (data_dir, &self->catalog_error);
}

static void
lk_application_shutdown (GApplication *app)
{
  LkApplication *self = LK_APPLICATION (app);

  G_APPLICATION_CLASS (lk_application_parent_class)->shutdown (app);
  g_clear_object (&self->catalog);
  g_clear_object (&self->settings);
  g_clear_error (&self->catalog_error);
}

static void
lk_application_class_init (LkApplicationClass *klass)
{
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  app_class->activate = lk_application_activate;
  app_class->startup = lk_application_startup;
  app_class->shutdown = lk_application_shutdown;
}

static void
lk_application_init (LkApplication *self)
{
}

LkApplication *
lk_application_new (void)
{
  return g_object_new (LK_TYPE_APPLICATION,
                       "application-id", APP_ID,
                       "flags", G_APPLICATION_DEFAULT_FLAGS,
                       "resource-base-path", "/io/github/likeness/Likeness",
                       NULL);
}
