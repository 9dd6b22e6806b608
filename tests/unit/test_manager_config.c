/* osrunner.yaml: every accessor of a good file, defaults, and a table of bad
 * files, each with its exact "FILE:LINE:COL: KEY.PATH: message". */
#include "osrunner/pool.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static osr_manager_config *parse_ok(const char *text, const char *name)
{
    osr_manager_config *cfg = NULL;
    osr_error err;
    int rc;

    osr_error_clear(&err);
    rc = osr_manager_config_parse(&cfg, text, strlen(text), name, &err);
    if (rc != 0)
        print_error("unexpected error: %s\n", err.message);
    assert_int_equal(rc, 0);
    assert_non_null(cfg);
    return cfg;
}

static const char good[] = "manager: ci-a\n"
                           "github:\n"
                           "  url: https://ghe.example.com/api/v3\n"
                           "  app_id: 12345\n"
                           "  installation_id: 678\n"
                           "  app_key_file: keys/app.pem\n"
                           "pools:\n"
                           "  - name: small\n"
                           "    cloud: prod\n"
                           "    github_path: my-org\n"
                           "    runner_group: ci\n"
                           "    labels: [self-hosted, linux, x64]\n"
                           "    image: github-runner-jammy\n"
                           "    flavor: 2\n"
                           "    network: ci-net\n"
                           "    security_groups: [default, runners]\n"
                           "    key_name: ops\n"
                           "    availability_zone: nova\n"
                           "    config_drive: yes\n"
                           "    http_proxy: http://proxy:3128\n"
                           "    https_proxy: http://proxy:3128\n"
                           "    no_proxy: localhost,.internal\n"
                           "    docker_mirror: https://mirror.internal\n"
                           "    min_idle: 2\n"
                           "    max_runners: 20\n"
                           "    jit: false\n"
                           "    timeouts: {build: 90s, bootstrap: 30m, registration_grace: 300, "
                           "job: 2d}\n"
                           "  - name: big\n"
                           "    cloud: prod\n"
                           "    github_path: my-org/my-repo\n"
                           "    labels: [self-hosted, big]\n"
                           "    image: 6f1b2c3d-0000-4000-8000-000000000001\n"
                           "    flavor: m1.large\n";

