/* The HTTP transport against a scripted server on 127.0.0.1: retries for
 * idempotent requests only, the response size cap, timeouts, header capture
 * and the User-Agent; and against a kept-alive server that drops a POST
 * without answering: the POST reaches it once, never twice. And the engine
 * driven from outside, one step at a time, with extra fds. */
#include "http.h"
#include "osrunner/image.h"
#include "scripted_server.h"
#include "util.h"

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
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

/* The server (support/scripted_server.h) answers each connection with the
 * next scripted reply, then closes it (Connection: close), so every request
 * is one accept. */

static osr__http *client(long timeout_ms, size_t max_response)
{
    osr__http_config cfg;
    osr__http *h = NULL;
    memset(&cfg, 0, sizeof(cfg));
    cfg.timeout_ms = timeout_ms;
    cfg.max_retries = 3;
    cfg.max_response = max_response;
    cfg.verify = true;
    assert_int_equal(osr__http_new(&h, &cfg, NULL), 0);
    return h;
}

#define OK_JSON                                                                                  \
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Openstack-Request-Id: req-ok\r\n"    \
    "X-Subject-Token: secret-subject\r\nContent-Length: 10\r\nConnection: close\r\n\r\n{\"a\": " \
    "1}\r\n"
#define UNAVAILABLE \
    "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

static int send_req(
    osr__http *h, struct server *s, const char *method, osr__http_response *resp, osr_error *err)
{
    char url[64];
    osr__http_request req;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v3/x", s->port);
    memset(&req, 0, sizeof(req));
    req.method = method;
    req.url = url;
    req.idempotent = strcmp(method, "POST") != 0;
    req.token = "tok-123";
    if (strcmp(method, "POST") == 0) {
        req.body = "{}";
        req.body_len = 2;
    }
    memset(resp, 0, sizeof(*resp));
    osr_error_clear(err);
    return osr__http_send(h, &req, resp, err);
}

static void test_retries_idempotent_on_503(void **state)
{
    const char *const replies[] = { UNAVAILABLE, UNAVAILABLE, OK_JSON, NULL };
    struct server s;
    osr__http_response resp;
    osr_error err;
    osr__http *h = client(5000, 0);
    (void)state;

    server_start_replies(&s, replies);
    assert_int_equal(send_req(h, &s, "GET", &resp, &err), 0);
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.attempts, 3);
    assert_string_equal(resp.body.data, "{\"a\": 1}\r\n");
    assert_string_equal(resp.request_id, "req-ok");
    assert_string_equal(resp.subject_token, "secret-subject");
    /* What the server saw: our User-Agent and token header. */
    assert_non_null(strstr(s.last_request, "User-Agent: osrunner/"));
    assert_non_null(strstr(s.last_request, "X-Auth-Token: tok-123"));
    osr__http_response_free(&resp);
    server_stop(&s);
    osr__http_free(h);
}

static void test_post_is_not_retried(void **state)
{
    const char *const replies[] = { UNAVAILABLE, OK_JSON, NULL };
    struct server s;
    osr__http_response resp;
    osr_error err;
    osr__http *h = client(5000, 0);
    (void)state;

    server_start_replies(&s, replies);
    assert_int_equal(send_req(h, &s, "POST", &resp, &err), OSR_ESERVER);
    assert_int_equal(resp.attempts, 1);
    assert_int_equal(s.served, 1);
    assert_int_equal(err.http_status, 503);
    osr__http_response_free(&resp);
    /* Let the server finish its script. */
    assert_int_equal(send_req(h, &s, "GET", &resp, &err), 0);
    osr__http_response_free(&resp);
    server_stop(&s);
    osr__http_free(h);
}

static void test_gives_up_after_max_retries(void **state)
{
    const char *const replies[] = { UNAVAILABLE, UNAVAILABLE, UNAVAILABLE, UNAVAILABLE, NULL };
    struct server s;
    osr__http_response resp;
    osr_error err;
    osr__http *h = client(5000, 0);
    (void)state;

    server_start_replies(&s, replies);
    assert_int_equal(send_req(h, &s, "DELETE", &resp, &err), OSR_ESERVER);
    assert_int_equal(resp.attempts, 4);
    assert_non_null(strstr(err.message, "HTTP 503"));
    osr__http_response_free(&resp);
    server_stop(&s);
    osr__http_free(h);
}

