/* hl7_map.c — HL7 v2 message → Baton canonical event (the JSON of POST /v1/events).
 * The mapping table is documented in docs/hl7.md (libs/hl7/README.md). */
#include "hl7_internal.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

typedef struct {
    const char *msg_type, *trigger, *event_type;
} type_row_t;

static const type_row_t TYPES[] = {
    {"ADT", "A01", "adt.admit"},
    {"ADT", "A02", "adt.transfer"},
    {"ADT", "A03", "adt.discharge"},
    {"ADT", "A04", "adt.admit"}, /* registration: same type, attribute hl7_event = A04 */
    {"ADT", "A08", "adt.update"},
    {"ADT", "A11", "adt.cancel_admit"},
    {"ADT", "A13", "adt.cancel_discharge"},
    {"ADT", "A16", "adt.pending_discharge"},
    {"ORM", "O01", "order.placed"},
    {"OMG", "O19", "order.placed"},
    {"REF", "I12", "referral.requested"},
};

static const char *const DEFAULT_DISCHARGE_CODES[] = {"DISCHARGE", "DISCH", "DC_ORDER",
                                                      "DCPATIENT"};

const char *baton_hl7_event_type(const char *msg_type, const char *trigger)
{
    if (!msg_type || !trigger)
        return NULL;
    for (size_t i = 0; i < sizeof TYPES / sizeof TYPES[0]; i++)
        if (!strcmp(TYPES[i].msg_type, msg_type) && !strcmp(TYPES[i].trigger, trigger))
            return TYPES[i].event_type;
    return NULL;
}

/* A decoded value, NULL when absent or empty. */
static const char *val(baton_hl7_msg_t *m, const char *seg, int seg_rep, int field, int rep,
                       int comp, int sub)
{
    const char *v = baton_hl7_get(m, seg, seg_rep, field, rep, comp, sub);
    return v && *v ? v : NULL;
}

/* 1-based position of a segment in the message, 0 when absent. */
static int seg_pos(const baton_hl7_msg_t *m, const char *seg)
{
    return (int)hl7__find_seg(m, seg, 1) + 1;
}

/* A JSON string for an HL7 value. Feeds that are not UTF-8 (8859/1 is common) would make
 * json_string fail: such a value is read as Latin-1 instead. */
static json_t *jstr(const char *s)
{
    json_t *j = json_string(s);
    if (j)
        return j;
    baton_buf_t b = BATON_BUF_INIT;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x80) {
            baton_buf_putc(&b, (char)*p);
        } else {
            baton_buf_putc(&b, (char)(0xC0 | (*p >> 6)));
            baton_buf_putc(&b, (char)(0x80 | (*p & 0x3F)));
        }
    }
    j = json_stringn(b.data ? b.data : "", b.len);
    baton_buf_free(&b);
    return j ? j : json_string("");
}

static void attr(json_t *attrs, const char *key, const char *v)
{
    if (v && *v)
        json_object_set_new(attrs, key, jstr(v));
}

static const char *tenant_for(baton_hl7_msg_t *m, const baton_hl7_map_config_t *cfg)
{
    const char *fac1 = baton_hl7_get(m, "MSH", 1, 4, 1, 1, 0);
    const char *fac2 = baton_hl7_get(m, "MSH", 1, 4, 1, 2, 0);
    const char *app = baton_hl7_get(m, "MSH", 1, 3, 1, 1, 0);
    for (size_t i = 0; cfg && i < cfg->nsenders; i++) {
        const baton_hl7_sender_t *s = &cfg->senders[i];
        int fac_ok = !s->facility || !strcmp(s->facility, "*") ||
                     (fac1 && *fac1 && !strcmp(s->facility, fac1)) ||
                     (fac2 && *fac2 && !strcmp(s->facility, fac2));
        int app_ok = !s->application || !strcmp(s->application, "*") ||
                     (app && *app && !strcmp(s->application, app));
        if (fac_ok && app_ok && s->tenant && *s->tenant)
            return s->tenant;
    }
    return NULL;
}

