/* Glance client internals: which image of a name is current, list pages,
 * the create body, checksum verification after upload, stale records. */
#include "glance_internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pick_current), cmocka_unit_test(test_list_page),
        cmocka_unit_test(test_create_body),  cmocka_unit_test(test_verify),
        cmocka_unit_test(test_stale),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
