/* The image recipe: what goes into the image, step by step, written once
 * over the backend operations table (osr__backend), and the loader of the
 * backend modules. Every file the build writes is decided here, so the
 * backends cannot differ in contents, owners, modes or times. */
#include "image_internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef OSR_MODULE_DIR
#error "OSR_MODULE_DIR (the installed module directory) must be defined"
#endif

/* ------------------------------------------------------------- the modules */

int osr__backend_path(char **out, const char *name)
{
    Dl_info info;
    char *beside = NULL, *installed;

    /* Beside the library: ${libdir}/osrunner when installed, the build
     * tree's src/lib/osrunner when not. */
    if (dladdr((void *)&osr__backend_path, &info) && info.dli_fname &&
        strchr(info.dli_fname, '/')) {
        const char *slash = strrchr(info.dli_fname, '/');
        if ((beside = osr__sprintf("%.*s/osrunner/image-%s.so", (int)(slash - info.dli_fname),
                                   info.dli_fname, name)) == NULL)
            return OSR_ENOMEM;
        if (access(beside, F_OK) == 0) {
            *out = beside;
            return 0;
        }
    }
    /* Linked statically into a program: the installed place. */
    if ((installed = osr__sprintf("%s/image-%s.so", OSR_MODULE_DIR, name)) == NULL) {
        free(beside);
        return OSR_ENOMEM;
    }
    if (beside == NULL || access(installed, F_OK) == 0) {
        free(beside);
        *out = installed;
        return 0;
    }
    /* Neither: name the first place looked. */
    free(installed);
    *out = beside;
    return 0;
}

static pthread_mutex_t backend_lock = PTHREAD_MUTEX_INITIALIZER;
static const osr__backend *backends[2];

