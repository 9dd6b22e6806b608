/* The offline backend (module image-offline.so): no VM, no root, no mounts.
 * qemu-img turns the base into a raw disk, sfdisk grows the root partition
 * in the file, resize2fs grows the extracted file system, and libext2fs
 * reaches the files, with explicit owners, modes and times. It runs no guest
 * code, so it cannot install packages. What is written is the recipe's
 * (image_recipe.c). */
#include "image_internal.h"

#include "fs.h"

#include <errno.h>
#include <et/com_err.h>
#include <ext2fs/ext2fs.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_TEXT_FILE (16u << 20)

struct off {
    osr__build *b;
    ext2_filsys fs;
    char *raw;       /* the whole disk */
    char *part;      /* the extracted root partition, when growing */
    long long start; /* byte offset of the root partition in raw */
    long long size;  /* its size in bytes */
    int partno;
    int nparts;
    bool last; /* the root partition is the last one on the disk */
    ext2_ino_t runner_ino;
    long long entries, entries_total;
};

static int fs_error(osr__build *b, errcode_t e, const char *what)
{
    return osr__error_set(b->err, OSR_EIO, "%s: %s", what, error_message(e));
}

/* ------------------------------------------------------------ libext2fs ops */

static void set_times(struct ext2_inode_large *li, ext2_filsys fs, int64_t t)
{
    __u32 v = (__u32)t;
    li->i_atime = li->i_mtime = li->i_ctime = v;
    if (EXT2_INODE_SIZE(fs->super) > EXT2_GOOD_OLD_INODE_SIZE &&
        li->i_extra_isize >=
            offsetof(struct ext2_inode_large, i_crtime_extra) + 4 - EXT2_GOOD_OLD_INODE_SIZE) {
        li->i_crtime = v;
        li->i_ctime_extra = li->i_mtime_extra = li->i_atime_extra = li->i_crtime_extra = 0;
    }
}

/* Owner, permission bits and times of an inode (perm, uid, gid < 0: keep). */
static errcode_t set_meta(ext2_filsys fs, ext2_ino_t ino, int perm, long uid, long gid, int64_t t)
{
    struct ext2_inode_large li;
    errcode_t e;

    memset(&li, 0, sizeof(li));
    if ((e = ext2fs_read_inode_full(fs, ino, (struct ext2_inode *)&li, sizeof(li))) != 0)
        return e;
    if (uid >= 0) {
        li.i_uid = (__u16)((unsigned long)uid & 0xffff);
        ext2fs_set_i_uid_high(li, (__u16)((unsigned long)uid >> 16));
    }
    if (gid >= 0) {
        li.i_gid = (__u16)((unsigned long)gid & 0xffff);
        ext2fs_set_i_gid_high(li, (__u16)((unsigned long)gid >> 16));
    }
    if (perm >= 0)
        li.i_mode = (__u16)((li.i_mode & LINUX_S_IFMT) | ((unsigned int)perm & 07777));
    set_times(&li, fs, t);
    return ext2fs_write_inode_full(fs, ino, (struct ext2_inode *)&li, sizeof(li));
}

static errcode_t
link_in(ext2_filsys fs, ext2_ino_t parent, const char *name, ext2_ino_t ino, int ft)
{
    errcode_t e = ext2fs_link(fs, parent, name, ino, ft);
    if (e == EXT2_ET_DIR_NO_SPACE) {
        if ((e = ext2fs_expand_dir(fs, parent)) != 0)
            return e;
        e = ext2fs_link(fs, parent, name, ino, ft);
    }
    return e;
}

static errcode_t lookup_in(ext2_filsys fs, ext2_ino_t dir, const char *name, ext2_ino_t *ino)
{
    return ext2fs_lookup(fs, dir, name, (int)strlen(name), NULL, ino);
}

/* mkdir NAME in PARENT; an existing directory is returned as it is. */
static errcode_t
mkdir_in(ext2_filsys fs, ext2_ino_t parent, const char *name, ext2_ino_t *out, bool *made)
{
    struct ext2_inode inode;
    errcode_t e;

    *made = false;
    if (lookup_in(fs, parent, name, out) == 0) {
        if ((e = ext2fs_read_inode(fs, *out, &inode)) != 0)
            return e;
        return LINUX_S_ISDIR(inode.i_mode) ? 0 : EXT2_ET_FILE_EXISTS;
    }
    e = ext2fs_mkdir(fs, parent, 0, name);
    if (e == EXT2_ET_DIR_NO_SPACE) {
        if ((e = ext2fs_expand_dir(fs, parent)) != 0)
            return e;
        e = ext2fs_mkdir(fs, parent, 0, name);
    }
    if (e != 0)
        return e;
    *made = true;
    return lookup_in(fs, parent, name, out);
}

