/* osrunner: runner images: the GitHub runner application and the builder
 * that turns a cloud image into a runner image. */
#ifndef OSRUNNER_IMAGE_H
#define OSRUNNER_IMAGE_H

#include "common.h"
#include "error.h"
#include "github.h"
#include "glance.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The name runner images are published under by default. */
#define OSR_IMAGE_NAME_DEFAULT "github-runner-jammy"

/* --- the runner application ------------------------------------------------ */

/**
 * One entry of GitHub's runner downloads list (os, architecture,
 * download_url, filename, sha256_checksum, optional temp_download_token).
 * Opaque; free with osr_runner_app_free(). The token is a secret: it is never
 * shown, logged or put in a message.
 */
#ifndef OSR_RUNNER_APP_TYPEDEF
#define OSR_RUNNER_APP_TYPEDEF
typedef struct osr_runner_app osr_runner_app;
#endif

/**
 * Read a runner application from JSON: either one entry (an object) or
 * GitHub's whole list (an array), from which the entry for os and arch is
 * taken (NULL: "linux" and "x64").
 * @return 0, OSR_EINVAL (not JSON, a field missing or malformed: the message
 *         names it), OSR_ENOTFOUND (no entry for os/arch), OSR_ENOMEM
 */
OSR_EXTERN int osr_runner_app_parse(osr_runner_app **out,
                                    const char *json,
                                    size_t len,
                                    const char *os,
                                    const char *arch,
                                    osr_error *err);

/**
 * A runner application given as a URL (http, https, or a local path) and its
 * SHA-256 (64 hex digits). The architecture is taken from a file name like
 * actions-runner-linux-x64-2.311.0.tar.gz, else arch (NULL: "x64").
 * @return 0, OSR_EINVAL, OSR_ENOMEM
 */
OSR_EXTERN int osr_runner_app_new(
    osr_runner_app **out, const char *url, const char *sha256, const char *arch, osr_error *err);

/**
 * Choose the runner application from GitHub's downloads for path ("owner/repo"
 * or "org"): the entry for os and arch (NULL: "linux", "x64") whose version is
 * version (NULL or "latest": the one GitHub lists), checked as
 * osr_runner_app_parse() checks an entry. No copy of its token but the one
 * in *out, wiped when it is freed.
 * @return 0, OSR_ENOTFOUND (no entry; or GitHub offers another version, the
 *         message says which), OSR_EINVAL, or GitHub's error
 */
OSR_EXTERN int osr_runner_app_from_github(osr_runner_app **out,
                                          osr_github *gh,
                                          const char *path,
                                          const char *os,
                                          const char *arch,
                                          const char *version,
                                          osr_error *err);

/** Free a runner application, wiping its token. Accepts NULL. */
OSR_EXTERN void osr_runner_app_free(osr_runner_app *app);

/** Fields (borrowed; NULL for a NULL app). version is parsed from the file
 * name ("" if it has none). */
OSR_EXTERN const char *osr_runner_app_os(const osr_runner_app *app);
OSR_EXTERN const char *osr_runner_app_architecture(const osr_runner_app *app);
OSR_EXTERN const char *osr_runner_app_download_url(const osr_runner_app *app);
OSR_EXTERN const char *osr_runner_app_filename(const osr_runner_app *app);
OSR_EXTERN const char *osr_runner_app_sha256(const osr_runner_app *app);
OSR_EXTERN const char *osr_runner_app_version(const osr_runner_app *app);
/**
 * The short-lived bearer token to send (Authorization: Bearer) when
 * downloading, or "" when none is needed. A secret: never log it.
 */
OSR_EXTERN const char *osr_runner_app_temp_download_token(const osr_runner_app *app);

/**
 * Map a runner architecture to the Debian/Ubuntu one (x64 -> amd64, arm64 ->
 * arm64) and to Glance's "architecture" property (x86_64, aarch64). Either
 * out may be NULL.
 * @return 0 or OSR_EINVAL naming the unsupported architecture
 */
OSR_EXTERN int osr_runner_arch_map(const char **debian,
                                   const char **glance,
                                   const char *runner_arch,
                                   osr_error *err);

