/* GitHub client: Link parsing (and a server whose "next" never ends), rate-limit
 * header handling, error body mapping, the App JWT against an independent
 * `openssl dgst -sha256 -sign`, both timestamp forms, parsers, options and
 * what goes on the wire. Servers are scripted threads on 127.0.0.1
 * (support/scripted_server.h). */
#include "github_internal.h"
#include "osrunner/image.h"
#include "scripted_server.h"
#include "session.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define PAT "ghp_unitTestSecret0123456789abcdefABCD"

/* Log messages of the client, all levels, for checks. */
static char logbuf[65536];
static size_t loglen;
static void log_collect(osr_log_level level, const char *msg, void *payload)
{
    (void)level;
    (void)payload;
    loglen += (size_t)snprintf(logbuf + loglen, sizeof(logbuf) - loglen, "%s\n", msg);
    if (loglen >= sizeof(logbuf))
        loglen = sizeof(logbuf) - 1;
}

static osr_github *client_retrying(struct server *s, int max_pages, int rate_wait, int retries)
{
    osr_github_options o = OSR_GITHUB_OPTIONS_INIT;
    osr_github *gh = NULL;
    osr_error err;
    char url[64];

    snprintf(url, sizeof(url), "http://127.0.0.1:%d", s->port);
    setenv("OSR_UNIT_GH_TOKEN", PAT, 1);
    o.api_url = url;
    o.token_env = "OSR_UNIT_GH_TOKEN";
    o.max_pages = max_pages;
    o.rate_limit_wait_s = rate_wait;
    o.max_retries = retries;
    o.log_cb = log_collect;
    o.log_level = OSR_LOG_TRACE;
    loglen = 0;
    logbuf[0] = '\0';
    osr_error_clear(&err);
    if (osr_github_new(&gh, &o, &err) != 0)
        fail_msg("osr_github_new: %s", err.message);
    return gh;
}

static osr_github *client_for(struct server *s, int max_pages, int rate_wait)
{
    return client_retrying(s, max_pages, rate_wait, 0);
}

/* ------------------------------------------------------------------ Link */

static void test_link_next(void **state)
{
    char *next = (char *)0x1;
    (void)state;

    assert_int_equal(osr__github_link_next(&next,
                                           "<https://api.github.com/repositories/1/actions/runners?"
                                           "per_page=2&page=2>; rel=\"next\", "
                                           "<https://api.github.com/repositories/1/actions/runners?"
                                           "per_page=2&page=5>; rel=\"last\""),
                     0);
    assert_string_equal(next,
                        "https://api.github.com/repositories/1/actions/runners?per_page=2&page=2");
    free(next);

    /* next not first, unquoted rel, extra parameters, a comma inside the URL */
    assert_int_equal(osr__github_link_next(&next,
                                           "<https://x/a?page=1>; rel=\"prev\"; title=\"a,b\","
                                           "  <https://x/a?ids=1,2&page=3> ;rel=next"),
                     0);
    assert_string_equal(next, "https://x/a?ids=1,2&page=3");
    free(next);

    /* several relations in one rel value */
    assert_int_equal(osr__github_link_next(&next, "<https://x/p2>; rel=\"last next\""), 0);
    assert_string_equal(next, "https://x/p2");
    free(next);

    /* last page: no next */
    assert_int_equal(osr__github_link_next(&next, "<https://x/p1>; rel=\"prev\", <https://x/p1>; "
                                                  "rel=\"first\""),
                     0);
    assert_null(next);
    assert_int_equal(osr__github_link_next(&next, NULL), 0);
    assert_null(next);
    assert_int_equal(osr__github_link_next(&next, ""), 0);
    assert_null(next);
    /* "nextpage" is not "next" */
    assert_int_equal(osr__github_link_next(&next, "<https://x/p2>; rel=\"nextpage\""), 0);
    assert_null(next);

    /* malformed */
    assert_int_equal(osr__github_link_next(&next, "https://x/p2; rel=\"next\""), OSR_EPROTO);
    assert_int_equal(osr__github_link_next(&next, "<https://x/p2; rel=\"next\""), OSR_EPROTO);
    assert_int_equal(osr__github_link_next(&next, "<https://x/p2>; rel=\"next"), OSR_EPROTO);
    assert_int_equal(osr__github_link_next(&next, "<https://x/p2> junk"), OSR_EPROTO);
    assert_int_equal(osr__github_link_next(&next, "<>; rel=next"), OSR_EPROTO);
}

static void test_same_origin(void **state)
{
    (void)state;
    assert_true(osr__github_same_origin("https://api.github.com/repositories/1?page=2",
                                        "https://api.github.com"));
    assert_true(osr__github_same_origin("http://127.0.0.1:29380/x", "http://127.0.0.1:29380"));
    assert_true(osr__github_same_origin("https://ghe.example.com/api/v3/x",
                                        "https://GHE.example.com/api/v3"));
    assert_false(osr__github_same_origin("https://evil.example/x", "https://api.github.com"));
    assert_false(
        osr__github_same_origin("https://api.github.com.evil.example/x", "https://api.github.com"));
    assert_false(osr__github_same_origin("http://api.github.com/x", "https://api.github.com"));
    assert_false(osr__github_same_origin("http://127.0.0.1:1/x", "http://127.0.0.1:29380"));
    assert_false(osr__github_same_origin("/relative?page=2", "https://api.github.com"));
}

/* A server whose every page says there is a next one. */
static void respond_endless(struct server *s, int n, const char *request, char *reply, size_t cap)
{
    char headers[256], body[256];
    (void)request;
    snprintf(headers, sizeof(headers),
             "Link: <http://127.0.0.1:%d/repos/o/r/actions/runners?per_page=1&page=%d>; "
             "rel=\"next\"\r\n",
             s->port, n + 2);
    snprintf(body, sizeof(body),
             "{\"total_count\":1000,\"runners\":[{\"id\":%d,\"name\":\"r%d\",\"os\":\"linux\","
             "\"status\":\"online\",\"busy\":false,\"labels\":[]}]}",
             1000 - n, n);
    reply_json(reply, cap, "200 OK", headers, body);
}

static void test_endless_next_is_capped(void **state)
{
    struct server s;
    osr_github *gh;
    osr_github_runner_list *list = (osr_github_runner_list *)0x1;
    (void)state;

    server_start(&s, respond_endless);
    gh = client_for(&s, 3, 0);
    assert_int_equal(osr_github_runners_list(&list, gh, "o/r", NULL), OSR_EPROTO);
    assert_ptr_equal(list, (osr_github_runner_list *)0x1); /* untouched on failure */
    assert_int_equal(s.served, 3);
    assert_non_null(strstr(osr_github_last_error(gh)->message, "more than 3 pages"));
    osr_github_free(gh);
    server_stop(&s);
}

/* Two pages, then none; the second page's runners have lower IDs. */
static void respond_two_pages(struct server *s, int n, const char *request, char *reply, size_t cap)
{
    char headers[256];
    (void)request;
    if (n == 0) {
        snprintf(headers, sizeof(headers),
                 "Link: <http://127.0.0.1:%d/repos/o/r/actions/runners?per_page=1&page=2>; "
                 "rel=\"next\", <http://127.0.0.1:%d/x?page=2>; rel=\"last\"\r\n",
                 s->port, s->port);
        reply_json(reply, cap, "200 OK", headers,
                   "{\"total_count\":2,\"runners\":[{\"id\":7,\"name\":\"b\",\"os\":\"linux\","
                   "\"status\":\"online\",\"busy\":true,\"ephemeral\":true,\"runner_group_id\":2,"
                   "\"version\":\"2.323.0\",\"labels\":[{\"id\":1,\"name\":\"self-hosted\","
                   "\"type\":\"read-only\"},{\"name\":\"gpu\"}]}]}");
    } else {
        reply_json(reply, cap, "200 OK", "Link: <http://127.0.0.1:1/x>; rel=\"prev\"\r\n",
                   "{\"total_count\":2,\"runners\":[{\"id\":3,\"name\":\"a\",\"os\":\"linux\","
                   "\"status\":\"offline\",\"busy\":false,\"labels\":[],\"version\":null}]}");
    }
}

