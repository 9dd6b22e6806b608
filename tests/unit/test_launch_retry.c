/* Launch retries against a scripted Keystone + Nova + Glance on 127.0.0.1:
 * a create whose answer is lost is found by its launch id and never sent
 * twice; a 409 is retried; a 5xx with nothing created is sent again. */
#include "osrunner/osrunner.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

enum scenario { LOST_ANSWER, CONFLICT_FIRST, FAIL_NOT_CREATED };

static struct fake {
    int fd, port;
    pthread_t thread;
    enum scenario scenario;
    int posts;          /* POST /servers received */
    int lookups;        /* name lookups */
    bool created;       /* a server exists */
    char launch_id[64]; /* its osrunner-launch metadata */
    char tag[96];       /* its batch tag */
    volatile bool stop;
} fake;

static void reply(int c, const char *status, const char *extra, const char *body)
{
    char head[512];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n%s\r\n",
                     status, strlen(body), extra ? extra : "");
    ssize_t w = write(c, head, (size_t)n);
    w = write(c, body, strlen(body));
    (void)w;
}

static void copy_json_string(char *dst, size_t n, const char *src, const char *key)
{
    const char *p = strstr(src, key);
    dst[0] = '\0';
    if (p == NULL)
        return;
    p = strchr(p + strlen(key), '"');
    if (p == NULL)
        return;
    p++;
    snprintf(dst, n, "%.*s", (int)strcspn(p, "\""), p);
}

static void route(int c, const char *method, const char *path, const char *body)
{
    char catalog[1024], server[1024];
    snprintf(catalog, sizeof(catalog),
             "{\"token\": {\"expires_at\": \"2099-01-01T00:00:00Z\", \"user\": {\"id\": \"u\"}, "
             "\"project\": {\"id\": \"p\", \"name\": \"p\"}, \"catalog\": ["
             "{\"type\": \"compute\", \"endpoints\": [{\"interface\": \"public\", \"url\": "
             "\"http://127.0.0.1:%d/compute/v2.1\"}]},"
             "{\"type\": \"image\", \"endpoints\": [{\"interface\": \"public\", \"url\": "
             "\"http://127.0.0.1:%d/image\"}]}]}}",
             fake.port, fake.port);
    snprintf(server, sizeof(server),
             "{\"id\": \"srv-1\", \"name\": \"r1\", \"status\": \"ACTIVE\", \"metadata\": "
             "{\"osrunner-launch\": \"%s\"}, \"tags\": [\"%s\"]}",
             fake.launch_id, fake.tag);

    if (strcmp(method, "POST") == 0 && strcmp(path, "/v3/auth/tokens") == 0) {
        reply(c, "201 Created", "X-Subject-Token: tok\r\n", catalog);
    } else if (strcmp(path, "/compute/v2.1") == 0) {
        reply(c, "200 OK", NULL,
              "{\"version\": {\"id\": \"v2.1\", \"version\": \"2.79\", \"min_version\": \"2.1\"}}");
    } else if (strncmp(path, "/image/v2/images", 16) == 0) {
        reply(c, "200 OK", NULL, "{\"images\": [{\"id\": \"img-1\", \"name\": \"img\"}]}");
    } else if (strcmp(path, "/compute/v2.1/flavors/f") == 0) {
        reply(c, "200 OK", NULL, "{\"flavor\": {\"id\": \"f\", \"name\": \"f\"}}");
    } else if (strcmp(method, "POST") == 0 && strcmp(path, "/compute/v2.1/servers") == 0) {
        fake.posts++;
        copy_json_string(fake.launch_id, sizeof(fake.launch_id), body, "\"osrunner-launch\":");
        {
            const char *t = strstr(body, "osrunner-launch=");
            snprintf(fake.tag, sizeof(fake.tag), "%.*s", t ? (int)strcspn(t, "\"") : 0, t ? t : "");
        }
        if (fake.scenario == LOST_ANSWER && fake.posts == 1) {
            fake.created = true; /* created, but the answer never arrives */
            return;
        }
        if (fake.scenario == CONFLICT_FIRST && fake.posts == 1) {
            reply(c, "409 Conflict", NULL,
                  "{\"conflictingRequest\": {\"code\": 409, \"message\": \"busy\"}}");
            return;
        }
        if (fake.scenario == FAIL_NOT_CREATED && fake.posts == 1) {
            reply(c, "500 Internal Server Error", NULL,
                  "{\"computeFault\": {\"code\": 500, \"message\": \"oops\"}}");
            return;
        }
        fake.created = true;
        reply(c, "202 Accepted", NULL, "{\"server\": {\"id\": \"srv-1\"}}");
    } else if (strncmp(path, "/compute/v2.1/servers/detail?name=", 34) == 0) {
        char list[1200];
        fake.lookups++;
        snprintf(list, sizeof(list), "{\"servers\": [%s]}", fake.created ? server : "");
        reply(c, "200 OK", NULL, list);
    } else if (strncmp(path, "/compute/v2.1/servers/detail?tags=", 34) == 0) {
        char list[1200];
        snprintf(list, sizeof(list), "{\"servers\": [%s]}", fake.created ? server : "");
        reply(c, "200 OK", NULL, list);
    } else {
        reply(c, "404 Not Found", NULL, "{\"itemNotFound\": {\"message\": \"no route\"}}");
    }
}

