/* The pools: the configuration, one session and GitHub client per pool,
 * the pass schedule (an interval with jitter, or now on a trigger), the
 * passes themselves and the metrics they leave. A pass is the library's
 * blocking osr_pool_pass_run() for now (src/daemon/README.md). */
#include "daemon.h"

#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const double pass_buckets[] = { 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300 };

int metrics_declare_all(osr_metrics *m)
{
    static const char *const pool_state[] = { "pool", "state", NULL };
    static const char *const pool[] = { "pool", NULL };
    static const char *const pool_res[] = { "pool", "resource", NULL };
    static const char *const pool_result[] = { "pool", "result", NULL };
    static const char *const action[] = { "pool", "kind", "rule", "outcome", NULL };
    static const char *const webhook[] = { "event", "result", NULL };
    static const char *const jobs[] = { "pool", "action", NULL };
    static const char *const result[] = { "result", NULL };
    static const char *const version[] = { "version", NULL };
    static const char *const api[] = { "pool", "service", "status", NULL };
    const char *const v[] = { osr_version() };
    int e = 0;

#define DECL(name, type, help, labels) \
    if (e == 0)                        \
    e = osr_metrics_declare(m, name, type, help, labels, NULL, 0)
    DECL("osrunner_build_info", OSR_METRIC_GAUGE, "osrunnerd's version; always 1.", version);
    DECL("osrunner_runners", OSR_METRIC_GAUGE,
         "Runners of the pool by state, as the last pass observed them.", pool_state);
    DECL("osrunner_desired_runners", OSR_METRIC_GAUGE,
         "min(busy + min_idle, max_runners), as the last pass computed it.", pool);
    DECL("osrunner_max_runners", OSR_METRIC_GAUGE, "The pool's max_runners.", pool);
    DECL("osrunner_quota_headroom", OSR_METRIC_GAUGE,
         "VMs of the pool's flavor the quota still allows, by resource; +Inf when unlimited.",
         pool_res);
    DECL("osrunner_github_rate_limit_remaining", OSR_METRIC_GAUGE,
         "GitHub requests left in the rate-limit window, as the pool's last answer said.", pool);
    DECL("osrunner_github_rate_limit_reset_timestamp_seconds", OSR_METRIC_GAUGE,
         "When GitHub's rate-limit window resets (Unix time), as the pool's last answer said.",
         pool);
    DECL("osrunner_github_rate_limit_limit", OSR_METRIC_GAUGE,
         "GitHub requests allowed per rate-limit window, as the pool's last answer said.", pool);
    DECL("osrunner_api_requests_total", OSR_METRIC_COUNTER,
         "API calls of the pool's session by service and HTTP status (0: no answer); every "
         "attempt counts.",
         api);
    DECL("osrunner_pool_backoff_seconds", OSR_METRIC_GAUGE,
         "How long the pool waits after failed passes before the next one (0: no backoff).", pool);
    DECL("osrunner_queued_jobs", OSR_METRIC_GAUGE,
         "Jobs known queued for the pool (webhooks), each asking for one more idle runner.", pool);
    DECL("osrunner_pool_ready", OSR_METRIC_GAUGE,
         "1 once a pass of the pool has observed every source.", pool);
    DECL("osrunner_last_pass_timestamp_seconds", OSR_METRIC_GAUGE,
         "When the pool's last pass ended (Unix time).", pool);
    DECL("osrunner_reconcile_passes_total", OSR_METRIC_COUNTER,
         "Passes by result: ok, observe_failed, action_failed, error, cancelled (a stop).",
         pool_result);
    DECL("osrunner_reconcile_actions_total", OSR_METRIC_COUNTER,
         "Actions of passes by kind, rule and outcome.", action);
    DECL("osrunner_webhooks_total", OSR_METRIC_COUNTER, "Webhook deliveries by event and result.",
         webhook);
    DECL("osrunner_webhook_jobs_total", OSR_METRIC_COUNTER,
         "workflow_job deliveries by the pool that serves their labels (none) and action.", jobs);
    DECL("osrunner_config_reloads_total", OSR_METRIC_COUNTER,
         "Configuration reloads (SIGHUP) by result.", result);
#undef DECL
    if (e == 0)
        e = osr_metrics_declare(m, "osrunner_reconcile_duration_seconds", OSR_METRIC_HISTOGRAM,
                                "How long a pass took.", pool, pass_buckets,
                                sizeof(pass_buckets) / sizeof(pass_buckets[0]));
    if (e == 0)
        e = osr_metrics_gauge_set(m, "osrunner_build_info", v, 1);
    return e;
}

