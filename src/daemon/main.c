/* osrunnerd: keeps every pool of osrunner.yaml reconciled, reacts to GitHub's
 * workflow_job webhooks, shows its state on /metrics and /healthz
 * (osrunnerd(8)). One thread, one epoll loop: signals through a signalfd,
 * libmicrohttpd's listeners in external mode, the pass timers. */
#include "daemon.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_METRICS_LISTEN "127.0.0.1:9464"
#define DEFAULT_INTERVAL_S     60

static const char usage[] =
    "Usage: osrunnerd [--config FILE] [--metrics-listen ADDR:PORT]\n"
    "                 [--webhook-listen ADDR:PORT] [--webhook-secret-file FILE]\n"
    "                 [--interval SECONDS] [--log-level LEVEL] [--events json|text]\n"
    "\n"
    "Keep every pool of osrunner.yaml at min_idle idle runners: a reconcile pass per\n"
    "pool every interval (with 10 % jitter), and at once when a workflow_job webhook\n"
    "for the pool's labels arrives or on SIGHUP, which also reloads the file (a bad\n"
    "file is rejected with its file:line:col and the old one stays). SIGTERM and\n"
    "SIGINT stop it: nothing new is started, requests in flight are cancelled.\n"
    "\n"
    "  -c, --config FILE           osrunner.yaml (default " OSR_MANAGER_CONFIG_DEFAULT_PATH ")\n"
    "  --metrics-listen ADDR:PORT  GET /metrics and /healthz (default " DEFAULT_METRICS_LISTEN ")\n"
    "  --webhook-listen ADDR:PORT  POST /webhook on its own listener (default: on the\n"
    "                              metrics listener)\n"
    "  --webhook-secret-file FILE  the hook's secret; without it there is no /webhook\n"
    "  --interval SECONDS          between passes of a pool, 5 to 86400 (default 60)\n"
    "  --log-level LEVEL           the library's messages on stderr: error, warning\n"
    "                              (default), info, debug (HTTP traces, secrets redacted)\n"
    "  --events json|text          the events' format (default: text on a terminal,\n"
    "                              else JSON lines)\n"
    "  -h, --help, --version\n"
    "\n"
    "Events go to stdout as JSON lines (text on a terminal); warnings to stderr.\n"
    "Port 0 picks a free port; the start event names it.\n";

enum {
    OPT_METRICS = 0x100,
    OPT_WEBHOOK,
    OPT_SECRET,
    OPT_INTERVAL,
    OPT_VERSION,
    OPT_LOG,
    OPT_EVENTS
};

struct args {
    const char *config, *metrics_listen, *webhook_listen, *secret_file;
    long interval;
    int events; /* -1: by the terminal, 0: JSON, 1: text */
};

static int parse_args(struct args *a, int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "metrics-listen", required_argument, NULL, OPT_METRICS },
        { "webhook-listen", required_argument, NULL, OPT_WEBHOOK },
        { "webhook-secret-file", required_argument, NULL, OPT_SECRET },
        { "interval", required_argument, NULL, OPT_INTERVAL },
        { "log-level", required_argument, NULL, OPT_LOG },
        { "events", required_argument, NULL, OPT_EVENTS },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, OPT_VERSION },
        { NULL, 0, NULL, 0 },
    };
    int c;
    char *end;

    a->config = OSR_MANAGER_CONFIG_DEFAULT_PATH;
    a->interval = DEFAULT_INTERVAL_S;
    a->events = -1;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            a->config = optarg;
            break;
        case OPT_METRICS:
            a->metrics_listen = optarg;
            break;
        case OPT_WEBHOOK:
            a->webhook_listen = optarg;
            break;
        case OPT_SECRET:
            a->secret_file = optarg;
            break;
        case OPT_INTERVAL:
            errno = 0;
            a->interval = strtol(optarg, &end, 10);
            if (errno || *optarg == '\0' || *end != '\0' || a->interval < 5 ||
                a->interval > 86400) {
                fprintf(stderr, "osrunnerd: --interval: 5 to 86400 seconds\n");
                return 2;
            }
            break;
        case OPT_LOG: {
            static const char *const names[] = { "error", "warning", "info", "debug" };
            static const osr_log_level levels[] = { OSR_LOG_ERROR, OSR_LOG_WARN, OSR_LOG_INFO,
                                                    OSR_LOG_DEBUG };
            size_t i;
            for (i = 0; i < 4 && strcmp(optarg, names[i]) != 0; i++)
                ;
            if (i == 4) {
                fprintf(stderr, "osrunnerd: --log-level: error, warning, info or debug\n");
                return 2;
            }
            ev_set_log_level(levels[i]);
            break;
        }
        case OPT_EVENTS:
            if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0) {
                fprintf(stderr, "osrunnerd: --events: json or text\n");
                return 2;
            }
            a->events = strcmp(optarg, "text") == 0;
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        case OPT_VERSION:
            printf("osrunnerd %s\n", osr_version());
            return 0;
        default:
            fprintf(stderr, "Try 'osrunnerd --help'.\n");
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "osrunnerd: unexpected argument '%s'\nTry 'osrunnerd --help'.\n",
                argv[optind]);
        return 2;
    }
    return -1;
}

