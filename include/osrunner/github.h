/* osrunner: the GitHub REST client for self-hosted runners. */
#ifndef OSRUNNER_GITHUB_H
#define OSRUNNER_GITHUB_H

#include "common.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * A GitHub REST client: base URL, credentials (a personal access token, or a
 * GitHub App whose installation tokens it fetches and caches), the HTTP engine
 * and the last rate-limit figures. Opaque. One thread at a time. Free with
 * osr_github_free().
 *
 * Functions that act on runners take a path: "OWNER/REPO" for a repository,
 * or "ORG" for an organisation.
 */
typedef struct osr_github osr_github;

struct osr_session;

/** The default API base URL. */
#define OSR_GITHUB_API_URL "https://api.github.com"

/** Options for osr_github_new(). Initialise with OSR_GITHUB_OPTIONS_INIT. */
typedef struct osr_github_options {
    unsigned int version;
    /**
     * API base URL without a trailing slash. NULL: https://api.github.com.
     * GitHub Enterprise Server: https://HOST/api/v3.
     */
    const char *api_url;
    /**
     * Web URL that runners register with (config.sh --url). NULL: derived
     * from api_url (https://api.github.com -> https://github.com,
     * https://HOST/api/v3 -> https://HOST).
     */
    const char *web_url;
    /** A file holding a personal access token (or any bearer token). */
    const char *token_file;
    /** The name of an environment variable holding the token, e.g. "GITHUB_TOKEN". */
    const char *token_env;
    /**
     * A GitHub App: its App ID (or client ID), the installation ID and the
     * App's private key (PEM file, RSA). All three or none; not together
     * with a token.
     */
    const char *app_id;
    const char *installation_id;
    const char *app_key_file;
    /** CA bundle for a GitHub Enterprise Server; NULL: the system's. */
    const char *cacert;
    /** Connect timeout in ms; 0: 10000. */
    long connect_timeout_ms;
    /** Total time for one HTTP request in ms; 0: 60000. */
    long timeout_ms;
    /** Retries of idempotent requests on connection errors and 502/503/504; -1: 3. */
    int max_retries;
    /** Largest response body accepted, in bytes; 0: 32 MiB. */
    size_t max_response_bytes;
    /**
     * When rate-limited (403 or 429 with x-ratelimit-remaining: 0, or a
     * Retry-After), wait until the reset and try again, for at most this
     * many seconds in all per call; -1: 60; 0: never wait. The wait is a
     * timer of the HTTP engine, not a sleep: other requests on the engine
     * go on meanwhile.
     */
    int rate_limit_wait_s;
    /** Largest number of pages a list call follows (Link: rel="next"); 0: 50. */
    int max_pages;
    /** Items per page of list calls (1..100); 0: 100. */
    int per_page;
    /** Log hook and its level; NULL for none. Messages never hold secrets. */
    osr_log_cb log_cb;
    osr_log_level log_level;
    void *log_payload;
    /**
     * Version 2. Send on this session's HTTP engine instead of one of the
     * client's own, so that one loop (osr_session_run_once()) drives GitHub
     * and the cloud alike. The session must outlive the client. Then the
     * session's connect_timeout_ms, max_retries and max_response_bytes apply
     * and the transport traces go to the session's log hook; cacert,
     * timeout_ms and the client's own messages stay the client's. NULL: an
     * engine of the client's own.
     */
    struct osr_session *session;
} osr_github_options;

/** 2 added session; a version 1 struct (without it) is still accepted. */
#define OSR_GITHUB_OPTIONS_VERSION 2
#define OSR_GITHUB_OPTIONS_INIT                                                                  \
    {                                                                                            \
        OSR_GITHUB_OPTIONS_VERSION, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, -1, 0, \
            -1, 0, 0, NULL, OSR_LOG_NONE, NULL, NULL                                             \
    }

/**
 * Create a client. Reads the token (file or environment variable) or the
 * App's private key now; nothing is sent yet. Without any credentials every
 * call that needs them fails with OSR_EAUTH.
 * @return 0, OSR_EINVAL (bad option), OSR_ECONFIG (unreadable or empty token,
 *         unset variable, bad key), OSR_ENOTFOUND (no such file), OSR_ENOMEM
 */
OSR_EXTERN int osr_github_new(osr_github **out, const osr_github_options *opts, osr_error *err);

/** Free a client, wiping its tokens and key. Accepts NULL. */
OSR_EXTERN void osr_github_free(osr_github *gh);

/** The last error of a call on this client. Borrowed; reset by each call. */
OSR_EXTERN const osr_error *osr_github_last_error(const osr_github *gh);

