/* osr_image_publish against the local Glance: while the new image is being
 * uploaded, the old one stays current and active (checked from a second
 * session in the middle of the transfer); once the new one is active it is
 * current, and images beyond keep are retired, but only images osrunner
 * published in the caller's own project: another project's image, a
 * hand-made one and another project's public one survive, with a warning.
 * A file whose content is not its disk format creates no image at all.
 * Needs tests/cloud/up. */
#include <osrunner/osrunner.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static char clouds_path[4096];
static char dir[64];
static char name[96];
static osr_cloud *cloud, *admin_cloud;
static osr_session *s1, *s2, *sa; /* demo, demo, admin */
static char rname[112];           /* the retirement tests' name */

/* Warnings from the log hooks of s1 and sa. */
static char warnings[8192];

static void on_log(osr_log_level level, const char *msg, void *payload)
{
    size_t n = strlen(warnings);
    (void)payload;
    if (level == OSR_LOG_WARN)
        snprintf(warnings + n, sizeof(warnings) - n, "%s\n", msg);
}

static int group_setup(void **state)
{
    const char *d = getenv("OSR_CLOUD_DIR");
    osr_cloud_options co = OSR_CLOUD_OPTIONS_INIT;
    osr_session_options so = OSR_SESSION_OPTIONS_INIT;
    osr_error err;
    (void)state;
    if (d == NULL) {
        fprintf(stderr, "OSR_CLOUD_DIR is not set\n");
        return -1;
    }
    snprintf(clouds_path, sizeof(clouds_path), "%s/clouds.yaml", d);
    if (access(clouds_path, R_OK) != 0) {
        fprintf(stderr, "%s: the local cloud is not up (tests/cloud/up)\n", clouds_path);
        return -1;
    }
    snprintf(dir, sizeof(dir), "/tmp/osr-publish-XXXXXX");
    if (mkdtemp(dir) == NULL || osr_global_init() < 0)
        return -1;
    snprintf(name, sizeof(name), "osr-it-publish-%ld", (long)getpid());
    snprintf(rname, sizeof(rname), "osr-it-retire-%ld", (long)getpid());
    co.config_file = clouds_path;
    co.cloud_name = "ostb-demo";
    so.token_cache = 0;
    so.log_cb = on_log;
    so.log_level = OSR_LOG_WARN;
    if (osr_cloud_load(&cloud, &co, &err) < 0 || osr_session_new(&s1, cloud, &so, &err) < 0 ||
        osr_session_new(&s2, cloud, &so, &err) < 0) {
        fprintf(stderr, "%s\n", err.message);
        return -1;
    }
    co.cloud_name = "ostb-admin";
    if (osr_cloud_load(&admin_cloud, &co, &err) < 0 ||
        osr_session_new(&sa, admin_cloud, &so, &err) < 0) {
        fprintf(stderr, "%s\n", err.message);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    osr_image_filter f = OSR_IMAGE_FILTER_INIT;
    osr_image_list *l = NULL;
    char path[128], bad[128];
    (void)state;
    f.name = name;
    if (osr_image_list_get(&l, s1, &f) == 0) {
        for (size_t i = 0; i < osr_image_list_count(l); i++)
            osr_image_delete(s1, osr_image_id(osr_image_list_at(l, i)));
    }
    osr_image_list_free(l);
    l = NULL;
    /* Admin sees (and may delete) the retirement tests' images of both
     * projects, and any a bad file made (when the check is broken). */
    snprintf(bad, sizeof(bad), "%s-bad", name);
    for (int k = 0; k < 2; k++) {
        f.name = k ? bad : rname;
        l = NULL;
        if (osr_image_list_get(&l, sa, &f) == 0) {
            for (size_t i = 0; i < osr_image_list_count(l); i++)
                osr_image_delete(sa, osr_image_id(osr_image_list_at(l, i)));
        }
        osr_image_list_free(l);
    }
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof(path), "%s/%d.img", dir, i);
        unlink(path);
    }
    rmdir(dir);
    osr_session_free(s1);
    osr_session_free(s2);
    osr_session_free(sa);
    osr_cloud_free(cloud);
    osr_cloud_free(admin_cloud);
    osr_global_shutdown();
    return 0;
}

