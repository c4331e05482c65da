/* test_readapi — the read API (libs/readapi) on an HTTP server started here, over projections
 * written by the audit writer lib into a real PostgreSQL, read with the read-only role.
 * Stats are checked against figures computed by hand (percentile_cont interpolates linearly:
 * p at rank p*(n-1) between the two nearest sorted values). */
#include "baton/readapi.h"
#include "it_events.h"
#include "test.h"

#include <curl/curl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static harness_pg_t pg;
static baton_http_server_t *srv;
static baton_readapi_t *api;
static baton_pathway_set_t *set;
static int port;

/* "Bearer <tenant>" is the tenant; "Bearer nope" is forbidden; nothing is unauthorized. */
static int auth(baton_http_req_t *req, baton_http_resp_t *resp, char *tenant, size_t len, void *ud)
{
    (void)ud;
    const char *h = baton_http_header(req, "Authorization");
    if (!h || strncmp(h, "Bearer ", 7) != 0) {
        baton_http_problem(resp, 401, "unauthorized", "Unauthorized", NULL);
        return -1;
    }
    if (strcmp(h + 7, "nope") == 0) {
        baton_http_problem(resp, 403, "forbidden", "Forbidden", "scope read required");
        return -1;
    }
    baton_strlcpy(tenant, h + 7, len);
    return 0;
}

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
    baton_buf_append(ud, p, size * n);
    return size * n;
}

