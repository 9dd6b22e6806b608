/* The image builder's pure parts: architecture mapping, proxy file rendering
 * (with and without each value), docker config JSON, account edits, tar path
 * normalisation, os-release, runner application entries, accelerator choice. */
#include "image_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

static void test_arch_map(void **state)
{
    const char *deb = "sentinel", *gl = "sentinel";
    osr_error err;
    (void)state;
    assert_int_equal(osr_runner_arch_map(&deb, &gl, "x64", &err), 0);
    assert_string_equal(deb, "amd64");
    assert_string_equal(gl, "x86_64");
    assert_int_equal(osr_runner_arch_map(&deb, &gl, "arm64", &err), 0);
    assert_string_equal(deb, "arm64");
    assert_string_equal(gl, "aarch64");
    deb = gl = "sentinel";
    assert_int_equal(osr_runner_arch_map(&deb, &gl, "arm", &err), OSR_EINVAL);
    assert_string_equal(deb, "sentinel");
    assert_non_null(strstr(err.message, "'arm' is not supported"));
    assert_int_equal(osr_runner_arch_map(NULL, NULL, "X64", &err), OSR_EINVAL);
    assert_int_equal(osr_runner_arch_map(NULL, NULL, NULL, &err), OSR_EINVAL);
}

static void test_environment(void **state)
{
    const char *base = "PATH=\"/usr/bin:/bin\"\nHTTP_PROXY=http://old:1\nLANG=C\n";
    osr_proxy all = { "http://p:3128", "http://p:3129", "localhost,10.0.0.0/8" };
    osr_proxy https_only = { NULL, "http://p:3129", "" };
    osr_proxy none = { NULL, "", NULL };
    char *out = NULL;
    (void)state;
    assert_int_equal(osr__render_environment(&out, base, &all), 0);
    assert_string_equal(out, "PATH=\"/usr/bin:/bin\"\nLANG=C\n"
                             "HTTP_PROXY=http://p:3128\nhttp_proxy=http://p:3128\n"
                             "HTTPS_PROXY=http://p:3129\nhttps_proxy=http://p:3129\n"
                             "NO_PROXY=localhost,10.0.0.0/8\nno_proxy=localhost,10.0.0.0/8\n");
    free(out);
    /* Only the set values; an unrelated old line stays. */
    assert_int_equal(osr__render_environment(&out, base, &https_only), 0);
    assert_string_equal(out, "PATH=\"/usr/bin:/bin\"\nHTTP_PROXY=http://old:1\nLANG=C\n"
                             "HTTPS_PROXY=http://p:3129\nhttps_proxy=http://p:3129\n");
    free(out);
    /* No proxy: unchanged, no empty values. */
    assert_int_equal(osr__render_environment(&out, base, &none), 0);
    assert_string_equal(out, base);
    free(out);
    /* A file without a final newline, or none at all. */
    assert_int_equal(osr__render_environment(&out, "A=1", &https_only), 0);
    assert_string_equal(out, "A=1\nHTTPS_PROXY=http://p:3129\nhttps_proxy=http://p:3129\n");
    free(out);
    assert_int_equal(osr__render_environment(&out, NULL, &none), 0);
    assert_string_equal(out, "");
    free(out);
}

static void test_apt_and_dropin(void **state)
{
    osr_proxy all = { "http://p:3128", "http://p:3129", "localhost" };
    osr_proxy http_only = { "http://u:p%40ss@p:3128", NULL, NULL };
    osr_proxy noproxy_only = { NULL, NULL, "localhost" };
    osr_proxy none = { "", "", "" };
    char *out = (char *)"x";
    (void)state;
    assert_int_equal(osr__render_apt_proxy(&out, &all), 0);
    assert_string_equal(out, "Acquire::http::Proxy \"http://p:3128\";\n"
                             "Acquire::https::Proxy \"http://p:3129\";\n");
    free(out);
    assert_int_equal(osr__render_apt_proxy(&out, &noproxy_only), 0);
    assert_null(out);
    assert_int_equal(osr__render_apt_proxy(&out, &none), 0);
    assert_null(out);
    assert_int_equal(osr__render_docker_dropin(&out, &all), 0);
    assert_string_equal(out, "[Service]\nEnvironment=\"HTTP_PROXY=http://p:3128\"\n"
                             "Environment=\"HTTPS_PROXY=http://p:3129\"\n"
                             "Environment=\"NO_PROXY=localhost\"\n");
    free(out);
    /* systemd would expand %4: it is written %%4. */
    assert_int_equal(osr__render_docker_dropin(&out, &http_only), 0);
    assert_string_equal(out, "[Service]\nEnvironment=\"HTTP_PROXY=http://u:p%%40ss@p:3128\"\n");
    free(out);
    assert_int_equal(osr__render_docker_dropin(&out, &noproxy_only), 0);
    assert_string_equal(out, "[Service]\nEnvironment=\"NO_PROXY=localhost\"\n");
    free(out);
    assert_int_equal(osr__render_docker_dropin(&out, &none), 0);
    assert_null(out);
}

