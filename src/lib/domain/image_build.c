/* The image builder: options, the work directory, the renderers of the
 * files that go into the image, the account edits, compression, and the
 * driver that loads a backend and runs the recipe (image_recipe.c). */
#include "image_internal.h"

#include "fs.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ proxies */

static const char *nz(const char *s)
{
    return s && *s ? s : NULL;
}

bool osr__proxy_any(const osr_proxy *p)
{
    return p && (nz(p->http) || nz(p->https) || nz(p->no_proxy));
}

int osr__proxy_validate(const osr_proxy *p, osr_error *err)
{
    const struct {
        const char *name, *v;
        bool url;
    } f[] = { { "http proxy", p ? p->http : NULL, true },
              { "https proxy", p ? p->https : NULL, true },
              { "no_proxy", p ? p->no_proxy : NULL, false } };

    for (size_t i = 0; i < 3; i++) {
        const char *v = nz(f[i].v);
        if (v == NULL)
            continue;
        if (strlen(v) > 2048)
            return osr__error_set(err, OSR_EINVAL, "%s: longer than 2048 characters", f[i].name);
        for (const char *c = v; *c; c++) {
            unsigned char u = (unsigned char)*c;
            if (u <= ' ' || u >= 0x7f || *c == '"' || *c == '\'' || *c == '\\' || *c == '`')
                return osr__error_set(err, OSR_EINVAL,
                                      "%s: spaces, quotes, backslashes and control or non-ASCII "
                                      "characters are not allowed",
                                      f[i].name);
        }
        if (f[i].url && strstr(v, "://") == NULL)
            return osr__error_set(err, OSR_EINVAL, "%s: not a URL (scheme://host:port)", f[i].name);
    }
    return 0;
}

bool osr__proxy_has_password(const char *url)
{
    CURLU *u;
    char *pw = NULL;
    bool has;

    if (nz(url) == NULL || (u = curl_url()) == NULL)
        return false;
    has = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
          curl_url_get(u, CURLUPART_PASSWORD, &pw, 0) == CURLUE_OK && pw && *pw;
    if (pw) {
        explicit_bzero(pw, strlen(pw));
        curl_free(pw);
    }
    curl_url_cleanup(u);
    return has;
}

/* The variable name of an /etc/environment line, or NULL. */
static bool env_line_is(const char *line, size_t len, const char *name)
{
    size_t n = strlen(name);
    while (len > 0 && (*line == ' ' || *line == '\t')) {
        line++;
        len--;
    }
    if (len > 7 && strncmp(line, "export ", 7) == 0) {
        line += 7;
        len -= 7;
    }
    return len > n && strncmp(line, name, n) == 0 && line[n] == '=';
}

int osr__render_environment(char **out, const char *existing, const osr_proxy *p)
{
    const char *names[6] = { "HTTP_PROXY",  "http_proxy", "HTTPS_PROXY",
                             "https_proxy", "NO_PROXY",   "no_proxy" };
    const char *vals[6] = { nz(p->http),  nz(p->http),     nz(p->https),
                            nz(p->https), nz(p->no_proxy), nz(p->no_proxy) };
    osr__buf b = OSR__BUF_INIT;
    const char *s = existing ? existing : "";
    int error = 0;

    while (*s && error == 0) {
        const char *nl = strchr(s, '\n');
        size_t len = nl ? (size_t)(nl - s) : strlen(s);
        bool drop = false;
        for (int i = 0; i < 6; i++) {
            if (vals[i] && env_line_is(s, len, names[i]))
                drop = true;
        }
        if (!drop) {
            error = osr__buf_append(&b, s, len);
            if (error == 0)
                error = osr__buf_append(&b, "\n", 1);
        }
        s += len + (nl ? 1 : 0);
    }
    for (int i = 0; i < 6 && error == 0; i++) {
        if (vals[i])
            error = osr__buf_printf(&b, "%s=%s\n", names[i], vals[i]);
    }
    if (error == 0 && b.data == NULL)
        error = osr__buf_append(&b, "", 0);
    if (error < 0) {
        osr__buf_free(&b);
        return OSR_ENOMEM;
    }
    *out = osr__buf_detach(&b);
    return 0;
}

int osr__render_apt_proxy(char **out, const osr_proxy *p)
{
    osr__buf b = OSR__BUF_INIT;
    int error = 0;

    *out = NULL;
    if (!nz(p->http) && !nz(p->https))
        return 0;
    if (nz(p->http))
        error = osr__buf_printf(&b, "Acquire::http::Proxy \"%s\";\n", p->http);
    if (error == 0 && nz(p->https))
        error = osr__buf_printf(&b, "Acquire::https::Proxy \"%s\";\n", p->https);
    if (error < 0) {
        osr__buf_free(&b);
        return OSR_ENOMEM;
    }
    *out = osr__buf_detach(&b);
    return 0;
}

