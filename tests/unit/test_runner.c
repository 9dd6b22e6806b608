/* Runner instance configs: validation and the rendered cloud-init user data,
 * including hostile values that must stay data. */
#include "nova.h"
#include "osrunner/runner.h"
#include "runner_internal.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static const char *const good_labels[] = { "self-hosted", "linux", "x64", NULL };

static osr_instance_config good(void)
{
    osr_instance_config c = OSR_INSTANCE_CONFIG_INIT;
    c.name = "runner-1";
    c.labels = good_labels;
    c.github_path = "octo-org/octo-repo";
    c.registration_token = "AABBCCDDEEFF0011";
    c.image = "img";
    c.flavor = "m1.tiny";
    return c;
}

static void expect_invalid(const osr_instance_config *c, const char *phrase)
{
    osr_error err;
    osr_error_clear(&err);
    assert_int_equal(osr_instance_config_validate(c, &err), OSR_EINVAL);
    if (strstr(err.message, phrase) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", err.message, phrase);
}

static void test_valid(void **state)
{
    osr_instance_config c = good();
    osr_error err;
    (void)state;
    assert_int_equal(osr_instance_config_validate(&c, &err), 0);
    c.github_path = "octo-org";
    assert_int_equal(osr_instance_config_validate(&c, &err), 0);
    c.name = "a.b_c-D9";
    assert_int_equal(osr_instance_config_validate(&c, &err), 0);
}

static void test_invalid(void **state)
{
    static const char *const empty_label[] = { "a", "", NULL };
    static const char *const comma_label[] = { "a,b", NULL };
    static const char *const nl_label[] = { "a\nb", NULL };
    static const char *const no_labels[] = { NULL };
    static const char *const reserved[] = { "osrunner-runner=x", NULL };
    static const char *const not_kv[] = { "novalue", NULL };
    char long_name[80], long_label[300];
    osr_instance_config c;
    (void)state;

    memset(long_name, 'n', 65);
    long_name[65] = '\0';
    memset(long_label, 'l', 257);
    long_label[257] = '\0';
    const char *const big_label[] = { long_label, NULL };

    c = good(), c.name = NULL, expect_invalid(&c, "name: missing");
    c = good(), c.name = long_name, expect_invalid(&c, "65 characters; GitHub allows at most 64");
    c = good(), c.name = "bad name", expect_invalid(&c, "has ' '");
    c = good(), c.name = "x;rm", expect_invalid(&c, "has ';'");
    c = good(), c.name = "a/b", expect_invalid(&c, "has '/'");
    c = good(), c.labels = NULL, expect_invalid(&c, "at least one label");
    c = good(), c.labels = no_labels, expect_invalid(&c, "at least one label");
    c = good(), c.labels = empty_label, expect_invalid(&c, "label 2 is empty");
    c = good(), c.labels = comma_label, expect_invalid(&c, "comma");
    c = good(), c.labels = nl_label, expect_invalid(&c, "control character");
    c = good(), c.labels = big_label, expect_invalid(&c, "257 characters; at most 256");
    c = good(), c.github_path = NULL, expect_invalid(&c, "github path: missing");
    c = good(), c.github_path = "a/b/c", expect_invalid(&c, "neither owner/repo");
    c = good(), c.github_path = "-bad", expect_invalid(&c, "neither owner/repo");
    c = good(), c.github_path = "own/..", expect_invalid(&c, "neither owner/repo");
    c = good(), c.github_path = "own/re po", expect_invalid(&c, "neither owner/repo");
    c = good(), c.github_url = "ftp://github.com", expect_invalid(&c, "github url");
    c = good(), c.registration_token = NULL, expect_invalid(&c, "exactly one");
    c = good(), c.jit_config = "x", expect_invalid(&c, "exactly one");
    c = good(), c.registration_token = "", expect_invalid(&c, "empty or not a single word");
    c = good(), c.registration_token = "a b", expect_invalid(&c, "empty or not a single word");
    c = good(), c.image = NULL, expect_invalid(&c, "image: missing");
    c = good(), c.flavor = "", expect_invalid(&c, "flavor: missing");
    c = good(), c.http_proxy = "http://p\n:3128", expect_invalid(&c, "http proxy");
    c = good(), c.https_proxy = "proxy:3128", expect_invalid(&c, "https proxy: not an http(s) URL");
    c = good(), c.no_proxy = "", expect_invalid(&c, "no proxy");
    c = good(), c.manager = "has space", expect_invalid(&c, "manager");
    c = good(), c.metadata = reserved, expect_invalid(&c, "reserved for osrunner");
    c = good(), c.metadata = not_kv, expect_invalid(&c, "not key=value");
    c = good(), c.version = 99, expect_invalid(&c, "unknown version");
}

/* One name rule, exported for every command; user input is escaped in messages. */
static void test_name_check(void **state)
{
    osr_error err;
    (void)state;

    assert_int_equal(osr_runner_name_check("ci-runner_1.a", &err), 0);
    assert_int_equal(osr_runner_name_check("has space", &err), OSR_EINVAL);
    assert_non_null(strstr(err.message, "name: 'has space' has ' '"));
    assert_int_equal(osr_runner_name_check("bad\xff\x01x", &err), OSR_EINVAL);
    assert_non_null(strstr(err.message, "name: 'bad\\xff\\x01x' has '\\xff'"));
    for (const char *p = err.message; *p; p++)
        assert_true((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
    /* Valid UTF-8 is shown as it is, but still refused. */
    assert_int_equal(osr_runner_name_check("caf\xc3\xa9", &err), OSR_EINVAL);
    assert_non_null(strstr(err.message, "'caf\xc3\xa9' has '\\xc3'"));
    assert_int_equal(osr_runner_name_check("", &err), OSR_EINVAL);
    assert_int_equal(osr_runner_name_check(NULL, &err), OSR_EINVAL);
}

/* --jit-file content: base64 of a JSON object, and never shown. */
static void test_jit_config_check(void **state)
{
    osr_instance_config c = good();
    osr_error err;
    (void)state;

    /* {"jit":"config"} */
    assert_int_equal(osr_runner_jit_config_check("eyJqaXQiOiJjb25maWcifQ==", &err), 0);
    assert_int_equal(osr_runner_jit_config_check("ghp_notajitconfig", &err), OSR_EINVAL);
    assert_non_null(strstr(err.message, "not base64"));
    assert_null(strstr(err.message, "ghp_"));
    assert_int_equal(osr_runner_jit_config_check("abc", &err), OSR_EINVAL);
    assert_non_null(strstr(err.message, "its length"));
    /* "not json" and [1] in base64: base64, but not an object */
    assert_int_equal(osr_runner_jit_config_check("bm90IGpzb24=", &err), OSR_EINVAL);
    assert_non_null(strstr(err.message, "not of a JIT runner configuration"));
    assert_int_equal(osr_runner_jit_config_check("WzFd", &err), OSR_EINVAL);
    assert_int_equal(osr_runner_jit_config_check("", &err), OSR_EINVAL);

    c.registration_token = NULL;
    c.jit_config = "AAAABBBB_secret";
    expect_invalid(&c, "jit config: not base64");
    assert_int_equal(osr_instance_config_validate(&c, &err), OSR_EINVAL);
    assert_null(strstr(err.message, "secret"));
}

/* Parse the user data: "#cloud-config\n" then a JSON (= YAML) document. */
static json_t *parse_ud(const char *ud)
{
    json_t *doc;
    assert_int_equal(strncmp(ud, "#cloud-config\n", 14), 0);
    doc = json_loads(ud + 14, JSON_REJECT_DUPLICATES, NULL);
    assert_non_null(doc);
    return doc;
}

static const char *file_content(json_t *doc, const char *path)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(doc, "write_files"), i, f)
    {
        if (strcmp(json_string_value(json_object_get(f, "path")), path) == 0)
            return json_string_value(json_object_get(f, "content"));
    }
    return NULL;
}

/* The runcmd entry that runs script (element 8 of the exec form). */
static json_t *runcmd_for(json_t *doc, const char *script)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(doc, "runcmd"), i, e)
    {
        const char *s = json_string_value(json_array_get(e, 8));
        if (s && strcmp(s, script) == 0)
            return e;
    }
    fail_msg("no runcmd entry runs %s", script);
    return NULL;
}

