/* Launch retries against a scripted Keystone + Nova + Glance on 127.0.0.1:
 * a create whose answer is lost is found by its launch id and never sent
 * twice; a 409 is retried; a 5xx with nothing created is sent again; polls
 * that fail for a while are waited out; the clean-up DELETE is retried, and
 * a server it cannot delete is named (OSR_ELEFT); names are unique (before
 * the create, and against a rival created at the same time); a cancelled
 * launch deletes what it created. */
#include "nova.h"
#include "osrunner/osrunner.h"
#include "scripted_server.h"

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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

enum scenario {
    LOST_ANSWER,
    CONFLICT_FIRST,
    FAIL_NOT_CREATED,
    POLL_OUTAGE,     /* the first polls answer 503 */
    DELETE_RETRY,    /* ERROR; the first DELETEs answer 503 */
    DELETE_REFUSED,  /* ERROR; every DELETE answers 403 */
    NAME_TAKEN,      /* a server of ours has the name before the create */
    RIVAL_EARLIER,   /* after the create, an earlier server of ours has the name */
    RIVAL_LATER,     /* ... a later one, which goes away after two looks */
    CANCEL_IN_BUILD, /* the launch is cancelled while the server builds */
    ALWAYS_500,      /* Nova fails every create itself */
    LOST_THEN_DOWN,  /* the create's answer is lost, then every look-up gets 503 */
};