/* systemd expands %-specifiers in Environment=: a literal % is %%. */
static int put_systemd_value(osr__buf *b, const char *v)
{
    int error = 0;
    for (; *v && error == 0; v++)
        error = *v == '%' ? osr__buf_puts(b, "%%") : osr__buf_append(b, v, 1);
    return error;
}

int osr__render_docker_dropin(char **out, const osr_proxy *p)
{
    const char *names[3] = { "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY" };
    const char *vals[3] = { nz(p->http), nz(p->https), nz(p->no_proxy) };
    osr__buf b = OSR__BUF_INIT;
    int error;

    *out = NULL;
    if (!osr__proxy_any(p))
        return 0;
    error = osr__buf_puts(&b, "[Service]\n");
    for (int i = 0; i < 3 && error == 0; i++) {
        if (vals[i] == NULL)
            continue;
        error = osr__buf_printf(&b, "Environment=\"%s=", names[i]);
        if (error == 0)
            error = put_systemd_value(&b, vals[i]);
        if (error == 0)
            error = osr__buf_puts(&b, "\"\n");
    }
    if (error < 0) {
        osr__buf_free(&b);
        return OSR_ENOMEM;
    }
    *out = osr__buf_detach(&b);
    return 0;
}

int osr__render_docker_config(char **out, const osr_proxy *p)
{
    json_t *def, *root;
    char *s, *withnl;

    *out = NULL;
    if (!osr__proxy_any(p))
        return 0;
    def = json_object();
    root = json_pack("{s:{s:o}}", "proxies", "default", def);
    if (root == NULL)
        return OSR_ENOMEM;
    if ((nz(p->http) && json_object_set_new(def, "httpProxy", json_string(p->http)) < 0) ||
        (nz(p->https) && json_object_set_new(def, "httpsProxy", json_string(p->https)) < 0) ||
        (nz(p->no_proxy) && json_object_set_new(def, "noProxy", json_string(p->no_proxy)) < 0)) {
        json_decref(root);
        return OSR_ENOMEM;
    }
    s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    withnl = s ? osr__sprintf("%s\n", s) : NULL;
    free(s);
    if (withnl == NULL)
        return OSR_ENOMEM;
    *out = withnl;
    return 0;
}

/* ----------------------------------------------------------------- accounts */

void osr__accounts_free(osr__accounts *a)
{
    free(a->passwd);
    free(a->group);
    osr__secret_free(a->shadow);
    osr__secret_free(a->gshadow);
    free(a->subuid);
    free(a->subgid);
    memset(a, 0, sizeof(*a));
}

/* Field i (0-based) of a ':'-separated line [s, s+len): start and length. */
static bool field_of(const char *s, size_t len, int i, const char **f, size_t *flen)
{
    const char *end = s + len, *p = s;
    for (; i > 0; i--) {
        const char *c = memchr(p, ':', (size_t)(end - p));
        if (c == NULL)
            return false;
        p = c + 1;
    }
    *f = p;
    {
        const char *c = memchr(p, ':', (size_t)(end - p));
        *flen = c ? (size_t)(c - p) : (size_t)(end - p);
    }
    return true;
}

static long field_num(const char *s, size_t len, int i)
{
    const char *f;
    size_t n;
    char tmp[24];
    char *e;
    long v;

    if (!field_of(s, len, i, &f, &n) || n == 0 || n >= sizeof(tmp))
        return -1;
    memcpy(tmp, f, n);
    tmp[n] = '\0';
    v = strtol(tmp, &e, 10);
    return *e == '\0' && v >= 0 ? v : -1;
}

/* Iterate lines: calls fn(line, len, i, ctx) for each non-empty line. */
#define FOR_LINES(text, line, len)                                                            \
    for (const char *line = (text), *nl_ = NULL; line && *line;                               \
         line = nl_ ? nl_ + 1 : line + strlen(line))                                          \
        for (size_t len = ((nl_ = strchr(line, '\n')) ? (size_t)(nl_ - line) : strlen(line)), \
                    once_ = 1;                                                                \
             once_; once_ = 0)

static bool has_name(const char *line, size_t len, const char *name)
{
    size_t n = strlen(name);
    return len > n && strncmp(line, name, n) == 0 && line[n] == ':';
}

/* The line for name, or NULL. */
static const char *find_entry(const char *text, const char *name, size_t *len_out)
{
    FOR_LINES(text, line, len)
    {
        if (has_name(line, len, name)) {
            *len_out = len;
            return line;
        }
    }
    return NULL;
}

static bool id_used(const char *text, int field, long id)
{
    FOR_LINES(text, line, len)
    {
        if (field_num(line, len, field) == id)
            return true;
    }
    return false;
}

