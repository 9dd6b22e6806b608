/* Launching runner instances against the local Nova (fake driver): ACTIVE
 * with user data, metadata and tags; Nova's real ERROR path; a timeout; a
 * batch where some fail; bad input that never creates a server. Each test
 * uses its own manager prefix, so it counts only its own servers. */
#include <osrunner/osrunner.h>

#include <openssl/evp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <cmocka.h>

#define IMAGE  "osr-test-image"
#define FLAVOR "m1.tiny"
#define TOOBIG "osr.toobig"
#define TOKEN  "AAAAREGISTRATIONTOKEN0123456789"

static char clouds_path[4096];
static const char *cloud_dir;
static osr_cloud *cloud;
static osr_session *session;
static char manager[64];
static const char *const labels[] = { "self-hosted", "osrunner-test", NULL };

static int group_setup(void **state)
{
    osr_cloud_options co = OSR_CLOUD_OPTIONS_INIT;
    osr_session_options so = OSR_SESSION_OPTIONS_INIT;
    osr_error err;
    (void)state;
    cloud_dir = getenv("OSR_CLOUD_DIR");
    if (cloud_dir == NULL)
        return -1;
    snprintf(clouds_path, sizeof(clouds_path), "%s/clouds.yaml", cloud_dir);
    if (access(clouds_path, R_OK) != 0) {
        fprintf(stderr, "%s: the local cloud is not up (tests/cloud/up)\n", clouds_path);
        return -1;
    }
    if (osr_global_init() < 0)
        return -1;
    co.config_file = clouds_path;
    co.cloud_name = "ostb-admin"; /* admin: reads user data back */
    if (osr_cloud_load(&cloud, &co, &err) < 0) {
        fprintf(stderr, "%s\n", err.message);
        return -1;
    }
    so.token_cache = 0;
    if (osr_session_new(&session, cloud, &so, &err) < 0)
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    osr_session_free(session);
    osr_cloud_free(cloud);
    osr_global_shutdown();
    return 0;
}

static int fresh_manager(void **state)
{
    static int n;
    (void)state;
    snprintf(manager, sizeof(manager), "osr-it-%d-%d", (int)getpid(), ++n);
    return 0;
}

static osr_instance_config config(const char *name, const char *flavor)
{
    osr_instance_config c = OSR_INSTANCE_CONFIG_INIT;
    c.name = name;
    c.labels = labels;
    c.github_path = "octo-org/octo-repo";
    c.registration_token = TOKEN;
    c.image = IMAGE;
    c.flavor = flavor;
    c.network = "none";
    c.manager = manager;
    return c;
}

static size_t our_servers(void)
{
    osr_server_list *list = NULL;
    size_t n;
    if (osr_server_list_get(&list, session, manager, 0) != 0)
        fail_msg("list: %s", osr_session_last_error(session)->message);
    n = osr_server_list_count(list);
    osr_server_list_free(list);
    return n;
}

static void test_launch_active_user_data_metadata_tags(void **state)
{
    osr_instance_config c = config("osr-it-one", FLAVOR);
    osr_launch_options lo = OSR_LAUNCH_OPTIONS_INIT;
    osr_server *sv = NULL, *again = NULL;
    char *ud = NULL;
    unsigned char decoded[OSR_USER_DATA_MAX];
    const char *b64;
    int n;
    bool tagged = false;
    (void)state;

    if (osr_instance_launch(&sv, session, &c, &lo) != 0)
        fail_msg("launch: %s", osr_session_last_error(session)->message);
    assert_string_equal(osr_server_status(sv), "ACTIVE");
    assert_string_equal(osr_server_name(sv), "osr-it-one");

    /* Read it back as admin: the user data is exactly what was rendered. */
    assert_int_equal(osr_server_get(&again, session, osr_server_id(sv)), 0);
    b64 = osr_server_user_data(again);
    assert_non_null(b64);
    n = EVP_DecodeBlock(decoded, (const unsigned char *)b64, (int)strlen(b64));
    assert_true(n > 0);
    while (n > 0 && decoded[n - 1] == '\0') /* base64 padding decodes to NULs */
        n--;
    assert_int_equal(osr_instance_user_data(&ud, &c, 1, NULL), 0);
    assert_int_equal((size_t)n, strlen(ud));
    assert_memory_equal(decoded, ud, (size_t)n);
    osr_free(ud);

    assert_string_equal(osr_server_metadata(again, "managed-by"), "osrunner");
    assert_string_equal(osr_server_metadata(again, "osrunner-manager"), manager);
    assert_string_equal(osr_server_metadata(again, "osrunner-runner"), "osr-it-one");
    assert_string_equal(osr_server_metadata(again, "osrunner-labels"), "self-hosted,osrunner-test");
    for (size_t i = 0; i < osr_server_tag_count(again); i++)
        tagged = tagged || strcmp(osr_server_tag(again, i), "managed-by=osrunner") == 0;
    assert_true(tagged);
    /* The token is in the user data only, never in metadata. */
    for (size_t i = 0; i < osr_server_metadata_count(again); i++)
        assert_null(strstr(osr_server_metadata(again, osr_server_metadata_key(again, i)), TOKEN));
    assert_int_equal(our_servers(), 1);

    assert_int_equal(osr_server_delete(session, osr_server_id(sv), 1, 120), 0);
    osr_server_free(again);
    again = NULL;
    assert_int_equal(osr_server_get(&again, session, osr_server_id(sv)), OSR_ENOTFOUND);
    assert_int_equal(our_servers(), 0);
    osr_server_free(sv);
}

