/* osrunner: runner instances: their configuration, user data and launch. */
#ifndef OSRUNNER_RUNNER_H
#define OSRUNNER_RUNNER_H

#include "common.h"
#include "error.h"
#include "github.h"
#include "nova.h"
#include "session.h"

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * What one runner VM is. Initialise with OSR_INSTANCE_CONFIG_INIT; every
 * string is borrowed for the duration of the call it is passed to.
 */
typedef struct osr_instance_config {
    unsigned int version;
    /** Runner and server name: at most 64 of A-Z a-z 0-9 - _ . */
    const char *name;
    /** Runner labels, NULL-terminated: non-empty, no commas, at most 256 characters. */
    const char *const *labels;
    /** "owner/repo" or "org". */
    const char *github_path;
    /** GitHub's web URL; NULL: https://github.com (or a GHES host). */
    const char *github_url;
    /** Registration token (secret). Exactly one of this and jit_config. */
    const char *registration_token;
    /** Encoded JIT runner config (secret): the VM runs run.sh --jitconfig, no config.sh. */
    const char *jit_config;
    /** Image and flavor, by name or id. */
    const char *image;
    const char *flavor;
    /** Network by name or id, or "none" or "auto". NULL: "none". */
    const char *network;
    /** Optional keypair name. */
    const char *key_name;
    /** Security groups by name or id, NULL-terminated; NULL: the cloud's default. */
    const char *const *security_groups;
    /** Optional availability zone. */
    const char *availability_zone;
    /** Non-zero: attach a config drive. */
    int config_drive;
    /** Extra server metadata, "key=value" strings, NULL-terminated. */
    const char *const *metadata;
    /** Proxy settings written to the runner's .env; NULL for none. */
    const char *http_proxy;
    const char *https_proxy;
    const char *no_proxy;
    /** Optional docker registry mirror URL (/etc/docker/daemon.json). */
    const char *docker_mirror;
    /** Ownership prefix in tags and metadata; NULL: "osrunner". */
    const char *manager;
    /* version 2 */
    /**
     * The pool the runner belongs to (same characters as a name), or NULL:
     * the server gets the tag "osrunner-pool=POOL" and the metadata
     * osrunner-pool, so a pool's servers are found in one tag-filtered list.
     */
    const char *pool;
    /**
     * The runner's id at GitHub when known before the create (JIT), or 0:
     * kept as the metadata osrunner-runner-id. osr_runner_provision() sets
     * it for the JIT runners it makes.
     */
    long long runner_id;
} osr_instance_config;

/** 2 added pool and runner_id; a version 1 struct is still accepted. */
#define OSR_INSTANCE_CONFIG_VERSION 2
#define OSR_INSTANCE_CONFIG_INIT                                                                 \
    {                                                                                            \
        OSR_INSTANCE_CONFIG_VERSION, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, \
            NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0                           \
    }

/** Nova's limit on user data, base64-encoded, in bytes. */
#define OSR_USER_DATA_MAX 65535

/**
 * The one rule for runner (and server) names, used by every command: 1 to 64
 * of A-Z a-z 0-9 - _ . The message quotes the name with bytes that are not
 * printable UTF-8 escaped (\xff).
 * @return 0 or OSR_EINVAL
 */
OSR_EXTERN int osr_runner_name_check(const char *name, osr_error *err);

/**
 * Split text ("a,b,c", as --labels takes it) at every comma into *out, a
 * NULL-terminated array; an empty field stays (osr_instance_config_validate
 * names it), NULL or "" give an empty array. One allocation: free it with
 * osr_free. Labels are joined the same way for the runner and the server's
 * metadata.
 * @return 0 or OSR_ENOMEM; *out untouched on failure
 */
OSR_EXTERN int osr_runner_labels_split(char ***out, const char *text, osr_error *err);

/**
 * Check that jit looks like an encoded JIT runner configuration (base64 of a
 * JSON object, as GitHub's generate-jitconfig returns). The message never
 * shows it.
 * @return 0, OSR_EINVAL, OSR_ENOMEM
 */
OSR_EXTERN int osr_runner_jit_config_check(const char *jit, osr_error *err);

/**
 * Check a config without talking to any cloud: name, labels, GitHub path and
 * URL, proxies, metadata, that a token or JIT config is given.
 * @return 0 or OSR_EINVAL with the field named in err
 */
OSR_EXTERN int osr_instance_config_validate(const osr_instance_config *cfg, osr_error *err);

/**
 * Render the cloud-init user data ("#cloud-config") for cfg (image, flavor and
 * network are not needed). With reveal 0 the token or JIT config reads
 * "****". Free *out with osr_free(), or with osr_secret_free() when reveal
 * was non-zero (it holds the secret).
 * @return 0, OSR_EINVAL, OSR_ENOMEM
 */
