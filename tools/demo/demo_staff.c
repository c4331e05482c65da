/* Simulated staff: the webhook receiver every person's contact points at, and the people's
 * behaviour. Each assignment draws (deterministically, from the task id and the seed) how its
 * owner reacts: most acknowledge within the window and finish, some are slow (the ack window
 * runs out and the escalation chain notifies their lead), some stall (the chain reassigns), a
 * few decline (the task goes to the next person on the roster). Leads always answer promptly.
 * Stages that the EHR closes (transport, room turnover, SNF acceptance, consult note) are
 * finished by sending that EHR event, as the hospital's systems would. */
#include "demo.h"

#include <jwt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int demo_staff_port = -1;
static baton_http_server_t *receiver;
static const demo_conf_t *conf;

typedef enum { DO_ACK, DO_START, DO_COMPLETE, DO_DECLINE, DO_EHR, DO_CLAIM } demo_action_t;

typedef struct {
    int64_t at_ms;
    demo_action_t action;
    char person[48];
    char task_id[64];
    char instance_id[64];
    char what[48];               /* DO_EHR: the event type */
    char pathway[48], stage[48]; /* DO_CLAIM: what to react to */
    int tries;                   /* DO_CLAIM: checks left */
} demo_job_t;

static pthread_mutex_t jobs_lock = PTHREAD_MUTEX_INITIALIZER;
static demo_job_t *jobs;
static size_t njobs, capjobs;

static void push_job(const demo_job_t *j)
{
    pthread_mutex_lock(&jobs_lock);
    if (njobs == capjobs) {
        capjobs = capjobs ? capjobs * 2 : 64;
        jobs = baton_xrealloc(jobs, capjobs * sizeof *jobs);
    }
    jobs[njobs++] = *j;
    pthread_mutex_unlock(&jobs_lock);
}

int demo_staff_pending(void)
{
    pthread_mutex_lock(&jobs_lock);
    int n = (int)njobs;
    pthread_mutex_unlock(&jobs_lock);
    return n;
}

/* The EHR event that closes a stage, or NULL when staff complete it in the app. */
static const char *closing_event(const char *pathway, const char *stage)
{
    static const char *map[][3] = {{"discharge", "placement", "snf.accepted"},
                                   {"discharge", "transport", "transport.completed"},
                                   {"discharge", "room_turn", "adt.discharge"},
                                   {"consult_response", "note_signed", "consult.note_signed"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i][0], pathway) == 0 && strcmp(map[i][1], stage) == 0)
            return map[i][2];
    return NULL;
}

static uint32_t draw(const char *task_id, const char *salt)
{
    char h[65];
    char *s = baton_xasprintf("%u|%s|%s", conf->seed, task_id, salt);
    baton_sha256_hex(s, strlen(s), h);
    free(s);
    return (uint32_t)strtoul(h + 56, NULL, 16);
}

/* Decide and schedule what the owner of a newly assigned task does. */
static void react_to_assignment(const char *person, const char *task_id, const char *instance_id,
                                const char *pathway, const char *stage, int64_t now)
{
    const demo_person_t *p = demo_person(person);
    if (!p)
        return;
    uint32_t r = draw(task_id, person) % 100;
    int64_t jitter = draw(task_id, "jitter") % 2000;
    demo_job_t j = {.action = DO_ACK};
    baton_strlcpy(j.person, person, sizeof j.person);
    baton_strlcpy(j.task_id, task_id, sizeof j.task_id);
    baton_strlcpy(j.instance_id, instance_id, sizeof j.instance_id);
    if (!p->lead && r >= 93) {
        j.action = DO_DECLINE;
        j.at_ms = now + 1000 + jitter;
        push_job(&j);
        return;
    }
    if (!p->lead && r >= 87) {
        demo_count(&demo_stats.stalls, 1); /* never answers: the chain reassigns */
        return;
    }
    int64_t ack_at = now + 800 + jitter + (!p->lead && r >= 72 ? 7000 : 0); /* slow: > 6s */
    j.at_ms = ack_at;
    push_job(&j);
    const char *ehr = closing_event(pathway, stage);
    int64_t done_at = ack_at + 2000 + (int64_t)(draw(task_id, "work") % 4000);
    if (ehr) {
        j.action = DO_EHR;
        baton_strlcpy(j.what, ehr, sizeof j.what);
    } else {
        j.action = DO_COMPLETE;
    }
    j.at_ms = done_at;
    push_job(&j);
}

