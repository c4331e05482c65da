/* router_metrics.c — the router's metric families (names are the contract for dashboards). */
#include <stdio.h>

#include "router.h"

static const double batch_buckets[] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000};

void router_metrics_init(router_metrics_t *m, baton_metrics_t *reg)
{
    router_map_init(&m->child_cache);
    router_map_init(&m->transition_cache);
    pthread_mutex_init(&m->child_mu, NULL);
    m->events_in = baton_metrics_counter(reg, "baton_router_events_in_total",
                                         "Inputs consumed, by kind", "kind", NULL);
    m->in_clinical = baton_metrics_counter_child(m->events_in, "clinical");
    m->in_staff = baton_metrics_counter_child(m->events_in, "staff_action");
    m->in_timer = baton_metrics_counter_child(m->events_in, "timer_fired");
    m->in_invalid = baton_metrics_counter_child(m->events_in, "invalid");
    m->replays_skipped = baton_metrics_counter_child(baton_metrics_counter(
        reg, "baton_router_replays_skipped_total",
        "Inputs at or below their partition's applied offset (already written), skipped", NULL));
    m->dead_letters = baton_metrics_counter_child(baton_metrics_counter(
        reg, "baton_router_dead_letters_total", "Inputs sent to baton.dlq.v1", NULL));
    m->transitions = baton_metrics_counter(reg, "baton_router_transitions_total",
                                           "Lifecycle events produced, by type", "type", NULL);
    m->outputs = baton_metrics_counter(reg, "baton_router_outputs_total",
                                       "Messages produced, by topic", "topic", NULL);
    m->batch_size = baton_metrics_histogram_child(
        baton_metrics_histogram(reg, "baton_router_batch_size", "Inputs per batch", batch_buckets,
                                sizeof(batch_buckets) / sizeof(batch_buckets[0]), NULL));
    m->batch_seconds = baton_metrics_histogram_child(baton_metrics_histogram(
        reg, "baton_router_batch_seconds",
        "Batch processing time: poll returned → offsets committed", NULL, 0, NULL));
    m->latency = baton_metrics_histogram_child(baton_metrics_histogram(
        reg, "baton_router_event_latency_seconds",
        "Input appended to Kafka → its effects produced and written", NULL, 0, NULL));
    m->instances_active = baton_metrics_gauge_child(baton_metrics_gauge(
        reg, "baton_router_instances_active", "Pathway instances not yet closed", NULL));
    m->retries = baton_metrics_counter(reg, "baton_router_retries_total",
                                       "Batch phases retried after a failure", "phase", NULL);
    m->retry_load = baton_metrics_counter_child(m->retries, "load");
    m->retry_produce = baton_metrics_counter_child(m->retries, "produce");
    m->retry_write = baton_metrics_counter_child(m->retries, "write");
    m->commit_failures = baton_metrics_counter_child(baton_metrics_counter(
        reg, "baton_router_commit_failures_total",
        "Kafka offset commits that failed (Redis holds the applied offsets)", NULL));
    m->fenced = baton_metrics_counter_child(baton_metrics_counter(
        reg, "baton_router_fenced_total",
        "Batches dropped because another router advanced an applied offset", NULL));
}

static baton_counter_t *child(router_metrics_t *m, baton_metric_t *fam, char tag, const char *v)
{
    char key[160];
    snprintf(key, sizeof key, "%c%s", tag, v);
    pthread_mutex_lock(&m->child_mu);
    baton_counter_t *c = router_map_get(&m->child_cache, key);
    if (!c) {
        c = baton_metrics_counter_child(fam, v);
        router_map_put(&m->child_cache, key, c);
    }
    pthread_mutex_unlock(&m->child_mu);
    return c;
}

baton_counter_t *router_metrics_transition(router_metrics_t *m, const char *type)
{
    baton_counter_t *c = router_map_get(&m->transition_cache, type);
    if (!c) {
        c = child(m, m->transitions, 't', type);
        router_map_put(&m->transition_cache, type, c);
    }
    return c;
}

baton_counter_t *router_metrics_output(router_metrics_t *m, const char *topic)
{
    return child(m, m->outputs, 'o', topic);
}

void router_metrics_free(router_metrics_t *m)
{
    router_map_free(&m->child_cache);
    router_map_free(&m->transition_cache);
    pthread_mutex_destroy(&m->child_mu);
}
