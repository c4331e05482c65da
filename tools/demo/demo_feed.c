/* The compressed hospital day: what the EHR sends, and when (offsets from the start, scaled to
 * the demo's length). Discharges come as canonical JSON orders (some to a skilled nursing
 * facility, one cancelled by an HL7 A13), consults as FHIR ServiceRequests (one STAT as JSON),
 * and after the shift change each unit's nurses hand their patients off. */
#include "demo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { EV_DISCHARGE, EV_CANCEL_DISCHARGE, EV_CONSULT, EV_HANDOFF } demo_ev_kind_t;

typedef struct {
    int at_permille; /* when, in thousandths of the demo's length */
    demo_ev_kind_t kind;
    const char *facility, *unit;
    int patient;     /* patient number: MRN-<n>, encounter ENC-<n> */
    const char *arg; /* discharge: disposition; consult: specialty; handoff: fall risk */
    int sent;
} demo_ev_t;

static demo_ev_t feed[] = {
    {20, EV_DISCHARGE, "NORTH", "4W", 1001, "home", 0},
    {40, EV_DISCHARGE, "NORTH", "5E", 1002, "snf", 0},
    {60, EV_CONSULT, "NORTH", "4W", 1003, "cardiology", 0},
    {90, EV_DISCHARGE, "SOUTH", "3S", 2001, "home", 0},
    {110, EV_DISCHARGE, "NORTH", "4W", 1004, "home", 0},
    {140, EV_CONSULT, "SOUTH", "3S", 2002, "stat", 0},
    {170, EV_DISCHARGE, "NORTH", "5E", 1005, "home", 0},
    {200, EV_DISCHARGE, "SOUTH", "3S", 2003, "snf", 0},
    {230, EV_CANCEL_DISCHARGE, "NORTH", "5E", 1005, NULL, 0},
    {260, EV_DISCHARGE, "NORTH", "4W", 1006, "snf", 0},
    {300, EV_CONSULT, "NORTH", "5E", 1007, "cardiology", 0},
    {340, EV_DISCHARGE, "NORTH", "5E", 1008, "home", 0},
    {380, EV_DISCHARGE, "SOUTH", "3S", 2004, "home", 0},
    {420, EV_DISCHARGE, "NORTH", "4W", 1009, "home", 0},
    /* the shift changes at 500: the night nurses take over */
    {520, EV_HANDOFF, "NORTH", "4W", 1010, "high", 0},
    {530, EV_HANDOFF, "NORTH", "4W", 1011, "low", 0},
    {540, EV_HANDOFF, "NORTH", "5E", 1012, "low", 0},
    {550, EV_HANDOFF, "SOUTH", "3S", 2005, "very_high", 0},
    {505, EV_DISCHARGE, "SOUTH", "3S", 2006, "home", 0}, /* night: no EVS on 3S */
    {600, EV_CONSULT, "SOUTH", "3S", 2007, "cardiology", 0},
    {640, EV_DISCHARGE, "NORTH", "5E", 1013, "home", 0},
    {680, EV_DISCHARGE, "SOUTH", "3S", 2008, "snf", 0},
    {720, EV_DISCHARGE, "NORTH", "4W", 1014, "home", 0},
};
static const size_t nfeed = sizeof feed / sizeof feed[0];
static int64_t start_ms;

void demo_feed_init(const demo_conf_t *c, int64_t t0_ms)
{
    (void)c;
    start_ms = t0_ms;
    for (size_t i = 0; i < nfeed; i++)
        feed[i].sent = 0;
}

long demo_send_event(const demo_conf_t *c, const char *type, const char *facility, const char *unit,
                     const char *patient, const char *encounter, json_t *attributes)
{
    char id[BATON_ID_LEN], ts[BATON_RFC3339_LEN];
    baton_uuidv7(id);
    baton_time_format(baton_now_ms(), ts, sizeof ts);
    json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", id, "type", type, "tenant", c->tenant,
                           "facility", facility, "occurred_at", ts);
    if (unit)
        json_object_set_new(ev, "unit", json_string(unit));
    if (patient)
        json_object_set_new(ev, "patient", json_string(patient));
    if (encounter)
        json_object_set_new(ev, "encounter", json_string(encounter));
    if (attributes)
        json_object_set_new(ev, "attributes", attributes);
    char *text = json_dumps(ev, JSON_COMPACT);
    demo_resp_t r;
    demo_http(c, "POST", "/v1/events", NULL, "application/json", text, &r);
    demo_count(r.status == 202 ? &demo_stats.events_sent : &demo_stats.events_rejected, 1);
    if (r.status != 202)
        fprintf(stderr, "demo: %s rejected: HTTP %ld %s\n", type, r.status, r.body ? r.body : "");
    free(r.body);
    free(text);
    json_decref(ev);
    return r.status;
}