int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pool_close(struct pool *p)
{
    osr_github_free(p->github);
    osr_session_free(p->session);
    osr_cloud_free(p->cloud);
    p->github = NULL;
    p->session = NULL;
    p->cloud = NULL;
    p->napi = 0; /* a new session counts from 0 */
}

void pools_free(struct pool *pools, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        pool_close(&pools[i]);
        free(pools[i].name);
        free(pools[i].image_id);
    }
    free(pools);
}

/* The pool's cloud, session and GitHub client, once; kept across passes
 * (the session's token and the GitHub installation token are cached in
 * them). */
static int pool_open(struct daemon *d, struct pool *p, osr_error *err)
{
    osr_cloud_options co = OSR_CLOUD_OPTIONS_INIT;
    osr_session_options so = OSR_SESSION_OPTIONS_INIT;
    osr_github_options go = OSR_GITHUB_OPTIONS_INIT;
    char app[24], inst[24];
    int error;

    if (p->github)
        return 0;
    pool_close(p);
    co.cloud_name = osr_pool_spec_cloud(p->spec);
    co.log_cb = ev_log;
    co.log_level = ev_log_level();
    if ((error = osr_cloud_load(&p->cloud, &co, err)) < 0)
        return error;
    so.token_cache = 1;
    so.log_cb = ev_log;
    so.log_level = ev_log_level();
    if ((error = osr_session_new(&p->session, p->cloud, &so, err)) < 0) {
        pool_close(p);
        return error;
    }
    go.api_url = osr_manager_config_github_url(d->cfg);
    go.token_file = osr_manager_config_github_token_file(d->cfg);
    if (go.token_file == NULL) {
        snprintf(app, sizeof(app), "%lld", osr_manager_config_github_app_id(d->cfg));
        snprintf(inst, sizeof(inst), "%lld", osr_manager_config_github_installation_id(d->cfg));
        go.app_id = app;
        go.installation_id = inst;
        go.app_key_file = osr_manager_config_github_app_key_file(d->cfg);
    }
    go.log_cb = ev_log;
    go.log_level = ev_log_level();
    go.session = p->session;
    /* A short rate-limit wait inside a pass; a longer one fails the pass,
     * and the backoff waits for GitHub's reset instead of the pass. */
    go.rate_limit_wait_s = 5;
    if (go.token_file)
        osr_file_check_private(go.token_file, "github.token_file", ev_log, NULL);
    if ((error = osr_github_new(&p->github, &go, err)) < 0) {
        pool_close(p);
        return error;
    }
    return 0;
}

static struct pool *pools_from(osr_manager_config *cfg, size_t *n)
{
    size_t count = osr_pool_config_count(cfg);
    struct pool *pools = calloc(count ? count : 1, sizeof(*pools));
    if (pools == NULL)
        return NULL;
    for (size_t i = 0; i < count; i++) {
        pools[i].spec = osr_pool_config_at(cfg, i);
        if ((pools[i].name = strdup(osr_pool_spec_name(pools[i].spec))) == NULL) {
            pools_free(pools, i);
            return NULL;
        }
    }
    *n = count;
    return pools;
}

int pools_load(struct daemon *d, const char *path, osr_error *err)
{
    osr_manager_config *cfg = NULL;
    struct pool *pools;
    size_t n = 0;
    int error;

    if ((error = osr_manager_config_load(&cfg, path, err)) < 0)
        return error;
    if ((pools = pools_from(cfg, &n)) == NULL) {
        osr_manager_config_free(cfg);
        return OSR_ENOMEM;
    }
    d->cfg = cfg;
    d->pools = pools;
    d->pool_count = n;
    pools_trigger_all(d, now_ms());
    return 0;
}

/* A reload that is kept out: counted, and said with what stays in force. */
static int reload_rejected(struct daemon *d, const char *why, int code)
{
    const char *bad[] = { "rejected" };
    (void)osr_metrics_counter_add(d->metrics, "osrunner_config_reloads_total", bad, 1);
    ev_emit(d, "reload", "{s:s,s:s,s:s}", "outcome", "rejected", "error", why, "kept",
            osr_manager_config_source(d->cfg));
    return code;
}

/* SIGHUP: a new file replaces the old one only when it is valid. Pools that
 * stay keep their readiness; their sessions are opened again (the cloud or
 * the GitHub credentials may have changed). */
