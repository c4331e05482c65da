/* rpool.c — Redis connections shared by request threads: a baton_redis_t is not thread-safe,
 * so a request borrows one for the few commands it runs (never while it waits for Kafka). */
#include "ingest.h"

#include <stdlib.h>

struct ingest_rpool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    baton_redis_t **free_list;
    size_t nfree;
};

ingest_rpool_t *ingest_rpool_new(const char *url, size_t size, char *err, size_t errlen)
{
    ingest_rpool_t *p = baton_xcalloc(1, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->free_list = baton_xcalloc(size, sizeof *p->free_list);
    baton_redis_opts_t o = {.connect_timeout_ms = 2000,
                            .command_timeout_ms = 5000,
                            .backoff_min_ms = 100,
                            .backoff_max_ms = 2000};
    for (size_t i = 0; i < size; i++) {
        baton_redis_t *r = baton_redis_new(url, &o, err, errlen);
        if (!r) {
            ingest_rpool_free(p);
            return NULL;
        }
        p->free_list[p->nfree++] = r;
    }
    return p;
}

void ingest_rpool_free(ingest_rpool_t *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nfree; i++)
        baton_redis_free(p->free_list[i]);
    free(p->free_list);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

baton_redis_t *ingest_rpool_get(ingest_rpool_t *p)
{
    pthread_mutex_lock(&p->mu);
    while (p->nfree == 0)
        pthread_cond_wait(&p->cv, &p->mu);
    baton_redis_t *r = p->free_list[--p->nfree];
    pthread_mutex_unlock(&p->mu);
    return r;
}

void ingest_rpool_put(ingest_rpool_t *p, baton_redis_t *r)
{
    pthread_mutex_lock(&p->mu);
    p->free_list[p->nfree++] = r;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}
