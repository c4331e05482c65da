/* audit_project.h — the projection deltas shared by audit_project.c (folding a batch's
 * events into per-key deltas) and audit_project_write.c (staging and merging them). Internal.
 *
 * Delta conventions: a NULL string / UNSET time means "this batch says nothing"; strings are
 * latest-wins, first-* times first-wins, counters add up, flags OR. */
#ifndef BATON_AUDIT_PROJECT_H
#define BATON_AUDIT_PROJECT_H

#include "audit_int.h"

#define UNSET (-1)

typedef struct {
    const char *task_id, *instance_id, *tenant, *facility, *unit, *pathway, *stage, *role;
    const char *owner, *status, *status_reason, *resolved_by, *completed_by;
    long long pathway_version, escalation_level;
    int set_dues;
    long long ack_due, complete_due;
    long long activated_at, assigned_at, acknowledged_at, started_at, completed_at, closed_at;
    int ack_breached, complete_breached, skipped, coverage_gap;
    long long reassigns, declines, escalations, actions, overrides;
    long long updated_at;
} task_delta_t;

typedef struct {
    const char *instance_id, *tenant, *pathway, *facility, *unit, *correlation_key, *patient;
    const char *encounter, *trigger_event_id, *status, *status_reason;
    long long pathway_version, started_at, closed_at, updated_at;
} inst_delta_t;

typedef struct {
    const char *id, *tenant, *person, *kind, *task_id, *instance_id, *channel, *outcome;
    long long level, attempts, latency_ms, requested_at, updated_at;
    int urgent; /* -1 unknown */
} notif_delta_t;

typedef struct {
    const char *event_id, *task_id, *instance_id, *tenant, *step_action, *target_role;
    long long level, step, at_ms;
} esc_row_t;

struct audit_proj {
    task_delta_t *tasks;
    size_t ntasks, cap_tasks;
    audit_map_t task_idx;
    inst_delta_t *insts;
    size_t ninsts, cap_insts;
    audit_map_t inst_idx;
    notif_delta_t *notifs;
    size_t nnotifs, cap_notifs;
    audit_map_t notif_idx;
    esc_row_t *escs;
    size_t nescs, cap_escs;
};

#endif
