/* Bounded file reads and atomic private writes. */
#include "fs.h"

#include "osrunner/file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

char *osr__path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir);
    if (n > 0 && dir[n - 1] == '/')
        return osr__sprintf("%s%s", dir, name);
    return osr__sprintf("%s/%s", dir, name);
}

/* A NUL byte inside text would silently cut it short where it is used as a C string. */
static int refuse_nul(const char *data, size_t len, const char *name, int code, osr_error *err)
{
    const char *nul = memchr(data, '\0', len);
    if (nul != NULL)
        return osr__error_set(err, code ? code : OSR_EINVAL,
                              "%s: contains a NUL byte (at offset %zu)", name,
                              (size_t)(nul - data));
    return 0;
}

int osr__fs_read_fd(char **out,
                    size_t *len_out,
                    int fd,
                    const char *name,
                    size_t max,
                    int content_code,
                    osr_error *err)
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
            if (errno == EISDIR)
                error = osr__error_set(err, OSR_EIO, "%s: is a directory", name);
            else
                error = osr__error_set(err, OSR_EIO, "%s: %s", name, strerror(errno));
            goto done;
        }
        if (n == 0)
            break;
        error = osr__buf_append(&b, chunk, (size_t)n);
        if (error == OSR_EPROTO) {
            error = osr__error_set(err, content_code ? content_code : OSR_EIO,
                                   "%s: larger than %zu bytes", name, max);
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
    if ((error = refuse_nul(b.data, b.len, name, content_code, err)) < 0)
        goto done;
    if (len_out)
        *len_out = b.len;
    *out = osr__buf_detach(&b);
done:
    if (error < 0)
        osr__buf_free_secret(&b);
    explicit_bzero(chunk, sizeof(chunk));
    return error;
}

const char *osr__fs_kind(mode_t m)
{
    if (S_ISDIR(m))
        return "is a directory";
    if (S_ISFIFO(m))
        return "is a FIFO, not a regular file";
    if (S_ISSOCK(m))
        return "is a socket, not a regular file";
    if (S_ISCHR(m) || S_ISBLK(m))
        return "is a device, not a regular file";
    return "not a regular file";
}

int osr__fs_open_regular(int *fd_out, struct stat *st_out, const char *path, osr_error *err)
{
    struct stat st;
    int fd, flags;

    /* O_NONBLOCK: opening a FIFO without a writer must not hang. */
    fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        /* A socket cannot be opened at all: say what it is. */
        if (e == ENXIO && stat(path, &st) == 0)
            return osr__error_set(err, OSR_EIO, "%s: %s", path, osr__fs_kind(st.st_mode));
        return osr__error_set(err, e == ENOENT ? OSR_ENOTFOUND : OSR_EIO, "%s: %s", path,
                              strerror(e));
    }
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return osr__error_set(err, OSR_EIO, "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return osr__error_set(err, OSR_EIO, "%s: %s", path, osr__fs_kind(st.st_mode));
    }
    flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
        int e = errno;
        close(fd);
        return osr__error_set(err, OSR_EIO, "%s: %s", path, strerror(e));
    }
    if (st_out)
        *st_out = st;
    *fd_out = fd;
    return 0;
}

bool osr__fs_mode_loose(const struct stat *st)
{
    return (st->st_mode & 077) != 0;
}

int osr__fs_read_st(char **out,
                    size_t *len_out,
                    struct stat *st_out,
                    const char *path,
                    size_t max,
                    int content_code,
                    osr_error *err)
{
    struct stat st;
    int fd, error;

    if ((error = osr__fs_open_regular(&fd, &st, path, err)) < 0)
        return error;
    if ((size_t)st.st_size > max) {
        close(fd);
        return osr__error_set(err, content_code ? content_code : OSR_EIO,
                              "%s: larger than %zu bytes", path, max);
    }
    error = osr__fs_read_fd(out, len_out, fd, path, max, content_code, err);
    close(fd);
    if (error == 0 && st_out)
        *st_out = st;
    return error;
}

