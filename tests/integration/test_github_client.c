/* The GitHub client against the stand-in (tests/github/up: Prism validating
 * every request and answer against GitHub's OpenAPI description, in front of
 * a stateful fake), repository and organisation forms: runner apps, tokens,
 * JIT configs through the runner list to deletion, conflicts, busy runners,
 * paging, rate limits, PAT and App auth, the client on a session's engine
 * (with the local cloud); no secret in any log or error; no
 * schema violation. Fails (does not skip) when the stand-in is not up. */
#include <osrunner/osrunner.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "github_env.h"

static char state_dir[4096];
static char api_url[256];
static char token_file[4096];
static char app_key[4096];
static char violations_log[4096];
static long violations_at_start;
static char prefix[32]; /* makes this run's owners and names unique */

/* Every log line and error message of every client, and every secret seen. */
static char *logs;
static size_t logs_len, logs_cap;
static char *secrets[64];
static size_t nsecrets;

static void collect(const char *s)
{
    size_t n = strlen(s);
    if (logs_len + n + 2 > logs_cap) {
        logs_cap = (logs_len + n + 2) * 2;
        logs = realloc(logs, logs_cap);
        assert_non_null(logs);
    }
    memcpy(logs + logs_len, s, n);
    logs_len += n;
    logs[logs_len++] = '\n';
    logs[logs_len] = '\0';
}

static void on_log(osr_log_level level, const char *msg, void *payload)
{
    (void)level;
    (void)payload;
    collect(msg);
}

static void keep_secret(const char *s)
{
    if (s && *s && nsecrets < sizeof(secrets) / sizeof(secrets[0]))
        secrets[nsecrets++] = strdup(s);
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static int group_setup(void **state)
{
    const char *dir = getenv("OSR_GITHUB_DIR");
    char env_sh[4200], pat[256];
    (void)state;

    if (dir && *dir) {
        snprintf(state_dir, sizeof(state_dir), "%s", dir);
    } else {
        /* tests/integration/test_github_client.c -> tests/github/state */
        const char *slash = strrchr(__FILE__, '/');
        snprintf(state_dir, sizeof(state_dir), "%.*s/../github/state",
                 slash ? (int)(slash - __FILE__) : 1, slash ? __FILE__ : ".");
    }
    snprintf(env_sh, sizeof(env_sh), "%s/env.sh", state_dir);
    if (!env_value(api_url, sizeof(api_url), env_sh, "OSR_GITHUB_URL") ||
        !env_value(token_file, sizeof(token_file), env_sh, "OSR_GITHUB_TEST_TOKEN_FILE") ||
        !env_value(app_key, sizeof(app_key), env_sh, "OSR_GITHUB_TEST_APP_KEY") ||
        !env_value(violations_log, sizeof(violations_log), env_sh, "OSR_GITHUB_VIOLATIONS_LOG") ||
        !env_value(pat, sizeof(pat), env_sh, "GITHUB_TOKEN")) {
        fprintf(stderr, "FAIL: the GitHub stand-in is not up (%s missing): run tests/github/up\n",
                env_sh);
        return -1;
    }
    keep_secret(pat);
    violations_at_start = file_size(violations_log);
    if (violations_at_start < 0) {
        fprintf(stderr, "FAIL: %s missing: the stand-in is not up\n", violations_log);
        return -1;
    }
    snprintf(prefix, sizeof(prefix), "itc%d-%ld", (int)getpid() % 100000,
             (long)(time(NULL) % 1000000));
    unsetenv("http_proxy");
    unsetenv("HTTP_PROXY");
    return osr_global_init();
}

static int group_teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < nsecrets; i++)
        free(secrets[i]);
    free(logs);
    osr_global_shutdown();
    return 0;
}

enum auth { AUTH_PAT, AUTH_NONE, AUTH_BAD, AUTH_APP, AUTH_APP_SHORT, AUTH_APP_WRONG };

