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

typedef struct osr__http_request {
    const char *method;
    const char *url;
    const char *token;          /* sent as X-Auth-Token; redacted in traces */
    const char *const *headers; /* extra "Name: value" lines, NULL-terminated */
    const char *body;           /* JSON body or NULL */
    size_t body_len;
    bool idempotent;    /* safe to send again after a connection error or 502/503/504 */
    const char *accept; /* Accept header; NULL: application/json */
} osr__http_request;

typedef struct osr__http_response {
    long status;
    osr__buf body;
    char *subject_token; /* X-Subject-Token; wiped on free */
    char *location;
    char request_id[72];
    int retry_after_s; /* -1 if none */
    int attempts;
    char *link;                /* Link header (pagination), or NULL */
    long ratelimit_remaining;  /* X-RateLimit-Remaining, -1 if none */
    long long ratelimit_reset; /* X-RateLimit-Reset (epoch seconds), -1 if none */
} osr__http_response;

int osr__http_new(osr__http **out, const osr__http_config *cfg, osr_error *err);
void osr__http_free(osr__http *h);

/* Send a request, retrying idempotent ones with jittered backoff. Returns 0
 * for a 2xx/3xx answer; otherwise the mapped error code, with err filled and
 * resp still holding what came back. */
int osr__http_send(osr__http *h,
                   const osr__http_request *req,
                   osr__http_response *resp,
                   osr_error *err);

void osr__http_response_free(osr__http_response *resp);

/* Map an HTTP status and API error body (Keystone, Nova, Glance, Neutron,
 * GitHub shapes) to a code and a one-line message. */
int osr__http_error_from_response(osr_error *err,
                                  const char *method,
                                  const char *url,
                                  long status,
                                  const char *body,
                                  size_t len,
                                  const char *request_id);

/* The error code for an HTTP status (>= 400). */
int osr__http_status_code(long status);

/* Copy of a JSON body with every secret value replaced by "***" (password,
 * secret, token ids), for traces. NULL if the body is not JSON. */
char *osr__http_redact_json(const char *body, size_t len);

/* Log through the configured hook if level is enabled. */
void osr__http_log(osr__http *h, osr_log_level level, const char *fmt, ...) OSR__PRINTF(3, 4);
bool osr__http_log_enabled(const osr__http *h, osr_log_level level);

/* Backoff before retry n (0-based), in ms, with jitter from r in [0,1). */
long osr__http_backoff_ms(int attempt, double r);

#endif
