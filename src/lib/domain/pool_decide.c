/* The pool engine's decision (pool_decide.h, docs/pool-engine.md): pure, so
 * every rule is a row of a table-driven test. Lists are scanned instead of
 * indexed: a pool holds hundreds of VMs, and the function allocates nothing
 * but its result. */
#include "pool_decide.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NONE SIZE_MAX

osr__vm_status osr__vm_status_of(const char *s)
{
    if (s == NULL)
        return OSR__VM_OTHER;
    if (strcmp(s, "BUILD") == 0)
        return OSR__VM_BUILD;
    if (strcmp(s, "ACTIVE") == 0)
        return OSR__VM_ACTIVE;
    if (strcmp(s, "SHUTOFF") == 0)
        return OSR__VM_SHUTOFF;
    if (strcmp(s, "ERROR") == 0)
        return OSR__VM_ERROR;
    return OSR__VM_OTHER;
}

const char *osr__pool_rule_name(osr__pool_rule rule)
{
    switch (rule) {
    case OSR__RULE_ERROR_VM:
        return "error-vm";
    case OSR__RULE_STUCK_BUILD:
        return "stuck-build";
    case OSR__RULE_NEVER_ONLINE:
        return "never-online";
    case OSR__RULE_RUNNER_GONE:
        return "runner-gone";
    case OSR__RULE_FINISHED_VM:
        return "finished-vm";
    case OSR__RULE_GHOST_RUNNER:
        return "ghost-runner";
    case OSR__RULE_DUPLICATE_NAME:
        return "duplicate-name";
    case OSR__RULE_BUSY_OFFLINE:
        return "busy-offline";
    case OSR__RULE_IDLE_SURPLUS:
        return "idle-surplus";
    case OSR__RULE_OUTDATED_IMAGE:
        return "outdated-image";
    case OSR__RULE_MISSING:
        return "missing";
    case OSR__RULE_BUSY:
        return "busy";
    }
    return "unknown";
}

const char *osr__pool_action_kind_name(osr__pool_action_kind kind)
{
    switch (kind) {
    case OSR__ACT_CREATE:
        return "create";
    case OSR__ACT_DELETE_RUNNER:
        return "delete-runner";
    case OSR__ACT_DELETE_VM:
        return "delete-vm";
    case OSR__ACT_DELETE_RUNNER_THEN_VM:
        return "delete-runner-then-vm";
    case OSR__ACT_WARN:
        return "warn";
    }
    return "unknown";
}

bool osr__pool_runner_name_ok(const char *pool, const char *name)
{
    size_t pl;

    if (pool == NULL || name == NULL)
        return false;
    pl = strlen(pool);
    if (strncmp(name, pool, pl) != 0 || name[pl] != '-' ||
        strlen(name + pl + 1) != OSR__POOL_SUFFIX_LEN)
        return false;
    for (const char *c = name + pl + 1; *c; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9')))
            return false;
    }
    return true;
}

void osr__pool_owner_label(char *buf, size_t size, const char *manager)
{
    snprintf(buf, size, "%s%s", OSR__POOL_OWNER_LABEL_PREFIX, manager ? manager : "");
}

