/* The image builder's insides, shared by its backends and the tests. Not installed. */
#ifndef OSR_LIB_IMAGE_INTERNAL_H
#define OSR_LIB_IMAGE_INTERNAL_H

#include "osrunner/image.h"
#include "util.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Where things go in the image. */
#define OSR__RUNNER_USER     "ubuntu"
#define OSR__RUNNER_HOME     "/home/ubuntu"
#define OSR__RUNNER_DIR      "/home/ubuntu/actions-runner"
#define OSR__APT_PROXY_PATH  "/etc/apt/apt.conf.d/90osrunner-proxy"
#define OSR__DOCKER_DROPIN_D "/etc/systemd/system/docker.service.d"
#define OSR__DOCKER_DROPIN   OSR__DOCKER_DROPIN_D "/http-proxy.conf"

/* --- pure renderers (unit-tested) ---------------------------------------------- */

/* Proxy values must be URLs / host lists without spaces, quotes, backslashes
 * or control characters: they go into shell-like and JSON files. */
int osr__proxy_validate(const osr_proxy *p, osr_error *err);
bool osr__proxy_any(const osr_proxy *p);
/* Whether a proxy URL carries a password (user:password@host), by libcurl's URL parser. */
bool osr__proxy_has_password(const char *url);

/* --- host tools: environment, lifetime, stale leftovers ---------------------------- */

/* Whether an environment entry ("NAME=value") may be passed to the host tools
 * and the libguestfs appliance: PATH, HOME, USER, LOGNAME, TERM, TZ, TMPDIR,
 * XDG_RUNTIME_DIR, LANG, LANGUAGE, LC_*, LIBGUESTFS_*, SUPERMIN_*. Everything
 * else (tokens, passwords, proxies with credentials) stays with the caller. */
bool osr__env_allowed(const char *entry);
/* The allowed entries of env as a NULL-terminated array of borrowed
 * pointers (free the array only); NULL when out of memory. */
char **osr__env_filter(char *const *env);

/* Names of what a build leaves while it runs. Work directories are
 * PARENT/osrunner-build-XXXXXX holding a file "lock" that the live build
 * keeps flock()ed; the output's temporary file is OUTPUT.tmp-<12 hex>,
 * flock()ed by the live build itself. */
#define OSR__WORK_PREFIX    "osrunner-build-"
#define OSR__WORK_LOCK      "lock"
#define OSR__OUTPUT_TMP_SEP ".tmp-"

/* Create dir/name (mode 0600, O_EXCL) and flock() it before the name
 * exists (O_TMPFILE + linkat where the file system has it), so a sweeper
 * never sees it unlocked. *fd_out is the locked descriptor. Returns 0, or
 * -errno (-EEXIST when the name is taken). */
int osr__create_locked(int dirfd, const char *name, int *fd_out);
/* Remove the leftovers of builds that died (their lock is free): work
 * directories under parent, and temporary outputs of output. Only entries
 * with our names, owned by this user and carrying our lock are touched; a
 * live build's are never. *removed (may be NULL) counts what went. */
int osr__sweep_work_dirs(const char *parent, int *removed);
int osr__sweep_output_tmp(const char *output, int *removed);

/* /etc/environment with the proxy variables (upper and lower case) set to the
 * given values: earlier lines for those names are dropped, the others kept.
 * With no proxy at all, *out is a copy of existing. existing may be NULL. */
int osr__render_environment(char **out, const char *existing, const osr_proxy *p);
/* apt's proxy config; *out is NULL when neither http nor https is set. */
int osr__render_apt_proxy(char **out, const osr_proxy *p);
/* docker.service drop-in; NULL when no value is set. */
int osr__render_docker_dropin(char **out, const osr_proxy *p);
/* ~/.docker/config.json ({"proxies": {"default": {...}}}); NULL when no value is set. */
int osr__render_docker_config(char **out, const osr_proxy *p);

/* Account files as text (NULL: the file does not exist). */
typedef struct osr__accounts {
    char *passwd, *group, *shadow, *gshadow, *subuid, *subgid;
} osr__accounts;

/* Make sure user ubuntu exists (uid/gid 1000 when free) with home
 * /home/ubuntu and shell /bin/bash, and is a member of groups docker and
 * sudo (created as system groups when missing). Edits the texts in place;
 * uid and gid get the user's ids, created whether the user is new. */
