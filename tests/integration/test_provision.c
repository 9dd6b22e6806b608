/* Provisioning runners (osr_runner_provision) against the local cloud and the
 * GitHub stand-in: JIT configs per runner with their records at GitHub; a
 * failed launch whose runner record is deleted again; a cancel before the
 * launch that leaves no record; one registration token for the batch; a bad
 * options version. Fails (does not skip) when the cloud or stand-in is down. */
#include <osrunner/osrunner.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "github_env.h"

#define IMAGE  "osr-test-image"
#define FLAVOR "m1.tiny"
#define TOOBIG "osr.toobig"
#define PATH   "octo-org/octo-repo"

static osr_cloud *cloud;
static osr_session *session;
static osr_github *gh;
static char manager[64];
static char prefix[40];
static const char *const labels[] = { "self-hosted", "osrunner-prov", NULL };

static int group_setup(void **state)
{
    osr_cloud_options co = OSR_CLOUD_OPTIONS_INIT;
    osr_session_options so = OSR_SESSION_OPTIONS_INIT;
    osr_github_options go = OSR_GITHUB_OPTIONS_INIT;
    const char *cloud_dir = getenv("OSR_CLOUD_DIR"), *gh_dir = getenv("OSR_GITHUB_DIR");
    char clouds_path[4096], env_sh[4096], api_url[256], token_file[4096];
    osr_error err;
    (void)state;

    if (cloud_dir == NULL)
        return -1;
    snprintf(clouds_path, sizeof(clouds_path), "%s/clouds.yaml", cloud_dir);
    if (gh_dir && *gh_dir) {
        snprintf(env_sh, sizeof(env_sh), "%s/env.sh", gh_dir);
    } else {
        const char *slash = strrchr(__FILE__, '/');
        snprintf(env_sh, sizeof(env_sh), "%.*s/../github/state/env.sh",
                 slash ? (int)(slash - __FILE__) : 1, slash ? __FILE__ : ".");
    }
    if (!env_value(api_url, sizeof(api_url), env_sh, "OSR_GITHUB_URL") ||
        !env_value(token_file, sizeof(token_file), env_sh, "OSR_GITHUB_TEST_TOKEN_FILE")) {
        fprintf(stderr, "FAIL: the GitHub stand-in is not up (%s)\n", env_sh);
        return -1;
    }
    unsetenv("http_proxy");
    unsetenv("HTTP_PROXY");
    if (osr_global_init() < 0)
        return -1;
    co.config_file = clouds_path;
    co.cloud_name = "ostb-admin";
    if (osr_cloud_load(&cloud, &co, &err) < 0) {
        fprintf(stderr, "%s\n", err.message);
        return -1;
    }
    so.token_cache = 0;
    if (osr_session_new(&session, cloud, &so, &err) < 0)
        return -1;
    go.api_url = api_url;
    go.token_file = token_file;
    go.session = session; /* GitHub on the session's engine */
    if (osr_github_new(&gh, &go, &err) < 0) {
        fprintf(stderr, "%s\n", err.message);
        return -1;
    }
    snprintf(prefix, sizeof(prefix), "prov%d-%ld", (int)getpid() % 100000,
             (long)(time(NULL) % 1000000));
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    osr_github_free(gh);
    osr_session_free(session);
    osr_cloud_free(cloud);
    osr_global_shutdown();
    return 0;
}

static int fresh_manager(void **state)
{
    static int n;
    (void)state;
    snprintf(manager, sizeof(manager), "osr-pv-%d-%d", (int)getpid(), ++n);
    return 0;
}

/* A config without credentials: osr_runner_provision fetches them. */
static osr_instance_config config(const char *name, const char *flavor)
{
    osr_instance_config c = OSR_INSTANCE_CONFIG_INIT;
    c.name = name;
    c.labels = labels;
    c.github_path = PATH;
    c.image = IMAGE;
    c.flavor = flavor;
    c.network = "none";
    c.manager = manager;
    return c;
}

