/* Internal HTTP transport on libcurl. The one place where HTTP statuses and
 * API error bodies become osr_error codes. */
#ifndef OSR_LIB_HTTP_H
#define OSR_LIB_HTTP_H

#include "osrunner/common.h"
#include "util.h"

typedef struct osr__http osr__http;

typedef struct osr__http_config {
    long connect_timeout_ms; /* 0: 10 s */
    long timeout_ms;         /* 0: 60 s */
    int max_retries;         /* < 0: 3 */
    size_t max_response;     /* 0: 32 MiB */
    bool verify;             /* TLS peer and host verification */
    const char *cacert;      /* CA bundle path, or NULL */
    const char *cert;        /* client certificate, or NULL */
    const char *key;         /* client key, or NULL */
    osr_log_cb log_cb;
    osr_log_level log_level;
    void *log_payload;
} osr__http_config;

/* TLS settings for the requests of one client. */
typedef struct osr__http_tls {
    bool verify;        /* TLS peer and host verification */
    const char *cacert; /* CA bundle path, or NULL: the system's */
    const char *cert;   /* client certificate, or NULL */
    const char *key;    /* client key, or NULL */
} osr__http_tls;

typedef struct osr__http_request {
    const char *method;
    const char *url;
    const char *token;          /* sent as X-Auth-Token; redacted in traces */
    const char *const *headers; /* extra "Name: value" lines, NULL-terminated */
    const char *body;           /* JSON body or NULL */
    size_t body_len;
    /* Safe to send again after a connection error or 502/503/504. A request
     * that is not idempotent is never sent twice, by us or by libcurl: it
     * goes on a new connection (libcurl silently re-sends a request whose
     * reused connection died before any answer), and is not retried. */
    bool idempotent;
    const char *accept; /* Accept header; NULL: application/json */
    long timeout_ms;    /* this request's total time; 0: the engine's default */
    /* Streamed upload (PUT of a file): the body comes from read_cb, which
     * returns bytes written to buf, 0 at the end, (size_t)-1 to abort. Such a
     * request is never retried (the stream cannot be rewound). */
    size_t (*read_cb)(char *buf, size_t len, void *payload);
    void *read_payload;
    long long upload_size; /* -1: unknown (chunked) */
    /* Streamed download: a 2xx body goes to write_cb (return < 0 to abort)
     * instead of the capped buffer. Error bodies are still buffered. */
    int (*write_cb)(const char *data, size_t len, void *payload);
    void *write_payload;
    /* Progress of the upload (or else the download): bytes so far, total. */
    void (*progress_cb)(long long now, long long total, void *payload);
    void *progress_payload;
    /* This request's TLS settings instead of the engine's, for a client on
     * an engine it shares (GitHub on a session's engine must not trust the
     * cloud's CA bundle instead of its own). NULL: the engine's. libcurl
     * reuses a connection only for the same TLS settings. */
    const osr__http_tls *tls;
    /* This request's proxy (CURLOPT_PROXY) and the hosts that bypass it
     * (CURLOPT_NOPROXY); NULL: libcurl's default (the environment). */
    const char *proxy;
    const char *no_proxy;
} osr__http_request;

typedef struct osr__http_response {
    long status;
    osr__buf body;
    char *subject_token; /* X-Subject-Token; wiped on free */
    char *location;
    char request_id[72];
    int retry_after_s; /* -1 if none */
    int attempts;
    /* No answer came, but the request may have reached the server (the
     * connection broke or timed out after it was set up): a request that is
     * not idempotent may or may not have been processed. False when the
     * server provably got nothing (no connection). */
    bool in_doubt;
    char *link;                /* Link header (pagination), or NULL */
    long ratelimit_remaining;  /* X-RateLimit-Remaining, -1 if none */
    long long ratelimit_reset; /* X-RateLimit-Reset (epoch seconds), -1 if none */
    long ratelimit_limit;      /* X-RateLimit-Limit, -1 if none */
} osr__http_response;

typedef struct osr__http_xfer osr__http_xfer;

/* Called once when a submitted request is done: error is 0 or its code (err
 * filled). The callback may submit more requests. */
typedef void (*osr__http_done_cb)(int error, void *payload);

int osr__http_new(osr__http **out, const osr__http_config *cfg, osr_error *err);
void osr__http_free(osr__http *h);

/* Send a request, retrying idempotent ones with jittered backoff. Returns 0
 * for a 2xx/3xx answer; otherwise the mapped error code, with err filled and
 * resp still holding what came back. */
int osr__http_send(osr__http *h,
                   const osr__http_request *req,
                   osr__http_response *resp,
                   osr_error *err);

/* osr__http_send, starting after delay_ms (for polls). */
int osr__http_send_after(osr__http *h,
                         const osr__http_request *req,
                         long delay_ms,
                         osr__http_response *resp,
                         osr_error *err);

void osr__http_response_free(osr__http_response *resp);