long demo_send_hl7(const demo_conf_t *c, const char *msg)
{
    demo_resp_t r;
    demo_http(c, "POST", "/v1/hl7v2", NULL, "x-application/hl7-v2+er7", msg, &r);
    /* the answer is the ACK; MSA-1 AA means accepted (durable in Kafka) */
    bool ok = r.status / 100 == 2 && r.body && strstr(r.body, "MSA|AA");
    if (!ok)
        fprintf(stderr, "demo: HL7 message not accepted: HTTP %ld\n", r.status);
    long st = ok ? 200 : r.status ? r.status : 500;
    free(r.body);
    return st;
}

static void send_consult_fhir(const demo_conf_t *c, const demo_ev_t *e, const char *pat,
                              const char *enc)
{
    char id[BATON_ID_LEN];
    baton_uuidv7(id);
    char *body = baton_xasprintf(
        "{\"resourceType\":\"ServiceRequest\",\"id\":\"%s\",\"status\":\"active\","
        "\"intent\":\"order\",\"category\":[{\"coding\":[{\"system\":\"http://snomed.info/sct\","
        "\"code\":\"11429006\",\"display\":\"Consultation\"}]}],"
        "\"code\":{\"text\":\"%s consult\"},\"subject\":{\"reference\":\"Patient/%s\"},"
        "\"encounter\":{\"reference\":\"Encounter/%s\"},"
        "\"locationReference\":[{\"reference\":\"Location/%s\"}],"
        "\"performerType\":{\"text\":\"%s\"},"
        "\"extension\":[{\"url\":\"urn:baton:fhir:extension:facility\",\"valueString\":\"%s\"}]}",
        id, e->arg, pat, enc, e->unit, e->arg, e->facility);
    demo_resp_t r;
    demo_http(c, "POST", "/fhir/r4/ServiceRequest", NULL, "application/fhir+json", body, &r);
    if (r.status / 100 == 2) {
        demo_count(&demo_stats.events_sent, 1);
    } else {
        /* the FHIR mapping could not place it: send the canonical event instead */
        demo_count(&demo_stats.events_rejected, 1);
        fprintf(stderr, "demo: FHIR consult not accepted (HTTP %ld), sent as JSON\n", r.status);
        demo_send_event(c, "consult.requested", e->facility, e->unit, pat, enc,
                        json_pack("{s:s}", "specialty", e->arg));
    }
    free(r.body);
    free(body);
}

static void send_one(const demo_conf_t *c, const demo_ev_t *e)
{
    char pat[24], enc[24];
    snprintf(pat, sizeof pat, "MRN-%d", e->patient);
    snprintf(enc, sizeof enc, "ENC-%d", e->patient);
    switch (e->kind) {
    case EV_DISCHARGE:
        demo_send_event(
            c, "order.discharge", e->facility, e->unit, pat, enc,
            json_pack("{s:s, s:s}", "patient_class", "inpatient", "disposition", e->arg));
        break;
    case EV_CANCEL_DISCHARGE: {
        char ts[BATON_RFC3339_LEN], id[BATON_ID_LEN], dtm[16];
        baton_time_format(baton_now_ms(), ts, sizeof ts);
        snprintf(dtm, sizeof dtm, "%.4s%.2s%.2s%.2s%.2s%.2s", ts, ts + 5, ts + 8, ts + 11, ts + 14,
                 ts + 17);
        baton_uuidv7(id);
        char *msg = baton_xasprintf("MSH|^~\\&|ADT|%s|BATON|%s|%s||ADT^A13^ADT_A01|%.20s|P|2.5.1\r"
                                    "EVN|A13|%s\r"
                                    "PID|1||%s^^^%s^MR||DOE^PAT\r"
                                    "PV1|1|I|%s^^^%s||||||||||||||||%s\r",
                                    e->facility, e->facility, dtm, id + 24, dtm, pat, e->facility,
                                    e->unit, e->facility, enc);
        demo_send_hl7(c, msg) == 200 ? demo_count(&demo_stats.events_sent, 1)
                                     : demo_count(&demo_stats.events_rejected, 1);
        free(msg);
        break;
    }
    case EV_CONSULT:
        if (strcmp(e->arg, "stat") == 0)
            demo_send_event(c, "consult.requested", e->facility, e->unit, pat, enc,
                            json_pack("{s:s, s:s}", "priority", "stat", "specialty", "cardiology"));
        else
            send_consult_fhir(c, e, pat, enc);
        break;
    case EV_HANDOFF:
        demo_send_event(c, "handoff.given", e->facility, e->unit, pat, enc,
                        json_pack("{s:s}", "fall_risk", e->arg));
        break;
    }
}

int demo_feed_tick(const demo_conf_t *c, int64_t now_ms)
{
    int left = 0;
    for (size_t i = 0; i < nfeed; i++) {
        demo_ev_t *e = &feed[i];
        if (e->sent)
            continue;
        if (now_ms - start_ms >= (int64_t)e->at_permille * c->duration_s) {
            e->sent = 1;
            send_one(c, e);
        } else {
            left++;
        }
    }
    return left;
}
