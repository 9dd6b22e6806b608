/* The daemon's HTTP listeners: libmicrohttpd in external mode on the
 * daemon's loop (MHD_USE_EPOLL without an internal thread: its epoll fd sits
 * in ours and MHD_run() is called when it is readable or its timeout is due).
 * GET /metrics, GET /healthz and POST /webhook. The handlers run on the
 * loop's thread; a webhook is answered at once and its work is noted for the
 * loop (struct job_note). */
#include "daemon.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* A request body being received (POST /webhook). */
struct upload {
    char *data;
    size_t len, cap;
    bool too_large;
};

int httpd_secret_reread(
    char **out, size_t *len_out, struct daemon *d, const osr_manager_config *cfg, osr_error *err)
{
    const char *path =
        d->secret_option ? d->secret_option : osr_manager_config_webhook_secret_file(cfg);

    *out = NULL;
    *len_out = 0;
    if (d->webhook_secret == NULL || path == NULL)
        return 0;
    return osr_webhook_secret_read(out, len_out, path, ev_log, NULL, err);
}

static enum MHD_Result
reply(struct MHD_Connection *c, unsigned int status, const char *type, const char *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret;
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned int status, const char *text)
{
    return reply(c, status, "text/plain; charset=utf-8", text, strlen(text));
}

static void count_webhook(struct daemon *d, const char *event, const char *result)
{
    const char *const v[] = { event, result };
    (void)osr_metrics_counter_add(d->metrics, "osrunner_webhooks_total", v, 1);
}

/* Metric labels take a closed set of values, never the sender's text. */
static const char *event_label(const char *event)
{
    if (event && strcmp(event, "workflow_job") == 0)
        return "workflow_job";
    if (event && strcmp(event, "ping") == 0)
        return "ping";
    return "other";
}

static enum MHD_Result serve_metrics(struct daemon *d, struct MHD_Connection *c)
{
    char *text = NULL;
    size_t len = 0;
    enum MHD_Result ret;
    if (osr_metrics_render(&text, &len, d->metrics) < 0)
        return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    ret = reply(c, MHD_HTTP_OK, OSR_METRICS_CONTENT_TYPE, text, len);
    osr_free(text);
    return ret;
}

static enum MHD_Result serve_healthz(struct daemon *d, struct MHD_Connection *c)
{
    char body[8192];
    size_t n = 0;
    bool ok = d->pool_count > 0;

    for (size_t i = 0; i < d->pool_count; i++)
        ok = ok && d->pools[i].ready;
    n += (size_t)snprintf(body, sizeof(body), "%s\n", ok ? "ok" : "not ready");
    for (size_t i = 0; i < d->pool_count && n < sizeof(body); i++) {
        const struct pool *p = &d->pools[i];
        if (p->ready && p->failures > 0) /* ready, but its passes fail now */
            n += (size_t)snprintf(body + n, sizeof(body) - n,
                                  "pool %s: ready; the last %u passes failed (%s): %s\n", p->name,
                                  p->failures, p->failed_service, p->reason);
        else
            n += (size_t)snprintf(body + n, sizeof(body) - n, "pool %s: %s\n", p->name,
                                  p->ready       ? "ready"
                                  : p->reason[0] ? p->reason
                                                 : "no pass yet");
    }
    if (n >= sizeof(body))
        n = sizeof(body) - 1;
    return reply(c, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain; charset=utf-8",
                 body, n);
}

static void note_job(struct daemon *d, const osr_webhook_event *ev)
{
    struct job_note *n;
    size_t count = osr_webhook_job_label_count(ev);

    if (d->note_count == d->note_cap) {
        size_t cap = d->note_cap ? d->note_cap * 2 : 16;
        struct job_note *p;
        if (cap > 4096) /* the loop takes the notes after every MHD_run() */
            return;
        if ((p = realloc(d->notes, cap * sizeof(*p))) == NULL)
            return;
        d->notes = p;
        d->note_cap = cap;
    }
    n = &d->notes[d->note_count];
    memset(n, 0, sizeof(*n));
    n->action = osr_webhook_job_action_of(ev);
    n->job_id = osr_webhook_job_id(ev);
    if (count && (n->labels = calloc(count, sizeof(char *))) != NULL) {
        for (size_t i = 0; i < count; i++)
            if ((n->labels[n->label_count] = strdup(osr_webhook_job_label(ev, i))) != NULL)
                n->label_count++;
    }
    d->note_count++;
}