/* Does person own task_id of instance inst right now (read API)? */
static bool owns(const char *inst, const char *task_id, const char *person)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/instances/%s", inst);
    json_t *j = demo_get_json(conf, path), *t;
    size_t i;
    bool yes = false;
    json_array_foreach(json_object_get(j, "waiting_on"), i, t)
    {
        const char *id = json_string_value(json_object_get(t, "task_id"));
        const char *owner = json_string_value(json_object_get(t, "owner"));
        if (id && owner && strcmp(id, task_id) == 0 && strcmp(owner, person) == 0)
            yes = true;
    }
    json_decref(j);
    return yes;
}

static int kind_index(const char *kind)
{
    static const char *kinds[] = {"assigned", "reminder", "escalation", "reassigned", "completed"};
    for (int i = 0; i < 5; i++)
        if (strcmp(kind, kinds[i]) == 0)
            return i;
    return 5;
}

static bool signature_ok(const baton_http_req_t *req)
{
    const char *sig = baton_http_header(req, "X-Baton-Signature");
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    HMAC(EVP_sha256(), conf->webhook_secret, (int)strlen(conf->webhook_secret),
         (const unsigned char *)req->body, req->body_len, mac, &maclen);
    char hex[2 * EVP_MAX_MD_SIZE + 8] = "sha256=";
    for (unsigned i = 0; i < maclen; i++)
        snprintf(hex + 7 + 2 * i, 3, "%02x", mac[i]);
    return sig && strlen(sig) == strlen(hex) && CRYPTO_memcmp(sig, hex, strlen(hex)) == 0;
}

static void on_hook(baton_http_req_t *req, baton_http_resp_t *resp, void *ud)
{
    (void)ud;
    if (!signature_ok(req)) {
        demo_count(&demo_stats.bad_signatures, 1);
        baton_http_problem(resp, 401, "bad-signature", "Bad signature", NULL);
        return;
    }
    json_t *n = baton_http_parse_json(req, resp);
    if (!n)
        return;
    const char *kind = json_string_value(json_object_get(n, "kind"));
    const char *person = json_string_value(json_object_get(n, "person"));
    const char *task = json_string_value(json_object_get(n, "task_id"));
    const char *inst = json_string_value(json_object_get(n, "instance_id"));
    const char *pathway = json_string_value(json_object_get(n, "pathway"));
    const char *stage = json_string_value(json_object_get(n, "stage"));
    int level = (int)json_integer_value(json_object_get(n, "level"));
    demo_count(&demo_stats.notifications, 1);
    demo_count(&demo_stats.by_kind[kind_index(kind ? kind : "")], 1);
    if (kind && strcmp(kind, "escalation") == 0 && level >= 0 && level < 8)
        demo_count(&demo_stats.escalation_levels[level], 1);
    bool mine = kind && person && task && inst && pathway && stage &&
                strcmp(person, baton_http_param(req, "person")) == 0;
    const demo_person_t *p = person ? demo_person(person) : NULL;
    if (mine && (strcmp(kind, "assigned") == 0 || strcmp(kind, "reassigned") == 0)) {
        react_to_assignment(person, task, inst, pathway, stage, baton_now_ms());
    } else if (mine && strcmp(kind, "escalation") == 0 && p && p->lead) {
        /* an escalation may have made the lead the owner (reassign) or only told them
         * (notify): they look the task up in a moment and answer when it is theirs */
        demo_job_t j = {.at_ms = baton_now_ms() + 1500, .action = DO_CLAIM, .tries = 3};
        baton_strlcpy(j.person, person, sizeof j.person);
        baton_strlcpy(j.task_id, task, sizeof j.task_id);
        baton_strlcpy(j.instance_id, inst, sizeof j.instance_id);
        baton_strlcpy(j.pathway, pathway, sizeof j.pathway);
        baton_strlcpy(j.stage, stage, sizeof j.stage);
        push_job(&j);
    }
    json_decref(n);
    baton_http_respond(resp, 204, "text/plain", "", 0);
}

static char *staff_token(const demo_person_t *p)
{
    jwt_t *jwt = NULL;
    if (jwt_new(&jwt) != 0)
        return NULL;
    char roles[96];
    snprintf(roles, sizeof roles, "{\"roles\":[\"%s\"]}", p->role);
    jwt_add_grant(jwt, "sub", p->id);
    jwt_add_grant(jwt, "tenant", conf->tenant);
    jwt_add_grants_json(jwt, roles);
    jwt_add_grant_int(jwt, "exp", (long)(baton_now_ms() / 1000 + 3600));
    jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)conf->jwt_secret,
                (int)strlen(conf->jwt_secret));
    char *tok = jwt_encode_str(jwt);
    jwt_free(jwt);
    return tok;
}