/* Append a line to *text (adding a missing newline first). */
static int append_line(char **text, const char *fmt, ...) OSR__PRINTF(2, 3);
static int append_line(char **text, const char *fmt, ...)
{
    osr__buf b = OSR__BUF_INIT;
    char line[1024];
    va_list ap;
    int error;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    error = osr__buf_puts(&b, *text ? *text : "");
    if (error == 0 && b.len > 0 && b.data[b.len - 1] != '\n')
        error = osr__buf_puts(&b, "\n");
    if (error == 0)
        error = osr__buf_printf(&b, "%s\n", line);
    if (error < 0) {
        osr__buf_free(&b);
        return OSR_ENOMEM;
    }
    free(*text);
    *text = osr__buf_detach(&b);
    return 0;
}

/* Add member to the group line of name in a group or gshadow text (the
 * member list is field 3), if not there yet. */
static int add_member(char **text, const char *group, const char *member)
{
    osr__buf b = OSR__BUF_INIT;
    int error = 0;

    FOR_LINES(*text, line, len)
    {
        if (error == 0)
            error = osr__buf_append(&b, line, len);
        if (error == 0 && has_name(line, len, group)) {
            const char *f;
            size_t n;
            bool present = false;
            if (field_of(line, len, 3, &f, &n)) {
                const char *p = f, *end = f + n;
                while (p < end) {
                    const char *c = memchr(p, ',', (size_t)(end - p));
                    size_t m = c ? (size_t)(c - p) : (size_t)(end - p);
                    if (m == strlen(member) && strncmp(p, member, m) == 0)
                        present = true;
                    p += m + 1;
                }
                if (!present)
                    error = osr__buf_printf(&b, "%s%s", n ? "," : "", member);
            }
        }
        if (error == 0)
            error = osr__buf_append(&b, "\n", 1);
    }
    if (error == 0 && b.data == NULL)
        error = osr__buf_append(&b, "", 0);
    if (error < 0) {
        osr__buf_free(&b);
        return OSR_ENOMEM;
    }
    free(*text);
    *text = osr__buf_detach(&b);
    return 0;
}

/* A free system gid, from preferred, else counting down from 999 (groupadd -r). */
static long free_system_gid(const char *group, long preferred)
{
    if (preferred > 0 && !id_used(group, 2, preferred))
        return preferred;
    for (long g = 999; g >= 100; g--) {
        if (!id_used(group, 2, g))
            return g;
    }
    return -1;
}

static int ensure_group(osr__accounts *a, const char *name, long preferred, osr_error *err)
{
    size_t len;
    int error;

    if (find_entry(a->group, name, &len) == NULL) {
        long gid = free_system_gid(a->group, preferred);
        if (gid < 0)
            return osr__error_set(err, OSR_ERROR, "/etc/group: no free system gid for %s", name);
        if ((error = append_line(&a->group, "%s:x:%ld:", name, gid)) < 0)
            return osr__error_set(err, error, "out of memory");
    }
    if (a->gshadow && find_entry(a->gshadow, name, &len) == NULL &&
        (error = append_line(&a->gshadow, "%s:!::", name)) < 0)
        return osr__error_set(err, error, "out of memory");
    if ((error = add_member(&a->group, name, OSR__RUNNER_USER)) < 0 ||
        (a->gshadow && (error = add_member(&a->gshadow, name, OSR__RUNNER_USER)) < 0))
        return osr__error_set(err, error, "out of memory");
    return 0;
}

/* Add "ubuntu:START:65536" to a subordinate id file that lacks it. */
static int ensure_subid(char **text)
{
    long start = 100000;
    size_t len;

    if (*text == NULL || find_entry(*text, OSR__RUNNER_USER, &len))
        return 0;
    FOR_LINES(*text, line, n)
    {
        long s = field_num(line, n, 1), c = field_num(line, n, 2);
        if (s >= 0 && c > 0 && s + c > start)
            start = s + c;
    }
    return append_line(text, "%s:%ld:65536", OSR__RUNNER_USER, start);
}