/** Options of osr_fetch_verified() and osr_runner_app_fetch(). */
typedef struct osr_fetch_options {
    unsigned int version;
    osr_progress_cb progress_cb;
    void *progress_payload;
    /** Time for the whole download in ms; 0: 30 minutes. */
    long timeout_ms;
    /** When *cancel becomes non-zero the download stops. */
    const volatile int *cancel;
    /* version 2 */
    /**
     * Proxies of the download (for http and https URLs) and the hosts that
     * bypass them; NULL: libcurl's default, the environment's http_proxy,
     * https_proxy and no_proxy.
     */
    const char *http_proxy;
    const char *https_proxy;
    const char *no_proxy;
} osr_fetch_options;

/** 2 added the proxies; a version 1 struct is still accepted. */
#define OSR_FETCH_OPTIONS_VERSION 2
#define OSR_FETCH_OPTIONS_INIT                                           \
    {                                                                    \
        OSR_FETCH_OPTIONS_VERSION, NULL, NULL, 0, NULL, NULL, NULL, NULL \
    }

/**
 * Download url (http or https, through libcurl; proxies from opts, else the
 * environment: http_proxy, https_proxy, no_proxy) to dest, checking its
 * SHA-256 while it streams. dest appears only complete and verified: the data
 * goes to a temporary file beside it, renamed on success and removed on any
 * failure. A url without a scheme is a local file: it is hashed, not copied,
 * and dest is left alone. bearer_token (may be NULL) is sent as
 * "Authorization: Bearer"; it appears in no message. opts may be NULL.
 * @return 0, OSR_EINVAL (bad checksum text), OSR_EINTEGRITY (checksum
 *         mismatch, of a download or a local file: nothing is left at dest),
 *         OSR_EPROTO (an HTTP answer other than 200), OSR_ENOTFOUND, OSR_EIO,
 *         OSR_EINTERRUPTED (cancelled), or a transport error
 */
OSR_EXTERN int osr_fetch_verified(const char *dest,
                                  const char *url,
                                  const char *sha256,
                                  const char *bearer_token,
                                  const osr_fetch_options *opts,
                                  osr_error *err);

/**
 * Download a runner application to dest and verify its SHA-256
 * (osr_fetch_verified() with the entry's URL, checksum and token). For a
 * local path, *path_out is that path; else dest. *path_out is borrowed.
 */
OSR_EXTERN int osr_runner_app_fetch(const char **path_out,
                                    const osr_runner_app *app,
                                    const char *dest,
                                    const osr_fetch_options *opts,
                                    osr_error *err);

/* --- the image builder ------------------------------------------------------- */

/** How the image is modified. */
typedef enum {
    /** OFFLINE unless packages or a script are asked for, then GUESTFS. */
    OSR_BUILD_AUTO = 0,
    /** qemu-img + libext2fs, no VM and no root: files only, no packages. */
    OSR_BUILD_OFFLINE = 1,
    /** The libguestfs appliance: files, packages and a custom script. */
    OSR_BUILD_GUESTFS = 2,
} osr_build_backend;

/** The accelerator of the libguestfs appliance. */
typedef enum {
    /** KVM when it can really run a guest, else TCG (see osr_build_accel_detect()). */
    OSR_ACCEL_AUTO = 0,
    OSR_ACCEL_KVM = 1,
    OSR_ACCEL_TCG = 2,
} osr_accel;

/** Proxy settings written into the image. Each may be NULL or "" for none. */
typedef struct osr_proxy {
    const char *http;
    const char *https;
    const char *no_proxy;
} osr_proxy;

/** What a progress event says. */
typedef enum {
    OSR_BUILD_STEP_START = 0,    /**< a step begins */
    OSR_BUILD_STEP_PROGRESS = 1, /**< done/total moved */
    OSR_BUILD_STEP_DONE = 2,     /**< a step ended; seconds is its duration */
} osr_build_event_kind;

/** One progress event of a build. Strings are borrowed for the call. */
typedef struct osr_build_event {
    osr_build_event_kind kind;
    unsigned int step;  /**< 1-based */
    unsigned int steps; /**< how many steps this build has */
    const char *name;   /**< e.g. "write the runner into /home/ubuntu/actions-runner" */
    long long done;     /**< progress units so far (bytes or entries), -1 if none */
    long long total;    /**< -1 if unknown */
    double seconds;     /**< duration of the step (DONE) */
} osr_build_event;