/* A new, empty regular file NAME in PARENT. */
static errcode_t new_file(ext2_filsys fs, ext2_ino_t parent, const char *name, ext2_ino_t *out)
{
    struct ext2_inode inode;
    ext2_ino_t ino, existing;
    errcode_t e;

    if (lookup_in(fs, parent, name, &existing) == 0)
        return EXT2_ET_FILE_EXISTS;
    if ((e = ext2fs_new_inode(fs, parent, LINUX_S_IFREG | 0644, NULL, &ino)) != 0)
        return e;
    memset(&inode, 0, sizeof(inode));
    inode.i_mode = LINUX_S_IFREG | 0644;
    inode.i_links_count = 1;
    if (ext2fs_has_feature_extents(fs->super)) {
        ext2_extent_handle_t h;
        if ((e = ext2fs_extent_open2(fs, ino, &inode, &h)) != 0)
            return e;
        ext2fs_extent_free(h);
    }
    if ((e = ext2fs_write_new_inode(fs, ino, &inode)) != 0)
        return e;
    ext2fs_inode_alloc_stats2(fs, ino, +1, 0);
    if ((e = link_in(fs, parent, name, ino, EXT2_FT_REG_FILE)) != 0)
        return e;
    *out = ino;
    return 0;
}

/* Replace the contents of a regular file. */
static errcode_t write_data(ext2_filsys fs, ext2_ino_t ino, const char *data, size_t len)
{
    ext2_file_t f;
    errcode_t e, e2;

    if ((e = ext2fs_file_open(fs, ino, EXT2_FILE_WRITE, &f)) != 0)
        return e;
    e = ext2fs_file_set_size2(f, 0);
    while (e == 0 && len > 0) {
        unsigned int w = 0, chunk = len > (1u << 20) ? (1u << 20) : (unsigned int)len;
        e = ext2fs_file_write(f, data, chunk, &w);
        if (e == 0 && w == 0)
            e = EXT2_ET_SHORT_WRITE;
        data += w;
        len -= w;
    }
    e2 = ext2fs_file_close(f);
    return e ? e : e2;
}

static errcode_t read_data(ext2_filsys fs, ext2_ino_t ino, char **out, size_t *len_out)
{
    struct ext2_inode inode;
    ext2_file_t f;
    unsigned long long size;
    char *buf;
    unsigned int got = 0;
    errcode_t e;

    if ((e = ext2fs_read_inode(fs, ino, &inode)) != 0)
        return e;
    size = EXT2_I_SIZE(&inode);
    if (!LINUX_S_ISREG(inode.i_mode) || size > MAX_TEXT_FILE)
        return EXT2_ET_FILE_TOO_BIG;
    if ((buf = malloc((size_t)size + 1)) == NULL)
        return EXT2_ET_NO_MEMORY;
    if ((e = ext2fs_file_open(fs, ino, 0, &f)) != 0) {
        free(buf);
        return e;
    }
    e = ext2fs_file_read(f, buf, (unsigned int)size, &got);
    ext2fs_file_close(f);
    if (e == 0 && got != size)
        e = EXT2_ET_SHORT_READ;
    if (e != 0) {
        free(buf);
        return e;
    }
    buf[size] = '\0';
    *out = buf;
    if (len_out)
        *len_out = (size_t)size;
    return 0;
}

static errcode_t namei(ext2_filsys fs, const char *path, bool follow, ext2_ino_t *ino)
{
    return follow ? ext2fs_namei_follow(fs, EXT2_ROOT_INO, EXT2_ROOT_INO, path, ino)
                  : ext2fs_namei(fs, EXT2_ROOT_INO, EXT2_ROOT_INO, path, ino);
}

/* Split "/a/b/c" into the parent's inode and "c". */
static errcode_t parent_of(ext2_filsys fs, const char *path, ext2_ino_t *parent, const char **leaf)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');

    if (slash == NULL || (size_t)(slash - path) >= sizeof(dir))
        return EXT2_ET_FILE_NOT_FOUND;
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = '\0';
    *leaf = slash + 1;
    if (dir[0] == '\0')
        return (*parent = EXT2_ROOT_INO, 0);
    return ext2fs_namei(fs, EXT2_ROOT_INO, EXT2_ROOT_INO, dir, parent);
}

