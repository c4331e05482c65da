/* baton/pathway.h — the pathway language (YAML definitions, see docs/pathways.md) and the pure
 * instance state machine the router runs.
 *
 * Loading: baton_pathway_load_dir() reads every *.yaml / *.yml file of a directory into an
 * immutable set, all or nothing, with `file:line: what is wrong` errors.
 *
 * The machine: (instance states of one correlation key, input event, resolver) → (new states,
 * output events). It does no I/O and reads no clock: "now" is the input's time (TimerFired's
 * fired_at_ms; else recorded_at_ms, else occurred_at_ms). Role → person resolution is I/O, so
 * it is asked of the caller through baton_resolver_t; given the same resolver answers the same
 * inputs always give the same states and outputs (byte for byte).
 *
 * Memory: protobuf messages returned by this lib are allocated with malloc and freed with
 * protobuf_c_message_free_unpacked(msg, NULL) (or the helpers below). Input pointers are
 * borrowed for the duration of the call only. */
#ifndef BATON_PATHWAY_H
#define BATON_PATHWAY_H

#include <stddef.h>
#include <stdint.h>

#include <baton/v1/events.pb-c.h>
#include <baton/v1/state.pb-c.h>

#include "baton/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- definitions (read-only) */

typedef enum { BATON_SCOPE_UNIT = 0, BATON_SCOPE_FACILITY = 1 } baton_scope_t;
typedef enum { BATON_CORRELATE_ENCOUNTER = 0, BATON_CORRELATE_PATIENT = 1 } baton_correlation_t;
typedef enum { BATON_UNLESS_COMPLETED = 0, BATON_UNLESS_ACKNOWLEDGED = 1 } baton_unless_t;

typedef struct {
    char *role;
    baton_scope_t scope;
} baton_role_ref_t;

/* One attribute condition: attributes[key] equals one of values. */
typedef struct {
    char *key;
    char **values;
    size_t nvalues;
} baton_attr_cond_t;

/* All conditions must hold (n == 0: always true). */
typedef struct {
    baton_attr_cond_t *conds;
    size_t n;
} baton_where_t;

typedef struct {
    int64_t after_ms;      /* from activation */
    baton_unless_t unless; /* the step does not fire while this holds */
    int reassign;          /* 1: reassign to target, 0: notify target */
    baton_role_ref_t target;
    int64_t repeat_ms; /* 0: fires once */
    int line;
} baton_escalation_step_t;

typedef struct {
    char *id;
    char *title; /* the id when the file gives none */
    baton_role_ref_t owner;
    int64_t ack_within_ms;      /* 0: no ack window */
    int64_t complete_within_ms; /* 0: no completion window */
    baton_escalation_step_t *steps;
    size_t nsteps;
    char **depends_on;
    size_t ndeps;
    size_t *dep_index; /* index of each depends_on stage in the pathway's stages */
    int has_when;
    baton_where_t when;
    char *complete_on_event; /* NULL: completed by staff action */
    baton_where_t complete_on_where;
    char **override_roles;
    size_t noverride;
    int line, deps_line, ack_line, complete_line; /* source lines, for messages */
} baton_stage_def_t;

typedef struct {
    char *id;
    uint32_t version;
    char *title;
    char *file; /* path the definition was loaded from */
    char *trigger_event;
    baton_where_t trigger_where;
    baton_correlation_t correlation;
    char **cancel_on;
    size_t ncancel;
    baton_stage_def_t *stages;
    size_t nstages;
    int line, version_line; /* source lines, for messages */
} baton_pathway_def_t;

typedef struct baton_pathway_set baton_pathway_set_t;

/* ---------------------------------------------------------------- loading */

/* Errors collected while loading: every problem found, each "file:line: what is wrong". */
typedef struct {
    char **items;
    size_t n;
} baton_pathway_errors_t;
void baton_pathway_errors_free(baton_pathway_errors_t *e);

/* Load every *.yaml / *.yml file of dir (sorted by name). All or nothing: returns NULL when any
 * file has an error; then err holds the first error plus a count, and errs_out (optional) every
 * error. Caller frees the set with baton_pathway_set_free and errs_out with
 * baton_pathway_errors_free. An empty directory is an error. */
baton_pathway_set_t *baton_pathway_load_dir(const char *dir, baton_pathway_errors_t *errs_out,
                                            char *err, size_t errlen);
/* Parse and check a single file (the same checks, without cross-file ones) into a one-entry
 * set: for tests and `lint`-style tools. */
baton_pathway_set_t *baton_pathway_load_file(const char *path, baton_pathway_errors_t *errs_out,
                                             char *err, size_t errlen);
void baton_pathway_set_free(baton_pathway_set_t *set);

/* Lookups: borrowed pointers valid as long as the set. NULL when absent. */
const baton_pathway_def_t *baton_pathway_get(const baton_pathway_set_t *set, const char *id,
                                             uint32_t version);
