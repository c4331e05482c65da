/* test_tasks.c — staff actions with JWTs (HS256, RS256 PEM, RS256 JWKS), pre-validated against
 * the router's instance state in Redis: 401 / 403 / 404 / 409 at once, 202 + staff.action. */
#include "fixture.h"

#include "baton/pathway.h"
#include "baton/redis.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static Baton__V1__TaskState *task(const char *id, const char *stage, const char *status,
                                  const char *owner, const char *role)
{
    Baton__V1__TaskState *t = baton_xcalloc(1, sizeof *t);
    baton__v1__task_state__init(t);
    t->task_id = (char *)id;
    t->stage = (char *)stage;
    t->status = (char *)status;
    t->owner = (char *)owner;
    t->role = (char *)role;
    t->scope = (char *)"unit";
    return t;
}

/* A discharge instance of tenant acme with three tasks, written as the router would. */
static void seed_state(fx_t *f)
{
    Baton__V1__InstanceState st;
    baton__v1__instance_state__init(&st);
    st.instance_id = "inst-1";
    st.pathway = "discharge";
    st.pathway_version = 1;
    st.tenant = "acme";
    st.facility = "F1";
    st.unit = "4W";
    st.patient = "MRN123";
    st.encounter = "ENC9";
    st.correlation_key = "acme/ENC9";
    st.status = "active";
    Baton__V1__TaskState *ts[3] = {
        task("task-med", "med_rec", "ready", "p-pharm", "pharmacist"),
        task("task-edu", "discharge_education", "completed", "p-nurse", "nurse"),
        task("task-place", "placement", "ready", "cm1", "case_manager")};
    st.tasks = ts;
    st.n_tasks = 3;
    size_t len;
    uint8_t *buf = baton_pathway_state_pack(&st, &len);
    char err[128];
    baton_redis_t *r = baton_redis_new(f->redis.url, NULL, err, sizeof err);
    ASSERT_NOT_NULL(r);
    ASSERT_EQ_INT(baton_redis_command(r, NULL, "SET baton:inst:inst-1 %b", buf, len), 0);
    ASSERT_EQ_INT(baton_redis_command(r, NULL, "SET baton:task:task-med inst-1"), 0);
    ASSERT_EQ_INT(baton_redis_command(r, NULL, "SET baton:task:task-edu inst-1"), 0);
    ASSERT_EQ_INT(baton_redis_command(r, NULL, "SET baton:task:task-place inst-1"), 0);
    baton_redis_free(r);
    free(buf);
    for (int i = 0; i < 3; i++)
        free(ts[i]);
}

static void act(fx_t *f, const char *task_id, const char *action, const char *token,
                const char *body, fx_resp_t *r)
{
    char *path = baton_xasprintf("/v1/tasks/%s/%s", task_id, action);
    char *auth = token ? baton_xasprintf("Authorization: Bearer %s", token) : NULL;
    const char *hs[] = {"Content-Type: application/json", auth, NULL};
    fx_http(f, "POST", path, hs, body ? body : "", body ? strlen(body) : 0, r);
    free(auth);
    free(path);
}