/* mkdir -p an absolute path; new directories get perm/uid/gid/t. */
static errcode_t
mkdir_p(ext2_filsys fs, const char *path, int perm, long uid, long gid, int64_t t, ext2_ino_t *out)
{
    ext2_ino_t cur = EXT2_ROOT_INO;
    const char *p = path;
    char name[256];
    errcode_t e;

    while (*p) {
        const char *slash;
        size_t len;
        bool made;
        while (*p == '/')
            p++;
        if (!*p)
            break;
        slash = strchr(p, '/');
        len = slash ? (size_t)(slash - p) : strlen(p);
        if (len >= sizeof(name))
            return EXT2_ET_INVALID_ARGUMENT;
        memcpy(name, p, len);
        name[len] = '\0';
        if ((e = mkdir_in(fs, cur, name, &cur, &made)) != 0)
            return e;
        if (made && (e = set_meta(fs, cur, perm, uid, gid, t)) != 0)
            return e;
        p += len;
    }
    *out = cur;
    return 0;
}

static char *opt_escape(const char *s)
{
    /* qemu's option syntax: a comma in a value is written twice. */
    osr__buf b = OSR__BUF_INIT;
    for (; *s; s++) {
        if (osr__buf_append(&b, s, 1) < 0 || (*s == ',' && osr__buf_append(&b, ",", 1) < 0)) {
            osr__buf_free(&b);
            return NULL;
        }
    }
    return osr__buf_detach(&b);
}

/* The root partition: the one with label cloudimg-rootfs, else the only ext file system. */
static int find_root(struct off *x)
{
    const char *argv[] = { "sfdisk", "--json", x->raw, NULL };
    char *out = NULL;
    json_t *root, *parts, *p;
    long long sector, best_start = -1, max_start = -1;
    size_t i, n_ext = 0;
    int error;

    if ((error = osr__build_run(x->b, argv, NULL, &out)) < 0)
        return osr__error_prefix(x->b->err, "reading the partition table");
    root = json_loads(out, 0, NULL);
    free(out);
    parts = json_object_get(json_object_get(root, "partitiontable"), "partitions");
    sector =
        json_integer_value(json_object_get(json_object_get(root, "partitiontable"), "sectorsize"));
    if (sector <= 0)
        sector = 512;
    if (!json_is_array(parts) || json_array_size(parts) == 0) {
        json_decref(root);
        return osr__error_set(x->b->err, OSR_EINVAL,
                              "the base image has no partition table (GPT or MBR expected)");
    }
    x->nparts = (int)json_array_size(parts);
    json_array_foreach(parts, i, p)
    {
        long long start = json_integer_value(json_object_get(p, "start")) * sector;
        long long size = json_integer_value(json_object_get(p, "size")) * sector;
        const char *node = json_string_value(json_object_get(p, "node"));
        const char *label = NULL;
        ext2_filsys fs = NULL;
        char opts[64];
        size_t rl = strlen(x->raw);
        int num = node && strlen(node) > rl ? (int)strtol(node + rl, NULL, 10) : (int)i + 1;

        if (start > max_start)
            max_start = start;
        snprintf(opts, sizeof(opts), "offset=%lld", start);
        if (ext2fs_open2(x->raw, opts, EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &fs) != 0)
            continue;
        n_ext++;
        label = fs->super->s_volume_name[0] ? (const char *)fs->super->s_volume_name : "";
        if (best_start < 0 || strncmp(label, "cloudimg-rootfs", 16) == 0) {
            if (best_start < 0 || strncmp(label, "cloudimg-rootfs", 16) == 0) {
                best_start = start;
                x->start = start;
                x->size = size;
                x->partno = num;
            }
        }
        ext2fs_close_free(&fs);
    }
    json_decref(root);
    if (best_start < 0)
        return osr__error_set(x->b->err, OSR_EINVAL,
                              "the base image has no ext2/3/4 root file system");
    x->last = x->start == max_start;
    (void)n_ext;
    return 0;
}

