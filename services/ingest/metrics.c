/* metrics.c — the ingest metric families (request counts by route and status come from
 * libs/http). Label values are fixed sets: never an id, a tenant-supplied string or PHI. */
#include "ingest.h"

#include <string.h>

static const char *const src_names[INGEST_SRC_N] = {"json", "hl7v2", "fhir", "staff", "roster"};
static const char *const rej_names[INGEST_REJ_N] = {
    "invalid",   "malformed", "unauthorized",      "forbidden",
    "tenant",    "too_large", "unsupported",       "unknown_sender",
    "not_found", "conflict",  "kafka_unavailable", "redis_unavailable"};
/* Type families counted by name; any other first word counts as "other". */
static const char *const families[] = {"adt",  "order",     "consult", "referral", "transport",
                                       "task", "staff",     "snf",     "auth",     "bed",
                                       "lab",  "encounter", NULL};

const char *ingest_source_name(ingest_source_t s)
{
    return src_names[s];
}

void ingest_metrics_init(ingest_metrics_t *m, baton_metrics_t *reg)
{
    memset(m, 0, sizeof *m);
    m->accepted_fam = baton_metrics_counter(
        reg, "baton_ingest_events_accepted_total",
        "Events acknowledged by Kafka, by source and type family", "source", "family", NULL);
    baton_metric_t *rej = baton_metrics_counter(reg, "baton_ingest_events_rejected_total",
                                                "Inputs not accepted, by source and reason",
                                                "source", "reason", NULL);
    baton_metric_t *dd = baton_metrics_counter(
        reg, "baton_ingest_dedup_hits_total",
        "Inputs whose id was already accepted (answered from the idempotency record)", "source",
        NULL);
    for (int s = 0; s < INGEST_SRC_N; s++) {
        m->dedup[s] = baton_metrics_counter_child(dd, src_names[s]);
        for (int r = 0; r < INGEST_REJ_N; r++)
            m->rejected[s][r] = baton_metrics_counter_child(rej, src_names[s], rej_names[r]);
    }
    static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                     0.1,    0.25,  0.5,    1,     2.5,  5,     10};
    m->produce_latency = baton_metrics_histogram_child(
        baton_metrics_histogram(reg, "baton_ingest_kafka_produce_seconds",
                                "Time from produce to the last delivery report of a request",
                                buckets, sizeof buckets / sizeof buckets[0], NULL));
    baton_metric_t *pe =
        baton_metrics_counter(reg, "baton_ingest_kafka_produce_errors_total",
                              "Produce calls that were not acknowledged", "error", NULL);
    m->produce_errors[0] = baton_metrics_counter_child(pe, "unavailable");
    m->produce_errors[1] = baton_metrics_counter_child(pe, "timeout");
    m->produce_errors[2] = baton_metrics_counter_child(pe, "queue_full");
    m->produce_errors[3] = baton_metrics_counter_child(pe, "other");
    m->mllp_conns = baton_metrics_gauge_child(
        baton_metrics_gauge(reg, "baton_ingest_mllp_connections", "Open MLLP connections", NULL));
    m->mllp_conns_total = baton_metrics_counter_child(baton_metrics_counter(
        reg, "baton_ingest_mllp_connections_total", "MLLP connections accepted", NULL));
    m->mllp_refused = baton_metrics_counter_child(baton_metrics_counter(
        reg, "baton_ingest_mllp_connections_refused_total",
        "MLLP connections closed at once (limit reached or shutting down)", NULL));
    m->mllp_frames = baton_metrics_counter_child(
        baton_metrics_counter(reg, "baton_ingest_mllp_frames_total", "MLLP frames received", NULL));
    m->mllp_garbage = baton_metrics_counter_child(baton_metrics_counter(
        reg, "baton_ingest_mllp_garbage_bytes_total", "Bytes received outside MLLP frames", NULL));
    baton_metric_t *acks = baton_metrics_counter(reg, "baton_ingest_hl7_acks_total",
                                                 "HL7 v2 ACKs sent, by MSA-1", "code", NULL);
    m->hl7_acks[0] = baton_metrics_counter_child(acks, "AA");
    m->hl7_acks[1] = baton_metrics_counter_child(acks, "AE");
    m->hl7_acks[2] = baton_metrics_counter_child(acks, "AR");
    m->staff_fam =
        baton_metrics_counter(reg, "baton_ingest_staff_actions_total",
                              "Staff actions by action and answer status", "action", "code", NULL);
    m->roster_fam = baton_metrics_counter(reg, "baton_ingest_roster_writes_total",
                                          "Roster writes accepted, by kind", "kind", NULL);
    m->actions_rechecked = baton_metrics_counter_child(baton_metrics_counter(
        reg, "baton_ingest_staff_actions_rechecked_total",
        "Staff actions the router's state in Redis refused at first and accepted on a re-check "
        "(the state was written after the caller acted on the change)",
        NULL));
}

void ingest_metrics_accepted(ingest_metrics_t *m, ingest_source_t src, const char *type, size_t n)
{
    const char *fam = "other";
    size_t l = type ? strcspn(type, ".") : 0;
    for (size_t i = 0; families[i] && l; i++)
        if (strlen(families[i]) == l && strncmp(families[i], type, l) == 0)
            fam = families[i];
    /* children are looked up by value: the family list is fixed, so this stays bounded */
    baton_counter_add(baton_metrics_counter_child(m->accepted_fam, src_names[src], fam), n);
}

void ingest_metrics_rejected(ingest_metrics_t *m, ingest_source_t src, ingest_reject_t why)
{
    baton_counter_inc(m->rejected[src][why]);
}
