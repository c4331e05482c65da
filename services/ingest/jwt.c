/* jwt.c — staff tokens: compact JWS verified with libjwt (HS256 with BATON_JWT_SECRET, RS256
 * with a PEM public key or a key of a JWKS file chosen by kid).
 *
 * The algorithm is chosen by us, not by the token: the header is read first (base64url +
 * jansson) only to pick the key of the algorithm it names, and the decoded token must then
 * report that same algorithm. So an RS256 public key can never be used as an HMAC secret
 * ("alg confusion") and "none" is never accepted. libjwt 1.10 does not check exp / nbf: done
 * here. JWKS RSA keys (n, e) become PEM with OpenSSL 3's EVP_PKEY_fromdata. */
#include "ingest.h"

#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *kid; /* may be NULL */
    char *pem;
} jwk_t;

struct ingest_jwt {
    char *secret;
    size_t secret_len;
    char *pem; /* BATON_JWT_PUBLIC_KEY_FILE */
    jwk_t *jwks;
    size_t njwks;
    char *issuer, *audience;
    int64_t leeway_ms;
};

/* base64url (no padding) → bytes; returns length or -1. */
static long b64url_decode(const char *in, size_t n, unsigned char **out)
{
    size_t padded = (n + 3) / 4 * 4;
    char *tmp = baton_xmalloc(padded + 1);
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        tmp[i] = c == '-' ? '+' : c == '_' ? '/' : c;
    }
    for (size_t i = n; i < padded; i++)
        tmp[i] = '=';
    tmp[padded] = '\0';
    *out = baton_xmalloc(padded / 4 * 3 + 1);
    int len = EVP_DecodeBlock(*out, (unsigned char *)tmp, (int)padded);
    free(tmp);
    if (len < 0 || n % 4 == 1) {
        free(*out);
        *out = NULL;
        return -1;
    }
    len -= (int)(padded - n); /* the '=' we added decode to zero bytes */
    return len;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    baton_buf_t b = BATON_BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        baton_buf_append(&b, chunk, n);
    fclose(f);
    if (len)
        *len = b.len;
    if (!b.data)
        baton_buf_puts(&b, "");
    return baton_buf_steal(&b);
}

static BIGNUM *b64url_bn(const char *s)
{
    unsigned char *raw = NULL;
    long n = s ? b64url_decode(s, strlen(s), &raw) : -1;
    if (n <= 0) {
        free(raw);
        return NULL;
    }
    BIGNUM *bn = BN_bin2bn(raw, (int)n, NULL);
    free(raw);
    return bn;
}

/* RSA n, e (base64url) → PEM SubjectPublicKeyInfo, or NULL. */
static char *rsa_pem(const char *n64, const char *e64)
{
    BIGNUM *n = b64url_bn(n64), *e = b64url_bn(e64);
    char *pem = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;
    BIO *bio = NULL;
    if (!n || !e || !bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
        !(params = OSSL_PARAM_BLD_to_param(bld)))
        goto out;
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (!ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        goto out;
    bio = BIO_new(BIO_s_mem());
    if (!bio || !PEM_write_bio_PUBKEY(bio, pkey))
        goto out;
    char *data;
    long len = BIO_get_mem_data(bio, &data);
    pem = baton_xstrndup(data, (size_t)len);
out:
    BIO_free(bio);
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return pem;
}

static int load_jwks(ingest_jwt_t *j, const char *path, char *err, size_t errlen)
{
    json_error_t je;
    json_t *doc = json_load_file(path, 0, &je);
    json_t *keys = doc ? json_object_get(doc, "keys") : NULL;
    if (!json_is_array(keys)) {
        baton_seterr(err, errlen, "BATON_JWT_JWKS_FILE: not a JWKS document (line %d)", je.line);
        json_decref(doc);
        return BATON_EINVAL;
    }
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k)
    {
        const char *kty = json_string_value(json_object_get(k, "kty"));
        const char *use = json_string_value(json_object_get(k, "use"));
        if (!kty || strcmp(kty, "RSA") != 0 || (use && strcmp(use, "sig") != 0))
            continue;
        char *pem = rsa_pem(json_string_value(json_object_get(k, "n")),
                            json_string_value(json_object_get(k, "e")));
        if (!pem) {
            baton_seterr(err, errlen, "BATON_JWT_JWKS_FILE: key %zu: bad RSA n/e", i);
            json_decref(doc);
            return BATON_EINVAL;
        }
        const char *kid = json_string_value(json_object_get(k, "kid"));
        j->jwks = baton_xrealloc(j->jwks, (j->njwks + 1) * sizeof *j->jwks);
        j->jwks[j->njwks].kid = kid ? baton_xstrdup(kid) : NULL;
        j->jwks[j->njwks].pem = pem;
        j->njwks++;
    }
    json_decref(doc);
    if (j->njwks == 0) {
        baton_seterr(err, errlen, "BATON_JWT_JWKS_FILE: no RSA signing key");
        return BATON_EINVAL;
    }
    return 0;
}

