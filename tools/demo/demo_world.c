/* The simulated health system: tenant from the stack, two hospitals, their units, the people
 * on call and their shifts. North has units 4W and 5E, South has 3S. The day shift ends half
 * way through the demo (the nurses hand off to the night shift), and South has nobody in
 * environmental services at night: every South room turnover after the shift change is a
 * coverage gap, and its escalation chain goes to the EVS supervisor. */
#include "demo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define P(id, name, fac, unit, role, shift, tier, lead)                                            \
    {                                                                                              \
        id, name, fac, unit, role, shift, tier, lead                                               \
    }

const demo_person_t demo_people[] = {
    /* North General */
    P("n-pharm-1", "Ana Ruiz", "NORTH", NULL, "pharmacist", SHIFT_BOTH, 1, false),
    P("n-pharm-2", "Ben Okafor", "NORTH", NULL, "pharmacist", SHIFT_BOTH, 2, false),
    P("n-pharm-lead", "Chen Wu", "NORTH", NULL, "pharmacy_lead", SHIFT_BOTH, 1, true),
    P("n-cm-4w", "Dara Singh", "NORTH", "4W", "case_manager", SHIFT_BOTH, 1, false),
    P("n-cm-5e", "Eli Novak", "NORTH", "5E", "case_manager", SHIFT_BOTH, 1, false),
    P("n-cm-lead", "Fay Adams", "NORTH", NULL, "case_management_lead", SHIFT_BOTH, 1, true),
    P("n-rn-4w-day", "Gus Moreno", "NORTH", "4W", "nurse", SHIFT_DAY, 1, false),
    P("n-rn-4w-night", "Hana Ito", "NORTH", "4W", "nurse", SHIFT_NIGHT, 1, false),
    P("n-rn-5e-day", "Ivy Chen", "NORTH", "5E", "nurse", SHIFT_DAY, 1, false),
    P("n-rn-5e-night", "Jon Bell", "NORTH", "5E", "nurse", SHIFT_NIGHT, 1, false),
    P("n-charge-4w", "Kim Lee", "NORTH", "4W", "charge_nurse", SHIFT_BOTH, 1, true),
    P("n-charge-5e", "Lou Park", "NORTH", "5E", "charge_nurse", SHIFT_BOTH, 1, true),
    P("n-transport-1", "Max Diaz", "NORTH", NULL, "transport", SHIFT_BOTH, 1, false),
    P("n-transport-2", "Nia Cole", "NORTH", NULL, "transport", SHIFT_BOTH, 2, false),
    P("n-dispatch", "Oki Sato", "NORTH", NULL, "transport_dispatch", SHIFT_BOTH, 1, true),
    P("n-evs-4w", "Pat Gray", "NORTH", "4W", "evs", SHIFT_BOTH, 1, false),
    P("n-evs-5e", "Quin Roy", "NORTH", "5E", "evs", SHIFT_BOTH, 1, false),
    P("n-evs-sup", "Rae Kent", "NORTH", NULL, "evs_supervisor", SHIFT_BOTH, 1, true),
    P("n-cardio", "Sam Hale", "NORTH", NULL, "consultant", SHIFT_BOTH, 1, false),
    P("n-cardio-att", "Tess Vu", "NORTH", NULL, "consult_attending", SHIFT_BOTH, 1, true),
    P("n-cardio-bkp", "Uma Shah", "NORTH", NULL, "backup_consultant", SHIFT_BOTH, 1, true),
    P("n-chair", "Vic Lowe", "NORTH", NULL, "department_chair", SHIFT_BOTH, 1, true),
    /* South Community */
    P("s-pharm-1", "Wes Hart", "SOUTH", NULL, "pharmacist", SHIFT_BOTH, 1, false),
    P("s-pharm-lead", "Xia Long", "SOUTH", NULL, "pharmacy_lead", SHIFT_BOTH, 1, true),
    P("s-cm-3s", "Yara Fox", "SOUTH", "3S", "case_manager", SHIFT_BOTH, 1, false),
    P("s-cm-lead", "Zed Marsh", "SOUTH", NULL, "case_management_lead", SHIFT_BOTH, 1, true),
    P("s-rn-3s-day", "Abe Stone", "SOUTH", "3S", "nurse", SHIFT_DAY, 1, false),
    P("s-rn-3s-night", "Bea Quinn", "SOUTH", "3S", "nurse", SHIFT_NIGHT, 1, false),
    P("s-charge-3s", "Cal Reed", "SOUTH", "3S", "charge_nurse", SHIFT_BOTH, 1, true),
    P("s-transport-1", "Dee Ward", "SOUTH", NULL, "transport", SHIFT_BOTH, 1, false),
    P("s-dispatch", "Eve Holt", "SOUTH", NULL, "transport_dispatch", SHIFT_BOTH, 1, true),
    P("s-evs-3s", "Finn Ash", "SOUTH", "3S", "evs", SHIFT_DAY, 1, false), /* nobody at night */
    P("s-evs-sup", "Gia Rowe", "SOUTH", NULL, "evs_supervisor", SHIFT_BOTH, 1, true),
    P("s-consult", "Hal Penn", "SOUTH", NULL, "consultant", SHIFT_BOTH, 1, false),
    P("s-consult-att", "Ida Voss", "SOUTH", NULL, "consult_attending", SHIFT_BOTH, 1, true),
    P("s-consult-bkp", "Jay Orr", "SOUTH", NULL, "backup_consultant", SHIFT_BOTH, 1, true),
    P("s-chair", "Kai Nunn", "SOUTH", NULL, "department_chair", SHIFT_BOTH, 1, true),
};
const size_t demo_npeople = sizeof demo_people / sizeof demo_people[0];