static enum MHD_Result serve_webhook(struct daemon *d, struct MHD_Connection *c, struct upload *u)
{
    const char *sig = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Hub-Signature-256");
    const char *event = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-GitHub-Event");
    const char *delivery = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-GitHub-Delivery");
    char qe[64], qd[80];
    osr_webhook_event *ev = NULL;
    osr_error err;

    osr_error_clear(&err);
    osr_quote(qe, sizeof(qe), event ? event : "", 32);
    osr_quote(qd, sizeof(qd), delivery ? delivery : "", 40);
    if (u->too_large) { /* not verified: no label from the sender */
        count_webhook(d, "unverified", "too_large");
        ev_emit(d, "webhook", "{s:s,s:s,s:s}", "github_event", qe, "delivery", qd, "result",
                "too_large");
        return reply_text(c, MHD_HTTP_CONTENT_TOO_LARGE, "body too large\n");
    }
    /* The signature first: nothing about an unsigned body is believed. */
    if (osr_webhook_verify(sig, u->data, u->len, d->webhook_secret, d->webhook_secret_len, &err) <
        0) {
        count_webhook(d, "unverified", "bad_signature");
        ev_emit(d, "webhook", "{s:s,s:s,s:s}", "delivery", qd, "result", "bad_signature", "error",
                err.message);
        return reply_text(c, MHD_HTTP_UNAUTHORIZED, "bad signature\n");
    }
    if (delivery && *delivery && strlen(delivery) < sizeof(d->seen[0])) {
        for (size_t i = 0; i < DELIVERIES_SEEN; i++) {
            if (strcmp(d->seen[i], delivery) == 0) {
                count_webhook(d, event_label(event), "duplicate");
                ev_emit(d, "webhook", "{s:s,s:s,s:s}", "github_event", qe, "delivery", qd, "result",
                        "duplicate");
                return reply_text(c, MHD_HTTP_ACCEPTED, "accepted (seen before)\n");
            }
        }
        snprintf(d->seen[d->seen_next], sizeof(d->seen[0]), "%s", delivery);
        d->seen_next = (d->seen_next + 1) % DELIVERIES_SEEN;
    }
    if (osr_webhook_event_parse(&ev, event, u->data, u->len, &err) < 0) {
        count_webhook(d, event_label(event), "bad_payload");
        ev_emit(d, "webhook", "{s:s,s:s,s:s,s:s}", "github_event", qe, "delivery", qd, "result",
                "bad_payload", "error", err.message);
        return reply_text(c, MHD_HTTP_BAD_REQUEST, "bad payload\n");
    }
    if (osr_webhook_event_kind(ev) == OSR_WEBHOOK_WORKFLOW_JOB) {
        note_job(d, ev);
        count_webhook(d, "workflow_job", "accepted");
        ev_emit(d, "webhook", "{s:s,s:s,s:s,s:s,s:I}", "github_event", "workflow_job", "delivery",
                qd, "result", "accepted", "action", osr_webhook_job_action_name(ev), "job_id",
                (json_int_t)osr_webhook_job_id(ev));
    } else {
        bool ping = osr_webhook_event_kind(ev) == OSR_WEBHOOK_PING;
        count_webhook(d, ping ? "ping" : "other", ping ? "accepted" : "ignored");
        ev_emit(d, "webhook", "{s:s,s:s,s:s}", "github_event", qe, "delivery", qd, "result",
                ping ? "accepted" : "ignored");
    }
    osr_webhook_event_free(ev);
    return reply_text(c, MHD_HTTP_ACCEPTED, "accepted\n");
}

