/* Bundles: batch, transaction and subscription notifications (R4 backport and R4B/R5). */
#include "fhir_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BACKPORT_NOTIFICATION                                                                      \
    "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"                           \
    "backport-subscription-notification-r4"

typedef struct {
    const baton_fhir_opts_t *opts;
    const json_t *bundle;
    baton_fhir_result_t *r;
    json_t *agg; /* aggregate outcome (absolute expressions) */
    int failed;
} bctx_t;

/* An entry-level failure: an item with its own outcome, and the same issue in the aggregate. */
static void entry_error(bctx_t *b, int i, const char *code, const char *expr, const char *diag)
{
    baton_fhir_item_t item = {.kind = BATON_FHIR_ITEM_ERROR, .entry = i};
    item.outcome = baton_fhir_outcome_error(code, diag, expr);
    baton_fhir_outcome_add(b->agg, "error", code, diag, expr);
    fhir__push(b->r, &item);
    b->failed++;
}

static void skipped(bctx_t *b, int i)
{
    baton_fhir_item_t item = {.kind = BATON_FHIR_ITEM_SKIPPED, .entry = i};
    fhir__push(b->r, &item);
}

/* Map entry i's resource (an object with a supported resourceType). */
static void map_entry(bctx_t *b, int i, const json_t *res, const char *fallback)
{
    baton_fhir_item_t item;
    int rc = fhir__map_resource(b->opts, res, b->bundle, fallback, &item);
    item.entry = i;
    if (rc) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "Bundle.entry[%d].resource", i);
        baton_fhir_outcome_merge(b->agg, item.outcome, prefix);
        b->failed++;
    }
    fhir__push(b->r, &item);
}

/* The resource of an entry if it is an object with a resourceType string; issues otherwise. */
static const json_t *entry_resource(bctx_t *b, int i, const json_t *e, int required)
{
    char expr[64];
    snprintf(expr, sizeof expr, "Bundle.entry[%d].resource", i);
    const json_t *res = json_object_get(e, "resource");
    if (!res) {
        if (required)
            entry_error(b, i, "required", expr, "the entry has no resource");
        return NULL;
    }
    if (!json_is_object(res)) {
        entry_error(b, i, "structure", expr, "the resource must be an object");
        return NULL;
    }
    if (!json_is_string(json_object_get(res, "resourceType"))) {
        entry_error(b, i, "required", expr, "the resource has no resourceType");
        return NULL;
    }
    return res;
}

static void batch_entry(bctx_t *b, int i, const json_t *e)
{
    char expr[64];
    if (!json_is_object(e)) {
        snprintf(expr, sizeof expr, "Bundle.entry[%d]", i);
        entry_error(b, i, "structure", expr, "the entry must be an object");
        return;
    }
    const json_t *res = entry_resource(b, i, e, 1);
    if (!res)
        return;
    const char *method =
        json_string_value(json_object_get(json_object_get(e, "request"), "method"));
    if (!method) {
        snprintf(expr, sizeof expr, "Bundle.entry[%d].request.method", i);
        entry_error(b, i, "required", expr, "batch and transaction entries need request.method");
        return;
    }
    if (strcmp(method, "POST") != 0 && strcmp(method, "PUT") != 0) {
        snprintf(expr, sizeof expr, "Bundle.entry[%d].request.method", i);
        entry_error(b, i, "not-supported", expr, "only POST and PUT entries are accepted");
        return;
    }
    const char *rtype = json_string_value(json_object_get(res, "resourceType"));
    if (!fhir__supported(rtype)) {
        snprintf(expr, sizeof expr, "Bundle.entry[%d].resource", i);
        entry_error(b, i, "not-supported", expr,
                    "only Encounter, ServiceRequest and Task resources are accepted");
        return;
    }
    map_entry(b, i, res, json_string_value(json_object_get(b->bundle, "timestamp")));
}

/* Value of the SubscriptionStatus parameter `name` (valueCode / valueString), or NULL. */
static const json_t *param(const json_t *params, const char *name)
{
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(params, "parameter"), i, p)
    {
        const char *n = json_string_value(json_object_get(p, "name"));
        if (n && strcmp(n, name) == 0)
            return p;
    }
    return NULL;
}

