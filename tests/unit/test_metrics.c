/* The metrics registry and its Prometheus text (format 0.0.4): the exact
 * bytes for each type, escaping, value forms, refusals, and Debian's
 * prometheus_client parser reading the output back (tests/unit/prom_parse.py). */
#include "osrunner/metrics.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

static osr_metrics *new_registry(void)
{
    osr_metrics *m = NULL;
    osr_error err;
    osr_error_clear(&err);
    assert_int_equal(osr_metrics_new(&m, &err), 0);
    return m;
}

static char *render(osr_metrics *m)
{
    char *out = (char *)0x1234;
    size_t len = 0;
    assert_int_equal(osr_metrics_render(&out, &len, m), 0);
    assert_int_equal(strlen(out), len);
    return out;
}

static void test_counter_gauge(void **state)
{
    osr_metrics *m = new_registry();
    const char *const labels[] = { "pool", "state", NULL };
    const char *const v1[] = { "small", "idle" }, *const v2[] = { "small", "busy" };
    char *out;
    (void)state;

    assert_int_equal(osr_metrics_declare(m, "osrunner_webhooks_total", OSR_METRIC_COUNTER,
                                         "Webhook deliveries.", NULL, NULL, 0),
                     0);
    assert_int_equal(osr_metrics_declare(m, "osrunner_runners", OSR_METRIC_GAUGE,
                                         "Runners by pool and state.", labels, NULL, 0),
                     0);
    out = render(m);
    assert_string_equal(out, "# HELP osrunner_webhooks_total Webhook deliveries.\n"
                             "# TYPE osrunner_webhooks_total counter\n"
                             "osrunner_webhooks_total 0\n"
                             "# HELP osrunner_runners Runners by pool and state.\n"
                             "# TYPE osrunner_runners gauge\n");
    osr_free(out);
    assert_int_equal(osr_metrics_counter_add(m, "osrunner_webhooks_total", NULL, 1), 0);
    assert_int_equal(osr_metrics_counter_add(m, "osrunner_webhooks_total", NULL, 2), 0);
    assert_int_equal(osr_metrics_gauge_set(m, "osrunner_runners", v1, 2), 0);
    assert_int_equal(osr_metrics_gauge_set(m, "osrunner_runners", v2, 1.5), 0);
    assert_int_equal(osr_metrics_gauge_set(m, "osrunner_runners", v1, 3), 0);
    out = render(m);
    assert_string_equal(out, "# HELP osrunner_webhooks_total Webhook deliveries.\n"
                             "# TYPE osrunner_webhooks_total counter\n"
                             "osrunner_webhooks_total 3\n"
                             "# HELP osrunner_runners Runners by pool and state.\n"
                             "# TYPE osrunner_runners gauge\n"
                             "osrunner_runners{pool=\"small\",state=\"idle\"} 3\n"
                             "osrunner_runners{pool=\"small\",state=\"busy\"} 1.5\n");
    osr_free(out);
    assert_int_equal(osr_metrics_clear(m, "osrunner_runners"), 0);
    out = render(m);
    assert_null(strstr(out, "osrunner_runners{"));
    osr_free(out);
    osr_metrics_free(m);
}

static void test_histogram(void **state)
{
    osr_metrics *m = new_registry();
    const double b[] = { 0.1, 1, 10 };
    const char *const labels[] = { "pool", NULL };
    const char *const v[] = { "p" };
    char *out;
    (void)state;

    assert_int_equal(osr_metrics_declare(m, "osrunner_reconcile_duration_seconds",
                                         OSR_METRIC_HISTOGRAM, "Pass durations.", labels, b, 3),
                     0);
    assert_int_equal(
        osr_metrics_histogram_observe(m, "osrunner_reconcile_duration_seconds", v, 0.05), 0);
    assert_int_equal(osr_metrics_histogram_observe(m, "osrunner_reconcile_duration_seconds", v, 1),
                     0);
    assert_int_equal(
        osr_metrics_histogram_observe(m, "osrunner_reconcile_duration_seconds", v, 42.5), 0);
    out = render(m);
    assert_string_equal(out,
                        "# HELP osrunner_reconcile_duration_seconds Pass durations.\n"
                        "# TYPE osrunner_reconcile_duration_seconds histogram\n"
                        "osrunner_reconcile_duration_seconds_bucket{pool=\"p\",le=\"0.1\"} 1\n"
                        "osrunner_reconcile_duration_seconds_bucket{pool=\"p\",le=\"1\"} 2\n"
                        "osrunner_reconcile_duration_seconds_bucket{pool=\"p\",le=\"10\"} 2\n"
                        "osrunner_reconcile_duration_seconds_bucket{pool=\"p\",le=\"+Inf\"} 3\n"
                        "osrunner_reconcile_duration_seconds_sum{pool=\"p\"} 43.55\n"
                        "osrunner_reconcile_duration_seconds_count{pool=\"p\"} 3\n");
    osr_free(out);
    osr_metrics_free(m);
}

