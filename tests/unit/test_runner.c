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

extern const unsigned char osr__runner_service_sh[];
extern const unsigned char osr__runner_unit[];

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

/* A write_files entry's field ("owner", "permissions", "defer"...). */
static json_t *file_field(json_t *doc, const char *path, const char *field)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(doc, "write_files"), i, f)
    {
        if (strcmp(json_string_value(json_object_get(f, "path")), path) == 0)
            return json_object_get(f, field);
    }
    fail_msg("no file %s", path);
    return NULL;
}

#define CONF   "/etc/osrunner/runner.conf"
#define SECRET "/run/osrunner/runner.secret"
#define SCRIPT "/usr/local/lib/osrunner/runner-service"
#define UNIT   "/etc/systemd/system/osrunner-runner.service"
#define ENVF   "/home/ubuntu/actions-runner/.env"

/* The runcmd is the same in both modes: queue the runner's unit, no more. */
static void assert_runcmd_starts_unit(json_t *doc, size_t first)
{
    json_t *rc = json_object_get(doc, "runcmd");
    assert_int_equal(json_array_size(rc), first + 2);
    assert_string_equal(json_string_value(json_array_get(json_array_get(rc, first), 1)),
                        "daemon-reload");
    {
        json_t *start = json_array_get(rc, first + 1);
        const char *want[] = { "systemctl", "start", "--no-block", "osrunner-runner.service" };
        assert_int_equal(json_array_size(start), 4);
        for (size_t i = 0; i < 4; i++)
            assert_string_equal(json_string_value(json_array_get(start, i)), want[i]);
    }
    /* Every runcmd entry is exec form: nothing for a shell to parse. */
    for (size_t i = 0; i < json_array_size(rc); i++)
        assert_true(json_is_array(json_array_get(rc, i)));
}

/* Run cloud-init's schema check when Debian's cloud-init is installed. */
static void assert_cloud_init_accepts(const char *ud)
{
    char path[] = "/tmp/osr-ud-XXXXXX";
    char cmd[256], out[4096] = "";
    FILE *p;
    size_t n;
    int fd, rc;

    if (access("/usr/bin/cloud-init", X_OK) != 0)
        return;
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, ud, strlen(ud)), (ssize_t)strlen(ud));
    close(fd);
    snprintf(cmd, sizeof(cmd), "/usr/bin/python3 /usr/bin/cloud-init schema --config-file %s 2>&1",
             path);
    p = popen(cmd, "r");
    assert_non_null(p);
    n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    rc = pclose(p);
    unlink(path);
    if (rc != 0 || strstr(out, "Valid cloud-config") == NULL)
        fail_msg("cloud-init schema rejected the user data: %s", out);
}

static void test_user_data_token_mode(void **state)
{
    osr_instance_config c = good();
    char *ud = NULL;
    json_t *doc;
    osr_error err;
    (void)state;

    assert_int_equal(osr_instance_user_data(&ud, &c, 1, &err), 0);
    doc = parse_ud(ud);
    /* The settings: data the service reads line by line; no secret. */
    assert_string_equal(file_content(doc, CONF), "mode=token\n"
                                                 "url=https://github.com/octo-org/octo-repo\n"
                                                 "name=runner-1\n"
                                                 "labels=self-hosted,linux,x64\n"
                                                 "user=ubuntu\n"
                                                 "dir=/home/ubuntu/actions-runner\n");
    assert_string_equal(json_string_value(file_field(doc, CONF, "owner")), "root:root");
    assert_string_equal(json_string_value(file_field(doc, CONF, "permissions")), "0644");
    /* The token: a root-only file on tmpfs, never an argument. */
    assert_string_equal(file_content(doc, SECRET), "AABBCCDDEEFF0011");
    assert_string_equal(json_string_value(file_field(doc, SECRET, "owner")), "root:root");
    assert_string_equal(json_string_value(file_field(doc, SECRET, "permissions")), "0600");
    {
        char *rc = json_dumps(json_object_get(doc, "runcmd"), 0);
        assert_null(strstr(rc, "AABBCCDDEEFF0011"));
        assert_null(strstr(rc, "sudo"));
        free(rc);
    }
    /* The service and its unit are the fixed files of data/, byte for byte. */
    assert_string_equal(file_content(doc, SCRIPT), (const char *)osr__runner_service_sh);
    assert_string_equal(json_string_value(file_field(doc, SCRIPT, "permissions")), "0755");
    assert_string_equal(file_content(doc, UNIT), (const char *)osr__runner_unit);
    assert_runcmd_starts_unit(doc, 0);
    /* No proxy set: no proxy line anywhere, no empty assignment. */
    assert_string_equal(file_content(doc, ENVF), "LANG=C.UTF-8\n");
    assert_true(json_is_true(file_field(doc, ENVF, "defer")));
    assert_null(file_content(doc, "/etc/docker/daemon.json"));
    assert_null(strstr(ud, "config.sh --token"));
    assert_cloud_init_accepts(ud);
    json_decref(doc);
    osr_free(ud);

    /* Masked unless revealed. */
    assert_int_equal(osr_instance_user_data(&ud, &c, 0, &err), 0);
    assert_null(strstr(ud, "AABBCCDDEEFF0011"));
    doc = parse_ud(ud);
    assert_string_equal(file_content(doc, SECRET), "****");
    json_decref(doc);
    osr_free(ud);
}