int pools_reload(struct daemon *d)
{
    osr_manager_config *cfg = NULL;
    struct pool *pools;
    size_t n = 0, secret_len = 0;
    char *secret = NULL;
    osr_error err;
    const char *ok[] = { "ok" };

    osr_error_clear(&err);
    if (osr_manager_config_load(&cfg, d->config_path, &err) < 0)
        return reload_rejected(d, err.message, err.code);
    if ((pools = pools_from(cfg, &n)) == NULL) {
        osr_manager_config_free(cfg);
        ev_emit(d, "reload", "{s:s,s:s}", "outcome", "rejected", "error", "out of memory");
        return OSR_ENOMEM;
    }
    /* The webhook secret is part of what a reload takes (a rotation): one
     * that cannot be read rejects the whole file, and the old one stays. */
    if (httpd_secret_reread(&secret, &secret_len, d, cfg, &err) < 0) {
        char msg[OSR_ERROR_MESSAGE_MAX + 32];
        snprintf(msg, sizeof(msg), "webhook secret: %s", err.message);
        pools_free(pools, n);
        osr_manager_config_free(cfg);
        return reload_rejected(d, msg, err.code);
    }
    if (secret) {
        osr_secret_free(d->webhook_secret);
        d->webhook_secret = secret;
        d->webhook_secret_len = secret_len;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d->pool_count; j++)
            if (strcmp(pools[i].name, d->pools[j].name) == 0) {
                /* What the daemon knows of the pool stays: its readiness,
                 * queued jobs, what the last pass saw of its VMs, its
                 * backoff. Its configuration and sessions are the new
                 * file's (opened again at the next pass). */
                struct pool fresh = pools[i];
                pools[i] = d->pools[j];
                pools[i].name = fresh.name;
                pools[i].spec = fresh.spec;
                pools[i].cloud = NULL;
                pools[i].session = NULL;
                pools[i].github = NULL;
                pools[i].napi = 0;
                pools[i].busy = false;
                pools[i].reason[0] = '\0';
                d->pools[j].image_id = NULL; /* moved */
            }
    pools_free(d->pools, d->pool_count);
    osr_manager_config_free(d->cfg);
    d->cfg = cfg;
    d->pools = pools;
    d->pool_count = n;
    /* Gauges of pools that went away must not linger. */
    (void)osr_metrics_clear(d->metrics, "osrunner_runners");
    (void)osr_metrics_clear(d->metrics, "osrunner_desired_runners");
    (void)osr_metrics_clear(d->metrics, "osrunner_max_runners");
    (void)osr_metrics_clear(d->metrics, "osrunner_quota_headroom");
    (void)osr_metrics_clear(d->metrics, "osrunner_pool_ready");
    (void)osr_metrics_clear(d->metrics, "osrunner_queued_jobs");
    (void)osr_metrics_clear(d->metrics, "osrunner_github_rate_limit_remaining");
    (void)osr_metrics_clear(d->metrics, "osrunner_github_rate_limit_reset_timestamp_seconds");
    (void)osr_metrics_clear(d->metrics, "osrunner_github_rate_limit_limit");
    (void)osr_metrics_clear(d->metrics, "osrunner_pool_backoff_seconds");
    (void)osr_metrics_counter_add(d->metrics, "osrunner_config_reloads_total", ok, 1);
    ev_emit(d, "reload", "{s:s,s:s,s:I}", "outcome", "ok", "config", osr_manager_config_source(cfg),
            "pools", (json_int_t)n);
    pools_trigger_all(d, now_ms());
    return 0;
}

void pools_trigger_all(struct daemon *d, int64_t now)
{
    for (size_t i = 0; i < d->pool_count; i++)
        d->pools[i].next_due_ms = now;
}

bool pools_all_attempted(const struct daemon *d)
{
    for (size_t i = 0; i < d->pool_count; i++)
        if (!d->pools[i].attempted)
            return false;
    return true;
}

/* When the pool's next pass may start: when due, and not before its backoff ends. */
static int64_t due_at(const struct pool *p)
{
    return p->next_due_ms > p->not_before_ms ? p->next_due_ms : p->not_before_ms;
}

int64_t pools_next_due(const struct daemon *d)
{
    int64_t next = INT64_MAX;
    for (size_t i = 0; i < d->pool_count; i++)
        if (due_at(&d->pools[i]) < next)
            next = due_at(&d->pools[i]);
    return next;
}

/* interval ± 10 %, so that many daemons (or pools) do not beat in step. */
static int64_t next_interval_ms(const struct daemon *d)
{
    int64_t base = (int64_t)d->interval_s * 1000;
    int64_t jitter = base / 10;
    if (jitter <= 0)
        return base;
    return base - jitter + (int64_t)(random() % (2 * jitter + 1));
}

