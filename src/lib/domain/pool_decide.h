/* The pool engine's decision: a pure function from one observed snapshot of
 * a pool and the clock to the actions of a pass (docs/pool-engine.md). Not
 * installed; the observe and act steps, and `osrunner pool plan`, sit on it.
 *
 * Pure: no I/O, no clock (now is a parameter), no randomness, no allocation
 * but the plan's action list. Every string in a plan is borrowed from the
 * snapshot, which must outlive the plan.
 *
 * Ownership (who may be touched):
 *   - A server is ours when its tags/metadata carry this manager id AND this
 *     pool (osr__pool_server.manager and .pool, both compared exactly).
 *     Any other server in the snapshot is ignored.
 *   - A runner is ours when its name is the name of a server of ours, or
 *     when its name has this pool's runner-name shape, "POOL-" and
 *     OSR__POOL_SUFFIX_LEN of [a-z0-9] (osr__pool_runner_name_ok; the suffix
 *     has no '-', so pool "a" never claims pool "a-b"'s runners) AND its
 *     labels carry the manager's ownership label "osrunner-manager-MANAGER"
 *     (osr__pool_owner_label; compared without case, as GitHub does). The
 *     act step gives every runner that label, so a ghost (a runner whose VM
 *     is gone) is still recognised as ours. A human's runner, or another
 *     manager's, lacks the label and matches no server of ours: it is never
 *     touched, even when its name looks like ours.
 */
#ifndef OSR_LIB_POOL_DECIDE_H
#define OSR_LIB_POOL_DECIDE_H

#include "util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Runner (and VM) names: "POOL-" and this many of [a-z0-9]. */
#define OSR__POOL_SUFFIX_LEN 8
/* The ownership label's prefix; the manager id follows. */
#define OSR__POOL_OWNER_LABEL_PREFIX "osrunner-manager-"
/* Room for any ownership label (prefix, a 32-character id, NUL). */
#define OSR__POOL_OWNER_LABEL_SIZE 64
/* Room for a reason. */
#define OSR__POOL_REASON_SIZE 160

typedef enum {
    OSR__VM_BUILD = 1,
    OSR__VM_ACTIVE,
    OSR__VM_SHUTOFF,
    OSR__VM_ERROR,
    OSR__VM_OTHER, /* REBOOT, MIGRATING, PAUSED, DELETED, ...: never acted on */
} osr__vm_status;

/* Nova's status text to osr__vm_status (anything else: OTHER). */
osr__vm_status osr__vm_status_of(const char *nova_status);

typedef struct osr__pool_server {
    const char *id;
    const char *name;
    osr__vm_status status;
    int64_t created;      /* Unix seconds (Nova "created") */
    const char *manager;  /* tag/metadata osrunner-manager, NULL when none */
    const char *pool;     /* tag/metadata osrunner-pool, NULL when none */
    long long runner_id;  /* metadata: the GitHub runner id, -1 when not known */
    const char *image_id; /* the image it booted from, NULL when not known */
} osr__pool_server;

typedef struct osr__pool_runner {
    long long id;
    const char *name;
    bool online; /* GitHub status "online" */
    bool busy;
    const char *const *labels;
    size_t nlabels;
} osr__pool_runner;

/* Nova GET /limits, absolute: -1 is unlimited. RAM in MiB. */
typedef struct osr__pool_limits {
    int64_t max_instances, used_instances;
    int64_t max_cores, used_cores;
    int64_t max_ram, used_ram;
} osr__pool_limits;

/* Which parts of the snapshot could not be read (osr__pool_snapshot.failed). */
enum {
    OSR__OBSERVE_SERVERS = 1 << 0,
    OSR__OBSERVE_RUNNERS = 1 << 1,
    OSR__OBSERVE_LIMITS = 1 << 2, /* GET /limits or the flavor */
    OSR__OBSERVE_IMAGE = 1 << 3,  /* the current image */
};

typedef struct osr__pool_snapshot {
    const osr__pool_server *servers; /* the pool's servers (tag-filtered, every page) */
    size_t nservers;
    const osr__pool_runner *runners; /* the runners of the GitHub path (every page) */
    size_t nrunners;
    /* When each list was read (Unix seconds). Observe reads the runners
     * first: a VM created after runners_read_at cannot be in that list, and
     * a runner record made after it cannot miss its VM in the server list
     * (a ghost is only deleted when servers_read_at >= runners_read_at). */
    int64_t runners_read_at;
    int64_t servers_read_at;
    /* Names of creates this manager has started and not yet seen in the
     * server list (or seen: they are not counted twice). */
    const char *const *in_flight;
    size_t nin_flight;
    osr__pool_limits limits;
    int64_t flavor_vcpus; /* <= 0: uses no cores (no such flavor in Nova) */
    int64_t flavor_ram;   /* MiB; <= 0: uses no RAM */
    /* Neutron ports: known only where quota details could be read. */
    bool ports_known;
    int64_t max_ports, used_ports; /* used includes reserved; max -1 unlimited */
    int64_t ports_per_vm;          /* <= 0: 1 */
    const char *image_id;          /* the current image's id */
    unsigned failed;               /* OSR__OBSERVE_* of the sources that failed */
} osr__pool_snapshot;

