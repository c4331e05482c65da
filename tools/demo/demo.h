/* baton-demo — a simulated health system driven through a running Baton stack, for
 * scripts/demo: two hospitals, rosters with a shift change and a coverage gap, people whose
 * webhook contacts this program serves, simulated staff who acknowledge, stall or decline, and a
 * compressed hospital day of discharges, consults and shift handoffs sent as canonical JSON,
 * HL7 v2 and FHIR. It shows a live board and ends with a summary.
 *
 * Everything goes through Baton's public API (../shared/API.md), as an EHR and staff apps would. */
#ifndef BATON_DEMO_H
#define BATON_DEMO_H

#include "baton/core.h"
#include "baton/http.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>

/* ---- configuration (from the stack's stack.env variables) ---- */
typedef struct {
    const char *url;            /* BATON_URL */
    const char *api_key;        /* BATON_API_KEY */
    const char *jwt_secret;     /* BATON_JWT_SECRET */
    const char *webhook_secret; /* BATON_WEBHOOK_SECRET */
    const char *tenant;         /* BATON_TENANT */
    int duration_s;             /* length of the simulated day, wall seconds */
    unsigned seed;
    bool tty; /* redraw the board in place */
} demo_conf_t;

/* ---- the world ---- */
typedef enum { SHIFT_DAY, SHIFT_NIGHT, SHIFT_BOTH } demo_shift_t;

typedef struct {
    const char *id;
    const char *name;
    const char *facility;
    const char *unit; /* NULL: the shift covers the whole facility */
    const char *role;
    demo_shift_t shift;
    int tier;
    bool lead; /* escalation targets: always prompt */
} demo_person_t;

extern const demo_person_t demo_people[];
extern const size_t demo_npeople;
const demo_person_t *demo_person(const char *id);

/* ---- HTTP client (libcurl); every call is blocking and thread-safe ---- */
typedef struct {
    long status;
    char *body; /* NUL-terminated, caller frees */
} demo_resp_t;

/* method + path relative to conf->url; auth "key" (the API key) or a bearer token;
 * content_type NULL for no body. Returns 0 or -1 on transport failure. */
int demo_http(const demo_conf_t *c, const char *method, const char *path, const char *bearer,
              const char *content_type, const char *body, demo_resp_t *out);
json_t *demo_get_json(const demo_conf_t *c, const char *path); /* NULL unless 200 + JSON */

/* ---- counters shown on the board and in the summary ---- */
typedef struct {
    pthread_mutex_t lock;
    int events_sent, events_rejected;
    int notifications, bad_signatures;
    int by_kind[8]; /* assigned, reminder, escalation, reassigned, completed, other */
    int acks, completes, declines, stalls, action_conflicts, action_errors;
    int escalation_levels[8];
} demo_stats_t;

extern demo_stats_t demo_stats;
void demo_count(int *field, int n);

/* ---- the parts ---- */
int demo_world_load(const demo_conf_t *c, int64_t t0_ms, char *err, size_t errlen);
/* Starts the webhook receiver on a free loopback port; returns the port or -1. */
int demo_staff_start(const demo_conf_t *c, char *err, size_t errlen);
void demo_staff_stop(void);
/* Runs due simulated-staff actions (called from the main loop). */
void demo_staff_tick(const demo_conf_t *c, int64_t now_ms);
/* Pending simulated-staff actions. */
int demo_staff_pending(void);

void demo_feed_init(const demo_conf_t *c, int64_t t0_ms);
/* Sends the events whose time has come; returns how many remain. */
int demo_feed_tick(const demo_conf_t *c, int64_t now_ms);
/* Send one canonical event (JSON); returns the HTTP status. */
long demo_send_event(const demo_conf_t *c, const char *type, const char *facility, const char *unit,
                     const char *patient, const char *encounter,
                     json_t *attributes /* stolen, may be NULL */);
long demo_send_hl7(const demo_conf_t *c, const char *msg);

void demo_board_draw(const demo_conf_t *c, int64_t elapsed_ms, int feed_left);
void demo_summary(const demo_conf_t *c);
/* Instances not yet closed (from the read API), -1 when unknown. */
int demo_open_instances(const demo_conf_t *c);

#endif
