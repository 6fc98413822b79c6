/* arena.c — the bump allocator behind every forward and backward pass. */
#include "tape.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define ARENA_ALIGN 64
#define ARENA_MIN_CHUNK ((size_t)16 << 20)

struct attx_arena_chunk {
    attx_arena_chunk *next;
    size_t size;              /* usable bytes in data */
    size_t used;
    unsigned char *data;      /* ARENA_ALIGN-aligned */
};

/* Chunks from 4 MiB on are aligned to 2 MiB and offered to the kernel for transparent huge
 * pages: a model's weights converted to F32 (90 MiB for MiniLM) then take some 45 page faults
 * instead of 23,000, a third of a short prediction's time. Where THP is off, nothing changes. */
#define HUGE_PAGE ((size_t)2 << 20)

static attx_arena_chunk *chunk_new(size_t size)
{
    attx_arena_chunk *c = malloc(sizeof *c);
    if (!c) return NULL;
    int huge = size >= 2 * HUGE_PAGE && size <= SIZE_MAX - HUGE_PAGE;
    if (huge) size = (size + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    c->data = aligned_alloc(huge ? HUGE_PAGE : ARENA_ALIGN, size);
#ifdef MADV_HUGEPAGE
    if (huge && c->data) (void)madvise(c->data, size, MADV_HUGEPAGE);   /* a hint; failure is harmless */
#endif
    if (!c->data) {
        free(c);
        return NULL;
    }
    c->next = NULL;
    c->size = size;
    c->used = 0;
    return c;
}

void *attx_arena_alloc(attx_arena *a, size_t bytes)
{
    if (a->failed) return NULL;
    if (bytes > SIZE_MAX - 2 * ARENA_ALIGN) {
        a->failed = 1;
        return NULL;
    }
    size_t need = (bytes + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (need == 0) need = ARENA_ALIGN;
    /* find room in the current chunk or a later (kept) one; else append a new chunk */
    while (a->head && a->head->used + need > a->head->size && a->head->next) {
        a->head = a->head->next;
        a->head->used = 0;
    }
    if (!a->head || a->head->used + need > a->head->size) {
        size_t size = need > ARENA_MIN_CHUNK ? need : ARENA_MIN_CHUNK;
        attx_arena_chunk *c = chunk_new(size);
        if (!c) {
            a->failed = 1;
            return NULL;
        }
        if (a->head) {
            c->next = a->head->next;     /* keep any later chunks reachable */
            a->head->next = c;
        } else {
            a->first = c;
        }
        a->head = c;
    }
    void *p = a->head->data + a->head->used;
    a->head->used += need;
    a->used_total += need;
    if (a->used_total > a->peak) a->peak = a->used_total;
    return p;
}

void attx_arena_reset(attx_arena *a)
{
    for (attx_arena_chunk *c = a->first; c; c = c->next) c->used = 0;
    a->head = a->first;
    a->used_total = 0;
    a->failed = 0;
}

attx_arena_mark attx_arena_get_mark(const attx_arena *a)
{
    attx_arena_mark m = {a->head, a->head ? a->head->used : 0, a->used_total};
    return m;
}

void attx_arena_release(attx_arena *a, attx_arena_mark m)
{
    if (!m.chunk) {
        attx_arena_reset(a);
        return;
    }
    for (attx_arena_chunk *c = m.chunk->next; c; c = c->next) c->used = 0;
    m.chunk->used = m.used;
    a->head = m.chunk;
    a->used_total = m.used_total;
}

void attx_arena_free(attx_arena *a)
{
    attx_arena_chunk *c = a->first;
    while (c) {
        attx_arena_chunk *next = c->next;
        free(c->data);
        free(c);
        c = next;
    }
    memset(a, 0, sizeof *a);
}