int osr__accounts_ensure_user(
    osr__accounts *a, unsigned int *uid, unsigned int *gid, bool *created, osr_error *err)
{
    const char *line;
    size_t len;
    long u, g;
    int error;

    if (a->passwd == NULL || a->group == NULL)
        return osr__error_set(err, OSR_ERROR, "the image has no /etc/passwd or /etc/group");
    if ((line = find_entry(a->passwd, OSR__RUNNER_USER, &len)) != NULL) {
        u = field_num(line, len, 2);
        g = field_num(line, len, 3);
        if (u < 0 || g < 0)
            return osr__error_set(err, OSR_ERROR, "/etc/passwd: the line of %s is malformed",
                                  OSR__RUNNER_USER);
        *created = false;
    } else {
        u = 1000;
        while (id_used(a->passwd, 2, u) && u < 60000)
            u++;
        if ((line = find_entry(a->group, OSR__RUNNER_USER, &len)) != NULL) {
            g = field_num(line, len, 2);
            if (g < 0)
                return osr__error_set(err, OSR_ERROR, "/etc/group: the line of %s is malformed",
                                      OSR__RUNNER_USER);
        } else {
            g = u;
            while (id_used(a->group, 2, g) && g < 60000)
                g++;
            if ((error = append_line(&a->group, "%s:x:%ld:", OSR__RUNNER_USER, g)) < 0)
                return osr__error_set(err, error, "out of memory");
        }
        if (u >= 60000 || g >= 60000)
            return osr__error_set(err, OSR_ERROR, "no free uid or gid for %s", OSR__RUNNER_USER);
        if ((error = append_line(&a->passwd, "%s:x:%ld:%ld:Ubuntu:%s:/bin/bash", OSR__RUNNER_USER,
                                 u, g, OSR__RUNNER_HOME)) < 0)
            return osr__error_set(err, error, "out of memory");
        if (a->shadow && !find_entry(a->shadow, OSR__RUNNER_USER, &len) &&
            (error = append_line(&a->shadow, "%s:!::0:99999:7:::", OSR__RUNNER_USER)) < 0)
            return osr__error_set(err, error, "out of memory");
        if (a->gshadow && !find_entry(a->gshadow, OSR__RUNNER_USER, &len) &&
            (error = append_line(&a->gshadow, "%s:!::", OSR__RUNNER_USER)) < 0)
            return osr__error_set(err, error, "out of memory");
        *created = true;
    }
    if ((error = ensure_group(a, "docker", -1, err)) < 0 ||
        (error = ensure_group(a, "sudo", 27, err)) < 0)
        return error;
    if (ensure_subid(&a->subuid) < 0 || ensure_subid(&a->subgid) < 0)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    *uid = (unsigned int)u;
    *gid = (unsigned int)g;
    return 0;
}

void osr__parse_os_release(char **id, char **version_id, const char *text)
{
    *id = *version_id = NULL;
    FOR_LINES(text, line, len)
    {
        char **dst = NULL;
        size_t skip = 0;
        if (len > 3 && strncmp(line, "ID=", 3) == 0) {
            dst = id;
            skip = 3;
        } else if (len > 11 && strncmp(line, "VERSION_ID=", 11) == 0) {
            dst = version_id;
            skip = 11;
        }
        if (dst && *dst == NULL) {
            const char *v = line + skip;
            size_t n = len - skip;
            if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
                v++;
                n -= 2;
            }
            *dst = osr__strndup(v, n > 64 ? 64 : n);
        }
    }
}

/* ---------------------------------------------- locks and stale leftovers */

int osr__create_locked(int dirfd, const char *name, int *fd_out)
{
    char proc[64];
    int fd, e;

    /* Anonymous first: the name appears only once the lock is held. */
    fd = openat(dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0) {
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            e = errno;
            close(fd);
            return -e;
        }
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        if (linkat(AT_FDCWD, proc, dirfd, name, AT_SYMLINK_FOLLOW) == 0) {
            *fd_out = fd;
            return 0;
        }
        e = errno;
        close(fd);
        if (e == EEXIST)
            return -e;
        /* No /proc or no linkat here: a named file, locked at once. */
    }
    fd = openat(dirfd, name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -errno;
    if (fchmod(fd, 0600) != 0 || flock(fd, LOCK_EX | LOCK_NB) != 0) {
        e = errno;
        unlinkat(dirfd, name, 0);
        close(fd);
        return -e;
    }
    *fd_out = fd;
    return 0;
}

/* Opens name under dirfd and takes its lock if nobody holds it: the fd
 * (locked) when the file is ours, a regular file of this user, and free;
 * else -1. */
static int take_stale_lock(int dirfd, const char *name)
{
    struct stat st;
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

    if (fd < 0)
        return -1;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
        flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool all_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    }
    return s[n] == '\0';
}

static int remove_tree(const char *dir);

int osr__sweep_work_dirs(const char *parent, int *removed)
{
    DIR *d = opendir(parent);
    struct dirent *de;
    int count = 0;

    if (d == NULL)
        return -errno;
    while ((de = readdir(d)) != NULL) {
        size_t pl = strlen(OSR__WORK_PREFIX);
        struct stat st;
        char *lock, *dir;
        int fd;

        /* mkdtemp's six characters after our prefix. */
        if (strncmp(de->d_name, OSR__WORK_PREFIX, pl) != 0 || strlen(de->d_name) != pl + 6)
            continue;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode) ||
            st.st_uid != geteuid())
            continue;
        lock = osr__sprintf("%s/%s", de->d_name, OSR__WORK_LOCK);
        dir = osr__path_join(parent, de->d_name);
        /* No lock file: not demonstrably ours (or being created): left alone. */
        fd = lock ? take_stale_lock(dirfd(d), lock) : -1;
        if (fd >= 0 && dir) {
            if (remove_tree(dir) == 0)
                count++;
        }
        if (fd >= 0)
            close(fd);
        free(lock);
        free(dir);
    }
    closedir(d);
    if (removed)
        *removed = count;
    return 0;
}

