/* osrunner image build | upload | list | show | delete */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_RUNNER_INFO (1u << 20)
#define MAX_LIST        64
/* The old image builder's package list, for builds that may use the network. */
#define DEFAULT_PACKAGES "docker.io npm python3-pip shellcheck jq wget unzip gh"

static const char image_usage[] =
    "Usage: osrunner image {build|upload|list|show|delete} ...\n"
    "\n"
    "  build --base FILE|URL --runner-info FILE|--runner-url URL --runner-sha256 H ...\n"
    "                       build a runner image (and --upload it)\n"
    "  upload FILE --name N publish an image: verified, then older ones retired\n"
    "  list [--cleanup]     images, with the current one of each name marked\n"
    "  show NAME|ID         one image with its properties\n"
    "  delete NAME|ID...    delete images (by name: the current one, which rolls back)\n"
    "\n"
    "'osrunner image COMMAND --help' says more.\n";

static const char build_usage[] =
    "Usage: osrunner image build --base FILE|URL [--base-sha256 H]\n"
    "         (--runner-info FILE | --runner-url URL --runner-sha256 H |\n"
    "          --runner-version latest|X.Y.Z --github-path P) [--runner-arch A]\n"
    "         [--http-proxy U] [--https-proxy U] [--no-proxy LIST]\n"
    "         [--packages \"a b\" | --no-packages] [--extra-size SIZE] [--script FILE]\n"
    "         [--backend auto|offline|guestfs] [--accel auto|kvm|tcg] [--work-dir DIR]\n"
    "         [--name NAME] [--output FILE] [--upload [--keep N] [--visibility V]\n"
    "         [--property K=V]...] [--json]\n"
    "\n"
    "Build a GitHub Actions runner image from an Ubuntu cloud image: user ubuntu\n"
    "(groups docker, sudo), the runner in /home/ubuntu/actions-runner, proxy\n"
    "settings, packages; compressed qcow2, mode 0600 (it may hold proxy credentials).\n"
    "Local inputs are checked before any download. Nothing is left behind on\n"
    "failure; what a killed build left is removed by the next one. Host tools and\n"
    "the libguestfs appliance see only PATH, HOME, USER, LOGNAME, TERM, TZ, TMPDIR,\n"
    "XDG_RUNTIME_DIR, LANG, LANGUAGE, LC_*, LIBGUESTFS_* and SUPERMIN_* of the\n"
    "environment, and die with osrunner.\n"
    "\n"
    "  --base FILE|URL        the base cloud image (qcow2 or raw); a URL needs --base-sha256\n"
    "  --base-sha256 H        check the base image against this SHA-256\n"
    "  --runner-info FILE     GitHub's runner download entry (or the whole list) as JSON\n"
    "  --runner-arch A        the entry to take from a list: x64 (default) or arm64\n"
    "  --runner-url URL       the runner tarball (http(s), file:// or a local path), with\n"
    "  --runner-sha256 H      its SHA-256; a mismatch stops the build (exit 10)\n"
    "  --runner-version V     latest or X.Y.Z: ask GitHub's runner downloads for it (with\n"
    "                         --github-path and the GitHub credentials of 'osrunner github')\n"
    "  --http-proxy U, --https-proxy U, --no-proxy LIST\n"
    "                         proxy settings for the runner VMs; the downloads use them too\n"
    "  --packages \"a b\"       apt packages to install in the guest (needs network; default:\n"
    "                         " DEFAULT_PACKAGES ")\n"
    "  --no-packages          install nothing (the fast offline build)\n"
    "  --extra-size SIZE      grow the disk by SIZE (e.g. 1.5G; default 0, 1.5G with packages)\n"
    "  --script FILE          run FILE as root in the guest at the end (guestfs backend)\n"
    "  --backend B            offline (no VM, files only), guestfs (libguestfs appliance),\n"
    "                         auto (default: offline unless packages or a script);\n"
    "                         each is a module in LIBDIR/osrunner, loaded only here\n"
    "  --accel A              the appliance's accelerator: auto (default), kvm, tcg\n"
    "  --work-dir DIR         where temporary files go (default: $TMPDIR or /var/tmp)\n"
    "  --name NAME            the image name (default " OSR_IMAGE_NAME_DEFAULT ")\n"
    "  --output FILE          the qcow2 to write (default NAME.qcow2; with --upload and\n"
    "                         no --output, a temporary file)\n"
    "  --upload               publish it to Glance (see 'osrunner image upload')\n"
    "  --keep N, --visibility V, --property K=V   as for 'image upload'\n";

