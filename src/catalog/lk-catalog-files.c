/* lk-catalog-files.c: temporary name, fsync, rename, fsync the directory
 *
 * After a crash a file is either complete under its final name or not there at all (a
 * temporary one may remain; the pending_files rows say which to delete).
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "lk-catalog-files.h"
#include "lk-catalog.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#define CHUNK_SIZE (256 * 1024)

static gint64 fail_after = -2;  /* -2: not read from the environment yet */

void
lk_catalog_files_set_fail_after (gint64 bytes)
{
  fail_after = bytes;
}

static gint64
get_fail_after (void)
{
  if (fail_after == -2)
    {
      const char *value = g_getenv ("LIKENESS_CATALOG_FAIL_WRITE_AFTER");

      fail_after = value != NULL && *value != '\0' ? g_ascii_strtoll (value, NULL, 10) : -1;
    }
  return fail_after;
}

static gboolean
set_errno_error (GError     **error,
                 int          saved_errno,
                 const char  *what,
                 const char  *path)
{
  g_set_error (error, LK_CATALOG_ERROR,
               saved_errno == ENOSPC || saved_errno == EDQUOT ? LK_CATALOG_ERROR_NO_SPACE
                                                              : LK_CATALOG_ERROR_IO,
               "%s “%s”: %s", what, path, g_strerror (saved_errno));
  return FALSE;
}

static gboolean
sync_dir (const char  *dir,
          GError     **error)
{
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int saved_errno;

  if (fd < 0)
    return set_errno_error (error, errno, "Could not open the folder", dir);
  if (fsync (fd) == 0)
    {
      close (fd);
      return TRUE;
    }
  saved_errno = errno;
  close (fd);
  return set_errno_error (error, saved_errno, "Could not sync the folder", dir);
}

gboolean
lk_catalog_files_make_dir (const char  *path,
                           GError     **error)
{
  g_autofree char *parent = NULL;

  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    return TRUE;
  parent = g_path_get_dirname (path);
  if (strcmp (parent, path) != 0 && !lk_catalog_files_make_dir (parent, error))
    return FALSE;
  if (g_mkdir (path, 0700) != 0 && errno != EEXIST)
    return set_errno_error (error, errno, "Could not create the folder", path);
  return sync_dir (parent, error);
}

static gboolean
write_all (int           fd,
           const guint8 *data,
           gsize         len,
           gint64       *written,
           const char   *path,
           GError      **error)
{
  gint64 limit = get_fail_after ();

  while (len > 0)
    {
      gsize chunk = len;
      gssize n;

      if (limit >= 0)
        {
          if (*written >= limit)
            return set_errno_error (error, ENOSPC, "Could not write", path);
          chunk = MIN (chunk, (gsize) (limit - *written));
        }
      n = write (fd, data, chunk);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return set_errno_error (error, errno, "Could not write", path);
        }
      data += n;
      len -= n;
      *written += n;
    }
  return TRUE;
}

gboolean
lk_catalog_files_write (const char    *tmp_path,
                        const char    *final_path,
                        GInputStream  *in,
                        const char    *expected_sha256,
                        GCancellable  *cancellable,
                        GError       **error)
{
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree guint8 *buffer = g_malloc (CHUNK_SIZE);
  g_autofree char *dir = NULL;
  gint64 written = 0;
  int fd;

  g_return_val_if_fail (tmp_path != NULL, FALSE);
  g_return_val_if_fail (G_IS_INPUT_STREAM (in), FALSE);

  dir = g_path_get_dirname (tmp_path);
  if (!lk_catalog_files_make_dir (dir, error))
    return FALSE;

  fd = open (tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return set_errno_error (error, errno, "Could not create", tmp_path);

  while (TRUE)
    {
      gssize n = g_input_stream_read (in, buffer, CHUNK_SIZE, cancellable, error);

      if (n < 0)
        goto fail;
      if (n == 0)
        break;
      g_checksum_update (checksum, buffer, n);
      if (!write_all (fd, buffer, n, &written, tmp_path, error))
        goto fail;
    }

  if (fsync (fd) != 0)
    {
      set_errno_error (error, errno, "Could not sync", tmp_path);
      goto fail;
    }
  if (close (fd) != 0)
    {
      fd = -1;
      set_errno_error (error, errno, "Could not write", tmp_path);
      goto fail;
    }
  fd = -1;

  if (expected_sha256 != NULL && strcmp (g_checksum_get_string (checksum), expected_sha256) != 0)
    {
      g_set_error (error, LK_CATALOG_ERROR, LK_CATALOG_ERROR_CORRUPT,
                   "The file changed while it was copied to “%s”", tmp_path);
      goto fail;
    }

  if (final_path != NULL && !lk_catalog_files_rename (tmp_path, final_path, error))
    goto fail;
  return TRUE;

fail:
  if (fd >= 0)
    close (fd);
  g_unlink (tmp_path);
  return FALSE;
}

gboolean
lk_catalog_files_rename (const char  *from,
                         const char  *to,
                         GError     **error)
{
  g_autofree char *dir = g_path_get_dirname (to);

  if (g_rename (from, to) != 0)
    return set_errno_error (error, errno, "Could not rename a file to", to);
  return sync_dir (dir, error);
}

gboolean
lk_catalog_files_remove (const char  *path,
                         GError     **error)
{
  g_autofree char *dir = g_path_get_dirname (path);

  if (g_unlink (path) != 0)
    {
      if (errno == ENOENT)
        return TRUE;
      return set_errno_error (error, errno, "Could not delete", path);
    }
  return sync_dir (dir, error);
}

char *
lk_catalog_files_hash (const char    *path,
                       goffset       *size,
                       GCancellable  *cancellable,
                       GError       **error)
{
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GFileInputStream) in = NULL;
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree guint8 *buffer = g_malloc (CHUNK_SIZE);
  goffset total = 0;

  in = g_file_read (file, cancellable, error);
  if (in == NULL)
    return NULL;
  while (TRUE)
    {
      gssize n = g_input_stream_read (G_INPUT_STREAM (in), buffer, CHUNK_SIZE, cancellable, error);

      if (n < 0)
        return NULL;
      if (n == 0)
        break;
      g_checksum_update (checksum, buffer, n);
      total += n;
    }
  if (size != NULL)
    *size = total;
  return g_strdup (g_checksum_get_string (checksum));
}

char *
lk_catalog_files_hash_bytes (GBytes *bytes)
{
  return g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, bytes);
}
