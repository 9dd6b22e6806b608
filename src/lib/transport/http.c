/* HTTP on libcurl: one multi handle per session drives every transfer, so
 * connections are kept alive across requests and many requests (with their
 * retries and delays) run at once without threads. The blocking call is the
 * same engine run until its one transfer is done. */
#include "http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct transfer {
    osr__http_response *resp;
    const osr__http_request *req;
    bool too_big;
    bool oom;
    bool stream_failed;
};

struct osr__http_xfer {
    osr__http *h;
    CURL *easy;
    osr__http_request req; /* the caller keeps what it points to alive until done */
    osr__http_response *resp;
    osr_error *err;
    struct curl_slist *hdrs;
    char *auth_hdr, *accept_hdr;
    struct transfer t;
    char errbuf[CURL_ERROR_SIZE];
    int attempt;
    int64_t not_before_ms;
    int64_t started_ms;
    bool active;
    osr__http_done_cb cb;
    void *payload;
    osr__http_xfer *next;
};

struct osr__http {
    CURLM *multi;
    osr__http_config cfg;
    char *cacert, *cert, *key;
    unsigned int seed;
    osr__http_xfer *xfers;   /* every transfer not yet done */
    struct pollfd *hook_fds; /* osr__http_set_wait_hook */
    size_t hook_n;
    osr__http_wait_cb hook_cb;
    void *hook_payload;
    struct {
        char *prefix;
        size_t len;
        char name[16];
    } services[OSR__HTTP_SERVICES];
    size_t nservices;
    struct {
        const char *service; /* services[].name or "other" */
        long status;
        unsigned long long count;
    } stats[OSR__HTTP_STATS];
    size_t nstats;
};

void osr__http_log(osr__http *h, osr_log_level level, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;

    if (!osr__http_log_enabled(h, level))
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    h->cfg.log_cb(level, msg, h->cfg.log_payload);
}

bool osr__http_log_enabled(const osr__http *h, osr_log_level level)
{
    return h->cfg.log_cb != NULL && level <= h->cfg.log_level;
}

int osr__http_new(osr__http **out, const osr__http_config *cfg, osr_error *err)
{
    osr__http *h = calloc(1, sizeof(*h));

    if (h == NULL)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    h->cfg = *cfg;
    if (h->cfg.connect_timeout_ms <= 0)
        h->cfg.connect_timeout_ms = 10000;
    if (h->cfg.timeout_ms <= 0)
        h->cfg.timeout_ms = 60000;
    if (h->cfg.max_retries < 0)
        h->cfg.max_retries = 3;
    if (h->cfg.max_response == 0)
        h->cfg.max_response = 32u << 20;
    h->cacert = osr__strdup(cfg->cacert);
    h->cert = osr__strdup(cfg->cert);
    h->key = osr__strdup(cfg->key);
    h->cfg.cacert = h->cacert;
    h->cfg.cert = h->cert;
    h->cfg.key = h->key;
    h->multi = curl_multi_init();
    h->seed = (unsigned int)time(NULL) ^ (unsigned int)(uintptr_t)h;
    if (h->multi) {
        /* Enough parallel connections for a batch of launches, few enough
         * not to swamp one API server; curl queues the rest. */
        curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 16L);
        curl_multi_setopt(h->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, 32L);
    }
    if (h->multi == NULL || (cfg->cacert && !h->cacert) || (cfg->cert && !h->cert) ||
        (cfg->key && !h->key)) {
        osr__http_free(h);
        return osr__error_set(err, OSR_ENOMEM, "cannot set up HTTP");
    }
    *out = h;
    return 0;
}

static void xfer_release(osr__http_xfer *x);

void osr__http_free(osr__http *h)
{
    if (h == NULL)
        return;
    while (h->xfers != NULL) {
        osr__http_xfer *x = h->xfers;
        h->xfers = x->next;
        xfer_release(x);
    }
    for (size_t i = 0; i < h->nservices; i++)
        free(h->services[i].prefix);
    if (h->multi)
        curl_multi_cleanup(h->multi);
    free(h->cacert);
    free(h->cert);
    free(h->key);
    free(h);
}

void osr__http_response_free(osr__http_response *resp)
{
    if (resp == NULL)
        return;
    osr__buf_free(&resp->body);
    osr__secret_free(resp->subject_token);
    free(resp->location);
    free(resp->link);
    memset(resp, 0, sizeof(*resp));
}

static void response_reset(osr__http_response *resp, size_t max)
{
    osr__buf_free(&resp->body);
    osr__secret_free(resp->subject_token);
    free(resp->location);
    free(resp->link);
    memset(resp, 0, sizeof(*resp));
    resp->body.max = max;
    resp->retry_after_s = -1;
    resp->ratelimit_remaining = -1;
    resp->ratelimit_reset = -1;
    resp->ratelimit_limit = -1;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct transfer *t = userdata;
    size_t n = size * nmemb;
    int error;

    /* A successful body may go to the caller's sink (downloads of any size);
     * an error body is always kept, capped, for the message. */
    if (t->req->write_cb && t->resp->status > 0 && t->resp->status < 300) {
        if (t->req->write_cb(ptr, n, t->req->write_payload) < 0) {
            t->stream_failed = true;
            return 0;
        }
        return n;
    }
    error = osr__buf_append(&t->resp->body, ptr, n);

    if (error == OSR_EPROTO) {
        t->too_big = true;
        return 0;
    } else if (error < 0) {
        t->oom = true;
        return 0;
    }
    return n;
}