struct pass_ctx {
    struct daemon *d;
    const char *pool;
};

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static void on_action(const osr_pool_action *a, void *payload)
{
    struct pass_ctx *ctx = payload;
    const osr_error *e = osr_pool_action_error(a);
    long long rid = osr_pool_action_runner_id(a);
    const char *const v[] = { ctx->pool, osr_pool_action_kind(a), osr_pool_action_rule(a),
                              osr_pool_action_outcome(a) };

    (void)osr_metrics_counter_add(ctx->d->metrics, "osrunner_reconcile_actions_total", v, 1);
    long long sent = osr_pool_action_sent_at(a);
    ev_emit(ctx->d, "action", "{s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:o}", "pool", ctx->pool,
            "kind", osr_pool_action_kind(a), "rule", osr_pool_action_rule(a), "reason",
            osr_pool_action_reason(a), "outcome", osr_pool_action_outcome(a), "server",
            str_or_null(osr_pool_action_server_name(a)), "server_id",
            str_or_null(osr_pool_action_server_id(a)), "runner_id",
            rid > 0 ? json_integer(rid) : json_null(), "error",
            e && e->code < 0 ? json_string(e->message) : json_null(), "sent_at_ms",
            sent > 0 ? json_integer((json_int_t)sent) : json_null());
}

static void
set_gauge(struct daemon *d, const char *name, const char *pool, const char *l2, double v)
{
    const char *const vals[] = { pool, l2 };
    (void)osr_metrics_gauge_set(d->metrics, name, vals, v);
}

static void publish_figures(struct daemon *d, struct pool *p, const osr_pool_pass *pass)
{
    static const struct {
        osr_pool_figure which;
        const char *state;
    } states[] = {
        { OSR_POOL_BOOTING, "booting" },   { OSR_POOL_IDLE, "idle" },
        { OSR_POOL_BUSY, "busy" },         { OSR_POOL_OFFLINE, "offline" },
        { OSR_POOL_FINISHED, "finished" }, { OSR_POOL_ERROR, "error" },
    };
    static const struct {
        osr_pool_figure which;
        const char *res;
    } heads[] = {
        { OSR_POOL_HEADROOM, "vms" },         { OSR_POOL_HEADROOM_INSTANCES, "instances" },
        { OSR_POOL_HEADROOM_CORES, "cores" }, { OSR_POOL_HEADROOM_RAM, "ram" },
        { OSR_POOL_HEADROOM_PORTS, "ports" },
    };
    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
        set_gauge(d, "osrunner_runners", p->name, states[i].state,
                  (double)osr_pool_pass_figure(pass, states[i].which));
    for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
        long long h = osr_pool_pass_figure(pass, heads[i].which);
        set_gauge(d, "osrunner_quota_headroom", p->name, heads[i].res,
                  h == -1 ? (double)INFINITY : (double)h);
    }
    set_gauge(d, "osrunner_desired_runners", p->name, NULL,
              (double)osr_pool_pass_figure(pass, OSR_POOL_DESIRED));
    set_gauge(d, "osrunner_max_runners", p->name, NULL,
              (double)osr_pool_pass_figure(pass, OSR_POOL_MAX_RUNNERS));
}

/* While the pass waits on the network: answer HTTP (a webhook gets its 202
 * within GitHub's 10 s even during a long pass), read the signalfd (a stop
 * cancels the pass and its requests in flight; a reload waits for its end)
 * and ping the watchdog. No pass starts and no configuration changes here. */
static int pass_wait(struct pollfd *fds, size_t n, void *payload)
{
    struct daemon *d = payload;
    (void)fds;
    (void)n;
    for (size_t i = 0; i < d->listener_count; i++)
        httpd_run(&d->listeners[i]);
    daemon_read_signals(d);
    daemon_watchdog(d);
    /* Webhooks are acted on now, not after the pass: other pools grow for
     * their queued jobs at once (on their own sessions; never the pool in
     * the pass, whose next pass is made due instead), and passes are made
     * due. Not again from inside such a growth's own wait. */
    if (!d->in_hook && d->note_count > 0 && !d->cancel) {
        d->in_hook = true;
        pools_take_notes(d, now_ms());
        d->in_hook = false;
    }
    return d->cancel; /* a stop cancels the requests in flight */
}

/* Drop expired queued jobs; how many remain. */
static size_t queued_prune(struct pool *p, int64_t now)
{
    size_t k = 0;
    for (size_t i = 0; i < p->nqueued; i++)
        if (p->queued[i].expires_ms > now)
            p->queued[k++] = p->queued[i];
    p->nqueued = k;
    return k;
}

