/* hl7.c — one HL7 v2 message in, one ACK out (shared by POST /v1/hl7v2 and the MLLP listener):
 * parse → map to the canonical event (libs/hl7) → canonical validation (libs/canon) → MSH-10
 * dedup → Kafka ack → AA. Bad content is AE, a message Baton will not take (unknown sender,
 * unsupported type) AR, and AR with ERR-3 207 when Kafka or Redis is down (HL7's "rejected for
 * reasons unrelated to content": the sender retries). */
#include "ingest.h"

#include <stdlib.h>
#include <string.h>

#define HL7_CONTENT_TYPE "x-application/hl7-v2+er7; charset=utf-8"

static void set_err(baton_hl7_error_t *e, int code, const char *ack, int hl7, const char *seg,
                    int field, const char *text)
{
    memset(e, 0, sizeof *e);
    e->code = code;
    baton_strlcpy(e->ack, ack, sizeof e->ack);
    e->hl7_code = hl7;
    if (seg)
        baton_strlcpy(e->seg_id, seg, sizeof e->seg_id);
    e->field = field;
    baton_strlcpy(e->text, text, sizeof e->text);
}

static ingest_reject_t map_reason(int rc)
{
    return rc == BATON_EPERM    ? INGEST_REJ_UNKNOWN_SENDER
           : rc == BATON_ENOENT ? INGEST_REJ_UNSUPPORTED
                                : INGEST_REJ_INVALID;
}

/* Map with the sender table; over HTTP the API key's tenant decides when no rule matches,
 * and a rule naming another tenant is refused. */
static int map_message(ingest_t *app, baton_hl7_msg_t *m, const char *tenant_override, json_t **ev,
                       baton_hl7_error_t *e)
{
    int rc = baton_hl7_map(m, &app->hl7map, ev, e);
    if (!tenant_override)
        return rc;
    if (rc == BATON_EPERM) {
        baton_hl7_sender_t any = {NULL, NULL, tenant_override};
        baton_hl7_map_config_t c = app->hl7map;
        c.senders = &any;
        c.nsenders = 1;
        memset(e, 0, sizeof *e);
        return baton_hl7_map(m, &c, ev, e);
    }
    if (rc == 0) {
        const char *t = json_string_value(json_object_get(*ev, "tenant"));
        if (!t || strcmp(t, tenant_override) != 0) {
            json_decref(*ev);
            *ev = NULL;
            set_err(e, BATON_EPERM, "AR", BATON_HL7_ERR_TABLE_VALUE, "MSH", 4,
                    "sending facility belongs to another tenant");
            return BATON_EPERM;
        }
    }
    return rc;
}

/* HL7 location names ("HOMERTON UNIVER", "4 East") become canonical identifiers: characters
 * outside [A-Za-z0-9._:-] turn into '_', leading non-alphanumerics are dropped, at most 64
 * bytes. A name left empty is removed (facility and unit are optional). */
static void normalize_place(json_t *ev, const char *member)
{
    const char *v = json_string_value(json_object_get(ev, member));
    if (!v)
        return;
    char out[BATON_CANON_PLACE_MAX + 1];
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)v; *p && n < BATON_CANON_PLACE_MAX; p++) {
        bool alnum =
            (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9');
        if (n == 0 && !alnum)
            continue;
        out[n++] = alnum || *p == '.' || *p == '_' || *p == ':' || *p == '-' ? (char)*p : '_';
    }
    out[n] = '\0';
    if (n == 0)
        json_object_del(ev, member);
    else
        json_object_set_new(ev, member, json_string(out));
}

/* Canonical validation problems → an AE error naming the HL7 field where we can. */
static void canon_err(baton_hl7_msg_t *m, const baton_canon_problems_t *p, baton_hl7_error_t *e)
{
    char text[160];
    const char *ptr = p->n ? p->items[0].pointer : "";
    snprintf(text, sizeof text, "%s: %s", ptr, p->n ? p->items[0].detail : "invalid");
    const char *seg = NULL;
    int field = 0;
    if (strcmp(ptr, "/occurred_at") == 0) {
        bool evn = baton_hl7_get(m, "EVN", 1, 2, 1, 1, 0) != NULL;
        seg = evn ? "EVN" : "MSH";
        field = evn ? 2 : 7;
    } else if (strcmp(ptr, "/id") == 0) {
        seg = "MSH";
        field = 10;
    } else if (strcmp(ptr, "/patient") == 0) {
        seg = "PID";
        field = 3;
    } else if (strcmp(ptr, "/encounter") == 0) {
        seg = "PV1";
        field = 19;
    }
    set_err(e, BATON_EINVAL, "AE", BATON_HL7_ERR_DATA_TYPE, seg, field, text);
    for (size_t i = 0; seg && i < baton_hl7_segment_count(m); i++) {
        if (strcmp(baton_hl7_segment_id(m, i), seg) == 0) {
            e->segment = (int)i + 1; /* the first one: ERR-2 occurrence 1 */
            break;
        }
    }
    if (seg && !e->segment)
        e->seg_id[0] = '\0', e->field = 0; /* absent segment (no PV1 for /encounter): no location */
}

