/* clouds.yaml: validation messages, selection, search order, secure.yaml,
 * the environment cloud, masking and atomic writes. */
#include "osrunner/clouds.h"
#include "osrunner/session.h"

#include "keystone.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define SENTINEL ((osr_cloud *)0x1234)

/* A valid password cloud, to break one piece at a time. */
#define AUTH_OK                                              \
    "      auth_url: https://keystone.example.com:5000/v3\n" \
    "      username: alice\n"                                \
    "      password: s3cret\n"                               \
    "      project_name: demo\n"

#define CLOUD_OK "clouds:\n  c:\n    auth:\n" AUTH_OK

/* ---- helpers --------------------------------------------------------------------------- */

static char *make_tempdir(void)
{
    const char *base = getenv("TMPDIR");
    char *p = osr__sprintf("%s/osr-clouds-XXXXXX", base && *base ? base : "/tmp");
    assert_non_null(p);
    assert_non_null(mkdtemp(p));
    return p;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_tree(char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

static char *write_file(const char *dir, const char *name, const char *text)
{
    char *path = osr__sprintf("%s/%s", dir, name);
    FILE *f;

    assert_non_null(path);
    f = fopen(path, "we");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
    return path;
}

static char *read_all(const char *path)
{
    osr__buf b = OSR__BUF_INIT;
    char chunk[4096];
    size_t n;
    FILE *f = fopen(path, "re");

    assert_non_null(f);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        assert_int_equal(osr__buf_append(&b, chunk, n), 0);
    fclose(f);
    return osr__buf_detach(&b);
}

/* Load with an explicit env (never the process's) and search dirs. */
static int load(osr_cloud **out,
                osr_error *err,
                const char *config_file,
                const char *cloud_name,
                const char *const *env,
                const char *const *dirs)
{
    static const char *const no_env[] = { NULL };
    osr_cloud_options opts = OSR_CLOUD_OPTIONS_INIT;

    opts.config_file = config_file;
    opts.cloud_name = cloud_name;
    opts.env = env ? env : no_env;
    opts.search_dirs = dirs;
    osr_error_clear(err);
    return osr_cloud_load(out, &opts, err);
}

/* Load text as the only clouds file, nothing else around. */
static osr_cloud *load_text(const char *text, const char *name, const char *cloud_name)
{
    char *dir = make_tempdir(), *path = write_file(dir, name, text);
    const char *dirs[] = { dir, NULL };
    osr_cloud *c = NULL;
    osr_error err;
    int rc = load(&c, &err, NULL, cloud_name, NULL, dirs);

    if (rc != 0)
        print_error("%s\n", err.message);
    assert_int_equal(rc, 0);
    assert_non_null(c);
    assert_string_equal(osr_cloud_source(c), path);
    free(path);
    rm_tree(dir);
    return c;
}

/* ---- invalid files --------------------------------------------------------------------- */

static const struct invalid_case {
    const char *text;
    const char *message; /* exact */
    int code;
    const char *source; /* NULL: clouds.yaml */
} invalid_cases[] = {
    /* 1: the top */
    { "", "clouds.yaml:1:1: the file is empty; expected a mapping with 'clouds'", OSR_ECONFIG,
      NULL },
    { "# nothing here\n", "clouds.yaml:1:1: the file is empty; expected a mapping with 'clouds'",
      OSR_ECONFIG, NULL },
    { "hello\n", "clouds.yaml:1:1: expected a mapping with 'clouds' at the top, found a string",
      OSR_ECONFIG, NULL },
    { "- a\n- b\n",
      "clouds.yaml:1:1: expected a mapping with 'clouds' at the top, found a sequence", OSR_ECONFIG,
      NULL },
    { "# x\nclods:\n  c: {}\n", "clouds.yaml:2:1: missing 'clouds'", OSR_ECONFIG, NULL },
    { "clouds:\n", "clouds.yaml:1:8: 'clouds' defines no cloud", OSR_ECONFIG, NULL },
    { "clouds: {}\n", "clouds.yaml:1:9: 'clouds' defines no cloud", OSR_ECONFIG, NULL },
    { "clouds:\n  - c\n",
      "clouds.yaml:2:3: 'clouds' must be a mapping of cloud names, found a sequence", OSR_ECONFIG,
      NULL },
    { "clouds: mycloud\n",
      "clouds.yaml:1:9: 'clouds' must be a mapping of cloud names, found a string", OSR_ECONFIG,
      NULL },
    /* 10: a cloud */
    { "clouds:\n  c: just-a-name\n",
      "clouds.yaml:2:6: cloud 'c': expected a mapping, found a string", OSR_ECONFIG, NULL },
    { "clouds:\n  c:\n    - auth\n",
      "clouds.yaml:3:5: cloud 'c': expected a mapping, found a sequence", OSR_ECONFIG, NULL },
    { "clouds:\n  c:\n    region_name: RegionOne\n", "clouds.yaml:3:5: cloud 'c': missing 'auth'",
      OSR_ECONFIG, NULL },
    { "clouds:\n  c:\n    auth: https://keystone/v3\n",
      "clouds.yaml:3:11: cloud 'c': auth: expected a mapping, found a string", OSR_ECONFIG, NULL },
    { "clouds:\n  c:\n    auth:\n      - auth_url\n",
      "clouds.yaml:4:7: cloud 'c': auth: expected a mapping, found a sequence", OSR_ECONFIG, NULL },
    { CLOUD_OK "    auth_type: v2password\n",
      "clouds.yaml:8:16: cloud 'c': auth_type: unknown auth type 'v2password' (supported: "
      "password, v3password, v3applicationcredential, token, v3token)",
      OSR_ECONFIG, NULL },
    { CLOUD_OK "    auth_type: {name: password}\n",
      "clouds.yaml:8:16: cloud 'c': auth_type: expected a scalar, found a mapping", OSR_ECONFIG,
      NULL },
    { CLOUD_OK "    auth_type: ''\n", "clouds.yaml:8:16: cloud 'c': auth_type: must not be empty",
      OSR_ECONFIG, NULL },
    /* 18: password */
    { "clouds:\n  c:\n    auth:\n      username: alice\n      password: x\n"
      "      project_name: demo\n",
      "clouds.yaml:4:7: cloud 'c': auth: missing 'auth_url'", OSR_ECONFIG, NULL },
    { "clouds:\n  c:\n    auth:\n      auth_url: https://k/v3\n      username: alice\n"
      "      project_name: demo\n",
      "clouds.yaml:4:7: cloud 'c': auth: missing 'password'", OSR_ECONFIG, NULL },
    { "clouds:\n  c:\n    auth:\n      auth_url: https://k/v3\n      password: x\n"
      "      project_id: 1234\n",
      "clouds.yaml:4:7: cloud 'c': auth: missing 'username' or 'user_id'", OSR_ECONFIG, NULL },
    { "clouds:\n  c:\n    auth:\n      auth_url: https://k/v3\n      username: alice\n"
      "      password: x\n",
      "clouds.yaml:4:7: cloud 'c': auth: missing 'project_name' or 'project_id'", OSR_ECONFIG,
      NULL },
    { "clouds:\n  c:\n    auth:\n      auth_url: https://k/v3\n"
      "      application_credential_id: abc\n      application_credential_secret: s\n",
      "clouds.yaml:4:7: cloud 'c': auth: missing 'username' or 'user_id'; set auth_type: "
      "v3applicationcredential",
      OSR_ECONFIG, NULL },
    { "clouds:\n  c:\n    auth:\n      auth_url: https://k/v3\n      username: alice\n"
      "      password: ''\n      project_name: demo\n",
      "clouds.yaml:6:17: cloud 'c': auth.password: must not be empty", OSR_ECONFIG, NULL },
    { "clouds:\n  c:\n    auth:\n      auth_url: https://k/v3\n      username: alice\n"
      "      password: yes\n      project_name: demo\n",
      "clouds.yaml:6:17: cloud 'c': auth.password: read as the YAML boolean value; quote it if "
      "you mean the string",
      OSR_ECONFIG, NULL },
    { "clouds:\n  c:\n    auth:\n      auth_url: https://k/v3\n      username: {name: alice}\n"
      "      password: x\n      project_name: demo\n",
      "clouds.yaml:5:17: cloud 'c': auth.username: expected a scalar, found a mapping", OSR_ECONFIG,
      NULL },
    { "clouds:\n  c:\n    auth:\n      auth_url: https://k/v3\n      username: alice\n"
      "      password: [a, b]\n      project_name: demo\n",
      "clouds.yaml:6:17: cloud 'c': auth.password: expected a scalar, found a sequence",
      OSR_ECONFIG, NULL },
    { "clouds:\n  c:\n    auth:\n" AUTH_OK "      user_domain_name:\n        - Default\n",
      "clouds.yaml:9:9: cloud 'c': auth.user_domain_name: expected a scalar, found a sequence",
      OSR_ECONFIG, NULL },
    /* 28: auth_url */
    { "clouds:\n  c:\n    auth:\n      auth_url: ftp://keystone/v3\n      username: a\n"
      "      password: x\n      project_name: p\n",
      "clouds.yaml:4:17: cloud 'c': auth.auth_url: not an http(s) URL with a host: "
      "'ftp://keystone/v3'",
      OSR_ECONFIG, NULL },
    { "clouds:\n  c:\n    auth:\n      auth_url: https:///v3\n      username: a\n"
      "      password: x\n      project_name: p\n",
      "clouds.yaml:4:17: cloud 'c': auth.auth_url: not an http(s) URL with a host: "
      "'https:///v3'",
      OSR_ECONFIG, NULL },
    { "clouds:\n  c:\n    auth:\n      auth_url: keystone.example.com:5000\n      username: a\n"
      "      password: x\n      project_name: p\n",
      "clouds.yaml:4:17: cloud 'c': auth.auth_url: not an http(s) URL with a host: "
      "'keystone.example.com:5000'",
      OSR_ECONFIG, NULL },
    { "clouds:\n  c:\n    auth:\n      auth_url: 'http://'\n      username: a\n"
      "      password: x\n      project_name: p\n",
      "clouds.yaml:4:17: cloud 'c': auth.auth_url: not an http(s) URL with a host: 'http://'",
      OSR_ECONFIG, NULL },
    /* 32: application credentials */
    { "clouds:\n  c:\n    auth_type: v3applicationcredential\n    auth:\n"
      "      auth_url: https://k/v3\n      application_credential_id: abc\n",
      "clouds.yaml:5:7: cloud 'c': auth: missing 'application_credential_secret'", OSR_ECONFIG,
      NULL },
    { "clouds:\n  c:\n    auth_type: v3applicationcredential\n    auth:\n"
      "      auth_url: https://k/v3\n      application_credential_secret: s\n",
      "clouds.yaml:5:7: cloud 'c': auth: missing 'application_credential_id' or "
      "'application_credential_name'",
      OSR_ECONFIG, NULL },
    { "clouds:\n  c:\n    auth_type: v3applicationcredential\n    auth:\n"
      "      auth_url: https://k/v3\n      application_credential_name: ci\n"
      "      application_credential_secret: s\n",
      "clouds.yaml:5:7: cloud 'c': auth: missing 'user_id' or 'username'; an application "
      "credential name needs its user",
      OSR_ECONFIG, NULL },
    /* 35: tokens */
    { "clouds:\n  c:\n    auth_type: token\n    auth:\n      auth_url: https://k/v3\n"
      "      project_id: p\n",
      "clouds.yaml:5:7: cloud 'c': auth: missing 'token'", OSR_ECONFIG, NULL },
    { "clouds:\n  c:\n    auth_type: v3token\n    auth:\n      auth_url: https://k/v3\n"
      "      token: gAAAA\n",
      "clouds.yaml:5:7: cloud 'c': auth: missing 'project_name' or 'project_id'", OSR_ECONFIG,
      NULL },
    /* 37: other settings */
    { CLOUD_OK "    interface: private\n",
      "clouds.yaml:8:16: cloud 'c': interface: must be public, internal or admin, not 'private'",
      OSR_ECONFIG, NULL },
    { CLOUD_OK "    identity_api_version: 2\n",
      "clouds.yaml:8:27: cloud 'c': identity_api_version: only identity API version 3 is "
      "supported, not '2'",
      OSR_ECONFIG, NULL },
    { CLOUD_OK "    identity_api_version: '2.0'\n",
      "clouds.yaml:8:27: cloud 'c': identity_api_version: only identity API version 3 is "
      "supported, not '2.0'",
      OSR_ECONFIG, NULL },
    { CLOUD_OK "    identity_api_version: [3]\n",
      "clouds.yaml:8:27: cloud 'c': identity_api_version: expected a scalar, found a sequence",
      OSR_ECONFIG, NULL },
    { CLOUD_OK "    verify: maybe\n",
      "clouds.yaml:8:13: cloud 'c': verify: not a boolean: 'maybe' (use true/false, yes/no or "
      "on/off)",
      OSR_ECONFIG, NULL },
    { CLOUD_OK "    verify: \"no\"\n",
      "clouds.yaml:8:13: cloud 'c': verify: \"no\" is a quoted string, not a boolean; write it "
      "without quotes",
      OSR_ECONFIG, NULL },
    { CLOUD_OK "    insecure: 'yes'\n",
      "clouds.yaml:8:15: cloud 'c': insecure: \"yes\" is a quoted string, not a boolean; write it "
      "without quotes",
      OSR_ECONFIG, NULL },
    { CLOUD_OK "    verify: 1\n",
      "clouds.yaml:8:13: cloud 'c': verify: not a boolean: '1' (use true/false, yes/no or on/off)",
      OSR_ECONFIG, NULL },
    { CLOUD_OK "    verify: {cacert: x}\n",
      "clouds.yaml:8:13: cloud 'c': verify: expected a boolean, found a mapping", OSR_ECONFIG,
      NULL },
    { CLOUD_OK "    region_name: 42\n",
      "clouds.yaml:8:18: cloud 'c': region_name: expected a string, found an integer", OSR_ECONFIG,
      NULL },
    { CLOUD_OK "    region_name: no\n",
      "clouds.yaml:8:18: cloud 'c': region_name: expected a string, found a boolean", OSR_ECONFIG,
      NULL },
    { CLOUD_OK "    region_name: {RegionOne: 1}\n",
      "clouds.yaml:8:18: cloud 'c': region_name: expected a string, found a mapping", OSR_ECONFIG,
      NULL },
    { CLOUD_OK "    cacert:\n      path: /etc/ca.pem\n",
      "clouds.yaml:9:7: cloud 'c': cacert: expected a scalar, found a mapping", OSR_ECONFIG, NULL },
    /* 50: YAML level */
    { "clouds:\n  c:\n    auth:\n      auth_url: https://k/v3\n      username: a\n"
      "      password: x\n      project_name: p\n      password: y\n",
      "clouds.yaml:8:7: duplicate key 'password'; first defined at line 6", OSR_ECONFIG, NULL },
    { CLOUD_OK "  c:\n    auth: {}\n",
      "clouds.yaml:8:3: duplicate key 'c'; first defined at line 2", OSR_ECONFIG, NULL },
    { "clouds:\n  c:\n\tauth: {}\n",
      "clouds.yaml:3:1: found character that cannot start any token (while scanning for the next "
      "token at line 3)",
      OSR_ECONFIG, NULL },
    { "clouds:\n  c:\n    auth:\n      auth_url: 'https://k/v3\n",
      "clouds.yaml:5:1: found unexpected end of stream (while scanning a quoted scalar at line 4)",
      OSR_ECONFIG, NULL },
    { "clouds:\n  c:\n    auth:\n      auth_url: https://k/v3\n     username: a\n",
      "clouds.yaml:5:6: did not find expected key (while parsing a block mapping at line 3)",
      OSR_ECONFIG, NULL },
    { CLOUD_OK "---\n" CLOUD_OK,
      "clouds.yaml:8:1: expected a single document in the stream, but found another document",
      OSR_ECONFIG, NULL },
    { "clouds:\n  c:\n    auth: *creds\n", "clouds.yaml:3:11: found undefined alias 'creds'",
      OSR_ECONFIG, NULL },
    { "clouds:\n  c:\n    <<: base\n    auth: {}\n",
      "clouds.yaml:3:9: expected a mapping or list of mappings for merging, but found a scalar",
      OSR_ECONFIG, NULL },
    { CLOUD_OK "    region_name: !region r\n",
      "clouds.yaml:8:18: could not determine a constructor for the tag '!region'", OSR_ECONFIG,
      NULL },
    /* 59: every cloud is checked, not only the first */
    { CLOUD_OK "  d:\n    auth:\n      auth_url: https://k/v3\n",
      "clouds.yaml:10:7: cloud 'd': auth: missing 'username' or 'user_id'", OSR_ECONFIG, NULL },
    /* 60: JSON */
    { "{\"clouds\": {\"c\": {\"auth\": {\"auth_url\": \"https://k/v3\", \"username\": \"a\",\n"
      "  \"project_name\": \"p\"}}}}\n",
      "clouds.json:1:27: cloud 'c': auth: missing 'password'", OSR_ECONFIG, "clouds.json" },
    { "{\"clouds\": {\"c\": {\"auth\": {}, \"verify\": \"false\"}}}\n",
      "clouds.json:1:27: cloud 'c': auth: missing 'auth_url'", OSR_ECONFIG, "clouds.json" },
    { "{\"clouds\": {\"c\": {\"auth\": {\"auth_url\": \"https://k\"}}\n",
      "clouds.json:2:1: did not find expected ',' or '}' (while parsing a flow mapping at line 1)",
      OSR_ECONFIG, "clouds.json" },
    { "{\"clouds\": {\"c\": 1, \"c\": 2}}",
      "clouds.json:1:21: duplicate key 'c'; first defined at line 1", OSR_ECONFIG, "clouds.json" },
};

static void test_invalid_files(void **state)
{
    size_t n = sizeof(invalid_cases) / sizeof(invalid_cases[0]), bad = 0;
    (void)state;

    assert_true(n >= 35);
    for (size_t i = 0; i < n; i++) {
        const struct invalid_case *t = &invalid_cases[i];
        const char *src = t->source ? t->source : "clouds.yaml";
        osr_error err;
        int rc;

        osr_error_clear(&err);
        rc = osr_clouds_validate(t->text, strlen(t->text), src, &err);
        if (rc != t->code || err.code != t->code || strcmp(err.message, t->message) != 0) {
            print_error("case %zu: rc %d (%s)\n  got:  %s\n  want: %s\n", i + 1, rc,
                        osr_error_name(rc), err.message, t->message);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

/* The same failures reach osr_cloud_load with the real file name in front. */
static void test_invalid_file_load(void **state)
{
    char *dir = make_tempdir();
    char *path = write_file(dir, "clouds.yaml", CLOUD_OK "    interface: private\n");
    const char *dirs[] = { dir, NULL };
    char want[600];
    osr_cloud *c = SENTINEL;
    osr_error err;
    (void)state;

    assert_int_equal(load(&c, &err, NULL, NULL, NULL, dirs), OSR_ECONFIG);
    assert_ptr_equal(c, SENTINEL);
    snprintf(want, sizeof(want),
             "%s:8:16: cloud 'c': interface: must be public, internal or admin, not 'private'",
             path);
    assert_string_equal(err.message, want);
    free(path);
    rm_tree(dir);
}

/* ---- valid files ----------------------------------------------------------------------- */

static const struct valid_case {
    const char *name;
    const char *text;
    const char *auth_type;
    const char *expect; /* "key=value;..." checked with osr_cloud_get; "key=" means unset */
} valid_cases[] = {
    { "password by name and domain",
      "clouds:\n  c:\n    auth:\n" AUTH_OK "      user_domain_name: Users\n"
      "      project_domain_name: Projects\n"
      "    region_name: RegionOne\n",
      "password",
      "auth.auth_url=https://keystone.example.com:5000/v3;auth.username=alice;"
      "auth.password=s3cret;auth.project_name=demo;auth.user_domain_name=Users;"
      "auth.project_domain_name=Projects;auth.user_domain_id=;auth.project_domain_id=;"
      "region_name=RegionOne;interface=public;identity_api_version=3;verify=true;cacert=" },
    { "password by ids",
      "clouds:\n  c:\n    auth_type: v3password\n    auth:\n      auth_url: http://10.0.0.1/v3\n"
      "      user_id: 0123abcd\n      password: '123'\n      project_id: 4567\n",
      "password",
      "auth_type=password;auth.user_id=0123abcd;auth.password=123;auth.project_id=4567;"
      "auth.user_domain_id=default;auth.project_domain_id=default;region_name=" },
    { "password with the domain_id shortcut and tenant_name",
      "clouds:\n  c:\n    auth:\n      auth_url: https://k:5000\n      username: u\n"
      "      password: p\n      tenant_name: old\n      domain_id: d1\n",
      "password",
      "auth.project_name=old;auth.tenant_name=;auth.user_domain_id=d1;auth.project_domain_id=d1;"
      "auth.domain_id=" },
    { "application credential by id",
      "clouds:\n  c:\n    auth_type: v3applicationcredential\n    auth:\n"
      "      auth_url: https://k/v3\n      application_credential_id: 21dced0f\n"
      "      application_credential_secret: topsecret\n",
      "v3applicationcredential",
      "auth.application_credential_id=21dced0f;auth.application_credential_secret=topsecret;"
      "auth.user_domain_id=" },
    { "application credential by name and user name",
      "clouds:\n  c:\n    auth_type: v3applicationcredential\n    auth:\n"
      "      auth_url: https://k/v3\n      application_credential_name: ci\n"
      "      application_credential_secret: topsecret\n      username: demo\n",
      "v3applicationcredential",
      "auth.application_credential_name=ci;auth.username=demo;auth.user_domain_id=default" },
    { "application credential by name and user id",
      "clouds:\n  c:\n    auth_type: v3applicationcredential\n    auth:\n"
      "      auth_url: https://k/v3\n      application_credential_name: ci\n"
      "      application_credential_secret: topsecret\n      user_id: u1\n",
      "v3applicationcredential", "auth.user_id=u1;auth.user_domain_id=" },
    { "token",
      "clouds:\n  c:\n    auth_type: v3token\n    auth:\n      auth_url: https://k/v3\n"
      "      token: gAAAAAB\n      project_name: demo\n    interface: internal\n",
      "token",
      "auth.token=gAAAAAB;auth.project_name=demo;auth.project_domain_id=default;"
      "auth.user_domain_id=;interface=internal" },
    { "verify: no", CLOUD_OK "    verify: no\n", "password", "verify=false" },
    { "verify: off", CLOUD_OK "    verify: off\n", "password", "verify=false" },
    { "verify: yes", CLOUD_OK "    verify: yes\n", "password", "verify=true" },
    { "verify: False", CLOUD_OK "    verify: False\n", "password", "verify=false" },
    { "insecure: true", CLOUD_OK "    insecure: true\n", "password", "verify=false;insecure=" },
    { "insecure: off", CLOUD_OK "    insecure: off\n", "password", "verify=true" },
    { "identity_api_version 3", CLOUD_OK "    identity_api_version: 3\n", "password",
      "identity_api_version=3" },
    { "identity_api_version '3'", CLOUD_OK "    identity_api_version: '3'\n", "password",
      "identity_api_version=3" },
    { "identity_api_version 3.0", CLOUD_OK "    identity_api_version: 3.0\n", "password",
      "identity_api_version=3" },
    { "identity_api_version \"3.0\"", CLOUD_OK "    identity_api_version: \"3.0\"\n", "password",
      "identity_api_version=3" },
    { "paths and empty region",
      CLOUD_OK "    cacert: /etc/ssl/certs/ca-certificates.crt\n    cert: c.pem\n"
               "    key: k.pem\n    region_name: ''\n",
      "password", "cacert=/etc/ssl/certs/ca-certificates.crt;cert=c.pem;key=k.pem;region_name=" },
    { "anchors and merge keys",
      "common: &common\n  auth: &auth\n    auth_url: https://k/v3\n    password: shared\n"
      "    project_name: demo\n  region_name: R1\n"
      "clouds:\n  c:\n    <<: *common\n    auth:\n      <<: *auth\n      username: own\n"
      "    region_name: R2\n",
      "password", "auth.username=own;auth.password=shared;region_name=R2" },
};

static void check_expect(const osr_cloud *c, const char *expect)
{
    char *copy = osr__strdup(expect), *save = NULL;

    assert_non_null(copy);
    for (char *item = strtok_r(copy, ";", &save); item; item = strtok_r(NULL, ";", &save)) {
        char *eq = strchr(item, '=');
        const char *got;
        assert_non_null(eq);
        *eq = '\0';
        got = osr_cloud_get(c, item);
        if (eq[1] == '\0') {
            if (got != NULL)
                print_error("%s: expected unset, got %s\n", item, got);
            assert_null(got);
        } else {
            if (got == NULL || strcmp(got, eq + 1) != 0)
                print_error("%s: expected %s, got %s\n", item, eq + 1, got ? got : "(unset)");
            assert_non_null(got);
            assert_string_equal(got, eq + 1);
        }
    }
    free(copy);
}

static void test_valid_files(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]); i++) {
        const struct valid_case *t = &valid_cases[i];
        osr_error err;
        osr_cloud *c;

        print_message("valid: %s\n", t->name);
        osr_error_clear(&err);
        if (osr_clouds_validate(t->text, strlen(t->text), "clouds.yaml", &err) != 0)
            print_error("%s\n", err.message);
        assert_int_equal(err.code, 0);
        c = load_text(t->text, "clouds.yaml", NULL);
        assert_string_equal(osr_cloud_name(c), "c");
        assert_string_equal(osr_cloud_auth_type(c), t->auth_type);
        check_expect(c, t->expect);
        osr_cloud_free(c);
    }
}

static void test_fixtures(void **state)
{
    osr_cloud *c = NULL;
    osr_error err;
    const char *dirs[] = { OSR_TEST_FIXTURES "/clouds/no-such-dir", NULL };
    (void)state;

    assert_int_equal(
        load(&c, &err, OSR_TEST_FIXTURES "/clouds/clouds.json", "json-appcred", NULL, dirs), 0);
    assert_string_equal(osr_cloud_auth_type(c), "v3applicationcredential");
    check_expect(c, "auth.auth_url=https://keystone.example.com/v3;"
                    "auth.application_credential_id=0f1e2d3c;region_name=RegionOne;verify=false;"
                    "interface=internal");
    osr_cloud_free(c);
    assert_int_equal(
        load(&c, &err, OSR_TEST_FIXTURES "/clouds/clouds.json", "json-password", NULL, dirs), 0);
    check_expect(c, "auth.username=demo;auth.user_domain_name=Default;identity_api_version=3");
    osr_cloud_free(c);
    assert_int_equal(load(&c, &err, OSR_TEST_FIXTURES "/clouds/anchors.yaml", "prod", NULL, dirs),
                     0);
    check_expect(c, "auth.project_name=prod;auth.username=ci-bot;region_name=RegionOne;"
                    "verify=false");
    osr_cloud_free(c);
    assert_int_equal(
        load(&c, &err, OSR_TEST_FIXTURES "/clouds/anchors.yaml", "staging", NULL, dirs), 0);
    check_expect(c, "auth.project_name=staging;region_name=RegionTwo;verify=true");
    osr_cloud_free(c);
}

/* ---- selection ------------------------------------------------------------------------- */

#define THREE_CLOUDS                                                                            \
    "clouds:\n"                                                                                 \
    "  alpha:\n    auth: {auth_url: 'https://a/v3', username: u, password: p, project_id: x}\n" \
    "  beta:\n    auth: {auth_url: 'https://b/v3', username: u, password: p, project_id: x}\n"  \
    "  gamma:\n    auth: {auth_url: 'https://g/v3', username: u, password: p, project_id: x}\n"

static void test_selection(void **state)
{
    char *dir = make_tempdir(), *path = write_file(dir, "clouds.yaml", THREE_CLOUDS);
    const char *dirs[] = { dir, NULL };
    const char *env_gamma[] = { "OS_CLOUD=gamma", NULL };
    const char *env_empty[] = { "OS_CLOUD=", NULL };
    const char *env_nope[] = { "OS_CLOUD=nope", NULL };
    char want[700];
    osr_cloud *c = NULL;
    osr_error err;
    (void)state;

    /* --os-cloud */
    assert_int_equal(load(&c, &err, NULL, "beta", NULL, dirs), 0);
    assert_string_equal(osr_cloud_name(c), "beta");
    assert_string_equal(osr_cloud_get(c, "auth.auth_url"), "https://b/v3");
    osr_cloud_free(c);
    /* OS_CLOUD */
    assert_int_equal(load(&c, &err, NULL, NULL, env_gamma, dirs), 0);
    assert_string_equal(osr_cloud_name(c), "gamma");
    osr_cloud_free(c);
    /* --os-cloud wins over OS_CLOUD */
    assert_int_equal(load(&c, &err, NULL, "alpha", env_gamma, dirs), 0);
    assert_string_equal(osr_cloud_name(c), "alpha");
    osr_cloud_free(c);
    /* several and no choice (an empty OS_CLOUD is no choice) */
    c = SENTINEL;
    assert_int_equal(load(&c, &err, NULL, NULL, env_empty, dirs), OSR_ECONFIG);
    assert_ptr_equal(c, SENTINEL);
    snprintf(want, sizeof(want),
             "several clouds in %s (alpha, beta, gamma); choose one with --os-cloud or OS_CLOUD",
             path);
    assert_string_equal(err.message, want);
    /* unknown */
    assert_int_equal(load(&c, &err, NULL, NULL, env_nope, dirs), OSR_ENOTFOUND);
    assert_ptr_equal(c, SENTINEL);
    snprintf(want, sizeof(want), "%s: no cloud named 'nope' (available: alpha, beta, gamma)", path);
    assert_string_equal(err.message, want);
    free(path);

    /* the only one */
    path = write_file(dir, "clouds.yaml", CLOUD_OK);
    assert_int_equal(load(&c, &err, NULL, NULL, NULL, dirs), 0);
    assert_string_equal(osr_cloud_name(c), "c");
    assert_string_equal(osr_cloud_source(c), path);
    osr_cloud_free(c);
    free(path);
    rm_tree(dir);
}

/* ---- search order ---------------------------------------------------------------------- */

static char *cloud_named(const char *name)
{
    char *s = osr__sprintf("clouds:\n  %s:\n    auth:\n" AUTH_OK, name);
    assert_non_null(s);
    return s;
}

static void put(const char *dir, const char *file, const char *cloud)
{
    char *text = cloud_named(cloud);
    free(write_file(dir, file, text));
    free(text);
}

static void expect_cloud(const char *const *env, const char *const *dirs, const char *name)
{
    osr_cloud *c = NULL;
    osr_error err;
    int rc = load(&c, &err, NULL, NULL, env, dirs);

    if (rc != 0)
        print_error("%s\n", err.message);
    assert_int_equal(rc, 0);
    assert_string_equal(osr_cloud_name(c), name);
    osr_cloud_free(c);
}

static void test_search_order(void **state)
{
    char *d1 = make_tempdir(), *d2 = make_tempdir(), *d3 = make_tempdir(), *missing;
    const char *dirs[] = { d1, d2, NULL };
    char *explicit_file, *env_file;
    const char *env[] = { NULL, NULL };
    osr_cloud *c = SENTINEL;
    osr_error err;
    (void)state;

    put(d2, "clouds.json", "d2json");
    expect_cloud(NULL, dirs, "d2json");
    put(d2, "clouds.yml", "d2yml");
    expect_cloud(NULL, dirs, "d2yml"); /* .yml before .json */
    put(d2, "clouds.yaml", "d2yaml");
    expect_cloud(NULL, dirs, "d2yaml"); /* .yaml before .yml */
    put(d1, "clouds.json", "d1json");
    expect_cloud(NULL, dirs, "d1json"); /* an earlier directory wins */

    /* OS_CLIENT_CONFIG_FILE comes first; the explicit option before that. */
    put(d3, "mine.yaml", "fromenv");
    env_file = osr__sprintf("OS_CLIENT_CONFIG_FILE=%s/mine.yaml", d3);
    env[0] = env_file;
    expect_cloud(env, dirs, "fromenv");
    put(d3, "other.yaml", "explicit");
    explicit_file = osr__sprintf("%s/other.yaml", d3);
    assert_int_equal(load(&c, &err, explicit_file, NULL, env, dirs), 0);
    assert_string_equal(osr_cloud_name(c), "explicit");
    assert_string_equal(osr_cloud_source(c), explicit_file);
    osr_cloud_free(c);

    /* A named file must exist. */
    missing = osr__sprintf("OS_CLIENT_CONFIG_FILE=%s/nope.yaml", d3);
    env[0] = missing;
    c = SENTINEL;
    assert_int_equal(load(&c, &err, NULL, NULL, env, dirs), OSR_ENOTFOUND);
    assert_ptr_equal(c, SENTINEL);
    assert_non_null(
        strstr(err.message, "/nope.yaml: no such file (named by OS_CLIENT_CONFIG_FILE)"));
    free(explicit_file);
    explicit_file = osr__sprintf("%s/gone.yaml", d3);
    assert_int_equal(load(&c, &err, explicit_file, NULL, NULL, dirs), OSR_ENOTFOUND);
    assert_non_null(strstr(err.message, "gone.yaml: no such file"));
    assert_ptr_equal(c, SENTINEL);

    free(explicit_file);
    free(env_file);
    free(missing);
    rm_tree(d1);
    rm_tree(d2);
    rm_tree(d3);
}

/* ---- secure.yaml ----------------------------------------------------------------------- */

static void test_secure_merge(void **state)
{
    char *d1 = make_tempdir(), *d2 = make_tempdir(), *sec, *want;
    const char *dirs[] = { d1, d2, NULL };
    const char *env[] = { NULL, NULL };
    osr_cloud *c = NULL;
    osr_error err;
    (void)state;

    /* The password lives only in secure.yaml (in another search directory). */
    free(write_file(d1, "clouds.yaml",
                    "clouds:\n  c:\n    auth:\n      auth_url: https://k/v3\n"
                    "      username: alice\n      project_name: demo\n    region_name: R1\n"));
    free(write_file(d2, "secure.yaml", "clouds:\n  c:\n    auth:\n      password: fromsecure\n"));
    assert_int_equal(load(&c, &err, NULL, NULL, NULL, dirs), 0);
    check_expect(c, "auth.password=fromsecure;auth.username=alice;region_name=R1");
    osr_cloud_free(c);

    /* secure.yaml wins, also over nested values; other keys stay. */
    free(write_file(d1, "clouds.yaml",
                    "clouds:\n  c:\n    auth:\n      auth_url: https://k/v3\n"
                    "      username: alice\n      password: old\n      project_name: demo\n"
                    "    region_name: R1\n"));
    free(write_file(d1, "secure.yml",
                    "clouds:\n  c:\n    auth:\n      password: new\n    region_name: R2\n"));
    assert_int_equal(load(&c, &err, NULL, NULL, NULL, dirs), 0);
    check_expect(c, "auth.password=new;auth.username=alice;region_name=R2");
    osr_cloud_free(c);

    /* OS_CLIENT_SECURE_FILE names it; an error in it names that file. */
    sec = write_file(d2, "s.yaml", "clouds:\n  c:\n    auth:\n      auth_url: ftp://x\n");
    want = osr__sprintf("OS_CLIENT_SECURE_FILE=%s", sec);
    env[0] = want;
    c = SENTINEL;
    assert_int_equal(load(&c, &err, NULL, NULL, env, dirs), OSR_ECONFIG);
    assert_ptr_equal(c, SENTINEL);
    free(want);
    want = osr__sprintf("%s:4:17: cloud 'c': auth.auth_url: not an http(s) URL with a host: "
                        "'ftp://x'",
                        sec);
    assert_string_equal(err.message, want);
    free(want);
    free(sec);

    /* A secure file that is not a mapping. */
    sec = write_file(d2, "s2.yaml", "- x\n");
    want = osr__sprintf("OS_CLIENT_SECURE_FILE=%s", sec);
    env[0] = want;
    assert_int_equal(load(&c, &err, NULL, NULL, env, dirs), OSR_ECONFIG);
    assert_non_null(strstr(err.message, "s2.yaml:1:1: expected a mapping, found a sequence"));
    free(want);
    free(sec);
    rm_tree(d1);
    rm_tree(d2);
}

/* ---- environment cloud ----------------------------------------------------------------- */

static void test_env_cloud(void **state)
{
    char *dir = make_tempdir();
    const char *dirs[] = { dir, NULL };
    const char *env_ok[] = { "OS_AUTH_URL=https://keystone.example.com/v3",
                             "OS_USERNAME=admin",
                             "OS_PASSWORD=pw",
                             "OS_TENANT_NAME=admin",
                             "OS_USER_DOMAIN_NAME=Default",
                             "OS_REGION_NAME=RegionOne",
                             "OS_INSECURE=true",
                             "OS_IDENTITY_API_VERSION=3",
                             "OS_PROJECT_DOMAIN_ID=",
                             "UNRELATED=1",
                             NULL };
    const char *env_bad_url[] = { "OS_AUTH_URL=keystone", "OS_USERNAME=u", "OS_PASSWORD=p",
                                  "OS_PROJECT_ID=x", NULL };
    const char *env_no_pw[] = { "OS_AUTH_URL=http://k:5000", "OS_USERNAME=u", "OS_PROJECT_ID=x",
                                NULL };
    const char *env_appcred[] = { "OS_AUTH_URL=http://k:5000", "OS_APPLICATION_CREDENTIAL_ID=id",
                                  "OS_APPLICATION_CREDENTIAL_SECRET=s", NULL };
    const char *env_appcred_ok[] = { "OS_AUTH_URL=http://k:5000",
                                     "OS_AUTH_TYPE=v3applicationcredential",
                                     "OS_APPLICATION_CREDENTIAL_ID=id",
                                     "OS_APPLICATION_CREDENTIAL_SECRET=s",
                                     "OS_INTERFACE=admin",
                                     NULL };
    const char *env_bad_insecure[] = { "OS_AUTH_URL=http://k", "OS_TOKEN=t",
                                       "OS_AUTH_TYPE=token",   "OS_PROJECT_ID=p",
                                       "OS_INSECURE=maybe",    NULL };
    const char *env_cloud_named[] = { "OS_CLOUD=prod", "OS_AUTH_URL=http://k", NULL };
    const char *env_region_only[] = { "OS_REGION_NAME=R", "HOME=/nonexistent", NULL };
    char want[700];
    osr_cloud *c = NULL;
    osr_error err;
    (void)state;

    assert_int_equal(load(&c, &err, NULL, NULL, env_ok, dirs), 0);
    assert_string_equal(osr_cloud_name(c), "envvars");
    assert_string_equal(osr_cloud_source(c), "environment");
    assert_string_equal(osr_cloud_auth_type(c), "password");
    check_expect(c, "auth.auth_url=https://keystone.example.com/v3;auth.username=admin;"
                    "auth.password=pw;auth.project_name=admin;auth.user_domain_name=Default;"
                    "auth.project_domain_id=default;region_name=RegionOne;verify=false;"
                    "identity_api_version=3;interface=public");
    osr_cloud_free(c);

    assert_int_equal(load(&c, &err, NULL, "envvars", env_appcred_ok, dirs), 0);
    assert_string_equal(osr_cloud_auth_type(c), "v3applicationcredential");
    check_expect(c, "interface=admin;auth.application_credential_id=id");
    osr_cloud_free(c);

    c = SENTINEL;
    assert_int_equal(load(&c, &err, NULL, NULL, env_bad_url, dirs), OSR_ECONFIG);
    assert_string_equal(err.message,
                        "environment: OS_AUTH_URL: not an http(s) URL with a host: 'keystone'");
    assert_int_equal(load(&c, &err, NULL, NULL, env_no_pw, dirs), OSR_ECONFIG);
    assert_string_equal(err.message, "environment: missing OS_PASSWORD");
    assert_int_equal(load(&c, &err, NULL, NULL, env_appcred, dirs), OSR_ECONFIG);
    assert_string_equal(err.message, "environment: missing OS_USERNAME or OS_USER_ID; set "
                                     "OS_AUTH_TYPE=v3applicationcredential");
    assert_int_equal(load(&c, &err, NULL, NULL, env_bad_insecure, dirs), OSR_ECONFIG);
    assert_string_equal(err.message,
                        "environment: OS_INSECURE: not a boolean: 'maybe' (use true or false)");
    assert_int_equal(load(&c, &err, NULL, NULL, env_cloud_named, dirs), OSR_ENOTFOUND);
    snprintf(want, sizeof(want),
             "cloud 'prod' not found: no clouds.yaml, clouds.yml or clouds.json in %s", dir);
    assert_string_equal(err.message, want);
    assert_int_equal(load(&c, &err, NULL, NULL, env_region_only, dirs), OSR_ENOTFOUND);
    snprintf(want, sizeof(want),
             "no clouds.yaml, clouds.yml or clouds.json in %s, and no OS_AUTH_URL in the "
             "environment",
             dir);
    assert_string_equal(err.message, want);
    assert_ptr_equal(c, SENTINEL);

    /* Default search path: the current directory, then XDG_CONFIG_HOME, then /etc. */
    {
        char *cwd = getcwd(NULL, 0), *xdg = osr__sprintf("XDG_CONFIG_HOME=%s", dir);
        const char *env_xdg[] = { xdg, NULL };
        static const char *const none[] = { NULL };
        osr_cloud_options opts = OSR_CLOUD_OPTIONS_INIT;
        char *sub = osr__sprintf("%s/openstack", dir);

        assert_int_equal(chdir(dir), 0);
        opts.env = none;
        c = SENTINEL;
        if (access("/etc/openstack", F_OK) != 0) {
            assert_int_equal(osr_cloud_load(&c, &opts, &err), OSR_ENOTFOUND);
            assert_non_null(strstr(err.message, "/etc/openstack"));
        }
        assert_int_equal(mkdir(sub, 0700), 0);
        put(sub, "clouds.yaml", "xdg");
        opts.env = env_xdg;
        assert_int_equal(osr_cloud_load(&c, &opts, &err), 0);
        assert_string_equal(osr_cloud_name(c), "xdg");
        osr_cloud_free(c);
        put(dir, "clouds.yaml", "cwd");
        assert_int_equal(osr_cloud_load(&c, &opts, &err), 0);
        assert_string_equal(osr_cloud_name(c), "cwd");
        osr_cloud_free(c);
        assert_int_equal(chdir(cwd), 0);
        free(cwd);
        free(xdg);
        free(sub);
    }
    rm_tree(dir);
}

/* ---- settings and masking -------------------------------------------------------------- */

static void test_settings_and_masking(void **state)
{
    osr_cloud *c =
        load_text("clouds:\n  c:\n    auth:\n" AUTH_OK "      application_credential_secret: acs\n"
                  "      token: tok\n"
                  "    key: /etc/client.key\n",
                  "clouds.yaml", NULL);
    const char *key = NULL, *value = NULL, *prev = "";
    int secret = -1, secrets = 0;
    size_t n = osr_cloud_setting_count(c);
    (void)state;

    assert_true(n > 8);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(osr_cloud_setting(&key, &value, &secret, c, i, 0), 0);
        assert_true(strcmp(prev, key) < 0); /* sorted, no repeats */
        prev = key;
        if (strcmp(key, "auth.password") == 0 || strcmp(key, "auth.token") == 0 ||
            strcmp(key, "auth.application_credential_secret") == 0) {
            assert_int_equal(secret, 1);
            assert_string_equal(value, "****");
            secrets++;
            assert_int_equal(osr_cloud_setting(&key, &value, NULL, c, i, 1), 0);
            assert_string_not_equal(value, "****");
        } else {
            assert_int_equal(secret, 0);
            assert_string_not_equal(value, "****");
        }
        if (strcmp(key, "key") == 0)
            assert_string_equal(value, "/etc/client.key");
    }
    assert_int_equal(secrets, 3);
    assert_string_equal(osr_cloud_get(c, "auth.password"), "s3cret");
    assert_null(osr_cloud_get(c, "auth.nothing"));
    assert_null(osr_cloud_get(c, NULL));
    key = "untouched";
    assert_int_equal(osr_cloud_setting(&key, &value, &secret, c, n, 1), OSR_EINVAL);
    assert_string_equal(key, "untouched");
    assert_int_equal(osr_cloud_setting(&key, &value, &secret, NULL, 0, 1), OSR_EINVAL);
    osr_cloud_free(c);
    osr_cloud_free(NULL);
}

/* ---- writing --------------------------------------------------------------------------- */

static bool has_temp_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    bool found = false;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        found = found || strstr(e->d_name, ".tmp") != NULL;
    closedir(d);
    return found;
}

