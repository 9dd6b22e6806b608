/* The pool engine's decision (pool_decide.h): every VM state x runner state
 * x age, one row per line; then the two-guard rule's edges, quota arithmetic
 * (-1 unlimited), surplus and outdated images beside busy runners, observe
 * failures, ownership (a human's runner, another manager's) and duplicates. */
#include "pool_decide.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define NOW     1000000
#define READ_AT (NOW - 10) /* the runner list was read 10 s ago */
#define MANAGER "ci-a"
#define POOL    "small"
#define OWNER   "osrunner-manager-ci-a"
#define IMAGE   "img-current"

static const char *const our_labels[] = { "self-hosted", OWNER };
static const char *const human_labels[] = { "self-hosted", "linux" };
static const char *const other_labels[] = { "self-hosted", "osrunner-manager-ci-b" };

/* A snapshot being built: up to 16 servers and runners. */
typedef struct fixture {
    osr__pool_server servers[16];
    osr__pool_runner runners[16];
    const char *in_flight[8];
    osr__pool_snapshot snap;
    osr__pool_params params;
    osr__pool_plan plan;
    char text[1024];
} fixture;

static void fixture_init(fixture *f)
{
    memset(f, 0, sizeof(*f));
    f->snap.servers = f->servers;
    f->snap.runners = f->runners;
    f->snap.in_flight = f->in_flight;
    f->snap.runners_read_at = READ_AT;
    f->snap.servers_read_at = READ_AT + 1;
    f->snap.limits = (osr__pool_limits){ -1, 3, -1, 6, -1, 6144 };
    f->snap.flavor_vcpus = 2;
    f->snap.flavor_ram = 2048;
    f->snap.image_id = IMAGE;
    f->params = (osr__pool_params){ MANAGER, POOL, 1, 10, 900, 1200, 120, 21600 };
}

/* A server of ours (or of manager/pool), created age seconds before NOW. */
static osr__pool_server *
add_server(fixture *f, const char *id, const char *name, osr__vm_status st, int64_t age)
{
    osr__pool_server *s = &f->servers[f->snap.nservers++];
    *s = (osr__pool_server){ id, name, st, NOW - age, MANAGER, POOL, -1, IMAGE };
    return s;
}

static osr__pool_runner *
add_runner(fixture *f, long long id, const char *name, bool online, bool busy)
{
    osr__pool_runner *r = &f->runners[f->snap.nrunners++];
    *r = (osr__pool_runner){ id, name, online, busy, our_labels, 2 };
    return r;
}

/* The plan as "kind:rule kind:rule ...". */
static const char *decide(fixture *f)
{
    size_t len = 0;
    osr__pool_plan_free(&f->plan);
    assert_int_equal(osr__pool_decide(&f->plan, &f->snap, &f->params, NOW), 0);
    f->text[0] = '\0';
    for (size_t i = 0; i < f->plan.nactions; i++) {
        const osr__pool_action *a = &f->plan.actions[i];
        len += (size_t)snprintf(f->text + len, sizeof(f->text) - len, "%s%s:%s", i ? " " : "",
                                osr__pool_action_kind_name(a->kind), osr__pool_rule_name(a->rule));
        assert_non_null(a->reason[0] ? a->reason : NULL); /* every action says why */
        assert_null(strchr(a->reason, '\n'));
    }
    return f->text;
}

static void fixture_done(fixture *f)
{
    osr__pool_plan_free(&f->plan);
}

/* ---- the matrix: VM state x runner state x age, min_idle 1, no quota limit */

enum {
    V_BUILD = OSR__VM_BUILD,
    V_ACTIVE = OSR__VM_ACTIVE,
    V_SHUTOFF = OSR__VM_SHUTOFF,
    V_ERROR = OSR__VM_ERROR,
    V_NONE = 0
};
enum { R_IDLE = 1, R_BUSY, R_OFF, R_OFFBUSY, R_NONE };
/* Ages against the timeouts: grace 120 s, build 900 s, bootstrap 1200 s, job 6 h. */
enum { YOUNG = 60, PAST_GRACE = 300, PAST_BUILD = 1000, PAST_BOOT = 1300, PAST_JOB = 22000 };

