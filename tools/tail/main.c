/* baton-tail — print Baton events from Kafka topics as JSON lines, for operators, tests and
 * the demo: {"topic","partition","offset","key","event":{...the Envelope...}}.
 *
 *   baton-tail -b 127.0.0.1:9092 -t baton.lifecycle.v1 [-t ...] [--from-beginning]
 *              [--idle-exit MS] [--count N] [--type task.assigned]
 *
 * --idle-exit stops after MS without a message, counted from the moment partitions are
 * assigned.
 *
 * It reads as a consumer of a fresh, throw-away group, so it never disturbs the services'
 * committed offsets. */
#include "baton/event.h"
#include "baton/kafka.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t running = 1;
static int assigned; /* idle time counts from the first assignment: joining a group takes time */

static void on_rebalance(baton_kafka_consumer_t *c, baton_kafka_rebalance_t ev,
                         baton_kafka_partition_t *parts, size_t n, void *opaque)
{
    (void)c, (void)parts, (void)opaque;
    if (ev == BATON_KAFKA_ASSIGNED && n > 0)
        assigned = 1;
}

static void on_signal(int sig)
{
    (void)sig;
    running = 0;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: baton-tail -b BOOTSTRAP -t TOPIC [-t TOPIC...] [--from-beginning]\n"
                 "                  [--idle-exit MS] [--count N] [--type EVENT_TYPE]\n"
                 "Prints each Envelope as one JSON line. Extra librdkafka properties come from\n"
                 "BATON_KAFKA_<PROP> environment variables, as for the services.\n");
}

static void print_message(const baton_kafka_message_t *m, const char *type_filter)
{
    char err[128];
    Baton__V1__Envelope *env = baton_kafka_envelope_unpack(m->value, m->value_len, err, sizeof err);
    json_t *line = json_object();
    json_object_set_new(line, "topic", json_string(m->topic));
    json_object_set_new(line, "partition", json_integer(m->partition));
    json_object_set_new(line, "offset", json_integer(m->offset));
    json_object_set_new(line, "key", m->key ? json_stringn(m->key, m->key_len) : json_null());
    if (env) {
        if (type_filter && strcmp(env->type, type_filter) != 0) {
            json_decref(line);
            baton_kafka_envelope_free(env);
            return;
        }
        json_object_set_new(line, "event", baton_event_to_json(&env->base));
        baton_kafka_envelope_free(env);
    } else {
        json_object_set_new(line, "error", json_string(err));
    }
    char *s = json_dumps(line, JSON_COMPACT);
    if (s) {
        puts(s);
        fflush(stdout);
        free(s);
    }
    json_decref(line);
}

int main(int argc, char **argv)
{
    const char *bootstrap = getenv("BATON_KAFKA_BOOTSTRAP"), *type_filter = NULL;
    const char *topics[16];
    size_t ntopics = 0;
    int from_beginning = 0;
    long idle_exit_ms = 0, count = 0;
    static const struct option longopts[] = {{"bootstrap", required_argument, 0, 'b'},
                                             {"topic", required_argument, 0, 't'},
                                             {"from-beginning", no_argument, 0, 'B'},
                                             {"idle-exit", required_argument, 0, 'i'},
                                             {"count", required_argument, 0, 'n'},
                                             {"type", required_argument, 0, 'T'},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "b:t:Bi:n:T:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'b':
            bootstrap = optarg;
            break;
        case 't':
            if (ntopics < 16)
                topics[ntopics++] = optarg;
            break;
        case 'B':
            from_beginning = 1;
            break;
        case 'i':
            idle_exit_ms = strtol(optarg, NULL, 10);
            break;
        case 'n':
            count = strtol(optarg, NULL, 10);
            break;
        case 'T':
            type_filter = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!bootstrap || ntopics == 0) {
        usage(stderr);
        return 2;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    char err[512], group[64];
    baton_kafka_conf_t *conf = baton_kafka_conf_new(bootstrap);
    if (baton_kafka_conf_set_from_env(conf, err, sizeof err) != 0 ||
        baton_kafka_conf_set(conf, "auto.offset.reset", from_beginning ? "earliest" : "latest") !=
            0) {
        fprintf(stderr, "baton-tail: %s\n", err);
        return 2;
    }
    baton_kafka_conf_set_rebalance_cb(conf, on_rebalance, NULL);
    char id[BATON_ID_LEN];
    baton_uuidv7(id);
    snprintf(group, sizeof group, "baton-tail-%s", id);
    baton_kafka_consumer_t *cons = baton_kafka_consumer_new(conf, group, err, sizeof err);
    if (!cons || baton_kafka_consumer_subscribe(cons, topics, ntopics, err, sizeof err) != 0) {
        fprintf(stderr, "baton-tail: %s\n", err);
        return 1;
    }
    baton_kafka_message_t msgs[256];
    long printed = 0;
    int64_t last = baton_mono_ms();
    while (running && (count == 0 || printed < count)) {
        int n = baton_kafka_consumer_poll(cons, msgs, 256, 100);
        if (n < 0)
            break;
        for (int i = 0; i < n && (count == 0 || printed < count); i++, printed++)
            print_message(&msgs[i], type_filter);
        baton_kafka_messages_release(msgs, (size_t)n);
        if (n > 0 || !assigned)
            last = baton_mono_ms();
        else if (idle_exit_ms > 0 && baton_mono_ms() - last > idle_exit_ms)
            break;
    }
    baton_kafka_consumer_close(cons, 2000);
    baton_kafka_consumer_free(cons);
    baton_kafka_conf_free(conf);
    return 0;
}
