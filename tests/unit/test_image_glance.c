/* Glance client internals: which image of a name is current, list pages,
 * the create body, checksum verification after upload, stale records, the
 * check of a file's content against --disk-format before an upload, and the
 * wait for an image to become active as timers on the engine. */
#include "glance_internal.h"
#include "session.h"

#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cmocka.h>

#include "scripted_server.h"

static json_t *img(const char *id, const char *status, const char *created, const char *upload)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "id", id, "name", "n", "status", status,
                          "created_at", created);
    if (upload) {
        json_object_set_new(o, OSR_IMAGE_UPLOAD_PROPERTY, json_string("boot/1"));
        json_object_set_new(o, OSR__IMAGE_UPLOAD_TIME, json_string(upload));
    }
    return o;
}

static void test_pick_current(void **state)
{
    json_t *v[3];
    (void)state;
    /* One image: that one, whatever its status. */
    v[0] = img("a", "queued", "2026-01-01T00:00:00Z", NULL);
    assert_int_equal(osr__glance_pick_current(v, 1), 0);
    /* One active among others (an upload in flight): the active one. */
    v[1] = img("b", "active", "2025-01-01T00:00:00Z", NULL);
    assert_int_equal(osr__glance_pick_current(v, 2), 1);
    json_decref(v[0]);
    json_decref(v[1]);
    /* Several active, all published by osrunner: the newest; same second: upload time. */
    v[0] = img("a", "active", "2026-01-01T00:00:00Z", "1000");
    v[1] = img("z", "active", "2026-01-01T00:00:00Z", "999");
    v[2] = img("c", "active", "2025-12-31T23:59:59Z", "2000");
    assert_int_equal(osr__glance_pick_current(v, 3), 0);
    /* Several active, all osrunner's, but of two projects (as admin sees
     * them): ambiguous; of one project: the newest. */
    json_object_set_new(v[0], "owner", json_string("p1"));
    json_object_set_new(v[1], "owner", json_string("p2"));
    assert_int_equal(osr__glance_pick_current(v, 3), -1);
    json_object_set_new(v[1], "owner", json_string("p1"));
    assert_int_equal(osr__glance_pick_current(v, 3), -1); /* v[2] has no owner */
    json_object_set_new(v[2], "owner", json_string("p1"));
    assert_int_equal(osr__glance_pick_current(v, 3), 0);
    json_decref(v[2]);
    /* Several active, one not ours: ambiguous. */
    v[2] = img("c", "active", "2025-12-31T23:59:59Z", NULL);
    assert_int_equal(osr__glance_pick_current(v, 3), -1);
    for (int i = 0; i < 3; i++)
        json_decref(v[i]);
}

static void test_list_page(void **state)
{
    static const char page[] =
        "{\"images\":[{\"id\":\"1\",\"name\":\"r\",\"status\":\"active\",\"tags\":[\"t\"],"
        "\"os_distro\":\"ubuntu\"},{\"id\":\"2\",\"name\":\"other\",\"status\":\"active\"},"
        "{\"id\":\"3\",\"name\":\"r\",\"status\":\"queued\",\"tags\":[]},7],"
        "\"next\":\"/v2/images?marker=3\"}";
    osr_image_filter f = OSR_IMAGE_FILTER_INIT;
    const char *props[] = { "os_distro=ubuntu", NULL };
    osr_image_list *l = osr__glance_list_new();
    char *next = NULL;
    osr_error err;
    (void)state;
    f.name = "r";
    assert_int_equal(osr__glance_list_page(l, &next, page, strlen(page), &f, &err), 0);
    assert_string_equal(next, "/v2/images?marker=3");
    assert_int_equal(osr_image_list_count(l), 2);
    assert_string_equal(osr_image_id(osr_image_list_at(l, 1)), "3");
    assert_int_equal(osr_image_tag_count(osr_image_list_at(l, 0)), 1);
    assert_string_equal(osr_image_tag(osr_image_list_at(l, 0), 0), "t");
    assert_null(osr_image_tag(osr_image_list_at(l, 0), 1));
    assert_null(osr_image_list_at(l, 2));
    free(next);
    osr_image_list_free(l);
    l = osr__glance_list_new();
    f.properties = props;
    f.tag = "t";
    assert_int_equal(osr__glance_list_page(l, &next, page, strlen(page), &f, &err), 0);
    assert_int_equal(osr_image_list_count(l), 1);
    free(next);
    osr_image_list_free(l);
    l = osr__glance_list_new();
    assert_int_equal(osr__glance_list_page(l, &next, "{}", 2, NULL, &err), OSR_EPROTO);
    assert_int_equal(osr__glance_list_page(l, &next, "[", 1, NULL, &err), OSR_EPROTO);
    assert_null(next);
    osr_image_list_free(l);
}