static const char *make_file(int i, size_t mib)
{
    static char path[4][128];
    char buf[1 << 16];
    FILE *f;
    snprintf(path[i], sizeof(path[i]), "%s/%d.img", dir, i);
    f = fopen(path[i], "we");
    assert_non_null(f);
    for (size_t k = 0; k < mib * 16; k++) {
        for (size_t j = 0; j < sizeof(buf); j++)
            buf[j] = (char)(rand() & 0xff);
        assert_int_equal(fwrite(buf, 1, sizeof(buf), f), sizeof(buf));
    }
    assert_int_equal(fclose(f), 0);
    return path[i];
}

/* What the second session saw in the middle of the upload. */
struct midway {
    bool checked;
    long long at;
    char current[64];
    char current_status[32];
    size_t images;
    size_t in_flight;
};

static void on_progress(long long now, long long total, void *payload)
{
    struct midway *m = payload;
    osr_image *img = NULL;
    osr_image_filter f = OSR_IMAGE_FILTER_INIT;
    osr_image_list *l = NULL;

    if (m->checked || now < (1 << 20) || now >= total)
        return;
    m->checked = true;
    m->at = now;
    if (osr_image_find(&img, s2, name) == 0) {
        snprintf(m->current, sizeof(m->current), "%s", osr_image_id(img));
        snprintf(m->current_status, sizeof(m->current_status), "%s", osr_image_status(img));
    }
    osr_image_free(img);
    f.name = name;
    if (osr_image_list_get(&l, s2, &f) == 0) {
        m->images = osr_image_list_count(l);
        for (size_t i = 0; i < m->images; i++) {
            const char *st = osr_image_status(osr_image_list_at(l, i));
            if (strcmp(st, "saving") == 0 || strcmp(st, "queued") == 0)
                m->in_flight++;
        }
    }
    osr_image_list_free(l);
}

static char *publish(const char *path, unsigned int keep, struct midway *m, size_t *retired)
{
    osr_image_publish_options po = OSR_IMAGE_PUBLISH_OPTIONS_INIT;
    osr_image *img = NULL;
    char *id;
    po.image.name = name;
    po.image.disk_format = "raw";
    po.keep = keep;
    if (m) {
        po.upload.progress_cb = on_progress;
        po.upload.progress_payload = m;
    }
    if (osr_image_publish(&img, retired, s1, path, &po) != 0)
        fail_msg("publish: %s", osr_session_last_error(s1)->message);
    assert_string_equal(osr_image_status(img), "active");
    id = strdup(osr_image_id(img));
    osr_image_free(img);
    return id;
}

static char *current_id(void)
{
    osr_image *img = NULL;
    char *id;
    if (osr_image_find(&img, s2, name) != 0)
        fail_msg("find: %s", osr_session_last_error(s2)->message);
    id = strdup(osr_image_id(img));
    osr_image_free(img);
    return id;
}

static void test_old_image_stays_current_until_the_new_one_is_active(void **state)
{
    struct midway m;
    size_t retired = 99;
    char *a, *b, *c, *cur;
    (void)state;

    a = publish(make_file(0, 2), 2, NULL, &retired);
    assert_int_equal(retired, 0);
    memset(&m, 0, sizeof(m));
    b = publish(make_file(1, 48), 2, &m, &retired);
    /* Midway: the old image was current and active; the new one was in flight. */
    assert_true(m.checked);
    assert_string_equal(m.current, a);
    assert_string_equal(m.current_status, "active");
    assert_int_equal(m.images, 2);
    assert_int_equal(m.in_flight, 1);
    /* After: the new one is current, the old one kept (keep 2). */
    cur = current_id();
    assert_string_equal(cur, b);
    free(cur);
    assert_int_equal(retired, 0);
    /* keep 1: both older ones go. */
    c = publish(make_file(2, 1), 1, NULL, &retired);
    assert_int_equal(retired, 2);
    cur = current_id();
    assert_string_equal(cur, c);
    free(cur);
    {
        osr_image *gone = NULL;
        assert_int_equal(osr_image_get(&gone, s2, a), OSR_ENOTFOUND);
        assert_int_equal(osr_image_get(&gone, s2, b), OSR_ENOTFOUND);
        assert_null(gone);
    }
    free(a);
    free(b);
    free(c);
}