/* The value of header line "Name: value" if its name is name, trimmed. */
static char *header_value(const char *line, size_t len, const char *name)
{
    size_t nlen = strlen(name);
    const char *v, *end = line + len;

    if (len <= nlen || line[nlen] != ':' || strncasecmp(line, name, nlen) != 0)
        return NULL;
    v = line + nlen + 1;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    return osr__strndup(v, (size_t)(end - v));
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *userdata)
{
    struct transfer *t = userdata;
    osr__http_response *r = t->resp;
    size_t n = size * nmemb;
    char *v;

    if (n > 9 && strncmp(line, "HTTP/", 5) == 0) {
        /* A new status line (also after 100 Continue): the status so far. */
        const char *sp = memchr(line, ' ', n);
        if (sp && (size_t)(sp - line) + 4 <= n)
            r->status = strtol(sp + 1, NULL, 10);
        return n;
    }

    if ((v = header_value(line, n, "X-Subject-Token")) != NULL) {
        osr__secret_free(r->subject_token);
        r->subject_token = v;
    } else if ((v = header_value(line, n, "Location")) != NULL) {
        free(r->location);
        r->location = v;
    } else if ((v = header_value(line, n, "X-Openstack-Request-Id")) != NULL ||
               (v = header_value(line, n, "X-Compute-Request-Id")) != NULL ||
               (v = header_value(line, n, "X-GitHub-Request-Id")) != NULL) {
        snprintf(r->request_id, sizeof(r->request_id), "%s", v);
        free(v);
    } else if ((v = header_value(line, n, "Link")) != NULL) {
        free(r->link);
        r->link = v;
    } else if ((v = header_value(line, n, "X-RateLimit-Remaining")) != NULL) {
        char *end;
        long x = strtol(v, &end, 10);
        r->ratelimit_remaining = (end != v && *end == '\0' && x >= 0) ? x : -1;
        free(v);
    } else if ((v = header_value(line, n, "X-RateLimit-Limit")) != NULL) {
        char *end;
        long x = strtol(v, &end, 10);
        r->ratelimit_limit = (end != v && *end == '\0' && x >= 0) ? x : -1;
        free(v);
    } else if ((v = header_value(line, n, "X-RateLimit-Reset")) != NULL) {
        char *end;
        long long x = strtoll(v, &end, 10);
        r->ratelimit_reset = (end != v && *end == '\0' && x >= 0) ? x : -1;
        free(v);
    } else if ((v = header_value(line, n, "Retry-After")) != NULL) {
        char *end;
        long s = strtol(v, &end, 10);
        if (end != v && *end == '\0' && s >= 0)
            r->retry_after_s = s > 3600 ? 3600 : (int)s;
        free(v);
    }
    return n;
}

int osr__http_status_code(long status)
{
    if (status < 400)
        return 0;
    switch (status) {
    case 400:
        return OSR_EREQUEST;
    case 401:
        return OSR_EAUTH;
    case 403:
        return OSR_EFORBIDDEN;
    case 404:
        return OSR_ENOTFOUND;
    case 409:
        return OSR_ECONFLICT;
    case 429:
        return OSR_ERATELIMIT;
    default:
        return status >= 500 ? OSR_ESERVER : OSR_EREQUEST;
    }
}

/* msg, with GitHub's validation details appended: "errors" is a list of
 * strings or of {"resource", "field", "code", "message"} objects. */
static char *github_details(const char *msg, json_t *errors)
{
    osr__buf b = OSR__BUF_INIT;
    size_t i;
    json_t *e;

    if (osr__buf_puts(&b, msg) < 0)
        goto fail;
    json_array_foreach(errors, i, e)
    {
        const char *s = json_string_value(e);
        if (i >= 3)
            break;
        if (s == NULL && json_is_object(e)) {
            s = json_string_value(json_object_get(e, "message"));
            if (s == NULL) {
                const char *f = json_string_value(json_object_get(e, "field"));
                const char *c = json_string_value(json_object_get(e, "code"));
                if (osr__buf_printf(&b, "%s%s%s%s", i ? ", " : ": ", f ? f : "", f && c ? " " : "",
                                    c ? c : "") < 0)
                    goto fail;
                continue;
            }
        }
        if (s != NULL && osr__buf_printf(&b, "%s%.200s", i ? ", " : ": ", s) < 0)
            goto fail;
    }
    return osr__buf_detach(&b);
fail:
    osr__buf_free(&b);
    return NULL;
}

/* ---------------------------------------------------------- one-line summaries */

#define SUMMARY_MAX 200

/* Case-insensitive search for needle in the len bytes at hay. */
static const char *memcasemem(const char *hay, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; n <= len && i <= len - n; i++) {
        if (strncasecmp(hay + i, needle, n) == 0)
            return hay + i;
    }
    return NULL;
}

static bool tag_is(const char *tag, size_t len, const char *name)
{
    size_t n = strlen(name);
    return len >= n && strncasecmp(tag, name, n) == 0 &&
           (len == n || tag[n] == ' ' || tag[n] == '/' || tag[n] == '\t' || tag[n] == '\n');
}

/* Tags that end a line of text (the rest are inline, like <b>). */
static bool tag_breaks(const char *tag, size_t len)
{
    static const char *const blocks[] = { "br", "p",  "div", "h1", "h2",    "h3",  "h4", "h5",
                                          "h6", "li", "tr",  "td", "title", "pre", "hr", NULL };
    if (len && *tag == '/') {
        tag++;
        len--;
    }
    for (int i = 0; blocks[i]; i++) {
        if (tag_is(tag, len, blocks[i]))
            return true;
    }
    return false;
}

