/* GitHub webhook deliveries: X-Hub-Signature-256 (GitHub's documented test
 * vector and vectors from `openssl dgst -sha256 -hmac`), messages that never
 * show the secret or the MAC, the secret file, and the workflow_job parser
 * over payloads from GitHub's schema packages (tests/fixtures/webhooks). */
#include "osrunner/webhook.h"

#include <fcntl.h>
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

/* github/docs validating-webhook-deliveries.md */
#define DOC_SECRET "It's a Secret to Everybody"
#define DOC_BODY   "Hello, World!"
#define DOC_SIG    "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
#define DOC_MAC    "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

static int verify(const char *header, const char *body, const char *secret, osr_error *err)
{
    osr_error_clear(err);
    return osr_webhook_verify(header, body, strlen(body), secret, strlen(secret), err);
}

static void assert_no_secret(const osr_error *err)
{
    assert_null(strstr(err->message, DOC_SECRET));
    assert_null(strstr(err->message, DOC_MAC));
    assert_null(strstr(err->message, "757107"));
    assert_null(strchr(err->message, '\n'));
}

static void test_signature_good(void **state)
{
    osr_error err;
    (void)state;
    assert_int_equal(verify(DOC_SIG, DOC_BODY, DOC_SECRET, &err), 0);
    /* openssl dgst -sha256 -hmac s3cret, of an empty body and of a JSON line */
    assert_int_equal(
        verify("sha256=91dfac70c5348b04e1babb8b421ac92cec08b565b49ca16130dccb72503647b7", "",
               "s3cret", &err),
        0);
    assert_int_equal(
        verify("sha256=fd38b33fd71d89cca84a60ff927ee85b00456e84217cc29d34a6b914902208e9",
               "{\"zen\":\"x\"}\n", "s3cret", &err),
        0);
}

static void test_signature_uppercase_hex(void **state)
{
    osr_error err;
    (void)state;
    assert_int_equal(
        verify("sha256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17", DOC_BODY,
               DOC_SECRET, &err),
        0);
    /* the prefix is not a hex digit: it must be lower case, as GitHub sends it */
    assert_int_equal(
        verify("SHA256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", DOC_BODY,
               DOC_SECRET, &err),
        OSR_EAUTH);
}

static void test_signature_bad(void **state)
{
    osr_error err;
    (void)state;
    /* last digit changed */
    assert_int_equal(
        verify("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e18", DOC_BODY,
               DOC_SECRET, &err),
        OSR_EAUTH);
    assert_non_null(strstr(err.message, "does not match"));
    assert_no_secret(&err);
    /* body changed by one byte */
    assert_int_equal(verify(DOC_SIG, "Hello, World?", DOC_SECRET, &err), OSR_EAUTH);
    assert_no_secret(&err);
    /* another secret */
    assert_int_equal(verify(DOC_SIG, DOC_BODY, "It's a Secret to Everybody!", &err), OSR_EAUTH);
    assert_no_secret(&err);
    /* the legacy SHA-1 form is not taken */
    assert_int_equal(
        verify("sha1=0123456789abcdef0123456789abcdef01234567", DOC_BODY, DOC_SECRET, &err),
        OSR_EAUTH);
    assert_non_null(strstr(err.message, "sha256="));
    /* not hex */
    assert_int_equal(
        verify("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1g", DOC_BODY,
               DOC_SECRET, &err),
        OSR_EAUTH);
    assert_non_null(strstr(err.message, "hexadecimal"));
    assert_no_secret(&err);
}

static void test_signature_missing(void **state)
{
    osr_error err;
    (void)state;
    osr_error_clear(&err);
    assert_int_equal(
        osr_webhook_verify(NULL, DOC_BODY, strlen(DOC_BODY), DOC_SECRET, strlen(DOC_SECRET), &err),
        OSR_EAUTH);
    assert_non_null(strstr(err.message, "no X-Hub-Signature-256"));
    assert_int_equal(verify("", DOC_BODY, DOC_SECRET, &err), OSR_EAUTH);
    assert_int_equal(verify("sha256=", DOC_BODY, DOC_SECRET, &err), OSR_EAUTH);
    /* no secret configured is the caller's error, not the sender's */
    assert_int_equal(verify(DOC_SIG, DOC_BODY, "", &err), OSR_EINVAL);
}

