/* Launching runner instances: resolve everything first, then create, tag,
 * wait and clean up every instance at once as callbacks of the session's one
 * HTTP engine. jansson ownership: parse/pack results are owned, *_get is
 * borrowed, the *_new setters steal. */
#include "osrunner/runner.h"

#include "nova.h"
#include "osrunner/glance.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#define CREATE_ATTEMPTS   5
#define DELETE_TIMEOUT_MS 180000
#define POLL_FIRST_MS     500
#define POLL_MAX_MS       3000

enum state { ST_CREATE, ST_LOOKUP, ST_TAG, ST_WAIT, ST_FAULT, ST_DELETE, ST_GONE, ST_DONE };

struct batch;

typedef struct inst {
    struct batch *b;
    size_t index;
    const osr_instance_config *cfg;
    enum state state;
    char *body; /* POST /servers body; holds the user data: secret */
    char *tags_body;
    char launch_id[33];
    char *server_id;
    osr_server *server; /* the outcome on success */
    osr_error err;      /* the outcome on failure */
    char reason[OSR_ERROR_MESSAGE_MAX];
    int attempts;
    int fault_reads;
    long delay_ms;
    int64_t delete_deadline;
    char *url;
    osr__http_response resp;
    osr_error req_err;
} inst;

typedef struct batch {
    osr_session *s;
    osr__nova nova;
    inst *items;
    size_t n;
    char batch_tag[64];
    bool tags_at_create;
    const osr_launch_options *opts;
    int64_t deadline;
    /* the shared poll of every waiting instance */
    bool poll_queued;
    long poll_delay;
    int poll_failures;
    char *poll_url;
    osr__http_response poll_resp;
    osr_error poll_err;
} batch;

struct osr_launch_batch {
    size_t n;
    osr_server **servers;
    osr_error *errors;
};

static void progress(inst *it, const char *what)
{
    const osr_launch_options *o = it->b->opts;
    if (o->progress)
        o->progress(it->index, it->cfg->name, what, o->payload);
}

static void random_hex(char *out, size_t bytes)
{
    unsigned char r[32];
    static const char hex[] = "0123456789abcdef";
    if (bytes > sizeof(r))
        bytes = sizeof(r);
    if (RAND_bytes(r, (int)bytes) != 1) {
        /* No entropy is a broken machine; still keep ids distinct in this process. */
        static unsigned long counter;
        for (size_t i = 0; i < bytes; i++)
            r[i] = (unsigned char)((uintptr_t)out >> (i % 8) ^ ++counter);
    }
    for (size_t i = 0; i < bytes; i++) {
        out[2 * i] = hex[r[i] >> 4];
        out[2 * i + 1] = hex[r[i] & 15];
    }
    out[2 * bytes] = '\0';
}

/* ---------------------------------------------------------------- requests */

static void submit(inst *it,
                   const char *method,
                   char *url, /* taken */
                   const char *body,
                   bool idempotent,
                   long delay_ms,
                   osr__http_done_cb cb);

static void finish_ok(inst *it, json_t *server_obj);
static void finish_failed(inst *it);
static void start_delete(inst *it, const char *fmt, ...) OSR__PRINTF(2, 3);
static void queue_poll(batch *b);

static void fail_now(inst *it, const osr_error *e)
{
    it->err = *e;
    if (it->err.code == 0)
        it->err.code = OSR_ERROR;
    finish_failed(it);
}

static bool transient(int code)
{
    return code == OSR_ENET || code == OSR_ETIMEOUT || code == OSR_ESERVER;
}

static void on_create(int error, void *payload);
static void on_lookup(int error, void *payload);

static void send_create(inst *it, long delay_ms)
{
    it->state = ST_CREATE;
    it->attempts++;
    progress(it, it->attempts > 1 ? "creating (again)" : "creating");
    /* Never idempotent for the engine: a create that may have gone through
     * is looked up first (on_create), never blindly repeated. */
    submit(it, "POST", osr__sprintf("%s/servers", it->b->nova.base), it->body, false, delay_ms,
           on_create);
}