static void queued_add(struct pool *p, long long id, int64_t now)
{
    for (size_t i = 0; i < p->nqueued; i++)
        if (p->queued[i].id == id)
            return;
    if (p->nqueued < QUEUED_MAX) {
        p->queued[p->nqueued].id = id;
        p->queued[p->nqueued].expires_ms = now + QUEUED_TTL_MS;
        p->nqueued++;
    }
}

static void queued_remove(struct pool *p, long long id)
{
    for (size_t i = 0; i < p->nqueued; i++)
        if (p->queued[i].id == id) {
            p->queued[i] = p->queued[--p->nqueued];
            return;
        }
}

/* The session's API call counts since the last look go into the metrics.
 * Returns the first service that failed meanwhile (no answer, 5xx, 429, or
 * GitHub's 403 of a rate limit), or NULL. */
static const char *publish_api(struct daemon *d, struct pool *p)
{
    static char failed[16];
    const char *bad = NULL;
    size_t n = osr_session_api_stats_count(p->session);

    for (size_t i = 0; i < n; i++) {
        const char *svc;
        int status;
        unsigned long long count, before = 0;
        size_t k;
        char st[16];
        if (osr_session_api_stats_at(&svc, &status, &count, p->session, i) < 0)
            break;
        for (k = 0; k < p->napi; k++)
            if (p->api[k].status == status && strcmp(p->api[k].service, svc) == 0)
                break;
        if (k < p->napi) {
            before = p->api[k].count;
        } else if (p->napi < sizeof(p->api) / sizeof(p->api[0])) {
            k = p->napi++;
            snprintf(p->api[k].service, sizeof(p->api[k].service), "%s", svc);
            p->api[k].status = status;
        } else {
            continue;
        }
        if (count <= before)
            continue;
        p->api[k].count = count;
        snprintf(st, sizeof(st), "%d", status);
        {
            const char *const v[] = { p->name, svc, st };
            (void)osr_metrics_counter_add(d->metrics, "osrunner_api_requests_total", v,
                                          (double)(count - before));
        }
        if (bad == NULL && (status == 0 || status >= 500 || status == 429 ||
                            (status == 403 && strcmp(svc, "github") == 0))) {
            snprintf(failed, sizeof(failed), "%s", svc);
            bad = failed;
        }
    }
    return bad;
}

static void publish_github(struct daemon *d, struct pool *p)
{
    const char *const vp[] = { p->name };
    long remaining = -1, limit;
    long long reset_at = -1;

    if (p->github == NULL)
        return;
    osr_github_rate_limit(&remaining, &reset_at, p->github);
    limit = osr_github_rate_limit_limit(p->github);
    if (remaining >= 0)
        (void)osr_metrics_gauge_set(d->metrics, "osrunner_github_rate_limit_remaining", vp,
                                    (double)remaining);
    if (reset_at >= 0)
        (void)osr_metrics_gauge_set(
            d->metrics, "osrunner_github_rate_limit_reset_timestamp_seconds", vp, (double)reset_at);
    if (limit >= 0)
        (void)osr_metrics_gauge_set(d->metrics, "osrunner_github_rate_limit_limit", vp,
                                    (double)limit);
}

/* A failed pass: the next one waits 2 s, 4 s, ... up to the interval (with
 * jitter), or until GitHub's rate-limit window resets; webhooks do not
 * shorten it. A good pass ends the backoff. Returns the wait in ms. */
static int64_t backoff(struct daemon *d, struct pool *p, bool failed, const char *service)
{
    const char *const vp[] = { p->name };
    int64_t wait = 0, cap = (int64_t)d->interval_s * 1000;

    if (!failed) {
        p->failures = 0;
        p->not_before_ms = 0;
        p->failed_service[0] = '\0';
    } else {
        long remaining = -1;
        long long reset_at = -1, now_wall = (long long)time(NULL);
        p->failures++;
        wait = BACKOFF_MIN_MS;
        for (unsigned int i = 1; i < p->failures && wait < cap; i++)
            wait *= 2;
        if (wait > cap)
            wait = cap;
        wait += (int64_t)(random() % (wait / 5 + 1)) - wait / 10;
        if (p->github)
            osr_github_rate_limit(&remaining, &reset_at, p->github);
        if (remaining == 0 && reset_at > now_wall && (reset_at - now_wall) * 1000 + 1000 > wait)
            wait = (reset_at - now_wall) * 1000 + 1000; /* GitHub says when */
        p->not_before_ms = now_ms() + wait;
        snprintf(p->failed_service, sizeof(p->failed_service), "%s", service ? service : "unknown");
    }
    (void)osr_metrics_gauge_set(d->metrics, "osrunner_pool_backoff_seconds", vp,
                                (double)wait / 1000.0);
    return wait;
}