static void test_signature_wrong_length(void **state)
{
    osr_error err;
    (void)state;
    assert_int_equal(
        verify("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1", DOC_BODY,
               DOC_SECRET, &err),
        OSR_EAUTH);
    assert_non_null(strstr(err.message, "63 hex digits"));
    assert_int_equal(
        verify("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1700",
               DOC_BODY, DOC_SECRET, &err),
        OSR_EAUTH);
    assert_non_null(strstr(err.message, "66 hex digits"));
    /* a trailing space is a malformed header, not a near match */
    assert_int_equal(verify(DOC_SIG " ", DOC_BODY, DOC_SECRET, &err), OSR_EAUTH);
    assert_no_secret(&err);
}

/* Body bytes after a NUL count: the MAC is over the raw body, not a C string. */
static void test_signature_binary_body(void **state)
{
    const char body[] = { 'a', '\0', 'b' };
    osr_error err;
    (void)state;
    osr_error_clear(&err);
    /* printf 'a\0b' | openssl dgst -sha256 -hmac s3cret */
    assert_int_equal(osr_webhook_verify(
                         "sha256=0995cfa8400d1400579d7d28729161190856258450ced83ffa80683be0287638",
                         body, sizeof(body), "s3cret", 6, &err),
                     0);
    assert_int_equal(osr_webhook_verify(
                         "sha256=0995cfa8400d1400579d7d28729161190856258450ced83ffa80683be0287638",
                         body, 1, "s3cret", 6, &err),
                     OSR_EAUTH);
}

static char tmpdir[64];

static char *write_file(const char *name, const char *data, mode_t mode)
{
    static char path[128];
    int fd;
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
    return path;
}

static int warnings;
static void count_warn(osr_log_level level, const char *msg, void *payload)
{
    (void)payload;
    if (level == OSR_LOG_WARN)
        warnings++;
    assert_null(strstr(msg, "hunter2"));
}

