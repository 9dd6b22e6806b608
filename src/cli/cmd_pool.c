/* osrunner pool plan|reconcile|status|flush: one pass of the pool engine per
 * pool of osrunner.yaml (the library does the work: osrunner/reconcile.h). */
#include "cli.h"

#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char pool_usage[] =
    "Usage: osrunner pool plan|reconcile|status [POOL] [--config FILE] [--json]\n"
    "       osrunner pool flush POOL [--busy] [--config FILE] [--json]\n"
    "\n"
    "  plan       the actions the next pass would take, and why; changes nothing\n"
    "  reconcile  one pass: delete what is finished or broken, create what is missing\n"
    "  status     runners by state, desired, capacity and quota\n"
    "  flush      replace the idle runners of POOL (with --busy, busy ones too)\n";

#define COMMON_HELP                                                                         \
    "  -c, --config FILE   osrunner.yaml (default " OSR_MANAGER_CONFIG_DEFAULT_PATH ")\n"   \
    "  --per-page N        page size of GitHub's runner list, 1..100 (default 100)\n"       \
    "  --json              typed JSON: {\"pools\": [{\"pool\", \"state\", \"figures\", "    \
    "\"quota\",\n"                                                                          \
    "                      \"actions\": [{\"kind\", \"rule\", \"reason\", \"server_id\", "  \
    "...}]}]}\n"                                                                            \
    "Each pool's cloud is its clouds.yaml entry (OS_CLIENT_CONFIG_FILE finds the file);\n"  \
    "GitHub's credentials are the configuration's. A pass that cannot read a source\n"      \
    "(servers, runners, limits, image) deletes nothing and exits 12. docs/pool-engine.md\n" \
    "has the rules.\n"

static const char plan_usage[] =
    "Usage: osrunner pool plan [POOL] [--config FILE] [--json]\n"
    "\n"
    "Observe each pool (or POOL) and print the actions a pass would take, each\n"
    "with its rule and a one-line reason, and the capacity line. Changes nothing.\n"
    "\n" COMMON_HELP;

static const char reconcile_usage[] =
    "Usage: osrunner pool reconcile [POOL] [--config FILE] [--json]\n"
    "\n"
    "One pass over each pool (or POOL): observe, decide, act. A runner's record is\n"
    "deleted before its VM, and an idle runner's VM only after GitHub's 204: a\n"
    "runner that took a job meanwhile is kept (GitHub's 422). Creates do not wait\n"
    "for ACTIVE. Exit 9 when an action failed (each is listed).\n"
    "\n" COMMON_HELP;

static const char status_usage[] =
    "Usage: osrunner pool status [POOL] [--config FILE] [--json]\n"
    "\n"
    "Per pool: runners by state (booting, idle, busy, offline, finished, error),\n"
    "desired, the quota headroom and the state (ok, blocked-by-quota: ...,\n"
    "at-max-runners: ..., observe-failed: ...). Changes nothing.\n"
    "\n" COMMON_HELP;

static const char flush_usage[] =
    "Usage: osrunner pool flush POOL [--busy] [--config FILE] [--json]\n"
    "\n"
    "Replace the idle runners of POOL: each is deleted (GitHub first, then its VM)\n"
    "and the same pass creates new ones up to min_idle. Runners with a job are\n"
    "kept, unless --busy: then their VMs are deleted too and their jobs are lost.\n"
    "\n"
    "  --busy              also replace runners that have a job\n" COMMON_HELP;

enum { OPT_CONFIG = 'c', OPT_BUSY = 0x400, OPT_PER_PAGE };

static struct {
    const char *config;
    int busy;
    int per_page;
} arg;

static volatile sig_atomic_t interrupted;
static volatile bool cancel_flag;

static void on_signal(int sig)
{
    interrupted = sig;
    cancel_flag = true;
}

static int pool_opt(int opt, const char *v)
{
    char *end;
    long n;
    switch (opt) {
    case OPT_CONFIG:
        arg.config = v;
        return 0;
    case OPT_BUSY:
        arg.busy = 1;
        return 0;
    case OPT_PER_PAGE:
        n = strtol(v, &end, 10);
        if (*v == '\0' || *end != '\0' || n < 1 || n > 100) {
            cli_usage_error(NULL, "--per-page: 1 to 100");
            return -1;
        }
        arg.per_page = (int)n;
        return 0;
    }
    return -1;
}

#define POOL_OPTIONS                                      \
    { "config", required_argument, NULL, OPT_CONFIG },    \
    {                                                     \
        "per-page", required_argument, NULL, OPT_PER_PAGE \
    }
