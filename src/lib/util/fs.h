/* Internal file helpers: bounded reads and atomic, private writes. */
#ifndef OSR_LIB_FS_H
#define OSR_LIB_FS_H

#include "util.h"

#include "osrunner/common.h"

#include <sys/stat.h>
#include <sys/types.h>

/* Open a user-given file for reading. It is opened O_NONBLOCK (so a FIFO
 * cannot hang us), checked with fstat and refused unless it is a regular
 * file ("PATH: is a directory", "PATH: is a FIFO, not a regular file"), then
 * O_NONBLOCK is cleared. *st_out (may be NULL) gets its stat. Returns 0 with
 * *fd_out set, OSR_ENOTFOUND (no such file) or OSR_EIO; err names the path. */
int osr__fs_open_regular(int *fd_out, struct stat *st_out, const char *path, osr_error *err);

/* What a non-regular file is, for messages ("is a directory", "is a FIFO,
 * not a regular file", ...). */
const char *osr__fs_kind(mode_t mode);

/* Read a whole regular text file (opened as above), at most max bytes (a
 * larger file is an error). A NUL byte is refused: it would silently cut the
 * text short. *out is NUL-terminated and owned by the caller; *st_out (may be
 * NULL) gets the file's stat. Returns 0, OSR_ENOTFOUND, OSR_EIO (not a
 * regular file, read error, "PATH: larger than MAX bytes"), OSR_EINVAL (a
 * NUL byte) or OSR_ENOMEM; err names the path. content_code as below. */
int osr__fs_read(char **out, size_t *len_out, const char *path, size_t max, osr_error *err);
int osr__fs_read_st(char **out,
                    size_t *len_out,
                    struct stat *st_out,
                    const char *path,
                    size_t max,
                    int content_code,
                    osr_error *err);

/* Read all of an open fd (e.g. stdin), at most max bytes; a NUL byte is refused.
 * content_code: the code of those two content errors (0: OSR_EIO for the size,
 * OSR_EINVAL for a NUL byte; OSR_ECONFIG for a configuration file). */
int osr__fs_read_fd(char **out,
                    size_t *len_out,
                    int fd,
                    const char *name,
                    size_t max,
                    int content_code,
                    osr_error *err);

/* True when group or others may read or write the file: a secret in it is
 * not private (ssh refuses such keys; we warn). */
bool osr__fs_mode_loose(const struct stat *st);
/* If so, say it through cb (may be NULL): "[WHAT ]PATH: holds a secret but
 * group or others may read it (mode 0644); chmod 600 it". */
void osr__fs_warn_loose(
    const struct stat *st, const char *path, const char *what, osr_log_cb cb, void *payload);

/* Create dir and any missing parents with mode 0700 (existing ones are left as they are). */
int osr__fs_mkdir_private(const char *dir, osr_error *err);

/*
 * An atomic write in two steps, so that the output can be checked (and its
 * temporary created) before anything irreversible happens elsewhere:
 * osr__fs_writer_open() refuses a symlink or non-regular file at path,
 * creates missing parents 0700 and the temporary file; _commit() writes,
 * fsyncs and moves it over path, then fsyncs the directory; _free()
 * discards an uncommitted write.
 *
 * Where the file system has O_TMPFILE the temporary has no name at all until
 * it is complete (linkat to a random name, then rename), so a killed writer
 * leaves nothing behind. Otherwise it is "PATH.tmp.XXXXXX", held with an
 * exclusive flock: a later write to the same path removes such files of ours
 * that no live writer holds, and osr__fs_signal_cleanup() removes the
 * current ones from a signal handler. Mode is applied with fchmod (not
 * subject to the umask).
 */
typedef struct osr__fs_writer osr__fs_writer;
int osr__fs_writer_open(osr__fs_writer **out, const char *path, mode_t mode, osr_error *err);
int osr__fs_writer_commit(osr__fs_writer *w, const void *data, size_t len, osr_error *err);
void osr__fs_writer_free(osr__fs_writer *w);

/* The two steps at once. On failure the old file is untouched and no
 * temporary file is left. */
int osr__fs_write_atomic(
    const char *path, const void *data, size_t len, mode_t mode, osr_error *err);

/* Unlink the named temporaries of writes in progress. Async-signal-safe. */
void osr__fs_signal_cleanup(void);

/* Tests: never use O_TMPFILE (exercise the named-temporary path). */
extern bool osr__fs_no_tmpfile;

/* Join a directory and a name with one '/'. */
char *osr__path_join(const char *dir, const char *name);

#endif
