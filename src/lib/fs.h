/* Internal file helpers: bounded reads and atomic, private writes. */
#ifndef OSR_LIB_FS_H
#define OSR_LIB_FS_H

#include "util.h"

#include <sys/types.h>

/* Read a whole regular file, at most max bytes (a larger file is an error).
 * *out is NUL-terminated and owned by the caller. Returns 0, OSR_ENOTFOUND,
 * OSR_EIO or OSR_ENOMEM; err names the path. */
int osr__fs_read(char **out, size_t *len_out, const char *path, size_t max, osr_error *err);

/* Read all of an open fd (e.g. stdin), at most max bytes. */
int osr__fs_read_fd(
    char **out, size_t *len_out, int fd, const char *name, size_t max, osr_error *err);

/* Create dir and any missing parents with mode 0700 (existing ones are left as they are). */
int osr__fs_mkdir_private(const char *dir, osr_error *err);

/* Write data to path atomically: a temporary file in the same directory
 * created with O_EXCL|O_NOFOLLOW and the given mode, fsync, rename over
 * path, fsync the directory. A symlink or non-regular file at path is refused,
 * never followed. Missing parent directories are created 0700. On failure the
 * old file is untouched and no temporary file is left. */
int osr__fs_write_atomic(
    const char *path, const void *data, size_t len, mode_t mode, osr_error *err);

/* Join a directory and a name with one '/'. */
char *osr__path_join(const char *dir, const char *name);

#endif
