/* Internal utilities: errors, strings, buffers, secrets. Not installed. */
#ifndef OSR_LIB_UTIL_H
#define OSR_LIB_UTIL_H

#include "osrunner/error.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define OSR__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define OSR__PRINTF(a, b)
#endif

/* Fill err (may be NULL) with code and a formatted one-line message; returns code. */
int osr__error_set(osr_error *err, int code, const char *fmt, ...) OSR__PRINTF(3, 4);
int osr__error_setv(osr_error *err, int code, const char *fmt, va_list ap) OSR__PRINTF(3, 0);
/* Prefix the message already in err with "prefix: ". Returns err->code. */
int osr__error_prefix(osr_error *err, const char *fmt, ...) OSR__PRINTF(2, 3);

/* The version check of a versioned options struct, the same at every entry
 * point: 0 when min <= version <= max, else OSR_EINVAL with the one-line
 * "FUNC: TYPE: unknown version V (known: MIN to MAX)". */
int osr__version_check(osr_error *err,
                       const char *func,
                       const char *type,
                       unsigned int version,
                       unsigned int min,
                       unsigned int max);

/* Allocation helpers: NULL on failure, like their libc twins. */
char *osr__strdup(const char *s);
char *osr__strndup(const char *s, size_t n);
char *osr__sprintf(const char *fmt, ...) OSR__PRINTF(1, 2);

/* Wipe then free memory that held a secret. Accepts NULL. */
void osr__secret_free(char *s);
void osr__secret_wipe(void *p, size_t n);

/* Secrets in jansson values (where the caller owns the whole tree, about to
 * json_decref() it): every string of j is overwritten in place. */
struct json_t;
void osr__json_wipe(struct json_t *j);
/* json_dumps() into a buffer of our own that is wiped whenever it grows, so
 * no copy of a secret is freed unwiped; free with osr__secret_free(). NULL
 * on failure. */
char *osr__json_dumps_secret(const struct json_t *j, size_t flags);

/* A growable byte buffer with a hard size cap; always NUL-terminated. */
typedef struct osr__buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max; /* 0: no cap */
} osr__buf;

#define OSR__BUF_INIT \
    {                 \
        NULL, 0, 0, 0 \
    }

/* Returns 0, OSR_ENOMEM, or OSR_EPROTO when the cap would be exceeded. */
int osr__buf_append(osr__buf *b, const void *data, size_t len);
int osr__buf_puts(osr__buf *b, const char *s);
int osr__buf_printf(osr__buf *b, const char *fmt, ...) OSR__PRINTF(2, 3);
void osr__buf_reset(osr__buf *b);
void osr__buf_free(osr__buf *b);
/* Wipe and free (the buffer held a secret). */
void osr__buf_free_secret(osr__buf *b);
/* Hand over ownership of the data; the buffer is left empty. */
char *osr__buf_detach(osr__buf *b);

/* True if s looks like a UUID (with or without dashes): an id, not a name. */
bool osr__looks_like_uuid(const char *s);

/* The value of a hexadecimal (or decimal) digit, any case, or -1. */
int osr__hex_digit(char c);

/* Case-insensitive prefix test. */
bool osr__startswith_ci(const char *s, const char *prefix);

/* Current time in milliseconds, monotonic and wall clock. */
int64_t osr__now_ms_monotonic(void);
int64_t osr__now_s_wall(void);
int64_t osr__now_ms_wall(void);

/* Parse an ISO 8601 / RFC 3339 UTC timestamp ("2026-01-02T03:04:05[.ffffff]Z" or with an
 * offset "+01:00"/"-08:00"). Returns 0 and sets *out (seconds since the epoch), or -1. */
int osr__parse_timestamp(int64_t *out, const char *s);

/* User input made safe to quote in a one-line message: control bytes,
 * backslashes and bytes that are not valid UTF-8 are escaped (\xff, \\);
 * at most max characters are shown, then "...". Writes buf (always
 * NUL-terminated) and returns it. */
#define OSR__QUOTE_MAX 256
const char *osr__quote(char *buf, size_t size, const char *s, size_t max);

/* The proxy settings a VM gets, from what the user gave: HTTPS defaults to
 * the HTTP proxy (GitHub is all HTTPS), and once any proxy is set, NO_PROXY
 * starts with localhost, 127.0.0.1 and 169.254.169.254 (the metadata
 * service), then the user's entries that are not among them. Each out is a
 * new string or NULL (nothing to set). 0 or OSR_ENOMEM; outs untouched on
 * failure. */
#define OSR__NO_PROXY_DEFAULT "localhost,127.0.0.1,169.254.169.254"
int osr__proxy_effective(char **https_out,
                         char **no_proxy_out,
                         const char *http,
                         const char *https,
                         const char *no_proxy);

/* SHA-256 of data as 64 lowercase hex characters plus NUL. */
int osr__sha256_hex(char out[65], const void *data, size_t len);

#endif