static const struct matrix_row {
    int vm, runner, age;
    int idle, booting, busy;
    const char *actions;
} matrix[] = {
    // clang-format off
    /* VM          runner     age         idle booting busy  actions */
    { V_BUILD,   R_IDLE,    YOUNG,      0, 1, 0, "" },
    { V_BUILD,   R_IDLE,    PAST_GRACE, 0, 1, 0, "" },
    { V_BUILD,   R_IDLE,    PAST_BUILD, 0, 0, 0, "delete-runner-then-vm:stuck-build create:missing" },
    { V_BUILD,   R_IDLE,    PAST_BOOT,  0, 0, 0, "delete-runner-then-vm:stuck-build create:missing" },
    { V_BUILD,   R_IDLE,    PAST_JOB,   0, 0, 0, "delete-runner-then-vm:stuck-build create:missing" },
    { V_BUILD,   R_BUSY,    YOUNG,      0, 0, 1, "create:missing" },
    { V_BUILD,   R_BUSY,    PAST_GRACE, 0, 0, 1, "create:missing" },
    { V_BUILD,   R_BUSY,    PAST_BUILD, 0, 0, 1, "warn:busy create:missing" },
    { V_BUILD,   R_BUSY,    PAST_BOOT,  0, 0, 1, "warn:busy create:missing" },
    { V_BUILD,   R_BUSY,    PAST_JOB,   0, 0, 1, "warn:busy create:missing" },
    { V_BUILD,   R_OFF,     YOUNG,      0, 1, 0, "" },
    { V_BUILD,   R_OFF,     PAST_GRACE, 0, 1, 0, "" },
    { V_BUILD,   R_OFF,     PAST_BUILD, 0, 0, 0, "delete-runner-then-vm:stuck-build create:missing" },
    { V_BUILD,   R_OFF,     PAST_BOOT,  0, 0, 0, "delete-runner-then-vm:stuck-build create:missing" },
    { V_BUILD,   R_OFF,     PAST_JOB,   0, 0, 0, "delete-runner-then-vm:stuck-build create:missing" },
    { V_BUILD,   R_OFFBUSY, YOUNG,      0, 0, 1, "create:missing" },
    { V_BUILD,   R_OFFBUSY, PAST_GRACE, 0, 0, 1, "create:missing" },
    { V_BUILD,   R_OFFBUSY, PAST_BUILD, 0, 0, 1, "warn:busy create:missing" },
    { V_BUILD,   R_OFFBUSY, PAST_BOOT,  0, 0, 1, "warn:busy create:missing" },
    { V_BUILD,   R_OFFBUSY, PAST_JOB,   0, 0, 1, "warn:busy create:missing" },
    { V_BUILD,   R_NONE,    YOUNG,      0, 1, 0, "" },
    { V_BUILD,   R_NONE,    PAST_GRACE, 0, 1, 0, "" },
    { V_BUILD,   R_NONE,    PAST_BUILD, 0, 0, 0, "delete-vm:stuck-build create:missing" },
    { V_BUILD,   R_NONE,    PAST_BOOT,  0, 0, 0, "delete-vm:stuck-build create:missing" },
    { V_BUILD,   R_NONE,    PAST_JOB,   0, 0, 0, "delete-vm:stuck-build create:missing" },
    { V_ACTIVE,  R_IDLE,    YOUNG,      1, 0, 0, "" },
    { V_ACTIVE,  R_IDLE,    PAST_GRACE, 1, 0, 0, "" },
    { V_ACTIVE,  R_IDLE,    PAST_BUILD, 1, 0, 0, "" },
    { V_ACTIVE,  R_IDLE,    PAST_BOOT,  1, 0, 0, "" },
    { V_ACTIVE,  R_IDLE,    PAST_JOB,   1, 0, 0, "" },
    { V_ACTIVE,  R_BUSY,    YOUNG,      0, 0, 1, "create:missing" },
    { V_ACTIVE,  R_BUSY,    PAST_GRACE, 0, 0, 1, "create:missing" },
    { V_ACTIVE,  R_BUSY,    PAST_BUILD, 0, 0, 1, "create:missing" },
    { V_ACTIVE,  R_BUSY,    PAST_BOOT,  0, 0, 1, "create:missing" },
    { V_ACTIVE,  R_BUSY,    PAST_JOB,   0, 0, 1, "create:missing" },
    { V_ACTIVE,  R_OFF,     YOUNG,      0, 1, 0, "" },
    { V_ACTIVE,  R_OFF,     PAST_GRACE, 0, 1, 0, "" },
    { V_ACTIVE,  R_OFF,     PAST_BUILD, 0, 1, 0, "" },
    { V_ACTIVE,  R_OFF,     PAST_BOOT,  0, 0, 0, "delete-runner-then-vm:never-online create:missing" },
    { V_ACTIVE,  R_OFF,     PAST_JOB,   0, 0, 0, "delete-runner-then-vm:never-online create:missing" },
    { V_ACTIVE,  R_OFFBUSY, YOUNG,      0, 0, 1, "create:missing" },
    { V_ACTIVE,  R_OFFBUSY, PAST_GRACE, 0, 0, 1, "create:missing" },
    { V_ACTIVE,  R_OFFBUSY, PAST_BUILD, 0, 0, 1, "create:missing" },
    { V_ACTIVE,  R_OFFBUSY, PAST_BOOT,  0, 0, 1, "create:missing" },
    { V_ACTIVE,  R_OFFBUSY, PAST_JOB,   0, 0, 1, "warn:busy-offline create:missing" },
    { V_ACTIVE,  R_NONE,    YOUNG,      0, 1, 0, "" },
    { V_ACTIVE,  R_NONE,    PAST_GRACE, 0, 0, 0, "delete-vm:runner-gone create:missing" },
    { V_ACTIVE,  R_NONE,    PAST_BUILD, 0, 0, 0, "delete-vm:runner-gone create:missing" },
    { V_ACTIVE,  R_NONE,    PAST_BOOT,  0, 0, 0, "delete-vm:runner-gone create:missing" },
    { V_ACTIVE,  R_NONE,    PAST_JOB,   0, 0, 0, "delete-vm:runner-gone create:missing" },
    { V_SHUTOFF, R_IDLE,    YOUNG,      0, 0, 0, "delete-runner-then-vm:finished-vm create:missing" },
    { V_SHUTOFF, R_IDLE,    PAST_GRACE, 0, 0, 0, "delete-runner-then-vm:finished-vm create:missing" },
    { V_SHUTOFF, R_IDLE,    PAST_BUILD, 0, 0, 0, "delete-runner-then-vm:finished-vm create:missing" },
    { V_SHUTOFF, R_IDLE,    PAST_BOOT,  0, 0, 0, "delete-runner-then-vm:finished-vm create:missing" },
    { V_SHUTOFF, R_IDLE,    PAST_JOB,   0, 0, 0, "delete-runner-then-vm:finished-vm create:missing" },
    { V_SHUTOFF, R_BUSY,    YOUNG,      0, 0, 1, "warn:busy create:missing" },
    { V_SHUTOFF, R_BUSY,    PAST_GRACE, 0, 0, 1, "warn:busy create:missing" },
    { V_SHUTOFF, R_BUSY,    PAST_BUILD, 0, 0, 1, "warn:busy create:missing" },
    { V_SHUTOFF, R_BUSY,    PAST_BOOT,  0, 0, 1, "warn:busy create:missing" },
    { V_SHUTOFF, R_BUSY,    PAST_JOB,   0, 0, 1, "warn:busy create:missing" },
    { V_SHUTOFF, R_OFF,     YOUNG,      0, 0, 0, "delete-runner-then-vm:finished-vm create:missing" },
    { V_SHUTOFF, R_OFF,     PAST_GRACE, 0, 0, 0, "delete-runner-then-vm:finished-vm create:missing" },
    { V_SHUTOFF, R_OFF,     PAST_BUILD, 0, 0, 0, "delete-runner-then-vm:finished-vm create:missing" },
    { V_SHUTOFF, R_OFF,     PAST_BOOT,  0, 0, 0, "delete-runner-then-vm:finished-vm create:missing" },
    { V_SHUTOFF, R_OFF,     PAST_JOB,   0, 0, 0, "delete-runner-then-vm:finished-vm create:missing" },
    { V_SHUTOFF, R_OFFBUSY, YOUNG,      0, 0, 1, "warn:busy create:missing" },
    { V_SHUTOFF, R_OFFBUSY, PAST_GRACE, 0, 0, 1, "warn:busy create:missing" },
    { V_SHUTOFF, R_OFFBUSY, PAST_BUILD, 0, 0, 1, "warn:busy create:missing" },
    { V_SHUTOFF, R_OFFBUSY, PAST_BOOT,  0, 0, 1, "warn:busy create:missing" },
    { V_SHUTOFF, R_OFFBUSY, PAST_JOB,   0, 0, 1, "warn:busy create:missing" },
    { V_SHUTOFF, R_NONE,    YOUNG,      0, 0, 0, "delete-vm:finished-vm create:missing" },
    { V_SHUTOFF, R_NONE,    PAST_GRACE, 0, 0, 0, "delete-vm:finished-vm create:missing" },
    { V_SHUTOFF, R_NONE,    PAST_BUILD, 0, 0, 0, "delete-vm:finished-vm create:missing" },
    { V_SHUTOFF, R_NONE,    PAST_BOOT,  0, 0, 0, "delete-vm:finished-vm create:missing" },
    { V_SHUTOFF, R_NONE,    PAST_JOB,   0, 0, 0, "delete-vm:finished-vm create:missing" },
    { V_ERROR,   R_IDLE,    YOUNG,      0, 0, 0, "delete-runner-then-vm:error-vm create:missing" },
    { V_ERROR,   R_IDLE,    PAST_GRACE, 0, 0, 0, "delete-runner-then-vm:error-vm create:missing" },
    { V_ERROR,   R_IDLE,    PAST_BUILD, 0, 0, 0, "delete-runner-then-vm:error-vm create:missing" },
    { V_ERROR,   R_IDLE,    PAST_BOOT,  0, 0, 0, "delete-runner-then-vm:error-vm create:missing" },
    { V_ERROR,   R_IDLE,    PAST_JOB,   0, 0, 0, "delete-runner-then-vm:error-vm create:missing" },
    { V_ERROR,   R_BUSY,    YOUNG,      0, 0, 1, "warn:busy create:missing" },
    { V_ERROR,   R_BUSY,    PAST_GRACE, 0, 0, 1, "warn:busy create:missing" },
    { V_ERROR,   R_BUSY,    PAST_BUILD, 0, 0, 1, "warn:busy create:missing" },
    { V_ERROR,   R_BUSY,    PAST_BOOT,  0, 0, 1, "warn:busy create:missing" },
    { V_ERROR,   R_BUSY,    PAST_JOB,   0, 0, 1, "warn:busy create:missing" },
    { V_ERROR,   R_OFF,     YOUNG,      0, 0, 0, "delete-runner-then-vm:error-vm create:missing" },
    { V_ERROR,   R_OFF,     PAST_GRACE, 0, 0, 0, "delete-runner-then-vm:error-vm create:missing" },
    { V_ERROR,   R_OFF,     PAST_BUILD, 0, 0, 0, "delete-runner-then-vm:error-vm create:missing" },
    { V_ERROR,   R_OFF,     PAST_BOOT,  0, 0, 0, "delete-runner-then-vm:error-vm create:missing" },
    { V_ERROR,   R_OFF,     PAST_JOB,   0, 0, 0, "delete-runner-then-vm:error-vm create:missing" },
    { V_ERROR,   R_OFFBUSY, YOUNG,      0, 0, 1, "warn:busy create:missing" },
    { V_ERROR,   R_OFFBUSY, PAST_GRACE, 0, 0, 1, "warn:busy create:missing" },
    { V_ERROR,   R_OFFBUSY, PAST_BUILD, 0, 0, 1, "warn:busy create:missing" },
    { V_ERROR,   R_OFFBUSY, PAST_BOOT,  0, 0, 1, "warn:busy create:missing" },
    { V_ERROR,   R_OFFBUSY, PAST_JOB,   0, 0, 1, "warn:busy create:missing" },
    { V_ERROR,   R_NONE,    YOUNG,      0, 0, 0, "delete-vm:error-vm create:missing" },
    { V_ERROR,   R_NONE,    PAST_GRACE, 0, 0, 0, "delete-vm:error-vm create:missing" },
    { V_ERROR,   R_NONE,    PAST_BUILD, 0, 0, 0, "delete-vm:error-vm create:missing" },
    { V_ERROR,   R_NONE,    PAST_BOOT,  0, 0, 0, "delete-vm:error-vm create:missing" },
    { V_ERROR,   R_NONE,    PAST_JOB,   0, 0, 0, "delete-vm:error-vm create:missing" },
    { V_NONE,    R_IDLE,    YOUNG,      0, 0, 0, "delete-runner:ghost-runner create:missing" },
    { V_NONE,    R_BUSY,    YOUNG,      0, 0, 1, "warn:busy create:missing" },
    { V_NONE,    R_OFF,     YOUNG,      0, 0, 0, "delete-runner:ghost-runner create:missing" },
    { V_NONE,    R_OFFBUSY, YOUNG,      0, 0, 1, "warn:busy create:missing" },
    { V_NONE,    R_NONE,    YOUNG,      0, 0, 0, "create:missing" },
    // clang-format on
};