static void test_docker_config(void **state)
{
    osr_proxy all = { "http://p:3128", "http://p:3129", "localhost,::1" };
    osr_proxy https_only = { NULL, "http://p:3129", NULL };
    osr_proxy none = { NULL, NULL, NULL };
    char *out = NULL;
    json_t *j;
    (void)state;
    assert_int_equal(osr__render_docker_config(&out, &all), 0);
    assert_string_equal(out, "{\n  \"proxies\": {\n    \"default\": {\n"
                             "      \"httpProxy\": \"http://p:3128\",\n"
                             "      \"httpsProxy\": \"http://p:3129\",\n"
                             "      \"noProxy\": \"localhost,::1\"\n    }\n  }\n}\n");
    free(out);
    assert_int_equal(osr__render_docker_config(&out, &https_only), 0);
    j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_object_size(json_object_get(json_object_get(j, "proxies"), "default")),
                     1);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(json_object_get(j, "proxies"), "default"),
                                          "httpsProxy")),
        "http://p:3129");
    json_decref(j);
    free(out);
    assert_int_equal(osr__render_docker_config(&out, &none), 0);
    assert_null(out);
}

static void test_proxy_validate(void **state)
{
    osr_error err;
    osr_proxy ok = { "http://user:pw@p:3128", "https://p", "localhost,.example.com" };
    osr_proxy space = { "http://p:3128 x", NULL, NULL };
    osr_proxy quote = { NULL, NULL, "a\"b" };
    osr_proxy newline = { NULL, "http://p\n", NULL };
    osr_proxy noscheme = { "p:3128", NULL, NULL };
    (void)state;
    assert_int_equal(osr__proxy_validate(&ok, &err), 0);
    assert_int_equal(osr__proxy_validate(&space, &err), OSR_EINVAL);
    assert_non_null(strstr(err.message, "http proxy"));
    assert_int_equal(osr__proxy_validate(&quote, &err), OSR_EINVAL);
    assert_int_equal(osr__proxy_validate(&newline, &err), OSR_EINVAL);
    assert_int_equal(osr__proxy_validate(&noscheme, &err), OSR_EINVAL);
    assert_false(osr__proxy_any(NULL));
}

static void test_accounts_new_user(void **state)
{
    osr__accounts a;
    unsigned int uid = 7, gid = 7;
    bool created = false;
    osr_error err;
    (void)state;
    memset(&a, 0, sizeof(a));
    a.passwd = strdup("root:x:0:0:root:/root:/bin/bash\nsyslog:x:104:111::/home/syslog:/x\n"
                      "lxd:x:1000:1000::/var/lib/lxd:/bin/false");
    a.group = strdup("root:x:0:\nsudo:x:27:admin\nlxd:x:1000:\nsystemd:x:999:\n");
    a.shadow = strdup("root:*:19000:0:99999:7:::\n");
    a.gshadow = strdup("root:*::\nsudo:*::admin\n");
    a.subuid = strdup("lxd:100000:65536\n");
    assert_int_equal(osr__accounts_ensure_user(&a, &uid, &gid, &created, &err), 0);
    assert_true(created);
    assert_int_equal(uid, 1001); /* 1000 is taken */
    assert_int_equal(gid, 1001);
    assert_non_null(strstr(a.passwd, "\nubuntu:x:1001:1001:Ubuntu:/home/ubuntu:/bin/bash\n"));
    assert_non_null(strstr(a.group, "sudo:x:27:admin,ubuntu\n"));
    assert_non_null(strstr(a.group, "ubuntu:x:1001:\n"));
    assert_non_null(strstr(a.group, "docker:x:998:ubuntu\n")); /* 999 is taken */
    assert_non_null(strstr(a.shadow, "ubuntu:!::0:99999:7:::\n"));
    assert_non_null(strstr(a.gshadow, "sudo:*::admin,ubuntu\n"));
    assert_non_null(strstr(a.gshadow, "docker:!::ubuntu\n"));
    assert_non_null(strstr(a.subuid, "ubuntu:165536:65536\n"));
    assert_null(a.subgid); /* no file, none made */
    osr__accounts_free(&a);
}

static void test_accounts_existing_user(void **state)
{
    osr__accounts a;
    unsigned int uid = 0, gid = 0;
    bool created = true;
    osr_error err;
    (void)state;
    memset(&a, 0, sizeof(a));
    a.passwd =
        strdup("root:x:0:0:root:/root:/bin/bash\nubuntu:x:1000:1000::/home/ubuntu:/bin/sh\n");
    a.group = strdup("root:x:0:\ndocker:x:120:ubuntu\nubuntu:x:1000:\n");
    assert_int_equal(osr__accounts_ensure_user(&a, &uid, &gid, &created, &err), 0);
    assert_false(created);
    assert_int_equal(uid, 1000);
    /* Already a member of docker: not added twice; sudo made with gid 27. */
    assert_non_null(strstr(a.group, "docker:x:120:ubuntu\n"));
    assert_null(strstr(a.group, "ubuntu,ubuntu"));
    assert_non_null(strstr(a.group, "sudo:x:27:ubuntu\n"));
    assert_string_equal(
        a.passwd, "root:x:0:0:root:/root:/bin/bash\nubuntu:x:1000:1000::/home/ubuntu:/bin/sh\n");
    osr__accounts_free(&a);
    memset(&a, 0, sizeof(a));
    assert_int_equal(osr__accounts_ensure_user(&a, &uid, &gid, &created, &err), OSR_ERROR);
}

