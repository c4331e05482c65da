/* bench/e2e driver.
 *
 *   e2e_bench baseline BOOTSTRAP N SIZE ROUNDS
 *       raw librdkafka produce → consume (JSON on stdout)
 *   e2e_bench run [--option value]...
 *       webhook receiver + probe + a fixed-rate phase + a max-rate phase, and with --audit-port
 *       (baton-audit's ops port) an "audited" max-rate phase that also holds its sending while
 *       the audit's consumer lag is above --max-audit-lag messages (the rate the audit trail
 *       keeps up with; before it, the audit catches up on the max phase's backlog); JSON
 *       summary to --json, per-second series (CSV) to --series. Options: --host --port --key
 *       --tenant --prefix --pathway --type --facilities --sink-port --rate --fixed-seconds
 *       --warmup-seconds --conns --max-seconds --max-conns --batch --max-inflight
 *       --max-warmup-seconds --drain-seconds --audit-port --max-audit-lag --audit-interval-ms
 *       --audited-seconds --hook (a command run as "CMD <phase>-start" / "CMD <phase>-end"
 *       around each phase, after its drain: bench/e2e/run scrapes the services' /metrics there)
 *
 * Exit status: 0 when the run completed (targets are judged by the report), 1 when it could not
 * measure (no webhook for the probe event, ingest unreachable). */
#include "e2e.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    const char *host, *key, *tenant, *prefix, *pathway, *type, *json_out, *series_out, *hook;
    int port, sink_port, facilities, conns, max_conns, batch, max_inflight;
    int audit_port, audit_interval_ms, max_audit_lag;
    double rate, fixed_s, warmup_s, max_s, max_warmup_s, drain_s, audited_s;
} opts_t;

static void usage(void)
{
    fprintf(stderr, "usage: e2e_bench baseline BOOTSTRAP N SIZE ROUNDS\n"
                    "       e2e_bench run --port P --key K --sink-port S [--rate 2000 ...]\n");
    exit(2);
}

static void parse(opts_t *o, int argc, char **argv)
{
    *o = (opts_t){.host = "127.0.0.1",
                  .tenant = "acme",
                  .prefix = "e2e",
                  .pathway = "bench_e2e",
                  .type = "bench.e2e",
                  .facilities = 8,
                  .conns = 32,
                  .max_conns = 8,
                  .batch = 100,
                  .rate = 2000,
                  .fixed_s = 30,
                  .warmup_s = 3,
                  .max_s = 20,
                  .drain_s = 60,
                  .max_inflight = 20000,
                  .max_warmup_s = 5,
                  .audit_interval_ms = 100,
                  .max_audit_lag = 20000,
                  .audited_s = -1};
    for (int i = 2; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
#define S(name, field)                                                                             \
    if (strcmp(k, name) == 0) {                                                                    \
        o->field = v;                                                                              \
        continue;                                                                                  \
    }
#define I(name, field)                                                                             \
    if (strcmp(k, name) == 0) {                                                                    \
        o->field = atoi(v);                                                                        \
        continue;                                                                                  \
    }
#define D(name, field)                                                                             \
    if (strcmp(k, name) == 0) {                                                                    \
        o->field = atof(v);                                                                        \
        continue;                                                                                  \
    }
        S("--host", host) S("--key", key) S("--tenant", tenant) S("--prefix", prefix);
        S("--pathway", pathway) S("--type", type) S("--json", json_out);
        S("--series", series_out) I("--port", port) I("--sink-port", sink_port);
        I("--facilities", facilities) I("--conns", conns) I("--max-conns", max_conns);
        I("--batch", batch) D("--rate", rate) D("--fixed-seconds", fixed_s);
        D("--warmup-seconds", warmup_s) D("--max-seconds", max_s) D("--drain-seconds", drain_s);
        D("--max-warmup-seconds", max_warmup_s) I("--max-inflight", max_inflight);
        S("--hook", hook) I("--audit-port", audit_port) I("--max-audit-lag", max_audit_lag);
        I("--audit-interval-ms", audit_interval_ms) D("--audited-seconds", audited_s);
        fprintf(stderr, "e2e: unknown option %s\n", k);
        usage();
    }
    if (!o->port || !o->key)
        usage();
    if (o->audited_s < 0)
        o->audited_s = o->audit_port ? o->max_s : 0;
}

