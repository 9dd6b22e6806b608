/* A metrics registry and the Prometheus text format 0.0.4 (osrunner/metrics.h).
 * Metrics and series are few (tens of series per metric: pools, states,
 * rules), so lookups are linear scans; caps keep a bug from growing them. */
#include "osrunner/metrics.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct series {
    char **values; /* one per label name */
    double value;  /* counter, gauge; histogram: the sum */
    unsigned long long count;
    unsigned long long *buckets; /* histogram: cumulative count per bound */
};

struct metric {
    char *name, *help;
    osr_metric_type type;
    char *labels[OSR_METRICS_LABELS_MAX];
    size_t label_count;
    double bounds[OSR_METRICS_BUCKETS_MAX];
    size_t bound_count;
    struct series *series;
    size_t series_count, series_cap;
};

struct osr_metrics {
    struct metric *metrics;
    size_t count, cap;
    osr_error err;
};

int osr_metrics_new(osr_metrics **out, osr_error *err)
{
    osr_metrics *m;
    if (out == NULL)
        return osr__error_set(err, OSR_EINVAL, "osr_metrics_new: no out");
    if ((m = calloc(1, sizeof(*m))) == NULL)
        return osr__error_set(err, OSR_ENOMEM, "out of memory");
    *out = m;
    return 0;
}

static void series_clear(struct metric *mt)
{
    for (size_t i = 0; i < mt->series_count; i++) {
        for (size_t j = 0; j < mt->label_count; j++)
            free(mt->series[i].values[j]);
        free(mt->series[i].values);
        free(mt->series[i].buckets);
    }
    free(mt->series);
    mt->series = NULL;
    mt->series_count = mt->series_cap = 0;
}

void osr_metrics_free(osr_metrics *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->count; i++) {
        struct metric *mt = &m->metrics[i];
        series_clear(mt);
        for (size_t j = 0; j < mt->label_count; j++)
            free(mt->labels[j]);
        free(mt->name);
        free(mt->help);
    }
    free(m->metrics);
    free(m);
}

const osr_error *osr_metrics_last_error(const osr_metrics *m)
{
    return m ? &m->err : NULL;
}

