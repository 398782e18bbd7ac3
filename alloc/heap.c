/* heap.c - the policy registry and the one wrapper per heap entry.
 *
 * The wrapper enforces the contract of vram/heap.h (argument validation, the
 * minimum alignment) so that policies only see valid requests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heap_internal.h"

/* Requests above this are absurd for any device; refused before any rounding
 * can overflow. */
#define HEAP_MAX_REQUEST (UINT64_C(1) << 48)

struct vram_heap {
    const vram_heap_ops *ops;
    void *impl;
    uint64_t min_align;
    uint64_t capacity; /* the configured range plus every successful grow */
};

const char *const vram_heap_policy_names[] = {"bestfit", "buddy", "tlsf", "pool", "caching", NULL};

static const vram_heap_ops *const heap_policies[] = {
    &vram__heap_bestfit_ops, &vram__heap_buddy_ops, &vram__heap_tlsf_ops,
    &vram__heap_pool_ops,    &vram__heap_caching_ops,
};

const vram_heap_ops *vram_heap_policy(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof heap_policies / sizeof heap_policies[0]; i++)
        if (strcmp(heap_policies[i]->name, name) == 0)
            return heap_policies[i];
    return NULL;
}

vram_status vram__violation(char *msg, size_t msglen, const char *fmt, ...)
{
    if (msg && msglen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, msglen, fmt, ap);
        va_end(ap);
    }
    return VRAM_ECORRUPT;
}

vram_status vram_heap_create(const vram_heap_ops *ops, const vram_heap_config *cfg, vram_heap **out)
{
    if (!out)
        return VRAM_EINVAL;
    *out = NULL;
    if (!ops || !cfg || cfg->capacity == 0 || cfg->capacity > HEAP_MAX_REQUEST)
        return VRAM_EINVAL;
    vram_heap_config c = *cfg;
    if (c.min_align == 0)
        c.min_align = VRAM_DEFAULT_ALIGN;
    if (!vram__is_pow2(c.min_align) || c.min_align > c.capacity)
        return VRAM_EINVAL;
    vram_heap *h = calloc(1, sizeof *h);
    if (!h)
        return VRAM_ENOHOST;
    h->ops = ops;
    h->min_align = c.min_align;
    h->capacity = c.capacity;
    vram_status st = ops->create_from ? ops->create_from(ops, &c, &h->impl)
                                      : ops->create(&c, &h->impl);
    if (st) {
        free(h);
        return st;
    }
    *out = h;
    return VRAM_OK;
}

void vram_heap_destroy(vram_heap *h)
{
    if (!h)
        return;
    h->ops->destroy(h->impl);
    free(h);
}

const char *vram_heap_name(const vram_heap *h) { return h->ops->name; }
void *vram__heap_impl(const vram_heap *h) { return h->impl; }
void *vram__heap_impl_of(const vram_heap *h, const vram_heap_ops *ops)
{
    return h->ops == ops ? h->impl : NULL;
}
uint64_t vram_heap_min_align(const vram_heap *h) { return h->min_align; }

/* Validates size and alignment and raises the alignment to the minimum. */
static vram_status heap_request(const vram_heap *h, uint64_t size, uint64_t *align)
{
    if (size == 0 || size > h->capacity)
        return VRAM_EINVAL;
    if (*align == 0 || *align < h->min_align)
        *align = h->min_align;
    if (!vram__is_pow2(*align) || *align > HEAP_MAX_REQUEST)
        return VRAM_EINVAL;
    return VRAM_OK;
}

vram_status vram_heap_alloc(vram_heap *h, uint64_t size, uint64_t align, uint64_t *offset)
{
    if (!h || !offset)
        return VRAM_EINVAL;
    vram_status st = heap_request(h, size, &align);
    if (st)
        return st;
    return h->ops->alloc(h->impl, size, align, offset);
}