static int is_notification(const json_t *bundle, const char *type)
{
    if (strcmp(type, "subscription-notification") == 0)
        return 1;
    if (strcmp(type, "history") != 0)
        return 0;
    size_t i;
    json_t *prof;
    json_array_foreach(json_object_get(json_object_get(bundle, "meta"), "profile"), i, prof)
    {
        const char *s = json_string_value(prof);
        if (s && strncmp(s, BACKPORT_NOTIFICATION, strlen(BACKPORT_NOTIFICATION)) == 0)
            return 1;
    }
    const json_t *first =
        json_object_get(json_array_get(json_object_get(bundle, "entry"), 0), "resource");
    const char *rt = json_string_value(json_object_get(first, "resourceType"));
    return rt && strcmp(rt, "Parameters") == 0 && param(first, "type");
}

/* Does `ref` (focus reference) name the resource at fullUrl / Type/id? */
static int same_resource(const char *ref, const char *full_url, const json_t *res)
{
    if (full_url && strcmp(ref, full_url) == 0)
        return 1;
    const char *rt = json_string_value(json_object_get(res, "resourceType"));
    const char *id = json_string_value(json_object_get(res, "id"));
    if (!rt || !id)
        return 0;
    char tail[160];
    snprintf(tail, sizeof tail, "%s/%s", rt, id);
    size_t n = strlen(ref), t = strlen(tail);
    return n >= t && strcmp(ref + n - t, tail) == 0 && (n == t || ref[n - t - 1] == '/');
}

/* The notification-event timestamp whose focus is this entry, else Bundle.timestamp. */
static const char *event_time(const json_t *status, const json_t *entry, const json_t *res,
                              const json_t *bundle)
{
    const char *full = json_string_value(json_object_get(entry, "fullUrl"));
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(status, "parameter"), i, p)
    {
        const char *n = json_string_value(json_object_get(p, "name"));
        if (!n || strcmp(n, "notification-event") != 0)
            continue;
        const char *focus = NULL, *ts = NULL;
        size_t j;
        json_t *part;
        json_array_foreach(json_object_get(p, "part"), j, part)
        {
            const char *pn = json_string_value(json_object_get(part, "name"));
            if (pn && strcmp(pn, "focus") == 0)
                focus = json_string_value(
                    json_object_get(json_object_get(part, "valueReference"), "reference"));
            else if (pn && strcmp(pn, "timestamp") == 0)
                ts = json_string_value(json_object_get(part, "valueInstant"));
        }
        if (focus && ts && same_resource(focus, full, res))
            return ts;
    }
    return json_string_value(json_object_get(bundle, "timestamp"));
}

static int notification(bctx_t *b, const char *btype)
{
    baton_fhir_result_t *r = b->r;
    const json_t *entries = json_object_get(b->bundle, "entry");
    r->input = BATON_FHIR_NOTIFICATION;
    const json_t *status = json_object_get(json_array_get(entries, 0), "resource");
    const char *srt = json_string_value(json_object_get(status, "resourceType"));
    if (!srt || strcmp(srt, "Parameters") != 0) {
        baton_fhir_outcome_add(b->agg, "error", "structure",
                               "the first entry of a subscription notification must be a "
                               "SubscriptionStatus Parameters resource",
                               "Bundle.entry[0].resource");
        return BATON_EINVAL;
    }
    const json_t *tp = param(status, "type");
    const char *ntype = json_string_value(json_object_get(tp, "valueCode"));
    static const char *const ntypes[] = {"handshake",    "heartbeat",   "event-notification",
                                         "query-status", "query-event", NULL};
    int known = 0;
    for (size_t i = 0; ntype && ntypes[i]; i++)
        known |= strcmp(ntype, ntypes[i]) == 0;
    if (!ntype)
        baton_fhir_outcome_add(b->agg, "error", "required",
                               "the SubscriptionStatus has no type parameter (valueCode)",
                               "Bundle.entry[0].resource.parameter");
    else if (!known)
        baton_fhir_outcome_add(b->agg, "error", "value",
                               "the SubscriptionStatus type is not a notification type",
                               "Bundle.entry[0].resource.parameter");
    if (strcmp(btype, "history") == 0) {
        /* R4 history bundles need request and response on every entry */
        size_t i;
        json_t *e;
        char expr[64];
        json_array_foreach(entries, i, e)
        {
            static const char *const need[] = {"request", "response"};
            for (size_t k = 0; k < 2; k++) {
                if (json_is_object(json_object_get(e, need[k])))
                    continue;
                snprintf(expr, sizeof expr, "Bundle.entry[%zu].%s", i, need[k]);
                baton_fhir_outcome_add(b->agg, "error", "required",
                                       need[k][2] == 'q'
                                           ? "history bundle entries need entry.request"
                                           : "history bundle entries need entry.response",
                                       expr);
            }
        }
    }
    if (baton_fhir_outcome_count(b->agg))
        return BATON_EINVAL;
    baton_strlcpy(r->notification_type, ntype, sizeof r->notification_type);
    if (strcmp(ntype, "event-notification") != 0)
        return 0; /* handshake, heartbeat, query-*: accepted, nothing to emit */
    for (size_t i = 1; i < json_array_size(entries); i++) {
        const json_t *e = json_array_get(entries, i);
        const json_t *res = json_object_get(e, "resource");
        if (!res) {
            skipped(b, (int)i); /* id-only / empty: the sender only tells us what changed */
            continue;
        }
        res = entry_resource(b, (int)i, e, 0);
        if (!res)
            continue;
        if (!fhir__supported(json_string_value(json_object_get(res, "resourceType")))) {
            skipped(b, (int)i);
            continue;
        }
        map_entry(b, (int)i, res, event_time(status, e, res, b->bundle));
    }
    return 0;
}