static void test_matrix(void **state)
{
    size_t failures = 0;
    (void)state;
    for (size_t i = 0; i < sizeof(matrix) / sizeof(matrix[0]); i++) {
        const struct matrix_row *row = &matrix[i];
        fixture f;
        const char *got;
        fixture_init(&f);
        if (row->vm != V_NONE) {
            osr__pool_server *s =
                add_server(&f, "id-1", "small-abcd1234", (osr__vm_status)row->vm, row->age);
            s->runner_id = row->runner != R_NONE ? 42 : -1;
        }
        if (row->runner != R_NONE)
            add_runner(&f, 42, "small-abcd1234", row->runner == R_IDLE || row->runner == R_BUSY,
                       row->runner == R_BUSY || row->runner == R_OFFBUSY);
        got = decide(&f);
        if (strcmp(got, row->actions) != 0 || f.plan.capacity.idle != row->idle ||
            f.plan.capacity.booting != row->booting || f.plan.capacity.busy != row->busy) {
            print_error("row %zu (vm %d runner %d age %d): got \"%s\" idle %lld booting %lld "
                        "busy %lld\n",
                        i, row->vm, row->runner, row->age, got, (long long)f.plan.capacity.idle,
                        (long long)f.plan.capacity.booting, (long long)f.plan.capacity.busy);
            failures++;
        }
        fixture_done(&f);
    }
    assert_int_equal(failures, 0);
}