/* The unit: started after cloud-init is done, powers off however it ends;
 * the script: the secret only through the runner's environment variables. */
static void test_user_data_service_contract(void **state)
{
    const char *unit = (const char *)osr__runner_unit;
    const char *sh = (const char *)osr__runner_service_sh;
    (void)state;

    assert_non_null(strstr(unit, "\nAfter=cloud-final.service"));
    assert_non_null(strstr(unit, "\nSuccessAction=poweroff\n"));
    assert_non_null(strstr(unit, "\nFailureAction=poweroff\n"));
    assert_non_null(strstr(unit, "\nStandardOutput=journal\n"));
    assert_null(strstr(unit, "Restart="));
    assert_non_null(strstr(sh, "ACTIONS_RUNNER_INPUT_TOKEN=$secret \"${drop[@]}\" ./config.sh"));
    assert_non_null(strstr(sh, "ACTIONS_RUNNER_INPUT_JITCONFIG=$secret \"${drop[@]}\" ./run.sh"));
    assert_non_null(strstr(sh, "rm -f -- \"$secret_file\""));
    assert_null(strstr(sh, "sudo -"));
    assert_null(strstr(sh, "\nsudo"));
    assert_null(strstr(sh, "--token"));
    assert_null(strstr(sh, "--jitconfig"));
    assert_null(strstr(sh, "eval "));
    /* Status lines for the console, as docs/runner-vm.md lists them. */
    assert_non_null(strstr(sh, "say registered"));
    assert_non_null(strstr(sh, "registration-failed \"exit=$rc\""));
    assert_non_null(strstr(sh, "say job-started"));
    assert_non_null(strstr(sh, "finished \"exit=$rc\""));
    assert_non_null(strstr(sh, "say poweroff"));
}

static void test_user_data_jit_and_ghes(void **state)
{
    osr_instance_config c = good();
    char *ud = NULL;
    json_t *doc;
    osr_error err;
    (void)state;

    c.registration_token = NULL;
    c.jit_config = "eyJqaXQiOiJjb25maWcifQ==";
    assert_int_equal(osr_instance_user_data(&ud, &c, 1, &err), 0);
    doc = parse_ud(ud);
    assert_non_null(strstr(file_content(doc, CONF), "mode=jit\n"));
    assert_string_equal(file_content(doc, SECRET), "eyJqaXQiOiJjb25maWcifQ==");
    /* The JIT config appears once: in the secret file. */
    assert_null(strstr(strstr(ud, "eyJqaXQiOiJjb25maWcifQ==") + 1, "eyJqaXQiOiJjb25maWcifQ=="));
    assert_runcmd_starts_unit(doc, 0);
    assert_cloud_init_accepts(ud);
    json_decref(doc);
    osr_free(ud);

    c = good();
    c.github_url = "https://ghes.example.com";
    c.github_path = "org";
    assert_int_equal(osr_instance_user_data(&ud, &c, 1, &err), 0);
    doc = parse_ud(ud);
    assert_non_null(strstr(file_content(doc, CONF), "\nurl=https://ghes.example.com/org\n"));
    json_decref(doc);
    osr_free(ud);
}

/* --http-proxy alone: HTTPS uses it too, and NO_PROXY covers localhost, the
 * loopback address and the metadata service, then the user's additions. */