typedef struct osr__pool_params {
    const char *manager;
    const char *pool;
    int64_t min_idle, max_runners;
    int64_t build_timeout, bootstrap_timeout, registration_grace, job_timeout; /* seconds */
} osr__pool_params;

typedef enum {
    OSR__ACT_CREATE = 1,
    OSR__ACT_DELETE_RUNNER,
    OSR__ACT_DELETE_VM,
    /* The act step deletes the VM only after GitHub answered 204; a 422
     * (busy) keeps both. */
    OSR__ACT_DELETE_RUNNER_THEN_VM,
    OSR__ACT_WARN,
} osr__pool_action_kind;

/* The rules; their names (osr__pool_rule_name) are stable: they appear in
 * --json output and metrics. */
typedef enum {
    OSR__RULE_ERROR_VM = 1,
    OSR__RULE_STUCK_BUILD,
    OSR__RULE_NEVER_ONLINE,
    OSR__RULE_RUNNER_GONE,
    OSR__RULE_FINISHED_VM,
    OSR__RULE_GHOST_RUNNER,
    OSR__RULE_DUPLICATE_NAME,
    OSR__RULE_BUSY_OFFLINE,
    OSR__RULE_IDLE_SURPLUS,
    OSR__RULE_OUTDATED_IMAGE,
    OSR__RULE_MISSING,
    OSR__RULE_BUSY, /* WARN: a rule would have deleted it, but its runner is busy */
} osr__pool_rule;

typedef struct osr__pool_action {
    osr__pool_action_kind kind;
    osr__pool_rule rule;
    const char *server_id;   /* NULL for CREATE and DELETE_RUNNER of a ghost */
    const char *server_name; /* NULL for CREATE (the act step names it) */
    long long runner_id;     /* -1 when none */
    size_t server;           /* index in snap->servers, SIZE_MAX when none */
    size_t runner;           /* index in snap->runners, SIZE_MAX when none */
    char reason[OSR__POOL_REASON_SIZE];
} osr__pool_action;

typedef enum {
    OSR__POOL_OK = 1,
    OSR__POOL_BLOCKED_BY_QUOTA,
    OSR__POOL_AT_MAX_RUNNERS,
    OSR__POOL_OBSERVE_FAILED,
} osr__pool_state;

typedef struct osr__pool_capacity {
    int64_t idle, booting, busy; /* runners of ours by state, before this plan */
    int64_t total;               /* VMs of ours (and unseen creates), before this plan */
    int64_t desired;             /* min(busy + min_idle, max_runners) */
    int64_t wanted;              /* creates min_idle asks for, before the caps */
    int64_t creates;             /* CREATE actions in the plan */
    /* Headroom: VMs of this flavor Nova (and Neutron) would still accept,
     * creates in flight already subtracted; -1 unlimited. */
    int64_t headroom, headroom_instances, headroom_cores, headroom_ram, headroom_ports;
    osr__pool_state state;
    /* "ok", "blocked-by-quota: cores 20/20", "at-max-runners: 10/10",
     * "observe-failed: servers, runners". */
    char state_text[96];
} osr__pool_capacity;

typedef struct osr__pool_plan {
    osr__pool_action *actions;
    size_t nactions;
    osr__pool_capacity capacity;
} osr__pool_plan;

/*
 * Decide a pass. *out is filled on success only; free it with
 * osr__pool_plan_free. Actions come in rule order: the servers' (in
 * snapshot order), outdated images, idle surplus, the runners', creates. If any source failed to be
 * read, no destructive action is planned at all; creates still are when the servers, the limits and
 * the image were read (a failed runner list counts every live VM as available, so it never creates
 * more than min_idle asks).
 * @return 0, OSR_EINVAL (a NULL argument), OSR_ENOMEM
 */
int osr__pool_decide(osr__pool_plan *out,
                     const osr__pool_snapshot *snap,
                     const osr__pool_params *p,
                     int64_t now);

void osr__pool_plan_free(osr__pool_plan *plan);

const char *osr__pool_rule_name(osr__pool_rule rule);
const char *osr__pool_action_kind_name(osr__pool_action_kind kind);

/* Runner j of snap is ours under p's ownership rule (the header comment). */
bool osr__pool_runner_ours(const osr__pool_snapshot *snap, const osr__pool_params *p, size_t j);

/* name is POOL-SUFFIX, the suffix OSR__POOL_SUFFIX_LEN of [a-z0-9]. */
bool osr__pool_runner_name_ok(const char *pool, const char *name);

/* "osrunner-manager-MANAGER" into buf (truncated if too small). */
void osr__pool_owner_label(char *buf, size_t size, const char *manager);

/* "45s", "3m12s", "2h05m", "3d04h". */
void osr__pool_duration(char *buf, size_t size, int64_t seconds);

#endif
