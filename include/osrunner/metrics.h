/* osrunner: a small metrics registry and its Prometheus text rendering
 * (exposition format 0.0.4), for osrunnerd's GET /metrics. */
#ifndef OSRUNNER_METRICS_H
#define OSRUNNER_METRICS_H

#include "common.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The Content-Type a /metrics answer must carry, exactly (Prometheus 3 refuses others). */
#define OSR_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/** Most label names of one metric, and most series (label value sets) of one metric. */
#define OSR_METRICS_LABELS_MAX 8
#define OSR_METRICS_SERIES_MAX 10000
/** Most buckets of a histogram, +Inf not counted. */
#define OSR_METRICS_BUCKETS_MAX 32

typedef enum osr_metric_type {
    OSR_METRIC_COUNTER = 1,   /**< only goes up; its name must end in "_total" */
    OSR_METRIC_GAUGE = 2,     /**< set to any value */
    OSR_METRIC_HISTOGRAM = 3, /**< observations in buckets, with _bucket, _sum and _count */
} osr_metric_type;

/** A registry of metrics. Opaque; not thread-safe (one loop owns it). */
typedef struct osr_metrics osr_metrics;

/** @return 0 or OSR_ENOMEM */
OSR_EXTERN int osr_metrics_new(osr_metrics **out, osr_error *err);
OSR_EXTERN void osr_metrics_free(osr_metrics *m);

/** The error of the last call on m that failed (reset at the start of each call). */
OSR_EXTERN const osr_error *osr_metrics_last_error(const osr_metrics *m);

/**
 * Declare a metric. Names follow Prometheus: [a-zA-Z_:][a-zA-Z0-9_:]*, label
 * names [a-zA-Z_][a-zA-Z0-9_]* and not starting with "__" ("le" is refused
 * for histograms). Metrics are rendered in the order they were declared.
 *
 * @param label_names NULL-terminated, or NULL for none; at most OSR_METRICS_LABELS_MAX
 * @param buckets histograms only: upper bounds, strictly increasing, finite,
 *        at most OSR_METRICS_BUCKETS_MAX; +Inf is added. NULL for others.
 * @return 0; OSR_EINVAL (bad name, declared twice, bad buckets); OSR_ENOMEM
 */
OSR_EXTERN int osr_metrics_declare(osr_metrics *m,
                                   const char *name,
                                   osr_metric_type type,
                                   const char *help,
                                   const char *const *label_names,
                                   const double *buckets,
                                   size_t bucket_count);

/*
 * Updates. label_values holds one value per declared label name, in order
 * (NULL when there are none); any UTF-8 text, escaped when rendered. A new
 * set of values makes a new series (at most OSR_METRICS_SERIES_MAX per
 * metric). Each returns 0, OSR_EINVAL (unknown metric, wrong type, a NULL
 * value, a negative or NaN counter increment, too many series) or OSR_ENOMEM.
 */
OSR_EXTERN int osr_metrics_counter_add(osr_metrics *m,
                                       const char *name,
                                       const char *const *label_values,
                                       double delta);
OSR_EXTERN int osr_metrics_gauge_set(osr_metrics *m,
                                     const char *name,
                                     const char *const *label_values,
                                     double value);
OSR_EXTERN int osr_metrics_histogram_observe(osr_metrics *m,
                                             const char *name,
                                             const char *const *label_values,
                                             double value);

/**
 * Drop every series of a metric (the declaration stays): for gauges that are
 * set afresh, e.g. after a pool was removed from the configuration.
 * @return 0 or OSR_EINVAL (unknown metric)
 */
OSR_EXTERN int osr_metrics_clear(osr_metrics *m, const char *name);

/**
 * The registry as Prometheus text, format 0.0.4: per metric "# HELP" and
 * "# TYPE" lines, then its samples; histograms as cumulative _bucket{le=...}
 * (ending with le="+Inf"), _sum and _count. A metric without series shows
 * only its HELP and TYPE lines (a metric without labels shows 0).
 * Free *out with osr_free().
 * @return 0 or OSR_ENOMEM
 */
OSR_EXTERN int osr_metrics_render(char **out, size_t *len_out, osr_metrics *m);

#ifdef __cplusplus
}
#endif

#endif