static void test_good_file(void **state)
{
    osr_manager_config *cfg = parse_ok(good, "/etc/osrunner/osrunner.yaml");
    const osr_pool_spec *s, *b;
    (void)state;

    assert_string_equal(osr_manager_config_source(cfg), "/etc/osrunner/osrunner.yaml");
    assert_string_equal(osr_manager_config_manager(cfg), "ci-a");
    assert_string_equal(osr_manager_config_github_url(cfg), "https://ghe.example.com/api/v3");
    assert_null(osr_manager_config_github_token_file(cfg));
    assert_int_equal(osr_manager_config_github_app_id(cfg), 12345);
    assert_int_equal(osr_manager_config_github_installation_id(cfg), 678);
    /* relative to the file's directory */
    assert_string_equal(osr_manager_config_github_app_key_file(cfg), "/etc/osrunner/keys/app.pem");
    assert_int_equal(osr_pool_config_count(cfg), 2);
    s = osr_pool_config_at(cfg, 0);
    assert_ptr_equal(osr_pool_config_find(cfg, "small"), s);
    assert_null(osr_pool_config_at(cfg, 2));
    assert_null(osr_pool_config_find(cfg, "SMALL"));
    assert_null(osr_pool_config_find(cfg, NULL));
    assert_string_equal(osr_pool_spec_name(s), "small");
    assert_string_equal(osr_pool_spec_cloud(s), "prod");
    assert_string_equal(osr_pool_spec_github_path(s), "my-org");
    assert_string_equal(osr_pool_spec_runner_group(s), "ci");
    assert_int_equal(osr_pool_spec_label_count(s), 3);
    assert_string_equal(osr_pool_spec_label(s, 0), "self-hosted");
    assert_string_equal(osr_pool_spec_label(s, 2), "x64");
    assert_null(osr_pool_spec_label(s, 3));
    assert_string_equal(osr_pool_spec_image(s), "github-runner-jammy");
    assert_string_equal(osr_pool_spec_flavor(s), "2"); /* an integer keeps its text */
    assert_string_equal(osr_pool_spec_network(s), "ci-net");
    assert_int_equal(osr_pool_spec_security_group_count(s), 2);
    assert_string_equal(osr_pool_spec_security_group(s, 1), "runners");
    assert_null(osr_pool_spec_security_group(s, 2));
    assert_string_equal(osr_pool_spec_key_name(s), "ops");
    assert_string_equal(osr_pool_spec_availability_zone(s), "nova");
    assert_int_equal(osr_pool_spec_config_drive(s), 1);
    assert_string_equal(osr_pool_spec_http_proxy(s), "http://proxy:3128");
    assert_string_equal(osr_pool_spec_https_proxy(s), "http://proxy:3128");
    assert_string_equal(osr_pool_spec_no_proxy(s), "localhost,.internal");
    assert_string_equal(osr_pool_spec_docker_mirror(s), "https://mirror.internal");
    assert_int_equal(osr_pool_spec_min_idle(s), 2);
    assert_int_equal(osr_pool_spec_max_runners(s), 20);
    assert_int_equal(osr_pool_spec_jit(s), 0);
    assert_int_equal(osr_pool_spec_timeout(s, OSR_POOL_TIMEOUT_BUILD), 90);
    assert_int_equal(osr_pool_spec_timeout(s, OSR_POOL_TIMEOUT_BOOTSTRAP), 1800);
    assert_int_equal(osr_pool_spec_timeout(s, OSR_POOL_TIMEOUT_REGISTRATION_GRACE), 300);
    assert_int_equal(osr_pool_spec_timeout(s, OSR_POOL_TIMEOUT_JOB), 2 * 86400);
    assert_int_equal(osr_pool_spec_timeout(s, (osr_pool_timeout)0), -1);
    assert_int_equal(osr_pool_spec_timeout(s, (osr_pool_timeout)5), -1);

    /* the second pool: every default */
    b = osr_pool_config_find(cfg, "big");
    assert_ptr_equal(b, osr_pool_config_at(cfg, 1));
    assert_string_equal(osr_pool_spec_github_path(b), "my-org/my-repo");
    assert_null(osr_pool_spec_runner_group(b));
    assert_null(osr_pool_spec_network(b));
    assert_int_equal(osr_pool_spec_security_group_count(b), 0);
    assert_null(osr_pool_spec_key_name(b));
    assert_null(osr_pool_spec_availability_zone(b));
    assert_null(osr_pool_spec_http_proxy(b));
    assert_null(osr_pool_spec_https_proxy(b));
    assert_null(osr_pool_spec_no_proxy(b));
    assert_null(osr_pool_spec_docker_mirror(b));
    assert_int_equal(osr_pool_spec_config_drive(b), 0);
    assert_int_equal(osr_pool_spec_min_idle(b), 0);
    assert_int_equal(osr_pool_spec_max_runners(b), 10);
    assert_int_equal(osr_pool_spec_jit(b), 1);
    assert_int_equal(osr_pool_spec_timeout(b, OSR_POOL_TIMEOUT_BUILD), 15 * 60);
    assert_int_equal(osr_pool_spec_timeout(b, OSR_POOL_TIMEOUT_BOOTSTRAP), 20 * 60);
    assert_int_equal(osr_pool_spec_timeout(b, OSR_POOL_TIMEOUT_REGISTRATION_GRACE), 120);
    assert_int_equal(osr_pool_spec_timeout(b, OSR_POOL_TIMEOUT_JOB), 6 * 3600);
    osr_manager_config_free(cfg);

    /* NULL handles give NULL, 0 or -1 */
    assert_null(osr_manager_config_manager(NULL));
    assert_int_equal(osr_manager_config_github_app_id(NULL), -1);
    assert_int_equal(osr_pool_config_count(NULL), 0);
    assert_null(osr_pool_config_at(NULL, 0));
    assert_null(osr_pool_spec_name(NULL));
    assert_int_equal(osr_pool_spec_label_count(NULL), 0);
    assert_int_equal(osr_pool_spec_min_idle(NULL), -1);
    assert_int_equal(osr_pool_spec_timeout(NULL, OSR_POOL_TIMEOUT_JOB), -1);
    osr_manager_config_free(NULL);
}

