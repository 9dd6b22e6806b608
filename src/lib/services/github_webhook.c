/* GitHub webhook deliveries: X-Hub-Signature-256 and the workflow_job event
 * (osrunner/webhook.h). The parser is lenient: it needs only what a runner
 * manager uses, so a payload of an older or newer GitHub still parses. */
#include "osrunner/webhook.h"
#include "util.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

#include "osrunner/file.h"

#define SIG_PREFIX "sha256="
#define SIG_HEX    64

struct osr_webhook_event {
    osr_webhook_kind kind;
    char *name;
    osr_webhook_job_action action;
    char *action_name;
    long long job_id, run_id, runner_id;
    char **labels;
    size_t label_count;
    char *runner_name, *conclusion, *repository, *organization;
};

int osr_webhook_verify(const char *header,
                       const void *body,
                       size_t body_len,
                       const void *secret,
                       size_t secret_len,
                       osr_error *err)
{
    unsigned char given[32], mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    const char *hex;
    size_t n;
    int same;

    if (secret == NULL || secret_len == 0)
        return osr__error_set(err, OSR_EINVAL, "webhook: no secret to verify with");
    if (body == NULL && body_len > 0)
        return osr__error_set(err, OSR_EINVAL, "webhook: no body");
    if (secret_len > (size_t)OSR_WEBHOOK_SECRET_MAX)
        return osr__error_set(err, OSR_EINVAL, "webhook: secret longer than %d bytes",
                              OSR_WEBHOOK_SECRET_MAX);
    if (header == NULL || *header == '\0')
        return osr__error_set(err, OSR_EAUTH, "webhook: no X-Hub-Signature-256 header");
    if (strncmp(header, SIG_PREFIX, strlen(SIG_PREFIX)) != 0)
        return osr__error_set(err, OSR_EAUTH,
                              "webhook: X-Hub-Signature-256 does not start with 'sha256='");
    hex = header + strlen(SIG_PREFIX);
    n = strlen(hex);
    if (n != SIG_HEX)
        return osr__error_set(err, OSR_EAUTH,
                              "webhook: X-Hub-Signature-256 has %zu hex digits, not 64", n);
    for (size_t i = 0; i < sizeof(given); i++) {
        int hi = osr__hex_digit(hex[2 * i]), lo = osr__hex_digit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return osr__error_set(err, OSR_EAUTH,
                                  "webhook: X-Hub-Signature-256 is not hexadecimal");
        given[i] = (unsigned char)(hi << 4 | lo);
    }
    if (HMAC(EVP_sha256(), secret, (int)secret_len, body ? body : (const void *)"", body_len, mac,
             &mac_len) == NULL ||
        mac_len != sizeof(given)) {
        osr__secret_wipe(mac, sizeof(mac));
        return osr__error_set(err, OSR_ERROR, "webhook: HMAC-SHA256 failed");
    }
    same = CRYPTO_memcmp(given, mac, sizeof(given)) == 0;
    osr__secret_wipe(mac, sizeof(mac));
    if (!same)
        return osr__error_set(err, OSR_EAUTH,
                              "webhook: X-Hub-Signature-256 does not match the body");
    return 0;
}

int osr_webhook_secret_read(char **out,
                            size_t *len_out,
                            const char *path,
                            osr_log_cb log_cb,
                            void *log_payload,
                            osr_error *err)
{
    char *data = NULL;
    size_t n = 0;
    int error;

    if (out == NULL || path == NULL)
        return osr__error_set(err, OSR_EINVAL, "webhook secret: no file given");
    error = osr_file_read(&data, &n, path, OSR_WEBHOOK_SECRET_MAX, OSR_FILE_SECRET, log_cb,
                          log_payload, err);
    if (error < 0)
        return error;
    while (n > 0 && (data[n - 1] == '\n' || data[n - 1] == '\r' || data[n - 1] == ' ' ||
                     data[n - 1] == '\t'))
        data[--n] = '\0';
    if (n == 0) {
        osr__secret_free(data);
        return osr__error_set(err, OSR_EINVAL, "%s: webhook secret file is empty", path);
    }
    *out = data;
    if (len_out)
        *len_out = n;
    return 0;
}

