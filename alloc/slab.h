/* slab.h - a free list of fixed-size node structs carved from chunks, so the
 * heap policies do not call malloc for every alloc and free.
 *
 * Memory is returned to the system only by vram__slab_destroy. To keep "a failed
 * call leaves the heap unchanged", a policy reserves the nodes an operation may
 * need before it changes anything; vram__slab_get then cannot fail. */
#ifndef VRAM_SLAB_H
#define VRAM_SLAB_H

#include <stddef.h>

#include "vram/status.h"

typedef struct vram__slab {
    size_t obj_size; /* bytes per object, rounded up to hold the free-list link */
    void *free_list; /* free objects, linked through their first bytes */
    size_t free_count;
    void *chunks;      /* every chunk, linked through its header */
    size_t next_chunk; /* objects in the next chunk (doubles up to a cap) */
} vram__slab;

/* An empty slab of objects of `obj_size` bytes; allocates nothing yet. */
void vram__slab_init(vram__slab *s, size_t obj_size);
/* Frees every chunk: every object handed out becomes invalid. */
void vram__slab_destroy(vram__slab *s);
/* Ensures at least n free objects. Fails only with VRAM_ENOHOST (malloc
 * failed), leaving the slab as it was. O(1) amortised. */
vram_status vram__slab_reserve(vram__slab *s, size_t n);
/* Pops a free object; the caller reserved it. O(1). */
void *vram__slab_get(vram__slab *s);
/* Returns an object to the free list. O(1). */
void vram__slab_put(vram__slab *s, void *obj);

#endif