static void test_error_path_cleans_up(void **state)
{
    osr_instance_config c = config("osr-it-toobig", TOOBIG);
    osr_launch_options lo = OSR_LAUNCH_OPTIONS_INIT;
    osr_server *sv = (osr_server *)0x1234;
    const osr_error *e;
    (void)state;

    assert_int_equal(osr_instance_launch(&sv, session, &c, &lo), OSR_ELAUNCH);
    assert_ptr_equal(sv, (osr_server *)0x1234);
    e = osr_session_last_error(session);
    /* One sentence joined cleanly: no "found. ; the server". */
    if (strstr(e->message, "went to ERROR: No valid host was found; server ") == NULL ||
        strstr(e->message, ". ;") != NULL || strstr(e->message, " was deleted again") == NULL)
        fail_msg("message: %s", e->message);
    assert_int_equal(our_servers(), 0);
}

static pid_t conductor_pgid(void)
{
    char path[4200];
    FILE *f;
    long pid = 0;
    snprintf(path, sizeof(path), "%s/run/nova-conductor.pid", cloud_dir);
    f = fopen(path, "re");
    if (f == NULL || fscanf(f, "%ld", &pid) != 1)
        fail_msg("%s: cannot read the conductor's pid", path);
    fclose(f);
    return (pid_t)pid;
}

static int resume_conductor(void **state)
{
    (void)state;
    kill(-conductor_pgid(), SIGCONT);
    return 0;
}

static void test_timeout_cleans_up(void **state)
{
    osr_instance_config c = config("osr-it-slow", FLAVOR);
    osr_launch_options lo = OSR_LAUNCH_OPTIONS_INIT;
    osr_server *sv = NULL;
    const osr_error *e;
    (void)state;

    /* With the conductor stopped, the create is accepted but never scheduled:
     * the server stays in BUILD for sure, so the deadline passes. */
    assert_int_equal(kill(-conductor_pgid(), SIGSTOP), 0);
    lo.timeout_s = 3;
    assert_int_equal(osr_instance_launch(&sv, session, &c, &lo), OSR_ELAUNCH);
    e = osr_session_last_error(session);
    if (strstr(e->message, "did not become ACTIVE within 3 s (status BUILD)") == NULL)
        fail_msg("message: %s", e->message);
    assert_non_null(strstr(e->message, " was deleted again"));
    assert_int_equal(kill(-conductor_pgid(), SIGCONT), 0);
    assert_int_equal(our_servers(), 0);
}

static void test_batch_some_fail(void **state)
{
    enum { N = 20 };
    osr_instance_config cfgs[N];
    const osr_instance_config *ptrs[N];
    char names[N][32];
    osr_launch_batch *b = NULL;
    osr_launch_options lo = OSR_LAUNCH_OPTIONS_INIT;
    size_t ok = 0;
    (void)state;

    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "osr-it-batch-%02d", i);
        /* Two of them ask for more than the host has. */
        cfgs[i] = config(names[i], (i == 3 || i == 11) ? TOOBIG : FLAVOR);
        ptrs[i] = &cfgs[i];
    }
    assert_int_equal(osr_instance_launch_many(&b, session, ptrs, N, &lo), OSR_ELAUNCH);
    assert_null(b); /* set on success only */
    assert_int_equal(osr_launch_batch_take_failed(&b, session), 0);
    assert_non_null(b);
    assert_int_equal(osr_launch_batch_count(b), N);
    for (size_t i = 0; i < N; i++) {
        const osr_server *sv = osr_launch_batch_server(b, i);
        if (i == 3 || i == 11) {
            assert_null(sv);
            assert_int_equal(osr_launch_batch_error(b, i)->code, OSR_ELAUNCH);
            assert_non_null(strstr(osr_launch_batch_error(b, i)->message, "No valid host"));
        } else {
            assert_non_null(sv);
            assert_string_equal(osr_server_status(sv), "ACTIVE");
            assert_int_equal(osr_launch_batch_error(b, i)->code, 0);
            ok++;
        }
    }
    assert_int_equal(ok, N - 2);
    /* Only the failed ones were cleaned up. */
    assert_int_equal(our_servers(), N - 2);
    {
        const char *ids[N];
        osr_error errs[N];
        size_t k = 0;
        for (size_t i = 0; i < N; i++) {
            if (osr_launch_batch_server(b, i))
                ids[k++] = osr_server_id(osr_launch_batch_server(b, i));
        }
        /* All at once; a server already gone is not an error. */
        ids[k++] = ids[0];
        assert_int_equal(osr_server_delete_many(session, ids, k, 1, 120, errs), 0);
        for (size_t i = 0; i < k; i++)
            assert_int_equal(errs[i].code, 0);
    }
    assert_int_equal(our_servers(), 0);
    osr_launch_batch_free(b);
}

