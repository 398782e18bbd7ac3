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

/* The policy state behind h, for policy-specific calls (vram/caching.h);
 * callers first check the policy by vram_heap_name. */
void *vram__heap_impl(const vram_heap *h);

/* Writes a formatted violation into msg (if any) and returns VRAM_ECORRUPT:
 * the one way check() functions report. */
vram_status vram__violation(char *msg, size_t msglen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