static const struct option pool_options[] = { POOL_OPTIONS, { NULL, 0, NULL, 0 } };
static const struct option flush_options[] = { POOL_OPTIONS,
                                               { "busy", no_argument, NULL, OPT_BUSY },
                                               { NULL, 0, NULL, 0 } };

/* The GitHub client of the configuration, on the session's engine. */
static int open_github(osr_github **out, const osr_manager_config *cfg, osr_session *s)
{
    osr_github_options go = OSR_GITHUB_OPTIONS_INIT;
    char app[24], inst[24];
    osr_error err;

    osr_error_clear(&err);
    go.api_url = osr_manager_config_github_url(cfg);
    go.token_file = osr_manager_config_github_token_file(cfg);
    if (go.token_file == NULL) {
        snprintf(app, sizeof(app), "%lld", osr_manager_config_github_app_id(cfg));
        snprintf(inst, sizeof(inst), "%lld", osr_manager_config_github_installation_id(cfg));
        go.app_id = app;
        go.installation_id = inst;
        go.app_key_file = osr_manager_config_github_app_key_file(cfg);
    }
    go.per_page = arg.per_page;
    go.log_cb = cli_log_to_stderr;
    go.log_level = cli_log_level();
    go.session = s;
    return cli_check(osr_github_new(out, &go, &err), &err);
}

