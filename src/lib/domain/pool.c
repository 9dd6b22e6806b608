/* The pool engine's pass (osrunner/reconcile.h): observe one pool, decide
 * with osr__pool_decide (pool_decide.c, pure), act. docs/pool-engine.md. */
#include "nova.h"
#include "osrunner/glance.h"
#include "osrunner/nova.h"
#include "osrunner/reconcile.h"
#include "osrunner/runner.h"
#include "pool_decide.h"
#include "quota.h"
#include "runner_internal.h"
#include "session.h"
#include "util.h"

#include <jansson.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_PARALLEL       8
#define DEFAULT_DELETE_TIMEOUT 120

struct osr_pool_action {
    const char *kind;
    const char *rule;
    char reason[OSR__POOL_REASON_SIZE];
    char *server_id;
    char *server_name;
    long long runner_id;
    const char *outcome;
    osr_error error;
    int vm_delete;     /* RECONCILE: the VM is to be deleted (after GitHub's answer) */
    int runner_first;  /* the runner's record goes first */
    int vm_first;      /* flush --busy: the VM goes first, then the record */
    long long sent_ms; /* a create: when its request went out (Unix ms), 0: never */
    char *runner_name; /* the runner record's name, when the action has one */
};

struct osr_pool_pass {
    char *pool;
    char state[96];
    int observe_failed;
    osr__buf observe_error;
    long long figures[OSR_POOL_CREATES + 1];
    osr__nova_limits limits;
    bool limits_known;
    osr__port_quota ports;
    osr_pool_action *actions;
    size_t nactions, cap;
    char *image_id;
};

/* What one observation holds; the snapshot's strings point into it. */
typedef struct observed {
    osr_server_list *servers;
    osr_github_runner_list *runners;
    osr__pool_server *sv;
    size_t nsv;
    osr__pool_runner *rn;
    size_t nrn;
    const char **labels; /* every runner's labels, one array */
    char *image_id;
    osr__pool_snapshot snap;
} observed;

static void observed_free(observed *o)
{
    osr_server_list_free(o->servers);
    osr_github_runner_list_free(o->runners);
    free(o->sv);
    free(o->rn);
    free(o->labels);
    free(o->image_id);
}

static void note_failure(osr_pool_pass *pass, const char *what, const char *msg)
{
    pass->observe_failed = 1;
    if (pass->observe_error.len)
        osr__buf_puts(&pass->observe_error, "; ");
    osr__buf_printf(&pass->observe_error, "%s: %s", what, msg);
}

static int observe_runners(observed *o, osr_pool_pass *pass, osr_github *gh, const char *path)
{
    size_t total = 0, k = 0;

    if (osr_github_runners_list(&o->runners, gh, path, NULL) < 0) {
        note_failure(pass, "runners", osr_github_last_error(gh)->message);
        o->snap.failed |= OSR__OBSERVE_RUNNERS;
        return 0;
    }
    o->nrn = osr_github_runner_list_count(o->runners);
    for (size_t i = 0; i < o->nrn; i++)
        total += osr_github_runner_label_count(osr_github_runner_list_at(o->runners, i));
    o->rn = calloc(o->nrn ? o->nrn : 1, sizeof(*o->rn));
    o->labels = calloc(total ? total : 1, sizeof(*o->labels));
    if (o->rn == NULL || o->labels == NULL)
        return OSR_ENOMEM;
    for (size_t i = 0; i < o->nrn; i++) {
        const osr_github_runner *r = osr_github_runner_list_at(o->runners, i);
        size_t nl = osr_github_runner_label_count(r);
        o->rn[i].id = osr_github_runner_id(r);
        o->rn[i].name = osr_github_runner_name(r);
        o->rn[i].online = strcmp(osr_github_runner_status(r), "online") == 0;
        o->rn[i].busy = osr_github_runner_busy(r) != 0;
        o->rn[i].labels = o->labels + k;
        o->rn[i].nlabels = nl;
        for (size_t j = 0; j < nl; j++)
            o->labels[k++] = osr_github_runner_label(r, j);
    }
    o->snap.runners = o->rn;
    o->snap.nrunners = o->nrn;
    return 0;
}