OSR_EXTERN int
osr_instance_user_data(char **out, const osr_instance_config *cfg, int reveal, osr_error *err);

/** Progress of a launch: which instance, and what it is doing now. */
typedef void (*osr_launch_progress_cb)(size_t index,
                                       const char *name,
                                       const char *state,
                                       void *payload);

/** Room for a launch id: 32 hex digits and the NUL. */
#define OSR_LAUNCH_ID_SIZE 33

/**
 * A fresh random launch id (32 hex digits) into buf, for
 * osr_launch_options.launch_id: a caller that knows the id before the first
 * create can tell the user how to find the servers again (tag
 * "osrunner-launch=ID") even if it is killed.
 * @return 0, or OSR_EINVAL when size < OSR_LAUNCH_ID_SIZE
 */
OSR_EXTERN int osr_launch_id_new(char *buf, size_t size);

/** Options for launches. Initialise with OSR_LAUNCH_OPTIONS_INIT. */
typedef struct osr_launch_options {
    unsigned int version;
    /** Non-zero (default): wait until ACTIVE; a server that fails is deleted again. */
    int wait;
    /**
     * The deadline of the launch, in seconds; 0: 600. Until it, transient
     * errors (network, 5xx, 429) of creates, polls and lookups are retried
     * with backoff. The clean-up of failed servers has its own, later bound.
     */
    long timeout_s;
    /** Progress hook, or NULL. */
    osr_launch_progress_cb progress;
    void *payload;
    /* version 2 */
    /**
     * Non-NULL: once *cancel is true (it may be set from a signal handler),
     * the launch creates nothing more, deletes every server it created and
     * returns OSR_EINTERRUPTED (OSR_ELEFT if one could not be deleted). The
     * engine looks at it whenever its wait is interrupted and at least once
     * a second.
     */
    const volatile bool *cancel;
    /** The launch id (1 to 64 of a-z A-Z 0-9 - _); NULL: a random one. */
    const char *launch_id;
    /**
     * Version 3. Non-zero: the names are fresh random ones (the pool
     * engine's), so the manager's servers are not listed before the creates
     * to see that the names are free. The look-up after each create still
     * finds a clash, and the later server gives way.
     */
    int fresh_names;
    /**
     * Version 4. A create whose fate is unknown (its request went out and no
     * answer came) is looked up by name until it is known; this is how long
     * past the deadline, in seconds, while Nova does not answer. 0: 180 (as
     * long as a clean-up). Negative: not past the deadline, for a caller that
     * finds its servers by their tags later (the pool engine's next pass):
     * the instance fails with OSR_ELEFT and "it may exist". When Nova does
     * not take the tags with the create (microversion below 2.52) it is at
     * least 180: a server made without its tags would be found by nobody.
     */
    long in_doubt_s;
} osr_launch_options;

#define OSR_LAUNCH_OPTIONS_VERSION 4
#define OSR_LAUNCH_OPTIONS_INIT                                        \
    {                                                                  \
        OSR_LAUNCH_OPTIONS_VERSION, 1, 0, NULL, NULL, NULL, NULL, 0, 0 \
    }

/**
 * The outcome of launching several instances. A result, not a list: the
 * i-th slot is the i-th config given to osr_instance_launch_many(), and it
 * holds a server (osr_server items, the list style of servers) or an error,
 * so it is read by index (osr_launch_batch_server(), osr_launch_batch_error())
 * rather than through osr_X_list_at() items.
 */
typedef struct osr_launch_batch osr_launch_batch;

/**
 * Launch n instances at once over the session's one HTTP engine. Every config
 * is validated and every image, flavor, network, keypair and security group
 * resolved before the first server is created. A server that goes to ERROR or
 * does not become ACTIVE in time is deleted (and waited for) and its error
 * kept; the others are not touched.
 * @param out set on success only; after a failure once the creates were
 *         attempted, osr_launch_batch_take_failed() gives the batch
 * @return 0 when every instance launched; OSR_ELAUNCH when some did not (see
 *         the batch: OSR_EEXISTS, OSR_ELEFT ... per instance); OSR_ELEFT when
 *         a server could not be cleaned up; OSR_EINTERRUPTED when cancelled;
 *         or the error that stopped the launch before any create
 *         (in osr_session_last_error)
 */
OSR_EXTERN int osr_instance_launch_many(osr_launch_batch **out,
                                        osr_session *session,
                                        const osr_instance_config *const *configs,
                                        size_t n,
                                        const osr_launch_options *opts);

