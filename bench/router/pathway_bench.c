/* pathway_bench — the router's compute work without Kafka and Redis, for profiles
 * (valgrind --tool=callgrind) and for checking that an optimization changes no byte.
 *
 *   pathway_bench loop PATHWAYS_DIR N
 *       N encounters of bench/router/run's discharge flow (a trigger, ack, complete, complete,
 *       transport.completed, adt.discharge), in waves, each input as the router handles it:
 *       unpacked from bytes, stepped over its key's states, changed states packed once per
 *       wave (the batch's plan) and every output packed (what the producer sends).
 *       Prints {"inputs","outputs","seconds","inputs_per_s"}.
 *   pathway_bench digest PATHWAYS_DIR N
 *       A broader mix (the bench flow, SNF placement with escalations, deadlines and repeats,
 *       declines, reassigns, comments, cancels, rejected actions, replays) and prints the
 *       SHA-256 of every output (topic, purpose, packed envelope) and every state after every
 *       step: equal digests before and after a change mean byte-identical behaviour.
 *   A 4th argument `inplace` steps with baton_pathway_step_inplace (the router's way) instead
 *   of baton_pathway_step; `arena` does too, with the inputs unpacked into and the outputs built
 *   in a baton_pathway_arena_t reset every wave (the router's batch arena). The digest must not
 *   differ.
 *
 * Built with the project (bench/router/CMakeLists.txt): <build>/bin/pathway_bench. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton/pathway.h"
#include "bench_inputs.h"

#define T0 1800000000000LL
#define MIN 60000LL

/* ---------------------------------------------------------------- resolver */

typedef struct {
    const char *role, *unit, *person;
} shift_t;

static const shift_t shifts[] = {
    {"pharmacist", "", "ph1"}, {"pharmacist", "", "ph2"},           {"pharmacy_lead", "", "ld1"},
    {"nurse", "4W", "rn1"},    {"charge_nurse", "4W", "cn1"},       {"transport", "", "tr1"},
    {"evs", "4W", "ev1"},      {"case_management_lead", "", "cl1"},
};

static int resolve(void *ctx, const char *tenant, const char *role, baton_scope_t scope,
                   const char *facility, const char *unit, int64_t now_ms,
                   const char *const *exclude, size_t nexclude, char *person_out, size_t person_cap,
                   char *why_out, size_t why_cap)
{
    (void)ctx, (void)tenant, (void)facility, (void)now_ms;
    for (int pass = scope == BATON_SCOPE_UNIT ? 0 : 1; pass < 2; pass++)
        for (size_t i = 0; i < sizeof(shifts) / sizeof(shifts[0]); i++) {
            const shift_t *s = &shifts[i];
            int unit_ok = pass == 0 ? strcmp(s->unit, unit) == 0 : s->unit[0] == '\0';
            if (strcmp(s->role, role) != 0 || !unit_ok)
                continue;
            int ex = 0;
            for (size_t k = 0; k < nexclude; k++)
                ex |= strcmp(exclude[k], s->person) == 0;
            if (ex)
                continue;
            baton_strlcpy(person_out, s->person, person_cap);
            baton_strlcpy(why_out, pass == 0 ? "unit_shift" : "facility_shift", why_cap);
            return 0;
        }
    return BATON_ENOENT;
}

/* ---------------------------------------------------------------- inputs */

#define TRACEPARENT "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

static Baton__V1__Envelope *envelope(const char *id, const char *type, int64_t at, const char *enc)
{
    return bench_envelope(id, type, at, enc, TRACEPARENT);
}

static Baton__V1__Envelope *clinical(const char *id, const char *type, int64_t at, const char *enc,
                                     const char *disposition)
{
    const char *attrs[] = {"patient_class", "inpatient", "disposition", disposition, NULL};
    return bench_clinical(id, type, at, enc, TRACEPARENT, disposition ? attrs : NULL);
}

static Baton__V1__Envelope *staff(const char *id, int64_t at, const char *enc, const char *iid,
                                  const char *tid, Baton__V1__Action action, const char *actor,
                                  const char *role, const char *to)
{
    return bench_staff(id, at, enc, TRACEPARENT, iid, tid, action, actor, role, to,
                       action == BATON__V1__ACTION__ACTION_COMMENT ? "called family" : NULL);
}

