/* Keystone: token and catalog parsing, endpoint selection, version discovery. */
#include "fs.h"
#include "keystone.h"
#include "projects_internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static char *fixture(const char *name, size_t *len)
{
    char *path = osr__sprintf("%s/keystone/%s", OSR_TEST_FIXTURES, name), *data = NULL;
    assert_int_equal(osr__fs_read(&data, len, path, 1 << 20, NULL), 0);
    free(path);
    return data;
}

static int setup(void **state)
{
    size_t len;
    char *body = fixture("token.json", &len);
    osr__token *t = NULL;
    osr_error err;
    assert_int_equal(osr__keystone_token_parse(&t, body, len, "tok-1", &err), 0);
    free(body);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    osr__keystone_token_free(*state);
    return 0;
}

static void test_token_fields(void **state)
{
    osr__token *t = *state;
    assert_string_equal(t->id, "tok-1");
    assert_string_equal(t->user_id, "u-123");
    assert_string_equal(t->user_name, "admin");
    assert_string_equal(t->project_id, "p-456");
    assert_string_equal(t->project_name, "admin");
    assert_int_equal(t->expires_at, 4071006245); /* 2099-01-02T03:04:05Z */
    assert_int_equal(t->n_services, 3);
    assert_string_equal(t->services[0].type, "compute");
    assert_int_equal(t->services[0].n_endpoints, 4);
}

static void test_endpoint_by_region_and_interface(void **state)
{
    osr__token *t = *state;
    const char *url = NULL;
    osr_error err;

    assert_int_equal(osr__catalog_endpoint(&url, t, "compute", "public", "RegionOne", &err), 0);
    assert_string_equal(url, "http://127.0.0.1:8774/v2.1");
    assert_int_equal(osr__catalog_endpoint(&url, t, "compute", "public", "RegionTwo", &err), 0);
    assert_string_equal(url, "http://127.0.0.2:8774/v2.1");
    assert_int_equal(osr__catalog_endpoint(&url, t, "compute", "internal", "RegionOne", &err), 0);
    assert_string_equal(url, "http://10.0.0.1:8774/v2.1");
    assert_int_equal(osr__catalog_endpoint(&url, t, "compute", "admin", NULL, &err), 0);
    assert_string_equal(url, "http://10.0.0.2:8774/v2.1");
    /* One region only: no region needed. */
    assert_int_equal(osr__catalog_endpoint(&url, t, "image", "public", NULL, &err), 0);
    assert_string_equal(url, "http://127.0.0.1:9292");
    /* The deprecated "region" key still counts. */
    assert_int_equal(osr__catalog_endpoint(&url, t, "identity", "public", "RegionOne", &err), 0);
    assert_string_equal(url, "http://127.0.0.1:5000/v3");
}

static void test_endpoint_errors(void **state)
{
    osr__token *t = *state;
    const char *url = (const char *)0x1234;
    osr_error err;

    osr_error_clear(&err);
    assert_int_equal(osr__catalog_endpoint(&url, t, "compute", "public", NULL, &err), OSR_ECONFIG);
    assert_non_null(strstr(err.message, "several regions (RegionOne, RegionTwo)"));
    assert_non_null(strstr(err.message, "set region_name"));

    assert_int_equal(osr__catalog_endpoint(&url, t, "network", "public", NULL, &err),
                     OSR_ENOTFOUND);
    assert_string_equal(err.message, "the catalog has no network service");

    assert_int_equal(osr__catalog_endpoint(&url, t, "image", "internal", NULL, &err),
                     OSR_ENOTFOUND);
    assert_string_equal(err.message, "the catalog has no image endpoint for interface internal "
                                     "(it has: public/RegionOne)");
    assert_int_equal(osr__catalog_endpoint(&url, t, "image", "public", "RegionTwo", &err),
                     OSR_ENOTFOUND);
    assert_non_null(strstr(err.message, "in region RegionTwo"));
    assert_ptr_equal(url, (const char *)0x1234); /* untouched on failure */
}

