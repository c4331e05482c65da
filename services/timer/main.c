/* baton-timer — durable timers for Baton: TimerSchedule / TimerCancel from baton.timers.v1
 * into Redis (sharded by Kafka partition), TimerFired into baton.inbound.v1 when due.
 * See README.md for the design, timer.h for the map of the files. */
#include "timer.h"

#include <stdlib.h>
#include <time.h>

static struct {
    baton_svc_common_t c;
    timer_cfg_t t;
} cfg;

static const baton_config_opt_t opts[] = {
    BATON_SVC_COMMON_OPTS(cfg.c, "9103"),
    {"redis_url", "BATON_REDIS_URL", BATON_CFG_STR, "redis://127.0.0.1:6379", 0, 0,
     "Redis holding the timers (redis://[[user]:password@]host[:port][/db])", &cfg.t.redis_url},
    {"group_id", "BATON_GROUP_ID", BATON_CFG_STR, "baton-timer", 0, 0,
     "Kafka consumer group of the timer instances", &cfg.t.group_id},
    {"key_prefix", "BATON_TIMER_KEY_PREFIX", BATON_CFG_STR, "baton:timer", 0, 0,
     "prefix of the Redis keys", &cfg.t.key_prefix},
    {"late_ms", "BATON_TIMER_LATE_MS", BATON_CFG_DURATION, "1000", 0, 86400000,
     "a timer firing more than this after its due time is marked late", &cfg.t.late_ms},
    {"consume_batch", "BATON_TIMER_CONSUME_BATCH", BATON_CFG_INT, "5000", 1, 100000,
     "most commands stored (and committed) per Kafka poll", &cfg.t.consume_batch},
    {"fire_batch", "BATON_TIMER_FIRE_BATCH", BATON_CFG_INT, "1000", 1, 100000,
     "most timers taken per partition per firing round", &cfg.t.fire_batch},
    {"poll_ms", "BATON_TIMER_POLL_MS", BATON_CFG_DURATION, "100", 1, 1000,
     "longest wait in one Kafka poll (the loop sleeps until the next due time, at most this)",
     &cfg.t.poll_ms},
    {"redis_retry_ms", "BATON_TIMER_REDIS_RETRY_MS", BATON_CFG_DURATION, "30000", 0, 600000,
     "how long to retry storing a batch while Redis is down before exiting (keep it below "
     "max.poll.interval.ms)",
     &cfg.t.redis_retry_ms},
    {"produce_timeout_ms", "BATON_TIMER_PRODUCE_TIMEOUT_MS", BATON_CFG_DURATION, "10000", 100,
     300000, "wait for Kafka's acks of fired timers", &cfg.t.produce_timeout_ms},
    {0}};

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Redis first (waiting for it while it is down), then the consumer (its rebalance callback
 * reads Redis), then the producer. */