static void test_tar_normalise(void **state)
{
    char out[64];
    (void)state;
    assert_int_equal(osr__tar_normalise(out, sizeof(out), "./bin//Runner.Listener"), 0);
    assert_string_equal(out, "bin/Runner.Listener");
    assert_int_equal(osr__tar_normalise(out, sizeof(out), "./"), 0);
    assert_string_equal(out, "");
    assert_int_equal(osr__tar_normalise(out, sizeof(out), "a/./b/"), 0);
    assert_string_equal(out, "a/b");
    assert_int_equal(osr__tar_normalise(out, sizeof(out), "/etc/passwd"), -1);
    assert_int_equal(osr__tar_normalise(out, sizeof(out), "a/../../etc"), -1);
    assert_int_equal(osr__tar_normalise(out, sizeof(out), ".."), -1);
    assert_int_equal(osr__tar_normalise(out, sizeof(out), "a..b/..c"), 0);
    assert_int_equal(osr__tar_normalise(out, 4, "abcdef"), -1);
}

static void test_os_release(void **state)
{
    char *id, *ver;
    (void)state;
    osr__parse_os_release(&id, &ver,
                          "NAME=\"Ubuntu\"\nVERSION_ID=\"22.04\"\nID=ubuntu\nID_LIKE=debian\n");
    assert_string_equal(id, "ubuntu");
    assert_string_equal(ver, "22.04");
    free(id);
    free(ver);
    osr__parse_os_release(&id, &ver, "ID='debian'");
    assert_string_equal(id, "debian");
    assert_null(ver);
    free(id);
}

static void test_runner_app(void **state)
{
    static const char list[] =
        "[{\"os\":\"osx\",\"architecture\":\"x64\",\"download_url\":\"https://x/o.tar.gz\","
        "\"filename\":\"actions-runner-osx-x64-2.311.0.tar.gz\",\"sha256_checksum\":"
        "\"0000000000000000000000000000000000000000000000000000000000000000\"},"
        "{\"os\":\"linux\",\"architecture\":\"arm64\",\"download_url\":\"https://x/a.tar.gz\","
        "\"filename\":\"actions-runner-linux-arm64-2.311.0.tar.gz\",\"sha256_checksum\":"
        "\"ABCDEF0000000000000000000000000000000000000000000000000000000000\","
        "\"temp_download_token\":\"s3cret\"}]";
    osr_runner_app *app = (osr_runner_app *)(uintptr_t)1;
    osr_error err;
    (void)state;
    assert_int_equal(osr_runner_app_parse(&app, list, strlen(list), "linux", "arm64", &err), 0);
    assert_string_equal(osr_runner_app_architecture(app), "arm64");
    assert_string_equal(osr_runner_app_version(app), "2.311.0");
    assert_string_equal(osr_runner_app_sha256(app),
                        "abcdef0000000000000000000000000000000000000000000000000000000000");
    osr_runner_app_free(app);
    app = (osr_runner_app *)(uintptr_t)1;
    assert_int_equal(osr_runner_app_parse(&app, list, strlen(list), "linux", "x64", &err),
                     OSR_ENOTFOUND);
    assert_ptr_equal(app, (osr_runner_app *)(uintptr_t)1);
    assert_int_equal(osr_runner_app_parse(&app, "{\"os\":\"linux\"}", 14, NULL, NULL, &err),
                     OSR_EINVAL);
    assert_non_null(strstr(err.message, "architecture"));
    assert_int_equal(osr_runner_app_parse(&app, "[", 1, NULL, NULL, &err), OSR_EINVAL);
    /* An entry with a bad checksum or a file:// URL is refused. */
    {
        static const char bad[] = "{\"os\":\"linux\",\"architecture\":\"x64\",\"download_url\":"
                                  "\"file:///etc/passwd\",\"filename\":\"a.tar.gz\","
                                  "\"sha256_checksum\":\"00\"}";
        assert_int_equal(osr_runner_app_parse(&app, bad, strlen(bad), NULL, NULL, &err),
                         OSR_EINVAL);
    }
    assert_int_equal(
        osr_runner_app_new(&app, "https://x/actions-runner-linux-x64-2.312.0.tar.gz",
                           "0000000000000000000000000000000000000000000000000000000000000000", NULL,
                           &err),
        0);
    assert_string_equal(osr_runner_app_architecture(app), "x64");
    assert_string_equal(osr_runner_app_version(app), "2.312.0");
    assert_string_equal(osr_runner_app_filename(app), "actions-runner-linux-x64-2.312.0.tar.gz");
    osr_runner_app_free(app);
    assert_int_equal(osr_runner_app_new(&app, "/tmp/r.tgz", "00", NULL, &err), OSR_EINVAL);
    assert_int_equal(
        osr_runner_app_new(&app, "/tmp/r.tgz",
                           "0000000000000000000000000000000000000000000000000000000000000000",
                           "ppc64", &err),
        OSR_EINVAL);
}

