/* osrunner config check: validate osrunner.yaml (the library does the work). */
#include "cli.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>

static const char config_usage[] =
    "Usage: osrunner config check [--config FILE] [--json]\n"
    "\n"
    "  check   validate the pool manager's configuration, osrunner.yaml\n";

static const char check_usage[] =
    "Usage: osrunner config check [--config FILE] [--json]\n"
    "\n"
    "Validate osrunner.yaml, the pool manager's configuration: every key known,\n"
    "every type and value checked, defaults applied, no inline credentials. Prints\n"
    "the manager and its pools, or one line naming FILE:LINE:COL and the key\n"
    "(exit 3). No cloud and no GitHub is contacted. See osrunner.yaml(5).\n"
    "\n"
    "  -c, --config FILE   the file (default " OSR_MANAGER_CONFIG_DEFAULT_PATH ")\n"
    "  --json              print the whole configuration, defaults applied, as JSON\n";

enum { OPT_CONFIG = 'c' };

static const char *arg_config;

static int check_opt(int opt, const char *arg)
{
    if (opt == OPT_CONFIG) {
        arg_config = arg;
        return 0;
    }
    return -1;
}

static const struct option check_options[] = { { "config", required_argument, NULL, OPT_CONFIG },
                                               { NULL, 0, NULL, 0 } };

/* A string or null. */
static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *github_json(const osr_manager_config *cfg)
{
    const char *token_file = osr_manager_config_github_token_file(cfg);
    json_t *gh = json_pack("{s:s,s:s}", "url", osr_manager_config_github_url(cfg), "auth",
                           token_file ? "token_file" : "app");

    if (gh == NULL)
        return NULL;
    if (token_file) {
        json_object_set_new(gh, "token_file", json_string(token_file));
    } else {
        json_object_set_new(gh, "app_id", json_integer(osr_manager_config_github_app_id(cfg)));
        json_object_set_new(gh, "installation_id",
                            json_integer(osr_manager_config_github_installation_id(cfg)));
        json_object_set_new(gh, "app_key_file",
                            json_string(osr_manager_config_github_app_key_file(cfg)));
    }
    return gh;
}

/* One pool, every key and its type as osrunner.yaml(5) gives it, defaults applied. */
static json_t *pool_json(const osr_pool_spec *p)
{
    json_t *labels = json_array(), *groups = json_array(), *o;

    for (size_t i = 0; labels && i < osr_pool_spec_label_count(p); i++)
        json_array_append_new(labels, json_string(osr_pool_spec_label(p, i)));
    for (size_t i = 0; groups && i < osr_pool_spec_security_group_count(p); i++)
        json_array_append_new(groups, json_string(osr_pool_spec_security_group(p, i)));
    o = json_pack(
        "{s:s,s:s,s:s,s:o,s:o,s:s,s:s,s:o,s:o,s:o,s:o,s:b,s:o,s:o,s:o,s:o,s:I,s:I,s:b,"
        "s:{s:I,s:I,s:I,s:I}}",
        "name", osr_pool_spec_name(p), "cloud", osr_pool_spec_cloud(p), "github_path",
        osr_pool_spec_github_path(p), "runner_group", str_or_null(osr_pool_spec_runner_group(p)),
        "labels", labels ? labels : json_array(), "image", osr_pool_spec_image(p), "flavor",
        osr_pool_spec_flavor(p), "network", str_or_null(osr_pool_spec_network(p)),
        "security_groups", groups ? groups : json_array(), "key_name",
        str_or_null(osr_pool_spec_key_name(p)), "availability_zone",
        str_or_null(osr_pool_spec_availability_zone(p)), "config_drive",
        osr_pool_spec_config_drive(p), "http_proxy", str_or_null(osr_pool_spec_http_proxy(p)),
        "https_proxy", str_or_null(osr_pool_spec_https_proxy(p)), "no_proxy",
        str_or_null(osr_pool_spec_no_proxy(p)), "docker_mirror",
        str_or_null(osr_pool_spec_docker_mirror(p)), "min_idle",
        (json_int_t)osr_pool_spec_min_idle(p), "max_runners",
        (json_int_t)osr_pool_spec_max_runners(p), "jit", osr_pool_spec_jit(p), "timeouts", "build",
        (json_int_t)osr_pool_spec_timeout(p, OSR_POOL_TIMEOUT_BUILD), "bootstrap",
        (json_int_t)osr_pool_spec_timeout(p, OSR_POOL_TIMEOUT_BOOTSTRAP), "registration_grace",
        (json_int_t)osr_pool_spec_timeout(p, OSR_POOL_TIMEOUT_REGISTRATION_GRACE), "job",
        (json_int_t)osr_pool_spec_timeout(p, OSR_POOL_TIMEOUT_JOB));
    return o;
}

