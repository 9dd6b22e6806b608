/* The runner tarball, read with libarchive: only in the backend modules, so
 * that libosrunner itself does not load libarchive (and ICU through libxml2). */
#include "image_internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <string.h>

ssize_t osr__tar_read(void *tar, void *buf, size_t len)
{
    la_ssize_t n = archive_read_data((struct archive *)tar, buf, len);
    return n < 0 ? -1 : (ssize_t)n;
}

int osr__tar_walk(const char *path,
                  osr__tar_cb cb,
                  void *payload,
                  int64_t *max_mtime,
                  long long *entries,
                  osr_error *err)
{
    struct archive *a = archive_read_new();
    struct archive_entry *e;
    char norm[4096], target[4096];
    int64_t newest = 0;
    long long count = 0;
    int error = 0, r;

    if (a == NULL)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
        error = osr__error_set(err, OSR_EIO, "%s: %s", path, archive_error_string(a));
        goto done;
    }
    while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
        osr__tar_entry te;
        const char *name = archive_entry_pathname(e), *hl = archive_entry_hardlink(e);
        mode_t type = archive_entry_filetype(e);

        memset(&te, 0, sizeof(te));
        if (name == NULL || osr__tar_normalise(norm, sizeof(norm), name) < 0) {
            error =
                osr__error_set(err, OSR_EINVAL, "%s: entry '%.200s' leaves the runner directory",
                               path, name ? name : "(unnamed)");
            goto done;
        }
        te.path = norm;
        te.perm = (unsigned int)(archive_entry_perm(e) & 01777);
        te.mtime = (int64_t)archive_entry_mtime(e);
        te.size = (int64_t)archive_entry_size(e);
        if (hl != NULL) {
            if (osr__tar_normalise(target, sizeof(target), hl) < 0 || !*target) {
                error = osr__error_set(err, OSR_EINVAL,
                                       "%s: hard link '%.200s' leaves the runner directory", path,
                                       name);
                goto done;
            }
            te.type = 'h';
            te.target = target;
        } else if (type == AE_IFDIR) {
            te.type = 'd';
        } else if (type == AE_IFREG) {
            te.type = 'f';
        } else if (type == AE_IFLNK) {
            te.type = 'l';
            te.target = archive_entry_symlink(e);
            if (te.target == NULL) {
                error = osr__error_set(err, OSR_EINVAL, "%s: symlink '%.200s' has no target", path,
                                       name);
                goto done;
            }
        } else {
            error = osr__error_set(err, OSR_EINVAL,
                                   "%s: entry '%.200s' is a device, fifo or socket; not allowed "
                                   "in a runner tarball",
                                   path, name);
            goto done;
        }
        if (te.type != 'd' && !*te.path) {
            error = osr__error_set(err, OSR_EINVAL, "%s: the top entry is not a directory", path);
            goto done;
        }
        if (te.mtime > newest)
            newest = te.mtime;
        count++;
        if ((error = cb(&te, a, payload)) < 0)
            goto done;
    }
    if (r != ARCHIVE_EOF)
        error = osr__error_set(err, OSR_EIO, "%s: %s", path, archive_error_string(a));
done:
    archive_read_free(a);
    if (error == 0 && max_mtime)
        *max_mtime = newest;
    if (error == 0 && entries)
        *entries = count;
    return error;
}