void osr_webhook_event_free(osr_webhook_event *ev)
{
    if (ev == NULL)
        return;
    for (size_t i = 0; i < ev->label_count; i++)
        free(ev->labels[i]);
    free(ev->labels);
    free(ev->name);
    free(ev->action_name);
    free(ev->runner_name);
    free(ev->conclusion);
    free(ev->repository);
    free(ev->organization);
    free(ev);
}

/* A copy of obj[key] when it is a string; NULL (and 0) when absent or null. */
static int opt_string(char **out, json_t *obj, const char *key, const char *where, osr_error *err)
{
    json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return osr__error_set(err, OSR_EPROTO, "webhook: %s%s: expected a string", where, key);
    if ((*out = osr__strdup(json_string_value(v))) == NULL)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    return 0;
}

static long long opt_int(json_t *obj, const char *key)
{
    json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

static const struct {
    const char *name;
    osr_webhook_job_action action;
} job_actions[] = {
    { "queued", OSR_WEBHOOK_JOB_QUEUED },
    { "in_progress", OSR_WEBHOOK_JOB_IN_PROGRESS },
    { "completed", OSR_WEBHOOK_JOB_COMPLETED },
    { "waiting", OSR_WEBHOOK_JOB_WAITING },
};

static int parse_labels(osr_webhook_event *ev, json_t *labels, osr_error *err)
{
    size_t n;
    if (labels == NULL || json_is_null(labels))
        return 0;
    if (!json_is_array(labels))
        return osr__error_set(err, OSR_EPROTO, "webhook: workflow_job.labels: expected a list");
    n = json_array_size(labels);
    if (n == 0)
        return 0;
    if ((ev->labels = calloc(n, sizeof(*ev->labels))) == NULL)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *l = json_array_get(labels, i);
        if (!json_is_string(l))
            continue;
        if ((ev->labels[ev->label_count] = osr__strdup(json_string_value(l))) == NULL)
            return osr__error_set(err, OSR_ENOMEM, "out of memory");
        ev->label_count++;
    }
    return 0;
}

static int parse_common(osr_webhook_event *ev, json_t *root, osr_error *err)
{
    int error;
    if ((error = opt_string(&ev->repository, json_object_get(root, "repository"), "full_name",
                            "repository.", err)) < 0)
        return error;
    return opt_string(&ev->organization, json_object_get(root, "organization"), "login",
                      "organization.", err);
}

static int parse_job(osr_webhook_event *ev, json_t *root, osr_error *err)
{
    json_t *action = json_object_get(root, "action"), *job = json_object_get(root, "workflow_job");
    json_t *id;
    int error;

    if (!json_is_string(action))
        return osr__error_set(err, OSR_EPROTO, "webhook: workflow_job event: %s 'action'",
                              action ? "not a string:" : "no");
    if (!json_is_object(job))
        return osr__error_set(err, OSR_EPROTO, "webhook: workflow_job event: %s 'workflow_job'",
                              job ? "not an object:" : "no");
    id = json_object_get(job, "id");
    if (!json_is_integer(id) || json_integer_value(id) < 0)
        return osr__error_set(err, OSR_EPROTO, "webhook: workflow_job.id: %s",
                              id ? "expected a non-negative integer" : "missing");
    if ((ev->action_name = osr__strdup(json_string_value(action))) == NULL)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    for (size_t i = 0; i < sizeof(job_actions) / sizeof(job_actions[0]); i++)
        if (strcmp(ev->action_name, job_actions[i].name) == 0)
            ev->action = job_actions[i].action;
    ev->job_id = (long long)json_integer_value(id);
    ev->run_id = opt_int(job, "run_id");
    ev->runner_id = opt_int(job, "runner_id");
    if ((error = parse_labels(ev, json_object_get(job, "labels"), err)) < 0 ||
        (error = opt_string(&ev->runner_name, job, "runner_name", "workflow_job.", err)) < 0 ||
        (error = opt_string(&ev->conclusion, job, "conclusion", "workflow_job.", err)) < 0)
        return error;
    return parse_common(ev, root, err);
}