const baton_pathway_def_t *baton_pathway_latest(const baton_pathway_set_t *set, const char *id);
/* All definitions, sorted by (id, version). */
size_t baton_pathway_count(const baton_pathway_set_t *set);
const baton_pathway_def_t *baton_pathway_at(const baton_pathway_set_t *set, size_t i);
/* Index of a stage in def, or -1. */
int baton_pathway_stage_index(const baton_pathway_def_t *def, const char *stage_id);

/* ---------------------------------------------------------------- triggers, correlation */

/* Does `where` hold for these attributes? (1/0) */
int baton_pathway_where_matches(const baton_where_t *w,
                                Baton__V1__ClinicalEvent__AttributesEntry *const *attrs,
                                size_t nattrs);

/* The correlation key for def and a clinical event: tenant + "/" + encounter (or patient).
 * Returns a fresh string (caller frees) or NULL when the event lacks the id def correlates on. */
char *baton_pathway_correlation_key(const baton_pathway_def_t *def, const Baton__V1__Envelope *env);

/* The id of the instance of def that the input event event_id starts (derived from both, so
 * a replay of the trigger names the instance it started, whatever became of it). */
void baton_pathway_instance_id(const baton_pathway_def_t *def, const char *event_id,
                               char out[BATON_ID_LEN]);

/* The latest version of every pathway whose trigger matches env (a clinical event with a
 * tenant and the correlation id the pathway needs). Writes up to cap borrowed pointers in
 * def order; returns how many matched (may exceed cap). */
size_t baton_pathway_match_triggers(const baton_pathway_set_t *set, const Baton__V1__Envelope *env,
                                    const baton_pathway_def_t **out, size_t cap);

/* ---------------------------------------------------------------- role resolution (I/O) */

#define BATON_PERSON_MAX 128

/* Implemented by the caller (router: Redis rosters; tests: an in-memory roster). Resolve role at
 * scope (the instance's facility, or facility + unit) at now_ms, never to a person listed in
 * exclude. On success write the person into person_out and how it was found ("unit_shift",
 * "facility_shift", ...) into why_out and return 0; return BATON_ENOENT when nobody covers the
 * role (a coverage gap); any other negative is an I/O failure: the machine then fails the
 * whole input with that code and changes nothing (retry later). Must be deterministic for the
 * same arguments while the rosters do not change. */
typedef struct {
    int (*resolve)(void *ctx, const char *tenant, const char *role, baton_scope_t scope,
                   const char *facility, const char *unit, int64_t now_ms,
                   const char *const *exclude, size_t nexclude, char *person_out, size_t person_cap,
                   char *why_out, size_t why_cap);
    void *ctx;
} baton_resolver_t;

/* ---------------------------------------------------------------- outputs */

#define BATON_TOPIC_LIFECYCLE "baton.lifecycle.v1"
#define BATON_TOPIC_NOTIFY "baton.notify.v1"
#define BATON_TOPIC_TIMERS "baton.timers.v1"
#define BATON_TOPIC_INBOUND "baton.inbound.v1" /* a clinical event re-keyed by patient */

typedef struct {
    const char *topic;        /* one of BATON_TOPIC_* (static) */
    Baton__V1__Envelope *env; /* the list's (or its arena's); key by env->correlation_key */
    char *purpose;            /* idem: what env->id was derived with (for debugging) */
} baton_output_t;

/* A bump allocator: what is allocated from it is freed all at once (reset keeps the memory for
 * the next use). Outputs built into an arena cost no malloc / free per field; the router builds
 * a batch's outputs (and unpacks its inputs) into one. Not thread-safe. */
typedef struct baton_pathway_arena baton_pathway_arena_t;
baton_pathway_arena_t *baton_pathway_arena_new(void);
void baton_pathway_arena_free(baton_pathway_arena_t *a); /* NULL: no-op */
/* Forget everything allocated (its memory is reused by later allocations). */
void baton_pathway_arena_reset(baton_pathway_arena_t *a);
void *baton_pathway_arena_alloc(baton_pathway_arena_t *a, size_t n);       /* 16-byte aligned */
char *baton_pathway_arena_strdup(baton_pathway_arena_t *a, const char *s); /* NULL → "" */
/* A protobuf-c allocator over the arena (unpack into it; its free does nothing). */
ProtobufCAllocator baton_pathway_arena_allocator(baton_pathway_arena_t *a);

typedef struct {
    baton_output_t *items;
    size_t n, cap;
    /* optional (NULL: malloc): the arena every envelope of the list (with all it points to and
     * its purpose) is allocated from; the list then never frees them one by one, the arena's
     * owner resets it once the outputs are no longer needed */
    baton_pathway_arena_t *arena;
} baton_outputs_t;

#define BATON_OUTPUTS_INIT                                                                         \
    {                                                                                              \
        NULL, 0, 0, NULL                                                                           \
    }