/* Append the character an HTML entity at p (after '&') stands for; how many
 * bytes of p it used (0: not one we know, keep the '&'). */
static size_t entity(osr__buf *b, const char *p, const char *end)
{
    static const struct {
        const char *name;
        char c;
    } named[] = { { "amp;", '&' },  { "lt;", '<' },    { "gt;", '>' },
                  { "quot;", '"' }, { "apos;", '\'' }, { "nbsp;", ' ' } };
    for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
        size_t n = strlen(named[i].name);
        if ((size_t)(end - p) >= n && memcmp(p, named[i].name, n) == 0)
            return osr__buf_append(b, &named[i].c, 1) < 0 ? 0 : n;
    }
    if (p < end && *p == '#') {
        char num[8], *stop;
        size_t n = 0;
        unsigned long v;
        const char *q = p + 1;
        bool hex = q < end && (*q == 'x' || *q == 'X');
        if (hex)
            q++;
        while (q < end && n + 1 < sizeof(num) && isalnum((unsigned char)*q))
            num[n++] = *q++;
        num[n] = '\0';
        v = strtoul(num, &stop, hex ? 16 : 10);
        if (n > 0 && *stop == '\0' && q < end && *q == ';') {
            /* Printable ASCII only; anything else becomes '?'. */
            char c = (v >= 0x20 && v < 0x7f) ? (char)v : '?';
            return osr__buf_append(b, &c, 1) < 0 ? 0 : (size_t)(q + 1 - p);
        }
    }
    return 0;
}

/* The text of an HTML body: markup gone, <head>, <script> and <style>
 * dropped, block tags turned into line ends, entities decoded. */
static char *html_text(const char *s, size_t len)
{
    osr__buf b = OSR__BUF_INIT;
    const char *p = s, *end = s + len;

    while (p < end) {
        if (*p == '<') {
            const char *gt = memchr(p, '>', (size_t)(end - p));
            const char *tag = p + 1;
            size_t tlen;
            if (gt == NULL)
                break;
            tlen = (size_t)(gt - tag);
            if (tag_is(tag, tlen, "head") || tag_is(tag, tlen, "script") ||
                tag_is(tag, tlen, "style")) {
                /* Skip to the matching close tag. */
                const char *name = tag_is(tag, tlen, "head")     ? "</head"
                                   : tag_is(tag, tlen, "script") ? "</script"
                                                                 : "</style";
                const char *close = memcasemem(gt, (size_t)(end - gt), name);
                if (close == NULL)
                    break;
                gt = memchr(close, '>', (size_t)(end - close));
                if (gt == NULL)
                    break;
            } else if (tag_breaks(tag, tlen) && osr__buf_append(&b, "\n", 1) < 0) {
                goto fail;
            }
            p = gt + 1;
        } else if (*p == '&') {
            size_t used = entity(&b, p + 1, end);
            if (used == 0 && osr__buf_append(&b, "&", 1) < 0)
                goto fail;
            p += 1 + used;
        } else {
            if (osr__buf_append(&b, p, 1) < 0)
                goto fail;
            p++;
        }
    }
    if (osr__buf_append(&b, "", 0) < 0 || b.data == NULL)
        goto fail;
    return osr__buf_detach(&b);
fail:
    osr__buf_free(&b);
    return NULL;
}

/* "400 Bad Request": the status again, says nothing the message doesn't. */
static bool is_status_line(const char *p, size_t n)
{
    if (n < 5 || n > 48 || !isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]) ||
        !isdigit((unsigned char)p[2]) || p[3] != ' ')
        return false;
    for (size_t i = 4; i < n; i++) {
        if (!isalpha((unsigned char)p[i]) && p[i] != ' ' && p[i] != '-' && p[i] != '\'')
            return false;
    }
    return true;
}

/* A page (it starts with markup) or a message with HTML line breaks in it. */
static bool looks_like_html(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len && isspace((unsigned char)s[i]))
        i++;
    return (i < len && s[i] == '<') || memcasemem(s, len, "<br") != NULL;
}

char *osr__http_summary(const char *text, size_t len, bool paragraph)
{
    const char *p, *end, *status = NULL;
    size_t status_len = 0;
    char *html = NULL, *out = NULL;
    osr__buf b = OSR__BUF_INIT;

    if (text == NULL)
        return NULL;
    /* An error page can be large; its summary is at its start. */
    if (len > 65536)
        len = 65536;
    if (looks_like_html(text, len)) {
        if ((html = html_text(text, len)) == NULL)
            return NULL;
        text = html;
        len = strlen(html);
    }
    /* The first paragraph (lines up to a blank one) that is not just the
     * status again, joined into one line; or only its first line. */
    for (p = text, end = text + len; p < end && b.len <= SUMMARY_MAX;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        while (p < e && isspace((unsigned char)*p))
            p++;
        while (e > p && isspace((unsigned char)e[-1]))
            e--;
        if (e == p || is_status_line(p, (size_t)(e - p))) {
            if (e > p && status == NULL) {
                status = p;
                status_len = (size_t)(e - p);
            }
            if (b.len)
                break;
        } else if (html != NULL || *p != '<') {
            if ((b.len && osr__buf_append(&b, " ", 1) < 0) ||
                osr__buf_append(&b, p, (size_t)(e - p)) < 0)
                goto done;
            if (!paragraph && html == NULL)
                break;
        }
        p = nl ? nl + 1 : end;
    }
    if (b.len == 0 && status != NULL && osr__buf_append(&b, status, status_len) < 0)
        goto done;
    if (b.len == 0)
        goto done;
    /* One line: tabs and other controls become spaces, a run of spaces one. */
    {
        size_t j = 0;
        for (size_t i = 0; i < b.len; i++) {
            char c = b.data[i];
            if ((unsigned char)c < 0x20 || c == 0x7f)
                c = ' ';
            if (c == ' ' && j && b.data[j - 1] == ' ')
                continue;
            b.data[j++] = c;
        }
        b.len = j;
        b.data[j] = '\0';
    }
    if (b.len > SUMMARY_MAX) {
        size_t n = SUMMARY_MAX;
        /* Do not split a UTF-8 sequence. */
        while (n > 0 && ((unsigned char)b.data[n] & 0xC0) == 0x80)
            n--;
        b.len = n;
        b.data[n] = '\0';
        if (osr__buf_puts(&b, "...") < 0)
            goto done;
    }
    out = osr__buf_detach(&b);
done:
    osr__buf_free(&b);
    free(html);
    return out;
}

