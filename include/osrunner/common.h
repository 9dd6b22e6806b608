/* osrunner: common definitions shared by every public header. */
#ifndef OSRUNNER_COMMON_H
#define OSRUNNER_COMMON_H

#include <stddef.h>

#if defined(__GNUC__)
#define OSR_EXTERN __attribute__((visibility("default")))
#else
#define OSR_EXTERN
#endif

#define OSR_VERSION_MAJOR 0
#define OSR_VERSION_MINOR 1
#define OSR_VERSION_PATCH 0
#define OSR_VERSION       "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Initialise process-wide state (libcurl; and, when jansson still has its
 * default allocator, a free() that wipes each block first, so that no copy
 * of a secret jansson made while parsing or printing is freed unwiped). Call
 * once before any other function and before starting threads.
 * @return 0 or OSR_ERROR
 */
OSR_EXTERN int osr_global_init(void);

/** Release what osr_global_init() acquired. */
OSR_EXTERN void osr_global_shutdown(void);

/** The library's version string, e.g. "0.1.0". */
OSR_EXTERN const char *osr_version(void);

/*
 * Versioned options structs (osr_*_options, osr_image_filter,
 * osr_instance_config): initialise each with its *_INIT macro, which sets
 * .version. Every function that takes one checks the version first; one it
 * does not know is OSR_EINVAL with the message "FUNCTION: STRUCT: unknown
 * version N (known: ...)", and nothing else happens.
 */

/** Free memory that the library handed to the caller (strings). Accepts NULL. */
OSR_EXTERN void osr_free(void *ptr);

/**
 * Wipe (up to its NUL) and free a secret string the library handed to the
 * caller: registration, remove and installation tokens, JIT configs, user
 * data rendered with reveal, a file read with OSR_FILE_SECRET. The one way to
 * free a secret. Accepts NULL.
 */
OSR_EXTERN void osr_secret_free(char *secret);

/** Size of a buffer that holds any osr_quote() of at most 64 characters. */
#define OSR_QUOTE_BUF 300

/**
 * User input made safe to quote in a one-line message: control bytes,
 * backslashes and bytes that are not valid UTF-8 are escaped ("\xff",
 * "\\"); at most max characters are shown, then "...". Writes buf (always
 * NUL-terminated) and returns it.
 */
OSR_EXTERN const char *osr_quote(char *buf, size_t size, const char *s, size_t max);

/** Log levels for the per-handle log hook. */
typedef enum {
    OSR_LOG_NONE = 0,
    OSR_LOG_ERROR = 1,
    OSR_LOG_WARN = 2,
    OSR_LOG_INFO = 3,
    OSR_LOG_DEBUG = 4,
    OSR_LOG_TRACE = 5,
} osr_log_level;

/**
 * Log hook. The message is one line without a trailing newline and never
 * holds a secret: tokens and passwords are redacted before it is formed.
 */
typedef void (*osr_log_cb)(osr_log_level level, const char *msg, void *payload);

#ifdef __cplusplus
}
#endif

#endif
