/* osrunner: the pool manager's configuration, osrunner.yaml (osrunner.yaml(5)). */
#ifndef OSRUNNER_POOL_H
#define OSRUNNER_POOL_H

#include "common.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The default place of the manager's configuration. */
#define OSR_MANAGER_CONFIG_DEFAULT_PATH "/etc/osrunner/osrunner.yaml"

/**
 * Longest manager id: 1 to 32 of a-z 0-9 - _ . (lower case: it is also a
 * GitHub label, and GitHub compares labels without case), starting with a
 * letter or digit.
 */
#define OSR_MANAGER_ID_MAX 32

/**
 * Longest pool name: 1 to 48 of A-Z a-z 0-9 - _ . starting with a letter or
 * digit. A runner (and its VM) is named "POOL-" and a random suffix, and
 * runner names hold at most 64 characters: 48 leaves room for the suffix.
 */
#define OSR_POOL_NAME_MAX 48

/** A loaded, validated osrunner.yaml. Opaque; free with osr_manager_config_free(). */
typedef struct osr_manager_config osr_manager_config;

/** One pool of a configuration; borrowed from it, valid until it is freed. */
typedef struct osr_pool_spec osr_pool_spec;

/**
 * Read and validate osrunner.yaml: every key known, every type and value
 * checked, defaults applied (osrunner.yaml(5) lists them). Relative paths in
 * it (token_file, app_key_file) are taken from the file's directory.
 * Credentials are never inline: a token or key in the file is refused.
 *
 * @param out set on success only; free with osr_manager_config_free()
 * @param path the file (NULL: OSR_MANAGER_CONFIG_DEFAULT_PATH)
 * @param err may be NULL; on failure one line, "FILE:LINE:COL: KEY.PATH: message"
 * @return 0, OSR_ECONFIG (invalid), OSR_ENOTFOUND (no such file), OSR_EIO, OSR_ENOMEM
 */
OSR_EXTERN int osr_manager_config_load(osr_manager_config **out, const char *path, osr_error *err);

/**
 * Validate a configuration held in memory, as osr_manager_config_load() does.
 * source_name appears in messages ("osrunner.yaml:3:5: ...") and its
 * directory, if it names one, is where relative paths are taken from.
 * @return 0, OSR_ECONFIG, OSR_EINVAL (no data or name), OSR_ENOMEM
 */
OSR_EXTERN int osr_manager_config_parse(osr_manager_config **out,
                                        const char *data,
                                        size_t len,
                                        const char *source_name,
                                        osr_error *err);

/** Free a configuration. Accepts NULL. */
OSR_EXTERN void osr_manager_config_free(osr_manager_config *cfg);

/** Strings are borrowed from the configuration; NULL when not set (or cfg is NULL). */

/** The file it was read from (the source_name of osr_manager_config_parse()). */
OSR_EXTERN const char *osr_manager_config_source(const osr_manager_config *cfg);
/** manager: the id that owns everything this manager creates. */
OSR_EXTERN const char *osr_manager_config_manager(const osr_manager_config *cfg);
/** github.url: the API base URL (default https://api.github.com). */
OSR_EXTERN const char *osr_manager_config_github_url(const osr_manager_config *cfg);
/** github.token_file, or NULL when a GitHub App is configured. */
OSR_EXTERN const char *osr_manager_config_github_token_file(const osr_manager_config *cfg);
/** github.app_id and github.installation_id, or -1 when a token file is configured. */
OSR_EXTERN long long osr_manager_config_github_app_id(const osr_manager_config *cfg);
OSR_EXTERN long long osr_manager_config_github_installation_id(const osr_manager_config *cfg);
/** github.app_key_file (PEM), or NULL when a token file is configured. */
OSR_EXTERN const char *osr_manager_config_github_app_key_file(const osr_manager_config *cfg);

/**
 * osrunnerd's listeners: metrics.listen and webhook.listen ("ADDR:PORT",
 * checked for shape), and webhook.secret_file (required once webhook is
 * given; relative to the file's directory). NULL when not set.
 */