static void test_token_file_and_defaults(void **state)
{
    osr_manager_config *cfg = parse_ok("manager: m\n"
                                       "github: {token_file: gh.token}\n"
                                       "pools: [{name: p, cloud: c, github_path: o/r, labels: [x],"
                                       " image: i, flavor: f, timeouts: {job: 60m}}]\n",
                                       "osrunner.yaml");
    const osr_pool_spec *p = osr_pool_config_at(cfg, 0);
    (void)state;

    assert_string_equal(osr_manager_config_github_url(cfg), "https://api.github.com");
    /* no directory in the name: the path stays as written */
    assert_string_equal(osr_manager_config_github_token_file(cfg), "gh.token");
    assert_int_equal(osr_manager_config_github_app_id(cfg), -1);
    assert_int_equal(osr_manager_config_github_installation_id(cfg), -1);
    assert_null(osr_manager_config_github_app_key_file(cfg));
    assert_int_equal(osr_pool_spec_timeout(p, OSR_POOL_TIMEOUT_JOB), 3600);
    assert_int_equal(osr_pool_spec_timeout(p, OSR_POOL_TIMEOUT_BUILD), 900);
    osr_manager_config_free(cfg);
    /* a file in / */
    cfg = parse_ok(
        "manager: m\n"
        "github: {token_file: gh.token}\n"
        "pools: [{name: p, cloud: c, github_path: o/r, labels: [x], image: i, flavor: f}]\n",
        "/osrunner.yaml");
    assert_string_equal(osr_manager_config_github_token_file(cfg), "/gh.token");
    osr_manager_config_free(cfg);
}

/* A valid head; each bad case appends its own pools (or replaces all). */
#define HEAD   "manager: ci-a\ngithub:\n  token_file: /t\n"
#define POOL   "  - name: small\n    cloud: prod\n    github_path: o/r\n    labels: [a]\n"
#define POOL_E "    image: img\n    flavor: f\n"

