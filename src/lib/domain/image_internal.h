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
    osr_accel accel_mode; /* resolved (KVM or TCG) for backends that use it */
    const char *accel;    /* "kvm"/"tcg" when the backend used it */
    unsigned int uid, gid;
    int lock_fd; /* the work dir's flock()ed lock file, -1 if none */
} osr__build;

/* A message through the options' log hook (version >= 2), if its level is on. */
void osr__build_log(const osr__build *b, osr_log_level level, const char *fmt, ...)
    OSR__PRINTF(3, 4);

/* Finish the previous step (DONE event) and start the next one. Fails with
 * OSR_EINTERRUPTED when the build was cancelled. */
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

/* --- the backends: one recipe over an operations table -------------------------- */

/* The recipe (osr__build_recipe) is the one place that decides what goes
 * into the image; a backend only knows how to reach the image's files
 * (curl's struct Curl_ssl, libgit2's git_odb_backend). Each backend is a
 * module, ${libdir}/osrunner/image-NAME.so, opened with dlopen() only by a
 * build that uses it; it exports OSR__BACKEND_SYMBOL. The ABI number and
 * the struct sizes must match the library's, so a module of another build
 * is refused rather than misread. */
#define OSR__BACKEND_ABI    1
#define OSR__BACKEND_SYMBOL "osr_image_backend_v1"

/* Owner, mode and times for a write, mkdir or set_attr: perm, uid or gid < 0
 * keep what an existing file has; mtime is also the access time. */
typedef struct osr__attr {
    int perm;
    long uid, gid;
    int64_t mtime;
} osr__attr;

/* What lstat says: type 0 (nothing there), 'd', 'f', 'l' or 'o' (other). */
typedef struct osr__stat {
    char type;
    unsigned int perm;
    int64_t mtime;
} osr__stat;

typedef struct osr__backend {
    unsigned int abi;     /* OSR__BACKEND_ABI */
    size_t build_size;    /* sizeof(osr__build) */
    size_t vtable_size;   /* sizeof(osr__backend) */
    const char *name;     /* "offline", "guestfs" */
    bool runs_guest_code; /* packages and a script are possible */
    bool uses_accel;      /* b->accel_mode matters (KVM or TCG) */
    /* Step names of the backend's own stages (launch_step NULL: none). */
    const char *prepare_step, *launch_step, *mount_step, *close_step;

    /* Make the working disk from b->o->base (b->base_format, b->base_vsize)
     * and find the root file system: *state is the backend's. */
    int (*prepare)(void **state, osr__build *b);
    int (*launch)(void *state); /* NULL when there is nothing to start */
    /* Grow the root partition and file system by b->extra bytes. */
    int (*grow)(void *state);
    /* Make the root file system's files reachable. */
    int (*mount)(void *state);
    int (*lstat)(void *state, const char *path, osr__stat *st);
    /* A whole regular file (follow: through symlinks); *out NULL when it
     * does not exist. */
    int (*read_file)(void *state, const char *path, bool follow, char **out, size_t *len);
    /* Create or replace a regular file; attributes as osr__attr says. */
    int (*write_file)(
        void *state, const char *path, const char *data, size_t len, const osr__attr *a);
    /* One new directory; its parent exists. */
    int (*mkdir)(void *state, const char *path, const osr__attr *a);
    int (*set_attr)(void *state, const char *path, const osr__attr *a);
    /* The names in a directory (not . and ..), NULL-terminated; free each and the array. */
    int (*list_dir)(void *state, const char *path, char ***names);
    /* Unpack b->o->runner_tarball into the existing directory dir, owned by
     * b->uid/b->gid, with the tarball's modes and times; when b->epoch < 0
     * it becomes the newest entry time. *has_top: the tarball set dir's own
     * mode and time ("./"). */
    int (*unpack)(void *state, const char *dir, bool *has_top);
    /* Guest code (runs_guest_code only, else NULL). */
    int (*install_packages)(void *state);
    int (*run_script)(void *state);
    /* Flush, check and close the file system: *disk and *format (owned by
     * the state) are what the recipe compresses into the output. */
    int (*close)(void *state, const char **disk, const char **format);
    void (*free)(void *state);
} osr__backend;

/* Each module defines its table under this one name. */
#define OSR__BACKEND_EXPORT __attribute__((visibility("default")))
extern OSR__BACKEND_EXPORT const osr__backend osr_image_backend_v1;

/* The module of backend (offline or guestfs), loaded once per process and
 * never unloaded; *out is its table. OSR_ENOTFOUND names the missing file. */
int osr__backend_load(const osr__backend **out, osr_build_backend backend, osr_error *err);
/* Where the module of backend NAME is: in the directory "osrunner" beside
 * the file that holds libosrunner (dladdr), else in the installed
 * ${libdir}/osrunner; when neither exists, *out is the first place looked. */
int osr__backend_path(char **out, const char *name);
/* Run the recipe: every step after "inspect the base image". */
int osr__build_recipe(osr__build *b, const osr__backend *be);
/* Steps the recipe will announce (with the inspection). */
unsigned int osr__build_recipe_steps(const osr__build *b, const osr__backend *be);

/* Accelerator choice from facts (for tests): kvm_rw: /dev/kvm opened
 * read-write; hw_module: kvm_intel or kvm_amd loaded. */
osr_accel osr__accel_choose(bool kvm_rw, bool hw_module);

#endif