static void test_pages_followed_and_merged(void **state)
{
    struct server s;
    osr_github *gh;
    osr_github_runner_list *list = NULL;
    (void)state;

    server_start(&s, respond_two_pages);
    gh = client_for(&s, 0, 0);
    assert_int_equal(osr_github_runners_list(&list, gh, "o/r", "a b&c"), 0);
    assert_int_equal(s.served, 2);
    /* The name filter is percent-encoded; the second request is the Link URL. */
    assert_non_null(
        strstr(s.requests[0], "GET /repos/o/r/actions/runners?per_page=100&name=a%20b%26c "));
    assert_non_null(strstr(s.requests[1], "GET /repos/o/r/actions/runners?per_page=1&page=2 "));
    assert_int_equal(osr_github_runner_list_count(list), 2);
    assert_int_equal(osr_github_runner_id(osr_github_runner_list_at(list, 0)),
                     3); /* sorted by id */
    assert_string_equal(osr_github_runner_name(osr_github_runner_list_at(list, 0)), "a");
    assert_string_equal(osr_github_runner_version(osr_github_runner_list_at(list, 0)), "");
    assert_int_equal(osr_github_runner_group_id(osr_github_runner_list_at(list, 0)), -1);
    assert_int_equal(osr_github_runner_id(osr_github_runner_list_at(list, 1)), 7);
    assert_true(osr_github_runner_busy(osr_github_runner_list_at(list, 1)));
    assert_true(osr_github_runner_ephemeral(osr_github_runner_list_at(list, 1)));
    assert_int_equal(osr_github_runner_group_id(osr_github_runner_list_at(list, 1)), 2);
    assert_string_equal(osr_github_runner_status(osr_github_runner_list_at(list, 1)), "online");
    assert_int_equal(osr_github_runner_label_count(osr_github_runner_list_at(list, 1)), 2);
    assert_string_equal(osr_github_runner_label(osr_github_runner_list_at(list, 1), 1), "gpu");
    assert_null(osr_github_runner_label(osr_github_runner_list_at(list, 1), 2));
    osr_github_runner_list_free(list);
    osr_github_free(gh);
    server_stop(&s);
}

static void
respond_other_host(struct server *s, int n, const char *request, char *reply, size_t cap)
{
    (void)s;
    (void)n;
    (void)request;
    reply_json(reply, cap, "200 OK",
               "Link: <http://evil.example:80/steal?page=2>; rel=\"next\"\r\n",
               "{\"total_count\":2,\"runners\":[]}");
}

static void test_next_on_other_host_refused(void **state)
{
    struct server s;
    osr_github *gh;
    osr_github_runner_list *list = NULL;
    (void)state;

    server_start(&s, respond_other_host);
    gh = client_for(&s, 0, 0);
    assert_int_equal(osr_github_runners_list(&list, gh, "org", NULL), OSR_EPROTO);
    assert_int_equal(s.served, 1);
    assert_non_null(strstr(osr_github_last_error(gh)->message, "another host"));
    assert_non_null(strstr(s.requests[0], "GET /orgs/org/actions/runners?per_page=100 "));
    osr_github_free(gh);
    server_stop(&s);
}

/* ------------------------------------------------------------ rate limits */

static void test_rate_limit_wait(void **state)
{
    osr__http_response r;
    (void)state;
    memset(&r, 0, sizeof(r));
    r.retry_after_s = -1;
    r.ratelimit_remaining = 0;
    r.ratelimit_reset = 1000;
    assert_int_equal(osr__github_rate_limit_wait(&r, 990), 10);
    assert_int_equal(osr__github_rate_limit_wait(&r, 1000), 1); /* never 0 or less */
    assert_int_equal(osr__github_rate_limit_wait(&r, 2000), 1);
    r.retry_after_s = 7; /* Retry-After wins */
    assert_int_equal(osr__github_rate_limit_wait(&r, 990), 7);
    r.retry_after_s = -1;
    r.ratelimit_remaining = 12; /* budget left, so a secondary limit: GitHub says a minute */
    assert_int_equal(osr__github_rate_limit_wait(&r, 990), 60);
    r.ratelimit_remaining = -1;
    r.ratelimit_reset = -1;
    assert_int_equal(osr__github_rate_limit_wait(&r, 990), 60);
}

static void
map_reply(osr_error *err, long status, int retry_after, long remaining, const char *body)
{
    osr__http_response r;
    memset(&r, 0, sizeof(r));
    r.status = status;
    r.retry_after_s = retry_after;
    r.ratelimit_remaining = remaining;
    r.ratelimit_reset = 1700000000;
    r.body.data = (char *)body;
    r.body.len = strlen(body);
    snprintf(r.request_id, sizeof(r.request_id), "AB12:CD34");
    osr_error_clear(err);
    osr__http_error_from_reply(err, "GET", "https://api.github.com/orgs/o/actions/runners?page=2",
                               &r);
}

static void test_rate_limit_status_mapping(void **state)
{
    osr_error err;
    (void)state;
    /* primary: 403 with remaining 0 */
    map_reply(&err, 403, -1, 0,
              "{\"message\":\"API rate limit exceeded for installation ID 1.\","
              "\"documentation_url\":\"https://docs.github.com/rest/overview/rate-limits\"}");
    assert_int_equal(err.code, OSR_ERATELIMIT);
    assert_int_equal(err.http_status, 403);
    assert_string_equal(err.message, "GET https://api.github.com/orgs/o/actions/runners: HTTP 403: "
                                     "API rate limit exceeded for installation ID 1. (request id "
                                     "AB12:CD34)");
    /* secondary: 403 with Retry-After */
    map_reply(&err, 403, 60, 4000, "{\"message\":\"You have exceeded a secondary rate limit.\"}");
    assert_int_equal(err.code, OSR_ERATELIMIT);
    /* 429 */
    map_reply(&err, 429, -1, -1, "{\"message\":\"slow down\"}");
    assert_int_equal(err.code, OSR_ERATELIMIT);
    /* a plain 403 stays a permission error */
    map_reply(&err, 403, -1, 4999, "{\"message\":\"Resource not accessible by integration\"}");
    assert_int_equal(err.code, OSR_EFORBIDDEN);
    assert_non_null(strstr(err.message, "Resource not accessible by integration"));
    map_reply(&err, 403, -1, -1, "{\"message\":\"Must have admin rights to Repository.\"}");
    assert_int_equal(err.code, OSR_EFORBIDDEN);
}

static int rl_reset_at;

static void
respond_rate_limited_once(struct server *s, int n, const char *request, char *reply, size_t cap)
{
    char headers[256];
    (void)s;
    (void)request;
    if (n == 0) {
        snprintf(headers, sizeof(headers),
                 "Retry-After: 0\r\nX-RateLimit-Remaining: 0\r\nX-RateLimit-Reset: %d\r\n",
                 rl_reset_at);
        reply_json(reply, cap, "403 Forbidden", headers,
                   "{\"message\":\"API rate limit exceeded\",\"documentation_url\":\"x\"}");
    } else {
        reply_json(reply, cap, "200 OK",
                   "X-RateLimit-Remaining: 4999\r\nX-RateLimit-Reset: 1893456000\r\n",
                   "{\"total_count\":0,\"runners\":[]}");
    }
}