static void *serve(void *arg)
{
    (void)arg;
    while (!fake.stop) {
        char buf[65536];
        size_t got = 0;
        int c = accept(fake.fd, NULL, NULL);
        char method[8] = "", path[1024] = "";
        const char *end, *cl;
        if (c < 0)
            break;
        for (;;) {
            ssize_t n = read(c, buf + got, sizeof(buf) - 1 - got);
            if (n <= 0)
                break;
            got += (size_t)n;
            buf[got] = '\0';
            end = strstr(buf, "\r\n\r\n");
            if (end == NULL)
                continue;
            cl = strcasestr(buf, "Content-Length: ");
            if (cl == NULL || cl > end ||
                got >= (size_t)(end + 4 - buf) + strtoul(cl + 16, NULL, 10))
                break;
        }
        buf[got] = '\0';
        if (sscanf(buf, "%7s %1023s", method, path) == 2) {
            end = strstr(buf, "\r\n\r\n");
            route(c, method, path, end ? end + 4 : "");
        }
        close(c);
    }
    return NULL;
}

static void fake_start(enum scenario sc)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    memset(&fake, 0, sizeof(fake));
    fake.scenario = sc;
    fake.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fake.fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fake.fd, 16), 0);
    assert_int_equal(getsockname(fake.fd, (struct sockaddr *)&a, &len), 0);
    fake.port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&fake.thread, NULL, serve, NULL), 0);
}

static void fake_stop(void)
{
    fake.stop = true;
    shutdown(fake.fd, SHUT_RDWR);
    close(fake.fd);
    pthread_join(fake.thread, NULL);
}

static int launch(osr_server **sv)
{
    static const char *const labels[] = { "x", NULL };
    char clouds[512], path[] = "/tmp/osr-fake-clouds-XXXXXX";
    osr_cloud_options co = OSR_CLOUD_OPTIONS_INIT;
    osr_session_options so = OSR_SESSION_OPTIONS_INIT;
    osr_instance_config c = OSR_INSTANCE_CONFIG_INIT;
    osr_launch_options lo = OSR_LAUNCH_OPTIONS_INIT;
    osr_cloud *cloud = NULL;
    osr_session *s = NULL;
    osr_error err;
    int fd, error;

    snprintf(clouds, sizeof(clouds),
             "clouds:\n  fake:\n    auth:\n      auth_url: http://127.0.0.1:%d/v3\n"
             "      username: u\n      password: p\n      project_name: p\n",
             fake.port);
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, clouds, strlen(clouds)), (ssize_t)strlen(clouds));
    close(fd);
    co.config_file = path;
    assert_int_equal(osr_cloud_load(&cloud, &co, &err), 0);
    unlink(path);
    so.token_cache = 0;
    so.timeout_ms = 2000; /* the lost answer: a timeout, quickly */
    so.max_retries = 0;
    assert_int_equal(osr_session_new(&s, cloud, &so, &err), 0);
    c.name = "r1";
    c.labels = labels;
    c.github_path = "o/r";
    c.registration_token = "t";
    c.image = "img";
    c.flavor = "f";
    lo.timeout_s = 30;
    error = osr_instance_launch(sv, s, &c, &lo);
    if (error != 0)
        print_error("launch: %s\n", osr_session_last_error(s)->message);
    osr_session_free(s);
    osr_cloud_free(cloud);
    return error;
}

static void test_lost_answer_is_found_not_repeated(void **state)
{
    osr_server *sv = NULL;
    (void)state;
    fake_start(LOST_ANSWER);
    assert_int_equal(launch(&sv), 0);
    assert_string_equal(osr_server_id(sv), "srv-1");
    assert_int_equal(fake.posts, 1);   /* never a second server */
    assert_int_equal(fake.lookups, 2); /* the lost create, then the name check */
    osr_server_free(sv);
    fake_stop();
}

static void test_conflict_is_retried(void **state)
{
    osr_server *sv = NULL;
    (void)state;
    fake_start(CONFLICT_FIRST);
    assert_int_equal(launch(&sv), 0);
    assert_int_equal(fake.posts, 2);
    assert_int_equal(fake.lookups, 2); /* one look before the second create; the name check */
    osr_server_free(sv);
    fake_stop();
}

static void test_server_error_looks_up_then_sends_again(void **state)
{
    osr_server *sv = NULL;
    (void)state;
    fake_start(FAIL_NOT_CREATED);
    assert_int_equal(launch(&sv), 0);
    assert_int_equal(fake.posts, 2);
    assert_int_equal(fake.lookups, 2);
    osr_server_free(sv);
    fake_stop();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lost_answer_is_found_not_repeated),
        cmocka_unit_test(test_conflict_is_retried),
        cmocka_unit_test(test_server_error_looks_up_then_sends_again),
    };
    int rc;
    osr_global_init();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    osr_global_shutdown();
    return rc;
}