static void test_user_data_config_sh(void **state)
{
    osr_instance_config c = good();
    char *ud = NULL;
    json_t *doc, *runcmd, *cfg;
    osr_error err;
    (void)state;

    assert_int_equal(osr_instance_user_data(&ud, &c, 1, &err), 0);
    doc = parse_ud(ud);
    runcmd = json_object_get(doc, "runcmd");
    assert_int_equal(json_array_size(runcmd), 2);
    cfg = json_array_get(runcmd, 0);
    /* exec form: sudo -u ubuntu -H -- sh -c 'cd ... && exec ./config.sh "$@"' config.sh ARGS */
    assert_string_equal(json_string_value(json_array_get(cfg, 0)), "sudo");
    assert_string_equal(json_string_value(json_array_get(cfg, 2)), "ubuntu");
    assert_string_equal(json_string_value(json_array_get(cfg, 7)),
                        "cd /home/ubuntu/actions-runner && exec ./config.sh \"$@\"");
    {
        const char *want[] = { "config.sh",
                               "--url",
                               "https://github.com/octo-org/octo-repo",
                               "--token",
                               "AABBCCDDEEFF0011",
                               "--ephemeral",
                               "--unattended",
                               "--labels",
                               "self-hosted,linux,x64",
                               "--name",
                               "runner-1" };
        assert_int_equal(json_array_size(cfg), 8 + 11);
        for (size_t i = 0; i < 11; i++)
            assert_string_equal(json_string_value(json_array_get(cfg, 8 + i)), want[i]);
    }
    assert_string_equal(json_string_value(json_array_get(json_array_get(runcmd, 1), 7)),
                        "cd /home/ubuntu/actions-runner && exec ./run.sh \"$@\"");
    /* No proxy set: the .env carries no empty assignment. */
    assert_string_equal(file_content(doc, "/home/ubuntu/actions-runner/.env"), "LANG=C.UTF-8\n");
    assert_null(file_content(doc, "/etc/docker/daemon.json"));
    json_decref(doc);
    osr_free(ud);

    /* Masked unless revealed. */
    assert_int_equal(osr_instance_user_data(&ud, &c, 0, &err), 0);
    assert_null(strstr(ud, "AABBCCDDEEFF0011"));
    assert_non_null(strstr(ud, "\"****\""));
    osr_free(ud);
}