static void test_rate_limit_waited_then_ok(void **state)
{
    struct server s;
    osr_github *gh;
    osr_github_runner_list *list = NULL;
    long remaining = 0;
    long long reset = 0;
    (void)state;

    rl_reset_at = (int)time(NULL);
    server_start(&s, respond_rate_limited_once);
    gh = client_for(&s, 0, 5);
    osr_github_rate_limit(&remaining, &reset, gh);
    assert_int_equal(remaining, -1); /* nothing seen yet */
    assert_int_equal(reset, -1);
    assert_int_equal(osr_github_runners_list(&list, gh, "o/r", NULL), 0);
    assert_int_equal(s.served, 2);
    assert_non_null(strstr(logbuf, "GitHub rate limit (HTTP 403): waiting 0 s"));
    osr_github_rate_limit(&remaining, &reset, gh);
    assert_int_equal(remaining, 4999);
    assert_int_equal(reset, 1893456000);
    osr_github_runner_list_free(list);
    osr_github_free(gh);
    server_stop(&s);
}

static void
respond_rate_limited_long(struct server *s, int n, const char *request, char *reply, size_t cap)
{
    char headers[256];
    (void)s;
    (void)n;
    (void)request;
    snprintf(headers, sizeof(headers),
             "X-RateLimit-Remaining: 0\r\nX-RateLimit-Reset: %d\r\nX-GitHub-Request-Id: R:1\r\n",
             rl_reset_at);
    reply_json(reply, cap, "403 Forbidden", headers,
               "{\"message\":\"API rate limit exceeded for user ID 1.\"}");
}

static void test_rate_limit_beyond_budget(void **state)
{
    struct server s;
    osr_github *gh;
    char *token = (char *)0x1;
    long long exp = 7;
    int64_t t0;
    (void)state;

    rl_reset_at = (int)time(NULL) + 100;
    server_start(&s, respond_rate_limited_long);
    gh = client_for(&s, 0, 5);
    t0 = osr__now_ms_monotonic();
    assert_int_equal(osr_github_registration_token(&token, &exp, gh, "o/r"), OSR_ERATELIMIT);
    /* No wait at all: the reset is further away than the budget. */
    assert_true(osr__now_ms_monotonic() - t0 < 1000);
    assert_int_equal(s.served, 1);
    assert_ptr_equal(token, (char *)0x1);
    assert_int_equal(exp, 7);
    assert_non_null(strstr(osr_github_last_error(gh)->message, "API rate limit exceeded"));
    assert_non_null(strstr(osr_github_last_error(gh)->message, "more than the 5 s of waiting"));
    assert_string_equal(osr_github_last_error(gh)->request_id, "R:1");
    osr_github_free(gh);
    server_stop(&s);
}

/* The first answer is a rate limit that resets 2 s ahead, without a
 * Retry-After: the client must wait it out, then gets the list. */
static void
respond_rate_limited_ahead(struct server *s, int n, const char *request, char *reply, size_t cap)
{
    char headers[256];
    (void)s;
    (void)request;
    if (n == 0) {
        snprintf(headers, sizeof(headers), "X-RateLimit-Remaining: 0\r\nX-RateLimit-Reset: %d\r\n",
                 rl_reset_at);
        reply_json(reply, cap, "403 Forbidden", headers,
                   "{\"message\":\"API rate limit exceeded\"}");
    } else {
        reply_json(reply, cap, "200 OK", "X-RateLimit-Remaining: 4999\r\n",
                   "{\"total_count\":0,\"runners\":[]}");
    }
}

struct call_state {
    bool done;
    int error;
};

static void call_done(int error, void *payload)
{
    struct call_state *st = payload;
    st->done = true;
    st->error = error;
}

/* A daemon's loop drives the engine with its own fds (a pipe, a timerfd)
 * while a GitHub request waits out a rate limit: the wait is a timer on the
 * engine, so each step returns for the daemon's fds long before the wait is
 * over, and the request still ends well after it. */
static void test_rate_limit_wait_does_not_block_the_loop(void **state)
{
    struct itimerspec its = { { 0, 0 }, { 0, 200 * 1000000L } };
    struct server s;
    struct pollfd fds[2];
    struct call_state st = { false, 0 };
    osr__http_response resp;
    osr_error err;
    osr_github *gh;
    char url[96], byte = 'x';
    int p[2], rounds, n;
    int64_t t_limited, t;
    (void)state;

    rl_reset_at = (int)time(NULL) + 2;
    server_start(&s, respond_rate_limited_ahead);
    gh = client_for(&s, 0, 10);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/repos/o/r/actions/runners", s.port);
    assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
    fds[0] = (struct pollfd){ .fd = p[0], .events = POLLIN };
    fds[1] = (struct pollfd){ .fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK),
                              .events = POLLIN };
    assert_true(fds[1].fd >= 0);

    assert_int_equal(osr__github_submit(gh, "GET", url, NULL, OSR__GITHUB_SAFE, PAT, &resp, &err,
                                        call_done, &st),
                     0);
    /* Step until the rate-limited answer is in and the wait has begun. */
    for (rounds = 0; rounds < 100 && strstr(logbuf, "GitHub rate limit (HTTP 403)") == NULL;
         rounds++)
        assert_true(osr__http_step(gh->http, fds, 2, 100) >= 0);
    assert_non_null(strstr(logbuf, "GitHub rate limit (HTTP 403): waiting"));
    t_limited = osr__now_ms_monotonic();
    assert_false(st.done);
    assert_int_equal(s.served, 1);

    /* The pipe is readable: the very next step returns for it, at once. */
    assert_int_equal(write(p[1], &byte, 1), 1);
    n = osr__http_step(gh->http, fds, 2, -1);
    assert_int_equal(n, 1);
    assert_true(fds[0].revents & POLLIN);
    assert_true(osr__now_ms_monotonic() - t_limited < 500);
    assert_false(st.done);
    assert_int_equal(read(p[0], &byte, 1), 1);

    /* A timer at 200 ms: a step returns for it, still inside the wait. */
    assert_int_equal(timerfd_settime(fds[1].fd, 0, &its, NULL), 0);
    for (rounds = 0; rounds < 20 && (fds[1].revents & POLLIN) == 0; rounds++)
        assert_true(osr__http_step(gh->http, fds, 2, -1) >= 0);
    t = osr__now_ms_monotonic() - t_limited;
    assert_true(fds[1].revents & POLLIN);
    assert_true(t >= 150 && t < 900);
    assert_false(st.done);
    assert_int_equal(s.served, 1);

    /* Then the wait ends on the engine's timer and the request is sent again. */
    for (rounds = 0; rounds < 200 && !st.done; rounds++)
        assert_true(osr__http_step(gh->http, fds, 1, 100) >= 0);
    assert_true(st.done);
    assert_int_equal(st.error, 0);
    assert_int_equal(resp.status, 200);
    assert_int_equal(s.served, 2);
    assert_true(osr__now_ms_monotonic() - t_limited >= 900);
    osr__http_response_free(&resp);
    close(fds[1].fd);
    close(p[0]);
    close(p[1]);
    osr_github_free(gh);
    server_stop(&s);
}

/* GitHub on the session's engine: one engine, and the session's one-step
 * call drives a GitHub request (and its rate-limit wait) with the caller's
 * fds. A version 1 options struct has no session and keeps its own engine. */