static void expect_parse_error(const char *body, const char *phrase)
{
    osr__token *t = (osr__token *)0x1234;
    osr_error err;
    osr_error_clear(&err);
    assert_int_equal(osr__keystone_token_parse(&t, body, strlen(body), "x", &err), OSR_EPROTO);
    assert_ptr_equal(t, (osr__token *)0x1234);
    if (strstr(err.message, phrase) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", err.message, phrase);
}

static void test_token_parse_errors(void **state)
{
    (void)state;
    expect_parse_error("nope", "not JSON");
    expect_parse_error("{}", "no \"token\" object");
    expect_parse_error("{\"token\": {\"user\": {\"id\": \"u\"}, \"catalog\": []}}", "expires_at");
    expect_parse_error("{\"token\": {\"expires_at\": \"tomorrow\", \"user\": {\"id\": \"u\"}}}",
                       "expires_at");
    expect_parse_error("{\"token\": {\"expires_at\": \"2030-01-01T00:00:00Z\"}}", "missing user");
    expect_parse_error(
        "{\"token\": {\"expires_at\": \"2030-01-01T00:00:00Z\", \"user\": {\"id\": \"u\"}}}",
        "no service catalog");
    expect_parse_error("{\"token\": {\"expires_at\": \"2030-01-01T00:00:00Z\", \"user\": {\"id\": "
                       "\"u\"}, \"catalog\": [{\"type\": \"compute\"}]}}",
                       "lacks a type or endpoints");
    expect_parse_error("{\"token\": {\"expires_at\": \"2030-01-01T00:00:00Z\", \"user\": {\"id\": "
                       "\"u\"}, \"catalog\": [{\"type\": \"compute\", \"endpoints\": [{\"url\": "
                       "\"http://x\"}]}]}}",
                       "lacks a url or interface");
    expect_parse_error("{\"token\": {\"expires_at\": \"2030-01-01T00:00:00Z\", \"user\": {\"id\": "
                       "\"u\"}, \"catalog\": [], \"catalog\": []}}",
                       "not JSON");
}

static void test_timestamps(void **state)
{
    int64_t t = 0;
    (void)state;
    assert_int_equal(osr__parse_timestamp(&t, "2020-01-22T12:13:35Z"), 0);
    assert_int_equal(t, 1579695215);
    assert_int_equal(osr__parse_timestamp(&t, "2020-01-22T12:13:35.123-08:00"), 0);
    assert_int_equal(t, 1579695215 + 8 * 3600);
    assert_int_equal(osr__parse_timestamp(&t, "2020-01-22T12:13:35.000000Z"), 0);
    assert_int_equal(t, 1579695215);
    assert_int_equal(osr__parse_timestamp(&t, "2020-01-22T12:13:35+0100"), 0);
    assert_int_equal(t, 1579695215 - 3600);
    assert_int_equal(osr__parse_timestamp(&t, "2020-01-22 12:13:35"), 0);
    assert_int_equal(osr__parse_timestamp(&t, "2020-13-22T12:13:35Z"), -1);
    assert_int_equal(osr__parse_timestamp(&t, "2020-01-22T12:13Z"), -1);
    assert_int_equal(osr__parse_timestamp(&t, "2020-01-22T12:13:35Zjunk"), -1);
    assert_int_equal(osr__parse_timestamp(&t, "2020-01-22T12:13:35."), -1);
    assert_int_equal(osr__parse_timestamp(&t, ""), -1);
}

static void test_discovery(void **state)
{
    size_t len;
    char *body = fixture("versions.json", &len), *url = NULL;
    const char *single = "{\"version\": {\"id\": \"v3.14\", \"links\": [{\"rel\": \"self\", "
                         "\"href\": \"https://keystone.example/identity/v3/\"}]}}";
    const char *v2only = "{\"versions\": {\"values\": [{\"id\": \"v2.0\", \"links\": [{\"rel\": "
                         "\"self\", \"href\": \"http://x/v2.0/\"}]}]}}";
    osr_error err;
    (void)state;

    assert_int_equal(osr__keystone_discover_v3(&url, body, len, &err), 0);
    assert_string_equal(url, "http://127.0.0.1:5000/v3");
    free(url);
    assert_int_equal(osr__keystone_discover_v3(&url, single, strlen(single), &err), 0);
    assert_string_equal(url, "https://keystone.example/identity/v3");
    free(url);
    assert_int_equal(osr__keystone_discover_v3(&url, v2only, strlen(v2only), &err), OSR_ENOTFOUND);
    assert_int_equal(osr__keystone_discover_v3(&url, "x", 1, &err), OSR_EPROTO);
    free(body);

    url = osr__keystone_v3_from_auth_url("http://h:5000/v3/");
    assert_string_equal(url, "http://h:5000/v3");
    free(url);
    assert_null(osr__keystone_v3_from_auth_url("http://h:5000/"));
    assert_null(osr__keystone_v3_from_auth_url("http://h:5000/identity"));
}

/* The item accessors read what the parser mapped: sorted by name then id, "" for a
 * missing field, enabled unless false; a bad entry fails and leaves *out alone. */
static void test_project_items(void **state)
{
    static const char body[] =
        "{\"projects\": ["
        "{\"id\": \"p2\", \"name\": \"zeta\", \"domain_id\": \"d1\", \"description\": \"Z\","
        " \"parent_id\": \"d1\", \"enabled\": false},"
        "{\"id\": \"p1\", \"name\": \"alpha\", \"enabled\": true},"
        "{\"id\": \"p0\", \"name\": \"alpha\"}]}";
    osr_project_list *list = NULL, *untouched = (osr_project_list *)&list;
    const osr_project *p;
    osr_error err = { 0 };
    (void)state;

    assert_int_equal(osr__project_list_parse(&list, body, sizeof(body) - 1, &err), 0);
    assert_int_equal(osr_project_list_count(list), 3);
    p = osr_project_list_at(list, 0);
    assert_string_equal(osr_project_id(p), "p0");
    assert_string_equal(osr_project_name(p), "alpha");
    assert_string_equal(osr_project_domain_id(p), "");
    assert_string_equal(osr_project_description(p), "");
    assert_string_equal(osr_project_parent_id(p), "");
    assert_int_equal(osr_project_enabled(p), 1);
    assert_string_equal(osr_project_id(osr_project_list_at(list, 1)), "p1");
    p = osr_project_list_at(list, 2);
    assert_string_equal(osr_project_id(p), "p2");
    assert_string_equal(osr_project_name(p), "zeta");
    assert_string_equal(osr_project_domain_id(p), "d1");
    assert_string_equal(osr_project_description(p), "Z");
    assert_string_equal(osr_project_parent_id(p), "d1");
    assert_int_equal(osr_project_enabled(p), 0);
    assert_null(osr_project_list_at(list, 3));
    assert_null(osr_project_list_at(NULL, 0));
    assert_null(osr_project_name(NULL));
    assert_int_equal(osr_project_enabled(NULL), 0);
    osr_project_list_free(list);

    list = untouched;
    assert_int_equal(
        osr__project_list_parse(&list, "{\"projects\": [{\"name\": \"x\"}]}", 29, &err),
        OSR_EPROTO);
    assert_ptr_equal(list, untouched);
    assert_int_equal(osr__project_list_parse(&list, "{}", 2, &err), OSR_EPROTO);
    assert_ptr_equal(list, untouched);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_token_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_endpoint_by_region_and_interface, setup, teardown),
        cmocka_unit_test_setup_teardown(test_endpoint_errors, setup, teardown),
        cmocka_unit_test(test_token_parse_errors),
        cmocka_unit_test(test_timestamps),
        cmocka_unit_test(test_discovery),
        cmocka_unit_test(test_project_items),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
