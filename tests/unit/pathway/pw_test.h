/* pw_test.h — helpers for the pathway tests: an in-memory roster behind the resolver, envelope
 * builders, and a "world" that feeds inputs through baton_pathway_step like the router. */
#ifndef PW_TEST_H
#define PW_TEST_H

#include "baton/pathway.h"

#define T0 1800000000000LL /* a fixed "now" */
#define MIN 60000LL
#define FIXTURES BATON_SOURCE_DIR "/tests/unit/pathway/fixtures"

typedef struct {
    const char *role, *unit, *person; /* unit "" covers the whole facility */
} pw_shift_t;

typedef struct {
    pw_shift_t shifts[64];
    int n;
    int fail; /* resolve answers BATON_EIO */
    int calls;
} pw_roster_t;

typedef struct {
    baton_pathway_set_t *set;
    Baton__V1__InstanceState **st;
    size_t n;
    baton_outputs_t out; /* outputs of the last step */
    pw_roster_t roster;
    baton_resolver_t res;
    int seq; /* for generated event ids */
} pw_world_t;

void pw_roster_add(pw_roster_t *r, const char *role, const char *unit, const char *person);
void pw_roster_remove(pw_roster_t *r, const char *role);

/* dir_or_file: a directory (load_dir) or one file (load_file). Adds the default roster. */
void pw_world_init(pw_world_t *w, const char *dir_or_file);
void pw_world_free(pw_world_t *w);
/* Run one input (consumed). Returns the step's rc; on success the world holds the new group.
 * Clinical events the step copies onto baton.inbound.v1 (re-keyed by patient) are run next,
 * as the router would; w->out holds the input's outputs, then theirs. */
int pw_step(pw_world_t *w, Baton__V1__Envelope *in);
/* The same with baton_pathway_step_inplace (the router's way): the world's states change in
 * place, new instances are appended. */
int pw_step_inplace(pw_world_t *w, Baton__V1__Envelope *in);

/* A deep copy of e (pack + unpack; free with protobuf_c_message_free_unpacked). */
Baton__V1__Envelope *pw_env_dup(const Baton__V1__Envelope *e);
/* attrs: "key=value" strings, NULL-terminated. */
Baton__V1__Envelope *pw_clinical(const char *id, const char *type, int64_t t, const char *encounter,
                                 ...);
/* roles: comma-separated, may be "". */
Baton__V1__Envelope *pw_staff(const char *id, int64_t t, const Baton__V1__InstanceState *s,
                              const char *stage, Baton__V1__Action action, const char *actor,
                              const char *roles, const char *to);
/* A TimerFired for the task's pending timer with that purpose (and step), fired at t. */
Baton__V1__Envelope *pw_timer(pw_world_t *w, size_t inst, const char *stage, const char *purpose,
                              int step, int64_t t);
/* Fire, in due order, every pending timer of every instance due at or before t. Returns how
 * many fired. */
int pw_fire_until(pw_world_t *w, int64_t t);

Baton__V1__TaskState *pw_task(pw_world_t *w, size_t inst, const char *stage);
size_t pw_count(const baton_outputs_t *o, const char *type);
const Baton__V1__Envelope *pw_find(const baton_outputs_t *o, const char *type, size_t nth);
/* "type type type" of the last step, for exact order checks. */
char *pw_types(const baton_outputs_t *o);

#endif
