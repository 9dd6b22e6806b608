/* The libguestfs backend: the image is changed by the libguestfs appliance
 * (its own kernel, under KVM or TCG), so packages can be installed and a
 * script run inside the guest, with no root, nbd or host mounts. Files are
 * written with the same contents, owners and modes as the offline backend. */
#include "image_internal.h"

#include "fs.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <guestfs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

struct gx {
    osr__build *b;
    guestfs_h *g;
    char *overlay;
    char *tar;    /* the runner tarball, re-owned for tar_in */
    char *root;   /* root device, e.g. /dev/sda1 */
    bool tar_top; /* the tarball has a "./" entry */
    osr__accounts acc;
    bool user_created, home_created;
    bool guest_code; /* packages or a script ran */
    /* Directories that get new entries keep their times, as the offline
     * backend's do: both backends give the same files. */
    struct {
        const char *path;
        int64_t atime, mtime;
        bool have;
    } dirs[8];
    char *made[16]; /* directories mkdir_p created: they get the epoch at the end */
    size_t nmade;
};

static int gerr(struct gx *x, const char *what)
{
    const char *m = x->g ? guestfs_last_error(x->g) : NULL;
    if (osr__build_cancelled(x->b))
        return osr__error_set(x->b->err, OSR_EINTERRUPTED, "interrupted");
    return osr__error_set(x->b->err, OSR_ERROR, "%s: %s", what,
                          m ? m : "libguestfs failed (LIBGUESTFS_DEBUG=1 tells why)");
}

/* Progress of long transfers (tar_in, upload); also where a cancel is noticed. */
static void on_event(guestfs_h *g,
                     void *opaque,
                     uint64_t event,
                     int event_handle,
                     int flags,
                     const char *buf,
                     size_t buf_len,
                     const uint64_t *array,
                     size_t array_len)
{
    struct gx *x = opaque;
    (void)event_handle;
    (void)flags;
    (void)buf;
    (void)buf_len;
    if (osr__build_cancelled(x->b)) {
        guestfs_user_cancel(g);
        return;
    }
    /* Warnings are swallowed: the library never prints (an error says why). */
    if (event == GUESTFS_EVENT_PROGRESS && array_len >= 4)
        osr__build_progress(x->b, (long long)array[2], (long long)array[3]);
}

static const char *const kept_dirs[8] = {
    "/etc",  "/etc/apt", "/etc/apt/apt.conf.d", "/etc/systemd", "/etc/systemd/system",
    "/root", "/home",    OSR__RUNNER_HOME,
};

static void remember_dir_times(struct gx *x)
{
    for (size_t i = 0; i < 8; i++) {
        struct guestfs_statns *st;
        x->dirs[i].path = kept_dirs[i];
        x->dirs[i].have = false;
        if (guestfs_is_dir_opts(x->g, kept_dirs[i], GUESTFS_IS_DIR_OPTS_FOLLOWSYMLINKS, 0, -1) != 1)
            continue;
        if ((st = guestfs_lstatns(x->g, kept_dirs[i])) == NULL)
            continue;
        x->dirs[i].atime = st->st_atime_sec;
        x->dirs[i].mtime = st->st_mtime_sec;
        x->dirs[i].have = true;
        guestfs_free_statns(st);
    }
}

static int restore_dir_times(struct gx *x)
{
    for (size_t i = 0; i < 8; i++) {
        if (x->dirs[i].have &&
            guestfs_utimens(x->g, x->dirs[i].path, x->dirs[i].atime, 0, x->dirs[i].mtime, 0) < 0)
            return gerr(x, x->dirs[i].path);
    }
    for (size_t i = 0; i < x->nmade; i++) {
        if (guestfs_utimens(x->g, x->made[i], x->b->epoch, 0, x->b->epoch, 0) < 0)
            return gerr(x, x->made[i]);
    }
    if (x->home_created &&
        guestfs_utimens(x->g, OSR__RUNNER_HOME, x->b->epoch, 0, x->b->epoch, 0) < 0)
        return gerr(x, OSR__RUNNER_HOME);
    return 0;
}

/* ------------------------------------------------------------ the tarball */

struct rewrite {
    struct gx *x;
    struct archive *w;
    int error;
};

