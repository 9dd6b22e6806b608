/* osrunner: an authenticated session with one cloud (Keystone v3). */
#ifndef OSRUNNER_SESSION_H
#define OSRUNNER_SESSION_H

#include "clouds.h"
#include "common.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * A session: the HTTP engine, the Keystone token and the service catalog of
 * one cloud. Opaque. One thread at a time. Free with osr_session_free().
 */
typedef struct osr_session osr_session;

/** Options for osr_session_new(). Initialise with OSR_SESSION_OPTIONS_INIT. */
typedef struct osr_session_options {
    unsigned int version;
    /** Connect timeout in ms; 0: 10000. */
    long connect_timeout_ms;
    /** Total time for one HTTP request in ms; 0: 60000. */
    long timeout_ms;
    /** Retries of idempotent requests on connection errors and 502/503/504; -1: 3. */
    int max_retries;
    /** Largest response body accepted, in bytes; 0: 32 MiB. */
    size_t max_response_bytes;
    /** 1: reuse and keep the token in the on-disk cache (default); 0: never touch it. */
    int token_cache;
    /** Token cache directory; NULL: $XDG_CACHE_HOME/osrunner/tokens or ~/.cache/osrunner/tokens. */
    const char *cache_dir;
    /** Log hook and its level; NULL for none. Messages never hold secrets. */
    osr_log_cb log_cb;
    osr_log_level log_level;
    void *log_payload;
} osr_session_options;

#define OSR_SESSION_OPTIONS_VERSION 1
#define OSR_SESSION_OPTIONS_INIT                                                    \
    {                                                                               \
        OSR_SESSION_OPTIONS_VERSION, 0, 0, -1, 0, 1, NULL, NULL, OSR_LOG_NONE, NULL \
    }

/**
 * Create a session for a cloud. Nothing is sent yet; the first call that needs
 * a token authenticates (or takes the token from the cache). The session keeps
 * its own copy of what it needs from cloud.
 * @return 0, OSR_EINVAL, OSR_ENOMEM, OSR_ECONFIG
 */
OSR_EXTERN int osr_session_new(osr_session **out,
                               const osr_cloud *cloud,
                               const osr_session_options *opts,
                               osr_error *err);

/** Free a session, wiping its token. Accepts NULL. */
OSR_EXTERN void osr_session_free(osr_session *session);

/** The last error of a call on this session. Borrowed; reset by each call. */
OSR_EXTERN const osr_error *osr_session_last_error(const osr_session *session);

/**
 * Make sure the session holds a valid project-scoped token: from memory, from
 * the cache, or from Keystone.
 * @return 0, OSR_EAUTH, OSR_ENET, OSR_ETIMEOUT, OSR_ESERVER, OSR_EPROTO, ...
 */
OSR_EXTERN int osr_session_authenticate(osr_session *session);

/** Where the current token came from. */
typedef enum {
    OSR_TOKEN_NONE = 0,     /**< no token yet */
    OSR_TOKEN_KEYSTONE = 1, /**< issued by Keystone in this process */
    OSR_TOKEN_CACHE = 2,    /**< read from the on-disk cache */
} osr_token_source;

/** Where the current token came from. */
OSR_EXTERN osr_token_source osr_session_token_source(const osr_session *session);

/** How many times this session asked Keystone for a token. */
OSR_EXTERN unsigned int osr_session_auth_count(const osr_session *session);

/**
 * Drop the token from memory and from the cache, so the next call
 * authenticates again.
 */
OSR_EXTERN void osr_session_invalidate(osr_session *session);

/** The scoped project's id and name, and the user's id (borrowed; NULL before auth). */
OSR_EXTERN const char *osr_session_project_id(const osr_session *session);
OSR_EXTERN const char *osr_session_project_name(const osr_session *session);
OSR_EXTERN const char *osr_session_user_id(const osr_session *session);

/** The token's expiry, seconds since the epoch (0 before auth). */
OSR_EXTERN long long osr_session_expires_at(const osr_session *session);