static void test_accel_choice(void **state)
{
    (void)state;
    assert_int_equal(osr__accel_choose(true, true), OSR_ACCEL_KVM);
    /* kvm_pvm: /dev/kvm opens, but no hardware module: TCG. */
    assert_int_equal(osr__accel_choose(true, false), OSR_ACCEL_TCG);
    assert_int_equal(osr__accel_choose(false, true), OSR_ACCEL_TCG);
    assert_int_equal(osr__accel_choose(false, false), OSR_ACCEL_TCG);
    assert_string_equal(osr_build_accel_name(OSR_ACCEL_TCG), "tcg");
    assert_string_equal(osr_build_backend_name(OSR_BUILD_GUESTFS), "guestfs");
}

static void test_build_refuses_bad_options(void **state)
{
    osr_build_options o = OSR_BUILD_OPTIONS_INIT;
    osr_build_result *r = (osr_build_result *)(uintptr_t)1;
    const char *pk[] = { "docker.io", NULL };
    const char *badpk[] = { "x; rm -rf /", NULL };
    osr_error err;
    (void)state;
    o.base = "/nonexistent.qcow2";
    o.runner_tarball = "/etc/hostname";
    o.output = "/tmp/x.qcow2";
    assert_int_equal(osr_image_build(&r, &o, &err), OSR_ENOTFOUND);
    o.base = "/etc/hostname";
    o.backend = OSR_BUILD_OFFLINE;
    o.packages = pk;
    assert_int_equal(osr_image_build(&r, &o, &err), OSR_EINVAL);
    assert_non_null(strstr(err.message, "cannot install packages"));
    o.backend = OSR_BUILD_GUESTFS;
    o.packages = badpk;
    assert_int_equal(osr_image_build(&r, &o, &err), OSR_EINVAL);
    o.packages = NULL;
    o.proxy.http = "no-scheme";
    assert_int_equal(osr_image_build(&r, &o, &err), OSR_EINVAL);
    assert_ptr_equal(r, (osr_build_result *)(uintptr_t)1);
}

/* A cancelled build fails with OSR_EINTERRUPTED (not OSR_ERROR) and leaves
 * no work directory and no output. */
static void test_build_cancelled(void **state)
{
    osr_build_options o = OSR_BUILD_OPTIONS_INIT;
    osr_build_result *r = (osr_build_result *)(uintptr_t)1;
    char dir[] = "/tmp/osr-cancel-XXXXXX", base[64], tar[64], out[64];
    volatile int cancel = 1;
    osr_error err;
    int fd;
    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(base, sizeof(base), "%s/base.img", dir);
    snprintf(tar, sizeof(tar), "%s/runner.tar.gz", dir);
    snprintf(out, sizeof(out), "%s/out.qcow2", dir);
    assert_true((fd = open(base, O_CREAT | O_WRONLY | O_CLOEXEC, 0600)) >= 0);
    close(fd);
    assert_true((fd = open(tar, O_CREAT | O_WRONLY | O_CLOEXEC, 0600)) >= 0);
    close(fd);
    o.base = base;
    o.runner_tarball = tar;
    o.output = out;
    o.work_dir = dir;
    o.backend = OSR_BUILD_OFFLINE;
    o.cancel = &cancel;
    assert_int_equal(osr_image_build(&r, &o, &err), OSR_EINTERRUPTED);
    assert_non_null(strstr(err.message, "interrupted"));
    assert_ptr_equal(r, (osr_build_result *)(uintptr_t)1);
    assert_int_equal(unlink(base), 0);
    assert_int_equal(unlink(tar), 0);
    assert_int_equal(rmdir(dir), 0); /* empty: no work dir, no output left */
}

/* ------------------------------------------- the recipe over a fake backend */

/* An in-memory file system behind the operations table: what the recipe
 * writes, with owners, modes and times, and nothing of a real image. */
#define FAKE_MAX 64
struct fake_file {
    char path[160];
    char type;
    int perm;
    long uid, gid;
    int64_t mtime;
    char *data;
};
static struct fake {
    struct fake_file f[FAKE_MAX];
    size_t n;
    int frees;
    const char *stop_at; /* cancel when this step starts */
    volatile int cancel;
} fk;

static struct fake_file *fake_find(const char *path)
{
    for (size_t i = 0; i < fk.n; i++) {
        if (strcmp(fk.f[i].path, path) == 0)
            return &fk.f[i];
    }
    return NULL;
}

/* fake_find for a file the test expects: fails the test when absent (and
 * never hands back NULL, which gcc -O2 would see dereferenced). */
static struct fake_file *must_find(const char *path)
{
    static struct fake_file none;
    struct fake_file *f = fake_find(path);
    if (f == NULL) {
        fail_msg("no file %s in the fake image", path);
        return &none;
    }
    return f;
}

static struct fake_file *
fake_add(const char *path, char type, int perm, long uid, long gid, int64_t t, const char *data)
{
    struct fake_file *f = &fk.f[fk.n++];
    assert_true(fk.n <= FAKE_MAX);
    snprintf(f->path, sizeof(f->path), "%s", path);
    f->type = type;
    f->perm = perm;
    f->uid = uid;
    f->gid = gid;
    f->mtime = t;
    f->data = data ? strdup(data) : NULL;
    return f;
}

static void fake_attr(struct fake_file *f, const osr__attr *a)
{
    if (a->perm >= 0)
        f->perm = a->perm;
    if (a->uid >= 0)
        f->uid = a->uid;
    if (a->gid >= 0)
        f->gid = a->gid;
    f->mtime = a->mtime;
}