static void logf_(const char *fmt, ...) BATON_PRINTF(1, 2);
static void logf_(const char *fmt, ...)
{
    va_list ap;
    time_t t = time(NULL);
    char ts[16];
    strftime(ts, sizeof ts, "%H:%M:%S", localtime(&t));
    fprintf(stderr, "[bench/e2e %s] ", ts);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct(const int64_t *v, size_t n, double q) /* v sorted, ns → ms */
{
    if (!n)
        return -1;
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return (double)v[i] / 1e6;
}

/* Wait until every accepted event of [a, b) has its webhook, no progress for 15 s, or the
 * limit. Returns the number still missing. */
static size_t drain(e2e_t *e, size_t a, size_t b, double limit_s)
{
    int64_t end = baton_mono_ns() + (int64_t)(limit_s * 1e9), last_change = baton_mono_ns();
    size_t prev = (size_t)-1;
    for (;;) {
        size_t missing = 0;
        for (size_t i = a; i < b; i++)
            if (e->evs[i].status == 202 && !atomic_load(&e->evs[i].delivered_ns))
                missing++;
        int64_t now = baton_mono_ns();
        if (missing != prev) {
            prev = missing;
            last_change = now;
        }
        if (!missing || now > end || now - last_change > 15 * 1000000000LL)
            return missing;
        struct timespec ts = {0, 200 * 1000000};
        nanosleep(&ts, NULL);
    }
}

typedef struct {
    int64_t sec, lat;
} pt_t;

static int cmp_pt(const void *a, const void *b)
{
    const pt_t *x = a, *y = b;
    if (x->sec != y->sec)
        return x->sec < y->sec ? -1 : 1;
    return x->lat < y->lat ? -1 : x->lat > y->lat;
}

/* Per-second rows of one phase: t (s since phase start), accepted, delivered, p50/p99 of the
 * deliveries of that second (send → webhook). */
static void series(FILE *f, const char *phase, e2e_t *e, size_t a, size_t b, int64_t t0)
{
    size_t n = b - a, k = 0;
    pt_t *pts = baton_xcalloc(n ? n : 1, sizeof *pts);
    int64_t maxsec = 0;
    for (size_t i = a; i < b; i++) {
        int64_t d = atomic_load(&e->evs[i].delivered_ns);
        if (!d)
            continue;
        pts[k].sec = (d - t0) / 1000000000LL;
        pts[k].lat = d - e->evs[i].due_ns;
        if (pts[k].sec > maxsec)
            maxsec = pts[k].sec;
        k++;
    }
    qsort(pts, k, sizeof *pts, cmp_pt);
    size_t *acc = baton_xcalloc((size_t)maxsec + 2, sizeof *acc);
    for (size_t i = a; i < b; i++)
        if (e->evs[i].status == 202 || e->evs[i].status == 207) {
            int64_t s = (e->evs[i].acked_ns - t0) / 1000000000LL;
            if (s >= 0 && s <= maxsec)
                acc[s]++;
        }
    size_t j = 0;
    for (int64_t s = 0; s <= maxsec; s++) {
        size_t from = j;
        while (j < k && pts[j].sec == s)
            j++;
        size_t c = j - from;
        double p50 = c ? (double)pts[from + (size_t)(0.5 * (double)(c - 1))].lat / 1e6 : 0;
        double p99 = c ? (double)pts[from + (size_t)(0.99 * (double)(c - 1))].lat / 1e6 : 0;
        fprintf(f, "%s,%lld,%zu,%zu,%.3f,%.3f\n", phase, (long long)s, acc[s], c, p50, p99);
    }
    free(acc);
    free(pts);
}

/* Latency summary (JSON members) of [a, b), events due at or after from_ns. */
static void lat_json(FILE *f, e2e_t *e, size_t a, size_t b, int64_t from_ns, size_t *delivered)
{
    size_t n = b - a, k = 0, ka = 0, kw = 0;
    int64_t *lat = baton_xcalloc(n ? n : 1, sizeof *lat);
    int64_t *ack = baton_xcalloc(n ? n : 1, sizeof *ack);
    int64_t *a2w = baton_xcalloc(n ? n : 1, sizeof *a2w);
    for (size_t i = a; i < b; i++) {
        e2e_ev_t *ev = &e->evs[i];
        if (ev->due_ns < from_ns || ev->status != 202)
            continue;
        ack[ka++] = ev->acked_ns - ev->due_ns;
        int64_t d = atomic_load(&ev->delivered_ns);
        if (d) {
            lat[k++] = d - ev->due_ns;
            a2w[kw++] = d - ev->acked_ns;
        }
    }
    qsort(lat, k, sizeof *lat, cmp_i64);
    qsort(ack, ka, sizeof *ack, cmp_i64);
    qsort(a2w, kw, sizeof *a2w, cmp_i64);
    fprintf(f,
            "\"measured_events\": %zu, \"measured_delivered\": %zu, "
            "\"send_to_webhook_ms\": {\"p50\": %.2f, \"p90\": %.2f, \"p99\": %.2f, "
            "\"p999\": %.2f, \"max\": %.2f}, "
            "\"ingest_ack_ms\": {\"p50\": %.2f, \"p99\": %.2f, \"max\": %.2f}, "
            "\"ack_to_webhook_ms\": {\"p50\": %.2f, \"p99\": %.2f, \"p999\": %.2f}",
            ka, k, pct(lat, k, .5), pct(lat, k, .9), pct(lat, k, .99), pct(lat, k, .999),
            pct(lat, k, 1), pct(ack, ka, .5), pct(ack, ka, .99), pct(ack, ka, 1), pct(a2w, kw, .5),
            pct(a2w, kw, .99), pct(a2w, kw, .999));
    *delivered = k;
    free(lat);
    free(ack);
    free(a2w);
}

static int64_t last_delivery(e2e_t *e, size_t a, size_t b)
{
    int64_t m = 0;
    for (size_t i = a; i < b; i++) {
        int64_t d = atomic_load(&e->evs[i].delivered_ns);
        if (d > m)
            m = d;
    }
    return m;
}

static void hook(const opts_t *o, const char *what)
{
    if (!o->hook)
        return;
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s %s", o->hook, what);
    if (system(cmd) != 0)
        logf_("hook '%s' failed", cmd);
}

static void hook2(const opts_t *o, const char *phase, const char *edge)
{
    char what[64];
    snprintf(what, sizeof what, "%s-%s", phase, edge);
    hook(o, what);
}

/* One closed-loop phase (max, audited) and its figures. */
typedef struct {
    const char *name;
    e2e_load_result_t r;
    double seconds; /* how long it sends */
    size_t a, b, steady, missing;
    double send_s, steady_s;
    int64_t last;
    long long max_audit_lag, audit_lag_max, audit_lag_end; /* -1: not watched */
    double catch_up_s;                                     /* audited: the wait before it */
} phase_t;

static void closed_phase(const opts_t *o, e2e_t *e, FILE *ser, phase_t *p, size_t first,
                         long long max_audit_lag)
{
    logf_("%s rate: NDJSON batches of %d over %d connections for %.0f s%s", p->name, o->batch,
          o->max_conns, p->seconds,
          max_audit_lag ? ", held while the audit's lag is above the bound" : "");
    hook2(o, p->name, "start");
    atomic_store(&e->audit_lag_max, atomic_load(&e->audit_lag));
    e2e_load_cfg_t c = {.seconds = p->seconds,
                        .conns = o->max_conns,
                        .batch = o->batch,
                        .max = true,
                        .first_seq = first,
                        .max_inflight = (size_t)o->max_inflight,
                        .max_audit_lag = max_audit_lag};
    e2e_load_run(e, &c, &p->r);
    p->a = first;
    p->b = atomic_load(&e->next);
    if (p->b > e->cap)
        p->b = e->cap;
    atomic_store(&e->next, p->b);
    p->max_audit_lag = max_audit_lag;
    p->audit_lag_end = atomic_load(&e->audit_lag);
    p->audit_lag_max = atomic_load(&e->audit_lag_max);
    p->send_s = (double)(p->r.end_ns - p->r.start_ns) / 1e9;
    logf_("%s rate: %zu sent, %zu accepted in %.1f s (%.0f/s accepted), audit lag %lld (max "
          "%lld); draining",
          p->name, p->r.sent, p->r.accepted, p->send_s, (double)p->r.accepted / p->send_s,
          p->audit_lag_end, p->audit_lag_max);
    /* steady state: webhooks from max_warmup_s after the start until sending stopped */
    int64_t sa = p->r.start_ns + (int64_t)(o->max_warmup_s * 1e9), sb = p->r.end_ns;
    for (size_t i = p->a; i < p->b; i++) {
        int64_t d = atomic_load(&e->evs[i].delivered_ns);
        if (d >= sa && d < sb)
            p->steady++;
    }
    p->steady_s = (double)(sb - sa) / 1e9;
    p->missing = drain(e, p->a, p->b, o->drain_s);
    hook2(o, p->name, "end");
    p->last = last_delivery(e, p->a, p->b);
    if (ser)
        series(ser, p->name, e, p->a, p->b, p->r.start_ns);
}

/* Wait until the audit's lag is at most below: the seconds it took, -1 when it is unknown or
 * did not come down within limit_s. */
static double audit_catch_up(e2e_t *e, long long below, double limit_s)
{
    int64_t t0 = baton_mono_ns(), end = t0 + (int64_t)(limit_s * 1e9);
    logf_("audited: waiting for the audit to catch up (lag %lld)", atomic_load(&e->audit_lag));
    for (;;) {
        long long lag = atomic_load(&e->audit_lag);
        if (lag >= 0 && lag <= below)
            return (double)(baton_mono_ns() - t0) / 1e9;
        if (baton_mono_ns() > end)
            return -1;
        struct timespec ts = {0, 100 * 1000000};
        nanosleep(&ts, NULL);
    }
}

static void phase_json(FILE *js, const opts_t *o, e2e_t *e, const phase_t *p)
{
    size_t delivered = 0, measured = 0;
    for (size_t i = p->a; i < p->b; i++)
        if (atomic_load(&e->evs[i].delivered_ns))
            delivered++;
    double del_s = p->last ? (double)(p->last - p->r.start_ns) / 1e9 : 0;
    fprintf(js,
            " \"%s\": {\"batch\": %d, \"connections\": %d, \"seconds\": %.0f, \"sent\": %zu, "
            "\"accepted\": %zu, \"non_2xx_requests\": %zu, \"io_errors\": %zu, "
            "\"send_seconds\": %.2f, \"accepted_per_s\": %.0f, \"delivered\": %zu, "
            "\"undelivered\": %zu, \"delivery_seconds\": %.2f, \"delivered_per_s\": %.0f, "
            "\"max_inflight\": %d, \"steady_from_s\": %.0f, \"steady_seconds\": %.2f, "
            "\"steady_delivered\": %zu, \"steady_delivered_per_s\": %.0f, "
            "\"max_audit_lag\": %lld, \"audit_lag_at_end\": %lld, \"audit_lag_max_seen\": %lld, ",
            p->name, o->batch, o->max_conns, p->seconds, p->r.sent, p->r.accepted, p->r.non_2xx,
            p->r.io_errors, p->send_s, (double)p->r.accepted / p->send_s, delivered, p->missing,
            del_s, del_s > 0 ? (double)delivered / del_s : 0, o->max_inflight, o->max_warmup_s,
            p->steady_s, p->steady, p->steady_s > 0 ? (double)p->steady / p->steady_s : 0,
            p->max_audit_lag, p->audit_lag_end, p->audit_lag_max);
    if (p->max_audit_lag)
        fprintf(js, "\"audit_catch_up_seconds\": %.1f, ", p->catch_up_s);
    lat_json(js, e, p->a, p->b, 0, &measured);
    fprintf(js, "},\n");
}

static int run(const opts_t *o)
{
    e2e_t e = {0};
    e.host = o->host;
    e.port = o->port;
    e.api_key = o->key;
    e.tenant = o->tenant;
    e.prefix = o->prefix;
    e.pathway = o->pathway;
    e.type = o->type;
    e.facilities = o->facilities;
    size_t nfixed = (size_t)(o->rate * o->fixed_s);
    size_t cap =
        1 + nfixed + (size_t)(60000.0 * (o->max_s + o->audited_s)) + (size_t)o->batch * 64 * 2;
    e2e_init(&e, cap);
    e2e_sink_t *sink = e2e_sink_start(&e, o->sink_port);
    if (!sink)
        return 1;
    FILE *js = o->json_out ? fopen(o->json_out, "w") : stdout;
    FILE *ser = o->series_out ? fopen(o->series_out, "w") : NULL;
    if (!js || (o->series_out && !ser)) {
        perror("e2e: output");
        return 1;
    }
    if (ser)
        fprintf(ser, "phase,t,accepted,delivered,p50_ms,p99_ms\n");

    /* probe: one event, its webhook, the instance id derivation checked */
    logf_("probe: one event, waiting for its webhook");
    if (e2e_post_one(&e, 0) != 0) {
        logf_("probe: ingest answered %d (not 202)", e.evs[0].status);
        return 1;
    }
    if (drain(&e, 0, 1, 20) != 0) {
        logf_("probe: no webhook matched in 20 s (deliveries %llu, unknown instance ids %llu, "
              "unparsable %llu)",
              (unsigned long long)atomic_load(&e.deliveries),
              (unsigned long long)atomic_load(&e.unknown), (unsigned long long)atomic_load(&e.bad));
        return 1;
    }
    double probe_ms = (double)(e.evs[0].delivered_ns - e.evs[0].due_ns) / 1e6;
    logf_("probe: webhook after %.1f ms", probe_ms);

    /* fixed rate */
    logf_("fixed rate: %.0f events/s for %.0f s over %d connections", o->rate, o->fixed_s,
          o->conns);
    hook(o, "fixed-start");
    e2e_load_cfg_t fc = {
        .rate = o->rate, .seconds = o->fixed_s, .conns = o->conns, .batch = 1, .first_seq = 1};
    e2e_load_result_t fr;
    e2e_load_run(&e, &fc, &fr);
    size_t fa = 1, fb = 1 + nfixed;
    logf_("fixed rate: %zu sent, %zu accepted (%zu non-2xx, %zu i/o errors); draining", fr.sent,
          fr.accepted, fr.non_2xx, fr.io_errors);
    size_t fmissing = drain(&e, fa, fb, o->drain_s);
    hook(o, "fixed-end");
    if (ser)
        series(ser, "fixed", &e, fa, fb, fr.start_ns);
    double fsend_s = (double)(fr.end_ns - fr.start_ns) / 1e9;

    /* max rate, then (with the audit watch) max rate the audit trail keeps up with */
    e2e_audit_t *watch =
        o->audit_port ? e2e_audit_start(&e, o->audit_port, o->audit_interval_ms) : NULL;
    phase_t mx = {.name = "max", .seconds = o->max_s},
            au = {.name = "audited", .seconds = o->audited_s};
    closed_phase(o, &e, ser, &mx, fb, 0);
    if (watch && o->audited_s > 0) {
        au.catch_up_s = audit_catch_up(&e, o->max_audit_lag / 10, 180);
        if (au.catch_up_s < 0)
            logf_("audited: the audit's lag is unknown or did not come down in 180 s; skipped");
        else
            closed_phase(o, &e, ser, &au, atomic_load(&e.next), o->max_audit_lag);
    }
    e2e_audit_stop(watch);

    /* summary */
    size_t fdel = 0;
    fprintf(js,
            "{\n \"probe_ms\": %.2f,\n \"fixed\": {\"offered_per_s\": %.0f, \"seconds\": %.0f, "
            "\"warmup_seconds\": %.0f, \"connections\": %d, \"sent\": %zu, \"accepted\": %zu, "
            "\"non_2xx\": %zu, \"io_errors\": %zu, \"achieved_send_per_s\": %.1f, "
            "\"generator_max_lag_ms\": %.2f, \"undelivered\": %zu, ",
            probe_ms, o->rate, o->fixed_s, o->warmup_s, o->conns, fr.sent, fr.accepted, fr.non_2xx,
            fr.io_errors, (double)fr.sent / fsend_s, fr.late_sends_ms_max, fmissing);
    lat_json(js, &e, fa, fb, fr.start_ns + (int64_t)(o->warmup_s * 1e9), &fdel);
    fprintf(js, "},\n");
    phase_json(js, o, &e, &mx);
    if (au.r.start_ns)
        phase_json(js, o, &e, &au);
    fprintf(js,
            " \"receiver\": {\"deliveries\": %llu, \"duplicates\": %llu, "
            "\"unknown\": %llu, \"unparsable\": %llu}\n}\n",
            (unsigned long long)atomic_load(&e.deliveries),
            (unsigned long long)atomic_load(&e.duplicates),
            (unsigned long long)atomic_load(&e.unknown), (unsigned long long)atomic_load(&e.bad));
    if (js != stdout)
        fclose(js);
    if (ser)
        fclose(ser);
    e2e_sink_stop(sink);
    e2e_free(&e);
    (void)fdel;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage();
    if (strcmp(argv[1], "baseline") == 0) {
        if (argc != 6)
            usage();
        char prefix[64];
        snprintf(prefix, sizeof prefix, "bench.e2e-baseline.%lld", (long long)baton_now_ms());
        return e2e_baseline(argv[2], prefix, strtoull(argv[3], NULL, 10),
                            strtoull(argv[4], NULL, 10), atoi(argv[5]));
    }
    if (strcmp(argv[1], "run") == 0) {
        opts_t o;
        parse(&o, argc, argv);
        return run(&o);
    }
    usage();
    return 2;
}
