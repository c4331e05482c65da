/* UUIDv7 for fresh ids, UUIDv8-from-SHA-256 for derived ids, SHA-256 hex. */
#include "baton/core.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static void format_uuid(const unsigned char b[16], char out[BATON_ID_LEN])
{
    static const char hex[] = "0123456789abcdef";
    int o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = '\0';
}

void baton_uuidv7(char out[BATON_ID_LEN])
{
    unsigned char b[16];
    uint64_t ms = (uint64_t)baton_now_ms();
    for (int i = 0; i < 6; i++)
        b[i] = (unsigned char)(ms >> (40 - 8 * i));
    size_t got = 0;
    while (got < 10) {
        ssize_t n = getrandom(b + 6 + got, 10 - got, 0);
        if (n > 0)
            got += (size_t)n;
    }
    b[6] = (unsigned char)(0x70 | (b[6] & 0x0f));
    b[8] = (unsigned char)(0x80 | (b[8] & 0x3f));
    format_uuid(b, out);
}

/* The SHA-256 implementation, fetched once: an implicit fetch on every call takes a lock
 * inside OpenSSL, which shows in the router's profile (it derives several ids per input). */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/* One digest context per thread, reused (re-initialised per id): creating and freeing one per
 * call costs as much as the hashing of a short id. Freed when its thread exits. */
static pthread_key_t ctx_key;
static pthread_once_t ctx_once = PTHREAD_ONCE_INIT;
static __thread EVP_MD_CTX *tls_ctx;
static void ctx_free(void *p)
{
    EVP_MD_CTX_free(p);
}
static void ctx_key_create(void)
{
    if (pthread_key_create(&ctx_key, ctx_free) != 0)
        abort();
}

static EVP_MD_CTX *thread_ctx(void)
{
    if (!tls_ctx) {
        pthread_once(&ctx_once, ctx_key_create);
        tls_ctx = EVP_MD_CTX_new();
        if (!tls_ctx || pthread_setspecific(ctx_key, tls_ctx) != 0)
            abort();
    }
    return tls_ctx;
}

void baton_derived_id(const char *parent, const char *purpose, char out[BATON_ID_LEN])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    pthread_once(&sha256_once, sha256_fetch);
    EVP_MD_CTX *ctx = thread_ctx();
    if (!sha256_md || !EVP_DigestInit_ex(ctx, sha256_md, NULL) ||
        !EVP_DigestUpdate(ctx, parent, strlen(parent)) || !EVP_DigestUpdate(ctx, "", 1) ||
        !EVP_DigestUpdate(ctx, purpose, strlen(purpose)) || !EVP_DigestFinal_ex(ctx, md, NULL))
        abort(); /* only fails on allocation failure */
    md[6] = (unsigned char)(0x80 | (md[6] & 0x0f));
    md[8] = (unsigned char)(0x80 | (md[8] & 0x3f));
    format_uuid(md, out);
}

void baton_sha256_hex(const void *data, size_t len, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(data, len, md);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}
