/* audit_project_write.c — writing a batch's projection deltas: per table one statement that
 * unnests the deltas (passed as arrays), UPDATEs the keys that exist and INSERTs the new ones,
 * inside the writer's transaction. */
#include "audit_project.h"

#include <stdlib.h>
#include <string.h>

/* A batch's deltas of one projection as one PostgreSQL array literal per column, passed to a
 * statement that unnests them (no staging table: nothing to truncate at every commit). */
typedef struct {
    baton_buf_t col[AUDIT_COPY_MAX];
    int n;
} stage_t;

static void stage_init(stage_t *s, int ncols)
{
    s->n = ncols;
    for (int k = 0; k < ncols; k++) {
        s->col[k] = (baton_buf_t)BATON_BUF_INIT;
        baton_buf_putc(&s->col[k], '{');
    }
}

/* Append one row: NULL stays NULL, every other value is quoted (\ and " escaped). */
static void stage_row(stage_t *s, audit_copy_row_t *r)
{
    for (int k = 0; k < s->n; k++) {
        baton_buf_t *b = &s->col[k];
        if (b->len > 1)
            baton_buf_putc(b, ',');
        if (!r->v[k]) {
            baton_buf_puts(b, "NULL");
            continue;
        }
        baton_buf_putc(b, '"');
        for (const char *c = r->v[k]; *c; c++) {
            if (*c == '"' || *c == '\\')
                baton_buf_putc(b, '\\');
            baton_buf_putc(b, *c);
        }
        baton_buf_putc(b, '"');
    }
    audit__row_clear(r);
}

/* Run the merge statement over the staged rows (prepared once: the same text every batch). */
static int stage_merge(stage_t *s, baton_pg_t *pg, const char *sql)
{
    const char *params[AUDIT_COPY_MAX];
    for (int k = 0; k < s->n; k++) {
        baton_buf_putc(&s->col[k], '}');
        params[k] = s->col[k].data;
    }
    int rc = baton_pg_exec_prepared(pg, NULL, sql, s->n, params);
    for (int k = 0; k < s->n; k++)
        baton_buf_free(&s->col[k]);
    return rc;
}

/* Each merge: the staged rows (s), one UPDATE of the keys that exist (u: one index probe per
 * key), then one INSERT of the rest with their values. A key inserted meanwhile by another
 * writer's transaction fails the batch on the primary key (it is retried), as before. */
