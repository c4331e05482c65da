/* baton-router — the pathway state machines: baton.inbound.v1 in; lifecycle events,
 * notification requests and timer commands out; instance state in Redis. See router.h. */
#include <stdlib.h>
#include <string.h>

#include "baton/log.h"
#include "router.h"

#define POLL_MAX_BATCH 100000

static router_cfg_t cfg;

static const baton_config_opt_t opts[] = {
    BATON_SVC_COMMON_OPTS(cfg.c, "9102"),
    {"redis_url", "BATON_REDIS_URL", BATON_CFG_SECRET, "redis://127.0.0.1:6379", 0, 0,
     "Redis holding rosters and instance state (redis://[[user]:password@]host[:port][/db])",
     &cfg.redis_url},
    {"pathways_dir", "BATON_PATHWAYS_DIR", BATON_CFG_STR, "/etc/baton/pathways", 0, 0,
     "directory of pathway definitions (*.yaml, *.yml), loaded all or nothing at start",
     &cfg.pathways_dir},
    {"group_id", "BATON_GROUP_ID", BATON_CFG_STR, "baton-router", 0, 0, "Kafka consumer group",
     &cfg.group_id},
    {"input_topic", "BATON_ROUTER_INPUT_TOPIC", BATON_CFG_STR, BATON_TOPIC_INBOUND, 0, 0,
     "topic of inputs (clinical events, staff actions, timer firings)", &cfg.input_topic},
    {"batch_max", "BATON_ROUTER_BATCH_MAX", BATON_CFG_INT, "2000", 1, POLL_MAX_BATCH,
     "most inputs per batch", &cfg.batch_max},
    {"batch_wait", "BATON_ROUTER_BATCH_WAIT", BATON_CFG_DURATION, "100", 1, 60000,
     "how long a poll waits for a first input", &cfg.batch_wait_ms},
    {"produce_timeout", "BATON_ROUTER_PRODUCE_TIMEOUT", BATON_CFG_DURATION, "30s", 100, 600000,
     "wait for a batch's delivery reports before retrying it", &cfg.produce_timeout_ms},
    {"closed_ttl", "BATON_ROUTER_CLOSED_TTL", BATON_CFG_DURATION, "7d", 0, 0,
     "keep a completed or cancelled instance's state this long (0: forever)", &cfg.closed_ttl_ms},
    {"roster_snapshot", "BATON_ROUTER_ROSTER_SNAPSHOT", BATON_CFG_BOOL, "true", 0, 0,
     "read each roster index once per batch (false: one Redis round trip per resolution)",
     &cfg.roster_snapshot},
    {"pipeline", "BATON_ROUTER_PIPELINE", BATON_CFG_BOOL, "true", 0, 0,
     "compute the next batch while the previous one is produced and written (false: strictly "
     "one at a time)",
     &cfg.pipeline},
    {0}};

/* Exit 2 with every file:line error when the directory does not load. */
static baton_pathway_set_t *load_pathways(void)
{
    char err[512];
    baton_pathway_errors_t errs = {0};
    baton_pathway_set_t *set = baton_pathway_load_dir(cfg.pathways_dir, &errs, err, sizeof err);
    if (!set) {
        for (size_t i = 0; i < errs.n; i++)
            LOG_ERROR("pathway: %s", errs.items[i]);
        LOG_FATAL("pathways in %s do not load: %s", cfg.pathways_dir, err);
        baton_pathway_errors_free(&errs);
        return NULL;
    }
    baton_pathway_errors_free(&errs);
    for (size_t i = 0; i < baton_pathway_count(set); i++) {
        const baton_pathway_def_t *d = baton_pathway_at(set, i);
        baton_buf_t f = BATON_BUF_INIT;
        baton_log_kv(&f, "pathway", d->id);
        baton_log_kv_int(&f, "version", d->version);
        baton_log_kv_int(&f, "stages", (long long)d->nstages);
        BATON_LOG(BATON_LOG_INFO, f.data, "pathway loaded");
        baton_buf_free(&f);
    }
    return set;
}