/* The human message inside an API error body, or NULL. Handles:
 *   Keystone  {"error": {"code": 401, "title": "...", "message": "..."}}
 *   Nova      {"itemNotFound": {"code": 404, "message": "..."}}
 *   Neutron   {"NeutronError": {"type": "...", "message": "...", "detail": ""}}
 *   GitHub    {"message": "...", "documentation_url": "...", "errors": [...]}
 *   Glance and others: {"message": "..."} or plain text / HTML.
 * Whatever the shape, the message is summarised to one short line: Glance's
 * 400 puts a whole JSON schema dump (with <br />) in its message. */
static char *api_message(const char *body, size_t len)
{
    json_t *root, *msg = NULL;
    char *out = NULL;

    if (body == NULL || len == 0)
        return NULL;
    root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    if (root != NULL && json_is_object(root)) {
        msg = json_object_get(root, "message");
        if (!json_is_string(msg)) {
            const char *k;
            json_t *v;
            msg = NULL;
            json_object_foreach(root, k, v)
            {
                json_t *m = json_object_get(v, "message");
                if (json_is_object(v) && json_is_string(m)) {
                    msg = m;
                    break;
                }
            }
        }
        if (msg != NULL) {
            char *line = osr__http_summary(json_string_value(msg), json_string_length(msg), true);
            if (line != NULL)
                out = github_details(line, json_object_get(root, "errors"));
            free(line);
        }
    } else if (root == NULL) {
        out = osr__http_summary(body, len, false);
    }
    json_decref(root);
    return out;
}

/* The URL without its query string: queries may carry names we don't need in messages. */
static void url_for_message(char *dst, size_t n, const char *url)
{
    size_t len = strcspn(url, "?#");
    snprintf(dst, n, "%.*s", (int)(len > 300 ? 300 : len), url);
}

int osr__http_error_from_response(osr_error *err,
                                  const char *method,
                                  const char *url,
                                  long status,
                                  const char *body,
                                  size_t len,
                                  const char *request_id)
{
    int code = osr__http_status_code(status);
    char *msg = api_message(body, len);
    char where[320];
    char rid[100] = "";

    if (code == 0)
        code = OSR_EPROTO;
    url_for_message(where, sizeof(where), url);
    if (request_id && *request_id)
        snprintf(rid, sizeof(rid), " (request id %s)", request_id);
    osr__error_set(err, code, "%s %s: HTTP %ld%s%s%s", method, where, status, msg ? ": " : "",
                   msg ? msg : "", rid);
    if (err) {
        err->http_status = (int)status;
        snprintf(err->request_id, sizeof(err->request_id), "%s", request_id ? request_id : "");
    }
    free(msg);
    return code;
}

int osr__http_error_from_reply(osr_error *err,
                               const char *method,
                               const char *url,
                               const osr__http_response *resp)
{
    int code = osr__http_error_from_response(err, method, url, resp->status, resp->body.data,
                                             resp->body.len, resp->request_id);

    /* GitHub: a 403 with x-ratelimit-remaining: 0 is the primary rate limit, a
     * 403 with Retry-After a secondary one; neither is a permission problem. */
    if (resp->status == 403 && (resp->ratelimit_remaining == 0 || resp->retry_after_s >= 0)) {
        code = OSR_ERATELIMIT;
        if (err)
            err->code = code;
    }
    return code;
}

static const char *const secret_keys[] = { "password",
                                           "secret",
                                           "application_credential_secret",
                                           "token",
                                           "private_key",
                                           "encoded_jit_config",
                                           "temp_download_token",
                                           NULL };

static bool is_secret_key(const char *k)
{
    for (int i = 0; secret_keys[i]; i++) {
        if (strcasecmp(k, secret_keys[i]) == 0)
            return true;
    }
    /* Nova's generated adminPass, and user data (it carries registration tokens). */
    if (strcasecmp(k, "adminPass") == 0 || strcasecmp(k, "user_data") == 0 ||
        strcasecmp(k, "OS-EXT-SRV-ATTR:user_data") == 0)
        return true;
    return strstr(k, "secret") != NULL || strstr(k, "password") != NULL;
}

static void redact(json_t *v)
{
    const char *k;
    json_t *child;
    size_t i;

    if (json_is_object(v)) {
        json_object_foreach(v, k, child)
        {
            if (json_is_string(child) && is_secret_key(k)) {
                json_object_set_new(v, k, json_string("***"));
            } else if (strcmp(k, "token") == 0 && json_is_object(child) &&
                       json_is_string(json_object_get(child, "id"))) {
                /* Keystone's token auth method: {"token": {"id": "..."}} */
                json_object_set_new(child, "id", json_string("***"));
            } else {
                redact(child);
            }
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, child)
        {
            redact(child);
        }
    }
}

