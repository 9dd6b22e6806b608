/* HTTP layer: status and API error body mapping, redaction, backoff. */
#include "http.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void map(osr_error *err, long status, const char *body)
{
    osr_error_clear(err);
    osr__http_error_from_response(err, "POST", "http://127.0.0.1:5000/v3/auth/tokens?x=1", status,
                                  body, body ? strlen(body) : 0, "req-abc");
}

static void test_status_codes(void **state)
{
    (void)state;
    assert_int_equal(osr__http_status_code(200), 0);
    assert_int_equal(osr__http_status_code(400), OSR_EREQUEST);
    assert_int_equal(osr__http_status_code(401), OSR_EAUTH);
    assert_int_equal(osr__http_status_code(403), OSR_EFORBIDDEN);
    assert_int_equal(osr__http_status_code(404), OSR_ENOTFOUND);
    assert_int_equal(osr__http_status_code(409), OSR_ECONFLICT);
    assert_int_equal(osr__http_status_code(413), OSR_EREQUEST);
    assert_int_equal(osr__http_status_code(422), OSR_EREQUEST);
    assert_int_equal(osr__http_status_code(429), OSR_ERATELIMIT);
    assert_int_equal(osr__http_status_code(500), OSR_ESERVER);
    assert_int_equal(osr__http_status_code(503), OSR_ESERVER);
}

static void test_keystone_error_body(void **state)
{
    osr_error err;
    (void)state;
    map(&err, 401,
        "{\"error\": {\"code\": 401, \"title\": \"Unauthorized\", \"message\": \"The request you "
        "have made requires authentication.\"}}");
    assert_int_equal(err.code, OSR_EAUTH);
    assert_int_equal(err.http_status, 401);
    assert_string_equal(err.request_id, "req-abc");
    assert_string_equal(err.message,
                        "POST http://127.0.0.1:5000/v3/auth/tokens: HTTP 401: The request you have "
                        "made requires authentication. (request id req-abc)");
}

static void test_nova_error_body(void **state)
{
    osr_error err;
    (void)state;
    map(&err, 404,
        "{\"itemNotFound\": {\"code\": 404, \"message\": \"Flavor x could not be found.\"}}");
    assert_int_equal(err.code, OSR_ENOTFOUND);
    assert_non_null(strstr(err.message, "HTTP 404: Flavor x could not be found."));
}

static void test_neutron_error_body(void **state)
{
    osr_error err;
    (void)state;
    map(&err, 409,
        "{\"NeutronError\": {\"type\": \"InUse\", \"message\": \"Port is in use.\", \"detail\": "
        "\"\"}}");
    assert_int_equal(err.code, OSR_ECONFLICT);
    assert_non_null(strstr(err.message, "HTTP 409: Port is in use."));
}

static void test_github_error_body(void **state)
{
    osr_error err;
    (void)state;
    map(&err, 422,
        "{\"message\": \"Bad request - Runner \\\"r1\\\" is still running a job\", "
        "\"documentation_url\": \"https://docs.github.com/rest\"}");
    assert_int_equal(err.code, OSR_EREQUEST);
    assert_non_null(strstr(err.message, "HTTP 422: Bad request - Runner \"r1\" is still running"));
}

static void test_plain_and_html_bodies(void **state)
{
    osr_error err;
    (void)state;
    map(&err, 503, "<html>\n<head><title>503</title></head>\n</html>\n");
    assert_int_equal(err.code, OSR_ESERVER);
    assert_string_equal(err.message, "POST http://127.0.0.1:5000/v3/auth/tokens: HTTP 503 "
                                     "(request id req-abc)");
    map(&err, 502, "\n  Bad gateway: upstream closed\r\nmore\n");
    assert_non_null(strstr(err.message, "HTTP 502: Bad gateway: upstream closed (request id"));
    map(&err, 500, NULL);
    assert_int_equal(err.code, OSR_ESERVER);
    /* The query string never reaches a message. */
    assert_null(strstr(err.message, "x=1"));
}

static void test_message_is_one_line(void **state)
{
    osr_error err;
    (void)state;
    map(&err, 400, "{\"message\": \"line one\\nline two\\r\\tend\"}");
    assert_null(strchr(err.message, '\n'));
    assert_null(strchr(err.message, '\r'));
    assert_non_null(strstr(err.message, "line one line two"));
}

static void test_redaction(void **state)
{
    const char *body =
        "{\"auth\": {\"identity\": {\"methods\": [\"password\", \"token\"], \"password\": "
        "{\"user\": "
        "{\"name\": \"admin\", \"password\": \"hunter2\"}}, \"token\": {\"id\": \"gAAAAtoken\"}, "
        "\"application_credential\": {\"id\": \"ac1\", \"secret\": \"s3cr3t\"}}}}";
    char *red = osr__http_redact_json(body, strlen(body));
    (void)state;
    assert_non_null(red);
    assert_null(strstr(red, "hunter2"));
    assert_null(strstr(red, "gAAAAtoken"));
    assert_null(strstr(red, "s3cr3t"));
    assert_non_null(strstr(red, "\"name\":\"admin\""));
    assert_non_null(strstr(red, "\"id\":\"ac1\""));
    free(red);
    assert_null(osr__http_redact_json("not json", 8));
}

