/* GitHub client requests: one request with a bearer credential (rate-limit
 * waits within a budget), Link paging with a page cap. */
#include "github_internal.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define API_VERSION_HEADER "X-GitHub-Api-Version: 2022-11-28"
#define MEDIA_TYPE         "application/vnd.github+json"
/* GitHub's advice for a secondary rate limit that names no time. */
#define DEFAULT_RATE_WAIT_S 60

/* ------------------------------------------------------------- Link header */

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* Does the rel value (quoted or token, space-separated relations) hold "next"? */
static bool rel_has_next(const char *v, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t j;
        while (i < n && v[i] == ' ')
            i++;
        j = i;
        while (j < n && v[j] != ' ')
            j++;
        if (j - i == 4 && strncasecmp(v + i, "next", 4) == 0)
            return true;
        i = j;
    }
    return false;
}

int osr__github_link_next(char **out, const char *link)
{
    const char *p = link;

    *out = NULL;
    if (link == NULL)
        return 0;
    for (;;) {
        const char *url, *url_end;
        bool next = false;

        p = skip_ws(p);
        if (*p == '\0')
            return 0;
        if (*p != '<')
            return OSR_EPROTO;
        url = p + 1;
        url_end = strchr(url, '>');
        if (url_end == NULL)
            return OSR_EPROTO;
        p = skip_ws(url_end + 1);
        /* Parameters: ; name=value or ; name="value", until a comma. */
        while (*p == ';') {
            const char *name, *val;
            size_t nlen, vlen;
            p = skip_ws(p + 1);
            name = p;
            while (*p && *p != '=' && *p != ';' && *p != ',' && *p != ' ' && *p != '\t')
                p++;
            nlen = (size_t)(p - name);
            p = skip_ws(p);
            val = p;
            vlen = 0;
            if (*p == '=') {
                p = skip_ws(p + 1);
                if (*p == '"') {
                    val = ++p;
                    while (*p && *p != '"')
                        p++;
                    if (*p != '"')
                        return OSR_EPROTO;
                    vlen = (size_t)(p - val);
                    p++;
                } else {
                    val = p;
                    while (*p && *p != ';' && *p != ',' && *p != ' ' && *p != '\t')
                        p++;
                    vlen = (size_t)(p - val);
                }
                p = skip_ws(p);
            }
            if (nlen == 3 && strncasecmp(name, "rel", 3) == 0 && rel_has_next(val, vlen))
                next = true;
        }
        if (*p != ',' && *p != '\0')
            return OSR_EPROTO;
        if (next) {
            if (url_end == url)
                return OSR_EPROTO;
            *out = osr__strndup(url, (size_t)(url_end - url));
            return *out ? 0 : OSR_ENOMEM;
        }
        if (*p == ',')
            p++;
    }
}

/* Length of "scheme://authority" at the start of url, 0 if it has none. */
size_t osr__github_origin_len(const char *url)
{
    const char *p = strstr(url, "://");
    if (p == NULL || p == url)
        return 0;
    p += 3;
    p += strcspn(p, "/?#");
    return (size_t)(p - url);
}

bool osr__github_same_origin(const char *url, const char *base)
{
    size_t a = osr__github_origin_len(url), b = osr__github_origin_len(base);
    return a > 0 && a == b && strncasecmp(url, base, a) == 0;
}

/* --------------------------------------------------------------- rate limit */

int64_t osr__github_rate_limit_wait(const osr__http_response *resp, int64_t now)
{
    if (resp->retry_after_s >= 0)
        return resp->retry_after_s;
    if (resp->ratelimit_remaining == 0 && resp->ratelimit_reset > 0) {
        int64_t w = (int64_t)resp->ratelimit_reset - now;
        return w < 1 ? 1 : w;
    }
    return DEFAULT_RATE_WAIT_S;
}

/* ------------------------------------------------------------- requests */