TEST(ingest_tasks_ack_hs256)
{
    fx_t f;
    fx_start(&f, NULL);
    seed_state(&f);
    fx_reader_t *rd = fx_reader_new(&f);
    char *tok = fx_jwt_hs256(FX_JWT_SECRET, "p-pharm", "acme", "pharmacist", 600);
    fx_resp_t r;
    act(&f, "task-med", "ack", tok, "{\"note\":\"on it\"}", &r);
    if (r.status != 202)
        TEST_FAIL("%ld %s", r.status, r.body);
    json_t *j = fx_json(&r);
    ASSERT_EQ_STR(fx_jstr(j, "task_id"), "task-med");
    ASSERT_EQ_STR(fx_jstr(j, "action"), "ack");
    char event_id[64];
    baton_strlcpy(event_id, fx_jstr(j, "event_id"), sizeof event_id);
    json_decref(j);
    fx_resp_free(&r);
    char key[64], type[64];
    Baton__V1__Envelope *e = fx_reader_next(rd, 10000, key, sizeof key, type, sizeof type);
    ASSERT_NOT_NULL(e);
    ASSERT_EQ_STR(key, "acme/ENC9");
    ASSERT_EQ_STR(type, "staff.action");
    ASSERT_EQ_STR(e->id, event_id);
    ASSERT_EQ_STR(e->tenant, "acme");
    ASSERT_EQ_INT(e->body_case, BATON__V1__ENVELOPE__BODY_STAFF_ACTION);
    ASSERT_EQ_STR(e->staff_action->task_id, "task-med");
    ASSERT_EQ_STR(e->staff_action->instance_id, "inst-1");
    ASSERT_EQ_INT(e->staff_action->action, BATON__V1__ACTION__ACTION_ACK);
    ASSERT_EQ_STR(e->staff_action->actor, "p-pharm");
    ASSERT_EQ_INT(e->staff_action->n_actor_roles, 1);
    ASSERT_EQ_STR(e->staff_action->actor_roles[0], "pharmacist");
    ASSERT_EQ_STR(e->staff_action->note, "on it");
    baton_kafka_envelope_free(e);
    /* a role holder who is not the owner may start it; with an Idempotency-Key, twice = once */
    char *tok2 = fx_jwt_hs256(FX_JWT_SECRET, "p-other", "acme", "nurse,pharmacist", 600);
    char *auth = baton_xasprintf("Authorization: Bearer %s", tok2);
    const char *hs[] = {auth, "Idempotency-Key: start-1", NULL};
    fx_resp_t a, b;
    fx_http(&f, "POST", "/v1/tasks/task-med/start", hs, "", 0, &a);
    fx_http(&f, "POST", "/v1/tasks/task-med/start", hs, "", 0, &b);
    ASSERT_EQ_INT(a.status, 202);
    ASSERT_EQ_STR(a.body, b.body);
    fx_resp_free(&a);
    fx_resp_free(&b);
    ASSERT_EQ_INT(fx_reader_drain(rd, 1500), 1);
    free(auth);
    free(tok2);
    free(tok);
    fx_reader_free(rd);
}

TEST(ingest_tasks_401)
{
    fx_t f;
    fx_start(&f, NULL);
    seed_state(&f);
    fx_resp_t r;
    act(&f, "task-med", "ack", NULL, NULL, &r);
    fx_assert_problem(&r, 401, "unauthorized", NULL);
    ASSERT_EQ_STR(fx_header(&r, "WWW-Authenticate"), "Bearer realm=\"baton\"");
    fx_resp_free(&r);
    char *expired = fx_jwt_hs256(FX_JWT_SECRET, "p-pharm", "acme", "pharmacist", -120);
    act(&f, "task-med", "ack", expired, NULL, &r);
    fx_assert_problem(&r, 401, "unauthorized", NULL);
    ASSERT_CONTAINS(r.body, "expired");
    ASSERT_CONTAINS(fx_header(&r, "WWW-Authenticate"), "invalid_token");
    fx_resp_free(&r);
    char *badsig =
        fx_jwt_hs256("another-secret-entirely-000000000", "p-pharm", "acme", "pharmacist", 600);
    act(&f, "task-med", "ack", badsig, NULL, &r);
    fx_assert_problem(&r, 401, "unauthorized", NULL);
    ASSERT_CONTAINS(r.body, "signature");
    fx_resp_free(&r);
    /* an API key is not a staff token */
    act(&f, "task-med", "ack", FX_KEY_ALL, NULL, &r);
    fx_assert_problem(&r, 401, "unauthorized", NULL);
    fx_resp_free(&r);
    /* no tenant claim */
    char *notenant = fx_jwt_hs256(FX_JWT_SECRET, "p-pharm", NULL, "pharmacist", 600);
    act(&f, "task-med", "ack", notenant, NULL, &r);
    fx_assert_problem(&r, 401, "unauthorized", NULL);
    fx_resp_free(&r);
    free(expired);
    free(badsig);
    free(notenant);
}