static char *finish(ingest_t *app, baton_hl7_msg_t *m, const char *data, size_t len,
                    const baton_hl7_error_t *e, size_t *acklen, char *outcome, char code)
{
    baton_hl7_ack_opts_t ao = {0};
    char *ack = m ? baton_hl7_ack(m, e, &ao, acklen) : baton_hl7_ack_raw(data, len, e, &ao, acklen);
    *outcome = code;
    baton_counter_inc(app->m.hl7_acks[code == 'A' ? 0 : code == 'E' ? 1 : 2]);
    baton_hl7_msg_free(m);
    return ack;
}

char *ingest_hl7_process(ingest_t *app, const char *data, size_t len, const char *tenant_override,
                         size_t *acklen, char *outcome)
{
    baton_hl7_msg_t *m = NULL;
    baton_hl7_error_t e;
    memset(&e, 0, sizeof e);
    if (baton_hl7_parse(data, len, &m, &e) != 0) {
        ingest_metrics_rejected(&app->m, INGEST_SRC_HL7,
                                e.code == BATON_ETOOBIG ? INGEST_REJ_TOO_LARGE
                                                        : INGEST_REJ_MALFORMED);
        if (!e.ack[0])
            baton_strlcpy(e.ack, "AE", sizeof e.ack);
        return finish(app, NULL, data, len, &e, acklen, outcome, e.ack[1]);
    }
    json_t *ev = NULL;
    int rc = map_message(app, m, tenant_override, &ev, &e);
    if (rc) {
        ingest_metrics_rejected(&app->m, INGEST_SRC_HL7, map_reason(rc));
        if (!e.ack[0])
            baton_strlcpy(e.ack, rc == BATON_EINVAL ? "AE" : "AR", sizeof e.ack);
        return finish(app, m, data, len, &e, acklen, outcome, e.ack[1]);
    }
    normalize_place(ev, "facility");
    normalize_place(ev, "unit");
    baton_canon_opts_t o = {0};
    o.auth_tenant = json_string_value(json_object_get(ev, "tenant"));
    o.source = "hl7v2";
    o.source_message_id = baton_hl7_get(m, "MSH", 1, 10, 1, 0, 0);
    baton_canon_problems_t probs = BATON_CANON_PROBLEMS_INIT;
    Baton__V1__Envelope *env = NULL;
    rc = baton_canon_convert(ev, &o, &env, &probs);
    if (rc) {
        canon_err(m, &probs, &e);
        baton_canon_problems_free(&probs);
        json_decref(ev);
        ingest_metrics_rejected(&app->m, INGEST_SRC_HL7, INGEST_REJ_INVALID);
        return finish(app, m, data, len, &e, acklen, outcome, 'E');
    }
    int status = 0;
    rc = ingest_accept(app, INGEST_SRC_HL7, env->tenant, &env, 1, &status);
    baton_canon_envelope_free(env);
    json_decref(ev);
    if (rc) {
        set_err(&e, BATON_EUNAVAIL, "AR", BATON_HL7_ERR_INTERNAL, NULL, 0,
                "temporarily unable to store the message; send it again later");
        return finish(app, m, data, len, &e, acklen, outcome, 'U');
    }
    return finish(app, m, data, len, NULL, acklen, outcome, 'A');
}

static void post_hl7(baton_http_req_t *req, baton_http_resp_t *resp, void *ud)
{
    static const char *const types[] = {"x-application/hl7-v2+er7", "application/hl7-v2",
                                        "text/plain", "application/edi-hl7v2", NULL};
    ingest_t *app = ud;
    ingest_caller_t who;
    if (!ingest_auth_key(app, req, resp, INGEST_SCOPE_EVENTS, INGEST_ERR_PROBLEM, INGEST_SRC_HL7,
                         false, &who))
        return;
    if (!ingest_content_type_is(req, types, true)) {
        ingest_metrics_rejected(&app->m, INGEST_SRC_HL7, INGEST_REJ_UNSUPPORTED);
        baton_http_problem(resp, 415, "unsupported-media-type", "Unsupported Media Type",
                           "send one HL7 v2 message as x-application/hl7-v2+er7 or text/plain");
        return;
    }
    size_t alen = 0;
    char outcome = 'A';
    char *ack = ingest_hl7_process(app, req->body, req->body_len, who.tenant, &alen, &outcome);
    int status = outcome == 'A' ? 202 : outcome == 'E' ? 400 : outcome == 'R' ? 422 : 503;
    if (outcome == 'U')
        baton_http_resp_header(resp, "Retry-After", app->retry_after);
    baton_http_respond(resp, status, HL7_CONTENT_TYPE, ack, alen);
    free(ack);
    ingest_caller_free(&who);
}

void ingest_routes_hl7(ingest_t *app)
{
    baton_http_route(app->http, "POST", "/v1/hl7v2", post_hl7, app);
}