static const struct bad_case {
    const char *text;
    const char *message;
} bad_cases[] = {
    /* the shape */
    { "", "osrunner.yaml:1:1: empty file; expected manager, github and pools" },
    { "- a\n",
      "osrunner.yaml:1:1: expected a mapping with manager, github and pools, found a list" },
    { "github: {token_file: /t}\npools: []\n", "osrunner.yaml:1:1: missing 'manager'" },
    { "manager: m\npools: []\n", "osrunner.yaml:1:1: missing 'github'" },
    { HEAD, "osrunner.yaml:1:1: missing 'pools'" },
    { HEAD "pools: []\n", "osrunner.yaml:4:8: pools: defines no pool" },
    { HEAD "pools: {small: {}}\n",
      "osrunner.yaml:4:8: pools: expected a list of pools, found a mapping" },
    { HEAD "pools:\n  - small\n",
      "osrunner.yaml:5:5: pools[0]: expected a mapping, found a string" },
    { HEAD "pool: []\n", "osrunner.yaml:4:1: unknown key 'pool' (did you mean 'pools'?)" },
    { HEAD "colour: red\npools: []\n", "osrunner.yaml:4:1: unknown key 'colour'" },
    { "manager: m\nmanager: n\n",
      "osrunner.yaml:2:1: duplicate key 'manager'; first defined at line 1" },
    /* manager */
    { "manager: CI A\n", "osrunner.yaml:1:10: manager: 'CI A' is not a manager id: use 1 to 32 of "
                         "a-z 0-9 - _ . starting with a letter or digit" },
    { "manager: [a]\n", "osrunner.yaml:1:10: manager: expected a string, found a list" },
    { "manager:\n", "osrunner.yaml:1:9: manager: no value" },
    { "manager: yes\n", "osrunner.yaml:1:10: manager: read as the YAML boolean yes; quote it if "
                        "you mean the string" },
    /* github and its credentials */
    { "manager: m\ngithub: x\n", "osrunner.yaml:2:9: github: expected a mapping, found a string" },
    { "manager: m\ngithub:\n  token: ghp_secretsecret\n",
      "osrunner.yaml:3:3: github.token: inline credentials are refused; put the token in a file "
      "(mode 0600) and name it with token_file" },
    { "manager: m\ngithub:\n  app_key: '-----BEGIN'\n",
      "osrunner.yaml:3:3: github.app_key: inline credentials are refused; put the App's private "
      "key in a PEM file (mode 0600) and name it with app_key_file" },
    { "manager: m\ngithub:\n  token_flie: /t\n",
      "osrunner.yaml:3:3: github: unknown key 'token_flie' (did you mean 'token_file'?)" },
    { "manager: m\ngithub:\n  url: https://x\n", "osrunner.yaml:3:3: github: missing 'token_file' "
                                                 "(or app_id, installation_id and app_key_file)" },
    { "manager: m\ngithub:\n  token_file: /t\n  app_id: 1\n",
      "osrunner.yaml:4:11: github: both token_file and a GitHub App given; use one: token_file, or "
      "app_id, installation_id and app_key_file" },
    { "manager: m\ngithub:\n  app_id: 1\n  app_key_file: /k\n",
      "osrunner.yaml:3:3: github: missing 'installation_id' (a GitHub App needs app_id, "
      "installation_id and app_key_file)" },
    { "manager: m\ngithub:\n  app_id: '12'\n  installation_id: 3\n  app_key_file: /k\n",
      "osrunner.yaml:3:11: github.app_id: \"12\" is a quoted string, not an integer; write it "
      "without quotes" },
    { "manager: m\ngithub:\n  app_id: -4\n  installation_id: 3\n  app_key_file: /k\n",
      "osrunner.yaml:3:11: github.app_id: must not be negative (found -4)" },
    { "manager: m\ngithub:\n  url: ftp://x\n  token_file: /t\n",
      "osrunner.yaml:3:8: github.url: 'ftp://x' is not an http:// or https:// URL" },
    /* a pool's required keys, unknown keys, types */
    { HEAD "pools:\n  - cloud: prod\n", "osrunner.yaml:5:5: pools[0]: missing 'name'" },
    { HEAD "pools:\n" POOL "    image: img\n", "osrunner.yaml:5:5: pools[0]: missing 'flavor'" },
    { HEAD "pools:\n" POOL "    flavor: f\n", "osrunner.yaml:5:5: pools[0]: missing 'image'" },
    { HEAD "pools:\n  - name: small\n    cloud: prod\n    github_path: o/r\n" POOL_E,
      "osrunner.yaml:5:5: pools[0]: missing 'labels'" },
    { HEAD "pools:\n  - name: small\n    github_path: o/r\n",
      "osrunner.yaml:5:5: pools[0]: missing 'cloud'" },
    { HEAD "pools:\n  - name: small\n    cloud: c\n",
      "osrunner.yaml:5:5: pools[0]: missing 'github_path'" },
    { HEAD "pools:\n" POOL POOL_E "    min_idel: 2\n",
      "osrunner.yaml:11:5: pools[0]: unknown key 'min_idel' (did you mean 'min_idle'?)" },
    { HEAD "pools:\n" POOL POOL_E "    token: x\n",
      "osrunner.yaml:11:5: pools[0]: unknown key 'token'" },
    { HEAD "pools:\n  - name: small\n    cloud: prod\n    github_path: o/r\n    labels: "
           "self-hosted\n" POOL_E,
      "osrunner.yaml:8:13: pools[0].labels: expected a list of strings, found a string (write "
      "[a])" },
    { HEAD "pools:\n  - name: small\n    cloud: prod\n    github_path: o/r\n    labels: "
           "self-hosted,linux\n" POOL_E,
      "osrunner.yaml:8:13: pools[0].labels: expected a list of strings, found a string (write [a, "
      "b])" },
    { HEAD
      "pools:\n  - name: small\n    cloud: prod\n    github_path: o/r\n    labels: []\n" POOL_E,
      "osrunner.yaml:8:13: pools[0].labels: must not be empty" },
    { HEAD "pools:\n  - name: small\n    cloud: prod\n    github_path: o/r\n    labels: [a, {b: "
           "c}]\n" POOL_E,
      "osrunner.yaml:8:17: pools[0].labels[1]: expected a string, found a mapping" },
    { HEAD
      "pools:\n  - name: small\n    cloud: prod\n    github_path: o/r\n    labels: [a, A]\n" POOL_E,
      "osrunner.yaml:8:17: pools[0].labels[1]: 'A' is given twice (labels ignore case)" },
    { HEAD "pools:\n  - name: small\n    cloud: prod\n    github_path: o/r\n    labels: "
           "[osrunner-manager-x]\n" POOL_E,
      "osrunner.yaml:8:14: pools[0].labels[0]: 'osrunner-manager-x' is reserved: osrunner adds its "
      "ownership label osrunner-manager-MANAGER itself" },
    { HEAD "pools:\n" POOL POOL_E "    min_idle: two\n",
      "osrunner.yaml:11:15: pools[0].min_idle: expected a non-negative integer, found a string" },
    { HEAD "pools:\n" POOL POOL_E "    min_idle: 1.5\n",
      "osrunner.yaml:11:15: pools[0].min_idle: expected a non-negative integer, found a float" },
    { HEAD "pools:\n" POOL POOL_E "    min_idle: -1\n",
      "osrunner.yaml:11:15: pools[0].min_idle: must not be negative (found -1)" },
    { HEAD "pools:\n" POOL POOL_E "    max_runners: 100000\n",
      "osrunner.yaml:11:18: pools[0].max_runners: 100000 is too large (at most 10000)" },
    { HEAD "pools:\n" POOL POOL_E "    min_idle: 5\n    max_runners: 3\n",
      "osrunner.yaml:11:15: pools[0].min_idle: 5 is more than max_runners (3, line 12)" },
    { HEAD "pools:\n" POOL POOL_E "    min_idle: 11\n",
      "osrunner.yaml:11:15: pools[0].min_idle: 11 is more than max_runners (the default 10)" },
    { HEAD "pools:\n" POOL POOL_E "    jit: 'no'\n",
      "osrunner.yaml:11:10: pools[0].jit: \"no\" is a quoted string, not a boolean; write it "
      "without quotes" },
    { HEAD "pools:\n" POOL POOL_E "    config_drive: 1\n",
      "osrunner.yaml:11:19: pools[0].config_drive: expected a boolean (true or false), found an "
      "integer" },
    { HEAD "pools:\n" POOL POOL_E "    security_groups: default\n",
      "osrunner.yaml:11:22: pools[0].security_groups: expected a list of strings, found a string "
      "(write [a])" },
    { HEAD "pools:\n" POOL POOL_E "    http_proxy: proxy:3128\n",
      "osrunner.yaml:11:17: pools[0].http_proxy: 'proxy:3128' is not an http:// or https:// URL" },
    { HEAD "pools:\n" POOL POOL_E "    network: ''\n",
      "osrunner.yaml:11:14: pools[0].network: must not be empty" },
    /* names */
    { HEAD "pools:\n  - name: 'a b'\n",
      "osrunner.yaml:5:11: pools[0].name: 'a b' cannot prefix a runner name: use 1 to 48 of A-Z "
      "a-z 0-9 - _ . starting with a letter or digit (runners are named NAME-SUFFIX, at most 64)" },
    { HEAD "pools:\n  - name: -x\n",
      "osrunner.yaml:5:11: pools[0].name: '-x' cannot prefix a runner name: use 1 to 48 of A-Z a-z "
      "0-9 - _ . starting with a letter or digit (runners are named NAME-SUFFIX, at most 64)" },
    { HEAD "pools:\n  - name: a234567890123456789012345678901234567890123456789\n",
      "osrunner.yaml:5:11: pools[0].name: 'a234567890123456789012345678901234567890123456789' "
      "cannot prefix a runner name: use 1 to 48 of A-Z a-z 0-9 - _ . starting with a letter or "
      "digit (runners are named NAME-SUFFIX, at most 64)" },
    { HEAD "pools:\n" POOL POOL_E POOL POOL_E, "osrunner.yaml:11:11: pools[1].name: duplicate pool "
                                               "name 'small' (also at line 5, column 11)" },
    { HEAD "pools:\n" POOL POOL_E
           "  - name: Small\n    cloud: prod\n    github_path: o/r\n    labels: [a]\n" POOL_E,
      "osrunner.yaml:11:11: pools[1].name: duplicate pool name 'Small' (also at line 5, column "
      "11)" },
    { HEAD "pools:\n  - name: small\n    cloud: prod\n    github_path: a/b/c\n",
      "osrunner.yaml:7:18: pools[0].github_path: 'a/b/c' is neither OWNER/REPO nor ORG" },
    { HEAD "pools:\n  - name: small\n    cloud: prod\n    github_path: o/r\n    runner_group: ci\n",
      "osrunner.yaml:8:19: pools[0].runner_group: runner groups belong to organisations; "
      "github_path 'o/r' is a repository" },
    /* timeouts */
    { HEAD "pools:\n" POOL POOL_E "    timeouts: 15m\n",
      "osrunner.yaml:11:15: pools[0].timeouts: expected a mapping, found a string" },
    { HEAD "pools:\n" POOL POOL_E "    timeouts: {biuld: 1m}\n",
      "osrunner.yaml:11:16: pools[0].timeouts: unknown key 'biuld' (did you mean 'build'?)" },
    { HEAD "pools:\n" POOL POOL_E "    timeouts: {build: 15x}\n",
      "osrunner.yaml:11:23: pools[0].timeouts.build: not a duration: '15x' (write 90s, 15m, 6h, 2d "
      "or a number of seconds)" },
    { HEAD "pools:\n" POOL POOL_E "    timeouts: {job: 0}\n",
      "osrunner.yaml:11:21: pools[0].timeouts.job: must be longer than 0" },
    { HEAD "pools:\n" POOL POOL_E "    timeouts: {job: -5}\n",
      "osrunner.yaml:11:21: pools[0].timeouts.job: must not be negative (found -5)" },
    { HEAD "pools:\n" POOL POOL_E "    timeouts: {job: 91d}\n",
      "osrunner.yaml:11:21: pools[0].timeouts.job: 91d is too long (at most 90d)" },
    { HEAD "pools:\n" POOL POOL_E "    timeouts: {job: 99999999999999999999999h}\n",
      "osrunner.yaml:11:21: pools[0].timeouts.job: 99999999999999999999999h is too long (at most "
      "90d)" },
    { HEAD "pools:\n" POOL POOL_E "    timeouts: {job: 99999999999999999999999}\n",
      "osrunner.yaml:11:21: pools[0].timeouts.job: 99999999999999999999999 is too large (at most "
      "7776000)" },
    { HEAD "pools:\n" POOL POOL_E "    timeouts: {bootstrap: [1]}\n",
      "osrunner.yaml:11:27: pools[0].timeouts.bootstrap: expected a duration (90s, 15m, 6h, 2d or "
      "seconds), found a list" },
    /* osrunnerd's sections */
    { HEAD "pools:\n" POOL POOL_E "metrics: {listen: 'localhost:80'}\n",
      "osrunner.yaml:11:19: metrics.listen: 'localhost:80' is not ADDR:PORT "
      "(127.0.0.1:9464, [::1]:9464, :9464)" },
    { HEAD "pools:\n" POOL POOL_E "metrics: {listen: '1.2.3.4:70000'}\n",
      "osrunner.yaml:11:19: metrics.listen: '1.2.3.4:70000' is not ADDR:PORT "
      "(127.0.0.1:9464, [::1]:9464, :9464)" },
    { HEAD "pools:\n" POOL POOL_E "metrics: {port: 1}\n",
      "osrunner.yaml:11:11: metrics: unknown key 'port'" },
    { HEAD "pools:\n" POOL POOL_E "metrics: 5\n",
      "osrunner.yaml:11:10: metrics: expected a mapping, found an integer" },
    { HEAD "pools:\n" POOL POOL_E "webhook: {listen: ':8080'}\n",
      "osrunner.yaml:11:10: webhook: missing 'secret_file': a webhook is only taken with its "
      "secret" },
    { HEAD "pools:\n" POOL POOL_E "webhook: {secret: x, secret_file: /s}\n",
      "osrunner.yaml:11:11: webhook.secret: inline credentials are refused; put the webhook "
      "secret in a file (mode 0600) and name it with secret_file" },
};

