/* bench_notifier — baton-notifier against a local webhook sink (see bench/notifier/run).
 *
 *   phase 1, throughput: BENCH_N requests are pre-filled into baton.notify.v1 while the
 *            notifier is down; it is then started and deliveries/s is measured at the sink
 *            from the first to the last delivery.
 *   phase 2, latency: BENCH_RATE requests/s for BENCH_SECONDS, each timed from the moment it
 *            is handed to Kafka (enqueue) until the sink received it (delivered); p50 / p99.
 *
 * Writes JSON to argv[1] (default bench/results/notifier.json under the source dir). Uses the
 * integration helpers (tests/integration/notifier/nit_util.c) for the servers. */
#include "nit_util.h"
#include "test.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PHASES 2
static int64_t *recv_ns[PHASES];
static int64_t *send_ns[PHASES];
static int nreq[PHASES];
static atomic_int delivered[PHASES], dupes, bad;

static void on_hit(baton_http_req_t *req, baton_http_resp_t *resp, void *ud)
{
    (void)ud;
    int64_t now = baton_mono_ns();
    const char *p = strstr(req->body, "\"id\":\"bench-");
    int phase = -1, i = -1;
    if (p && sscanf(p + 12, "%d-%d", &phase, &i) == 2 && phase >= 0 && phase < PHASES && i >= 0 &&
        i < nreq[phase]) {
        int64_t zero = 0;
        if (__atomic_compare_exchange_n(&recv_ns[phase][i], &zero, now, false, __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST))
            atomic_fetch_add(&delivered[phase], 1);
        else
            atomic_fetch_add(&dupes, 1);
    } else {
        atomic_fetch_add(&bad, 1);
    }
    baton_http_respond(resp, 200, "application/json", "{}", 2);
}