static void test_response_cap(void **state)
{
    static char big[8192];
    const char *const replies[] = { big, NULL };
    struct server s;
    osr__http_response resp;
    osr_error err;
    osr__http *h = client(5000, 1000);
    int n;
    (void)state;

    n = snprintf(big, sizeof(big),
                 "HTTP/1.1 200 OK\r\nContent-Length: 4000\r\nConnection: close\r\n\r\n");
    memset(big + n, 'x', 4000);
    big[n + 4000] = '\0';
    server_start_replies(&s, replies);
    assert_int_equal(send_req(h, &s, "GET", &resp, &err), OSR_EPROTO);
    assert_non_null(strstr(err.message, "larger than the limit of 1000 bytes"));
    osr__http_response_free(&resp);
    server_stop(&s);
    osr__http_free(h);
}

static void test_timeout(void **state)
{
    const char *const replies[] = { "HANG", NULL };
    struct server s;
    osr__http_response resp;
    osr_error err;
    osr__http *h = client(300, 0);
    (void)state;

    server_start_replies(&s, replies);
    /* POST: not retried, so exactly one hanging exchange. */
    assert_int_equal(send_req(h, &s, "POST", &resp, &err), OSR_ETIMEOUT);
    assert_non_null(strstr(err.message, "POST http://127.0.0.1:"));
    osr__http_response_free(&resp);
    osr__http_free(h); /* closes the connection, so the server thread ends */
    server_stop(&s);
}

static void test_connection_refused_is_network_error(void **state)
{
    struct server s;
    const char *const replies[] = { NULL };
    osr__http_response resp;
    osr_error err;
    osr__http *h = client(5000, 0);
    (void)state;

    /* Bind a port, then close it: nothing listens there. */
    server_start_replies(&s, replies);
    server_stop(&s);
    assert_int_equal(send_req(h, &s, "GET", &resp, &err), OSR_ENET);
    assert_int_equal(resp.attempts, 4);
    assert_non_null(strstr(err.message, "after retries"));
    osr__http_response_free(&resp);
    osr__http_free(h);
}

/* Every attempt is counted by service and status: the longest registered
 * prefix names the service, an unregistered URL is "other", no answer is
 * status 0; X-RateLimit-Limit is read. */
static void test_stats_by_service_and_status(void **state)
{
    const char *const replies[] = {
        UNAVAILABLE, OK_JSON,
        "HTTP/1.1 404 Not Found\r\nX-RateLimit-Limit: 5000\r\nContent-Length: 0\r\n"
        "Connection: close\r\n\r\n",
        NULL
    };
    struct server s;
    osr__http_response resp;
    osr_error err;
    osr__http *h = client(5000, 0);
    char prefix[64], other[64];
    const char *svc = "untouched";
    long st = -7;
    unsigned long long n = 0;
    (void)state;

    server_start_replies(&s, replies);
    snprintf(prefix, sizeof(prefix), "http://127.0.0.1:%d/", s.port);
    assert_int_equal(osr__http_name_service(h, prefix, "compute"), 0);
    snprintf(prefix, sizeof(prefix), "http://127.0.0.1:%d/v3", s.port);
    assert_int_equal(osr__http_name_service(h, prefix, "identity"), 0);
    assert_int_equal(osr__http_stats_count(h), 0);
    /* 503 then 200: two attempts of identity (/v3/x) */
    assert_int_equal(send_req(h, &s, "GET", &resp, &err), 0);
    osr__http_response_free(&resp);
    /* 404 on another path of the same origin: compute, with the limit header */
    {
        osr__http_request req;
        memset(&req, 0, sizeof(req));
        snprintf(other, sizeof(other), "http://127.0.0.1:%d/v2.1/servers", s.port);
        req.method = "GET";
        req.url = other;
        req.idempotent = true;
        memset(&resp, 0, sizeof(resp));
        assert_int_equal(osr__http_send(h, &req, &resp, &err), OSR_ENOTFOUND);
        assert_int_equal(resp.ratelimit_limit, 5000);
        osr__http_response_free(&resp);
    }
    server_stop(&s);
    /* nothing listens any more: status 0, counted under identity, 4 attempts */
    assert_int_equal(send_req(h, &s, "GET", &resp, &err), OSR_ENET);
    osr__http_response_free(&resp);

    assert_int_equal(osr__http_stats_count(h), 4);
    assert_int_equal(osr__http_stats_at(&svc, &st, &n, h, 0), 0);
    assert_string_equal(svc, "identity");
    assert_int_equal(st, 503);
    assert_int_equal(n, 1);
    assert_int_equal(osr__http_stats_at(&svc, &st, &n, h, 1), 0);
    assert_string_equal(svc, "identity");
    assert_int_equal(st, 200);
    assert_int_equal(osr__http_stats_at(&svc, &st, &n, h, 2), 0);
    assert_string_equal(svc, "compute");
    assert_int_equal(st, 404);
    assert_int_equal(n, 1);
    assert_int_equal(osr__http_stats_at(&svc, &st, &n, h, 3), 0);
    assert_string_equal(svc, "identity");
    assert_int_equal(st, 0);
    assert_int_equal(n, 4);
    /* past the end: OSR_ENOTFOUND, out-params untouched */
    svc = "untouched";
    assert_int_equal(osr__http_stats_at(&svc, &st, &n, h, 4), OSR_ENOTFOUND);
    assert_string_equal(svc, "untouched");
    /* renaming a prefix renames its rows; bad arguments */
    assert_int_equal(osr__http_name_service(h, prefix, "keystone"), 0);
    assert_int_equal(osr__http_stats_at(&svc, NULL, NULL, h, 0), 0);
    assert_string_equal(svc, "keystone");
    assert_int_equal(osr__http_name_service(h, NULL, "x"), OSR_EINVAL);
    osr__http_free(h);
}

