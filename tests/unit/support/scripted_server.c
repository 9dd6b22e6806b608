/* The unit tests' scripted HTTP server (scripted_server.h). */
#include "scripted_server.h"

#include "osrunner/clouds.h"
#include "osrunner/session.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

int server_listen(int backlog, int *port)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, backlog), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

size_t server_read_request(int c, char *buf, size_t cap)
{
    size_t len = 0;

    buf[0] = '\0';
    while (len + 1 < cap) {
        ssize_t n = read(c, buf + len, cap - 1 - len);
        const char *end, *cl;
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
        if (end == NULL)
            continue;
        cl = strcasestr(buf, "\r\nContent-Length:");
        if (cl == NULL || cl > end || len >= (size_t)(end + 4 - buf) + strtoul(cl + 17, NULL, 10))
            break;
    }
    buf[len] = '\0';
    return len;
}

void server_write(int c, const char *text)
{
    size_t len = strlen(text), done = 0;
    while (done < len) {
        ssize_t w = write(c, text + done, len - done);
        if (w <= 0)
            break;
        done += (size_t)w;
    }
}

static void answer(struct server *s, int c, int n)
{
    if (s->handle) {
        s->handle(s, c, n, s->last_request);
    } else if (s->replies && strcmp(s->replies[n], "HANG") == 0) {
        char buf[256];
        while (read(c, buf, sizeof(buf)) > 0) {
        }
    } else if (s->replies) {
        server_write(c, s->replies[n]);
    } else {
        char *reply = malloc(SERVER_REPLY_MAX);
        assert_non_null(reply);
        reply[0] = '\0';
        s->respond(s, n, s->last_request, reply, SERVER_REPLY_MAX);
        server_write(c, reply);
        free(reply);
    }
}

static void *serve(void *arg)
{
    struct server *s = arg;

    while (!s->stop && !(s->replies && s->replies[s->served] == NULL)) {
        int n, c = accept(s->fd, NULL, NULL);
        size_t len;
        if (c < 0)
            break;
        len = server_read_request(c, s->last_request, sizeof(s->last_request));
        n = s->served;
        if (n < SERVER_KEPT) {
            size_t keep = len < SERVER_KEPT_MAX - 1 ? len : SERVER_KEPT_MAX - 1;
            memcpy(s->requests[n], s->last_request, keep);
            s->requests[n][keep] = '\0';
        }
        s->served = n + 1;
        answer(s, c, n);
        close(c);
    }
    return NULL;
}

static void start(struct server *s)
{
    s->fd = server_listen(16, &s->port);
    assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

void server_start(struct server *s, respond_fn respond)
{
    memset(s, 0, sizeof(*s));
    s->respond = respond;
    start(s);
}

void server_start_replies(struct server *s, const char *const *replies)
{
    memset(s, 0, sizeof(*s));
    s->replies = replies;
    start(s);
}

void server_start_handler(struct server *s, handler_fn handle, void *payload)
{
    memset(s, 0, sizeof(*s));
    s->handle = handle;
    s->payload = payload;
    start(s);
}

void server_stop(struct server *s)
{
    s->stop = true;
    shutdown(s->fd, SHUT_RDWR);
    close(s->fd);
    pthread_join(s->thread, NULL);
}

void reply_json(char *reply, size_t cap, const char *status, const char *headers, const char *body)
{
    snprintf(reply, cap,
             "HTTP/1.1 %s\r\nContent-Type: application/json; charset=utf-8\r\n%s"
             "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
             status, headers, strlen(body), body);
}

osr_session *offline_session(osr_cloud **cloud)
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