static void note_rate_limit(osr_github *gh, const osr__http_response *resp)
{
    if (resp->ratelimit_remaining >= 0)
        gh->rl_remaining = resp->ratelimit_remaining;
    if (resp->ratelimit_reset >= 0)
        gh->rl_reset = resp->ratelimit_reset;
    if (resp->ratelimit_limit >= 0)
        gh->rl_limit = resp->ratelimit_limit;
}

/* Append " ..." to the message in err, keeping it one bounded line. */
static void error_append(osr_error *err, const char *fmt, ...) OSR__PRINTF(2, 3);
static void error_append(osr_error *err, const char *fmt, ...)
{
    size_t n = strlen(err->message);
    va_list ap;

    if (n + 1 >= sizeof(err->message))
        return;
    va_start(ap, fmt);
    vsnprintf(err->message + n, sizeof(err->message) - n, fmt, ap);
    va_end(ap);
}

/* One GitHub request in flight: its copy of the auth header, and how long
 * it has waited out rate limits so far. */
struct gh_call {
    osr_github *gh;
    char *auth; /* "Authorization: Bearer ..."; secret */
    const char *headers[3];
    osr__http_request req;
    osr__http_response *resp;
    osr_error *err;
    int64_t waited_s;
    osr__http_done_cb cb;
    void *payload;
};

static void call_finish(struct gh_call *c, int error)
{
    osr__http_done_cb cb = c->cb;
    void *payload = c->payload;

    osr__secret_free(c->auth);
    free(c);
    if (cb)
        cb(error, payload);
}

/* An answer came (or none could): a rate-limited one is sent again when the
 * limit resets, by a delayed submit on the engine, if the budget allows. */
static void call_done(int error, void *payload)
{
    struct gh_call *c = payload;
    osr_github *gh = c->gh;
    osr__http_response *resp = c->resp;
    osr_error *err = c->err;
    int64_t wait;

    note_rate_limit(gh, resp);
    if (error != OSR_ERATELIMIT) {
        call_finish(c, error);
        return;
    }
    wait = osr__github_rate_limit_wait(resp, osr__now_s_wall());
    if (c->waited_s + wait > gh->rate_limit_wait_s) {
        if (c->waited_s) {
            error_append(err,
                         "; still rate-limited after waiting %lld s (resets in %lld s, "
                         "at most %d s of waiting allowed)",
                         (long long)c->waited_s, (long long)wait, gh->rate_limit_wait_s);
        } else {
            error_append(err,
                         "; rate limit resets in %lld s, more than the %d s of waiting "
                         "allowed",
                         (long long)wait, gh->rate_limit_wait_s);
        }
        call_finish(c, error);
        return;
    }
    osr__github_log(gh, OSR_LOG_WARN,
                    "GitHub rate limit (HTTP %ld): waiting %lld s before sending %s again",
                    resp->status, (long long)wait, c->req.method);
    osr__http_response_free(resp);
    osr_error_clear(err);
    c->waited_s += wait;
    if ((error = osr__http_submit(gh->http, &c->req, (long)wait * 1000, resp, err, call_done, c)) <
        0)
        call_finish(c, error);
}

int osr__github_submit(osr_github *gh,
                       const char *method,
                       const char *url,
                       const char *body,
                       enum osr__github_resend resend,
                       const char *bearer,
                       osr__http_response *resp,
                       osr_error *err,
                       osr__http_done_cb cb,
                       void *payload)
{
    struct gh_call *c = calloc(1, sizeof(*c));
    int error;

    memset(resp, 0, sizeof(*resp));
    osr_error_clear(err);
    if (c == NULL || (c->auth = osr__sprintf("Authorization: Bearer %s", bearer)) == NULL) {
        free(c);
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    }
    c->gh = gh;
    c->headers[0] = API_VERSION_HEADER;
    c->headers[1] = c->auth;
    c->headers[2] = NULL;
    c->req.method = method;
    c->req.url = url;
    c->req.headers = c->headers;
    c->req.body = body;
    c->req.body_len = body ? strlen(body) : 0;
    /* GETs and DELETEs may be repeated; a POST only when the caller says it
     * has no side effect (a token request). */
    c->req.idempotent = resend == OSR__GITHUB_SAFE;
    c->req.accept = MEDIA_TYPE;
    c->req.timeout_ms = gh->timeout_ms;
    c->req.tls = &gh->tls;
    c->resp = resp;
    c->err = err;
    c->cb = cb;
    c->payload = payload;
    if ((error = osr__http_submit(gh->http, &c->req, 0, resp, err, call_done, c)) < 0) {
        osr__secret_free(c->auth);
        free(c);
    }
    return error;
}