static const char *patient_class(const char *c)
{
    static const char *const map[][2] = {
        {"I", "inpatient"},  {"O", "outpatient"},     {"E", "emergency"},
        {"P", "preadmit"},   {"R", "recurring"},      {"B", "obstetrics"},
        {"C", "commercial"}, {"N", "not_applicable"}, {"U", "unknown"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(c, map[i][0]))
            return map[i][1];
    return c;
}

/* PV1-36 discharge disposition (user table 0112, usually the UB-04 codes). */
static const char *disposition(const char *c)
{
    static const char *const snf[] = {"03", "3", "61", "64", "83", "SNF"};
    static const char *const home[] = {"01", "1", "81", "HOME", "H"};
    for (size_t i = 0; i < sizeof snf / sizeof snf[0]; i++)
        if (!strcasecmp(c, snf[i]))
            return "snf";
    for (size_t i = 0; i < sizeof home / sizeof home[0]; i++)
        if (!strcasecmp(c, home[i]))
            return "home";
    return c;
}

static int is_discharge_text(const char *t)
{
    static const char *const prefixes[] = {"discharge patient", "discharge order",
                                           "discharge home"};
    while (*t == ' ')
        t++;
    if (!strcasecmp(t, "discharge"))
        return 1;
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        size_t n = strlen(prefixes[i]);
        if (!strncasecmp(t, prefixes[i], n) && (t[n] == '\0' || t[n] == ' '))
            return 1;
    }
    return 0;
}

/* Is any OBR of the message a discharge order? See the rule in the README. */
static int is_discharge_order(baton_hl7_msg_t *m, const baton_hl7_map_config_t *cfg)
{
    const char *const *codes = DEFAULT_DISCHARGE_CODES;
    size_t ncodes = sizeof DEFAULT_DISCHARGE_CODES / sizeof DEFAULT_DISCHARGE_CODES[0];
    if (cfg && cfg->discharge_codes) {
        codes = cfg->discharge_codes;
        ncodes = cfg->ndischarge_codes;
    }
    int nobr = baton_hl7_segment_reps(m, "OBR");
    for (int r = 1; r <= nobr; r++) {
        const char *id[2] = {val(m, "OBR", r, 4, 1, 1, 0), val(m, "OBR", r, 4, 1, 4, 0)};
        const char *text[2] = {val(m, "OBR", r, 4, 1, 2, 0), val(m, "OBR", r, 4, 1, 5, 0)};
        for (int k = 0; k < 2; k++) {
            for (size_t c = 0; id[k] && c < ncodes; c++)
                if (!strcasecmp(id[k], codes[c]))
                    return 1;
            if (text[k] && is_discharge_text(text[k]))
                return 1;
        }
    }
    return 0;
}

static int is_cancel_control(const char *oc)
{
    static const char *const cancels[] = {"CA", "OC", "CR", "DC", "OD", "DR"};
    for (size_t i = 0; oc && i < sizeof cancels / sizeof cancels[0]; i++)
        if (!strcmp(oc, cancels[i]))
            return 1;
    return 0;
}

static void order_attrs(baton_hl7_msg_t *m, json_t *a)
{
    attr(a, "order_control", val(m, "ORC", 1, 1, 1, 1, 0));
    const char *id = val(m, "ORC", 1, 2, 1, 1, 0);
    attr(a, "order_id", id ? id : val(m, "OBR", 1, 2, 1, 1, 0));
    attr(a, "order_code", val(m, "OBR", 1, 4, 1, 1, 0));
    attr(a, "order_code_system", val(m, "OBR", 1, 4, 1, 3, 0));
    attr(a, "order_priority", val(m, "TQ1", 1, 9, 1, 1, 0));
}