struct counter {
    int done;
    int errors;
};

static void count_done(int error, void *payload)
{
    struct counter *c = payload;
    c->done++;
    c->errors += error != 0;
}

static void test_many_at_once_over_one_engine(void **state)
{
    const char *const replies[] = { OK_JSON, OK_JSON, UNAVAILABLE, OK_JSON, NULL };
    struct server s;
    osr__http_response resp[3];
    osr_error err[3];
    struct counter c = { 0, 0 };
    osr__http *h = client(5000, 0);
    char url[64];
    (void)state;

    server_start_replies(&s, replies);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", s.port);
    for (int i = 0; i < 3; i++) {
        osr__http_request req = { .method = "GET", .url = url, .idempotent = true };
        memset(&resp[i], 0, sizeof(resp[i]));
        osr_error_clear(&err[i]);
        /* The last one starts later: delays are part of the engine. */
        assert_int_equal(
            osr__http_submit(h, &req, i == 2 ? 50 : 0, &resp[i], &err[i], count_done, &c), 0);
    }
    assert_int_equal(osr__http_pending(h), 3);
    assert_int_equal(osr__http_run(h, NULL), 0);
    assert_int_equal(osr__http_pending(h), 0);
    assert_int_equal(c.done, 3);
    assert_int_equal(c.errors, 0); /* the one 503 was retried */
    assert_int_equal(s.served, 4);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(resp[i].status, 200);
        osr__http_response_free(&resp[i]);
    }
    server_stop(&s);
    osr__http_free(h);
}

struct stream {
    const char *data;
    size_t off, len;
    char sink[256];
    size_t sunk;
    long long progress;
};

static size_t read_some(char *buf, size_t len, void *payload)
{
    struct stream *st = payload;
    size_t n = st->len - st->off < len ? st->len - st->off : len;
    memcpy(buf, st->data + st->off, n);
    st->off += n;
    return n;
}

static int write_some(const char *data, size_t len, void *payload)
{
    struct stream *st = payload;
    if (st->sunk + len > sizeof(st->sink))
        return -1;
    memcpy(st->sink + st->sunk, data, len);
    st->sunk += len;
    return 0;
}

static void progress(long long now, long long total, void *payload)
{
    struct stream *st = payload;
    (void)total;
    st->progress = now;
}