static int off_grow(void *state)
{
    struct off *x = state;
    osr__build *b = x->b;
    char *img = NULL, *spec = NULL, *num = NULL;
    int error, fd;

    if (!x->last)
        return osr__error_set(b->err, OSR_EINVAL,
                              "the root partition (%d) is not the last one on the disk, so the "
                              "offline backend cannot grow it; use --extra-size 0 or the "
                              "guestfs backend",
                              x->partno);
    fd = open(x->raw, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ftruncate(fd, (off_t)(b->base_vsize + b->extra)) != 0) {
        error = osr__error_set(b->err, OSR_EIO, "%s: %s", x->raw, strerror(errno));
        if (fd >= 0)
            close(fd);
        return error;
    }
    close(fd);
    if ((num = osr__sprintf("%d", x->partno)) == NULL)
        return osr__error_set(b->err, OSR_ENOMEM, "out of memory");
    {
        /* ", +": same start, as large as possible; sfdisk also moves the GPT backup header. */
        const char *argv[] = { "sfdisk", "-q", "--no-reread", "--no-tell-kernel",
                               "-N",     num,  x->raw,        NULL };
        error = osr__build_run(b, argv, ", +\n", NULL);
    }
    free(num);
    if (error < 0)
        return error;
    if ((error = find_root(x)) < 0)
        return error;
    if ((img = opt_escape(x->raw)) == NULL ||
        (spec = osr__sprintf("driver=raw,offset=%lld,size=%lld,file.driver=file,file.filename=%s",
                             x->start, x->size, img)) == NULL ||
        (x->part = osr__build_path(b, "root.img")) == NULL) {
        error = osr__error_set(b->err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    {
        const char *argv[] = { "qemu-img", "convert", "--image-opts", spec,
                               "-O",       "raw",     x->part,        NULL };
        if ((error = osr__build_run(b, argv, NULL, NULL)) < 0)
            goto done;
    }
    {
        /* resize2fs wants a freshly checked file system. */
        const char *fsck[] = { "e2fsck", "-f", "-p", x->part, NULL };
        const char *resize[] = { "resize2fs", x->part, NULL };
        if ((error = osr__build_run(b, fsck, NULL, NULL)) < 0 ||
            (error = osr__build_run(b, resize, NULL, NULL)) < 0)
            goto done;
    }
done:
    free(spec);
    free(img);
    return error;
}

static int write_back(struct off *x)
{
    char *img = opt_escape(x->raw), *spec = NULL;
    int error;

    spec = img ? osr__sprintf("driver=raw,offset=%lld,size=%lld,file.driver=file,file.filename=%s",
                              x->start, x->size, img)
               : NULL;
    if (spec == NULL) {
        free(img);
        return osr__error_set(x->b->err, OSR_ENOMEM, "out of memory");
    }
    {
        const char *argv[] = {
            "qemu-img", "convert", "-n", "-f", "raw", x->part, "--target-image-opts", spec, NULL
        };
        error = osr__build_run(x->b, argv, NULL, NULL);
    }
    free(spec);
    free(img);
    if (error == 0)
        unlink(x->part);
    return error;
}

static int off_mount(void *state)
{
    struct off *x = state;
    char opts[64];
    const char *dev = x->part ? x->part : x->raw;
    errcode_t e;

    snprintf(opts, sizeof(opts), "offset=%lld", x->part ? 0LL : x->start);
    e = ext2fs_open2(dev, opts, EXT2_FLAG_RW | EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &x->fs);
    if (e == 0 && (e = ext2fs_read_bitmaps(x->fs)) != 0)
        ext2fs_close_free(&x->fs);
    if (e != 0)
        return fs_error(x->b, e, "opening the root file system");
    return 0;
}

static int close_fs(struct off *x)
{
    errcode_t e;
    if (x->fs == NULL)
        return 0;
    e = ext2fs_close_free(&x->fs);
    return e ? fs_error(x->b, e, "writing the root file system") : 0;
}

/* -------------------------------------------------------------- the runner */

static int runner_entry(const osr__tar_entry *te, void *tar, void *payload)
{
    struct off *x = payload;
    osr__build *b = x->b;
    ext2_filsys fs = x->fs;
    ext2_ino_t parent = x->runner_ino, ino;
    const char *leaf = te->path;
    const char *slash = strrchr(te->path, '/');
    char where[4200];
    errcode_t e = 0;

    snprintf(where, sizeof(where), OSR__RUNNER_DIR "/%s", te->path);
    if (osr__build_cancelled(b))
        return osr__error_set(b->err, OSR_EINTERRUPTED, "interrupted");
    if (*te->path == '\0') {
        /* "./": the runner directory itself. */
        e = set_meta(fs, x->runner_ino, (int)te->perm, b->uid, b->gid, te->mtime);
        return e ? fs_error(b, e, where) : 0;
    }
    if (slash) {
        char dir[4096];
        memcpy(dir, te->path, (size_t)(slash - te->path));
        dir[slash - te->path] = '\0';
        leaf = slash + 1;
        e = ext2fs_namei(fs, EXT2_ROOT_INO, x->runner_ino, dir, &parent);
        if (e == EXT2_ET_FILE_NOT_FOUND) {
            /* A tarball may omit directory entries: create them. */
            char abs[4200];
            snprintf(abs, sizeof(abs), OSR__RUNNER_DIR "/%s", dir);
            e = mkdir_p(fs, abs, 0755, b->uid, b->gid, te->mtime, &parent);
        }
        if (e)
            return fs_error(b, e, where);
    }
    switch (te->type) {
    case 'd': {
        bool made;
        if ((e = mkdir_in(fs, parent, leaf, &ino, &made)) == 0)
            e = set_meta(fs, ino, (int)te->perm, b->uid, b->gid, te->mtime);
        break;
    }
    case 'f': {
        ext2_file_t f;
        char buf[1 << 16];
        ssize_t n;
        if ((e = new_file(fs, parent, leaf, &ino)) != 0)
            break;
        if ((e = ext2fs_file_open(fs, ino, EXT2_FILE_WRITE, &f)) != 0)
            break;
        while ((n = osr__tar_read(tar, buf, sizeof(buf))) > 0 && e == 0) {
            const char *p = buf;
            while (n > 0 && e == 0) {
                unsigned int w = 0;
                e = ext2fs_file_write(f, p, (unsigned int)n, &w);
                if (e == 0 && w == 0)
                    e = EXT2_ET_SHORT_WRITE;
                p += w;
                n -= w;
            }
        }
        {
            errcode_t e2 = ext2fs_file_close(f);
            if (e == 0)
                e = e2;
        }
        if (e == 0 && n < 0)
            return osr__error_set(b->err, OSR_EIO, "%s: the tarball is corrupt",
                                  b->o->runner_tarball);
        if (e == 0)
            e = set_meta(fs, ino, (int)te->perm, b->uid, b->gid, te->mtime);
        break;
    }
    case 'l': {
        ext2_ino_t existing;
        if (lookup_in(fs, parent, leaf, &existing) == 0) {
            e = EXT2_ET_FILE_EXISTS;
            break;
        }
        e = ext2fs_symlink(fs, parent, 0, leaf, te->target);
        if (e == EXT2_ET_DIR_NO_SPACE) {
            if ((e = ext2fs_expand_dir(fs, parent)) == 0)
                e = ext2fs_symlink(fs, parent, 0, leaf, te->target);
        }
        if (e == 0 && (e = lookup_in(fs, parent, leaf, &ino)) == 0)
            e = set_meta(fs, ino, 0777, b->uid, b->gid, te->mtime);
        break;
    }
    case 'h': {
        struct ext2_inode inode;
        ext2_ino_t existing;
        if ((e = ext2fs_namei(fs, EXT2_ROOT_INO, x->runner_ino, te->target, &ino)) != 0)
            break;
        if (lookup_in(fs, parent, leaf, &existing) == 0) {
            e = EXT2_ET_FILE_EXISTS;
            break;
        }
        if ((e = ext2fs_read_inode(fs, ino, &inode)) != 0)
            break;
        if (!LINUX_S_ISREG(inode.i_mode)) {
            e = EXT2_ET_INVALID_ARGUMENT;
            break;
        }
        if ((e = link_in(fs, parent, leaf, ino, EXT2_FT_REG_FILE)) != 0)
            break;
        inode.i_links_count++;
        e = ext2fs_write_inode(fs, ino, &inode);
        break;
    }
    default:
        e = EXT2_ET_INVALID_ARGUMENT;
    }
    if (e == EXT2_ET_FILE_EXISTS)
        return osr__error_set(b->err, OSR_ERROR, "%s already exists in the base image", where);
    if (e)
        return fs_error(b, e, where);
    x->entries++;
    if ((x->entries & 63) == 0)
        osr__build_progress(b, x->entries, -1);
    return 0;
}

/* ----------------------------------------------------------- the operations */

static int off_prepare(void **state, osr__build *b)
{
    struct off *x = calloc(1, sizeof(*x));
    int error;

    if (x == NULL)
        return osr__error_set(b->err, OSR_ENOMEM, "out of memory");
    *state = x;
    x->b = b;
    initialize_ext2_error_table();
    if ((x->raw = osr__build_path(b, "disk.raw")) == NULL)
        return osr__error_set(b->err, OSR_ENOMEM, "out of memory");
    {
        const char *argv[] = { "qemu-img", "convert", "-p",       "-f",   b->base_format,
                               "-O",       "raw",     b->o->base, x->raw, NULL };
        if ((error = osr__build_run(b, argv, NULL, NULL)) < 0)
            return error;
    }
    return find_root(x);
}

static int off_lstat(void *state, const char *path, osr__stat *st)
{
    struct off *x = state;
    struct ext2_inode inode;
    ext2_ino_t ino;
    errcode_t e = namei(x->fs, path, false, &ino);

    memset(st, 0, sizeof(*st));
    if (e == EXT2_ET_FILE_NOT_FOUND || e == EXT2_ET_NO_DIRECTORY)
        return 0;
    if (e == 0)
        e = ext2fs_read_inode(x->fs, ino, &inode);
    if (e != 0)
        return fs_error(x->b, e, path);
    st->type = LINUX_S_ISDIR(inode.i_mode)   ? 'd'
               : LINUX_S_ISREG(inode.i_mode) ? 'f'
               : LINUX_S_ISLNK(inode.i_mode) ? 'l'
                                             : 'o';
    st->perm = inode.i_mode & 07777;
    st->mtime = (int64_t)inode.i_mtime;
    return 0;
}

static int off_read_file(void *state, const char *path, bool follow, char **out, size_t *len)
{
    struct off *x = state;
    struct ext2_inode inode;
    ext2_ino_t ino;
    errcode_t e = namei(x->fs, path, follow, &ino);

    *out = NULL;
    if (e == EXT2_ET_FILE_NOT_FOUND || e == EXT2_ET_NO_DIRECTORY)
        return 0;
    if (e == 0 && (e = ext2fs_read_inode(x->fs, ino, &inode)) == 0 && !LINUX_S_ISREG(inode.i_mode))
        return 0;
    if (e == 0)
        e = read_data(x->fs, ino, out, len);
    return e ? fs_error(x->b, e, path) : 0;
}

static int
off_write_file(void *state, const char *path, const char *data, size_t len, const osr__attr *a)
{
    struct off *x = state;
    ext2_ino_t parent, ino;
    const char *leaf;
    errcode_t e;

    if ((e = parent_of(x->fs, path, &parent, &leaf)) == 0 &&
        lookup_in(x->fs, parent, leaf, &ino) != 0)
        e = new_file(x->fs, parent, leaf, &ino);
    if (e == 0 && (e = write_data(x->fs, ino, data, len)) == 0)
        e = set_meta(x->fs, ino, a->perm, a->uid, a->gid, a->mtime);
    return e ? fs_error(x->b, e, path) : 0;
}

static int off_mkdir(void *state, const char *path, const osr__attr *a)
{
    struct off *x = state;
    ext2_ino_t parent, ino;
    const char *leaf;
    bool made;
    errcode_t e;

    if ((e = parent_of(x->fs, path, &parent, &leaf)) == 0 &&
        (e = mkdir_in(x->fs, parent, leaf, &ino, &made)) == 0)
        e = made ? set_meta(x->fs, ino, a->perm, a->uid, a->gid, a->mtime) : EXT2_ET_FILE_EXISTS;
    return e ? fs_error(x->b, e, path) : 0;
}

static int off_set_attr(void *state, const char *path, const osr__attr *a)
{
    struct off *x = state;
    ext2_ino_t ino;
    errcode_t e = namei(x->fs, path, false, &ino);

    if (e == 0)
        e = set_meta(x->fs, ino, a->perm, a->uid, a->gid, a->mtime);
    return e ? fs_error(x->b, e, path) : 0;
}

struct names {
    osr__buf list; /* names, each NUL-terminated */
    size_t n;
    int error;
};

static int name_entry(ext2_ino_t dir,
                      int entry,
                      struct ext2_dir_entry *de,
                      int offset,
                      int blocksize,
                      char *buf,
                      void *priv)
{
    struct names *nm = priv;
    int len = ext2fs_dirent_name_len(de);

    (void)dir;
    (void)entry;
    (void)offset;
    (void)blocksize;
    (void)buf;
    if ((len == 1 && de->name[0] == '.') || (len == 2 && strncmp(de->name, "..", 2) == 0))
        return 0;
    if (osr__buf_append(&nm->list, de->name, (size_t)len) < 0 ||
        osr__buf_append(&nm->list, "", 1) < 0) {
        nm->error = OSR_ENOMEM;
        return DIRENT_ABORT;
    }
    nm->n++;
    return 0;
}

static int off_list_dir(void *state, const char *path, char ***out)
{
    struct off *x = state;
    struct names nm = { OSR__BUF_INIT, 0, 0 };
    ext2_ino_t ino;
    char **v = NULL;
    errcode_t e = namei(x->fs, path, false, &ino);
    int error = 0;

    if (e == 0)
        e = ext2fs_dir_iterate2(x->fs, ino, 0, NULL, name_entry, &nm);
    if (e != 0 && nm.error == 0)
        error = fs_error(x->b, e, path);
    else if (nm.error < 0 || (v = calloc(nm.n + 1, sizeof(*v))) == NULL)
        error = osr__error_set(x->b->err, OSR_ENOMEM, "out of memory");
    for (size_t i = 0, off = 0; error == 0 && i < nm.n; i++) {
        if ((v[i] = osr__strdup(nm.list.data + off)) == NULL)
            error = osr__error_set(x->b->err, OSR_ENOMEM, "out of memory");
        else
            off += strlen(v[i]) + 1;
    }
    osr__buf_free(&nm.list);
    if (error < 0) {
        for (size_t i = 0; v && v[i]; i++)
            free(v[i]);
        free(v);
        return error;
    }
    *out = v;
    return 0;
}

static int off_unpack(void *state, const char *dir, bool *has_top)
{
    struct off *x = state;
    osr__build *b = x->b;
    struct ext2_inode inode;
    int64_t newest = 0;
    errcode_t e;
    int error;

    if ((e = namei(x->fs, dir, false, &x->runner_ino)) != 0)
        return fs_error(b, e, dir);
    if ((error = osr__tar_walk(b->o->runner_tarball, runner_entry, x, &newest, NULL, b->err)) < 0)
        return error;
    if (b->epoch < 0)
        b->epoch = newest;
    if ((e = ext2fs_read_inode(x->fs, x->runner_ino, &inode)) != 0)
        return fs_error(b, e, dir);
    *has_top = inode.i_mtime != 0;
    x->fs->now = (time_t)b->epoch;
    return 0;
}

static int off_close(void *state, const char **disk, const char **format)
{
    struct off *x = state;
    char *dev;
    int error;

    if ((error = close_fs(x)) < 0)
        return error;
    dev = x->part ? osr__strdup(x->part) : osr__sprintf("%s?offset=%lld", x->raw, x->start);
    if (dev == NULL)
        return osr__error_set(x->b->err, OSR_ENOMEM, "out of memory");
    {
        const char *argv[] = { "e2fsck", "-f", "-n", dev, NULL };
        error = osr__build_run(x->b, argv, NULL, NULL);
    }
    free(dev);
    if (error == 0 && x->part)
        error = write_back(x);
    if (error == 0) {
        *disk = x->raw;
        *format = "raw";
    }
    return error;
}

static void off_free(void *state)
{
    struct off *x = state;

    if (x->fs)
        ext2fs_free(x->fs); /* only after a failure: nothing half-done is flushed */
    free(x->raw);
    free(x->part);
    free(x);
}

OSR__BACKEND_EXPORT const osr__backend osr_image_backend_v1 = {
    .abi = OSR__BACKEND_ABI,
    .build_size = sizeof(osr__build),
    .vtable_size = sizeof(osr__backend),
    .name = "offline",
    .runs_guest_code = false,
    .uses_accel = false,
    .prepare_step = "convert the base image to raw",
    .launch_step = NULL,
    .mount_step = "open the root file system",
    .close_step = "check the file system",
    .prepare = off_prepare,
    .launch = NULL,
    .grow = off_grow,
    .mount = off_mount,
    .lstat = off_lstat,
    .read_file = off_read_file,
    .write_file = off_write_file,
    .mkdir = off_mkdir,
    .set_attr = off_set_attr,
    .list_dir = off_list_dir,
    .unpack = off_unpack,
    .install_packages = NULL,
    .run_script = NULL,
    .close = off_close,
    .free = off_free,
};
