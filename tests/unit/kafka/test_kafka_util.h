/* test_kafka_util.h — small helpers shared by the kafka test files. */
#ifndef TEST_KAFKA_UTIL_H
#define TEST_KAFKA_UTIL_H

#include "baton/kafka.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

/* Counts log callbacks, and those that arrived on a thread other than the test's. */
typedef struct {
    pthread_mutex_t mu;
    pthread_t owner;
    int count;
    int foreign;
} tk_logs_t;

static inline void tk_logs_init(tk_logs_t *l)
{
    pthread_mutex_init(&l->mu, NULL);
    l->owner = pthread_self();
    l->count = l->foreign = 0;
}

static inline void tk_log_cb(baton_log_level_t level, const char *fac, const char *msg,
                             void *opaque)
{
    tk_logs_t *l = opaque;
    pthread_mutex_lock(&l->mu);
    l->count++;
    if (!pthread_equal(l->owner, pthread_self()))
        l->foreign++;
    pthread_mutex_unlock(&l->mu);
    if (getenv("BATON_TEST_VERBOSE"))
        fprintf(stderr, "  kafka log [%d] %s: %s\n", (int)level, fac, msg);
}

static inline int tk_logs_count(tk_logs_t *l)
{
    pthread_mutex_lock(&l->mu);
    int n = l->count;
    pthread_mutex_unlock(&l->mu);
    return n;
}

static inline int tk_logs_foreign(tk_logs_t *l)
{
    pthread_mutex_lock(&l->mu);
    int n = l->foreign;
    pthread_mutex_unlock(&l->mu);
    return n;
}

#endif