static void test_user_data_jit_and_ghes(void **state)
{
    osr_instance_config c = good();
    char *ud = NULL;
    json_t *doc, *runcmd, *run;
    osr_error err;
    (void)state;

    c.registration_token = NULL;
    c.jit_config = "eyJqaXQiOiJjb25maWcifQ==";
    assert_int_equal(osr_instance_user_data(&ud, &c, 1, &err), 0);
    doc = parse_ud(ud);
    runcmd = json_object_get(doc, "runcmd");
    assert_int_equal(json_array_size(runcmd), 1);
    run = json_array_get(runcmd, 0);
    assert_string_equal(json_string_value(json_array_get(run, 8)), "run.sh");
    assert_string_equal(json_string_value(json_array_get(run, 9)), "--jitconfig");
    assert_string_equal(json_string_value(json_array_get(run, 10)), "eyJqaXQiOiJjb25maWcifQ==");
    assert_null(strstr(ud, "config.sh"));
    json_decref(doc);
    osr_free(ud);

    c = good();
    c.github_url = "https://ghes.example.com";
    c.github_path = "org";
    assert_int_equal(osr_instance_user_data(&ud, &c, 1, &err), 0);
    assert_non_null(strstr(ud, "\"https://ghes.example.com/org\""));
    osr_free(ud);
}