static int observe_servers(observed *o,
                           osr_pool_pass *pass,
                           osr_session *s,
                           const osr__nova *n,
                           const char *manager,
                           const char *pool)
{
    char *tags = osr__sprintf("%s=%s,osrunner-manager=%s,osrunner-pool=%s", OSR_MANAGED_BY_KEY,
                              OSR_MANAGED_BY_VALUE, manager, pool);
    size_t count;

    if (tags == NULL)
        return OSR_ENOMEM;
    if (n == NULL || osr__nova_list_tagged_on(&o->servers, s, n, tags) < 0) {
        free(tags);
        note_failure(pass, "servers", osr_session_last_error(s)->message);
        o->snap.failed |= OSR__OBSERVE_SERVERS;
        return 0;
    }
    free(tags);
    count = osr_server_list_count(o->servers);
    if ((o->sv = calloc(count ? count : 1, sizeof(*o->sv))) == NULL)
        return OSR_ENOMEM;
    for (size_t i = 0; i < count; i++) {
        const osr_server *sv = osr_server_list_at(o->servers, i);
        osr__pool_server *p = &o->sv[o->nsv];
        const char *rid = osr_server_metadata(sv, "osrunner-runner-id");
        int64_t created = 0;
        /* On its way out: neither capacity nor a target any more. */
        if (osr__server_going(sv))
            continue;
        p->id = osr_server_id(sv);
        p->name = osr_server_name(sv);
        p->status = osr__vm_status_of(osr_server_status(sv));
        if (osr_server_created(sv) == NULL ||
            osr__parse_timestamp(&created, osr_server_created(sv)) < 0)
            created = 0;
        p->created = created;
        p->manager = osr_server_metadata(sv, "osrunner-manager");
        p->pool = osr_server_metadata(sv, "osrunner-pool");
        p->runner_id = rid && *rid ? strtoll(rid, NULL, 10) : -1;
        p->image_id = osr__server_image_id(sv);
        o->nsv++;
    }
    o->snap.servers = o->sv;
    o->snap.nservers = o->nsv;
    return 0;
}

/* Nova's limits and the flavor's size; Neutron's ports when it tells. */
static int observe_capacity(
    observed *o, osr_pool_pass *pass, osr_session *s, const osr__nova *np, const char *flavor)
{
    json_t *doc = NULL, *fobj = NULL;
    char *url = NULL, *fid = NULL, *net = NULL;
    osr__flavor_size fz;
    osr_error perr;
    int error = 0;

    if (np == NULL) {
        note_failure(pass, "limits", osr_session_last_error(s)->message);
        o->snap.failed |= OSR__OBSERVE_LIMITS;
        return 0;
    }
    if ((url = osr__sprintf("%s/limits", np->base)) == NULL) {
        error = OSR_ENOMEM;
        goto done;
    }
    osr_error_clear(&perr);
    if (osr__nova_get_json(&doc, s, np, url) < 0 ||
        osr__nova_limits_from_json(&pass->limits, doc, &perr) < 0) {
        note_failure(pass, "limits", perr.code ? perr.message : osr_session_last_error(s)->message);
        o->snap.failed |= OSR__OBSERVE_LIMITS;
        goto done;
    }
    json_decref(doc);
    doc = NULL;
    if (osr__nova_flavor_find(&fobj, &fid, s, np, flavor) < 0 ||
        osr__flavor_size_from_json(&fz, fobj, &perr) < 0) {
        note_failure(pass, "limits", perr.code ? perr.message : osr_session_last_error(s)->message);
        o->snap.failed |= OSR__OBSERVE_LIMITS;
        goto done;
    }
    pass->limits_known = true;
    o->snap.limits.max_instances = pass->limits.instances.max;
    o->snap.limits.used_instances = pass->limits.instances.used;
    o->snap.limits.max_cores = pass->limits.cores.max;
    o->snap.limits.used_cores = pass->limits.cores.used;
    o->snap.limits.max_ram = pass->limits.ram_mb.max;
    o->snap.limits.used_ram = pass->limits.ram_mb.used;
    o->snap.flavor_vcpus = fz.vcpus;
    o->snap.flavor_ram = fz.ram_mb;
    /* Ports: only where Neutron's quota details can be read (not a failure). */
    json_decref(doc);
    doc = NULL;
    free(url);
    url = NULL;
    if (osr_session_project_id(s) && osr__session_service_url(&net, s, "network", "/v2.0") == 0 &&
        (url = osr__sprintf("%s/quotas/%s/details", net, osr_session_project_id(s))) != NULL &&
        osr__nova_get_json(&doc, s, NULL, url) == 0 &&
        osr__port_quota_from_json(&pass->ports, doc, &perr) == 0) {
        o->snap.ports_known = true;
        o->snap.max_ports = pass->ports.ports.max;
        o->snap.used_ports = pass->ports.ports.used;
        o->snap.ports_per_vm = 1;
    }
done:
    json_decref(doc);
    json_decref(fobj);
    free(url);
    free(fid);
    free(net);
    return error;
}

static int observe_image(observed *o, osr_pool_pass *pass, osr_session *s, const char *image)
{
    osr_image *img = NULL;

    if (osr_image_find(&img, s, image) < 0) {
        note_failure(pass, "image", osr_session_last_error(s)->message);
        o->snap.failed |= OSR__OBSERVE_IMAGE;
        return 0;
    }
    o->image_id = osr__strdup(osr_image_id(img));
    osr_image_free(img);
    if (o->image_id == NULL)
        return OSR_ENOMEM;
    o->snap.image_id = o->image_id;
    return 0;
}

/* ------------------------------------------------------------------ actions */

