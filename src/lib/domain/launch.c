/* Launching runner instances: resolve everything first, then create, tag,
 * check the name, wait and clean up every instance at once as callbacks of
 * the session's one HTTP engine. --timeout is the deadline of all of it but
 * the clean-up: transient errors are retried with backoff until it. Every
 * Nova request, body and answer goes through nova.h; what is here is
 * osrunner's: its metadata, tags, names and the order of the steps. jansson
 * ownership: pack results are owned, *_get is borrowed, the *_new setters
 * steal. */
#include "runner_internal.h"

#include "nova.h"
#include "osrunner/glance.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#define CONFLICT_ATTEMPTS 5 /* creates Nova refused (409) or failed itself (500) */
#define DELETE_TIMEOUT_MS 180000
#define POLL_FIRST_MS     500
#define POLL_MAX_MS       3000
#define NONPOLL_FAILURES  5     /* polls that failed for a reason that is not transient */
#define RIVAL_WAIT_MS     20000 /* how long the earlier of two same-named servers waits */

enum state { ST_CREATE, ST_LOOKUP, ST_TAG, ST_UNIQUE, ST_WAIT, ST_FAULT, ST_DELETE, ST_DONE };

struct batch;

typedef struct inst {
    struct batch *b;
    size_t index;
    const osr_instance_config *cfg;
    enum state state;
    char *body; /* POST /servers body; holds the user data: secret */
    char *tags_body;
    char launch_id[33]; /* this instance's osrunner-launch metadata: finds a lost create */
    char *server_id;
    osr_server *server; /* the outcome on success */
    osr_error err;      /* the outcome on failure */
    char reason[OSR_ERROR_MESSAGE_MAX];
    int del_code; /* the code of the outcome once the server is deleted again */
    int attempts;
    int conflicts;
    int retries; /* transient failures of the current step */
    int fault_reads;
    int64_t rival_deadline; /* the earlier of two same-named servers waits until */
    osr__nova_call call;    /* the request of the current step */
    osr__nova_delete del;   /* the clean-up */
} inst;

typedef struct batch {
    osr_session *s;
    osr__nova nova;
    inst *items;
    size_t n;
    char id[65];
    char batch_tag[96];
    bool tags_at_create;
    int wait;
    long timeout_s;
    osr_launch_progress_cb progress;
    void *payload;
    const volatile bool *cancel;
    bool cancelled;
    int64_t deadline;
    long in_doubt_s; /* osr_launch_options.in_doubt_s */
    /* the shared poll of every waiting instance */
    bool poll_queued;
    long poll_delay;
    int poll_failures;
    osr__nova_call poll;
} batch;

struct osr_launch_batch {
    size_t n;
    char id[65];
    osr_server **servers;
    osr_error *errors;
};