static struct fake {
    struct server srv; /* support/scripted_server.h */
    enum scenario scenario;
    int posts;         /* POST /servers received */
    int lookups;       /* name lookups */
    int polls;         /* batch-tag polls */
    int deletes;       /* DELETE /servers/srv-1 */
    int manager_lists; /* lists by the manager's tag */
    bool created;      /* a server exists */
    bool deleted;      /* and was deleted again */
    volatile bool cancel;
    char launch_id[64]; /* its osrunner-launch metadata */
    char tag[96];       /* its batch tag */
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
             fake.srv.port, fake.srv.port);
    bool error_state = fake.scenario == DELETE_RETRY || fake.scenario == DELETE_REFUSED;
    bool building = fake.scenario == CANCEL_IN_BUILD;
    snprintf(server, sizeof(server),
             "{\"id\": \"srv-1\", \"name\": \"r1\", \"status\": \"%s\", \"created\": "
             "\"2026-01-01T00:00:05Z\", \"metadata\": {\"osrunner-launch\": \"%s\", "
             "\"managed-by\": \"osrunner\", \"osrunner-manager\": \"osrunner\"}, \"tags\": "
             "[\"%s\"]%s}",
             error_state ? "ERROR"
             : building  ? "BUILD"
                         : "ACTIVE",
             fake.launch_id, fake.tag,
             error_state ? ", \"fault\": {\"message\": \"No valid host was found. \"}" : "");
    if (fake.deleted)
        fake.created = false;

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
        if ((fake.scenario == LOST_ANSWER || fake.scenario == LOST_THEN_DOWN) && fake.posts == 1) {
            fake.created = true; /* created, but the answer never arrives */
            return;
        }
        if (fake.scenario == CONFLICT_FIRST && fake.posts == 1) {
            reply(c, "409 Conflict", NULL,
                  "{\"conflictingRequest\": {\"code\": 409, \"message\": \"busy\"}}");
            return;
        }
        if ((fake.scenario == FAIL_NOT_CREATED && fake.posts == 1) || fake.scenario == ALWAYS_500) {
            reply(c, "500 Internal Server Error", NULL,
                  "{\"computeFault\": {\"code\": 500, \"message\": \"oops\"}}");
            return;
        }
        fake.created = true;
        reply(c, "202 Accepted", NULL, "{\"server\": {\"id\": \"srv-1\"}}");
    } else if (strncmp(path, "/compute/v2.1/servers/detail?name=", 34) == 0) {
        char list[2400];
        /* A server of ours with the same name, created before or after ours. */
        const char *rival =
            (fake.scenario == RIVAL_EARLIER && fake.created)
                ? ", {\"id\": \"srv-0\", \"name\": \"r1\", \"status\": \"ACTIVE\", \"created\": "
                  "\"2026-01-01T00:00:01Z\", \"metadata\": {\"managed-by\": \"osrunner\", "
                  "\"osrunner-manager\": \"osrunner\"}}"
            : (fake.scenario == RIVAL_LATER && fake.created && fake.lookups < 3)
                ? ", {\"id\": \"srv-9\", \"name\": \"r1\", \"status\": \"BUILD\", \"created\": "
                  "\"2026-01-01T00:00:09Z\", \"metadata\": {\"managed-by\": \"osrunner\", "
                  "\"osrunner-manager\": \"osrunner\"}}"
                : "";
        fake.lookups++;
        if (fake.scenario == LOST_THEN_DOWN) {
            reply(c, "503 Service Unavailable", NULL,
                  "{\"computeFault\": {\"code\": 503, \"message\": \"restarting\"}}");
            return;
        }
        snprintf(list, sizeof(list), "{\"servers\": [%s%s]}", fake.created ? server : "",
                 fake.created ? rival : "");
        reply(c, "200 OK", NULL, list);
    } else if (strncmp(path, "/compute/v2.1/servers/detail?tags=managed-by", 44) == 0) {
        fake.manager_lists++;
        reply(c, "200 OK", NULL,
              fake.scenario == NAME_TAKEN
                  ? "{\"servers\": [{\"id\": \"srv-old\", \"name\": \"r1\", \"status\": "
                    "\"ACTIVE\", \"metadata\": {}}]}"
                  : "{\"servers\": []}");
    } else if (strncmp(path, "/compute/v2.1/servers/detail?tags=", 34) == 0) {
        char list[1200];
        fake.polls++;
        if (fake.scenario == CANCEL_IN_BUILD && fake.polls == 2)
            fake.cancel = true; /* as a signal handler would */
        if (fake.scenario == POLL_OUTAGE && fake.polls <= 6) {
            reply(c, "503 Service Unavailable", NULL,
                  "{\"computeFault\": {\"code\": 503, \"message\": \"restarting\"}}");
            return;
        }
        snprintf(list, sizeof(list), "{\"servers\": [%s]}", fake.created ? server : "");
        reply(c, "200 OK", NULL, list);
    } else if (strcmp(method, "DELETE") == 0 && strcmp(path, "/compute/v2.1/servers/srv-1") == 0) {
        fake.deletes++;
        if (fake.scenario == DELETE_REFUSED) {
            reply(c, "403 Forbidden", NULL,
                  "{\"forbidden\": {\"code\": 403, \"message\": \"locked\"}}");
        } else if (fake.scenario == DELETE_RETRY && fake.deletes <= 2) {
            reply(c, "503 Service Unavailable", NULL,
                  "{\"computeFault\": {\"code\": 503, \"message\": \"restarting\"}}");
        } else {
            fake.deleted = true;
            reply(c, "204 No Content", NULL, "");
        }
    } else if (strcmp(path, "/compute/v2.1/servers/srv-1") == 0) {
        char one[1200];
        if (!fake.created) {
            reply(c, "404 Not Found", NULL, "{\"itemNotFound\": {\"message\": \"gone\"}}");
            return;
        }
        snprintf(one, sizeof(one), "{\"server\": %s}", server);
        reply(c, "200 OK", NULL, one);
    } else {
        reply(c, "404 Not Found", NULL, "{\"itemNotFound\": {\"message\": \"no route\"}}");
    }
}

static void serve_one(struct server *srv, int c, int n, const char *buf)
{
    char method[8] = "", path[1024] = "";
    (void)srv;
    (void)n;
    if (sscanf(buf, "%7s %1023s", method, path) == 2) {
        const char *end = strstr(buf, "\r\n\r\n");
        route(c, method, path, end ? end + 4 : "");
    }
}

static void fake_start(enum scenario sc)
{
    memset(&fake, 0, sizeof(fake));
    fake.scenario = sc;
    server_start_handler(&fake.srv, serve_one, NULL);
}

static void fake_stop(void)
{
    server_stop(&fake.srv);
}

