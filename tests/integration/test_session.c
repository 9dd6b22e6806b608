/* The library against the local Keystone: password and application
 * credential auth, catalog endpoints, the token cache shared by two sessions,
 * invalidation, projects. Needs tests/cloud/up. */
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

static char clouds_path[4096];
static char cache_dir[256];
static char private_root[64]; /* test_token_cache_private's, removed in teardown */

static int group_setup(void **state)
{
    const char *dir = getenv("OSR_CLOUD_DIR");
    char tmpl[] = "/tmp/osr-session-XXXXXX";
    (void)state;
    if (dir == NULL) {
        fprintf(stderr, "OSR_CLOUD_DIR is not set\n");
        return -1;
    }
    snprintf(clouds_path, sizeof(clouds_path), "%s/clouds.yaml", dir);
    if (access(clouds_path, R_OK) != 0) {
        fprintf(stderr, "%s: the local cloud is not up (tests/cloud/up)\n", clouds_path);
        return -1;
    }
    if (mkdtemp(tmpl) == NULL)
        return -1;
    snprintf(cache_dir, sizeof(cache_dir), "%s/tokens", tmpl);
    return osr_global_init();
}

static int group_teardown(void **state)
{
    char cmd[512];
    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%.*s'", (int)(strlen(cache_dir) - 7), cache_dir);
    if (system(cmd) != 0)
        return -1;
    if (private_root[0]) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", private_root);
        if (system(cmd) != 0)
            return -1;
    }
    osr_global_shutdown();
    return 0;
}

static osr_cloud *load(const char *name)
{
    osr_cloud_options opts = OSR_CLOUD_OPTIONS_INIT;
    osr_cloud *cloud = NULL;
    osr_error err;
    opts.config_file = clouds_path;
    opts.cloud_name = name;
    if (osr_cloud_load(&cloud, &opts, &err) != 0)
        fail_msg("load %s: %s", name, err.message);
    return cloud;
}

static osr_session *open_session(const osr_cloud *cloud, int cache)
{
    osr_session_options opts = OSR_SESSION_OPTIONS_INIT;
    osr_session *s = NULL;
    osr_error err;
    opts.token_cache = cache;
    opts.cache_dir = cache_dir;
    if (osr_session_new(&s, cloud, &opts, &err) != 0)
        fail_msg("session: %s", err.message);
    return s;
}

static bool has_project(osr_session *s, const char *name)
{
    osr_project_list *list = NULL;
    bool found = false;
    if (osr_project_list_get(&list, s, 0) != 0)
        fail_msg("projects: %s", osr_session_last_error(s)->message);
    for (size_t i = 0; i < osr_project_list_count(list); i++)
        found = found || strcmp(osr_project_name(osr_project_list_at(list, i)), name) == 0;
    osr_project_list_free(list);
    return found;
}

static void test_password_auth_and_catalog(void **state)
{
    osr_cloud *cloud = load("ostb-admin");
    osr_session *s = open_session(cloud, 0);
    const char *url = NULL;
    (void)state;

    assert_int_equal(osr_session_token_source(s), OSR_TOKEN_NONE);
    assert_int_equal(osr_session_authenticate(s), 0);
    assert_int_equal(osr_session_token_source(s), OSR_TOKEN_KEYSTONE);
    assert_int_equal(osr_session_auth_count(s), 1);
    assert_string_equal(osr_session_project_name(s), "admin");
    assert_true(osr_session_expires_at(s) > (long long)time(NULL));
    /* The token is reused within the process. */
    assert_int_equal(osr_session_endpoint(&url, s, "compute"), 0);
    assert_non_null(strstr(url, "http://127.0.0.1:"));
    assert_non_null(strstr(url, "/v2.1"));
    assert_int_equal(osr_session_endpoint(&url, s, "image"), 0);
    assert_int_equal(osr_session_endpoint(&url, s, "network"), 0);
    assert_int_equal(osr_session_endpoint(&url, s, "object-store"), OSR_ENOTFOUND);
    assert_non_null(strstr(osr_session_last_error(s)->message, "object-store"));
    assert_true(has_project(s, "admin"));
    assert_int_equal(osr_session_auth_count(s), 1);
    osr_session_free(s);
    osr_cloud_free(cloud);
}