static int epoll_add(int ep, int fd, uint64_t tag)
{
    struct epoll_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.u64 = tag;
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

#define TAG_SIGNAL 100

static void notify_status(struct daemon *d)
{
    size_t ready = 0;
    for (size_t i = 0; i < d->pool_count; i++)
        ready += d->pools[i].ready;
    sd_notifyf(0, "STATUS=%zu of %zu pools ready", ready, d->pool_count);
}

/* The signals of the signalfd. SIGHUP only asks: a reload runs between
 * passes, never under one (the pass borrows the configuration). */
void daemon_read_signals(struct daemon *d)
{
    struct signalfd_siginfo si;
    while (d->sfd >= 0 && read(d->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGHUP) {
            d->reload = true;
        } else {
            d->stop = (sig_atomic_t)si.ssi_signo;
            d->cancel = true;
        }
    }
}

void daemon_watchdog(struct daemon *d)
{
    if (d->wd_usec && now_ms() >= d->wd_next) {
        sd_notify(0, "WATCHDOG=1");
        d->wd_next = now_ms() + (int64_t)(d->wd_usec / 2000);
    }
}

static int run(struct daemon *d)
{
    struct epoll_event evs[8];
    sigset_t set;
    int ep = -1, rc = 0;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 ||
        (d->sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0 ||
        (ep = epoll_create1(EPOLL_CLOEXEC)) < 0 || epoll_add(ep, d->sfd, TAG_SIGNAL) < 0) {
        fprintf(stderr, "osrunnerd: event loop: %s\n", strerror(errno));
        rc = 1;
        goto done;
    }
    for (size_t i = 0; i < d->listener_count; i++)
        if (epoll_add(ep, d->listeners[i].epoll_fd, i) < 0) {
            fprintf(stderr, "osrunnerd: event loop: %s\n", strerror(errno));
            rc = 1;
            goto done;
        }
    if (sd_watchdog_enabled(0, &d->wd_usec) <= 0)
        d->wd_usec = 0;

    while (!d->stop) {
        int64_t now = now_ms(), due = pools_next_due(d);
        long long timeout = due == INT64_MAX ? -1 : (due > now ? due - now : 0);
        int n;

        for (size_t i = 0; i < d->listener_count; i++) {
            long long t = httpd_timeout_ms(&d->listeners[i]);
            if (t >= 0 && (timeout < 0 || t < timeout))
                timeout = t;
        }
        if (d->wd_usec) {
            long long t = d->wd_next > now ? d->wd_next - now : 0;
            if (timeout < 0 || t < timeout)
                timeout = t;
        }
        if (d->reload)
            timeout = 0;
        if (timeout > 0x7fffffff)
            timeout = 0x7fffffff;
        n = epoll_wait(ep, evs, 8, (int)timeout);
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "osrunnerd: epoll_wait: %s\n", strerror(errno));
            rc = 1;
            break;
        }
        for (int i = 0; i < n; i++)
            if (evs[i].data.u64 == TAG_SIGNAL)
                daemon_read_signals(d);
        if (d->reload && !d->stop) {
            d->reload = false;
            sd_notify(0, "RELOADING=1");
            (void)pools_reload(d);
            sd_notify(0, "READY=1");
            notify_status(d);
        }
        /* MHD is run every turn: its epoll fd says there is work, and its
         * timeouts (idle connections) need a call without any. */
        for (size_t i = 0; i < d->listener_count; i++)
            httpd_run(&d->listeners[i]);
        now = now_ms();
        pools_take_notes(d, now);
        if (!d->stop && pools_run_due(d, now)) {
            if (!d->ready_sent && pools_all_attempted(d)) {
                sd_notify(0, "READY=1");
                d->ready_sent = true;
            }
            notify_status(d);
        }
        daemon_watchdog(d);
    }
    if (d->stop) {
        sd_notify(0, "STOPPING=1");
        ev_emit(d, "stop", "{s:s}", "signal", strsignal(d->stop));
    }
done:
    if (ep >= 0)
        close(ep);
    if (d->sfd >= 0)
        close(d->sfd);
    d->sfd = -1;
    return rc;
}