/**
 * The endpoint URL of a service from the catalog, chosen by service type
 * ("compute", "image", "identity", ...), the cloud's interface and region.
 * Authenticates first if needed. *out is borrowed and lives as long as the
 * token.
 * @return 0, OSR_ENOTFOUND (no such endpoint; the message lists what the
 *         catalog offers), OSR_ECONFIG (several regions and none chosen), or an
 *         authentication error
 */
OSR_EXTERN int
osr_session_endpoint(const char **out, osr_session *session, const char *service_type);

/**
 * The API calls the session's engine made, counted by service and status: one
 * row per pair, in the order they first happened. Every attempt counts (a
 * retry is a call). service is the catalog type of the endpoint
 * ("identity", "compute", "image", "network", ...), "github" for a GitHub
 * client on this session's engine (osr_github_options.session), or "other";
 * status is the HTTP status, or 0 when no answer came (connection refused,
 * timeout). The strings live as long as the session.
 */
OSR_EXTERN size_t osr_session_api_stats_count(const osr_session *session);

/**
 * Row i of osr_session_api_stats_count().
 * @return 0, or OSR_ENOTFOUND (i past the end; the out-params untouched)
 */
OSR_EXTERN int osr_session_api_stats_at(const char **service,
                                        int *status,
                                        unsigned long long *count,
                                        const osr_session *session,
                                        size_t i);

struct pollfd;

/**
 * Run the session's HTTP engine once, for a program that owns its event loop
 * (a daemon with a signalfd, a timerfd, a listening socket): start the
 * requests whose time has come, let every transfer move on and finish those
 * that are done, then wait for the first of a transfer's socket, the engine's
 * next timer (a retry, a poll, a rate-limit wait), one of fds (poll(2)
 * structures; include <poll.h>) and timeout_ms (-1: no deadline; 0: do not
 * wait), and do the work that wait brought. fds[i].revents are set (POLLIN,
 * POLLPRI, POLLOUT). A return does not mean an fd is ready: it does not wait
 * when a request has just ended, nor longer than 1 s while requests are in
 * flight; call it in a loop. A GitHub client made with
 * osr_github_options.session runs on this engine too. With nothing in
 * flight, no fds and no deadline it returns 0 at once.
 * @return the number of fds with events (>= 0), OSR_EINVAL (fds NULL, more
 *         than 64 fds), OSR_ENOMEM (the engine failed)
 */
OSR_EXTERN int
osr_session_run_once(osr_session *session, struct pollfd *fds, size_t nfds, long timeout_ms);

/**
 * Called by a blocking call of the session while it waits; see
 * osr_session_set_wait_hook(). Return non-zero to cancel the requests in
 * flight: each ends at once with OSR_EINTERRUPTED (a request that changes
 * something may or may not have been processed).
 */
typedef int (*osr_session_wait_cb)(struct pollfd *fds, size_t nfds, void *payload);

/**
 * Let a blocking call of the session (osr_pool_pass_run(), a GitHub client
 * on this session, any request) keep the caller's own descriptors served
 * while it waits on the network: each turn of its wait also waits on fds
 * (poll(2) structures, at most 64) and then calls cb on the same thread,
 * with fds[i].revents set, at least once a second while requests are in
 * flight. cb must not call into the session or anything using it (it may
 * answer the caller's own sockets, read a signalfd, set a cancel flag).
 * fds must stay valid while the hook is set; fds NULL or cb NULL removes it.
 * @return 0 or OSR_EINVAL (more than 64 fds)
 */
OSR_EXTERN int osr_session_set_wait_hook(
    osr_session *session, struct pollfd *fds, size_t nfds, osr_session_wait_cb cb, void *payload);

/** How many requests are queued or in flight on the session's engine. */
OSR_EXTERN size_t osr_session_pending(osr_session *session);

#ifdef __cplusplus
}
#endif

#endif
