/* test_pathway_prop.c — randomized sequences (fixed seeds) of staff actions, timers and
 * clinical events, checking after every step:
 *   - a task is never both open and closed (closed ⇔ closed_at set, no pending timers);
 *   - escalation levels only rise;
 *   - an active/completed instance is completed exactly when every stage is completed or
 *     skipped; a cancelled one has no open task;
 *   - the same inputs give the same states and outputs (two runs, byte for byte), and
 *     baton_pathway_step_inplace gives the same as baton_pathway_step. */
#include <stdlib.h>
#include <string.h>

#include "pw_test.h"
#include "test.h"

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static int is_open(const char *st)
{
    return !strcmp(st, "ready") || !strcmp(st, "accepted") || !strcmp(st, "in-progress");
}

static int is_closed(const char *st)
{
    return !strcmp(st, "completed") || !strcmp(st, "cancelled");
}

static void check_invariants(pw_world_t *w, Baton__V1__InstanceState **prev, size_t nprev)
{
    for (size_t i = 0; i < w->n; i++) {
        const Baton__V1__InstanceState *s = w->st[i];
        int all_done = 1, any_open = 0;
        for (size_t k = 0; k < s->n_tasks; k++) {
            const Baton__V1__TaskState *t = s->tasks[k];
            int open = is_open(t->status), closed = is_closed(t->status);
            ASSERT_TRUE(!(open && closed));
            ASSERT_TRUE(open || closed || t->status[0] == '\0');
            ASSERT_EQ_INT(closed, t->closed_at_ms != 0);
            if (!open)
                ASSERT_EQ_INT(t->n_timers, 0);
            if (t->skipped)
                ASSERT_EQ_STR(t->status, "cancelled");
            any_open |= open;
            all_done &= t->skipped || !strcmp(t->status, "completed");
            for (size_t p = 0; p < nprev; p++) {
                if (strcmp(prev[p]->instance_id, s->instance_id) != 0)
                    continue;
                const Baton__V1__TaskState *o = prev[p]->tasks[k];
                ASSERT_TRUE(t->escalation_level >= o->escalation_level);
                if (is_closed(o->status)) /* closed stays closed */
                    ASSERT_EQ_STR(t->status, o->status);
            }
        }
        if (!strcmp(s->status, "cancelled"))
            ASSERT_EQ_INT(any_open, 0);
        else
            ASSERT_EQ_INT(!strcmp(s->status, "completed"), all_done);
    }
}

static const char *const people[] = {"ph1", "ph2", "ld1", "cn1", "cm1", "tr1", "ev1", "x9"};
static const char *const roles[] = {"pharmacist",   "pharmacist", "lead", "charge_nurse",
                                    "case_manager", "transport",  "evs",  "nurse"};
static const char *const stages[] = {"a", "b", "c", "d"};

/* One random input for the world's current state. */
static Baton__V1__Envelope *random_input(pw_world_t *w, uint64_t *rng, int64_t *now, int i)
{
    char id[32];
    snprintf(id, sizeof(id), "in-%d", i);
    uint64_t r = rng_next(rng) % 100;
    *now += (int64_t)(rng_next(rng) % 10) * MIN;
    if (w->n == 0 || r < 3) {
        const char *enc = rng_next(rng) % 4 ? "E1" : "E2";
        return pw_clinical(id, "order.discharge", *now, enc, "patient_class=inpatient",
                           rng_next(rng) % 2 ? "disposition=snf" : "disposition=home", NULL);
    }
    size_t inst = rng_next(rng) % w->n;
    if (r < 55) {
        size_t p = rng_next(rng) % 8;
        static const Baton__V1__Action weighted[] = {1, 1, 1, 2, 2, 3, 3, 3, 3, 4, 5, 6, 0};
        Baton__V1__Action a = weighted[rng_next(rng) % 13];
        /* mostly an open stage, acted on by its owner, so that work moves forward */
        const char *stage = stages[rng_next(rng) % 4];
        const Baton__V1__TaskState *t = NULL;
        for (size_t k = 0; k < w->st[inst]->n_tasks; k++) {
            const Baton__V1__TaskState *c = w->st[inst]->tasks[k];
            if ((rng_next(rng) % 10 < 7 && is_open(c->status)) || !strcmp(c->stage, stage)) {
                t = c;
                stage = c->stage;
                break;
            }
        }
        const char *actor = t && t->owner[0] && rng_next(rng) % 10 < 7 ? t->owner : people[p];
        return pw_staff(id, *now, w->st[inst], stage, a, actor, roles[p],
                        rng_next(rng) % 2 ? people[rng_next(rng) % 8] : "");
    }
    if (r < 85) {
        /* fire the earliest pending timer of the instance, at its due time or later */
        const Baton__V1__InstanceState *s = w->st[inst];
        for (size_t k = 0; k < s->n_tasks; k++)
            if (s->tasks[k]->n_timers) {
                const Baton__V1__PendingTimer *p = s->tasks[k]->timers[0];
                if (p->due_at_ms > *now)
                    *now = p->due_at_ms;
                return pw_timer(w, inst, s->tasks[k]->stage, p->purpose, p->step, *now);
            }
    }
    if (r < 99)
        return pw_clinical(id, "transport.completed", *now, w->st[inst]->encounter,
                           rng_next(rng) % 2 ? "mode=stretcher" : "mode=walk", NULL);
    return pw_clinical(id, "adt.cancel_discharge", *now, w->st[inst]->encounter, NULL);
}