vram_status vram_heap_free(vram_heap *h, uint64_t offset)
{
    if (!h)
        return VRAM_EINVAL;
    return h->ops->free(h->impl, offset);
}

vram_status vram_heap_alloc_token(vram_heap *h, uint64_t size, uint64_t align, uint64_t *offset,
                                  uint64_t *token)
{
    if (!h || !offset || !token)
        return VRAM_EINVAL;
    vram_status st = heap_request(h, size, &align);
    if (st)
        return st;
    if (h->ops->alloc_token)
        return h->ops->alloc_token(h->impl, size, align, offset, token);
    st = h->ops->alloc(h->impl, size, align, offset);
    if (st == VRAM_OK)
        *token = *offset;
    return st;
}

vram_status vram_heap_free_token(vram_heap *h, uint64_t token)
{
    if (!h)
        return VRAM_EINVAL;
    return h->ops->free_token ? h->ops->free_token(h->impl, token) : h->ops->free(h->impl, token);
}

vram_status vram_heap_alloc_batch(vram_heap *h, size_t n, const uint64_t *sizes, uint64_t align,
                                  uint64_t *offsets)
{
    if (!h || (n && (!sizes || !offsets)))
        return VRAM_EINVAL;
    for (size_t i = 0; i < n; i++) {
        uint64_t a = align;
        vram_status st = heap_request(h, sizes[i], &a);
        if (st)
            return st;
    }
    if (align < h->min_align)
        align = h->min_align;
    vram_heap_stats before;
    h->ops->stats(h->impl, &before);
    for (size_t i = 0; i < n; i++) {
        vram_status st = h->ops->alloc(h->impl, sizes[i], align, &offsets[i]);
        if (st) {
            /* All or nothing: freeing in reverse order undoes every split,
             * and the failed batch leaves no trace in the high-water marks. */
            while (i--)
                h->ops->free(h->impl, offsets[i]);
            vram_heap_restore_peaks(h, before.peak_in_use, before.peak_footprint);
            return st;
        }
    }
    return VRAM_OK;
}

vram_status vram_heap_free_batch(vram_heap *h, size_t n, const uint64_t *offsets)
{
    if (!h || (n && !offsets))
        return VRAM_EINVAL;
    return h->ops->free_batch(h->impl, n, offsets);
}

vram_status vram_heap_grow(vram_heap *h, uint64_t bytes)
{
    if (!h || bytes == 0 || bytes % h->min_align || bytes > HEAP_MAX_REQUEST)
        return VRAM_EINVAL;
    if (bytes > HEAP_MAX_REQUEST - h->capacity)
        return VRAM_EOVERFLOW;
    vram_status st = h->ops->grow(h->impl, bytes);
    if (st == VRAM_OK)
        h->capacity += bytes;
    return st;
}

vram_status vram_heap_retain(vram_heap *h, uint64_t offset)
{
    if (!h)
        return VRAM_EINVAL;
    if (!h->ops->retain)
        return VRAM_EUNSUPPORTED;
    return h->ops->retain(h->impl, offset);
}

void vram_heap_stats_get(const vram_heap *h, vram_heap_stats *out) { h->ops->stats(h->impl, out); }

vram_status vram_heap_walk(const vram_heap *h, vram_walk_fn fn, void *ctx)
{
    if (!h || !fn)
        return VRAM_EINVAL;
    return h->ops->walk(h->impl, fn, ctx);
}

vram_status vram_heap_check(const vram_heap *h, char *msg, size_t msglen)
{
    if (msg && msglen)
        msg[0] = '\0';
    return h->ops->check(h->impl, msg, msglen);
}

uint64_t vram_heap_max_alloc(const vram_heap *h) { return h->ops->max_alloc(h->impl); }

void vram_heap_restore_peaks(vram_heap *h, uint64_t peak_in_use, uint64_t peak_footprint)
{
    if (h && h->ops->restore_peaks)
        h->ops->restore_peaks(h->impl, peak_in_use, peak_footprint);
}