static const char task_merge[] =
    "WITH s AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[],"
    " $4::text[], $5::text[], $6::text[], $7::integer[], $8::text[], $9::text[],"
    " $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::integer[],"
    " $16::boolean[], $17::bigint[], $18::bigint[], $19::bigint[], $20::bigint[],"
    " $21::bigint[], $22::bigint[], $23::bigint[], $24::bigint[], $25::boolean[],"
    " $26::boolean[], $27::boolean[], $28::boolean[], $29::integer[], $30::integer[],"
    " $31::integer[], $32::integer[], $33::integer[], $34::bigint[]) AS s(task_id,"
    " instance_id, tenant, facility, unit, pathway, pathway_version, stage, role, owner,"
    " status, status_reason, resolved_by, completed_by, escalation_level, set_dues,"
    " ack_due_at_ms, complete_due_at_ms, activated_at_ms, assigned_at_ms,"
    " acknowledged_at_ms, started_at_ms, completed_at_ms, closed_at_ms, ack_breached,"
    " complete_breached, skipped, coverage_gap, reassign_count, decline_count,"
    " escalation_count, action_count, override_count, updated_at_ms))"
    ", u AS (UPDATE audit_tasks t SET"
    " instance_id = COALESCE(s.instance_id, t.instance_id),"
    " tenant = COALESCE(s.tenant, t.tenant),"
    " facility = COALESCE(s.facility, t.facility),"
    " unit = COALESCE(s.unit, t.unit),"
    " pathway = COALESCE(s.pathway, t.pathway),"
    " pathway_version = COALESCE(s.pathway_version, t.pathway_version),"
    " stage = COALESCE(s.stage, t.stage),"
    " role = COALESCE(s.role, t.role),"
    " owner = COALESCE(s.owner, t.owner),"
    " status = COALESCE(s.status, t.status),"
    " status_reason = COALESCE(s.status_reason, t.status_reason),"
    " resolved_by = COALESCE(s.resolved_by, t.resolved_by),"
    " completed_by = COALESCE(s.completed_by, t.completed_by),"
    " escalation_level = COALESCE(s.escalation_level, t.escalation_level),"
    " ack_due_at_ms = CASE WHEN s.set_dues THEN NULLIF(s.ack_due_at_ms, 0)"
    "  ELSE t.ack_due_at_ms END,"
    " complete_due_at_ms = CASE WHEN s.set_dues THEN NULLIF(s.complete_due_at_ms, 0)"
    "  ELSE t.complete_due_at_ms END,"
    " activated_at_ms = COALESCE(t.activated_at_ms, s.activated_at_ms),"
    " assigned_at_ms = COALESCE(s.assigned_at_ms, t.assigned_at_ms),"
    " acknowledged_at_ms = COALESCE(t.acknowledged_at_ms, s.acknowledged_at_ms),"
    " started_at_ms = COALESCE(t.started_at_ms, s.started_at_ms),"
    " completed_at_ms = COALESCE(t.completed_at_ms, s.completed_at_ms),"
    " closed_at_ms = COALESCE(s.closed_at_ms, t.closed_at_ms),"
    " ack_breached = t.ack_breached OR s.ack_breached,"
    " complete_breached = t.complete_breached OR s.complete_breached,"
    " skipped = t.skipped OR s.skipped,"
    " coverage_gap = t.coverage_gap OR s.coverage_gap,"
    " reassign_count = t.reassign_count + s.reassign_count,"
    " decline_count = t.decline_count + s.decline_count,"
    " escalation_count = t.escalation_count + s.escalation_count,"
    " action_count = t.action_count + s.action_count,"
    " override_count = t.override_count + s.override_count,"
    " updated_at_ms = GREATEST(t.updated_at_ms, COALESCE(s.updated_at_ms, 0))"
    " FROM s WHERE t.task_id = s.task_id RETURNING t.task_id)"
    /* new tasks straight in with their values (not a blank row updated: half the index work) */
    "INSERT INTO audit_tasks (task_id, instance_id, tenant, facility, unit, pathway,"
    " pathway_version, stage, role, owner, status, status_reason, resolved_by, completed_by,"
    " escalation_level, ack_due_at_ms, complete_due_at_ms, activated_at_ms, assigned_at_ms,"
    " acknowledged_at_ms, started_at_ms, completed_at_ms, closed_at_ms, ack_breached,"
    " complete_breached, skipped, coverage_gap, reassign_count, decline_count, escalation_count,"
    " action_count, override_count, updated_at_ms)"
    " SELECT task_id, COALESCE(instance_id, ''), COALESCE(tenant, ''), COALESCE(facility, ''),"
    " COALESCE(unit, ''), COALESCE(pathway, ''), COALESCE(pathway_version, 0),"
    " COALESCE(stage, ''), COALESCE(role, ''), COALESCE(owner, ''), COALESCE(status, ''),"
    " COALESCE(status_reason, ''), COALESCE(resolved_by, ''), COALESCE(completed_by, ''),"
    " COALESCE(escalation_level, 0),"
    " CASE WHEN set_dues THEN NULLIF(ack_due_at_ms, 0) END,"
    " CASE WHEN set_dues THEN NULLIF(complete_due_at_ms, 0) END,"
    " activated_at_ms, assigned_at_ms, acknowledged_at_ms, started_at_ms, completed_at_ms,"
    " closed_at_ms, ack_breached, complete_breached, skipped, coverage_gap, reassign_count,"
    " decline_count, escalation_count, action_count, override_count, COALESCE(updated_at_ms, 0)"
    " FROM s WHERE s.task_id NOT IN (SELECT task_id FROM u)";

static int copy_tasks(audit_proj_t *p, baton_pg_t *pg)
{
    stage_t s;
    stage_init(&s, 34);
    audit_copy_row_t r = {.n = 0};
    for (size_t i = 0; i < p->ntasks; i++) {
        const task_delta_t *t = &p->tasks[i];
        const char *strs[] = {t->task_id,  t->instance_id, t->tenant,
                              t->facility, t->unit,        t->pathway};
        for (size_t k = 0; k < 6; k++)
            audit__row_str(&r, strs[k]);
        audit__row_opt_int(&r, t->pathway_version, UNSET);
        const char *strs2[] = {t->stage,         t->role,        t->owner,       t->status,
                               t->status_reason, t->resolved_by, t->completed_by};
        for (size_t k = 0; k < 7; k++)
            audit__row_str(&r, strs2[k]);
        audit__row_opt_int(&r, t->escalation_level, UNSET);
        audit__row_bool(&r, t->set_dues);
        long long times[] = {t->ack_due,         t->complete_due, t->activated_at, t->assigned_at,
                             t->acknowledged_at, t->started_at,   t->completed_at, t->closed_at};
        for (size_t k = 0; k < 8; k++)
            audit__row_opt_int(&r, times[k], UNSET);
        audit__row_bool(&r, t->ack_breached);
        audit__row_bool(&r, t->complete_breached);
        audit__row_bool(&r, t->skipped);
        audit__row_bool(&r, t->coverage_gap);
        long long counts[] = {t->reassigns, t->declines, t->escalations, t->actions, t->overrides};
        for (size_t k = 0; k < 5; k++)
            audit__row_int(&r, counts[k]);
        audit__row_opt_int(&r, t->updated_at, UNSET);
        stage_row(&s, &r);
    }
    return stage_merge(&s, pg, task_merge);
}

