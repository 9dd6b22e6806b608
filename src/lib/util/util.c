/* Small internal helpers shared by every layer. */
#include "util.h"

#include "osrunner/common.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

void osr_error_clear(osr_error *err)
{
    if (err == NULL)
        return;
    memset(err, 0, sizeof(*err));
}

const char *osr_error_name(int code)
{
    switch (code) {
    case OSR_OK:
        return "ok";
    case OSR_ENOMEM:
        return "nomem";
    case OSR_EINVAL:
        return "invalid";
    case OSR_ECONFIG:
        return "config";
    case OSR_ENET:
        return "network";
    case OSR_ETIMEOUT:
        return "timeout";
    case OSR_EAUTH:
        return "auth";
    case OSR_EFORBIDDEN:
        return "forbidden";
    case OSR_ENOTFOUND:
        return "notfound";
    case OSR_ECONFLICT:
        return "conflict";
    case OSR_ERATELIMIT:
        return "ratelimit";
    case OSR_ESERVER:
        return "server";
    case OSR_EPROTO:
        return "protocol";
    case OSR_EIO:
        return "io";
    case OSR_EREQUEST:
        return "request";
    case OSR_EAMBIGUOUS:
        return "ambiguous";
    case OSR_ELAUNCH:
        return "launch";
    case OSR_EINTEGRITY:
        return "integrity";
    case OSR_EINTERRUPTED:
        return "interrupted";
    case OSR_EEXISTS:
        return "exists";
    case OSR_ELEFT:
        return "left";
    default:
        return "error";
    }
}

/* Keep messages to one line: control characters become spaces. */
static void one_line(char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = ' ';
    }
}

int osr__error_setv(osr_error *err, int code, const char *fmt, va_list ap)
{
    if (err == NULL)
        return code;
    err->code = code;
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    one_line(err->message);
    return code;
}

int osr__error_set(osr_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    osr__error_setv(err, code, fmt, ap);
    va_end(ap);
    return code;
}

int osr__version_check(osr_error *err,
                       const char *func,
                       const char *type,
                       unsigned int version,
                       unsigned int min,
                       unsigned int max)
{
    if (version >= min && version <= max)
        return 0;
    if (min == max)
        return osr__error_set(err, OSR_EINVAL, "%s: %s: unknown version %u (known: %u)", func, type,
                              version, min);
    return osr__error_set(err, OSR_EINVAL, "%s: %s: unknown version %u (known: %u to %u)", func,
                          type, version, min, max);
}

int osr__error_prefix(osr_error *err, const char *fmt, ...)
{
    char prefix[256];
    char old[OSR_ERROR_MESSAGE_MAX];
    va_list ap;

    if (err == NULL)
        return OSR_ERROR;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err->message, sizeof(old));
    /* Truncation is intended: the message buffer is the limit. */
    {
        size_t plen = strlen(prefix);
        if (plen > sizeof(err->message) - 3)
            plen = sizeof(err->message) - 3;
        memcpy(err->message, prefix, plen);
        memcpy(err->message + plen, ": ", 2);
        size_t room = sizeof(err->message) - plen - 3;
        size_t olen = strnlen(old, room);
        memcpy(err->message + plen + 2, old, olen);
        err->message[plen + 2 + olen] = '\0';
    }
    one_line(err->message);
    return err->code;
}

char *osr__strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

char *osr__strndup(const char *s, size_t n)
{
    /* Not strndup: callers pass buffers that need not be NUL-terminated. */
    const char *nul;
    char *out;

    if (s == NULL)
        return NULL;
    nul = memchr(s, '\0', n);
    if (nul)
        n = (size_t)(nul - s);
    out = malloc(n + 1);
    if (out == NULL)
        return NULL;
    memcpy(out, s, n);
    out[n] = '\0';
    return out;
}

char *osr__sprintf(const char *fmt, ...)
{
    va_list ap;
    char *out = NULL;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&out, fmt, ap);
    va_end(ap);
    return n < 0 ? NULL : out;
}

void osr__secret_wipe(void *p, size_t n)
{
    if (p != NULL && n > 0)
        explicit_bzero(p, n);
}

void osr__secret_free(char *s)
{
    if (s == NULL)
        return;
    explicit_bzero(s, strlen(s));
    free(s);
}

int osr__buf_append(osr__buf *b, const void *data, size_t len)
{
    size_t need = b->len + len + 1;

    if (b->max && b->len + len > b->max)
        return OSR_EPROTO;
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        char *p;
        while (cap < need)
            cap *= 2;
        p = realloc(b->data, cap);
        if (p == NULL)
            return OSR_ENOMEM;
        b->data = p;
        b->cap = cap;
    }
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int osr__buf_puts(osr__buf *b, const char *s)
{
    return osr__buf_append(b, s, strlen(s));
}

int osr__buf_printf(osr__buf *b, const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    int n, error;

    va_start(ap, fmt);
    n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        return OSR_ENOMEM;
    error = osr__buf_append(b, s, (size_t)n);
    free(s);
    return error;
}