char *osr__http_redact_json(const char *body, size_t len)
{
    json_t *root = json_loadb(body, len, 0, NULL);
    char *out;

    if (root == NULL)
        return NULL;
    redact(root);
    out = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(root);
    return out;
}

long osr__http_backoff_ms(int attempt, double r)
{
    long base = 250L << (attempt > 6 ? 6 : attempt);
    if (base > 8000)
        base = 8000;
    /* "Equal jitter": half fixed, half random, so retries from many clients spread out. */
    return base / 2 + (long)((double)(base / 2) * r);
}

static bool retryable_curl(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        return true;
    default:
        return false;
    }
}

static void trace_request(osr__http *h, const osr__http_request *req, int attempt)
{
    osr__http_log(h, OSR_LOG_DEBUG, "> %s %s%s", req->method, req->url, attempt ? " (retry)" : "");
    if (req->token)
        osr__http_log(h, OSR_LOG_DEBUG, "> X-Auth-Token: <redacted>");
    for (const char *const *hd = req->headers; hd && *hd; hd++) {
        if (osr__startswith_ci(*hd, "Authorization:"))
            osr__http_log(h, OSR_LOG_DEBUG, "> Authorization: <redacted>");
        else
            osr__http_log(h, OSR_LOG_DEBUG, "> %s", *hd);
    }
    if (req->body && osr__http_log_enabled(h, OSR_LOG_TRACE)) {
        char *red = osr__http_redact_json(req->body, req->body_len);
        osr__http_log(h, OSR_LOG_TRACE, "> %s", red ? red : "<non-JSON body not shown>");
        free(red);
    }
}

static void trace_response(osr__http *h, const osr__http_response *resp, int64_t ms)
{
    osr__http_log(h, OSR_LOG_DEBUG, "< HTTP %ld (%lld ms)%s%s", resp->status, (long long)ms,
                  resp->request_id[0] ? " request id " : "", resp->request_id);
    if (resp->subject_token)
        osr__http_log(h, OSR_LOG_DEBUG, "< X-Subject-Token: <redacted>");
    if (resp->body.len && osr__http_log_enabled(h, OSR_LOG_TRACE)) {
        char *red = osr__http_redact_json(resp->body.data, resp->body.len);
        if (red && strlen(red) > 4000)
            memcpy(red + 3990, "...", 4);
        osr__http_log(h, OSR_LOG_TRACE, "< %s", red ? red : "<non-JSON body not shown>");
        free(red);
    }
}

static size_t on_read(char *buf, size_t size, size_t nmemb, void *userdata)
{
    const osr__http_request *req = userdata;
    size_t n = req->read_cb(buf, size * nmemb, req->read_payload);
    return n == (size_t)-1 ? CURL_READFUNC_ABORT : n;
}

static int on_progress(
    void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    const osr__http_request *req = userdata;
    if (req->read_cb)
        req->progress_cb((long long)ulnow, (long long)ultotal, req->progress_payload);
    else
        req->progress_cb((long long)dlnow, (long long)dltotal, req->progress_payload);
    return 0;
}

static void xfer_free_headers(osr__http_xfer *x)
{
    if (x->easy)
        curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(x->hdrs);
    x->hdrs = NULL;
    osr__secret_free(x->auth_hdr);
    x->auth_hdr = NULL;
    free(x->accept_hdr);
    x->accept_hdr = NULL;
}

static void xfer_release(osr__http_xfer *x)
{
    if (x->active)
        curl_multi_remove_handle(x->h->multi, x->easy);
    xfer_free_headers(x);
    if (x->easy)
        curl_easy_cleanup(x->easy);
    free(x);
}

/* Set up the easy handle for one attempt. */
static int xfer_setup(osr__http_xfer *x)
{
    osr__http *h = x->h;
    const osr__http_request *req = &x->req;
    CURL *e = x->easy;
    struct curl_slist *tmp;
    char ua[64];

    curl_easy_reset(e);
    xfer_free_headers(x);
    x->errbuf[0] = '\0';
    x->t.resp = x->resp;
    x->t.req = &x->req;
    x->t.too_big = x->t.oom = x->t.stream_failed = false;
    snprintf(ua, sizeof(ua), "osrunner/%s", osr_version());
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(e, CURLOPT_URL, req->url);
    if (req->proxy)
        curl_easy_setopt(e, CURLOPT_PROXY, req->proxy);
    if (req->no_proxy)
        curl_easy_setopt(e, CURLOPT_NOPROXY, req->no_proxy);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
    if (strcmp(req->method, "HEAD") == 0)
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, ua);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    /* libcurl re-sends a request by itself when a reused (kept-alive)
     * connection dies before any byte of the answer, whatever the method.
     * For a request that must not happen twice, only a new connection is
     * safe: then libcurl never re-sends, and a break comes back to us. */
    if (!req->idempotent || req->read_cb)
        curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, h->cfg.connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
                     req->timeout_ms > 0 ? req->timeout_ms : h->cfg.timeout_ms);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &x->t);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &x->t);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    if (req->write_cb == NULL)
        curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)h->cfg.max_response);
    {
        osr__http_tls engine = { h->cfg.verify, h->cfg.cacert, h->cfg.cert, h->cfg.key };
        const osr__http_tls *tls = req->tls ? req->tls : &engine;
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, tls->verify ? 1L : 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, tls->verify ? 2L : 0L);
        if (tls->cacert)
            curl_easy_setopt(e, CURLOPT_CAINFO, tls->cacert);
        if (tls->cert)
            curl_easy_setopt(e, CURLOPT_SSLCERT, tls->cert);
        if (tls->key)
            curl_easy_setopt(e, CURLOPT_SSLKEY, tls->key);
    }
    if (req->read_cb) {
        curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(e, CURLOPT_READDATA, &x->req);
        if (req->upload_size >= 0)
            curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->upload_size);
    }
    if (req->progress_cb) {
        curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(e, CURLOPT_XFERINFODATA, &x->req);
    }