static const char upload_usage[] =
    "Usage: osrunner [--os-cloud NAME] image upload FILE --name NAME\n"
    "         [--disk-format F] [--container-format F] [--visibility V]\n"
    "         [--property K=V]... [--tag T]... [--keep N] [--timeout SECONDS] [--json]\n"
    "\n"
    "Publish FILE as image NAME: check that its content is --disk-format (a sane\n"
    "qcow2 header; raw not empty) before anything is created, create it, stream the\n"
    "data (SHA-512 and MD5 checked against Glance's), and only once it is active\n"
    "delete older images of the same name beyond the newest N that osrunner published\n"
    "in this project. Other images of the name (another project's, hand-made) are left\n"
    "alone with a warning. A failed or interrupted upload deletes its image; records\n"
    "of uploads that were killed are removed by the next upload or list --cleanup.\n"
    "\n"
    "  --name NAME            required\n"
    "  --disk-format F        default qcow2\n"
    "  --container-format F   default bare\n"
    "  --visibility V         public, private, shared or community (default: Glance's)\n"
    "  --property K=V         an image property (repeatable)\n"
    "  --tag T                a tag (repeatable)\n"
    "  --keep N               images of this name to keep, the new one included (default 2)\n"
    "  --timeout SECONDS      for the transfer, and for deleting its image if it fails\n"
    "                         (default 600 + 1 per 4 MiB)\n";

static const char list_usage[] =
    "Usage: osrunner [--os-cloud NAME] image list [--name N] [--tag T] [--property K=V]...\n"
    "         [--status S] [--cleanup] [--json]\n"
    "\n"
    "List images, newest first. CURRENT marks the image that a lookup by name gives\n"
    "(instances are launched from it).\n"
    "\n"
    "  --cleanup   first delete records of uploads that died (queued or saving)\n";

static const char show_usage[] = "Usage: osrunner [--os-cloud NAME] image show NAME|ID [--json]\n";

static const char delete_usage[] =
    "Usage: osrunner [--os-cloud NAME] image delete NAME|ID... [--json]\n"
    "\n"
    "Delete images. A name means its current image, so deleting by name rolls back\n"
    "to the previous image of that name.\n";

/* ------------------------------------------------------------- signals */

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    interrupted = sig;
}

static void catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal; /* no SA_RESTART: blocking calls return */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

/* The exit status after an interruption: 128 + the signal, as shells do. */
static int interrupted_rc(void)
{
    return 128 + (int)interrupted;
}

/* ------------------------------------------------------------ options */

static struct {
    const char *base, *base_sha256, *runner_info, *runner_arch, *runner_url, *runner_sha256;
    const char *runner_version;
    const char *http_proxy, *https_proxy, *no_proxy, *packages, *script, *work_dir;
    const char *name, *output, *disk_format, *container_format, *visibility;
    const char *tag_filter, *status;
    const char *props[MAX_LIST + 1];
    const char *tags[MAX_LIST + 1];
    size_t nprops, ntags;
    bool no_packages, upload, cleanup;
    long long extra_size;
    unsigned int keep;
    long timeout_s;
    osr_build_backend backend;
    osr_accel accel;
} a;

enum {
    O_BASE = 0x400,
    O_BASE_SHA,
    O_RUNNER_INFO,
    O_RUNNER_ARCH,
    O_RUNNER_URL,
    O_RUNNER_SHA,
    O_RUNNER_VERSION,
    O_HTTP_PROXY,
    O_HTTPS_PROXY,
    O_NO_PROXY,
    O_PACKAGES,
    O_NO_PACKAGES,
    O_EXTRA,
    O_SCRIPT,
    O_BACKEND,
    O_ACCEL,
    O_WORK_DIR,
    O_NAME,
    O_OUTPUT,
    O_UPLOAD,
    O_KEEP,
    O_VISIBILITY,
    O_PROPERTY,
    O_TAG,
    O_DISK_FORMAT,
    O_CONTAINER_FORMAT,
    O_TIMEOUT,
    O_STATUS,
    O_CLEANUP,
};

static int parse_size(long long *out, const char *s)
{
    char *end;
    double v;
    long long mul = 1;

    errno = 0;
    v = strtod(s, &end);
    if (end == s || errno || v < 0)
        return -1;
    switch (*end) {
    case '\0':
        break;
    case 'K':
    case 'k':
        mul = 1LL << 10;
        end++;
        break;
    case 'M':
    case 'm':
        mul = 1LL << 20;
        end++;
        break;
    case 'G':
    case 'g':
        mul = 1LL << 30;
        end++;
        break;
    default:
        return -1;
    }
    if (*end == 'i' || *end == 'B')
        end++;
    if (*end == 'B')
        end++;
    if (*end != '\0' || v * (double)mul > 1e15)
        return -1;
    *out = (long long)(v * (double)mul);
    return 0;
}

