/* heap_internal.h - what heap policies share inside libvram. */
#ifndef VRAM_HEAP_INTERNAL_H
#define VRAM_HEAP_INTERNAL_H

#include <stdarg.h>
#include <stdint.h>

#include "vram/heap.h"

extern const vram_heap_ops vram__heap_bestfit_ops;
extern const vram_heap_ops vram__heap_buddy_ops;
extern const vram_heap_ops vram__heap_tlsf_ops;
extern const vram_heap_ops vram__heap_pool_ops;
extern const vram_heap_ops vram__heap_caching_ops;

static inline int vram__is_pow2(uint64_t x) { return x && !(x & (x - 1)); }
static inline uint64_t vram__align_up(uint64_t x, uint64_t a) { return (x + a - 1) & ~(a - 1); }

/* The policy state behind h, for callers that know h's policy (white-box
 * tests); policy-specific calls (vram/caching.h) use vram__heap_impl_of. */
void *vram__heap_impl(const vram_heap *h);

/* The policy state behind h when h was created with the table ops, else NULL:
 * the policy check of policy-specific calls in O(1), a pointer compare where a
 * lookup by vram_heap_name would compare strings. h must not be NULL. */
void *vram__heap_impl_of(const vram_heap *h, const vram_heap_ops *ops);

/* Writes a formatted violation into msg (if any) and returns VRAM_ECORRUPT:
 * the one way check() functions report. */
vram_status vram__violation(char *msg, size_t msglen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