static void enter_wait(inst *it)
{
    it->state = ST_WAIT;
    progress(it, "building");
    queue_poll(it->b);
}

static void on_tag(int error, void *payload)
{
    inst *it = payload;
    if (error < 0) {
        start_delete(it, "could not tag server %s: %s", it->server_id, it->req_err.message);
        return;
    }
    if (it->b->opts->wait)
        enter_wait(it);
    else
        finish_ok(it, NULL);
}

static void created(inst *it)
{
    if (!it->b->tags_at_create) {
        it->state = ST_TAG;
        submit(it, "PUT", osr__sprintf("%s/servers/%s/tags", it->b->nova.base, it->server_id),
               it->tags_body, true, 0, on_tag);
        return;
    }
    if (it->b->opts->wait)
        enter_wait(it);
    else
        finish_ok(it, NULL);
}

static void on_create(int error, void *payload)
{
    inst *it = payload;
    if (error == 0) {
        json_t *root = json_loadb(it->resp.body.data, it->resp.body.len, 0, NULL);
        const char *id = json_string_value(json_object_get(json_object_get(root, "server"), "id"));
        it->server_id = id ? osr__strdup(id) : NULL;
        json_decref(root);
        if (it->server_id == NULL) {
            osr__error_set(&it->err, OSR_EPROTO, "nova: the create answer has no server id");
            finish_failed(it);
            return;
        }
        created(it);
        return;
    }
    if (transient(error)) {
        /* It may have been created all the same: look for our launch id. */
        osr__buf re = OSR__BUF_INIT;
        char *esc;
        osr__buf_printf(&re, "^%s$", it->cfg->name); /* names are [A-Za-z0-9._-] */
        esc = re.data ? curl_easy_escape(NULL, re.data, 0) : NULL;
        osr__buf_free(&re);
        it->state = ST_LOOKUP;
        snprintf(it->reason, sizeof(it->reason), "%s", it->req_err.message);
        submit(it, "GET",
               esc ? osr__sprintf("%s/servers/detail?name=%s", it->b->nova.base, esc) : NULL, NULL,
               true, osr__http_backoff_ms(it->attempts, 0.5), on_lookup);
        curl_free(esc);
        return;
    }
    if (error == OSR_ECONFLICT && it->attempts < CREATE_ATTEMPTS) {
        /* 409: Nova refused it, so nothing was created; try again later. */
        send_create(it, osr__http_backoff_ms(it->attempts, 0.5));
        return;
    }
    fail_now(it, &it->req_err);
}

static void on_lookup(int error, void *payload)
{
    inst *it = payload;
    json_t *root, *servers, *sv;
    size_t i;

    if (error < 0) {
        osr__error_set(&it->err, error,
                       "create of %s failed (%s) and the lookup failed too (%s); it may exist",
                       it->cfg->name, it->reason, it->req_err.message);
        finish_failed(it);
        return;
    }
    root = json_loadb(it->resp.body.data, it->resp.body.len, 0, NULL);
    servers = json_object_get(root, "servers");
    json_array_foreach(servers, i, sv)
    {
        const char *lid =
            json_string_value(json_object_get(json_object_get(sv, "metadata"), "osrunner-launch"));
        const char *id = json_string_value(json_object_get(sv, "id"));
        if (lid && id && strcmp(lid, it->launch_id) == 0) {
            it->server_id = osr__strdup(id);
            break;
        }
    }
    json_decref(root);
    if (it->server_id) {
        created(it);
    } else if (it->attempts < CREATE_ATTEMPTS) {
        send_create(it, 0);
    } else {
        osr__error_set(&it->err, OSR_ELAUNCH, "could not create %s after %d attempts: %s",
                       it->cfg->name, it->attempts, it->reason);
        finish_failed(it);
    }
}

/* ---------------------------------------------------------------- polling */

/* A server that is still only a build request (not yet in a cell) is missing
 * from a tag-filtered list, so absence means "not yet", never "gone"; the
 * deadline bounds it. */

static void on_poll(int error, void *payload);
static void on_fault(int error, void *payload);

/* Nova sets ERROR before it records the fault: read the server itself, a
 * few times if need be, to report why. */