int osr__accounts_ensure_user(
    osr__accounts *a, unsigned int *uid, unsigned int *gid, bool *created, osr_error *err);
void osr__accounts_free(osr__accounts *a);

/* ID and VERSION_ID of an os-release text (each NULL if absent). */
void osr__parse_os_release(char **id, char **version_id, const char *text);

/* --- the runner tarball (libarchive) --------------------------------------------- */

typedef struct osr__tar_entry {
    const char *path; /* relative to the runner dir, normalised; "" is the dir itself */
    char type;        /* 'd' dir, 'f' file, 'l' symlink, 'h' hard link */
    unsigned int perm;
    int64_t mtime;
    int64_t size;
    const char *target; /* symlink target, or the normalised path of a hard link's file */
} osr__tar_entry;

/* Called per entry; read a file's data with osr__tar_read(). Return < 0 to stop. */
typedef int (*osr__tar_cb)(const osr__tar_entry *e, void *tar, void *payload);
/* Read up to len bytes of the current file: bytes read, 0 at its end, < 0 on error. */
ssize_t osr__tar_read(void *tar, void *buf, size_t len);
/* Walk a compressed tarball. Entries with absolute paths, "..", or types
 * other than dir/file/symlink/hard link are refused. *max_mtime (may be
 * NULL) gets the newest entry time. */
int osr__tar_walk(const char *path,
                  osr__tar_cb cb,
                  void *payload,
                  int64_t *max_mtime,
                  long long *entries,
                  osr_error *err);
/* Normalise a tar path (dot and empty components dropped); -1 if it is absolute or has "..". */
int osr__tar_normalise(char *out, size_t n, const char *path);

/* --- the build context, shared by the backends ----------------------------------- */

typedef struct osr__build {
    const osr_build_options *o;
    osr_error *err;
    char *work;         /* temporary directory */
    unsigned int step;  /* current step, 1-based; 0 before the first */
    unsigned int steps; /* planned number of steps */
    const char *step_name;
    int64_t step_t0;
    int64_t epoch;        /* times of files we write */
    char *base_format;    /* "qcow2", "raw" */
    long long base_vsize; /* virtual size in bytes */
    long long extra;      /* bytes to grow */
    char *os_distro, *os_version;
    const char *accel; /* "kvm"/"tcg" for guestfs */
    unsigned int uid, gid;
    int lock_fd; /* the work dir's flock()ed lock file, -1 if none */
} osr__build;

/* A message through the options' log hook (version >= 2), if its level is on. */
void osr__build_log(const osr__build *b, osr_log_level level, const char *fmt, ...)
    OSR__PRINTF(3, 4);

/* Finish the previous step (DONE event) and start the next one. Fails with
 * "interrupted" when the build was cancelled. */
int osr__build_step(osr__build *b, const char *name);
void osr__build_progress(osr__build *b, long long done, long long total);
bool osr__build_cancelled(const osr__build *b);
/* Run a host tool (argv[0] found on PATH) with stdin from /dev/null (or the
 * string in input), stdout discarded (or kept in *output, may be NULL). A
 * non-zero exit is an error quoting the last line it wrote on stderr. The
 * tool gets the allow-listed environment (osr__env_allowed), umask 077, and
 * dies with the calling thread (PR_SET_PDEATHSIG SIGKILL): a killed build
 * leaves no tool running. */
int osr__build_run(osr__build *b, const char *const *argv, const char *input, char **output);
/* Path inside the work dir (free it). */
char *osr__build_path(osr__build *b, const char *name);
/* Compress raw or overlay src into the output file (a locked 0600 temp + rename). */
int osr__build_compress(osr__build *b, const char *src, const char *src_format);

/* The backends. */
int osr__build_offline(osr__build *b);
int osr__build_guestfs(osr__build *b);
int osr__build_offline_steps(const osr__build *b);
int osr__build_guestfs_steps(const osr__build *b);

/* Accelerator choice from facts (for tests): kvm_rw: /dev/kvm opened
 * read-write; hw_module: kvm_intel or kvm_amd loaded. */
osr_accel osr__accel_choose(bool kvm_rw, bool hw_module);

#endif