#define ADD_HEADER(s)                                        \
    do {                                                     \
        if ((tmp = curl_slist_append(x->hdrs, (s))) == NULL) \
            return OSR_ENOMEM;                               \
        x->hdrs = tmp;                                       \
    } while (0)
    if (req->accept) {
        if ((x->accept_hdr = osr__sprintf("Accept: %s", req->accept)) == NULL)
            return OSR_ENOMEM;
        ADD_HEADER(x->accept_hdr);
    } else {
        ADD_HEADER("Accept: application/json");
    }
    if (req->body) {
        ADD_HEADER("Content-Type: application/json");
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    }
    ADD_HEADER("Expect:");
    for (const char *const *hd = req->headers; hd && *hd; hd++)
        ADD_HEADER(*hd);
    if (req->token) {
        if ((x->auth_hdr = osr__sprintf("X-Auth-Token: %s", req->token)) == NULL)
            return OSR_ENOMEM;
        ADD_HEADER(x->auth_hdr);
    }
#undef ADD_HEADER
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs);
    return 0;
}

int osr__http_submit(osr__http *h,
                     const osr__http_request *req,
                     long delay_ms,
                     osr__http_response *resp,
                     osr_error *err,
                     osr__http_done_cb cb,
                     void *payload)
{
    osr__http_xfer *x = calloc(1, sizeof(*x));

    if (x == NULL || (x->easy = curl_easy_init()) == NULL) {
        free(x);
        return osr__error_set(err, OSR_ENOMEM, "%s %s: out of memory", req->method, req->url);
    }
    x->h = h;
    x->req = *req;
    x->resp = resp;
    x->err = err;
    x->cb = cb;
    x->payload = payload;
    x->not_before_ms = delay_ms > 0 ? osr__now_ms_monotonic() + delay_ms : 0;
    response_reset(resp, h->cfg.max_response);
    x->next = h->xfers;
    h->xfers = x;
    return 0;
}

size_t osr__http_pending(const osr__http *h)
{
    size_t n = 0;
    for (const osr__http_xfer *x = h->xfers; x; x = x->next)
        n++;
    return n;
}

static void unlink_xfer(osr__http *h, osr__http_xfer *x)
{
    for (osr__http_xfer **p = &h->xfers; *p; p = &(*p)->next) {
        if (*p == x) {
            *p = x->next;
            return;
        }
    }
}

static void complete(osr__http_xfer *x, int error)
{
    osr__http *h = x->h;
    osr__http_done_cb cb = x->cb;
    void *payload = x->payload;

    unlink_xfer(h, x);
    xfer_release(x);
    if (cb)
        cb(error, payload);
}

/* ------------------------------------------------------------ statistics */

int osr__http_name_service(osr__http *h, const char *url_prefix, const char *name)
{
    size_t len;
    char *copy;

    if (h == NULL || url_prefix == NULL || name == NULL)
        return OSR_EINVAL;
    len = strlen(url_prefix);
    while (len > 0 && url_prefix[len - 1] == '/')
        len--; /* "http://h:1/v2.1/" names "http://h:1/v2.1..." */
    for (size_t i = 0; i < h->nservices; i++) {
        if (h->services[i].len == len && strncmp(h->services[i].prefix, url_prefix, len) == 0) {
            snprintf(h->services[i].name, sizeof(h->services[i].name), "%s", name);
            return 0;
        }
    }
    if (h->nservices == OSR__HTTP_SERVICES || (copy = osr__strndup(url_prefix, len)) == NULL)
        return OSR_ENOMEM;
    h->services[h->nservices].prefix = copy;
    h->services[h->nservices].len = len;
    snprintf(h->services[h->nservices].name, sizeof(h->services[h->nservices].name), "%s", name);
    h->nservices++;
    return 0;
}

static const char *service_of(const osr__http *h, const char *url)
{
    const char *best = "other";
    size_t best_len = 0;
    for (size_t i = 0; i < h->nservices; i++) {
        size_t n = h->services[i].len;
        if (n > best_len && strncmp(url, h->services[i].prefix, n) == 0 &&
            (url[n] == '\0' || url[n] == '/' || url[n] == '?')) {
            best = h->services[i].name;
            best_len = n;
        }
    }
    return best;
}

/* A service renamed later keeps its rows under the old pointer's new text;
 * rows point into services[], which never moves. */
static void count_attempt(osr__http *h, const char *url, long status)
{
    const char *svc = service_of(h, url ? url : "");
    size_t i;
    for (i = 0; i < h->nstats; i++) {
        if (h->stats[i].service == svc && h->stats[i].status == status) {
            h->stats[i].count++;
            return;
        }
    }
    if (h->nstats == OSR__HTTP_STATS) {
        /* full: the last row takes the rest, as "other" with status -1 */
        i = OSR__HTTP_STATS - 1;
        h->stats[i].service = "other";
        h->stats[i].status = -1;
        h->stats[i].count++;
        return;
    }
    h->stats[h->nstats].service = svc;
    h->stats[h->nstats].status = status;
    h->stats[h->nstats].count = 1;
    h->nstats++;
}