OSR_EXTERN const char *osr_manager_config_metrics_listen(const osr_manager_config *cfg);
OSR_EXTERN const char *osr_manager_config_webhook_listen(const osr_manager_config *cfg);
OSR_EXTERN const char *osr_manager_config_webhook_secret_file(const osr_manager_config *cfg);

/** Number of pools (at least one in a valid file). */
OSR_EXTERN size_t osr_pool_config_count(const osr_manager_config *cfg);
/** The i-th pool in file order, or NULL when i is out of range. */
OSR_EXTERN const osr_pool_spec *osr_pool_config_at(const osr_manager_config *cfg, size_t i);
/** The pool of that name, or NULL. */
OSR_EXTERN const osr_pool_spec *osr_pool_config_find(const osr_manager_config *cfg,
                                                     const char *name);

/** Fields of a pool. Strings are borrowed, NULL when not set; a NULL pool gives NULL, 0 or -1. */
OSR_EXTERN const char *osr_pool_spec_name(const osr_pool_spec *pool);
/** The cloud's name in clouds.yaml. */
OSR_EXTERN const char *osr_pool_spec_cloud(const osr_pool_spec *pool);
/** "owner/repo" or "org". */
OSR_EXTERN const char *osr_pool_spec_github_path(const osr_pool_spec *pool);
OSR_EXTERN const char *osr_pool_spec_runner_group(const osr_pool_spec *pool);
OSR_EXTERN size_t osr_pool_spec_label_count(const osr_pool_spec *pool);
/** The i-th label, or NULL when out of range. */
OSR_EXTERN const char *osr_pool_spec_label(const osr_pool_spec *pool, size_t i);
/** An image name (the current image of that name, as `image list` marks it) or id. */
OSR_EXTERN const char *osr_pool_spec_image(const osr_pool_spec *pool);
OSR_EXTERN const char *osr_pool_spec_flavor(const osr_pool_spec *pool);
OSR_EXTERN const char *osr_pool_spec_network(const osr_pool_spec *pool);
OSR_EXTERN size_t osr_pool_spec_security_group_count(const osr_pool_spec *pool);
OSR_EXTERN const char *osr_pool_spec_security_group(const osr_pool_spec *pool, size_t i);
OSR_EXTERN const char *osr_pool_spec_key_name(const osr_pool_spec *pool);
OSR_EXTERN const char *osr_pool_spec_availability_zone(const osr_pool_spec *pool);
/** 1 when the VMs get a config drive (default 0). */
OSR_EXTERN int osr_pool_spec_config_drive(const osr_pool_spec *pool);
OSR_EXTERN const char *osr_pool_spec_http_proxy(const osr_pool_spec *pool);
OSR_EXTERN const char *osr_pool_spec_https_proxy(const osr_pool_spec *pool);
OSR_EXTERN const char *osr_pool_spec_no_proxy(const osr_pool_spec *pool);
OSR_EXTERN const char *osr_pool_spec_docker_mirror(const osr_pool_spec *pool);
/** Idle runners to keep ready (default 0). */
OSR_EXTERN long long osr_pool_spec_min_idle(const osr_pool_spec *pool);
/** Most VMs of the pool at once, busy ones included (default 10). */
OSR_EXTERN long long osr_pool_spec_max_runners(const osr_pool_spec *pool);
/** 1 when runners get JIT configs (default), 0 for registration tokens. */
OSR_EXTERN int osr_pool_spec_jit(const osr_pool_spec *pool);

/** Timeouts, in seconds. */
typedef enum osr_pool_timeout {
    OSR_POOL_TIMEOUT_BUILD = 1,     /**< BUILD longer than this: deleted (900) */
    OSR_POOL_TIMEOUT_BOOTSTRAP = 2, /**< never online after this: deleted (1200) */
    OSR_POOL_TIMEOUT_REGISTRATION_GRACE =
        3,                    /**< a VM younger than this keeps a missing runner (120) */
    OSR_POOL_TIMEOUT_JOB = 4, /**< an offline busy runner is reported after (21600) */
} osr_pool_timeout;

/** A timeout in seconds, or -1 for an unknown kind or a NULL pool. */
OSR_EXTERN long long osr_pool_spec_timeout(const osr_pool_spec *pool, osr_pool_timeout which);

#ifdef __cplusplus
}
#endif

#endif