TEST(ingest_tasks_403_404_409)
{
    fx_t f;
    fx_start(&f, NULL);
    seed_state(&f);
    fx_reader_t *rd = fx_reader_new(&f);
    fx_resp_t r;
    char *nurse = fx_jwt_hs256(FX_JWT_SECRET, "p-x", "acme", "nurse", 600);
    act(&f, "task-med", "ack", nurse, NULL, &r);
    fx_assert_problem(&r, 403, "forbidden", NULL);
    fx_resp_free(&r);
    char *other = fx_jwt_hs256(FX_JWT_SECRET, "p-pharm", "globex", "pharmacist", 600);
    act(&f, "task-med", "ack", other, NULL, &r);
    fx_assert_problem(&r, 404, "task-not-found", NULL);
    fx_resp_free(&r);
    char *pharm = fx_jwt_hs256(FX_JWT_SECRET, "p-pharm", "acme", "pharmacist", 600);
    act(&f, "no-such-task", "ack", pharm, NULL, &r);
    fx_assert_problem(&r, 404, "task-not-found", NULL);
    fx_resp_free(&r);
    /* a completed task cannot be acknowledged */
    char *rn = fx_jwt_hs256(FX_JWT_SECRET, "p-nurse", "acme", "nurse", 600);
    act(&f, "task-edu", "ack", rn, NULL, &r);
    fx_assert_problem(&r, 409, "illegal-transition", NULL);
    fx_resp_free(&r);
    /* a stage completed by an EHR event: not by its owner ... */
    char *cm = fx_jwt_hs256(FX_JWT_SECRET, "cm1", "acme", "case_manager", 600);
    act(&f, "task-place", "complete", cm, NULL, &r);
    fx_assert_problem(&r, 409, "illegal-transition", NULL);
    fx_resp_free(&r);
    /* ... but by an override role */
    char *lead = fx_jwt_hs256(FX_JWT_SECRET, "lead1", "acme", "case_management_lead", 600);
    act(&f, "task-place", "complete", lead, NULL, &r);
    ASSERT_EQ_INT(r.status, 202);
    fx_resp_free(&r);
    /* reassign needs "to"; to the current owner is a conflict */
    act(&f, "task-med", "reassign", pharm, "{}", &r);
    fx_assert_problem(&r, 422, "invalid-action", "/to");
    fx_resp_free(&r);
    act(&f, "task-med", "reassign", pharm, "{\"to\":\"p-pharm\"}", &r);
    fx_assert_problem(&r, 409, "illegal-transition", NULL);
    fx_resp_free(&r);
    act(&f, "task-med", "reassign", pharm, "{\"to\":\"p-2\",\"note\":\"swap\"}", &r);
    ASSERT_EQ_INT(r.status, 202);
    fx_resp_free(&r);
    act(&f, "task-med", "comment", pharm, "{\"note\":1}", &r);
    fx_assert_problem(&r, 422, "invalid-action", "/note");
    fx_resp_free(&r);
    act(&f, "task-med", "comment", pharm, "{not json", &r);
    fx_assert_problem(&r, 400, "malformed-json", NULL);
    fx_resp_free(&r);
    /* two writes: the override completion and the reassign */
    char type[64];
    Baton__V1__Envelope *e = fx_reader_next(rd, 10000, NULL, 0, type, sizeof type);
    ASSERT_NOT_NULL(e);
    ASSERT_EQ_INT(e->staff_action->action, BATON__V1__ACTION__ACTION_COMPLETE);
    baton_kafka_envelope_free(e);
    e = fx_reader_next(rd, 10000, NULL, 0, type, sizeof type);
    ASSERT_NOT_NULL(e);
    ASSERT_EQ_INT(e->staff_action->action, BATON__V1__ACTION__ACTION_REASSIGN);
    ASSERT_EQ_STR(e->staff_action->to_person, "p-2");
    baton_kafka_envelope_free(e);
    ASSERT_EQ_INT(fx_reader_drain(rd, 500), 0);
    fx_reader_free(rd);
    free(nurse), free(other), free(pharm), free(rn), free(cm), free(lead);
}