static int fake_prepare(void **state, osr__build *b)
{
    *state = b;
    return 0;
}

static int fake_ok(void *state)
{
    (void)state;
    return 0;
}

static int fake_lstat(void *state, const char *path, osr__stat *st)
{
    struct fake_file *f = fake_find(path);
    (void)state;
    memset(st, 0, sizeof(*st));
    if (f) {
        st->type = f->type;
        st->perm = (unsigned int)f->perm;
        st->mtime = f->mtime;
    }
    return 0;
}

static int fake_read(void *state, const char *path, bool follow, char **out, size_t *len)
{
    struct fake_file *f = fake_find(path);
    (void)state;
    (void)follow;
    *out = f && f->type == 'f' ? strdup(f->data) : NULL;
    if (*out && len)
        *len = strlen(*out);
    return 0;
}

static int
fake_write(void *state, const char *path, const char *data, size_t len, const osr__attr *a)
{
    struct fake_file *f = fake_find(path);
    (void)state;
    if (f == NULL) {
        assert_true(a->perm >= 0 && a->uid >= 0 && a->gid >= 0); /* a new file: all given */
        f = fake_add(path, 'f', 0, 0, 0, 0, NULL);
    }
    free(f->data);
    f->data = strndup(data, len);
    fake_attr(f, a);
    return 0;
}

static int fake_mkdir(void *state, const char *path, const osr__attr *a)
{
    (void)state;
    assert_null(fake_find(path));
    fake_attr(fake_add(path, 'd', 0, 0, 0, 0, NULL), a);
    return 0;
}

static int fake_set_attr(void *state, const char *path, const osr__attr *a)
{
    (void)state;
    assert_non_null(fake_find(path));
    fake_attr(fake_find(path), a);
    return 0;
}

static int fake_list(void *state, const char *path, char ***names)
{
    size_t n = 0, len = strlen(path);
    (void)state;
    *names = calloc(FAKE_MAX + 1, sizeof(**names));
    for (size_t i = 0; i < fk.n; i++) {
        const char *p = fk.f[i].path;
        if (strncmp(p, path, len) == 0 && p[len] == '/' && strchr(p + len + 1, '/') == NULL)
            (*names)[n++] = strdup(p + len + 1);
    }
    return 0;
}

static int fake_unpack(void *state, const char *dir, bool *has_top)
{
    osr__build *b = state;
    char path[160];
    snprintf(path, sizeof(path), "%s/run.sh", dir);
    fake_add(path, 'f', 0755, b->uid, b->gid, 1700000100, "#!/bin/sh\n");
    if (b->epoch < 0)
        b->epoch = 1700000100;
    *has_top = false;
    return 0;
}

static int fake_close(void *state, const char **disk, const char **format)
{
    (void)state;
    *disk = "/nonexistent/disk.raw";
    *format = "raw";
    return 0;
}

static void fake_free(void *state)
{
    (void)state;
    fk.frees++;
}

static const osr__backend fake_backend = {
    .abi = OSR__BACKEND_ABI,
    .build_size = sizeof(osr__build),
    .vtable_size = sizeof(osr__backend),
    .name = "fake",
    .prepare_step = "prepare",
    .mount_step = "mount",
    .close_step = "close",
    .prepare = fake_prepare,
    .grow = fake_ok,
    .mount = fake_ok,
    .lstat = fake_lstat,
    .read_file = fake_read,
    .write_file = fake_write,
    .mkdir = fake_mkdir,
    .set_attr = fake_set_attr,
    .list_dir = fake_list,
    .unpack = fake_unpack,
    .close = fake_close,
    .free = fake_free,
};

static void stop_at(const osr_build_event *ev, void *payload)
{
    (void)payload;
    if (ev->kind == OSR_BUILD_STEP_START && fk.stop_at && strcmp(ev->name, fk.stop_at) == 0)
        fk.cancel = 1;
}

/* The recipe decides every file: from a base with no /home, only
 * /usr/lib/os-release and a 0640 /etc/environment, it writes the same
 * owners, modes and times whatever the backend; a cancel between two steps
 * stops it with OSR_EINTERRUPTED, and the backend's state is freed. */