/* ---- the two guards of runner-gone (GARM #834) */

static void test_runner_gone_guards(void **state)
{
#define GONE "delete-vm:runner-gone create:missing"
    static const struct {
        int64_t age;     /* VM age at NOW */
        int64_t read_at; /* when the runner list was read */
        const char *actions;
    } rows[] = {
        // clang-format off
        /* age   runners read at  actions (min_idle 1: a kept VM counts as booting) */
        { 300,   NOW - 10,        GONE }, /* both guards hold */
        { 300,   NOW - 299,       GONE }, /* created 1 s before the read */
        { 300,   NOW - 300,       "" },   /* created at the read: kept */
        { 300,   NOW - 301,       "" },   /* created 1 s after the read: kept */
        { 121,   NOW,             GONE }, /* 1 s past the grace */
        { 120,   NOW,             "" },   /* at the grace: kept */
        { 60,    NOW,             "" },   /* young: kept */
        { 86400, NOW - 86401,     "" },   /* old, but the list is older than the VM */
        // clang-format on
    };
#undef GONE
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        fixture f;
        fixture_init(&f);
        f.snap.runners_read_at = rows[i].read_at;
        f.snap.servers_read_at = NOW;
        add_server(&f, "id-1", "small-abcd1234", OSR__VM_ACTIVE, rows[i].age);
        if (strcmp(decide(&f), rows[i].actions) != 0)
            print_error("row %zu: got \"%s\"\n", i, f.text);
        assert_string_equal(f.text, rows[i].actions);
        fixture_done(&f);
    }
}

/* ---- quota arithmetic: -1 is unlimited, the smallest resource wins, in-flight creates count */

static void test_quota(void **state)
{
    static const struct {
        osr__pool_limits l; /* max/used instances, cores, RAM (MiB) */
        int64_t vcpus, ram;
        bool ports_known;
        int64_t max_ports, used_ports;
        int in_flight;
        int64_t inst, cores, ramh, ports, headroom, creates;
        const char *state;
    } rows[] = {
        // clang-format off
        /* limits                              vcpus ram  ports          fly inst cores ram ports head creates state */
        { { -1, 0, -1, 0, -1, 0 },             2, 2048, false, 0, 0,     0, -1, -1, -1, -1, -1, 3, "ok" },
        { { 10, 3, -1, 0, -1, 0 },             2, 2048, false, 0, 0,     0, 7, -1, -1, -1, 7, 3, "ok" },
        { { 10, 3, 20, 18, -1, 0 },            2, 2048, false, 0, 0,     0, 7, 1, -1, -1, 1, 1, "blocked-by-quota: cores 18/20" },
        { { -1, 0, 20, 20, -1, 0 },            2, 2048, false, 0, 0,     0, -1, 0, -1, -1, 0, 0, "blocked-by-quota: cores 20/20" },
        { { -1, 0, 20, 25, -1, 0 },            2, 2048, false, 0, 0,     0, -1, 0, -1, -1, 0, 0, "blocked-by-quota: cores 25/20" },
        { { -1, 0, 21, 0, 5000, 0 },           4, 2048, false, 0, 0,     0, -1, 5, 2, -1, 2, 2, "blocked-by-quota: ram 0/5000" },
        { { 10, 9, -1, 0, -1, 0 },             2, 2048, false, 0, 0,     1, 0, -1, -1, -1, 0, 0, "blocked-by-quota: instances 9/10 (+1 in flight)" },
        { { 10, 5, -1, 0, -1, 0 },             2, 2048, true, 50, 49,    0, 5, -1, -1, 1, 1, 1, "blocked-by-quota: ports 49/50" },
        { { 10, 5, -1, 0, -1, 0 },             2, 2048, true, -1, 49,    0, 5, -1, -1, -1, 5, 3, "ok" },
        { { -1, 0, 100, 0, -1, 0 },            0, 0, false, 0, 0,        0, -1, -1, -1, -1, -1, 3, "ok" }, /* no vcpus/RAM: no bound */
        // clang-format on
    };
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        fixture f;
        const osr__pool_capacity *c;
        fixture_init(&f);
        f.params.min_idle = 3;
        f.snap.limits = rows[i].l;
        f.snap.flavor_vcpus = rows[i].vcpus;
        f.snap.flavor_ram = rows[i].ram;
        f.snap.ports_known = rows[i].ports_known;
        f.snap.max_ports = rows[i].max_ports;
        f.snap.used_ports = rows[i].used_ports;
        for (int k = 0; k < rows[i].in_flight; k++)
            f.in_flight[f.snap.nin_flight++] = "small-zzzzzzz1";
        decide(&f);
        c = &f.plan.capacity;
        if (c->headroom_instances != rows[i].inst || c->headroom_cores != rows[i].cores ||
            c->headroom_ram != rows[i].ramh || c->headroom_ports != rows[i].ports ||
            c->headroom != rows[i].headroom || c->creates != rows[i].creates ||
            strcmp(c->state_text, rows[i].state) != 0)
            print_error("row %zu: inst %lld cores %lld ram %lld ports %lld head %lld creates %lld "
                        "state \"%s\"\n",
                        i, (long long)c->headroom_instances, (long long)c->headroom_cores,
                        (long long)c->headroom_ram, (long long)c->headroom_ports,
                        (long long)c->headroom, (long long)c->creates, c->state_text);
        assert_int_equal(c->headroom_instances, rows[i].inst);
        assert_int_equal(c->headroom_cores, rows[i].cores);
        assert_int_equal(c->headroom_ram, rows[i].ramh);
        assert_int_equal(c->headroom_ports, rows[i].ports);
        assert_int_equal(c->headroom, rows[i].headroom);
        assert_int_equal(c->creates, rows[i].creates);
        assert_string_equal(c->state_text, rows[i].state);
        assert_int_equal(c->wanted, 3 - rows[i].in_flight);
        fixture_done(&f);
    }
}