static void test_missing_file_creates_no_image(void **state)
{
    osr_image_publish_options po = OSR_IMAGE_PUBLISH_OPTIONS_INIT;
    osr_image *img = (osr_image *)(uintptr_t)0x1; /* sentinel: untouched on failure */
    osr_image_filter f = OSR_IMAGE_FILTER_INIT;
    osr_image_list *l = NULL;
    char other[128];
    (void)state;
    snprintf(other, sizeof(other), "%s-missing", name);
    po.image.name = other;
    assert_int_equal(osr_image_publish(&img, NULL, s1, "/nonexistent/x.img", &po), OSR_ENOTFOUND);
    assert_ptr_equal(img, (osr_image *)(uintptr_t)0x1);
    f.name = other;
    assert_int_equal(osr_image_list_get(&l, s1, &f), 0);
    assert_int_equal(osr_image_list_count(l), 0);
    osr_image_list_free(l);
}

/* Publish path as rname in session s; the new image's id. */
static char *publish_as(osr_session *s, const char *path, unsigned int keep, size_t *retired)
{
    osr_image_publish_options po = OSR_IMAGE_PUBLISH_OPTIONS_INIT;
    osr_image *img = NULL;
    char *id;
    po.image.name = rname;
    po.image.disk_format = "raw";
    po.keep = keep;
    if (osr_image_publish(&img, retired, s, path, &po) != 0)
        fail_msg("publish: %s", osr_session_last_error(s)->message);
    id = strdup(osr_image_id(img));
    osr_image_free(img);
    return id;
}

/* An image not published by osrunner: created and uploaded by hand. */
static char *hand_made(osr_session *s, const char *path, const char *visibility)
{
    osr_image_create_options co = OSR_IMAGE_CREATE_OPTIONS_INIT;
    osr_image *img = NULL, *active = NULL;
    char *id;
    co.name = rname;
    co.disk_format = "raw";
    co.visibility = visibility;
    if (osr_image_create(&img, s, &co) != 0 ||
        osr_image_upload(&active, s, osr_image_id(img), path, NULL) != 0)
        fail_msg("hand-made image: %s", osr_session_last_error(s)->message);
    id = strdup(osr_image_id(active));
    osr_image_free(img);
    osr_image_free(active);
    return id;
}

static void assert_exists(osr_session *s, const char *id, const char *what)
{
    osr_image *img = NULL;
    if (osr_image_get(&img, s, id) != 0)
        fail_msg("%s (%s) is gone: %s", what, id, osr_session_last_error(s)->message);
    assert_string_equal(osr_image_status(img), "active");
    osr_image_free(img);
}