static void test_user_data_proxy_defaults(void **state)
{
    osr_instance_config c = good();
    char *ud = NULL;
    json_t *doc;
    osr_error err;
    (void)state;

    c.http_proxy = "http://proxy:3128";
    assert_int_equal(osr_instance_user_data(&ud, &c, 1, &err), 0);
    doc = parse_ud(ud);
    assert_string_equal(file_content(doc, ENVF), "http_proxy=http://proxy:3128\n"
                                                 "HTTP_PROXY=http://proxy:3128\n"
                                                 "https_proxy=http://proxy:3128\n"
                                                 "HTTPS_PROXY=http://proxy:3128\n"
                                                 "no_proxy=localhost,127.0.0.1,169.254.169.254\n"
                                                 "NO_PROXY=localhost,127.0.0.1,169.254.169.254\n"
                                                 "LANG=C.UTF-8\n");
    assert_non_null(strstr(file_content(doc, CONF),
                           "\nhttp_proxy=http://proxy:3128\n"
                           "https_proxy=http://proxy:3128\n"
                           "no_proxy=localhost,127.0.0.1,169.254.169.254\n"));
    json_decref(doc);
    osr_free(ud);

    /* A separate HTTPS proxy wins; the user's list is merged, not doubled. */
    c.https_proxy = "http://tls-proxy:3129";
    c.no_proxy = "10.0.2.2, localhost,.corp.example,,169.254.169.254";
    assert_int_equal(osr_instance_user_data(&ud, &c, 1, &err), 0);
    doc = parse_ud(ud);
    assert_non_null(strstr(file_content(doc, ENVF), "\nHTTPS_PROXY=http://tls-proxy:3129\n"));
    assert_non_null(
        strstr(file_content(doc, ENVF),
               "\nNO_PROXY=localhost,127.0.0.1,169.254.169.254,10.0.2.2,.corp.example\n"));
    json_decref(doc);
    osr_free(ud);

    /* No proxy at all: nothing proxy-related is written. */
    c = good();
    assert_int_equal(osr_instance_user_data(&ud, &c, 1, &err), 0);
    doc = parse_ud(ud);
    assert_null(strstr(file_content(doc, CONF), "proxy"));
    assert_null(strstr(file_content(doc, ENVF), "proxy"));
    json_decref(doc);
    osr_free(ud);
}

static void test_user_data_hostile_values_stay_data(void **state)
{
    static const char *const hostile_labels[] = { "$(reboot)", "`id`", "a'b\"c", "x;rm -rf /",
                                                  "\\\\n",     "ünï",  NULL };
    osr_instance_config c = good();
    char *ud = NULL;
    json_t *doc;
    osr_error err;
    (void)state;

    c.labels = hostile_labels;
    c.http_proxy = "http://u:p@proxy:3128/$(reboot)";
    c.https_proxy = "https://proxy:3128/`id`";
    c.no_proxy = ".corp;echo pwned,'q'";
    c.docker_mirror = "https://mirror.example/\"}";
    assert_int_equal(osr_instance_user_data(&ud, &c, 1, &err), 0);
    doc = parse_ud(ud);
    /* docker picks up the mirror before the runner starts */
    assert_string_equal(
        json_string_value(json_array_get(json_array_get(json_object_get(doc, "runcmd"), 0), 1)),
        "restart");
    assert_runcmd_starts_unit(doc, 1);
    /* The labels arrive as one line of data, byte for byte; the script,
     * fixed text, reads it with read -r and passes it as one argument. */
    assert_non_null(
        strstr(file_content(doc, CONF), "\nlabels=$(reboot),`id`,a'b\"c,x;rm -rf /,\\\\n,ünï\n"));
    assert_string_equal(file_content(doc, SCRIPT), (const char *)osr__runner_service_sh);
    assert_null(strstr(file_content(doc, SCRIPT), "reboot"));
    assert_string_equal(file_content(doc, ENVF),
                        "http_proxy=http://u:p@proxy:3128/$(reboot)\n"
                        "HTTP_PROXY=http://u:p@proxy:3128/$(reboot)\n"
                        "https_proxy=https://proxy:3128/`id`\n"
                        "HTTPS_PROXY=https://proxy:3128/`id`\n"
                        "no_proxy=localhost,127.0.0.1,169.254.169.254,.corp;echo pwned,'q'\n"
                        "NO_PROXY=localhost,127.0.0.1,169.254.169.254,.corp;echo pwned,'q'\n"
                        "LANG=C.UTF-8\n");
    {
        json_t *daemon = json_loads(file_content(doc, "/etc/docker/daemon.json"), 0, NULL);
        assert_string_equal(
            json_string_value(json_array_get(json_object_get(daemon, "registry-mirrors"), 0)),
            "https://mirror.example/\"}");
        json_decref(daemon);
    }
    json_decref(doc);
    assert_cloud_init_accepts(ud);
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
        cmocka_unit_test(test_user_data_token_mode),
        cmocka_unit_test(test_user_data_service_contract),
        cmocka_unit_test(test_user_data_jit_and_ghes),
        cmocka_unit_test(test_user_data_proxy_defaults),
        cmocka_unit_test(test_user_data_hostile_values_stay_data),
        cmocka_unit_test(test_user_data_size_limit),
        cmocka_unit_test(test_microversion),
        cmocka_unit_test(test_labels_split_join),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