static const char inst_merge[] =
    "WITH s AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[],"
    " $4::integer[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],"
    " $10::text[], $11::text[], $12::text[], $13::bigint[], $14::bigint[], $15::bigint[])"
    " AS s(instance_id, tenant, pathway, pathway_version, facility, unit,"
    " correlation_key, patient, encounter, trigger_event_id, status, status_reason,"
    " started_at_ms, closed_at_ms, updated_at_ms))"
    ", u AS (UPDATE audit_instances i SET"
    " tenant = COALESCE(s.tenant, i.tenant),"
    " pathway = COALESCE(s.pathway, i.pathway),"
    " pathway_version = COALESCE(s.pathway_version, i.pathway_version),"
    " facility = COALESCE(s.facility, i.facility),"
    " unit = COALESCE(s.unit, i.unit),"
    " correlation_key = COALESCE(s.correlation_key, i.correlation_key),"
    " patient = COALESCE(s.patient, i.patient),"
    " encounter = COALESCE(s.encounter, i.encounter),"
    " trigger_event_id = COALESCE(s.trigger_event_id, i.trigger_event_id),"
    /* a closed instance stays closed (a late 'active' cannot reopen it) */
    " status = CASE WHEN i.status <> 'active' AND s.status = 'active' THEN i.status"
    "  ELSE COALESCE(s.status, i.status) END,"
    " status_reason = COALESCE(s.status_reason, i.status_reason),"
    " started_at_ms = COALESCE(i.started_at_ms, s.started_at_ms),"
    " closed_at_ms = COALESCE(s.closed_at_ms, i.closed_at_ms),"
    " updated_at_ms = GREATEST(i.updated_at_ms, COALESCE(s.updated_at_ms, 0))"
    " FROM s WHERE i.instance_id = s.instance_id RETURNING i.instance_id)"
    "INSERT INTO audit_instances (instance_id, tenant, pathway, pathway_version, facility, unit,"
    " correlation_key, patient, encounter, trigger_event_id, status, status_reason,"
    " started_at_ms, closed_at_ms, updated_at_ms)"
    " SELECT instance_id, COALESCE(tenant, ''), COALESCE(pathway, ''),"
    " COALESCE(pathway_version, 0), COALESCE(facility, ''), COALESCE(unit, ''),"
    " COALESCE(correlation_key, ''), COALESCE(patient, ''), COALESCE(encounter, ''),"
    " COALESCE(trigger_event_id, ''), COALESCE(status, 'active'), COALESCE(status_reason, ''),"
    " started_at_ms, closed_at_ms, COALESCE(updated_at_ms, 0)"
    " FROM s WHERE s.instance_id NOT IN (SELECT instance_id FROM u)";

static int copy_instances(audit_proj_t *p, baton_pg_t *pg)
{
    stage_t s;
    stage_init(&s, 15);
    audit_copy_row_t r = {.n = 0};
    for (size_t i = 0; i < p->ninsts; i++) {
        const inst_delta_t *d = &p->insts[i];
        audit__row_str(&r, d->instance_id);
        audit__row_str(&r, d->tenant);
        audit__row_str(&r, d->pathway);
        audit__row_opt_int(&r, d->pathway_version, UNSET);
        const char *strs[] = {d->facility, d->unit,         d->correlation_key,
                              d->patient,  d->encounter,    d->trigger_event_id,
                              d->status,   d->status_reason};
        for (size_t k = 0; k < 8; k++)
            audit__row_str(&r, strs[k]);
        audit__row_opt_int(&r, d->started_at, UNSET);
        audit__row_opt_int(&r, d->closed_at, UNSET);
        audit__row_opt_int(&r, d->updated_at, UNSET);
        stage_row(&s, &r);
    }
    return stage_merge(&s, pg, inst_merge);
}