/* Frees every envelope (unless they are in o->arena); leaves o empty (its arena kept). */
void baton_outputs_free(baton_outputs_t *o);

/* ---------------------------------------------------------------- the state machine */

/* The instances of one correlation key after an input. */
typedef struct {
    Baton__V1__InstanceState **states; /* owned: the given states in order, then new ones */
    size_t n;
    int *changed; /* per state: 1 when it must be written back */
} baton_pathway_group_t;
void baton_pathway_group_free(baton_pathway_group_t *g);

/* Apply one input Envelope (clinical event, staff action or timer fired) to the instances
 * (states, n: every stored instance of the input's correlation key, and for a clinical event
 * also every stored instance, whatever its status, that the event would start as a trigger —
 * baton_pathway_instance_id — so that a trigger delivered again after its instance closed
 * starts nothing; borrowed, not modified).
 * Clinical events start pathways whose triggers match (trigger.ignored when one is already
 * active for the key), complete `complete_on` stages and cancel on `cancel_on`; staff actions
 * and timers go to the instance they name. Inputs an instance already applied are dropped.
 * On 0, *group_out holds every state (changed or not) and *out the outputs in order (appended).
 * On error (resolver I/O failure, malformed input, missing definition version) nothing is
 * appended, group_out is empty and err says why. */
int baton_pathway_step(const baton_pathway_set_t *set, Baton__V1__InstanceState *const *states,
                       size_t n, const Baton__V1__Envelope *in, const baton_resolver_t *resolver,
                       baton_pathway_group_t *group_out, baton_outputs_t *out, char *err,
                       size_t errlen);

/* baton_pathway_step without the copies, for a caller that owns the states (the router's
 * cache): the states are changed in place where the input changes them, and changed[i]
 * (n entries, caller's) says which (1: write it back). Instances the input starts go to
 * *fresh_out (owned by the caller: baton_pathway_group_free; every one changed). The same
 * states, outputs and bytes as baton_pathway_step. On error nothing is appended, *fresh_out
 * is empty and every state is as it was before the call (same address). */
int baton_pathway_step_inplace(const baton_pathway_set_t *set, Baton__V1__InstanceState **states,
                               size_t n, const Baton__V1__Envelope *in,
                               const baton_resolver_t *resolver, int *changed,
                               baton_pathway_group_t *fresh_out, baton_outputs_t *out, char *err,
                               size_t errlen);

/* The time an input happened for the machine: TimerFired.fired_at_ms, else recorded_at_ms, else
 * occurred_at_ms. */
int64_t baton_pathway_input_time(const Baton__V1__Envelope *in);

/* ---------------------------------------------------------------- authorization */

/* May actor (with actor_roles) perform action on task_id of state, and is it a legal
 * transition now? Returns 0, BATON_ENOENT (no such task: 404), BATON_EPERM (neither the owner,
 * a holder of the task's role, nor an override role: 403) or BATON_ECONFLICT (illegal
 * transition: 409). *override_out (optional) is 1 when only an override role allows it;
 * *reason_out (optional) gets a static explanation. Used by ingest to pre-validate and by the
 * machine as the authority. def must be the instance's (pathway, version). */
int baton_pathway_authorize(const Baton__V1__InstanceState *state, const char *task_id,
                            Baton__V1__Action action, const char *actor,
                            const char *const *actor_roles, size_t nroles,
                            const baton_pathway_def_t *def, int *override_out,
                            const char **reason_out);

/* ---------------------------------------------------------------- state codec */

/* Serialize to protobuf bytes (fresh buffer, caller frees; deterministic for equal states). */
uint8_t *baton_pathway_state_pack(const Baton__V1__InstanceState *s, size_t *len_out);
/* Parse bytes from storage; NULL when they do not parse (caller frees with
 * baton_pathway_state_free). */
Baton__V1__InstanceState *baton_pathway_state_unpack(const uint8_t *data, size_t len);
Baton__V1__InstanceState *baton_pathway_state_dup(const Baton__V1__InstanceState *s);
void baton_pathway_state_free(Baton__V1__InstanceState *s);
/* The task of state with that id / stage, or NULL. */
Baton__V1__TaskState *baton_pathway_state_task(const Baton__V1__InstanceState *s,
                                               const char *task_id);

/* FHIR Task status codes used by tasks. */
#define BATON_TASK_READY "ready"
#define BATON_TASK_ACCEPTED "accepted"
#define BATON_TASK_IN_PROGRESS "in-progress"
#define BATON_TASK_COMPLETED "completed"
#define BATON_TASK_CANCELLED "cancelled"
/* Instance statuses. */
#define BATON_INSTANCE_ACTIVE "active"
#define BATON_INSTANCE_COMPLETED "completed"
#define BATON_INSTANCE_CANCELLED "cancelled"

#ifdef __cplusplus
}
#endif
#endif