void osr__pool_duration(char *buf, size_t size, int64_t s)
{
    if (s < 0)
        s = 0;
    if (s < 60)
        snprintf(buf, size, "%llds", (long long)s);
    else if (s < 3600)
        snprintf(buf, size, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
    else if (s < 86400)
        snprintf(buf, size, "%lldh%02lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
    else
        snprintf(buf, size, "%lldd%02lldh", (long long)(s / 86400), (long long)(s % 86400 / 3600));
}

/* ---- ownership and matching */

typedef struct dctx {
    const osr__pool_snapshot *snap;
    const osr__pool_params *p;
    int64_t now;
    char owner_label[OSR__POOL_OWNER_LABEL_SIZE];
    osr__pool_plan *plan;
    size_t cap;
} dctx;

static bool server_ours(const dctx *d, size_t i)
{
    const osr__pool_server *s = &d->snap->servers[i];
    return s->manager && s->pool && s->name && strcmp(s->manager, d->p->manager) == 0 &&
           strcmp(s->pool, d->p->pool) == 0;
}

static bool has_server_named(const dctx *d, const char *name)
{
    for (size_t i = 0; i < d->snap->nservers; i++) {
        if (server_ours(d, i) && strcmp(d->snap->servers[i].name, name) == 0)
            return true;
    }
    return false;
}

static bool runner_ours(const dctx *d, size_t j)
{
    const osr__pool_runner *r = &d->snap->runners[j];

    if (r->name == NULL)
        return false;
    if (has_server_named(d, r->name))
        return true;
    if (!osr__pool_runner_name_ok(d->p->pool, r->name))
        return false;
    for (size_t k = 0; k < r->nlabels; k++) {
        if (r->labels[k] && strcasecmp(r->labels[k], d->owner_label) == 0)
            return true;
    }
    return false;
}

bool osr__pool_runner_ours(const osr__pool_snapshot *snap, const osr__pool_params *p, size_t j)
{
    dctx d;

    if (snap == NULL || p == NULL || p->manager == NULL || p->pool == NULL || j >= snap->nrunners)
        return false;
    memset(&d, 0, sizeof(d));
    d.snap = snap;
    d.p = p;
    osr__pool_owner_label(d.owner_label, sizeof(d.owner_label), p->manager);
    return runner_ours(&d, j);
}

/* Our runner of server i's name: the one whose id the server recorded, else the first. */
static size_t runner_of(const dctx *d, size_t i)
{
    const osr__pool_server *s = &d->snap->servers[i];
    size_t found = NONE;

    for (size_t j = 0; j < d->snap->nrunners; j++) {
        const osr__pool_runner *r = &d->snap->runners[j];
        if (r->name == NULL || strcmp(r->name, s->name) != 0)
            continue;
        if (s->runner_id >= 0 && r->id == s->runner_id)
            return j;
        if (found == NONE)
            found = j;
    }
    return found;
}

/* Of our servers named like server i, the one kept: the one whose recorded
 * runner id is its runner's, else an ACTIVE one, else the oldest (then the
 * first). *identified: chosen by the runner id. */
static size_t keeper_of(const dctx *d, size_t i, bool *identified)
{
    const char *name = d->snap->servers[i].name;
    size_t best = NONE;
    int best_rank = -1;

    *identified = false;
    /* The common case, a name of its own, without ranking. */
    for (size_t k = 0; k < d->snap->nservers && best == NONE; k++) {
        if (k != i && server_ours(d, k) && strcmp(d->snap->servers[k].name, name) == 0)
            best = k;
    }
    if (best == NONE)
        return i;
    best = NONE;
    for (size_t k = 0; k < d->snap->nservers; k++) {
        const osr__pool_server *s = &d->snap->servers[k];
        size_t r;
        int rank;
        if (!server_ours(d, k) || strcmp(s->name, name) != 0)
            continue;
        r = runner_of(d, k);
        rank = (r != NONE && s->runner_id >= 0 && d->snap->runners[r].id == s->runner_id) ? 2
               : s->status == OSR__VM_ACTIVE                                              ? 1
                                                                                          : 0;
        if (rank > best_rank ||
            (rank == best_rank && s->created < d->snap->servers[best].created)) {
            best = k;
            best_rank = rank;
        }
    }
    *identified = best_rank == 2;
    return best;
}

static bool in_flight(const dctx *d, const char *name)
{
    for (size_t i = 0; i < d->snap->nin_flight; i++) {
        if (d->snap->in_flight[i] && strcmp(d->snap->in_flight[i], name) == 0)
            return true;
    }
    return false;
}

/* Creates in flight not yet in the server list. */
static int64_t unseen_in_flight(const dctx *d)
{
    int64_t n = 0;
    for (size_t i = 0; i < d->snap->nin_flight; i++) {
        const char *name = d->snap->in_flight[i];
        if (name && !has_server_named(d, name))
            n++;
    }
    return n;
}

static bool server_acted(const dctx *d, size_t i)
{
    for (size_t a = 0; a < d->plan->nactions; a++) {
        if (d->plan->actions[a].server == i)
            return true;
    }
    return false;
}

/* ---- actions */

static void act(dctx *d,
                osr__pool_action_kind kind,
                osr__pool_rule rule,
                size_t server,
                size_t runner,
                const char *fmt,
                ...) OSR__PRINTF(6, 7);
static void act(dctx *d,
                osr__pool_action_kind kind,
                osr__pool_rule rule,
                size_t server,
                size_t runner,
                const char *fmt,
                ...)
{
    osr__pool_action *a;
    va_list ap;

    if (d->plan->nactions >= d->cap) /* cannot happen: the bound is counted */
        return;
    a = &d->plan->actions[d->plan->nactions++];
    a->kind = kind;
    a->rule = rule;
    a->server = server;
    a->runner = runner;
    a->server_id = server != NONE ? d->snap->servers[server].id : NULL;
    a->server_name = server != NONE ? d->snap->servers[server].name : NULL;
    a->runner_id = runner != NONE ? d->snap->runners[runner].id : -1;
    va_start(ap, fmt);
    vsnprintf(a->reason, sizeof(a->reason), fmt, ap);
    va_end(ap);
}

/* Delete the runner first when there is one, then the VM. */
static osr__pool_action_kind delete_kind(size_t runner)
{
    return runner != NONE ? OSR__ACT_DELETE_RUNNER_THEN_VM : OSR__ACT_DELETE_VM;
}

/* ---- headroom */

/* VMs a limit still allows: -1 unlimited. */
static int64_t free_of(int64_t max, int64_t used, int64_t per)
{
    int64_t avail;
    if (max < 0 || per <= 0)
        return -1;
    avail = max - (used > 0 ? used : 0);
    return avail > 0 ? avail / per : 0;
}

static int64_t less_in_flight(int64_t v, int64_t flying)
{
    if (v < 0)
        return -1;
    return v > flying ? v - flying : 0;
}

static void headroom(dctx *d, osr__pool_capacity *c, int64_t flying)
{
    const osr__pool_snapshot *s = d->snap;
    const osr__pool_limits *l = &s->limits;
    int64_t per_vm = s->ports_per_vm > 0 ? s->ports_per_vm : 1;
    int64_t v[4];

    if (s->failed & OSR__OBSERVE_LIMITS) {
        c->headroom = c->headroom_instances = c->headroom_cores = c->headroom_ram = 0;
        c->headroom_ports = s->ports_known ? 0 : -1;
        return;
    }
    v[0] = c->headroom_instances =
        less_in_flight(free_of(l->max_instances, l->used_instances, 1), flying);
    v[1] = c->headroom_cores =
        less_in_flight(free_of(l->max_cores, l->used_cores, s->flavor_vcpus), flying);
    v[2] = c->headroom_ram =
        less_in_flight(free_of(l->max_ram, l->used_ram, s->flavor_ram), flying);
    v[3] = c->headroom_ports =
        s->ports_known ? less_in_flight(free_of(s->max_ports, s->used_ports, per_vm), flying) : -1;
    c->headroom = -1;
    for (size_t i = 0; i < 4; i++) {
        if (v[i] >= 0 && (c->headroom < 0 || v[i] < c->headroom))
            c->headroom = v[i];
    }
}

/* "cores 20/20": the resource that sets the headroom, used/limit. */
static void quota_text(dctx *d, osr__pool_capacity *c, int64_t flying)
{
    const osr__pool_snapshot *s = d->snap;
    const osr__pool_limits *l = &s->limits;
    const char *name = "instances";
    int64_t used = l->used_instances, max = l->max_instances;
    char extra[40] = "";

    if (c->headroom_instances != c->headroom) {
        if (c->headroom_cores == c->headroom) {
            name = "cores";
            used = l->used_cores;
            max = l->max_cores;
        } else if (c->headroom_ram == c->headroom) {
            name = "ram";
            used = l->used_ram;
            max = l->max_ram;
        } else {
            name = "ports";
            used = s->used_ports;
            max = s->max_ports;
        }
    }
    if (flying > 0)
        snprintf(extra, sizeof(extra), " (+%lld in flight)", (long long)flying);
    snprintf(c->state_text, sizeof(c->state_text), "blocked-by-quota: %s %lld/%lld%s", name,
             (long long)used, (long long)max, extra);
}

/* ---- the passes */

/* The rules of one VM of ours. Returns what it counts as: 'i'dle, 'b'ooting,
 * 'B'usy, or 0 (deleted, dead, or not available). */
static char decide_server(dctx *d, size_t i)
{
    const osr__pool_params *p = d->p;
    const osr__pool_server *s = &d->snap->servers[i];
    size_t rj = runner_of(d, i), keep;
    const osr__pool_runner *r = rj != NONE ? &d->snap->runners[rj] : NULL;
    int64_t age = d->now - s->created;
    char a[24], t[24];
    bool identified;

    osr__pool_duration(a, sizeof(a), age);
    keep = keeper_of(d, i, &identified);
    if (keep != i) {
        if (r && r->busy && !identified) {
            act(d, OSR__ACT_WARN, OSR__RULE_BUSY, i, rj,
                "another VM is also named %s and runner %lld is busy: which one runs the job is "
                "unknown, both kept",
                s->name, r->id);
            return 0;
        }
        act(d, OSR__ACT_DELETE_VM, OSR__RULE_DUPLICATE_NAME, i, NONE,
            "another VM is also named %s; kept %s", s->name, d->snap->servers[keep].id);
        return 0;
    }
    if (r && r->busy) {
        const char *state = s->status == OSR__VM_ERROR                               ? "ERROR"
                            : s->status == OSR__VM_SHUTOFF                           ? "SHUTOFF"
                            : (s->status == OSR__VM_BUILD && age > p->build_timeout) ? "BUILD"
                                                                                     : NULL;
        if (state)
            act(d, OSR__ACT_WARN, OSR__RULE_BUSY, i, rj, "%s for %s, but runner %lld is busy: kept",
                state, a, r->id);
        else if (!r->online && age > p->job_timeout) {
            osr__pool_duration(t, sizeof(t), p->job_timeout);
            act(d, OSR__ACT_WARN, OSR__RULE_BUSY_OFFLINE, i, rj,
                "runner %lld offline and busy, VM %s old (job timeout %s): kept", r->id, a, t);
        }
        return 'B';
    }
    switch (s->status) {
    case OSR__VM_ERROR:
        act(d, delete_kind(rj), OSR__RULE_ERROR_VM, i, rj, "ERROR for %s", a);
        return 0;
    case OSR__VM_SHUTOFF:
        act(d, delete_kind(rj), OSR__RULE_FINISHED_VM, i, rj, "SHUTOFF: the runner finished");
        return 0;
    case OSR__VM_BUILD:
        if (age > p->build_timeout) {
            osr__pool_duration(t, sizeof(t), p->build_timeout);
            act(d, delete_kind(rj), OSR__RULE_STUCK_BUILD, i, rj, "BUILD for %s (build timeout %s)",
                a, t);
            return 0;
        }
        return 'b';
    case OSR__VM_ACTIVE:
        if (r && r->online)
            return 'i';
        if (r) {
            if (age > p->bootstrap_timeout) {
                osr__pool_duration(t, sizeof(t), p->bootstrap_timeout);
                act(d, OSR__ACT_DELETE_RUNNER_THEN_VM, OSR__RULE_NEVER_ONLINE, i, rj,
                    "runner %lld still offline %s after the create (bootstrap timeout %s)", r->id,
                    a, t);
                return 0;
            }
            return 'b';
        }
        /* The two guards (GARM #834): old enough to have registered, and
         * created before the runner list was read, so that list could show it. */
        if (age > p->registration_grace && s->created < d->snap->runners_read_at) {
            osr__pool_duration(t, sizeof(t), d->snap->runners_read_at - s->created);
            act(d, OSR__ACT_DELETE_VM, OSR__RULE_RUNNER_GONE, i, NONE,
                "no runner named %s; VM %s old, created %s before the runner list was read",
                s->name, a, t);
            return 0;
        }
        return 'b';
    case OSR__VM_OTHER:
        break;
    }
    return r && r->online ? 'i' : 0;
}

/* Idle runners of ours that a rule may replace: ACTIVE, online, not busy,
 * not acted on yet (a duplicate that lost has its action already). The
 * oldest first (then snapshot order); outdated ones only when outdated is set. */
static size_t oldest_idle(const dctx *d, bool outdated)
{
    size_t best = NONE;

    for (size_t i = 0; i < d->snap->nservers; i++) {
        const osr__pool_server *s = &d->snap->servers[i];
        size_t rj;
        if (!server_ours(d, i) || s->status != OSR__VM_ACTIVE || server_acted(d, i))
            continue;
        rj = runner_of(d, i);
        if (rj == NONE || !d->snap->runners[rj].online || d->snap->runners[rj].busy)
            continue;
        if (outdated && (s->image_id == NULL || d->snap->image_id == NULL ||
                         strcmp(s->image_id, d->snap->image_id) == 0))
            continue;
        if (best == NONE || s->created < d->snap->servers[best].created)
            best = i;
    }
    return best;
}

static int64_t count_deleted_vms(const dctx *d)
{
    int64_t n = 0;
    for (size_t a = 0; a < d->plan->nactions; a++) {
        osr__pool_action_kind k = d->plan->actions[a].kind;
        n += k == OSR__ACT_DELETE_VM || k == OSR__ACT_DELETE_RUNNER_THEN_VM;
    }
    return n;
}

static void observe_failed_text(osr__pool_capacity *c, unsigned failed)
{
    static const char *const names[] = { "servers", "runners", "limits", "image" };
    size_t len;

    snprintf(c->state_text, sizeof(c->state_text), "observe-failed:");
    for (size_t i = 0; i < 4; i++) {
        if (failed & (1u << i)) {
            len = strlen(c->state_text);
            snprintf(c->state_text + len, sizeof(c->state_text) - len, "%s %s",
                     c->state_text[len - 1] == ':' ? "" : ",", names[i]);
        }
    }
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

int osr__pool_decide(osr__pool_plan *out,
                     const osr__pool_snapshot *snap,
                     const osr__pool_params *p,
                     int64_t now)
{
    osr__pool_plan plan;
    osr__pool_capacity *c = &plan.capacity;
    dctx d;
    int64_t flying, idle = 0, booting = 0, busy = 0, total = 0, outdated = 0;
    int64_t min_idle, max_runners, surplus, room, wanted, creates;
    bool destructive, may_create;

    if (out == NULL || snap == NULL || p == NULL || p->manager == NULL || p->pool == NULL ||
        (snap->nservers && snap->servers == NULL) || (snap->nrunners && snap->runners == NULL) ||
        (snap->nin_flight && snap->in_flight == NULL))
        return OSR_EINVAL;
    memset(&plan, 0, sizeof(plan));
    memset(&d, 0, sizeof(d));
    d.snap = snap;
    d.p = p;
    d.now = now;
    d.plan = &plan;
    osr__pool_owner_label(d.owner_label, sizeof(d.owner_label), p->manager);
    min_idle = p->min_idle > 0 ? p->min_idle : 0;
    max_runners = p->max_runners > 0 ? p->max_runners : 0;
    if (min_idle > max_runners)
        min_idle = max_runners;
    /* At most one action per server, per runner, and per create. */
    d.cap = snap->nservers + snap->nrunners + (size_t)min_idle;
    if ((plan.actions = calloc(d.cap ? d.cap : 1, sizeof(*plan.actions))) == NULL)
        return OSR_ENOMEM;

    destructive = snap->failed == 0;
    may_create =
        (snap->failed & (OSR__OBSERVE_SERVERS | OSR__OBSERVE_LIMITS | OSR__OBSERVE_IMAGE)) == 0;
    flying =
        (snap->failed & OSR__OBSERVE_SERVERS) ? (int64_t)snap->nin_flight : unseen_in_flight(&d);

    /* 1. Each VM of ours: the rules of its state, and what it counts as. */
    for (size_t i = 0; i < snap->nservers && !(snap->failed & OSR__OBSERVE_SERVERS); i++) {
        const osr__pool_server *s = &snap->servers[i];
        char k;
        if (!server_ours(&d, i))
            continue;
        total++;
        if (!destructive) {
            /* Nothing is deleted; without the runner list every live VM
             * counts as available, so no more is created than min_idle asks. */
            size_t rj = (snap->failed & OSR__OBSERVE_RUNNERS) ? NONE : runner_of(&d, i);
            if (s->status == OSR__VM_ERROR || s->status == OSR__VM_SHUTOFF)
                continue;
            if (rj != NONE && snap->runners[rj].busy)
                busy++;
            else if (rj != NONE && snap->runners[rj].online && s->status == OSR__VM_ACTIVE)
                idle++;
            else
                booting++;
            continue;
        }
        k = decide_server(&d, i);
        idle += k == 'i';
        booting += k == 'b';
        busy += k == 'B';
        if (k == 'i' && s->status == OSR__VM_ACTIVE && s->image_id && snap->image_id &&
            strcmp(s->image_id, snap->image_id) != 0) {
            size_t rj = runner_of(&d, i);
            outdated += rj != NONE && snap->runners[rj].online && !snap->runners[rj].busy;
        }
    }
    booting += flying;
    total += flying;

    /* 4 (counted first). Runners of ours without a VM: ghosts (busy ones count). */
    for (size_t j = 0; j < snap->nrunners && !(snap->failed & OSR__OBSERVE_RUNNERS); j++) {
        const osr__pool_runner *r = &snap->runners[j];
        if (!runner_ours(&d, j) || has_server_named(&d, r->name) || in_flight(&d, r->name))
            continue;
        if (r->busy)
            busy++;
    }

    c->idle = idle;
    c->booting = booting;
    c->busy = busy;
    c->total = total;
    c->desired = min64(busy + min_idle, max_runners);
    headroom(&d, c, flying);

    if (destructive) {
        int64_t base_wanted = min_idle - (idle + booting), spare, replace;
        /* 2. Outdated image: idle ones are replaced, as many as can be
         * created again now (or are surplus anyway); busy ones never. */
        base_wanted = base_wanted > 0 ? base_wanted : 0;
        spare = c->headroom < 0 ? INT64_MAX / 4 : c->headroom - base_wanted;
        spare = spare > 0 ? spare : 0;
        replace = min64(outdated, (idle > min_idle ? idle - min_idle : 0) + spare);
        for (int64_t n = 0; n < replace; n++) {
            size_t i = oldest_idle(&d, true);
            if (i == NONE)
                break;
            act(&d, OSR__ACT_DELETE_RUNNER_THEN_VM, OSR__RULE_OUTDATED_IMAGE, i, runner_of(&d, i),
                "idle on image %s; the current one is %s", snap->servers[i].image_id,
                snap->image_id);
            idle--;
        }
        /* 3. Idle surplus: above min_idle, or above max_runners. */
        surplus = idle - min_idle;
        if (total - count_deleted_vms(&d) - max_runners > surplus)
            surplus = total - count_deleted_vms(&d) - max_runners;
        surplus = min64(surplus, idle);
        for (int64_t n = 0; n < surplus; n++) {
            size_t i = oldest_idle(&d, false);
            if (i == NONE)
                break;
            if (idle - min_idle >= total - count_deleted_vms(&d) - max_runners)
                act(&d, OSR__ACT_DELETE_RUNNER_THEN_VM, OSR__RULE_IDLE_SURPLUS, i, runner_of(&d, i),
                    "%lld idle, min_idle %lld", (long long)idle, (long long)min_idle);
            else
                act(&d, OSR__ACT_DELETE_RUNNER_THEN_VM, OSR__RULE_IDLE_SURPLUS, i, runner_of(&d, i),
                    "%lld VMs, max_runners %lld", (long long)(total - count_deleted_vms(&d)),
                    (long long)max_runners);
            idle--;
        }
        /* 4. Runners of ours with no VM of ours. */
        for (size_t j = 0; j < snap->nrunners; j++) {
            const osr__pool_runner *r = &snap->runners[j];
            bool dup;
            if (!runner_ours(&d, j) || in_flight(&d, r->name))
                continue;
            dup = has_server_named(&d, r->name);
            if (dup) {
                /* A second record of a name whose VM has its runner already. */
                bool matched = false;
                for (size_t i = 0; i < snap->nservers && !matched; i++)
                    matched = server_ours(&d, i) && strcmp(snap->servers[i].name, r->name) == 0 &&
                              runner_of(&d, i) == j;
                if (matched)
                    continue;
                if (!r->busy)
                    act(&d, OSR__ACT_DELETE_RUNNER, OSR__RULE_DUPLICATE_NAME, NONE, j,
                        "another runner is also named %s", r->name);
                continue;
            }
            if (r->busy) {
                act(&d, OSR__ACT_WARN, OSR__RULE_BUSY, NONE, j,
                    "runner %lld has no VM of ours but is busy: kept", r->id);
                continue;
            }
            /* The server list must be newer than the runner list: else a VM
             * created between the two reads would look missing. */
            if (snap->servers_read_at < snap->runners_read_at)
                continue;
            act(&d, OSR__ACT_DELETE_RUNNER, OSR__RULE_GHOST_RUNNER, NONE, j,
                "runner %lld (%s) has no VM and no create in flight", r->id,
                r->online ? "online" : "offline");
        }
    }

    /* 5. Missing: min_idle - (idle + booting), capped by max_runners and the headroom. */
    wanted = min_idle - (idle + booting);
    wanted = wanted > 0 ? wanted : 0;
    room = max_runners - (total - count_deleted_vms(&d));
    room = room > 0 ? room : 0;
    creates = min64(wanted, room);
    if (c->headroom >= 0)
        creates = min64(creates, c->headroom);
    if (!may_create)
        creates = 0;
    c->wanted = wanted;
    c->creates = creates;
    for (int64_t n = 0; n < creates; n++)
        act(&d, OSR__ACT_CREATE, OSR__RULE_MISSING, NONE, NONE,
            "%lld idle + %lld booting < min_idle %lld", (long long)idle, (long long)booting,
            (long long)min_idle);

    if (snap->failed) {
        c->state = OSR__POOL_OBSERVE_FAILED;
        observe_failed_text(c, snap->failed);
    } else if (creates < wanted && c->headroom >= 0 && c->headroom < min64(wanted, room)) {
        c->state = OSR__POOL_BLOCKED_BY_QUOTA;
        quota_text(&d, c, flying);
    } else if (creates < wanted) {
        c->state = OSR__POOL_AT_MAX_RUNNERS;
        snprintf(c->state_text, sizeof(c->state_text), "at-max-runners: %lld/%lld",
                 (long long)(total - count_deleted_vms(&d) + creates), (long long)max_runners);
    } else {
        c->state = OSR__POOL_OK;
        snprintf(c->state_text, sizeof(c->state_text), "ok");
    }
    *out = plan;
    return 0;
}

void osr__pool_plan_free(osr__pool_plan *plan)
{
    if (plan == NULL)
        return;
    free(plan->actions);
    plan->actions = NULL;
    plan->nactions = 0;
}