static void test_backoff(void **state)
{
    (void)state;
    assert_int_equal(osr__http_backoff_ms(0, 0.0), 125);
    assert_int_equal(osr__http_backoff_ms(0, 0.999), 249);
    assert_int_equal(osr__http_backoff_ms(1, 0.0), 250);
    assert_int_equal(osr__http_backoff_ms(2, 0.5), 750);
    /* capped */
    assert_true(osr__http_backoff_ms(20, 0.999) <= 8000);
    assert_true(osr__http_backoff_ms(20, 0.0) >= 4000);
}

/* Glance's answer to a create with a bad disk_format (Accept: JSON), as the
 * local cloud sends it: a whole schema dump in "message". */
#define GLANCE_400_JSON                                                                            \
    "{\"message\": \"Provided object does not match schema 'image': 'bogus' is not one of "        \
    "[None, 'ami', 'ari', 'aki', 'vhd', 'vhdx', 'vmdk', 'raw', 'qcow2', 'vdi', 'iso', "            \
    "'ploop']\\n\\nFailed validating 'enum' in schema['properties']['disk_format']:\\n    "        \
    "{'description': 'Format of the disk',\\n     'enum': [None,\\n              'ami',\\n     "   \
    "         'ploop'],\\n     'type': ['null', 'string']}\\n\\nOn instance['disk_format']:\\n   " \
    " "                                                                                            \
    "'bogus'<br /><br />\\n\\n\\n\", \"code\": \"400 Bad Request\", \"title\": \"Bad Request\"}"

/* The same answer without Accept: JSON: webob's HTML page. */
#define GLANCE_400_HTML                                                                           \
    "<html>\n <head>\n  <title>400 Bad Request</title>\n </head>\n <body>\n  <h1>400 Bad "        \
    "Request</h1>\n  Provided object does not match schema &#x27;image&#x27;: &#x27;bogus&#x27; " \
    "is not one of [None, &#x27;ami&#x27;]\n\nFailed validating &#x27;enum&#x27; in "             \
    "schema[&#x27;properties&#x27;][&#x27;disk_format&#x27;]:\n    {&#x27;description&#x27;: "    \
    "&#x27;Format of the disk&#x27;}<br /><br />\n\n\n\n </body>\n</html>"

static void test_glance_schema_dump_is_summarised(void **state)
{
    osr_error err;
    (void)state;
    map(&err, 400, GLANCE_400_JSON);
    assert_int_equal(err.code, OSR_EREQUEST);
    assert_string_equal(err.message,
                        "POST http://127.0.0.1:5000/v3/auth/tokens: HTTP 400: Provided object does "
                        "not match schema 'image': 'bogus' is not one of [None, 'ami', 'ari', "
                        "'aki', 'vhd', 'vhdx', 'vmdk', 'raw', 'qcow2', 'vdi', 'iso', 'ploop'] "
                        "(request id req-abc)");
    map(&err, 400, GLANCE_400_HTML);
    assert_string_equal(err.message,
                        "POST http://127.0.0.1:5000/v3/auth/tokens: HTTP 400: Provided object does "
                        "not match schema 'image': 'bogus' is not one of [None, 'ami'] (request "
                        "id req-abc)");
}

static void test_summary(void **state)
{
    char long_msg[600];
    char *s;
    (void)state;
    /* A page with only the status in it: the status. */
    s = osr__http_summary("<html><body><h1>404 Not Found</h1></body></html>", 48, false);
    assert_string_equal(s, "404 Not Found");
    free(s);
    /* Inline markup stays one line; entities decoded; the status skipped. */
    s = osr__http_summary(
        "<html><head><title>x</title><style>p {}</style></head><body><h1>503 Service "
        "Unavailable</h1><p>No <b>server</b> is &quot;available&quot; &amp; ready.</p>"
        "<p>Second paragraph.</p><script>alert(1)</script></body></html>",
        strlen("<html><head><title>x</title><style>p {}</style></head><body><h1>503 Service "
               "Unavailable</h1><p>No <b>server</b> is &quot;available&quot; &amp; ready.</p>"
               "<p>Second paragraph.</p><script>alert(1)</script></body></html>"),
        false);
    assert_string_equal(s, "No server is \"available\" & ready.");
    free(s);
    /* Nothing but markup: nothing. */
    assert_null(osr__http_summary("<html><head><title>503</title></head></html>", 44, false));
    assert_null(osr__http_summary("  \n\t\n", 5, true));
    /* Capped at 200 bytes, marked, and never in the middle of a UTF-8 character. */
    memset(long_msg, 'a', sizeof(long_msg));
    memcpy(long_msg + 199, "\xc3\xa9", 2);
    long_msg[sizeof(long_msg) - 1] = '\0';
    s = osr__http_summary(long_msg, strlen(long_msg), true);
    assert_int_equal(strlen(s), 199 + 3);
    assert_string_equal(s + 199, "...");
    free(s);
    /* Controls become spaces; a paragraph joins its lines. */
    s = osr__http_summary("one\ttwo\r\nthree\n\nfour", 20, true);
    assert_string_equal(s, "one two three");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_codes),
        cmocka_unit_test(test_keystone_error_body),
        cmocka_unit_test(test_nova_error_body),
        cmocka_unit_test(test_neutron_error_body),
        cmocka_unit_test(test_github_error_body),
        cmocka_unit_test(test_plain_and_html_bodies),
        cmocka_unit_test(test_message_is_one_line),
        cmocka_unit_test(test_glance_schema_dump_is_summarised),
        cmocka_unit_test(test_summary),
        cmocka_unit_test(test_redaction),
        cmocka_unit_test(test_backoff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
