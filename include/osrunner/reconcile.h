/* osrunner: the pool engine's pass: observe a pool, decide, act
 * (docs/pool-engine.md). */
#ifndef OSRUNNER_RECONCILE_H
#define OSRUNNER_RECONCILE_H

#include "common.h"
#include "error.h"
#include "github.h"
#include "pool.h"
#include "session.h"

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/** What a pass does after it has decided. */
typedef enum osr_pool_mode {
    /** Decide only: the actions are reported, none is taken ("pool plan", "pool status"). */
    OSR_POOL_PLAN = 0,
    /** Take the actions ("pool reconcile"). */
    OSR_POOL_RECONCILE = 1,
    /**
     * Options version 3. Create osr_pool_options.grow runners at once,
     * without observing the pool (no list is read; only the image is
     * resolved, unless osr_pool_options.image_id names it): a daemon's answer
     * to a queued job, in milliseconds instead of a pass. The caller vouches
     * that max_runners and the quota allow them, from its last pass and the
     * creates it made since; Nova still refuses what the quota does not
     * allow. The creates are actions of kind "create", rule "queued-job".
     * The pass's figures are 0 but OSR_POOL_CREATES; its state is "grow".
     */
    OSR_POOL_GROW = 2,
} osr_pool_mode;

/** One action of a pass: what, why, and how it went. Borrowed from the pass. */
typedef struct osr_pool_action osr_pool_action;

/** Called as each action ends (RECONCILE) or is planned (PLAN). */
typedef void (*osr_pool_action_cb)(const osr_pool_action *action, void *payload);

/** Options of osr_pool_pass_run(). Initialise with OSR_POOL_OPTIONS_INIT. */
typedef struct osr_pool_options {
    unsigned int version;
    osr_pool_mode mode;
    /**
     * Non-zero: replace the idle runners of the pool ("pool flush"): each is
     * deleted (GitHub first, the VM on GitHub's 204) and min_idle brings new
     * ones. With flush_busy, busy runners too: their VM is deleted first (the
     * job is lost), then their record.
     */
    int flush;
    int flush_busy;
    /** Names of creates the caller has in flight (a daemon); NULL-terminated or NULL. */
    const char *const *in_flight;
    /** VM deletes sent at once; 0: 8. */
    int parallel;
    /** Deadline of each VM delete, in seconds; 0: 120. */
    long delete_timeout_s;
    /** Non-NULL: once true (from a signal handler too), nothing more is started. */
    const volatile bool *cancel;
    osr_pool_action_cb on_action;
    void *payload;
    /** The clock in Unix seconds; 0: the wall clock. For tests. */
    long long now;
    /**
     * Version 2. Jobs the caller knows are queued for this pool (a daemon's
     * workflow_job webhooks): each asks for one idle runner more than
     * min_idle, within max_runners and the quota headroom, as if min_idle
     * were that much higher (the reasons of its creates show the raised
     * min_idle). 0: none.
     */
    long long queued_jobs;
    /** Version 3. Mode OSR_POOL_GROW: how many runners to create (1 to 100). */
    long long grow;
    /**
     * Version 3. Mode OSR_POOL_GROW: the id of the pool's image, as a pass
     * resolved it (osr_pool_pass_image_id()), so that growing reads nothing;
     * NULL: resolve the pool's image by name.
     */
    const char *image_id;
} osr_pool_options;

#define OSR_POOL_OPTIONS_VERSION 3
#define OSR_POOL_OPTIONS_INIT                                                                      \
    {                                                                                              \
        OSR_POOL_OPTIONS_VERSION, OSR_POOL_PLAN, 0, 0, NULL, 0, 0, NULL, NULL, NULL, 0, 0, 0, NULL \
    }

/** The outcome of one pass. Opaque; free with osr_pool_pass_free(). */
typedef struct osr_pool_pass osr_pool_pass;

/**
 * One pass over a pool. Observe: the pool's servers (one tag-filtered list,
 * every page), the GitHub runners of its path (every page), Nova's limits
 * and the flavor, Neutron's port quota where it can be read, and the current
 * image. Decide: the pool engine's rules (docs/pool-engine.md). Act (mode
 * RECONCILE): deletes first, a runner's record before its VM (an idle
 * runner's VM only after GitHub's 204, so one that took a job meanwhile
 * survives by GitHub's 422), then the creates through osr_runner_provision()
 * without waiting for ACTIVE. If any source could not be read, nothing is
 * deleted. Only servers and runners of this manager and pool are touched.
 *
 * @param out set when the pass was observed (also when acting failed);
 *        free with osr_pool_pass_free()
 * @param session a session of the pool's cloud
 * @param github the client of the configuration's GitHub
 * @return 0; OSR_ELEFT when an action failed (see the actions); the error
 *         that stopped the observation when *out is not set; OSR_EINVAL
 */
OSR_EXTERN int osr_pool_pass_run(osr_pool_pass **out,
                                 osr_session *session,
                                 osr_github *github,
                                 const osr_manager_config *cfg,
                                 const osr_pool_spec *pool,
                                 const osr_pool_options *opts,
                                 osr_error *err);