static void progress(inst *it, const char *what)
{
    if (it->b->progress)
        it->b->progress(it->index, it->cfg->name, what, it->b->payload);
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

int osr_launch_id_new(char *buf, size_t size)
{
    if (buf == NULL || size < OSR_LAUNCH_ID_SIZE)
        return OSR_EINVAL;
    random_hex(buf, 16);
    return 0;
}

static bool stopping(const batch *b)
{
    return b->cancelled || (b->cancel && *b->cancel);
}

static bool past_deadline(const batch *b)
{
    return osr__now_ms_monotonic() > b->deadline;
}

/* Worth another try within the deadline: the request may get through later. */
static bool transient(int code)
{
    return code == OSR_ENET || code == OSR_ETIMEOUT || code == OSR_ESERVER ||
           code == OSR_ERATELIMIT;
}

/* The backoff of this instance's next retry, growing with its failures. */
static long next_backoff(inst *it)
{
    double r;
    unsigned char c = 0;
    RAND_bytes(&c, 1);
    r = (double)c / 256.0;
    return osr__http_backoff_ms(it->retries++, r);
}

/* ---------------------------------------------------------------- requests */

static void sent(inst *it, int error);
static void finish_ok(inst *it, const osr_server *sv);
static void finish_failed(inst *it);
static void start_delete(inst *it, int code, const char *fmt, ...) OSR__PRINTF(3, 4);
static void queue_poll(batch *b);
static void check_unique(inst *it, long delay_ms);

static void fail_now(inst *it, const osr_error *e)
{
    it->err = *e;
    if (it->err.code == 0)
        it->err.code = OSR_ERROR;
    finish_failed(it);
}

static void on_create(int error, void *payload);
static void on_lookup(int error, void *payload);
static void on_tag(int error, void *payload);

static void send_create(inst *it)
{
    it->state = ST_CREATE;
    it->attempts++;
    progress(it, it->attempts > 1 ? "creating (again)" : "creating");
    /* Never idempotent for the engine: a create that may have gone through
     * is looked up first (on_lookup), never blindly repeated. It is always
     * sent at once, so a cancelled launch has no create waiting to go. */
    sent(it, osr__nova_server_create(&it->call, it->b->s, &it->b->nova, it->body, on_create, it));
}

/* Look for a server of this instance by name and its own launch id. */
static void send_lookup(inst *it, long delay_ms)
{
    it->state = ST_LOOKUP;
    sent(it, osr__nova_servers_named(&it->call, it->b->s, &it->b->nova, it->cfg->name, delay_ms,
                                     on_lookup, it));
}

static void send_tags(inst *it, long delay_ms)
{
    it->state = ST_TAG;
    sent(it, osr__nova_server_set_tags(&it->call, it->b->s, &it->b->nova, it->server_id,
                                       it->tags_body, delay_ms, on_tag, it));
}

static void enter_wait(inst *it)
{
    it->state = ST_WAIT;
    progress(it, "building");
    queue_poll(it->b);
}

static void unique_done(inst *it)
{
    if (stopping(it->b))
        start_delete(it, OSR_EINTERRUPTED, "interrupted");
    else if (it->b->wait)
        enter_wait(it);
    else
        finish_ok(it, NULL);
}

static void on_tag(int error, void *payload)
{
    inst *it = payload;
    if (error < 0 && transient(error) && !past_deadline(it->b) && !stopping(it->b)) {
        send_tags(it, next_backoff(it));
        return;
    }
    if (error < 0) {
        start_delete(it, OSR_ELAUNCH, "could not tag server %s: %s", it->server_id,
                     it->call.err.message);
        return;
    }
    it->retries = 0;
    if (stopping(it->b))
        start_delete(it, OSR_EINTERRUPTED, "interrupted");
    else
        check_unique(it, 0);
}

static void created(inst *it)
{
    it->retries = 0;
    if (stopping(it->b)) {
        start_delete(it, OSR_EINTERRUPTED, "interrupted");
        return;
    }
    if (past_deadline(it->b)) {
        start_delete(it, OSR_ELAUNCH, "server %s was found only after the deadline of %ld s",
                     it->server_id, it->b->timeout_s);
        return;
    }
    if (!it->b->tags_at_create) {
        send_tags(it, 0);
        return;
    }
    check_unique(it, 0);
}

static void on_create(int error, void *payload)
{
    inst *it = payload;
    if (error == 0) {
        osr_server *sv = NULL;
        osr_error perr;
        if (osr__nova_call_server(&sv, &it->call, &perr) < 0) {
            osr__error_set(&it->err, OSR_EPROTO, "nova: the create answer has no server id");
            finish_failed(it);
            return;
        }
        it->server_id = osr__strdup(osr_server_id(sv));
        osr_server_free(sv);
        if (it->server_id == NULL) {
            osr__error_set(&it->err, OSR_ENOMEM, "out of memory");
            finish_failed(it);
            return;
        }
        created(it);
        return;
    }
    snprintf(it->reason, sizeof(it->reason), "%s", it->call.err.message);
    /* Nova itself said no (409, or its own 500): a few times only. A
     * gateway's 502-504, a 429 or a network error is retried until the
     * deadline: nova-api may be restarting. */
    if (error == OSR_ECONFLICT ||
        (error == OSR_ESERVER && (it->call.resp.status == 500 || it->call.resp.status == 501)))
        it->conflicts++;
    if (transient(error) || error == OSR_ECONFLICT) {
        osr__http_log(osr__session_http(it->b->s), OSR_LOG_INFO,
                      "create of %s failed (%s); looking it up before another", it->cfg->name,
                      it->call.err.message);
        /* It may have been created all the same (a 409 or a 429 created
         * nothing, but looking costs one GET and keeps one path): look for
         * our launch id after a backoff, then create again if need be, also
         * after the last attempt, so nothing of unknown fate is left. */
        send_lookup(it, next_backoff(it));
        return;
    }
    fail_now(it, &it->call.err);
}

/* How long past the deadline a create of unknown fate is looked up. */
static int64_t in_doubt_ms(const batch *b)
{
    int64_t ms = b->in_doubt_s > 0   ? (int64_t)b->in_doubt_s * 1000
                 : b->in_doubt_s < 0 ? 0
                                     : DELETE_TIMEOUT_MS;
    /* Without its tags from the create a server would be found by nobody. */
    return !b->tags_at_create && ms < DELETE_TIMEOUT_MS ? DELETE_TIMEOUT_MS : ms;
}

static void on_lookup(int error, void *payload)
{
    inst *it = payload;
    osr_server_list *list = NULL;
    osr_error perr;

    if (error < 0) {
        /* Past the deadline too: until the fate of the create is known, the
         * look-up goes on for as long as a clean-up would (in_doubt_ms). */
        if (transient(error) && osr__now_ms_monotonic() < it->b->deadline + in_doubt_ms(it->b)) {
            send_lookup(it, next_backoff(it));
            return;
        }
        /* The create may have gone through: the server is not named by id,
         * but the launch finds it. */
        osr__error_set(&it->err, OSR_ELEFT,
                       "create of %s failed (%s) and looking it up failed too (%s); it may "
                       "exist: see instance list --launch %s",
                       it->cfg->name, it->reason, it->call.err.message, it->b->id);
        finish_failed(it);
        return;
    }
    /* An answer that is not a list finds nothing: the create is sent again. */
    osr__nova_call_servers(&list, &it->call, &perr);
    for (size_t i = 0; i < osr_server_list_count(list); i++) {
        const osr_server *sv = osr_server_list_at(list, i);
        const char *lid = osr_server_metadata(sv, "osrunner-launch");
        if (lid && strcmp(lid, it->launch_id) == 0) {
            it->server_id = osr__strdup(osr_server_id(sv));
            break;
        }
    }
    osr_server_list_free(list);
    if (it->server_id) {
        created(it);
    } else if (stopping(it->b)) {
        osr__error_set(&it->err, OSR_EINTERRUPTED, "interrupted before %s was created",
                       it->cfg->name);
        finish_failed(it);
    } else if (past_deadline(it->b) || it->conflicts >= CONFLICT_ATTEMPTS) {
        osr__error_set(&it->err, OSR_ELAUNCH, "could not create %s in %d attempts: %s",
                       it->cfg->name, it->attempts, it->reason);
        finish_failed(it);
    } else {
        send_create(it);
    }
}

/* ---------------------------------------------------------------- unique names */

/* After the create, the name is looked up again: of two servers of ours with
 * one name, the one created later (or with the higher id on a tie) deletes
 * itself. Each launch sees the other's server or the other sees its own, so
 * the earlier one waits until its rival is gone, and gives way too if the
 * rival stays (its launch did not see the clash). Never two, maybe none. */

static void on_unique(int error, void *payload);

static void check_unique(inst *it, long delay_ms)
{
    it->state = ST_UNIQUE;
    sent(it, osr__nova_servers_named(&it->call, it->b->s, &it->b->nova, it->cfg->name, delay_ms,
                                     on_unique, it));
}

static bool ours(const inst *it, const osr_server *sv)
{
    const char *by = osr_server_metadata(sv, OSR_MANAGED_BY_KEY);
    const char *mgr = osr_server_metadata(sv, "osrunner-manager");
    const char *want = it->cfg->manager ? it->cfg->manager : "osrunner";
    return by && mgr && strcmp(by, OSR_MANAGED_BY_VALUE) == 0 && strcmp(mgr, want) == 0;
}

/* A field of a server, or NULL when it is absent. */
static const char *or_null(const char *v)
{
    return v && *v ? v : NULL;
}

static void on_unique(int error, void *payload)
{
    inst *it = payload;
    osr_server_list *list = NULL;
    const osr_server *mine = NULL, *earlier = NULL, *later = NULL;
    const char *my_created;
    osr_error perr;
    size_t i, count;

    if (stopping(it->b)) {
        start_delete(it, OSR_EINTERRUPTED, "interrupted");
        return;
    }
    if (error < 0) {
        if (transient(error) && !past_deadline(it->b)) {
            check_unique(it, next_backoff(it));
            return;
        }
        start_delete(it, OSR_ELAUNCH, "could not check that the name %s is unique: %s",
                     it->cfg->name, it->call.err.message);
        return;
    }
    it->retries = 0;
    osr__nova_call_servers(&list, &it->call, &perr);
    count = osr_server_list_count(list);
    for (i = 0; i < count; i++) {
        if (strcmp(osr_server_id(osr_server_list_at(list, i)), it->server_id) == 0)
            mine = osr_server_list_at(list, i);
    }
    my_created = mine ? or_null(osr_server_created(mine)) : NULL;
    for (i = 0; i < count; i++) {
        const osr_server *sv = osr_server_list_at(list, i);
        const char *created_at = or_null(osr_server_created(sv));
        int c;
        if (sv == mine || strcmp(osr_server_name(sv), it->cfg->name) != 0 || !ours(it, sv) ||
            osr__server_going(sv))
            continue;
        /* ISO 8601 in UTC compares as text; a server not yet listed as ours
         * (mine == NULL) counts as the later one. */
        c = my_created && created_at ? strcmp(created_at, my_created) : (mine ? 1 : -1);
        if (c == 0)
            c = strcmp(osr_server_id(sv), it->server_id);
        if (c < 0 && earlier == NULL)
            earlier = sv;
        else if (c > 0 && later == NULL)
            later = sv;
    }
    if (earlier) {
        start_delete(it, OSR_EEXISTS, "the name %s is taken by server %s, created earlier",
                     it->cfg->name, osr_server_id(earlier));
    } else if (later) {
        int64_t now = osr__now_ms_monotonic();
        if (it->rival_deadline == 0)
            it->rival_deadline = now + RIVAL_WAIT_MS;
        if (now < it->rival_deadline) {
            check_unique(it, 1000);
        } else {
            start_delete(it, OSR_EEXISTS, "the name %s is also used by server %s, which stayed",
                         it->cfg->name, osr_server_id(later));
        }
    } else {
        unique_done(it);
    }
    osr_server_list_free(list);
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
    sent(it, osr__nova_server_fetch(&it->call, it->b->s, &it->b->nova, it->server_id, delay_ms,
                                    on_fault, it));
}

static void on_fault(int error, void *payload)
{
    inst *it = payload;
    osr_server *sv = NULL;
    const char *fault = NULL;
    osr_error perr;

    if (error == 0 && osr__nova_call_server(&sv, &it->call, &perr) == 0)
        fault = osr_server_fault(sv);
    if (fault == NULL && (error == 0 || transient(error)) && ++it->fault_reads < 4 &&
        !stopping(it->b)) {
        osr_server_free(sv);
        fetch_fault(it, 250L * it->fault_reads);
        return;
    }
    start_delete(it, OSR_ELAUNCH, "server %s went to ERROR: %s", it->server_id,
                 fault ? fault : "Nova gave no reason");
    osr_server_free(sv);
}

static void queue_poll(batch *b)
{
    if (b->poll_queued)
        return;
    b->poll_queued = true;
    if (osr__nova_servers_tagged(&b->poll, b->s, &b->nova, b->batch_tag, b->poll_delay, on_poll,
                                 b) < 0) {
        b->poll_queued = false;
        for (size_t i = 0; i < b->n; i++) {
            if (b->items[i].state == ST_WAIT)
                start_delete(&b->items[i], OSR_ELAUNCH, "cannot poll: out of memory");
        }
    }
    b->poll_delay = b->poll_delay * 3 / 2 > POLL_MAX_MS ? POLL_MAX_MS : b->poll_delay * 3 / 2;
}

static void on_poll(int error, void *payload)
{
    batch *b = payload;
    osr_server_list *list = NULL;
    bool any_waiting = false, timed_out = past_deadline(b);
    char why[OSR_ERROR_MESSAGE_MAX] = "";
    osr_error perr;

    b->poll_queued = false;
    if (error < 0) {
        /* A transient failure (nova-api restarting, 5xx, 429) is waited out
         * until the deadline; anything else a few times only. */
        snprintf(why, sizeof(why), "; the last poll failed: %.400s", b->poll.err.message);
        osr__http_log(osr__session_http(b->s), OSR_LOG_INFO, "poll failed (%s); polling on",
                      b->poll.err.message);
        if (!transient(error) && ++b->poll_failures >= NONPOLL_FAILURES) {
            for (size_t i = 0; i < b->n; i++) {
                if (b->items[i].state == ST_WAIT)
                    start_delete(&b->items[i], OSR_ELAUNCH, "cannot follow the build: %s",
                                 b->poll.err.message);
            }
        }
    } else {
        b->poll_failures = 0;
        osr__nova_call_servers(&list, &b->poll, &perr);
    }
    osr__nova_call_clear(&b->poll);
    for (size_t i = 0; i < b->n; i++) {
        inst *it = &b->items[i];
        const osr_server *found = NULL;
        const char *status;

        if (it->state != ST_WAIT)
            continue;
        for (size_t j = 0; j < osr_server_list_count(list); j++) {
            if (strcmp(osr_server_id(osr_server_list_at(list, j)), it->server_id) == 0)
                found = osr_server_list_at(list, j);
        }
        status = found ? or_null(osr_server_status(found)) : NULL;
        if (status && strcmp(status, "ACTIVE") == 0) {
            finish_ok(it, found);
        } else if (status && strcmp(status, "ERROR") == 0) {
            fetch_fault(it, 0);
        } else if (stopping(b)) {
            start_delete(it, OSR_EINTERRUPTED, "interrupted");
        } else if (timed_out) {
            start_delete(it, OSR_ELAUNCH,
                         "server %s did not become ACTIVE within %ld s (status %s%s)",
                         it->server_id, b->timeout_s, status ? status : "unknown", why);
        } else {
            any_waiting = true;
        }
    }
    osr_server_list_free(list);
    if (any_waiting)
        queue_poll(b);
}

/* ---------------------------------------------------------------- cleanup */

static void left(inst *it, const char *why)
{
    osr__error_set(&it->err, OSR_ELEFT, "%s; server %s (%s) is LEFT: %s", it->reason, it->server_id,
                   it->cfg->name, why);
    finish_failed(it);
}

/* "No valid host was found. " and "; ..." join without the stray ". ;". */
static void trim_reason(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '.' || s[n - 1] == '\n' || s[n - 1] == '\t'))
        s[--n] = '\0';
}