static void test_streamed_upload_and_download(void **state)
{
    const char *const replies[] = { OK_JSON, NULL };
    struct server s;
    struct stream st = { "0123456789abcdef", 0, 16, "", 0, 0 };
    osr__http_response resp;
    osr_error err;
    osr__http *h = client(5000, 0);
    char url[64];
    osr__http_request req;
    (void)state;

    server_start_replies(&s, replies);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/file", s.port);
    memset(&req, 0, sizeof(req));
    req.method = "PUT";
    req.url = url;
    req.read_cb = read_some;
    req.read_payload = &st;
    req.upload_size = 16;
    req.write_cb = write_some;
    req.write_payload = &st;
    req.progress_cb = progress;
    req.progress_payload = &st;
    memset(&resp, 0, sizeof(resp));
    assert_int_equal(osr__http_send(h, &req, &resp, &err), 0);
    assert_non_null(strstr(s.last_request, "PUT /file HTTP/1.1"));
    assert_non_null(strstr(s.last_request, "Content-Length: 16"));
    assert_non_null(strstr(s.last_request, "0123456789abcdef"));
    /* The 200 body went to the sink, not the buffer. */
    assert_int_equal(st.sunk, 10);
    assert_memory_equal(st.sink, "{\"a\": 1}\r\n", 10);
    assert_int_equal(resp.body.len, 0);
    assert_int_equal(st.progress, 16);
    osr__http_response_free(&resp);
    server_stop(&s);
    osr__http_free(h);
}

/* ------------------------------------------------ a server that keeps connections alive */

/* Answers every request on its connection and keeps it open (HTTP/1.1
 * keep-alive), except the first POST: that one it reads whole, then closes
 * the connection without a byte of answer, as nova-api does when it is
 * restarted. Later POSTs get 201. Counts connections and POSTs. */
struct kaserver {
    int fd;
    int port;
    int stop[2]; /* a byte on stop[1] ends the thread */
    int accepts;
    int posts;
    int gets;
    pthread_t thread;
};

#define KA_MAX 8

struct kaconn {
    int fd;
    size_t len;
    char buf[4096];
};

/* Length of the first whole request in c->buf, or 0 if not all there yet. */
static size_t ka_request_len(const struct kaconn *c)
{
    const char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
    const char *cl;
    size_t head, body = 0;
    if (end == NULL)
        return 0;
    head = (size_t)(end + 4 - c->buf);
    cl = memmem(c->buf, head, "Content-Length: ", 16);
    if (cl != NULL)
        body = strtoul(cl + 16, NULL, 10);
    return c->len >= head + body ? head + body : 0;
}

