/* Events: one line per thing the daemon did, on stdout. JSON lines
 * ({"ts":..., "event":..., ...}) unless stdout is a terminal, where a person
 * reads "12:00:01 action pool=small kind=create ...". Values come from the
 * library, whose messages never hold a secret. */
#include "daemon.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* size: 64 holds any int year (gcc -O2 checks -Wformat-truncation). */
static void timestamp(char *buf, size_t size, bool full)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    if (full)
        snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    else
        snprintf(buf, size, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* fmt: a jansson json_pack() object body ("s:s,s:I"), its arguments follow. */
void ev_emit(struct daemon *d, const char *event, const char *fmt, ...)
{
    json_t *obj;
    json_error_t jerr;
    char ts[64];
    va_list ap;

    va_start(ap, fmt);
    obj = json_vpack_ex(&jerr, 0, fmt, ap);
    va_end(ap);
    if (obj == NULL)
        return;
    timestamp(ts, sizeof(ts), !d->human);
    if (d->human) {
        const char *key;
        json_t *v;
        printf("%s %s", ts, event);
        json_object_foreach(obj, key, v)
        {
            char *s = json_is_string(v)
                          ? NULL
                          : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(6));
            if (json_is_null(v))
                continue;
            printf(" %s=%s", key, s ? s : json_string_value(v));
            free(s);
        }
        printf("\n");
    } else {
        json_t *line = json_pack("{s:s,s:s}", "ts", ts, "event", event);
        char *text;
        if (line && json_object_update(line, obj) == 0 &&
            (text = json_dumps(line, JSON_COMPACT | JSON_REAL_PRECISION(6))) != NULL) {
            printf("%s\n", text);
            free(text);
        }
        json_decref(line);
    }
    fflush(stdout);
    json_decref(obj);
}

void ev_log(osr_log_level level, const char *msg, void *payload)
{
    static const char *const names[] = { "", "error", "warning", "info", "debug", "trace" };
    (void)payload;
    fprintf(stderr, "osrunnerd: %s: %s\n", names[level <= OSR_LOG_TRACE ? level : 0], msg);
}

static osr_log_level log_level = OSR_LOG_WARN;

void ev_set_log_level(osr_log_level level)
{
    log_level = level;
}

osr_log_level ev_log_level(void)
{
    return log_level;
}