static osr_pool_action *add_action(osr_pool_pass *pass)
{
    if (pass->nactions == pass->cap) {
        size_t cap = pass->cap ? pass->cap * 2 : 16;
        osr_pool_action *a = realloc(pass->actions, cap * sizeof(*a));
        if (a == NULL)
            return NULL;
        pass->actions = a;
        pass->cap = cap;
    }
    memset(&pass->actions[pass->nactions], 0, sizeof(*pass->actions));
    pass->actions[pass->nactions].runner_id = -1;
    pass->actions[pass->nactions].outcome = "planned";
    return &pass->actions[pass->nactions++];
}

static int
action_from_plan(osr_pool_pass *pass, const osr__pool_action *pa, const osr__pool_snapshot *snap)
{
    osr_pool_action *a = add_action(pass);

    if (a == NULL)
        return OSR_ENOMEM;
    a->kind = osr__pool_action_kind_name(pa->kind);
    a->rule = osr__pool_rule_name(pa->rule);
    snprintf(a->reason, sizeof(a->reason), "%s", pa->reason);
    a->runner_id = pa->runner_id;
    a->runner_first =
        pa->kind == OSR__ACT_DELETE_RUNNER || pa->kind == OSR__ACT_DELETE_RUNNER_THEN_VM;
    a->vm_delete = pa->kind == OSR__ACT_DELETE_VM || pa->kind == OSR__ACT_DELETE_RUNNER_THEN_VM;
    if ((pa->server_id && (a->server_id = osr__strdup(pa->server_id)) == NULL) ||
        (pa->server_name && (a->server_name = osr__strdup(pa->server_name)) == NULL))
        return OSR_ENOMEM;
    if (pa->runner != SIZE_MAX && pa->runner < snap->nrunners &&
        (a->runner_name = osr__strdup(snap->runners[pa->runner].name)) == NULL)
        return OSR_ENOMEM;
    return 0;
}

/* pool flush: each runner of ours not already acted on is replaced. */
static int add_flush(osr_pool_pass *pass, const observed *o, int busy)
{
    for (size_t i = 0; i < o->nsv; i++) {
        const osr__pool_server *s = &o->sv[i];
        const osr__pool_runner *r = NULL;
        bool taken = false;
        osr_pool_action *a;

        for (size_t k = 0; k < pass->nactions; k++)
            taken |= pass->actions[k].server_id && strcmp(pass->actions[k].server_id, s->id) == 0;
        for (size_t j = 0; j < o->nrn && r == NULL; j++) {
            if (strcmp(o->rn[j].name, s->name) == 0)
                r = &o->rn[j];
        }
        if (taken || r == NULL || s->status != OSR__VM_ACTIVE || !r->online || (r->busy && !busy))
            continue;
        if ((a = add_action(pass)) == NULL)
            return OSR_ENOMEM;
        a->kind = osr__pool_action_kind_name(OSR__ACT_DELETE_RUNNER_THEN_VM);
        a->rule = "flush";
        snprintf(a->reason, sizeof(a->reason), "%s runner replaced on request",
                 r->busy ? "busy" : "idle");
        a->runner_id = r->id;
        a->vm_delete = 1;
        a->runner_first = !r->busy;
        a->vm_first = r->busy;
        if ((a->server_id = osr__strdup(s->id)) == NULL ||
            (a->server_name = osr__strdup(s->name)) == NULL)
            return OSR_ENOMEM;
    }
    return 0;
}

static void action_fail(osr_pool_action *a, const osr_error *e)
{
    a->outcome = "failed";
    a->error = *e;
    a->vm_delete = 0;
}

/* A runner's record: 204 (or already gone) lets its VM go; GitHub's 422
 * (busy) keeps both. */
/* A ghost record (no VM of its name in the pass's list) is looked up in
 * Nova once more, by name, just before it goes: a create that was in flight
 * when the list was read (another process's, or a killed daemon's: its name
 * is in no in_flight list) shows by now, and its record stays. */
static bool ghost_has_vm(const osr_pool_action *a, osr_session *s)
{
    osr_server *sv = NULL;
    int error;

    if (a->runner_name == NULL || strcmp(a->rule, "ghost-runner") != 0)
        return false;
    error = osr_server_get(&sv, s, a->runner_name);
    osr_server_free(sv);
    return error != OSR_ENOTFOUND; /* found, or not known: keep the record */
}

static void delete_runner(osr_pool_action *a, osr_github *gh, const char *path)
{
    const osr_error *e;

    if (a->runner_id <= 0) {
        a->outcome = "done";
        return;
    }
    if (osr_github_runner_delete(gh, path, a->runner_id) == 0) {
        a->outcome = "done";
        return;
    }
    e = osr_github_last_error(gh);
    if (e->code == OSR_ENOTFOUND) {
        a->outcome = "done"; /* gone already: the VM may go */
    } else if (e->http_status == 422 && a->vm_first) {
        /* flush --busy: its VM is gone; the record goes once GitHub lets
         * it (a ghost runner to a later pass). */
        a->outcome = "done";
    } else if (e->http_status == 422) {
        a->outcome = "kept";
        a->error = *e;
        a->vm_delete = 0;
    } else {
        action_fail(a, e);
    }
}

