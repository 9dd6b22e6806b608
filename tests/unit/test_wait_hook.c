/* osr_session_set_wait_hook(): a blocking call (here a GitHub runner list
 * on the session's engine) also waits on the caller's fd and calls the hook
 * while it waits; a hook that returns non-zero cancels the request in
 * flight (OSR_EINTERRUPTED) at once, even against a server that never
 * answers; removing the hook restores the plain wait. */
#include "osrunner/github.h"
#include "osrunner/session.h"
#include "scripted_server.h"

#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define PAT "ghp_unitTestSecret0123456789abcdefABCD"

struct hook_state {
    int calls, readable, cancel_after;
    int pipe_rd;
};

static int hook(struct pollfd *fds, size_t n, void *payload)
{
    struct hook_state *st = payload;
    char byte;
    assert_int_equal(n, 1);
    st->calls++;
    if (fds[0].revents & POLLIN) {
        st->readable++;
        assert_int_equal(read(st->pipe_rd, &byte, 1), 1);
    }
    return st->cancel_after > 0 && st->calls >= st->cancel_after;
}

static osr_github *client(osr_session *sess, int port)
{
    osr_github_options o = OSR_GITHUB_OPTIONS_INIT;
    osr_github *gh = NULL;
    osr_error err;
    char api[64];

    snprintf(api, sizeof(api), "http://127.0.0.1:%d", port);
    setenv("OSR_UNIT_GH_TOKEN", PAT, 1);
    o.api_url = api;
    o.token_env = "OSR_UNIT_GH_TOKEN";
    o.max_retries = 0;
    o.session = sess;
    osr_error_clear(&err);
    assert_int_equal(osr_github_new(&gh, &o, &err), 0);
    return gh;
}

static void test_hook_serves_fds_and_cancels(void **state)
{
    static const char *const hang[] = { "HANG", NULL };
    osr_cloud *cloud = NULL;
    osr_session *sess = offline_session(&cloud);
    osr_github_runner_list *list = (osr_github_runner_list *)0x1234;
    struct hook_state st = { 0, 0, 3, -1 };
    struct pollfd fds[1];
    struct server s;
    osr_github *gh;
    char byte = 'x';
    int p[2];
    time_t t0;
    (void)state;

    server_start_replies(&s, hang);
    gh = client(sess, s.port);
    assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
    st.pipe_rd = p[0];
    assert_int_equal(write(p[1], &byte, 1), 1);
    fds[0] = (struct pollfd){ .fd = p[0], .events = POLLIN };
    assert_int_equal(osr_session_set_wait_hook(sess, fds, 1, hook, &st), 0);
    t0 = time(NULL);
    assert_int_equal(osr_github_runners_list(&list, gh, "o/r", NULL), OSR_EINTERRUPTED);
    assert_true(time(NULL) - t0 <= 5); /* the hook runs at least once a second */
    assert_ptr_equal(list, (osr_github_runner_list *)0x1234);
    assert_non_null(strstr(osr_github_last_error(gh)->message, "cancelled"));
    assert_int_equal(st.calls, 3);
    assert_int_equal(st.readable, 1); /* the caller's fd was waited on too */
    assert_int_equal(osr_session_pending(sess), 0);

    /* The hook removed (the second test: with one that never cancels, the answer comes). */
    assert_int_equal(osr_session_set_wait_hook(sess, NULL, 0, NULL, NULL), 0);
    osr_github_free(gh);
    server_stop(&s);
    close(p[0]);
    close(p[1]);

    /* Bad arguments. */
    assert_int_equal(osr_session_set_wait_hook(sess, NULL, 2, hook, &st), OSR_EINVAL);
    assert_int_equal(osr_session_set_wait_hook(NULL, NULL, 0, NULL, NULL), OSR_EINVAL);
    {
        struct pollfd many[65];
        memset(many, 0, sizeof(many));
        assert_int_equal(osr_session_set_wait_hook(sess, many, 65, hook, &st), OSR_EINVAL);
        assert_non_null(strstr(osr_session_last_error(sess)->message, "at most 64"));
    }
    osr_session_free(sess);
    osr_cloud_free(cloud);
}

static void
respond_empty_list(struct server *s, int n, const char *request, char *reply, size_t cap)
{
    (void)s;
    (void)n;
    (void)request;
    reply_json(reply, cap, "200 OK", "", "{\"total_count\":0,\"runners\":[]}");
}

static void test_hook_keeps_requests_going(void **state)
{
    osr_cloud *cloud = NULL;
    osr_session *sess = offline_session(&cloud);
    osr_github_runner_list *list = NULL;
    struct hook_state st = { 0, 0, 0, -1 };
    struct pollfd fds[1];
    struct server s;
    osr_github *gh;
    int p[2];
    (void)state;

    server_start(&s, respond_empty_list);
    gh = client(sess, s.port);
    assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
    st.pipe_rd = p[0];
    fds[0] = (struct pollfd){ .fd = p[0], .events = POLLIN };
    assert_int_equal(osr_session_set_wait_hook(sess, fds, 1, hook, &st), 0);
    assert_int_equal(osr_github_runners_list(&list, gh, "o/r", NULL), 0);
    assert_int_equal(osr_github_runner_list_count(list), 0);
    assert_true(st.calls >= 1);
    assert_int_equal(st.readable, 0);
    osr_github_runner_list_free(list);
    osr_github_free(gh);
    server_stop(&s);
    close(p[0]);
    close(p[1]);
    osr_session_free(sess);
    osr_cloud_free(cloud);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hook_serves_fds_and_cancels),
        cmocka_unit_test(test_hook_keeps_requests_going),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