static void test_max_runners(void **state)
{
    fixture f;
    (void)state;
    fixture_init(&f);
    f.params.min_idle = 3;
    f.params.max_runners = 3;
    add_server(&f, "id-1", "small-aaaaaaa1", OSR__VM_ACTIVE, 600);
    add_server(&f, "id-2", "small-aaaaaaa2", OSR__VM_ACTIVE, 600);
    add_runner(&f, 1, "small-aaaaaaa1", true, true);
    add_runner(&f, 2, "small-aaaaaaa2", true, true);
    assert_string_equal(decide(&f), "create:missing");
    assert_string_equal(f.plan.capacity.state_text, "at-max-runners: 3/3");
    assert_int_equal(f.plan.capacity.desired, 3);
    assert_int_equal(f.plan.capacity.wanted, 3);
    /* An ERROR VM's slot is given back in the same pass (GRO #802). */
    add_server(&f, "id-3", "small-aaaaaaa3", OSR__VM_ERROR, 30);
    assert_string_equal(decide(&f), "delete-vm:error-vm create:missing");
    /* Lowered max_runners: idle ones go down to it, busy ones stay. */
    fixture_done(&f);
    fixture_init(&f);
    f.params.min_idle = 1;
    f.params.max_runners = 2;
    for (int i = 0; i < 4; i++) {
        static const char *const names[] = { "small-bbbbbbb1", "small-bbbbbbb2", "small-bbbbbbb3",
                                             "small-bbbbbbb4" };
        static const char *const ids[] = { "b1", "b2", "b3", "b4" };
        add_server(&f, ids[i], names[i], OSR__VM_ACTIVE, 1000 - i);
        add_runner(&f, 10 + i, names[i], true, i < 2);
    }
    assert_string_equal(decide(&f),
                        "delete-runner-then-vm:idle-surplus delete-runner-then-vm:idle-surplus");
    assert_string_equal(f.plan.actions[0].reason, "4 VMs, max_runners 2");
    fixture_done(&f);
}

/* ---- surplus with a busy runner; outdated images with busy ones */

static void test_surplus_keeps_busy(void **state)
{
    fixture f;
    (void)state;
    fixture_init(&f);
    f.params.min_idle = 1;
    add_server(&f, "old", "small-ccccccc1", OSR__VM_ACTIVE, 5000);    /* busy, the oldest */
    add_server(&f, "mid", "small-ccccccc2", OSR__VM_ACTIVE, 4000);    /* idle */
    add_server(&f, "new", "small-ccccccc3", OSR__VM_ACTIVE, 3000);    /* idle */
    add_server(&f, "newest", "small-ccccccc4", OSR__VM_ACTIVE, 2000); /* idle */
    add_runner(&f, 1, "small-ccccccc1", true, true);
    add_runner(&f, 2, "small-ccccccc2", true, false);
    add_runner(&f, 3, "small-ccccccc3", true, false);
    add_runner(&f, 4, "small-ccccccc4", true, false);
    assert_string_equal(decide(&f),
                        "delete-runner-then-vm:idle-surplus delete-runner-then-vm:idle-surplus");
    /* the oldest idle ones; never the busy one */
    assert_string_equal(f.plan.actions[0].server_id, "mid");
    assert_int_equal(f.plan.actions[0].runner_id, 2);
    assert_string_equal(f.plan.actions[1].server_id, "new");
    assert_string_equal(f.plan.actions[0].reason, "3 idle, min_idle 1");
    assert_int_equal(f.plan.capacity.idle, 3);
    assert_int_equal(f.plan.capacity.busy, 1);
    assert_int_equal(f.plan.capacity.desired, 2);
    /* min_idle 0 and only busy runners: nothing to do */
    f.snap.nservers = 1;
    f.snap.nrunners = 1;
    f.params.min_idle = 0;
    assert_string_equal(decide(&f), "");
    fixture_done(&f);
}