static void test_user_data_hostile_values_stay_data(void **state)
{
    static const char *const hostile_labels[] = { "$(reboot)", "`id`", "a'b\"c", "x;rm -rf /",
                                                  "\\\\n",     "ünï",  NULL };
    osr_instance_config c = good();
    char *ud = NULL;
    json_t *doc, *cfg;
    osr_error err;
    (void)state;

    c.labels = hostile_labels;
    c.http_proxy = "http://u:p@proxy:3128/$(reboot)";
    c.https_proxy = "https://proxy:3128/`id`";
    c.no_proxy = "localhost,.corp;echo pwned,'q'";
    c.docker_mirror = "https://mirror.example/\"}";
    assert_int_equal(osr_instance_user_data(&ud, &c, 1, &err), 0);
    doc = parse_ud(ud);
    cfg = runcmd_for(doc, "config.sh");
    /* docker picks up the mirror before the runner starts */
    assert_string_equal(
        json_string_value(json_array_get(json_array_get(json_object_get(doc, "runcmd"), 0), 1)),
        "restart");
    /* The labels arrive as one argv element, byte for byte. */
    assert_string_equal(json_string_value(json_array_get(cfg, 8 + 8)),
                        "$(reboot),`id`,a'b\"c,x;rm -rf /,\\\\n,ünï");
    /* The shell script is fixed text: no value is ever spliced into it. */
    assert_null(strstr(json_string_value(json_array_get(cfg, 7)), "reboot"));
    for (size_t i = 0; i < json_array_size(json_object_get(doc, "runcmd")); i++)
        assert_true(json_is_array(json_array_get(json_object_get(doc, "runcmd"), i)));
    assert_string_equal(file_content(doc, "/home/ubuntu/actions-runner/.env"),
                        "http_proxy=http://u:p@proxy:3128/$(reboot)\n"
                        "HTTP_PROXY=http://u:p@proxy:3128/$(reboot)\n"
                        "https_proxy=https://proxy:3128/`id`\n"
                        "HTTPS_PROXY=https://proxy:3128/`id`\n"
                        "no_proxy=localhost,.corp;echo pwned,'q'\n"
                        "NO_PROXY=localhost,.corp;echo pwned,'q'\n"
                        "LANG=C.UTF-8\n");
    {
        json_t *daemon = json_loads(file_content(doc, "/etc/docker/daemon.json"), 0, NULL);
        assert_string_equal(
            json_string_value(json_array_get(json_object_get(daemon, "registry-mirrors"), 0)),
            "https://mirror.example/\"}");
        json_decref(daemon);
    }
    json_decref(doc);

    /* When Debian's cloud-init is installed, it must accept the document. */
    if (access("/usr/bin/cloud-init", X_OK) == 0) {
        char path[] = "/tmp/osr-ud-XXXXXX";
        int fd = mkstemp(path);
        FILE *p;
        char cmd[256], out[4096] = "";
        size_t n;
        int rc;
        assert_true(fd >= 0);
        assert_int_equal(write(fd, ud, strlen(ud)), (ssize_t)strlen(ud));
        close(fd);
        snprintf(cmd, sizeof(cmd),
                 "/usr/bin/python3 /usr/bin/cloud-init schema --config-file %s 2>&1", path);
        p = popen(cmd, "r");
        assert_non_null(p);
        n = fread(out, 1, sizeof(out) - 1, p);
        out[n] = '\0';
        rc = pclose(p);
        unlink(path);
        if (rc != 0 || strstr(out, "Valid cloud-config") == NULL)
            fail_msg("cloud-init schema rejected the user data: %s", out);
    }
    osr_free(ud);
}

static void test_user_data_size_limit(void **state)
{
    osr_instance_config c = good();
    char *json = malloc(45000), *jit = malloc(60001), *ud = (char *)0x1234;
    osr_error err;
    (void)state;

    /* A well-formed JIT config (base64 of a JSON object), just too large. */
    memset(json, 'A', 44999);
    memcpy(json, "{\"a\":\"", 6);
    memcpy(json + 44997, "\"}", 2);
    assert_int_equal(EVP_EncodeBlock((unsigned char *)jit, (unsigned char *)json, 44999), 60000);
    free(json);
    c.registration_token = NULL;
    c.jit_config = jit;
    assert_int_equal(osr_instance_user_data(&ud, &c, 1, &err), OSR_EINVAL);
    assert_non_null(strstr(err.message, "Nova accepts at most 65535"));
    assert_ptr_equal(ud, (char *)0x1234);
    free(jit);
}