int osr_webhook_event_parse(osr_webhook_event **out,
                            const char *event_header,
                            const void *body,
                            size_t body_len,
                            osr_error *err)
{
    osr_webhook_event *ev = NULL;
    json_t *root = NULL;
    json_error_t jerr;
    int error = 0;

    if (out == NULL || (body == NULL && body_len > 0))
        return osr__error_set(err, OSR_EINVAL, "webhook: no body");
    if (body_len > (size_t)OSR_WEBHOOK_BODY_MAX)
        return osr__error_set(err, OSR_EINVAL, "webhook: body of %zu bytes is over the %d cap",
                              body_len, OSR_WEBHOOK_BODY_MAX);
    if (event_header == NULL || *event_header == '\0')
        return osr__error_set(err, OSR_EPROTO, "webhook: no X-GitHub-Event header");
    if ((ev = calloc(1, sizeof(*ev))) == NULL)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    ev->job_id = ev->run_id = ev->runner_id = -1;
    if ((ev->name = osr__strdup(event_header)) == NULL) {
        error = osr__error_set(err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    if (strcmp(event_header, "workflow_job") == 0)
        ev->kind = OSR_WEBHOOK_WORKFLOW_JOB;
    else if (strcmp(event_header, "ping") == 0)
        ev->kind = OSR_WEBHOOK_PING;
    else
        goto done; /* not ours to read */
    root = json_loadb(body ? body : "", body_len, 0, &jerr);
    if (root == NULL) {
        error = osr__error_set(err, OSR_EPROTO,
                               "webhook: %s body is not JSON (line %d, column %d: %s); is the "
                               "hook's content type application/json?",
                               ev->name, jerr.line, jerr.column, jerr.text);
        goto done;
    }
    if (!json_is_object(root)) {
        error = osr__error_set(err, OSR_EPROTO, "webhook: %s body is not a JSON object", ev->name);
        goto done;
    }
    error = ev->kind == OSR_WEBHOOK_WORKFLOW_JOB ? parse_job(ev, root, err)
                                                 : parse_common(ev, root, err);
done:
    json_decref(root);
    if (error < 0) {
        osr_webhook_event_free(ev);
        return error;
    }
    *out = ev;
    return 0;
}

osr_webhook_kind osr_webhook_event_kind(const osr_webhook_event *ev)
{
    return ev ? ev->kind : OSR_WEBHOOK_OTHER;
}

const char *osr_webhook_event_name(const osr_webhook_event *ev)
{
    return ev ? ev->name : NULL;
}

osr_webhook_job_action osr_webhook_job_action_of(const osr_webhook_event *ev)
{
    return ev ? ev->action : OSR_WEBHOOK_JOB_UNKNOWN;
}

const char *osr_webhook_job_action_name(const osr_webhook_event *ev)
{
    return ev ? ev->action_name : NULL;
}

long long osr_webhook_job_id(const osr_webhook_event *ev)
{
    return ev ? ev->job_id : -1;
}

long long osr_webhook_job_run_id(const osr_webhook_event *ev)
{
    return ev ? ev->run_id : -1;
}

size_t osr_webhook_job_label_count(const osr_webhook_event *ev)
{
    return ev ? ev->label_count : 0;
}

const char *osr_webhook_job_label(const osr_webhook_event *ev, size_t i)
{
    return ev && i < ev->label_count ? ev->labels[i] : NULL;
}

long long osr_webhook_job_runner_id(const osr_webhook_event *ev)
{
    return ev ? ev->runner_id : -1;
}

const char *osr_webhook_job_runner_name(const osr_webhook_event *ev)
{
    return ev ? ev->runner_name : NULL;
}

const char *osr_webhook_job_conclusion(const osr_webhook_event *ev)
{
    return ev ? ev->conclusion : NULL;
}

const char *osr_webhook_event_repository(const osr_webhook_event *ev)
{
    return ev ? ev->repository : NULL;
}

const char *osr_webhook_event_organization(const osr_webhook_event *ev)
{
    return ev ? ev->organization : NULL;
}
