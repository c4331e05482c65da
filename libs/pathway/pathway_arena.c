/* pathway_arena.c — the bump allocator outputs (and the router's inputs) can live in: chunks
 * of 256 KiB, kept over resets (up to SPARE_MAX bytes) so a steady batch size allocates
 * nothing after the first batches. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "pathway_int.h"

#define CHUNK (256 * 1024)
#define SPARE_MAX (64 * CHUNK)

typedef struct chunk {
    struct chunk *next;
    size_t cap, used;
    _Alignas(16) unsigned char data[];
} chunk_t;

struct baton_pathway_arena {
    chunk_t *head;  /* being filled, then the full ones */
    chunk_t *spare; /* CHUNK-sized, free for reuse */
    size_t nspare;
};

baton_pathway_arena_t *baton_pathway_arena_new(void)
{
    return baton_xcalloc(1, sizeof(baton_pathway_arena_t));
}

static void free_list(chunk_t *c)
{
    while (c) {
        chunk_t *next = c->next;
        free(c);
        c = next;
    }
}

void baton_pathway_arena_free(baton_pathway_arena_t *a)
{
    if (!a)
        return;
    free_list(a->head);
    free_list(a->spare);
    free(a);
}

void baton_pathway_arena_reset(baton_pathway_arena_t *a)
{
    while (a->head) {
        chunk_t *c = a->head;
        a->head = c->next;
        if (c->cap == CHUNK && (a->nspare + 1) * CHUNK <= SPARE_MAX) {
            c->next = a->spare;
            a->spare = c;
            a->nspare++;
        } else {
            free(c);
        }
    }
}

void *baton_pathway_arena_alloc(baton_pathway_arena_t *a, size_t n)
{
    n = n ? (n + 15) & ~(size_t)15 : 16;
    chunk_t *c = a->head;
    if (c && c->cap - c->used >= n) {
        void *p = c->data + c->used;
        c->used += n;
        return p;
    }
    if (n > CHUNK / 4) { /* a big one of its own, behind the chunk being filled */
        chunk_t *big = baton_xmalloc(sizeof(*big) + n);
        big->cap = big->used = n;
        big->next = c ? c->next : NULL;
        if (c)
            c->next = big;
        else
            a->head = big;
        return big->data;
    }
    if (a->spare) {
        c = a->spare;
        a->spare = c->next;
        a->nspare--;
    } else {
        c = baton_xmalloc(sizeof(*c) + CHUNK);
        c->cap = CHUNK;
    }
    c->used = n;
    c->next = a->head;
    a->head = c;
    return c->data;
}

char *baton_pathway_arena_strdup(baton_pathway_arena_t *a, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    char *p = baton_pathway_arena_alloc(a, n + 1);
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static void *pb_alloc(void *ctx, size_t n)
{
    return baton_pathway_arena_alloc(ctx, n);
}

static void pb_free(void *ctx, void *p)
{
    (void)ctx;
    (void)p; /* freed with the arena */
}

ProtobufCAllocator baton_pathway_arena_allocator(baton_pathway_arena_t *a)
{
    return (ProtobufCAllocator){pb_alloc, pb_free, a};
}

/* ---- the machine's allocations for outputs: the list's arena, or malloc */

void *baton_pathway__oalloc(baton_mctx_t *m, size_t n)
{
    return m->out->arena ? baton_pathway_arena_alloc(m->out->arena, n) : baton_xmalloc(n);
}

char *baton_pathway__ostr(baton_mctx_t *m, const char *s)
{
    return m->out->arena ? baton_pathway_arena_strdup(m->out->arena, s) : baton_pathway__xstr(s);
}

char *baton_pathway__ofmt(baton_mctx_t *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    baton_buf_t b = BATON_BUF_INIT;
    baton_buf_vappendf(&b, fmt, ap);
    va_end(ap);
    char *s = baton_pathway__ostr(m, b.data ? b.data : "");
    baton_buf_free(&b);
    return s;
}