/* A name in use among the manager's servers fails before any create; the
 * launch id given is the launch's tag. */
static void test_name_taken(void **state)
{
    osr_instance_config c = config("osr-it-taken", FLAVOR);
    osr_launch_options lo = OSR_LAUNCH_OPTIONS_INIT;
    osr_server *sv = NULL, *again = (osr_server *)0x1234;
    osr_server_list *list = NULL;
    char id[OSR_LAUNCH_ID_SIZE];
    (void)state;

    assert_int_equal(osr_launch_id_new(id, sizeof(id)), 0);
    assert_int_equal(strlen(id), 32);
    lo.launch_id = id;
    assert_int_equal(osr_instance_launch(&sv, session, &c, &lo), 0);
    assert_int_equal(osr_server_list_launch(&list, session, id), 0);
    assert_int_equal(osr_server_list_count(list), 1);
    assert_string_equal(osr_server_id(osr_server_list_at(list, 0)), osr_server_id(sv));
    osr_server_list_free(list);

    lo.launch_id = NULL;
    assert_int_equal(osr_instance_launch(&again, session, &c, &lo), OSR_EEXISTS);
    assert_ptr_equal(again, (osr_server *)0x1234);
    if (strstr(osr_session_last_error(session)->message, osr_server_id(sv)) == NULL)
        fail_msg("message: %s", osr_session_last_error(session)->message);
    assert_int_equal(our_servers(), 1);
    assert_int_equal(osr_server_delete(session, osr_server_id(sv), 1, 120), 0);
    assert_int_equal(our_servers(), 0);
    osr_server_free(sv);
}

static void expect_refused(osr_instance_config c, int code, const char *phrase)
{
    osr_server *sv = NULL;
    osr_launch_options lo = OSR_LAUNCH_OPTIONS_INIT;
    int error = osr_instance_launch(&sv, session, &c, &lo);
    if (error != code || strstr(osr_session_last_error(session)->message, phrase) == NULL)
        fail_msg("got %d \"%s\", wanted %d \"%s\"", error, osr_session_last_error(session)->message,
                 code, phrase);
    assert_null(sv);
}

static void test_bad_input_creates_nothing(void **state)
{
    static const char *const bad_labels[] = { "a,b", NULL };
    osr_instance_config c;
    (void)state;

    c = config("bad name!", FLAVOR), expect_refused(c, OSR_EINVAL, "name:");
    c = config("osr-it-x", FLAVOR), c.labels = bad_labels, expect_refused(c, OSR_EINVAL, "comma");
    c = config("osr-it-x", "no-such-flavor"),
    expect_refused(c, OSR_ENOTFOUND, "flavor 'no-such-flavor' not found");
    c = config("osr-it-x", FLAVOR), c.image = "no-such-image",
    expect_refused(c, OSR_ENOTFOUND, "image 'no-such-image' not found");
    c = config("osr-it-x", FLAVOR), c.network = "no-such-net",
    expect_refused(c, OSR_ENOTFOUND, "network 'no-such-net' not found");
    c = config("osr-it-x", FLAVOR), c.key_name = "no-such-key",
    expect_refused(c, OSR_ENOTFOUND, "keypair 'no-such-key' not found");
    assert_int_equal(our_servers(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_launch_active_user_data_metadata_tags, fresh_manager),
        cmocka_unit_test_setup(test_error_path_cleans_up, fresh_manager),
        cmocka_unit_test_setup_teardown(test_timeout_cleans_up, fresh_manager, resume_conductor),
        cmocka_unit_test_setup(test_batch_some_fail, fresh_manager),
        cmocka_unit_test_setup(test_bad_input_creates_nothing, fresh_manager),
        cmocka_unit_test_setup(test_name_taken, fresh_manager),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