/* dirname and basename of path, as new strings. */
static int split_path(const char *path, char **dir, char **base)
{
    const char *slash = strrchr(path, '/');

    *dir = slash ? (slash == path ? osr__strdup("/") : osr__strndup(path, (size_t)(slash - path)))
                 : osr__strdup(".");
    *base = osr__strdup(slash ? slash + 1 : path);
    if (*dir == NULL || *base == NULL) {
        free(*dir);
        free(*base);
        return OSR_ENOMEM;
    }
    return 0;
}

int osr__sweep_output_tmp(const char *output, int *removed)
{
    char *dir = NULL, *base = NULL;
    DIR *d;
    struct dirent *de;
    int count = 0, error;

    if ((error = split_path(output, &dir, &base)) < 0)
        return error;
    if ((d = opendir(dir)) == NULL) {
        error = -errno;
        goto done;
    }
    while ((de = readdir(d)) != NULL) {
        size_t bl = strlen(base), sl = strlen(OSR__OUTPUT_TMP_SEP);
        int fd;
        if (strncmp(de->d_name, base, bl) != 0 ||
            strncmp(de->d_name + bl, OSR__OUTPUT_TMP_SEP, sl) != 0 ||
            !all_hex(de->d_name + bl + sl, 12))
            continue;
        if ((fd = take_stale_lock(dirfd(d), de->d_name)) < 0)
            continue;
        if (unlinkat(dirfd(d), de->d_name, 0) == 0)
            count++;
        close(fd);
    }
    closedir(d);
    if (removed)
        *removed = count;
done:
    free(dir);
    free(base);
    return error;
}

int osr__build_compress(osr__build *b, const char *src, const char *src_format)
{
    char *dir = NULL, *base = NULL, *name = NULL, *tmp = NULL;
    int error = 0, fd = -1, dfd = -1, rc = -EEXIST;

    if (split_path(b->o->output, &dir, &base) < 0)
        return osr__error_set(b->err, OSR_ENOMEM, "out of memory");
    if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        error = osr__error_set(b->err, OSR_EIO, "%s: %s", dir, strerror(errno));
        goto done;
    }
    /* A private, locked temporary file beside the output: qemu-img writes
     * into it (keeping its mode), a later build can tell it from a live one. */
    for (int tries = 0; tries < 16 && rc == -EEXIST; tries++) {
        unsigned char r[6];
        if (RAND_bytes(r, sizeof(r)) != 1) {
            error = osr__error_set(b->err, OSR_ERROR, "no random bytes (OpenSSL)");
            goto done;
        }
        free(name);
        name = osr__sprintf("%s%s%02x%02x%02x%02x%02x%02x", base, OSR__OUTPUT_TMP_SEP, r[0], r[1],
                            r[2], r[3], r[4], r[5]);
        if (name == NULL) {
            error = osr__error_set(b->err, OSR_ENOMEM, "out of memory");
            goto done;
        }
        rc = osr__create_locked(dfd, name, &fd);
    }
    if (rc < 0) {
        error =
            osr__error_set(b->err, OSR_EIO, "%s/%s: %s", dir, name ? name : base, strerror(-rc));
        goto done;
    }
    if ((tmp = osr__path_join(dir, name)) == NULL) {
        unlinkat(dfd, name, 0);
        error = osr__error_set(b->err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    {
        /* zlib: every qemu that Nova may run reads it (zstd needs qemu >= 5.1). */
        const char *argv[] = { "qemu-img", "convert",  "-p", "-c",    "-m", "8", "-W",
                               "-f",       src_format, "-O", "qcow2", src,  tmp, NULL };
        error = osr__build_run(b, argv, NULL, NULL);
    }
    if (error == 0 && (fchmod(fd, 0600) != 0 || fsync(fd) != 0))
        error = osr__error_set(b->err, OSR_EIO, "%s: %s", tmp, strerror(errno));
    if (error == 0 && rename(tmp, b->o->output) != 0)
        error = osr__error_set(b->err, OSR_EIO, "%s: %s", b->o->output, strerror(errno));
    if (error == 0 && fsync(dfd) != 0)
        error = osr__error_set(b->err, OSR_EIO, "%s: %s", dir, strerror(errno));
    if (error < 0)
        unlink(tmp);
done:
    if (fd >= 0)
        close(fd);
    if (dfd >= 0)
        close(dfd);
    free(tmp);
    free(name);
    free(dir);
    free(base);
    return error;
}

/* ------------------------------------------------------------------- driver */

struct osr_build_result {
    char *backend, *accel, *os_distro, *os_version, *build_id, *output, *uid;
    double seconds;
};

void osr_build_result_free(osr_build_result *r)
{
    if (r == NULL)
        return;
    free(r->backend);
    free(r->accel);
    free(r->os_distro);
    free(r->os_version);
    free(r->build_id);
    free(r->output);
    free(r->uid);
    free(r);
}

const char *osr_build_result_get(const osr_build_result *r, const char *key)
{
    if (strcmp(key, "backend") == 0)
        return r->backend;
    if (strcmp(key, "accel") == 0)
        return r->accel;
    if (strcmp(key, "os_distro") == 0)
        return r->os_distro;
    if (strcmp(key, "os_version") == 0)
        return r->os_version;
    if (strcmp(key, "build_id") == 0)
        return r->build_id;
    if (strcmp(key, "output") == 0)
        return r->output;
    if (strcmp(key, "user_uid") == 0)
        return r->uid;
    return NULL;
}

double osr_build_result_seconds(const osr_build_result *r)
{
    return r->seconds;
}

const char *osr_build_backend_name(osr_build_backend backend)
{
    switch (backend) {
    case OSR_BUILD_OFFLINE:
        return "offline";
    case OSR_BUILD_GUESTFS:
        return "guestfs";
    default:
        return "auto";
    }
}

const char *osr_build_accel_name(osr_accel accel)
{
    switch (accel) {
    case OSR_ACCEL_KVM:
        return "kvm";
    case OSR_ACCEL_TCG:
        return "tcg";
    default:
        return "auto";
    }
}

osr_accel osr__accel_choose(bool kvm_rw, bool hw_module)
{
    return kvm_rw && hw_module ? OSR_ACCEL_KVM : OSR_ACCEL_TCG;
}

osr_accel osr_build_accel_detect(void)
{
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    bool rw = fd >= 0;
    bool hw =
        access("/sys/module/kvm_intel", F_OK) == 0 || access("/sys/module/kvm_amd", F_OK) == 0;

    if (fd >= 0)
        close(fd);
    return osr__accel_choose(rw, hw);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP || flag == FTW_D)
        return rmdir(path) == 0 || errno == ENOENT ? 0 : -1;
    return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
}

