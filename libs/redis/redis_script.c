/* redis_script.c — Lua scripts by SHA (EVALSHA, loading on NOSCRIPT). */
#include "redis_int.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void baton_redis_script_init(baton_redis_script_t *s, const char *source)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    s->source = source;
    if (EVP_Digest(source, strlen(source), md, &mdlen, EVP_sha1(), NULL) != 1 || mdlen != 20)
        abort(); /* SHA-1 is always available in libcrypto: a broken install */
    for (unsigned i = 0; i < mdlen; i++)
        snprintf(s->sha + 2 * i, 3, "%02x", md[i]);
}

int baton_redis_script_load(baton_redis_t *r, const baton_redis_script_t *s)
{
    redisReply *rep = NULL;
    int rc = baton_redis_command(r, &rep, "SCRIPT LOAD %s", s->source);
    if (rc == 0 && (rep->type != REDIS_REPLY_STRING || strcmp(rep->str, s->sha) != 0)) {
        baton_seterr(r->err, sizeof(r->err), "redis: SCRIPT LOAD returned an unexpected sha");
        rc = BATON_EIO;
    }
    if (rep)
        freeReplyObject(rep);
    return rc;
}

static int evalsha_once(baton_redis_t *r, const baton_redis_script_t *s, int numkeys, int argc,
                        const char **argv, const size_t *argvlen, redisReply **reply)
{
    char nk[16];
    snprintf(nk, sizeof(nk), "%d", numkeys);
    int total = argc + 3;
    const char **av = baton_xcalloc((size_t)total, sizeof(*av));
    size_t *al = baton_xcalloc((size_t)total, sizeof(*al));
    av[0] = "EVALSHA";
    av[1] = s->sha;
    av[2] = nk;
    for (int i = 0; i < 3; i++)
        al[i] = strlen(av[i]);
    for (int i = 0; i < argc; i++) {
        av[i + 3] = argv[i];
        al[i + 3] = argvlen ? argvlen[i] : strlen(argv[i]);
    }
    int rc = baton_redis_command_argv(r, reply, total, av, al);
    free(av);
    free(al);
    return rc;
}

int baton_redis_evalsha(baton_redis_t *r, const baton_redis_script_t *s, int numkeys, int argc,
                        const char **argv, const size_t *argvlen, redisReply **reply)
{
    redisReply *rep = NULL;
    if (numkeys < 0 || numkeys > argc) {
        baton_seterr(r->err, sizeof(r->err), "redis: numkeys out of range");
        return BATON_EINVAL;
    }
    int rc = evalsha_once(r, s, numkeys, argc, argv, argvlen, &rep);
    if (rc == BATON_EIO && rep && strncmp(rep->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(rep);
        rep = NULL;
        rc = baton_redis_script_load(r, s);
        if (rc == 0)
            rc = evalsha_once(r, s, numkeys, argc, argv, argvlen, &rep);
    }
    if (reply)
        *reply = rep;
    else if (rep)
        freeReplyObject(rep);
    return rc;
}