static void referral_attrs(baton_hl7_msg_t *m, json_t *a)
{
    attr(a, "referral_status", val(m, "RF1", 1, 1, 1, 1, 0));
    attr(a, "referral_priority", val(m, "RF1", 1, 2, 1, 1, 0));
    attr(a, "referral_type", val(m, "RF1", 1, 3, 1, 1, 0));
    attr(a, "referral_disposition", val(m, "RF1", 1, 4, 1, 1, 0));
    attr(a, "referral_category", val(m, "RF1", 1, 5, 1, 1, 0));
    attr(a, "referral_id", val(m, "RF1", 1, 6, 1, 1, 0));
    attr(a, "referral_reason", val(m, "RF1", 1, 10, 1, 1, 0));
    int n = baton_hl7_segment_reps(m, "PRD");
    for (int r = 1; r <= n; r++) {
        const char *role = val(m, "PRD", r, 1, 1, 1, 0);
        if (role && !strcmp(role, "RT")) { /* referred-to provider */
            attr(a, "referred_to_provider", val(m, "PRD", r, 7, 1, 1, 0));
            attr(a, "referred_to_facility", val(m, "PRD", r, 4, 1, 4, 1));
            break;
        }
    }
}

static void visit_attrs(baton_hl7_msg_t *m, const char *event_type, json_t *a)
{
    const char *pc = val(m, "PV1", 1, 2, 1, 1, 0);
    if (pc)
        attr(a, "patient_class", patient_class(pc));
    const char *disp = val(m, "PV1", 1, 36, 1, 1, 0);
    if (disp)
        attr(a, "disposition", disposition(disp));
    if (!strcmp(event_type, "adt.transfer")) {
        attr(a, "prior_unit", val(m, "PV1", 1, 6, 1, 1, 1));
        attr(a, "prior_facility", val(m, "PV1", 1, 6, 1, 4, 1));
    }
}

/* The first PID-3 repetition with an ID. */
static const char *patient_id(baton_hl7_msg_t *m)
{
    int n = baton_hl7_rep_count(m, "PID", 1, 3);
    for (int r = 1; r <= n; r++) {
        const char *v = val(m, "PID", 1, 3, r, 1, 0);
        if (v)
            return v;
    }
    return NULL;
}

static int occurred_at(baton_hl7_msg_t *m, const baton_hl7_map_config_t *cfg, char *out,
                       size_t outlen, baton_hl7_error_t *err)
{
    const char *seg = "EVN";
    int field = 2;
    const char *ts = val(m, "EVN", 1, 2, 1, 1, 0);
    if (!ts) {
        seg = "MSH";
        field = 7;
        ts = val(m, "MSH", 1, 7, 1, 1, 0);
    }
    if (!ts) {
        hl7__seterr(err, BATON_EINVAL, "AE", BATON_HL7_ERR_REQUIRED_FIELD, 1, "MSH", 7,
                    "MSH-7 required");
        return BATON_EINVAL;
    }
    int64_t ms;
    if (baton_hl7_dtm_parse(ts, cfg ? cfg->tz_offset_min : 0, &ms) != 0 ||
        baton_time_format(ms, out, outlen) != 0) {
        hl7__seterr(err, BATON_EINVAL, "AE", BATON_HL7_ERR_DATA_TYPE, seg_pos(m, seg), seg, field,
                    "%s-%d is not a valid HL7 timestamp", seg, field);
        return BATON_EINVAL;
    }
    return 0;
}

static const char *resolve_type(baton_hl7_msg_t *m, const baton_hl7_map_config_t *cfg,
                                char *hl7_type, size_t n)
{
    const char *mt = val(m, "MSH", 1, 9, 1, 1, 0);
    const char *trig = val(m, "MSH", 1, 9, 1, 2, 0);
    if (!trig && mt && !strcmp(mt, "ADT"))
        trig = val(m, "EVN", 1, 1, 1, 1, 0); /* pre-2.3 senders put the event in EVN-1 */
    snprintf(hl7_type, n, "%.8s^%.8s", mt ? mt : "", trig ? trig : "");
    const char *t = baton_hl7_event_type(mt, trig);
    if (t && !strcmp(t, "order.placed")) {
        if (is_cancel_control(val(m, "ORC", 1, 1, 1, 1, 0)))
            t = "order.cancelled";
        else if (is_discharge_order(m, cfg))
            t = "order.discharge";
    }
    return t;
}