static int open_pool_session(osr_cloud **cloud, osr_session **s, const osr_pool_spec *pool)
{
    osr_cloud_options co = OSR_CLOUD_OPTIONS_INIT;
    osr_error err;
    int rc;

    osr_error_clear(&err);
    co.cloud_name = osr_pool_spec_cloud(pool);
    co.log_cb = cli_log_to_stderr;
    co.log_level = cli_log_level();
    if ((rc = cli_check(osr_cloud_load(cloud, &co, &err), &err)) != 0)
        return rc;
    if ((rc = cli_open_session(s, *cloud)) != 0) {
        osr_cloud_free(*cloud);
        *cloud = NULL;
    }
    return rc;
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static const struct {
    osr_pool_figure which;
    const char *key;
} figures[] = {
    { OSR_POOL_BOOTING, "booting" },
    { OSR_POOL_IDLE, "idle" },
    { OSR_POOL_BUSY, "busy" },
    { OSR_POOL_OFFLINE, "offline" },
    { OSR_POOL_FINISHED, "finished" },
    { OSR_POOL_ERROR, "error" },
    { OSR_POOL_SERVERS, "servers" },
    { OSR_POOL_RUNNERS, "runners" },
    { OSR_POOL_DESIRED, "desired" },
    { OSR_POOL_MIN_IDLE, "min_idle" },
    { OSR_POOL_MAX_RUNNERS, "max_runners" },
    { OSR_POOL_HEADROOM, "headroom" },
    { OSR_POOL_HEADROOM_INSTANCES, "headroom_instances" },
    { OSR_POOL_HEADROOM_CORES, "headroom_cores" },
    { OSR_POOL_HEADROOM_RAM, "headroom_ram" },
    { OSR_POOL_HEADROOM_PORTS, "headroom_ports" },
    { OSR_POOL_CREATES, "creates" },
};

static json_t *action_json(const osr_pool_action *a)
{
    const osr_error *e = osr_pool_action_error(a);
    long long rid = osr_pool_action_runner_id(a);
    return json_pack("{s:s,s:s,s:s,s:o,s:o,s:o,s:s,s:o}", "kind", osr_pool_action_kind(a), "rule",
                     osr_pool_action_rule(a), "reason", osr_pool_action_reason(a), "server_id",
                     str_or_null(osr_pool_action_server_id(a)), "server_name",
                     str_or_null(osr_pool_action_server_name(a)), "runner_id",
                     rid > 0 ? json_integer(rid) : json_null(), "outcome",
                     osr_pool_action_outcome(a), "error",
                     e->code < 0 ? json_string(e->message) : json_null());
}

static json_t *pass_json(const osr_pool_pass *p)
{
    json_t *fig = json_object(), *quota = json_object(), *acts = json_array();
    static const char *const res[] = { "instances", "cores", "ram", "ports" };

    for (size_t i = 0; fig && i < sizeof(figures) / sizeof(figures[0]); i++)
        json_object_set_new(fig, figures[i].key,
                            json_integer(osr_pool_pass_figure(p, figures[i].which)));
    for (size_t i = 0; quota && i < 4; i++) {
        long long used, max;
        if (osr_pool_pass_quota(p, res[i], &used, &max) == 0)
            json_object_set_new(
                quota, res[i],
                json_pack("{s:I,s:I}", "used", (json_int_t)used, "max", (json_int_t)max));
        else
            json_object_set_new(quota, res[i], json_null());
    }
    for (size_t i = 0; acts && i < osr_pool_pass_action_count(p); i++)
        json_array_append_new(acts, action_json(osr_pool_pass_action_at(p, i)));
    return json_pack(
        "{s:s,s:s,s:b,s:o,s:o,s:o,s:o}", "pool", osr_pool_pass_pool(p), "state",
        osr_pool_pass_state(p), "observe_failed", osr_pool_pass_observe_failed(p), "observe_error",
        *osr_pool_pass_observe_error(p) ? json_string(osr_pool_pass_observe_error(p)) : json_null(),
        "figures", fig ? fig : json_object(), "quota", quota ? quota : json_object(), "actions",
        acts ? acts : json_array());
}

static const struct cli_column action_columns[] = {
    { "kind", "ACTION", false, false, false, NULL, NULL, NULL, NULL },
    { "rule", "RULE", false, false, false, NULL, NULL, NULL, NULL },
    { "server_name", "SERVER", false, false, false, NULL, NULL, NULL, NULL },
    { "runner_id", "RUNNER", true, false, false, NULL, NULL, NULL, NULL },
    { "outcome", "OUTCOME", false, false, false, NULL, NULL, NULL, NULL },
    { "reason", "REASON", false, false, false, NULL, NULL, NULL, NULL },
    { NULL, NULL, false, false, false, NULL, NULL, NULL, NULL },
};

static const struct cli_column status_columns[] = {
    { "pool", "POOL", false, false, false, NULL, NULL, NULL, NULL },
    { "figures.booting", "BOOTING", true, false, false, NULL, NULL, NULL, NULL },
    { "figures.idle", "IDLE", true, false, false, NULL, NULL, NULL, NULL },
    { "figures.busy", "BUSY", true, false, false, NULL, NULL, NULL, NULL },
    { "figures.offline", "OFFLINE", true, false, false, NULL, NULL, NULL, NULL },
    { "figures.finished", "FINISHED", true, false, false, NULL, NULL, NULL, NULL },
    { "figures.error", "ERROR", true, false, false, NULL, NULL, NULL, NULL },
    { "figures.desired", "DESIRED", true, false, false, NULL, NULL, NULL, NULL },
    { "figures.headroom", "HEADROOM", true, false, false, NULL, NULL, NULL, NULL },
    { "state", "STATE", false, false, false, NULL, NULL, NULL, NULL },
    { NULL, NULL, false, false, false, NULL, NULL, NULL, NULL },
};

/* "pool small: ok; 2 idle, 0 booting, 1 busy; desired 3; headroom 97". */
static void print_capacity(const osr_pool_pass *p)
{
    long long h = osr_pool_pass_figure(p, OSR_POOL_HEADROOM);
    char hs[32];
    if (h < 0)
        snprintf(hs, sizeof(hs), "unlimited");
    else
        snprintf(hs, sizeof(hs), "%lld", h);
    printf("pool %s: %s; %lld idle, %lld booting, %lld busy; desired %lld; headroom %s\n",
           osr_pool_pass_pool(p), osr_pool_pass_state(p), osr_pool_pass_figure(p, OSR_POOL_IDLE),
           osr_pool_pass_figure(p, OSR_POOL_BOOTING), osr_pool_pass_figure(p, OSR_POOL_BUSY),
           osr_pool_pass_figure(p, OSR_POOL_DESIRED), hs);
    if (osr_pool_pass_observe_failed(p))
        printf("  not read: %s (nothing is deleted)\n", osr_pool_pass_observe_error(p));
}

static int print_actions_text(const osr_pool_pass *p)
{
    struct cli_table *t = NULL;
    int rc;

    print_capacity(p);
    if (osr_pool_pass_action_count(p) == 0) {
        printf("  no action\n");
        return 0;
    }
    if ((rc = cli_table_new(&t, action_columns)) != 0)
        return rc;
    for (size_t i = 0; i < osr_pool_pass_action_count(p) && rc == 0; i++)
        rc = cli_table_add(t, action_json(osr_pool_pass_action_at(p, i)));
    return cli_table_done(t, rc);
}

enum verb_kind { V_PLAN, V_RECONCILE, V_STATUS, V_FLUSH };

static int run_passes(enum verb_kind kind, const char *only)
{
    osr_manager_config *cfg = NULL;
    json_t *all = json_array(), *rows = NULL;
    struct cli_table *t = NULL;
    struct sigaction sa, old_int, old_term;
    osr_error err;
    int rc = 0, worst = 0;

    osr_error_clear(&err);
    if (all == NULL)
        return cli_fail(OSR_ENOMEM, "out of memory");
    if (osr_manager_config_load(&cfg, arg.config, &err) < 0) {
        json_decref(all);
        return cli_fail(err.code, "%s", err.message);
    }
    if (only && osr_pool_config_find(cfg, only) == NULL) {
        rc = cli_fail(OSR_ENOTFOUND, "%s: no pool '%s'", osr_manager_config_source(cfg), only);
        goto done;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    if (kind == V_STATUS && !cli.json && (rc = cli_table_new(&t, status_columns)) != 0)
        goto restore;
    for (size_t i = 0; i < osr_pool_config_count(cfg) && !interrupted; i++) {
        const osr_pool_spec *pool = osr_pool_config_at(cfg, i);
        osr_pool_options po = OSR_POOL_OPTIONS_INIT;
        osr_cloud *cloud = NULL;
        osr_session *s = NULL;
        osr_github *gh = NULL;
        osr_pool_pass *pass = NULL;
        int error, prc;

        if (only && strcmp(osr_pool_spec_name(pool), only) != 0)
            continue;
        if ((prc = open_pool_session(&cloud, &s, pool)) != 0 ||
            (prc = open_github(&gh, cfg, s)) != 0) {
            worst = worst ? worst : prc;
            osr_session_free(s);
            osr_cloud_free(cloud);
            continue;
        }
        po.mode = kind == V_RECONCILE || kind == V_FLUSH ? OSR_POOL_RECONCILE : OSR_POOL_PLAN;
        po.flush = kind == V_FLUSH;
        po.flush_busy = arg.busy;
        po.cancel = &cancel_flag;
        error = osr_pool_pass_run(&pass, s, gh, cfg, pool, &po, &err);
        if (pass == NULL) {
            prc = cli_fail(error, "pool %s: %s", osr_pool_spec_name(pool), err.message);
            worst = worst ? worst : prc;
        } else {
            if (cli.json)
                json_array_append_new(all, pass_json(pass));
            else if (kind == V_STATUS)
                rc = rc ? rc : cli_table_add(t, pass_json(pass));
            else
                rc = rc ? rc : print_actions_text(pass);
            if (error < 0)
                worst = worst ? worst : cli_exit_code(error);
            else if (osr_pool_pass_observe_failed(pass))
                worst = worst ? worst : EXIT_PARTIAL;
        }
        osr_pool_pass_free(pass);
        osr_github_free(gh);
        osr_session_free(s);
        osr_cloud_free(cloud);
    }
    if (kind == V_STATUS && !cli.json) {
        rc = cli_table_done(t, rc);
        t = NULL;
    }
    if (cli.json && rc == 0) {
        rows = json_pack("{s:o}", "pools", all);
        all = NULL;
        rc = rows ? cli_print_json(rows) : cli_fail(OSR_ENOMEM, "out of memory");
    }
restore:
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
done:
    cli_table_free(t);
    json_decref(all);
    osr_manager_config_free(cfg);
    if (interrupted)
        return interrupted == SIGTERM ? 143 : EXIT_INTERRUPTED;
    return rc ? rc : worst;
}

static int pool_plan(int argc, char **argv)
{
    return run_passes(V_PLAN, argc ? argv[0] : NULL);
}

static int pool_reconcile(int argc, char **argv)
{
    return run_passes(V_RECONCILE, argc ? argv[0] : NULL);
}

static int pool_status(int argc, char **argv)
{
    return run_passes(V_STATUS, argc ? argv[0] : NULL);
}

static int pool_flush(int argc, char **argv)
{
    (void)argc;
    return run_passes(V_FLUSH, argv[0]);
}

static const struct cli_verb verbs[] = {
    { "plan", 0, 1, pool_plan, plan_usage, "c:", pool_options, pool_opt, NULL },
    { "reconcile", 0, 1, pool_reconcile, reconcile_usage, "c:", pool_options, pool_opt, NULL },
    { "status", 0, 1, pool_status, status_usage, "c:", pool_options, pool_opt, NULL },
    { "flush", 1, 1, pool_flush, flush_usage, "c:", flush_options, pool_opt,
      "pool flush takes one POOL" },
};

int cmd_pool(int argc, char **argv)
{
    return cli_dispatch("pool", pool_usage, verbs, sizeof(verbs) / sizeof(verbs[0]), argc, argv);
}
