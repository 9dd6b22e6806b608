/* osrunner: error codes and the caller-visible error record. */
#ifndef OSRUNNER_ERROR_H
#define OSRUNNER_ERROR_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Error codes. Every function returns 0 or one of these (negative). Values
 * are stable: new codes are only ever appended.
 */
typedef enum {
    OSR_OK = 0,
    OSR_ERROR = -1,         /**< unexpected; see the message */
    OSR_ENOMEM = -2,        /**< out of memory */
    OSR_EINVAL = -3,        /**< bad argument */
    OSR_ECONFIG = -4,       /**< clouds.yaml or other config: file:line:col in message */
    OSR_ENET = -5,          /**< DNS, connect, TLS, or the connection dropped */
    OSR_ETIMEOUT = -6,      /**< a timeout ran out */
    OSR_EAUTH = -7,         /**< 401, or authentication failed */
    OSR_EFORBIDDEN = -8,    /**< 403 */
    OSR_ENOTFOUND = -9,     /**< 404, unknown cloud or resource */
    OSR_ECONFLICT = -10,    /**< 409 */
    OSR_ERATELIMIT = -11,   /**< 429 */
    OSR_ESERVER = -12,      /**< 5xx */
    OSR_EPROTO = -13,       /**< the answer is not what the API promises */
    OSR_EIO = -14,          /**< local file system error */
    OSR_EREQUEST = -15,     /**< other 4xx: the server refused the request */
    OSR_EAMBIGUOUS = -16,   /**< a name matches several resources; the message lists them */
    OSR_ELAUNCH = -17,      /**< a server could not be launched; it was cleaned up */
    OSR_EINTEGRITY = -18,   /**< local data failed a check: checksum mismatch, wrong format */
    OSR_EINTERRUPTED = -19, /**< stopped by a signal (SIGINT, SIGTERM); cleaned up */
    OSR_EEXISTS = -20,      /**< something of ours with that name already exists */
    OSR_ELEFT = -21,        /**< a resource could not be cleaned up; the message names it */
} osr_error_code;

/** Size of the message buffer in osr_error, including the terminating NUL. */
#define OSR_ERROR_MESSAGE_MAX 512

/**
 * What went wrong, in one record. Functions that run before a handle exists
 * take a caller-owned osr_error; handles keep their own (see *_last_error).
 * The message is one line, names the file and line or the field where one
 * is at fault, and never holds a secret.
 */
typedef struct osr_error {
    int code;                            /**< osr_error_code */
    int http_status;                     /**< HTTP status, 0 if there was no answer */
    char request_id[72];                 /**< the server's request id, "" if none */
    char message[OSR_ERROR_MESSAGE_MAX]; /**< one line, no trailing newline */
} osr_error;

/** Reset an error record to "no error". */
OSR_EXTERN void osr_error_clear(osr_error *err);

/** A short stable name for a code, e.g. "auth" for OSR_EAUTH. */
OSR_EXTERN const char *osr_error_name(int code);

#ifdef __cplusplus
}
#endif

#endif