static void fetch_fault(inst *it, long delay_ms)
{
    it->state = ST_FAULT;
    submit(it, "GET", osr__sprintf("%s/servers/%s", it->b->nova.base, it->server_id), NULL, true,
           delay_ms, on_fault);
}

static void on_fault(int error, void *payload)
{
    inst *it = payload;
    const char *fault = NULL;
    json_t *root = NULL;

    if (error == 0) {
        root = json_loadb(it->resp.body.data, it->resp.body.len, 0, NULL);
        fault = json_string_value(
            json_object_get(json_object_get(json_object_get(root, "server"), "fault"), "message"));
    }
    if (fault == NULL && error == 0 && ++it->fault_reads < 4) {
        json_decref(root);
        fetch_fault(it, 250L * it->fault_reads);
        return;
    }
    start_delete(it, "server %s went to ERROR: %s", it->server_id,
                 fault ? fault : "Nova gave no reason");
    json_decref(root);
}

static void queue_poll(batch *b)
{
    osr__http_request req;
    if (b->poll_queued)
        return;
    b->poll_queued = true;
    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.url = b->poll_url;
    req.idempotent = true;
    req.headers = b->nova.headers;
    req.token = osr__session_token(b->s);
    memset(&b->poll_resp, 0, sizeof(b->poll_resp));
    osr_error_clear(&b->poll_err);
    if (osr__http_submit(osr__session_http(b->s), &req, b->poll_delay, &b->poll_resp, &b->poll_err,
                         on_poll, b) < 0) {
        b->poll_queued = false;
        for (size_t i = 0; i < b->n; i++) {
            if (b->items[i].state == ST_WAIT)
                start_delete(&b->items[i], "cannot poll: out of memory");
        }
    }
    b->poll_delay = b->poll_delay * 3 / 2 > POLL_MAX_MS ? POLL_MAX_MS : b->poll_delay * 3 / 2;
}

static void on_poll(int error, void *payload)
{
    batch *b = payload;
    json_t *root = NULL, *servers;
    bool any_waiting = false, timed_out = osr__now_ms_monotonic() > b->deadline;

    b->poll_queued = false;
    if (error < 0) {
        /* The engine already retried transient errors; a few more polls may still
         * get through, but not forever. */
        if (++b->poll_failures >= 5) {
            for (size_t i = 0; i < b->n; i++) {
                if (b->items[i].state == ST_WAIT)
                    start_delete(&b->items[i], "cannot follow the build: %s", b->poll_err.message);
            }
        }
    } else {
        b->poll_failures = 0;
        root = json_loadb(b->poll_resp.body.data, b->poll_resp.body.len, 0, NULL);
    }
    osr__http_response_free(&b->poll_resp);
    servers = json_object_get(root, "servers");
    for (size_t i = 0; i < b->n; i++) {
        inst *it = &b->items[i];
        json_t *sv, *found = NULL;
        size_t j;
        const char *status;

        if (it->state != ST_WAIT)
            continue;
        json_array_foreach(servers, j, sv)
        {
            const char *id = json_string_value(json_object_get(sv, "id"));
            if (id && strcmp(id, it->server_id) == 0)
                found = sv;
        }
        status = found ? json_string_value(json_object_get(found, "status")) : NULL;
        if (status && strcmp(status, "ACTIVE") == 0) {
            finish_ok(it, found);
        } else if (status && strcmp(status, "ERROR") == 0) {
            fetch_fault(it, 0);
        } else if (timed_out) {
            start_delete(it, "server %s did not become ACTIVE within %ld s (status %s)",
                         it->server_id, b->opts->timeout_s > 0 ? b->opts->timeout_s : 600,
                         status ? status : "unknown");
        } else {
            any_waiting = true;
        }
    }
    json_decref(root);
    if (any_waiting)
        queue_poll(b);
}

/* ---------------------------------------------------------------- cleanup */

static void on_gone(int error, void *payload);