int baton_hl7_map(baton_hl7_msg_t *msg, const baton_hl7_map_config_t *cfg, json_t **event,
                  baton_hl7_error_t *err)
{
    *event = NULL;
    if (err)
        memset(err, 0, sizeof *err);
    const char *tenant = tenant_for(msg, cfg);
    if (!tenant) {
        hl7__seterr(err, BATON_EPERM, "AR", BATON_HL7_ERR_TABLE_VALUE, 1, "MSH", 4,
                    "unknown sender: MSH-3/MSH-4 not configured");
        return BATON_EPERM;
    }
    char hl7_type[24];
    const char *type = resolve_type(msg, cfg, hl7_type, sizeof hl7_type);
    if (!type) {
        for (char *p = hl7_type; *p; p++) /* keep the error text printable */
            if (!isalnum((unsigned char)*p) && *p != '^')
                *p = '?';
        hl7__seterr(err, BATON_ENOENT, "AR", BATON_HL7_ERR_UNSUPPORTED_TYPE, 1, "MSH", 9,
                    "unsupported message type %s", hl7_type);
        return BATON_ENOENT;
    }
    const char *patient = patient_id(msg);
    if (!patient) {
        int pos = seg_pos(msg, "PID");
        hl7__seterr(err, BATON_EINVAL, "AE", BATON_HL7_ERR_REQUIRED_FIELD, pos, pos ? "PID" : "", 3,
                    "PID-3 required");
        return BATON_EINVAL;
    }
    const char *encounter = val(msg, "PV1", 1, 19, 1, 1, 0);
    if (!encounter)
        encounter = val(msg, "PID", 1, 18, 1, 1, 0);
    if (!encounter && strncmp(type, "referral.", 9) != 0) {
        int pos = seg_pos(msg, "PV1");
        hl7__seterr(err, BATON_EINVAL, "AE", BATON_HL7_ERR_REQUIRED_FIELD, pos, pos ? "PV1" : "",
                    19, "PV1-19 required (or PID-18)");
        return BATON_EINVAL;
    }
    char when[BATON_RFC3339_LEN];
    if (occurred_at(msg, cfg, when, sizeof when, err) != 0)
        return BATON_EINVAL;
    const char *facility = val(msg, "PV1", 1, 3, 1, 4, 1);
    if (!facility)
        facility = val(msg, "MSH", 1, 6, 1, 1, 0);
    if (!facility)
        facility = val(msg, "MSH", 1, 4, 1, 1, 0);
    const char *unit = val(msg, "PV1", 1, 3, 1, 1, 1);

    json_t *ev = json_object(), *a = json_object();
    json_object_set_new(ev, "id", jstr(val(msg, "MSH", 1, 10, 1, 1, 0)));
    json_object_set_new(ev, "type", json_string(type));
    json_object_set_new(ev, "tenant", jstr(tenant));
    json_object_set_new(ev, "facility", jstr(facility ? facility : ""));
    if (unit)
        json_object_set_new(ev, "unit", jstr(unit));
    json_object_set_new(ev, "patient", jstr(patient));
    if (encounter)
        json_object_set_new(ev, "encounter", jstr(encounter));
    json_object_set_new(ev, "occurred_at", json_string(when));
    attr(a, "hl7_type", hl7_type);
    visit_attrs(msg, type, a);
    if (!strncmp(type, "order.", 6))
        order_attrs(msg, a);
    else if (!strncmp(type, "referral.", 9))
        referral_attrs(msg, a);
    json_object_set_new(ev, "attributes", a);
    *event = ev;
    return 0;
}
