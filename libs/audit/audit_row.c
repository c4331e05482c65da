/* audit_row.c — the canonical hash input of a row, its hash, the month partition key, and the
 * row fields an Envelope yields (instance, task, actor). */
#include "audit_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static void put_field(baton_buf_t *b, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    baton_buf_put_int(b, (long long)n);
    baton_buf_putc(b, ':');
    if (n)
        baton_buf_append(b, s, n);
    baton_buf_putc(b, ';');
}

static void put_int(baton_buf_t *b, long long v)
{
    char num[24];
    baton_buf_t t = {num, 0, sizeof num}; /* fits: at most 20 characters and the NUL */
    baton_buf_put_int(&t, v);
    put_field(b, num);
}

void baton_audit_row_hash_input(const baton_audit_row_t *r, baton_buf_t *out)
{
    put_field(out, r->prev_hash);
    put_field(out, r->topic);
    put_int(out, r->partition);
    put_int(out, r->offset);
    put_int(out, r->seq);
    put_field(out, r->recorded_month);
    put_field(out, r->event_id);
    put_field(out, r->event_type);
    put_field(out, r->tenant);
    put_field(out, r->instance_id);
    put_field(out, r->task_id);
    put_field(out, r->actor);
    put_int(out, r->occurred_at_ms);
    put_int(out, r->recorded_at_ms);
    put_field(out, r->payload);
}

void baton_audit_row_hash(baton_audit_row_t *r)
{
    baton_buf_t b = BATON_BUF_INIT;
    baton_audit_row_hash_input(r, &b);
    baton_sha256_hex(b.data, b.len, r->hash);
    baton_buf_free(&b);
}

void baton_audit_month(int64_t ms, char out[11])
{
    /* the proleptic Gregorian year and month of a day count (days since 1970-01-01, UTC), by
     * 400-year eras of 146,097 days, with years starting in March so leap days come last */
    int64_t days = ms < 0 ? 0 : ms / 86400000;
    days += 719468; /* days from 0000-03-01 to 1970-01-01 */
    int64_t era = days / 146097;
    int64_t doe = days - era * 146097;                                   /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    int64_t mp = (5 * doy + 2) / 153;                                    /* March = 0 */
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    int y = (int)((yoe + era * 400 + (m <= 2)) % 10000);
    out[0] = (char)('0' + y / 1000);
    out[1] = (char)('0' + y / 100 % 10);
    out[2] = (char)('0' + y / 10 % 10);
    out[3] = (char)('0' + y % 10);
    out[4] = '-';
    out[5] = (char)('0' + m / 10);
    out[6] = (char)('0' + m % 10);
    memcpy(out + 7, "-01", 4);
}

static const char *nz(const char *s)
{
    return s && *s ? s : NULL;
}

/* The TaskRef of a task event, or NULL. */
const Baton__V1__TaskRef *audit__taskref(const Baton__V1__Envelope *e)
{
    switch (e->body_case) {
    case BATON__V1__ENVELOPE__BODY_TASK_ASSIGNED:
        return e->task_assigned->task;
    case BATON__V1__ENVELOPE__BODY_TASK_ACKNOWLEDGED:
        return e->task_acknowledged->task;
    case BATON__V1__ENVELOPE__BODY_TASK_STARTED:
        return e->task_started->task;
    case BATON__V1__ENVELOPE__BODY_TASK_COMPLETED:
        return e->task_completed->task;
    case BATON__V1__ENVELOPE__BODY_TASK_DECLINED:
        return e->task_declined->task;
    case BATON__V1__ENVELOPE__BODY_TASK_REASSIGNED:
        return e->task_reassigned->task;
    case BATON__V1__ENVELOPE__BODY_TASK_ESCALATED:
        return e->task_escalated->task;
    case BATON__V1__ENVELOPE__BODY_TASK_CANCELLED:
        return e->task_cancelled->task;
    case BATON__V1__ENVELOPE__BODY_TASK_SKIPPED:
        return e->task_skipped->task;
    case BATON__V1__ENVELOPE__BODY_TASK_COMMENTED:
        return e->task_commented->task;
    case BATON__V1__ENVELOPE__BODY_TASK_DEADLINE_MISSED:
        return e->task_deadline_missed->task;
    default:
        return NULL;
    }
}

void audit__refs(const Baton__V1__Envelope *e, const char **instance, const char **task,
                 const char **actor)
{
    const char *i = NULL, *t = NULL, *a = NULL;
    const Baton__V1__TaskRef *ref = audit__taskref(e);
    if (ref) {
        i = ref->instance_id;
        t = ref->task_id;
    }
    switch (e->body_case) {
    case BATON__V1__ENVELOPE__BODY_INSTANCE_STARTED:
        i = e->instance_started->instance_id;
        break;
    case BATON__V1__ENVELOPE__BODY_INSTANCE_COMPLETED:
        i = e->instance_completed->instance_id;
        break;
    case BATON__V1__ENVELOPE__BODY_INSTANCE_CANCELLED:
        i = e->instance_cancelled->instance_id;
        break;
    case BATON__V1__ENVELOPE__BODY_TRIGGER_IGNORED:
        i = e->trigger_ignored->instance_id;
        break;
    case BATON__V1__ENVELOPE__BODY_COVERAGE_GAP:
        i = e->coverage_gap->instance_id;
        t = e->coverage_gap->task_id;
        break;
    case BATON__V1__ENVELOPE__BODY_NOTIFICATION_REQUEST:
        i = e->notification_request->instance_id;
        t = e->notification_request->task_id;
        break;
    case BATON__V1__ENVELOPE__BODY_NOTIFICATION_RECEIPT: /* empty in receipts before v1.1 */
        i = e->notification_receipt->instance_id;
        t = e->notification_receipt->task_id;
        break;
    case BATON__V1__ENVELOPE__BODY_TIMER_FIRED:
        i = e->timer_fired->instance_id;
        t = e->timer_fired->task_id;
        break;
    case BATON__V1__ENVELOPE__BODY_TIMER_SCHEDULE:
        if (e->timer_schedule->fire) {
            i = e->timer_schedule->fire->instance_id;
            t = e->timer_schedule->fire->task_id;
        }
        break;
    case BATON__V1__ENVELOPE__BODY_STAFF_ACTION:
        i = e->staff_action->instance_id;
        t = e->staff_action->task_id;
        a = e->staff_action->actor;
        break;
    case BATON__V1__ENVELOPE__BODY_ACTION_REJECTED:
        t = e->action_rejected->task_id;
        a = e->action_rejected->actor;
        break;
    case BATON__V1__ENVELOPE__BODY_TASK_ACKNOWLEDGED:
        a = e->task_acknowledged->actor;
        break;
    case BATON__V1__ENVELOPE__BODY_TASK_STARTED:
        a = e->task_started->actor;
        break;
    case BATON__V1__ENVELOPE__BODY_TASK_COMPLETED:
        a = e->task_completed->actor;
        break;
    case BATON__V1__ENVELOPE__BODY_TASK_DECLINED:
        a = e->task_declined->actor;
        break;
    case BATON__V1__ENVELOPE__BODY_TASK_REASSIGNED:
        a = e->task_reassigned->actor;
        break;
    case BATON__V1__ENVELOPE__BODY_TASK_COMMENTED:
        a = e->task_commented->actor;
        break;
    default:
        break;
    }
    *instance = nz(i);
    *task = nz(t);
    *actor = nz(a) ? a : nz(e->producer);
}