static void on_delete(int error, void *payload)
{
    inst *it = payload;
    if (error < 0 && error != OSR_ENOTFOUND) {
        osr__error_set(&it->err, OSR_ELAUNCH, "%s; deleting it failed: %s (server %s is LEFT)",
                       it->reason, it->req_err.message, it->server_id);
        finish_failed(it);
        return;
    }
    it->state = ST_GONE;
    it->delay_ms = 250;
    submit(it, "GET", osr__sprintf("%s/servers/%s", it->b->nova.base, it->server_id), NULL, true,
           it->delay_ms, on_gone);
}

static void on_gone(int error, void *payload)
{
    inst *it = payload;
    if (error == OSR_ENOTFOUND) {
        progress(it, "deleted");
        osr__error_set(&it->err, OSR_ELAUNCH, "%s; the server was deleted", it->reason);
        finish_failed(it);
        return;
    }
    if (osr__now_ms_monotonic() > it->delete_deadline) {
        osr__error_set(&it->err, OSR_ELAUNCH, "%s; server %s is still there after %d s (LEFT)",
                       it->reason, it->server_id, DELETE_TIMEOUT_MS / 1000);
        finish_failed(it);
        return;
    }
    it->delay_ms = it->delay_ms * 3 / 2 > POLL_MAX_MS ? POLL_MAX_MS : it->delay_ms * 3 / 2;
    submit(it, "GET", osr__sprintf("%s/servers/%s", it->b->nova.base, it->server_id), NULL, true,
           it->delay_ms, on_gone);
}

static void start_delete(inst *it, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(it->reason, sizeof(it->reason), fmt, ap);
    va_end(ap);
    it->state = ST_DELETE;
    it->delete_deadline = osr__now_ms_monotonic() + DELETE_TIMEOUT_MS;
    progress(it, "failed; deleting");
    submit(it, "DELETE", osr__sprintf("%s/servers/%s", it->b->nova.base, it->server_id), NULL, true,
           0, on_delete);
}

/* ---------------------------------------------------------------- outcomes */

static void finish_ok(inst *it, json_t *server_obj)
{
    json_t *obj = server_obj ? json_incref(server_obj)
                             : json_pack("{s:s,s:s,s:s}", "id", it->server_id, "name",
                                         it->cfg->name, "status", "BUILD");
    if (obj == NULL || osr__server_from_json(&it->server, obj, &it->err) < 0) {
        json_decref(obj);
        if (it->err.code == 0)
            osr__error_set(&it->err, OSR_ENOMEM, "out of memory");
        finish_failed(it);
        return;
    }
    json_decref(obj);
    it->state = ST_DONE;
    progress(it, server_obj ? "active" : "created");
}

static void finish_failed(inst *it)
{
    it->state = ST_DONE;
    if (it->err.code == 0)
        it->err.code = OSR_ELAUNCH;
    progress(it, "failed");
}

static void submit(inst *it,
                   const char *method,
                   char *url,
                   const char *body,
                   bool idempotent,
                   long delay_ms,
                   osr__http_done_cb cb)
{
    osr__http_request req;

    free(it->url);
    it->url = url;
    osr__http_response_free(&it->resp);
    osr_error_clear(&it->req_err);
    if (url == NULL) {
        osr__error_set(&it->err, OSR_ENOMEM, "out of memory");
        if (it->server_id && it->state != ST_DELETE && it->state != ST_GONE)
            osr__error_set(&it->err, OSR_ENOMEM, "out of memory; server %s is LEFT", it->server_id);
        finish_failed(it);
        return;
    }
    memset(&req, 0, sizeof(req));
    req.method = method;
    req.url = url;
    req.body = body;
    req.body_len = body ? strlen(body) : 0;
    req.idempotent = idempotent;
    req.headers = it->b->nova.headers;
    req.token = osr__session_token(it->b->s);
    if (osr__http_submit(osr__session_http(it->b->s), &req, delay_ms, &it->resp, &it->req_err, cb,
                         it) < 0) {
        osr__error_set(&it->err, OSR_ENOMEM, "out of memory");
        finish_failed(it);
    }
}

/* ---------------------------------------------------------------- set-up */

/* One resolved name, shared by every instance that uses it. */
typedef struct resolved {
    const char *kind, *name;
    char *id;
} resolved;