int osr__backend_load(const osr__backend **out, osr_build_backend backend, osr_error *err)
{
    const char *name = osr_build_backend_name(backend);
    size_t slot = backend == OSR_BUILD_GUESTFS ? 1 : 0;
    const osr__backend *be;
    char *path = NULL;
    void *h;
    int error = 0;

    if (backend != OSR_BUILD_OFFLINE && backend != OSR_BUILD_GUESTFS)
        return osr__error_set(err, OSR_EINVAL, "no such image build backend: %d", (int)backend);
    pthread_mutex_lock(&backend_lock);
    if ((be = backends[slot]) != NULL)
        goto done;
    if (osr__backend_path(&path, name) < 0) {
        error = osr__error_set(err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    if (access(path, F_OK) != 0) {
        error = osr__error_set(err, OSR_ENOTFOUND,
                               "the %s backend is not installed: %s: %s (cmake --install puts "
                               "it there)",
                               name, path, strerror(errno));
        goto done;
    }
    /* Never closed: libguestfs keeps atexit handlers and threads. */
    if ((h = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
        error =
            osr__error_set(err, OSR_ERROR, "the %s backend cannot be loaded: %s", name, dlerror());
        goto done;
    }
    be = dlsym(h, OSR__BACKEND_SYMBOL);
    if (be == NULL || be->abi != OSR__BACKEND_ABI || be->build_size != sizeof(osr__build) ||
        be->vtable_size != sizeof(osr__backend) || strcmp(be->name, name) != 0) {
        error = osr__error_set(err, OSR_ERROR,
                               "%s: not an image backend of this osrunner build (ABI %u expected)",
                               path, OSR__BACKEND_ABI);
        be = NULL;
        goto done;
    }
    backends[slot] = be;
done:
    pthread_mutex_unlock(&backend_lock);
    free(path);
    if (error == 0)
        *out = be;
    return error;
}

/* -------------------------------------------------------------- the recipe */

#define MAX_MADE 16

struct recipe {
    osr__build *b;
    const osr__backend *be;
    void *st;
    osr__accounts acc;
    bool home_created;
    char *made[MAX_MADE]; /* directories we created: they get the epoch at the end */
    size_t nmade;
};

static const char *const account_paths[6] = { "/etc/passwd",  "/etc/group",  "/etc/shadow",
                                              "/etc/gshadow", "/etc/subuid", "/etc/subgid" };
static const int account_modes[6] = { 0644, 0644, 0640, 0640, 0644, 0644 };

static char **account_text(osr__accounts *a, size_t i)
{
    char **t[6] = { &a->passwd, &a->group, &a->shadow, &a->gshadow, &a->subuid, &a->subgid };
    return t[i];
}

static int64_t epoch_or_zero(const osr__build *b)
{
    return b->epoch >= 0 ? b->epoch : 0;
}

/* Write a whole file. keep: an existing file keeps its owner and mode; a
 * new one gets perm/uid/gid. Its time is the build's epoch. */
static int put_file(
    struct recipe *r, const char *path, const char *data, int perm, long uid, long gid, bool keep)
{
    osr__stat st;
    osr__attr a = { perm, uid, gid, epoch_or_zero(r->b) };
    int error;

    if ((error = r->be->lstat(r->st, path, &st)) < 0)
        return error;
    if (st.type != 0 && st.type != 'f')
        return osr__error_set(r->b->err, OSR_ERROR, "%s exists and is not a regular file", path);
    if (st.type == 'f' && keep)
        a.perm = -1, a.uid = -1, a.gid = -1;
    return r->be->write_file(r->st, path, data, strlen(data), &a);
}

static int new_dir(struct recipe *r, const char *path, int perm, long uid, long gid)
{
    osr__attr a = { perm, uid, gid, epoch_or_zero(r->b) };
    int error = r->be->mkdir(r->st, path, &a);

    if (error == 0 && r->nmade < MAX_MADE && (r->made[r->nmade] = osr__strdup(path)) != NULL)
        r->nmade++;
    return error;
}

/* mkdir -p an absolute path; the directories it creates get perm/uid/gid. */
static int mkdir_p(struct recipe *r, const char *path, int perm, long uid, long gid)
{
    char buf[4096];
    size_t n = strlen(path);
    int error;

    if (n >= sizeof(buf))
        return osr__error_set(r->b->err, OSR_EINVAL, "%s: path too long", path);
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            osr__stat st;
            *p = '\0';
            if ((error = r->be->lstat(r->st, buf, &st)) < 0)
                return error;
            if (st.type == 0 && (error = new_dir(r, buf, perm, uid, gid)) < 0)
                return error;
            if (st.type != 0 && st.type != 'd')
                return osr__error_set(r->b->err, OSR_ERROR, "%s exists and is not a directory",
                                      buf);
            *p = c;
            if (c == '\0')
                break;
        }
    }
    return 0;
}

static int read_os_release(struct recipe *r)
{
    char *text = NULL;
    int error = r->be->read_file(r->st, "/etc/os-release", true, &text, NULL);

    if (error == 0 && text == NULL)
        error = r->be->read_file(r->st, "/usr/lib/os-release", true, &text, NULL);
    if (error == 0 && text)
        osr__parse_os_release(&r->b->os_distro, &r->b->os_version, text);
    free(text);
    return error;
}

static int unpack_runner(struct recipe *r)
{
    osr__build *b = r->b;
    osr__stat st;
    bool has_top = false;
    int error;

    for (size_t i = 0; i < 6; i++) {
        if ((error = r->be->read_file(r->st, account_paths[i], false, account_text(&r->acc, i),
                                      NULL)) < 0)
            return error;
    }
    {
        bool created;
        if ((error = osr__accounts_ensure_user(&r->acc, &b->uid, &b->gid, &created, b->err)) < 0)
            return error;
    }
    if ((error = r->be->lstat(r->st, OSR__RUNNER_DIR, &st)) < 0)
        return error;
    if (st.type != 0)
        return osr__error_set(b->err, OSR_ERROR, "%s already exists in the base image",
                              OSR__RUNNER_DIR);
    if ((error = r->be->lstat(r->st, OSR__RUNNER_HOME, &st)) < 0)
        return error;
    if (st.type != 'd') {
        if ((error = mkdir_p(r, "/home", 0755, 0, 0)) < 0 ||
            (error = new_dir(r, OSR__RUNNER_HOME, 0750, b->uid, b->gid)) < 0)
            return error;
        r->home_created = true;
    }
    {
        osr__attr a = { 0755, b->uid, b->gid, 0 };
        if ((error = r->be->mkdir(r->st, OSR__RUNNER_DIR, &a)) < 0)
            return error;
    }
    if ((error = r->be->unpack(r->st, OSR__RUNNER_DIR, &has_top)) < 0)
        return error;
    if (!has_top) {
        /* No "./" entry: the directory's time follows the build. */
        osr__attr a = { -1, b->uid, b->gid, epoch_or_zero(b) };
        if ((error = r->be->set_attr(r->st, OSR__RUNNER_DIR, &a)) < 0)
            return error;
    }
    return 0;
}

/* The regular files at the top of /etc/skel, into a new home. */
static int copy_skel(struct recipe *r)
{
    osr__build *b = r->b;
    char **names = NULL;
    osr__stat st;
    int error;

    if ((error = r->be->lstat(r->st, "/etc/skel", &st)) < 0 || st.type != 'd')
        return error;
    if ((error = r->be->list_dir(r->st, "/etc/skel", &names)) < 0)
        return error;
    for (char **n = names; *n && error == 0; n++) {
        char src[512], dst[512], *data = NULL;
        size_t len = 0;
        osr__stat dst_st;
        snprintf(src, sizeof(src), "/etc/skel/%s", *n);
        snprintf(dst, sizeof(dst), OSR__RUNNER_HOME "/%s", *n);
        if ((error = r->be->lstat(r->st, src, &st)) < 0 || st.type != 'f' ||
            (error = r->be->lstat(r->st, dst, &dst_st)) < 0 || dst_st.type != 0)
            continue;
        error = r->be->read_file(r->st, src, false, &data, &len);
        if (error == 0 && data) {
            osr__attr a = { (int)st.perm, b->uid, b->gid, st.mtime };
            error = r->be->write_file(r->st, dst, data, len, &a);
        }
        free(data);
    }
    for (char **n = names; *n; n++)
        free(*n);
    free(names);
    return error;
}

static int create_user(struct recipe *r)
{
    int error;

    for (size_t i = 0; i < 6; i++) {
        const char *text = *account_text(&r->acc, i);
        if (text && (error = put_file(r, account_paths[i], text, account_modes[i], 0, 0, true)) < 0)
            return error;
    }
    if (r->home_created && (error = copy_skel(r)) < 0)
        return error;
    return 0;
}

static int write_proxy(struct recipe *r)
{
    osr__build *b = r->b;
    osr_proxy eff = b->o->proxy, *p = &eff;
    char *env = NULL, *out = NULL, *apt = NULL, *dropin = NULL, *docker = NULL;
    char *https = NULL, *no_proxy = NULL;
    int error;

    /* As for the runner VM's user data: HTTPS through the HTTP proxy unless
     * told otherwise, and never the loopback or the metadata service. */
    if (osr__proxy_effective(&https, &no_proxy, eff.http, eff.https, eff.no_proxy) < 0)
        return osr__error_set(b->err, OSR_ENOMEM, "out of memory");
    eff.https = https;
    eff.no_proxy = no_proxy;
    if ((error = r->be->read_file(r->st, "/etc/environment", true, &env, NULL)) < 0)
        goto done;
    if (osr__render_environment(&out, env, p) < 0 || osr__render_apt_proxy(&apt, p) < 0 ||
        osr__render_docker_dropin(&dropin, p) < 0 || osr__render_docker_config(&docker, p) < 0) {
        error = osr__error_set(b->err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    if ((error = put_file(r, "/etc/environment", out, 0644, 0, 0, true)) < 0)
        goto done;
    if (apt && ((error = mkdir_p(r, "/etc/apt/apt.conf.d", 0755, 0, 0)) < 0 ||
                (error = put_file(r, OSR__APT_PROXY_PATH, apt, 0644, 0, 0, false)) < 0))
        goto done;
    if (dropin && ((error = mkdir_p(r, OSR__DOCKER_DROPIN_D, 0755, 0, 0)) < 0 ||
                   (error = put_file(r, OSR__DOCKER_DROPIN, dropin, 0644, 0, 0, false)) < 0))
        goto done;
    if (docker &&
        ((error = mkdir_p(r, "/root/.docker", 0700, 0, 0)) < 0 ||
         (error = put_file(r, "/root/.docker/config.json", docker, 0600, 0, 0, false)) < 0 ||
         (error = mkdir_p(r, OSR__RUNNER_HOME "/.docker", 0700, b->uid, b->gid)) < 0 ||
         (error = put_file(r, OSR__RUNNER_HOME "/.docker/config.json", docker, 0600, b->uid, b->gid,
                           false)) < 0))
        goto done;
done:
    free(env);
    free(out);
    free(apt);
    free(dropin);
    free(docker);
    free(https);
    free(no_proxy);
    return error;
}

/* Directories we created take the build's epoch, once nothing more is
 * added to them. */
static int settle_times(struct recipe *r)
{
    osr__attr a = { -1, -1, -1, epoch_or_zero(r->b) };
    int error;

    for (size_t i = 0; i < r->nmade; i++) {
        if ((error = r->be->set_attr(r->st, r->made[i], &a)) < 0)
            return error;
    }
    return 0;
}

static bool has_packages(const osr__build *b)
{
    return b->o->packages && b->o->packages[0];
}

unsigned int osr__build_recipe_steps(const osr__build *b, const osr__backend *be)
{
    return 7u + (be->launch_step != NULL) + (b->extra > 0) + has_packages(b) +
           osr__proxy_any(&b->o->proxy) + (b->o->script != NULL);
}

int osr__build_recipe(osr__build *b, const osr__backend *be)
{
    struct recipe r;
    const char *disk = NULL, *format = NULL;
    int error;

    memset(&r, 0, sizeof(r));
    r.b = b;
    r.be = be;
    if ((has_packages(b) || b->o->script) && !be->runs_guest_code)
        return osr__error_set(b->err, OSR_EINVAL,
                              "the %s backend cannot install packages or run a script", be->name);
    if ((error = osr__build_step(b, be->prepare_step)) < 0 || (error = be->prepare(&r.st, b)) < 0)
        goto done;
    if (be->launch_step &&
        ((error = osr__build_step(b, be->launch_step)) < 0 || (error = be->launch(r.st)) < 0))
        goto done;
    if (b->extra > 0 &&
        ((error = osr__build_step(b, "grow the root partition and file system")) < 0 ||
         (error = be->grow(r.st)) < 0))
        goto done;
    if ((error = osr__build_step(b, be->mount_step)) < 0 || (error = be->mount(r.st)) < 0 ||
        (error = read_os_release(&r)) < 0)
        goto done;
    if (has_packages(b) && ((error = osr__build_step(b, "install packages with apt-get")) < 0 ||
                            (error = be->install_packages(r.st)) < 0))
        goto done;
    if ((error = osr__build_step(b, "unpack the runner into " OSR__RUNNER_DIR)) < 0 ||
        (error = unpack_runner(&r)) < 0)
        goto done;
    if ((error = osr__build_step(b, "create user ubuntu (groups docker, sudo)")) < 0 ||
        (error = create_user(&r)) < 0)
        goto done;
    if (osr__proxy_any(&b->o->proxy) &&
        ((error = osr__build_step(b, "write the proxy settings")) < 0 ||
         (error = write_proxy(&r)) < 0))
        goto done;
    if (b->o->script && ((error = osr__build_step(b, "run the custom script")) < 0 ||
                         (error = be->run_script(r.st)) < 0))
        goto done;
    if ((error = osr__build_step(b, be->close_step)) < 0 || (error = settle_times(&r)) < 0 ||
        (error = be->close(r.st, &disk, &format)) < 0)
        goto done;
    if ((error = osr__build_step(b, "compress to qcow2")) < 0 ||
        (error = osr__build_compress(b, disk, format)) < 0)
        goto done;
done:
    if (r.st)
        be->free(r.st);
    osr__accounts_free(&r.acc);
    for (size_t i = 0; i < r.nmade; i++)
        free(r.made[i]);
    return error;
}
