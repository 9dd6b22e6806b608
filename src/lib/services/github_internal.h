/* Internals of the GitHub client, exposed for unit tests and fuzzing. Not installed. */
#ifndef OSR_LIB_GITHUB_INTERNAL_H
#define OSR_LIB_GITHUB_INTERNAL_H

#include "osrunner/github.h"

#include "http.h"
#include "util.h"

#include <openssl/evp.h>

/* The client (github.c). */
struct osr_github {
    osr__http *http;     /* the engine in use: own_http, or a session's */
    osr__http *own_http; /* NULL when on a session's engine */
    osr__http_tls tls;   /* GitHub's TLS settings, whoever's engine it is */
    char *cacert;
    long timeout_ms; /* per request; 0: the engine's */
    osr_log_cb log_cb;
    osr_log_level log_level;
    void *log_payload;
    osr_error err;
    char *api_url; /* no trailing slash */
    char *web_url;
    char *token; /* personal access token; secret */
    char *app_id;
    char *installation_id;
    EVP_PKEY *app_key;
    char *inst_token; /* installation token; secret */
    int64_t inst_expires;
    unsigned int token_fetches;
    long rl_remaining;
    long long rl_reset;
    long rl_limit; /* X-RateLimit-Limit of the last answer that had it, or -1 */
    int rate_limit_wait_s;
    int max_pages;
    int per_page;
};

/* Whether a request may be sent again after a 502/503/504 or a broken
 * connection. */
enum osr__github_resend { OSR__GITHUB_ONCE, OSR__GITHUB_SAFE };

/* github_request.c: queue one request with the given bearer credential on
 * the client's engine; nothing is sent until the engine runs (osr__http_run,
 * osr__http_step). A rate-limited answer (403/429 with the signs) is sent
 * again when the limit resets, as a delayed submit on the engine (no sleep),
 * while the waits stay within the client's budget; the error says so when
 * they would not. method, url, body, resp and err must live until cb runs
 * (resp is reset here; free it after); the bearer is copied. */
int osr__github_submit(osr_github *gh,
                       const char *method,
                       const char *url,
                       const char *body,
                       enum osr__github_resend resend,
                       const char *bearer,
                       osr__http_response *resp,
                       osr_error *err,
                       osr__http_done_cb cb,
                       void *payload);

/* osr__github_submit, then the engine run until that request is done.
 * Errors go to the client's record. */
int osr__github_send_with(osr_github *gh,
                          const char *method,
                          const char *url,
                          const char *body,
                          enum osr__github_resend resend,
                          const char *bearer,
                          osr__http_response *resp);

/* Log through the client's own hook (transport traces go to the engine's). */
void osr__github_log(osr_github *gh, osr_log_level level, const char *fmt, ...) OSR__PRINTF(3, 4);

/* github_auth.c: send with the client's credentials: the token, or an
 * installation token (fetched when missing or about to expire; fetched again
 * once on a 401). */
int osr__github_send(osr_github *gh,
                     const char *method,
                     const char *url,
                     const char *body,
                     enum osr__github_resend resend,
                     osr__http_response *resp);

/* github_request.c: GET every page of a list; on_page takes each page's JSON. */
struct json_t;
int osr__github_get_pages(osr_github *gh,
                          const char *first_url,
                          int (*on_page)(void *ctx, struct json_t *root, osr_error *err),
                          void *ctx);

/* {api}/repos/OWNER/REPO/actions/runners{tail} or {api}/orgs/ORG/actions/runners{tail} */
char *osr__github_runners_url(osr_github *gh, const char *path, const char *tail);

/* Length of "scheme://authority" at the start of url, 0 if it has none. */
size_t osr__github_origin_len(const char *url);

/* Whether s is a non-empty string of decimal digits. */
bool osr__github_all_digits(const char *s);

/* github_auth.c: a token from text (one printable word, trimmed), from a
 * file, and the App key from a PEM file. what and path name it in messages. */
int osr__github_token_from(
    char **out, const char *data, size_t len, const char *what, osr_error *err);
int osr__github_read_token_file(char **out, const char *path, osr_error *err);
int osr__github_read_key_file(EVP_PKEY **out, const char *path, osr_error *err);

/* The URL of the Link header entry with rel="next" (rel may list several
 * relations), or *out = NULL when there is none. Returns 0, OSR_EPROTO for a
 * header that is not a Link list, OSR_ENOMEM. */
int osr__github_link_next(char **out, const char *link);

/* Whether url has the same scheme, host and port as base: a next page must
 * not send our token elsewhere. */
bool osr__github_same_origin(const char *url, const char *base);

/* Seconds to wait before trying again after a rate-limited answer (403/429):
 * Retry-After if given, else until x-ratelimit-reset when
 * x-ratelimit-remaining is 0 (at least 1 s), else 60 s as GitHub advises for
 * secondary limits without headers. */
int64_t osr__github_rate_limit_wait(const osr__http_response *resp, int64_t now);

/* Load an RSA private key from PEM (PKCS#1 or PKCS#8, not encrypted). source
 * names it in messages. Returns 0, OSR_ECONFIG, OSR_ENOMEM. */
int osr__github_load_key(
    EVP_PKEY **out, const char *pem, size_t len, const char *source, osr_error *err);

/* A GitHub App JWT: RS256, {"iat": now-60, "exp": now+540, "iss": app_id}
 * (an integer when app_id is all digits, else the client ID string). */
int osr__github_jwt(char **out, EVP_PKEY *key, const char *app_id, int64_t now, osr_error *err);

/* RFC 4648 base64url without padding. NULL on allocation failure. */
char *osr__github_b64url(const unsigned char *data, size_t len);

/* The web URL runners register with, from an API base URL. */
int osr__github_web_url(char **out, const char *api_url);

/* Parsers of GitHub answers (also the fuzz targets). */
int osr__github_parse_apps(osr_runner_app_list **out, const char *body, size_t len, osr_error *err);
int osr__github_parse_token(
    char **token, long long *expires_at, const char *body, size_t len, osr_error *err);
int osr__github_parse_jit(
    char **jitconfig, long long *runner_id, const char *body, size_t len, osr_error *err);
/* Append the runners of one list page ({"total_count", "runners"}) or, with
 * single, of one runner object. */
int osr__github_parse_runners(
    osr_github_runner_list *list, const char *body, size_t len, bool single, osr_error *err);
osr_github_runner_list *osr__github_runners_new(void);

#endif
