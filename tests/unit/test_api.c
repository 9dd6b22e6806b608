/* The public API's rules, checked at every entry point at once:
 *  - every versioned options struct has its version checked wherever it is
 *    taken: an unknown version is OSR_EINVAL with a one-line message naming
 *    the struct, and the out-params are untouched;
 *  - out-params are set only on success (a sentinel pointer stays put).
 * Nothing here talks to a server: the cloud points at a closed port. */
#include "osrunner/osrunner.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define SENTINEL ((void *)0x5e7)

static const char clouds_yaml[] =
    "clouds:\n  c:\n    auth:\n      auth_url: http://127.0.0.1:9/v3\n"
    "      username: u\n      password: p\n      project_name: p\n";
static const char sha[] = "0000000000000000000000000000000000000000000000000000000000000000";

static char clouds_path[] = "/tmp/osr-unit-api-clouds-XXXXXX";
static osr_cloud *cloud;
static osr_session *session;
static osr_github *gh;

static int setup(void **state)
{
    osr_cloud_options co = OSR_CLOUD_OPTIONS_INIT;
    osr_session_options so = OSR_SESSION_OPTIONS_INIT;
    osr_github_options go = OSR_GITHUB_OPTIONS_INIT;
    osr_error err;
    int fd = mkstemp(clouds_path);

    (void)state;
    if (fd < 0 || write(fd, clouds_yaml, strlen(clouds_yaml)) != (ssize_t)strlen(clouds_yaml))
        return -1;
    close(fd);
    co.config_file = clouds_path;
    so.token_cache = 0;
    so.max_retries = 0; /* the closed port fails at once */
    if (osr_cloud_load(&cloud, &co, &err) != 0 ||
        osr_session_new(&session, cloud, &so, &err) != 0 || osr_github_new(&gh, &go, &err) != 0) {
        fprintf(stderr, "setup: %s\n", err.message);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    osr_github_free(gh);
    osr_session_free(session);
    osr_cloud_free(cloud);
    unlink(clouds_path);
    return 0;
}

static osr_instance_config instance(void)
{
    static const char *const labels[] = { "self-hosted", NULL };
    osr_instance_config c = OSR_INSTANCE_CONFIG_INIT;
    c.name = "api-runner-1";
    c.labels = labels;
    c.github_path = "octo/repo";
    c.registration_token = "AAAA";
    c.image = "img";
    c.flavor = "m1";
    return c;
}

/* One entry point called with a struct of version v. Sets *untouched to
 * whether every out-param kept its sentinel, and copies the error record. */
typedef int (*call_fn)(unsigned int v, bool *untouched, osr_error *err);

static void from_session(osr_error *err)
{
    *err = *osr_session_last_error(session);
}

static int call_cloud_load(unsigned int v, bool *untouched, osr_error *err)
{
    osr_cloud_options o = OSR_CLOUD_OPTIONS_INIT;
    osr_cloud *out = SENTINEL;
    int rc;

    o.version = v;
    o.config_file = clouds_path;
    rc = osr_cloud_load(&out, &o, err);
    *untouched = out == SENTINEL;
    if (rc == 0)
        osr_cloud_free(out);
    return rc;
}

static int call_session_new(unsigned int v, bool *untouched, osr_error *err)
{
    osr_session_options o = OSR_SESSION_OPTIONS_INIT;
    osr_session *out = SENTINEL;
    int rc;

    o.version = v;
    o.token_cache = 0;
    rc = osr_session_new(&out, cloud, &o, err);
    *untouched = out == SENTINEL;
    if (rc == 0)
        osr_session_free(out);
    return rc;
}

static int call_github_new(unsigned int v, bool *untouched, osr_error *err)
{
    osr_github_options o = OSR_GITHUB_OPTIONS_INIT;
    osr_github *out = SENTINEL;
    int rc;

    o.version = v;
    rc = osr_github_new(&out, &o, err);
    *untouched = out == SENTINEL;
    if (rc == 0)
        osr_github_free(out);
    return rc;
}

static int call_github_jitconfig(unsigned int v, bool *untouched, osr_error *err)
{
    osr_github_jit_options o = OSR_GITHUB_JIT_OPTIONS_INIT;
    char *jit = SENTINEL;
    long long id = 77;
    int rc;

    o.version = v;
    o.name = "api-runner-1";
    rc = osr_github_jitconfig(&jit, &id, gh, "octo/repo", &o);
    *err = *osr_github_last_error(gh);
    *untouched = jit == SENTINEL && id == 77;
    return rc;
}

static int call_image_list_get(unsigned int v, bool *untouched, osr_error *err)
{
    osr_image_filter f = OSR_IMAGE_FILTER_INIT;
    osr_image_list *out = SENTINEL;
    int rc;

    f.version = v;
    rc = osr_image_list_get(&out, session, &f);
    from_session(err);
    *untouched = out == SENTINEL;
    return rc;
}

static int call_image_create(unsigned int v, bool *untouched, osr_error *err)
{
    osr_image_create_options o = OSR_IMAGE_CREATE_OPTIONS_INIT;
    osr_image *out = SENTINEL;
    int rc;

    o.version = v;
    o.name = "api-image";
    rc = osr_image_create(&out, session, &o);
    from_session(err);
    *untouched = out == SENTINEL;
    return rc;
}

static int call_image_upload(unsigned int v, bool *untouched, osr_error *err)
{
    osr_image_upload_options o = OSR_IMAGE_UPLOAD_OPTIONS_INIT;
    osr_image *out = SENTINEL;
    int rc;

    o.version = v;
    rc = osr_image_upload(&out, session, "no-such-image", clouds_path, &o);
    from_session(err);
    *untouched = out == SENTINEL;
    return rc;
}

static int
publish(unsigned int top, unsigned int image, unsigned int upload, bool *untouched, osr_error *err)
{
    osr_image_publish_options o = OSR_IMAGE_PUBLISH_OPTIONS_INIT;
    osr_image *out = SENTINEL;
    size_t retired = 77;
    int rc;

    o.version = top;
    o.image.version = image;
    o.upload.version = upload;
    o.image.name = "api-image";
    rc = osr_image_publish(&out, &retired, session, clouds_path, &o);
    from_session(err);
    *untouched = out == SENTINEL && retired == 77;
    return rc;
}

static int call_image_publish(unsigned int v, bool *untouched, osr_error *err)
{
    return publish(v, OSR_IMAGE_CREATE_OPTIONS_VERSION, OSR_IMAGE_UPLOAD_OPTIONS_VERSION, untouched,
                   err);
}

static int call_image_publish_image(unsigned int v, bool *untouched, osr_error *err)
{
    return publish(OSR_IMAGE_PUBLISH_OPTIONS_VERSION, v, OSR_IMAGE_UPLOAD_OPTIONS_VERSION,
                   untouched, err);
}

static int call_image_publish_upload(unsigned int v, bool *untouched, osr_error *err)
{
    return publish(OSR_IMAGE_PUBLISH_OPTIONS_VERSION, OSR_IMAGE_CREATE_OPTIONS_VERSION, v,
                   untouched, err);
}

static int call_fetch_verified(unsigned int v, bool *untouched, osr_error *err)
{
    osr_fetch_options o = OSR_FETCH_OPTIONS_INIT;

    o.version = v;
    *untouched = true;
    return osr_fetch_verified("/nonexistent/api-dest", "/nonexistent/api-src", sha, NULL, &o, err);
}

static int call_runner_app_fetch(unsigned int v, bool *untouched, osr_error *err)
{
    osr_fetch_options o = OSR_FETCH_OPTIONS_INIT;
    osr_runner_app *app = NULL;
    const char *path = SENTINEL;
    int rc;

    assert_int_equal(osr_runner_app_new(&app,
                                        "/nonexistent/actions-runner-linux-x64-2.311.0.tar.gz", sha,
                                        NULL, err),
                     0);
    o.version = v;
    rc = osr_runner_app_fetch(&path, app, "/nonexistent/api-dest", &o, err);
    *untouched = path == SENTINEL;
    osr_runner_app_free(app);
    return rc;
}

static int call_image_build_check(unsigned int v, bool *untouched, osr_error *err)
{
    osr_build_options o = OSR_BUILD_OPTIONS_INIT;

    o.version = v;
    o.output = "/nonexistent/api.qcow2";
    *untouched = true;
    return osr_image_build_check(&o, err);
}

static int call_image_build(unsigned int v, bool *untouched, osr_error *err)
{
    osr_build_options o = OSR_BUILD_OPTIONS_INIT;
    osr_build_result *out = SENTINEL;
    int rc;

    o.version = v;
    o.base = clouds_path;
    o.runner_tarball = clouds_path;
    o.output = "/nonexistent/api.qcow2";
    rc = osr_image_build(&out, &o, err);
    *untouched = out == SENTINEL;
    return rc;
}

static int call_instance_config_validate(unsigned int v, bool *untouched, osr_error *err)
{
    osr_instance_config c = instance();

    c.version = v;
    *untouched = true;
    return osr_instance_config_validate(&c, err);
}

static int call_instance_user_data(unsigned int v, bool *untouched, osr_error *err)
{
    osr_instance_config c = instance();
    char *out = SENTINEL;
    int rc;

    c.version = v;
    rc = osr_instance_user_data(&out, &c, 0, err);
    *untouched = out == SENTINEL;
    return rc;
}

static int launch_many(unsigned int cfg_v, unsigned int opt_v, bool *untouched, osr_error *err)
{
    osr_launch_options o = OSR_LAUNCH_OPTIONS_INIT;
    osr_instance_config c = instance();
    const osr_instance_config *ptrs[1] = { &c };
    osr_launch_batch *out = SENTINEL;
    int rc;

    c.version = cfg_v;
    o.version = opt_v;
    rc = osr_instance_launch_many(&out, session, ptrs, 1, &o);
    from_session(err);
    *untouched = out == SENTINEL;
    return rc;
}

static int call_launch_many_options(unsigned int v, bool *untouched, osr_error *err)
{
    return launch_many(OSR_INSTANCE_CONFIG_VERSION, v, untouched, err);
}

static int call_launch_many_config(unsigned int v, bool *untouched, osr_error *err)
{
    return launch_many(v, OSR_LAUNCH_OPTIONS_VERSION, untouched, err);
}

static int launch_one(unsigned int cfg_v, unsigned int opt_v, bool *untouched, osr_error *err)
{
    osr_launch_options o = OSR_LAUNCH_OPTIONS_INIT;
    osr_instance_config c = instance();
    osr_server *out = SENTINEL;
    int rc;

    c.version = cfg_v;
    o.version = opt_v;
    rc = osr_instance_launch(&out, session, &c, &o);
    from_session(err);
    *untouched = out == SENTINEL;
    return rc;
}

static int call_launch_options(unsigned int v, bool *untouched, osr_error *err)
{
    return launch_one(OSR_INSTANCE_CONFIG_VERSION, v, untouched, err);
}

static int call_launch_config(unsigned int v, bool *untouched, osr_error *err)
{
    return launch_one(v, OSR_LAUNCH_OPTIONS_VERSION, untouched, err);
}

/* Every *_VERSION of include/osrunner, and every function that takes its
 * struct. */
static const struct version_case {
    const char *entry;  /* the function called */
    const char *type;   /* the struct it names in the message */
    unsigned int known; /* its current version: one above is unknown */
    call_fn call;
} version_cases[] = {
    { "osr_cloud_load", "osr_cloud_options", OSR_CLOUD_OPTIONS_VERSION, call_cloud_load },
    { "osr_session_new", "osr_session_options", OSR_SESSION_OPTIONS_VERSION, call_session_new },
    { "osr_github_new", "osr_github_options", OSR_GITHUB_OPTIONS_VERSION, call_github_new },
    { "osr_github_jitconfig", "osr_github_jit_options", OSR_GITHUB_JIT_OPTIONS_VERSION,
      call_github_jitconfig },
    { "osr_image_list_get", "osr_image_filter", OSR_IMAGE_FILTER_VERSION, call_image_list_get },
    { "osr_image_create", "osr_image_create_options", OSR_IMAGE_CREATE_OPTIONS_VERSION,
      call_image_create },
    { "osr_image_upload", "osr_image_upload_options", OSR_IMAGE_UPLOAD_OPTIONS_VERSION,
      call_image_upload },
    { "osr_image_publish", "osr_image_publish_options", OSR_IMAGE_PUBLISH_OPTIONS_VERSION,
      call_image_publish },
    { "osr_image_publish", "osr_image_publish_options.image", OSR_IMAGE_CREATE_OPTIONS_VERSION,
      call_image_publish_image },
    { "osr_image_publish", "osr_image_publish_options.upload", OSR_IMAGE_UPLOAD_OPTIONS_VERSION,
      call_image_publish_upload },
    { "osr_fetch_verified", "osr_fetch_options", OSR_FETCH_OPTIONS_VERSION, call_fetch_verified },
    { "osr_runner_app_fetch", "osr_fetch_options", OSR_FETCH_OPTIONS_VERSION,
      call_runner_app_fetch },
    { "osr_image_build_check", "osr_build_options", OSR_BUILD_OPTIONS_VERSION,
      call_image_build_check },
    { "osr_image_build", "osr_build_options", OSR_BUILD_OPTIONS_VERSION, call_image_build },
    { "osr_instance_config_validate", "osr_instance_config", OSR_INSTANCE_CONFIG_VERSION,
      call_instance_config_validate },
    { "osr_instance_user_data", "osr_instance_config", OSR_INSTANCE_CONFIG_VERSION,
      call_instance_user_data },
    { "osr_instance_launch_many", "osr_launch_options", OSR_LAUNCH_OPTIONS_VERSION,
      call_launch_many_options },
    { "osr_instance_launch_many", "osr_instance_config", OSR_INSTANCE_CONFIG_VERSION,
      call_launch_many_config },
    { "osr_instance_launch", "osr_launch_options", OSR_LAUNCH_OPTIONS_VERSION,
      call_launch_options },
    { "osr_instance_launch", "osr_instance_config", OSR_INSTANCE_CONFIG_VERSION,
      call_launch_config },
};

static void test_unknown_versions(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(version_cases) / sizeof(version_cases[0]); i++) {
        const struct version_case *c = &version_cases[i];
        const unsigned int bad[] = { 0, c->known + 1, 0xffffffffu };

        for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
            char needle[128];
            osr_error err;
            bool untouched = false;
            int rc;

            osr_error_clear(&err);
            rc = c->call(bad[k], &untouched, &err);
            if (rc != OSR_EINVAL)
                fail_msg("%s, %s version %u: %d (%s), not OSR_EINVAL", c->entry, c->type, bad[k],
                         rc, err.message);
            snprintf(needle, sizeof(needle), "%s: unknown version %u", c->type, bad[k]);
            if (strstr(err.message, needle) == NULL || strchr(err.message, '\n') != NULL)
                fail_msg("%s, %s version %u: message '%s' lacks '%s'", c->entry, c->type, bad[k],
                         err.message, needle);
            if (!untouched)
                fail_msg("%s, %s version %u: an out-param was set on failure", c->entry, c->type,
                         bad[k]);
        }
    }
}