static void test_microversion(void **state)
{
    int minor = -1;
    osr_error err;
    const char *zed = "{\"version\": {\"id\": \"v2.1\", \"version\": \"2.93\", "
                      "\"min_version\": \"2.1\", \"status\": \"CURRENT\"}}";
    const char *old = "{\"version\": {\"id\": \"v2.1\", \"version\": \"2.42\", "
                      "\"min_version\": \"2.1\"}}";
    const char *ancient = "{\"version\": {\"id\": \"v2.1\", \"version\": \"2.36\", "
                          "\"min_version\": \"2.1\"}}";
    const char *none = "{\"version\": {\"id\": \"v2.0\", \"version\": \"\", "
                       "\"min_version\": \"\"}}";
    (void)state;

    assert_int_equal(osr__nova_pick_microversion(&minor, zed, strlen(zed), &err), 0);
    assert_int_equal(minor, OSR_NOVA_MV_MAX_MINOR);
    assert_int_equal(osr__nova_pick_microversion(&minor, old, strlen(old), &err), 0);
    assert_int_equal(minor, 42); /* never more than the server offers */
    minor = -1;
    assert_int_equal(osr__nova_pick_microversion(&minor, ancient, strlen(ancient), &err),
                     OSR_EPROTO);
    assert_non_null(strstr(err.message, "needs 2.37"));
    assert_int_equal(minor, -1);
    assert_int_equal(osr__nova_pick_microversion(&minor, none, strlen(none), &err), OSR_EPROTO);
    assert_int_equal(osr__nova_pick_microversion(&minor, "[]", 2, &err), OSR_EPROTO);
}

/* Labels: one split (the CLI's --labels) and one join (config.sh's --labels
 * in the user data, the osrunner-labels metadata), inverse of each other. */
static void test_labels_split_join(void **state)
{
    static const char *const texts[] = { "self-hosted", "a,b,c", "a,,b", ",", NULL };
    static const size_t counts[] = { 1, 3, 3, 2 };
    char **v = NULL;
    osr_error err;
    (void)state;

    for (size_t t = 0; texts[t]; t++) {
        osr__buf b = OSR__BUF_INIT;
        size_t n = 0;
        assert_int_equal(osr_runner_labels_split(&v, texts[t], &err), 0);
        while (v[n])
            n++;
        assert_int_equal(n, counts[t]);
        assert_int_equal(osr__runner_labels_join(&b, (const char *const *)v), 0);
        assert_string_equal(b.data, texts[t]);
        osr__buf_free(&b);
        osr_free(v);
    }
    assert_int_equal(osr_runner_labels_split(&v, "a,,b", &err), 0);
    assert_string_equal(v[0], "a");
    assert_string_equal(v[1], "");
    assert_string_equal(v[2], "b");
    osr_free(v);
    /* None: an empty list, which validation refuses by name. */
    assert_int_equal(osr_runner_labels_split(&v, "", &err), 0);
    assert_null(v[0]);
    osr_free(v);
    v = NULL;
    assert_int_equal(osr_runner_labels_split(&v, NULL, &err), 0);
    assert_null(v[0]);
    osr_free(v);
    assert_int_equal(osr_runner_labels_split(NULL, "a", &err), OSR_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_name_check),
        cmocka_unit_test(test_jit_config_check),
        cmocka_unit_test(test_user_data_config_sh),
        cmocka_unit_test(test_user_data_jit_and_ghes),
        cmocka_unit_test(test_user_data_hostile_values_stay_data),
        cmocka_unit_test(test_user_data_size_limit),
        cmocka_unit_test(test_microversion),
        cmocka_unit_test(test_labels_split_join),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
