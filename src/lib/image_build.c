/* The image builder: options, the work directory, steps and progress, host
 * tools, the renderers of the files that go into the image, the account
 * edits, the runner tarball (libarchive), and the choice of backend. */
#include "image_internal.h"

#include "fs.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <openssl/rand.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

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

/* -------------------------------------------------------------- the tarball */

int osr__tar_normalise(char *out, size_t n, const char *path)
{
    size_t o = 0;
    const char *p = path;

    if (path == NULL || *path == '/')
        return -1;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 2 && strncmp(p, "..", 2) == 0)
            return -1;
        if (len > 0 && !(len == 1 && *p == '.')) {
            if (o + len + 2 > n)
                return -1;
            if (o > 0)
                out[o++] = '/';
            memcpy(out + o, p, len);
            o += len;
        }
        p += len + (slash ? 1 : 0);
    }
    out[o] = '\0';
    return 0;
}

ssize_t osr__tar_read(void *tar, void *buf, size_t len)
{
    la_ssize_t n = archive_read_data((struct archive *)tar, buf, len);
    return n < 0 ? -1 : (ssize_t)n;
}

int osr__tar_walk(const char *path,
                  osr__tar_cb cb,
                  void *payload,
                  int64_t *max_mtime,
                  long long *entries,
                  osr_error *err)
{
    struct archive *a = archive_read_new();
    struct archive_entry *e;
    char norm[4096], target[4096];
    int64_t newest = 0;
    long long count = 0;
    int error = 0, r;

    if (a == NULL)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
        error = osr__error_set(err, OSR_EIO, "%s: %s", path, archive_error_string(a));
        goto done;
    }
    while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
        osr__tar_entry te;
        const char *name = archive_entry_pathname(e), *hl = archive_entry_hardlink(e);
        mode_t type = archive_entry_filetype(e);

        memset(&te, 0, sizeof(te));
        if (name == NULL || osr__tar_normalise(norm, sizeof(norm), name) < 0) {
            error =
                osr__error_set(err, OSR_EINVAL, "%s: entry '%.200s' leaves the runner directory",
                               path, name ? name : "(unnamed)");
            goto done;
        }
        te.path = norm;
        te.perm = (unsigned int)(archive_entry_perm(e) & 01777);
        te.mtime = (int64_t)archive_entry_mtime(e);
        te.size = (int64_t)archive_entry_size(e);
        if (hl != NULL) {
            if (osr__tar_normalise(target, sizeof(target), hl) < 0 || !*target) {
                error = osr__error_set(err, OSR_EINVAL,
                                       "%s: hard link '%.200s' leaves the runner directory", path,
                                       name);
                goto done;
            }
            te.type = 'h';
            te.target = target;
        } else if (type == AE_IFDIR) {
            te.type = 'd';
        } else if (type == AE_IFREG) {
            te.type = 'f';
        } else if (type == AE_IFLNK) {
            te.type = 'l';
            te.target = archive_entry_symlink(e);
            if (te.target == NULL) {
                error = osr__error_set(err, OSR_EINVAL, "%s: symlink '%.200s' has no target", path,
                                       name);
                goto done;
            }
        } else {
            error = osr__error_set(err, OSR_EINVAL,
                                   "%s: entry '%.200s' is a device, fifo or socket; not allowed "
                                   "in a runner tarball",
                                   path, name);
            goto done;
        }
        if (te.type != 'd' && !*te.path) {
            error = osr__error_set(err, OSR_EINVAL, "%s: the top entry is not a directory", path);
            goto done;
        }
        if (te.mtime > newest)
            newest = te.mtime;
        count++;
        if ((error = cb(&te, a, payload)) < 0)
            goto done;
    }
    if (r != ARCHIVE_EOF)
        error = osr__error_set(err, OSR_EIO, "%s: %s", path, archive_error_string(a));
done:
    archive_read_free(a);
    if (error == 0 && max_mtime)
        *max_mtime = newest;
    if (error == 0 && entries)
        *entries = count;
    return error;
}

/* ------------------------------------------------------------ build context */

static double seconds_since(int64_t t0)
{
    return (double)(osr__now_ms_monotonic() - t0) / 1000.0;
}