static void report(const osr_pool_options *o, const osr_pool_action *a)
{
    if (o->on_action)
        o->on_action(a, o->payload);
}

/* The VMs to delete, in chunks of parallel. */
static void delete_vms(osr_pool_pass *pass, osr_session *s, const osr_pool_options *o, bool first)
{
    size_t parallel = o->parallel > 0 ? (size_t)o->parallel : DEFAULT_PARALLEL;
    long timeout = o->delete_timeout_s > 0 ? o->delete_timeout_s : DEFAULT_DELETE_TIMEOUT;
    const char **ids = calloc(parallel, sizeof(*ids));
    size_t *idx = calloc(parallel, sizeof(*idx));
    osr_error *errs = calloc(parallel, sizeof(*errs));
    size_t n = 0;

    if (ids == NULL || idx == NULL || errs == NULL) {
        osr_error e = { OSR_ENOMEM, 0, "", "out of memory" };
        for (size_t i = 0; i < pass->nactions; i++) {
            if (pass->actions[i].vm_delete && (pass->actions[i].vm_first != 0) == first)
                action_fail(&pass->actions[i], &e);
        }
        goto done;
    }
    for (size_t i = 0; i <= pass->nactions; i++) {
        if (i < pass->nactions) {
            osr_pool_action *a = &pass->actions[i];
            if (!a->vm_delete || (a->vm_first != 0) != first || a->server_id == NULL)
                continue;
            if (o->cancel && *o->cancel) {
                a->outcome = "skipped";
                a->vm_delete = 0;
                continue;
            }
            ids[n] = a->server_id;
            idx[n++] = i;
        }
        if (n == parallel || (i == pass->nactions && n > 0)) {
            memset(errs, 0, parallel * sizeof(*errs));
            osr_server_delete_many(s, ids, n, 1, timeout, errs);
            for (size_t k = 0; k < n; k++) {
                osr_pool_action *a = &pass->actions[idx[k]];
                a->vm_delete = 0;
                if (errs[k].code < 0)
                    action_fail(a, &errs[k]);
                else if (!a->vm_first)
                    a->outcome = "done";
            }
            n = 0;
        }
    }
done:
    free(ids);
    free(idx);
    free(errs);
}

/* "POOL-" and OSR__POOL_SUFFIX_LEN of [a-z0-9]. */
static int runner_name(char *buf, size_t size, const char *pool)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char r[OSR__POOL_SUFFIX_LEN];
    size_t n;

    if (RAND_bytes(r, sizeof(r)) != 1)
        return OSR_ERROR;
    n = (size_t)snprintf(buf, size, "%s-", pool);
    for (size_t i = 0; i < sizeof(r) && n + 1 < size; i++)
        buf[n++] = alphabet[r[i] % 36];
    buf[n] = '\0';
    return 0;
}

typedef struct create_set {
    size_t n;
    osr_pool_action **acts; /* the i-th instance's action */
    char (*names)[80];
    osr_instance_config *cfgs;
    const osr_instance_config **ptrs;
    const char **labels;
    const char **groups;
    char owner[OSR__POOL_OWNER_LABEL_SIZE];
} create_set;

static void create_set_free(create_set *c)
{
    free(c->acts);
    free(c->names);
    free(c->cfgs);
    free(c->ptrs);
    free(c->labels);
    free(c->groups);
}

/* The launch's progress: the moment each create request goes out. */
static void create_progress(size_t index, const char *name, const char *state, void *payload)
{
    create_set *c = payload;
    (void)name;
    if (index < c->n && strcmp(state, "creating") == 0 && c->acts[index]->sent_ms == 0)
        c->acts[index]->sent_ms = osr__now_ms_wall();
}