static void *ka_serve(void *arg)
{
    struct kaserver *s = arg;
    static struct kaconn conns[KA_MAX];
    bool dropped = false;

    for (int i = 0; i < KA_MAX; i++)
        conns[i].fd = -1;
    for (;;) {
        struct pollfd pfd[KA_MAX + 2];
        int map[KA_MAX + 2];
        nfds_t n = 0;

        pfd[n].fd = s->stop[0];
        pfd[n++].events = POLLIN;
        pfd[n].fd = s->fd;
        pfd[n++].events = POLLIN;
        for (int i = 0; i < KA_MAX; i++) {
            if (conns[i].fd >= 0) {
                map[n] = i;
                pfd[n].fd = conns[i].fd;
                pfd[n++].events = POLLIN;
            }
        }
        /* Bounded: a test never waits on this server for more than 10 s. */
        if (poll(pfd, n, 10000) <= 0 || (pfd[0].revents & POLLIN))
            break;
        if (pfd[1].revents & POLLIN) {
            int c = accept(s->fd, NULL, NULL);
            int slot = -1;
            for (int i = 0; i < KA_MAX && c >= 0; i++) {
                if (conns[i].fd < 0) {
                    slot = i;
                    break;
                }
            }
            if (slot < 0) {
                if (c >= 0)
                    close(c);
            } else {
                conns[slot].fd = c;
                conns[slot].len = 0;
                s->accepts++;
            }
        }
        for (nfds_t k = 2; k < n; k++) {
            struct kaconn *c = &conns[map[k]];
            ssize_t got;
            size_t rl;
            if (!(pfd[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            got = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
            if (got <= 0) {
                close(c->fd);
                c->fd = -1;
                continue;
            }
            c->len += (size_t)got;
            while (c->fd >= 0 && (rl = ka_request_len(c)) > 0) {
                const char *reply;
                ssize_t w;
                if (strncmp(c->buf, "POST ", 5) == 0) {
                    s->posts++;
                    if (!dropped) {
                        dropped = true;
                        close(c->fd);
                        c->fd = -1;
                        break;
                    }
                    reply = "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}";
                } else {
                    s->gets++;
                    reply = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
                }
                w = write(c->fd, reply, strlen(reply));
                (void)w;
                memmove(c->buf, c->buf + rl, c->len - rl);
                c->len -= rl;
            }
        }
    }
    for (int i = 0; i < KA_MAX; i++) {
        if (conns[i].fd >= 0)
            close(conns[i].fd);
    }
    return NULL;
}

static void ka_start(struct kaserver *s)
{
    memset(s, 0, sizeof(*s));
    assert_int_equal(pipe(s->stop), 0);
    s->fd = server_listen(8, &s->port);
    assert_int_equal(pthread_create(&s->thread, NULL, ka_serve, s), 0);
}

/* Stop and join: after this the counts are final. */
static void ka_stop(struct kaserver *s)
{
    ssize_t w = write(s->stop[1], "x", 1);
    (void)w;
    pthread_join(s->thread, NULL);
    close(s->fd);
    close(s->stop[0]);
    close(s->stop[1]);
}

static int ka_send(osr__http *h,
                   struct kaserver *s,
                   const char *method,
                   bool idempotent,
                   osr__http_response *resp,
                   osr_error *err)
{
    char url[64];
    osr__http_request req;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v2.1/servers", s->port);
    memset(&req, 0, sizeof(req));
    req.method = method;
    req.url = url;
    req.idempotent = idempotent;
    if (strcmp(method, "POST") == 0) {
        req.body = "{\"server\": {}}";
        req.body_len = strlen(req.body);
    }
    memset(resp, 0, sizeof(*resp));
    osr_error_clear(err);
    return osr__http_send(h, &req, resp, err);
}

static void test_post_on_dropped_keepalive_is_sent_once(void **state)
{
    struct kaserver s;
    osr__http_response resp;
    osr_error err;
    osr__http *h = client(5000, 0);
    (void)state;

    ka_start(&s);
    /* A GET first: the engine now holds a kept-alive connection. */
    assert_int_equal(ka_send(h, &s, "GET", true, &resp, &err), 0);
    osr__http_response_free(&resp);
    /* The POST is read and the connection closed without an answer. Sent
     * on the kept-alive connection, libcurl would send it again on a new
     * one by itself, and the server would create twice. */
    assert_int_equal(ka_send(h, &s, "POST", false, &resp, &err), OSR_ENET);
    assert_int_equal(resp.attempts, 1);
    assert_true(resp.in_doubt);
    assert_int_equal(err.http_status, 0);
    assert_non_null(strstr(err.message, "POST http://127.0.0.1:"));
    assert_non_null(strstr(err.message, "may or may not have been processed"));
    osr__http_response_free(&resp);
    /* The engine goes on: a GET afterwards is answered. */
    assert_int_equal(ka_send(h, &s, "GET", true, &resp, &err), 0);
    osr__http_response_free(&resp);
    ka_stop(&s);
    assert_int_equal(s.posts, 1);
    assert_int_equal(s.gets, 2);
    osr__http_free(h);
}

static void test_post_gets_its_own_connection(void **state)
{
    struct kaserver s;
    osr__http_response resp;
    osr_error err;
    osr__http *h = client(5000, 0);
    (void)state;

    ka_start(&s);
    /* The cost of the rule: GETs share one connection, each POST opens one. */
    assert_int_equal(ka_send(h, &s, "GET", true, &resp, &err), 0);
    osr__http_response_free(&resp);
    assert_int_equal(ka_send(h, &s, "GET", true, &resp, &err), 0);
    osr__http_response_free(&resp);
    assert_int_equal(ka_send(h, &s, "POST", false, &resp, &err), OSR_ENET); /* the dropped one */
    osr__http_response_free(&resp);
    assert_int_equal(ka_send(h, &s, "POST", false, &resp, &err), 0);
    assert_int_equal(resp.status, 201);
    assert_false(resp.in_doubt);
    osr__http_response_free(&resp);
    /* An idempotent POST (say, a token request) may share a connection. */
    assert_int_equal(ka_send(h, &s, "POST", true, &resp, &err), 0);
    osr__http_response_free(&resp);
    assert_int_equal(ka_send(h, &s, "GET", true, &resp, &err), 0);
    osr__http_response_free(&resp);
    ka_stop(&s);
    assert_int_equal(s.posts, 3);
    assert_int_equal(s.gets, 3);
    /* One for the GETs, one for each POST that is not idempotent. */
    assert_int_equal(s.accepts, 3);
    osr__http_free(h);
}

static void test_refused_connection_is_not_in_doubt(void **state)
{
    struct server s;
    const char *const replies[] = { NULL };
    osr__http_response resp;
    osr_error err;
    osr__http *h = client(5000, 0);
    (void)state;

    server_start_replies(&s, replies);
    server_stop(&s);
    assert_int_equal(send_req(h, &s, "POST", &resp, &err), OSR_ENET);
    assert_int_equal(resp.attempts, 1);
    assert_false(resp.in_doubt); /* nothing reached anyone */
    assert_null(strstr(err.message, "may or may not"));
    osr__http_response_free(&resp);
    osr__http_free(h);
}

/* Arm a one-shot timerfd for ms from now. */
static int timer_in(long ms)
{
    struct itimerspec its = { { 0, 0 }, { ms / 1000, (ms % 1000) * 1000000L } };
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    assert_true(fd >= 0);
    assert_int_equal(timerfd_settime(fd, 0, &its, NULL), 0);
    return fd;
}

/* The engine driven from outside: extra fds wake a step, a deadline bounds
 * it, and a delayed transfer is a timer that does not hold the loop. */
static void test_step_from_outside(void **state)
{
    const char *const replies[] = { OK_JSON, NULL };
    struct pollfd fds[2], many[OSR__HTTP_STEP_MAX_FDS + 1];
    struct server s;
    osr__http_response resp;
    osr_error err;
    struct counter c = { 0, 0 };
    osr__http *h = client(5000, 0);
    int p[2], n, rounds;
    char url[64], byte = 'x';
    int64_t t0;
    (void)state;

    assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
    /* Nothing queued: the pipe alone wakes it. */
    assert_int_equal(write(p[1], &byte, 1), 1);
    fds[0] = (struct pollfd){ .fd = p[0], .events = POLLIN };
    t0 = osr__now_ms_monotonic();
    assert_int_equal(osr__http_step(h, fds, 1, 5000), 1);
    assert_true(fds[0].revents & POLLIN);
    assert_true(osr__now_ms_monotonic() - t0 < 1000);
    assert_int_equal(read(p[0], &byte, 1), 1);
    /* Nothing ready: the deadline ends it. */
    t0 = osr__now_ms_monotonic();
    assert_int_equal(osr__http_step(h, fds, 1, 50), 0);
    assert_int_equal(fds[0].revents, 0);
    assert_true(osr__now_ms_monotonic() - t0 >= 45);
    /* Nothing at all to wait for: no hang. */
    assert_int_equal(osr__http_step(h, NULL, 0, -1), 0);
    memset(many, 0, sizeof(many));
    assert_int_equal(osr__http_step(h, many, OSR__HTTP_STEP_MAX_FDS + 1, 0), OSR_EINVAL);

    /* A transfer due in 400 ms; a timer at 100 ms comes first and the step
     * returns for it, the transfer not yet sent. */
    server_start_replies(&s, replies);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", s.port);
    {
        osr__http_request req = { .method = "GET", .url = url, .idempotent = true };
        memset(&resp, 0, sizeof(resp));
        osr_error_clear(&err);
        assert_int_equal(osr__http_submit(h, &req, 400, &resp, &err, count_done, &c), 0);
    }
    t0 = osr__now_ms_monotonic();
    fds[1] = (struct pollfd){ .fd = timer_in(100), .events = POLLIN };
    for (rounds = 0; rounds < 20 && (fds[1].revents & POLLIN) == 0; rounds++)
        assert_true(osr__http_step(h, fds, 2, -1) >= 0);
    assert_true(fds[1].revents & POLLIN);
    assert_true(osr__now_ms_monotonic() - t0 < 400);
    assert_int_equal(c.done, 0);
    assert_int_equal(s.served, 0);
    /* Then the loop runs it to the end. */
    for (rounds = 0; rounds < 200 && c.done == 0; rounds++) {
        n = osr__http_step(h, fds, 1, 100);
        assert_true(n >= 0);
    }
    assert_int_equal(c.done, 1);
    assert_int_equal(c.errors, 0);
    assert_int_equal(resp.status, 200);
    assert_true(osr__now_ms_monotonic() - t0 >= 400);
    osr__http_response_free(&resp);
    close(fds[1].fd);
    close(p[0]);
    close(p[1]);
    server_stop(&s);
    osr__http_free(h);
}

#define RUNNER_BODY "runner-bytes"
#define RUNNER_REPLY                                                                \
    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: " \
    "12\r\nConnection: close\r\n\r\n" RUNNER_BODY

/* A request's own proxy and no_proxy, and a download whose options name its
 * proxy: set per request (CURLOPT_PROXY/NOPROXY), nothing from setenv(). */
static void test_request_proxy(void **state)
{
    static const char *const replies[] = { OK_JSON, OK_JSON, RUNNER_REPLY, NULL };
    static const char *const vars[] = { "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
                                        "no_proxy",   "NO_PROXY",   "all_proxy",   "ALL_PROXY" };
    struct server s;
    osr__http *h;
    osr__http_request req;
    osr__http_response resp;
    osr_fetch_options fo = OSR_FETCH_OPTIONS_INIT;
    osr_error err;
    char proxy[64], url[64], dir[] = "/tmp/osr-proxy-XXXXXX", dest[96], hex[65];
    (void)state;

    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        unsetenv(vars[i]);
    server_start_replies(&s, replies);
    h = client(5000, 0);
    snprintf(proxy, sizeof(proxy), "http://127.0.0.1:%d", s.port);
    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.url = "http://runner.invalid/v3/x"; /* reachable only through the proxy */
    req.idempotent = true;
    req.proxy = proxy;
    memset(&resp, 0, sizeof(resp));
    assert_int_equal(osr__http_send(h, &req, &resp, &err), 0);
    assert_int_equal(resp.status, 200);
    assert_int_equal(strncmp(s.last_request, "GET http://runner.invalid/v3/x ", 31), 0);
    osr__http_response_free(&resp);

    /* no_proxy: the proxy is a closed port, the host goes around it. */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v3/y", s.port);
    req.url = url;
    req.proxy = "http://127.0.0.1:1";
    req.no_proxy = "127.0.0.1";
    memset(&resp, 0, sizeof(resp));
    assert_int_equal(osr__http_send(h, &req, &resp, &err), 0);
    assert_int_equal(strncmp(s.last_request, "GET /v3/y ", 10), 0);
    osr__http_response_free(&resp);
    osr__http_free(h);

    /* osr_fetch_verified through osr_fetch_options.http_proxy. */
    assert_non_null(mkdtemp(dir));
    snprintf(dest, sizeof(dest), "%s/r.tar.gz", dir);
    assert_int_equal(osr__sha256_hex(hex, RUNNER_BODY, strlen(RUNNER_BODY)), 0);
    fo.http_proxy = proxy;
    fo.https_proxy = "http://127.0.0.1:1"; /* not for an http URL */
    osr_error_clear(&err);
    if (osr_fetch_verified(dest, "http://runner.invalid/r.tar.gz", hex, NULL, &fo, &err) != 0)
        fail_msg("fetch: %s", err.message);
    assert_int_equal(strncmp(s.last_request, "GET http://runner.invalid/r.tar.gz ", 35), 0);
    unlink(dest);
    rmdir(dir);
    server_stop(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retries_idempotent_on_503),
        cmocka_unit_test(test_post_is_not_retried),
        cmocka_unit_test(test_gives_up_after_max_retries),
        cmocka_unit_test(test_response_cap),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_connection_refused_is_network_error),
        cmocka_unit_test(test_stats_by_service_and_status),
        cmocka_unit_test(test_many_at_once_over_one_engine),
        cmocka_unit_test(test_streamed_upload_and_download),
        cmocka_unit_test(test_post_on_dropped_keepalive_is_sent_once),
        cmocka_unit_test(test_post_gets_its_own_connection),
        cmocka_unit_test(test_refused_connection_is_not_in_doubt),
        cmocka_unit_test(test_step_from_outside),
        cmocka_unit_test(test_request_proxy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