static void emit(osr__build *b, osr_build_event_kind kind, long long done, long long total)
{
    osr_build_event ev;

    if (b->o->progress_cb == NULL)
        return;
    ev.kind = kind;
    ev.step = b->step;
    ev.steps = b->steps;
    ev.name = b->step_name ? b->step_name : "";
    ev.done = done;
    ev.total = total;
    ev.seconds = seconds_since(b->step_t0);
    b->o->progress_cb(&ev, b->o->progress_payload);
}

bool osr__build_cancelled(const osr__build *b)
{
    return b->o->cancel && *b->o->cancel;
}

int osr__build_step(osr__build *b, const char *name)
{
    if (b->step > 0)
        emit(b, OSR_BUILD_STEP_DONE, -1, -1);
    if (osr__build_cancelled(b))
        return osr__error_set(b->err, OSR_ERROR, "interrupted");
    if (name == NULL)
        return 0;
    b->step++;
    if (b->step > b->steps)
        b->steps = b->step;
    b->step_name = name;
    b->step_t0 = osr__now_ms_monotonic();
    emit(b, OSR_BUILD_STEP_START, -1, -1);
    return 0;
}

void osr__build_progress(osr__build *b, long long done, long long total)
{
    emit(b, OSR_BUILD_STEP_PROGRESS, done, total);
}

char *osr__build_path(osr__build *b, const char *name)
{
    return osr__path_join(b->work, name);
}

/* qemu-img -p writes "    (12.34/100%)\r": report it. */
static void parse_qemu_progress(osr__build *b, const char *data, size_t n)
{
    const char *end = data + n, *p = data, *last = NULL;
    while (p < end) {
        const char *c = memchr(p, '(', (size_t)(end - p));
        if (c == NULL)
            break;
        last = c;
        p = c + 1;
    }
    if (last && end - last > 2) {
        char tmp[32];
        size_t m =
            (size_t)(end - last - 1) < sizeof(tmp) - 1 ? (size_t)(end - last - 1) : sizeof(tmp) - 1;
        double pct;
        memcpy(tmp, last + 1, m);
        tmp[m] = '\0';
        if (sscanf(tmp, "%lf/100%%", &pct) == 1)
            osr__build_progress(b, (long long)(pct * 100), 10000);
    }
}