static void test_outdated_image(void **state)
{
    fixture f;
    (void)state;
    fixture_init(&f);
    f.params.min_idle = 2;
    add_server(&f, "busy-old", "small-ddddddd1", OSR__VM_ACTIVE, 900)->image_id = "img-old";
    add_server(&f, "idle-old", "small-ddddddd2", OSR__VM_ACTIVE, 800)->image_id = "img-old";
    add_server(&f, "idle-old2", "small-ddddddd3", OSR__VM_ACTIVE, 700)->image_id = "img-old";
    add_server(&f, "unknown", "small-ddddddd4", OSR__VM_ACTIVE, 600)->image_id = NULL;
    add_runner(&f, 1, "small-ddddddd1", true, true);
    add_runner(&f, 2, "small-ddddddd2", true, false);
    add_runner(&f, 3, "small-ddddddd3", true, false);
    add_runner(&f, 4, "small-ddddddd4", true, false);
    /* 3 idle, min_idle 2: one outdated is surplus anyway, the other is replaced. */
    assert_string_equal(decide(&f), "delete-runner-then-vm:outdated-image "
                                    "delete-runner-then-vm:outdated-image create:missing");
    assert_string_equal(f.plan.actions[0].server_id, "idle-old");
    assert_string_equal(f.plan.actions[1].server_id, "idle-old2");
    assert_string_equal(f.plan.actions[0].reason, "idle on image img-old; the current one is "
                                                  "img-current");
    /* No room to create a replacement: only the surplus one goes. */
    f.snap.limits.max_instances = 4;
    f.snap.limits.used_instances = 4;
    assert_string_equal(decide(&f), "delete-runner-then-vm:outdated-image");
    /* Only busy ones outdated: nothing. */
    f.snap.limits.max_instances = -1;
    f.snap.nservers = 1;
    f.snap.nrunners = 1;
    f.params.min_idle = 0;
    assert_string_equal(decide(&f), "");
    fixture_done(&f);
}

/* ---- observe failures: no destructive action; creates only with servers, limits and image */

static void test_observe_failed(void **state)
{
    static const struct {
        unsigned failed;
        const char *actions;
        const char *state;
    } rows[] = {
        // clang-format off
        /* failed                                         actions          state */
        { OSR__OBSERVE_SERVERS, "", "observe-failed: servers" },
        { OSR__OBSERVE_RUNNERS, "create:missing", "observe-failed: runners" },
        { OSR__OBSERVE_LIMITS, "", "observe-failed: limits" },
        { OSR__OBSERVE_IMAGE, "", "observe-failed: image" },
        { OSR__OBSERVE_SERVERS | OSR__OBSERVE_RUNNERS, "", "observe-failed: servers, runners" },
        { OSR__OBSERVE_RUNNERS | OSR__OBSERVE_IMAGE, "", "observe-failed: runners, image" },
        // clang-format on
    };
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        fixture f;
        fixture_init(&f);
        f.params.min_idle = 3;
        /* Everything here would be deleted by a pass that read it all. */
        add_server(&f, "e", "small-eeeeeee1", OSR__VM_ERROR, 30);
        add_server(&f, "s", "small-eeeeeee2", OSR__VM_SHUTOFF, 3000);
        add_server(&f, "gone", "small-eeeeeee3", OSR__VM_ACTIVE, 3000); /* runner gone */
        add_server(&f, "idle", "small-eeeeeee4", OSR__VM_ACTIVE, 3000);
        add_runner(&f, 4, "small-eeeeeee4", true, false);
        add_runner(&f, 5, "small-eeeeeee5", false, false); /* a ghost */
        f.snap.failed = rows[i].failed;
        if (strcmp(decide(&f), rows[i].actions) != 0 ||
            strcmp(f.plan.capacity.state_text, rows[i].state) != 0)
            print_error("row %zu: got \"%s\" state \"%s\"\n", i, f.text,
                        f.plan.capacity.state_text);
        assert_string_equal(f.text, rows[i].actions);
        assert_string_equal(f.plan.capacity.state_text, rows[i].state);
        assert_int_equal(f.plan.capacity.state, OSR__POOL_OBSERVE_FAILED);
        fixture_done(&f);
    }
    /* Without the runner list every live VM counts: 2 live, min_idle 3, 1 create. */
    {
        fixture f;
        fixture_init(&f);
        f.params.min_idle = 3;
        add_server(&f, "a", "small-fffffff1", OSR__VM_ACTIVE, 3000);
        add_server(&f, "b", "small-fffffff2", OSR__VM_BUILD, 30);
        add_server(&f, "c", "small-fffffff3", OSR__VM_ERROR, 30);
        f.snap.failed = OSR__OBSERVE_RUNNERS;
        assert_string_equal(decide(&f), "create:missing");
        assert_int_equal(f.plan.capacity.booting, 2);
        fixture_done(&f);
    }
}

/* ---- ownership: a human's runner and another manager's, looking alike */

static void test_ownership(void **state)
{
    fixture f;
    osr__pool_runner *r;
    (void)state;
    fixture_init(&f);
    f.params.min_idle = 0;
    /* A human's runner with our name shape, no VM: not ours. */
    r = add_runner(&f, 1, "small-abcd1234", false, false);
    r->labels = human_labels;
    /* Another manager's VM and runner, same pool name and shape. */
    add_server(&f, "theirs", "small-00000001", OSR__VM_ERROR, 30)->manager = "ci-b";
    r = add_runner(&f, 2, "small-00000001", false, false);
    r->labels = other_labels;
    /* Another manager's ghost runner. */
    r = add_runner(&f, 3, "small-00000002", false, false);
    r->labels = other_labels;
    /* Our label, but another pool's name ("small-x"): not this pool's. */
    add_runner(&f, 4, "small-x-abcd1234", false, false);
    /* Our label, but not our name shape. */
    add_runner(&f, 5, "small-ABCD1234", false, false);
    add_runner(&f, 6, "small-abcd123", false, false);
    /* Our other pool's VM. */
    add_server(&f, "other-pool", "big-00000001", OSR__VM_SHUTOFF, 30)->pool = "big";
    /* A server without tags. */
    add_server(&f, "untagged", "small-00000003", OSR__VM_ERROR, 30)->manager = NULL;
    assert_string_equal(decide(&f), "");
    assert_int_equal(f.plan.capacity.total, 0);
    /* Ours: our label and shape. */
    add_runner(&f, 7, "small-0000000a", false, false);
    assert_string_equal(decide(&f), "delete-runner:ghost-runner");
    assert_int_equal(f.plan.actions[0].runner_id, 7);
    assert_null(f.plan.actions[0].server_id);
    /* Labels compare without case, as GitHub's do. */
    {
        static const char *const upper[] = { "OSRUNNER-MANAGER-CI-A" };
        f.runners[f.snap.nrunners - 1].labels = upper;
        f.runners[f.snap.nrunners - 1].nlabels = 1;
        assert_string_equal(decide(&f), "delete-runner:ghost-runner");
    }
    fixture_done(&f);

    assert_true(osr__pool_runner_name_ok("small", "small-abcd1234"));
    assert_false(osr__pool_runner_name_ok("small", "small-abcd12345"));
    assert_false(osr__pool_runner_name_ok("small", "smallx-abcd1234"));
    assert_false(osr__pool_runner_name_ok("small", "small-abc-1234"));
    assert_false(osr__pool_runner_name_ok("a", "a-b-abcd1234"));
    assert_false(osr__pool_runner_name_ok(NULL, "a"));
}