static void hook_on(struct daemon *d, struct pool *p, struct pollfd *fds)
{
    size_t nfds = 0;
    if (d->sfd >= 0)
        fds[nfds++] = (struct pollfd){ .fd = d->sfd, .events = POLLIN };
    for (size_t i = 0; i < d->listener_count; i++)
        fds[nfds++] = (struct pollfd){ .fd = d->listeners[i].epoll_fd, .events = POLLIN };
    (void)osr_session_set_wait_hook(p->session, fds, nfds, pass_wait, d);
}

static long long count_actions(const osr_pool_pass *pass, const char *kind, const char *rule)
{
    long long n = 0;
    for (size_t i = 0; i < osr_pool_pass_action_count(pass); i++) {
        const osr_pool_action *a = osr_pool_pass_action_at(pass, i);
        if (strcmp(osr_pool_action_outcome(a), "done") == 0 &&
            (kind == NULL || strcmp(osr_pool_action_kind(a), kind) == 0) &&
            (rule == NULL || strcmp(osr_pool_action_rule(a), rule) == 0))
            n++;
    }
    return n;
}

/* What a good pass leaves for growing without one: our VMs and the idle
 * supply after its actions. */
static void remember(struct pool *p, const osr_pool_pass *pass)
{
    long long created = count_actions(pass, "create", NULL);
    long long vm_gone =
        count_actions(pass, "delete-vm", NULL) + count_actions(pass, "delete-runner-then-vm", NULL);
    long long idle_gone =
        count_actions(pass, NULL, "idle-surplus") + count_actions(pass, NULL, "outdated-image");
    const char *img = osr_pool_pass_image_id(pass);

    p->seen_servers = osr_pool_pass_figure(pass, OSR_POOL_SERVERS) + created - vm_gone;
    p->seen_idle = osr_pool_pass_figure(pass, OSR_POOL_IDLE) - idle_gone;
    p->seen_booting = osr_pool_pass_figure(pass, OSR_POOL_BOOTING) + created;
    p->seen_headroom = osr_pool_pass_figure(pass, OSR_POOL_HEADROOM);
    if (p->seen_headroom >= 0)
        p->seen_headroom = p->seen_headroom > created ? p->seen_headroom - created : 0;
    p->grown = 0;
    if (img && (p->image_id == NULL || strcmp(img, p->image_id) != 0)) {
        free(p->image_id);
        p->image_id = strdup(img);
    }
}

/* One library call of the pool (a pass, or a growth): the stop flag, the
 * action events, the wait hook while it runs, and the API and rate-limit
 * figures it leaves. Returns osr_pool_pass_run()'s code; *service is the
 * first service that failed meanwhile, or NULL. */
static int call_pool(struct daemon *d,
                     struct pool *p,
                     osr_pool_options *po,
                     osr_pool_pass **pass,
                     osr_error *err,
                     const char **service)
{
    struct pass_ctx ctx = { d, p->name };
    struct pollfd fds[3];
    const char *svc;
    int error;

    po->cancel = &d->cancel;
    po->on_action = on_action;
    po->payload = &ctx;
    hook_on(d, p, fds);
    p->busy = true;
    error = osr_pool_pass_run(pass, p->session, p->github, d->cfg, p->spec, po, err);
    p->busy = false;
    (void)osr_session_set_wait_hook(p->session, NULL, 0, NULL, NULL);
    svc = publish_api(d, p);
    if (service)
        *service = svc;
    publish_github(d, p);
    return error;
}