/* A failing call leaves every out-param as it was: each public function with
 * one that fails without a server (a closed port, no GitHub credentials, bad
 * input). */
#define UNTOUCHED(call, cond)                                                           \
    do {                                                                                \
        int rc_ = (call);                                                               \
        if (rc_ >= 0 || !(cond))                                                        \
            fail_msg("%s: %d, out-param %s", #call, rc_, (cond) ? "untouched" : "set"); \
    } while (0)

static void test_out_params_untouched_on_failure(void **state)
{
    const char *str = SENTINEL, *str2 = SENTINEL;
    char *owned = SENTINEL;
    osr_error err;
    int flag = 77;
    long long ll = 77;
    size_t sz = 77;
    (void)state;

    /* config */
    UNTOUCHED(osr_cloud_get_string(&str, cloud, "no_such_key", &err), str == SENTINEL);
    UNTOUCHED(osr_cloud_get_bool(&flag, cloud, "no_such_key", &err), flag == 77);
    UNTOUCHED(osr_cloud_get_bool(&flag, cloud, "auth.username", &err), flag == 77);
    UNTOUCHED(osr_cloud_get_int(&ll, cloud, "auth.username", &err), ll == 77);
    UNTOUCHED(osr_cloud_setting(&str, &str2, &flag, cloud, 100000, 0),
              str == SENTINEL && str2 == SENTINEL && flag == 77);
    {
        char *xdg = getenv("XDG_CONFIG_HOME") ? strdup(getenv("XDG_CONFIG_HOME")) : NULL;
        char *home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
        unsetenv("XDG_CONFIG_HOME");
        unsetenv("HOME");
        UNTOUCHED(osr_clouds_default_path(&owned, &err), owned == SENTINEL);
        if (xdg)
            setenv("XDG_CONFIG_HOME", xdg, 1);
        if (home)
            setenv("HOME", home, 1);
        free(xdg);
        free(home);
    }
    {
        osr_file_writer *w = SENTINEL;
        size_t len = 77;
        UNTOUCHED(osr_file_read(&owned, &len, "/nonexistent/api", 1024, 0, NULL, NULL, &err),
                  owned == SENTINEL && len == 77);
        UNTOUCHED(osr_file_writer_open(&w, "/proc/version/api", 0600, &err), w == SENTINEL);
    }

    /* the session, Keystone, Nova, Glance: the closed port */
    {
        osr_project_list *pl = SENTINEL;
        osr_server *sv = SENTINEL;
        osr_server_list *svl = SENTINEL;
        osr_image *im = SENTINEL;
        osr_image_list *iml = SENTINEL;
        UNTOUCHED(osr_session_endpoint(&str, session, "compute"), str == SENTINEL);
        UNTOUCHED(osr_project_list_get(&pl, session, 0), pl == SENTINEL);
        UNTOUCHED(osr_server_get(&sv, session, "srv"), sv == SENTINEL);
        UNTOUCHED(osr_server_list_get(&svl, session, NULL, 0), svl == SENTINEL);
        UNTOUCHED(osr_server_list_launch(&svl, session, "abc"), svl == SENTINEL);
        UNTOUCHED(osr_image_get(&im, session, "img"), im == SENTINEL);
        UNTOUCHED(osr_image_find(&im, session, "img"), im == SENTINEL);
        UNTOUCHED(osr_image_list_get(&iml, session, NULL), iml == SENTINEL);
        UNTOUCHED(osr_image_cleanup_stale(&sz, session, "img"), sz == 77);
        UNTOUCHED(osr_image_publish(&im, &sz, session, "/nonexistent/api", NULL),
                  im == SENTINEL && sz == 77);
    }
    {
        osr_instance_config c = instance();
        const osr_instance_config *ptrs[1] = { &c };
        osr_launch_batch *lb = SENTINEL;
        osr_server *sv = SENTINEL;
        UNTOUCHED(osr_instance_launch_many(&lb, session, ptrs, 1, NULL), lb == SENTINEL);
        UNTOUCHED(osr_instance_launch(&sv, session, &c, NULL), sv == SENTINEL);
        UNTOUCHED(osr_launch_batch_take_failed(&lb, session), lb == SENTINEL);
        c.name = "no spaces";
        UNTOUCHED(osr_instance_user_data(&owned, &c, 0, &err), owned == SENTINEL);
    }
    {
        char buf[OSR_LAUNCH_ID_SIZE] = "unchanged";
        UNTOUCHED(osr_launch_id_new(buf, OSR_LAUNCH_ID_SIZE - 1), strcmp(buf, "unchanged") == 0);
    }

    /* GitHub: a client without credentials, and bad input */
    {
        osr_runner_app_list *apps = SENTINEL;
        osr_github_runner_list *runners = SENTINEL;
        char *tok = SENTINEL;
        UNTOUCHED(osr_github_path_check(&flag, "not/a/path", &err), flag == 77);
        UNTOUCHED(osr_github_runner_url(&owned, gh, "not/a/path"), owned == SENTINEL);
        UNTOUCHED(osr_github_web_url(&owned, "no scheme", &err), owned == SENTINEL);
        UNTOUCHED(osr_github_runner_apps(&apps, gh, "octo/repo"), apps == SENTINEL);
        UNTOUCHED(osr_github_registration_token(&tok, &ll, gh, "octo/repo"),
                  tok == SENTINEL && ll == 77);
        UNTOUCHED(osr_github_remove_token(&tok, &ll, gh, "octo/repo"), tok == SENTINEL && ll == 77);
        UNTOUCHED(osr_github_runners_list(&runners, gh, "octo/repo", NULL), runners == SENTINEL);
        UNTOUCHED(osr_github_runner_get(&runners, gh, "octo/repo", 1), runners == SENTINEL);
    }

    /* the runner application and the builder */
    {
        osr_runner_app *app = SENTINEL;
        osr_build_dir *dir = SENTINEL;
        osr_build_result *res = SENTINEL;
        osr_build_options bo = OSR_BUILD_OPTIONS_INIT;
        UNTOUCHED(osr_runner_app_parse(&app, "not json", 8, NULL, NULL, &err), app == SENTINEL);
        UNTOUCHED(osr_runner_app_parse(&app, "[]", 2, NULL, NULL, &err), app == SENTINEL);
        UNTOUCHED(osr_runner_app_new(&app, "/x/actions-runner-linux-x64-2.311.0.tar.gz", "zz", NULL,
                                     &err),
                  app == SENTINEL);
        UNTOUCHED(osr_runner_arch_map(&str, &str2, "sparc", &err),
                  str == SENTINEL && str2 == SENTINEL);
        UNTOUCHED(osr_build_dir_new(&dir, "/nonexistent/api", &err), dir == SENTINEL);
        UNTOUCHED(osr_image_build(&res, &bo, &err), res == SENTINEL);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_versions),
        cmocka_unit_test(test_out_params_untouched_on_failure),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