/* The clean-up is Nova's delete-then-poll (nova.c), bounded on its own. */
static void on_deleted(int error, void *payload)
{
    inst *it = payload;
    if (error < 0) {
        left(it, it->del.result.message);
        return;
    }
    progress(it, "deleted");
    osr__error_set(&it->err, it->del_code, "%s; server %s was deleted again", it->reason,
                   it->server_id);
    finish_failed(it);
}

static void start_delete(inst *it, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(it->reason, sizeof(it->reason), fmt, ap);
    va_end(ap);
    trim_reason(it->reason);
    it->del_code = code;
    it->retries = 0;
    it->state = ST_DELETE;
    progress(it, "failed; deleting");
    osr__nova_delete_clear(&it->del);
    if (osr__nova_delete_start(&it->del, it->b->s, &it->b->nova, it->server_id, 1,
                               DELETE_TIMEOUT_MS / 1000, on_deleted, it) < 0)
        left(it, it->del.result.message);
}

/* The launch was cancelled: what waits or is done goes now; what has a
 * request in flight goes from its callback, which sees stopping(). */
static void cancel_all(batch *b)
{
    b->cancelled = true;
    for (size_t i = 0; i < b->n; i++) {
        inst *it = &b->items[i];
        if (it->state == ST_WAIT) {
            start_delete(it, OSR_EINTERRUPTED, "interrupted");
        } else if (it->state == ST_DONE && it->server != NULL) {
            osr_server_free(it->server);
            it->server = NULL;
            start_delete(it, OSR_EINTERRUPTED, "interrupted");
        }
    }
}