/* GET path as tenant (NULL: no Authorization). Returns the parsed body; *status the code. */
static json_t *get(const char *path, const char *tenant, long *status, char *ctype, size_t ctlen)
{
    CURL *c = curl_easy_init();
    char *url = baton_xasprintf("http://127.0.0.1:%d%s", port, path);
    baton_buf_t body = BATON_BUF_INIT;
    struct curl_slist *hdrs = NULL;
    char *authz = NULL;
    if (tenant) {
        authz = baton_xasprintf("Authorization: Bearer %s", tenant);
        hdrs = curl_slist_append(hdrs, authz);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    if (curl_easy_perform(c) != CURLE_OK)
        TEST_FAIL("GET %s failed", path);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    char *ct = NULL;
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
    if (ctype)
        baton_strlcpy(ctype, ct ? ct : "", ctlen);
    json_error_t jerr;
    json_t *j = json_loadb(body.data ? body.data : "", body.len, 0, &jerr);
    if (!j)
        TEST_FAIL("GET %s: not JSON: %s", path, body.data ? body.data : "");
    baton_buf_free(&body);
    curl_slist_free_all(hdrs);
    free(authz);
    free(url);
    curl_easy_cleanup(c);
    return j;
}

static json_t *get_ok(const char *path, const char *tenant)
{
    long st = 0;
    json_t *j = get(path, tenant, &st, NULL, 0);
    if (st != 200) {
        char *s = json_dumps(j, 0);
        TEST_FAIL("GET %s: status %ld: %s", path, st, s);
    }
    return j;
}

static const char *str_at(json_t *j, const char *path)
{
    /* "a.b.0.c": objects by key, arrays by index */
    char *copy = baton_xstrdup(path), *save = NULL;
    json_t *cur = j;
    for (char *t = strtok_r(copy, ".", &save); t && cur; t = strtok_r(NULL, ".", &save))
        cur = json_is_array(cur) ? json_array_get(cur, (size_t)atoi(t)) : json_object_get(cur, t);
    free(copy);
    static char buf[8][256];
    static int k;
    char *out = buf[k++ % 8];
    if (!cur)
        return "(missing)";
    if (json_is_string(cur))
        return json_string_value(cur);
    char *d = json_dumps(cur, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS);
    baton_strlcpy(out, d, 256);
    free(d);
    return out;
}

static double num_at(json_t *j, const char *path)
{
    return atof(str_at(j, path));
}

#define ASSERT_NEAR(a, b)                                                                          \
    do {                                                                                           \
        double x_ = (a), y_ = (b);                                                                 \
        if (fabs(x_ - y_) > 1e-6)                                                                  \
            TEST_FAIL("%s == %s: %.9f != %.9f", #a, #b, x_, y_);                                   \
    } while (0)

/* ---- the data ---- */

static void consult_task(it_seq_t *q, int k, int64_t ack_s, int64_t done_s, bool ack_breach,
                         bool done_breach, int escalations, bool reassigned, bool override_)
{
    char inst[32], task[32];
    snprintf(inst, sizeof inst, "c-%d", k);
    snprintf(task, sizeof task, "c-%d-respond", k);
    it_ctx_t c = {"acme", "F1", "5E", inst, "consult", 1, "acme/C"};
    int64_t t = IT_T0 + (int64_t)k * 3600000;
    char ids[12][48];
    for (int i = 0; i < 12; i++)
        snprintf(ids[i], sizeof ids[i], "%s-%d", inst, i);
    it_add(q, &c, &(it_ev_t){.id = ids[0], .type = "instance.started", .at = t});
    it_add(q, &c,
           &(it_ev_t){.id = ids[1],
                      .type = "task.assigned",
                      .at = t,
                      .task = task,
                      .stage = "respond",
                      .role = "hospitalist",
                      .status = "ready",
                      .owner = "p-h",
                      .person = "p-h",
                      .ack_due = t + 240000,
                      .complete_due = t + 1000000});
    for (int e = 0; e < escalations; e++)
        it_add(q, &c,
               &(it_ev_t){.id = ids[2 + e],
                          .type = "task.escalated",
                          .at = t + 240000,
                          .task = task,
                          .stage = "respond",
                          .role = "hospitalist",
                          .status = "ready",
                          .owner = "p-h",
                          .level = e + 1,
                          .step = e,
                          .step_action = "notify",
                          .target = "chief"});
    if (ack_breach)
        it_add(q, &c,
               &(it_ev_t){.id = ids[4],
                          .type = "task.deadline_missed",
                          .at = t + 240000,
                          .level = escalations,
                          .task = task,
                          .stage = "respond",
                          .role = "hospitalist",
                          .status = "ready",
                          .owner = "p-h",
                          .deadline = "ack"});
    if (reassigned)
        it_add(q, &c,
               &(it_ev_t){.id = ids[5],
                          .type = "task.reassigned",
                          .at = t + 1000,
                          .level = escalations,
                          .task = task,
                          .stage = "respond",
                          .role = "hospitalist",
                          .status = "ready",
                          .owner = "p-h",
                          .from = "p-x",
                          .to = "p-h",
                          .actor = "p-x"});
    it_add(q, &c,
           &(it_ev_t){.id = ids[6],
                      .type = "task.acknowledged",
                      .at = t + ack_s * 1000,
                      .level = escalations,
                      .task = task,
                      .stage = "respond",
                      .role = "hospitalist",
                      .status = "accepted",
                      .owner = "p-h",
                      .actor = "p-h"});
    if (done_breach)
        it_add(q, &c,
               &(it_ev_t){.id = ids[7],
                          .type = "task.deadline_missed",
                          .at = t + 1000000,
                          .level = escalations,
                          .task = task,
                          .stage = "respond",
                          .role = "hospitalist",
                          .status = "accepted",
                          .owner = "p-h",
                          .deadline = "complete"});
    if (done_s > 0)
        it_add(q, &c,
               &(it_ev_t){.id = ids[8],
                          .type = "task.completed",
                          .at = t + done_s * 1000,
                          .level = escalations,
                          .task = task,
                          .stage = "respond",
                          .role = "hospitalist",
                          .status = "completed",
                          .owner = "p-h",
                          .actor = "p-h",
                          .override_ = override_});
}

static void load_data(void)
{
    char err[256] = "";
    baton_pg_t *admin = baton_pg_new(pg.dsn, err, sizeof err);
    ASSERT_NOT_NULL(admin);
    ASSERT_EQ_INT(baton_audit_migrate(admin, NULL), 0);
    baton_pg_free(admin);
    char *wdsn = it_role_dsn(&pg, BATON_AUDIT_WRITER_ROLE);
    baton_pg_t *w = baton_pg_new(wdsn, err, sizeof err);
    ASSERT_NOT_NULL(w);
    it_seq_t q = {0};
    /* i-1: a whole discharge (version 3: no definition loaded for it) */
    it_discharge(&q, &(it_ctx_t){"acme", "F1", "4W", "i-1", "discharge", 3, "acme/ENC-1"});
    /* i-2: a discharge (version 1) under way: med_rec waits for its ack, placement on a gap */
    it_ctx_t c2 = {"acme", "F1", "4W", "i-2", "discharge", 1, "acme/ENC-2"};
    int64_t t2 = IT_T0 + 2 * 3600000;
    it_add(&q, &c2,
           &(it_ev_t){.id = "i-2-1", .type = "instance.started", .at = t2, .reason = "ENC-2"});
    it_add(&q, &c2,
           &(it_ev_t){.id = "i-2-2",
                      .type = "task.assigned",
                      .at = t2,
                      .task = "i-2-med_rec",
                      .stage = "med_rec",
                      .role = "pharmacist",
                      .status = "ready",
                      .owner = "p-pharm",
                      .person = "p-pharm",
                      .ack_due = t2 + 15 * IT_MIN,
                      .complete_due = t2 + 120 * IT_MIN});
    it_add(&q, &c2,
           &(it_ev_t){.id = "i-2-3",
                      .type = "task.assigned",
                      .at = t2 + 1000,
                      .task = "i-2-placement",
                      .stage = "placement",
                      .role = "case_manager",
                      .status = "ready",
                      .owner = "",
                      .person = "",
                      .complete_due = t2 + 240 * IT_MIN});
    /* i-3: another tenant's */
    it_ctx_t c3 = {"other", "F9", "1A", "i-3", "discharge", 1, "other/ENC-3"};
    it_add(&q, &c3, &(it_ev_t){.id = "i-3-1", .type = "instance.started", .at = IT_T0});
    it_add(&q, &c3,
           &(it_ev_t){.id = "i-3-2",
                      .type = "task.assigned",
                      .at = IT_T0,
                      .task = "i-3-med_rec",
                      .stage = "med_rec",
                      .role = "pharmacist",
                      .status = "ready",
                      .owner = "p-other",
                      .person = "p-other"});
    /* consult: four tasks of one stage, by hand:
     *  ack s      60, 120, 300, 600          complete s  600, 900, 1200, (open)
     *  breaches   ack: c-3, c-4; complete: c-4
     *  escalated  c-3 level 1; c-4 levels 1, 2
     *  reassigned c-2, c-4                   override: c-2's completion; 7 staff actions */
    consult_task(&q, 1, 60, 600, false, false, 0, false, false);
    consult_task(&q, 2, 120, 900, false, false, 0, true, true);
    consult_task(&q, 3, 300, 1200, true, false, 1, false, false);
    consult_task(&q, 4, 600, 0, true, true, 2, true, false);
    int64_t next[5] = {0};
    it_write_direct(w, &q, next);
    it_seq_free(&q);
    baton_pg_free(w);
    free(wdsn);
}

static void start(void)
{
    if (harness_pg_start(&pg) != 0)
        TEST_FAIL("PostgreSQL did not start");
    load_data();
    char err[512] = "";
    set = baton_pathway_load_dir(BATON_SOURCE_DIR "/pathways", NULL, err, sizeof err);
    if (!set)
        TEST_FAIL("pathways: %s", err);
    baton_http_config_t hc = baton_http_config_default();
    hc.bind = "127.0.0.1";
    srv = baton_http_server_new(&hc, err, sizeof err);
    ASSERT_NOT_NULL(srv);
    baton_readapi_config_t rc = baton_readapi_config_default();
    char *reader = it_role_dsn(&pg, BATON_AUDIT_READER_ROLE);
    rc.pg_dsn = reader;
    rc.auth = auth;
    rc.pathways = set;
    rc.pool_size = 2;
    api = baton_readapi_new(&rc, err, sizeof err);
    free(reader);
    ASSERT_NOT_NULL(api);
    ASSERT_EQ_INT(baton_readapi_register(api, srv), 0);
    ASSERT_EQ_INT(baton_http_server_start(srv, err, sizeof err), 0);
    port = baton_http_server_port(srv);
}

static void stop(void)
{
    baton_http_server_free(srv);
    baton_readapi_free(api);
    baton_pathway_set_free(set);
}

TEST(readapi_instances_and_tenancy)
{
    start();
    json_t *j = get_ok("/v1/instances?pathway=discharge", "acme");
    ASSERT_EQ_STR(str_at(j, "instances.0.id"), "i-2"); /* newest first */
    ASSERT_EQ_STR(str_at(j, "instances.1.id"), "i-1");
    ASSERT_EQ_STR(str_at(j, "instances.2"), "(missing)");
    ASSERT_EQ_STR(str_at(j, "instances.1.status"), "completed");
    ASSERT_EQ_STR(str_at(j, "instances.1.started_at"), "2026-11-21T10:00:00.000Z");
    ASSERT_EQ_STR(str_at(j, "instances.1.closed_at"), "2026-11-21T11:10:00.000Z");
    ASSERT_EQ_STR(str_at(j, "instances.1.waiting_on"), "[]");
    ASSERT_EQ_STR(str_at(j, "instances.0.waiting_on.0.stage"), "med_rec");
    ASSERT_EQ_STR(str_at(j, "instances.0.waiting_on.0.waiting_for"), "acknowledgement");
    ASSERT_EQ_STR(str_at(j, "instances.0.waiting_on.0.due_at"), "2026-11-21T12:15:00.000Z");
    ASSERT_EQ_STR(str_at(j, "instances.0.waiting_on.1.stage"), "placement");
    ASSERT_EQ_STR(str_at(j, "instances.0.waiting_on.1.owner"), "null");
    ASSERT_EQ_STR(str_at(j, "instances.0.waiting_on.1.role"), "case_manager");
    json_decref(j);

    j = get_ok("/v1/instances?status=completed&facility=F1&unit=4W", "acme");
    ASSERT_EQ_STR(str_at(j, "instances.0.id"), "i-1");
    ASSERT_EQ_STR(str_at(j, "instances.1"), "(missing)");
    json_decref(j);
    j = get_ok("/v1/instances?encounter=ENC-2", "acme");
    ASSERT_EQ_STR(str_at(j, "instances.0.id"), "i-2");
    ASSERT_EQ_STR(str_at(j, "instances.1"), "(missing)");
    json_decref(j);
    j = get_ok("/v1/instances?pathway=consult&limit=2", "acme");
    ASSERT_EQ_INT(json_array_size(json_object_get(j, "instances")), 2);
    json_decref(j);

    /* another tenant's instance does not exist for acme */
    long st = 0;
    char ct[128];
    j = get("/v1/instances/i-3", "acme", &st, ct, sizeof ct);
    ASSERT_EQ_INT(st, 404);
    ASSERT_EQ_STR(ct, "application/problem+json");
    ASSERT_EQ_STR(str_at(j, "status"), "404");
    json_decref(j);
    j = get("/v1/instances/i-3/audit", "acme", &st, NULL, 0);
    ASSERT_EQ_INT(st, 404);
    json_decref(j);
    j = get_ok("/v1/instances?pathway=discharge", "other");
    ASSERT_EQ_STR(str_at(j, "instances.0.id"), "i-3");
    ASSERT_EQ_STR(str_at(j, "instances.1"), "(missing)");
    json_decref(j);
    j = get_ok("/v1/instances/i-3", "other");
    ASSERT_EQ_STR(str_at(j, "facility"), "F9");
    json_decref(j);

    /* authentication is the caller's: 401 / 403 pass through; bad parameters are 400 */
    j = get("/v1/instances", NULL, &st, NULL, 0);
    ASSERT_EQ_INT(st, 401);
    json_decref(j);
    j = get("/v1/tasks", "nope", &st, NULL, 0);
    ASSERT_EQ_INT(st, 403);
    json_decref(j);
    j = get("/v1/instances?limit=0", "acme", &st, NULL, 0);
    ASSERT_EQ_INT(st, 400);
    ASSERT_EQ_STR(str_at(j, "detail"), "query parameter limit: expected an integer from 1 to 1000");
    json_decref(j);
    j = get("/v1/stats?from=yesterday", "acme", &st, NULL, 0);
    ASSERT_EQ_INT(st, 400);
    json_decref(j);
    stop();
}

TEST(readapi_instance_stages_and_audit)
{
    start();
    /* version 1 is loaded: every stage in definition order, unstarted ones pending */
    json_t *j = get_ok("/v1/instances/i-2", "acme");
    ASSERT_EQ_STR(str_at(j, "status"), "active");
    ASSERT_EQ_STR(str_at(j, "encounter"), "ENC-2");
    ASSERT_EQ_STR(str_at(j, "stages.0.stage"), "med_rec");
    ASSERT_EQ_STR(str_at(j, "stages.0.status"), "ready");
    ASSERT_EQ_STR(str_at(j, "stages.0.owner_role"), "pharmacist");
    ASSERT_EQ_STR(str_at(j, "stages.0.owner"), "p-pharm");
    ASSERT_EQ_STR(str_at(j, "stages.0.escalation_level"), "0");
    ASSERT_EQ_STR(str_at(j, "stages.0.ack_due_at"), "2026-11-21T12:15:00.000Z");
    ASSERT_EQ_STR(str_at(j, "stages.0.complete_due_at"), "2026-11-21T14:00:00.000Z");
    ASSERT_EQ_STR(str_at(j, "stages.1.stage"), "placement");
    ASSERT_EQ_STR(str_at(j, "stages.1.owner"), "null");
    ASSERT_EQ_STR(str_at(j, "stages.2.stage"), "discharge_education");
    ASSERT_EQ_STR(str_at(j, "stages.2.status"), "pending");
    ASSERT_EQ_STR(str_at(j, "stages.2.owner_role"), "nurse");
    ASSERT_EQ_STR(str_at(j, "stages.4.stage"), "room_turn");
    ASSERT_EQ_STR(str_at(j, "waiting_on.0.task_id"), "i-2-med_rec");
    ASSERT_EQ_STR(str_at(j, "waiting_on.1.task_id"), "i-2-placement");
    ASSERT_EQ_STR(str_at(j, "waiting_on.1.waiting_for"), "completion");
    json_decref(j);

    /* version 3 is not loaded: the stages that have tasks, in activation order */
    j = get_ok("/v1/instances/i-1", "acme");
    ASSERT_EQ_STR(str_at(j, "stages.0.stage"), "med_rec");
    ASSERT_EQ_STR(str_at(j, "stages.0.status"), "completed");
    ASSERT_EQ_STR(str_at(j, "stages.0.acknowledged_at"), "2026-11-21T10:05:00.000Z");
    ASSERT_EQ_STR(str_at(j, "stages.1.stage"), "placement");
    ASSERT_EQ_STR(str_at(j, "stages.1.skipped"), "true");
    ASSERT_EQ_STR(str_at(j, "stages.2.stage"), "transport");
    ASSERT_EQ_STR(str_at(j, "stages.3.stage"), "room_turn");
    ASSERT_EQ_STR(str_at(j, "stages.4"), "(missing)");
    json_decref(j);

    /* the audit trail: every event of the instance, inputs before what they caused */
    j = get_ok("/v1/instances/i-1/audit", "acme");
    const char *want[] = {"instance.started",       "task.assigned",     "task.skipped",
                          "notification.requested", "timer.schedule",    "notification.receipt",
                          "staff.action",           "task.acknowledged", "task.completed",
                          "task.assigned",          "task.completed",    "task.assigned",
                          "task.completed",         "instance.completed"};
    json_t *evs = json_object_get(j, "events");
    ASSERT_EQ_INT(json_array_size(evs), 14);
    for (size_t i = 0; i < 14; i++) {
        char path[32];
        snprintf(path, sizeof path, "events.%zu.type", i);
        ASSERT_EQ_STR(str_at(j, path), want[i]);
    }
    ASSERT_EQ_STR(str_at(j, "events.0.seq"), "1");
    ASSERT_EQ_STR(str_at(j, "events.0.prev_hash"), BATON_AUDIT_GENESIS_HASH);
    ASSERT_EQ_STR(str_at(j, "events.1.prev_hash"), str_at(j, "events.0.hash"));
    ASSERT_EQ_STR(str_at(j, "events.7.actor"), "p-pharm");
    ASSERT_EQ_STR(str_at(j, "events.7.topic"), "baton.lifecycle.v1");
    ASSERT_EQ_STR(str_at(j, "events.7.occurred_at"), "2026-11-21T10:05:00.000Z");
    ASSERT_EQ_STR(str_at(j, "events.7.event.task_acknowledged.task.status"), "accepted");
    ASSERT_EQ_INT(strlen(str_at(j, "events.7.hash")), 64);
    json_decref(j);
    stop();
}

TEST(readapi_tasks_handoff_list)
{
    start();
    json_t *j = get_ok("/v1/tasks", "acme"); /* default: open */
    /* open: i-2's two, c-4 (acknowledged, not completed); the most pressing deadline first:
     * i-2 med_rec's ack (12:15), c-4's completion (14:16:40), i-2 placement's (16:00) */
    ASSERT_EQ_STR(str_at(j, "tasks.0.task_id"), "i-2-med_rec");
    ASSERT_EQ_STR(str_at(j, "tasks.1.task_id"), "c-4-respond");
    ASSERT_EQ_STR(str_at(j, "tasks.2.task_id"), "i-2-placement");
    ASSERT_EQ_STR(str_at(j, "tasks.3"), "(missing)");
    ASSERT_EQ_STR(str_at(j, "tasks.1.escalation_level"), "2");
    ASSERT_EQ_STR(str_at(j, "tasks.1.ack_breached"), "true");
    ASSERT_EQ_STR(str_at(j, "tasks.2.owner"), "null");
    json_decref(j);
    j = get_ok("/v1/tasks?assignee=p-pharm&status=open", "acme");
    ASSERT_EQ_STR(str_at(j, "tasks.0.task_id"), "i-2-med_rec");
    ASSERT_EQ_STR(str_at(j, "tasks.0.ack_due_at"), "2026-11-21T12:15:00.000Z");
    ASSERT_EQ_STR(str_at(j, "tasks.1"), "(missing)");
    json_decref(j);
    j = get_ok("/v1/tasks?role=case_manager&facility=F1&unit=4W", "acme");
    ASSERT_EQ_STR(str_at(j, "tasks.0.task_id"), "i-2-placement");
    ASSERT_EQ_STR(str_at(j, "tasks.1"), "(missing)");
    json_decref(j);
    j = get_ok("/v1/tasks?status=completed&unit=5E", "acme");
    ASSERT_EQ_INT(json_array_size(json_object_get(j, "tasks")), 3);
    json_decref(j);
    j = get_ok("/v1/tasks?assignee=p-pharm", "other");
    ASSERT_EQ_STR(str_at(j, "tasks"), "[]");
    json_decref(j);
    stop();
}

TEST(readapi_stats_match_hand_computed_figures)
{
    start();
    json_t *j = get_ok("/v1/stats?pathway=consult", "acme");
    ASSERT_EQ_STR(str_at(j, "groups.1"), "(missing)");
    ASSERT_EQ_STR(str_at(j, "groups.0.stage"), "respond");
    ASSERT_EQ_STR(str_at(j, "groups.0.facility"), "F1");
    ASSERT_EQ_STR(str_at(j, "groups.0.unit"), "5E");
    ASSERT_EQ_STR(str_at(j, "groups.0.tasks"), "4");
    /* ack 60,120,300,600: p50 rank 1.5 → 120+.5*180; p90 rank 2.7 → 300+.7*300; p99 2.97 */
    ASSERT_NEAR(num_at(j, "groups.0.time_to_ack_s.p50"), 210);
    ASSERT_NEAR(num_at(j, "groups.0.time_to_ack_s.p90"), 510);
    ASSERT_NEAR(num_at(j, "groups.0.time_to_ack_s.p99"), 591);
    ASSERT_EQ_STR(str_at(j, "groups.0.time_to_ack_s.count"), "4");
    /* complete 600,900,1200: p50 rank 1 → 900; p90 rank 1.8 → 900+.8*300; p99 1.98 */
    ASSERT_NEAR(num_at(j, "groups.0.time_to_complete_s.p50"), 900);
    ASSERT_NEAR(num_at(j, "groups.0.time_to_complete_s.p90"), 1140);
    ASSERT_NEAR(num_at(j, "groups.0.time_to_complete_s.p99"), 1194);
    ASSERT_EQ_STR(str_at(j, "groups.0.time_to_complete_s.count"), "3");
    ASSERT_EQ_STR(str_at(j, "groups.0.sla_breaches"), "{\"ack\":2,\"complete\":1}");
    ASSERT_EQ_STR(str_at(j, "groups.0.escalations"), "3");
    ASSERT_EQ_STR(str_at(j, "groups.0.escalations_by_level"), "{\"1\":2,\"2\":1}");
    ASSERT_EQ_STR(str_at(j, "groups.0.reassignments"), "2");
    ASSERT_NEAR(num_at(j, "groups.0.reassignment_rate"), 0.5);
    ASSERT_EQ_STR(str_at(j, "groups.0.overrides"), "1");
    ASSERT_NEAR(num_at(j, "groups.0.override_frequency"), 1.0 / 7.0);
    json_decref(j);

    /* from: only c-3 and c-4 (activated 13:00 and 14:00): ack 300, 600 → p50 450 */
    j = get_ok("/v1/stats?pathway=consult&from=2026-11-21T12:30:00Z&to=2026-11-21T15:00:00Z",
               "acme");
    ASSERT_EQ_STR(str_at(j, "groups.0.tasks"), "2");
    ASSERT_NEAR(num_at(j, "groups.0.time_to_ack_s.p50"), 450);
    ASSERT_NEAR(num_at(j, "groups.0.time_to_complete_s.p50"), 1200);
    ASSERT_EQ_STR(str_at(j, "groups.0.escalations_by_level"), "{\"1\":2,\"2\":1}");
    ASSERT_EQ_STR(str_at(j, "from"), "2026-11-21T12:30:00Z");
    json_decref(j);

    /* discharge i-1 in F1/4W: med_rec acked after 300 s, done after 1800 s */
    j = get_ok("/v1/stats?pathway=discharge&facility=F1", "acme");
    ASSERT_EQ_STR(str_at(j, "groups.0.stage"), "med_rec");
    ASSERT_EQ_STR(str_at(j, "groups.0.tasks"), "2"); /* i-1 and i-2 */
    ASSERT_NEAR(num_at(j, "groups.0.time_to_ack_s.p50"), 300);
    ASSERT_EQ_STR(str_at(j, "groups.0.time_to_ack_s.count"), "1");
    ASSERT_EQ_STR(str_at(j, "groups.1.stage"), "placement"); /* i-2's; i-1's was skipped */
    ASSERT_EQ_STR(str_at(j, "groups.1.time_to_ack_s.p50"), "null");
    json_decref(j);
    j = get_ok("/v1/stats", "other");
    ASSERT_EQ_STR(str_at(j, "groups.0.facility"), "F9");
    ASSERT_EQ_STR(str_at(j, "groups.1"), "(missing)");
    json_decref(j);
    stop();
}

TEST(readapi_pathways_and_unavailable_store)
{
    start();
    json_t *j = get_ok("/v1/pathways", "acme");
    json_t *list = json_object_get(j, "pathways");
    ASSERT_EQ_INT(json_array_size(list), baton_pathway_count(set));
    json_t *d = NULL;
    for (size_t i = 0; i < json_array_size(list); i++)
        if (strcmp(str_at(json_array_get(list, i), "id"), "discharge") == 0)
            d = json_array_get(list, i);
    ASSERT_NOT_NULL(d);
    ASSERT_EQ_STR(str_at(d, "version"), "1");
    ASSERT_EQ_STR(str_at(d, "latest"), "true");
    ASSERT_EQ_STR(str_at(d, "trigger"), "order.discharge");
    ASSERT_EQ_STR(str_at(d, "stages.0.id"), "med_rec");
    ASSERT_EQ_STR(str_at(d, "stages.0.owner_role"), "pharmacist");
    ASSERT_EQ_STR(str_at(d, "stages.0.scope"), "facility");
    json_decref(j);
    /* PostgreSQL down: 503 with Retry-After, and back once it returns */
    ASSERT_EQ_INT(harness_pg_stop(&pg), 0);
    long st = 0;
    char ct[128];
    j = get("/v1/tasks", "acme", &st, ct, sizeof ct);
    ASSERT_EQ_INT(st, 503);
    ASSERT_EQ_STR(ct, "application/problem+json");
    json_decref(j);
    ASSERT_EQ_INT(harness_pg_restart(&pg), 0);
    int64_t deadline = baton_mono_ms() + 10000;
    do {
        j = get("/v1/tasks", "acme", &st, NULL, 0);
        json_decref(j);
        if (st == 200)
            break;
        usleep(200000);
    } while (baton_mono_ms() < deadline);
    ASSERT_EQ_INT(st, 200);
    stop();
}

TEST_MAIN()
