/* osrunner: GitHub webhook deliveries: the signature (X-Hub-Signature-256)
 * and the workflow_job event. */
#ifndef OSRUNNER_WEBHOOK_H
#define OSRUNNER_WEBHOOK_H

#include "common.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The largest body the parser takes (GitHub caps deliveries at 25 MB; a workflow_job is ~10 KB).
 */
#define OSR_WEBHOOK_BODY_MAX (1024 * 1024)

/** The largest webhook secret file read by osr_webhook_secret_read(). */
#define OSR_WEBHOOK_SECRET_MAX 4096

/**
 * Check a delivery's X-Hub-Signature-256 header: "sha256=" and the 64 hex
 * digits of HMAC-SHA256(secret, body), compared in constant time. Hex digits
 * may be upper or lower case. Neither the secret nor the expected MAC ever
 * appears in a message.
 *
 * @param header the header's value; NULL when the delivery had none
 * @param secret the webhook secret's bytes (not empty)
 * @return 0; OSR_EAUTH (missing, malformed or wrong signature);
 *         OSR_EINVAL (no secret, body NULL with body_len > 0); OSR_ERROR (OpenSSL)
 */
OSR_EXTERN int osr_webhook_verify(const char *header,
                                  const void *body,
                                  size_t body_len,
                                  const void *secret,
                                  size_t secret_len,
                                  osr_error *err);

/**
 * Read a webhook secret from a file, as the CLI reads token files: at most
 * OSR_WEBHOOK_SECRET_MAX bytes, trailing CR, LF, spaces and tabs dropped, a
 * warning through log_cb when group or others may read it. Free *out with
 * osr_secret_free().
 * @return 0, OSR_ENOTFOUND, OSR_EIO, OSR_EINVAL (empty, too large, a NUL byte), OSR_ENOMEM
 */
OSR_EXTERN int osr_webhook_secret_read(char **out,
                                       size_t *len_out,
                                       const char *path,
                                       osr_log_cb log_cb,
                                       void *log_payload,
                                       osr_error *err);

/** What a delivery is, by its X-GitHub-Event header. */
typedef enum osr_webhook_kind {
    OSR_WEBHOOK_OTHER = 0,        /**< any other event: not read further */
    OSR_WEBHOOK_PING = 1,         /**< "ping", sent when a hook is created */
    OSR_WEBHOOK_WORKFLOW_JOB = 2, /**< "workflow_job" */
} osr_webhook_kind;

/** The action of a workflow_job event. */
typedef enum osr_webhook_job_action {
    OSR_WEBHOOK_JOB_UNKNOWN = 0, /**< an action this version does not know (see the string) */
    OSR_WEBHOOK_JOB_QUEUED = 1,
    OSR_WEBHOOK_JOB_IN_PROGRESS = 2,
    OSR_WEBHOOK_JOB_COMPLETED = 3,
    OSR_WEBHOOK_JOB_WAITING = 4, /**< waiting on a deployment protection rule */
} osr_webhook_job_action;

/** A parsed delivery. Opaque; free with osr_webhook_event_free(). */
typedef struct osr_webhook_event osr_webhook_event;

/**
 * Parse a delivery's body by its X-GitHub-Event header. A workflow_job needs
 * a JSON object with "action" (a string) and "workflow_job" with an integer
 * "id"; every other field is optional and unknown ones are ignored. A ping
 * needs a JSON object. Other events are not parsed at all (the body may be
 * anything): their kind is OSR_WEBHOOK_OTHER with the header's name.
 *
 * @param out set on success only
 * @param event_header X-GitHub-Event's value (NULL or empty: OSR_EPROTO)
 * @return 0; OSR_EPROTO (no event name, not JSON, a required field missing or
 *         of the wrong type: the message names it); OSR_EINVAL (larger than
 *         OSR_WEBHOOK_BODY_MAX); OSR_ENOMEM
 */
OSR_EXTERN int osr_webhook_event_parse(osr_webhook_event **out,
                                       const char *event_header,
                                       const void *body,
                                       size_t body_len,
                                       osr_error *err);

OSR_EXTERN void osr_webhook_event_free(osr_webhook_event *ev);

OSR_EXTERN osr_webhook_kind osr_webhook_event_kind(const osr_webhook_event *ev);
/** The X-GitHub-Event name as given ("workflow_job", "ping", "push"...; borrowed). */
OSR_EXTERN const char *osr_webhook_event_name(const osr_webhook_event *ev);

/* workflow_job fields (other kinds: UNKNOWN, NULL, -1 or 0). Strings are
 * borrowed from the event; NULL when absent or null in the payload. */
OSR_EXTERN osr_webhook_job_action osr_webhook_job_action_of(const osr_webhook_event *ev);
/** The action as sent ("queued"...). */
OSR_EXTERN const char *osr_webhook_job_action_name(const osr_webhook_event *ev);
/** workflow_job.id; -1 for other kinds. */
OSR_EXTERN long long osr_webhook_job_id(const osr_webhook_event *ev);
/** workflow_job.run_id, or -1. */
OSR_EXTERN long long osr_webhook_job_run_id(const osr_webhook_event *ev);
/** workflow_job.labels (the runs-on labels); strings that are not strings are skipped. */
OSR_EXTERN size_t osr_webhook_job_label_count(const osr_webhook_event *ev);
OSR_EXTERN const char *osr_webhook_job_label(const osr_webhook_event *ev, size_t i);
/** workflow_job.runner_id (-1 when null or absent) and runner_name. */
OSR_EXTERN long long osr_webhook_job_runner_id(const osr_webhook_event *ev);
OSR_EXTERN const char *osr_webhook_job_runner_name(const osr_webhook_event *ev);
/** workflow_job.conclusion ("success"...), NULL until completed. */
OSR_EXTERN const char *osr_webhook_job_conclusion(const osr_webhook_event *ev);
/** repository.full_name ("octo/hello"), for workflow_job and ping. */
OSR_EXTERN const char *osr_webhook_event_repository(const osr_webhook_event *ev);
/** organization.login, for workflow_job and ping. */
OSR_EXTERN const char *osr_webhook_event_organization(const osr_webhook_event *ev);

#ifdef __cplusplus
}
#endif

#endif