/* A failed transaction emits nothing: its mapped entries become skipped items. */
static void drop_events(baton_fhir_result_t *r)
{
    for (size_t i = 0; i < r->n_items; i++) {
        if (r->items[i].kind != BATON_FHIR_ITEM_EVENT)
            continue;
        json_decref(r->items[i].event);
        r->items[i].event = NULL;
        free(r->items[i].source_message_id);
        r->items[i].source_message_id = NULL;
        r->items[i].kind = BATON_FHIR_ITEM_SKIPPED;
    }
    r->n_events = 0;
}

int fhir__bundle(const baton_fhir_opts_t *opts, const json_t *bundle, baton_fhir_result_t *r)
{
    bctx_t b = {.opts = opts, .bundle = bundle, .r = r, .agg = baton_fhir_outcome_new()};
    int rc = 0;
    json_t *tv = json_object_get(bundle, "type");
    json_t *entries = json_object_get(bundle, "entry");
    const char *type = json_string_value(tv);
    if (!tv) {
        baton_fhir_outcome_add(b.agg, "error", "required", "Bundle.type is required",
                               "Bundle.type");
        rc = BATON_EINVAL;
    } else if (!type) {
        baton_fhir_outcome_add(b.agg, "error", "structure", "must be a string", "Bundle.type");
        rc = BATON_EINVAL;
    } else if (entries && !json_is_array(entries)) {
        baton_fhir_outcome_add(b.agg, "error", "structure", "must be an array", "Bundle.entry");
        rc = BATON_EINVAL;
    } else if (json_array_size(entries) > BATON_FHIR_ENTRY_MAX) {
        baton_fhir_outcome_add(b.agg, "error", "too-costly", "more than 1000 entries",
                               "Bundle.entry");
        rc = BATON_ETOOBIG;
    } else if (strcmp(type, "batch") == 0 || strcmp(type, "transaction") == 0) {
        int txn = type[0] == 't';
        r->input = txn ? BATON_FHIR_TRANSACTION : BATON_FHIR_BATCH;
        size_t i;
        json_t *e;
        json_array_foreach(entries, i, e) batch_entry(&b, (int)i, e);
        rc = txn && b.failed ? BATON_EINVAL : 0;
    } else if (is_notification(bundle, type)) {
        if (!json_array_size(entries)) {
            baton_fhir_outcome_add(b.agg, "error", "required",
                                   "a subscription notification needs its SubscriptionStatus "
                                   "entry",
                                   "Bundle.entry");
            rc = BATON_EINVAL;
        } else {
            rc = notification(&b, type);
        }
    } else {
        baton_fhir_outcome_add(b.agg, "error", "not-supported",
                               "only batch, transaction and subscription notification bundles "
                               "are accepted",
                               "Bundle.type");
        rc = BATON_ENOENT;
    }
    if (rc) {
        r->outcome = b.agg;
        if (r->input == BATON_FHIR_TRANSACTION)
            drop_events(r); /* all or nothing */
    } else {
        json_decref(b.agg);
    }
    return rc;
}