static int create_runners(osr_pool_pass *pass,
                          osr_session *s,
                          osr_github *gh,
                          const osr_manager_config *cfg,
                          const osr_pool_spec *pool,
                          const observed *o,
                          const osr_pool_options *opts)
{
    create_set c;
    size_t nl = osr_pool_spec_label_count(pool), ng = osr_pool_spec_security_group_count(pool);
    size_t first = SIZE_MAX, k = 0;
    osr_provision_options po = OSR_PROVISION_OPTIONS_INIT;
    osr_provision *prov = NULL;
    int error;

    memset(&c, 0, sizeof(c));
    for (size_t i = 0; i < pass->nactions; i++) {
        if (strcmp(pass->actions[i].kind, "create") == 0) {
            first = first == SIZE_MAX ? i : first;
            c.n++;
        }
    }
    if (c.n == 0)
        return 0;
    if (opts->cancel && *opts->cancel) {
        for (size_t i = first; i < pass->nactions; i++)
            pass->actions[i].outcome = "skipped";
        return 0;
    }
    c.names = calloc(c.n, sizeof(*c.names));
    c.cfgs = calloc(c.n, sizeof(*c.cfgs));
    c.ptrs = calloc(c.n, sizeof(*c.ptrs));
    c.labels = calloc(nl + 2, sizeof(*c.labels));
    c.groups = calloc(ng + 1, sizeof(*c.groups));
    c.acts = calloc(c.n, sizeof(*c.acts));
    if (!c.names || !c.cfgs || !c.ptrs || !c.labels || !c.groups || !c.acts) {
        create_set_free(&c);
        return OSR_ENOMEM;
    }
    for (size_t j = 0; j < nl; j++)
        c.labels[j] = osr_pool_spec_label(pool, j);
    osr__pool_owner_label(c.owner, sizeof(c.owner), osr_manager_config_manager(cfg));
    c.labels[nl] = c.owner;
    for (size_t j = 0; j < ng; j++)
        c.groups[j] = osr_pool_spec_security_group(pool, j);
    for (size_t i = first; i < pass->nactions; i++) {
        osr_pool_action *a = &pass->actions[i];
        osr_instance_config ic = OSR_INSTANCE_CONFIG_INIT;
        if (strcmp(a->kind, "create") != 0)
            continue;
        if ((error = runner_name(c.names[k], sizeof(c.names[k]), osr_pool_spec_name(pool))) < 0 ||
            (a->server_name = osr__strdup(c.names[k])) == NULL) {
            create_set_free(&c);
            return OSR_ENOMEM;
        }
        ic.name = c.names[k];
        ic.labels = c.labels;
        ic.github_path = osr_pool_spec_github_path(pool);
        ic.github_url = osr_github_web_base(gh);
        ic.image = o->image_id;
        ic.flavor = osr_pool_spec_flavor(pool);
        ic.network = osr_pool_spec_network(pool);
        ic.key_name = osr_pool_spec_key_name(pool);
        ic.security_groups = ng ? c.groups : NULL;
        ic.availability_zone = osr_pool_spec_availability_zone(pool);
        ic.config_drive = osr_pool_spec_config_drive(pool);
        ic.http_proxy = osr_pool_spec_http_proxy(pool);
        ic.https_proxy = osr_pool_spec_https_proxy(pool);
        ic.no_proxy = osr_pool_spec_no_proxy(pool);
        ic.docker_mirror = osr_pool_spec_docker_mirror(pool);
        ic.manager = osr_manager_config_manager(cfg);
        ic.pool = osr_pool_spec_name(pool);
        c.cfgs[k] = ic;
        c.ptrs[k] = &c.cfgs[k];
        c.acts[k] = a;
        k++;
    }
    po.jit = osr_pool_spec_jit(pool);
    po.runner_group = osr_pool_spec_runner_group(pool);
    po.launch.wait = 0;        /* BUILD is "booting"; the next pass sees how it went */
    po.launch.fresh_names = 1; /* runner_name(): 8 random of [a-z0-9] */
    /* Without the wait for ACTIVE a launch is its creates, tags and name
     * checks: a minute and 2 s a create, not the launch's default 10
     * minutes, so that a pass with Nova's API down ends (and a daemon's
     * next pass comes) in time. */
    po.launch.timeout_s = 60 + 2 * (long)c.n;
    /* A create in doubt at that deadline is not looked up for minutes more:
     * a VM it made carries the pool's tags, and the next pass counts it
     * (its runner record went: never online, replaced after the bootstrap
     * timeout). */
    po.launch.in_doubt_s = -1;
    po.launch.progress = create_progress;
    po.launch.payload = &c;
    po.launch.cancel = opts->cancel;
    error = osr_runner_provision(&prov, s, gh, c.ptrs, c.n, &po);
    k = 0;
    for (size_t i = first; i < pass->nactions; i++) {
        osr_pool_action *a = &pass->actions[i];
        const osr_launch_batch *b;
        if (strcmp(a->kind, "create") != 0)
            continue;
        b = prov ? osr_provision_launch_batch(prov) : NULL;
        if (b && osr_launch_batch_server(b, k)) {
            a->outcome = "done";
            a->server_id = osr__strdup(osr_server_id(osr_launch_batch_server(b, k)));
            a->runner_id =
                osr_provision_runner_id(prov, k) > 0 ? osr_provision_runner_id(prov, k) : -1;
        } else if (b && osr_launch_batch_error(b, k)->code < 0) {
            action_fail(a, osr_launch_batch_error(b, k));
        } else {
            action_fail(a, error < 0 ? osr_session_last_error(s)
                                     : &(osr_error){ OSR_ERROR, 0, "", "not created" });
        }
        k++;
    }
    osr_provision_free(prov);
    create_set_free(&c);
    return 0;
}

/* ------------------------------------------------------------------- a pass */

static long long figure_count(const observed *o, osr__vm_status st)
{
    long long n = 0;
    for (size_t i = 0; i < o->nsv; i++)
        n += o->sv[i].status == st;
    return n;
}