static enum MHD_Result on_request(void *cls,
                                  struct MHD_Connection *c,
                                  const char *url,
                                  const char *method,
                                  const char *version,
                                  const char *upload_data,
                                  size_t *upload_data_size,
                                  void **con_cls)
{
    struct listener *l = cls;
    struct daemon *d = l->owner;
    struct upload *u = *con_cls;
    (void)version;

    if (l->webhook && strcmp(url, "/webhook") == 0) {
        if (strcmp(method, "POST") != 0)
            return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "POST only\n");
        if (u == NULL) { /* headers only so far */
            if ((u = calloc(1, sizeof(*u))) == NULL)
                return MHD_NO;
            *con_cls = u;
            return MHD_YES;
        }
        if (*upload_data_size > 0) {
            size_t n = *upload_data_size;
            if (!u->too_large && u->len + n > (size_t)OSR_WEBHOOK_BODY_MAX) {
                u->too_large = true;
                free(u->data);
                u->data = NULL;
                u->len = u->cap = 0;
            }
            if (!u->too_large) {
                if (u->len + n + 1 > u->cap) {
                    size_t cap = (u->len + n + 1) * 2;
                    char *p = realloc(u->data, cap);
                    if (p == NULL)
                        return MHD_NO;
                    u->data = p;
                    u->cap = cap;
                }
                memcpy(u->data + u->len, upload_data, n);
                u->len += n;
                u->data[u->len] = '\0';
            }
            *upload_data_size = 0;
            return MHD_YES;
        }
        return serve_webhook(d, c, u);
    }
    if (l->metrics && (strcmp(url, "/metrics") == 0 || strcmp(url, "/healthz") == 0)) {
        if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
            return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "GET only\n");
        return url[1] == 'm' ? serve_metrics(d, c) : serve_healthz(d, c);
    }
    return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
}

static void on_completed(void *cls,
                         struct MHD_Connection *c,
                         void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct upload *u = *con_cls;
    (void)cls;
    (void)c;
    (void)toe;
    if (u) {
        free(u->data);
        free(u);
        *con_cls = NULL;
    }
}

/* "127.0.0.1:9464", "[::1]:9464", ":9464" (every IPv4 address). */
static int
parse_listen(struct sockaddr_storage *ss, socklen_t *sslen, const char *addr, osr_error *err)
{
    char host[128];
    const char *colon = strrchr(addr, ':'), *port;
    struct addrinfo hints, *res = NULL;
    size_t hl;
    int rc;

    if (colon == NULL || colon[1] == '\0')
        goto bad;
    port = colon + 1;
    hl = (size_t)(colon - addr);
    if (hl >= sizeof(host))
        goto bad;
    memcpy(host, addr, hl);
    host[hl] = '\0';
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
    hints.ai_socktype = SOCK_STREAM;
    if ((rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res)) != 0 || res == NULL)
        goto bad;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *sslen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
bad:
    if (err) {
        err->code = OSR_EINVAL;
        snprintf(err->message, sizeof(err->message),
                 "listen address '%s': expected ADDR:PORT (127.0.0.1:9464, [::1]:9464)", addr);
    }
    return OSR_EINVAL;
}

int httpd_start(struct daemon *d, struct listener *l, osr_error *err)
{
    struct sockaddr_storage ss;
    socklen_t sslen = 0;
    const union MHD_DaemonInfo *info;
    unsigned int flags = MHD_USE_EPOLL;
    int error;

    l->owner = d;

    if ((error = parse_listen(&ss, &sslen, l->addr, err)) < 0)
        return error;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    l->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, l, MHD_OPTION_SOCK_ADDR,
                              (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10,
                              MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
    if (l->mhd == NULL) {
        if (err) {
            err->code = OSR_EIO;
            snprintf(err->message, sizeof(err->message), "%s: cannot listen (in use?)", l->addr);
        }
        return OSR_EIO;
    }
    info = MHD_get_daemon_info(l->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    l->epoll_fd = info ? info->epoll_fd : -1;
    info = MHD_get_daemon_info(l->mhd, MHD_DAEMON_INFO_BIND_PORT);
    l->port = info ? info->port : 0;
    if (l->epoll_fd < 0) {
        httpd_stop(l);
        if (err) {
            err->code = OSR_ERROR;
            snprintf(err->message, sizeof(err->message), "%s: libmicrohttpd has no epoll fd",
                     l->addr);
        }
        return OSR_ERROR;
    }
    return 0;
}

void httpd_stop(struct listener *l)
{
    if (l->mhd)
        MHD_stop_daemon(l->mhd);
    l->mhd = NULL;
    l->epoll_fd = -1;
}

void httpd_run(struct listener *l)
{
    if (l->mhd)
        (void)MHD_run(l->mhd);
}

long long httpd_timeout_ms(struct listener *l)
{
    MHD_UNSIGNED_LONG_LONG t = 0;
    if (l->mhd == NULL || MHD_get_timeout(l->mhd, &t) != MHD_YES)
        return -1;
    return t > 0x7fffffffLL ? 0x7fffffffLL : (long long)t;
}
