/* Bounded file reads and atomic private writes. */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *osr__path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir);
    if (n > 0 && dir[n - 1] == '/')
        return osr__sprintf("%s%s", dir, name);
    return osr__sprintf("%s/%s", dir, name);
}

int osr__fs_read_fd(
    char **out, size_t *len_out, int fd, const char *name, size_t max, osr_error *err)
{
    osr__buf b = OSR__BUF_INIT;
    char chunk[16384];
    int error = 0;

    b.max = max;
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            error = osr__error_set(err, OSR_EIO, "%s: %s", name, strerror(errno));
            goto done;
        }
        if (n == 0)
            break;
        error = osr__buf_append(&b, chunk, (size_t)n);
        if (error == OSR_EPROTO) {
            error = osr__error_set(err, OSR_EIO, "%s: larger than %zu bytes", name, max);
            goto done;
        } else if (error < 0) {
            error = osr__error_set(err, OSR_ENOMEM, "%s: out of memory", name);
            goto done;
        }
    }
    if (b.data == NULL && osr__buf_append(&b, "", 0) < 0) {
        error = osr__error_set(err, OSR_ENOMEM, "%s: out of memory", name);
        goto done;
    }
    if (len_out)
        *len_out = b.len;
    *out = osr__buf_detach(&b);
done:
    if (error < 0)
        osr__buf_free_secret(&b);
    explicit_bzero(chunk, sizeof(chunk));
    return error;
}

int osr__fs_read(char **out, size_t *len_out, const char *path, size_t max, osr_error *err)
{
    struct stat st;
    int fd, error;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return osr__error_set(err, errno == ENOENT ? OSR_ENOTFOUND : OSR_EIO, "%s: %s", path,
                              strerror(errno));
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return osr__error_set(err, OSR_EIO, "%s: not a regular file", path);
    }
    if ((size_t)st.st_size > max) {
        close(fd);
        return osr__error_set(err, OSR_EIO, "%s: larger than %zu bytes", path, max);
    }
    error = osr__fs_read_fd(out, len_out, fd, path, max, err);
    close(fd);
    return error;
}

int osr__fs_mkdir_private(const char *dir, osr_error *err)
{
    char *copy = osr__strdup(dir);
    int error = 0;
    struct stat st;

    if (copy == NULL)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    for (char *p = copy + 1;; p++) {
        bool last = *p == '\0';
        if (*p != '/' && !last)
            continue;
        *p = '\0';
        if (mkdir(copy, 0700) < 0 && errno != EEXIST) {
            error = osr__error_set(err, OSR_EIO, "%s: cannot create directory: %s", copy,
                                   strerror(errno));
            goto done;
        }
        if (last)
            break;
        *p = '/';
    }
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
        error = osr__error_set(err, OSR_EIO, "%s: not a directory", dir);
done:
    free(copy);
    return error;
}

static int write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

int osr__fs_write_atomic(
    const char *path, const void *data, size_t len, mode_t mode, osr_error *err)
{
    char *dcopy = NULL, *tmp = NULL;
    const char *dir;
    struct stat st;
    int fd = -1, dfd = -1, error = 0;

    dcopy = osr__strdup(path);
    if (dcopy == NULL)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    dir = dirname(dcopy);
    if ((error = osr__fs_mkdir_private(dir, err)) < 0)
        goto done;

    /* A link planted at the target must never redirect the write. */
    if (lstat(path, &st) == 0) {
        if (S_ISLNK(st.st_mode)) {
            error = osr__error_set(err, OSR_EIO, "%s: is a symbolic link; refusing to write", path);
            goto done;
        }
        if (!S_ISREG(st.st_mode)) {
            error = osr__error_set(err, OSR_EIO, "%s: not a regular file", path);
            goto done;
        }
    }

    tmp = osr__sprintf("%s.tmp.XXXXXX", path);
    if (tmp == NULL) {
        error = osr__error_set(err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    /* mkostemp opens with O_CREAT|O_EXCL (so never through a link) and mode 0600. */
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        error = osr__error_set(err, OSR_EIO, "%s: cannot create temporary file: %s", path,
                               strerror(errno));
        free(tmp);
        tmp = NULL;
        goto done;
    }
    if (fchmod(fd, mode) < 0 || write_all(fd, data, len) < 0 || fsync(fd) < 0) {
        error = osr__error_set(err, OSR_EIO, "%s: cannot write: %s", path, strerror(errno));
        goto done;
    }
    if (close(fd) < 0) {
        fd = -1;
        error = osr__error_set(err, OSR_EIO, "%s: cannot write: %s", path, strerror(errno));
        goto done;
    }
    fd = -1;
    if (rename(tmp, path) < 0) {
        error = osr__error_set(err, OSR_EIO, "%s: cannot replace: %s", path, strerror(errno));
        goto done;
    }
    free(tmp);
    tmp = NULL;
    /* Make the rename itself durable. */
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
done:
    if (fd >= 0)
        close(fd);
    if (tmp != NULL) {
        unlink(tmp);
        free(tmp);
    }
    free(dcopy);
    return error;
}