static int remove_tree(const char *dir)
{
    return nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

/* qemu-img info: format and virtual size; refuses images with a backing file. */
static int inspect_base(osr__build *b)
{
    const char *argv[] = { "qemu-img", "info", "--output=json", b->o->base, NULL };
    char *out = NULL;
    json_t *info;
    int error;

    if ((error = osr__build_run(b, argv, NULL, &out)) < 0)
        return osr__error_prefix(b->err, "base image %s", b->o->base);
    info = json_loads(out, 0, NULL);
    free(out);
    if (!json_is_string(json_object_get(info, "format")) ||
        !json_is_integer(json_object_get(info, "virtual-size"))) {
        json_decref(info);
        return osr__error_set(b->err, OSR_ERROR, "qemu-img info %s: unexpected answer", b->o->base);
    }
    if (json_object_get(info, "backing-filename")) {
        json_decref(info);
        return osr__error_set(b->err, OSR_EINVAL,
                              "base image %s has a backing file; flatten it first (qemu-img "
                              "convert)",
                              b->o->base);
    }
    b->base_format = osr__strdup(json_string_value(json_object_get(info, "format")));
    b->base_vsize = (long long)json_integer_value(json_object_get(info, "virtual-size"));
    json_decref(info);
    if (b->base_format == NULL)
        return osr__error_set(b->err, OSR_ENOMEM, "out of memory");
    if (strcmp(b->base_format, "qcow2") != 0 && strcmp(b->base_format, "raw") != 0)
        return osr__error_set(b->err, OSR_EINVAL, "base image %s is %s; qcow2 or raw expected",
                              b->o->base, b->base_format);
    return 0;
}

static char *make_build_id(void)
{
    unsigned char r[4];
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;

    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
    if (RAND_bytes(r, sizeof(r)) != 1)
        memset(r, 0, sizeof(r));
    return osr__sprintf("%s-%02x%02x%02x%02x", stamp, r[0], r[1], r[2], r[3]);
}

static int check_file(const char *what, const char *path, osr_error *err)
{
    struct stat st;

    if (path == NULL || *path == '\0')
        return osr__error_set(err, OSR_EINVAL, "no %s given", what);
    if (stat(path, &st) != 0)
        return osr__error_set(err, errno == ENOENT ? OSR_ENOTFOUND : OSR_EIO, "%s %s: %s", what,
                              path, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return osr__error_set(err, OSR_EINVAL, "%s %s: is a directory", what, path);
    if (!S_ISREG(st.st_mode))
        return osr__error_set(err, OSR_EINVAL, "%s %s: not a regular file", what, path);
    if (access(path, R_OK) != 0)
        return osr__error_set(err, OSR_EIO, "%s %s: %s", what, path, strerror(errno));
    return 0;
}

static int check_dir(const char *what, const char *path, osr_error *err)
{
    struct stat st;

    if (stat(path, &st) != 0)
        return osr__error_set(err, errno == ENOENT ? OSR_ENOTFOUND : OSR_EIO, "%s %s: %s", what,
                              path, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return osr__error_set(err, OSR_EINVAL, "%s %s: not a directory", what, path);
    return 0;
}

/* PARENT/osrunner-build-XXXXXX (0700) with its lock file held: *lock_fd. */
static int make_work_dir(char **path, int *lock_fd, const char *parent, osr_error *err)
{
    char *tmpl = osr__sprintf("%s/" OSR__WORK_PREFIX "XXXXXX", parent);
    int dfd, rc;

    if (tmpl == NULL)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    if (mkdtemp(tmpl) == NULL) {
        rc = osr__error_set(err, OSR_EIO, "%s: %s", tmpl, strerror(errno));
        free(tmpl);
        return rc;
    }
    /* The liveness marker: held until the work dir is gone. */
    dfd = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    rc = dfd >= 0 ? osr__create_locked(dfd, OSR__WORK_LOCK, lock_fd) : -errno;
    if (dfd >= 0)
        close(dfd);
    if (rc < 0) {
        rc = osr__error_set(err, OSR_EIO, "%s/%s: %s", tmpl, OSR__WORK_LOCK, strerror(-rc));
        rmdir(tmpl);
        free(tmpl);
        return rc;
    }
    *path = tmpl;
    return 0;
}

struct osr_build_dir {
    char *path;
    int lock_fd;
};

int osr_build_dir_new(osr_build_dir **out, const char *parent, osr_error *err)
{
    osr_build_dir *d;
    int error;

    if (out == NULL)
        return osr__error_set(err, OSR_EINVAL, "osr_build_dir_new: NULL argument");
    if (parent == NULL || *parent == '\0')
        parent = getenv("TMPDIR");
    if (parent == NULL || *parent == '\0')
        parent = "/var/tmp";
    if ((error = check_dir("work directory", parent, err)) < 0)
        return error;
    if ((d = calloc(1, sizeof(*d))) == NULL)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    osr__sweep_work_dirs(parent, NULL);
    if ((error = make_work_dir(&d->path, &d->lock_fd, parent, err)) < 0) {
        free(d);
        return error;
    }
    *out = d;
    return 0;
}

const char *osr_build_dir_path(const osr_build_dir *d)
{
    return d->path;
}

void osr_build_dir_free(osr_build_dir *d)
{
    if (d == NULL)
        return;
    remove_tree(d->path); /* the lock file goes with it, still held */
    close(d->lock_fd);
    free(d->path);
    free(d);
}

int osr_image_build_check(const osr_build_options *o, osr_error *err)
{
    bool packages;
    int error;

    if (o == NULL)
        return osr__error_set(err, OSR_EINVAL, "osr_image_build: NULL argument");
    if (osr__version_check(err, "osr_image_build", "osr_build_options", o->version, 1,
                           OSR_BUILD_OPTIONS_VERSION) < 0)
        return OSR_EINVAL;
    if ((o->base && (error = check_file("base image", o->base, err)) < 0) ||
        (o->runner_tarball && (error = check_file("runner tarball", o->runner_tarball, err)) < 0))
        return error;
    if (o->output == NULL || *o->output == '\0')
        return osr__error_set(err, OSR_EINVAL, "no output file given");
    {
        char *dir = NULL, *base = NULL;
        struct stat st;
        if (split_path(o->output, &dir, &base) < 0)
            return osr__error_set(err, OSR_ENOMEM, "out of memory");
        error = check_dir("output directory", dir, err);
        if (error == 0 && *base == '\0')
            error = osr__error_set(err, OSR_EINVAL, "output %s: no file name", o->output);
        if (error == 0 && lstat(o->output, &st) == 0 && !S_ISREG(st.st_mode))
            error = osr__error_set(err, OSR_EINVAL, "output %s: %s", o->output,
                                   S_ISDIR(st.st_mode) ? "is a directory"
                                                       : "exists and is not a regular file");
        free(dir);
        free(base);
        if (error < 0)
            return error;
    }
    if (o->work_dir && (error = check_dir("work directory", o->work_dir, err)) < 0)
        return error;
    if (o->script && (error = check_file("script", o->script, err)) < 0)
        return error;
    if ((error = osr__proxy_validate(&o->proxy, err)) < 0)
        return error;
    packages = o->packages && o->packages[0];
    for (const char *const *p = o->packages; p && *p; p++) {
        for (const char *c = *p; *c; c++) {
            if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '+' || *c == '-' ||
                  *c == '.' || *c == ':' || *c == '=' || *c == '~'))
                return osr__error_set(err, OSR_EINVAL, "package name '%.60s' is not valid", *p);
        }
        if (**p == '\0' || **p == '-')
            return osr__error_set(err, OSR_EINVAL, "package name '%.60s' is not valid", *p);
    }
    if (o->backend == OSR_BUILD_OFFLINE && (packages || o->script))
        return osr__error_set(err, OSR_EINVAL,
                              "the offline backend cannot install packages or run a script (it "
                              "runs no guest code); use the guestfs backend");
    return 0;
}

int osr_image_build(osr_build_result **out, const osr_build_options *o, osr_error *err)
{
    osr__build b;
    const osr__backend *be = NULL;
    osr_build_result *r = NULL;
    const char *tmpdir;
    char *absbase = NULL;
    osr_build_options copy;
    bool packages;
    int64_t t0 = osr__now_ms_monotonic();
    int error, swept = 0;

    memset(&b, 0, sizeof(b));
    b.lock_fd = -1;
    if (o == NULL || out == NULL)
        return osr__error_set(err, OSR_EINVAL, "osr_image_build: NULL argument");
    if ((error = osr_image_build_check(o, err)) < 0)
        return error;
    if ((error = check_file("base image", o->base, err)) < 0 ||
        (error = check_file("runner tarball", o->runner_tarball, err)) < 0)
        return error;
    packages = o->packages && o->packages[0];
    /* qemu resolves backing files relative to the overlay: use absolute paths. */
    if ((absbase = realpath(o->base, NULL)) == NULL)
        return osr__error_set(err, OSR_EIO, "%s: %s", o->base, strerror(errno));
    memset(&copy, 0, sizeof(copy));
    memcpy(&copy, o, o->version >= 2 ? sizeof(copy) : offsetof(osr_build_options, log_cb));
    copy.base = absbase;
    if (copy.backend == OSR_BUILD_AUTO)
        copy.backend = (packages || o->script) ? OSR_BUILD_GUESTFS : OSR_BUILD_OFFLINE;
    b.o = &copy;
    b.err = err;
    if (osr__build_cancelled(&b)) {
        free(absbase);
        return osr__error_set(err, OSR_EINTERRUPTED, "interrupted");
    }
    /* The backend's module is loaded here, by the build that uses it. */
    if ((error = osr__backend_load(&be, copy.backend, err)) < 0) {
        free(absbase);
        return error;
    }
    b.extra = o->extra_size >= 0 ? o->extra_size : (packages ? 1536LL << 20 : 0);
    b.epoch = o->epoch;

    if (osr__proxy_has_password(o->proxy.http) || osr__proxy_has_password(o->proxy.https))
        osr__build_log(&b, OSR_LOG_WARN,
                       "the proxy URL carries a password: it is written into the image "
                       "(/etc/environment, apt, docker), where every user of the VM can read "
                       "it; the image file is private (0600), keep it so where it is published");

    tmpdir = o->work_dir ? o->work_dir : getenv("TMPDIR");
    if (tmpdir == NULL || *tmpdir == '\0')
        tmpdir = "/var/tmp";
    /* Leftovers of builds that were killed (their locks are free). */
    if (osr__sweep_work_dirs(tmpdir, &swept) == 0 && swept > 0)
        osr__build_log(&b, OSR_LOG_INFO, "removed %d stale work director%s of killed builds in %s",
                       swept, swept == 1 ? "y" : "ies", tmpdir);
    if (osr__sweep_output_tmp(o->output, &swept) == 0 && swept > 0)
        osr__build_log(&b, OSR_LOG_INFO, "removed %d stale temporary output%s of %s", swept,
                       swept == 1 ? "" : "s", o->output);
    if ((error = make_work_dir(&b.work, &b.lock_fd, tmpdir, err)) < 0)
        goto done;
    if (be->uses_accel)
        b.accel_mode = o->accel == OSR_ACCEL_AUTO ? osr_build_accel_detect() : o->accel;
    b.steps = osr__build_recipe_steps(&b, be);
    if ((error = osr__build_step(&b, "inspect the base image")) < 0 ||
        (error = inspect_base(&b)) < 0 || (error = osr__build_recipe(&b, be)) < 0)
        goto done;
    if ((error = osr__build_step(&b, NULL)) < 0)
        goto done;
    r = calloc(1, sizeof(*r));
    if (r == NULL || (r->backend = osr__strdup(osr_build_backend_name(copy.backend))) == NULL ||
        (r->build_id = make_build_id()) == NULL || (r->output = osr__strdup(o->output)) == NULL ||
        (r->uid = osr__sprintf("%u", b.uid)) == NULL ||
        (b.accel && (r->accel = osr__strdup(b.accel)) == NULL)) {
        error = osr__error_set(err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    r->os_distro = b.os_distro;
    r->os_version = b.os_version;
    b.os_distro = b.os_version = NULL;
    r->seconds = (double)(osr__now_ms_monotonic() - t0) / 1000.0;
    *out = r;
    r = NULL;
done:
    if (error < 0 && b.step > 0 && b.step_name)
        osr__error_prefix(err, "%s", b.step_name);
    if (b.work) {
        remove_tree(b.work);
        free(b.work);
    }
    if (b.lock_fd >= 0)
        close(b.lock_fd);
    osr_build_result_free(r);
    free(b.base_format);
    free(b.os_distro);
    free(b.os_version);
    free(absbase);
    return error;
}