int osr__build_run(osr__build *b, const char *const *argv, const char *input, char **output)
{
    posix_spawn_file_actions_t fa;
    int inpipe[2] = { -1, -1 }, outpipe[2] = { -1, -1 }, errpipe[2] = { -1, -1 };
    osr__buf out = OSR__BUF_INIT, errb = OSR__BUF_INIT;
    size_t in_off = 0, in_len = input ? strlen(input) : 0;
    bool progress = false;
    pid_t pid = -1;
    int status = 0, error = 0, rc;
    bool killed = false;

    for (const char *const *a = argv; *a; a++) {
        if (strcmp(*a, "-p") == 0 && strcmp(argv[0], "qemu-img") == 0)
            progress = true;
    }
    out.max = 16u << 20;
    if (pipe2(outpipe, O_CLOEXEC) != 0 || pipe2(errpipe, O_CLOEXEC) != 0 ||
        (input && pipe2(inpipe, O_CLOEXEC) != 0)) {
        error = osr__error_set(b->err, OSR_ERROR, "pipe: %s", strerror(errno));
        goto done;
    }
    posix_spawn_file_actions_init(&fa);
    if (input)
        posix_spawn_file_actions_adddup2(&fa, inpipe[0], 0);
    else
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, outpipe[1], 1);
    posix_spawn_file_actions_adddup2(&fa, errpipe[1], 2);
    rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)(uintptr_t)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        pid = -1;
        error = osr__error_set(b->err, rc == ENOENT ? OSR_ENOTFOUND : OSR_ERROR,
                               "cannot run %s: %s%s", argv[0], strerror(rc),
                               rc == ENOENT ? " (install it: see scripts/deps)" : "");
        goto done;
    }
    close(outpipe[1]);
    close(errpipe[1]);
    outpipe[1] = errpipe[1] = -1;
    if (input) {
        close(inpipe[0]);
        inpipe[0] = -1;
        if (in_len == 0) {
            close(inpipe[1]);
            inpipe[1] = -1;
        }
    }
    while (outpipe[0] >= 0 || errpipe[0] >= 0) {
        struct pollfd pf[3];
        nfds_t np = 0;
        int *fds[3];
        if (outpipe[0] >= 0) {
            pf[np] = (struct pollfd){ outpipe[0], POLLIN, 0 };
            fds[np++] = &outpipe[0];
        }
        if (errpipe[0] >= 0) {
            pf[np] = (struct pollfd){ errpipe[0], POLLIN, 0 };
            fds[np++] = &errpipe[0];
        }
        if (inpipe[1] >= 0) {
            pf[np] = (struct pollfd){ inpipe[1], POLLOUT, 0 };
            fds[np++] = &inpipe[1];
        }
        rc = poll(pf, np, 250);
        if (osr__build_cancelled(b) && !killed) {
            kill(pid, SIGTERM);
            killed = true;
        }
        if (rc < 0 && errno != EINTR) {
            error = osr__error_set(b->err, OSR_ERROR, "poll: %s", strerror(errno));
            break;
        }
        for (nfds_t i = 0; rc > 0 && i < np; i++) {
            char buf[8192];
            ssize_t n;
            if (pf[i].revents == 0)
                continue;
            if (fds[i] == &inpipe[1]) {
                n = write(inpipe[1], input + in_off, in_len - in_off);
                if (n > 0)
                    in_off += (size_t)n;
                if (n < 0 || in_off == in_len) {
                    close(inpipe[1]);
                    inpipe[1] = -1;
                }
                continue;
            }
            n = read(*fds[i], buf, sizeof(buf));
            if (n <= 0) {
                if (n < 0 && errno == EINTR)
                    continue;
                close(*fds[i]);
                *fds[i] = -1;
                continue;
            }
            if (fds[i] == &outpipe[0]) {
                if (progress)
                    parse_qemu_progress(b, buf, (size_t)n);
                if (output && osr__buf_append(&out, buf, (size_t)n) < 0)
                    error = osr__error_set(b->err, OSR_ENOMEM, "%s: too much output", argv[0]);
            } else {
                /* Keep the tail of stderr for the message. */
                if (errb.len > 65536) {
                    memmove(errb.data, errb.data + errb.len - 4096, 4096);
                    errb.len = 4096;
                    errb.data[errb.len] = '\0';
                }
                osr__buf_append(&errb, buf, (size_t)n);
            }
        }
    }
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            status = -1;
            break;
        }
    }
    pid = -1;
    if (error < 0)
        goto done;
    if (killed || osr__build_cancelled(b)) {
        error = osr__error_set(b->err, OSR_ERROR, "interrupted");
        goto done;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        /* The last non-empty line of stderr says why. */
        char *msg = errb.data ? errb.data : (char *)"";
        size_t n = errb.len;
        while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r' || msg[n - 1] == ' '))
            n--;
        {
            size_t start = n;
            while (start > 0 && msg[start - 1] != '\n')
                start--;
            if (WIFEXITED(status))
                error = osr__error_set(b->err, OSR_ERROR, "%s failed (exit %d)%s%.*s", argv[0],
                                       WEXITSTATUS(status), n > start ? ": " : "",
                                       (int)(n - start > 300 ? 300 : n - start), msg + start);
            else
                error = osr__error_set(b->err, OSR_ERROR, "%s died (signal %d)", argv[0],
                                       WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        }
        goto done;
    }
    if (output) {
        if (out.data == NULL)
            osr__buf_append(&out, "", 0);
        *output = osr__buf_detach(&out);
    }
done:
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    for (int i = 0; i < 2; i++) {
        if (inpipe[i] >= 0)
            close(inpipe[i]);
        if (outpipe[i] >= 0)
            close(outpipe[i]);
        if (errpipe[i] >= 0)
            close(errpipe[i]);
    }
    osr__buf_free(&out);
    osr__buf_free(&errb);
    return error;
}