static void test_secret_file(void **state)
{
    char *secret = (char *)0x1234;
    size_t n = 0;
    osr_error err;
    (void)state;

    snprintf(tmpdir, sizeof(tmpdir), "/tmp/osr-test-webhook-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    osr_error_clear(&err);
    warnings = 0;
    assert_int_equal(osr_webhook_secret_read(&secret, &n, write_file("ok", "hunter2\r\n", 0600),
                                             count_warn, NULL, &err),
                     0);
    assert_string_equal(secret, "hunter2");
    assert_int_equal(n, 7);
    assert_int_equal(warnings, 0);
    osr_secret_free(secret);

    assert_int_equal(osr_webhook_secret_read(&secret, &n, write_file("open", "hunter2\n", 0644),
                                             count_warn, NULL, &err),
                     0);
    assert_int_equal(warnings, 1);
    osr_secret_free(secret);

    secret = (char *)0x1234;
    assert_int_equal(osr_webhook_secret_read(&secret, &n, write_file("empty", " \n", 0600),
                                             count_warn, NULL, &err),
                     OSR_EINVAL);
    assert_ptr_equal(secret, (char *)0x1234);
    assert_non_null(strstr(err.message, "empty"));
    assert_int_equal(
        osr_webhook_secret_read(&secret, &n, "/nonexistent/osr-secret", count_warn, NULL, &err),
        OSR_ENOTFOUND);
    assert_ptr_equal(secret, (char *)0x1234);
    unlink(write_file("ok", "", 0600));
    unlink(write_file("open", "", 0600));
    unlink(write_file("empty", "", 0600));
    rmdir(tmpdir);
}

static char *fixture(const char *name, size_t *len)
{
    char path[512];
    FILE *f;
    char *buf = malloc(65536);
    snprintf(path, sizeof(path), "%s/webhooks/%s", OSR_TEST_FIXTURES, name);
    f = fopen(path, "rb");
    assert_non_null(f);
    assert_non_null(buf);
    *len = fread(buf, 1, 65535, f);
    assert_true(*len > 0 && *len < 65535);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static osr_webhook_event *parse_fixture(const char *event, const char *name)
{
    osr_webhook_event *ev = NULL;
    osr_error err;
    size_t len;
    char *body = fixture(name, &len);
    osr_error_clear(&err);
    assert_int_equal(osr_webhook_event_parse(&ev, event, body, len, &err), 0);
    free(body);
    return ev;
}

static void test_parse_queued(void **state)
{
    osr_webhook_event *ev = parse_fixture("workflow_job", "workflow_job_queued.json");
    (void)state;
    assert_int_equal(osr_webhook_event_kind(ev), OSR_WEBHOOK_WORKFLOW_JOB);
    assert_string_equal(osr_webhook_event_name(ev), "workflow_job");
    assert_int_equal(osr_webhook_job_action_of(ev), OSR_WEBHOOK_JOB_QUEUED);
    assert_string_equal(osr_webhook_job_action_name(ev), "queued");
    assert_int_equal(osr_webhook_job_id(ev), 12877621891LL);
    assert_int_equal(osr_webhook_job_run_id(ev), 4747967848LL);
    assert_int_equal(osr_webhook_job_label_count(ev), 2);
    assert_string_equal(osr_webhook_job_label(ev, 0), "self-hosted");
    assert_string_equal(osr_webhook_job_label(ev, 1), "k8s");
    assert_null(osr_webhook_job_label(ev, 2));
    assert_int_equal(osr_webhook_job_runner_id(ev), -1);
    assert_null(osr_webhook_job_runner_name(ev));
    assert_null(osr_webhook_job_conclusion(ev));
    assert_non_null(osr_webhook_event_repository(ev));
    assert_null(osr_webhook_event_organization(ev));
    osr_webhook_event_free(ev);
}

static void test_parse_in_progress_old_payload(void **state)
{
    /* lacks fields the schema now requires: still parses */
    osr_webhook_event *ev = parse_fixture("workflow_job", "workflow_job_in_progress.json");
    (void)state;
    assert_int_equal(osr_webhook_job_action_of(ev), OSR_WEBHOOK_JOB_IN_PROGRESS);
    assert_int_equal(osr_webhook_job_label_count(ev), 3);
    assert_string_equal(osr_webhook_job_label(ev, 2), "dc-03");
    assert_int_equal(osr_webhook_job_runner_id(ev), 1);
    assert_string_equal(osr_webhook_job_runner_name(ev), "my runner");
    assert_non_null(osr_webhook_event_organization(ev));
    osr_webhook_event_free(ev);
}

static void test_parse_completed_waiting_ping(void **state)
{
    osr_webhook_event *ev = parse_fixture("workflow_job", "workflow_job_completed.json");
    (void)state;
    assert_int_equal(osr_webhook_job_action_of(ev), OSR_WEBHOOK_JOB_COMPLETED);
    assert_non_null(osr_webhook_job_conclusion(ev));
    assert_non_null(osr_webhook_job_runner_name(ev));
    osr_webhook_event_free(ev);

    ev = parse_fixture("workflow_job", "workflow_job_waiting.json");
    assert_int_equal(osr_webhook_job_action_of(ev), OSR_WEBHOOK_JOB_WAITING);
    osr_webhook_event_free(ev);

    ev = parse_fixture("ping", "ping.json");
    assert_int_equal(osr_webhook_event_kind(ev), OSR_WEBHOOK_PING);
    assert_int_equal(osr_webhook_job_id(ev), -1);
    assert_int_equal(osr_webhook_job_action_of(ev), OSR_WEBHOOK_JOB_UNKNOWN);
    osr_webhook_event_free(ev);
}

static int parse(osr_webhook_event **ev, const char *event, const char *body, osr_error *err)
{
    osr_error_clear(err);
    return osr_webhook_event_parse(ev, event, body, strlen(body), err);
}

static void test_parse_lenient_and_strict(void **state)
{
    osr_webhook_event *ev = (osr_webhook_event *)0x1234;
    osr_error err;
    (void)state;

    /* the least a workflow_job needs; an action from the future; odd labels skipped */
    assert_int_equal(parse(&ev, "workflow_job",
                           "{\"action\":\"teleported\",\"workflow_job\":{\"id\":7,"
                           "\"labels\":[\"a\",3,null,\"b\"],\"new_field\":{}},\"x\":1}",
                           &err),
                     0);
    assert_int_equal(osr_webhook_job_action_of(ev), OSR_WEBHOOK_JOB_UNKNOWN);
    assert_string_equal(osr_webhook_job_action_name(ev), "teleported");
    assert_int_equal(osr_webhook_job_id(ev), 7);
    assert_int_equal(osr_webhook_job_run_id(ev), -1);
    assert_int_equal(osr_webhook_job_label_count(ev), 2);
    assert_string_equal(osr_webhook_job_label(ev, 1), "b");
    assert_null(osr_webhook_event_repository(ev));
    osr_webhook_event_free(ev);

    /* other events are not read: any body */
    ev = NULL;
    assert_int_equal(parse(&ev, "push", "payload=%7B%7D", &err), 0);
    assert_int_equal(osr_webhook_event_kind(ev), OSR_WEBHOOK_OTHER);
    assert_string_equal(osr_webhook_event_name(ev), "push");
    osr_webhook_event_free(ev);

    ev = (osr_webhook_event *)0x1234;
    assert_int_equal(parse(&ev, "workflow_job", "payload=%7B%7D", &err), OSR_EPROTO);
    assert_non_null(strstr(err.message, "application/json"));
    assert_int_equal(parse(&ev, "workflow_job", "[1]", &err), OSR_EPROTO);
    assert_int_equal(parse(&ev, "workflow_job", "{\"workflow_job\":{\"id\":1}}", &err), OSR_EPROTO);
    assert_non_null(strstr(err.message, "'action'"));
    assert_int_equal(parse(&ev, "workflow_job", "{\"action\":\"queued\"}", &err), OSR_EPROTO);
    assert_non_null(strstr(err.message, "'workflow_job'"));
    assert_int_equal(
        parse(&ev, "workflow_job", "{\"action\":\"queued\",\"workflow_job\":{\"id\":\"1\"}}", &err),
        OSR_EPROTO);
    assert_non_null(strstr(err.message, "workflow_job.id"));
    assert_int_equal(parse(&ev, "workflow_job",
                           "{\"action\":\"queued\",\"workflow_job\":{\"id\":1,\"labels\":\"x\"}}",
                           &err),
                     OSR_EPROTO);
    assert_non_null(strstr(err.message, "labels"));
    assert_int_equal(parse(&ev, "workflow_job",
                           "{\"action\":\"queued\",\"workflow_job\":{\"id\":1,\"runner_name\":5}}",
                           &err),
                     OSR_EPROTO);
    assert_int_equal(parse(&ev, "ping", "nope", &err), OSR_EPROTO);
    assert_int_equal(parse(&ev, NULL, "{}", &err), OSR_EPROTO);
    assert_int_equal(parse(&ev, "", "{}", &err), OSR_EPROTO);
    assert_non_null(strstr(err.message, "X-GitHub-Event"));
    osr_error_clear(&err);
    assert_int_equal(
        osr_webhook_event_parse(&ev, "workflow_job", "{}", (size_t)OSR_WEBHOOK_BODY_MAX + 1, &err),
        OSR_EINVAL);
    assert_ptr_equal(ev, (osr_webhook_event *)0x1234);
    osr_webhook_event_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signature_good),
        cmocka_unit_test(test_signature_uppercase_hex),
        cmocka_unit_test(test_signature_bad),
        cmocka_unit_test(test_signature_missing),
        cmocka_unit_test(test_signature_wrong_length),
        cmocka_unit_test(test_signature_binary_body),
        cmocka_unit_test(test_secret_file),
        cmocka_unit_test(test_parse_queued),
        cmocka_unit_test(test_parse_in_progress_old_payload),
        cmocka_unit_test(test_parse_completed_waiting_ping),
        cmocka_unit_test(test_parse_lenient_and_strict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