static void test_recipe(void **state)
{
    osr_build_options o = OSR_BUILD_OPTIONS_INIT;
    osr__build b;
    osr_error err;
    struct fake_file *f;
    (void)state;
    memset(&fk, 0, sizeof(fk));
    fake_add("/etc", 'd', 0755, 0, 0, 100, NULL);
    fake_add("/etc/passwd", 'f', 0644, 0, 0, 100, "root:x:0:0:root:/root:/bin/bash\n");
    fake_add("/etc/group", 'f', 0644, 0, 0, 100, "root:x:0:\nsudo:x:27:\n");
    fake_add("/etc/shadow", 'f', 0640, 0, 42, 100, "root:*:19000:0:99999:7:::\n");
    fake_add("/etc/environment", 'f', 0640, 0, 4, 100, "PATH=\"/usr/bin:/bin\"\n");
    fake_add("/etc/skel", 'd', 0755, 0, 0, 100, NULL);
    fake_add("/etc/skel/.bashrc", 'f', 0600, 0, 0, 1234, "alias ll='ls -l'\n");
    fake_add("/usr", 'd', 0755, 0, 0, 100, NULL);
    fake_add("/usr/lib", 'd', 0755, 0, 0, 100, NULL);
    fake_add("/usr/lib/os-release", 'f', 0644, 0, 0, 100, "ID=ubuntu\nVERSION_ID=\"22.04\"\n");
    fake_add("/root", 'd', 0700, 0, 0, 100, NULL);
    o.proxy.http = "http://proxy.example:3128";
    o.cancel = &fk.cancel;
    o.progress_cb = stop_at;
    fk.stop_at = "close"; /* it runs; the compression does not */
    memset(&b, 0, sizeof(b));
    b.o = &o;
    b.err = &err;
    b.epoch = -1;
    b.steps = osr__build_recipe_steps(&b, &fake_backend);
    assert_int_equal(b.steps, 8); /* prepare .. compress, with the proxy */

    assert_int_equal(osr__build_recipe(&b, &fake_backend), OSR_EINTERRUPTED);
    assert_int_equal(fk.frees, 1);
    assert_string_equal(b.os_distro, "ubuntu");
    assert_string_equal(b.os_version, "22.04");
    /* An existing file keeps owner and mode; new ones get the recipe's. */
    f = must_find("/etc/environment");
    assert_true(f->perm == 0640 && f->gid == 4 && f->mtime == 1700000100);
    assert_non_null(strstr(f->data, "http_proxy=http://proxy.example:3128\n"));
    f = must_find("/etc/shadow");
    assert_true(f->perm == 0640 && f->gid == 42);
    f = must_find("/home");
    assert_true(f->type == 'd' && f->perm == 0755 && f->uid == 0 && f->mtime == 1700000100);
    f = must_find("/home/ubuntu");
    assert_true(f->perm == 0750 && f->uid == 1000 && f->gid == 1000 && f->mtime == 1700000100);
    f = must_find("/home/ubuntu/.bashrc");
    assert_true(f->perm == 0600 && f->uid == 1000 && f->mtime == 1234);
    f = must_find("/home/ubuntu/actions-runner");
    assert_true(f->perm == 0755 && f->uid == 1000 && f->mtime == 1700000100);
    f = must_find(OSR__APT_PROXY_PATH);
    assert_true(f->perm == 0644 && f->uid == 0);
    f = must_find("/etc/apt/apt.conf.d");
    assert_true(f->perm == 0755 && f->mtime == 1700000100);
    f = must_find("/home/ubuntu/.docker/config.json");
    assert_true(f->perm == 0600 && f->uid == 1000);
    f = must_find("/root/.docker");
    assert_true(f->perm == 0700 && f->uid == 0);
    assert_non_null(strstr(must_find("/etc/passwd")->data, "ubuntu:x:1000:1000:"));

    /* Cancelled earlier: stops before the next step, state still freed. */
    free(b.os_distro);
    free(b.os_version);
    for (size_t i = 0; i < fk.n; i++)
        free(fk.f[i].data);
    memset(&fk, 0, sizeof(fk));
    fake_add("/etc", 'd', 0755, 0, 0, 100, NULL);
    fk.stop_at = "mount";
    memset(&b, 0, sizeof(b));
    b.o = &o;
    b.err = &err;
    b.epoch = -1;
    assert_int_equal(osr__build_recipe(&b, &fake_backend), OSR_EINTERRUPTED);
    assert_int_equal(fk.frees, 1);
    assert_null(fake_find("/home"));
    for (size_t i = 0; i < fk.n; i++)
        free(fk.f[i].data);
}

static void test_env_allow_list(void **state)
{
    char *env[] = { "PATH=/usr/bin",
                    "GITHUB_TOKEN=ghp_secret",
                    "OS_PASSWORD=pw",
                    "LC_ALL=C.UTF-8",
                    "LIBGUESTFS_BACKEND=direct",
                    "SUPERMIN_KERNEL=/boot/vmlinuz",
                    "http_proxy=http://u:p@proxy:3128",
                    "TMPDIR=/var/tmp",
                    "PATHX=1",
                    "LC_=x",
                    "=odd",
                    "HOME=/root",
                    NULL };
    char **out;
    (void)state;
    assert_true(osr__env_allowed("LANG=C"));
    assert_true(osr__env_allowed("XDG_RUNTIME_DIR=/run/user/0"));
    assert_false(osr__env_allowed("OS_CLOUD=x"));
    assert_false(osr__env_allowed("PATH"));
    assert_false(osr__env_allowed(NULL));
    out = osr__env_filter(env);
    assert_non_null(out);
    assert_string_equal(out[0], "PATH=/usr/bin");
    assert_string_equal(out[1], "LC_ALL=C.UTF-8");
    assert_string_equal(out[2], "LIBGUESTFS_BACKEND=direct");
    assert_string_equal(out[3], "SUPERMIN_KERNEL=/boot/vmlinuz");
    assert_string_equal(out[4], "TMPDIR=/var/tmp");
    assert_string_equal(out[5], "HOME=/root");
    assert_null(out[6]);
    free(out);
}