static void staff_action(const demo_job_t *j)
{
    static const char *verbs[] = {"ack", "start", "complete", "decline"};
    const demo_person_t *p = demo_person(j->person);
    char *tok = p ? staff_token(p) : NULL;
    if (!tok)
        return;
    char path[160];
    snprintf(path, sizeof path, "/v1/tasks/%s/%s", j->task_id, verbs[j->action]);
    demo_resp_t r;
    int rc = demo_http(conf, "POST", path, tok, "application/json", "{}", &r);
    if (rc == 0 && r.status == 202) {
        int *field[] = {&demo_stats.acks, NULL, &demo_stats.completes, &demo_stats.declines};
        if (field[j->action])
            demo_count(field[j->action], 1);
    } else if (r.status == 403 || r.status == 409) {
        demo_count(&demo_stats.action_conflicts, 1); /* the task moved on meanwhile */
    } else {
        demo_count(&demo_stats.action_errors, 1);
    }
    free(r.body);
    free(tok);
}

/* An EHR event closing the stage: look the instance up for its encounter and place. */
static void ehr_event(const demo_job_t *j)
{
    char enc[64], fac[32], unit[32], path[128];
    snprintf(path, sizeof path, "/v1/instances/%s", j->instance_id);
    json_t *inst = demo_get_json(conf, path);
    const char *e = json_string_value(json_object_get(inst, "encounter"));
    const char *f = json_string_value(json_object_get(inst, "facility"));
    const char *u = json_string_value(json_object_get(inst, "unit"));
    if (!e || !f) {
        json_decref(inst);
        demo_count(&demo_stats.action_errors, 1);
        return;
    }
    baton_strlcpy(enc, e, sizeof enc);
    baton_strlcpy(fac, f, sizeof fac);
    baton_strlcpy(unit, u ? u : "", sizeof unit);
    json_decref(inst);
    if (strcmp(j->what, "adt.discharge") == 0) {
        /* the patient leaves: the ADT system sends A03 over HL7 v2 */
        char ts[BATON_RFC3339_LEN], id[BATON_ID_LEN], dtm[16];
        baton_time_format(baton_now_ms(), ts, sizeof ts);
        snprintf(dtm, sizeof dtm, "%.4s%.2s%.2s%.2s%.2s%.2s", ts, ts + 5, ts + 8, ts + 11, ts + 14,
                 ts + 17);
        baton_uuidv7(id);
        char *msg = baton_xasprintf("MSH|^~\\&|ADT|%s|BATON|%s|%s||ADT^A03^ADT_A03|%.20s|P|2.5.1\r"
                                    "EVN|A03|%s\r"
                                    "PID|1||MRN-%s^^^%s^MR||DOE^PAT\r"
                                    "PV1|1|I|%s^^^%s||||||||||||||||%s|||||||||||||||||01\r",
                                    fac, fac, dtm, id + 24, dtm, enc + 4, fac, unit, fac, enc);
        long st = demo_send_hl7(conf, msg);
        free(msg);
        demo_count(st == 200 ? &demo_stats.events_sent : &demo_stats.events_rejected, 1);
        return;
    }
    long st = demo_send_event(conf, j->what, fac, unit[0] ? unit : NULL, NULL, enc, NULL);
    (void)st;
}

void demo_staff_tick(const demo_conf_t *c, int64_t now_ms)
{
    (void)c;
    for (;;) {
        demo_job_t due;
        bool found = false;
        pthread_mutex_lock(&jobs_lock);
        for (size_t i = 0; i < njobs; i++) {
            if (jobs[i].at_ms <= now_ms) {
                due = jobs[i];
                jobs[i] = jobs[--njobs];
                found = true;
                break;
            }
        }
        pthread_mutex_unlock(&jobs_lock);
        if (!found)
            return;
        if (due.action == DO_EHR) {
            ehr_event(&due);
        } else if (due.action == DO_CLAIM) {
            if (owns(due.instance_id, due.task_id, due.person)) {
                react_to_assignment(due.person, due.task_id, due.instance_id, due.pathway,
                                    due.stage, now_ms);
            } else if (--due.tries > 0) {
                due.at_ms = now_ms + 1500;
                push_job(&due);
            }
        } else {
            staff_action(&due);
        }
    }
}

int demo_staff_start(const demo_conf_t *c, char *err, size_t errlen)
{
    conf = c;
    baton_http_config_t cfg = baton_http_config_default();
    cfg.bind = "127.0.0.1";
    cfg.port = 0;
    receiver = baton_http_server_new(&cfg, err, errlen);
    if (!receiver || baton_http_route(receiver, "POST", "/hook/{person}", on_hook, NULL) != 0 ||
        baton_http_server_start(receiver, err, errlen) != 0)
        return -1;
    demo_staff_port = baton_http_server_port(receiver);
    return demo_staff_port;
}

void demo_staff_stop(void)
{
    baton_http_server_free(receiver);
    receiver = NULL;
    free(jobs);
    jobs = NULL;
    njobs = capjobs = 0;
}