/* Queue a request to start after delay_ms (0: now). req is copied, but what it
 * points to, resp and err must live until cb runs. Nothing is sent until
 * osr__http_run. */
int osr__http_submit(osr__http *h,
                     const osr__http_request *req,
                     long delay_ms,
                     osr__http_response *resp,
                     osr_error *err,
                     osr__http_done_cb cb,
                     void *payload);

/* Drive every queued request (with retries and delays) over the one multi
 * handle until none is left, or *until becomes true: osr__http_step in a
 * loop. */
int osr__http_run(osr__http *h, const bool *until);

/* The most extra descriptors one osr__http_step takes. */
#define OSR__HTTP_STEP_MAX_FDS 64

/* Run the engine once, for a caller that owns the loop (a daemon with a
 * signalfd, a timerfd, a listening socket): start the transfers whose time
 * has come, let libcurl move every transfer on and finish those that are
 * done (callbacks run here), then wait for the first of a transfer's socket,
 * the next delayed transfer (a retry, a poll, a rate-limit wait), one of the
 * extra fds and timeout_ms (-1: no deadline; 0: do not wait), and do the
 * work the wait brought. It does not wait when an attempt has just ended, and
 * never longer than 1 s while transfers are in flight, so a return does not
 * mean an fd is ready. extra[i].revents are set (POLLIN, POLLPRI, POLLOUT).
 * Returns how many extra fds have events (>= 0), or OSR_EINVAL (more than
 * OSR__HTTP_STEP_MAX_FDS), OSR_ENOMEM (libcurl failed). With nothing queued,
 * no extra fd and no deadline it returns 0 at once. */
struct pollfd;
int osr__http_step(osr__http *h, struct pollfd *extra, size_t n_extra, long timeout_ms);

/* While osr__http_run waits (every blocking call of the handle), it also
 * waits on fds (n <= OSR__HTTP_STEP_MAX_FDS) and calls cb after each step,
 * with fds[i].revents set; cb must not use the handle. A non-zero return
 * ends every transfer in flight with OSR_EINTERRUPTED ("cancelled"). fds
 * NULL, n 0 or cb NULL: no hook. The caller keeps fds alive while it is set. */
typedef int (*osr__http_wait_cb)(struct pollfd *fds, size_t n, void *payload);
int osr__http_set_wait_hook(
    osr__http *h, struct pollfd *fds, size_t n, osr__http_wait_cb cb, void *payload);

/* The engine counts every attempt by service and status (0: no HTTP answer).
 * A URL's service is the name given to the longest registered prefix of it
 * ("compute" for Nova's endpoint, "github" for the API URL), or "other".
 * name is copied (at most 15 bytes); a prefix registered again is renamed.
 * At most OSR__HTTP_SERVICES prefixes; OSR_ENOMEM past that. */
#define OSR__HTTP_SERVICES 16
#define OSR__HTTP_STATS    64
int osr__http_name_service(osr__http *h, const char *url_prefix, const char *name);
size_t osr__http_stats_count(const osr__http *h);
/* Row i: its service, its status (0: no answer) and count; OSR_ENOTFOUND past the end. */
int osr__http_stats_at(
    const char **service, long *status, unsigned long long *count, const osr__http *h, size_t i);

/* How many requests are queued or in flight. */
size_t osr__http_pending(const osr__http *h);

/* Map an HTTP status and API error body (Keystone, Nova, Glance, Neutron,
 * GitHub shapes) to a code and a one-line message. */
int osr__http_error_from_response(osr_error *err,
                                  const char *method,
                                  const char *url,
                                  long status,
                                  const char *body,
                                  size_t len,
                                  const char *request_id);

/* osr__http_error_from_response for a whole response, headers included: a
 * 403 that carries GitHub's rate-limit signs (x-ratelimit-remaining: 0, or
 * Retry-After) is OSR_ERATELIMIT. Every transport path maps through this. */
int osr__http_error_from_reply(osr_error *err,
                               const char *method,
                               const char *url,
                               const osr__http_response *resp);

/* The error code for an HTTP status (>= 400). */
int osr__http_status_code(long status);

/* A one-line summary of an error text or page: markup and the bare status
 * line ("400 Bad Request") dropped, the first paragraph with text kept (of
 * plain text only its first line, unless paragraph), controls turned into
 * spaces, capped at 200 bytes ("..." when cut). NULL if there is no text, or
 * out of memory. */
char *osr__http_summary(const char *text, size_t len, bool paragraph);

/* Copy of a JSON body with every secret value replaced by "***" (password,
 * secret, token ids), for traces. NULL if the body is not JSON. */
char *osr__http_redact_json(const char *body, size_t len);

/* Log through the configured hook if level is enabled. */
void osr__http_log(osr__http *h, osr_log_level level, const char *fmt, ...) OSR__PRINTF(3, 4);
bool osr__http_log_enabled(const osr__http *h, osr_log_level level);

/* Backoff before retry n (0-based), in ms, with jitter from r in [0,1). */
long osr__http_backoff_ms(int attempt, double r);

#endif