static int open_clients(router_t *r)
{
    char err[512];
    if (!(r->redis = baton_redis_new(cfg.redis_url, NULL, err, sizeof err)) ||
        !(r->wredis = baton_redis_new(cfg.redis_url, NULL, err, sizeof err))) {
        LOG_FATAL("redis: %s", err);
        return 1;
    }
    baton_kafka_conf_t *kc = baton_svc_kafka_conf(r->svc);
    if (!(r->producer = baton_kafka_producer_new(kc, err, sizeof err))) {
        LOG_FATAL("%s", err);
        return 1;
    }
    /* the output topics' metadata now, not with the first batch (a second or so) */
    static const char *const outs[] = {BATON_TOPIC_LIFECYCLE, BATON_TOPIC_NOTIFY,
                                       BATON_TOPIC_TIMERS, BATON_TOPIC_DLQ, BATON_TOPIC_INBOUND};
    if (baton_kafka_producer_warm(r->producer, outs, 5, 3000, err, sizeof err) != 0)
        LOG_WARN("output topics not known yet: %s", err);
    baton_kafka_conf_set_rebalance_cb(kc, router_on_rebalance, r);
    if (!(r->consumer = baton_kafka_consumer_new(kc, cfg.group_id, err, sizeof err))) {
        LOG_FATAL("%s", err);
        return 1;
    }
    const char *topics[] = {cfg.input_topic};
    if (baton_kafka_consumer_subscribe(r->consumer, topics, 1, err, sizeof err) != 0) {
        LOG_FATAL("%s", err);
        return 1;
    }
    router_roster_init(&r->roster, r->redis, cfg.roster_snapshot);
    router_cache_init(&r->cache);
    long long active = 0;
    if (router_store_active(r->redis, &active) == 0)
        baton_gauge_set(r->m.instances_active, (double)active);
    return 0;
}

/* Poll, process, repeat, until SIGTERM or a fatal condition. Two message arrays: one holds
 * the batch being produced while the next is polled into the other. */
static void run(router_t *r)
{
    baton_kafka_message_t *msgs[2];
    for (int i = 0; i < 2; i++)
        msgs[i] = baton_xcalloc((size_t)cfg.batch_max, sizeof(*msgs[i]));
    int cur = 0;
    while (baton_svc_running && !r->fatal) {
        router_check_health(r);
        int n = baton_kafka_consumer_poll(r->consumer, msgs[cur], (size_t)cfg.batch_max,
                                          r->inflight ? 0 : (int)cfg.batch_wait_ms);
        if (n < 0) {
            LOG_ERROR("consumer failed: %s", baton_strerror(n));
            r->fatal = true;
            break;
        }
        if (n == 0) { /* idle: finish what is in flight now rather than with the next batch */
            router_finish_inflight(r);
            baton_kafka_producer_poll(r->producer, 0);
            continue;
        }
        if (router_process_batch(r, msgs[cur], (size_t)n) == 0)
            cur ^= 1; /* msgs[cur] now belongs to the batch in flight */
    }
    router_finish_inflight(r);
    for (int i = 0; i < 2; i++)
        free(msgs[i]);
}

static void shut_down(router_t *r)
{
    router_pipeline_stop(r);
    if (r->consumer)
        baton_kafka_consumer_close(r->consumer, 10000);
    baton_kafka_consumer_free(r->consumer);
    baton_kafka_producer_free(r->producer, 10000);
    router_roster_free(&r->roster);
    router_cache_free(&r->cache);
    router_arenas_free(r);
    baton_redis_free(r->redis);
    baton_redis_free(r->wredis);
    baton_pathway_set_free(r->set);
    for (size_t i = 0; i < r->nparts; i++)
        free(r->parts[i].topic);
    free(r->parts);
}

int main(int argc, char **argv)
{
    int rc;
    router_t r;
    memset(&r, 0, sizeof(r));
    r.cfg = &cfg;
    r.svc = baton_svc_init("router", "pathway state machines: inbound events to tasks", argc, argv,
                           opts, &cfg.c, &rc);
    if (!r.svc)
        return rc;
    router_metrics_init(&r.m, baton_svc_metrics(r.svc));
    if (!(r.set = load_pathways())) {
        router_metrics_free(&r.m);
        baton_svc_free(r.svc);
        return 2;
    }
    rc = open_clients(&r);
    if (rc == 0 && router_pipeline_start(&r) != 0) {
        LOG_FATAL("cannot start the producing thread");
        rc = 1;
    }
    if (rc == 0) {
        run(&r);
        LOG_INFO("stopping%s", r.fatal ? " after a fatal error" : "");
    }
    baton_svc_set_ready(r.svc, false, "stopping");
    shut_down(&r);
    rc = rc ? rc : r.fatal ? 1 : 0;
    router_metrics_free(&r.m);
    baton_svc_free(r.svc);
    return rc;
}