static int print_json(const osr_manager_config *cfg)
{
    json_t *pools = json_array();
    json_t *root;

    for (size_t i = 0; pools && i < osr_pool_config_count(cfg); i++) {
        json_t *p = pool_json(osr_pool_config_at(cfg, i));
        if (p == NULL || json_array_append_new(pools, p) < 0) {
            json_decref(pools);
            return cli_fail(OSR_ENOMEM, "out of memory");
        }
    }
    root = pools ? json_pack("{s:s,s:s,s:o,s:o}", "source", osr_manager_config_source(cfg),
                             "manager", osr_manager_config_manager(cfg), "github", github_json(cfg),
                             "pools", pools)
                 : NULL;
    if (root == NULL)
        return cli_fail(OSR_ENOMEM, "out of memory");
    return cli_print_json(root);
}

static const struct cli_column pool_columns[] = {
    { "name", "POOL", false, false, false, NULL, NULL, NULL, NULL },
    { "cloud", "CLOUD", false, false, false, NULL, NULL, NULL, NULL },
    { "github_path", "GITHUB PATH", false, false, false, NULL, NULL, NULL, NULL },
    { "min_idle", "MIN IDLE", true, false, false, NULL, NULL, NULL, NULL },
    { "max_runners", "MAX", true, false, false, NULL, NULL, NULL, NULL },
    { "flavor", "FLAVOR", false, false, false, NULL, NULL, NULL, NULL },
    { "image", "IMAGE", false, false, false, NULL, NULL, NULL, NULL },
    { "labels", "LABELS", false, false, false, NULL, NULL, NULL, NULL },
    { NULL, NULL, false, false, false, NULL, NULL, NULL, NULL },
};

static int print_text(const osr_manager_config *cfg)
{
    const char *token_file = osr_manager_config_github_token_file(cfg);
    struct cli_table *t = NULL;
    int rc;

    printf("%s: ok\n", osr_manager_config_source(cfg));
    printf("manager: %s\n", osr_manager_config_manager(cfg));
    if (token_file)
        printf("github: %s (token file %s)\n", osr_manager_config_github_url(cfg), token_file);
    else
        printf("github: %s (GitHub App %lld, installation %lld, key %s)\n",
               osr_manager_config_github_url(cfg), osr_manager_config_github_app_id(cfg),
               osr_manager_config_github_installation_id(cfg),
               osr_manager_config_github_app_key_file(cfg));
    printf("pools: %zu\n\n", osr_pool_config_count(cfg));
    if ((rc = cli_table_new(&t, pool_columns)) != 0)
        return rc;
    for (size_t i = 0; i < osr_pool_config_count(cfg) && rc == 0; i++)
        rc = cli_table_add(t, pool_json(osr_pool_config_at(cfg, i)));
    return cli_table_done(t, rc);
}

static int config_check(int argc, char **argv)
{
    osr_manager_config *cfg = NULL;
    osr_error err;
    int rc;

    (void)argc;
    (void)argv;
    osr_error_clear(&err);
    if (osr_manager_config_load(&cfg, arg_config, &err) < 0)
        return cli_fail(err.code, "%s", err.message);
    rc = cli.json ? print_json(cfg) : print_text(cfg);
    osr_manager_config_free(cfg);
    return rc;
}

static const struct cli_verb verbs[] = {
    { "check", 0, 0, config_check, check_usage, "c:", check_options, check_opt,
      "config check takes no arguments (the file is --config FILE)" },
};

int cmd_config(int argc, char **argv)
{
    return cli_dispatch("config", config_usage, verbs, sizeof(verbs) / sizeof(verbs[0]), argc,
                        argv);
}