static int rewrite_entry(const osr__tar_entry *te, void *tar, void *payload)
{
    struct rewrite *rw = payload;
    osr__build *b = rw->x->b;
    struct archive_entry *ae = archive_entry_new();
    int error = 0;

    if (ae == NULL)
        return osr__error_set(b->err, OSR_ENOMEM, "out of memory");
    if (osr__build_cancelled(b)) {
        archive_entry_free(ae);
        return osr__error_set(b->err, OSR_EINTERRUPTED, "interrupted");
    }
    if (*te->path == '\0')
        rw->x->tar_top = true;
    archive_entry_set_pathname(ae, *te->path ? te->path : ".");
    archive_entry_set_uid(ae, b->uid);
    archive_entry_set_gid(ae, b->gid);
    archive_entry_set_mtime(ae, (time_t)te->mtime, 0);
    switch (te->type) {
    case 'd':
        archive_entry_set_filetype(ae, AE_IFDIR);
        archive_entry_set_perm(ae, te->perm);
        break;
    case 'f':
        archive_entry_set_filetype(ae, AE_IFREG);
        archive_entry_set_perm(ae, te->perm);
        archive_entry_set_size(ae, te->size);
        break;
    case 'l':
        archive_entry_set_filetype(ae, AE_IFLNK);
        archive_entry_set_perm(ae, 0777);
        archive_entry_set_symlink(ae, te->target);
        break;
    default: /* 'h' */
        archive_entry_set_filetype(ae, AE_IFREG);
        archive_entry_set_perm(ae, te->perm);
        archive_entry_set_hardlink(ae, te->target);
        archive_entry_set_size(ae, 0);
        break;
    }
    if (archive_write_header(rw->w, ae) != ARCHIVE_OK) {
        error = osr__error_set(b->err, OSR_EIO, "%s: %s", rw->x->tar, archive_error_string(rw->w));
        goto done;
    }
    if (te->type == 'f') {
        char buf[1 << 16];
        ssize_t n;
        while ((n = osr__tar_read(tar, buf, sizeof(buf))) > 0) {
            if (archive_write_data(rw->w, buf, (size_t)n) != n) {
                error = osr__error_set(b->err, OSR_EIO, "%s: %s", rw->x->tar,
                                       archive_error_string(rw->w));
                goto done;
            }
        }
        if (n < 0)
            error =
                osr__error_set(b->err, OSR_EIO, "%s: the tarball is corrupt", b->o->runner_tarball);
    }
done:
    archive_entry_free(ae);
    return error;
}

/* The runner tarball as a plain tar owned by the runner user (numeric ids
 * only, so the appliance's own user names cannot interfere). */
static int rewrite_tarball(struct gx *x)
{
    osr__build *b = x->b;
    struct rewrite rw = { x, archive_write_new(), 0 };
    int64_t newest = 0;
    int error;

    if (rw.w == NULL || (x->tar = osr__build_path(b, "runner.tar")) == NULL) {
        archive_write_free(rw.w);
        return osr__error_set(b->err, OSR_ENOMEM, "out of memory");
    }
    archive_write_set_format_pax_restricted(rw.w);
    if (archive_write_open_filename(rw.w, x->tar) != ARCHIVE_OK) {
        error = osr__error_set(b->err, OSR_EIO, "%s: %s", x->tar, archive_error_string(rw.w));
        archive_write_free(rw.w);
        return error;
    }
    error = osr__tar_walk(b->o->runner_tarball, rewrite_entry, &rw, &newest, NULL, b->err);
    if (archive_write_close(rw.w) != ARCHIVE_OK && error == 0)
        error = osr__error_set(b->err, OSR_EIO, "%s: %s", x->tar, archive_error_string(rw.w));
    archive_write_free(rw.w);
    if (error == 0 && b->epoch < 0)
        b->epoch = newest;
    return error;
}

/* ---------------------------------------------------------------- helpers */

/* Write a file, then its mode, owner and times (keep_owner: an existing
 * file keeps owner and mode). */
static int put_file(
    struct gx *x, const char *path, const char *data, int mode, int uid, int gid, bool keep_owner)
{
    guestfs_h *g = x->g;
    bool exists = guestfs_exists(g, path) == 1;

