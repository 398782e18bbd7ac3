/* vram/device.h - where device bytes come from.
 *
 * A device reserves and releases segments (device address ranges), copies
 * between host and device and within the device, and answers free/total.
 * Backends: "sim" (address arithmetic; optional host backing for content
 * verification; a cost model) and "cuda" (the CUDA driver API, opened with
 * dlopen("libcuda.so.1") at run time, or the library named by the environment
 * variable VRAM_CUDA_DRIVER, which is how the tests load a fake driver).
 *
 * Every call goes through one wrapper per entry (device.c), the place of
 * fault injection (vram_device_inject_fault) and of the cost accounting. */
#ifndef VRAM_DEVICE_H
#define VRAM_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "vram/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vram_device vram_device;

/* The cost model (docs/COST_MODEL.md); every field has a documented default (0 = default). */
typedef struct vram_cost_model {
    double segment_alloc_ns;   /* fixed cost of a segment reservation (default 50,000 ns) */
    double segment_free_ns;    /* fixed cost of a segment release (default 20,000 ns) */
    double copy_latency_ns;    /* fixed cost of any copy (default 10,000 ns) */
    double h2d_gbps;           /* host->device bandwidth, GB/s (default 25) */
    double d2h_gbps;           /* device->host bandwidth, GB/s (default 25) */
    double d2d_gbps;           /* device->device bandwidth, GB/s (default 1,000) */
} vram_cost_model;

typedef struct vram_device_config {
    const char *backend;       /* "sim" (default when NULL) or "cuda" */
    uint64_t capacity;         /* sim: total bytes; cuda: 0 = the device's total */
    int host_backing;          /* sim: back segments with host memory (patterns, verify) */
    vram_cost_model cost;      /* sim: cost model; zeros mean the defaults */
    int cuda_ordinal;          /* cuda: device ordinal */
    char *errbuf;              /* optional: why creation failed, in words */
    size_t errbuf_len;
} vram_device_config;

typedef struct vram_device_stats {
    uint64_t reserved;         /* bytes in live segments */
    uint64_t peak_reserved;
    uint64_t segments;         /* live segments */
    uint64_t reserve_calls, release_calls, copy_calls;
    uint64_t bytes_h2d, bytes_d2h, bytes_d2d;
    double modelled_ns;        /* the cost model's total time for all calls so far */
    uint64_t map_calls, unmap_calls; /* growable segments: grow / shrink calls */
} vram_device_stats;

/* One live segment. A fixed segment (vram_device_reserve) has size == max_size;
 * a growable one holds max_size bytes of address space of which the first
 * `size` are mapped (and counted against the capacity). */
typedef struct vram_segment_info {
    uint64_t addr;
    uint64_t size;      /* bytes usable now: [addr, addr + size) */
    uint64_t max_size;  /* bytes of address space held */
    int growable;
} vram_segment_info;

/* The backend table (sqlite3_vfs style). */
typedef struct vram_device_ops {
    const char *name;
    vram_status (*reserve)(void *impl, uint64_t size, uint64_t *addr);
    vram_status (*release)(void *impl, uint64_t addr);
    vram_status (*copy_h2d)(void *impl, uint64_t dst, const void *src, uint64_t n);
    vram_status (*copy_d2h)(void *impl, void *dst, uint64_t src, uint64_t n);
    vram_status (*copy_d2d)(void *impl, uint64_t dst, uint64_t src, uint64_t n);
    vram_status (*mem_info)(void *impl, uint64_t *free_bytes, uint64_t *total_bytes);
    /* Optional (host-backed sim): fill [addr, addr+n) with a pattern derived from
     * tag / verify it is still there (VRAM_ECORRUPT if not). NULL: not supported. */
    vram_status (*fill)(void *impl, uint64_t addr, uint64_t n, uint64_t tag);
    vram_status (*verify)(void *impl, uint64_t addr, uint64_t n, uint64_t tag);
    void (*destroy)(void *impl);
    /* The live segment containing addr (VRAM_ENOTFOUND if none). Required. */
    vram_status (*segment_info)(void *impl, uint64_t addr, vram_segment_info *out);
    /* Required: growable segments. resize maps or unmaps so that exactly
     * `size` bytes (a multiple of granularity) are mapped; a backend that
     * cannot (a CUDA driver without the VMM calls) answers VRAM_EUNSUPPORTED. */
    vram_status (*reserve_growable)(void *impl, uint64_t max_size, uint64_t *addr);
    vram_status (*resize)(void *impl, uint64_t addr, uint64_t size);
    uint64_t (*granularity)(void *impl); /* bytes of one mapping unit; also segment alignment */
    /* Optional (NULL: malloc): host memory for staging copies; *pinned says
     * whether it is page-locked (then host_free must be given the same flag). */
    vram_status (*host_alloc)(void *impl, uint64_t size, void **ptr, int *pinned);
    void (*host_free)(void *impl, void *ptr, int pinned);
} vram_device_ops;