static void test_token_cache_shared_across_sessions(void **state)
{
    osr_cloud *cloud = load("ostb-demo");
    osr_session *a = open_session(cloud, 1), *b;
    char path[512];
    struct stat st;
    (void)state;

    osr_session_invalidate(a); /* start from an empty cache entry */
    assert_int_equal(osr_session_authenticate(a), 0);
    assert_int_equal(osr_session_token_source(a), OSR_TOKEN_KEYSTONE);
    assert_int_equal(stat(cache_dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);

    b = open_session(cloud, 1);
    assert_int_equal(osr_session_authenticate(b), 0);
    assert_int_equal(osr_session_token_source(b), OSR_TOKEN_CACHE);
    assert_int_equal(osr_session_auth_count(b), 0);
    assert_string_equal(osr_session_project_id(a), osr_session_project_id(b));
    assert_true(has_project(b, "demo"));
    assert_int_equal(osr_session_auth_count(b), 0);

    /* A cache file others could read is not trusted. */
    osr_session_free(b);
    snprintf(path, sizeof(path), "chmod 0644 %s/*.json", cache_dir);
    assert_int_equal(system(path), 0);
    b = open_session(cloud, 1);
    assert_int_equal(osr_session_authenticate(b), 0);
    assert_int_equal(osr_session_token_source(b), OSR_TOKEN_KEYSTONE);
    osr_session_free(b);

    /* Invalidation removes the cache entry: the next session authenticates. */
    osr_session_invalidate(a);
    b = open_session(cloud, 1);
    assert_int_equal(osr_session_authenticate(b), 0);
    assert_int_equal(osr_session_token_source(b), OSR_TOKEN_KEYSTONE);
    osr_session_free(b);
    osr_session_free(a);
    osr_cloud_free(cloud);
}

static int warnings;
static char last_warning[512];

static void log_cb(osr_log_level level, const char *msg, void *payload)
{
    (void)payload;
    if (level == OSR_LOG_WARN) {
        warnings++;
        snprintf(last_warning, sizeof(last_warning), "%s", msg);
    }
}

static osr_cloud *load_text(const char *dir, const char *name, const char *password)
{
    char path[512];
    FILE *f;
    osr_cloud_options opts = OSR_CLOUD_OPTIONS_INIT;
    osr_cloud *cloud = NULL;
    osr_error err;
    osr_cloud *demo = load("ostb-demo");

    snprintf(path, sizeof(path), "%s/clouds.yaml", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "clouds:\n  %s:\n    auth:\n      auth_url: %s\n"
            "      username: demo\n      password: \"%s\"\n      project_name: demo\n"
            "      user_domain_name: Default\n      project_domain_name: Default\n"
            "    region_name: RegionOne\n",
            name, osr_cloud_get(demo, "auth.auth_url"), password);
    osr_cloud_free(demo);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, 0600), 0);
    opts.config_file = path;
    if (osr_cloud_load(&cloud, &opts, &err) != 0)
        fail_msg("load %s: %s", name, err.message);
    return cloud;
}

static osr_session *open_logged(const osr_cloud *cloud, const char *dir)
{
    osr_session_options opts = OSR_SESSION_OPTIONS_INIT;
    osr_session *s = NULL;
    osr_error err;
    opts.token_cache = 1;
    opts.cache_dir = dir;
    opts.log_cb = log_cb;
    opts.log_level = OSR_LOG_WARN;
    if (osr_session_new(&s, cloud, &opts, &err) != 0)
        fail_msg("session: %s", err.message);
    return s;
}

/* How many files are in dir; the one name (if one) goes to name. */
static int files_in(const char *dir, char *name, size_t size)
{
    char cmd[700]; /* "ls -A" and a path of at most 600 */
    FILE *p;
    int n = 0;
    char line[512];

    snprintf(cmd, sizeof(cmd), "ls -A '%s'", dir);
    p = popen(cmd, "r");
    assert_non_null(p);
    while (fgets(line, sizeof(line), p)) {
        line[strcspn(line, "\n")] = '\0';
        if (n++ == 0 && name)
            snprintf(name, size, "%s", line);
    }
    pclose(p);
    return n;
}

/* The cache is no password oracle: its name comes from the identity only, the
 * key that ties it to the secrets is salted and inside the private file. */