/* Is a runner of this name registered at GitHub? */
static bool registered(const char *name)
{
    osr_github_runner_list *list = NULL;
    bool found = false;
    if (osr_github_runners_list(&list, gh, PATH, name) < 0)
        fail_msg("runners: %s", osr_github_last_error(gh)->message);
    for (size_t i = 0; i < osr_github_runner_list_count(list); i++)
        found =
            found || strcmp(osr_github_runner_name(osr_github_runner_list_at(list, i)), name) == 0;
    osr_github_runner_list_free(list);
    return found;
}

/* Every server and runner record of p goes (the test's clean-up). */
static void clean(osr_provision *p)
{
    const osr_launch_batch *b = osr_provision_launch_batch(p);
    for (size_t i = 0; i < osr_provision_count(p); i++) {
        const osr_server *sv = osr_launch_batch_server(b, i);
        if (sv)
            osr_server_delete(session, osr_server_id(sv), 1, 120);
        if (osr_provision_runner_id(p, i) > 0)
            osr_github_runner_delete(gh, PATH, osr_provision_runner_id(p, i));
    }
    osr_provision_free(p);
}

static void test_jit_per_runner(void **state)
{
    char n1[80], n2[80];
    osr_instance_config c1, c2;
    const osr_instance_config *cfgs[2];
    osr_provision_options po = OSR_PROVISION_OPTIONS_INIT;
    osr_provision *p = NULL;
    osr_github_runner_list *rec = NULL;
    int rc;
    (void)state;

    snprintf(n1, sizeof(n1), "%s-j1", prefix);
    snprintf(n2, sizeof(n2), "%s-j2", prefix);
    c1 = config(n1, FLAVOR);
    c2 = config(n2, FLAVOR);
    cfgs[0] = &c1;
    cfgs[1] = &c2;
    po.jit = 1;
    rc = osr_runner_provision(&p, session, gh, cfgs, 2, &po);
    if (rc != 0)
        fail_msg("provision: %s", osr_session_last_error(session)->message);
    assert_int_equal(osr_provision_count(p), 2);
    for (size_t i = 0; i < 2; i++) {
        const osr_server *sv = osr_launch_batch_server(osr_provision_launch_batch(p), i);
        assert_non_null(sv);
        assert_string_equal(osr_server_status(sv), "ACTIVE");
        assert_true(osr_provision_runner_id(p, i) > 0);
        assert_int_equal(osr_provision_forget_error(p, i)->code, 0);
        /* The record stays: the runner launched. */
        assert_int_equal(osr_github_runner_get(&rec, gh, PATH, osr_provision_runner_id(p, i)), 0);
        assert_string_equal(osr_github_runner_name(osr_github_runner_list_at(rec, 0)),
                            i == 0 ? n1 : n2);
        osr_github_runner_list_free(rec);
        rec = NULL;
    }
    assert_true(osr_provision_runner_id(p, 0) != osr_provision_runner_id(p, 1));
    assert_false(osr_provision_undone(p));
    /* The caller's configs are untouched: the credentials are the library's. */
    assert_null(c1.jit_config);
    assert_null(c1.registration_token);
    clean(p);
}

static void test_failed_launch_forgets_record(void **state)
{
    char name[80];
    osr_instance_config c;
    const osr_instance_config *cfgs[1] = { &c };
    osr_provision_options po = OSR_PROVISION_OPTIONS_INIT;
    osr_provision *p = NULL;
    osr_github_runner_list *rec = NULL;
    long long id;
    int rc;
    (void)state;

    snprintf(name, sizeof(name), "%s-bad", prefix);
    c = config(name, TOOBIG); /* Nova's scheduler puts it in ERROR */
    po.jit = 1;
    rc = osr_runner_provision(&p, session, gh, cfgs, 1, &po);
    assert_int_equal(rc, OSR_ELAUNCH);
    assert_non_null(p);
    assert_null(osr_launch_batch_server(osr_provision_launch_batch(p), 0));
    id = osr_provision_runner_id(p, 0);
    assert_true(id > 0);
    assert_int_equal(osr_provision_forget_error(p, 0)->code, 0);
    /* No runner record is left at GitHub. */
    assert_int_equal(osr_github_runner_get(&rec, gh, PATH, id), OSR_ENOTFOUND);
    assert_false(registered(name));
    clean(p);
}