/** The API base URL in use (borrowed). */
OSR_EXTERN const char *osr_github_api_url(const osr_github *gh);
/** The web URL runners register with (borrowed), e.g. https://github.com. */
OSR_EXTERN const char *osr_github_web_base(const osr_github *gh);

/**
 * Check a path: "OWNER/REPO" or "ORG" with GitHub's character rules.
 * *is_org (may be NULL) is set to 1 for an organisation.
 * @return 0 or OSR_EINVAL
 */
OSR_EXTERN int osr_github_path_check(int *is_org, const char *path, osr_error *err);

/**
 * The URL a runner registers with (config.sh --url):
 * https://github.com/OWNER/REPO or https://github.com/ORG, or the same on
 * the GitHub Enterprise Server host. Free *out with osr_free().
 * @return 0, OSR_EINVAL, OSR_ENOMEM
 */
OSR_EXTERN int osr_github_runner_url(char **out, osr_github *gh, const char *path);

/**
 * The web URL for an API base URL, without a client: https://api.github.com
 * gives https://github.com, https://HOST/api/v3 gives https://HOST. api_url
 * NULL: https://api.github.com. Free *out with osr_free().
 * @return 0, OSR_EINVAL, OSR_ENOMEM
 */
OSR_EXTERN int osr_github_web_url(char **out, const char *api_url, osr_error *err);

/**
 * The rate-limit figures of the last answer: requests left and the reset
 * time (seconds since the epoch); -1 when no answer carried them yet.
 * Either pointer may be NULL.
 */
OSR_EXTERN void osr_github_rate_limit(long *remaining, long long *reset_at, const osr_github *gh);

/** The rate limit itself (requests per window) of the last answer that said
 * it (X-RateLimit-Limit); -1 before any did. */
OSR_EXTERN long osr_github_rate_limit_limit(const osr_github *gh);

/** How many installation tokens this client fetched (GitHub App auth). */
OSR_EXTERN unsigned int osr_github_token_fetches(const osr_github *gh);

/**
 * Deprecated: osr_secret_free() (common.h) is the one way to free a secret.
 * This name stays, the same function, while callers move.
 */
OSR_EXTERN void osr_github_secret_free(char *secret);

/**
 * Write a secret to path atomically with mode 0600 (temporary file, fsync,
 * rename); missing directories are created 0700 and a symlink at path is
 * refused. A trailing newline is added.
 * @return 0, OSR_EIO, OSR_ENOMEM
 */
OSR_EXTERN int osr_github_secret_write(const char *path, const char *secret, osr_error *err);

/* ---- Runner applications (GET .../actions/runners/downloads) */

#ifndef OSR_RUNNER_APP_TYPEDEF
#define OSR_RUNNER_APP_TYPEDEF
/** One runner download; its accessors (osr_runner_app_os(), ...) are in image.h. */
typedef struct osr_runner_app osr_runner_app;
#endif

/** The runner applications GitHub offers. Opaque; free with osr_runner_app_list_free(). */
typedef struct osr_runner_app_list osr_runner_app_list;

/**
 * List the runner applications (the latest runner release, one per OS and
 * architecture).
 * @return 0, OSR_EAUTH, OSR_ENOTFOUND, OSR_ERATELIMIT, OSR_ENET, OSR_EPROTO, ...
 */
OSR_EXTERN int osr_github_runner_apps(osr_runner_app_list **out, osr_github *gh, const char *path);
OSR_EXTERN void osr_runner_app_list_free(osr_runner_app_list *apps);
OSR_EXTERN size_t osr_runner_app_list_count(const osr_runner_app_list *apps);
/**
 * The i-th entry (borrowed from the list), the same type osr_runner_app_parse()
 * gives, read with the osr_runner_app_* accessors of image.h ("" where GitHub
 * left a field out); NULL when i is out of range.
 */
OSR_EXTERN const osr_runner_app *osr_runner_app_list_at(const osr_runner_app_list *apps, size_t i);
/**
 * The index of the entry for os ("linux", "osx", "win") and architecture
 * ("x64", "arm64", "arm").
 * @return 0, OSR_ENOTFOUND
 */
OSR_EXTERN int osr_runner_app_list_find(size_t *index,
                                        const osr_runner_app_list *apps,
                                        const char *os,
                                        const char *arch);

/* ---- Registration and remove tokens */

/**
 * Create a registration token (for config.sh --token) or a remove token (for
 * config.sh remove --token). *token is a secret: free it with
 * osr_secret_free(). *expires_at is seconds since the epoch.
 * @return 0, OSR_EAUTH, OSR_EFORBIDDEN, OSR_ENOTFOUND, OSR_ERATELIMIT, ...
 */
OSR_EXTERN int osr_github_registration_token(char **token,
                                             long long *expires_at,
                                             osr_github *gh,
                                             const char *path);