static void test_ghost_guards(void **state)
{
    fixture f;
    (void)state;
    fixture_init(&f);
    f.params.min_idle = 0;
    add_runner(&f, 9, "small-99999999", true, false);
    assert_string_equal(decide(&f), "delete-runner:ghost-runner");
    assert_string_equal(f.plan.actions[0].reason,
                        "runner 9 (online) has no VM and no create in flight");
    /* its create is in flight: kept (counted as booting) */
    f.in_flight[f.snap.nin_flight++] = "small-99999999";
    assert_string_equal(decide(&f), "");
    assert_int_equal(f.plan.capacity.booting, 1);
    /* servers listed before the runners: a VM made in between could be missing */
    f.snap.nin_flight = 0;
    f.snap.servers_read_at = f.snap.runners_read_at - 1;
    assert_string_equal(decide(&f), "");
    /* its VM is in the list (any state): not a ghost */
    f.snap.servers_read_at = NOW;
    add_server(&f, "v", "small-99999999", OSR__VM_BUILD, 30);
    assert_string_equal(decide(&f), "");
    fixture_done(&f);
}

static void test_duplicates(void **state)
{
    fixture f;
    (void)state;
    fixture_init(&f);
    f.params.min_idle = 1;
    /* Two VMs of one name; the runner id recorded on the younger one. */
    add_server(&f, "first", "small-dddddddd", OSR__VM_ACTIVE, 600);
    add_server(&f, "second", "small-dddddddd", OSR__VM_ACTIVE, 500)->runner_id = 77;
    add_runner(&f, 77, "small-dddddddd", true, false);
    assert_string_equal(decide(&f), "delete-vm:duplicate-name");
    assert_string_equal(f.plan.actions[0].server_id, "first");
    assert_string_equal(f.plan.actions[0].reason, "another VM is also named small-dddddddd; kept "
                                                  "second");
    assert_int_equal(f.plan.capacity.idle, 1);
    /* No id recorded: an ACTIVE one is kept over a BUILD one, then the oldest. */
    f.servers[1].runner_id = -1;
    f.servers[0].status = OSR__VM_BUILD;
    assert_string_equal(decide(&f), "delete-vm:duplicate-name");
    assert_string_equal(f.plan.actions[0].server_id, "first");
    f.servers[0].status = OSR__VM_ACTIVE;
    assert_string_equal(decide(&f), "delete-vm:duplicate-name");
    assert_string_equal(f.plan.actions[0].server_id, "second");
    /* A busy runner and no id: which VM runs the job is unknown: both kept. */
    f.runners[0].busy = true;
    assert_string_equal(decide(&f), "warn:busy create:missing");
    /* Two runner records of one name: the one the VM recorded stays. */
    fixture_done(&f);
    fixture_init(&f);
    f.params.min_idle = 1;
    add_server(&f, "v", "small-eeeeeeee", OSR__VM_ACTIVE, 600)->runner_id = 2;
    add_runner(&f, 1, "small-eeeeeeee", false, false);
    add_runner(&f, 2, "small-eeeeeeee", true, false);
    assert_string_equal(decide(&f), "delete-runner:duplicate-name");
    assert_int_equal(f.plan.actions[0].runner_id, 1);
    fixture_done(&f);
}

static void test_other_states_and_names(void **state)
{
    fixture f;
    char buf[32];
    (void)state;
    fixture_init(&f);
    f.params.min_idle = 1;
    /* REBOOT and the like: never acted on; an online runner still counts idle. */
    add_server(&f, "r", "small-rrrrrrrr", OSR__VM_OTHER, 99999);
    assert_string_equal(decide(&f), "create:missing");
    add_runner(&f, 1, "small-rrrrrrrr", true, false);
    assert_string_equal(decide(&f), "");
    assert_int_equal(f.plan.capacity.idle, 1);
    fixture_done(&f);

    assert_int_equal(osr__vm_status_of("BUILD"), OSR__VM_BUILD);
    assert_int_equal(osr__vm_status_of("ACTIVE"), OSR__VM_ACTIVE);
    assert_int_equal(osr__vm_status_of("SHUTOFF"), OSR__VM_SHUTOFF);
    assert_int_equal(osr__vm_status_of("ERROR"), OSR__VM_ERROR);
    assert_int_equal(osr__vm_status_of("HARD_REBOOT"), OSR__VM_OTHER);
    assert_int_equal(osr__vm_status_of(NULL), OSR__VM_OTHER);
    /* stable names */
    {
        static const char *const names[] = {
            "error-vm",     "stuck-build",    "never-online",   "runner-gone",
            "finished-vm",  "ghost-runner",   "duplicate-name", "busy-offline",
            "idle-surplus", "outdated-image", "missing",        "busy",
        };
        for (int i = 0; i < 12; i++)
            assert_string_equal(osr__pool_rule_name((osr__pool_rule)(i + 1)), names[i]);
        assert_string_equal(osr__pool_rule_name((osr__pool_rule)99), "unknown");
    }
    assert_string_equal(osr__pool_action_kind_name(OSR__ACT_CREATE), "create");
    assert_string_equal(osr__pool_action_kind_name(OSR__ACT_DELETE_RUNNER), "delete-runner");
    assert_string_equal(osr__pool_action_kind_name(OSR__ACT_DELETE_VM), "delete-vm");
    assert_string_equal(osr__pool_action_kind_name(OSR__ACT_DELETE_RUNNER_THEN_VM),
                        "delete-runner-then-vm");
    assert_string_equal(osr__pool_action_kind_name(OSR__ACT_WARN), "warn");
    osr__pool_duration(buf, sizeof(buf), 45);
    assert_string_equal(buf, "45s");
    osr__pool_duration(buf, sizeof(buf), 192);
    assert_string_equal(buf, "3m12s");
    osr__pool_duration(buf, sizeof(buf), 7500);
    assert_string_equal(buf, "2h05m");
    osr__pool_duration(buf, sizeof(buf), 3 * 86400 + 4 * 3600);
    assert_string_equal(buf, "3d04h");
    osr__pool_duration(buf, sizeof(buf), -5);
    assert_string_equal(buf, "0s");
    osr__pool_owner_label(buf, sizeof(buf), "ci-a");
    assert_string_equal(buf, OWNER);
}

