/* The build context that the recipe and the backend modules share: steps and
 * progress, cancellation, paths in the work directory, the log hook, host
 * tools (run with an allow-listed environment) and tar path normalisation.
 * Compiled into libosrunner and into each backend module (each keeps its
 * own hidden copy; none holds state). */
#include "image_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* ---------------------------------------------------- the tools' environment */

bool osr__env_allowed(const char *entry)
{
    static const char *const names[] = { "PATH", "HOME", "USER",   "LOGNAME",         "TERM",
                                         "TZ",   "LANG", "TMPDIR", "XDG_RUNTIME_DIR", "LANGUAGE" };
    static const char *const prefixes[] = { "LC_", "LIBGUESTFS_", "SUPERMIN_" };
    const char *eq = entry ? strchr(entry, '=') : NULL;
    size_t n;

    if (eq == NULL || eq == entry)
        return false;
    n = (size_t)(eq - entry);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strlen(names[i]) == n && strncmp(entry, names[i], n) == 0)
            return true;
    }
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        size_t m = strlen(prefixes[i]);
        if (n > m && strncmp(entry, prefixes[i], m) == 0)
            return true;
    }
    return false;
}

char **osr__env_filter(char *const *env)
{
    size_t n = 0, k = 0;
    char **out;

    for (char *const *e = env; e && *e; e++)
        n++;
    if ((out = calloc(n + 1, sizeof(*out))) == NULL)
        return NULL;
    for (char *const *e = env; e && *e; e++) {
        if (osr__env_allowed(*e))
            out[k++] = *e;
    }
    return out;
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
        return osr__error_set(b->err, OSR_EINTERRUPTED, "interrupted");
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
    return osr__sprintf("%s/%s", b->work, name);
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

/* argv[0] on PATH (of the caller's environment): a new string, or NULL with errno set. */
static char *find_tool(const char *name)
{
    const char *path = getenv("PATH");
    int saved = ENOENT;

    if (strchr(name, '/'))
        return osr__strdup(name);
    if (path == NULL || *path == '\0')
        path = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
    while (*path) {
        size_t len = strcspn(path, ":");
        char *cand = osr__sprintf("%.*s/%s", (int)len, len ? path : ".", name);
        struct stat st;
        if (cand == NULL) {
            errno = ENOMEM;
            return NULL;
        }
        if (stat(cand, &st) == 0 && S_ISREG(st.st_mode)) {
            if (access(cand, X_OK) == 0)
                return cand;
            saved = EACCES;
        }
        free(cand);
        path += len + (path[len] == ':' ? 1 : 0);
    }
    errno = saved;
    return NULL;
}

/* In the child: fd from becomes fd to, inherited by the program. */
static int child_dup(int from, int to)
{
    if (from == to)
        return fcntl(to, F_SETFD, 0);
    return dup2(from, to) < 0 ? -1 : 0;
}

/* The child between fork and exec: only async-signal-safe calls. Dies with
 * the parent (and says so if the parent is already gone), gets umask 077
 * (disk.raw, root.img, overlays and outputs are private), the pipes and the
 * allow-listed environment. errno goes back through errfd on failure. */
static void child_exec(const char *path,
                       const char *const *argv,
                       char *const *envp,
                       pid_t parent,
                       int in_fd,
                       int out_fd,
                       int err_fd,
                       int errfd)
{
    int e;
    sigset_t none;

    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
        goto fail;
    if (getppid() != parent) /* the parent died before prctl: no signal will come */
        _exit(127);
    if (in_fd < 0 && (in_fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
        goto fail;
    if (child_dup(in_fd, 0) < 0 || child_dup(out_fd, 1) < 0 || child_dup(err_fd, 2) < 0)
        goto fail;
    umask(077);
    execve(path, (char *const *)(uintptr_t)argv, envp);
fail:
    e = errno;
    if (write(errfd, &e, sizeof(e)) < 0) {
        /* nothing more to say */
    }
    _exit(127);
}

int osr__build_run(osr__build *b, const char *const *argv, const char *input, char **output)
{
    int inpipe[2] = { -1, -1 }, outpipe[2] = { -1, -1 }, errpipe[2] = { -1, -1 };
    int execpipe[2] = { -1, -1 };
    osr__buf out = OSR__BUF_INIT, errb = OSR__BUF_INIT;
    size_t in_off = 0, in_len = input ? strlen(input) : 0;
    bool progress = false;
    pid_t pid = -1, self = getpid();
    int status = 0, error = 0, rc;
    bool killed = false;
    char *path = NULL, **envp = NULL;

    for (const char *const *a = argv; *a; a++) {
        if (strcmp(*a, "-p") == 0 && strcmp(argv[0], "qemu-img") == 0)
            progress = true;
    }
    out.max = 16u << 20;
    if ((path = find_tool(argv[0])) == NULL) {
        rc = errno;
        error = osr__error_set(b->err, rc == ENOMEM ? OSR_ENOMEM : OSR_ENOTFOUND,
                               "cannot run %s: %s%s", argv[0], strerror(rc),
                               rc == ENOENT ? " (install it: see scripts/deps)" : "");
        goto done;
    }
    if ((envp = osr__env_filter(environ)) == NULL) {
        error = osr__error_set(b->err, OSR_ENOMEM, "out of memory");
        goto done;
    }
    if (pipe2(outpipe, O_CLOEXEC) != 0 || pipe2(errpipe, O_CLOEXEC) != 0 ||
        pipe2(execpipe, O_CLOEXEC) != 0 || (input && pipe2(inpipe, O_CLOEXEC) != 0)) {
        error = osr__error_set(b->err, OSR_ERROR, "pipe: %s", strerror(errno));
        goto done;
    }
    pid = fork();
    if (pid < 0) {
        error =
            osr__error_set(b->err, OSR_ERROR, "cannot run %s: fork: %s", argv[0], strerror(errno));
        goto done;
    }
    if (pid == 0)
        child_exec(path, argv, envp, self, inpipe[0], outpipe[1], errpipe[1], execpipe[1]);
    close(execpipe[1]);
    execpipe[1] = -1;
    {
        /* The exec succeeded when the pipe closes without a word. */
        int e = 0;
        ssize_t n;
        while ((n = read(execpipe[0], &e, sizeof(e))) < 0 && errno == EINTR)
            ;
        if (n == (ssize_t)sizeof(e)) {
            while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
            pid = -1;
            error = osr__error_set(b->err, OSR_ERROR, "cannot run %s: %s", argv[0], strerror(e));
            goto done;
        }
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
        error = osr__error_set(b->err, OSR_EINTERRUPTED, "interrupted");
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
        if (execpipe[i] >= 0)
            close(execpipe[i]);
    }
    free(path);
    free(envp);
    osr__buf_free(&out);
    osr__buf_free(&errb);
    return error;
}

void osr__build_log(const osr__build *b, osr_log_level level, const char *fmt, ...)
{
    const osr_build_options *o = b->o;
    char msg[OSR_ERROR_MESSAGE_MAX];
    va_list ap;

    if (o->version < 2 || o->log_cb == NULL || level > o->log_level)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    o->log_cb(level, msg, o->log_payload);
}