static Baton__V1__Envelope *timer(const char *id, const char *enc,
                                  const Baton__V1__InstanceState *s, const Baton__V1__TaskState *t,
                                  const Baton__V1__PendingTimer *p)
{
    Baton__V1__Envelope *e = envelope(id, "timer.fired", p->due_at_ms + 3, enc);
    Baton__V1__TimerFired *f = baton_xmalloc(sizeof(*f));
    baton__v1__timer_fired__init(f);
    f->timer_id = baton_xstrdup(p->timer_id);
    f->due_at_ms = p->due_at_ms;
    f->fired_at_ms = p->due_at_ms + 1;
    f->instance_id = baton_xstrdup(s->instance_id);
    f->task_id = baton_xstrdup(t->task_id);
    f->purpose = baton_xstrdup(p->purpose);
    f->step = p->step;
    f->repeat = p->repeat;
    e->body_case = BATON__V1__ENVELOPE__BODY_TIMER_FIRED;
    e->timer_fired = f;
    return e;
}

/* ---------------------------------------------------------------- the world */

typedef struct {
    Baton__V1__InstanceState **st;
    size_t n;
} group_t;

typedef struct {
    const baton_pathway_set_t *set;
    baton_resolver_t res;
    group_t *g; /* per encounter */
    long nenc;
    baton_outputs_t out;
    size_t inputs, outputs;
    int digest, inplace;
    baton_pathway_arena_t *arena; /* `arena` mode: inputs and outputs, reset every wave */
    baton_buf_t trace;
} world_t;

static void trace_add(world_t *w, const void *p, size_t n)
{
    if (!w->digest)
        return;
    baton_buf_append(&w->trace, p, n);
    if (w->trace.len > (1u << 20)) { /* fold into a running hash to bound memory */
        char hex[65];
        baton_sha256_hex(w->trace.data, w->trace.len, hex);
        baton_buf_reset(&w->trace);
        baton_buf_append(&w->trace, hex, 64);
    }
}

/* One input as the router handles it: bytes → Envelope → step over the key's states. */
static int step(world_t *w, long enc, Baton__V1__Envelope *in)
{
    size_t len = baton__v1__envelope__get_packed_size(in);
    uint8_t *buf = baton_xmalloc(len ? len : 1);
    baton__v1__envelope__pack(in, buf);
    protobuf_c_message_free_unpacked(&in->base, NULL);
    ProtobufCAllocator al =
        w->arena ? baton_pathway_arena_allocator(w->arena) : (ProtobufCAllocator){NULL, NULL, NULL};
    in = baton__v1__envelope__unpack(w->arena ? &al : NULL, len, buf);
    free(buf);
    group_t *g = &w->g[enc];
    baton_pathway_group_t out;
    char err[256] = "";
    size_t before = w->out.n;
    int rc;
    if (w->inplace) {
        int *changed = baton_xcalloc(g->n ? g->n : 1, sizeof(int));
        rc = baton_pathway_step_inplace(w->set, g->st, g->n, in, &w->res, changed, &out, &w->out,
                                        err, sizeof err);
        for (size_t i = 0; rc == 0 && i < g->n; i++) {
            char c = (char)('0' + changed[i]);
            trace_add(w, &c, 1);
        }
        free(changed);
    } else {
        rc = baton_pathway_step(w->set, g->st, g->n, in, &w->res, &out, &w->out, err, sizeof err);
    }
    if (!w->arena)
        protobuf_c_message_free_unpacked(&in->base, NULL);
    w->inputs++;
    if (rc) {
        fprintf(stderr, "pathway_bench: step: %s\n", err);
        return rc;
    }
    for (size_t i = 0; i < out.n; i++) {
        char c = (char)('0' + out.changed[i]);
        trace_add(w, &c, 1);
    }
    if (w->inplace) { /* the fresh instances join the key's states */
        g->st = baton_xrealloc(g->st, (g->n + out.n + 1) * sizeof(*g->st));
        if (out.n)
            memcpy(g->st + g->n, out.states, out.n * sizeof(*out.states));
        g->n += out.n;
        free(out.states);
    } else {
        for (size_t i = 0; i < g->n; i++)
            baton_pathway_state_free(g->st[i]);
        free(g->st);
        g->st = out.states;
        g->n = out.n;
    }
    free(out.changed);
    for (size_t i = before; i < w->out.n; i++) {
        const baton_output_t *o = &w->out.items[i];
        size_t l = baton__v1__envelope__get_packed_size(o->env);
        uint8_t *b = baton_xmalloc(l ? l : 1);
        baton__v1__envelope__pack(o->env, b);
        trace_add(w, o->topic, strlen(o->topic) + 1);
        trace_add(w, o->purpose, strlen(o->purpose) + 1);
        trace_add(w, b, l);
        free(b);
    }
    w->outputs += w->out.n - before;
    if (w->digest) {
        for (size_t i = 0; i < g->n; i++) {
            size_t l;
            uint8_t *b = baton_pathway_state_pack(g->st[i], &l);
            trace_add(w, b, l);
            free(b);
        }
    }
    return 0;
}