ingest_jwt_t *ingest_jwt_new(const char *hs_secret, const char *pem_file, const char *jwks_file,
                             const char *issuer, const char *audience, int64_t leeway_ms, char *err,
                             size_t errlen)
{
    ingest_jwt_t *j = baton_xcalloc(1, sizeof *j);
    j->leeway_ms = leeway_ms;
    if (hs_secret && *hs_secret) {
        j->secret = baton_xstrdup(hs_secret);
        j->secret_len = strlen(hs_secret);
    }
    if (issuer && *issuer)
        j->issuer = baton_xstrdup(issuer);
    if (audience && *audience)
        j->audience = baton_xstrdup(audience);
    if (pem_file && *pem_file) {
        j->pem = read_file(pem_file, NULL);
        if (!j->pem || !strstr(j->pem, "-----BEGIN")) {
            baton_seterr(err, errlen, "BATON_JWT_PUBLIC_KEY_FILE: cannot read a PEM key");
            goto err;
        }
    }
    if (jwks_file && *jwks_file && load_jwks(j, jwks_file, err, errlen) != 0)
        goto err;
    return j;
err:
    ingest_jwt_free(j);
    return NULL;
}

void ingest_jwt_free(ingest_jwt_t *j)
{
    if (!j)
        return;
    if (j->secret)
        OPENSSL_cleanse(j->secret, j->secret_len);
    free(j->secret);
    free(j->pem);
    for (size_t i = 0; i < j->njwks; i++) {
        free(j->jwks[i].kid);
        free(j->jwks[i].pem);
    }
    free(j->jwks);
    free(j->issuer);
    free(j->audience);
    free(j);
}

bool ingest_jwt_looks_like(const char *t)
{
    const char *d1 = strchr(t, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    return strncmp(t, "eyJ", 3) == 0 && d2 && !strchr(d2 + 1, '.');
}

/* Read alg and kid from the token's header (no trust implied). */
static int read_header(const char *tok, char *alg, size_t alen, char *kid, size_t klen)
{
    const char *dot = strchr(tok, '.');
    if (!dot)
        return BATON_EPARSE;
    unsigned char *raw = NULL;
    long n = b64url_decode(tok, (size_t)(dot - tok), &raw);
    if (n <= 0) {
        free(raw);
        return BATON_EPARSE;
    }
    json_t *h = json_loadb((const char *)raw, (size_t)n, 0, NULL);
    free(raw);
    const char *a = json_string_value(json_object_get(h, "alg"));
    const char *k = json_string_value(json_object_get(h, "kid"));
    int rc = a ? 0 : BATON_EPARSE;
    baton_strlcpy(alg, a ? a : "", alen);
    baton_strlcpy(kid, k ? k : "", klen);
    json_decref(h);
    return rc;
}

static const char *pick_rsa_key(const ingest_jwt_t *j, const char *kid)
{
    for (size_t i = 0; *kid && i < j->njwks; i++)
        if (j->jwks[i].kid && strcmp(j->jwks[i].kid, kid) == 0)
            return j->jwks[i].pem;
    if (j->pem)
        return j->pem;
    if (!*kid && j->njwks == 1)
        return j->jwks[0].pem;
    return NULL;
}

static bool aud_ok(jwt_t *t, const char *want)
{
    const char *a = jwt_get_grant(t, "aud");
    if (a)
        return strcmp(a, want) == 0;
    char *js = jwt_get_grants_json(t, "aud");
    json_t *arr = js ? json_loads(js, 0, NULL) : NULL;
    free(js);
    bool ok = false;
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) ok |=
        json_is_string(v) && strcmp(json_string_value(v), want) == 0;
    json_decref(arr);
    return ok;
}