static void test_cancel_before_launch(void **state)
{
    char name[80];
    osr_instance_config c;
    const osr_instance_config *cfgs[1] = { &c };
    osr_provision_options po = OSR_PROVISION_OPTIONS_INIT;
    osr_provision *p = (osr_provision *)&p; /* untouched on failure */
    static volatile bool cancel = true;
    osr_server_list *list = NULL;
    (void)state;

    snprintf(name, sizeof(name), "%s-cancel", prefix);
    c = config(name, FLAVOR);
    po.jit = 1;
    po.launch.cancel = &cancel;
    assert_int_equal(osr_runner_provision(&p, session, gh, cfgs, 1, &po), OSR_EINTERRUPTED);
    assert_ptr_equal(p, (osr_provision *)&p);
    /* The JIT config was fetched and its record deleted again; no server. */
    assert_false(registered(name));
    assert_int_equal(osr_server_list_get(&list, session, manager, 0), 0);
    assert_int_equal(osr_server_list_count(list), 0);
    osr_server_list_free(list);
}

static void test_registration_token_for_batch(void **state)
{
    char name[80];
    osr_instance_config c;
    const osr_instance_config *cfgs[1] = { &c };
    osr_provision_options po = OSR_PROVISION_OPTIONS_INIT;
    osr_provision *p = NULL;
    int rc;
    (void)state;

    snprintf(name, sizeof(name), "%s-reg", prefix);
    c = config(name, FLAVOR);
    po.launch.wait = 0;
    rc = osr_runner_provision(&p, session, gh, cfgs, 1, &po);
    if (rc != 0)
        fail_msg("provision: %s", osr_session_last_error(session)->message);
    assert_non_null(osr_launch_batch_server(osr_provision_launch_batch(p), 0));
    assert_int_equal(osr_provision_runner_id(p, 0), 0);
    clean(p);
}

static void test_bad_input(void **state)
{
    osr_instance_config c = config("osr-pv-x", FLAVOR);
    osr_instance_config other = config("osr-pv-y", FLAVOR);
    const osr_instance_config *cfgs[2] = { &c, &other };
    osr_provision_options po = OSR_PROVISION_OPTIONS_INIT;
    osr_provision *p = (osr_provision *)&p;
    (void)state;

    po.version = 99;
    assert_int_equal(osr_runner_provision(&p, session, gh, cfgs, 1, &po), OSR_EINVAL);
    assert_non_null(strstr(osr_session_last_error(session)->message, "version"));
    po.version = OSR_PROVISION_OPTIONS_VERSION;
    po.jit = 1;
    assert_int_equal(osr_runner_provision(&p, session, NULL, cfgs, 1, &po), OSR_EINVAL);
    /* One registration token: one repository for the batch. */
    po.jit = 0;
    other.github_path = "octo-org/other-repo";
    assert_int_equal(osr_runner_provision(&p, session, gh, cfgs, 2, &po), OSR_EINVAL);
    assert_non_null(strstr(osr_session_last_error(session)->message, "github_path"));
    assert_ptr_equal(p, (osr_provision *)&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_jit_per_runner, fresh_manager),
        cmocka_unit_test_setup(test_failed_launch_forgets_record, fresh_manager),
        cmocka_unit_test_setup(test_cancel_before_launch, fresh_manager),
        cmocka_unit_test_setup(test_registration_token_for_batch, fresh_manager),
        cmocka_unit_test_setup(test_bad_input, fresh_manager),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