OSR_EXTERN int
osr_github_remove_token(char **token, long long *expires_at, osr_github *gh, const char *path);

/* ---- Just-in-time runner configuration */

/** Options for osr_github_jitconfig(). Initialise with OSR_GITHUB_JIT_OPTIONS_INIT. */
typedef struct osr_github_jit_options {
    unsigned int version;
    /** The runner's name (required, unique in the repository or organisation). */
    const char *name;
    /** Labels, NULL-terminated, 1 to 100 of them. NULL: { "self-hosted" }. */
    const char *const *labels;
    /**
     * Runner group: an ID ("1"), or a name looked up in the organisation.
     * NULL: the default group (ID 1). A repository has only the default.
     */
    const char *runner_group;
    /** The work folder relative to the runner's directory; NULL: "_work". */
    const char *work_folder;
} osr_github_jit_options;

#define OSR_GITHUB_JIT_OPTIONS_VERSION 1
#define OSR_GITHUB_JIT_OPTIONS_INIT                            \
    {                                                          \
        OSR_GITHUB_JIT_OPTIONS_VERSION, NULL, NULL, NULL, NULL \
    }

/**
 * Register a just-in-time runner and get its configuration, for
 * run.sh --jitconfig (no config.sh). *jitconfig is a secret: free it with
 * osr_secret_free(). runner_id may be NULL.
 * @return 0, OSR_ECONFLICT (a runner of that name exists), OSR_ENOTFOUND
 *         (no such runner group), OSR_EINVAL, OSR_EREQUEST, OSR_EAUTH, ...
 */
OSR_EXTERN int osr_github_jitconfig(char **jitconfig,
                                    long long *runner_id,
                                    osr_github *gh,
                                    const char *path,
                                    const osr_github_jit_options *opts);

/* ---- Runners */

/** A list of self-hosted runners. Opaque; free with osr_github_runner_list_free(). */
typedef struct osr_github_runner_list osr_github_runner_list;

/**
 * List the runners, every page (Link: rel="next", at most max_pages). With
 * name, only the runner of that name. Sorted by ID.
 * @return 0, OSR_EAUTH, OSR_ENOTFOUND, OSR_ERATELIMIT, OSR_EPROTO (too many
 *         pages, bad answer), ...
 */
OSR_EXTERN int osr_github_runners_list(osr_github_runner_list **out,
                                       osr_github *gh,
                                       const char *path,
                                       const char *name);

/**
 * One runner by ID, as a list of one.
 * @return 0, OSR_ENOTFOUND, ...
 */
OSR_EXTERN int
osr_github_runner_get(osr_github_runner_list **out, osr_github *gh, const char *path, long long id);

/**
 * Delete (unregister) a runner.
 * @return 0, OSR_ENOTFOUND (no such runner, HTTP 404), OSR_EREQUEST with
 *         http_status 422 (the runner is busy running a job), ...
 */
OSR_EXTERN int osr_github_runner_delete(osr_github *gh, const char *path, long long id);

OSR_EXTERN void osr_github_runner_list_free(osr_github_runner_list *list);
OSR_EXTERN size_t osr_github_runner_list_count(const osr_github_runner_list *list);

/** One runner of a list; borrowed from the list, valid until it is freed. */
typedef struct osr_github_runner osr_github_runner;

/** The i-th runner (borrowed from the list), or NULL when i is out of range. */
OSR_EXTERN const osr_github_runner *osr_github_runner_list_at(const osr_github_runner_list *list,
                                                              size_t i);

/** Fields of a runner. Strings are borrowed ("" when absent); a NULL runner
 * gives -1, NULL or 0. */
OSR_EXTERN long long osr_github_runner_id(const osr_github_runner *runner);
OSR_EXTERN const char *osr_github_runner_name(const osr_github_runner *runner);
OSR_EXTERN const char *osr_github_runner_os(const osr_github_runner *runner);
/** "online" or "offline". */
OSR_EXTERN const char *osr_github_runner_status(const osr_github_runner *runner);
OSR_EXTERN int osr_github_runner_busy(const osr_github_runner *runner);
OSR_EXTERN int osr_github_runner_ephemeral(const osr_github_runner *runner);
/** The runner group ID, or -1 when not given. */
OSR_EXTERN long long osr_github_runner_group_id(const osr_github_runner *runner);
/** The runner software version, "" before the runner first connected. */
OSR_EXTERN const char *osr_github_runner_version(const osr_github_runner *runner);
OSR_EXTERN size_t osr_github_runner_label_count(const osr_github_runner *runner);
/** The label-th label, or NULL when out of range. */
OSR_EXTERN const char *osr_github_runner_label(const osr_github_runner *runner, size_t label);

#ifdef __cplusplus
}
#endif

#endif