static void fill_figures(osr_pool_pass *pass,
                         const observed *o,
                         const osr__pool_plan *plan,
                         const osr_pool_spec *pool,
                         const osr__pool_params *params,
                         int64_t now)
{
    const osr__pool_capacity *c = &plan->capacity;
    int64_t grace = params->registration_grace;
    long long offline = 0;

    for (size_t i = 0; i < o->nsv; i++) {
        if (o->sv[i].status != OSR__VM_ACTIVE || now - o->sv[i].created < grace)
            continue;
        for (size_t j = 0; j < o->nrn; j++) {
            if (strcmp(o->rn[j].name, o->sv[i].name) == 0 && !o->rn[j].online)
                offline++;
        }
    }
    pass->figures[OSR_POOL_BOOTING] = c->booting;
    pass->figures[OSR_POOL_IDLE] = c->idle;
    pass->figures[OSR_POOL_BUSY] = c->busy;
    pass->figures[OSR_POOL_OFFLINE] = offline;
    pass->figures[OSR_POOL_FINISHED] = figure_count(o, OSR__VM_SHUTOFF);
    pass->figures[OSR_POOL_ERROR] = figure_count(o, OSR__VM_ERROR);
    pass->figures[OSR_POOL_SERVERS] = (long long)o->nsv;
    pass->figures[OSR_POOL_RUNNERS] = 0;
    for (size_t j = 0; j < o->nrn; j++)
        pass->figures[OSR_POOL_RUNNERS] += osr__pool_runner_ours(&o->snap, params, j);
    pass->figures[OSR_POOL_DESIRED] = c->desired;
    pass->figures[OSR_POOL_MIN_IDLE] = osr_pool_spec_min_idle(pool);
    pass->figures[OSR_POOL_MAX_RUNNERS] = osr_pool_spec_max_runners(pool);
    pass->figures[OSR_POOL_HEADROOM] = c->headroom;
    pass->figures[OSR_POOL_HEADROOM_INSTANCES] = c->headroom_instances;
    pass->figures[OSR_POOL_HEADROOM_CORES] = c->headroom_cores;
    pass->figures[OSR_POOL_HEADROOM_RAM] = c->headroom_ram;
    pass->figures[OSR_POOL_HEADROOM_PORTS] = o->snap.ports_known ? c->headroom_ports : -1;
    pass->figures[OSR_POOL_CREATES] = c->creates;
    snprintf(pass->state, sizeof(pass->state), "%s", c->state_text);
}

/* Each action to the caller's hook; whether any failed. */
static bool report_all(const osr_pool_options *opts, const osr_pool_pass *pass)
{
    bool failed = false;
    for (size_t i = 0; i < pass->nactions; i++) {
        failed |= strcmp(pass->actions[i].outcome, "failed") == 0;
        report(opts, &pass->actions[i]);
    }
    return failed;
}

/* OSR_POOL_GROW: opts->grow creates, nothing observed but the image. */
static int grow(osr_pool_pass *pass,
                osr_session *session,
                osr_github *github,
                const osr_manager_config *cfg,
                const osr_pool_spec *pool,
                const osr_pool_options *opts,
                osr_error *err)
{
    observed o;
    int error = 0;

    memset(&o, 0, sizeof(o));
    snprintf(pass->state, sizeof(pass->state), "grow");
    if (opts->image_id) {
        if ((o.image_id = osr__strdup(opts->image_id)) == NULL)
            error = OSR_ENOMEM;
    } else if ((error = observe_image(&o, pass, session, osr_pool_spec_image(pool))) == 0 &&
               o.image_id == NULL) {
        pass->observe_failed = 1;
        error = osr__error_set(err, OSR_ENOTFOUND, "pool %s: %s", pass->pool,
                               pass->observe_error.data ? pass->observe_error.data
                                                        : "the image could not be resolved");
        goto done;
    }
    if (error == 0 && (pass->image_id = osr__strdup(o.image_id)) == NULL)
        error = OSR_ENOMEM;
    for (long long i = 0; error == 0 && i < opts->grow; i++) {
        osr_pool_action *a = add_action(pass);
        if (a == NULL) {
            error = OSR_ENOMEM;
            break;
        }
        a->kind = "create";
        a->rule = "queued-job";
        snprintf(a->reason, sizeof(a->reason), "a job queued for the pool (%lld of %lld now)",
                 i + 1, opts->grow);
    }
    pass->figures[OSR_POOL_CREATES] = opts->grow;
    if (error == 0)
        error = create_runners(pass, session, github, cfg, pool, &o, opts);
    if (error < 0) {
        error = osr__error_set(err, error, "out of memory");
        goto done;
    }
    if (report_all(opts, pass))
        error = osr__error_set(err, OSR_ELEFT, "pool %s: %s", pass->pool,
                               "some creates failed (see each action's error)");
done:
    observed_free(&o);
    return error;
}