/* Run one seeded sequence; returns a digest of every state and output, in order. mode 0:
 * baton_pathway_step, 1: in place, 2: in place with the outputs in an arena (the router's way:
 * reset once the outputs are used, here after every step). */
static void run(uint64_t seed, int steps, int mode, char digest[65], int *completed,
                int *escalations)
{
    pw_world_t w;
    pw_world_init(&w, FIXTURES "/machine/flow.yaml");
    baton_pathway_arena_t *arena = mode == 2 ? baton_pathway_arena_new() : NULL;
    w.out.arena = arena;
    pw_roster_add(&w.roster, "evs", "4W", "ev1");
    uint64_t rng = seed;
    int64_t now = T0;
    baton_buf_t trace = BATON_BUF_INIT;
    for (int i = 0; i < steps; i++) {
        if (i % 97 == 50)
            pw_roster_remove(&w.roster, "pharmacist"); /* coverage gaps come and go */
        if (i % 97 == 80) {
            pw_roster_add(&w.roster, "pharmacist", "", "ph1");
            pw_roster_add(&w.roster, "pharmacist", "", "ph2");
        }
        size_t nprev = w.n;
        Baton__V1__InstanceState **prev = baton_xcalloc(nprev ? nprev : 1, sizeof(*prev));
        for (size_t k = 0; k < nprev; k++)
            prev[k] = baton_pathway_state_dup(w.st[k]);
        Baton__V1__Envelope *in = random_input(&w, &rng, &now, i);
        ASSERT_EQ_INT(mode ? pw_step_inplace(&w, in) : pw_step(&w, in), 0);
        check_invariants(&w, prev, nprev);
        for (size_t k = 0; k < nprev; k++)
            baton_pathway_state_free(prev[k]);
        free(prev);
        for (size_t k = 0; k < w.out.n; k++) {
            size_t len = baton__v1__envelope__get_packed_size(w.out.items[k].env);
            uint8_t *buf = baton_xmalloc(len + 1);
            baton__v1__envelope__pack(w.out.items[k].env, buf);
            baton_buf_append(&trace, w.out.items[k].topic, strlen(w.out.items[k].topic));
            baton_buf_append(&trace, buf, len);
            free(buf);
            *escalations += !strcmp(w.out.items[k].env->type, "task.escalated");
            *completed += !strcmp(w.out.items[k].env->type, "instance.completed");
        }
        for (size_t k = 0; k < w.n; k++) {
            size_t len;
            uint8_t *buf = baton_pathway_state_pack(w.st[k], &len);
            baton_buf_append(&trace, buf, len);
            free(buf);
        }
        if (arena) { /* the outputs are done with: their memory is reused by the next step */
            baton_outputs_free(&w.out);
            baton_pathway_arena_reset(arena);
        }
    }
    baton_sha256_hex(trace.data, trace.len, digest);
    baton_buf_free(&trace);
    pw_world_free(&w);
    baton_pathway_arena_free(arena);
}

TEST(pathway_property_random_sequences)
{
    static const uint64_t seeds[] = {0x9e3779b97f4a7c15ULL, 42, 0xdeadbeefULL, 7};
    int completed = 0, escalations = 0;
    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
        char d1[65], d2[65], d3[65], d4[65];
        run(seeds[i], 800, 0, d1, &completed, &escalations);
        run(seeds[i], 800, 0, d2, &completed, &escalations);
        ASSERT_EQ_STR(d1, d2);
        /* in place (the router's way): the same states and outputs, byte for byte */
        run(seeds[i], 800, 1, d3, &completed, &escalations);
        ASSERT_EQ_STR(d1, d3);
        /* ... and with the outputs built in an arena */
        run(seeds[i], 800, 2, d4, &completed, &escalations);
        ASSERT_EQ_STR(d1, d4);
    }
    /* the sequences did exercise the interesting paths */
    ASSERT_TRUE(completed > 0);
    ASSERT_TRUE(escalations > 0);
}

/* The arena: aligned, nothing overlaps (small ones, big ones, strings), reset reuses. */
TEST(pathway_arena_allocations)
{
    baton_pathway_arena_t *a = baton_pathway_arena_new();
    for (int round = 0; round < 3; round++) {
        unsigned char *p[400];
        size_t len[400];
        for (int i = 0; i < 400; i++) {
            len[i] = i % 50 == 7 ? 100000 + (size_t)i : (size_t)(i * 37 % 300);
            p[i] = baton_pathway_arena_alloc(a, len[i]);
            ASSERT_TRUE(((uintptr_t)p[i] & 15) == 0);
            memset(p[i], i & 0xff, len[i]);
        }
        for (int i = 0; i < 400; i++)
            for (size_t k = 0; k < len[i]; k++)
                if (p[i][k] != (unsigned char)(i & 0xff))
                    TEST_FAIL("allocation %d overwritten at %zu", i, k);
        ASSERT_EQ_STR(baton_pathway_arena_strdup(a, "ab"), "ab");
        ASSERT_EQ_STR(baton_pathway_arena_strdup(a, NULL), "");
        baton_pathway_arena_reset(a);
    }
    baton_pathway_arena_free(a);
    baton_pathway_arena_free(NULL);
}
