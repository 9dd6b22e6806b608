/* A scripted HTTP server on 127.0.0.1 for unit tests: a thread answers each
 * request with what a respond function writes, one connection per request,
 * and keeps the first requests for checks. Also a session on a cloud that is
 * never contacted, for clients of such a server. Include once per test. */
#ifndef OSR_TEST_SCRIPTED_SERVER_H
#define OSR_TEST_SCRIPTED_SERVER_H

#include "osrunner/osrunner.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

/* ------------------------------------------------------------ scripted server */

struct server;
/* Fill reply (a whole HTTP response) for the n-th request (0-based). */
typedef void (*respond_fn)(struct server *s, int n, const char *request, char *reply, size_t cap);

struct server {
    int fd;
    int port;
    respond_fn respond;
    int served;
    char requests[8][4096]; /* the first 8 requests */
    pthread_t thread;
};

static void read_request(int c, char *buf, size_t cap)
{
    size_t len = 0;
    for (;;) {
        ssize_t n = read(c, buf + len, cap - 1 - len);
        char *end;
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
        if (end) {
            const char *cl = strcasestr(buf, "\r\nContent-Length:");
            size_t want = cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
            if (len >= (size_t)(end + 4 - buf) + want || len + 1 >= cap)
                break;
        }
        if (len + 1 >= cap)
            break;
    }
    buf[len] = '\0';
}

static void *serve(void *arg)
{
    struct server *s = arg;
    static char reply[16384];
    char req[4096];
    for (;;) {
        int c = accept(s->fd, NULL, NULL);
        ssize_t w;
        if (c < 0)
            break;
        read_request(c, req, sizeof(req));
        if (s->served < 8)
            memcpy(s->requests[s->served], req, sizeof(req));
        s->respond(s, s->served, req, reply, sizeof(reply));
        s->served++;
        w = write(c, reply, strlen(reply));
        (void)w;
        close(c);
    }
    return NULL;
}

static void server_start(struct server *s, respond_fn respond)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    memset(s, 0, sizeof(*s));
    s->respond = respond;
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(s->fd >= 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(s->fd, 8), 0);
    assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &len), 0);
    s->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void server_stop(struct server *s)
{
    shutdown(s->fd, SHUT_RDWR);
    close(s->fd);
    pthread_join(s->thread, NULL);
}

static void
reply_json(char *reply, size_t cap, const char *status, const char *headers, const char *body)
{
    snprintf(reply, cap,
             "HTTP/1.1 %s\r\nContent-Type: application/json; charset=utf-8\r\n%s"
             "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
             status, headers, strlen(body), body);
}

/* A session on a cloud that is never contacted (nothing here needs a token). */
static osr_session *offline_session(osr_cloud **cloud)
{
    static const char clouds[] = "clouds:\n  c:\n    auth:\n      auth_url: http://127.0.0.1:9/v3\n"
                                 "      username: u\n      password: p\n      project_name: p\n";
    char path[] = "/tmp/osr-unit-gh-clouds-XXXXXX";
    osr_cloud_options co = OSR_CLOUD_OPTIONS_INIT;
    osr_session_options so = OSR_SESSION_OPTIONS_INIT;
    osr_session *sess = NULL;
    osr_error err;
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, clouds, strlen(clouds)), (ssize_t)strlen(clouds));
    close(fd);
    co.config_file = path;
    osr_error_clear(&err);
    if (osr_cloud_load(cloud, &co, &err) != 0) {
        unlink(path);
        fail_msg("osr_cloud_load: %s", err.message);
    }
    unlink(path);
    so.token_cache = 0;
    if (osr_session_new(&sess, *cloud, &so, &err) != 0)
        fail_msg("osr_session_new: %s", err.message);
    return sess;
}

#endif
