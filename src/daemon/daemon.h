/* osrunnerd: what its files share. Public API only (like the CLI). */
#ifndef OSRUNNERD_DAEMON_H
#define OSRUNNERD_DAEMON_H

#include <osrunner/osrunner.h>

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct MHD_Daemon;

#define QUEUED_MAX     64
#define BACKOFF_MIN_MS 2000
#define FOLLOWUP_MS    15000 /* a pass again this long after creates, or a completed job */
#define QUEUED_TTL_MS  (10 * 60 * 1000) /* a job's in_progress webhook may be lost */

/* One pool and what the daemon keeps for it between passes. */
struct pool {
    char *name;                /* copied: survives a reload */
    const osr_pool_spec *spec; /* borrowed from daemon.cfg */
    osr_cloud *cloud;
    osr_session *session;
    osr_github *github;
    int64_t next_due_ms; /* monotonic */
    bool attempted;      /* a pass was tried since start (READY=1 waits for all) */
    bool ready;          /* a pass observed every source at least once */
    char reason[1024];   /* why not ready, or the last pass's state */
    /* Jobs queued for the pool (webhooks), each asking for one more idle
     * runner until it starts, ends or expires (osr_pool_options.queued_jobs). */
    struct queued_job {
        long long id;
        int64_t expires_ms;
    } queued[QUEUED_MAX];
    size_t nqueued;
    /* What the last pass that observed every source saw (set with ready):
     * growing on a queued job (OSR_POOL_GROW) trusts it, with the creates
     * made since. */
    long long seen_servers, seen_idle, seen_booting, seen_headroom;
    long long grown; /* runners created by growing since that pass */
    char *image_id;
    /* Backoff after failed passes: no pass (nor growing) before not_before_ms. */
    unsigned int failures;
    int64_t not_before_ms;
    char failed_service[16];
    bool busy;           /* a pass or a growth of the pool is running */
    int64_t followup_ms; /* a pass due then (a job completed: its VM powers off soon), 0: none */
    /* The session's API call counts already added to the metrics. */
    struct api_seen {
        char service[16];
        int status;
        unsigned long long count;
    } api[64];
    size_t napi;
};

struct daemon;

struct listener {
    struct daemon *owner;
    char *addr; /* "ADDR:PORT" as given */
    struct MHD_Daemon *mhd;
    int epoll_fd; /* MHD's own epoll set, watched by ours */
    bool metrics; /* serves GET /metrics and /healthz */
    bool webhook; /* serves POST /webhook */
    unsigned int port;
};

/* A webhook accepted by the HTTP handler, for the loop to act on. */
struct job_note {
    osr_webhook_job_action action;
    long long job_id;
    char **labels;
    size_t label_count;
};

#define DELIVERIES_SEEN 1024

struct daemon {
    const char *config_path;
    osr_manager_config *cfg;
    struct pool *pools;
    size_t pool_count;
    osr_metrics *metrics;
    struct listener listeners[2];
    size_t listener_count;
    char *webhook_secret; /* NULL: no /webhook (kept until a restart) */
    size_t webhook_secret_len;
    const char *secret_option; /* --webhook-secret-file; wins over the file's */
    long interval_s;
    bool human; /* stdout is a terminal: text lines instead of JSON */
    bool ready_sent;
    int sfd;          /* the signalfd */
    bool reload;      /* SIGHUP seen: reload between passes */
    uint64_t wd_usec; /* systemd's watchdog interval, 0: none */
    int64_t wd_next;
    volatile sig_atomic_t stop; /* the signal that stops the daemon */
    volatile bool cancel;       /* osr_pool_options.cancel */
    struct job_note *notes;
    size_t note_count, note_cap;
    bool in_hook; /* pools_take_notes() called from a pass's wait */
    /* X-GitHub-Delivery of the last verified deliveries: a redelivery (or a
     * replay of a captured one) is answered but not acted on twice. */
    char seen[DELIVERIES_SEEN][64];
    size_t seen_next;
};

/* events.c: one line per event on stdout (JSON, or text on a terminal). */
void ev_emit(struct daemon *d, const char *event, const char *fmt, ...);
void ev_log(osr_log_level level, const char *msg, void *payload);
osr_log_level ev_log_level(void);
void ev_set_log_level(osr_log_level level);

/* pools.c */
int pools_load(struct daemon *d, const char *path, osr_error *err);
void pools_free(struct pool *pools, size_t n);
int pools_reload(struct daemon *d);
/* Runs the most overdue pass, if any; true when one ran. */
bool pools_run_due(struct daemon *d, int64_t now_ms);
int64_t pools_next_due(const struct daemon *d);
void pools_trigger_all(struct daemon *d, int64_t now_ms);
void pools_take_notes(struct daemon *d, int64_t now_ms);
int metrics_declare_all(osr_metrics *m);
bool pools_all_attempted(const struct daemon *d);

/* main.c: what a pass's wait hook does too */
void daemon_read_signals(struct daemon *d);
void daemon_watchdog(struct daemon *d);

/* httpd.c */
/* A reload's webhook secret: read again from --webhook-secret-file, or from
 * the new file's webhook.secret_file. The new secret is in *out, or NULL
 * when there is nothing to read again (no webhook, or the new file names
 * none: the old one stays); negative when it cannot be read. */
int httpd_secret_reread(
    char **out, size_t *len_out, struct daemon *d, const osr_manager_config *cfg, osr_error *err);
int httpd_start(struct daemon *d, struct listener *l, osr_error *err);
void httpd_stop(struct listener *l);
void httpd_run(struct listener *l);
/* MHD's timeout in ms, or -1 for none. */
long long httpd_timeout_ms(struct listener *l);

int64_t now_ms(void);

#endif