int main(int argc, char **argv)
{
    struct daemon d;
    struct args a;
    osr_error err;
    int rc;

    memset(&d, 0, sizeof(d));
    memset(&a, 0, sizeof(a));
    d.sfd = -1;
    if ((rc = parse_args(&a, argc, argv)) >= 0)
        return rc;
    setvbuf(stdout, NULL, _IOLBF, 0);
    d.human = a.events >= 0 ? a.events == 1 : isatty(STDOUT_FILENO) == 1;
    d.interval_s = a.interval;
    d.config_path = a.config;
    srandom((unsigned int)(time(NULL) ^ getpid()));
    osr_error_clear(&err);
    if (osr_global_init() < 0) {
        fprintf(stderr, "osrunnerd: cannot initialise the library\n");
        return 1;
    }
    rc = 1;
    if (osr_metrics_new(&d.metrics, &err) < 0 || metrics_declare_all(d.metrics) < 0) {
        fprintf(stderr, "osrunnerd: metrics: %s\n",
                d.metrics ? osr_metrics_last_error(d.metrics)->message : err.message);
        goto done;
    }
    if (pools_load(&d, a.config, &err) < 0) {
        fprintf(stderr, "osrunnerd: %s\n", err.message);
        rc = err.code == OSR_ECONFIG ? 3 : err.code == OSR_ENOTFOUND ? 5 : 1; /* as the CLI */
        goto done;
    }
    /* The options win over the file's metrics: and webhook: sections. */
    if (a.metrics_listen == NULL)
        a.metrics_listen = osr_manager_config_metrics_listen(d.cfg);
    if (a.metrics_listen == NULL)
        a.metrics_listen = DEFAULT_METRICS_LISTEN;
    if (a.webhook_listen == NULL)
        a.webhook_listen = osr_manager_config_webhook_listen(d.cfg);
    d.secret_option = a.secret_file;
    if (a.secret_file == NULL)
        a.secret_file = osr_manager_config_webhook_secret_file(d.cfg);
    if (a.webhook_listen && a.secret_file == NULL) {
        fprintf(stderr, "osrunnerd: --webhook-listen needs --webhook-secret-file\n");
        rc = 2;
        goto done;
    }
    if (a.secret_file && osr_webhook_secret_read(&d.webhook_secret, &d.webhook_secret_len,
                                                 a.secret_file, ev_log, NULL, &err) < 0) {
        fprintf(stderr, "osrunnerd: webhook secret: %s\n", err.message);
        goto done;
    }
    d.listeners[0].addr = strdup(a.metrics_listen);
    d.listeners[0].metrics = true;
    d.listeners[0].webhook = a.secret_file && a.webhook_listen == NULL;
    d.listener_count = 1;
    if (a.webhook_listen) {
        d.listeners[1].addr = strdup(a.webhook_listen);
        d.listeners[1].webhook = true;
        d.listener_count = 2;
    }
    for (size_t i = 0; i < d.listener_count; i++) {
        if (d.listeners[i].addr == NULL) {
            fprintf(stderr, "osrunnerd: out of memory\n");
            goto done;
        }
        if (httpd_start(&d, &d.listeners[i], &err) < 0) {
            fprintf(stderr, "osrunnerd: %s\n", err.message);
            goto done;
        }
    }
    ev_emit(&d, "start", "{s:s,s:s,s:I,s:s,s:I,s:o,s:I,s:I}", "version", osr_version(), "config",
            osr_manager_config_source(d.cfg), "pools", (json_int_t)d.pool_count, "metrics_listen",
            a.metrics_listen, "metrics_port", (json_int_t)d.listeners[0].port, "webhook",
            a.secret_file ? json_string(d.listener_count == 2 ? a.webhook_listen : a.metrics_listen)
                          : json_null(),
            "webhook_port",
            (json_int_t)(a.secret_file ? d.listeners[d.listener_count - 1].port : 0), "interval",
            (json_int_t)d.interval_s);
    rc = run(&d);
done:
    for (size_t i = 0; i < d.listener_count; i++) {
        httpd_stop(&d.listeners[i]);
        free(d.listeners[i].addr);
    }
    pools_free(d.pools, d.pool_count);
    osr_manager_config_free(d.cfg);
    osr_metrics_free(d.metrics);
    osr_secret_free(d.webhook_secret);
    for (size_t i = 0; i < d.note_count; i++) {
        for (size_t j = 0; j < d.notes[i].label_count; j++)
            free(d.notes[i].labels[j]);
        free(d.notes[i].labels);
    }
    free(d.notes);
    osr_global_shutdown();
    return rc;
}