typedef void (*osr_build_cb)(const osr_build_event *event, void *payload);

/** What to build. Initialise with OSR_BUILD_OPTIONS_INIT. */
typedef struct osr_build_options {
    unsigned int version;
    /** Required: the base cloud image (qcow2 or raw), read only. */
    const char *base;
    /** Required: the runner tarball (actions-runner-*.tar.gz), already verified. */
    const char *runner_tarball;
    /** Required: the qcow2 to write (atomically: temp file + rename). */
    const char *output;
    /** Proxy settings for the runner VMs. */
    osr_proxy proxy;
    /** apt packages to install in the guest, NULL-terminated; NULL or empty: none. */
    const char *const *packages;
    /** Bytes to add to the disk and root file system; -1: 0, or 1.5 GiB with packages. */
    long long extra_size;
    /** A host file run as root inside the guest after every other step (GUESTFS). */
    const char *script;
    osr_build_backend backend;
    osr_accel accel;
    /** Parent of the temporary work directory; NULL: $TMPDIR, else /var/tmp. */
    const char *work_dir;
    /** Times of the files osrunner writes; -1: the newest entry of the runner tarball. */
    long long epoch;
    osr_build_cb progress_cb;
    void *progress_payload;
    /** When *cancel becomes non-zero the build stops and cleans up. */
    const volatile int *cancel;
    /* --- version 2 --- */
    /** Warnings (e.g. a proxy URL with a password) and notes (stale leftovers removed). */
    osr_log_cb log_cb;
    osr_log_level log_level;
    void *log_payload;
} osr_build_options;

/** 2 added the log hook; structs of version 1 are still accepted. */
#define OSR_BUILD_OPTIONS_VERSION 2
#define OSR_BUILD_OPTIONS_INIT                                                                   \
    {                                                                                            \
        OSR_BUILD_OPTIONS_VERSION, NULL, NULL, NULL, { NULL, NULL, NULL }, NULL, -1, NULL,       \
            OSR_BUILD_AUTO, OSR_ACCEL_AUTO, NULL, -1, NULL, NULL, NULL, NULL, OSR_LOG_WARN, NULL \
    }

/**
 * A private (0700) directory PARENT/osrunner-build-XXXXXX for what a caller
 * downloads or writes for a build, marked live (a flock()ed file "lock" in
 * it) until osr_build_dir_free(). If the caller is killed, the next
 * osr_build_dir_new() or osr_image_build() with the same parent removes it;
 * stale ones are swept here too. parent NULL: $TMPDIR, else /var/tmp.
 * @return 0, OSR_ENOTFOUND or OSR_EINVAL (parent), OSR_EIO, OSR_ENOMEM
 */
typedef struct osr_build_dir osr_build_dir;
OSR_EXTERN int osr_build_dir_new(osr_build_dir **out, const char *parent, osr_error *err);
/** Its path (borrowed). */
OSR_EXTERN const char *osr_build_dir_path(const osr_build_dir *dir);
/** Remove the directory with everything in it, then its mark. Accepts NULL. */
OSR_EXTERN void osr_build_dir_free(osr_build_dir *dir);

/** What a build produced. Opaque; free with osr_build_result_free(). */
typedef struct osr_build_result osr_build_result;