static void test_proxy_password(void **state)
{
    (void)state;
    assert_true(osr__proxy_has_password("http://user:s3cret@proxy:3128"));
    assert_true(osr__proxy_has_password("socks5h://u:p%40ss@proxy:1080/"));
    assert_false(osr__proxy_has_password("http://user@proxy:3128"));
    assert_false(osr__proxy_has_password("http://user:@proxy:3128"));
    assert_false(osr__proxy_has_password("http://proxy:3128"));
    assert_false(osr__proxy_has_password(""));
    assert_false(osr__proxy_has_password(NULL));
}

/* A scratch directory of the test's own. */
static char *scratch(void)
{
    char *d = strdup("/tmp/osr-unit-image-XXXXXX");
    assert_non_null(d);
    assert_non_null(mkdtemp(d));
    return d;
}

static void put(const char *dir, const char *name)
{
    char p[512];
    FILE *f;
    assert_true((size_t)snprintf(p, sizeof(p), "%s/%s", dir, name) < sizeof(p));
    assert_non_null(f = fopen(p, "w"));
    fputs("x", f);
    fclose(f);
}

static bool exists(const char *dir, const char *name)
{
    char p[512];
    struct stat st;
    assert_true((size_t)snprintf(p, sizeof(p), "%s/%s", dir, name) < sizeof(p));
    return lstat(p, &st) == 0;
}

static void test_create_locked(void **state)
{
    char *d = scratch(), p[512];
    struct stat st;
    int dfd, fd = -1, fd2 = -1, other;
    (void)state;
    dfd = open(d, O_RDONLY | O_DIRECTORY);
    assert_true(dfd >= 0);
    assert_int_equal(osr__create_locked(dfd, "f", &fd), 0);
    snprintf(p, sizeof(p), "%s/f", d);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* Held: another open file description cannot take it. */
    other = open(p, O_RDONLY);
    assert_true(other >= 0);
    assert_int_equal(flock(other, LOCK_EX | LOCK_NB), -1);
    assert_int_equal(osr__create_locked(dfd, "f", &fd2), -EEXIST);
    close(fd);
    assert_int_equal(flock(other, LOCK_EX | LOCK_NB), 0);
    close(other);
    unlink(p);
    close(dfd);
    rmdir(d);
    free(d);
}

/* Work dirs: a dead build's (lock free) goes; a live one's (lock held), one
 * without a lock, other names and a symlink stay. */
static void test_sweep_work_dirs(void **state)
{
    char *d = scratch(), p[512];
    int dfd, live = -1, removed = -1;
    (void)state;
    snprintf(p, sizeof(p), "%s/" OSR__WORK_PREFIX "dead01", d);
    assert_int_equal(mkdir(p, 0700), 0);
    put(p, OSR__WORK_LOCK);
    put(p, "disk.raw");
    snprintf(p, sizeof(p), "%s/" OSR__WORK_PREFIX "live01", d);
    assert_int_equal(mkdir(p, 0700), 0);
    dfd = open(p, O_RDONLY | O_DIRECTORY);
    assert_int_equal(osr__create_locked(dfd, OSR__WORK_LOCK, &live), 0);
    close(dfd);
    snprintf(p, sizeof(p), "%s/" OSR__WORK_PREFIX "nolock", d);
    assert_int_equal(mkdir(p, 0700), 0);
    put(p, "disk.raw");
    snprintf(p, sizeof(p), "%s/" OSR__WORK_PREFIX "toolong1", d);
    assert_int_equal(mkdir(p, 0700), 0);
    put(p, OSR__WORK_LOCK);
    snprintf(p, sizeof(p), "%s/" OSR__WORK_PREFIX "link01", d);
    assert_int_equal(symlink(d, p), 0);

    assert_int_equal(osr__sweep_work_dirs(d, &removed), 0);
    assert_int_equal(removed, 1);
    assert_false(exists(d, OSR__WORK_PREFIX "dead01"));
    assert_true(exists(d, OSR__WORK_PREFIX "live01/" OSR__WORK_LOCK));
    assert_true(exists(d, OSR__WORK_PREFIX "nolock/disk.raw"));
    assert_true(exists(d, OSR__WORK_PREFIX "toolong1/" OSR__WORK_LOCK));
    assert_true(exists(d, OSR__WORK_PREFIX "link01"));
    /* The live build ends: its directory is now stale. */
    close(live);
    assert_int_equal(osr__sweep_work_dirs(d, &removed), 0);
    assert_int_equal(removed, 1);
    assert_false(exists(d, OSR__WORK_PREFIX "live01"));
    assert_int_equal(osr__sweep_work_dirs("/nonexistent-osr", &removed), -ENOENT);

    snprintf(p, sizeof(p), "rm -rf '%s'", d);
    assert_int_equal(WEXITSTATUS(system(p)), 0);
    free(d);
}