void osr__buf_reset(osr__buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void osr__buf_free(osr__buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void osr__buf_free_secret(osr__buf *b)
{
    osr__secret_wipe(b->data, b->cap);
    osr__buf_free(b);
}

char *osr__buf_detach(osr__buf *b)
{
    char *p = b->data;
    if (p == NULL)
        p = strdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

bool osr__looks_like_uuid(const char *s)
{
    size_t n = strlen(s);
    if (n != 36 && n != 32)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (!hex && !(n == 36 && c == '-' && (i == 8 || i == 13 || i == 18 || i == 23)))
            return false;
    }
    return true;
}

bool osr__startswith_ci(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

int64_t osr__now_ms_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t osr__now_s_wall(void)
{
    return (int64_t)time(NULL);
}

int64_t osr__now_ms_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

int osr__parse_timestamp(int64_t *out, const char *s)
{
    struct tm tm;
    int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
    const char *p = s;
    int64_t t;

    if (s == NULL)
        return -1;
    if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
        digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' '))
        return -1;
    p++;
    if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' ||
        digits(&p, 2, &sec))
        return -1;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return -1;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p == '+' ? 1 : -1;
        p++;
        if (digits(&p, 2, &oh))
            return -1;
        if (*p == ':')
            p++;
        if (digits(&p, 2, &om))
            return -1;
    } else if (*p != '\0') {
        return -1;
    }
    if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 ||
        oh > 23 || om > 59)
        return -1;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    t = (int64_t)timegm(&tm);
    t -= (int64_t)sign * (oh * 3600 + om * 60);
    *out = t;
    return 0;
}

int osr__sha256_hex(char out[65], const void *data, size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    static const char hex[] = "0123456789abcdef";

    if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
        return OSR_ERROR;
    for (unsigned int i = 0; i < mdlen; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
    return 0;
}

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates, at most U+10FFFF), or 0. */
static size_t utf8_seq(const unsigned char *s)
{
    unsigned char c = s[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf;

    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4;
    else
        return 0;
    if (c == 0xe0)
        lo = 0xa0;
    else if (c == 0xed)
        hi = 0x9f;
    else if (c == 0xf0)
        lo = 0x90;
    else if (c == 0xf4)
        hi = 0x8f;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    }
    return n;
}

const char *osr__quote(char *buf, size_t size, const char *s, size_t max)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t o = 0, shown = 0;

    if (size == 0)
        return "";
    while (*p && shown < max) {
        size_t n = (*p >= 0x20 && *p < 0x7f) ? 1 : (*p >= 0x80 ? utf8_seq(p) : 0);
        char esc[5];
        if (n == 1 && *p == '\\') {
            memcpy(esc, "\\\\", 3);
        } else if (n == 0) {
            snprintf(esc, sizeof(esc), "\\x%02x", *p);
            n = 1;
        } else {
            if (o + n >= size)
                break;
            memcpy(buf + o, p, n);
            o += n;
            p += n;
            shown++;
            continue;
        }
        if (o + strlen(esc) >= size)
            break;
        memcpy(buf + o, esc, strlen(esc));
        o += strlen(esc);
        p += n;
        shown++;
    }
    if (*p && o + 3 < size) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

const char *osr_quote(char *buf, size_t size, const char *s, size_t max)
{
    return osr__quote(buf, size, s, max);
}

static bool list_has(const char *list, const char *item, size_t n)
{
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && strncmp(p, item, n) == 0)
            return true;
        p += len + (p[len] == ',');
    }
    return false;
}

int osr__proxy_effective(char **https_out,
                         char **no_proxy_out,
                         const char *http,
                         const char *https,
                         const char *no_proxy)
{
    osr__buf b = OSR__BUF_INIT;
    char *h = NULL;
    int error = 0;

    if (https || http) {
        if ((h = osr__strdup(https ? https : http)) == NULL)
            return OSR_ENOMEM;
    }
    if (http || https || no_proxy) {
        error = osr__buf_puts(&b, OSR__NO_PROXY_DEFAULT);
        for (const char *p = no_proxy ? no_proxy : ""; *p && error == 0;) {
            size_t len = strcspn(p, ",");
            const char *item = p;
            /* Trim the spaces people put after commas. */
            while (len && *item == ' ') {
                item++;
                len--;
            }
            while (len && item[len - 1] == ' ')
                len--;
            if (len && !list_has(b.data, item, len)) {
                error = osr__buf_puts(&b, ",");
                if (error == 0)
                    error = osr__buf_append(&b, item, len);
            }
            p += strcspn(p, ",");
            p += *p == ',';
        }
    }
    if (error < 0) {
        free(h);
        osr__buf_free(&b);
        return OSR_ENOMEM;
    }
    *https_out = h;
    *no_proxy_out = b.data ? osr__buf_detach(&b) : NULL;
    return 0;
}

int osr__hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}