static void test_reasons_and_args(void **state)
{
    fixture f;
    osr__pool_plan sentinel = { (osr__pool_action *)0x1234, 7, { 0 } };
    (void)state;
    fixture_init(&f);
    f.params.min_idle = 0;
    add_server(&f, "e", "small-eeeeeee1", OSR__VM_ERROR, 192);
    add_server(&f, "b", "small-bbbbbbb1", OSR__VM_BUILD, 1000);
    add_server(&f, "n", "small-nnnnnnn1", OSR__VM_ACTIVE, 1300);
    add_runner(&f, 3, "small-nnnnnnn1", false, false);
    add_server(&f, "x", "small-xxxxxxx1", OSR__VM_ACTIVE, 22000);
    add_runner(&f, 4, "small-xxxxxxx1", false, true);
    decide(&f);
    assert_int_equal(f.plan.nactions, 4);
    assert_string_equal(f.plan.actions[0].reason, "ERROR for 3m12s");
    assert_string_equal(f.plan.actions[0].server_name, "small-eeeeeee1");
    assert_int_equal(f.plan.actions[0].runner_id, -1);
    assert_string_equal(f.plan.actions[1].reason, "BUILD for 16m40s (build timeout 15m00s)");
    assert_string_equal(
        f.plan.actions[2].reason,
        "runner 3 still offline 21m40s after the create (bootstrap timeout 20m00s)");
    assert_int_equal(f.plan.actions[2].runner_id, 3);
    assert_int_equal(f.plan.actions[3].kind, OSR__ACT_WARN);
    assert_string_equal(f.plan.actions[3].reason,
                        "runner 4 offline and busy, VM 6h06m old (job timeout 6h00m): kept");
    assert_string_equal(f.plan.capacity.state_text, "ok");
    fixture_done(&f);

    assert_int_equal(osr__pool_decide(NULL, &f.snap, &f.params, NOW), OSR_EINVAL);
    assert_int_equal(osr__pool_decide(&sentinel, NULL, &f.params, NOW), OSR_EINVAL);
    assert_int_equal(osr__pool_decide(&sentinel, &f.snap, NULL, NOW), OSR_EINVAL);
    assert_ptr_equal(sentinel.actions, (osr__pool_action *)0x1234); /* untouched */
    osr__pool_plan_free(NULL);
}

/* 200 VMs and runners, as the benchmark's fleet: the oldest surplus goes,
 * every busy one stays, and nothing else is touched. */
static void test_fleet(void **state)
{
    enum { N = 200 };
    osr__pool_server *servers = calloc(N, sizeof(*servers));
    osr__pool_runner *runners = calloc(N, sizeof(*runners));
    char(*names)[16] = calloc(N, sizeof(*names));
    osr__pool_snapshot snap;
    osr__pool_params params = { MANAGER, POOL, 50, 300, 900, 1200, 120, 21600 };
    osr__pool_plan plan;
    (void)state;
    assert_non_null(servers);
    assert_non_null(runners);
    assert_non_null(names);
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "small-%08d", i);
        servers[i] = (osr__pool_server){ names[i], names[i], OSR__VM_ACTIVE, NOW - 10000 + i,
                                         MANAGER,  POOL,     1000 + i,       IMAGE };
        runners[i] = (osr__pool_runner){ 1000 + i, names[i], true, i % 2 == 0, our_labels, 2 };
    }
    memset(&snap, 0, sizeof(snap));
    snap.servers = servers;
    snap.nservers = N;
    snap.runners = runners;
    snap.nrunners = N;
    snap.runners_read_at = READ_AT;
    snap.servers_read_at = READ_AT;
    snap.limits = (osr__pool_limits){ -1, 0, -1, 0, -1, 0 };
    snap.image_id = IMAGE;
    assert_int_equal(osr__pool_decide(&plan, &snap, &params, NOW), 0);
    /* 100 busy, 100 idle, min_idle 50: the 50 oldest idle ones go */
    assert_int_equal(plan.capacity.busy, 100);
    assert_int_equal(plan.capacity.idle, 100);
    assert_int_equal(plan.nactions, 50);
    for (size_t a = 0; a < plan.nactions; a++) {
        assert_int_equal(plan.actions[a].rule, OSR__RULE_IDLE_SURPLUS);
        assert_false(runners[plan.actions[a].runner].busy);
        assert_true(plan.actions[a].server < 100);
    }
    osr__pool_plan_free(&plan);
    free(servers);
    free(runners);
    free(names);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matrix),
        cmocka_unit_test(test_runner_gone_guards),
        cmocka_unit_test(test_quota),
        cmocka_unit_test(test_max_runners),
        cmocka_unit_test(test_surplus_keeps_busy),
        cmocka_unit_test(test_outdated_image),
        cmocka_unit_test(test_observe_failed),
        cmocka_unit_test(test_ownership),
        cmocka_unit_test(test_ghost_guards),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_other_states_and_names),
        cmocka_unit_test(test_reasons_and_args),
        cmocka_unit_test(test_fleet),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