static void run_pass(struct daemon *d, struct pool *p)
{
    osr_pool_options po = OSR_POOL_OPTIONS_INIT;
    osr_pool_pass *pass = NULL;
    osr_error err;
    int64_t t0 = now_ms(), wait = 0;
    const char *result, *service = NULL;
    double secs;
    int error;

    osr_error_clear(&err);
    p->attempted = true;
    if ((error = pool_open(d, p, &err)) < 0) {
        snprintf(p->reason, sizeof(p->reason), "cannot open: %s", err.message);
        result = "error";
        service = "config";
        goto counted;
    }
    po.mode = OSR_POOL_RECONCILE;
    po.queued_jobs = (long long)queued_prune(p, now_ms());
    error = call_pool(d, p, &po, &pass, &err, &service);
    if (pass == NULL) {
        snprintf(p->reason, sizeof(p->reason), "pass failed: %s", err.message);
        result = "error";
        /* a broken session (say, revoked credentials) is opened afresh */
        if (error == OSR_EAUTH)
            pool_close(p);
    } else {
        publish_figures(d, p, pass);
        if (osr_pool_pass_observe_failed(pass)) {
            snprintf(p->reason, sizeof(p->reason), "observe failed: %s",
                     osr_pool_pass_observe_error(pass));
            result = "observe_failed";
        } else {
            p->ready = true;
            remember(p, pass);
            /* creates were sent (BUILD): a pass soon sees how they went */
            if (count_actions(pass, "create", NULL) > 0 &&
                (p->followup_ms == 0 || p->followup_ms > now_ms() + FOLLOWUP_MS))
                p->followup_ms = now_ms() + FOLLOWUP_MS;
            snprintf(p->reason, sizeof(p->reason), "%s", osr_pool_pass_state(pass));
            result = error < 0 ? "action_failed" : "ok";
        }
    }
counted:
    if (d->cancel) { /* stopping: not a failure of the cloud */
        wait = 0;
        if (strcmp(result, "ok") != 0)
            result = "cancelled";
    } else
        wait = backoff(d, p, strcmp(result, "error") == 0 || strcmp(result, "observe_failed") == 0,
                       service);
    secs = (double)(now_ms() - t0) / 1000.0;
    {
        const char *const vp[] = { p->name }, *const vr[] = { p->name, result };
        (void)osr_metrics_histogram_observe(d->metrics, "osrunner_reconcile_duration_seconds", vp,
                                            secs);
        (void)osr_metrics_counter_add(d->metrics, "osrunner_reconcile_passes_total", vr, 1);
        (void)osr_metrics_gauge_set(d->metrics, "osrunner_pool_ready", vp, p->ready ? 1 : 0);
        (void)osr_metrics_gauge_set(d->metrics, "osrunner_queued_jobs", vp, (double)p->nqueued);
        (void)osr_metrics_gauge_set(d->metrics, "osrunner_last_pass_timestamp_seconds", vp,
                                    (double)time(NULL));
    }
    ev_emit(d, "pass", "{s:s,s:s,s:s,s:f,s:b,s:I,s:I,s:I,s:I,s:I,s:o,s:o}", "pool", p->name,
            "result", result, "state", p->reason, "seconds", secs, "ready", p->ready, "queued",
            (json_int_t)p->nqueued, "idle",
            (json_int_t)(pass ? osr_pool_pass_figure(pass, OSR_POOL_IDLE) : -1), "busy",
            (json_int_t)(pass ? osr_pool_pass_figure(pass, OSR_POOL_BUSY) : -1), "desired",
            (json_int_t)(pass ? osr_pool_pass_figure(pass, OSR_POOL_DESIRED) : -1), "creates",
            (json_int_t)(pass ? osr_pool_pass_figure(pass, OSR_POOL_CREATES) : -1), "service",
            wait > 0 ? json_string(p->failed_service) : json_null(), "retry_in",
            wait > 0 ? json_real((double)wait / 1000.0) : json_null());
    osr_pool_pass_free(pass);
}

/* A queued job for a pool that is known and not backing off: the runners it
 * asks for are created now, without a pass (OSR_POOL_GROW), within what the
 * last good pass saw of max_runners and the quota and the creates made
 * since. The pass the webhook also triggers then sees them. */
static void grow_for_jobs(struct daemon *d, struct pool *p, int64_t now)
{
    osr_pool_options po = OSR_POOL_OPTIONS_INIT;
    osr_pool_pass *pass = NULL;
    osr_error err;
    long long want, room, created;
    int64_t t0 = now_ms();

    if (!p->ready || d->stop || now < p->not_before_ms || p->session == NULL || p->github == NULL ||
        p->busy)
        return;
    want = osr_pool_spec_min_idle(p->spec) + (long long)queued_prune(p, now) -
           (p->seen_idle + p->seen_booting + p->grown);
    room = osr_pool_spec_max_runners(p->spec) - (p->seen_servers + p->grown);
    if (p->seen_headroom >= 0 && p->seen_headroom - p->grown < room)
        room = p->seen_headroom - p->grown;
    if (want > room)
        want = room;
    if (want > 100)
        want = 100;
    if (want <= 0)
        return;
    osr_error_clear(&err);
    po.mode = OSR_POOL_GROW;
    po.grow = want;
    po.image_id = p->image_id;
    (void)call_pool(d, p, &po, &pass, &err, NULL);
    created = pass ? count_actions(pass, "create", NULL) : 0;
    p->grown += created;
    ev_emit(d, "grow", "{s:s,s:I,s:I,s:f,s:o}", "pool", p->name, "wanted", (json_int_t)want,
            "created", (json_int_t)created, "seconds", (double)(now_ms() - t0) / 1000.0, "error",
            pass == NULL || created < want ? json_string(err.message) : json_null());
    osr_pool_pass_free(pass);
}