/* ---------------------------------------------------------------- outcomes */

static void finish_ok(inst *it, const osr_server *sv)
{
    int error = sv ? osr__server_dup(&it->server, sv, &it->err)
                   : osr__server_new(&it->server, it->server_id, it->cfg->name, "BUILD", &it->err);
    if (error < 0) {
        finish_failed(it);
        return;
    }
    it->state = ST_DONE;
    progress(it, sv ? "active" : "created");
}

static void finish_failed(inst *it)
{
    it->state = ST_DONE;
    if (it->err.code == 0)
        it->err.code = OSR_ELAUNCH;
    progress(it, "failed");
}

/* A request could not be queued (out of memory): this instance ends here. */
static void sent(inst *it, int error)
{
    if (error == 0)
        return;
    osr__error_set(&it->err, OSR_ENOMEM, "out of memory");
    if (it->server_id)
        osr__error_set(&it->err, OSR_ELEFT, "out of memory; server %s is LEFT", it->server_id);
    finish_failed(it);
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
    char manager[64], pool[64];
    json_t *tags;
    snprintf(manager, sizeof(manager), "osrunner-manager=%s",
             cfg->manager ? cfg->manager : "osrunner");
    tags = json_pack("[s,s,s]", OSR_MANAGED_BY_KEY "=" OSR_MANAGED_BY_VALUE, manager, b->batch_tag);
    if (tags && osr__instance_pool(cfg)) {
        snprintf(pool, sizeof(pool), "osrunner-pool=%s", osr__instance_pool(cfg));
        if (json_array_append_new(tags, json_string(pool)) < 0) {
            json_decref(tags);
            tags = NULL;
        }
    }
    return tags;
}

