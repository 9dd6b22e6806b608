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
} osr__build;

/* Finish the previous step (DONE event) and start the next one. Fails with
 * "interrupted" when the build was cancelled. */
int osr__build_step(osr__build *b, const char *name);
void osr__build_progress(osr__build *b, long long done, long long total);
bool osr__build_cancelled(const osr__build *b);
/* Run a host tool (argv[0] found on PATH) with stdin from /dev/null (or the
 * string in input), stdout discarded (or kept in *output, may be NULL). A
 * non-zero exit is an error quoting the last line it wrote on stderr. */
int osr__build_run(osr__build *b, const char *const *argv, const char *input, char **output);
/* Path inside the work dir (free it). */
char *osr__build_path(osr__build *b, const char *name);
/* Compress raw or overlay src into the output file (temp + rename). */
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