/* A session on the fake, without the engine's own retries. */
static osr_session *fake_session(osr_cloud **cloud)
{
    char clouds[512], path[] = "/tmp/osr-fake-clouds-XXXXXX";
    osr_cloud_options co = OSR_CLOUD_OPTIONS_INIT;
    osr_session_options so = OSR_SESSION_OPTIONS_INIT;
    osr_session *s = NULL;
    osr_error err;
    int fd;

    snprintf(clouds, sizeof(clouds),
             "clouds:\n  fake:\n    auth:\n      auth_url: http://127.0.0.1:%d/v3\n"
             "      username: u\n      password: p\n      project_name: p\n",
             fake.srv.port);
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, clouds, strlen(clouds)), (ssize_t)strlen(clouds));
    close(fd);
    co.config_file = path;
    assert_int_equal(osr_cloud_load(cloud, &co, &err), 0);
    unlink(path);
    so.token_cache = 0;
    so.timeout_ms = 2000; /* the lost answer: a timeout, quickly */
    so.max_retries = 0;
    assert_int_equal(osr_session_new(&s, *cloud, &so, &err), 0);
    return s;
}

static int launch_opts(osr_server **sv, osr_launch_options *lo, char *msg, size_t msg_size)
{
    static const char *const labels[] = { "x", NULL };
    osr_instance_config c = OSR_INSTANCE_CONFIG_INIT;
    osr_cloud *cloud = NULL;
    osr_session *s = fake_session(&cloud);
    int error;

    c.name = "r1";
    c.labels = labels;
    c.github_path = "o/r";
    c.registration_token = "t";
    c.image = "img";
    c.flavor = "f";
    error = osr_instance_launch(sv, s, &c, lo);
    if (error != 0)
        print_error("launch: %s\n", osr_session_last_error(s)->message);
    if (msg)
        snprintf(msg, msg_size, "%s", osr_session_last_error(s)->message);
    osr_session_free(s);
    osr_cloud_free(cloud);
    return error;
}

static int launch(osr_server **sv)
{
    osr_launch_options lo = OSR_LAUNCH_OPTIONS_INIT;
    lo.timeout_s = 30;
    return launch_opts(sv, &lo, NULL, 0);
}

/* Nova's own 500 is not waited out until the deadline: five creates, each
 * looked up (it may have gone through), then the launch fails. */
static void test_persistent_500_gives_up(void **state)
{
    osr_server *sv = NULL;
    osr_launch_options lo = OSR_LAUNCH_OPTIONS_INIT;
    char msg[OSR_ERROR_MESSAGE_MAX];
    (void)state;
    fake_start(ALWAYS_500);
    lo.timeout_s = 300;
    assert_int_equal(launch_opts(&sv, &lo, msg, sizeof(msg)), OSR_ELAUNCH);
    assert_int_equal(fake.posts, 5);
    assert_int_equal(fake.lookups, 5);
    if (strstr(msg, "could not create r1 in 5 attempts") == NULL)
        fail_msg("message: %s", msg);
    fake_stop();
}

/* A create in doubt (its answer lost) with Nova down afterwards: with
 * in_doubt_s negative (the pool engine's, which finds its servers by tag)
 * the look-ups end at the deadline, not 180 s later; the create is never
 * sent twice, and the error says the server may exist. */