/* osrunner's metadata of a server: who manages it, the runner, its labels,
 * the instance's launch id, and the user's own entries. */
static json_t *ownership_metadata(const inst *it)
{
    const osr_instance_config *cfg = it->cfg;
    osr__buf labels = OSR__BUF_INIT;
    json_t *meta = NULL;

    if (osr__runner_labels_join(&labels, cfg->labels) == 0)
        meta = json_pack("{s:s,s:s,s:s,s:s,s:s}", OSR_MANAGED_BY_KEY, OSR_MANAGED_BY_VALUE,
                         "osrunner-manager", cfg->manager ? cfg->manager : "osrunner",
                         "osrunner-runner", cfg->name, "osrunner-labels",
                         labels.data ? labels.data : "", "osrunner-launch", it->launch_id);
    osr__buf_free(&labels);
    if (meta && osr__instance_pool(cfg))
        json_object_set_new(meta, "osrunner-pool", json_string(osr__instance_pool(cfg)));
    if (meta && osr__instance_runner_id(cfg) > 0) {
        char id[24];
        snprintf(id, sizeof(id), "%lld", osr__instance_runner_id(cfg));
        json_object_set_new(meta, "osrunner-runner-id", json_string(id));
    }
    for (size_t i = 0; meta && cfg->metadata && cfg->metadata[i]; i++) {
        const char *eq = strchr(cfg->metadata[i], '=');
        char *key = osr__strndup(cfg->metadata[i], (size_t)(eq - cfg->metadata[i]));
        if (key)
            json_object_set_new(meta, key, json_string(eq + 1));
        free(key);
    }
    return meta;
}