static osr_github *client(enum auth auth, int per_page, int max_pages, int rate_wait)
{
    osr_github_options o = OSR_GITHUB_OPTIONS_INIT;
    osr_github *gh = NULL;
    osr_error err;

    o.api_url = api_url;
    o.per_page = per_page;
    o.max_pages = max_pages;
    o.rate_limit_wait_s = rate_wait;
    o.log_cb = on_log;
    o.log_level = OSR_LOG_TRACE;
    switch (auth) {
    case AUTH_PAT:
        o.token_file = token_file;
        break;
    case AUTH_BAD:
        setenv("OSR_IT_BAD_TOKEN", "ghp_notTheRightToken000000000000000000", 1);
        o.token_env = "OSR_IT_BAD_TOKEN";
        break;
    case AUTH_APP:
    case AUTH_APP_SHORT:
    case AUTH_APP_WRONG:
        o.app_id = auth == AUTH_APP_WRONG ? "999" : "4242";
        o.installation_id = auth == AUTH_APP_SHORT ? "1002" : "1001";
        o.app_key_file = app_key;
        break;
    case AUTH_NONE:
        break;
    }
    osr_error_clear(&err);
    if (osr_github_new(&gh, &o, &err) != 0)
        fail_msg("osr_github_new: %s", err.message);
    return gh;
}

/* The error of the last call, also kept for the secret check. */
static const char *errmsg(osr_github *gh)
{
    collect(osr_github_last_error(gh)->message);
    return osr_github_last_error(gh)->message;
}

