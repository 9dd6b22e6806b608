/* osrunner: reading user-given files and writing private files safely. */
#ifndef OSRUNNER_FILE_H
#define OSRUNNER_FILE_H

#include "common.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Flags of osr_file_read(). */
enum {
    /** "-" means standard input. */
    OSR_FILE_STDIN_DASH = 1u << 0,
    /**
     * The file holds a secret: when group or others may read it, a warning
     * goes to the log hook (as ssh does for keys).
     */
    OSR_FILE_SECRET = 1u << 1,
    /** A configuration file: too large or a NUL byte is OSR_ECONFIG, not OSR_EINVAL. */
    OSR_FILE_CONFIG = 1u << 2,
};

/**
 * Read a whole user-given text file, at most max bytes. Anything but a
 * regular file is refused without blocking ("PATH: is a FIFO, not a regular
 * file", "PATH: is a directory"); so is a NUL byte, which would cut the text
 * short. *out is NUL-terminated; free it with osr_free(), or with
 * osr_secret_free() when it held a secret. *len_out may be NULL. log_cb may be NULL.
 * @return 0, OSR_ENOTFOUND, OSR_EIO (not a regular file, read error),
 *         OSR_EINVAL (larger than max, a NUL byte; OSR_ECONFIG with
 *         OSR_FILE_CONFIG), OSR_ENOMEM
 */
OSR_EXTERN int osr_file_read(char **out,
                             size_t *len_out,
                             const char *path,
                             size_t max,
                             unsigned int flags,
                             osr_log_cb log_cb,
                             void *log_payload,
                             osr_error *err);

/**
 * Warn through log_cb when the secret file at path may be read by group or
 * others. Nothing happens when it cannot be examined (the read reports that).
 * what names it in the warning ("--token-file"); may be NULL.
 */
OSR_EXTERN void
osr_file_check_private(const char *path, const char *what, osr_log_cb log_cb, void *log_payload);

/**
 * An atomic write in two steps, so that the output is checked and created
 * before anything irreversible happens: osr_file_writer_open() refuses a
 * symlink or a non-regular file at path, creates missing directories 0700 and
 * a temporary file with the given mode; osr_file_writer_commit() writes it,
 * fsyncs and renames it over path; osr_file_writer_free() discards an
 * uncommitted write. Where the file system has O_TMPFILE the temporary has
 * no name until it is complete, so a killed writer leaves nothing behind;
 * otherwise stale temporaries of earlier writes are removed by the next write,
 * and osr_file_signal_cleanup() removes the current ones.
 */
typedef struct osr_file_writer osr_file_writer;

/** @return 0, OSR_EIO, OSR_EINVAL, OSR_ENOMEM */
OSR_EXTERN int
osr_file_writer_open(osr_file_writer **out, const char *path, unsigned int mode, osr_error *err);
/** @return 0, OSR_EIO, OSR_EINVAL */
OSR_EXTERN int
osr_file_writer_commit(osr_file_writer *w, const void *data, size_t len, osr_error *err);
/** Discard the write if it was not committed, and free. Accepts NULL. */
OSR_EXTERN void osr_file_writer_free(osr_file_writer *w);

/**
 * Unlink the named temporary files of atomic writes in progress (clouds
 * file, secrets, the token cache). Async-signal-safe: call it from a SIGTERM
 * or SIGINT handler before the process dies.
 */
OSR_EXTERN void osr_file_signal_cleanup(void);

#ifdef __cplusplus
}
#endif

#endif