static int build_body(inst *it, resolver *r)
{
    batch *b = it->b;
    const osr_instance_config *cfg = it->cfg;
    osr_session *s = b->s;
    osr_error *err = osr__session_err(s);
    osr__nova_server_spec spec;
    const char **sgs = NULL;
    char *ud = NULL, *ud64 = NULL;
    json_t *meta = NULL, *tags = NULL;
    size_t n_sgs = 0;
    int error;

    memset(&spec, 0, sizeof(spec));
    spec.name = cfg->name;
    spec.availability_zone = cfg->availability_zone;
    spec.config_drive = cfg->config_drive;
    spec.network = cfg->network ? cfg->network : "none";
    if ((error = resolve(&spec.image_id, r, s, &b->nova, "image", cfg->image)) < 0 ||
        (error = resolve(&spec.flavor_id, r, s, &b->nova, "flavor", cfg->flavor)) < 0)
        return error;
    if ((error = osr_instance_user_data(&ud, cfg, 1, err)) < 0)
        return error;
    ud64 = base64(ud);
    osr__secret_free(ud);
    meta = ownership_metadata(it);
    tags = ownership_tags(b, cfg);
    while (cfg->security_groups && cfg->security_groups[n_sgs])
        n_sgs++;
    sgs = calloc(n_sgs + 1, sizeof(*sgs));
    if (ud64 == NULL || meta == NULL || tags == NULL || sgs == NULL) {
        error = osr__error_set(err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    spec.user_data = ud64;
    spec.metadata = meta;
    if (strcmp(spec.network, "none") != 0 && strcmp(spec.network, "auto") != 0 &&
        (error = resolve(&spec.network, r, s, &b->nova, "network", cfg->network)) < 0)
        goto done;
    if (cfg->key_name &&
        (error = resolve(&spec.key_name, r, s, &b->nova, "keypair", cfg->key_name)) < 0)
        goto done;
    for (size_t i = 0; i < n_sgs; i++) {
        if ((error = resolve(&sgs[i], r, s, &b->nova, "security group", cfg->security_groups[i])) <
            0)
            goto done;
    }
    spec.security_groups = sgs;
    if (b->tags_at_create)
        spec.tags = tags;
    else if ((error = osr__nova_tags_body(&it->tags_body, tags, err)) < 0)
        goto done;
    error = osr__nova_create_body(&it->body, &spec, err);
done:
    json_decref(meta);
    json_decref(tags);
    free(sgs);
    osr__secret_free(ud64);
    return error;
}

static void batch_free_parked(void *lb)
{
    osr_launch_batch_free(lb);
}

int osr_launch_batch_take_failed(osr_launch_batch **out, osr_session *s)
{
    osr_launch_batch *lb;

    if (out == NULL || s == NULL)
        return OSR_EINVAL;
    /* The session's error record stays the launch's. */
    if ((lb = osr__session_take(s, batch_free_parked)) == NULL)
        return OSR_ENOTFOUND;
    *out = lb;
    return 0;
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

const char *osr_launch_batch_id(const osr_launch_batch *lb)
{
    return lb ? lb->id : "";
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
        osr_server_free(it->server);
        osr__nova_call_clear(&it->call);
        osr__nova_delete_clear(&it->del);
    }
    free(b->items);
    osr__nova_call_clear(&b->poll);
    osr__nova_close(&b->nova);
}

static bool valid_launch_id(const char *id)
{
    size_t n = strlen(id);
    return n > 0 && n <= 64 &&
           strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == n;
}

/* Names must be unique: within the launch, and among the manager's servers
 * (one list by tag per manager). */
static int names_free(osr_session *s, const osr_instance_config *const *configs, size_t n)
{
    osr_error *err = osr__session_err(s);
    int error = 0;

    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < i; j++) {
            if (strcmp(configs[i]->name, configs[j]->name) == 0)
                return osr__error_set(err, OSR_EEXISTS, "instances %zu and %zu are both named %s",
                                      j + 1, i + 1, configs[i]->name);
        }
    }
    for (size_t i = 0; i < n && error == 0; i++) {
        const char *mgr = configs[i]->manager ? configs[i]->manager : "osrunner";
        osr_server_list *list = NULL;
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(mgr, configs[j]->manager ? configs[j]->manager : "osrunner") == 0;
        if (seen)
            continue;
        if ((error = osr_server_list_get(&list, s, mgr, 0)) < 0) {
            osr__error_prefix(err, "checking that the names are free");
            return error;
        }
        for (size_t k = 0; k < osr_server_list_count(list) && error == 0; k++) {
            const osr_server *sv = osr_server_list_at(list, k);
            for (size_t j = 0; j < n; j++) {
                const char *m = configs[j]->manager ? configs[j]->manager : "osrunner";
                if (strcmp(m, mgr) == 0 && strcmp(osr_server_name(sv), configs[j]->name) == 0) {
                    error = osr__error_set(
                        err, OSR_EEXISTS,
                        "a server named %s exists already (id %s, status %s); delete it or "
                        "choose another name",
                        configs[j]->name, osr_server_id(sv), osr_server_status(sv));
                    break;
                }
            }
        }
        osr_server_list_free(list);
    }
    return error;
}

