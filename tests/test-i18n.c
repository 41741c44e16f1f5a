/* test-i18n.c: the app in Simplified Chinese — the catalog compiled from po/zh_CN.po translates
 * real msgids, and a window built from the app's .ui files shows translated labels, the Models
 * page's among them
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <locale.h>
#include <string.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "lk-application.h"
#include "lk-window.h"

static gboolean have_catalog;
static gboolean have_display;

/* Skips (and returns FALSE) when the catalog could not be bound, with the reason. */
static gboolean
require_catalog (void)
{
  g_autofree char *mo = g_build_filename (LK_LOCALE_DIR, "zh_CN", "LC_MESSAGES",
                                          GETTEXT_PACKAGE ".mo", NULL);

  if (!g_file_test (mo, G_FILE_TEST_EXISTS))
    {
      g_autofree char *msg = g_strdup_printf ("%s is missing: build the likeness-gmo target", mo);

      g_test_skip (msg);
      return FALSE;
    }
  if (!have_catalog)
    {
      g_test_skip ("The C library ignores LANGUAGE in this locale (setlocale gave \"C\"): "
                   "gettext cannot switch to zh_CN here");
      return FALSE;
    }
  return TRUE;
}

static void
test_gettext (void)
{
  if (!require_catalog ())
    return;

  g_assert_cmpstr (_("People"), ==, "人物");
  g_assert_cmpstr (g_dpgettext2 (GETTEXT_PACKAGE, "shortcut window", "Quit"), ==, "退出");
  g_assert_cmpstr (g_dngettext (GETTEXT_PACKAGE, "%u photo", "%u photos", 3), ==, "%u 张照片");
  g_assert_cmpstr (_("_Generate"), ==, "生成(_G)");
}

static void
collect_labels (GtkWidget *widget,
                GString   *labels)
{
  if (GTK_IS_LABEL (widget))
    {
      g_string_append (labels, gtk_label_get_label (GTK_LABEL (widget)));
      g_string_append_c (labels, '\n');
    }
  for (GtkWidget *child = gtk_widget_get_first_child (widget);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    collect_labels (child, labels);
}

static void
settle (guint ms)
{
  gint64 end = g_get_monotonic_time () + ms * 1000;

  while (g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, FALSE);
}

static void
test_window (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) labels = g_string_new (NULL);
  g_autoptr(LkCatalog) catalog = NULL;
  g_autofree char *dir = NULL;
  GtkWidget *window;

  if (!require_catalog ())
    return;
  if (!have_display)
    {
      g_test_skip ("No display: run under xvfb-run");
      return;
    }

  dir = g_dir_make_tmp ("likeness-i18n-XXXXXX", &error);
  g_assert_no_error (error);
  g_setenv ("LIKENESS_DATA_DIR", dir, TRUE);
  catalog = lk_catalog_open (dir, &error);
  g_assert_no_error (error);

  window = GTK_WIDGET (lk_window_new (NULL, catalog));
  gtk_window_set_default_size (GTK_WINDOW (window), 1000, 700);
  gtk_window_present (GTK_WINDOW (window));
  settle (100);

  collect_labels (window, labels);
  g_test_message ("Labels:\n%s", labels->str);
  /* The view switcher's page titles and the empty People page come from the .ui files. */
  g_assert_nonnull (strstr (labels->str, "人物\n"));
  g_assert_nonnull (strstr (labels->str, "模板\n"));
  g_assert_null (strstr (labels->str, "\nPeople\n"));
  g_assert_null (strstr (labels->str, "\nTemplates\n"));
  /* The Models page: its groups come from its .ui, a row's state from C. */
  g_assert_nonnull (strstr (labels->str, "人脸工具\n"));
  g_assert_nonnull (strstr (labels->str, "缺失 · 需下载 4.3\302\240GB\n"));
  g_assert_null (strstr (labels->str, "\nFace Tools\n"));

  gtk_window_destroy (GTK_WINDOW (window));
  settle (50);
  g_clear_object (&catalog);
  g_rmdir (dir);
}

int
main (int   argc,
      char *argv[])
{
  const char *locale;

  /* Any language but Chinese in the environment would defeat the test: pick it here. */
  g_setenv ("LANGUAGE", "zh_CN", TRUE);
  g_unsetenv ("LC_ALL");
  g_unsetenv ("LC_MESSAGES");
  g_setenv ("LANG", "C.UTF-8", TRUE);
  locale = setlocale (LC_ALL, "zh_CN.UTF-8");
  if (locale == NULL)
    locale = setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LK_LOCALE_DIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
  have_catalog = locale != NULL && strcmp (locale, "C") != 0 && strcmp (locale, "POSIX") != 0;

  g_setenv ("GSETTINGS_SCHEMA_DIR", LK_SCHEMA_DIR, FALSE);
  g_setenv ("GSETTINGS_BACKEND", "memory", FALSE);
  g_setenv ("GSK_RENDERER", "cairo", FALSE);
  g_test_init (&argc, &argv, NULL);

  /* gtk_init() calls setlocale (LC_ALL, "") again: LANG=C.UTF-8 keeps LANGUAGE honoured. */
  have_display = gtk_init_check ();
  if (have_display)
    {
      adw_init ();
      lk_application_init_resources ();
    }

  g_test_add_func ("/i18n/gettext", test_gettext);
  g_test_add_func ("/i18n/window", test_window);
  return g_test_run ();
}