static int on_opt(int opt, const char *arg)
{
    char *end;
    long n;

    if (opt >= CLI_OPT_GITHUB_FIRST && opt <= CLI_OPT_GITHUB_LAST)
        return cli_github_opt(opt, arg);
    switch (opt) {
    case O_RUNNER_VERSION:
        a.runner_version = arg;
        return 0;
    case O_BASE:
        a.base = arg;
        return 0;
    case O_BASE_SHA:
        a.base_sha256 = arg;
        return 0;
    case O_RUNNER_INFO:
        a.runner_info = arg;
        return 0;
    case O_RUNNER_ARCH:
        a.runner_arch = arg;
        return 0;
    case O_RUNNER_URL:
        a.runner_url = arg;
        return 0;
    case O_RUNNER_SHA:
        a.runner_sha256 = arg;
        return 0;
    case O_HTTP_PROXY:
        a.http_proxy = arg;
        return 0;
    case O_HTTPS_PROXY:
        a.https_proxy = arg;
        return 0;
    case O_NO_PROXY:
        a.no_proxy = arg;
        return 0;
    case O_PACKAGES:
        a.packages = arg;
        return 0;
    case O_NO_PACKAGES:
        a.no_packages = true;
        return 0;
    case O_EXTRA:
        if (parse_size(&a.extra_size, arg) < 0) {
            cli_usage_error(NULL, "--extra-size: '%s' is not a size (e.g. 1.5G)", arg);
            return -1;
        }
        return 0;
    case O_SCRIPT:
        a.script = arg;
        return 0;
    case O_BACKEND:
        if (strcmp(arg, "auto") == 0)
            a.backend = OSR_BUILD_AUTO;
        else if (strcmp(arg, "offline") == 0)
            a.backend = OSR_BUILD_OFFLINE;
        else if (strcmp(arg, "guestfs") == 0)
            a.backend = OSR_BUILD_GUESTFS;
        else {
            cli_usage_error(NULL, "--backend: auto, offline or guestfs");
            return -1;
        }
        return 0;
    case O_ACCEL:
        if (strcmp(arg, "auto") == 0)
            a.accel = OSR_ACCEL_AUTO;
        else if (strcmp(arg, "kvm") == 0)
            a.accel = OSR_ACCEL_KVM;
        else if (strcmp(arg, "tcg") == 0)
            a.accel = OSR_ACCEL_TCG;
        else {
            cli_usage_error(NULL, "--accel: auto, kvm or tcg");
            return -1;
        }
        return 0;
    case O_WORK_DIR:
        a.work_dir = arg;
        return 0;
    case O_NAME:
        a.name = arg;
        return 0;
    case O_OUTPUT:
        a.output = arg;
        return 0;
    case O_UPLOAD:
        a.upload = true;
        return 0;
    case O_KEEP:
        n = strtol(arg, &end, 10);
        if (*arg == '\0' || *end != '\0' || n < 1 || n > 100) {
            cli_usage_error(NULL, "--keep: a number from 1 to 100");
            return -1;
        }
        a.keep = (unsigned int)n;
        return 0;
    case O_TIMEOUT:
        n = strtol(arg, &end, 10);
        if (*arg == '\0' || *end != '\0' || n < 1 || n > 86400) {
            cli_usage_error(NULL, "--timeout: seconds, 1 to 86400");
            return -1;
        }
        a.timeout_s = n;
        return 0;
    case O_VISIBILITY:
        a.visibility = arg;
        return 0;
    case O_PROPERTY:
        if (strchr(arg, '=') == NULL || *arg == '=' || a.nprops >= MAX_LIST) {
            cli_usage_error(NULL, "--property: KEY=VALUE (at most %d)", MAX_LIST);
            return -1;
        }
        a.props[a.nprops++] = arg;
        return 0;
    case O_TAG:
        if (a.ntags >= MAX_LIST) {
            cli_usage_error(NULL, "--tag: at most %d", MAX_LIST);
            return -1;
        }
        a.tags[a.ntags++] = arg;
        a.tag_filter = arg;
        return 0;
    case O_DISK_FORMAT:
        a.disk_format = arg;
        return 0;
    case O_CONTAINER_FORMAT:
        a.container_format = arg;
        return 0;
    case O_STATUS:
        a.status = arg;
        return 0;
    case O_CLEANUP:
        a.cleanup = true;
        return 0;
    default:
        return -1;
    }
}

/* ------------------------------------------------------------- progress */

