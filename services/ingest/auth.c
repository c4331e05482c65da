/* auth.c — who is calling: source-system API keys (BATON_API_KEYS, salted SHA-256 compared in
 * constant time) and staff JWTs (jwt.c), with the 401 / 403 answers of the public contract. */
#include "ingest.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int parse_scopes(const char *s, unsigned *out)
{
    *out = 0;
    char *copy = baton_xstrdup(s), *save = NULL;
    int rc = 0;
    for (char *t = strtok_r(copy, "+", &save); t; t = strtok_r(NULL, "+", &save)) {
        if (strcmp(t, "events") == 0)
            *out |= INGEST_SCOPE_EVENTS;
        else if (strcmp(t, "rosters") == 0)
            *out |= INGEST_SCOPE_ROSTERS;
        else if (strcmp(t, "read") == 0)
            *out |= INGEST_SCOPE_READ;
        else
            rc = BATON_EINVAL;
    }
    free(copy);
    return rc;
}

static int parse_one(char *item, ingest_api_key_t *k, size_t idx, char *err, size_t errlen)
{
    char *f[5];
    size_t nf = 0;
    for (char *p = item; nf < 5;) {
        f[nf++] = p;
        char *c = strchr(p, ':');
        if (!c)
            break;
        *c = '\0';
        p = c + 1;
    }
    if (nf != 5 || !*f[0] || !*f[1] || strlen(f[0]) > 64 || strlen(f[1]) > 64) {
        baton_seterr(err, errlen,
                     "BATON_API_KEYS: entry %zu: expected id:tenant:scopes:salt:sha256hex",
                     idx + 1);
        return BATON_EINVAL;
    }
    baton_strlcpy(k->id, f[0], sizeof k->id);
    baton_strlcpy(k->tenant, f[1], sizeof k->tenant);
    if (parse_scopes(f[2], &k->scopes) != 0) {
        baton_seterr(err, errlen, "BATON_API_KEYS: entry %zu: scopes are events, rosters, read",
                     idx + 1);
        return BATON_EINVAL;
    }
    if (strlen(f[4]) != 64) {
        baton_seterr(err, errlen, "BATON_API_KEYS: entry %zu: the hash must be 64 hex digits",
                     idx + 1);
        return BATON_EINVAL;
    }
    for (int i = 0; i < 32; i++) {
        int hi = hexval(f[4][2 * i]), lo = hexval(f[4][2 * i + 1]);
        if (hi < 0 || lo < 0) {
            baton_seterr(err, errlen, "BATON_API_KEYS: entry %zu: the hash must be hex", idx + 1);
            return BATON_EINVAL;
        }
        k->digest[i] = (unsigned char)(hi << 4 | lo);
    }
    k->salt_len = strlen(f[3]);
    k->salt = (unsigned char *)baton_xstrndup(f[3], k->salt_len);
    return 0;
}

int ingest_api_keys_parse(const char *spec, ingest_api_keys_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    char *copy = baton_xstrdup(spec ? spec : ""), *save = NULL;
    int rc = 0;
    for (char *t = strtok_r(copy, ";\n", &save); t && rc == 0; t = strtok_r(NULL, ";\n", &save)) {
        while (*t == ' ')
            t++;
        if (!*t)
            continue;
        out->v = baton_xrealloc(out->v, (out->n + 1) * sizeof *out->v);
        memset(&out->v[out->n], 0, sizeof out->v[0]);
        rc = parse_one(t, &out->v[out->n], out->n, err, errlen);
        out->n++;
    }
    free(copy);
    if (rc)
        ingest_api_keys_free(out);
    return rc;
}

void ingest_api_keys_free(ingest_api_keys_t *k)
{
    for (size_t i = 0; i < k->n; i++)
        free(k->v[i].salt);
    free(k->v);
    memset(k, 0, sizeof *k);
}

/* SHA-256 fetched once: EVP_sha256() in EVP_DigestInit_ex looks the algorithm up again (under
 * the provider store's lock) on every call, from every request thread. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

const ingest_api_key_t *ingest_api_keys_match(const ingest_api_keys_t *k, const char *presented)
{
    pthread_once(&sha256_once, sha256_fetch);
    const EVP_MD *md = sha256_md ? sha256_md : EVP_sha256();
    const ingest_api_key_t *found = NULL;
    size_t plen = strlen(presented);
    /* every key is hashed and compared, whichever matches, so timing says nothing */
    for (size_t i = 0; i < k->n; i++) {
        unsigned char d[32];
        unsigned int dlen = 0;
        EVP_MD_CTX *c = EVP_MD_CTX_new();
        EVP_DigestInit_ex(c, md, NULL);
        EVP_DigestUpdate(c, k->v[i].salt, k->v[i].salt_len);
        EVP_DigestUpdate(c, presented, plen);
        EVP_DigestFinal_ex(c, d, &dlen);
        EVP_MD_CTX_free(c);
        if (CRYPTO_memcmp(d, k->v[i].digest, 32) == 0 && !found)
            found = &k->v[i];
    }
    return found;
}