    if (guestfs_write(g, path, data, strlen(data)) < 0)
        return gerr(x, path);
    if (!(keep_owner && exists)) {
        if (guestfs_chmod(g, mode < 0 ? 0644 : mode, path) < 0 ||
            guestfs_lchown(g, uid, gid, path) < 0)
            return gerr(x, path);
    }
    if (guestfs_utimens(g, path, x->b->epoch, 0, x->b->epoch, 0) < 0)
        return gerr(x, path);
    return 0;
}

/* mkdir -p; directories it creates get mode/owner/epoch. */
static int mkdir_p(struct gx *x, const char *path, int mode, int uid, int gid)
{
    char buf[4096];
    size_t n = strlen(path);

    if (n >= sizeof(buf))
        return osr__error_set(x->b->err, OSR_EINVAL, "%s: path too long", path);
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (guestfs_is_dir(x->g, buf) != 1) {
                if (guestfs_mkdir(x->g, buf) < 0 || guestfs_chmod(x->g, mode, buf) < 0 ||
                    guestfs_lchown(x->g, uid, gid, buf) < 0 ||
                    guestfs_utimens(x->g, buf, x->b->epoch, 0, x->b->epoch, 0) < 0)
                    return gerr(x, buf);
                if (x->nmade < 16 && (x->made[x->nmade] = osr__strdup(buf)) != NULL)
                    x->nmade++;
            }
            *p = c;
            if (c == '\0')
                break;
        }
    }
    return 0;
}

static char *read_text(struct gx *x, const char *path)
{
    size_t size = 0;
    char *data, *s;

    if (guestfs_is_file_opts(x->g, path, GUESTFS_IS_FILE_OPTS_FOLLOWSYMLINKS, 1, -1) != 1)
        return NULL;
    data = guestfs_read_file(x->g, path, &size);
    if (data == NULL)
        return NULL;
    s = osr__strndup(data, size);
    free(data);
    return s;
}

static void free_strings(char **v)
{
    for (char **p = v; p && *p; p++)
        free(*p);
    free(v);
}

/* ------------------------------------------------------------------ steps */

static int launch(struct gx *x)
{
    osr__build *b = x->b;
    osr_accel accel = b->o->accel == OSR_ACCEL_AUTO ? osr_build_accel_detect() : b->o->accel;
    bool net = (b->o->packages && b->o->packages[0]) || b->o->script;

    x->g = guestfs_create_flags(0);
    if (x->g == NULL)
        return osr__error_set(b->err, OSR_ERROR, "cannot create a libguestfs handle");
    /* The library never prints: errors are read with guestfs_last_error. */
    guestfs_set_error_handler(x->g, NULL, NULL);
    guestfs_set_event_callback(x->g, on_event, GUESTFS_EVENT_PROGRESS | GUESTFS_EVENT_WARNING, 0,
                               x);
    b->accel = osr_build_accel_name(accel);
    if (guestfs_set_backend(x->g, "direct") < 0 ||
        guestfs_set_backend_setting(x->g, accel == OSR_ACCEL_KVM ? "force_kvm" : "force_tcg", "1") <
            0)
        return gerr(x, "libguestfs backend");
    /* The default, made explicit: a forked watcher that kills the appliance
     * when this process dies (polled every 2 s), even after SIGKILL. */
    if (guestfs_set_recovery_proc(x->g, 1) < 0)
        return gerr(x, "libguestfs recovery process");
    guestfs_set_smp(x->g, 2);
    guestfs_set_memsize(x->g, 1024);
    if (net && guestfs_set_network(x->g, 1) < 0)
        return gerr(x, "libguestfs network");
    if (guestfs_add_drive_opts(x->g, x->overlay, GUESTFS_ADD_DRIVE_OPTS_FORMAT, "qcow2",
                               GUESTFS_ADD_DRIVE_OPTS_DISCARD, "besteffort", -1) < 0)
        return gerr(x, "adding the disk");
    {
        /* libguestfs starts supermin, qemu and its recovery process from the
         * process environment during the launch: they get the allow-listed
         * one that the host tools get, not the caller's secrets. */
        char **saved = environ, **clean = osr__env_filter(environ);
        int rc;
        if (clean == NULL)
            return osr__error_set(b->err, OSR_ENOMEM, "out of memory");
        environ = clean;
        rc = guestfs_launch(x->g);
        environ = saved;
        free(clean);
        if (rc < 0)
            return gerr(x, "launching the libguestfs appliance");
    }
    return 0;
}