size_t osr__http_stats_count(const osr__http *h)
{
    return h ? h->nstats : 0;
}

int osr__http_stats_at(
    const char **service, long *status, unsigned long long *count, const osr__http *h, size_t i)
{
    if (h == NULL || i >= h->nstats)
        return OSR_ENOTFOUND;
    if (service)
        *service = h->stats[i].service;
    if (status)
        *status = h->stats[i].status;
    if (count)
        *count = h->stats[i].count;
    return 0;
}

/* An attempt ended: finish the transfer, or schedule the next attempt. */
static void attempt_done(osr__http_xfer *x, CURLcode rc)
{
    osr__http *h = x->h;
    const osr__http_request *req = &x->req;
    osr__http_response *resp = x->resp;
    char where[320];
    bool retry;
    long wait_ms;
    int error = 0;

    curl_multi_remove_handle(h->multi, x->easy);
    x->active = false;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &resp->status);
    resp->attempts = x->attempt + 1;
    count_attempt(h, req->url, rc == CURLE_OK ? resp->status : 0);
    url_for_message(where, sizeof(where), req->url);
    if (x->t.oom) {
        complete(x, osr__error_set(x->err, OSR_ENOMEM, "%s %s: out of memory", req->method, where));
        return;
    }
    if (x->t.too_big || rc == CURLE_FILESIZE_EXCEEDED) {
        complete(x, osr__error_set(x->err, OSR_EPROTO,
                                   "%s %s: response larger than the limit of %zu bytes",
                                   req->method, where, h->cfg.max_response));
        return;
    }
    if (x->t.stream_failed) {
        complete(x, osr__error_set(x->err, OSR_EIO, "%s %s: could not store the body", req->method,
                                   where));
        return;
    }
    if (rc != CURLE_OK) {
        curl_off_t pretransfer = 0;
        osr__http_log(h, OSR_LOG_DEBUG, "< %s", x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc));
        /* Past the connect (and TLS) phase the request may have gone out. */
        if (curl_easy_getinfo(x->easy, CURLINFO_PRETRANSFER_TIME_T, &pretransfer) == CURLE_OK)
            resp->in_doubt = pretransfer > 0;
        else
            resp->in_doubt = true;
        retry = req->idempotent && req->read_cb == NULL && retryable_curl(rc);
        if (!retry || x->attempt >= h->cfg.max_retries) {
            int code = rc == CURLE_OPERATION_TIMEDOUT ? OSR_ETIMEOUT : OSR_ENET;
            if (rc == CURLE_ABORTED_BY_CALLBACK || rc == CURLE_READ_ERROR)
                code = OSR_EIO;
            complete(x, osr__error_set(x->err, code, "%s %s: %s%s%s", req->method, where,
                                       x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc),
                                       x->attempt ? " (after retries)" : "",
                                       resp->in_doubt && !req->idempotent && code != OSR_EIO
                                           ? "; it may or may not have been processed"
                                           : ""));
            return;
        }
    } else {
        trace_response(h, resp, osr__now_ms_monotonic() - x->started_ms);
        if (resp->status < 400) {
            complete(x, 0);
            return;
        }
        retry = req->idempotent && req->read_cb == NULL &&
                (resp->status == 502 || resp->status == 503 || resp->status == 504);
        if (!retry || x->attempt >= h->cfg.max_retries) {
            error = osr__http_error_from_reply(x->err, req->method, req->url, resp);
            complete(x, error);
            return;
        }
    }
    wait_ms = osr__http_backoff_ms(x->attempt, (double)rand_r(&h->seed) / ((double)RAND_MAX + 1));
    if (resp->retry_after_s >= 0 && resp->retry_after_s * 1000L > wait_ms)
        wait_ms = resp->retry_after_s > 30 ? 30000 : resp->retry_after_s * 1000L;
    osr__http_log(h, OSR_LOG_INFO, "retrying %s %s in %ld ms", req->method, where, wait_ms);
    x->attempt++;
    x->not_before_ms = osr__now_ms_monotonic() + wait_ms;
}

/* Start every transfer whose time has come; the ms until the next delayed
 * one is due, or -1 if none is waiting. */
static long start_ready(osr__http *h)
{
    int64_t now = osr__now_ms_monotonic();
    long wait = -1;

restart:
    for (osr__http_xfer *x = h->xfers; x; x = x->next) {
        if (x->active)
            continue;
        if (x->not_before_ms > now) {
            int64_t d = x->not_before_ms - now;
            if (wait < 0 || d < wait)
                wait = d > LONG_MAX ? LONG_MAX : (long)d;
            continue;
        }
        response_reset(x->resp, h->cfg.max_response);
        if (xfer_setup(x) < 0 || curl_multi_add_handle(h->multi, x->easy) != CURLM_OK) {
            complete(x, osr__error_set(x->err, OSR_ENOMEM, "%s: out of memory", x->req.url));
            goto restart; /* the list changed under us */
        }
        x->active = true;
        x->started_ms = osr__now_ms_monotonic();
        trace_request(h, &x->req, x->attempt);
    }
    return wait;
}

/* Start what is due, let libcurl move every transfer on and finish those
 * that are done (their callbacks run here, and may submit more). *next: the
 * ms until the next delayed transfer (-1: none); *finished: attempts that
 * ended. */
