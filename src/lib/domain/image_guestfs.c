/* The libguestfs backend (module image-guestfs.so, the only code that links
 * libguestfs): the image is changed by the libguestfs appliance (its own
 * kernel, under KVM or TCG), so packages can be installed and a script run
 * inside the guest, with no root, nbd or host mounts. What is written is the
 * recipe's (image_recipe.c), so both backends give the same files. */
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
    char *tar;       /* the runner tarball, re-owned for tar_in */
    char *root;      /* root device, e.g. /dev/sda1 */
    bool tar_top;    /* the tarball has a "./" entry */
    bool guest_code; /* packages or a script ran */
    /* The kernel touches a directory that gets new entries; libext2fs does
     * not. The directories we add entries to keep the times they had
     * before (kept); those we made get the recipe's times (made). */
    struct kept {
        char *path;
        int64_t atime, mtime;
    } * kept;
    size_t nkept;
    char **made;
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

static bool listed(char *const *v, size_t n, const char *path)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i], path) == 0)
            return true;
    }
    return false;
}

/* Before adding an entry to path's directory: remember its times, once,
 * unless we made it. */
static int keep_parent(struct gx *x, const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash == path ? osr__strdup("/") : osr__strndup(path, (size_t)(slash - path));
    struct guestfs_statns *st;
    struct kept *k;
    bool seen = false;

    if (dir == NULL || slash == NULL) {
        free(dir);
        return osr__error_set(x->b->err, OSR_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < x->nkept; i++)
        seen = seen || strcmp(x->kept[i].path, dir) == 0;
    if (seen || listed(x->made, x->nmade, dir)) {
        free(dir);
        return 0;
    }
    if ((st = guestfs_lstatns(x->g, dir)) == NULL) {
        int error = gerr(x, dir);
        free(dir);
        return error;
    }
    if ((k = realloc(x->kept, (x->nkept + 1) * sizeof(*k))) == NULL) {
        guestfs_free_statns(st);
        free(dir);
        return osr__error_set(x->b->err, OSR_ENOMEM, "out of memory");
    }
    x->kept = k;
    k[x->nkept].path = dir;
    k[x->nkept].atime = st->st_atime_sec;
    k[x->nkept].mtime = st->st_mtime_sec;
    x->nkept++;
    guestfs_free_statns(st);
    return 0;
}

static int restore_dir_times(struct gx *x)
{
    for (size_t i = 0; i < x->nkept; i++) {
        struct kept *k = &x->kept[i];
        if (guestfs_utimens(x->g, k->path, k->atime, 0, k->mtime, 0) < 0)
            return gerr(x, k->path);
    }
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
    osr_accel accel = b->accel_mode;
    bool net = (b->o->packages && b->o->packages[0]) || b->o->script;

    x->g = guestfs_create_flags(0);
    if (x->g == NULL)
        return osr__error_set(b->err, OSR_ERROR, "cannot create a libguestfs handle");
    /* The library never prints: errors are read with guestfs_last_error. */
    guestfs_set_error_handler(x->g, NULL, NULL);
    guestfs_set_event_callback(x->g, on_event, GUESTFS_EVENT_PROGRESS | GUESTFS_EVENT_WARNING, 0,
                               x);
    b->accel = accel == OSR_ACCEL_KVM ? "kvm" : "tcg";
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

static int gfs_grow(void *state)
{
    struct gx *x = state;
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

static int gfs_mount(void *state)
{
    struct gx *x = state;
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
    return 0;
}

static int gfs_install_packages(void *state)
{
    struct gx *x = state;
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

static int gfs_run_script(void *state)
{
    struct gx *x = state;
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

/* ----------------------------------------------------------- the operations */

static int gfs_prepare(void **state, osr__build *b)
{
    struct gx *x = calloc(1, sizeof(*x));
    char size[32];

    if (x == NULL)
        return osr__error_set(b->err, OSR_ENOMEM, "out of memory");
    *state = x;
    x->b = b;
    if ((x->overlay = osr__build_path(b, "overlay.qcow2")) == NULL)
        return osr__error_set(b->err, OSR_ENOMEM, "out of memory");
    snprintf(size, sizeof(size), "%lld", b->base_vsize + (b->extra > 0 ? b->extra : 0));
    {
        /* guestfs_disk_create refuses a size together with a backing file. */
        const char *argv[] = { "qemu-img",     "create", "-q",       "-f",       "qcow2", "-F",
                               b->base_format, "-b",     b->o->base, x->overlay, size,    NULL };
        return osr__build_run(b, argv, NULL, NULL);
    }
}

static int gfs_launch(void *state)
{
    int error = launch(state);
    return error < 0 ? error : find_root(state);
}

static int gfs_lstat(void *state, const char *path, osr__stat *st)
{
    struct gx *x = state;
    struct guestfs_statns *s = guestfs_lstatns(x->g, path);

    memset(st, 0, sizeof(*st));
    if (s == NULL) {
        int e = guestfs_last_errno(x->g);
        return e == ENOENT || e == ENOTDIR ? 0 : gerr(x, path);
    }
    st->type = S_ISDIR(s->st_mode)   ? 'd'
               : S_ISREG(s->st_mode) ? 'f'
               : S_ISLNK(s->st_mode) ? 'l'
                                     : 'o';
    st->perm = (unsigned int)(s->st_mode & 07777);
    st->mtime = s->st_mtime_sec;
    guestfs_free_statns(s);
    return 0;
}

static int gfs_read_file(void *state, const char *path, bool follow, char **out, size_t *len)
{
    struct gx *x = state;
    size_t size = 0;
    char *data;

    *out = NULL;
    if (guestfs_is_file_opts(x->g, path, GUESTFS_IS_FILE_OPTS_FOLLOWSYMLINKS, follow ? 1 : 0, -1) !=
        1)
        return 0;
    if ((data = guestfs_read_file(x->g, path, &size)) == NULL)
        return gerr(x, path);
    *out = osr__strndup(data, size);
    free(data);
    if (*out == NULL)
        return osr__error_set(x->b->err, OSR_ENOMEM, "out of memory");
    if (len)
        *len = size;
    return 0;
}

/* Mode, owner (-1 keeps, as for lchown(2)) and times. */
static int apply_attr(struct gx *x, const char *path, const osr__attr *a)
{
    if ((a->perm >= 0 && guestfs_chmod(x->g, a->perm, path) < 0) ||
        ((a->uid >= 0 || a->gid >= 0) &&
         guestfs_lchown(x->g, (int)a->uid, (int)a->gid, path) < 0) ||
        guestfs_utimens(x->g, path, a->mtime, 0, a->mtime, 0) < 0)
        return gerr(x, path);
    return 0;
}

static int
gfs_write_file(void *state, const char *path, const char *data, size_t len, const osr__attr *a)
{
    struct gx *x = state;
    int error;

    if (guestfs_exists(x->g, path) != 1 && (error = keep_parent(x, path)) < 0)
        return error;
    if (guestfs_write(x->g, path, data, len) < 0)
        return gerr(x, path);
    return apply_attr(x, path, a);
}

static int gfs_mkdir(void *state, const char *path, const osr__attr *a)
{
    struct gx *x = state;
    char **made, *copy;
    int error;

    if ((error = keep_parent(x, path)) < 0)
        return error;
    if (guestfs_mkdir(x->g, path) < 0)
        return gerr(x, path);
    if ((copy = osr__strdup(path)) == NULL ||
        (made = realloc(x->made, (x->nmade + 1) * sizeof(*made))) == NULL) {
        free(copy);
        return osr__error_set(x->b->err, OSR_ENOMEM, "out of memory");
    }
    x->made = made;
    made[x->nmade++] = copy;
    return apply_attr(x, path, a);
}

static int gfs_set_attr(void *state, const char *path, const osr__attr *a)
{
    return apply_attr(state, path, a);
}

static int gfs_list_dir(void *state, const char *path, char ***names)
{
    struct gx *x = state;

    if ((*names = guestfs_ls(x->g, path)) == NULL)
        return gerr(x, path);
    return 0;
}

static int gfs_unpack(void *state, const char *dir, bool *has_top)
{
    struct gx *x = state;
    int error;

    if ((error = rewrite_tarball(x)) < 0)
        return error;
    if (guestfs_tar_in_opts(x->g, x->tar, dir, -1) < 0)
        return gerr(x, "unpacking the runner");
    unlink(x->tar);
    *has_top = x->tar_top;
    return 0;
}

static int gfs_close(void *state, const char **disk, const char **format)
{
    struct gx *x = state;
    int error = finish(x);

    if (error == 0) {
        *disk = x->overlay;
        *format = "qcow2";
    }
    return error;
}

static void gfs_free(void *state)
{
    struct gx *x = state;

    if (x->g)
        guestfs_close(x->g);
    for (size_t i = 0; i < x->nkept; i++)
        free(x->kept[i].path);
    free(x->kept);
    for (size_t i = 0; i < x->nmade; i++)
        free(x->made[i]);
    free(x->made);
    free(x->root);
    free(x->tar);
    free(x->overlay);
    free(x);
}

OSR__BACKEND_EXPORT const osr__backend osr_image_backend_v1 = {
    .abi = OSR__BACKEND_ABI,
    .build_size = sizeof(osr__build),
    .vtable_size = sizeof(osr__backend),
    .name = "guestfs",
    .runs_guest_code = true,
    .uses_accel = true,
    .prepare_step = "create an overlay on the base image",
    .launch_step = "launch the libguestfs appliance",
    .mount_step = "mount the root file system",
    .close_step = "clean up and close the image",
    .prepare = gfs_prepare,
    .launch = gfs_launch,
    .grow = gfs_grow,
    .mount = gfs_mount,
    .lstat = gfs_lstat,
    .read_file = gfs_read_file,
    .write_file = gfs_write_file,
    .mkdir = gfs_mkdir,
    .set_attr = gfs_set_attr,
    .list_dir = gfs_list_dir,
    .unpack = gfs_unpack,
    .install_packages = gfs_install_packages,
    .run_script = gfs_run_script,
    .close = gfs_close,
    .free = gfs_free,
};