static int env_int(const char *name, int def)
{
    const char *v = getenv(name);
    return v && *v ? atoi(v) : def;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Produce requests [from, to) of phase ph (acks awaited), stamping their send time. */
static void produce(nit_env_t *e, int ph, int from, int to, int npersons)
{
    int n = to - from;
    nit_req_t *r = baton_xcalloc((size_t)n, sizeof *r);
    char(*ids)[48] = baton_xcalloc((size_t)n, 48);
    char(*who)[16] = baton_xcalloc((size_t)n, 16);
    char(*keys)[24] = baton_xcalloc((size_t)n, 24);
    for (int k = 0; k < n; k++) {
        int i = from + k;
        snprintf(ids[k], 48, "bench-%d-%d", ph, i);
        snprintf(who[k], 16, "bp%d", i % npersons);
        snprintf(keys[k], 24, "t1/enc-%d", i % 64);
        r[k] = (nit_req_t){.id = ids[k], .person = who[k], .key = keys[k]};
    }
    int64_t now = baton_mono_ns();
    for (int k = 0; k < n; k++)
        send_ns[ph][from + k] = now;
    nit_request(e, r, (size_t)n);
    free(r);
    free(ids);
    free(who);
    free(keys);
}

static bool wait_delivered(int ph, int want, int timeout_ms)
{
    int64_t end = baton_mono_ms() + timeout_ms;
    while (atomic_load(&delivered[ph]) < want && baton_mono_ms() < end)
        usleep(5000);
    return atomic_load(&delivered[ph]) >= want;
}

int main(int argc, char **argv)
{
    int n1 = env_int("BENCH_N", 20000), rate = env_int("BENCH_RATE", 1000);
    int secs = env_int("BENCH_SECONDS", 10), npersons = env_int("BENCH_PERSONS", 50);
    int conc = env_int("BENCH_CONCURRENCY", 64);
    nreq[0] = n1;
    nreq[1] = rate * secs;
    for (int p = 0; p < PHASES; p++) {
        recv_ns[p] = baton_xcalloc((size_t)nreq[p], sizeof(int64_t));
        send_ns[p] = baton_xcalloc((size_t)nreq[p], sizeof(int64_t));
    }
    nit_env_t e;
    nit_env_start(&e);
    baton_http_config_t hc = baton_http_config_default();
    hc.bind = "127.0.0.1";
    hc.max_connections = 1024;
    char err[256] = "";
    baton_http_server_t *srv = baton_http_server_new(&hc, err, sizeof err);
    if (!srv || baton_http_route(srv, "POST", "/hook/{p}", on_hit, NULL) != 0 ||
        baton_http_server_start(srv, err, sizeof err) != 0)
        TEST_FAIL("sink: %s", err);
    int port = baton_http_server_port(srv);
    for (int i = 0; i < npersons; i++) {
        char id[16], c[96];
        snprintf(id, sizeof id, "bp%d", i);
        snprintf(c, sizeof c, "webhook=http://127.0.0.1:%d/hook/%d", port, i);
        const char *contacts[] = {c};
        nit_person(&e, id, contacts, 1, NULL, NULL);
    }

    /* phase 1: pre-fill, then start the notifier */
    for (int i = 0; i < n1; i += 1000)
        produce(&e, 0, i, i + 1000 < n1 ? i + 1000 : n1, npersons);
    /* The mock cluster holds a fetch for fetch.wait.max.ms even when data arrives meanwhile
     * (a real broker answers once fetch.min.bytes are there), so the wait is a latency floor
     * here: the service's default, 2 ms, reported in the results. */
    int fetch_wait = env_int("BENCH_FETCH_WAIT_MS", 2);
    char fetch_env[64];
    snprintf(fetch_env, sizeof fetch_env, "BATON_KAFKA_FETCH_WAIT_MAX_MS=%d", fetch_wait);
    char conc_env[64];
    snprintf(conc_env, sizeof conc_env, "BATON_NOTIFIER_ENDPOINT_CONCURRENCY=%d", conc);
    char *extra[] = {conc_env,
                     "BATON_NOTIFIER_PERSON_CACHE=10000",
                     "BATON_LOG_LEVEL=warn",
                     "BATON_NOTIFIER_WEBHOOK_TIMEOUT=5000",
                     "BATON_NOTIFIER_LEASE=30000",
                     "BATON_NOTIFIER_MAX_INFLIGHT=2000",
                     fetch_env,
                     NULL};
    nit_svc_t s;
    nit_svc_start(&e, &s, "notifier", extra);
    if (!wait_delivered(0, n1, 120000))
        fprintf(stderr, "phase 1: only %d of %d delivered\n", atomic_load(&delivered[0]), n1);
    int64_t first = INT64_MAX, last = 0;
    for (int i = 0; i < n1; i++)
        if (recv_ns[0][i]) {
            first = recv_ns[0][i] < first ? recv_ns[0][i] : first;
            last = recv_ns[0][i] > last ? recv_ns[0][i] : last;
        }
    double tput = last > first ? (double)atomic_load(&delivered[0]) / ((last - first) / 1e9) : 0;

    /* phase 2: a fixed rate, in 1 ms ticks */
    int n2 = nreq[1];
    int64_t t0 = baton_mono_ns();
    int sent = 0;
    while (sent < n2) {
        int64_t due = (int64_t)((double)(baton_mono_ns() - t0) / 1e9 * rate) + 1;
        if (due > n2)
            due = n2;
        if (due > sent) {
            produce(&e, 1, sent, (int)due, npersons);
            sent = (int)due;
        } else {
            usleep(500);
        }
    }
    double send_secs = (baton_mono_ns() - t0) / 1e9;
    if (!wait_delivered(1, n2, 60000))
        fprintf(stderr, "phase 2: only %d of %d delivered\n", atomic_load(&delivered[1]), n2);
    int64_t *lat = baton_xcalloc((size_t)n2, sizeof *lat);
    int nl = 0;
    for (int i = 0; i < n2; i++)
        if (recv_ns[1][i])
            lat[nl++] = recv_ns[1][i] - send_ns[1][i];
    qsort(lat, (size_t)nl, sizeof *lat, cmp64);
#define PCT(q) (nl ? lat[(size_t)fmin((double)nl - 1, ceil((q)*nl) - 1)] / 1e6 : 0.0)
    double p50 = PCT(0.50), p90 = PCT(0.90), p99 = PCT(0.99), mx = nl ? lat[nl - 1] / 1e6 : 0;
    /* receipts: every delivery's DELIVERED receipt is acknowledged by Kafka shortly after */
    int64_t drain0 = baton_mono_ms();
    double outbox = -1;
    while (baton_mono_ms() - drain0 < 30000 &&
           (outbox = nit_metric(&s, "baton_notifier_outbox_pending")) != 0)
        usleep(10000);
    int64_t drained_ms = outbox == 0 ? baton_mono_ms() - drain0 : -1;
    double receipts = nit_metric(
        &s, "baton_notifier_deliveries_total{channel=\"webhook\",outcome=\"delivered\"}");
    nit_svc_stop_clean(&s);
    baton_http_server_free(srv);

    char *out = argc > 1 ? baton_xstrdup(argv[1])
                         : baton_xasprintf("%s/bench/results/notifier.json", BATON_SOURCE_DIR);
    FILE *f = fopen(out, "w");
    if (!f)
        TEST_FAIL("cannot write %s", out);
    char when[BATON_RFC3339_LEN];
    baton_time_format(baton_now_ms(), when, sizeof when);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    fprintf(
        f,
        "{\n  \"benchmark\": \"notifier\",\n  \"at\": \"%s\",\n  \"cpus\": %ld,\n"
        "  \"note\": \"one host: redis-server, baton-devkafka (mock cluster), "
        "baton-notifier, the webhook sink and the load generator share these cpus\",\n"
        "  \"throughput\": {\"requests\": %d, \"delivered\": %d, \"deliveries_per_s\": %.0f,"
        " \"target_per_s\": 5000},\n"
        "  \"latency\": {\"rate_per_s\": %d, \"seconds\": %d, \"send_seconds\": %.2f, "
        "\"requests\": %d, \"delivered\": %d, \"enqueue_to_delivered_ms\": {\"p50\": %.2f, "
        "\"p90\": %.2f, \"p99\": %.2f, \"max\": %.2f}, \"target_p99_ms\": 10},\n"
        "  \"duplicates_at_sink\": %d,\n  \"unknown_at_sink\": %d,\n"
        "  \"receipts\": {\"delivered_counted\": %.0f, \"outbox_empty_ms_after_last\": %lld},\n"
        "  \"config\": {\"persons\": %d, \"endpoint_concurrency\": %d, \"bundle_window_ms\": 0, "
        "\"fetch_wait_max_ms\": %d}\n"
        "}\n",
        when, ncpu, n1, atomic_load(&delivered[0]), tput, rate, secs, send_secs, n2,
        atomic_load(&delivered[1]), p50, p90, p99, mx, atomic_load(&dupes), atomic_load(&bad),
        receipts, (long long)drained_ms, npersons, conc, fetch_wait);
    fclose(f);
    printf("throughput: %d delivered, %.0f deliveries/s (target >= 5000)\n",
           atomic_load(&delivered[0]), tput);
    printf("latency at %d/s: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms (target p99 <= "
           "10 ms); duplicates %d\n",
           rate, p50, p90, p99, mx, atomic_load(&dupes));
    printf("receipts: %.0f DELIVERED, outbox empty %lld ms after the last delivery\n", receipts,
           (long long)drained_ms);
    printf("wrote %s\n", out);
    free(out);
    free(lat);
    nit_env_stop(&e);
    return 0;
}