/* The router writes its state just after the notification that prompts an action is out: an
 * action that arrives before it is checked again (BATON_ACTION_RECHECK) and accepted once the
 * state shows the task; a refusal that stands is answered after the re-checks. */
static void *seed_later(void *arg)
{
    struct timespec ts = {0, 300 * 1000000L};
    nanosleep(&ts, NULL);
    seed_state(arg);
    return NULL;
}

TEST(ingest_tasks_recheck_state_written_late)
{
    const char *extra[] = {"BATON_ACTION_RECHECK=2s", NULL};
    fx_t f;
    fx_start(&f, extra);
    fx_reader_t *rd = fx_reader_new(&f);
    char *pharm = fx_jwt_hs256(FX_JWT_SECRET, "p-pharm", "acme", "pharmacist", 600);
    pthread_t seeder;
    ASSERT_EQ_INT(pthread_create(&seeder, NULL, seed_later, &f), 0);
    fx_resp_t r;
    act(&f, "task-med", "ack", pharm, NULL, &r); /* before the state exists */
    pthread_join(seeder, NULL);
    if (r.status != 202)
        TEST_FAIL("%ld %s", r.status, r.body);
    fx_resp_free(&r);
    char type[64];
    Baton__V1__Envelope *e = fx_reader_next(rd, 10000, NULL, 0, type, sizeof type);
    ASSERT_NOT_NULL(e);
    ASSERT_EQ_STR(e->staff_action->task_id, "task-med");
    ASSERT_EQ_STR(e->staff_action->instance_id, "inst-1");
    baton_kafka_envelope_free(e);
    ASSERT_EQ_INT((int)harness_metric(f.ops_port, "baton_ingest_staff_actions_rechecked_total"), 1);
    /* a refusal that stands is still answered, as it was */
    act(&f, "task-edu", "ack", pharm, NULL, &r);
    fx_assert_problem(&r, 403, "forbidden", NULL);
    fx_resp_free(&r);
    ASSERT_EQ_INT((int)harness_metric(f.ops_port, "baton_ingest_staff_actions_rechecked_total"), 1);
    ASSERT_EQ_INT(fx_reader_drain(rd, 500), 0);
    fx_reader_free(rd);
    free(pharm);
}

static void make_rsa(char **priv_path, char **pub_path)
{
    *priv_path = harness_path("jwt-key.pem");
    *pub_path = harness_path("jwt-pub.pem");
    char *cmd = baton_xasprintf("openssl genrsa -out %s 2048 2>/dev/null && "
                                "openssl rsa -in %s -pubout -out %s 2>/dev/null",
                                *priv_path, *priv_path, *pub_path);
    ASSERT_EQ_INT(system(cmd), 0);
    free(cmd);
}

