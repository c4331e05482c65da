/* pathway_int.h — internals shared by the files of libs/pathway (not a public header). */
#ifndef BATON_PATHWAY_INT_H
#define BATON_PATHWAY_INT_H

#include "baton/pathway.h"

struct baton_pathway_set {
    baton_pathway_def_t **defs; /* sorted by (id, version) */
    size_t n;
};

/* ---- errors (pathway_load.c) */
void baton_pathway__err(baton_pathway_errors_t *e, const char *file, int line, const char *fmt, ...)
    BATON_PRINTF(4, 5);

/* ---- parse one file into a definition (pathway_parse.c). Appends every error found to errs;
 * returns NULL when there was any. `name` is the file name errors are reported with. */
baton_pathway_def_t *baton_pathway__parse_file(const char *path, const char *name,
                                               baton_pathway_errors_t *errs);
void baton_pathway__def_free(baton_pathway_def_t *def);

/* ---- checks that need the whole definition (pathway_validate.c): duplicate stage ids,
 * depends_on (resolving dep_index), cycles, escalation order, windows. */
void baton_pathway__validate(baton_pathway_def_t *def, const char *name,
                             baton_pathway_errors_t *errs);

/* ---- name checks */
int baton_pathway__is_ident(const char *s);      /* [a-z0-9_]+ */
int baton_pathway__is_event_type(const char *s); /* [a-z0-9_]+(\.[a-z0-9_]+)* */
const char *baton_pathway__scope_name(baton_scope_t s);

/* ---- correlation (pathway_load.c): the id of a clinical event def correlates by (its
 * patient or its encounter; may be NULL or empty) */
const char *baton_pathway__correlation_id(const baton_pathway_def_t *def,
                                          const Baton__V1__Envelope *env);

/* ---- attribute helpers */
const char *baton_pathway__attr_get(const Baton__V1__InstanceState *s, const char *key);
int baton_pathway__where_state(const baton_where_t *w, const Baton__V1__InstanceState *s);

/* ---- the machine's working context (pathway_machine.c and friends) */
typedef struct {
    const baton_pathway_def_t *def;
    Baton__V1__InstanceState *st; /* being modified */
    const Baton__V1__Envelope *in;
    const baton_resolver_t *res;
    int64_t now;
    baton_outputs_t *out;
    int rc; /* first resolver I/O failure, sticky */
    char *err;
    size_t errlen;
} baton_mctx_t;

/* allocations for outputs (pathway_arena.c): from the output list's arena when it has one,
 * else malloc (what baton_outputs_free frees). Everything an output points to is allocated so;
 * nothing that goes into a state ever is. */
void *baton_pathway__oalloc(baton_mctx_t *m, size_t n);
char *baton_pathway__ostr(baton_mctx_t *m, const char *s); /* copy; NULL → "" */
char *baton_pathway__ofmt(baton_mctx_t *m, const char *fmt, ...) BATON_PRINTF(2, 3);

/* outputs (pathway_out.c) */
Baton__V1__Envelope *baton_pathway__env(baton_mctx_t *m, const char *topic, const char *type,
                                        const char *stage);
Baton__V1__TaskRef *baton_pathway__taskref(baton_mctx_t *m, const Baton__V1__TaskState *t);
void baton_pathway__notify(baton_mctx_t *m, const Baton__V1__TaskState *t, const char *person,
                           const char *kind, int urgent);
void baton_pathway__coverage_gap(baton_mctx_t *m, const Baton__V1__TaskState *t, const char *role,
                                 const char *scope);
/* task.reassigned from `from` to the task's current owner. */
void baton_pathway__reassigned(baton_mctx_t *m, const Baton__V1__TaskState *t, const char *from,
                               const char *actor, const char *reason);
/* The input clinical event again, on baton.inbound.v1 under key (tenant/patient): see
 * "Events of one patient" in pathway_step.c. */
void baton_pathway__rekeyed_copy(baton_mctx_t *m, const char *key);
char *baton_pathway__xstr(const char *s); /* strdup, "" for NULL */
void baton_pathway__setstr(char **field, const char *s);

/* timers (pathway_escalation.c) */
void baton_pathway__schedule(baton_mctx_t *m, Baton__V1__TaskState *t, const char *purpose,
                             int step, int repeat, int64_t due);
void baton_pathway__cancel_timers(baton_mctx_t *m, Baton__V1__TaskState *t);
void baton_pathway__start_clocks(baton_mctx_t *m, Baton__V1__TaskState *t,
                                 const baton_stage_def_t *sd);
void baton_pathway__timer_fired(baton_mctx_t *m);
/* Move the task up the chain after a decline found nobody; returns 1 when a reassign step
 * took it. */
int baton_pathway__escalate_on_decline(baton_mctx_t *m, Baton__V1__TaskState *t,
                                       const baton_stage_def_t *sd);

/* core (pathway_machine.c) */
int baton_pathway__resolve(baton_mctx_t *m, const Baton__V1__TaskState *t, const char *role,
                           baton_scope_t scope, char *person, size_t cap, char *why, size_t whycap);
/* pathway_machine.c, for pathway_step.c: start a new instance of m->def for m->in under the
 * correlation key (emits instance.started and activates the first stages); whether s is one of
 * the n strings of list. */
void baton_pathway__new_instance(baton_mctx_t *m, const char *key);
int baton_pathway__in_list(char **list, size_t n, const char *s);
/* Apply m->in, a clinical event, to the instance m->st: complete_on, cancel_on, attributes. */
void baton_pathway__clinical(baton_mctx_t *m);
void baton_pathway__task_closed(baton_mctx_t *m, Baton__V1__TaskState *t);
int baton_pathway__task_open(const Baton__V1__TaskState *t);
int baton_pathway__task_acknowledged(const Baton__V1__TaskState *t);
void baton_pathway__add_str(char ***arr, size_t *n, const char *s);
void baton_pathway__complete_task(baton_mctx_t *m, Baton__V1__TaskState *t, const char *actor,
                                  int override, const char *by_event);

/* staff actions (pathway_actions.c) */
void baton_pathway__staff_action(baton_mctx_t *m);
/* action.rejected for the input staff action (t may be NULL). */
void baton_pathway__reject(baton_mctx_t *m, const Baton__V1__TaskState *t, int status,
                           const char *reason);

#endif