static void test_bad_files(void **state)
{
    size_t failures = 0;
    (void)state;
    /* Every row is checked and every mismatch printed before the verdict. */
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        osr_manager_config *cfg = (osr_manager_config *)0x1234;
        osr_error err;
        int rc;

        osr_error_clear(&err);
        rc = osr_manager_config_parse(&cfg, bad_cases[i].text, strlen(bad_cases[i].text),
                                      "osrunner.yaml", &err);
        if (rc != OSR_ECONFIG || strcmp(err.message, bad_cases[i].message) != 0 ||
            cfg != (osr_manager_config *)0x1234 || strchr(err.message, '\n') != NULL ||
            strstr(err.message, "ghp_secret") != NULL) {
            print_error("case %zu: rc %d\n got: %s\nwant: %s\n", i, rc, err.message,
                        bad_cases[i].message);
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

static void test_daemon_sections(void **state)
{
    osr_manager_config *cfg = parse_ok("manager: m\n"
                                       "github: {token_file: gh.token}\n"
                                       "pools: [{name: p, cloud: c, github_path: o/r, labels: [x],"
                                       " image: i, flavor: f}]\n"
                                       "metrics: {listen: 127.0.0.1:9464}\n"
                                       "webhook: {listen: '[::]:8443', secret_file: hook.secret}\n",
                                       "/etc/osrunner/osrunner.yaml");
    (void)state;
    assert_string_equal(osr_manager_config_metrics_listen(cfg), "127.0.0.1:9464");
    assert_string_equal(osr_manager_config_webhook_listen(cfg), "[::]:8443");
    assert_string_equal(osr_manager_config_webhook_secret_file(cfg), "/etc/osrunner/hook.secret");
    osr_manager_config_free(cfg);
    cfg = parse_ok(
        "manager: m\n"
        "github: {token_file: gh.token}\n"
        "pools: [{name: p, cloud: c, github_path: o/r, labels: [x], image: i, flavor: f}]\n"
        "metrics: {listen: ':9464'}\n"
        "webhook: {secret_file: /s}\n",
        "osrunner.yaml");
    assert_string_equal(osr_manager_config_metrics_listen(cfg), ":9464");
    assert_null(osr_manager_config_webhook_listen(cfg));
    assert_string_equal(osr_manager_config_webhook_secret_file(cfg), "/s");
    osr_manager_config_free(cfg);
    cfg = parse_ok(good, "osrunner.yaml");
    assert_null(osr_manager_config_metrics_listen(cfg));
    assert_null(osr_manager_config_webhook_listen(cfg));
    assert_null(osr_manager_config_webhook_secret_file(cfg));
    assert_null(osr_manager_config_metrics_listen(NULL));
    osr_manager_config_free(cfg);
}

static void test_load(void **state)
{
    char dir[] = "/tmp/osr-mcfg.XXXXXX", path[64];
    osr_manager_config *cfg = NULL;
    osr_error err;
    FILE *f;
    (void)state;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/osrunner.yaml", dir);
    osr_error_clear(&err);
    assert_int_equal(osr_manager_config_load(&cfg, path, &err), OSR_ENOTFOUND);
    assert_null(cfg);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(good, f);
    fclose(f);
    assert_int_equal(osr_manager_config_load(&cfg, path, &err), 0);
    assert_string_equal(osr_manager_config_source(cfg), path);
    {
        char want[96];
        snprintf(want, sizeof(want), "%s/keys/app.pem", dir);
        assert_string_equal(osr_manager_config_github_app_key_file(cfg), want);
    }
    osr_manager_config_free(cfg);
    assert_int_equal(osr_manager_config_load(NULL, path, &err), OSR_EINVAL);
    assert_int_equal(osr_manager_config_parse(&cfg, NULL, 0, "x", &err), OSR_EINVAL);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_file), cmocka_unit_test(test_token_file_and_defaults),
        cmocka_unit_test(test_bad_files), cmocka_unit_test(test_daemon_sections),
        cmocka_unit_test(test_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