static void test_github_on_the_session_engine(void **state)
{
    osr_github_options o = OSR_GITHUB_OPTIONS_INIT;
    struct pollfd fds[1], many[65];
    struct call_state st = { false, 0 };
    struct server s;
    osr_cloud *cloud = NULL;
    osr_session *sess = offline_session(&cloud);
    osr_github_runner_list *list = NULL;
    osr__http_response resp;
    osr_github *gh = NULL;
    osr_error err;
    char api[64], url[96], byte = 'x';
    int p[2], rounds, n;
    (void)state;

    rl_reset_at = (int)time(NULL);
    server_start(&s, respond_rate_limited_once);
    snprintf(api, sizeof(api), "http://127.0.0.1:%d", s.port);
    setenv("OSR_UNIT_GH_TOKEN", PAT, 1);
    o.api_url = api;
    o.token_env = "OSR_UNIT_GH_TOKEN";
    o.rate_limit_wait_s = 5;
    o.log_cb = log_collect;
    o.log_level = OSR_LOG_TRACE;
    o.session = sess;
    loglen = 0;
    logbuf[0] = '\0';
    assert_int_equal(osr_github_new(&gh, &o, &err), 0);
    assert_ptr_equal(gh->http, osr__session_http(sess));
    assert_null(gh->own_http);

    /* A blocking call runs on the shared engine, its rate-limit wait too. */
    assert_int_equal(osr_github_runners_list(&list, gh, "o/r", NULL), 0);
    assert_int_equal(s.served, 2);
    assert_non_null(strstr(logbuf, "GitHub rate limit (HTTP 403): waiting 0 s"));
    osr_github_runner_list_free(list);

    /* The daemon's way: submit, then the session's loop with its own fd. */
    assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
    assert_int_equal(write(p[1], &byte, 1), 1);
    fds[0] = (struct pollfd){ .fd = p[0], .events = POLLIN };
    snprintf(url, sizeof(url), "%s/repos/o/r/actions/runners", api);
    assert_int_equal(osr__github_submit(gh, "GET", url, NULL, OSR__GITHUB_SAFE, PAT, &resp, &err,
                                        call_done, &st),
                     0);
    assert_int_equal(osr_session_pending(sess), 1);
    for (rounds = 0; rounds < 200 && !st.done; rounds++) {
        n = osr_session_run_once(sess, fds, 1, 100);
        assert_true(n >= 0);
        if (n > 0 && (fds[0].revents & POLLIN))
            assert_int_equal(read(p[0], &byte, 1), 1);
    }
    assert_true(st.done);
    assert_int_equal(st.error, 0);
    assert_int_equal(resp.status, 200);
    assert_int_equal(s.served, 3);
    assert_int_equal(osr_session_pending(sess), 0);
    osr__http_response_free(&resp);
    close(p[0]);
    close(p[1]);
    memset(many, 0, sizeof(many));
    assert_int_equal(osr_session_run_once(sess, many, 65, 0), OSR_EINVAL);
    assert_non_null(strstr(osr_session_last_error(sess)->message, "at most 64"));
    assert_int_equal(osr_session_run_once(sess, NULL, 1, 0), OSR_EINVAL);
    assert_int_equal(osr_session_run_once(NULL, NULL, 0, 0), OSR_EINVAL);
    osr_github_free(gh);

    /* Version 1: no session field is read; the client has its own engine. */
    o.version = 1;
    assert_int_equal(osr_github_new(&gh, &o, &err), 0);
    assert_non_null(gh->own_http);
    assert_ptr_equal(gh->http, gh->own_http);
    osr_github_free(gh);
    o.version = 3;
    assert_int_equal(osr_github_new(&gh, &o, &err), OSR_EINVAL);

    osr_session_free(sess);
    osr_cloud_free(cloud);
    server_stop(&s);
}

/* -------------------------------------------------------- error bodies */

static void map(osr_error *err, long status, const char *body)
{
    osr_error_clear(err);
    osr__http_error_from_response(err, "DELETE",
                                  "https://api.github.com/repos/o/r/actions/runners/5", status,
                                  body, strlen(body), "");
}

static void test_error_bodies(void **state)
{
    osr_error err;
    (void)state;
    map(&err, 401,
        "{\"message\":\"Bad credentials\",\"documentation_url\":\"https://docs.github.com/rest\","
        "\"status\":\"401\"}");
    assert_int_equal(err.code, OSR_EAUTH);
    assert_string_equal(err.message,
                        "DELETE https://api.github.com/repos/o/r/actions/runners/5: HTTP 401: Bad "
                        "credentials");
    assert_null(strstr(err.message, "docs.github.com"));

    map(&err, 404, "{\"message\":\"Not Found\",\"documentation_url\":\"x\"}");
    assert_int_equal(err.code, OSR_ENOTFOUND);
    map(&err, 409, "{\"message\":\"Already exists - A runner with the name r1 already exists.\"}");
    assert_int_equal(err.code, OSR_ECONFLICT);
    assert_non_null(strstr(err.message, "HTTP 409: Already exists - A runner with the name r1"));

    /* 422: validation details, as strings or as objects */
    map(&err, 422,
        "{\"message\":\"Bad request - Runner r1 is still running a job\","
        "\"documentation_url\":\"x\"}");
    assert_int_equal(err.code, OSR_EREQUEST);
    assert_int_equal(err.http_status, 422);
    assert_non_null(
        strstr(err.message, "HTTP 422: Bad request - Runner r1 is still running a job"));
    map(&err, 422,
        "{\"message\":\"Validation Failed\",\"errors\":[\"Invalid request.\","
        "\"labels too long\"]}");
    assert_non_null(
        strstr(err.message, "HTTP 422: Validation Failed: Invalid request., labels too long"));
    map(&err, 422,
        "{\"message\":\"Validation Failed\",\"errors\":[{\"resource\":\"Runner\","
        "\"field\":\"name\",\"code\":\"already_exists\"},{\"message\":\"custom\"}]}");
    assert_non_null(strstr(err.message, "Validation Failed: name already_exists, custom"));

    /* Prism's own problem+json has no "message": only the status remains */
    map(&err, 401,
        "{\"type\":\"https://stoplight.io/prism/errors#UNAUTHORIZED\","
        "\"title\":\"Invalid security scheme used\",\"status\":401}");
    assert_int_equal(err.code, OSR_EAUTH);
    assert_string_equal(err.message,
                        "DELETE https://api.github.com/repos/o/r/actions/runners/5: HTTP 401");
}

/* ------------------------------------------------------------------ JWT */

static char tmpdir[64];

static void path_in(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", tmpdir, name);
}