struct sync_call {
    bool done;
    int error;
};

static void sync_done(int error, void *payload)
{
    struct sync_call *st = payload;
    st->done = true;
    st->error = error;
}

int osr__github_send_with(osr_github *gh,
                          const char *method,
                          const char *url,
                          const char *body,
                          enum osr__github_resend resend,
                          const char *bearer,
                          osr__http_response *resp)
{
    struct sync_call st = { false, 0 };
    int error;

    error =
        osr__github_submit(gh, method, url, body, resend, bearer, resp, &gh->err, sync_done, &st);
    if (error < 0)
        return error;
    /* The engine's loop, until this request is done: other transfers on a
     * shared engine move on meanwhile, and a rate-limit wait is a timer. */
    if ((error = osr__http_run(gh->http, &st.done)) < 0)
        return osr__error_set(&gh->err, error, "%s: the HTTP engine failed", url);
    return st.error;
}

void osr__github_log(osr_github *gh, osr_log_level level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    if (gh->log_cb == NULL || level > gh->log_level)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    gh->log_cb(level, msg, gh->log_payload);
}

static json_t *load_json(osr_github *gh, const char *method, const char *url, osr__buf *body)
{
    json_t *root = json_loadb(body->data ? body->data : "", body->len, 0, NULL);
    if (root == NULL) {
        char where[320];
        snprintf(where, sizeof(where), "%.*s", (int)strcspn(url, "?#"), url);
        osr__error_set(&gh->err, OSR_EPROTO, "%s %.300s: the answer is not JSON", method, where);
    }
    return root;
}

/* GET every page of a list; on_page takes each page's JSON. */
int osr__github_get_pages(osr_github *gh,
                          const char *first_url,
                          int (*on_page)(void *ctx, json_t *root, osr_error *err),
                          void *ctx)
{
    osr_error *err = &gh->err;
    char *url = osr__strdup(first_url);
    int pages = 0, error = 0;

    if (url == NULL)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    while (url != NULL) {
        osr__http_response resp;
        json_t *root;
        char *next = NULL;

        if (++pages > gh->max_pages) {
            error = osr__error_set(err, OSR_EPROTO,
                                   "GET %.300s: more than %d pages (Link rel=\"next\" never ends)",
                                   first_url, gh->max_pages);
            break;
        }
        error = osr__github_send(gh, "GET", url, NULL, OSR__GITHUB_SAFE, &resp);
        if (error == 0 && (root = load_json(gh, "GET", url, &resp.body)) != NULL) {
            error = on_page(ctx, root, err);
            json_decref(root);
        } else if (error == 0) {
            error = OSR_EPROTO;
        }
        if (error == 0) {
            error = osr__github_link_next(&next, resp.link);
            if (error == OSR_EPROTO)
                osr__error_set(err, error, "GET %.300s: malformed Link header", first_url);
            else if (error < 0)
                osr__error_set(err, error, "out of memory");
        }
        osr__http_response_free(&resp);
        free(url);
        url = NULL;
        if (error < 0)
            break;
        if (next && !osr__github_same_origin(next, gh->api_url)) {
            /* Never send our token to another host. */
            error = osr__error_set(err, OSR_EPROTO, "GET %.300s: the next page is on another host",
                                   first_url);
            free(next);
            break;
        }
        url = next;
    }
    free(url);
    return error;
}