typedef struct resolver {
    resolved *items;
    size_t n, cap;
} resolver;

static int resolve(const char **out,
                   resolver *r,
                   osr_session *s,
                   const osr__nova *nova,
                   const char *kind,
                   const char *name)
{
    char *id = NULL;
    int error;

    for (size_t i = 0; i < r->n; i++) {
        if (strcmp(r->items[i].kind, kind) == 0 && strcmp(r->items[i].name, name) == 0) {
            *out = r->items[i].id;
            return 0;
        }
    }
    if (strcmp(kind, "image") == 0) {
        osr_image *img = NULL;
        if ((error = osr_image_find(&img, s, name)) < 0)
            return error;
        id = osr__strdup(osr_image_id(img));
        osr_image_free(img);
    } else if (strcmp(kind, "flavor") == 0) {
        if ((error = osr__nova_flavor_resolve(&id, s, nova, name)) < 0)
            return error;
    } else if (strcmp(kind, "keypair") == 0) {
        if ((error = osr__nova_keypair_check(s, nova, name)) < 0)
            return error;
        id = osr__strdup(name);
    } else {
        if ((error = osr__neutron_resolve(&id, s, kind, name)) < 0)
            return error;
    }
    if (id == NULL)
        return osr__error_set(osr__session_err(s), OSR_ENOMEM, "out of memory");
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 8;
        resolved *items = realloc(r->items, cap * sizeof(*items));
        if (items == NULL) {
            free(id);
            return osr__error_set(osr__session_err(s), OSR_ENOMEM, "out of memory");
        }
        r->items = items;
        r->cap = cap;
    }
    r->items[r->n].kind = kind;
    r->items[r->n].name = name;
    r->items[r->n].id = id;
    *out = r->items[r->n++].id;
    return 0;
}

static char *base64(const char *data)
{
    size_t n = strlen(data);
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    if (out)
        EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)data, (int)n);
    return out;
}

static json_t *ownership_tags(const batch *b, const osr_instance_config *cfg)
{
    char manager[64];
    snprintf(manager, sizeof(manager), "osrunner-manager=%s",
             cfg->manager ? cfg->manager : "osrunner");
    return json_pack("[s,s,s]", OSR_MANAGED_BY_KEY "=" OSR_MANAGED_BY_VALUE, manager, b->batch_tag);
}