static void test_sweep_output_tmp(void **state)
{
    char *d = scratch(), out[512], p[512];
    int dfd, live = -1, removed = -1;
    (void)state;
    snprintf(out, sizeof(out), "%s/img.qcow2", d);
    put(d, "img.qcow2");
    put(d, "img.qcow2" OSR__OUTPUT_TMP_SEP "0123456789ab"); /* dead: no lock held */
    put(d, "img.qcow2" OSR__OUTPUT_TMP_SEP "12345");        /* not our name */
    put(d, "img.qcow2" OSR__OUTPUT_TMP_SEP "0123456789AB"); /* not our name */
    put(d, "other.qcow2" OSR__OUTPUT_TMP_SEP "0123456789ab");
    dfd = open(d, O_RDONLY | O_DIRECTORY);
    assert_int_equal(osr__create_locked(dfd, "img.qcow2" OSR__OUTPUT_TMP_SEP "aaaaaaaaaaaa", &live),
                     0);
    close(dfd);
    assert_int_equal(osr__sweep_output_tmp(out, &removed), 0);
    assert_int_equal(removed, 1);
    assert_false(exists(d, "img.qcow2" OSR__OUTPUT_TMP_SEP "0123456789ab"));
    assert_true(exists(d, "img.qcow2" OSR__OUTPUT_TMP_SEP "aaaaaaaaaaaa"));
    assert_true(exists(d, "img.qcow2" OSR__OUTPUT_TMP_SEP "12345"));
    assert_true(exists(d, "img.qcow2" OSR__OUTPUT_TMP_SEP "0123456789AB"));
    assert_true(exists(d, "other.qcow2" OSR__OUTPUT_TMP_SEP "0123456789ab"));
    assert_true(exists(d, "img.qcow2"));
    close(live);
    snprintf(p, sizeof(p), "rm -rf '%s'", d);
    assert_int_equal(WEXITSTATUS(system(p)), 0);
    free(d);
}

static void test_build_dir(void **state)
{
    char *d = scratch(), first[512];
    osr_build_dir *a = NULL, *b = NULL, *sentinel = (osr_build_dir *)(uintptr_t)1, *c = sentinel;
    struct stat st;
    osr_error err;
    (void)state;
    assert_int_equal(osr_build_dir_new(&a, d, &err), 0);
    snprintf(first, sizeof(first), "%s", osr_build_dir_path(a));
    assert_int_equal(strncmp(first + strlen(d) + 1, OSR__WORK_PREFIX, strlen(OSR__WORK_PREFIX)), 0);
    assert_int_equal(stat(first, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    put(first, "runner.tar.gz");
    /* A second one sweeps, but never a live one. */
    assert_int_equal(osr_build_dir_new(&b, d, &err), 0);
    assert_true(exists(first, "runner.tar.gz"));
    osr_build_dir_free(a);
    assert_int_equal(stat(first, &st), -1);
    osr_build_dir_free(b);
    osr_build_dir_free(NULL);
    assert_int_equal(osr_build_dir_new(&c, "/nonexistent-osr", &err), OSR_ENOTFOUND);
    assert_ptr_equal(c, sentinel);
    assert_int_equal(rmdir(d), 0);
    free(d);
}

static void test_build_check(void **state)
{
    osr_build_options o = OSR_BUILD_OPTIONS_INIT;
    osr_error err;
    (void)state;
    /* Inputs still to be downloaded may be NULL. */
    o.output = "/tmp/x.qcow2";
    assert_int_equal(osr_image_build_check(&o, &err), 0);
    o.base = "/tmp";
    assert_int_equal(osr_image_build_check(&o, &err), OSR_EINVAL);
    assert_non_null(strstr(err.message, "base image /tmp: is a directory"));
    o.base = "/nonexistent.qcow2";
    assert_int_equal(osr_image_build_check(&o, &err), OSR_ENOTFOUND);
    o.base = NULL;
    o.output = "/nonexistent-dir/x.qcow2";
    assert_int_equal(osr_image_build_check(&o, &err), OSR_ENOTFOUND);
    assert_non_null(strstr(err.message, "output directory /nonexistent-dir"));
    o.output = "/tmp";
    assert_int_equal(osr_image_build_check(&o, &err), OSR_EINVAL);
    o.output = "/tmp/x.qcow2";
    o.work_dir = "/etc/hostname";
    assert_int_equal(osr_image_build_check(&o, &err), OSR_EINVAL);
    assert_non_null(strstr(err.message, "work directory /etc/hostname: not a directory"));
    o.work_dir = NULL;
    o.version = 99;
    assert_int_equal(osr_image_build_check(&o, &err), OSR_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arch_map),
        cmocka_unit_test(test_environment),
        cmocka_unit_test(test_apt_and_dropin),
        cmocka_unit_test(test_docker_config),
        cmocka_unit_test(test_proxy_validate),
        cmocka_unit_test(test_accounts_new_user),
        cmocka_unit_test(test_accounts_existing_user),
        cmocka_unit_test(test_tar_normalise),
        cmocka_unit_test(test_os_release),
        cmocka_unit_test(test_runner_app),
        cmocka_unit_test(test_accel_choice),
        cmocka_unit_test(test_build_refuses_bad_options),
        cmocka_unit_test(test_build_cancelled),
        cmocka_unit_test(test_recipe),
        cmocka_unit_test(test_env_allow_list),
        cmocka_unit_test(test_proxy_password),
        cmocka_unit_test(test_create_locked),
        cmocka_unit_test(test_sweep_work_dirs),
        cmocka_unit_test(test_sweep_output_tmp),
        cmocka_unit_test(test_build_check),
        cmocka_unit_test(test_build_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
