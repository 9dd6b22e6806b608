/* osrunner: clouds.yaml, the way openstacksdk users know it. */
#ifndef OSRUNNER_CLOUDS_H
#define OSRUNNER_CLOUDS_H

#include "common.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** One resolved, validated cloud. Opaque; free with osr_cloud_free(). */
typedef struct osr_cloud osr_cloud;

/** Options for osr_cloud_load(). Initialise with OSR_CLOUD_OPTIONS_INIT. */
typedef struct osr_cloud_options {
    unsigned int version;
    /** The cloud to use (--os-cloud). NULL: OS_CLOUD, then the only cloud defined. */
    const char *cloud_name;
    /** Read this file instead of searching. NULL: OS_CLIENT_CONFIG_FILE, then the search path. */
    const char *config_file;
    /** Environment as "NAME=value" strings, NULL-terminated. NULL: the process environment. */
    const char *const *env;
    /**
     * Directories to search for clouds, secure and clouds-public.{yaml,yml,json}, in order,
     * NULL-terminated. NULL: the current directory, $XDG_CONFIG_HOME/openstack (or
     * ~/.config/openstack), /etc/openstack.
     */
    const char *const *search_dirs;
    /**
     * Log hook for warnings (version 2), e.g. a clouds.yaml or secure.yaml
     * holding a secret that group or others may read. NULL for none.
     */
    osr_log_cb log_cb;
    osr_log_level log_level;
    void *log_payload;
} osr_cloud_options;

/* Version 1 ended at search_dirs; it is still accepted. */
#define OSR_CLOUD_OPTIONS_VERSION 2
#define OSR_CLOUD_OPTIONS_INIT                                                      \
    {                                                                               \
        OSR_CLOUD_OPTIONS_VERSION, NULL, NULL, NULL, NULL, NULL, OSR_LOG_NONE, NULL \
    }

/**
 * Find, read, merge (secure.yaml over clouds.yaml), select and validate a
 * cloud, as openstacksdk does: keys spelled with '-' read as '_' at every
 * level; profile: NAME (or the old cloud: NAME) brings in a vendor profile
 * from clouds-public.yaml in the search directories, else from openstacksdk's
 * vendor profiles compiled into osrunner; regions: or a list in region_name
 * gives the first region unless region_name (beside regions:) or
 * OS_REGION_NAME names one, and that region's values apply over the cloud;
 * "{region_name}" in a value reads as the region; endpoint_type is the old
 * name of interface; "~" in cacert, cert and key is the home directory. A key
 * written twice (in either spelling) is an error, stricter than openstacksdk.
 *
 * Whenever an OS_* auth variable (OS_AUTH_URL, OS_USERNAME, OS_TOKEN, ...) is
 * set, those variables form the cloud "envvars" beside the file's clouds; it
 * is the default when no cloud is named. They never apply to a file cloud.
 *
 * @param out set on success only; free with osr_cloud_free()
 * @param opts may be NULL for the defaults
 * @param err may be NULL; filled on failure with "file:line:col: message"
 * @return 0, OSR_ECONFIG (invalid or ambiguous), OSR_ENOTFOUND (no file, or
 *         no such cloud), OSR_EIO, OSR_ENOMEM
 */
OSR_EXTERN int osr_cloud_load(osr_cloud **out, const osr_cloud_options *opts, osr_error *err);

/** Free a cloud, wiping its secrets. Accepts NULL. */
OSR_EXTERN void osr_cloud_free(osr_cloud *cloud);

/** The cloud's name ("envvars" for the environment cloud). Borrowed. */
OSR_EXTERN const char *osr_cloud_name(const osr_cloud *cloud);

/** The file the cloud came from, or "environment". Borrowed. */
OSR_EXTERN const char *osr_cloud_source(const osr_cloud *cloud);

/**
 * The canonical auth type: "password", "v3applicationcredential" or "token".
 * Borrowed.
 */
OSR_EXTERN const char *osr_cloud_auth_type(const osr_cloud *cloud);