#define CHECK(gh, call)                                     \
    do {                                                    \
        int rc_ = (call);                                   \
        if (rc_ != 0)                                       \
            fail_msg("%s: %d: %s", #call, rc_, errmsg(gh)); \
    } while (0)

static void scope(char *out, size_t n, const char *what, bool org)
{
    if (org)
        snprintf(out, n, "%s-%s", prefix, what);
    else
        snprintf(out, n, "%s-%s/repo.x", prefix, what);
}

/* ---------------------------------------------------------------- tests */

static void runner_apps(bool org)
{
    osr_github *gh = client(AUTH_PAT, 0, 0, -1);
    osr_runner_app_list *apps = NULL;
    char path[96];
    size_t i = 0;

    scope(path, sizeof(path), "apps", org);
    CHECK(gh, osr_github_runner_apps(&apps, gh, path));
    assert_true(osr_runner_app_list_count(apps) >= 5);
    assert_int_equal(osr_runner_app_list_find(&i, apps, "linux", "x64"), 0);
    assert_non_null(strstr(osr_runner_app_download_url(osr_runner_app_list_at(apps, i)),
                           "actions-runner-linux-x64-"));
    assert_int_equal(strlen(osr_runner_app_sha256(osr_runner_app_list_at(apps, i))), 64);
    assert_true(strlen(osr_runner_app_version(osr_runner_app_list_at(apps, i))) >= 5);
    keep_secret(osr_runner_app_temp_download_token(osr_runner_app_list_at(apps, i)));
    osr_runner_app_list_free(apps);
    osr_github_free(gh);
}

static void test_runner_apps_repo(void **state)
{
    (void)state;
    runner_apps(false);
}

static void test_runner_apps_org(void **state)
{
    (void)state;
    runner_apps(true);
}

static void tokens(bool org)
{
    osr_github *gh = client(AUTH_PAT, 0, 0, -1);
    char *reg = NULL, *rem = NULL, path[96];
    long long reg_exp = 0, rem_exp = 0, now = (long long)time(NULL);

    scope(path, sizeof(path), "tok", org);
    CHECK(gh, osr_github_registration_token(&reg, &reg_exp, gh, path));
    CHECK(gh, osr_github_remove_token(&rem, &rem_exp, gh, path));
    keep_secret(reg);
    keep_secret(rem);
    assert_true(strlen(reg) >= 20);
    assert_string_not_equal(reg, rem);
    /* An hour ahead, in both timestamp forms (the fake sends -08:00 and Z). */
    assert_in_range(reg_exp, now + 3500, now + 3700);
    assert_in_range(rem_exp, now + 3500, now + 3700);
    osr_secret_free(reg);
    osr_secret_free(rem);
    osr_github_free(gh);
}

static void test_tokens_repo(void **state)
{
    (void)state;
    tokens(false);
}

static void test_tokens_org(void **state)
{
    (void)state;
    tokens(true);
}

static void jit_lifecycle(bool org)
{
    static const char *const labels[] = { "self-hosted", "linux", "osr-it", NULL };
    osr_github_jit_options jo = OSR_GITHUB_JIT_OPTIONS_INIT;
    osr_github *gh = client(AUTH_PAT, 0, 0, -1);
    osr_github_runner_list *list = NULL;
    char *jit = NULL, *again = (char *)0x1, path[96], name[64];
    long long id = 0, id2 = -7;
    bool found = false;

    scope(path, sizeof(path), "jit", org);
    snprintf(name, sizeof(name), "%s-runner", prefix);
    jo.name = name;
    jo.labels = labels;
    CHECK(gh, osr_github_jitconfig(&jit, &id, gh, path, &jo));
    keep_secret(jit);
    assert_true(id > 0);
    assert_true(strlen(jit) > 20);

    /* visible in the list, by name and among all */
    CHECK(gh, osr_github_runners_list(&list, gh, path, name));
    assert_int_equal(osr_github_runner_list_count(list), 1);
    assert_int_equal(osr_github_runner_id(osr_github_runner_list_at(list, 0)), id);
    assert_string_equal(osr_github_runner_name(osr_github_runner_list_at(list, 0)), name);
    assert_int_equal(osr_github_runner_label_count(osr_github_runner_list_at(list, 0)), 3);
    assert_string_equal(osr_github_runner_label(osr_github_runner_list_at(list, 0), 2), "osr-it");
    assert_int_equal(osr_github_runner_group_id(osr_github_runner_list_at(list, 0)), 1);
    assert_false(osr_github_runner_busy(osr_github_runner_list_at(list, 0)));
    osr_github_runner_list_free(list);
    CHECK(gh, osr_github_runners_list(&list, gh, path, NULL));
    for (size_t i = 0; i < osr_github_runner_list_count(list); i++)
        found = found || osr_github_runner_id(osr_github_runner_list_at(list, i)) == id;
    assert_true(found);
    osr_github_runner_list_free(list);
    CHECK(gh, osr_github_runner_get(&list, gh, path, id));
    assert_string_equal(osr_github_runner_name(osr_github_runner_list_at(list, 0)), name);
    osr_github_runner_list_free(list);

    /* the same name again: 409, a clear error, nothing handed out */
    assert_int_equal(osr_github_jitconfig(&again, &id2, gh, path, &jo), OSR_ECONFLICT);
    assert_ptr_equal(again, (char *)0x1);
    assert_int_equal(id2, -7);
    assert_int_equal(osr_github_last_error(gh)->http_status, 409);
    assert_non_null(strstr(errmsg(gh), "already exists"));

    /* deleted, then gone */
    CHECK(gh, osr_github_runner_delete(gh, path, id));
    list = (osr_github_runner_list *)0x1;
    assert_int_equal(osr_github_runner_get(&list, gh, path, id), OSR_ENOTFOUND);
    assert_ptr_equal(list, (osr_github_runner_list *)0x1);
    CHECK(gh, osr_github_runners_list(&list, gh, path, name));
    assert_int_equal(osr_github_runner_list_count(list), 0);
    osr_github_runner_list_free(list);
    assert_int_equal(osr_github_runner_delete(gh, path, id), OSR_ENOTFOUND);
    assert_int_equal(osr_github_last_error(gh)->http_status, 404);
    assert_non_null(strstr(errmsg(gh), "no runner"));
    osr_secret_free(jit);
    osr_github_free(gh);
}

static void test_jit_lifecycle_repo(void **state)
{
    (void)state;
    jit_lifecycle(false);
}

static void test_jit_lifecycle_org(void **state)
{
    (void)state;
    jit_lifecycle(true);
}

static void test_runner_group_by_name(void **state)
{
    osr_github_jit_options jo = OSR_GITHUB_JIT_OPTIONS_INIT;
    osr_github *gh = client(AUTH_PAT, 0, 0, -1);
    osr_github_runner_list *list = NULL;
    char *jit = NULL, path[96], name[64];
    long long id = 0;
    (void)state;

    scope(path, sizeof(path), "grp", true);
    snprintf(name, sizeof(name), "%s-ci", prefix);
    jo.name = name;
    jo.runner_group = "ci";
    CHECK(gh, osr_github_jitconfig(&jit, &id, gh, path, &jo));
    keep_secret(jit);
    CHECK(gh, osr_github_runner_get(&list, gh, path, id));
    assert_int_equal(osr_github_runner_group_id(osr_github_runner_list_at(list, 0)), 2);
    assert_string_equal(osr_github_runner_label(osr_github_runner_list_at(list, 0), 0),
                        "self-hosted"); /* the default */
    osr_github_runner_list_free(list);
    osr_secret_free(jit);
    jit = (char *)0x1;
    jo.runner_group = "no-such-group";
    assert_int_equal(osr_github_jitconfig(&jit, &id, gh, path, &jo), OSR_ENOTFOUND);
    assert_non_null(strstr(errmsg(gh), "groups: Default, ci"));
    assert_ptr_equal(jit, (char *)0x1);
    osr_github_free(gh);
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; p && (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static void test_paging(void **state)
{
    osr_github_jit_options jo = OSR_GITHUB_JIT_OPTIONS_INIT;
    osr_github *gh = client(AUTH_PAT, 2, 0, -1), *capped;
    osr_github_runner_list *list = NULL;
    char path[96], name[64], marker[512];
    long long ids[5];
    size_t before;
    (void)state;

    scope(path, sizeof(path), "page", true);
    for (int i = 0; i < 5; i++) {
        char *jit = NULL;
        snprintf(name, sizeof(name), "%s-p%d", prefix, i);
        jo.name = name;
        CHECK(gh, osr_github_jitconfig(&jit, &ids[i], gh, path, &jo));
        keep_secret(jit);
        osr_secret_free(jit);
    }
    snprintf(marker, sizeof(marker), "> GET %s/orgs/%s/actions/runners?", api_url, path);
    before = count(logs, marker);
    CHECK(gh, osr_github_runners_list(&list, gh, path, NULL));
    assert_int_equal(count(logs, marker) - before, 3); /* 2 + 2 + 1 */
    assert_int_equal(osr_github_runner_list_count(list), 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(osr_github_runner_id(osr_github_runner_list_at(list, (size_t)i)), ids[i]);
    osr_github_runner_list_free(list);

    capped = client(AUTH_PAT, 2, 2, -1);
    list = (osr_github_runner_list *)0x1;
    assert_int_equal(osr_github_runners_list(&list, capped, path, NULL), OSR_EPROTO);
    assert_ptr_equal(list, (osr_github_runner_list *)0x1);
    assert_non_null(strstr(errmsg(capped), "more than 2 pages"));
    osr_github_free(capped);
    osr_github_free(gh);
}

static void busy(bool org)
{
    osr_github_jit_options jo = OSR_GITHUB_JIT_OPTIONS_INIT;
    osr_github *gh = client(AUTH_PAT, 0, 0, -1);
    osr_github_runner_list *list = NULL;
    char *jit = NULL, path[96], name[64];
    long long id = 0;

    scope(path, sizeof(path), "busy", org);
    snprintf(name, sizeof(name), "busy-%s", prefix);
    jo.name = name;
    CHECK(gh, osr_github_jitconfig(&jit, &id, gh, path, &jo));
    keep_secret(jit);
    osr_secret_free(jit);
    assert_int_equal(osr_github_runner_delete(gh, path, id), OSR_EREQUEST);
    assert_int_equal(osr_github_last_error(gh)->http_status, 422);
    assert_non_null(strstr(errmsg(gh), "is busy"));
    assert_non_null(strstr(errmsg(gh), "still running a job"));
    CHECK(gh, osr_github_runner_get(&list, gh, path, id));
    assert_true(osr_github_runner_busy(osr_github_runner_list_at(list, 0)));
    osr_github_runner_list_free(list);
    osr_github_free(gh);
}

static void test_busy_runner_repo(void **state)
{
    (void)state;
    busy(false);
}

static void test_busy_runner_org(void **state)
{
    (void)state;
    busy(true);
}

static void test_forced_rate_limit(void **state)
{
    osr_github *gh = client(AUTH_PAT, 0, 0, 3), *nowait = client(AUTH_PAT, 0, 0, 0);
    osr_github_runner_list *list = NULL;
    char *token = (char *)0x1;
    long long exp = 0, reset = 0;
    long remaining = -5;
    size_t before = count(logs, "GitHub rate limit");
    long ms;
    struct timespec a, b;
    (void)state;

    clock_gettime(CLOCK_MONOTONIC, &a);
    assert_int_equal(osr_github_runners_list(&list, gh, "ratelimited/repo", NULL), OSR_ERATELIMIT);
    clock_gettime(CLOCK_MONOTONIC, &b);
    ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
    /* The reset is about 2 s ahead: one wait (bounded by the 3 s budget), then a clear error. */
    assert_in_range(ms, 900, 6000);
    assert_int_equal(count(logs, "GitHub rate limit") - before, 1);
    assert_non_null(strstr(errmsg(gh), "API rate limit exceeded"));
    assert_non_null(strstr(errmsg(gh), "still rate-limited after waiting"));
    assert_int_equal(osr_github_last_error(gh)->http_status, 403);
    osr_github_rate_limit(&remaining, &reset, gh);
    assert_int_equal(remaining, 0);
    assert_true(reset > (long long)time(NULL) - 10);

    /* With no waiting allowed: at once. */
    clock_gettime(CLOCK_MONOTONIC, &a);
    assert_int_equal(osr_github_registration_token(&token, &exp, nowait, "ratelimited"),
                     OSR_ERATELIMIT);
    clock_gettime(CLOCK_MONOTONIC, &b);
    ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
    assert_true(ms < 900);
    assert_ptr_equal(token, (char *)0x1);
    assert_non_null(strstr(errmsg(nowait), "more than the 0 s of waiting allowed"));
    osr_github_free(nowait);
    osr_github_free(gh);
}

static void test_secondary_rate_limit(void **state)
{
    osr_github *gh = client(AUTH_PAT, 0, 0, 10);
    osr_github_runner_list *list = NULL;
    char path[96];
    size_t before = count(logs, "GitHub rate limit (HTTP 429): waiting 1 s");
    (void)state;

    snprintf(path, sizeof(path), "throttled-%s/r", prefix);
    CHECK(gh, osr_github_runners_list(&list, gh, path, NULL));
    assert_int_equal(osr_github_runner_list_count(list), 0);
    assert_int_equal(count(logs, "GitHub rate limit (HTTP 429): waiting 1 s") - before, 1);
    osr_github_runner_list_free(list);
    osr_github_free(gh);
}

static void test_auth_errors(void **state)
{
    osr_github *none = client(AUTH_NONE, 0, 0, -1), *bad = client(AUTH_BAD, 0, 0, -1);
    osr_github_runner_list *list = NULL;
    char *token = NULL;
    long long exp;
    (void)state;

    assert_int_equal(osr_github_registration_token(&token, &exp, none, "o/r"), OSR_EAUTH);
    assert_non_null(strstr(errmsg(none), "no GitHub credentials"));
    assert_int_equal(osr_github_runners_list(&list, bad, "o/r", NULL), OSR_EAUTH);
    assert_int_equal(osr_github_last_error(bad)->http_status, 401);
    assert_non_null(strstr(errmsg(bad), "Bad credentials"));
    assert_true(osr_github_last_error(bad)->request_id[0] != '\0');
    osr_github_free(none);
    osr_github_free(bad);
}

static void test_app_auth(void **state)
{
    osr_github *app = client(AUTH_APP, 0, 0, -1), *shortlived = client(AUTH_APP_SHORT, 0, 0, -1);
    osr_github *wrong = client(AUTH_APP_WRONG, 0, 0, -1);
    osr_github_runner_list *list = NULL;
    char path[96];
    (void)state;

    scope(path, sizeof(path), "app", true);
    /* cached: one installation token for three calls */
    for (int i = 0; i < 3; i++) {
        CHECK(app, osr_github_runners_list(&list, app, path, NULL));
        osr_github_runner_list_free(list);
        list = NULL;
    }
    assert_int_equal(osr_github_token_fetches(app), 1);
    /* tokens that expire within the refresh margin are fetched again each time */
    for (int i = 0; i < 3; i++) {
        CHECK(shortlived, osr_github_runners_list(&list, shortlived, path, NULL));
        osr_github_runner_list_free(list);
        list = NULL;
    }
    assert_int_equal(osr_github_token_fetches(shortlived), 3);
    /* a JWT for another App is refused */
    assert_int_equal(osr_github_runners_list(&list, wrong, path, NULL), OSR_EAUTH);
    assert_non_null(strstr(errmsg(wrong), "GitHub App installation 1001"));
    assert_int_equal(osr_github_token_fetches(wrong), 0);
    osr_github_free(app);
    osr_github_free(shortlived);
    osr_github_free(wrong);
}

/* Last: the secrets this run saw appear in no log line and no error. */
/* GitHub and the cloud on one engine: the client made with the session's
 * engine (osr_github_options.session) reaches the stand-in, its rate-limit
 * wait runs there, and the session authenticates and reads its catalog over
 * the same engine in between. */
static void test_on_a_session_engine(void **state)
{
    osr_github_options o = OSR_GITHUB_OPTIONS_INIT;
    osr_cloud_options co = OSR_CLOUD_OPTIONS_INIT;
    osr_session_options so = OSR_SESSION_OPTIONS_INIT;
    const char *dir = getenv("OSR_CLOUD_DIR");
    osr_github_runner_list *list = NULL;
    osr_runner_app_list *apps = NULL;
    osr_cloud *cloud = NULL;
    osr_session *sess = NULL;
    osr_github *gh = NULL;
    const char *compute = NULL;
    char clouds[4200], repo[96];
    osr_error err;
    (void)state;

    if (dir == NULL || *dir == '\0')
        fail_msg("OSR_CLOUD_DIR is not set: the local cloud is needed here");
    snprintf(clouds, sizeof(clouds), "%s/clouds.yaml", dir);
    co.config_file = clouds;
    co.cloud_name = "ostb-demo";
    if (osr_cloud_load(&cloud, &co, &err) != 0)
        fail_msg("osr_cloud_load: %s", err.message);
    so.token_cache = 0;
    so.log_cb = on_log;
    so.log_level = OSR_LOG_TRACE;
    if (osr_session_new(&sess, cloud, &so, &err) != 0)
        fail_msg("osr_session_new: %s", err.message);
    o.api_url = api_url;
    o.token_file = token_file;
    o.rate_limit_wait_s = 3;
    o.log_cb = on_log;
    o.log_level = OSR_LOG_TRACE;
    o.session = sess;
    if (osr_github_new(&gh, &o, &err) != 0)
        fail_msg("osr_github_new: %s", err.message);

    scope(repo, sizeof(repo), "shared", false);
    CHECK(gh, osr_github_runner_apps(&apps, gh, repo));
    assert_true(osr_runner_app_list_count(apps) > 0);
    if (osr_session_authenticate(sess) != 0)
        fail_msg("authenticate: %s", osr_session_last_error(sess)->message);
    assert_int_equal(osr_session_endpoint(&compute, sess, "compute"), 0);
    assert_non_null(compute);
    assert_int_equal(osr_github_runners_list(&list, gh, "ratelimited/repo", NULL), OSR_ERATELIMIT);
    assert_non_null(strstr(errmsg(gh), "still rate-limited after waiting"));
    CHECK(gh, osr_github_runners_list(&list, gh, repo, NULL));
    assert_int_equal(osr_session_pending(sess), 0);
    osr_github_runner_list_free(list);
    osr_runner_app_list_free(apps);
    osr_github_free(gh);
    osr_session_free(sess);
    osr_cloud_free(cloud);
}

static void test_no_secret_in_logs(void **state)
{
    (void)state;
    assert_true(nsecrets >= 10);
    assert_non_null(strstr(logs, "Authorization: <redacted>"));
    /* bodies were traced, with the secrets in them redacted */
    assert_non_null(strstr(logs, "\"encoded_jit_config\":\"***\""));
    assert_non_null(strstr(logs, "\"token\":\"***\""));
    for (size_t i = 0; i < nsecrets; i++) {
        if (strstr(logs, secrets[i]))
            fail_msg("secret %zu (%.4s...) appears in the logs", i, secrets[i]);
    }
}

/* Last: Prism found nothing at odds with GitHub's schema in any request or
 * answer. Tests running beside this one may add the schema-drift owner's
 * answers, broken on purpose: those are not ours. */
static void test_no_schema_violation(void **state)
{
    FILE *f = fopen(violations_log, "r");
    char *line = NULL;
    size_t cap = 0;
    int ours = 0;
    (void)state;
    assert_non_null(f);
    assert_int_equal(fseek(f, violations_at_start, SEEK_SET), 0);
    while (getline(&line, &cap, f) > 0) {
        if (strstr(line, "\"/repos/schema-drift/") == NULL) {
            fputs(line, stderr);
            ours++;
        }
    }
    free(line);
    fclose(f);
    if (ours > 0)
        fail_msg("the proxy reported %d schema violations (sl-violations), see above", ours);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runner_apps_repo),     cmocka_unit_test(test_runner_apps_org),
        cmocka_unit_test(test_tokens_repo),          cmocka_unit_test(test_tokens_org),
        cmocka_unit_test(test_jit_lifecycle_repo),   cmocka_unit_test(test_jit_lifecycle_org),
        cmocka_unit_test(test_runner_group_by_name), cmocka_unit_test(test_paging),
        cmocka_unit_test(test_busy_runner_repo),     cmocka_unit_test(test_busy_runner_org),
        cmocka_unit_test(test_forced_rate_limit),    cmocka_unit_test(test_secondary_rate_limit),
        cmocka_unit_test(test_auth_errors),          cmocka_unit_test(test_app_auth),
        cmocka_unit_test(test_on_a_session_engine),  cmocka_unit_test(test_no_secret_in_logs),
        cmocka_unit_test(test_no_schema_violation),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