/* ---- answers ---- */

static void answer(baton_http_resp_t *resp, ingest_err_style_t style, int status, const char *type,
                   const char *title, const char *detail, bool bad_token)
{
    if (status == 401)
        baton_http_resp_header(resp, "WWW-Authenticate",
                               bad_token ? "Bearer realm=\"baton\", error=\"invalid_token\""
                                         : "Bearer realm=\"baton\"");
    if (style == INGEST_ERR_FHIR) {
        baton_fhir_issue_t is = {"error", status == 401 ? "login" : "forbidden", detail, NULL};
        baton_http_fhir_outcome(resp, status, &is, 1);
    } else {
        baton_http_problem(resp, status, type, title, detail);
    }
}

/* The token after "Bearer ", or NULL. */
static const char *bearer(const baton_http_req_t *req)
{
    const char *h = baton_http_header(req, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    return *h ? h : NULL;
}

static const char *scope_name(unsigned scope)
{
    return scope == INGEST_SCOPE_EVENTS    ? "events"
           : scope == INGEST_SCOPE_ROSTERS ? "rosters"
                                           : "read";
}

bool ingest_auth_key(ingest_t *app, baton_http_req_t *req, baton_http_resp_t *resp, unsigned scope,
                     ingest_err_style_t style, ingest_source_t src, bool allow_staff,
                     ingest_caller_t *out)
{
    memset(out, 0, sizeof *out);
    const char *tok = bearer(req);
    if (!tok) {
        ingest_metrics_rejected(&app->m, src, INGEST_REJ_UNAUTHORIZED);
        answer(resp, style, 401, "unauthorized", "Unauthorized",
               "an API key is required: Authorization: Bearer <key>", false);
        return false;
    }
    if (allow_staff && ingest_jwt_looks_like(tok)) {
        char why[128];
        if (ingest_jwt_verify(app->jwt, tok, baton_now_ms(), &out->who, why, sizeof why) != 0) {
            ingest_metrics_rejected(&app->m, src, INGEST_REJ_UNAUTHORIZED);
            answer(resp, style, 401, "unauthorized", "Unauthorized", why, true);
            return false;
        }
        out->staff = true;
        baton_strlcpy(out->tenant, out->who.tenant, sizeof out->tenant);
        return true;
    }
    const ingest_api_key_t *k = ingest_api_keys_match(&app->keys, tok);
    if (!k) {
        ingest_metrics_rejected(&app->m, src, INGEST_REJ_UNAUTHORIZED);
        answer(resp, style, 401, "unauthorized", "Unauthorized", "the API key is not valid", true);
        return false;
    }
    if (!(k->scopes & scope)) {
        char d[96];
        snprintf(d, sizeof d, "the API key lacks the %s scope", scope_name(scope));
        ingest_metrics_rejected(&app->m, src, INGEST_REJ_FORBIDDEN);
        answer(resp, style, 403, "forbidden", "Forbidden", d, false);
        return false;
    }
    baton_strlcpy(out->tenant, k->tenant, sizeof out->tenant);
    baton_strlcpy(out->key_id, k->id, sizeof out->key_id);
    return true;
}

bool ingest_auth_staff(ingest_t *app, baton_http_req_t *req, baton_http_resp_t *resp,
                       ingest_caller_t *out)
{
    memset(out, 0, sizeof *out);
    const char *tok = bearer(req);
    char why[128];
    if (!tok) {
        ingest_metrics_rejected(&app->m, INGEST_SRC_STAFF, INGEST_REJ_UNAUTHORIZED);
        answer(resp, INGEST_ERR_PROBLEM, 401, "unauthorized", "Unauthorized",
               "a staff token is required: Authorization: Bearer <JWT>", false);
        return false;
    }
    if (ingest_jwt_verify(app->jwt, tok, baton_now_ms(), &out->who, why, sizeof why) != 0) {
        ingest_metrics_rejected(&app->m, INGEST_SRC_STAFF, INGEST_REJ_UNAUTHORIZED);
        answer(resp, INGEST_ERR_PROBLEM, 401, "unauthorized", "Unauthorized", why, true);
        return false;
    }
    out->staff = true;
    baton_strlcpy(out->tenant, out->who.tenant, sizeof out->tenant);
    return true;
}

void ingest_caller_free(ingest_caller_t *c)
{
    ingest_staff_free(&c->who);
}