const demo_person_t *demo_person(const char *id)
{
    for (size_t i = 0; i < demo_npeople; i++)
        if (strcmp(demo_people[i].id, id) == 0)
            return &demo_people[i];
    return NULL;
}

static int put_person(const demo_conf_t *c, const demo_person_t *p, int port, char *err,
                      size_t errlen)
{
    char addr[128], path[128];
    snprintf(addr, sizeof addr, "http://127.0.0.1:%d/hook/%s", port, p->id);
    snprintf(path, sizeof path, "/v1/people/%s", p->id);
    json_t *body = json_pack("{s:s, s:s, s:[{s:s, s:s}]}", "tenant", c->tenant, "name", p->name,
                             "contacts", "channel", "webhook", "address", addr);
    char *text = json_dumps(body, JSON_COMPACT);
    demo_resp_t r;
    int rc = demo_http(c, "PUT", path, NULL, "application/json", text, &r);
    if (rc != 0 || r.status / 100 != 2) {
        baton_seterr(err, errlen, "PUT %s: HTTP %ld %s", path, r.status, r.body ? r.body : "");
        rc = -1;
    }
    free(r.body);
    free(text);
    json_decref(body);
    return rc;
}

/* One shift as the CSV a scheduling system would export. */
static void shift_row(baton_buf_t *csv, const char *tenant, const demo_person_t *p, int64_t start,
                      int64_t end)
{
    char s[BATON_RFC3339_LEN], e[BATON_RFC3339_LEN];
    baton_time_format(start, s, sizeof s);
    baton_time_format(end, e, sizeof e);
    baton_buf_appendf(csv, "%s,%s,%s,%s,%s,%s,%s,%d\r\n", tenant, p->facility,
                      p->unit ? p->unit : "", p->role, p->id, s, e, p->tier);
}

int demo_world_load(const demo_conf_t *c, int64_t t0_ms, char *err, size_t errlen)
{
    extern int demo_staff_port;
    for (size_t i = 0; i < demo_npeople; i++)
        if (put_person(c, &demo_people[i], demo_staff_port, err, errlen) != 0)
            return -1;
    /* day shift: from an hour before the demo to half way; night: from half way on */
    int64_t change = t0_ms + (int64_t)c->duration_s * 500;
    int64_t day_start = t0_ms - 3600 * 1000, night_end = t0_ms + 12 * 3600 * 1000;
    baton_buf_t csv = BATON_BUF_INIT;
    baton_buf_puts(&csv, "\xef\xbb\xbf"
                         "tenant,facility,unit,role,person,start,end,tier\r\n");
    for (size_t i = 0; i < demo_npeople; i++) {
        const demo_person_t *p = &demo_people[i];
        if (p->shift != SHIFT_NIGHT)
            shift_row(&csv, c->tenant, p, day_start, p->shift == SHIFT_DAY ? change : night_end);
        if (p->shift == SHIFT_NIGHT)
            shift_row(&csv, c->tenant, p, change, night_end);
    }
    demo_resp_t r;
    int rc = demo_http(c, "POST", "/v1/shifts:import", NULL, "text/csv", csv.data, &r);
    if (rc != 0 || r.status / 100 != 2) {
        baton_seterr(err, errlen, "POST /v1/shifts:import: HTTP %ld %s", r.status,
                     r.body ? r.body : "");
        rc = -1;
    }
    free(r.body);
    baton_buf_free(&csv);
    return rc;
}