static void test_create_body(void **state)
{
    osr_image_create_options o = OSR_IMAGE_CREATE_OPTIONS_INIT;
    const char *props[] = { "os_distro=ubuntu", "empty=", NULL };
    const char *tags[] = { "runner", NULL };
    const char *reserved[] = { "status=active", NULL };
    const char *noeq[] = { "novalue", NULL };
    char *body = NULL;
    osr_error err;
    (void)state;
    assert_int_equal(osr__glance_create_body(&body, &o, &err), OSR_EINVAL);
    o.name = "github-runner-jammy";
    o.properties = props;
    o.tags = tags;
    assert_int_equal(osr__glance_create_body(&body, &o, &err), 0);
    assert_string_equal(body, "{\"container_format\":\"bare\",\"disk_format\":\"qcow2\",\"empty\":"
                              "\"\",\"name\":\"github-runner-jammy\",\"os_distro\":\"ubuntu\","
                              "\"tags\":[\"runner\"]}");
    free(body);
    o.properties = reserved;
    assert_int_equal(osr__glance_create_body(&body, &o, &err), OSR_EINVAL);
    assert_non_null(strstr(err.message, "'status' is reserved"));
    o.properties = noeq;
    assert_int_equal(osr__glance_create_body(&body, &o, &err), OSR_EINVAL);
}

static void test_verify(void **state)
{
    char sha[129], md5[33];
    json_t *o;
    osr_error err;
    (void)state;
    memset(sha, 'a', 128);
    sha[128] = '\0';
    memset(md5, 'b', 32);
    md5[32] = '\0';
    o = json_pack("{s:s,s:s,s:s,s:s,s:s}", "id", "i", "status", "active", "os_hash_algo", "sha512",
                  "os_hash_value", sha, "checksum", md5);
    assert_int_equal(osr__glance_verify(o, sha, md5, &err), 0);
    json_object_set_new(o, "checksum", json_string("cccccccccccccccccccccccccccccccc"));
    assert_int_equal(osr__glance_verify(o, sha, md5, &err), OSR_EPROTO);
    assert_non_null(strstr(err.message, "MD5"));
    json_object_set_new(o, "checksum", json_string(md5));
    sha[0] = 'f';
    assert_int_equal(osr__glance_verify(o, sha, md5, &err), OSR_EPROTO);
    assert_non_null(strstr(err.message, "SHA-512"));
    json_object_set_new(o, "status", json_string("killed"));
    assert_int_equal(osr__glance_verify(o, sha, md5, &err), OSR_ESERVER);
    json_decref(o);
}