static int find_root(struct gx *x)
{
    char **fss;

    x->root = guestfs_findfs_label(x->g, "cloudimg-rootfs");
    if (x->root)
        return 0;
    /* No Ubuntu label: the only ext file system, else inspection (slow under TCG). */
    fss = guestfs_list_filesystems(x->g);
    for (size_t i = 0; fss && fss[i] && fss[i + 1]; i += 2) {
        if (strncmp(fss[i + 1], "ext", 3) == 0) {
            if (x->root) {
                free(x->root);
                x->root = NULL;
                break;
            }
            x->root = osr__strdup(fss[i]);
        }
    }
    free_strings(fss);
    if (x->root == NULL) {
        char **roots = guestfs_inspect_os(x->g);
        if (roots && roots[0])
            x->root = osr__strdup(roots[0]);
        free_strings(roots);
    }
    if (x->root == NULL)
        return osr__error_set(x->b->err, OSR_EINVAL, "no root file system found in the base image");
    return 0;
}

static int grow(struct gx *x)
{
    guestfs_h *g = x->g;
    struct guestfs_partition_list *parts;
    char *dev, *type;
    int num, last = 0;
    uint64_t max_start = 0;
    int64_t sectors;
    int error = 0;

    if ((num = guestfs_part_to_partnum(g, x->root)) < 0 ||
        (dev = guestfs_part_to_dev(g, x->root)) == NULL)
        return gerr(x, x->root);
    parts = guestfs_part_list(g, dev);
    for (uint32_t i = 0; parts && i < parts->len; i++) {
        if (parts->val[i].part_start >= max_start) {
            max_start = parts->val[i].part_start;
            last = parts->val[i].part_num;
        }
    }
    guestfs_free_partition_list(parts);
    if (last != num) {
        error = osr__error_set(x->b->err, OSR_EINVAL,
                               "the root partition %s is not the last one on the disk; it cannot "
                               "grow (use --extra-size 0)",
                               x->root);
        goto done;
    }
    type = guestfs_part_get_parttype(g, dev);
    if (type && strcmp(type, "gpt") == 0 && guestfs_part_expand_gpt(g, dev) < 0)
        error = gerr(x, "moving the GPT backup header");
    free(type);
    if (error < 0)
        goto done;
    if ((sectors = guestfs_blockdev_getsz(g, dev)) < 0) {
        error = gerr(x, dev);
        goto done;
    }
    /* sgdisk -e aligns the last usable LBA to 2048: stay below it. */
    if (guestfs_part_resize(g, dev, num, (sectors - 34) / 2048 * 2048 - 1) < 0 ||
        guestfs_e2fsck(g, x->root, GUESTFS_E2FSCK_FORCEALL, 1, -1) < 0 ||
        guestfs_resize2fs(g, x->root) < 0)
        error = gerr(x, "growing the root file system");
done:
    free(dev);
    return error;
}

static int mount_root(struct gx *x)
{
    static const char *const extra[][2] = { { "BOOT", "/boot" }, { "UEFI", "/boot/efi" } };

    if (guestfs_mount(x->g, x->root, "/") < 0)
        return gerr(x, "mounting the root file system");
    /* noble+ keep kernels on a separate /boot: mount it, or apt's kernel lands below it. */
    for (size_t i = 0; i < 2; i++) {
        char *d = guestfs_findfs_label(x->g, extra[i][0]);
        if (d && guestfs_is_dir(x->g, extra[i][1]) == 1 &&
            guestfs_mount(x->g, d, extra[i][1]) < 0) {
            free(d);
            return gerr(x, extra[i][1]);
        }
        free(d);
    }
    {
        char *text = read_text(x, "/etc/os-release");
        if (text)
            osr__parse_os_release(&x->b->os_distro, &x->b->os_version, text);
        free(text);
    }
    return 0;
}