/** One instance: osr_instance_launch_many for n = 1, the server on success. */
OSR_EXTERN int osr_instance_launch(osr_server **out,
                                   osr_session *session,
                                   const osr_instance_config *config,
                                   const osr_launch_options *opts);

/**
 * The batch of the last osr_instance_launch_many() on this session that
 * failed after its creates were attempted (OSR_ELAUNCH, OSR_EEXISTS,
 * OSR_ELEFT, OSR_EINTERRUPTED): which servers started and each instance's
 * error, for a caller that reports or cleans up per instance. The launch
 * leaves its out-param alone on failure, as every function does; the session
 * keeps that batch until it is taken, the next launch or osr_session_free().
 * Ownership passes to the caller (osr_launch_batch_free()).
 * osr_session_last_error() stays the launch's.
 * @return 0, OSR_ENOTFOUND (the session holds no such batch), OSR_EINVAL
 */
OSR_EXTERN int osr_launch_batch_take_failed(osr_launch_batch **out, osr_session *session);

OSR_EXTERN void osr_launch_batch_free(osr_launch_batch *batch);
OSR_EXTERN size_t osr_launch_batch_count(const osr_launch_batch *batch);
/** The launch id (borrowed): servers carry the tag "osrunner-launch=ID". */
OSR_EXTERN const char *osr_launch_batch_id(const osr_launch_batch *batch);
/** The i-th server (borrowed), or NULL when it failed. */
OSR_EXTERN const osr_server *osr_launch_batch_server(const osr_launch_batch *batch, size_t i);
/** The i-th error (borrowed; code 0 on success). */
OSR_EXTERN const osr_error *osr_launch_batch_error(const osr_launch_batch *batch, size_t i);

/** Options for osr_runner_provision(). Initialise with OSR_PROVISION_OPTIONS_INIT. */
typedef struct osr_provision_options {
    unsigned int version;
    /** How to launch; its cancel flag cancels the provisioning too. */
    osr_launch_options launch;
    /**
     * Non-zero: one JIT config (and runner record) per runner; 0: one
     * registration token for the batch (every config's github_path the same).
     */
    int jit;
    /** The runner group of JIT runners; NULL: the default group. */
    const char *runner_group;
} osr_provision_options;

#define OSR_PROVISION_OPTIONS_VERSION 1
#define OSR_PROVISION_OPTIONS_INIT                                      \
    {                                                                   \
        OSR_PROVISION_OPTIONS_VERSION, OSR_LAUNCH_OPTIONS_INIT, 0, NULL \
    }

/** The outcome of osr_runner_provision(): the launch and the runner records. */
typedef struct osr_provision osr_provision;

/**
 * Provision n runners: with github, fetch one registration token for the
 * batch or (opts->jit) one JIT config per runner, overriding the configs'
 * credentials; without, the configs carry them. Then launch as
 * osr_instance_launch_many() does. The runner record of every instance that
 * did not launch is deleted at GitHub again, and so are all of them when the
 * launch is cancelled (opts->launch.cancel); a cancel that comes after the
 * launch is over deletes its servers (osr_provision_undone()). Secrets are
 * wiped when the result is freed.
 * @param out set when the launch was attempted (also when some failed)
 * @return as osr_instance_launch_many(), or the GitHub error that stopped
 *         it before any create (in osr_session_last_error, the runner's name
 *         first for a JIT config)
 */
OSR_EXTERN int osr_runner_provision(osr_provision **out,
                                    osr_session *session,
                                    osr_github *github,
                                    const osr_instance_config *const *configs,
                                    size_t n,
                                    const osr_provision_options *opts);

OSR_EXTERN void osr_provision_free(osr_provision *p);
OSR_EXTERN size_t osr_provision_count(const osr_provision *p);
/** The launch (borrowed). */
OSR_EXTERN const osr_launch_batch *osr_provision_launch_batch(const osr_provision *p);
/** The i-th runner's record id at GitHub (JIT), or 0. */
OSR_EXTERN long long osr_provision_runner_id(const osr_provision *p, size_t i);
/** Code OSR_ELEFT when the i-th runner's record could not be deleted again. */
OSR_EXTERN const osr_error *osr_provision_forget_error(const osr_provision *p, size_t i);
/** Non-zero when a late cancel deleted the launched servers again. */
OSR_EXTERN int osr_provision_undone(const osr_provision *p);
/** After a late cancel: how deleting the i-th server went (code 0: deleted). */
OSR_EXTERN const osr_error *osr_provision_undo_error(const osr_provision *p, size_t i);

#ifdef __cplusplus
}
#endif

#endif