TEST(ingest_tasks_rs256_pem)
{
    char *priv, *pub;
    make_rsa(&priv, &pub);
    char *env = baton_xasprintf("BATON_JWT_PUBLIC_KEY_FILE=%s", pub);
    const char *extra[] = {env, NULL};
    fx_t f;
    fx_start(&f, extra);
    seed_state(&f);
    char *pem = fx_read_file(priv, NULL);
    char *tok = fx_jwt_rs256(pem, NULL, "p-pharm", "acme", "pharmacist", 600);
    fx_resp_t r;
    act(&f, "task-med", "ack", tok, NULL, &r);
    ASSERT_EQ_INT(r.status, 202);
    fx_resp_free(&r);
    /* alg confusion: the public key used as an HS256 secret is refused */
    char *pubpem = fx_read_file(pub, NULL);
    char *forged = fx_jwt_hs256(pubpem, "p-pharm", "acme", "pharmacist", 600);
    act(&f, "task-med", "ack", forged, NULL, &r);
    fx_assert_problem(&r, 401, "unauthorized", NULL);
    fx_resp_free(&r);
    /* HS256 with the configured secret still works next to RS256 */
    char *hs = fx_jwt_hs256(FX_JWT_SECRET, "p-pharm", "acme", "pharmacist", 600);
    act(&f, "task-med", "comment", hs, "{\"note\":\"x\"}", &r);
    ASSERT_EQ_INT(r.status, 202);
    fx_resp_free(&r);
    free(hs), free(forged), free(pubpem), free(tok), free(pem), free(env), free(priv), free(pub);
}

static char *b64url_bn(const BIGNUM *bn)
{
    int n = BN_num_bytes(bn);
    unsigned char *raw = baton_xmalloc((size_t)n);
    BN_bn2bin(bn, raw);
    char *b64 = baton_xmalloc((size_t)(4 * ((n + 2) / 3) + 1));
    EVP_EncodeBlock((unsigned char *)b64, raw, n);
    free(raw);
    for (char *p = b64; *p; p++) {
        if (*p == '+')
            *p = '-';
        else if (*p == '/')
            *p = '_';
        else if (*p == '=')
            *p = '\0';
    }
    return b64;
}

TEST(ingest_tasks_rs256_jwks)
{
    char *priv, *pub;
    make_rsa(&priv, &pub);
    FILE *fp = fopen(pub, "r");
    ASSERT_NOT_NULL(fp);
    EVP_PKEY *pk = PEM_read_PUBKEY(fp, NULL, NULL, NULL);
    fclose(fp);
    ASSERT_NOT_NULL(pk);
    BIGNUM *n = NULL, *e = NULL;
    ASSERT_EQ_INT(EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_N, &n), 1);
    ASSERT_EQ_INT(EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_E, &e), 1);
    char *n64 = b64url_bn(n), *e64 = b64url_bn(e);
    char *jwks = baton_xasprintf("{\"keys\":[{\"kty\":\"EC\",\"kid\":\"ec1\",\"crv\":\"P-256\"},"
                                 "{\"kty\":\"RSA\",\"kid\":\"k-2026\",\"use\":\"sig\","
                                 "\"alg\":\"RS256\",\"n\":\"%s\",\"e\":\"%s\"}]}",
                                 n64, e64);
    char *jwks_path = fx_write_tmp("jwks.json", jwks);
    char *env = baton_xasprintf("BATON_JWT_JWKS_FILE=%s", jwks_path);
    const char *extra[] = {env, NULL};
    fx_t f;
    fx_start(&f, extra);
    seed_state(&f);
    char *pem = fx_read_file(priv, NULL);
    char *tok = fx_jwt_rs256(pem, "k-2026", "p-pharm", "acme", "pharmacist", 600);
    fx_resp_t r;
    act(&f, "task-med", "ack", tok, NULL, &r);
    if (r.status != 202)
        TEST_FAIL("%ld %s", r.status, r.body);
    fx_resp_free(&r);
    char *wrongkid = fx_jwt_rs256(pem, "k-unknown", "p-pharm", "acme", "pharmacist", 600);
    act(&f, "task-med", "ack", wrongkid, NULL, &r);
    fx_assert_problem(&r, 401, "unauthorized", NULL);
    fx_resp_free(&r);
    BN_free(n);
    BN_free(e);
    EVP_PKEY_free(pk);
    free(wrongkid), free(tok), free(pem), free(env), free(jwks_path), free(jwks), free(n64),
        free(e64), free(priv), free(pub);
}