int osr__fs_read(char **out, size_t *len_out, const char *path, size_t max, osr_error *err)
{
    return osr__fs_read_st(out, len_out, NULL, path, max, 0, err);
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

bool osr__fs_no_tmpfile = false;

/* Named temporaries of writes in progress, for osr__fs_signal_cleanup(): a
 * slot is 0 (free), 2 (being filled) or 1 (holds a path). */
#define PENDING_MAX 8
static char pending[PENDING_MAX][PATH_MAX];
static int pending_state[PENDING_MAX];

static int pending_add(const char *dir, const char *name)
{
    for (int i = 0; i < PENDING_MAX; i++) {
        int expected = 0;
        if (!__atomic_compare_exchange_n(&pending_state[i], &expected, 2, false, __ATOMIC_SEQ_CST,
                                         __ATOMIC_SEQ_CST))
            continue;
        int n = snprintf(pending[i], sizeof(pending[i]), "%s/%s", dir, name);
        __atomic_store_n(&pending_state[i], n > 0 && (size_t)n < sizeof(pending[i]) ? 1 : 0,
                         __ATOMIC_SEQ_CST);
        return i;
    }
    return -1;
}

static void pending_drop(int *slot)
{
    if (*slot >= 0)
        __atomic_store_n(&pending_state[*slot], 0, __ATOMIC_SEQ_CST);
    *slot = -1;
}

void osr__fs_signal_cleanup(void)
{
    for (int i = 0; i < PENDING_MAX; i++) {
        if (__atomic_load_n(&pending_state[i], __ATOMIC_SEQ_CST) == 1)
            (void)unlink(pending[i]);
    }
}

struct osr__fs_writer {
    char *path;
    char *dir;
    char *base;
    char tmp[NAME_MAX + 1]; /* the temporary's name in dir, once it has one */
    int dfd, fd, slot;
    bool anonymous; /* O_TMPFILE: no name until commit */
};

static const char tmp_suffix[] = ".tmp.";

/* "BASE.tmp.XXXXXX" with six random letters or digits. */
static int tmp_name(char out[NAME_MAX + 1], const char *base)
{
    static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char r[6];
    char sfx[7];

    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
        return -1;
    for (size_t i = 0; i < sizeof(r); i++)
        sfx[i] = set[r[i] % (sizeof(set) - 1)];
    sfx[6] = '\0';
    int n = snprintf(out, NAME_MAX + 1, "%s%s%s", base, tmp_suffix, sfx);
    return n > 0 && n <= NAME_MAX ? 0 : -1;
}

/* Remove temporaries of earlier writes to BASE that their writer left (it
 * was killed): ours, regular, and held by no live writer's flock. */
static void sweep_stale(int dfd, const char *base)
{
    size_t bl = strlen(base), sl = sizeof(tmp_suffix) - 1;
    int d2 = dup(dfd);
    DIR *d = d2 >= 0 ? fdopendir(d2) : NULL;
    struct dirent *de;

    if (d == NULL) {
        if (d2 >= 0)
            close(d2);
        return;
    }
    while ((de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        struct stat st;
        int fd;

        if (strncmp(n, base, bl) != 0 || strncmp(n + bl, tmp_suffix, sl) != 0 ||
            strlen(n + bl + sl) != 6)
            continue;
        if (fstatat(dfd, n, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
            st.st_uid != geteuid())
            continue;
        fd = openat(dfd, n, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
            continue;
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            (void)unlinkat(dfd, n, 0);
        close(fd);
    }
    closedir(d);
}

void osr__fs_writer_free(osr__fs_writer *w)
{
    if (w == NULL)
        return;
    /* Not committed: the temporary goes (an anonymous one simply vanishes). */
    if (w->tmp[0] && w->dfd >= 0)
        (void)unlinkat(w->dfd, w->tmp, 0);
    pending_drop(&w->slot);
    if (w->fd >= 0)
        close(w->fd);
    if (w->dfd >= 0)
        close(w->dfd);
    free(w->path);
    free(w->dir);
    free(w->base);
    free(w);
}

/* A link planted at the target must never redirect the write. */
static int check_target(int dfd, const char *base, const char *path, osr_error *err)
{
    struct stat st;

    if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISLNK(st.st_mode))
            return osr__error_set(err, OSR_EIO, "%s: is a symbolic link; refusing to write", path);
        if (!S_ISREG(st.st_mode))
            return osr__error_set(err, OSR_EIO, "%s: %s", path, osr__fs_kind(st.st_mode));
    } else if (errno != ENOENT) {
        return osr__error_set(err, OSR_EIO, "%s: %s", path, strerror(errno));
    }
    return 0;
}

int osr__fs_writer_open(osr__fs_writer **out, const char *path, mode_t mode, osr_error *err)
{
    osr__fs_writer *w;
    char *dcopy = NULL, *bcopy = NULL;
    int error = 0;

    if (out == NULL || path == NULL || *path == '\0')
        return osr__error_set(err, OSR_EINVAL, "atomic write: no path");
    w = calloc(1, sizeof(*w));
    if (w == NULL)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    w->dfd = w->fd = w->slot = -1;
    dcopy = osr__strdup(path);
    bcopy = osr__strdup(path);
    w->path = osr__strdup(path);
    if (dcopy == NULL || bcopy == NULL || w->path == NULL) {
        error = osr__error_set(err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    w->dir = osr__strdup(dirname(dcopy));
    w->base = osr__strdup(basename(bcopy));
    if (w->dir == NULL || w->base == NULL) {
        error = osr__error_set(err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    if (path[strlen(path) - 1] == '/' || strcmp(w->base, "/") == 0 || strcmp(w->base, ".") == 0 ||
        strcmp(w->base, "..") == 0) {
        error = osr__error_set(err, OSR_EIO, "%s: is a directory", path);
        goto done;
    }
    if ((error = osr__fs_mkdir_private(w->dir, err)) < 0)
        goto done;
    w->dfd = open(w->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (w->dfd < 0) {
        error = osr__error_set(err, OSR_EIO, "%s: %s", w->dir, strerror(errno));
        goto done;
    }
    if ((error = check_target(w->dfd, w->base, path, err)) < 0)
        goto done;
    sweep_stale(w->dfd, w->base);

    if (!osr__fs_no_tmpfile) {
        w->fd = openat(w->dfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
        w->anonymous = w->fd >= 0;
    }
    if (w->fd < 0) {
        /* No O_TMPFILE here: a named temporary, created O_EXCL (never
         * through a link) and locked, so sweep_stale knows it is alive. */
        for (int tries = 0; w->fd < 0 && tries < 16; tries++) {
            if (tmp_name(w->tmp, w->base) < 0) {
                error = osr__error_set(err, OSR_EIO, "%s: cannot name a temporary file", path);
                goto done;
            }
            w->fd =
                openat(w->dfd, w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
            if (w->fd < 0 && errno != EEXIST)
                break;
        }
        if (w->fd < 0) {
            w->tmp[0] = '\0';
            error = osr__error_set(err, OSR_EIO, "%s: cannot create temporary file: %s", path,
                                   strerror(errno));
            goto done;
        }
        w->slot = pending_add(w->dir, w->tmp);
    }
    if (flock(w->fd, LOCK_EX) < 0 || fchmod(w->fd, mode) < 0) {
        error = osr__error_set(err, OSR_EIO, "%s: cannot create temporary file: %s", path,
                               strerror(errno));
        goto done;
    }
    *out = w;
    w = NULL;
done:
    free(dcopy);
    free(bcopy);
    osr__fs_writer_free(w);
    return error;
}

/* Give the anonymous temporary a (random, unused) name in the directory. */
static int link_anonymous(osr__fs_writer *w)
{
    char proc[64];

    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", w->fd);
    for (int tries = 0; tries < 16; tries++) {
        if (tmp_name(w->tmp, w->base) < 0)
            break;
        w->slot = pending_add(w->dir, w->tmp);
        if (linkat(AT_FDCWD, proc, w->dfd, w->tmp, AT_SYMLINK_FOLLOW) == 0)
            return 0;
        /* Without /proc: AT_EMPTY_PATH (needs CAP_DAC_READ_SEARCH). */
        if (errno == ENOENT && linkat(w->fd, "", w->dfd, w->tmp, AT_EMPTY_PATH) == 0)
            return 0;
        pending_drop(&w->slot);
        if (errno != EEXIST)
            break;
    }
    w->tmp[0] = '\0';
    return -1;
}

int osr__fs_writer_commit(osr__fs_writer *w, const void *data, size_t len, osr_error *err)
{
    int error;

    if (w == NULL || w->fd < 0)
        return osr__error_set(err, OSR_EINVAL, "atomic write: not open");
    if (write_all(w->fd, data, len) < 0 || fsync(w->fd) < 0)
        return osr__error_set(err, OSR_EIO, "%s: cannot write: %s", w->path, strerror(errno));
    if (w->anonymous && link_anonymous(w) < 0)
        return osr__error_set(err, OSR_EIO, "%s: cannot link temporary file: %s", w->path,
                              strerror(errno));
    /* Checked again: a link planted since open is refused, not replaced. */
    if ((error = check_target(w->dfd, w->base, w->path, err)) < 0)
        return error;
    if (renameat(w->dfd, w->tmp, w->dfd, w->base) < 0)
        return osr__error_set(err, OSR_EIO, "%s: cannot replace: %s", w->path, strerror(errno));
    w->tmp[0] = '\0';
    pending_drop(&w->slot);
    /* Make the rename itself durable. */
    (void)fsync(w->dfd);
    close(w->fd);
    w->fd = -1;
    return 0;
}

int osr__fs_write_atomic(
    const char *path, const void *data, size_t len, mode_t mode, osr_error *err)
{
    osr__fs_writer *w = NULL;
    int error = osr__fs_writer_open(&w, path, mode, err);

    if (error == 0)
        error = osr__fs_writer_commit(w, data, len, err);
    osr__fs_writer_free(w);
    return error;
}

/* ------------------------------------------------------------ public API */

struct osr_file_writer {
    osr__fs_writer *w;
};

void osr__fs_warn_loose(
    const struct stat *st, const char *path, const char *what, osr_log_cb cb, void *payload)
{
    char msg[OSR_ERROR_MESSAGE_MAX];

    if (cb == NULL || !osr__fs_mode_loose(st))
        return;
    snprintf(msg, sizeof(msg),
             "%s%s%s: holds a secret but group or others may read it (mode %04o); "
             "chmod 600 it",
             what ? what : "", what ? " " : "", path, (unsigned)(st->st_mode & 07777));
    cb(OSR_LOG_WARN, msg, payload);
}

int osr_file_read(char **out,
                  size_t *len_out,
                  const char *path,
                  size_t max,
                  unsigned int flags,
                  osr_log_cb log_cb,
                  void *log_payload,
                  osr_error *err)
{
    struct stat st = { 0 }; /* set on success only; gcc -O2 cannot see it */
    int code = (flags & OSR_FILE_CONFIG) ? OSR_ECONFIG : OSR_EINVAL, error;

    if (out == NULL || path == NULL)
        return osr__error_set(err, OSR_EINVAL, "osr_file_read: NULL argument");
    if ((flags & OSR_FILE_STDIN_DASH) && strcmp(path, "-") == 0)
        return osr__fs_read_fd(out, len_out, 0, "<stdin>", max, code, err);
    error = osr__fs_read_st(out, len_out, &st, path, max, code, err);
    if (error == 0 && (flags & OSR_FILE_SECRET))
        osr__fs_warn_loose(&st, path, NULL, log_cb, log_payload);
    return error;
}

void osr_file_check_private(const char *path, const char *what, osr_log_cb log_cb, void *payload)
{
    struct stat st;

    if (path != NULL && stat(path, &st) == 0 && S_ISREG(st.st_mode))
        osr__fs_warn_loose(&st, path, what, log_cb, payload);
}

int osr_file_writer_open(osr_file_writer **out, const char *path, unsigned int mode, osr_error *err)
{
    osr_file_writer *fw;
    int error;

    if (out == NULL)
        return osr__error_set(err, OSR_EINVAL, "osr_file_writer_open: NULL argument");
    fw = calloc(1, sizeof(*fw));
    if (fw == NULL)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    if ((error = osr__fs_writer_open(&fw->w, path, (mode_t)(mode & 07777), err)) < 0) {
        free(fw);
        return error;
    }
    *out = fw;
    return 0;
}

int osr_file_writer_commit(osr_file_writer *w, const void *data, size_t len, osr_error *err)
{
    if (w == NULL || (data == NULL && len > 0))
        return osr__error_set(err, OSR_EINVAL, "osr_file_writer_commit: NULL argument");
    return osr__fs_writer_commit(w->w, data ? data : "", len, err);
}

void osr_file_writer_free(osr_file_writer *w)
{
    if (w == NULL)
        return;
    osr__fs_writer_free(w->w);
    free(w);
}

void osr_file_signal_cleanup(void)
{
    osr__fs_signal_cleanup();
}