static void test_token_cache_private(void **state)
{
    char tmpl[] = "/tmp/osr-cache2-XXXXXX", dir[600], name[512], path[1200], cmd[700];
    osr_cloud *right, *wrong;
    osr_session *a, *b;
    struct stat st;
    FILE *f;
    char body[8192];
    size_t n;
    (void)state;

    assert_non_null(mkdtemp(tmpl));
    snprintf(private_root, sizeof(private_root), "%s", tmpl);
    snprintf(dir, sizeof(dir), "%s/tokens", tmpl);
    right = load_text(tmpl, "c-right", "secret");
    a = open_logged(right, dir);
    assert_int_equal(osr_session_authenticate(a), 0);
    assert_int_equal(osr_session_token_source(a), OSR_TOKEN_KEYSTONE);
    assert_int_equal(files_in(dir, name, sizeof(name)), 1);
    assert_int_equal(strncmp(name, "v2-", 3), 0);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "r");
    assert_non_null(f);
    n = fread(body, 1, sizeof(body) - 1, f);
    fclose(f);
    body[n] = '\0';
    assert_non_null(strstr(body, "\"salt\""));
    assert_non_null(strstr(body, "\"key\""));
    assert_null(strstr(body, "secret"));

    /* Another password, the same identity: the same file name (so the name
     * says nothing about the password), but the key does not match. */
    wrong = load_text(tmpl, "c-wrong", "not-the-password");
    b = open_logged(wrong, dir);
    assert_int_equal(osr_session_authenticate(b), OSR_EAUTH);
    assert_int_equal(osr_session_auth_count(b), 1); /* it asked Keystone: the cache was refused */
    assert_int_equal(files_in(dir, NULL, 0), 1);
    osr_session_invalidate(b); /* removes the file of that name: a's */
    assert_int_equal(files_in(dir, NULL, 0), 0);
    osr_session_free(b);

    /* A first-format file (named by an unsalted hash of the password) is removed. */
    snprintf(path, sizeof(path), "%s/%064d.json", dir, 0);
    f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    /* A loose cache directory of ours is tightened, with a warning. */
    assert_int_equal(chmod(dir, 0755), 0);
    warnings = 0;
    b = open_logged(right, dir);
    assert_int_equal(warnings, 1);
    assert_non_null(strstr(last_warning, "tightened to 0700"));
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(access(path, F_OK), -1);
    osr_session_free(b);

    /* Someone else's directory is not used. */
    if (geteuid() == 0) {
        assert_int_equal(chown(dir, 65534, 65534), 0);
        warnings = 0;
        b = open_logged(right, dir);
        assert_int_equal(warnings, 1);
        assert_non_null(strstr(last_warning, "not a directory of ours"));
        assert_int_equal(osr_session_authenticate(b), 0);
        assert_int_equal(files_in(dir, NULL, 0), 0);
        osr_session_free(b);
    }

    osr_session_free(a);
    osr_cloud_free(right);
    osr_cloud_free(wrong);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
    assert_int_equal(system(cmd), 0);
    private_root[0] = '\0';
}

static void test_application_credential(void **state)
{
    const char *names[] = { "ostb-demo-appcred", "ostb-demo-appcred-name" };
    (void)state;
    for (size_t i = 0; i < 2; i++) {
        osr_cloud *cloud = load(names[i]);
        osr_session *s = open_session(cloud, 0);
        assert_string_equal(osr_cloud_auth_type(cloud), "v3applicationcredential");
        if (osr_session_authenticate(s) != 0)
            fail_msg("%s: %s", names[i], osr_session_last_error(s)->message);
        assert_string_equal(osr_session_project_name(s), "demo");
        assert_true(has_project(s, "demo"));
        osr_session_free(s);
        osr_cloud_free(cloud);
    }
}

static void test_all_projects_needs_admin(void **state)
{
    osr_cloud *demo = load("ostb-demo"), *admin = load("ostb-admin");
    osr_session *s = open_session(demo, 0), *a = open_session(admin, 0);
    osr_project_list *list = (osr_project_list *)0x1234;
    (void)state;

    assert_int_equal(osr_project_list_get(&list, s, OSR_PROJECTS_ALL), OSR_EFORBIDDEN);
    assert_ptr_equal(list, (osr_project_list *)0x1234);
    assert_int_equal(osr_session_last_error(s)->http_status, 403);
    assert_int_equal(osr_project_list_get(&list, a, OSR_PROJECTS_ALL), 0);
    assert_true(osr_project_list_count(list) >= 3);
    osr_project_list_free(list);
    osr_session_free(s);
    osr_session_free(a);
    osr_cloud_free(demo);
    osr_cloud_free(admin);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_password_auth_and_catalog),
        cmocka_unit_test(test_token_cache_shared_across_sessions),
        cmocka_unit_test(test_token_cache_private),
        cmocka_unit_test(test_application_credential),
        cmocka_unit_test(test_all_projects_needs_admin),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