static int install_packages(struct gx *x)
{
    osr__build *b = x->b;
    const osr_proxy *p = &b->o->proxy;
    osr__buf cmd = OSR__BUF_INIT;
    bool had_policy = guestfs_exists(x->g, "/usr/sbin/policy-rc.d") == 1;
    char *out;
    int error = 0;

    /* Services must not start inside the appliance. */
    if (!had_policy &&
        (guestfs_write(x->g, "/usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n", 20) < 0 ||
         guestfs_chmod(x->g, 0755, "/usr/sbin/policy-rc.d") < 0))
        return gerr(x, "/usr/sbin/policy-rc.d");
    /* Values were validated: no quotes or spaces. */
    osr__buf_puts(&cmd, "export DEBIAN_FRONTEND=noninteractive");
    if (p->http && *p->http)
        osr__buf_printf(&cmd, " http_proxy='%s'", p->http);
    if (p->https && *p->https)
        osr__buf_printf(&cmd, " https_proxy='%s'", p->https);
    osr__buf_puts(&cmd, "; apt-get -q update >/tmp/osrunner-apt.log 2>&1 && apt-get -q -y "
                        "--no-install-recommends install");
    for (const char *const *pk = b->o->packages; *pk; pk++)
        osr__buf_printf(&cmd, " '%s'", *pk);
    if (osr__buf_puts(&cmd, " >>/tmp/osrunner-apt.log 2>&1 || { tail -5 /tmp/osrunner-apt.log; "
                            "exit 1; }; apt-get clean; rm -rf /var/lib/apt/lists/* "
                            "/tmp/osrunner-apt.log") < 0) {
        osr__buf_free(&cmd);
        return osr__error_set(b->err, OSR_ENOMEM, "out of memory");
    }
    out = guestfs_sh(x->g, cmd.data);
    osr__buf_free(&cmd);
    if (out == NULL)
        error = gerr(x, "apt-get install");
    free(out);
    x->guest_code = true;
    if (!had_policy && guestfs_rm_f(x->g, "/usr/sbin/policy-rc.d") < 0 && error == 0)
        error = gerr(x, "/usr/sbin/policy-rc.d");
    return error;
}

static int unpack_runner(struct gx *x)
{
    osr__build *b = x->b;
    static const char *const paths[] = { "/etc/passwd",  "/etc/group",  "/etc/shadow",
                                         "/etc/gshadow", "/etc/subuid", "/etc/subgid" };
    char **dst[] = { &x->acc.passwd,  &x->acc.group,  &x->acc.shadow,
                     &x->acc.gshadow, &x->acc.subuid, &x->acc.subgid };
    int error;

    remember_dir_times(x);
    for (size_t i = 0; i < 6; i++)
        *dst[i] = read_text(x, paths[i]);
    if ((error = osr__accounts_ensure_user(&x->acc, &b->uid, &b->gid, &x->user_created, b->err)) <
        0)
        return error;
    if ((error = rewrite_tarball(x)) < 0)
        return error;
    if (guestfs_exists(x->g, OSR__RUNNER_DIR) == 1)
        return osr__error_set(b->err, OSR_ERROR, "%s already exists in the base image",
                              OSR__RUNNER_DIR);
    if (guestfs_is_dir(x->g, OSR__RUNNER_HOME) != 1) {
        if ((error = mkdir_p(x, "/home", 0755, 0, 0)) < 0)
            return error;
        if (guestfs_mkdir(x->g, OSR__RUNNER_HOME) < 0 ||
            guestfs_chmod(x->g, 0750, OSR__RUNNER_HOME) < 0 ||
            guestfs_lchown(x->g, (int)b->uid, (int)b->gid, OSR__RUNNER_HOME) < 0)
            return gerr(x, OSR__RUNNER_HOME);
        x->home_created = true;
    }
    if (guestfs_mkdir(x->g, OSR__RUNNER_DIR) < 0 ||
        guestfs_chmod(x->g, 0755, OSR__RUNNER_DIR) < 0 ||
        guestfs_lchown(x->g, (int)b->uid, (int)b->gid, OSR__RUNNER_DIR) < 0)
        return gerr(x, OSR__RUNNER_DIR);
    if (guestfs_tar_in_opts(x->g, x->tar, OSR__RUNNER_DIR, -1) < 0)
        return gerr(x, "unpacking the runner");
    unlink(x->tar);
    if (!x->tar_top && guestfs_utimens(x->g, OSR__RUNNER_DIR, b->epoch, 0, b->epoch, 0) < 0)
        return gerr(x, OSR__RUNNER_DIR);
    return 0;
}