/* One due pass per call: the loop serves HTTP between passes. */
bool pools_run_due(struct daemon *d, int64_t now)
{
    struct pool *due = NULL;
    int64_t next;
    for (size_t i = 0; i < d->pool_count; i++)
        if (due_at(&d->pools[i]) <= now && (due == NULL || due_at(&d->pools[i]) < due_at(due)))
            due = &d->pools[i];
    if (due == NULL || d->stop)
        return false;
    /* A webhook during the pass (its wait acts on them) may make the pool
     * due again: that trigger stands, the pass may not have seen the job. */
    due->next_due_ms = INT64_MAX;
    run_pass(d, due);
    now = now_ms();
    next = now + next_interval_ms(d);
    if (due->followup_ms > now && due->followup_ms < next)
        next = due->followup_ms;
    else if (due->followup_ms <= now)
        due->followup_ms = 0;
    if (due->next_due_ms == INT64_MAX || due->next_due_ms > next)
        due->next_due_ms = next;
    return true;
}

/* GitHub compares labels without case; a runner also answers to
 * "self-hosted" (the runner adds it to its own). */
static bool pool_serves(const osr_pool_spec *spec, char *const *labels, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        bool found = strcasecmp(labels[i], "self-hosted") == 0;
        for (size_t j = 0; !found && j < osr_pool_spec_label_count(spec); j++)
            found = strcasecmp(labels[i], osr_pool_spec_label(spec, j)) == 0;
        if (!found)
            return false;
    }
    return true;
}

/* The loop's share of webhooks: a queued or completed job whose labels a pool
 * serves makes that pool's next pass due now. */
void pools_take_notes(struct daemon *d, int64_t now)
{
    static const char *const actions[] = { "unknown", "queued", "in_progress", "completed",
                                           "waiting" };
    /* Taken off the daemon first: growing waits on the network, and
     * webhooks that arrive meanwhile go to a new list (the next call's). */
    struct job_note *notes = d->notes;
    size_t count = d->note_count;

    d->notes = NULL;
    d->note_count = d->note_cap = 0;
    for (size_t k = 0; k < count; k++) {
        struct job_note *n = &notes[k];
        const char *an = (size_t)n->action < 5 ? actions[n->action] : "unknown";
        bool matched = false;
        for (size_t i = 0; i < d->pool_count; i++) {
            /* A job that started or ended no longer asks for a runner, in any pool. */
            if (n->action == OSR_WEBHOOK_JOB_IN_PROGRESS || n->action == OSR_WEBHOOK_JOB_COMPLETED)
                queued_remove(&d->pools[i], n->job_id);
            if (!pool_serves(d->pools[i].spec, n->labels, n->label_count))
                continue;
            if (n->action == OSR_WEBHOOK_JOB_QUEUED) {
                queued_add(&d->pools[i], n->job_id, now);
                grow_for_jobs(d, &d->pools[i], now);
            }
            if (n->action == OSR_WEBHOOK_JOB_COMPLETED)
                d->pools[i].followup_ms = now + FOLLOWUP_MS;
            const char *const v[] = { d->pools[i].name, an };
            matched = true;
            (void)osr_metrics_counter_add(d->metrics, "osrunner_webhook_jobs_total", v, 1);
            if (n->action == OSR_WEBHOOK_JOB_QUEUED || n->action == OSR_WEBHOOK_JOB_COMPLETED) {
                d->pools[i].next_due_ms = now;
                ev_emit(d, "trigger", "{s:s,s:s,s:I}", "pool", d->pools[i].name, "job_action", an,
                        "job_id", (json_int_t)n->job_id);
            }
        }
        if (!matched) {
            const char *const v[] = { "none", an };
            (void)osr_metrics_counter_add(d->metrics, "osrunner_webhook_jobs_total", v, 1);
        }
        for (size_t i = 0; i < n->label_count; i++)
            free(n->labels[i]);
        free(n->labels);
    }
    free(notes);
}