/* Creates a device. On failure *out is NULL and cfg->errbuf (if given) says why;
 * the cuda backend without a driver fails with VRAM_ENODRIVER and a message
 * that names the sim backend as the alternative. Fails with VRAM_ENOTFOUND for
 * an unknown backend name, VRAM_EUNSUPPORTED for "cuda" in a build without
 * cuda.h, VRAM_EINVAL for a sim capacity of 0 or a negative cost parameter,
 * VRAM_ENOHOST when malloc fails. Constant time for sim; cuda opens the driver.
 *
 * Stats and the cost model count successful calls only: a call that fails
 * (bad argument, injected fault, backend error) changes no state at all, with
 * one exception: a cuda shrink or release of a growable segment that fails
 * half way leaves the granules it unmapped unmapped (the stats follow). */
vram_status vram_device_create(const vram_device_config *cfg, vram_device **out);
/* Releases every live segment and the device. NULL is a no-op. */
void vram_device_destroy(vram_device *d);
const char *vram_device_backend(const vram_device *d);
int vram_device_has_backing(const vram_device *d); /* fill/verify do real work */
/* Why the last failed call on d failed, in words ("" before the first failure). */
const char *vram_device_errmsg(const vram_device *d);

vram_status vram_device_reserve(vram_device *d, uint64_t size, uint64_t *addr);
vram_status vram_device_release(vram_device *d, uint64_t addr);
vram_status vram_device_copy_h2d(vram_device *d, uint64_t dst, const void *src, uint64_t n);
vram_status vram_device_copy_d2h(vram_device *d, void *dst, uint64_t src, uint64_t n);
vram_status vram_device_copy_d2d(vram_device *d, uint64_t dst, uint64_t src, uint64_t n);
vram_status vram_device_mem_info(vram_device *d, uint64_t *free_bytes, uint64_t *total_bytes);
/* Host-backed sim only (elsewhere both check the range and return VRAM_OK):
 * fill writes a pattern derived from tag and from the position within
 * [addr, addr + n), so contents copied elsewhere verify at their new address
 * with the same tag; verify is VRAM_ECORRUPT when any byte differs, and
 * vram_device_errmsg names the first such address. O(n). */
vram_status vram_device_fill(vram_device *d, uint64_t addr, uint64_t n, uint64_t tag);
vram_status vram_device_verify(vram_device *d, uint64_t addr, uint64_t n, uint64_t tag);
void vram_device_stats_get(const vram_device *d, vram_device_stats *out);
/* The cost model in effect, defaults resolved (every field > 0): for callers
 * that charge costs the device does not see (the caching policy's segments,
 * modelled inside its heap). Constant time; never fails. */
void vram_device_cost_model_get(const vram_device *d, vram_cost_model *out);

/* Costs, in the number n of live segments (kept in a sorted array): reserve and
 * release O(n) plus the driver call (cuda); the sim's reserve is O(log n) while
 * no released gap could hold the request. Copies, fill and verify O(log n) plus
 * the bytes moved. Errors common to all backends: size 0 or a
 * NULL out-pointer is VRAM_EINVAL; reserve beyond the capacity VRAM_ENOMEM;
 * release of an address that does not start a live segment VRAM_ENOTFOUND; a
 * copy, fill or verify range not inside one live segment VRAM_EINVAL (a copy of
 * 0 bytes is VRAM_OK and does nothing); backend failures VRAM_EDEVICE. */

/* Growable segments (the cuda backend's VMM path, emulated by sim): reserve
 * max_size bytes of address space with nothing mapped, then grow or shrink the
 * mapped prefix. Sizes are rounded up to vram_device_granularity. Growing maps
 * new memory (VRAM_ENOMEM beyond the capacity) and counts as a RESERVE call for
 * fault injection; shrinking unmaps the tail; new_size beyond max_size, or a
 * grow to a smaller / shrink to a larger size, is VRAM_EINVAL; an address that
 * does not start a growable segment VRAM_ENOTFOUND. vram_device_release frees
 * the whole range. Backends without the VMM API: VRAM_EUNSUPPORTED. */
vram_status vram_device_reserve_growable(vram_device *d, uint64_t max_size, uint64_t *addr);
vram_status vram_device_grow_segment(vram_device *d, uint64_t addr, uint64_t new_size);
vram_status vram_device_shrink_segment(vram_device *d, uint64_t addr, uint64_t new_size);
/* The mapping unit and segment alignment: 2 MiB on sim, the driver's on cuda. */
uint64_t vram_device_granularity(const vram_device *d);
/* The live segment containing addr: VRAM_OK, or VRAM_ENOTFOUND. O(log n). */
vram_status vram_device_segment_info(const vram_device *d, uint64_t addr, vram_segment_info *out);

/* Fault injection (SQLite test_malloc style): the `countdown`-th call (1 = the
 * next) of the selected kinds fails with `st`; with `persistent` every later
 * call fails too. countdown 0 disarms. Returns nothing: it cannot fail.
 * RESERVE covers reserve, reserve_growable and grow_segment; COPY the three
 * copies. Calls refused for bad arguments do not count down. st == VRAM_OK is
 * taken as VRAM_EDEVICE. An injected failure changes nothing but faults_hit. */
enum { VRAM_FAULT_RESERVE = 1, VRAM_FAULT_COPY = 2 };
void vram_device_inject_fault(vram_device *d, unsigned kinds, uint64_t countdown, int persistent,
                              vram_status st);
uint64_t vram_device_faults_hit(const vram_device *d);

#ifdef __cplusplus
}
#endif
#endif
