/* test_metrics.c — registry, children, atomics and the exact exposition text. */
#include "baton/metrics.h"
#include "test.h"

#include <pthread.h>

TEST(metrics_render_exact)
{
    baton_metrics_t *reg = baton_metrics_new();
    baton_metric_t *deliv =
        baton_metrics_counter(reg, "baton_deliveries_total",
                              "Notifications by channel and outcome.", "channel", "outcome", NULL);
    ASSERT_NOT_NULL(deliv);
    baton_counter_t *ok = baton_metrics_counter_child(deliv, "webhook", "delivered");
    baton_counter_t *bad = baton_metrics_counter_child(deliv, "sms", "failed");
    baton_counter_inc(ok);
    baton_counter_add(ok, 2);
    baton_counter_inc(bad);
    /* Same label values give the same child. */
    ASSERT_TRUE(baton_metrics_counter_child(deliv, "webhook", "delivered") == ok);

    baton_metric_t *depth = baton_metrics_gauge(reg, "baton_queue_depth", "Queued items.", NULL);
    baton_gauge_t *g = baton_metrics_gauge_child(depth);
    baton_gauge_set(g, 7);
    baton_gauge_dec(g);
    baton_gauge_add(g, 0.5);

    const double b[] = {0.1, 1, 2.5};
    baton_metric_t *lat =
        baton_metrics_histogram(reg, "baton_stage_seconds", "Stage latency.", b, 3, "stage", NULL);
    baton_histogram_t *h = baton_metrics_histogram_child(lat, "med_rec");
    baton_histogram_observe(h, 0.05);
    baton_histogram_observe(h, 0.1); /* on the bound: counts in le="0.1" */
    baton_histogram_observe(h, 2);
    baton_histogram_observe(h, 30);

    baton_buf_t out = BATON_BUF_INIT;
    ASSERT_EQ_INT(baton_metrics_render(reg, &out), 0);
    ASSERT_EQ_STR(out.data, "# HELP baton_deliveries_total Notifications by channel and outcome.\n"
                            "# TYPE baton_deliveries_total counter\n"
                            "baton_deliveries_total{channel=\"webhook\",outcome=\"delivered\"} 3\n"
                            "baton_deliveries_total{channel=\"sms\",outcome=\"failed\"} 1\n"
                            "# HELP baton_queue_depth Queued items.\n"
                            "# TYPE baton_queue_depth gauge\n"
                            "baton_queue_depth 6.5\n"
                            "# HELP baton_stage_seconds Stage latency.\n"
                            "# TYPE baton_stage_seconds histogram\n"
                            "baton_stage_seconds_bucket{stage=\"med_rec\",le=\"0.1\"} 2\n"
                            "baton_stage_seconds_bucket{stage=\"med_rec\",le=\"1\"} 2\n"
                            "baton_stage_seconds_bucket{stage=\"med_rec\",le=\"2.5\"} 3\n"
                            "baton_stage_seconds_bucket{stage=\"med_rec\",le=\"+Inf\"} 4\n"
                            "baton_stage_seconds_sum{stage=\"med_rec\"} 32.15\n"
                            "baton_stage_seconds_count{stage=\"med_rec\"} 4\n");
    baton_buf_free(&out);
    baton_metrics_free(reg);
}

TEST(metrics_render_escaping)
{
    baton_metrics_t *reg = baton_metrics_new();
    baton_metric_t *c = baton_metrics_counter(reg, "baton_x_total",
                                              "Help with \\ and\nnewline \"quoted\".", "v", NULL);
    baton_counter_inc(baton_metrics_counter_child(c, "a\"b\\c\nd"));
    baton_buf_t out = BATON_BUF_INIT;
    baton_metrics_render(reg, &out);
    ASSERT_EQ_STR(out.data, "# HELP baton_x_total Help with \\\\ and\\nnewline \"quoted\".\n"
                            "# TYPE baton_x_total counter\n"
                            "baton_x_total{v=\"a\\\"b\\\\c\\nd\"} 1\n");
    baton_buf_free(&out);
    baton_metrics_free(reg);
}