static int create_user(struct gx *x)
{
    osr__build *b = x->b;
    static const char *const paths[] = { "/etc/passwd",  "/etc/group",  "/etc/shadow",
                                         "/etc/gshadow", "/etc/subuid", "/etc/subgid" };
    char *texts[] = { x->acc.passwd,  x->acc.group,  x->acc.shadow,
                      x->acc.gshadow, x->acc.subuid, x->acc.subgid };
    int error;

    for (size_t i = 0; i < 6; i++) {
        if (texts[i] && (error = put_file(x, paths[i], texts[i], -1, 0, 0, true)) < 0)
            return error;
    }
    if (x->home_created && guestfs_is_dir(x->g, "/etc/skel") == 1) {
        char **names = guestfs_ls(x->g, "/etc/skel");
        if (names == NULL)
            return gerr(x, "/etc/skel");
        for (char **n = names; *n; n++) {
            char src[512], dst[512];
            snprintf(src, sizeof(src), "/etc/skel/%s", *n);
            snprintf(dst, sizeof(dst), OSR__RUNNER_HOME "/%s", *n);
            if (guestfs_is_file_opts(x->g, src, GUESTFS_IS_FILE_OPTS_FOLLOWSYMLINKS, 0, -1) != 1)
                continue;
            if (guestfs_cp_a(x->g, src, dst) < 0 ||
                guestfs_lchown(x->g, (int)b->uid, (int)b->gid, dst) < 0) {
                free_strings(names);
                return gerr(x, dst);
            }
        }
        free_strings(names);
    }
    if (x->home_created && guestfs_utimens(x->g, OSR__RUNNER_HOME, b->epoch, 0, b->epoch, 0) < 0)
        return gerr(x, OSR__RUNNER_HOME);
    return 0;
}