static void test_stale(void **state)
{
    json_t *o = json_pack("{s:s,s:s,s:s}", "id", "i", "status", "saving", "updated_at",
                          "2026-01-01T00:00:00Z");
    int64_t now = 1767225600; /* 2026-01-01T00:00:00Z */
    (void)state;
    /* No marker: never ours to delete. */
    assert_int_equal(osr__glance_is_stale(o, "boot", now + 86400), 0);
    /* This boot, a pid that cannot exist: stale at once. */
    json_object_set_new(o, OSR_IMAGE_UPLOAD_PROPERTY, json_string("boot/2147483646"));
    assert_int_equal(osr__glance_is_stale(o, "boot", now), 1);
    /* This boot, our own (live) pid: not stale. */
    {
        char me[64];
        snprintf(me, sizeof(me), "boot/%ld", (long)getpid());
        json_object_set_new(o, OSR_IMAGE_UPLOAD_PROPERTY, json_string(me));
        assert_int_equal(osr__glance_is_stale(o, "boot", now), 0);
    }
    /* Another machine: only after 6 hours unchanged. */
    json_object_set_new(o, OSR_IMAGE_UPLOAD_PROPERTY, json_string("other/1"));
    assert_int_equal(osr__glance_is_stale(o, "boot", now + 3600), 0);
    assert_int_equal(osr__glance_is_stale(o, "boot", now + 7 * 3600), 1);
    /* Active images are never stale. */
    json_object_set_new(o, "status", json_string("active"));
    assert_int_equal(osr__glance_is_stale(o, "boot", now + 7 * 3600), 0);
    json_decref(o);
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static void put64(unsigned char *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}

/* The header `qemu-img create -f qcow2 F 1G` writes (version 3, 64 KiB
 * clusters, refcount table at 0x10000, L1 table of 2 entries at 0x30000);
 * the file is 196624 bytes. */
static void qcow2_header(unsigned char *h, size_t n)
{
    memset(h, 0, n);
    memcpy(h, "QFI\xfb", 4);
    put32(h + 4, 3);
    put32(h + 20, 16);
    put64(h + 24, 1ULL << 30);
    put32(h + 36, 2);
    put64(h + 40, 0x30000);
    put64(h + 48, 0x10000);
    put32(h + 56, 1);
    put32(h + 96, 4);
    put32(h + 100, 112);
}

static void test_check_content(void **state)
{
    enum { OFF_NONE = -1 };
    static const struct {
        const char *what, *format;
        const char *text; /* the content, or NULL: the qcow2 header, patched */
        long long size;   /* the file's size */
        int patch_off, patch_bytes;
        uint64_t patch_value;
        int error;
        const char *message; /* a part of the message */
    } cases[] = {
        { "valid qcow2", "qcow2", NULL, 196624, OFF_NONE, 0, 0, 0, NULL },
        { "valid qcow2 (default format)", NULL, NULL, 196624, OFF_NONE, 0, 0, 0, NULL },
        { "valid qcow2, version 2", "qcow2", NULL, 196624, 4, 4, 2, 0, NULL },
        { "0-byte file as qcow2", "qcow2", "", 0, OFF_NONE, 0, 0, OSR_EINTEGRITY,
          "f.img: --disk-format qcow2, but the file is empty" },
        { "0-byte file as raw", "raw", "", 0, OFF_NONE, 0, 0, OSR_EINTEGRITY,
          "f.img: --disk-format raw, but the file is empty" },
        { "text file as qcow2", "qcow2", "#!/bin/sh\necho hello\n", 22, OFF_NONE, 0, 0,
          OSR_EINTEGRITY, "f.img: --disk-format qcow2, but the file is raw" },
        { "text file as raw", "raw", "#!/bin/sh\necho hello\n", 22, OFF_NONE, 0, 0, 0, NULL },
        { "qcow2 as raw", "raw", NULL, 196624, OFF_NONE, 0, 0, OSR_EINTEGRITY,
          "f.img: --disk-format raw, but the file is qcow2" },
        { "qcow2 as vmdk", "vmdk", NULL, 196624, OFF_NONE, 0, 0, OSR_EINTEGRITY,
          "--disk-format vmdk, but the file is qcow2" },
        { "vmdk as qcow2", "qcow2", "KDMV\1\0\0\0", 65536, OFF_NONE, 0, 0, OSR_EINTEGRITY,
          "--disk-format qcow2, but the file is vmdk" },
        { "raw data as iso", "iso", "data", 4, OFF_NONE, 0, 0, 0, NULL },
        { "truncated qcow2 (64 KiB of it)", "qcow2", NULL, 65536, OFF_NONE, 0, 0, OSR_EINTEGRITY,
          "is not inside the file (65536 bytes; truncated?)" },
        { "truncated qcow2 (magic only)", "qcow2", "QFI\xfb\0\0\0\3", 8, OFF_NONE, 0, 0,
          OSR_EINTEGRITY, "qcow2 header is bad: truncated (8 bytes)" },
        { "bad version", "qcow2", NULL, 196624, 4, 4, 7, OSR_EINTEGRITY,
          "qcow2 header is bad: version 7 (2 or 3 expected)" },
        { "cluster_bits too small", "qcow2", NULL, 196624, 20, 4, 8, OSR_EINTEGRITY,
          "cluster_bits 8" },
        { "cluster_bits too large", "qcow2", NULL, 196624, 20, 4, 22, OSR_EINTEGRITY,
          "cluster_bits 22" },
        { "virtual size 0", "qcow2", NULL, 196624, 24, 8, 0, OSR_EINTEGRITY,
          "the virtual size is 0" },
        { "L1 table too small", "qcow2", NULL, 196624, 36, 4, 1, OSR_EINTEGRITY,
          "L1 table (1 entries) is too small" },
        { "L1 table past the end", "qcow2", NULL, 196624, 40, 8, 0x40000, OSR_EINTEGRITY,
          "the L1 table (offset 262144) is not inside the file" },
        { "L1 table offset overflows", "qcow2", NULL, 196624, 40, 8, 0xffffffffffff0000ULL,
          OSR_EINTEGRITY, "the L1 table" },
        { "no refcount table", "qcow2", NULL, 196624, 48, 8, 0, OSR_EINTEGRITY,
          "the refcount table (offset 0)" },
        { "backing file", "qcow2", NULL, 196624, 8, 8, 0x200, OSR_EINTEGRITY,
          "has a backing file" },
        { "marked corrupt", "qcow2", NULL, 196624, 72, 8, 2, OSR_EINTEGRITY, "marked corrupt" },
        { "header_length past the cluster", "qcow2", NULL, 196624, 100, 4, 0x20000, OSR_EINTEGRITY,
          "header_length 131072" },
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        unsigned char h[512];
        size_t len;
        osr_error err;
        int rc;

        memset(&err, 0, sizeof(err));
        if (cases[i].text) {
            len = strlen(cases[i].text);
            if (strncmp(cases[i].text, "QFI", 3) == 0 || strncmp(cases[i].text, "KDMV", 4) == 0)
                len = 8;
            memcpy(h, cases[i].text, len);
        } else {
            qcow2_header(h, sizeof(h));
            len = sizeof(h);
            if (cases[i].patch_off >= 0 && cases[i].patch_bytes == 4)
                put32(h + cases[i].patch_off, (uint32_t)cases[i].patch_value);
            else if (cases[i].patch_off >= 0)
                put64(h + cases[i].patch_off, cases[i].patch_value);
        }
        rc = osr__glance_check_content(h, len, cases[i].size, cases[i].format, "f.img", &err);
        if (rc != cases[i].error ||
            (cases[i].message && strstr(err.message, cases[i].message) == NULL))
            fail_msg("%s: got %d \"%s\", expected %d \"%s\"", cases[i].what, rc, err.message,
                     cases[i].error, cases[i].message ? cases[i].message : "");
        if (rc == 0)
            continue;
        assert_null(strchr(err.message, '\n'));
    }
}

/* A scripted Glance: the image is 'saving' for the first saving_answers
 * GETs, then 'active'. */
static int saving_answers;

static void respond_saving(struct server *s, int n, const char *request, char *reply, size_t cap)
{
    (void)s;
    (void)request;
    reply_json(reply, cap, "200 OK", "",
               n < saving_answers ? "{\"id\":\"img-1\",\"status\":\"saving\"}"
                                  : "{\"id\":\"img-1\",\"status\":\"active\"}");
}

/* Glance's wait for active is a timer on the engine: driven from outside
 * with osr__http_step, a pipe and a timerfd are served while the scripted
 * Glance keeps the image 'saving', and the wait then ends on its own. */
static void test_wait_active_does_not_block_the_loop(void **state)
{
    struct itimerspec its = { { 0, 0 }, { 0, 200 * 1000000L } };
    struct server s;
    struct pollfd fds[2];
    osr_cloud *cloud = NULL;
    osr_session *sess = offline_session(&cloud);
    osr__http *h = osr__session_http(sess);
    osr__glance_wait w;
    char url[96], byte = 'x';
    int p[2], rounds, n;
    int64_t t_saving, t, longest = 0;
    int ticked = 0;
    (void)state;

    saving_answers = 5; /* then 100 + 200 + 400 + 800 ms of waits: 1.5 s */
    server_start(&s, respond_saving);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v2/images/img-1", s.port);
    assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
    fds[0] = (struct pollfd){ .fd = p[0], .events = POLLIN };
    fds[1] = (struct pollfd){ .fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK),
                              .events = POLLIN };
    assert_true(fds[1].fd >= 0);

    assert_int_equal(osr__glance_wait_start(&w, sess, url, 0, NULL, NULL), 0);
    assert_int_equal(s.served, 0); /* nothing is sent until the engine runs */
    /* Step until the first 'saving' is in and the next GET waits. */
    for (rounds = 0; rounds < 100 && w.polls < 2; rounds++)
        assert_true(osr__http_step(h, fds, 2, 100) >= 0);
    assert_int_equal(w.polls, 2);
    t_saving = osr__now_ms_monotonic();
    assert_false(w.done);
    assert_int_equal(osr__http_pending(h), 1);

    /* The pipe is readable: the very next step returns for it, at once. */
    assert_int_equal(write(p[1], &byte, 1), 1);
    n = osr__http_step(h, fds, 2, -1);
    assert_int_equal(n, 1);
    assert_true(fds[0].revents & POLLIN);
    assert_true(osr__now_ms_monotonic() - t_saving < 90);
    assert_false(w.done);
    assert_int_equal(read(p[0], &byte, 1), 1);

    /* A timer at 200 ms: a step returns for it, still inside the wait. */
    assert_int_equal(timerfd_settime(fds[1].fd, 0, &its, NULL), 0);
    for (rounds = 0; rounds < 50 && (fds[1].revents & POLLIN) == 0; rounds++)
        assert_true(osr__http_step(h, fds, 2, -1) >= 0);
    t = osr__now_ms_monotonic() - t_saving;
    assert_true(fds[1].revents & POLLIN);
    assert_true(t >= 150 && t < 700);
    assert_false(w.done);
    assert_true(s.served >= 2 && s.served < 5);

    /* Then the wait ends on the engine's timers, once the image is active,
     * while a timer ticking every 20 ms is served all along: no step takes
     * long (a wait that slept would hold one for 400 ms, then 800 ms). */
    its = (struct itimerspec){ { 0, 20 * 1000000L }, { 0, 20 * 1000000L } };
    assert_int_equal(timerfd_settime(fds[1].fd, 0, &its, NULL), 0);
    for (rounds = 0; rounds < 400 && !w.done; rounds++) {
        uint64_t ticks;
        int64_t t0 = osr__now_ms_monotonic();
        n = osr__http_step(h, fds + 1, 1, -1);
        assert_true(n >= 0);
        t = osr__now_ms_monotonic() - t0;
        if (t > longest)
            longest = t;
        if (n == 1)
            ticked += read(fds[1].fd, &ticks, sizeof(ticks)) == (ssize_t)sizeof(ticks);
    }
    assert_true(longest < 300);
    assert_true(ticked >= 20);
    assert_true(w.done);
    assert_int_equal(w.error, 0);
    assert_int_equal(s.served, 6);
    assert_string_equal(json_string_value(json_object_get(w.obj, "status")), "active");
    assert_true(osr__now_ms_monotonic() - t_saving >= 1400);
    assert_int_equal(osr__http_pending(h), 0);
    assert_non_null(strstr(s.requests[5], "GET /v2/images/img-1 "));
    osr__glance_wait_clear(&w);

    /* An image that stays 'saving' times out, with a one-line error. */
    saving_answers = 1000;
    assert_int_equal(osr__glance_wait_start(&w, sess, url, 250, NULL, NULL), 0);
    assert_int_equal(osr__http_run(h, &w.done), 0);
    assert_true(w.done);
    assert_int_equal(w.error, OSR_ETIMEOUT);
    assert_null(w.obj);
    assert_non_null(strstr(osr_session_last_error(sess)->message, "still saving after 1 s"));
    osr__glance_wait_clear(&w);

    close(fds[1].fd);
    close(p[0]);
    close(p[1]);
    osr_session_free(sess);
    osr_cloud_free(cloud);
    server_stop(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pick_current),
        cmocka_unit_test(test_list_page),
        cmocka_unit_test(test_create_body),
        cmocka_unit_test(test_verify),
        cmocka_unit_test(test_stale),
        cmocka_unit_test(test_check_content),
        cmocka_unit_test(test_wait_active_does_not_block_the_loop),
    };
    int rc;
    if (osr_global_init() < 0)
        return 1;
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    osr_global_shutdown();
    return rc;
}