static void test_escaping_and_values(void **state)
{
    osr_metrics *m = new_registry();
    const char *const labels[] = { "what", NULL };
    const char *const v[] = { "a\\b \"q\"\nnext" }, *const inf[] = { "inf" },
                      *const nan[] = { "nan" }, *const tiny[] = { "tiny" };
    char *out;
    (void)state;

    assert_int_equal(osr_metrics_declare(m, "g", OSR_METRIC_GAUGE, "back\\slash\nand \"quotes\"",
                                         labels, NULL, 0),
                     0);
    assert_int_equal(osr_metrics_gauge_set(m, "g", v, 0.1), 0);
    assert_int_equal(osr_metrics_gauge_set(m, "g", inf, -INFINITY), 0);
    assert_int_equal(osr_metrics_gauge_set(m, "g", nan, NAN), 0);
    assert_int_equal(osr_metrics_gauge_set(m, "g", tiny, 1e-300), 0);
    out = render(m);
    assert_string_equal(out, "# HELP g back\\\\slash\\nand \"quotes\"\n"
                             "# TYPE g gauge\n"
                             "g{what=\"a\\\\b \\\"q\\\"\\nnext\"} 0.1\n"
                             "g{what=\"inf\"} -Inf\n"
                             "g{what=\"nan\"} NaN\n"
                             "g{what=\"tiny\"} 1e-300\n");
    osr_free(out);
    osr_metrics_free(m);
}

static void test_refusals(void **state)
{
    osr_metrics *m = new_registry();
    const char *const le[] = { "le", NULL }, *const dunder[] = { "__x", NULL },
                      *const twice[] = { "a", "a", NULL }, *const one[] = { "a", NULL };
    const char *const nullv[] = { NULL };
    const double bad[] = { 1, 1 }, good[] = { 1 };
    (void)state;

    assert_int_equal(osr_metrics_declare(m, "x", OSR_METRIC_COUNTER, "", NULL, NULL, 0),
                     OSR_EINVAL);
    assert_non_null(strstr(osr_metrics_last_error(m)->message, "_total"));
    assert_int_equal(osr_metrics_declare(m, "9x", OSR_METRIC_GAUGE, "", NULL, NULL, 0), OSR_EINVAL);
    assert_int_equal(osr_metrics_declare(m, "a-b", OSR_METRIC_GAUGE, "", NULL, NULL, 0),
                     OSR_EINVAL);
    assert_int_equal(osr_metrics_declare(m, "h", OSR_METRIC_HISTOGRAM, "", le, good, 1),
                     OSR_EINVAL);
    assert_int_equal(osr_metrics_declare(m, "h", OSR_METRIC_GAUGE, "", dunder, NULL, 0),
                     OSR_EINVAL);
    assert_int_equal(osr_metrics_declare(m, "h", OSR_METRIC_GAUGE, "", twice, NULL, 0), OSR_EINVAL);
    assert_int_equal(osr_metrics_declare(m, "h", OSR_METRIC_HISTOGRAM, "", NULL, bad, 2),
                     OSR_EINVAL);
    assert_int_equal(osr_metrics_declare(m, "h", OSR_METRIC_HISTOGRAM, "", NULL, NULL, 0),
                     OSR_EINVAL);
    assert_int_equal(osr_metrics_declare(m, "h", OSR_METRIC_GAUGE, "", NULL, good, 1), OSR_EINVAL);
    assert_int_equal(osr_metrics_declare(m, "h", OSR_METRIC_GAUGE, "", one, NULL, 0), 0);
    assert_int_equal(osr_metrics_declare(m, "h", OSR_METRIC_GAUGE, "", one, NULL, 0), OSR_EINVAL);
    assert_non_null(strstr(osr_metrics_last_error(m)->message, "twice"));
    assert_int_equal(osr_metrics_gauge_set(m, "h", nullv, 1), OSR_EINVAL);
    assert_int_equal(osr_metrics_gauge_set(m, "h", NULL, 1), OSR_EINVAL);
    assert_int_equal(osr_metrics_gauge_set(m, "nope", NULL, 1), OSR_EINVAL);
    assert_int_equal(osr_metrics_counter_add(m, "h", one, 1), OSR_EINVAL);
    assert_int_equal(osr_metrics_declare(m, "c_total", OSR_METRIC_COUNTER, "", NULL, NULL, 0), 0);
    assert_int_equal(osr_metrics_counter_add(m, "c_total", NULL, -1), OSR_EINVAL);
    assert_int_equal(osr_metrics_counter_add(m, "c_total", NULL, NAN), OSR_EINVAL);
    assert_int_equal(osr_metrics_histogram_observe(m, "c_total", NULL, 1), OSR_EINVAL);
    assert_int_equal(osr_metrics_clear(m, "nope"), OSR_EINVAL);
    osr_metrics_free(m);
    osr_metrics_free(NULL);
}