struct progress {
    bool tty;
    int64_t last_ms;
    int64_t t0_ms;
    const char *what;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_build_event(const osr_build_event *ev, void *payload)
{
    struct progress *p = payload;
    int64_t now = now_ms();

    if (cli.json)
        return;
    if (ev->kind == OSR_BUILD_STEP_DONE) {
        if (p->tty)
            fprintf(stderr, "\r\033[K");
        fprintf(stderr, "osrunner: [%u/%u] %s: %.1f s\n", ev->step, ev->steps, ev->name,
                ev->seconds);
        return;
    }
    if (!p->tty)
        return;
    if (ev->kind == OSR_BUILD_STEP_PROGRESS && now - p->last_ms < 100)
        return;
    p->last_ms = now;
    if (ev->kind == OSR_BUILD_STEP_PROGRESS && ev->total > 0)
        fprintf(stderr, "\r\033[K[%u/%u] %s %3d%%", ev->step, ev->steps, ev->name,
                (int)(100 * ev->done / ev->total));
    else if (ev->kind == OSR_BUILD_STEP_PROGRESS && ev->done >= 0)
        fprintf(stderr, "\r\033[K[%u/%u] %s (%lld)", ev->step, ev->steps, ev->name, ev->done);
    else
        fprintf(stderr, "\r\033[K[%u/%u] %s ...", ev->step, ev->steps, ev->name);
}

static void on_transfer(long long now, long long total, void *payload)
{
    struct progress *p = payload;
    int64_t t = now_ms();
    double secs = (double)(t - p->t0_ms) / 1000.0;

    if (cli.json || !p->tty || (t - p->last_ms < 100 && now != total))
        return;
    p->last_ms = t;
    if (total > 0)
        fprintf(stderr, "\r\033[K%s %3d%%  %lld/%lld MiB  %.0f MiB/s", p->what,
                (int)(100 * now / total), now >> 20, total >> 20,
                secs > 0 ? (double)now / 1048576.0 / secs : 0.0);
    else
        fprintf(stderr, "\r\033[K%s %lld MiB", p->what, now >> 20);
}

static void end_transfer_line(struct progress *p)
{
    if (!cli.json && p->tty)
        fprintf(stderr, "\r\033[K");
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
    va_list ap;
    if (cli.json)
        return;
    fputs("osrunner: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* ------------------------------------------------------------- output */

static json_t *image_json(const osr_image *img, int current)
{
    char *s = NULL;
    json_t *o = NULL;

    if (osr_image_to_json(&s, img) == 0)
        o = json_loads(s, 0, NULL);
    osr_free(s);
    if (o && current >= 0)
        json_object_set_new(o, "current", json_boolean(current));
    return o;
}

static void human_size(char *buf, size_t n, long long size)
{
    if (size < 0)
        snprintf(buf, n, "-");
    else if (size >= 1LL << 30)
        snprintf(buf, n, "%.1f GiB", (double)size / (double)(1LL << 30));
    else if (size >= 1LL << 20)
        snprintf(buf, n, "%.1f MiB", (double)size / (double)(1LL << 20));
    else
        snprintf(buf, n, "%lld B", size);
}

static void size_cell(char *buf, size_t size, json_t *v)
{
    human_size(buf, size, json_is_integer(v) ? (long long)json_integer_value(v) : -1);
}

static const struct cli_column image_columns[] = {
    { .key = "id", .header = "ID" },
    { .key = "name", .header = "NAME" },
    { .key = "status", .header = "STATUS" },
    { .key = "size", .header = "SIZE", .right = true, .format = size_cell },
    { .key = "created_at", .header = "CREATED" },
    { .key = "current", .header = "CURRENT", .yes = "*", .no = "" },
    { .key = "osrunner_runner_version", .header = "RUNNER" },
    { .key = NULL },
};

/* ------------------------------------------------------------- publish */

static int open_cloud(osr_session **session)
{
    int rc;
    if ((rc = cli_session(session)) != 0)
        return rc;
    /* Fail before a long build or transfer, not after it. */
    if (osr_session_authenticate(*session) < 0)
        return cli_fail(osr_session_last_error(*session)->code, "%s",
                        osr_session_last_error(*session)->message);
    return 0;
}

static int publish(osr_session *session,
                   const char *path,
                   const char *name,
                   const char *const *props,
                   json_t *report)
{
    osr_image_publish_options po = OSR_IMAGE_PUBLISH_OPTIONS_INIT;
    struct progress pr = { isatty(2) != 0, 0, now_ms(), "upload" };
    osr_image *img = NULL;
    struct stat st;
    size_t retired = 0;
    int error;

    po.image.name = name;
    po.image.disk_format = a.disk_format;
    po.image.container_format = a.container_format;
    po.image.visibility = a.visibility;
    po.image.properties = props;
    po.image.tags = a.ntags ? a.tags : NULL;
    po.keep = a.keep;
    po.upload.progress_cb = on_transfer;
    po.upload.progress_payload = &pr;
    po.upload.timeout_ms = a.timeout_s * 1000;
    po.upload.cancel = &interrupted;
    if (stat(path, &st) == 0)
        note("uploading %s (%.1f MiB) as %s", path, (double)st.st_size / 1048576.0, name);
    error = osr_image_publish(&img, &retired, session, path, &po);
    end_transfer_line(&pr);
    if (error < 0) {
        int rc = cli_fail(error, "%s", osr_session_last_error(session)->message);
        return interrupted ? interrupted_rc() : rc;
    }
    {
        double secs = (double)(now_ms() - pr.t0_ms) / 1000.0;
        note("image %s is active (SHA-512 and MD5 verified) after %.1f s, %.0f MiB/s; %zu older "
             "image%s retired",
             osr_image_id(img), secs,
             secs > 0 ? (double)osr_image_size(img) / 1048576.0 / secs : 0.0, retired,
             retired == 1 ? "" : "s");
        if (report) {
            json_object_set_new(report, "image", image_json(img, 1));
            json_object_set_new(report, "retired", json_integer((json_int_t)retired));
            json_object_set_new(report, "upload_seconds", json_real(secs));
        }
    }
    if (!cli.json && report == NULL)
        printf("%s\n", osr_image_id(img));
    osr_image_free(img);
    return EXIT_OK;
}

static const struct option upload_options[] = {
    { "name", required_argument, NULL, O_NAME },
    { "disk-format", required_argument, NULL, O_DISK_FORMAT },
    { "container-format", required_argument, NULL, O_CONTAINER_FORMAT },
    { "visibility", required_argument, NULL, O_VISIBILITY },
    { "property", required_argument, NULL, O_PROPERTY },
    { "tag", required_argument, NULL, O_TAG },
    { "keep", required_argument, NULL, O_KEEP },
    { "timeout", required_argument, NULL, O_TIMEOUT },
    { NULL, 0, NULL, 0 },
};

static int image_upload(int argc, char **argv)
{
    osr_session *session = NULL;
    json_t *report = NULL;
    const char *file = argv[0];
    int rc;

    (void)argc;
    if (a.name == NULL)
        return cli_usage_error(upload_usage, "--name is required");
    if (access(file, R_OK) != 0)
        return cli_fail(errno == ENOENT ? OSR_ENOTFOUND : OSR_EIO, "%s: %s", file, strerror(errno));
    catch_signals();
    if ((rc = open_cloud(&session)) != 0)
        goto done;
    report = cli.json ? json_object() : NULL;
    rc = publish(session, file, a.name, a.nprops ? a.props : NULL, report);
    if (rc == EXIT_OK && report) {
        rc = cli_print_json(report);
        report = NULL;
    }
done:
    json_decref(report);
    return rc;
}

/* ------------------------------------------------------------- list/show/delete */

static const struct option list_options[] = {
    { "name", required_argument, NULL, O_NAME },
    { "tag", required_argument, NULL, O_TAG },
    { "property", required_argument, NULL, O_PROPERTY },
    { "status", required_argument, NULL, O_STATUS },
    { "cleanup", no_argument, NULL, O_CLEANUP },
    { NULL, 0, NULL, 0 },
};

static int image_list(int argc, char **argv)
{
    osr_image_filter f = OSR_IMAGE_FILTER_INIT;
    osr_session *session = NULL;
    osr_image_list *list = NULL;
    struct cli_table *t = NULL;
    int rc;
    size_t n;

    (void)argc;
    (void)argv;
    if ((rc = open_cloud(&session)) != 0)
        goto done;
    if (a.cleanup) {
        size_t removed = 0;
        if (osr_image_cleanup_stale(&removed, session, a.name) < 0) {
            rc = cli_fail(osr_session_last_error(session)->code, "%s",
                          osr_session_last_error(session)->message);
            goto done;
        }
        note("removed %zu stale image record%s", removed, removed == 1 ? "" : "s");
    }
    f.name = a.name;
    f.tag = a.tag_filter;
    f.properties = a.nprops ? a.props : NULL;
    f.status = a.status;
    if (osr_image_list_get(&list, session, &f) < 0) {
        rc = cli_fail(osr_session_last_error(session)->code, "%s",
                      osr_session_last_error(session)->message);
        goto done;
    }
    n = osr_image_list_count(list);
    if ((rc = cli_table_new(&t, image_columns)) != 0)
        goto done;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = cli_table_add(
            t, image_json(osr_image_list_at(list, i), osr_image_list_is_current(list, i)));
done:
    rc = cli_table_done(t, rc);
    osr_image_list_free(list);
    return rc;
}

static int image_show(int argc, char **argv)
{
    osr_session *session = NULL;
    osr_image *img = NULL;
    const char *what = argv[0];
    int rc;

    (void)argc;
    if ((rc = open_cloud(&session)) != 0)
        goto done;
    if (osr_image_find(&img, session, what) < 0) {
        rc = cli_fail(osr_session_last_error(session)->code, "%s",
                      osr_session_last_error(session)->message);
        goto done;
    }
    rc = cli_print_record(image_json(img, -1));
done:
    osr_image_free(img);
    return rc;
}

static int image_delete(int argc, char **argv)
{
    osr_session *session = NULL;
    json_t *arr = NULL;
    char **what = argv;
    int first = argc, rc;

    if ((rc = open_cloud(&session)) != 0)
        goto done;
    arr = json_array();
    for (int i = 0; i < first; i++) {
        osr_image *img = NULL;
        if (osr_image_find(&img, session, what[i]) < 0 ||
            osr_image_delete(session, osr_image_id(img)) < 0) {
            osr_image_free(img);
            rc = cli_fail(osr_session_last_error(session)->code, "%s",
                          osr_session_last_error(session)->message);
            goto done;
        }
        if (cli.json)
            json_array_append_new(arr, json_string(osr_image_id(img)));
        else
            printf("deleted %s (%s)\n", osr_image_id(img), osr_image_name(img));
        osr_image_free(img);
    }
    rc = EXIT_OK;
    if (cli.json) {
        rc = cli_print_json(arr);
        arr = NULL;
    }
done:
    json_decref(arr);
    return rc;
}

/* ------------------------------------------------------------- build */

static bool is_url(const char *s)
{
    return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

/* --base with --base-sha256: downloaded to dest (a URL) or hashed in place. */
static int fetch_base(const char *dest, osr_fetch_options *fo, struct progress *pr, osr_error *err)
{
    int error;
    pr->what = "base image";
    pr->t0_ms = now_ms();
    note("base image %s: %s and checking SHA-256", a.base, is_url(a.base) ? "fetching" : "reading");
    error = osr_fetch_verified(dest, a.base, a.base_sha256, NULL, fo, err);
    end_transfer_line(pr);
    return error;
}

static int split_packages(const char **out, size_t max, char *list)
{
    size_t n = 0;
    char *save = NULL;
    for (char *t = strtok_r(list, " \t,", &save); t; t = strtok_r(NULL, " \t,", &save)) {
        if (n >= max)
            return -1;
        out[n++] = t;
    }
    out[n] = NULL;
    return (int)n;
}

/* The runner application GitHub offers (its downloads list); version
 * "latest" or the one X.Y.Z it lists. */
static int runner_from_github(osr_runner_app **out, const char *version, const char *arch)
{
    osr_github *gh = NULL;
    const char *path = cli_github_path();
    osr_error err;
    int rc = 0, error;

    if (path == NULL)
        return cli_usage_error(build_usage, "--runner-version needs --github-path");
    if ((rc = cli_open_github(&gh)) != 0)
        return rc;
    osr_error_clear(&err);
    if ((error = osr_runner_app_from_github(out, gh, path, "linux", arch, version, &err)) < 0)
        rc = error == OSR_ENOTFOUND
                 ? cli_fail(error, "%s; give --runner-url and --runner-sha256 for another version",
                            err.message)
                 : cli_fail(error, "%s", err.message);
    osr_github_free(gh);
    return rc;
}

static const struct option build_options[] = {
    { "base", required_argument, NULL, O_BASE },
    { "base-sha256", required_argument, NULL, O_BASE_SHA },
    { "runner-info", required_argument, NULL, O_RUNNER_INFO },
    { "runner-arch", required_argument, NULL, O_RUNNER_ARCH },
    { "runner-url", required_argument, NULL, O_RUNNER_URL },
    { "runner-sha256", required_argument, NULL, O_RUNNER_SHA },
    { "runner-version", required_argument, NULL, O_RUNNER_VERSION },
    CLI_GITHUB_OPTIONS,
    { "http-proxy", required_argument, NULL, O_HTTP_PROXY },
    { "https-proxy", required_argument, NULL, O_HTTPS_PROXY },
    { "no-proxy", required_argument, NULL, O_NO_PROXY },
    { "packages", required_argument, NULL, O_PACKAGES },
    { "no-packages", no_argument, NULL, O_NO_PACKAGES },
    { "extra-size", required_argument, NULL, O_EXTRA },
    { "script", required_argument, NULL, O_SCRIPT },
    { "backend", required_argument, NULL, O_BACKEND },
    { "accel", required_argument, NULL, O_ACCEL },
    { "work-dir", required_argument, NULL, O_WORK_DIR },
    { "name", required_argument, NULL, O_NAME },
    { "output", required_argument, NULL, O_OUTPUT },
    { "upload", no_argument, NULL, O_UPLOAD },
    { "keep", required_argument, NULL, O_KEEP },
    { "visibility", required_argument, NULL, O_VISIBILITY },
    { "property", required_argument, NULL, O_PROPERTY },
    { NULL, 0, NULL, 0 },
};

static int image_build(int argc, char **argv)
{
    osr_build_options bo = OSR_BUILD_OPTIONS_INIT;
    osr_fetch_options fo = OSR_FETCH_OPTIONS_INIT;
    osr_runner_app *app = NULL;
    osr_build_result *res = NULL;
    osr_session *session = NULL;
    osr_error err;
    struct progress pr = { isatty(2) != 0, 0, now_ms(), "" };
    const char *pkgs[MAX_LIST + 1] = { NULL };
    const char *props[MAX_LIST + 8];
    osr_build_dir *dldir = NULL;
    const char *dl = NULL;
    char *pkgbuf = NULL, *info = NULL, *runner_dest = NULL, *base_dest = NULL;
    char *output = NULL, **prov = NULL;
    const char *runner_path = NULL, *base_path = NULL, *glance_arch = NULL;
    json_t *report = NULL;
    int rc = EXIT_OK, error;

    osr_error_clear(&err);
    (void)argc;
    (void)argv;
    if (a.base == NULL)
        return cli_usage_error(build_usage, "--base is required");
    if ((a.runner_info != NULL) + (a.runner_url != NULL) + (a.runner_version != NULL) != 1)
        return cli_usage_error(build_usage,
                               "give one of --runner-info, --runner-url and --runner-version");
    if (a.runner_url && a.runner_sha256 == NULL)
        return cli_usage_error(build_usage, "--runner-url needs --runner-sha256");
    if (a.runner_info && a.runner_sha256)
        return cli_usage_error(build_usage, "--runner-sha256 goes with --runner-url");
    if (a.packages && a.no_packages)
        return cli_usage_error(build_usage, "--packages and --no-packages exclude each other");
    if (!a.upload && (a.keep || a.visibility || a.nprops))
        return cli_usage_error(build_usage, "--keep, --visibility and --property need --upload");
    if ((strncmp(a.base, "http://", 7) == 0 || strncmp(a.base, "https://", 8) == 0) &&
        a.base_sha256 == NULL)
        return cli_usage_error(build_usage, "a --base URL needs --base-sha256");
    if (a.name == NULL)
        a.name = OSR_IMAGE_NAME_DEFAULT;
    if (!a.no_packages) {
        pkgbuf = strdup(a.packages ? a.packages : DEFAULT_PACKAGES);
        if (pkgbuf == NULL || split_packages(pkgs, MAX_LIST, pkgbuf) < 0) {
            rc = cli_fail(OSR_EINVAL, "--packages: at most %d packages", MAX_LIST);
            goto done;
        }
    }
    if (a.output) {
        output = strdup(a.output);
    } else if ((output = malloc(4200)) != NULL) {
        if (a.upload) /* a temporary file in the download directory, made below */
            output[0] = '\0';
        else
            snprintf(output, 4200, "%s.qcow2", a.name);
    }
    if (output == NULL) {
        rc = cli_fail(OSR_ENOMEM, "out of memory");
        goto done;
    }
    bo.proxy.http = a.http_proxy;
    bo.proxy.https = a.https_proxy;
    bo.proxy.no_proxy = a.no_proxy;
    bo.packages = pkgs[0] ? pkgs : NULL;
    bo.extra_size = a.extra_size;
    bo.script = a.script;
    bo.backend = a.backend;
    bo.accel = a.accel;
    bo.work_dir = a.work_dir;
    bo.log_cb = cli_log_to_stderr;
    bo.log_level = cli_log_level();
    {
        /* Every local input is checked before anything is fetched. */
        const char *tmp = a.work_dir ? a.work_dir : getenv("TMPDIR");
        char probe[4200];
        snprintf(probe, sizeof(probe), "%s/image.qcow2", tmp && *tmp ? tmp : "/var/tmp");
        bo.base = is_url(a.base) ? NULL : a.base;
        /* --runner-url is checked (and a file:// URL made a path) first. */
        if (a.runner_url && (error = osr_runner_app_new(&app, a.runner_url, a.runner_sha256,
                                                        a.runner_arch, &err)) < 0) {
            rc = cli_fail(error, "%s", err.message);
            goto done;
        }
        bo.runner_tarball = app && !is_url(osr_runner_app_download_url(app))
                                ? osr_runner_app_download_url(app)
                                : NULL;
        bo.output = *output ? output : probe;
        if ((error = osr_image_build_check(&bo, &err)) < 0) {
            rc = cli_fail(error, "%s", err.message);
            goto done;
        }
        bo.output = NULL;
    }
    catch_signals();

    /* The runner application. */
    if (a.runner_version) {
        if ((rc = runner_from_github(&app, a.runner_version, a.runner_arch)) != 0)
            goto done;
    } else if (a.runner_info) {
        int fd = open(a.runner_info, O_RDONLY | O_CLOEXEC);
        ssize_t n = 0, got;
        if (fd < 0) {
            rc = cli_fail(errno == ENOENT ? OSR_ENOTFOUND : OSR_EIO, "%s: %s", a.runner_info,
                          strerror(errno));
            goto done;
        }
        info = malloc(MAX_RUNNER_INFO + 1);
        while (info && (got = read(fd, info + n, MAX_RUNNER_INFO + 1 - (size_t)n)) > 0)
            n += got;
        close(fd);
        if (info == NULL || n > (ssize_t)MAX_RUNNER_INFO) {
            rc = cli_fail(OSR_EINVAL, "%s: larger than 1 MiB", a.runner_info);
            goto done;
        }
        error = osr_runner_app_parse(&app, info, (size_t)n, "linux", a.runner_arch, &err);
        if (error < 0) {
            rc = cli_fail(error, "%s: %s", a.runner_info, err.message);
            goto done;
        }
    }
    if ((error = osr_runner_arch_map(NULL, &glance_arch, osr_runner_app_architecture(app), &err)) <
        0) {
        rc = cli_fail(error, "%s", err.message);
        goto done;
    }
    if (a.upload && (rc = open_cloud(&session)) != 0)
        goto done;

    /* Downloads go to a private directory that is removed at the end (and,
     * if osrunner is killed, by the next build). */
    if ((error = osr_build_dir_new(&dldir, a.work_dir, &err)) < 0) {
        rc = cli_fail(error, "%s", err.message);
        goto done;
    }
    dl = osr_build_dir_path(dldir);
    runner_dest = malloc(4200);
    base_dest = malloc(4200);
    if (runner_dest == NULL || base_dest == NULL) {
        rc = cli_fail(OSR_ENOMEM, "out of memory");
        goto done;
    }
    snprintf(runner_dest, 4200, "%s/runner.tar.gz", dl);
    snprintf(base_dest, 4200, "%s/base.img", dl);
    fo.progress_cb = on_transfer;
    fo.progress_payload = &pr;
    fo.cancel = &interrupted;
    /* The downloads go through the build's proxies. */
    fo.http_proxy = a.http_proxy;
    fo.https_proxy = a.https_proxy;
    fo.no_proxy = a.no_proxy;
    base_path = a.base;
    /* A local base is checked first, a download of it comes last. */
    error = a.base_sha256 && !is_url(a.base) ? fetch_base(base_dest, &fo, &pr, &err) : 0;
    if (error == 0) {
        pr.what = "runner";
        pr.t0_ms = now_ms();
        note("runner %s%s%s (%s): fetching and checking SHA-256", osr_runner_app_version(app),
             *osr_runner_app_version(app) ? " " : "", osr_runner_app_architecture(app),
             osr_runner_app_filename(app));
        error = osr_runner_app_fetch(&runner_path, app, runner_dest, &fo, &err);
        end_transfer_line(&pr);
    }
    if (error == 0 && a.base_sha256 && is_url(a.base)) {
        error = fetch_base(base_dest, &fo, &pr, &err);
        base_path = base_dest;
    }
    if (error < 0) {
        rc = cli_fail(error, "%s", err.message);
        if (interrupted)
            rc = interrupted_rc();
        goto done;
    }

    /* The build. */
    if (!*output)
        snprintf(output, 4200, "%s/image.qcow2", dl);
    bo.base = base_path;
    bo.runner_tarball = runner_path;
    bo.output = output;
    {
        const char *sde = getenv("SOURCE_DATE_EPOCH");
        char *end;
        long long v = sde ? strtoll(sde, &end, 10) : -1;
        bo.epoch = sde && *sde && *end == '\0' && v >= 0 ? v : -1;
    }
    bo.progress_cb = on_build_event;
    bo.progress_payload = &pr;
    bo.cancel = &interrupted;
    pr.last_ms = 0;
    error = osr_image_build(&res, &bo, &err);
    if (!cli.json && pr.tty)
        fprintf(stderr, "\r\033[K");
    if (error < 0) {
        rc = cli_fail(error, "%s", err.message);
        if (interrupted)
            rc = interrupted_rc();
        goto done;
    }
    note("built %s in %.1f s (%s backend%s%s)", output, osr_build_result_seconds(res),
         osr_build_result_get(res, "backend"), osr_build_result_get(res, "accel") ? ", " : "",
         osr_build_result_get(res, "accel") ? osr_build_result_get(res, "accel") : "");
    report = json_pack(
        "{s:s,s:s,s:s?,s:s?,s:s?,s:s,s:f,s:s,s:s}", "output", a.output ? output : "", "backend",
        osr_build_result_get(res, "backend"), "accel", osr_build_result_get(res, "accel"),
        "os_distro", osr_build_result_get(res, "os_distro"), "os_version",
        osr_build_result_get(res, "os_version"), "build_id", osr_build_result_get(res, "build_id"),
        "seconds", osr_build_result_seconds(res), "runner_version", osr_runner_app_version(app),
        "architecture", glance_arch);
    if (a.upload) {
        size_t np = 0;
        if ((error = osr_image_provenance(&prov, res, app, &err)) < 0) {
            rc = cli_fail(error, "%s", err.message);
            goto done;
        }
        for (size_t i = 0; prov[i]; i++)
            props[np++] = prov[i];
        for (size_t i = 0; i < a.nprops; i++)
            props[np++] = a.props[i];
        props[np] = NULL;
        rc = publish(session, output, a.name, props, report);
        if (rc != EXIT_OK)
            goto done;
    }
    if (cli.json) {
        rc = cli_print_json(report);
        report = NULL;
    } else if (!a.upload) {
        printf("%s\n", output);
    }
done:
    json_decref(report);
    osr_free(prov);
    osr_build_dir_free(dldir);
    free(output);
    free(pkgbuf);
    free(info);
    free(runner_dest);
    free(base_dest);
    osr_build_result_free(res);
    osr_runner_app_free(app);
    return rc;
}

static const struct cli_verb verbs[] = {
    { "build", 0, 0, image_build, build_usage, NULL, build_options, on_opt, NULL },
    { "upload", 1, 1, image_upload, upload_usage, NULL, upload_options, on_opt,
      "image upload takes one FILE" },
    { "list", 0, 0, image_list, list_usage, NULL, list_options, on_opt, NULL },
    { "show", 1, 1, image_show, show_usage, NULL, NULL, on_opt, "image show takes one NAME or ID" },
    { "delete", 1, MAX_LIST, image_delete, delete_usage, NULL, NULL, on_opt,
      "image delete takes one or more NAME or ID" },
};

int cmd_image(int argc, char **argv)
{
    /* Before any option is parsed: -1 means "not given". */
    a.extra_size = -1;
    return cli_dispatch("image", image_usage, verbs, sizeof(verbs) / sizeof(verbs[0]), argc, argv);
}