/* The end of a wave: what the router's plan does (pack every state) and outputs freed. */
static void wave_end(world_t *w)
{
    for (long e = 0; e < w->nenc; e++)
        for (size_t i = 0; i < w->g[e].n; i++) {
            size_t l;
            free(baton_pathway_state_pack(w->g[e].st[i], &l));
        }
    baton_outputs_free(&w->out);
    if (w->arena)
        baton_pathway_arena_reset(w->arena);
}

static const Baton__V1__TaskState *task_of(const group_t *g, const char *stage,
                                           const Baton__V1__InstanceState **s_out)
{
    for (size_t i = 0; i < g->n; i++)
        for (size_t k = 0; k < g->st[i]->n_tasks; k++)
            if (strcmp(g->st[i]->tasks[k]->stage, stage) == 0 &&
                strcmp(g->st[i]->pathway, "discharge") == 0) {
                *s_out = g->st[i];
                return g->st[i]->tasks[k];
            }
    return NULL;
}

/* The input of encounter e at wave `step` for flow `kind` (NULL: nothing this wave). */
static Baton__V1__Envelope *next_input(world_t *w, long e, int kind, int wave)
{
    char enc[24], id[48];
    snprintf(enc, sizeof enc, "E%07ld", e);
    snprintf(id, sizeof id, "bench-%07ld-%d", e, wave);
    int64_t at = T0 + wave * 10 * MIN + e;
    const group_t *g = &w->g[e];
    const Baton__V1__InstanceState *s = NULL;
    const Baton__V1__TaskState *t;
    if (wave == 0)
        return clinical(id, "order.discharge", at, enc, kind == 1 ? "snf" : "home");
    if (kind == 0) { /* the bench flow */
        switch (wave) {
        case 1:
        case 2:
            t = task_of(g, "med_rec", &s);
            return staff(id, at, enc, s->instance_id, t->task_id,
                         wave == 1 ? BATON__V1__ACTION__ACTION_ACK
                                   : BATON__V1__ACTION__ACTION_COMPLETE,
                         "ph1", "pharmacist", NULL);
        case 3:
            t = task_of(g, "discharge_education", &s);
            return staff(id, at, enc, s->instance_id, t->task_id,
                         BATON__V1__ACTION__ACTION_COMPLETE, "rn1", "nurse", NULL);
        case 4:
            return clinical(id, "transport.completed", at, enc, NULL);
        case 5:
            return clinical(id, "adt.discharge", at, enc, NULL);
        default:
            return NULL;
        }
    }
    /* kinds 1 and 2: actions early, then the clocks run (every pending timer in due order) */
    if (wave == 1) {
        t = task_of(g, "med_rec", &s);
        return staff(id, at, enc, s->instance_id, t->task_id,
                     kind == 1 ? BATON__V1__ACTION__ACTION_COMMENT
                               : BATON__V1__ACTION__ACTION_DECLINE,
                     "ph1", "pharmacist", NULL);
    }
    if (wave == 2) {
        t = task_of(g, "discharge_education", &s);
        return staff(id, at, enc, s->instance_id, t->task_id,
                     kind == 1 ? BATON__V1__ACTION__ACTION_REASSIGN : BATON__V1__ACTION__ACTION_ACK,
                     kind == 1 ? "cn1" : "x9", kind == 1 ? "charge_nurse" : "visitor", "rn7");
    }
    if (wave == 3 && kind == 2)
        return clinical(id, "snf.accepted", at, enc, NULL); /* completes nothing here */
    if (wave >= 3 && wave < 40) {
        const Baton__V1__InstanceState *bs = NULL;
        const Baton__V1__TaskState *bt = NULL;
        const Baton__V1__PendingTimer *bp = NULL;
        for (size_t i = 0; i < g->n; i++)
            for (size_t k = 0; k < g->st[i]->n_tasks; k++)
                for (size_t j = 0; j < g->st[i]->tasks[k]->n_timers; j++) {
                    const Baton__V1__PendingTimer *p = g->st[i]->tasks[k]->timers[j];
                    if (p->due_at_ms <= T0 + 7 * 60 * MIN &&
                        (!bp || p->due_at_ms < bp->due_at_ms)) {
                        bs = g->st[i];
                        bt = g->st[i]->tasks[k];
                        bp = p;
                    }
                }
        if (bp)
            return timer(id, enc, bs, bt, bp);
        if (wave % 2 == 0)
            return clinical(id, kind == 1 ? "adt.cancel_discharge" : "transport.completed", at, enc,
                            NULL);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 4 || (strcmp(argv[1], "loop") != 0 && strcmp(argv[1], "digest") != 0)) {
        fprintf(stderr, "usage: pathway_bench loop|digest PATHWAYS_DIR N [inplace|arena]\n");
        return 2;
    }
    char err[512];
    baton_pathway_set_t *set = baton_pathway_load_dir(argv[2], NULL, err, sizeof err);
    if (!set) {
        fprintf(stderr, "pathway_bench: %s\n", err);
        return 1;
    }
    world_t w = {0};
    w.set = set;
    w.res = (baton_resolver_t){resolve, NULL};
    w.nenc = atol(argv[3]);
    w.digest = strcmp(argv[1], "digest") == 0;
    w.inplace = argc > 4 && (strcmp(argv[4], "inplace") == 0 || strcmp(argv[4], "arena") == 0);
    if (argc > 4 && strcmp(argv[4], "arena") == 0)
        w.out.arena = w.arena = baton_pathway_arena_new();
    w.g = baton_xcalloc((size_t)w.nenc, sizeof(*w.g));
    int waves = w.digest ? 40 : 6;
    int64_t t0 = baton_mono_ns();
    for (int wave = 0; wave < waves; wave++) {
        for (long e = 0; e < w.nenc; e++) {
            Baton__V1__Envelope *in = next_input(&w, e, w.digest ? (int)(e % 3) : 0, wave);
            if (in && step(&w, e, in))
                return 1;
            /* a replay of the same input: dropped, no outputs */
            if (in && w.digest && e % 5 == 0 && wave <= 2) {
                Baton__V1__Envelope *again = next_input(&w, e, (int)(e % 3), wave);
                if (again && step(&w, e, again))
                    return 1;
            }
        }
        wave_end(&w);
    }
    double s = (double)(baton_mono_ns() - t0) / 1e9;
    if (w.digest) {
        char hex[65];
        baton_sha256_hex(w.trace.data, w.trace.len, hex);
        printf("{\"inputs\":%zu,\"outputs\":%zu,\"digest\":\"%s\"}\n", w.inputs, w.outputs, hex);
    } else {
        printf("{\"inputs\":%zu,\"outputs\":%zu,\"seconds\":%.3f,\"inputs_per_s\":%.0f}\n",
               w.inputs, w.outputs, s, (double)w.inputs / s);
    }
    for (long e = 0; e < w.nenc; e++) {
        for (size_t i = 0; i < w.g[e].n; i++)
            baton_pathway_state_free(w.g[e].st[i]);
        free(w.g[e].st);
    }
    free(w.g);
    baton_pathway_arena_free(w.arena);
    baton_buf_free(&w.trace);
    baton_pathway_set_free(set);
    return 0;
}