static int write_proxy(struct gx *x)
{
    osr__build *b = x->b;
    const osr_proxy *p = &b->o->proxy;
    char *env = read_text(x, "/etc/environment"), *out = NULL;
    char *apt = NULL, *dropin = NULL, *docker = NULL;
    int uid = (int)b->uid, gid = (int)b->gid, error;

    error = osr__render_environment(&out, env, p);
    if (error == 0)
        error = osr__render_apt_proxy(&apt, p);
    if (error == 0)
        error = osr__render_docker_dropin(&dropin, p);
    if (error == 0)
        error = osr__render_docker_config(&docker, p);
    if (error < 0) {
        error = osr__error_set(b->err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    if ((error = put_file(x, "/etc/environment", out, 0644, 0, 0, true)) < 0)
        goto done;
    if (apt && ((error = mkdir_p(x, "/etc/apt/apt.conf.d", 0755, 0, 0)) < 0 ||
                (error = put_file(x, OSR__APT_PROXY_PATH, apt, 0644, 0, 0, false)) < 0))
        goto done;
    if (dropin && ((error = mkdir_p(x, OSR__DOCKER_DROPIN_D, 0755, 0, 0)) < 0 ||
                   (error = put_file(x, OSR__DOCKER_DROPIN, dropin, 0644, 0, 0, false)) < 0))
        goto done;
    if (docker &&
        ((error = mkdir_p(x, "/root/.docker", 0700, 0, 0)) < 0 ||
         (error = put_file(x, "/root/.docker/config.json", docker, 0600, 0, 0, false)) < 0 ||
         (error = mkdir_p(x, OSR__RUNNER_HOME "/.docker", 0700, uid, gid)) < 0 ||
         (error = put_file(x, OSR__RUNNER_HOME "/.docker/config.json", docker, 0600, uid, gid,
                           false)) < 0))
        goto done;
done:
    free(env);
    free(out);
    free(apt);
    free(dropin);
    free(docker);
    return error;
}

static int run_script(struct gx *x)
{
    static const char remote[] = "/tmp/osrunner-script";
    char *out;

    if (guestfs_upload(x->g, x->b->o->script, remote) < 0 || guestfs_chmod(x->g, 0700, remote) < 0)
        return gerr(x, "uploading the script");
    x->guest_code = true;
    out = guestfs_sh(x->g, remote);
    if (out == NULL)
        return gerr(x, "the custom script failed");
    free(out);
    if (guestfs_rm_f(x->g, remote) < 0)
        return gerr(x, remote);
    return 0;
}

static int finish(struct gx *x)
{
    guestfs_h *g = x->g;

    if (restore_dir_times(x) < 0)
        return OSR_ERROR;
    if (x->guest_code) {
        /* Guest code may leave state a fresh instance must not have. */
        char **state = guestfs_glob_expand(g, "/var/lib/cloud/*");
        for (char **s = state; s && *s; s++) {
            if (guestfs_rm_rf(g, *s) < 0) {
                free_strings(state);
                return gerr(x, *s);
            }
        }
        free_strings(state);
        if (guestfs_is_file(g, "/etc/machine-id") == 1 &&
            guestfs_truncate(g, "/etc/machine-id") < 0)
            return gerr(x, "/etc/machine-id");
    }
    if (guestfs_fstrim(g, "/", -1) < 0 || guestfs_umount_all(g) < 0 || guestfs_shutdown(g) < 0)
        return gerr(x, "closing the image");
    return 0;
}

int osr__build_guestfs_steps(const osr__build *b)
{
    return 8 + (b->extra > 0) + (b->o->packages && b->o->packages[0]) +
           osr__proxy_any(&b->o->proxy) + (b->o->script != NULL);
}

int osr__build_guestfs(osr__build *b)
{
    struct gx x;
    char size[32];
    int error;

    memset(&x, 0, sizeof(x));
    x.b = b;
    if ((x.overlay = osr__build_path(b, "overlay.qcow2")) == NULL)
        return osr__error_set(b->err, OSR_ENOMEM, "out of memory");
    if ((error = osr__build_step(b, "create an overlay on the base image")) < 0)
        goto done;
    snprintf(size, sizeof(size), "%lld", b->base_vsize + (b->extra > 0 ? b->extra : 0));
    {
        /* guestfs_disk_create refuses a size together with a backing file. */
        const char *argv[] = { "qemu-img",     "create", "-q",       "-f",      "qcow2", "-F",
                               b->base_format, "-b",     b->o->base, x.overlay, size,    NULL };
        if ((error = osr__build_run(b, argv, NULL, NULL)) < 0)
            goto done;
    }
    if ((error = osr__build_step(b, "launch the libguestfs appliance")) < 0 ||
        (error = launch(&x)) < 0 || (error = find_root(&x)) < 0)
        goto done;
    if (b->extra > 0 &&
        ((error = osr__build_step(b, "grow the root partition and file system")) < 0 ||
         (error = grow(&x)) < 0))
        goto done;
    if ((error = osr__build_step(b, "mount the root file system")) < 0 ||
        (error = mount_root(&x)) < 0)
        goto done;
    if (b->o->packages && b->o->packages[0] &&
        ((error = osr__build_step(b, "install packages with apt-get")) < 0 ||
         (error = install_packages(&x)) < 0))
        goto done;
    if ((error = osr__build_step(b, "unpack the runner into " OSR__RUNNER_DIR)) < 0 ||
        (error = unpack_runner(&x)) < 0)
        goto done;
    if ((error = osr__build_step(b, "create user ubuntu (groups docker, sudo)")) < 0 ||
        (error = create_user(&x)) < 0)
        goto done;
    if (osr__proxy_any(&b->o->proxy) &&
        ((error = osr__build_step(b, "write the proxy settings")) < 0 ||
         (error = write_proxy(&x)) < 0))
        goto done;
    if (b->o->script &&
        ((error = osr__build_step(b, "run the custom script")) < 0 || (error = run_script(&x)) < 0))
        goto done;
    if ((error = osr__build_step(b, "clean up and close the image")) < 0 ||
        (error = finish(&x)) < 0)
        goto done;
    if ((error = osr__build_step(b, "compress to qcow2")) < 0 ||
        (error = osr__build_compress(b, x.overlay, "qcow2")) < 0)
        goto done;
done:
    if (x.g)
        guestfs_close(x.g);
    osr__accounts_free(&x.acc);
    for (size_t i = 0; i < x.nmade; i++)
        free(x.made[i]);
    free(x.root);
    free(x.tar);
    free(x.overlay);
    return error;
}