int osr__build_compress(osr__build *b, const char *src, const char *src_format)
{
    char *tmp = osr__sprintf("%s.tmp-%ld", b->o->output, (long)getpid());
    int error, fd;

    if (tmp == NULL)
        return osr__error_set(b->err, OSR_ENOMEM, "out of memory");
    {
        /* zlib: every qemu that Nova may run reads it (zstd needs qemu >= 5.1). */
        const char *argv[] = { "qemu-img", "convert",  "-p", "-c",    "-m", "8", "-W",
                               "-f",       src_format, "-O", "qcow2", src,  tmp, NULL };
        error = osr__build_run(b, argv, NULL, NULL);
    }
    if (error == 0) {
        fd = open(tmp, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) != 0)
            error = osr__error_set(b->err, OSR_EIO, "%s: %s", tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
    }
    if (error == 0 && rename(tmp, b->o->output) != 0)
        error = osr__error_set(b->err, OSR_EIO, "%s: %s", b->o->output, strerror(errno));
    if (error < 0)
        unlink(tmp);
    free(tmp);
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
    if (!S_ISREG(st.st_mode))
        return osr__error_set(err, OSR_EINVAL, "%s %s: not a regular file", what, path);
    return 0;
}

int osr_image_build(osr_build_result **out, const osr_build_options *o, osr_error *err)
{
    osr__build b;
    osr_build_result *r = NULL;
    const char *tmpdir;
    char *tmpl = NULL, *absbase = NULL;
    osr_build_options copy;
    bool packages;
    int64_t t0 = osr__now_ms_monotonic();
    int error;

    memset(&b, 0, sizeof(b));
    if (o == NULL || out == NULL)
        return osr__error_set(err, OSR_EINVAL, "osr_image_build: NULL argument");
    if ((error = check_file("base image", o->base, err)) < 0 ||
        (error = check_file("runner tarball", o->runner_tarball, err)) < 0)
        return error;
    if (o->output == NULL || *o->output == '\0')
        return osr__error_set(err, OSR_EINVAL, "no output file given");
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
    /* qemu resolves backing files relative to the overlay: use absolute paths. */
    if ((absbase = realpath(o->base, NULL)) == NULL)
        return osr__error_set(err, OSR_EIO, "%s: %s", o->base, strerror(errno));
    copy = *o;
    copy.base = absbase;
    if (copy.backend == OSR_BUILD_AUTO)
        copy.backend = (packages || o->script) ? OSR_BUILD_GUESTFS : OSR_BUILD_OFFLINE;
    b.o = &copy;
    b.err = err;
    b.extra = o->extra_size >= 0 ? o->extra_size : (packages ? 1536LL << 20 : 0);
    b.epoch = o->epoch;

    tmpdir = o->work_dir ? o->work_dir : getenv("TMPDIR");
    if (tmpdir == NULL || *tmpdir == '\0')
        tmpdir = "/var/tmp";
    if ((tmpl = osr__sprintf("%s/osrunner-build-XXXXXX", tmpdir)) == NULL) {
        error = osr__error_set(err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    if (mkdtemp(tmpl) == NULL) {
        error = osr__error_set(err, OSR_EIO, "%s: %s", tmpl, strerror(errno));
        free(tmpl);
        tmpl = NULL;
        goto done;
    }
    b.work = tmpl;
    b.steps = (unsigned int)(copy.backend == OSR_BUILD_GUESTFS ? osr__build_guestfs_steps(&b)
                                                               : osr__build_offline_steps(&b));
    if ((error = osr__build_step(&b, "inspect the base image")) < 0 ||
        (error = inspect_base(&b)) < 0)
        goto done;
    error = copy.backend == OSR_BUILD_GUESTFS ? osr__build_guestfs(&b) : osr__build_offline(&b);
    if (error < 0)
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
    r->seconds = seconds_since(t0);
    *out = r;
    r = NULL;
done:
    if (error < 0 && b.step > 0 && b.step_name)
        osr__error_prefix(err, "%s", b.step_name);
    if (b.work) {
        remove_tree(b.work);
        free(b.work);
    }
    osr_build_result_free(r);
    free(b.base_format);
    free(b.os_distro);
    free(b.os_version);
    free(absbase);
    return error;
}