OSR_EXTERN void osr_pool_pass_free(osr_pool_pass *pass);

/** The pool's name (borrowed). */
OSR_EXTERN const char *osr_pool_pass_pool(const osr_pool_pass *pass);
/**
 * The pool's state: "ok", "blocked-by-quota: cores 20/20", "at-max-runners:
 * 10/10", "observe-failed: servers" (borrowed).
 */
OSR_EXTERN const char *osr_pool_pass_state(const osr_pool_pass *pass);
/** Non-zero when some source could not be read (then nothing was deleted). */
OSR_EXTERN int osr_pool_pass_observe_failed(const osr_pool_pass *pass);
/** The id of the pool's image the pass resolved (or was given), or NULL. */
OSR_EXTERN const char *osr_pool_pass_image_id(const osr_pool_pass *pass);
/** Why observation failed, one line per source joined with "; " (borrowed; "" when none). */
OSR_EXTERN const char *osr_pool_pass_observe_error(const osr_pool_pass *pass);

/** Figures of the pool as observed, before the pass acted. */
typedef enum osr_pool_figure {
    OSR_POOL_BOOTING = 1, /**< BUILD, or ACTIVE with its runner not online yet */
    OSR_POOL_IDLE,        /**< online, no job */
    OSR_POOL_BUSY,        /**< has a job */
    OSR_POOL_OFFLINE,     /**< a runner of ours GitHub shows offline while its VM is ACTIVE */
    OSR_POOL_FINISHED,    /**< SHUTOFF: the runner exited and the VM powered off */
    OSR_POOL_ERROR,       /**< ERROR VMs */
    OSR_POOL_SERVERS,     /**< VMs of the pool (every state) */
    OSR_POOL_RUNNERS,  /**< runner records of ours (named as our VMs, or by the ownership label) */
    OSR_POOL_DESIRED,  /**< min(busy + min_idle, max_runners) */
    OSR_POOL_MIN_IDLE, /**< the configuration's */
    OSR_POOL_MAX_RUNNERS, /**< the configuration's */
    OSR_POOL_HEADROOM,    /**< VMs of the flavor Nova would still accept; -1 unlimited */
    OSR_POOL_HEADROOM_INSTANCES,
    OSR_POOL_HEADROOM_CORES,
    OSR_POOL_HEADROOM_RAM,
    OSR_POOL_HEADROOM_PORTS, /**< -1 also when Neutron's quota is unknown */
    OSR_POOL_CREATES,        /**< creates the pass planned */
} osr_pool_figure;

/** A figure, or -2 for an unknown one. */
OSR_EXTERN long long osr_pool_pass_figure(const osr_pool_pass *pass, osr_pool_figure which);

/**
 * Nova's quota as observed: "instances", "cores" or "ram" (MiB), or
 * "ports" (Neutron). used and max (-1 unlimited) may be NULL.
 * @return 0, or OSR_ENOTFOUND (unknown resource, or not read)
 */
OSR_EXTERN int osr_pool_pass_quota(const osr_pool_pass *pass,
                                   const char *resource,
                                   long long *used,
                                   long long *max);

OSR_EXTERN size_t osr_pool_pass_action_count(const osr_pool_pass *pass);
OSR_EXTERN const osr_pool_action *osr_pool_pass_action_at(const osr_pool_pass *pass, size_t i);

/** "create", "delete-runner", "delete-vm", "delete-runner-then-vm", "warn". */
OSR_EXTERN const char *osr_pool_action_kind(const osr_pool_action *action);
/** The rule that fired: "error-vm", "stuck-build", ..., "missing", "flush" (docs/pool-engine.md).
 */
OSR_EXTERN const char *osr_pool_action_rule(const osr_pool_action *action);
/** One line: why. */
OSR_EXTERN const char *osr_pool_action_reason(const osr_pool_action *action);
/** The server's id and name, or NULL (a ghost runner; a create's id before it was sent). */
OSR_EXTERN const char *osr_pool_action_server_id(const osr_pool_action *action);
OSR_EXTERN const char *osr_pool_action_server_name(const osr_pool_action *action);
/** The GitHub runner's id, or -1. */
OSR_EXTERN long long osr_pool_action_runner_id(const osr_pool_action *action);
/**
 * How it went: "planned" (PLAN), "done", "kept" (GitHub said the runner is
 * busy: nothing was deleted), "failed", "skipped" (cancelled).
 */
OSR_EXTERN const char *osr_pool_action_outcome(const osr_pool_action *action);
/** The error of a failed action (code 0 otherwise). */
OSR_EXTERN const osr_error *osr_pool_action_error(const osr_pool_action *action);
/** A create: when its request went to Nova (Unix time in ms); 0 when it never did. */
OSR_EXTERN long long osr_pool_action_sent_at(const osr_pool_action *action);

#ifdef __cplusplus
}
#endif

#endif
