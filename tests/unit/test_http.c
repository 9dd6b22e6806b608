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
        cmocka_unit_test(test_redaction),
        cmocka_unit_test(test_backoff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