int osr_instance_launch_many(osr_launch_batch **out,
                             osr_session *s,
                             const osr_instance_config *const *configs,
                             size_t n,
                             const osr_launch_options *opts)
{
    osr_error *err = osr__session_error(s);
    osr_launch_batch *lb = NULL;
    resolver r = { NULL, 0, 0 };
    batch b;
    int error = 0, failed = 0, left_n = 0, first_code = 0;

    memset(&b, 0, sizeof(b));
    b.wait = 1;
    if (opts != NULL && osr__version_check(err, "osr_instance_launch_many", "osr_launch_options",
                                           opts->version, 1, OSR_LAUNCH_OPTIONS_VERSION) < 0)
        return OSR_EINVAL;
    /* A batch a failed launch left is dropped by the next launch. */
    osr__session_park(s, NULL, NULL);
    if (opts != NULL) {
        b.wait = opts->wait;
        b.timeout_s = opts->timeout_s;
        b.progress = opts->progress;
        b.payload = opts->payload;
        if (opts->version >= 2) {
            b.cancel = opts->cancel;
            if (opts->launch_id && !valid_launch_id(opts->launch_id))
                return osr__error_set(err, OSR_EINVAL,
                                      "launch id: 1 to 64 of a-z A-Z 0-9 - _ expected");
            if (opts->launch_id)
                snprintf(b.id, sizeof(b.id), "%s", opts->launch_id);
        }
        if (opts->version >= 4)
            b.in_doubt_s = opts->in_doubt_s;
    }
    if (b.timeout_s <= 0)
        b.timeout_s = 600;
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
    b.poll_delay = POLL_FIRST_MS;
    if ((error = osr_session_authenticate(s)) < 0 ||
        (!(opts && opts->version >= 3 && opts->fresh_names) &&
         (error = names_free(s, configs, n)) < 0) ||
        (error = osr__nova_open(&b.nova, s)) < 0)
        return error;
    b.tags_at_create = b.nova.minor >= 52;
    if (b.id[0] == '\0')
        random_hex(b.id, 16);
    snprintf(b.batch_tag, sizeof(b.batch_tag), "osrunner-launch=%s", b.id);
    b.items = calloc(n, sizeof(*b.items));
    if (b.items == NULL) {
        error = osr__error_set(err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        inst *it = &b.items[i];
        it->b = &b;
        it->index = i;
        it->cfg = configs[i];
        it->del_code = OSR_ELAUNCH;
        random_hex(it->launch_id, 16);
        if ((error = build_body(it, &r)) < 0) {
            if (n > 1)
                osr__error_prefix(err, "instance %zu (%s)", i + 1, configs[i]->name);
            goto done;
        }
    }
    if (stopping(&b)) {
        error = osr__error_set(err, OSR_EINTERRUPTED, "interrupted before any server was created");
        goto done;
    }

    b.deadline = osr__now_ms_monotonic() + b.timeout_s * 1000;
    for (size_t i = 0; i < n; i++)
        send_create(&b.items[i]);
    /* The engine returns early once *cancel is true; what is in flight then
     * finishes, and every server of the launch is deleted. */
    error = osr__http_run(osr__session_http(s), (const bool *)b.cancel);
    if (error == 0 && stopping(&b)) {
        cancel_all(&b);
        error = osr__http_run(osr__session_http(s), NULL);
    }
    if (error < 0) {
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
    snprintf(lb->id, sizeof(lb->id), "%s", b.id);
    for (size_t i = 0; i < n; i++) {
        inst *it = &b.items[i];
        if (it->server) {
            lb->servers[i] = it->server;
            it->server = NULL;
        } else {
            lb->errors[i] = it->err;
            if (lb->errors[i].code == 0)
                lb->errors[i].code = OSR_ELAUNCH;
            if (lb->errors[i].code == OSR_ELEFT)
                left_n++;
            failed++;
        }
    }
    if (failed) {
        /* The first server left behind, or else the first failure, speaks
         * for the batch. */
        for (size_t i = 0; i < n; i++) {
            if (lb->errors[i].code && (left_n == 0 || lb->errors[i].code == OSR_ELEFT)) {
                *err = lb->errors[i];
                first_code = lb->errors[i].code;
                break;
            }
        }
        if (n > 1)
            osr__error_prefix(err, "%d of %zu instances failed; first", failed, n);
        error = left_n                                ? OSR_ELEFT
                : stopping(&b)                        ? OSR_EINTERRUPTED
                : first_code == OSR_EEXISTS && n == 1 ? OSR_EEXISTS
                                                      : OSR_ELAUNCH;
        err->code = error;
    }
    /* *out only on success; a caller takes the partial batch with
     * osr_launch_batch_take_failed(). */
    if (error == 0)
        *out = lb;
    else
        osr__session_park(s, lb, batch_free_parked);
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
    } else if (osr_launch_batch_take_failed(&lb, s) == 0) {
        /* The session's record holds this instance's error already. */
        error = lb->errors[0].code;
        *osr__session_err(s) = lb->errors[0];
    }
    osr_launch_batch_free(lb);
    return error;
}