static int progress(osr__http *h, long *next, int *finished)
{
    int running = 0, left;
    CURLMsg *msg;

    start_ready(h);
    if (curl_multi_perform(h->multi, &running) != CURLM_OK)
        return OSR_ENOMEM;
    while ((msg = curl_multi_info_read(h->multi, &left)) != NULL) {
        char *priv = NULL;
        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
        if (priv != NULL) {
            attempt_done((osr__http_xfer *)(void *)priv, msg->data.result);
            (*finished)++;
        }
    }
    /* Callbacks may have queued transfers or retries: start them now. */
    *next = start_ready(h);
    return 0;
}

/* With transfers in flight, libcurl shortens a wait to its own timers; this
 * bound only keeps a lost wake-up from stalling the loop. */
#define BUSY_WAIT_MAX_MS 1000

int osr__http_step(osr__http *h, struct pollfd *extra, size_t n_extra, long timeout_ms)
{
    struct curl_waitfd fds[OSR__HTTP_STEP_MAX_FDS];
    long next = -1, wait;
    int finished = 0, ready = 0, error;

    if (n_extra > OSR__HTTP_STEP_MAX_FDS || (n_extra > 0 && extra == NULL))
        return OSR_EINVAL;
    for (size_t i = 0; i < n_extra; i++)
        extra[i].revents = 0;
    if ((error = progress(h, &next, &finished)) < 0)
        return error;

    /* Wait for the first of: the caller's deadline, the next delayed
     * transfer, a transfer's socket, an extra fd. Not at all when attempts
     * just ended: the caller sees their results first. */
    wait = timeout_ms < 0 ? -1 : timeout_ms;
    if (next >= 0 && (wait < 0 || next < wait))
        wait = next;
    if (h->xfers != NULL && (wait < 0 || wait > BUSY_WAIT_MAX_MS))
        wait = BUSY_WAIT_MAX_MS;
    if (finished > 0)
        wait = 0;
    if (wait < 0 && n_extra == 0)
        return 0; /* nothing to do and nothing to wait for: it would never return */
    for (size_t i = 0; i < n_extra; i++) {
        fds[i].fd = extra[i].fd;
        fds[i].events = (short)(((extra[i].events & POLLIN) ? CURL_WAIT_POLLIN : 0) |
                                ((extra[i].events & POLLPRI) ? CURL_WAIT_POLLPRI : 0) |
                                ((extra[i].events & POLLOUT) ? CURL_WAIT_POLLOUT : 0));
        fds[i].revents = 0;
    }
    if (curl_multi_poll(h->multi, n_extra ? fds : NULL, (unsigned int)n_extra,
                        wait < 0 || wait > INT_MAX ? INT_MAX : (int)wait, NULL) != CURLM_OK)
        return OSR_ENOMEM;
    for (size_t i = 0; i < n_extra; i++) {
        extra[i].revents = (short)(((fds[i].revents & CURL_WAIT_POLLIN) ? POLLIN : 0) |
                                   ((fds[i].revents & CURL_WAIT_POLLPRI) ? POLLPRI : 0) |
                                   ((fds[i].revents & CURL_WAIT_POLLOUT) ? POLLOUT : 0));
        if (extra[i].revents)
            ready++;
    }
    /* Do the work the wait brought, so its callbacks run before we return. */
    if ((error = progress(h, &next, &finished)) < 0)
        return error;
    return ready;
}

/* The wait hook asked to stop: every transfer ends now, as cancelled. A
 * callback may submit more (they end too, up to a bound against a loop). */
static void abort_all(osr__http *h)
{
    char where[320];
    for (int n = 0; h->xfers != NULL && n < 100000; n++) {
        osr__http_xfer *x = h->xfers;
        url_for_message(where, sizeof(where), x->req.url);
        complete(
            x, osr__error_set(x->err, OSR_EINTERRUPTED, "%s %s: cancelled", x->req.method, where));
    }
}

int osr__http_run(osr__http *h, const bool *until)
{
    while (h->xfers != NULL && !(until && *until)) {
        int error = osr__http_step(h, h->hook_fds, h->hook_n, -1);
        if (error < 0)
            return error;
        if (h->hook_cb && h->hook_cb(h->hook_fds, h->hook_n, h->hook_payload) != 0)
            abort_all(h);
    }
    return 0;
}

int osr__http_set_wait_hook(
    osr__http *h, struct pollfd *fds, size_t n, osr__http_wait_cb cb, void *payload)
{
    if (n > OSR__HTTP_STEP_MAX_FDS || (n > 0 && fds == NULL))
        return OSR_EINVAL;
    if (fds == NULL || n == 0 || cb == NULL) {
        fds = NULL;
        n = 0;
        cb = NULL;
    }
    h->hook_fds = fds;
    h->hook_n = n;
    h->hook_cb = cb;
    h->hook_payload = payload;
    return 0;
}

struct sync_state {
    bool done;
    int error;
};

static void sync_done(int error, void *payload)
{
    struct sync_state *st = payload;
    st->done = true;
    st->error = error;
}

int osr__http_send(osr__http *h,
                   const osr__http_request *req,
                   osr__http_response *resp,
                   osr_error *err)
{
    return osr__http_send_after(h, req, 0, resp, err);
}

int osr__http_send_after(osr__http *h,
                         const osr__http_request *req,
                         long delay_ms,
                         osr__http_response *resp,
                         osr_error *err)
{
    struct sync_state st = { false, 0 };
    int error;

    if ((error = osr__http_submit(h, req, delay_ms, resp, err, sync_done, &st)) < 0)
        return error;
    if ((error = osr__http_run(h, &st.done)) < 0)
        return osr__error_set(err, error, "%s: the HTTP engine failed", req->url);
    return st.error;
}