static int claims(const ingest_jwt_t *j, jwt_t *t, int64_t now_ms, ingest_staff_t *out,
                  const char **why)
{
    errno = 0;
    long exp = jwt_get_grant_int(t, "exp");
    if (errno == ENOENT || exp <= 0)
        return *why = "the token has no exp claim", BATON_EAUTH;
    if ((int64_t)exp * 1000 + j->leeway_ms <= now_ms)
        return *why = "the token has expired", BATON_EAUTH;
    errno = 0;
    long nbf = jwt_get_grant_int(t, "nbf");
    if (errno != ENOENT && nbf > 0 && (int64_t)nbf * 1000 - j->leeway_ms > now_ms)
        return *why = "the token is not valid yet", BATON_EAUTH;
    if (j->issuer && (!jwt_get_grant(t, "iss") || strcmp(jwt_get_grant(t, "iss"), j->issuer)))
        return *why = "the token's issuer is not accepted", BATON_EAUTH;
    if (j->audience && !aud_ok(t, j->audience))
        return *why = "the token is not meant for this audience", BATON_EAUTH;
    const char *sub = jwt_get_grant(t, "sub"), *ten = jwt_get_grant(t, "tenant");
    if (!sub || !*sub || strlen(sub) >= sizeof out->sub)
        return *why = "the token has no valid sub claim", BATON_EAUTH;
    if (!ten || !*ten || strlen(ten) >= sizeof out->tenant)
        return *why = "the token has no valid tenant claim", BATON_EAUTH;
    baton_strlcpy(out->sub, sub, sizeof out->sub);
    baton_strlcpy(out->tenant, ten, sizeof out->tenant);
    char *rj = jwt_get_grants_json(t, "roles");
    json_t *roles = rj ? json_loads(rj, 0, NULL) : NULL;
    free(rj);
    if (roles && !json_is_array(roles)) {
        json_decref(roles);
        return *why = "the roles claim must be an array of strings", BATON_EAUTH;
    }
    size_t i;
    json_t *r;
    out->roles = baton_xcalloc(json_array_size(roles) + 1, sizeof *out->roles);
    json_array_foreach(roles, i, r) if (json_is_string(r)) out->roles[out->nroles++] =
        baton_xstrdup(json_string_value(r));
    json_decref(roles);
    return 0;
}

int ingest_jwt_verify(const ingest_jwt_t *j, const char *token, int64_t now_ms, ingest_staff_t *out,
                      char *why, size_t whylen)
{
    memset(out, 0, sizeof *out);
    char alg[16], kid[128];
    const char *reason = NULL;
    const char *key = NULL;
    size_t keylen = 0;
    jwt_alg_t want;
    if (!j || read_header(token, alg, sizeof alg, kid, sizeof kid) != 0) {
        baton_strlcpy(why, "the token is malformed", whylen);
        return BATON_EAUTH;
    }
    if (strcmp(alg, "HS256") == 0 && j->secret) {
        want = JWT_ALG_HS256;
        key = j->secret;
        keylen = j->secret_len;
    } else if (strcmp(alg, "RS256") == 0 && (key = pick_rsa_key(j, kid)) != NULL) {
        want = JWT_ALG_RS256;
        keylen = strlen(key);
    } else {
        baton_strlcpy(why, "the token's algorithm or key is not accepted", whylen);
        return BATON_EAUTH;
    }
    jwt_t *t = NULL;
    if (jwt_decode(&t, token, (const unsigned char *)key, (int)keylen) != 0 || !t ||
        jwt_get_alg(t) != want) {
        jwt_free(t);
        baton_strlcpy(why, "the token's signature is not valid", whylen);
        return BATON_EAUTH;
    }
    int rc = claims(j, t, now_ms, out, &reason);
    jwt_free(t);
    if (rc) {
        ingest_staff_free(out);
        baton_strlcpy(why, reason, whylen);
    }
    return rc;
}

void ingest_staff_free(ingest_staff_t *s)
{
    for (size_t i = 0; s->roles && i < s->nroles; i++)
        free(s->roles[i]);
    free(s->roles);
    s->roles = NULL;
    s->nroles = 0;
}