/**
 * Build a runner image from a base cloud image:
 *  - user ubuntu (created if missing) in groups docker and sudo;
 *  - the runner unpacked into /home/ubuntu/actions-runner, owned by ubuntu;
 *  - proxy settings in /etc/environment, /etc/apt/apt.conf.d/90osrunner-proxy,
 *    /etc/systemd/system/docker.service.d/http-proxy.conf and
 *    ~/.docker/config.json of ubuntu and root (only the values that are set;
 *    no file at all without a proxy);
 *  - packages and the custom script (GUESTFS);
 *  - written as compressed qcow2.
 * Work happens in a temporary directory that is removed on success and on
 * failure; the base image is never modified; the output appears only complete.
 * The output and every temporary file are written mode 0600 (the image may
 * hold proxy credentials; a proxy URL with a password is also warned about
 * through the log hook).
 *
 * Host tools (qemu-img, sfdisk, e2fsck, resize2fs) and the libguestfs
 * appliance get an allow-listed environment: PATH, HOME, USER, LOGNAME,
 * TERM, TZ, TMPDIR, XDG_RUNTIME_DIR, LANG, LANGUAGE, LC_*, LIBGUESTFS_* and
 * SUPERMIN_*; nothing else (no GITHUB_TOKEN, OS_PASSWORD, proxy variables).
 * For the appliance, the process environment is swapped for that list
 * around guestfs_launch(), so do not change the environment from another
 * thread during a guestfs build. Tools die with the calling thread
 * (PR_SET_PDEATHSIG); libguestfs's own recovery process kills the appliance
 * within seconds of the caller's death.
 *
 * A build that was killed leaves its work directory and temporary output
 * behind; the next build with the same work directory parent (and output)
 * removes them. A live build's files are flock()ed and never removed.
 *
 * Both backends run one recipe, so they write the same files. Each is a
 * module, image-offline.so or image-guestfs.so, opened with dlopen() by the
 * first build that uses it (and kept): it is looked for in the directory
 * "osrunner" beside the file that holds libosrunner (LIBDIR/osrunner when
 * installed, src/lib/osrunner in a build tree), and in the installed
 * LIBDIR/osrunner when libosrunner is linked statically. No other call
 * loads libguestfs, libext2fs or libarchive.
 * @return 0, OSR_EINVAL (options; a backend that cannot do what is asked),
 *         OSR_ENOTFOUND (an input file, or the backend's module: the
 *         message names it), OSR_EIO, OSR_ERROR (a tool failed; a module of
 *         another build),
 *         OSR_EINTERRUPTED (*cancel became non-zero; cleaned up), OSR_ENOMEM
 */
OSR_EXTERN int
osr_image_build(osr_build_result **out, const osr_build_options *opts, osr_error *err);

/**
 * Check the local inputs as osr_image_build() does before any work: the
 * base image, the runner tarball and the script are readable regular files
 * (base and runner_tarball may be NULL here, when they are still to be
 * downloaded), the output's directory and the work directory exist, the
 * proxies, packages and backend are valid. Call it before a long download.
 * @return 0, OSR_EINVAL (the message names the option or file), OSR_ENOTFOUND,
 *         OSR_EIO
 */
OSR_EXTERN int osr_image_build_check(const osr_build_options *opts, osr_error *err);

OSR_EXTERN void osr_build_result_free(osr_build_result *result);

/**
 * A fact about the build (borrowed; NULL when unknown): "backend" (offline,
 * guestfs), "accel" (kvm, tcg; guestfs only), "os_distro" and "os_version"
 * (from the image's /etc/os-release), "build_id", "output", "user_uid".
 */
OSR_EXTERN const char *osr_build_result_get(const osr_build_result *result, const char *key);

/**
 * The provenance properties of a built runner image, for its Glance record:
 * "os_distro=..." and "os_version=..." (when the build found them),
 * "architecture=..." (Glance's name for the runner's), and
 * "osrunner_runner_version=...", "osrunner_build_id=...",
 * "osrunner_builder_version=..." as "key=value" strings, NULL-terminated.
 * *out is one allocation: free it with osr_free().
 * @return 0, OSR_EINVAL (unsupported architecture), OSR_ENOMEM
 */
OSR_EXTERN int osr_image_provenance(char ***out,
                                    const osr_build_result *result,
                                    const osr_runner_app *app,
                                    osr_error *err);

/** Wall-clock seconds of the whole build. */
OSR_EXTERN double osr_build_result_seconds(const osr_build_result *result);

/**
 * The accelerator auto mode picks: KVM only when /dev/kvm opens read-write
 * and a hardware KVM module (kvm_intel or kvm_amd) is loaded; TCG otherwise.
 * An openable /dev/kvm alone proves nothing (kvm_pvm cannot run a stock guest).
 */
OSR_EXTERN osr_accel osr_build_accel_detect(void);

/** "auto", "offline", "guestfs"; "kvm", "tcg". */
OSR_EXTERN const char *osr_build_backend_name(osr_build_backend backend);
OSR_EXTERN const char *osr_build_accel_name(osr_accel accel);

#ifdef __cplusplus
}
#endif

#endif