static int build_body(inst *it, resolver *r)
{
    batch *b = it->b;
    const osr_instance_config *cfg = it->cfg;
    osr_session *s = b->s;
    osr_error *err = osr__session_err(s);
    const char *image, *flavor, *id;
    char *ud = NULL, *ud64 = NULL;
    osr__buf labels = OSR__BUF_INIT;
    json_t *server = NULL, *root = NULL, *meta, *tags;
    int error;

    if ((error = resolve(&image, r, s, &b->nova, "image", cfg->image)) < 0 ||
        (error = resolve(&flavor, r, s, &b->nova, "flavor", cfg->flavor)) < 0)
        return error;
    if ((error = osr_instance_user_data(&ud, cfg, 1, err)) < 0)
        return error;
    ud64 = base64(ud);
    osr__secret_free(ud);
    for (size_t i = 0; cfg->labels[i]; i++)
        osr__buf_printf(&labels, "%s%s", i ? "," : "", cfg->labels[i]);
    meta = json_pack("{s:s,s:s,s:s,s:s,s:s}", OSR_MANAGED_BY_KEY, OSR_MANAGED_BY_VALUE,
                     "osrunner-manager", cfg->manager ? cfg->manager : "osrunner",
                     "osrunner-runner", cfg->name, "osrunner-labels",
                     labels.data ? labels.data : "", "osrunner-launch", it->launch_id);
    server = json_pack("{s:s,s:s,s:s,s:s?,s:o?}", "name", cfg->name, "imageRef", image, "flavorRef",
                       flavor, "user_data", ud64, "metadata", meta);
    osr__buf_free(&labels);
    if (server == NULL || ud64 == NULL) {
        error = osr__error_set(err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; cfg->metadata && cfg->metadata[i]; i++) {
        const char *eq = strchr(cfg->metadata[i], '=');
        char *key = osr__strndup(cfg->metadata[i], (size_t)(eq - cfg->metadata[i]));
        if (key)
            json_object_set_new(meta, key, json_string(eq + 1));
        free(key);
    }
    if (cfg->network == NULL || strcmp(cfg->network, "none") == 0 ||
        strcmp(cfg->network, "auto") == 0) {
        json_object_set_new(server, "networks", json_string(cfg->network ? cfg->network : "none"));
    } else {
        if ((error = resolve(&id, r, s, &b->nova, "network", cfg->network)) < 0)
            goto done;
        json_object_set_new(server, "networks", json_pack("[{s:s}]", "uuid", id));
    }
    if (cfg->key_name) {
        if ((error = resolve(&id, r, s, &b->nova, "keypair", cfg->key_name)) < 0)
            goto done;
        json_object_set_new(server, "key_name", json_string(id));
    }
    if (cfg->security_groups && cfg->security_groups[0]) {
        json_t *sgs = json_array();
        json_object_set_new(server, "security_groups", sgs);
        for (size_t i = 0; cfg->security_groups[i]; i++) {
            if ((error = resolve(&id, r, s, &b->nova, "security group", cfg->security_groups[i])) <
                0)
                goto done;
            json_array_append_new(sgs, json_pack("{s:s}", "name", id));
        }
    }
    if (cfg->availability_zone)
        json_object_set_new(server, "availability_zone", json_string(cfg->availability_zone));
    if (cfg->config_drive)
        json_object_set_new(server, "config_drive", json_true());
    tags = ownership_tags(b, cfg);
    if (b->tags_at_create) {
        json_object_set_new(server, "tags", tags);
    } else {
        json_t *tb = json_pack("{s:o}", "tags", tags);
        it->tags_body = tb ? json_dumps(tb, JSON_COMPACT) : NULL;
        json_decref(tb);
    }
    root = json_pack("{s:O}", "server", server);
    it->body = root ? json_dumps(root, JSON_COMPACT) : NULL;
    if (it->body == NULL || (!b->tags_at_create && it->tags_body == NULL))
        error = osr__error_set(err, OSR_ENOMEM, "out of memory");
done:
    json_decref(server);
    json_decref(root);
    osr__secret_free(ud64);
    return error;
}

void osr_launch_batch_free(osr_launch_batch *lb)
{
    if (lb == NULL)
        return;
    for (size_t i = 0; i < lb->n; i++)
        osr_server_free(lb->servers[i]);
    free(lb->servers);
    free(lb->errors);
    free(lb);
}

size_t osr_launch_batch_count(const osr_launch_batch *lb)
{
    return lb ? lb->n : 0;
}

const osr_server *osr_launch_batch_server(const osr_launch_batch *lb, size_t i)
{
    return (lb && i < lb->n) ? lb->servers[i] : NULL;
}

const osr_error *osr_launch_batch_error(const osr_launch_batch *lb, size_t i)
{
    return (lb && i < lb->n) ? &lb->errors[i] : NULL;
}

static void batch_clear(batch *b)
{
    for (size_t i = 0; b->items && i < b->n; i++) {
        inst *it = &b->items[i];
        osr__secret_free(it->body);
        free(it->tags_body);
        free(it->server_id);
        free(it->url);
        osr_server_free(it->server);
        osr__http_response_free(&it->resp);
    }
    free(b->items);
    free(b->poll_url);
    osr__http_response_free(&b->poll_resp);
    osr__nova_close(&b->nova);
}

int osr_instance_launch_many(osr_launch_batch **out,
                             osr_session *s,
                             const osr_instance_config *const *configs,
                             size_t n,
                             const osr_launch_options *opts)
{
    osr_launch_options defaults = OSR_LAUNCH_OPTIONS_INIT;
    osr_error *err = osr__session_error(s);
    osr_launch_batch *lb = NULL;
    resolver r = { NULL, 0, 0 };
    batch b;
    char bid[33], *esc = NULL;
    int error = 0, failed = 0;

    memset(&b, 0, sizeof(b));
    if (opts == NULL)
        opts = &defaults;
    if (out == NULL || configs == NULL || n == 0)
        return osr__error_set(err, OSR_EINVAL, "launch: nothing to launch");
    /* Everything that can fail without a server fails before the first create. */
    for (size_t i = 0; i < n; i++) {
        if ((error = osr_instance_config_validate(configs[i], err)) < 0) {
            if (n > 1)
                osr__error_prefix(err, "instance %zu", i + 1);
            return error;
        }
    }
    b.s = s;
    b.n = n;
    b.opts = opts;
    b.poll_delay = POLL_FIRST_MS;
    if ((error = osr_session_authenticate(s)) < 0 || (error = osr__nova_open(&b.nova, s)) < 0)
        return error;
    b.tags_at_create = b.nova.minor >= 52;
    random_hex(bid, 16);
    snprintf(b.batch_tag, sizeof(b.batch_tag), "osrunner-launch=%s", bid);
    esc = curl_easy_escape(NULL, b.batch_tag, 0);
    b.poll_url = esc ? osr__sprintf("%s/servers/detail?tags=%s", b.nova.base, esc) : NULL;
    curl_free(esc);
    b.items = calloc(n, sizeof(*b.items));
    if (b.items == NULL || b.poll_url == NULL) {
        error = osr__error_set(err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        inst *it = &b.items[i];
        it->b = &b;
        it->index = i;
        it->cfg = configs[i];
        random_hex(it->launch_id, 16);
        if ((error = build_body(it, &r)) < 0) {
            if (n > 1)
                osr__error_prefix(err, "instance %zu (%s)", i + 1, configs[i]->name);
            goto done;
        }
    }

    b.deadline = osr__now_ms_monotonic() + (opts->timeout_s > 0 ? opts->timeout_s : 600) * 1000;
    for (size_t i = 0; i < n; i++)
        send_create(&b.items[i], 0);
    if ((error = osr__http_run(osr__session_http(s), NULL)) < 0) {
        error = osr__error_set(err, error, "launch: the HTTP engine failed");
        goto done;
    }

    lb = calloc(1, sizeof(*lb));
    if (lb == NULL || (lb->servers = calloc(n, sizeof(*lb->servers))) == NULL ||
        (lb->errors = calloc(n, sizeof(*lb->errors))) == NULL) {
        osr_launch_batch_free(lb);
        lb = NULL;
        error = osr__error_set(err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    lb->n = n;
    for (size_t i = 0; i < n; i++) {
        inst *it = &b.items[i];
        if (it->server) {
            lb->servers[i] = it->server;
            it->server = NULL;
        } else {
            lb->errors[i] = it->err;
            if (lb->errors[i].code == 0)
                lb->errors[i].code = OSR_ELAUNCH;
            failed++;
        }
    }
    if (failed) {
        *err = lb->errors[0].code ? lb->errors[0] : *err;
        for (size_t i = 0; i < n; i++) {
            if (lb->errors[i].code) {
                *err = lb->errors[i];
                break;
            }
        }
        if (n > 1)
            osr__error_prefix(err, "%d of %zu instances failed; first", failed, n);
        err->code = OSR_ELAUNCH;
        error = OSR_ELAUNCH;
    }
    *out = lb;
done:
    for (size_t i = 0; i < r.n; i++)
        free(r.items[i].id);
    free(r.items);
    batch_clear(&b);
    return error;
}

int osr_instance_launch(osr_server **out,
                        osr_session *s,
                        const osr_instance_config *config,
                        const osr_launch_options *opts)
{
    osr_launch_batch *lb = NULL;
    int error = osr_instance_launch_many(&lb, s, &config, 1, opts);

    if (error == 0) {
        *out = lb->servers[0];
        lb->servers[0] = NULL;
    } else if (lb != NULL) {
        /* The session's record holds this instance's error already. */
        error = lb->errors[0].code;
        *osr__session_err(s) = lb->errors[0];
    }
    osr_launch_batch_free(lb);
    return error;
}