static int jwt_setup(void **state)
{
    char cmd[512];
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/osr-gh-unit-XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        return -1;
    snprintf(cmd, sizeof(cmd),
             "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out %s/key.pem "
             "2>/dev/null && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 "
             "-out %s/ec.pem 2>/dev/null && openssl pkey -in %s/key.pem -aes256 -passout "
             "pass:pw -out %s/enc.pem",
             tmpdir, tmpdir, tmpdir, tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static int jwt_teardown(void **state)
{
    char cmd[128];
    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = calloc(1, 65536);
    size_t n;
    assert_non_null(f);
    assert_non_null(buf);
    n = fread(buf, 1, 65535, f);
    fclose(f);
    if (len)
        *len = n;
    return buf;
}

static EVP_PKEY *load(const char *name, int expect)
{
    char path[128];
    size_t len;
    char *pem;
    EVP_PKEY *key = NULL;
    osr_error err;

    path_in(path, sizeof(path), name);
    pem = slurp(path, &len);
    osr_error_clear(&err);
    assert_int_equal(osr__github_load_key(&key, pem, len, path, &err), expect);
    if (expect)
        assert_non_null(strstr(err.message, path));
    free(pem);
    return key;
}

static void test_jwt_matches_openssl(void **state)
{
    EVP_PKEY *key = load("key.pem", 0);
    char *jwt = NULL, *dot1, *dot2;
    char input_path[128], sig_path[128], key_path[128], cmd[1024];
    char expected_sig[1024];
    FILE *f, *p;
    osr_error err;
    (void)state;

    osr_error_clear(&err);
    assert_int_equal(osr__github_jwt(&jwt, key, "4242", 1700000000, &err), 0);
    dot1 = strchr(jwt, '.');
    assert_non_null(dot1);
    dot2 = strchr(dot1 + 1, '.');
    assert_non_null(dot2);
    /* {"alg":"RS256","typ":"JWT"} and {"iat":1699999940,"exp":1700000540,"iss":4242} */
    assert_memory_equal(jwt, "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.", 37);
    assert_int_equal(dot2 - dot1 - 1,
                     strlen("eyJpYXQiOjE2OTk5OTk5NDAsImV4cCI6MTcwMDAwMDU0MCwiaXNzIjo0MjQyfQ"));
    assert_memory_equal(dot1 + 1, "eyJpYXQiOjE2OTk5OTk5NDAsImV4cCI6MTcwMDAwMDU0MCwiaXNzIjo0MjQyfQ",
                        (size_t)(dot2 - dot1 - 1));

    /* The signature, computed by the openssl command and base64url-encoded by the shell. */
    path_in(input_path, sizeof(input_path), "input");
    path_in(sig_path, sizeof(sig_path), "sig.b64");
    path_in(key_path, sizeof(key_path), "key.pem");
    f = fopen(input_path, "wb");
    assert_non_null(f);
    fwrite(jwt, 1, (size_t)(dot2 - jwt), f);
    fclose(f);
    snprintf(cmd, sizeof(cmd),
             "openssl dgst -sha256 -sign %s %s | openssl base64 -A | tr '+/' '-_' | tr -d '=\\n'",
             key_path, input_path);
    p = popen(cmd, "r");
    assert_non_null(p);
    memset(expected_sig, 0, sizeof(expected_sig));
    assert_true(fread(expected_sig, 1, sizeof(expected_sig) - 1, p) > 300);
    assert_int_equal(pclose(p), 0);
    assert_string_equal(dot2 + 1, expected_sig);
    free(jwt);

    /* A client ID (not all digits) is a string claim. */
    assert_int_equal(osr__github_jwt(&jwt, key, "Iv1.abc", 1700000000, &err), 0);
    assert_non_null(
        strstr(jwt, ".eyJpYXQiOjE2OTk5OTk5NDAsImV4cCI6MTcwMDAwMDU0MCwiaXNzIjoiSXYxLmFiYyJ9."));
    free(jwt);
    EVP_PKEY_free(key);
}

static void test_key_errors(void **state)
{
    EVP_PKEY *key = (EVP_PKEY *)0x1;
    osr_error err;
    (void)state;
    assert_null(load("ec.pem", OSR_ECONFIG));  /* not RSA */
    assert_null(load("enc.pem", OSR_ECONFIG)); /* encrypted: no prompt, an error */
    osr_error_clear(&err);
    assert_int_equal(osr__github_load_key(&key, "garbage", 7, "k.pem", &err), OSR_ECONFIG);
    assert_ptr_equal(key, (EVP_PKEY *)0x1);
    assert_non_null(strstr(err.message, "k.pem: not a PEM private key"));
}

static void test_b64url(void **state)
{
    static const struct {
        const char *in;
        const char *out;
    } v[] = { { "", "" },
              { "f", "Zg" },
              { "fo", "Zm8" },
              { "foo", "Zm9v" },
              { "foob", "Zm9vYg" },
              { "fooba", "Zm9vYmE" },
              { "foobar", "Zm9vYmFy" },
              { "\xfb\xff", "-_8" } };
    (void)state;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char *s = osr__github_b64url((const unsigned char *)v[i].in, strlen(v[i].in));
        assert_string_equal(s, v[i].out);
        free(s);
    }
}

/* ------------------------------------------------------------ parsers */

static void test_timestamps_both_forms(void **state)
{
    char *token = NULL;
    long long exp = 0;
    osr_error err;
    const char *offset = "{\"token\":\"LLBF3JGZDX3P5PMEXLND6TS6FCWO6\","
                         "\"expires_at\":\"2020-01-22T12:13:35.123-08:00\"}";
    const char *zulu = "{\"token\":\"AABF3JGZDX3P5PMEXLND6TS6FCWO6\","
                       "\"expires_at\":\"2016-07-11T22:14:10Z\",\"permissions\":{}}";
    (void)state;

    assert_int_equal(osr__github_parse_token(&token, &exp, offset, strlen(offset), &err), 0);
    assert_string_equal(token, "LLBF3JGZDX3P5PMEXLND6TS6FCWO6");
    assert_int_equal(exp, 1579724015); /* 2020-01-22T20:13:35Z */
    osr_secret_free(token);
    assert_int_equal(osr__github_parse_token(&token, &exp, zulu, strlen(zulu), &err), 0);
    assert_int_equal(exp, 1468275250);
    osr_secret_free(token);

    token = (char *)0x1;
    exp = 5;
    assert_int_equal(osr__github_parse_token(&token, &exp,
                                             "{\"token\":\"x\",\"expires_at\":\"soon\"}", 32, &err),
                     OSR_EPROTO);
    assert_int_equal(osr__github_parse_token(&token, &exp,
                                             "{\"expires_at\":\"2016-07-11T22:14:10Z\"}", 36, &err),
                     OSR_EPROTO);
    assert_int_equal(osr__github_parse_token(&token, &exp, "[]", 2, &err), OSR_EPROTO);
    assert_ptr_equal(token, (char *)0x1);
    assert_int_equal(exp, 5);
}

/* One type and one parser for a runner download: GitHub's list and
 * osr_runner_app_parse read the same version from a -noexternals file name,
 * and the list's entry is that type. */
static void test_runner_download_one_parser(void **state)
{
    const char *body =
        "[{\"os\":\"linux\",\"architecture\":\"x64\",\"download_url\":\"https://github.com/actions/"
        "runner/releases/download/v2.311.0/actions-runner-linux-x64-2.311.0-noexternals.tar.gz\","
        "\"filename\":\"actions-runner-linux-x64-2.311.0-noexternals.tar.gz\","
        "\"sha256_checksum\":\"ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789\","
        "\"temp_download_token\":\"tdt-secret\"},"
        "{\"os\":\"linux\",\"architecture\":\"arm64\",\"download_url\":\"u\","
        "\"filename\":\"actions-runner-linux-arm64-2.311.0-trimmedpackages.zip\"}]";
    osr_runner_app_list *apps = NULL;
    osr_runner_app *app = NULL;
    const osr_runner_app *entry;
    osr_error err;
    (void)state;

    assert_int_equal(osr__github_parse_apps(&apps, body, strlen(body), &err), 0);
    assert_string_equal(osr_runner_app_version(osr_runner_app_list_at(apps, 0)), "2.311.0");
    assert_string_equal(osr_runner_app_version(osr_runner_app_list_at(apps, 1)), "2.311.0");
    entry = osr_runner_app_list_at(apps, 0);
    assert_non_null(entry);
    assert_string_equal(osr_runner_app_version(entry), "2.311.0");
    assert_string_equal(osr_runner_app_architecture(entry), "x64");
    assert_string_equal(osr_runner_app_filename(entry),
                        "actions-runner-linux-x64-2.311.0-noexternals.tar.gz");
    assert_string_equal(osr_runner_app_temp_download_token(osr_runner_app_list_at(apps, 0)),
                        "tdt-secret");
    assert_null(osr_runner_app_list_at(apps, 2));
    assert_int_equal(osr_runner_app_parse(&app, body, strlen(body), "linux", "x64", &err), 0);
    assert_string_equal(osr_runner_app_version(app),
                        osr_runner_app_version(osr_runner_app_list_at(apps, 0)));
    assert_string_equal(osr_runner_app_sha256(app),
                        "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
    osr_runner_app_free(app);
    app = NULL;
    /* A URL given by hand follows the same rule. */
    assert_int_equal(
        osr_runner_app_new(&app, "https://x/actions-runner-linux-x64-2.312.0-noexternals.tar.gz",
                           "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789", NULL,
                           &err),
        0);
    assert_string_equal(osr_runner_app_version(app), "2.312.0");
    osr_runner_app_free(app);
    osr_runner_app_list_free(apps);
}

static void test_parse_apps(void **state)
{
    const char *body =
        "[{\"os\":\"linux\",\"architecture\":\"x64\",\"download_url\":\"https://github.com/actions/"
        "runner/releases/download/v2.323.0/actions-runner-linux-x64-2.323.0.tar.gz\","
        "\"filename\":\"actions-runner-linux-x64-2.323.0.tar.gz\",\"sha256_checksum\":\"ab\","
        "\"temp_download_token\":\"tdt\"},"
        "{\"os\":\"win\",\"architecture\":\"arm64\",\"download_url\":\"u\","
        "\"filename\":\"actions-runner-win-arm64-2.164.0.zip\"},"
        "{\"os\":\"osx\",\"architecture\":\"x64\",\"download_url\":\"u\",\"filename\":\"odd\"}]";
    osr_runner_app_list *apps = NULL;
    size_t i = 99;
    osr_error err;
    (void)state;

    assert_int_equal(osr__github_parse_apps(&apps, body, strlen(body), &err), 0);
    assert_int_equal(osr_runner_app_list_count(apps), 3);
    assert_int_equal(osr_runner_app_list_find(&i, apps, "linux", "x64"), 0);
    assert_int_equal(i, 0);
    assert_string_equal(osr_runner_app_version(osr_runner_app_list_at(apps, 0)), "2.323.0");
    assert_string_equal(osr_runner_app_sha256(osr_runner_app_list_at(apps, 0)), "ab");
    assert_string_equal(osr_runner_app_temp_download_token(osr_runner_app_list_at(apps, 0)), "tdt");
    assert_string_equal(osr_runner_app_version(osr_runner_app_list_at(apps, 1)), "2.164.0");
    assert_string_equal(osr_runner_app_temp_download_token(osr_runner_app_list_at(apps, 1)), "");
    assert_string_equal(osr_runner_app_sha256(osr_runner_app_list_at(apps, 1)), "");
    assert_string_equal(osr_runner_app_version(osr_runner_app_list_at(apps, 2)), "");
    /* Each item accessor reads the field the parser mapped. */
    assert_string_equal(osr_runner_app_os(osr_runner_app_list_at(apps, 1)), "win");
    assert_string_equal(osr_runner_app_architecture(osr_runner_app_list_at(apps, 1)), "arm64");
    assert_string_equal(osr_runner_app_download_url(osr_runner_app_list_at(apps, 1)), "u");
    assert_string_equal(osr_runner_app_filename(osr_runner_app_list_at(apps, 1)),
                        "actions-runner-win-arm64-2.164.0.zip");
    assert_string_equal(osr_runner_app_download_url(osr_runner_app_list_at(apps, 0)),
                        "https://github.com/actions/runner/releases/download/v2.323.0/"
                        "actions-runner-linux-x64-2.323.0.tar.gz");
    assert_null(osr_runner_app_list_at(apps, 3));
    assert_null(osr_runner_app_list_at(NULL, 0));
    assert_null(osr_runner_app_temp_download_token(NULL));
    assert_int_equal(osr_runner_app_list_count(NULL), 0);
    assert_int_equal(osr_runner_app_list_find(&i, apps, "linux", "riscv64"), OSR_ENOTFOUND);
    assert_null(osr_runner_app_os(osr_runner_app_list_at(apps, 3)));
    osr_runner_app_list_free(apps);

    apps = (osr_runner_app_list *)0x1;
    assert_int_equal(osr__github_parse_apps(&apps, "{}", 2, &err), OSR_EPROTO);
    assert_int_equal(osr__github_parse_apps(&apps, "[{\"os\":\"linux\"}]", 16, &err), OSR_EPROTO);
    assert_non_null(strstr(err.message, "\"architecture\""));
    assert_ptr_equal(apps, (osr_runner_app_list *)0x1);
}

static void test_parse_jit_and_runner(void **state)
{
    const char *jit = "{\"runner\":{\"id\":23,\"name\":\"New runner\",\"os\":\"unknown\","
                      "\"status\":\"offline\",\"busy\":false,\"labels\":[]},"
                      "\"encoded_jit_config\":\"abc123\"}";
    char *cfg = NULL;
    long long id = 0;
    osr_github_runner_list *list = osr__github_runners_new();
    osr_error err;
    (void)state;

    assert_int_equal(osr__github_parse_jit(&cfg, &id, jit, strlen(jit), &err), 0);
    assert_string_equal(cfg, "abc123");
    assert_int_equal(id, 23);
    osr_secret_free(cfg);
    cfg = (char *)0x1;
    assert_int_equal(osr__github_parse_jit(&cfg, &id, "{\"encoded_jit_config\":\"x\"}", 26, &err),
                     OSR_EPROTO);
    assert_ptr_equal(cfg, (char *)0x1);

    assert_int_equal(osr__github_parse_runners(list, "{\"id\":5,\"name\":\"x\"}", 19, true, &err),
                     0);
    assert_int_equal(osr_github_runner_list_count(list), 1);
    assert_string_equal(osr_github_runner_os(osr_github_runner_list_at(list, 0)), "");
    assert_int_equal(
        osr__github_parse_runners(list, "{\"runners\":[{\"name\":\"x\"}]}", 26, false, &err),
        OSR_EPROTO);
    assert_int_equal(osr__github_parse_runners(list, "{\"runner\":[]}", 13, false, &err),
                     OSR_EPROTO);
    osr_github_runner_list_free(list);
}

/* The runner item accessors read what the parser mapped, field by field; a NULL
 * item or an index past the end gives the documented "none" values. */
static void test_runner_items(void **state)
{
    static const char page[] =
        "{\"total_count\":2,\"runners\":["
        "{\"id\":11,\"name\":\"osr-a\",\"os\":\"Linux\",\"status\":\"online\",\"busy\":true,"
        "\"ephemeral\":true,\"runner_group_id\":4,\"version\":\"2.311.0\","
        "\"labels\":[{\"name\":\"self-hosted\"},{\"name\":\"osr\"}]},"
        "{\"id\":12,\"name\":\"osr-b\",\"status\":\"offline\",\"labels\":[]}]}";
    osr_github_runner_list *list = osr__github_runners_new();
    const osr_github_runner *r;
    osr_error err;
    (void)state;

    assert_int_equal(osr__github_parse_runners(list, page, sizeof(page) - 1, false, &err), 0);
    assert_int_equal(osr_github_runner_list_count(list), 2);
    r = osr_github_runner_list_at(list, 0);
    assert_int_equal(osr_github_runner_id(r), 11);
    assert_string_equal(osr_github_runner_name(r), "osr-a");
    assert_string_equal(osr_github_runner_os(r), "Linux");
    assert_string_equal(osr_github_runner_status(r), "online");
    assert_int_equal(osr_github_runner_busy(r), 1);
    assert_int_equal(osr_github_runner_ephemeral(r), 1);
    assert_int_equal(osr_github_runner_group_id(r), 4);
    assert_string_equal(osr_github_runner_version(r), "2.311.0");
    assert_int_equal(osr_github_runner_label_count(r), 2);
    assert_string_equal(osr_github_runner_label(r, 0), "self-hosted");
    assert_string_equal(osr_github_runner_label(r, 1), "osr");
    assert_null(osr_github_runner_label(r, 2));
    r = osr_github_runner_list_at(list, 1);
    assert_int_equal(osr_github_runner_id(r), 12);
    assert_string_equal(osr_github_runner_name(r), "osr-b");
    assert_string_equal(osr_github_runner_os(r), "");
    assert_string_equal(osr_github_runner_status(r), "offline");
    assert_int_equal(osr_github_runner_busy(r), 0);
    assert_int_equal(osr_github_runner_ephemeral(r), 0);
    assert_int_equal(osr_github_runner_group_id(r), -1);
    assert_string_equal(osr_github_runner_version(r), "");
    assert_int_equal(osr_github_runner_label_count(r), 0);
    assert_null(osr_github_runner_list_at(list, 2));
    assert_null(osr_github_runner_list_at(NULL, 0));
    assert_int_equal(osr_github_runner_id(NULL), -1);
    assert_null(osr_github_runner_name(NULL));
    assert_int_equal(osr_github_runner_label_count(NULL), 0);
    assert_null(osr_github_runner_label(NULL, 0));
    osr_github_runner_list_free(list);
}

static void test_paths_and_urls(void **state)
{
    static const char *const good[] = { "octo/hello", "octo", "a-b_c/x.y-z_1", "A/.github", NULL };
    static const char *const bad[] = { "",
                                       "/x",
                                       "o/",
                                       "o/r/x",
                                       "-o/r",
                                       "o/..",
                                       "o/.",
                                       "o r",
                                       "o/r?x=1",
                                       "o/r#",
                                       "o%2Fr",
                                       "../x",
                                       "0123456789012345678901234567890123456789",
                                       NULL };
    int is_org = -1;
    char *u = NULL;
    (void)state;

    for (int i = 0; good[i]; i++)
        assert_int_equal(osr_github_path_check(NULL, good[i], NULL), 0);
    for (int i = 0; bad[i]; i++) {
        osr_error err;
        if (osr_github_path_check(NULL, bad[i], &err) != OSR_EINVAL)
            fail_msg("path '%s' accepted", bad[i]);
    }
    assert_int_equal(osr_github_path_check(&is_org, "octo", NULL), 0);
    assert_int_equal(is_org, 1);
    assert_int_equal(osr_github_path_check(&is_org, "octo/r", NULL), 0);
    assert_int_equal(is_org, 0);

    assert_int_equal(osr__github_web_url(&u, "https://api.github.com"), 0);
    assert_string_equal(u, "https://github.com");
    free(u);
    assert_int_equal(osr__github_web_url(&u, "https://ghe.example.com/api/v3"), 0);
    assert_string_equal(u, "https://ghe.example.com");
    free(u);
    assert_int_equal(osr__github_web_url(&u, "https://ghe.example.com:8443/api/v3/"), 0);
    assert_string_equal(u, "https://ghe.example.com:8443");
    free(u);
    assert_int_equal(osr__github_web_url(&u, "https://api.acme.ghe.com"), 0);
    assert_string_equal(u, "https://acme.ghe.com");
    free(u);
    assert_int_equal(osr__github_web_url(&u, "http://127.0.0.1:29380"), 0);
    assert_string_equal(u, "http://127.0.0.1:29380");
    free(u);
}

static void test_runner_url(void **state)
{
    osr_github_options o = OSR_GITHUB_OPTIONS_INIT;
    osr_github *gh = NULL;
    char *u = (char *)0x1;
    (void)state;

    assert_int_equal(osr_github_new(&gh, NULL, NULL), 0);
    assert_string_equal(osr_github_api_url(gh), "https://api.github.com");
    assert_int_equal(osr_github_runner_url(&u, gh, "octo/hello"), 0);
    assert_string_equal(u, "https://github.com/octo/hello");
    osr_free(u);
    u = (char *)0x1;
    assert_int_equal(osr_github_runner_url(&u, gh, "octo/a/b"), OSR_EINVAL);
    assert_ptr_equal(u, (char *)0x1);
    osr_github_free(gh);

    o.api_url = "https://ghe.example.com/api/v3/";
    assert_int_equal(osr_github_new(&gh, &o, NULL), 0);
    assert_string_equal(osr_github_api_url(gh), "https://ghe.example.com/api/v3");
    assert_int_equal(osr_github_runner_url(&u, gh, "acme"), 0);
    assert_string_equal(u, "https://ghe.example.com/acme");
    osr_free(u);
    osr_github_free(gh);
}

/* ------------------------------------------------------------ options */

static void test_options(void **state)
{
    osr_github_options o = OSR_GITHUB_OPTIONS_INIT;
    osr_github *gh = (osr_github *)0x1;
    char path[128];
    FILE *f;
    osr_error err;
    (void)state;

#define EXPECT_NEW(code)                                         \
    do {                                                         \
        osr_error_clear(&err);                                   \
        assert_int_equal(osr_github_new(&gh, &o, &err), (code)); \
        assert_ptr_equal(gh, (osr_github *)0x1);                 \
        assert_null(strstr(err.message, "s3cr3t"));              \
    } while (0)

    o.api_url = "ftp://x";
    EXPECT_NEW(OSR_EINVAL);
    o.api_url = "https://";
    EXPECT_NEW(OSR_EINVAL);
    o.api_url = "https://h/x?y";
    EXPECT_NEW(OSR_EINVAL);
    o.api_url = NULL;
    o.app_id = "1";
    EXPECT_NEW(OSR_EINVAL); /* no installation or key */
    o.installation_id = "12x";
    o.app_key_file = "/nonexistent";
    EXPECT_NEW(OSR_EINVAL); /* installation not numeric */
    o.installation_id = "12";
    EXPECT_NEW(OSR_ECONFIG); /* no such key file */
    o.token_env = "X";
    EXPECT_NEW(OSR_EINVAL); /* token and App */
    o.app_id = o.installation_id = o.app_key_file = NULL;
    o.token_file = "/x";
    EXPECT_NEW(OSR_EINVAL); /* file and variable */
    o.token_file = NULL;
    o.token_env = "OSR_UNIT_UNSET_VARIABLE";
    unsetenv("OSR_UNIT_UNSET_VARIABLE");
    EXPECT_NEW(OSR_ECONFIG);
    assert_non_null(strstr(err.message, "OSR_UNIT_UNSET_VARIABLE"));
    setenv("OSR_UNIT_BAD_TOKEN", "s3cr3t\nInjected: header", 1);
    o.token_env = "OSR_UNIT_BAD_TOKEN";
    EXPECT_NEW(OSR_ECONFIG); /* a token is one word: no header injection */
    o.token_env = NULL;

    path_in(path, sizeof(path), "token");
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("  \n\n", f);
    fclose(f);
    o.token_file = path;
    EXPECT_NEW(OSR_ECONFIG);
    assert_non_null(strstr(err.message, "empty GitHub token"));
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("s3cr3t-token\n", f);
    fclose(f);
    assert_int_equal(osr_github_new(&gh, &o, &err), 0);
    osr_github_free(gh);
    o.token_file = "/nonexistent/token";
    gh = (osr_github *)0x1;
    EXPECT_NEW(OSR_ECONFIG);
    assert_int_equal(osr_github_new(&gh, &o, NULL), OSR_ECONFIG); /* no error record: fine */
    o.token_file = NULL;
    o.per_page = 101;
    EXPECT_NEW(OSR_EINVAL);
    o.per_page = 0;
    o.version = 99;
    EXPECT_NEW(OSR_EINVAL);
#undef EXPECT_NEW
}

static void test_no_credentials(void **state)
{
    osr_github_options o = OSR_GITHUB_OPTIONS_INIT;
    osr_github *gh = NULL;
    char *token = (char *)0x1;
    long long exp = 0;
    (void)state;

    o.api_url = "http://127.0.0.1:9"; /* never contacted */
    assert_int_equal(osr_github_new(&gh, &o, NULL), 0);
    assert_int_equal(osr_github_registration_token(&token, &exp, gh, "o/r"), OSR_EAUTH);
    assert_ptr_equal(token, (char *)0x1);
    assert_non_null(strstr(osr_github_last_error(gh)->message, "no GitHub credentials"));
    osr_github_free(gh);
}

/* ------------------------------------------------------------ on the wire */

static void respond_token(struct server *s, int n, const char *request, char *reply, size_t cap)
{
    (void)s;
    (void)request;
    if (n == 0)
        reply_json(reply, cap, "201 Created", "",
                   "{\"token\":\"REGTOKEN123\",\"expires_at\":\"2020-01-22T12:13:35.123-08:00\"}");
    else
        reply_json(
            reply, cap, "201 Created", "",
            "{\"runner\":{\"id\":42,\"name\":\"n\",\"os\":\"unknown\",\"status\":"
            "\"offline\",\"busy\":false,\"labels\":[]},\"encoded_jit_config\":\"JITSECRET\"}");
}

static void test_requests_on_the_wire(void **state)
{
    static const char *const labels[] = { "self-hosted", "gpu", NULL };
    osr_github_jit_options jo = OSR_GITHUB_JIT_OPTIONS_INIT;
    struct server s;
    osr_github *gh;
    char *token = NULL, *jit = NULL;
    long long exp = 0, id = 0;
    const char *r, *cl;
    (void)state;

    server_start(&s, respond_token);
    gh = client_for(&s, 0, 0);
    assert_int_equal(osr_github_registration_token(&token, &exp, gh, "octo"), 0);
    assert_string_equal(token, "REGTOKEN123");
    assert_int_equal(exp, 1579724015);
    r = s.requests[0];
    assert_non_null(strstr(r, "POST /orgs/octo/actions/runners/registration-token HTTP/1.1\r\n"));
    assert_non_null(strstr(r, "\r\nAccept: application/vnd.github+json\r\n"));
    assert_non_null(strstr(r, "\r\nX-GitHub-Api-Version: 2022-11-28\r\n"));
    assert_non_null(strstr(r, "\r\nUser-Agent: osrunner/"));
    assert_non_null(strstr(r, "\r\nAuthorization: Bearer " PAT "\r\n"));
    /* no body: no Content-Type, no Content-Length other than 0, nothing after the headers */
    assert_null(strcasestr(r, "Content-Type:"));
    cl = strstr(r, "Content-Length:");
    assert_true(cl == NULL || strncmp(cl, "Content-Length: 0\r\n", 19) == 0);
    assert_string_equal(strstr(r, "\r\n\r\n"), "\r\n\r\n");

    jo.name = "n";
    jo.labels = labels;
    jo.runner_group = "3";
    assert_int_equal(osr_github_jitconfig(&jit, &id, gh, "octo", &jo), 0);
    assert_string_equal(jit, "JITSECRET");
    assert_int_equal(id, 42);
    r = s.requests[1];
    assert_non_null(strstr(r, "POST /orgs/octo/actions/runners/generate-jitconfig "));
    assert_non_null(strstr(r, "\r\nContent-Type: application/json\r\n"));
    assert_non_null(strstr(r, "\r\n\r\n{\"name\":\"n\",\"runner_group_id\":3,\"labels\":"
                              "[\"self-hosted\",\"gpu\"],\"work_folder\":\"_work\"}"));
    /* nothing secret reached the log, though it traced bodies */
    assert_non_null(strstr(logbuf, "Authorization: <redacted>"));
    assert_null(strstr(logbuf, PAT));
    assert_null(strstr(logbuf, "REGTOKEN123"));
    assert_null(strstr(logbuf, "JITSECRET"));
    osr_secret_free(token);
    osr_secret_free(jit);
    osr_github_free(gh);
    server_stop(&s);
}

/* Every other answer is a 502 from a proxy in front of GitHub. */
static void
respond_502_then_ok(struct server *s, int n, const char *request, char *reply, size_t cap)
{
    static const char page[] = "<html><body><h1>502 Bad Gateway</h1></body></html>\n";
    if (n % 2 == 0)
        snprintf(reply, cap,
                 "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\nContent-Length: %zu\r\n"
                 "Connection: close\r\n\r\n%s",
                 strlen(page), page);
    else
        respond_token(s, strstr(request, "generate-jitconfig") ? 1 : 0, request, reply, cap);
}

static void test_token_requests_are_retried(void **state)
{
    osr_github_jit_options jo = OSR_GITHUB_JIT_OPTIONS_INIT;
    struct server s;
    osr_github *gh;
    char *token = NULL, *jit = (char *)0x1;
    long long exp = 0;
    const osr_error *e;
    (void)state;

    server_start(&s, respond_502_then_ok);
    gh = client_retrying(&s, 0, 0, 2);
    /* A registration or remove token has no side effect: a 502 is retried. */
    assert_int_equal(osr_github_registration_token(&token, &exp, gh, "octo"), 0);
    assert_string_equal(token, "REGTOKEN123");
    osr_secret_free(token);
    token = NULL;
    assert_int_equal(osr_github_remove_token(&token, &exp, gh, "octo/repo"), 0);
    assert_string_equal(token, "REGTOKEN123");
    osr_secret_free(token);
    assert_int_equal(s.served, 4);
    assert_non_null(strstr(s.requests[2], "POST /repos/octo/repo/actions/runners/remove-token "));
    assert_non_null(strstr(s.requests[3], "POST /repos/octo/repo/actions/runners/remove-token "));
    /* A JIT config registers a runner: its 502 is not sent again. */
    jo.name = "n";
    assert_int_equal(osr_github_jitconfig(&jit, NULL, gh, "octo", &jo), OSR_ESERVER);
    assert_ptr_equal(jit, (char *)0x1);
    assert_int_equal(s.served, 5);
    e = osr_github_last_error(gh);
    /* the page comes back as one short line */
    assert_non_null(strstr(e->message, "HTTP 502: 502 Bad Gateway"));
    osr_github_free(gh);
    server_stop(&s);
}

static void test_jit_argument_checks(void **state)
{
    static const char *const empty[] = { NULL };
    static const char *const blank[] = { "a", "", NULL };
    osr_github_jit_options jo = OSR_GITHUB_JIT_OPTIONS_INIT;
    osr_github *gh = NULL;
    char *jit = (char *)0x1;
    (void)state;

    assert_int_equal(osr_github_new(&gh, NULL, NULL), 0);
    assert_int_equal(osr_github_jitconfig(&jit, NULL, gh, "o/r", &jo), OSR_EINVAL); /* no name */
    jo.name = "n";
    jo.labels = empty;
    assert_int_equal(osr_github_jitconfig(&jit, NULL, gh, "o/r", &jo), OSR_EINVAL);
    jo.labels = blank;
    assert_int_equal(osr_github_jitconfig(&jit, NULL, gh, "o/r", &jo), OSR_EINVAL);
    jo.labels = NULL;
    jo.runner_group = "ci"; /* a named group in a repository */
    assert_int_equal(osr_github_jitconfig(&jit, NULL, gh, "o/r", &jo), OSR_EINVAL);
    jo.runner_group = "2";
    assert_int_equal(osr_github_jitconfig(&jit, NULL, gh, "o/r", &jo), OSR_EINVAL);
    assert_ptr_equal(jit, (char *)0x1);
    osr_github_free(gh);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_link_next),
        cmocka_unit_test(test_same_origin),
        cmocka_unit_test(test_endless_next_is_capped),
        cmocka_unit_test(test_pages_followed_and_merged),
        cmocka_unit_test(test_next_on_other_host_refused),
        cmocka_unit_test(test_rate_limit_wait),
        cmocka_unit_test(test_rate_limit_status_mapping),
        cmocka_unit_test(test_rate_limit_waited_then_ok),
        cmocka_unit_test(test_rate_limit_beyond_budget),
        cmocka_unit_test(test_rate_limit_wait_does_not_block_the_loop),
        cmocka_unit_test(test_github_on_the_session_engine),
        cmocka_unit_test(test_error_bodies),
        cmocka_unit_test(test_jwt_matches_openssl),
        cmocka_unit_test(test_key_errors),
        cmocka_unit_test(test_b64url),
        cmocka_unit_test(test_timestamps_both_forms),
        cmocka_unit_test(test_parse_apps),
        cmocka_unit_test(test_runner_download_one_parser),
        cmocka_unit_test(test_parse_jit_and_runner),
        cmocka_unit_test(test_runner_items),
        cmocka_unit_test(test_paths_and_urls),
        cmocka_unit_test(test_runner_url),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_no_credentials),
        cmocka_unit_test(test_requests_on_the_wire),
        cmocka_unit_test(test_jit_argument_checks),
        cmocka_unit_test(test_token_requests_are_retried),
    };
    int rc;
    if (osr_global_init() < 0)
        return 1;
    rc = cmocka_run_group_tests(tests, jwt_setup, jwt_teardown);
    osr_global_shutdown();
    return rc;
}