static void test_in_doubt_ends_at_the_deadline(void **state)
{
    osr_server *sv = (osr_server *)0x1234;
    osr_launch_options lo = OSR_LAUNCH_OPTIONS_INIT;
    char msg[OSR_ERROR_MESSAGE_MAX];
    struct timespec t0, t1;
    (void)state;
    fake_start(LOST_THEN_DOWN);
    lo.timeout_s = 3;
    lo.wait = 0;
    lo.in_doubt_s = -1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_true(launch_opts(&sv, &lo, msg, sizeof(msg)) < 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_ptr_equal(sv, (osr_server *)0x1234);
    assert_int_equal(fake.posts, 1);
    assert_true(fake.lookups >= 1);
    if (strstr(msg, "it may exist: see instance list --launch") == NULL)
        fail_msg("message: %s", msg);
    /* The deadline and one look-up in flight (the session's 2 s), far from
     * the 183 s of the default. */
    if (t1.tv_sec - t0.tv_sec > 30)
        fail_msg("took %ld s", (long)(t1.tv_sec - t0.tv_sec));
    fake_stop();
}

/* Six failed polls in a row used to fail the launch (after five); within
 * the deadline they are waited out. */
static void test_poll_outage_is_waited_out(void **state)
{
    osr_server *sv = NULL;
    (void)state;
    fake_start(POLL_OUTAGE);
    assert_int_equal(launch(&sv), 0);
    assert_string_equal(osr_server_status(sv), "ACTIVE");
    assert_int_equal(fake.polls, 7);
    assert_int_equal(fake.posts, 1);
    osr_server_free(sv);
    fake_stop();
}

static void test_delete_is_retried(void **state)
{
    osr_server *sv = (osr_server *)0x1234;
    osr_launch_options lo = OSR_LAUNCH_OPTIONS_INIT;
    char msg[OSR_ERROR_MESSAGE_MAX];
    (void)state;
    fake_start(DELETE_RETRY);
    lo.timeout_s = 30;
    assert_int_equal(launch_opts(&sv, &lo, msg, sizeof(msg)), OSR_ELAUNCH);
    assert_ptr_equal(sv, (osr_server *)0x1234);
    assert_int_equal(fake.deletes, 3);
    assert_true(fake.deleted);
    /* Nova's fault and ours join cleanly: no "found. ; the server". */
    if (strstr(msg, "went to ERROR: No valid host was found; server srv-1 was deleted again") ==
        NULL)
        fail_msg("message: %s", msg);
    fake_stop();
}

static void test_undeletable_server_is_named(void **state)
{
    osr_server *sv = NULL;
    osr_launch_options lo = OSR_LAUNCH_OPTIONS_INIT;
    char msg[OSR_ERROR_MESSAGE_MAX];
    (void)state;
    fake_start(DELETE_REFUSED);
    lo.timeout_s = 30;
    assert_int_equal(launch_opts(&sv, &lo, msg, sizeof(msg)), OSR_ELEFT);
    if (strstr(msg, "server srv-1 (r1) is LEFT") == NULL)
        fail_msg("message: %s", msg);
    fake_stop();
}

/* osr_instance_launch_many() leaves *out alone when it fails; the partial
 * batch is taken from the session, once. */
static void test_failed_batch_is_taken_not_set(void **state)
{
    static const char *const labels[] = { "x", NULL };
    osr_instance_config c = OSR_INSTANCE_CONFIG_INIT;
    const osr_instance_config *ptrs[1] = { &c };
    osr_launch_options lo = OSR_LAUNCH_OPTIONS_INIT;
    osr_launch_batch *const sentinel = (osr_launch_batch *)0x1234;
    osr_launch_batch *b = sentinel;
    osr_cloud *cloud = NULL;
    osr_session *s;
    (void)state;

    fake_start(DELETE_REFUSED);
    s = fake_session(&cloud);
    c.name = "r1";
    c.labels = labels;
    c.github_path = "o/r";
    c.registration_token = "t";
    c.image = "img";
    c.flavor = "f";
    lo.timeout_s = 30;
    assert_int_equal(osr_launch_batch_take_failed(&b, s), OSR_ENOTFOUND);
    assert_int_equal(osr_instance_launch_many(&b, s, ptrs, 1, &lo), OSR_ELEFT);
    assert_ptr_equal(b, sentinel);
    assert_non_null(strstr(osr_session_last_error(s)->message, "server srv-1 (r1) is LEFT"));
    assert_int_equal(osr_launch_batch_take_failed(&b, s), 0);
    assert_ptr_not_equal(b, sentinel);
    assert_int_equal(osr_launch_batch_count(b), 1);
    assert_null(osr_launch_batch_server(b, 0));
    assert_int_equal(osr_launch_batch_error(b, 0)->code, OSR_ELEFT);
    /* The launch's error record is still there after the take. */
    assert_int_equal(osr_session_last_error(s)->code, OSR_ELEFT);
    osr_launch_batch_free(b);
    b = sentinel;
    assert_int_equal(osr_launch_batch_take_failed(&b, s), OSR_ENOTFOUND);
    assert_ptr_equal(b, sentinel);
    osr_session_free(s);
    osr_cloud_free(cloud);
    fake_stop();
}

static void test_name_taken_creates_nothing(void **state)
{
    osr_server *sv = NULL;
    osr_launch_options lo = OSR_LAUNCH_OPTIONS_INIT;
    char msg[OSR_ERROR_MESSAGE_MAX];
    (void)state;
    fake_start(NAME_TAKEN);
    lo.timeout_s = 30;
    assert_int_equal(launch_opts(&sv, &lo, msg, sizeof(msg)), OSR_EEXISTS);
    assert_int_equal(fake.manager_lists, 1);
    assert_int_equal(fake.posts, 0);
    if (strstr(msg, "a server named r1 exists already (id srv-old") == NULL)
        fail_msg("message: %s", msg);
    fake_stop();
}

/* Two launches of one name at once: the later server deletes itself. */
static void test_later_of_two_gives_way(void **state)
{
    osr_server *sv = NULL;
    osr_launch_options lo = OSR_LAUNCH_OPTIONS_INIT;
    char msg[OSR_ERROR_MESSAGE_MAX];
    (void)state;
    fake_start(RIVAL_EARLIER);
    lo.timeout_s = 30;
    assert_int_equal(launch_opts(&sv, &lo, msg, sizeof(msg)), OSR_EEXISTS);
    assert_int_equal(fake.posts, 1);
    assert_true(fake.deleted);
    if (strstr(msg, "the name r1 is taken by server srv-0, created earlier") == NULL)
        fail_msg("message: %s", msg);
    fake_stop();
}

/* ... and the earlier one waits for the rival to go, then keeps its own. */
static void test_earlier_of_two_waits_and_stays(void **state)
{
    osr_server *sv = NULL;
    (void)state;
    fake_start(RIVAL_LATER);
    assert_int_equal(launch(&sv), 0);
    assert_int_equal(fake.lookups, 4); /* three see the rival, the fourth does not */
    assert_int_equal(fake.deletes, 0);
    osr_server_free(sv);
    fake_stop();
}

/* instance delete (--launch): a DELETE that meets nova-api restarting is
 * sent again until the deadline. */
static void test_delete_many_retries(void **state)
{
    osr_cloud *cloud = NULL;
    osr_session *s;
    const char *ids[] = { "srv-1" };
    osr_error errs[1];
    (void)state;
    fake_start(DELETE_RETRY);
    fake.created = true;
    s = fake_session(&cloud);
    assert_int_equal(osr_server_delete_many(s, ids, 1, 1, 30, errs), 0);
    assert_int_equal(errs[0].code, 0);
    assert_int_equal(fake.deletes, 3);
    assert_true(fake.deleted);
    osr_session_free(s);
    osr_cloud_free(cloud);
    fake_stop();
}

static void test_cancel_deletes_what_was_created(void **state)
{
    osr_server *sv = NULL;
    osr_launch_options lo = OSR_LAUNCH_OPTIONS_INIT;
    char msg[OSR_ERROR_MESSAGE_MAX];
    struct timespec t0, t1;
    (void)state;
    fake_start(CANCEL_IN_BUILD);
    lo.timeout_s = 60;
    lo.cancel = &fake.cancel;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(launch_opts(&sv, &lo, msg, sizeof(msg)), OSR_EINTERRUPTED);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_null(sv);
    assert_int_equal(fake.posts, 1);
    assert_true(fake.deleted);
    /* Well before the next poll would have ended the wait. */
    assert_true(t1.tv_sec - t0.tv_sec < 10);
    if (strstr(msg, "interrupted; server srv-1 was deleted again") == NULL)
        fail_msg("message: %s", msg);
    fake_stop();
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

/* The create body from nova.c: resolved ids in their places, a network by
 * uuid, security groups by id, tags only when given, and the metadata. */
static void test_create_body(void **state)
{
    const char *const sgs[] = { "sg-1", "sg-2", NULL };
    json_t *meta = json_pack("{s:s}", "osrunner-launch", "abc");
    json_t *tags = json_pack("[s]", "managed-by=osrunner");
    osr__nova_server_spec spec;
    osr_error err;
    json_t *root, *sv;
    char *body = NULL;
    (void)state;

    memset(&spec, 0, sizeof(spec));
    spec.name = "r1";
    spec.image_id = "img-1";
    spec.flavor_id = "f";
    spec.user_data = "dXNlcmRhdGE=";
    spec.metadata = meta;
    spec.network = "net-1";
    spec.key_name = "k";
    spec.security_groups = sgs;
    spec.config_drive = true;
    spec.tags = tags;
    assert_int_equal(osr__nova_create_body(&body, &spec, &err), 0);
    root = json_loads(body, 0, NULL);
    sv = json_object_get(root, "server");
    assert_string_equal(json_string_value(json_object_get(sv, "name")), "r1");
    assert_string_equal(json_string_value(json_object_get(sv, "imageRef")), "img-1");
    assert_string_equal(json_string_value(json_object_get(sv, "flavorRef")), "f");
    assert_string_equal(json_string_value(json_object_get(sv, "user_data")), "dXNlcmRhdGE=");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(sv, "networks"), 0), "uuid")),
                        "net-1");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(sv, "security_groups"), 1), "name")),
                        "sg-2");
    assert_string_equal(json_string_value(json_object_get(sv, "key_name")), "k");
    assert_true(json_is_true(json_object_get(sv, "config_drive")));
    assert_string_equal(json_string_value(json_array_get(json_object_get(sv, "tags"), 0)),
                        "managed-by=osrunner");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(sv, "metadata"), "osrunner-launch")),
        "abc");
    assert_null(json_object_get(sv, "availability_zone"));
    /* The caller's metadata and tags are borrowed, not taken. */
    assert_int_equal(meta->refcount, 1);
    assert_int_equal(tags->refcount, 1);
    json_decref(root);
    osr__secret_free(body);

    /* "none" and "auto" are Nova's words; no groups, no tags: none sent. */
    spec.network = "auto";
    spec.security_groups = NULL;
    spec.tags = NULL;
    spec.key_name = NULL;
    assert_int_equal(osr__nova_create_body(&body, &spec, &err), 0);
    root = json_loads(body, 0, NULL);
    sv = json_object_get(root, "server");
    assert_string_equal(json_string_value(json_object_get(sv, "networks")), "auto");
    assert_null(json_object_get(sv, "security_groups"));
    assert_null(json_object_get(sv, "tags"));
    assert_null(json_object_get(sv, "key_name"));
    json_decref(root);
    osr__secret_free(body);

    assert_int_equal(osr__nova_tags_body(&body, tags, &err), 0);
    assert_string_equal(body, "{\"tags\":[\"managed-by=osrunner\"]}");
    free(body);
    json_decref(meta);
    json_decref(tags);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lost_answer_is_found_not_repeated),
        cmocka_unit_test(test_conflict_is_retried),
        cmocka_unit_test(test_server_error_looks_up_then_sends_again),
        cmocka_unit_test(test_persistent_500_gives_up),
        cmocka_unit_test(test_in_doubt_ends_at_the_deadline),
        cmocka_unit_test(test_poll_outage_is_waited_out),
        cmocka_unit_test(test_delete_is_retried),
        cmocka_unit_test(test_undeletable_server_is_named),
        cmocka_unit_test(test_failed_batch_is_taken_not_set),
        cmocka_unit_test(test_name_taken_creates_nothing),
        cmocka_unit_test(test_later_of_two_gives_way),
        cmocka_unit_test(test_earlier_of_two_waits_and_stays),
        cmocka_unit_test(test_cancel_deletes_what_was_created),
        cmocka_unit_test(test_delete_many_retries),
        cmocka_unit_test(test_create_body),
    };
    int rc;
    osr_global_init();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    osr_global_shutdown();
    return rc;
}
