/* device_internal.h - what the device wrapper and its backends share inside libvram. */
#ifndef VRAM_DEVICE_INTERNAL_H
#define VRAM_DEVICE_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "vram/device.h"

/* The default cost model (vram_cost_model in device.h; docs/COST_MODEL.md says
 * where the numbers come from). */
#define VRAM__COST_SEGMENT_ALLOC_NS 50000.0
#define VRAM__COST_SEGMENT_FREE_NS 20000.0
#define VRAM__COST_COPY_LATENCY_NS 10000.0
#define VRAM__COST_H2D_GBPS 25.0
#define VRAM__COST_D2H_GBPS 25.0
#define VRAM__COST_D2D_GBPS 1000.0

/* A backend's constructor. `msg` is the device's message buffer (it outlives
 * the backend): the backend writes why a creation or a later call failed
 * there. On failure *impl is untouched and msg says why. */
typedef vram_status (*vram__device_create_fn)(const vram_device_config *cfg, char *msg,
                                              size_t msglen, void **impl);

extern const vram_device_ops vram__device_sim_ops;
vram_status vram__device_sim_create(const vram_device_config *cfg, char *msg, size_t msglen,
                                    void **impl);
#ifdef VRAM_HAVE_CUDA
extern const vram_device_ops vram__device_cuda_ops;
vram_status vram__device_cuda_create(const vram_device_config *cfg, char *msg, size_t msglen,
                                     void **impl);
#endif

/* Formats into msg (if msglen > 0) and returns st: the one way the device
 * layer explains a failure. */
vram_status vram__device_fail(char *msg, size_t msglen, vram_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Called when an injected fault fires for the first time after arming: it
 * does nothing and exists only as a debugger breakpoint. */
void vram__device_fault_hook(void);

/* Host memory for staging copies (the pinned host pool): page-locked through
 * the driver where the backend can, else malloc. *pinned tells which; the
 * same flag goes back to vram__device_host_free. ENOHOST when none is left. */
vram_status vram__device_host_alloc(vram_device *d, uint64_t size, void **ptr, int *pinned);
void vram__device_host_free(vram_device *d, void *ptr, int pinned);

/* The live segments of a backend, sorted by address, never overlapping:
 * segs[i].addr + segs[i].extent <= segs[i + 1].addr. */
typedef struct vram__seg {
    uint64_t addr;   /* start: what reserve returned */
    uint64_t extent; /* bytes of address space held (growable: a multiple of the granularity) */
    uint64_t size;   /* bytes usable, counted against the capacity; <= extent */
    int growable;    /* reserved by reserve_growable: size is the mapped prefix */
    void *priv;      /* the backend's: host backing (sim), physical handles (cuda) */
} vram__seg;

typedef struct vram__segtab {
    vram__seg *segs;
    size_t n, cap;
    uint64_t extents; /* sum of segs[i].extent */
} vram__segtab;

/* Index of the segment whose address range [addr, addr + extent) holds a, or
 * SIZE_MAX. O(log n). */
size_t vram__segtab_find(const vram__segtab *t, uint64_t a);
/* First fit: the lowest address >= base, a multiple of align (a power of two),
 * where extent bytes fit between the live segments (all of which lie at or
 * above base and start at multiples of align). VRAM_EOVERFLOW when the 64-bit
 * address space has no such gap.
 * O(1) when the gaps below the last segment add up to less than extent (no
 * release left one big enough), else O(n). */
vram_status vram__segtab_place(const vram__segtab *t, uint64_t base, uint64_t extent,
                               uint64_t align, uint64_t *addr);
/* Inserts s in address order (it must not overlap a live segment); ENOHOST. O(n). */
vram_status vram__segtab_insert(vram__segtab *t, const vram__seg *s);
void vram__segtab_remove(vram__segtab *t, size_t i);
void vram__segtab_free(vram__segtab *t);
void vram__segtab_info(const vram__seg *s, vram_segment_info *out);

#endif