TEST(metrics_default_buckets_and_no_labels)
{
    baton_metrics_t *reg = baton_metrics_new();
    baton_metric_t *lat = baton_metrics_histogram(reg, "baton_op_seconds", "Op.", NULL, 0, NULL);
    baton_histogram_t *h = baton_metrics_histogram_child(lat);
    baton_histogram_observe(h, 0.003);
    baton_histogram_observe(h, 0.75);
    ASSERT_EQ_INT(baton_histogram_count(h), 2);
    baton_buf_t out = BATON_BUF_INIT;
    baton_metrics_render(reg, &out);
    ASSERT_EQ_STR(out.data, "# HELP baton_op_seconds Op.\n"
                            "# TYPE baton_op_seconds histogram\n"
                            "baton_op_seconds_bucket{le=\"0.005\"} 1\n"
                            "baton_op_seconds_bucket{le=\"0.01\"} 1\n"
                            "baton_op_seconds_bucket{le=\"0.025\"} 1\n"
                            "baton_op_seconds_bucket{le=\"0.05\"} 1\n"
                            "baton_op_seconds_bucket{le=\"0.1\"} 1\n"
                            "baton_op_seconds_bucket{le=\"0.25\"} 1\n"
                            "baton_op_seconds_bucket{le=\"0.5\"} 1\n"
                            "baton_op_seconds_bucket{le=\"1\"} 2\n"
                            "baton_op_seconds_bucket{le=\"2.5\"} 2\n"
                            "baton_op_seconds_bucket{le=\"5\"} 2\n"
                            "baton_op_seconds_bucket{le=\"10\"} 2\n"
                            "baton_op_seconds_bucket{le=\"+Inf\"} 2\n"
                            "baton_op_seconds_sum 0.753\n"
                            "baton_op_seconds_count 2\n");
    baton_buf_free(&out);
    baton_metrics_free(reg);
}

TEST(metrics_register_rules)
{
    baton_metrics_t *reg = baton_metrics_new();
    baton_metric_t *a = baton_metrics_counter(reg, "baton_a_total", "A.", "x", NULL);
    ASSERT_NOT_NULL(a);
    /* Same shape: the same family. */
    ASSERT_TRUE(baton_metrics_counter(reg, "baton_a_total", "A again.", "x", NULL) == a);
    /* Other type or other labels: refused. */
    ASSERT_NULL(baton_metrics_gauge(reg, "baton_a_total", "A.", "x", NULL));
    ASSERT_NULL(baton_metrics_counter(reg, "baton_a_total", "A.", "y", NULL));
    /* Invalid names. */
    ASSERT_NULL(baton_metrics_counter(reg, "1bad", "x", NULL));
    ASSERT_NULL(baton_metrics_counter(reg, "baton-dash", "x", NULL));
    ASSERT_NULL(baton_metrics_counter(reg, "baton_ok", "x", "__reserved", NULL));
    ASSERT_NULL(baton_metrics_histogram(reg, "baton_h", "x", NULL, 0, "le", NULL));
    const double unsorted[] = {1, 0.5};
    ASSERT_NULL(baton_metrics_histogram(reg, "baton_h2", "x", unsorted, 2, NULL));
    /* A child of the wrong type is NULL, and NULL children are ignored by updates. */
    ASSERT_NULL(baton_metrics_gauge_child(a, "v"));
    baton_counter_inc(NULL);
    baton_histogram_observe(NULL, 1);
    baton_metrics_free(reg);
}

static baton_counter_t *conc_counter;
static baton_histogram_t *conc_hist;
static baton_gauge_t *conc_gauge;
#define CONC_THREADS 4
#define CONC_ITERS 100000

static void *conc_worker(void *arg)
{
    for (int i = 0; i < CONC_ITERS; i++) {
        baton_counter_inc(conc_counter);
        baton_gauge_inc(conc_gauge);
        if (i % 10 == 0)
            baton_histogram_observe(conc_hist, 0.5);
    }
    return arg;
}