static void test_series_cap(void **state)
{
    osr_metrics *m = new_registry();
    const char *const labels[] = { "n", NULL };
    char num[16];
    const char *v[] = { num };
    (void)state;
    assert_int_equal(osr_metrics_declare(m, "g", OSR_METRIC_GAUGE, "", labels, NULL, 0), 0);
    for (int i = 0; i < OSR_METRICS_SERIES_MAX; i++) {
        snprintf(num, sizeof(num), "%d", i);
        assert_int_equal(osr_metrics_gauge_set(m, "g", v, i), 0);
    }
    snprintf(num, sizeof(num), "new");
    assert_int_equal(osr_metrics_gauge_set(m, "g", v, 1), OSR_EINVAL);
    snprintf(num, sizeof(num), "7");
    assert_int_equal(osr_metrics_gauge_set(m, "g", v, 1), 0);
    osr_metrics_free(m);
}

/* Debian's prometheus_client reads what we write, with the same values. */
static void test_python_parser(void **state)
{
    osr_metrics *m = new_registry();
    const double b[] = { 0.5, 2 };
    const char *const labels[] = { "pool", "rule", NULL };
    const char *const v[] = { "small \"x\"", "error-vm\\\n" };
    char cmd[512], got[4096];
    char *out;
    FILE *p;
    size_t n;
    (void)state;

    assert_int_equal(osr_metrics_declare(m, "osrunner_actions_total", OSR_METRIC_COUNTER,
                                         "Actions\nby rule \\.", labels, NULL, 0),
                     0);
    assert_int_equal(osr_metrics_declare(m, "osrunner_up", OSR_METRIC_GAUGE, "Up.", NULL, NULL, 0),
                     0);
    assert_int_equal(osr_metrics_declare(m, "osrunner_pass_seconds", OSR_METRIC_HISTOGRAM,
                                         "Passes.", labels, b, 2),
                     0);
    assert_int_equal(osr_metrics_counter_add(m, "osrunner_actions_total", v, 4), 0);
    assert_int_equal(osr_metrics_histogram_observe(m, "osrunner_pass_seconds", v, 1), 0);
    assert_int_equal(osr_metrics_histogram_observe(m, "osrunner_pass_seconds", v, 3), 0);
    out = render(m);
    snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s/../unit/prom_parse.py > /tmp/osr-prom-%d.out",
             OSR_TEST_FIXTURES, (int)getpid());
    p = popen(cmd, "w");
    assert_non_null(p);
    assert_int_equal(fwrite(out, 1, strlen(out), p), strlen(out));
    assert_int_equal(WEXITSTATUS(pclose(p)), 0);
    snprintf(cmd, sizeof(cmd), "/tmp/osr-prom-%d.out", (int)getpid());
    p = fopen(cmd, "r");
    assert_non_null(p);
    n = fread(got, 1, sizeof(got) - 1, p);
    got[n] = '\0';
    fclose(p);
    unlink(cmd);
    assert_string_equal(
        got, "osrunner_actions counter 'Actions\\nby rule \\\\.'\n"
             "  osrunner_actions_total {'pool': 'small \"x\"', 'rule': 'error-vm\\\\\\n'} 4.0\n"
             "osrunner_up gauge 'Up.'\n"
             "  osrunner_up {} 0.0\n"
             "osrunner_pass_seconds histogram 'Passes.'\n"
             "  osrunner_pass_seconds_bucket {'le': '0.5', 'pool': 'small \"x\"', 'rule': "
             "'error-vm\\\\\\n'} 0.0\n"
             "  osrunner_pass_seconds_bucket {'le': '2', 'pool': 'small \"x\"', 'rule': "
             "'error-vm\\\\\\n'} 1.0\n"
             "  osrunner_pass_seconds_bucket {'le': '+Inf', 'pool': 'small \"x\"', 'rule': "
             "'error-vm\\\\\\n'} 2.0\n"
             "  osrunner_pass_seconds_sum {'pool': 'small \"x\"', 'rule': 'error-vm\\\\\\n'} "
             "4.0\n"
             "  osrunner_pass_seconds_count {'pool': 'small \"x\"', 'rule': 'error-vm\\\\\\n'} "
             "2.0\n");
    osr_free(out);
    osr_metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_gauge),       cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_escaping_and_values), cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_series_cap),          cmocka_unit_test(test_python_parser),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