int osr_pool_pass_run(osr_pool_pass **out,
                      osr_session *session,
                      osr_github *github,
                      const osr_manager_config *cfg,
                      const osr_pool_spec *pool,
                      const osr_pool_options *opts,
                      osr_error *err)
{
    osr_pool_options defaults = OSR_POOL_OPTIONS_INIT;
    osr_pool_pass *pass = NULL;
    observed o;
    osr__pool_params params;
    osr__pool_plan plan;
    size_t nflight = 0;
    osr__nova nova;
    bool nova_open;
    int64_t now;
    int error = 0, failed = 0;

    memset(&o, 0, sizeof(o));
    memset(&plan, 0, sizeof(plan));
    if (opts == NULL)
        opts = &defaults;
    if (osr__version_check(err, "osr_pool_pass_run", "osr_pool_options", opts->version, 1,
                           OSR_POOL_OPTIONS_VERSION) < 0)
        return OSR_EINVAL;
    if (out == NULL || session == NULL || github == NULL || cfg == NULL || pool == NULL)
        return osr__error_set(err, OSR_EINVAL, "osr_pool_pass_run: a NULL argument");
    if ((pass = calloc(1, sizeof(*pass))) == NULL ||
        (pass->pool = osr__strdup(osr_pool_spec_name(pool))) == NULL) {
        free(pass);
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    }
    now = opts->now > 0 ? opts->now : osr__now_s_wall();

    if (opts->mode == OSR_POOL_GROW) {
        if (opts->version < 3 || opts->grow < 1 || opts->grow > 100) {
            osr_pool_pass_free(pass);
            return osr__error_set(err, OSR_EINVAL, "osr_pool_pass_run: grow must be 1 to 100");
        }
        error = grow(pass, session, github, cfg, pool, opts, err);
        if (error < 0 && error != OSR_ELEFT) {
            osr_pool_pass_free(pass);
            return error;
        }
        *out = pass;
        return error;
    }

    /* Observe: the runners first, then the servers (pool_decide.h says why). */
    o.snap.runners_read_at = now;
    if ((error = observe_runners(&o, pass, github, osr_pool_spec_github_path(pool))) < 0)
        goto nomem;
    o.snap.servers_read_at = opts->now > 0 ? now : osr__now_s_wall();
    nova_open = osr__nova_open(&nova, session) == 0;
    error = observe_servers(&o, pass, session, nova_open ? &nova : NULL,
                            osr_manager_config_manager(cfg), osr_pool_spec_name(pool));
    if (error == 0)
        error = observe_capacity(&o, pass, session, nova_open ? &nova : NULL,
                                 osr_pool_spec_flavor(pool));
    if (nova_open)
        osr__nova_close(&nova);
    if (error < 0 || (error = observe_image(&o, pass, session, osr_pool_spec_image(pool))) < 0)
        goto nomem;
    for (; opts->in_flight && opts->in_flight[nflight]; nflight++)
        ;
    o.snap.in_flight = opts->in_flight;
    o.snap.nin_flight = nflight;

    /* Decide. */
    memset(&params, 0, sizeof(params));
    params.manager = osr_manager_config_manager(cfg);
    params.pool = osr_pool_spec_name(pool);
    params.min_idle = osr_pool_spec_min_idle(pool);
    /* Queued jobs raise the idle target for this pass; max_runners and the
     * headroom still cap what is created (pool_decide). */
    if (opts->version >= 2 && opts->queued_jobs > 0)
        params.min_idle += opts->queued_jobs > 1000 ? 1000 : opts->queued_jobs;
    params.max_runners = osr_pool_spec_max_runners(pool);
    params.build_timeout = osr_pool_spec_timeout(pool, OSR_POOL_TIMEOUT_BUILD);
    params.bootstrap_timeout = osr_pool_spec_timeout(pool, OSR_POOL_TIMEOUT_BOOTSTRAP);
    params.registration_grace = osr_pool_spec_timeout(pool, OSR_POOL_TIMEOUT_REGISTRATION_GRACE);
    params.job_timeout = osr_pool_spec_timeout(pool, OSR_POOL_TIMEOUT_JOB);
    if ((error = osr__pool_decide(&plan, &o.snap, &params, now)) < 0)
        goto nomem;
    for (size_t i = 0; i < plan.nactions; i++) {
        if ((error = action_from_plan(pass, &plan.actions[i], &o.snap)) < 0)
            goto nomem;
    }
    if (opts->flush && !o.snap.failed && (error = add_flush(pass, &o, opts->flush_busy)) < 0)
        goto nomem;
    fill_figures(pass, &o, &plan, pool, &params, now);
    pass->observe_failed = o.snap.failed != 0;
    if (o.image_id && (pass->image_id = osr__strdup(o.image_id)) == NULL) {
        error = OSR_ENOMEM;
        goto nomem;
    }

    /* Act. */
    if (opts->mode == OSR_POOL_RECONCILE) {
        const char *path = osr_pool_spec_github_path(pool);
        /* flush --busy: those VMs go first; then every runner record. */
        delete_vms(pass, session, opts, true);
        for (size_t i = 0; i < pass->nactions; i++) {
            osr_pool_action *a = &pass->actions[i];
            if (strcmp(a->kind, "warn") == 0) {
                a->outcome = "done";
            } else if ((a->runner_first || a->vm_first) && strcmp(a->outcome, "failed") != 0) {
                if (opts->cancel && *opts->cancel) {
                    a->outcome = "skipped";
                    a->vm_delete = 0;
                } else if (ghost_has_vm(a, session)) {
                    a->outcome = "kept";
                    a->vm_delete = 0;
                    snprintf(a->reason, sizeof(a->reason),
                             "runner %lld: its VM %s appeared after the list (a create was in "
                             "flight); kept",
                             a->runner_id, a->runner_name);
                } else {
                    delete_runner(a, github, path);
                }
            }
        }
        delete_vms(pass, session, opts, false);
        if ((error = create_runners(pass, session, github, cfg, pool, &o, opts)) < 0)
            goto nomem;
    }
    failed = report_all(opts, pass); /* outcomes fail only when acting */
    osr__pool_plan_free(&plan);
    observed_free(&o);
    *out = pass;
    if (failed)
        return osr__error_set(err, OSR_ELEFT, "pool %s: %s", pass->pool,
                              "some actions failed (see each action's error)");
    return 0;
nomem:
    osr__pool_plan_free(&plan);
    observed_free(&o);
    osr_pool_pass_free(pass);
    return osr__error_set(err, error == OSR_ERROR ? OSR_ERROR : OSR_ENOMEM,
                          error == OSR_ERROR ? "no random bytes (OpenSSL)" : "out of memory");
}