static bool valid_name(const char *s, bool colon)
{
    if (s == NULL || *s == '\0')
        return false;
    for (size_t i = 0; s[i]; i++) {
        char c = s[i];
        bool alpha =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
        if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
            return false;
    }
    return true;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static struct metric *find(osr_metrics *m, const char *name)
{
    for (size_t i = 0; name && i < m->count; i++)
        if (strcmp(m->metrics[i].name, name) == 0)
            return &m->metrics[i];
    return NULL;
}

int osr_metrics_declare(osr_metrics *m,
                        const char *name,
                        osr_metric_type type,
                        const char *help,
                        const char *const *label_names,
                        const double *buckets,
                        size_t bucket_count)
{
    char q[OSR__QUOTE_MAX];
    struct metric *mt;
    size_t nl = 0;

    if (m == NULL)
        return OSR_EINVAL;
    osr_error_clear(&m->err);
    if (!valid_name(name, true))
        return osr__error_set(&m->err, OSR_EINVAL, "metrics: invalid metric name '%s'",
                              osr__quote(q, sizeof(q), name ? name : "", 64));
    if (type != OSR_METRIC_COUNTER && type != OSR_METRIC_GAUGE && type != OSR_METRIC_HISTOGRAM)
        return osr__error_set(&m->err, OSR_EINVAL, "metrics: %s: unknown type %d", name, (int)type);
    if (type == OSR_METRIC_COUNTER && !ends_with(name, "_total"))
        return osr__error_set(&m->err, OSR_EINVAL,
                              "metrics: %s: a counter's name must end in _total", name);
    if (find(m, name))
        return osr__error_set(&m->err, OSR_EINVAL, "metrics: %s: declared twice", name);
    while (label_names && label_names[nl]) {
        const char *l = label_names[nl];
        if (!valid_name(l, false) || strncmp(l, "__", 2) == 0 ||
            (type == OSR_METRIC_HISTOGRAM && strcmp(l, "le") == 0))
            return osr__error_set(&m->err, OSR_EINVAL, "metrics: %s: invalid label name '%s'", name,
                                  osr__quote(q, sizeof(q), l, 64));
        for (size_t j = 0; j < nl; j++)
            if (strcmp(label_names[j], l) == 0)
                return osr__error_set(&m->err, OSR_EINVAL, "metrics: %s: label '%s' twice", name,
                                      l);
        if (++nl > OSR_METRICS_LABELS_MAX)
            return osr__error_set(&m->err, OSR_EINVAL, "metrics: %s: more than %d labels", name,
                                  OSR_METRICS_LABELS_MAX);
    }
    if (type == OSR_METRIC_HISTOGRAM) {
        if (buckets == NULL || bucket_count == 0 || bucket_count > OSR_METRICS_BUCKETS_MAX)
            return osr__error_set(&m->err, OSR_EINVAL, "metrics: %s: 1 to %d buckets", name,
                                  OSR_METRICS_BUCKETS_MAX);
        for (size_t i = 0; i < bucket_count; i++)
            if (!isfinite(buckets[i]) || (i > 0 && !(buckets[i] > buckets[i - 1])))
                return osr__error_set(&m->err, OSR_EINVAL,
                                      "metrics: %s: buckets must be finite and increasing", name);
    } else if (buckets != NULL || bucket_count != 0) {
        return osr__error_set(&m->err, OSR_EINVAL, "metrics: %s: buckets are for histograms", name);
    }
    if (m->count == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        struct metric *p = realloc(m->metrics, cap * sizeof(*p));
        if (p == NULL)
            return osr__error_set(&m->err, OSR_ENOMEM, "out of memory");
        m->metrics = p;
        m->cap = cap;
    }
    mt = &m->metrics[m->count];
    memset(mt, 0, sizeof(*mt));
    mt->type = type;
    mt->name = osr__strdup(name);
    mt->help = osr__strdup(help ? help : "");
    for (size_t i = 0; i < nl; i++)
        if ((mt->labels[i] = osr__strdup(label_names[i])) != NULL)
            mt->label_count++;
    if (mt->name == NULL || mt->help == NULL || mt->label_count != nl) {
        for (size_t i = 0; i < mt->label_count; i++)
            free(mt->labels[i]);
        free(mt->name);
        free(mt->help);
        return osr__error_set(&m->err, OSR_ENOMEM, "out of memory");
    }
    if (type == OSR_METRIC_HISTOGRAM) {
        memcpy(mt->bounds, buckets, bucket_count * sizeof(*buckets));
        mt->bound_count = bucket_count;
    }
    m->count++;
    return 0;
}

/* The series of these label values, made on first use. */
static int series_get(struct series **out,
                      osr_metrics *m,
                      const char *name,
                      osr_metric_type type,
                      const char *const *values)
{
    struct metric *mt = find(m, name);
    struct series *s;

    osr_error_clear(&m->err);
    if (mt == NULL)
        return osr__error_set(&m->err, OSR_EINVAL, "metrics: no metric '%s'",
                              name ? name : "(null)");
    if (mt->type != type)
        return osr__error_set(&m->err, OSR_EINVAL, "metrics: %s: not a %s", name,
                              type == OSR_METRIC_COUNTER ? "counter"
                              : type == OSR_METRIC_GAUGE ? "gauge"
                                                         : "histogram");
    for (size_t j = 0; j < mt->label_count; j++)
        if (values == NULL || values[j] == NULL)
            return osr__error_set(&m->err, OSR_EINVAL, "metrics: %s: no value for label %s", name,
                                  mt->labels[j]);
    for (size_t i = 0; i < mt->series_count; i++) {
        size_t j = 0;
        while (j < mt->label_count && strcmp(mt->series[i].values[j], values[j]) == 0)
            j++;
        if (j == mt->label_count) {
            *out = &mt->series[i];
            return 0;
        }
    }
    if (mt->series_count >= OSR_METRICS_SERIES_MAX)
        return osr__error_set(&m->err, OSR_EINVAL, "metrics: %s: more than %d series", name,
                              OSR_METRICS_SERIES_MAX);
    if (mt->series_count == mt->series_cap) {
        size_t cap = mt->series_cap ? mt->series_cap * 2 : 8;
        struct series *p = realloc(mt->series, cap * sizeof(*p));
        if (p == NULL)
            return osr__error_set(&m->err, OSR_ENOMEM, "out of memory");
        mt->series = p;
        mt->series_cap = cap;
    }
    s = &mt->series[mt->series_count];
    memset(s, 0, sizeof(*s));
    s->values = calloc(mt->label_count ? mt->label_count : 1, sizeof(char *));
    if (s->values == NULL)
        return osr__error_set(&m->err, OSR_ENOMEM, "out of memory");
    if (type == OSR_METRIC_HISTOGRAM &&
        (s->buckets = calloc(mt->bound_count, sizeof(*s->buckets))) == NULL) {
        free(s->values);
        return osr__error_set(&m->err, OSR_ENOMEM, "out of memory");
    }
    for (size_t j = 0; j < mt->label_count; j++) {
        if ((s->values[j] = osr__strdup(values[j])) == NULL) {
            for (size_t k = 0; k < j; k++)
                free(s->values[k]);
            free(s->values);
            free(s->buckets);
            return osr__error_set(&m->err, OSR_ENOMEM, "out of memory");
        }
    }
    mt->series_count++;
    *out = s;
    return 0;
}

int osr_metrics_counter_add(osr_metrics *m,
                            const char *name,
                            const char *const *label_values,
                            double delta)
{
    struct series *s;
    int error;
    if (m == NULL)
        return OSR_EINVAL;
    if (!(delta >= 0) || isinf(delta)) {
        osr_error_clear(&m->err);
        return osr__error_set(&m->err, OSR_EINVAL,
                              "metrics: %s: a counter only goes up by a finite amount",
                              name ? name : "(null)");
    }
    if ((error = series_get(&s, m, name, OSR_METRIC_COUNTER, label_values)) < 0)
        return error;
    s->value += delta;
    return 0;
}

int osr_metrics_gauge_set(osr_metrics *m,
                          const char *name,
                          const char *const *label_values,
                          double value)
{
    struct series *s;
    int error;
    if (m == NULL)
        return OSR_EINVAL;
    if ((error = series_get(&s, m, name, OSR_METRIC_GAUGE, label_values)) < 0)
        return error;
    s->value = value;
    return 0;
}

int osr_metrics_histogram_observe(osr_metrics *m,
                                  const char *name,
                                  const char *const *label_values,
                                  double value)
{
    struct metric *mt;
    struct series *s;
    int error;
    if (m == NULL)
        return OSR_EINVAL;
    if (isnan(value)) {
        osr_error_clear(&m->err);
        return osr__error_set(&m->err, OSR_EINVAL, "metrics: %s: NaN observed",
                              name ? name : "(null)");
    }
    if ((error = series_get(&s, m, name, OSR_METRIC_HISTOGRAM, label_values)) < 0)
        return error;
    if ((mt = find(m, name)) == NULL) /* series_get found it: never */
        return OSR_EINVAL;
    for (size_t i = 0; i < mt->bound_count; i++)
        if (value <= mt->bounds[i])
            s->buckets[i]++;
    s->count++;
    s->value += value;
    return 0;
}

int osr_metrics_clear(osr_metrics *m, const char *name)
{
    struct metric *mt;
    if (m == NULL)
        return OSR_EINVAL;
    osr_error_clear(&m->err);
    if ((mt = find(m, name)) == NULL)
        return osr__error_set(&m->err, OSR_EINVAL, "metrics: no metric '%s'",
                              name ? name : "(null)");
    series_clear(mt);
    return 0;
}

/* A sample value as Prometheus reads it: the shortest form that reads back
 * the same double, and +Inf, -Inf, NaN. */
static int put_value(osr__buf *b, double v)
{
    char tmp[40];
    if (isnan(v))
        return osr__buf_puts(b, "NaN");
    if (isinf(v))
        return osr__buf_puts(b, v > 0 ? "+Inf" : "-Inf");
    if (v > -1e15 && v < 1e15 && v == (double)(long long)v)
        return osr__buf_printf(b, "%.0f", v); /* 10, not 1e+01 */
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    return osr__buf_puts(b, tmp);
}

/* HELP text escapes \ and newline; label values also ". */
static int put_escaped(osr__buf *b, const char *s, bool quote)
{
    int error = 0;
    for (; *s && error == 0; s++) {
        if (*s == '\\')
            error = osr__buf_puts(b, "\\\\");
        else if (*s == '\n')
            error = osr__buf_puts(b, "\\n");
        else if (quote && *s == '"')
            error = osr__buf_puts(b, "\\\"");
        else
            error = osr__buf_append(b, s, 1);
    }
    return error;
}

/* name{l1="v1",...,le="x"} (no braces when there is no label). */
static int put_series_name(osr__buf *b,
                           const struct metric *mt,
                           const char *suffix,
                           const struct series *s,
                           const char *le)
{
    int error = osr__buf_printf(b, "%s%s", mt->name, suffix);
    size_t n = 0;
    if (error == 0 && ((s && mt->label_count) || le))
        error = osr__buf_puts(b, "{");
    for (size_t j = 0; s && j < mt->label_count && error == 0; j++, n++) {
        error = osr__buf_printf(b, "%s%s=\"", n ? "," : "", mt->labels[j]);
        if (error == 0)
            error = put_escaped(b, s->values[j], true);
        if (error == 0)
            error = osr__buf_puts(b, "\"");
    }
    if (error == 0 && le)
        error = osr__buf_printf(b, "%sle=\"%s\"", n ? "," : "", le);
    if (error == 0 && ((s && mt->label_count) || le))
        error = osr__buf_puts(b, "}");
    return error;
}

static int render_metric(osr__buf *b, const struct metric *mt)
{
    static const char *const types[] = { "", "counter", "gauge", "histogram" };
    int error;

    error = osr__buf_printf(b, "# HELP %s ", mt->name);
    if (error == 0)
        error = put_escaped(b, mt->help, false);
    if (error == 0)
        error = osr__buf_printf(b, "\n# TYPE %s %s\n", mt->name, types[mt->type]);
    if (error < 0)
        return error;
    /* A metric without labels always has its one series, at zero until set. */
    if (mt->series_count == 0 && mt->label_count == 0 && mt->type != OSR_METRIC_HISTOGRAM) {
        if ((error = put_series_name(b, mt, "", NULL, NULL)) == 0)
            error = osr__buf_puts(b, " 0\n");
        return error;
    }
    for (size_t i = 0; i < mt->series_count && error == 0; i++) {
        const struct series *s = &mt->series[i];
        if (mt->type != OSR_METRIC_HISTOGRAM) {
            if ((error = put_series_name(b, mt, "", s, NULL)) == 0 &&
                (error = osr__buf_puts(b, " ")) == 0 && (error = put_value(b, s->value)) == 0)
                error = osr__buf_puts(b, "\n");
            continue;
        }
        for (size_t k = 0; k <= mt->bound_count && error == 0; k++) {
            osr__buf le = OSR__BUF_INIT;
            if (k < mt->bound_count)
                error = put_value(&le, mt->bounds[k]);
            else
                error = osr__buf_puts(&le, "+Inf");
            if (error == 0)
                error = put_series_name(b, mt, "_bucket", s, le.data);
            if (error == 0)
                error =
                    osr__buf_printf(b, " %llu\n", k < mt->bound_count ? s->buckets[k] : s->count);
            osr__buf_free(&le);
        }
        if (error == 0 && (error = put_series_name(b, mt, "_sum", s, NULL)) == 0 &&
            (error = osr__buf_puts(b, " ")) == 0 && (error = put_value(b, s->value)) == 0)
            error = osr__buf_puts(b, "\n");
        if (error == 0 && (error = put_series_name(b, mt, "_count", s, NULL)) == 0)
            error = osr__buf_printf(b, " %llu\n", s->count);
    }
    return error;
}

int osr_metrics_render(char **out, size_t *len_out, osr_metrics *m)
{
    osr__buf b = OSR__BUF_INIT;
    int error = 0;

    if (m == NULL || out == NULL)
        return OSR_EINVAL;
    osr_error_clear(&m->err);
    for (size_t i = 0; i < m->count && error == 0; i++)
        error = render_metric(&b, &m->metrics[i]);
    if (error == 0 && b.data == NULL)
        error = osr__buf_puts(&b, "");
    if (error < 0) {
        osr__buf_free(&b);
        return osr__error_set(&m->err, OSR_ENOMEM, "out of memory");
    }
    if (len_out)
        *len_out = b.len;
    *out = osr__buf_detach(&b);
    return 0;
}