static const char notif_merge[] =
    "WITH s AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[],"
    " $4::text[], $5::text[], $6::text[], $7::integer[], $8::boolean[], $9::text[],"
    " $10::text[], $11::integer[], $12::bigint[], $13::bigint[], $14::bigint[]) AS"
    " s(notification_id, tenant, person, kind, task_id, instance_id, level, urgent,"
    " channel, outcome, attempts, latency_ms, requested_at_ms, updated_at_ms))"
    ", u AS (UPDATE audit_notifications n SET"
    " tenant = COALESCE(s.tenant, n.tenant), person = COALESCE(s.person, n.person),"
    " kind = COALESCE(s.kind, n.kind), task_id = COALESCE(s.task_id, n.task_id),"
    " instance_id = COALESCE(s.instance_id, n.instance_id), level = COALESCE(s.level, n.level),"
    " urgent = COALESCE(s.urgent, n.urgent), channel = COALESCE(s.channel, n.channel),"
    " outcome = COALESCE(s.outcome, n.outcome), attempts = COALESCE(s.attempts, n.attempts),"
    " latency_ms = COALESCE(s.latency_ms, n.latency_ms),"
    " requested_at_ms = COALESCE(n.requested_at_ms, s.requested_at_ms),"
    " updated_at_ms = GREATEST(n.updated_at_ms, COALESCE(s.updated_at_ms, 0))"
    " FROM s WHERE n.notification_id = s.notification_id RETURNING n.notification_id)"
    "INSERT INTO audit_notifications (notification_id, tenant, person, kind, task_id,"
    " instance_id, level, urgent, channel, outcome, attempts, latency_ms, requested_at_ms,"
    " updated_at_ms)"
    " SELECT notification_id, COALESCE(tenant, ''), COALESCE(person, ''), COALESCE(kind, ''),"
    " COALESCE(task_id, ''), COALESCE(instance_id, ''), COALESCE(level, 0),"
    " COALESCE(urgent, false), COALESCE(channel, ''), COALESCE(outcome, 'requested'),"
    " COALESCE(attempts, 0), latency_ms, requested_at_ms, COALESCE(updated_at_ms, 0)"
    " FROM s WHERE s.notification_id NOT IN (SELECT notification_id FROM u)";

static int copy_notifications(audit_proj_t *p, baton_pg_t *pg)
{
    stage_t s;
    stage_init(&s, 14);
    audit_copy_row_t r = {.n = 0};
    for (size_t i = 0; i < p->nnotifs; i++) {
        const notif_delta_t *d = &p->notifs[i];
        const char *strs[] = {d->id, d->tenant, d->person, d->kind, d->task_id, d->instance_id};
        for (size_t k = 0; k < 6; k++)
            audit__row_str(&r, strs[k]);
        audit__row_opt_int(&r, d->level, UNSET);
        if (d->urgent < 0)
            audit__row_str(&r, NULL);
        else
            audit__row_bool(&r, d->urgent);
        audit__row_str(&r, d->channel);
        audit__row_str(&r, d->outcome);
        audit__row_opt_int(&r, d->attempts, UNSET);
        audit__row_opt_int(&r, d->latency_ms, UNSET);
        audit__row_opt_int(&r, d->requested_at, UNSET);
        audit__row_opt_int(&r, d->updated_at, UNSET);
        stage_row(&s, &r);
    }
    return stage_merge(&s, pg, notif_merge);
}

static const char *const esc_cols[] = {"event_id", "task_id",     "instance_id", "tenant", "level",
                                       "step",     "step_action", "target_role", "at_ms"};

static int copy_escalations(audit_proj_t *p, baton_pg_t *pg)
{
    int rc = baton_pg_copy_begin(pg, "audit_escalations", esc_cols,
                                 (int)(sizeof esc_cols / sizeof *esc_cols));
    audit_copy_row_t r = {.n = 0};
    for (size_t i = 0; rc == 0 && i < p->nescs; i++) {
        const esc_row_t *x = &p->escs[i];
        audit__row_str(&r, x->event_id);
        audit__row_str(&r, x->task_id);
        audit__row_str(&r, x->instance_id);
        audit__row_str(&r, x->tenant);
        audit__row_int(&r, x->level);
        audit__row_int(&r, x->step);
        audit__row_str(&r, x->step_action);
        audit__row_str(&r, x->target_role);
        audit__row_int(&r, x->at_ms);
        rc = baton_pg_copy_row(pg, (const char *const *)r.v);
        audit__row_clear(&r);
    }
    if (rc == 0)
        return baton_pg_copy_end(pg, NULL);
    baton_pg_copy_abort(pg);
    return rc;
}

int audit__proj_apply(audit_proj_t *p, baton_pg_t *pg)
{
    /* (the join settings that make each staged key one index probe: write_tx) */
    int rc = 0;
    if (p->ntasks)
        rc = copy_tasks(p, pg);
    if (rc == 0 && p->ninsts)
        rc = copy_instances(p, pg);
    if (rc == 0 && p->nnotifs)
        rc = copy_notifications(p, pg);
    if (rc == 0 && p->nescs)
        rc = copy_escalations(p, pg);
    audit__proj_reset(p);
    return rc;
}
