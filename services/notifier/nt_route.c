/* nt_route.c — what happens to a claimed job before any transfer: the person (read through
 * a short cache), the contact (preference order, configured channels only), dead letters for
 * what cannot be delivered at all, quiet-hours holds, and grouping one person's non-urgent
 * notifications of a claim round into a bundle. */
#include "notifier.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- people */

static baton_roster_person_t *person(nt_svc_t *s, const char *tenant, const char *id, int *rc)
{
    int64_t now = baton_mono_ms();
    char *key = baton_xasprintf("%s\n%s", tenant, id);
    nt_person_t **pp = &s->people;
    while (*pp) {
        nt_person_t *c = *pp;
        if (c->until_ms < now) { /* expired: drop */
            *pp = c->next;
            free(c->key);
            baton_roster_person_free(c->p);
            free(c);
            continue;
        }
        if (strcmp(c->key, key) == 0) {
            free(key);
            *rc = c->p ? 0 : BATON_ENOENT;
            return c->p;
        }
        pp = &c->next;
    }
    baton_roster_person_t *p = NULL;
    char err[256] = "";
    *rc = baton_roster_person_get(s->redis_d, tenant, id, &p, err, sizeof err);
    if (*rc != 0 && *rc != BATON_ENOENT) {
        free(key);
        return NULL;
    }
    nt_person_t *c = baton_xcalloc(1, sizeof *c);
    c->key = key;
    c->p = p;
    c->until_ms = now + s->cfg->person_cache_ms;
    c->next = s->people;
    s->people = c;
    return p;
}

void nt_people_free(nt_svc_t *s)
{
    while (s->people) {
        nt_person_t *c = s->people;
        s->people = c->next;
        free(c->key);
        baton_roster_person_free(c->p);
        free(c);
    }
}

/* ---------------------------------------------------------------- claiming */

/* A job that cannot be delivered at all: dead letter + DEAD_LETTERED receipt. */
static void dead_now(nt_svc_t *s, nt_job_t *j, const char *reason, const char *cls)
{
    nt_out_t *dl = nt_out_new();
    nt_dead_letter(j, reason, j->attempts, NULL, 0, NULL, 0, NULL, dl);
    if (j->env) {
        nt_out_t *r = nt_out_new();
        nt_receipt(j, "", NT_DEAD, j->attempts, reason, NULL, r);
        dl->next = r;
    }
    nt_dlq_count(s, cls);
    nt_finish_job(s, j, "dead_lettered", dl);
}

/* Sort key of a bundle member: created time, then id. */
static int job_cmp(const nt_job_t *a, const nt_job_t *b)
{
    int64_t x = a->env->notification_request->created_at_ms;
    int64_t y = b->env->notification_request->created_at_ms;
    if (x != y)
        return x < y ? -1 : 1;
    return strcmp(a->id, b->id);
}

static void add_member(nt_delivery_t *d, nt_job_t *j)
{
    nt_job_t **pp = &d->jobs;
    while (*pp && job_cmp(*pp, j) <= 0)
        pp = &(*pp)->next;
    j->next = *pp;
    *pp = j;
    d->njobs++;
}

/* The bundle id: derived from the members' ids, so a resent bundle keeps its id. */
void nt_bundle_id(nt_delivery_t *d)
{
    baton_buf_t b = BATON_BUF_INIT;
    baton_buf_puts(&b, "bundle");
    for (nt_job_t *j = d->jobs; j; j = j->next)
        baton_buf_appendf(&b, ":%s", j->id);
    baton_derived_id(d->jobs->id, b.data, d->bundle_id);
    baton_buf_free(&b);
}

/* Where j goes: the first of the person's contacts (preference order) on a configured
 * channel. Returns NULL when there is none. */
static const baton_roster_contact_t *contact(nt_svc_t *s, const baton_roster_person_t *p)
{
    for (size_t i = 0; i < p->ncontacts; i++)
        if (nt_channel_enabled(s->cfg, p->contacts[i].channel))
            return &p->contacts[i];
    return NULL;
}

/* One claimed job: dead-lettered, held, or added to a delivery of this round (*ds). */
void nt_route(nt_svc_t *s, nt_job_t *j, nt_delivery_t **ds, int64_t now)
{
    if (!j->env) {
        dead_now(s, j, "stored request does not decode", "malformed");
        return;
    }
    const Baton__V1__NotificationRequest *req = j->env->notification_request;
    int rc = 0;
    baton_roster_person_t *p = person(s, j->env->tenant, req->person, &rc);
    if (rc != 0 && rc != BATON_ENOENT) { /* Redis trouble: try again shortly */
        nt_reschedule_job(s, j, j->attempts, j->held, now + 1000, NULL);
        return;
    }
    if (!p) {
        dead_now(s, j, "unknown person", "unknown_person");
        return;
    }
    const baton_roster_contact_t *c = contact(s, p);
    if (!c) {
        dead_now(s, j, "no contact on a configured channel", "no_contact");
        return;
    }
    bool urgent = nt_is_urgent(req);
    int64_t until = urgent ? 0 : nt_quiet_until(p, now);
    if (until > 0) {
        nt_out_t *r = NULL;
        if (!j->held) {
            r = nt_out_new();
            nt_receipt(j, baton_roster_channel_name(c->channel), NT_SUPPRESSED, j->attempts,
                       "held: quiet hours", NULL, r);
            baton_counter_inc(s->m.deliveries[c->channel][NT_SUPPRESSED]);
            baton_counter_inc(s->m.held);
        }
        nt_reschedule_job(s, j, j->attempts, true, until, r);
        return;
    }
    if (!urgent && s->cfg->bundle_window_ms > 0) {
        for (nt_delivery_t *d = *ds; d; d = d->next) {
            const nt_job_t *h = d->jobs;
            if (d->channel == c->channel && strcmp(d->address, c->address) == 0 &&
                !nt_is_urgent(h->env->notification_request) &&
                strcmp(h->env->tenant, j->env->tenant) == 0 &&
                strcmp(h->env->notification_request->person, req->person) == 0) {
                add_member(d, j);
                return;
            }
        }
    }
    nt_delivery_t *d = baton_xcalloc(1, sizeof *d);
    d->channel = c->channel;
    d->address = baton_xstrdup(c->address);
    add_member(d, j);
    d->next = *ds;
    *ds = d;
}
