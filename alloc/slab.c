/* slab.c - chunked free list of fixed-size objects. */
#include "slab.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>

#define SLAB_FIRST_CHUNK 64
#define SLAB_MAX_CHUNK 4096

/* Chunk header; the objects follow it, aligned like max_align_t. */
typedef union slab_chunk {
    union slab_chunk *next;
    max_align_t align;
} slab_chunk;

void vram__slab_init(vram__slab *s, size_t obj_size)
{
    size_t a = alignof(max_align_t);
    if (obj_size < sizeof(void *))
        obj_size = sizeof(void *);
    s->obj_size = (obj_size + a - 1) / a * a;
    s->free_list = NULL;
    s->free_count = 0;
    s->chunks = NULL;
    s->next_chunk = SLAB_FIRST_CHUNK;
}

void vram__slab_destroy(vram__slab *s)
{
    slab_chunk *c = s->chunks;
    while (c) {
        slab_chunk *next = c->next;
        free(c);
        c = next;
    }
    vram__slab_init(s, s->obj_size);
}

vram_status vram__slab_reserve(vram__slab *s, size_t n)
{
    while (s->free_count < n) {
        size_t objs = s->next_chunk;
        if (objs < n - s->free_count)
            objs = n - s->free_count;
        if (objs > (SIZE_MAX - sizeof(slab_chunk)) / s->obj_size)
            return VRAM_ENOHOST;
        slab_chunk *c = malloc(sizeof *c + objs * s->obj_size);
        if (!c)
            return VRAM_ENOHOST;
        c->next = s->chunks;
        s->chunks = c;
        char *base = (char *)(c + 1);
        for (size_t i = objs; i-- > 0;)
            vram__slab_put(s, base + i * s->obj_size);
        if (s->next_chunk < SLAB_MAX_CHUNK)
            s->next_chunk *= 2;
    }
    return VRAM_OK;
}

void *vram__slab_get(vram__slab *s)
{
    void **obj = s->free_list;
    s->free_list = *obj;
    s->free_count--;
    return obj;
}

void vram__slab_put(vram__slab *s, void *obj)
{
    *(void **)obj = s->free_list;
    s->free_list = obj;
    s->free_count++;
}