void osr_pool_pass_free(osr_pool_pass *pass)
{
    if (pass == NULL)
        return;
    for (size_t i = 0; i < pass->nactions; i++) {
        free(pass->actions[i].server_id);
        free(pass->actions[i].server_name);
        free(pass->actions[i].runner_name);
    }
    free(pass->actions);
    osr__buf_free(&pass->observe_error);
    free(pass->pool);
    free(pass->image_id);
    free(pass);
}

const char *osr_pool_pass_pool(const osr_pool_pass *pass)
{
    return pass->pool;
}

const char *osr_pool_pass_state(const osr_pool_pass *pass)
{
    return pass->state;
}

const char *osr_pool_pass_image_id(const osr_pool_pass *pass)
{
    return pass ? pass->image_id : NULL;
}

int osr_pool_pass_observe_failed(const osr_pool_pass *pass)
{
    return pass->observe_failed;
}

const char *osr_pool_pass_observe_error(const osr_pool_pass *pass)
{
    return pass->observe_error.data ? pass->observe_error.data : "";
}

long long osr_pool_pass_figure(const osr_pool_pass *pass, osr_pool_figure which)
{
    if ((int)which < OSR_POOL_BOOTING || which > OSR_POOL_CREATES)
        return -2;
    return pass->figures[which];
}

int osr_pool_pass_quota(const osr_pool_pass *pass,
                        const char *resource,
                        long long *used,
                        long long *max)
{
    const osr__quota_item *q = NULL;

    if (resource == NULL)
        return OSR_ENOTFOUND;
    if (pass->limits_known && strcmp(resource, "instances") == 0)
        q = &pass->limits.instances;
    else if (pass->limits_known && strcmp(resource, "cores") == 0)
        q = &pass->limits.cores;
    else if (pass->limits_known && strcmp(resource, "ram") == 0)
        q = &pass->limits.ram_mb;
    else if (pass->ports.known && strcmp(resource, "ports") == 0)
        q = &pass->ports.ports;
    if (q == NULL)
        return OSR_ENOTFOUND;
    if (used)
        *used = q->used;
    if (max)
        *max = q->max;
    return 0;
}

size_t osr_pool_pass_action_count(const osr_pool_pass *pass)
{
    return pass ? pass->nactions : 0;
}

const osr_pool_action *osr_pool_pass_action_at(const osr_pool_pass *pass, size_t i)
{
    return pass && i < pass->nactions ? &pass->actions[i] : NULL;
}

const char *osr_pool_action_kind(const osr_pool_action *a)
{
    return a->kind;
}

const char *osr_pool_action_rule(const osr_pool_action *a)
{
    return a->rule;
}

const char *osr_pool_action_reason(const osr_pool_action *a)
{
    return a->reason;
}

const char *osr_pool_action_server_id(const osr_pool_action *a)
{
    return a->server_id;
}

const char *osr_pool_action_server_name(const osr_pool_action *a)
{
    return a->server_name;
}

long long osr_pool_action_runner_id(const osr_pool_action *a)
{
    return a->runner_id;
}

const char *osr_pool_action_outcome(const osr_pool_action *a)
{
    return a->outcome;
}

long long osr_pool_action_sent_at(const osr_pool_action *a)
{
    return a ? a->sent_ms : 0;
}

const osr_error *osr_pool_action_error(const osr_pool_action *a)
{
    return &a->error;
}