static void test_retire_only_our_images_of_our_project(void **state)
{
    const char *f = make_file(3, 1);
    size_t retired = 99;
    char *demo, *hand, *a1, *a2, *pub, *d2;
    osr_image *gone = NULL;
    (void)state;

    /* Demo's private image, published by osrunner (it carries the marker). */
    demo = publish_as(s1, f, 2, &retired);
    /* A hand-made image in the admin project. */
    hand = hand_made(sa, f, NULL);
    /* As admin, keep 1: neither is admin's to retire. */
    warnings[0] = '\0';
    a1 = publish_as(sa, f, 1, &retired);
    assert_int_equal(retired, 0);
    assert_exists(sa, demo, "demo's private image");
    assert_exists(sa, hand, "the hand-made image");
    if (strstr(warnings, demo) == NULL || strstr(warnings, "belongs to project") == NULL)
        fail_msg("no warning names demo's image %s: %s", demo, warnings);
    if (strstr(warnings, hand) == NULL || strstr(warnings, "not published by osrunner") == NULL)
        fail_msg("no warning names the hand-made image %s: %s", hand, warnings);
    /* A second admin upload retires admin's first one, and only that. */
    a2 = publish_as(sa, f, 1, &retired);
    assert_int_equal(retired, 1);
    assert_int_equal(osr_image_get(&gone, sa, a1), OSR_ENOTFOUND);
    assert_null(gone);
    assert_exists(sa, demo, "demo's private image");
    assert_exists(sa, hand, "the hand-made image");
    assert_exists(sa, a2, "admin's new image");

    /* As demo (not admin), keep 1, with a public image of admin's of the
     * name: the upload succeeds, retires demo's own old image only. */
    pub = hand_made(sa, f, "public");
    warnings[0] = '\0';
    d2 = publish_as(s1, f, 1, &retired);
    assert_int_equal(retired, 1);
    assert_int_equal(osr_image_get(&gone, s1, demo), OSR_ENOTFOUND);
    assert_exists(sa, pub, "admin's public image");
    assert_exists(sa, hand, "the hand-made image");
    assert_exists(sa, a2, "admin's image");
    assert_exists(s1, d2, "demo's new image");
    if (strstr(warnings, pub) == NULL)
        fail_msg("no warning names admin's public image %s: %s", pub, warnings);
    free(demo);
    free(hand);
    free(a1);
    free(a2);
    free(pub);
    free(d2);
}

/* A file that is not what --disk-format says: refused before any record. */
static void test_bad_content_creates_no_image(void **state)
{
    static const struct {
        const char *content;
        size_t len;
        const char *format, *says;
    } cases[] = {
        { "", 0, "qcow2", "but the file is empty" },
        { "", 0, "raw", "but the file is empty" },
        { "just some text\n", 15, "qcow2", "--disk-format qcow2, but the file is raw" },
        { "QFI\xfb\0\0\0\7", 8, "qcow2", "qcow2 header is bad" },
    };
    char other[128], path[160];
    (void)state;
    snprintf(other, sizeof(other), "%s-bad", name);
    snprintf(path, sizeof(path), "%s/bad.img", dir);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        osr_image_publish_options po = OSR_IMAGE_PUBLISH_OPTIONS_INIT;
        osr_image *img = (osr_image *)(uintptr_t)0x1;
        osr_image_filter f = OSR_IMAGE_FILTER_INIT;
        osr_image_list *l = NULL;
        FILE *fp = fopen(path, "we");
        assert_non_null(fp);
        assert_int_equal(fwrite(cases[i].content, 1, cases[i].len, fp), cases[i].len);
        assert_int_equal(fclose(fp), 0);
        po.image.name = other;
        po.image.disk_format = cases[i].format;
        assert_int_equal(osr_image_publish(&img, NULL, s1, path, &po), OSR_EINTEGRITY);
        assert_ptr_equal(img, (osr_image *)(uintptr_t)0x1);
        if (strstr(osr_session_last_error(s1)->message, cases[i].says) == NULL)
            fail_msg("case %zu: %s", i, osr_session_last_error(s1)->message);
        f.name = other;
        assert_int_equal(osr_image_list_get(&l, s2, &f), 0);
        if (osr_image_list_count(l) != 0)
            fail_msg("case %zu: %zu images named %s (status %s)", i, osr_image_list_count(l), other,
                     osr_image_status(osr_image_list_at(l, 0)));
        osr_image_list_free(l);
    }
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_old_image_stays_current_until_the_new_one_is_active),
        cmocka_unit_test(test_missing_file_creates_no_image),
        cmocka_unit_test(test_retire_only_our_images_of_our_project),
        cmocka_unit_test(test_bad_content_creates_no_image),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