static void test_write(void **state)
{
    char *dir = make_tempdir(), *sub = osr__sprintf("%s/a/b", dir);
    char *path = osr__sprintf("%s/clouds.yaml", sub), *before, *after, *target, *link;
    struct stat st;
    osr_error err;
    (void)state;

    osr_error_clear(&err);
    assert_int_equal(osr_clouds_write(path, CLOUD_OK, strlen(CLOUD_OK), NULL, &err), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(stat(sub, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    before = read_all(path);
    assert_string_equal(before, CLOUD_OK);
    assert_false(has_temp_files(sub));

    /* Invalid data: error names the source, the file stays byte for byte. */
    assert_int_equal(osr_clouds_write(path, "clouds: {}\n", 11, "new.yaml", &err), OSR_ECONFIG);
    assert_string_equal(err.message, "new.yaml:1:9: 'clouds' defines no cloud");
    assert_int_equal(osr_clouds_write(path, "clouds: [\n", 10, NULL, &err), OSR_ECONFIG);
    assert_true(strncmp(err.message, path, strlen(path)) == 0);
    after = read_all(path);
    assert_string_equal(before, after);
    free(after);
    assert_false(has_temp_files(sub));

    /* A valid replacement. */
    assert_int_equal(osr_clouds_write(path, THREE_CLOUDS, strlen(THREE_CLOUDS), NULL, &err), 0);
    after = read_all(path);
    assert_string_equal(after, THREE_CLOUDS);
    free(after);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);

    /* A symlink at the target is refused and what it points at is untouched. */
    target = write_file(dir, "target.txt", "keep me\n");
    link = osr__sprintf("%s/link.yaml", dir);
    assert_int_equal(symlink(target, link), 0);
    assert_int_equal(osr_clouds_write(link, CLOUD_OK, strlen(CLOUD_OK), NULL, &err), OSR_EIO);
    assert_non_null(strstr(err.message, "symbolic link"));
    after = read_all(target);
    assert_string_equal(after, "keep me\n");
    free(after);
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_false(has_temp_files(dir));
    assert_false(has_temp_files(sub));

    assert_int_equal(osr_clouds_write(NULL, "x", 1, NULL, &err), OSR_EINVAL);
    free(before);
    free(target);
    free(link);
    free(path);
    free(sub);
    rm_tree(dir);
}

static void test_default_path(void **state)
{
    char *old_home = osr__strdup(getenv("HOME")), *old_xdg = osr__strdup(getenv("XDG_CONFIG_HOME"));
    char *p = (char *)0x1234;
    osr_error err;
    (void)state;

    setenv("XDG_CONFIG_HOME", "/x/cfg", 1);
    setenv("HOME", "/home/u", 1);
    assert_int_equal(osr_clouds_default_path(&p, &err), 0);
    assert_string_equal(p, "/x/cfg/openstack/clouds.yaml");
    osr_free(p);
    unsetenv("XDG_CONFIG_HOME");
    assert_int_equal(osr_clouds_default_path(&p, &err), 0);
    assert_string_equal(p, "/home/u/.config/openstack/clouds.yaml");
    osr_free(p);
    unsetenv("HOME");
    p = (char *)0x1234;
    osr_error_clear(&err);
    assert_int_equal(osr_clouds_default_path(&p, &err), OSR_ENOTFOUND);
    assert_ptr_equal(p, (char *)0x1234);
    assert_int_equal(err.code, OSR_ENOTFOUND);
    if (old_home)
        setenv("HOME", old_home, 1);
    if (old_xdg)
        setenv("XDG_CONFIG_HOME", old_xdg, 1);
    free(old_home);
    free(old_xdg);
}

static void test_arguments(void **state)
{
    osr_cloud_options opts = OSR_CLOUD_OPTIONS_INIT;
    osr_cloud *c = SENTINEL;
    osr_error err;
    (void)state;

    assert_int_equal(osr_cloud_load(NULL, NULL, &err), OSR_EINVAL);
    opts.version = 99;
    assert_int_equal(osr_cloud_load(&c, &opts, &err), OSR_EINVAL);
    assert_ptr_equal(c, SENTINEL);
    assert_int_equal(osr_clouds_validate(NULL, 3, "x", &err), OSR_EINVAL);
    assert_int_equal(osr_clouds_validate(CLOUD_OK, strlen(CLOUD_OK), NULL, NULL), 0);
    assert_int_equal(osr_clouds_validate("x", 1, NULL, NULL), OSR_ECONFIG);
    assert_null(osr_cloud_name(NULL));
    assert_null(osr_cloud_source(NULL));
    assert_null(osr_cloud_auth_type(NULL));
    assert_null(osr_cloud_get(NULL, "x"));
    assert_int_equal(osr_cloud_setting_count(NULL), 0);
}

/* ---- files: size, FIFOs, cacert, secrets others may read ------------------------------ */

static int warn_count;
static char warn_last[512];

static void warn_cb(osr_log_level level, const char *msg, void *payload)
{
    (void)payload;
    if (level == OSR_LOG_WARN) {
        warn_count++;
        snprintf(warn_last, sizeof(warn_last), "%s", msg);
    }
}

static int load_logged(osr_cloud **out, osr_error *err, const char *dir)
{
    static const char *const no_env[] = { NULL };
    const char *dirs[] = { dir, NULL };
    osr_cloud_options opts = OSR_CLOUD_OPTIONS_INIT;

    opts.env = no_env;
    opts.search_dirs = dirs;
    opts.log_cb = warn_cb;
    opts.log_level = OSR_LOG_WARN;
    osr_error_clear(err);
    return osr_cloud_load(out, &opts, err);
}

static void test_file_checks(void **state)
{
    char *dir = make_tempdir(), *path, *big, *fifo;
    osr_cloud *c = SENTINEL;
    osr_error err;
    size_t n = (1u << 20) + 10;
    (void)state;

    alarm(20); /* a FIFO that hangs fails the test */

    /* Over 1 MiB by OS_CLIENT_CONFIG_FILE / config_file: a configuration error,
     * as osr_clouds_validate (cloud init) says. */
    big = malloc(n + 1);
    assert_non_null(big);
    memset(big, '#', n);
    big[n] = '\0';
    path = write_file(dir, "big.yaml", big);
    assert_int_equal(load(&c, &err, path, NULL, NULL, NULL), OSR_ECONFIG);
    assert_non_null(strstr(err.message, "big.yaml: larger than 1048576 bytes"));
    assert_int_equal(osr_clouds_validate(big, n, "big.yaml", &err), OSR_ECONFIG);
    assert_non_null(strstr(err.message, "big.yaml: larger than 1048576 bytes"));
    assert_ptr_equal(c, SENTINEL);
    unlink(path);
    free(path);
    free(big);

    /* A FIFO is refused at once. */
    fifo = osr__sprintf("%s/fifo.yaml", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(load(&c, &err, fifo, NULL, NULL, NULL), OSR_EIO);
    assert_non_null(strstr(err.message, "fifo.yaml: is a FIFO, not a regular file"));
    unlink(fifo);
    free(fifo);

    /* A missing cacert: a configuration error at its key's file:line:col when
     * the cloud is loaded; validation alone (cloud init) does not look. */
    path = write_file(dir, "clouds.yaml", CLOUD_OK "    cacert: /nonexistent/ca.pem\n");
    chmod(path, 0600);
    assert_int_equal(load_logged(&c, &err, dir), OSR_ECONFIG);
    assert_non_null(strstr(err.message, "clouds.yaml:8:13: cloud 'c': cacert: /nonexistent/ca.pem: "
                                        "No such file or directory"));
    {
        const char *text = CLOUD_OK "    cacert: /nonexistent/ca.pem\n";
        assert_int_equal(osr_clouds_validate(text, strlen(text), "clouds.yaml", &err), 0);
    }
    free(path);

    /* A password in a file others may read: one warning, naming the file. */
    path = write_file(dir, "clouds.yaml", CLOUD_OK);
    chmod(path, 0600);
    warn_count = 0;
    assert_int_equal(load_logged(&c, &err, dir), 0);
    osr_cloud_free(c);
    assert_int_equal(warn_count, 0);
    chmod(path, 0644);
    assert_int_equal(load_logged(&c, &err, dir), 0);
    osr_cloud_free(c);
    assert_int_equal(warn_count, 1);
    assert_non_null(strstr(warn_last, "clouds.yaml: holds a secret but group or others may read "
                                      "it (mode 0644)"));
    assert_null(strstr(warn_last, "s3cret"));
    free(path);

    /* The password in secure.yaml: that file is the one named. */
    path = write_file(dir, "clouds.yaml",
                      "clouds:\n  c:\n    auth:\n      auth_url: https://k/v3\n"
                      "      username: alice\n      project_name: demo\n");
    chmod(path, 0644);
    free(path);
    path = write_file(dir, "secure.yaml", "clouds:\n  c:\n    auth:\n      password: s3cret\n");
    chmod(path, 0640);
    warn_count = 0;
    assert_int_equal(load_logged(&c, &err, dir), 0);
    osr_cloud_free(c);
    assert_int_equal(warn_count, 1);
    assert_non_null(strstr(warn_last, "secure.yaml: holds a secret"));
    assert_non_null(strstr(warn_last, "mode 0640"));
    free(path);

    /* Options of version 1 (without the log hook) are still accepted. */
    {
        static const char *const no_env[] = { NULL };
        const char *dirs[] = { dir, NULL };
        osr_cloud_options v1 = OSR_CLOUD_OPTIONS_INIT;
        v1.version = 1;
        v1.env = no_env;
        v1.search_dirs = dirs;
        assert_int_equal(osr_cloud_load(&c, &v1, &err), 0);
        osr_cloud_free(c);
    }
    alarm(0);
    rm_tree(dir);
}

/* ---- what openstacksdk reads (issue 9, section 7) -------------------------------------- */

/* "@DIR@" in any string stands for the case's temporary directory. */
static const struct sdk_case {
    const char *name;
    const char *clouds;  /* clouds.yaml */
    const char *secure;  /* secure.yaml, or NULL */
    const char *publics; /* clouds-public.yaml, or NULL */
    const char *env[8];  /* NULL-terminated; HOME=@DIR@ is always added */
    const char *cloud;   /* --os-cloud, or NULL */
    const char *want;    /* the cloud's name; NULL when an error is expected */
    const char *expect;  /* "key=value;..." as in check_expect, or the exact error */
    int code;            /* 0, or the error */
    int domain_scoped;
} sdk_cases[] = {
    /* endpoint_type, the old name of interface */
    { "endpoint_type",
      CLOUD_OK "    endpoint_type: internal\n",
      NULL,
      NULL,
      { NULL },
      NULL,
      "c",
      "interface=internal;endpoint_type=",
      0,
      0 },
    { "interface wins over endpoint_type",
      CLOUD_OK "    endpoint_type: internal\n    interface: admin\n",
      NULL,
      NULL,
      { NULL },
      NULL,
      "c",
      "interface=admin",
      0,
      0 },
    { "endpoint_type checked like interface",
      CLOUD_OK "    endpoint_type: private\n",
      NULL,
      NULL,
      { NULL },
      NULL,
      NULL,
      "@DIR@/clouds.yaml:8:20: cloud 'c': endpoint_type: must be public, internal or admin, not "
      "'private'",
      OSR_ECONFIG,
      0 },
    /* dashes read as underscores, at every level */
    { "dashed keys",
      "clouds:\n  my-cloud:\n    auth:\n      auth-url: https://k/v3\n      username: u\n"
      "      password: p\n      project-name: demo\n      user-domain-name: Users\n"
      "    region-name: R1\n    endpoint-type: internal\n    identity-api-version: 3\n",
      NULL,
      NULL,
      { NULL },
      NULL,
      "my-cloud",
      "auth.auth_url=https://k/v3;auth.project_name=demo;auth.user_domain_name=Users;"
      "region_name=R1;interface=internal;identity_api_version=3;auth.auth-url=",
      0,
      0 },
    { "a key in both spellings is a duplicate",
      CLOUD_OK "    region_name: R1\n    region-name: R2\n",
      NULL,
      NULL,
      { NULL },
      NULL,
      NULL,
      "@DIR@/clouds.yaml:9:5: duplicate key 'region-name': 'region_name' (line 8) is the same key, "
      "'-' reading as '_'; keep one",
      OSR_ECONFIG,
      0 },
    { "a key in both spellings in secure.yaml",
      "clouds:\n  c:\n    auth:\n      auth-url: https://k/v3\n      username: u\n"
      "      project_name: demo\n",
      "clouds:\n  c:\n    auth:\n      auth-url: https://secure/v3\n      password: p\n"
      "      auth_url: https://other/v3\n",
      NULL,
      { NULL },
      NULL,
      NULL,
      "@DIR@/secure.yaml:6:7: duplicate key 'auth_url': 'auth-url' (line 4) is the same key, '-' "
      "reading as '_'; keep one",
      OSR_ECONFIG,
      0 },
    { "secure.yaml's auth_url wins",
      "clouds:\n  c:\n    auth:\n      auth-url: https://k/v3\n      username: u\n"
      "      project_name: demo\n",
      "clouds:\n  c:\n    auth:\n      auth_url: https://secure/v3\n      password: p\n",
      NULL,
      { NULL },
      NULL,
      "c",
      "auth.auth_url=https://secure/v3;auth.password=p",
      0,
      0 },
    /* a duplicate key stays an error */
    { "duplicate key",
      CLOUD_OK "    region_name: R1\n    region_name: R2\n",
      NULL,
      NULL,
      { NULL },
      NULL,
      NULL,
      "@DIR@/clouds.yaml:9:5: duplicate key 'region_name'; first defined at line 8",
      OSR_ECONFIG,
      0 },
    /* regions */
    { "regions: the first",
      CLOUD_OK "    regions: [R1, R2]\n",
      NULL,
      NULL,
      { NULL },
      NULL,
      "c",
      "region_name=R1;regions=",
      0,
      0 },
    { "regions: region_name chooses",
      CLOUD_OK "    regions: [R1, R2]\n    region_name: R2\n",
      NULL,
      NULL,
      { NULL },
      NULL,
      "c",
      "region_name=R2",
      0,
      0 },
    { "regions: OS_REGION_NAME chooses",
      CLOUD_OK "    regions: [R1, R2]\n",
      NULL,
      NULL,
      { "OS_REGION_NAME=R2", NULL },
      NULL,
      "c",
      "region_name=R2",
      0,
      0 },
    { "regions: {name, values} apply over the cloud",
      CLOUD_OK "    interface: public\n    regions:\n      - name: R1\n        values:\n"
               "          interface: internal\n          auth:\n            project_name: other\n"
               "      - R2\n",
      NULL,
      NULL,
      { NULL },
      NULL,
      "c",
      "region_name=R1;interface=internal;auth.project_name=other;auth.username=alice",
      0,
      0 },
    { "regions: the second has no values",
      CLOUD_OK "    regions:\n      - name: R1\n        values: {interface: internal}\n"
               "      - name: R2\n",
      NULL,
      NULL,
      { "OS_REGION_NAME=R2", NULL },
      NULL,
      "c",
      "region_name=R2;interface=public",
      0,
      0 },
    { "a list in region_name",
      CLOUD_OK "    region_name: [R1, R2]\n",
      NULL,
      NULL,
      { NULL },
      NULL,
      "c",
      "region_name=R1",
      0,
      0 },
    { "a comma list in region_name (old style)",
      CLOUD_OK "    region_name: R1,R2\n",
      NULL,
      NULL,
      { NULL },
      NULL,
      "c",
      "region_name=R1",
      0,
      0 },
    { "no such region",
      CLOUD_OK "    regions: [R1, R2]\n",
      NULL,
      NULL,
      { "OS_REGION_NAME=R3", NULL },
      NULL,
      NULL,
      "@DIR@/clouds.yaml:8:14: cloud 'c': regions: no region 'R3' (chosen by OS_REGION_NAME); the "
      "cloud's regions: R1, R2",
      OSR_ECONFIG,
      0 },
    { "a region entry with another key",
      CLOUD_OK "    regions:\n      - name: R1\n        value: {interface: internal}\n",
      NULL,
      NULL,
      { NULL },
      NULL,
      NULL,
      "@DIR@/clouds.yaml:10:9: cloud 'c': regions: a region entry has only 'name' and 'values', "
      "not 'value'",
      OSR_ECONFIG,
      0 },
    { "OS_REGION_NAME does not apply to a file cloud's one region",
      CLOUD_OK "    region_name: R1\n",
      NULL,
      NULL,
      { "OS_REGION_NAME=R9", NULL },
      NULL,
      "c",
      "region_name=R1",
      0,
      0 },
    /* vendor profiles */
    { "profile from clouds-public.yaml, {region_name} filled",
      "clouds:\n  c:\n    profile: acme\n    auth:\n      username: u\n      password: p\n"
      "      project_name: demo\n",
      NULL,
      "public-clouds:\n  acme:\n    auth:\n      auth-url: https://{region_name}.acme.example/v3\n"
      "      user_domain_name: Acme\n    regions: [east, west]\n    interface: internal\n",
      { NULL },
      NULL,
      "c",
      "auth.auth_url=https://east.acme.example/v3;auth.user_domain_name=Acme;region_name=east;"
      "interface=internal;profile=",
      0,
      0 },
    { "the cloud's settings win over the profile's",
      "clouds:\n  c:\n    profile: acme\n    region_name: west\n    interface: public\n    auth:\n"
      "      username: u\n      password: p\n      project_name: demo\n",
      NULL,
      "public-clouds:\n  acme:\n    auth:\n      auth_url: https://{region_name}.acme.example/v3\n"
      "    regions: [east, west]\n    interface: internal\n",
      { NULL },
      NULL,
      "c",
      "auth.auth_url=https://west.acme.example/v3;interface=public",
      0,
      0 },
    { "openstacksdk's vendor profile, by the old key 'cloud'",
      "clouds:\n  c:\n    cloud: citycloud\n    region_name: Fra1\n    auth:\n      username: u\n"
      "      password: p\n      project_name: demo\n",
      NULL,
      NULL,
      { NULL },
      NULL,
      "c",
      "auth.auth_url=https://Fra1.citycloud.com:5000/v3/;region_name=Fra1",
      0,
      0 },
    { "openstacksdk's vendor profile, first region",
      "clouds:\n  c:\n    profile: ovh\n    auth:\n      username: u\n      password: p\n"
      "      project_name: demo\n",
      NULL,
      NULL,
      { NULL },
      NULL,
      "c",
      "auth.auth_url=https://auth.cloud.ovh.net/;region_name=BHS;auth.user_domain_name=Default",
      0,
      0 },
    { "clouds-public.yaml wins over the vendor profiles",
      "clouds:\n  c:\n    profile: ovh\n    auth:\n      username: u\n      password: p\n"
      "      project_name: demo\n",
      NULL,
      "public-clouds:\n  ovh:\n    auth:\n      auth_url: https://private.ovh/v3\n",
      { NULL },
      NULL,
      "c",
      "auth.auth_url=https://private.ovh/v3;region_name=",
      0,
      0 },
    { "unknown profile",
      "clouds:\n  c:\n    profile: nosuch\n    auth:\n      username: u\n      password: p\n"
      "      project_name: demo\n",
      NULL,
      NULL,
      { NULL },
      NULL,
      NULL,
      "@DIR@/clouds.yaml:3:14: cloud 'c': profile: no vendor profile 'nosuch' in "
      "clouds-public.yaml or among openstacksdk's vendor profiles",
      OSR_ECONFIG,
      0 },
    { "{region_name} with no region",
      "clouds:\n  c:\n    auth:\n      auth_url: https://{region_name}.k/v3\n      username: u\n"
      "      password: p\n      project_name: demo\n",
      NULL,
      NULL,
      { NULL },
      NULL,
      NULL,
      "@DIR@/clouds.yaml:4:17: cloud 'c': auth.auth_url: uses {region_name}, but the cloud has no "
      "region",
      OSR_ECONFIG,
      0 },
    /* the cloud "envvars" beside the file's */
    { "envvars is the default when OS_CLOUD is unset",
      CLOUD_OK,
      NULL,
      NULL,
      { "OS_AUTH_URL=https://env/v3", "OS_TOKEN=t", "OS_AUTH_TYPE=token", "OS_PROJECT_ID=p",
        "OS_REGION_NAME=RE", NULL },
      NULL,
      "envvars",
      "auth.auth_url=https://env/v3;region_name=RE",
      0,
      0 },
    { "OS_CLOUD=envvars beside a file",
      CLOUD_OK,
      NULL,
      NULL,
      { "OS_CLOUD=envvars", "OS_AUTH_URL=https://env/v3", "OS_TOKEN=t", "OS_AUTH_TYPE=token",
        "OS_PROJECT_ID=p", NULL },
      NULL,
      "envvars",
      "auth.auth_url=https://env/v3",
      0,
      0 },
    { "OS_CLOUD names a file cloud: OS_* do not apply to it",
      CLOUD_OK,
      NULL,
      NULL,
      { "OS_CLOUD=c", "OS_AUTH_URL=https://env/v3", "OS_PASSWORD=envpw", "OS_REGION_NAME=RE",
        "OS_INTERFACE=admin", NULL },
      NULL,
      "c",
      "auth.auth_url=https://keystone.example.com:5000/v3;auth.password=s3cret;region_name=;"
      "interface=public",
      0,
      0 },
    { "--os-cloud names a file cloud",
      CLOUD_OK,
      NULL,
      NULL,
      { "OS_AUTH_URL=https://env/v3", "OS_TOKEN=t", NULL },
      "c",
      "c",
      "auth.auth_url=https://keystone.example.com:5000/v3",
      0,
      0 },
    { "a file cloud named envvars beside OS_* variables",
      "clouds:\n  envvars:\n    auth:\n" AUTH_OK,
      NULL,
      NULL,
      { "OS_AUTH_URL=https://env/v3", "OS_TOKEN=t", NULL },
      NULL,
      NULL,
      "@DIR@/clouds.yaml defines a cloud named 'envvars', and OS_* variables define one too; "
      "rename the file's cloud, or unset the OS_* variables",
      OSR_ECONFIG,
      0 },
    { "a file cloud named envvars, no OS_* variables",
      "clouds:\n  envvars:\n    auth:\n" AUTH_OK,
      NULL,
      NULL,
      { NULL },
      NULL,
      "envvars",
      "auth.password=s3cret",
      0,
      0 },
    /* domain scope */
    { "domain-scoped password auth",
      "clouds:\n  c:\n    auth:\n      auth_url: https://k/v3\n      username: admin\n"
      "      password: p\n      domain_name: Admins\n",
      NULL,
      NULL,
      { NULL },
      NULL,
      "c",
      "auth.domain_name=Admins;auth.user_domain_name=Admins;auth.project_domain_id=;"
      "auth.project_domain_name=",
      0,
      1 },
    { "domain-scoped token auth",
      "clouds:\n  c:\n    auth_type: token\n    auth:\n      auth_url: https://k/v3\n"
      "      token: t\n      domain_id: d1\n",
      NULL,
      NULL,
      { NULL },
      NULL,
      "c",
      "auth.domain_id=d1;auth.project_domain_id=",
      0,
      1 },
    { "a project and a domain: project scope",
      CLOUD_OK "      domain_name: D\n",
      NULL,
      NULL,
      { NULL },
      NULL,
      "c",
      "auth.domain_name=;auth.project_domain_name=D;auth.user_domain_name=D",
      0,
      0 },
    { "neither project nor domain",
      "clouds:\n  c:\n    auth:\n      auth_url: https://k/v3\n      username: admin\n"
      "      password: p\n",
      NULL,
      NULL,
      { NULL },
      NULL,
      NULL,
      "@DIR@/clouds.yaml:4:7: cloud 'c': auth: missing 'project_name' or 'project_id'",
      OSR_ECONFIG,
      0 },
    /* ~ in cacert, cert and key */
    { "~ in cacert, cert and key",
      CLOUD_OK "    cacert: ~/ca.pem\n    cert: ~/c.pem\n    key: '~'\n",
      NULL,
      NULL,
      { NULL },
      NULL,
      "c",
      "cacert=@DIR@/ca.pem;cert=@DIR@/c.pem;key=@DIR@",
      0,
      0 },
    { "~ in a missing cacert",
      CLOUD_OK "    cacert: ~/nope.pem\n",
      NULL,
      NULL,
      { NULL },
      NULL,
      NULL,
      "@DIR@/clouds.yaml:8:13: cloud 'c': cacert: @DIR@/nope.pem: No such file or directory",
      OSR_ECONFIG,
      0 },
};

/* s with every "@DIR@" replaced by dir; free it. */
static char *with_dir(const char *s, const char *dir)
{
    osr__buf b = OSR__BUF_INIT;
    const char *p;

    if (s == NULL)
        return NULL;
    while ((p = strstr(s, "@DIR@")) != NULL) {
        assert_int_equal(osr__buf_append(&b, s, (size_t)(p - s)), 0);
        assert_int_equal(osr__buf_puts(&b, dir), 0);
        s = p + 5;
    }
    assert_int_equal(osr__buf_puts(&b, s), 0);
    return osr__buf_detach(&b);
}

static void test_openstacksdk_cases(void **state)
{
    size_t n = sizeof(sdk_cases) / sizeof(sdk_cases[0]);
    (void)state;

    for (size_t i = 0; i < n; i++) {
        const struct sdk_case *t = &sdk_cases[i];
        char *dir = make_tempdir(), *home = osr__sprintf("HOME=%s", dir);
        char *expect = with_dir(t->expect, dir), *envs[10] = { NULL };
        const char *env[10] = { NULL }, *dirs[] = { dir, NULL };
        osr_cloud *c = SENTINEL;
        osr_error err;
        size_t k = 0;
        int rc;

        print_message("openstacksdk: %s\n", t->name);
        free(write_file(dir, "clouds.yaml", t->clouds));
        if (t->secure)
            free(write_file(dir, "secure.yaml", t->secure));
        if (t->publics)
            free(write_file(dir, "clouds-public.yaml", t->publics));
        free(write_file(dir, "ca.pem", "not checked here\n"));
        for (; t->env[k] != NULL; k++)
            env[k] = envs[k] = with_dir(t->env[k], dir);
        env[k] = home;
        rc = load(&c, &err, NULL, t->cloud, env, dirs);
        if (t->code != 0) {
            if (rc != t->code || strcmp(err.message, expect) != 0)
                print_error("rc %d\n  got:  %s\n  want: %s\n", rc, err.message, expect);
            assert_int_equal(rc, t->code);
            assert_string_equal(err.message, expect);
            assert_ptr_equal(c, SENTINEL);
        } else {
            if (rc != 0)
                print_error("%s\n", err.message);
            assert_int_equal(rc, 0);
            assert_string_equal(osr_cloud_name(c), t->want);
            check_expect(c, expect);
            assert_int_equal(osr_cloud_domain_scoped(c), t->domain_scoped);
            osr_cloud_free(c);
        }
        for (k = 0; envs[k] != NULL; k++)
            free(envs[k]);
        free(expect);
        free(home);
        rm_tree(dir);
    }
}

/* The vendor profiles are data, not code: every one parses and names an auth URL or a region. */
static void test_vendor_profiles_validate(void **state)
{
    static const char *const names[] = { "citycloud", "ovh", "dreamcompute", "rackspace", "otc" };
    (void)state;

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char *text = osr__sprintf("clouds:\n  c:\n    profile: %s\n"
                                  "    auth:\n      username: u\n      password: p\n"
                                  "      project_name: x\n",
                                  names[i]);
        osr_error err;
        osr_error_clear(&err);
        if (osr_clouds_validate(text, strlen(text), "clouds.yaml", &err) != 0)
            print_error("%s: %s\n", names[i], err.message);
        assert_int_equal(err.code, 0);
        free(text);
    }
}

/* ---- typed getters --------------------------------------------------------------------- */

static void test_typed_getters(void **state)
{
    const char *text = CLOUD_OK "    verify: no\n    identity_api_version: 3\n";
    const char *env_ok[] = { "OS_AUTH_URL=https://k/v3", "OS_TOKEN=t",       "OS_AUTH_TYPE=token",
                             "OS_PROJECT_ID=p",          "OS_INSECURE=true", NULL };
    osr_cloud *c = load_text(text, "clouds.yaml", NULL);
    const char *s = "untouched";
    long long i = -7;
    int b = -7;
    osr_error err;
    char want[700];
    (void)state;

    /* the right types */
    assert_int_equal(osr_cloud_get_bool(&b, c, "verify", &err), 0);
    assert_int_equal(b, 0);
    assert_int_equal(osr_cloud_get_int(&i, c, "identity_api_version", &err), 0);
    assert_int_equal(i, 3);
    assert_int_equal(osr_cloud_get_string(&s, c, "auth.username", &err), 0);
    assert_string_equal(s, "alice");
    for (size_t k = 0; k < osr_cloud_setting_count(c); k++) {
        const char *key;
        assert_int_equal(osr_cloud_setting(&key, NULL, NULL, c, k, 0), 0);
        assert_int_equal(osr_cloud_setting_type(c, k),
                         strcmp(key, "verify") == 0                 ? OSR_CLOUD_TYPE_BOOL
                         : strcmp(key, "identity_api_version") == 0 ? OSR_CLOUD_TYPE_INT
                                                                    : OSR_CLOUD_TYPE_STRING);
    }
    assert_int_equal(osr_cloud_setting_type(c, osr_cloud_setting_count(c)), 0);

    /* a wrong type names the place; out is untouched */
    s = "untouched";
    b = -7;
    i = -7;
    osr_error_clear(&err);
    assert_int_equal(osr_cloud_get_bool(&b, c, "auth.username", &err), OSR_ECONFIG);
    snprintf(want, sizeof(want), "%s:5:17: cloud 'c': auth.username: a string, not a boolean",
             osr_cloud_source(c));
    assert_string_equal(err.message, want);
    assert_int_equal(osr_cloud_get_int(&i, c, "verify", &err), OSR_ECONFIG);
    snprintf(want, sizeof(want), "%s:8:13: cloud 'c': verify: a boolean, not an integer",
             osr_cloud_source(c));
    assert_string_equal(err.message, want);
    assert_int_equal(osr_cloud_get_string(&s, c, "identity_api_version", &err), OSR_ECONFIG);
    snprintf(want, sizeof(want),
             "%s:9:27: cloud 'c': identity_api_version: an integer, not a string",
             osr_cloud_source(c));
    assert_string_equal(err.message, want);
    /* a default has no place */
    assert_int_equal(osr_cloud_get_bool(&b, c, "interface", &err), OSR_ECONFIG);
    assert_string_equal(err.message, "cloud 'c': interface: a string, not a boolean");
    assert_int_equal(osr_cloud_get_bool(&b, c, "auth.nothing", &err), OSR_ENOTFOUND);
    assert_string_equal(err.message, "cloud 'c': auth.nothing is not set");
    assert_int_equal(osr_cloud_get_bool(NULL, c, "verify", &err), OSR_EINVAL);
    assert_int_equal(osr_cloud_get_bool(&b, NULL, "verify", &err), OSR_EINVAL);
    assert_string_equal(s, "untouched");
    assert_int_equal(b, -7);
    assert_int_equal(i, -7);
    osr_cloud_free(c);

    /* the environment cloud names the variable */
    {
        const char *dirs[] = { "/nonexistent-osr", NULL };
        assert_int_equal(load(&c, &err, NULL, NULL, env_ok, dirs), 0);
        assert_int_equal(osr_cloud_get_bool(&b, c, "verify", &err), 0);
        assert_int_equal(b, 0);
        assert_int_equal(osr_cloud_get_int(&i, c, "verify", &err), OSR_ECONFIG);
        assert_string_equal(err.message, "environment: OS_INSECURE: a boolean, not an integer");
        assert_int_equal(osr_cloud_get_bool(&b, c, "auth.auth_url", &err), OSR_ECONFIG);
        assert_string_equal(err.message, "environment: OS_AUTH_URL: a string, not a boolean");
        osr_cloud_free(c);
    }
}

/* A domain-scoped cloud loads; a call that needs a project says why it cannot. */
static void test_domain_scope(void **state)
{
    const char *text = "clouds:\n  admin:\n    auth:\n      auth_url: https://127.0.0.1:9/v3\n"
                       "      username: root\n      password: p\n      domain_name: Admins\n";
    osr_cloud *c = load_text(text, "clouds.yaml", NULL);
    osr_session_options sopts = OSR_SESSION_OPTIONS_INIT;
    osr_session *s = NULL;
    const char *url = "untouched";
    char *body = NULL;
    osr_error err;
    (void)state;

    assert_int_equal(osr_cloud_domain_scoped(c), 1);
    osr_error_clear(&err);
    assert_int_equal(osr__keystone_auth_body(&body, c, &err), 0);
    assert_non_null(strstr(body, "\"scope\":{\"domain\":{\"name\":\"Admins\"}}"));
    assert_non_null(strstr(body, "\"domain\":{\"name\":\"Admins\"},\"password\""));
    osr__secret_free(body);
    sopts.token_cache = 0;
    assert_int_equal(osr_session_new(&s, c, &sopts, &err), 0);
    /* refused before any request: nothing listens on port 9 */
    assert_int_equal(osr_session_endpoint(&url, s, "compute"), OSR_ECONFIG);
    assert_string_equal(osr_session_last_error(s)->message,
                        "cloud 'admin' is domain-scoped; this command needs a project (set "
                        "project_name or project_id)");
    assert_string_equal(url, "untouched");
    osr_session_free(s);
    osr_cloud_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invalid_files),
        cmocka_unit_test(test_invalid_file_load),
        cmocka_unit_test(test_valid_files),
        cmocka_unit_test(test_fixtures),
        cmocka_unit_test(test_selection),
        cmocka_unit_test(test_search_order),
        cmocka_unit_test(test_secure_merge),
        cmocka_unit_test(test_env_cloud),
        cmocka_unit_test(test_settings_and_masking),
        cmocka_unit_test(test_write),
        cmocka_unit_test(test_file_checks),
        cmocka_unit_test(test_default_path),
        cmocka_unit_test(test_arguments),
        cmocka_unit_test(test_openstacksdk_cases),
        cmocka_unit_test(test_vendor_profiles_validate),
        cmocka_unit_test(test_typed_getters),
        cmocka_unit_test(test_domain_scope),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