TEST(metrics_concurrent_updates)
{
    baton_metrics_t *reg = baton_metrics_new();
    baton_metric_t *c = baton_metrics_counter(reg, "baton_c_total", "C.", "k", NULL);
    baton_metric_t *h = baton_metrics_histogram(reg, "baton_h_seconds", "H.", NULL, 0, NULL);
    baton_metric_t *g = baton_metrics_gauge(reg, "baton_g", "G.", NULL);
    conc_counter = baton_metrics_counter_child(c, "v");
    conc_hist = baton_metrics_histogram_child(h);
    conc_gauge = baton_metrics_gauge_child(g);
    pthread_t t[CONC_THREADS];
    for (int i = 0; i < CONC_THREADS; i++)
        pthread_create(&t[i], NULL, conc_worker, NULL);
    /* Renders while others write must not block or tear. */
    for (int i = 0; i < 5; i++) {
        baton_buf_t out = BATON_BUF_INIT;
        baton_metrics_render(reg, &out);
        ASSERT_CONTAINS(out.data, "# TYPE baton_c_total counter");
        baton_buf_free(&out);
    }
    for (int i = 0; i < CONC_THREADS; i++)
        pthread_join(t[i], NULL);
    ASSERT_EQ_INT((long long)baton_counter_value(conc_counter), CONC_THREADS * CONC_ITERS);
    ASSERT_EQ_INT((long long)baton_gauge_value(conc_gauge), CONC_THREADS * CONC_ITERS);
    ASSERT_EQ_INT(baton_histogram_count(conc_hist), CONC_THREADS * CONC_ITERS / 10);
    ASSERT_EQ_INT((long long)baton_histogram_sum(conc_hist), CONC_THREADS * CONC_ITERS / 20);
    baton_metrics_free(reg);
}

static baton_metric_t *lookup_fam;
static void *lookup_worker(void *arg)
{
    const char *vals[] = {"a", "b", "c", "d"};
    for (int i = 0; i < 2000; i++)
        baton_counter_inc(baton_metrics_counter_child(lookup_fam, vals[i % 4]));
    return arg;
}

TEST(metrics_concurrent_child_lookup)
{
    baton_metrics_t *reg = baton_metrics_new();
    lookup_fam = baton_metrics_counter(reg, "baton_l_total", "L.", "k", NULL);
    pthread_t t[CONC_THREADS];
    for (int i = 0; i < CONC_THREADS; i++)
        pthread_create(&t[i], NULL, lookup_worker, NULL);
    for (int i = 0; i < CONC_THREADS; i++)
        pthread_join(t[i], NULL);
    baton_buf_t out = BATON_BUF_INIT;
    baton_metrics_render(reg, &out);
    /* Exactly four children, 500 per thread each. */
    ASSERT_CONTAINS(out.data, "baton_l_total{k=\"a\"} 2000\n");
    ASSERT_CONTAINS(out.data, "baton_l_total{k=\"d\"} 2000\n");
    int lines = 0;
    for (const char *p = out.data; *p; p++)
        lines += *p == '\n';
    ASSERT_EQ_INT(lines, 2 + 4);
    baton_buf_free(&out);
    baton_metrics_free(reg);
}

static int hook_calls;
static void hook(baton_metrics_t *reg, void *ud)
{
    hook_calls++;
    baton_gauge_set(ud, 42);
}

TEST(metrics_collect_hook_and_process)
{
    baton_metrics_t *reg = baton_metrics_new();
    baton_gauge_t *g = baton_metrics_gauge_child(baton_metrics_gauge(reg, "baton_q", "Q.", NULL));
    ASSERT_EQ_INT(baton_metrics_on_collect(reg, hook, g), 0);
    ASSERT_EQ_INT(baton_metrics_register_process(reg, "ingest", "0.1.0"), 0);
    baton_buf_t out = BATON_BUF_INIT;
    baton_metrics_render(reg, &out);
    ASSERT_EQ_INT(hook_calls, 1);
    ASSERT_CONTAINS(out.data, "baton_q 42\n");
    ASSERT_CONTAINS(out.data,
                    "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds 1");
    ASSERT_CONTAINS(out.data, "baton_build_info{service=\"ingest\",version=\"0.1.0\"} 1\n");
    ASSERT_CONTAINS(out.data, "# TYPE process_cpu_seconds_total counter\n");
    ASSERT_CONTAINS(out.data, "# TYPE process_open_fds gauge\nprocess_open_fds ");
    ASSERT_TRUE(strstr(out.data, "process_resident_memory_bytes 0\n") == NULL);
    /* A second registration is idempotent. */
    ASSERT_EQ_INT(baton_metrics_register_process(reg, "ingest", "0.1.0"), 0);
    baton_buf_free(&out);
    baton_metrics_free(reg);
}

TEST_MAIN()