static int open_clients(timer_svc_t *t)
{
    char err[256] = "";
    while (baton_svc_running &&
           !(t->redis = baton_redis_new(t->cfg->redis_url, NULL, err, sizeof err))) {
        baton_svc_set_ready(t->svc, false, "redis unreachable");
        LOG_ERROR("redis: %s (retrying)", err);
        sleep_ms(1000);
    }
    if (!t->redis || timer_store_init(t) != 0) {
        LOG_FATAL("redis: %s", t->redis ? baton_redis_errstr(t->redis) : "not connected");
        return 1;
    }
    baton_kafka_conf_t *kc = baton_svc_kafka_conf(t->svc);
    baton_kafka_conf_set_rebalance_cb(kc, timer_on_rebalance, t);
    /* a timer due in a second must not sit in a fetch for half of it (librdkafka: 500) */
    if (!baton_kafka_conf_get(kc, "fetch.wait.max.ms"))
        baton_kafka_conf_set(kc, "fetch.wait.max.ms", "50");
    /* Catching up on a backlog: librdkafka 2.0 stops fetching once its queue holds
     * queued.min.messages (100000) and looks again only when its broker thread wakes (up to
     * ~1 s later), so a queue smaller than ~1 s of consumption runs dry and the timer idles.
     * Bound the queue by size instead: 128 MiB (~500k schedules). */
    if (!baton_kafka_conf_get(kc, "queued.min.messages"))
        baton_kafka_conf_set(kc, "queued.min.messages", "1000000");
    if (!baton_kafka_conf_get(kc, "queued.max.messages.kbytes"))
        baton_kafka_conf_set(kc, "queued.max.messages.kbytes", "131072");
    t->consumer = baton_kafka_consumer_new(kc, t->cfg->group_id, err, sizeof err);
    const char *topics[] = {BATON_TOPIC_TIMERS};
    if (!t->consumer || baton_kafka_consumer_subscribe(t->consumer, topics, 1, err, sizeof err)) {
        LOG_FATAL("kafka consumer: %s", err);
        return 1;
    }
    /* a fired timer is on its way at once (librdkafka's default lingers 5 ms) */
    if (!baton_kafka_conf_get(kc, "linger.ms"))
        baton_kafka_conf_set(kc, "linger.ms", "0");
    if (!(t->producer = baton_kafka_producer_new(kc, err, sizeof err))) {
        LOG_FATAL("kafka producer: %s", err);
        return 1;
    }
    return 0;
}

/* How long the next poll may wait: until the earliest due time, at most poll_ms. */
static int poll_wait(const timer_svc_t *t)
{
    int64_t wait = t->cfg->poll_ms;
    int64_t next = timer_next_due(t), now = baton_now_ms();
    if (next != TIMER_NO_DUE && next - now < wait)
        wait = next - now;
    int64_t retry = t->fire_retry_at - baton_mono_ms();
    if (retry > wait)
        wait = retry < t->cfg->poll_ms ? retry : t->cfg->poll_ms;
    return wait > 0 ? (int)wait : 0;
}

/* Once a second: producer events, a Redis PING when idle, readiness. */
static void housekeeping(timer_svc_t *t)
{
    baton_kafka_producer_poll(t->producer, 0);
    int64_t mono = baton_mono_ms();
    if (mono < t->next_ping_ms)
        return;
    t->next_ping_ms = mono + 1000;
    redisReply *r = NULL;
    t->redis_ok = baton_redis_command(t->redis, &r, "PING") == 0;
    if (r)
        freeReplyObject(r);
    timer_update_ready(t);
}

/* The loop: poll (sleeping until the next due time), store + commit, fire what is due. */
static int run(timer_svc_t *t)
{
    while (baton_svc_running) {
        if (timer_consume(t, poll_wait(t)) < 0)
            return 1;
        timer_fire_due(t);
        housekeeping(t);
    }
    return 0;
}

static void close_clients(timer_svc_t *t)
{
    if (t->consumer)
        baton_kafka_consumer_close(t->consumer, 5000); /* REVOKED: nothing fires after */
    baton_kafka_consumer_free(t->consumer);
    baton_kafka_producer_free(t->producer, 5000);
    baton_redis_free(t->redis);
    timer_parts_free(t);
    timer_consume_free(t);
}

int main(int argc, char **argv)
{
    int rc;
    baton_svc_t *svc = baton_svc_init("timer",
                                      "durable timers: baton.timers.v1 in, TimerFired "
                                      "out to baton.inbound.v1",
                                      argc, argv, opts, &cfg.c, &rc);
    if (!svc)
        return rc;
    timer_svc_t t = {.cfg = &cfg.t, .svc = svc, .redis_ok = true};
    timer_metrics_init(&t, baton_svc_metrics(svc));
    rc = open_clients(&t);
    if (rc == 0)
        rc = run(&t);
    close_clients(&t);
    LOG_INFO("stopped");
    baton_svc_free(svc);
    return rc;
}