/**
 * A setting by its dotted key as written in clouds.yaml, e.g. "auth.auth_url",
 * "auth.username", "region_name", "interface", "cacert". Booleans read as
 * "true"/"false" (osr_cloud_get_bool() keeps the type). Defaults are applied ("interface" is
 * "public", "identity_api_version" is "3", "verify" is "true").
 * @return the value (borrowed), or NULL when not set
 */
OSR_EXTERN const char *osr_cloud_get(const osr_cloud *cloud, const char *key);

/** The type a setting has, as JSON and YAML know it. */
typedef enum osr_cloud_type {
    OSR_CLOUD_TYPE_STRING = 1,
    OSR_CLOUD_TYPE_BOOL = 2, /* "verify" */
    OSR_CLOUD_TYPE_INT = 3,  /* "identity_api_version" */
} osr_cloud_type;

/**
 * Typed getters, in the manner of git_config_get_bool(): a setting by its
 * dotted key, defaults applied. *out is set on success only.
 * @param err may be NULL; filled on failure
 * @return 0; OSR_ENOTFOUND when not set; OSR_ECONFIG when the setting has
 *         another type ("clouds.yaml:7:13: cloud 'c': verify: a boolean, not
 *         a string", or "environment: OS_INSECURE: ..."); OSR_EINVAL for NULL
 */
OSR_EXTERN int
osr_cloud_get_string(const char **out, const osr_cloud *cloud, const char *key, osr_error *err);
OSR_EXTERN int
osr_cloud_get_bool(int *out, const osr_cloud *cloud, const char *key, osr_error *err);
OSR_EXTERN int
osr_cloud_get_int(long long *out, const osr_cloud *cloud, const char *key, osr_error *err);

/**
 * 1 when the cloud is domain-scoped (password or token auth with domain_id or
 * domain_name and no project), else 0. Such a cloud is valid; calls that need
 * a project (compute, image) refuse it with OSR_ECONFIG.
 */
OSR_EXTERN int osr_cloud_domain_scoped(const osr_cloud *cloud);

/** Number of settings, for listing them all with osr_cloud_setting(). */
OSR_EXTERN size_t osr_cloud_setting_count(const osr_cloud *cloud);

/**
 * The i-th setting, in a stable order. *key and *value are borrowed. When the
 * setting is a secret (password, token, application credential secret, ...)
 * and reveal is 0, *value is "****". *is_secret may be NULL.
 * @return 0, or OSR_EINVAL when i is out of range
 */
OSR_EXTERN int osr_cloud_setting(const char **key,
                                 const char **value,
                                 int *is_secret,
                                 const osr_cloud *cloud,
                                 size_t i,
                                 int reveal);

/** The type of the i-th setting, or 0 when i is out of range. */
OSR_EXTERN osr_cloud_type osr_cloud_setting_type(const osr_cloud *cloud, size_t i);

/**
 * Validate a whole clouds file held in memory (every cloud in it). source_name
 * is used in messages ("clouds.yaml:3:5: ..."); a name ending in ".json" is
 * read as JSON, anything else as YAML.
 * @return 0 or OSR_ECONFIG, OSR_ENOMEM
 */
OSR_EXTERN int
osr_clouds_validate(const char *data, size_t len, const char *source_name, osr_error *err);

/**
 * Validate data as osr_clouds_validate() does, then write it to path
 * atomically: temporary file in the same directory, fsync, rename. The file
 * gets mode 0600 and missing directories 0700. A symlink at path is refused,
 * never followed. Invalid data leaves an existing file untouched.
 * @return 0, OSR_ECONFIG, OSR_EIO, OSR_ENOMEM
 */
OSR_EXTERN int osr_clouds_write(
    const char *path, const char *data, size_t len, const char *source_name, osr_error *err);

/**
 * The default place for clouds.yaml: $XDG_CONFIG_HOME/openstack/clouds.yaml,
 * or ~/.config/openstack/clouds.yaml. Free *out with osr_free().
 * @return 0, OSR_ENOTFOUND (no HOME), OSR_ENOMEM
 */
OSR_EXTERN int osr_clouds_default_path(char **out, osr_error *err);

#ifdef __cplusplus
}
#endif

#endif
