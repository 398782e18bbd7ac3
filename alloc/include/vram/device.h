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

/* The sim backend's cost model; every field has a documented default (0 = default). */
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
} vram_device_stats;

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
} vram_device_ops;

/* Creates a device. On failure *out is NULL and cfg->errbuf (if given) says why;
 * the cuda backend without a driver fails with VRAM_ENODRIVER and a message
 * that names the sim backend as the alternative. */
vram_status vram_device_create(const vram_device_config *cfg, vram_device **out);
void vram_device_destroy(vram_device *d);
const char *vram_device_backend(const vram_device *d);
int vram_device_has_backing(const vram_device *d); /* fill/verify do real work */

vram_status vram_device_reserve(vram_device *d, uint64_t size, uint64_t *addr);
vram_status vram_device_release(vram_device *d, uint64_t addr);
vram_status vram_device_copy_h2d(vram_device *d, uint64_t dst, const void *src, uint64_t n);
vram_status vram_device_copy_d2h(vram_device *d, void *dst, uint64_t src, uint64_t n);
vram_status vram_device_copy_d2d(vram_device *d, uint64_t dst, uint64_t src, uint64_t n);
vram_status vram_device_mem_info(vram_device *d, uint64_t *free_bytes, uint64_t *total_bytes);
/* No-ops returning VRAM_OK where the backend has no host backing. */
vram_status vram_device_fill(vram_device *d, uint64_t addr, uint64_t n, uint64_t tag);
vram_status vram_device_verify(vram_device *d, uint64_t addr, uint64_t n, uint64_t tag);
void vram_device_stats_get(const vram_device *d, vram_device_stats *out);

/* Fault injection (SQLite test_malloc style): the `countdown`-th call (1 = the
 * next) of the selected kinds fails with `st`; with `persistent` every later
 * call fails too. countdown 0 disarms. Returns nothing: it cannot fail. */
enum { VRAM_FAULT_RESERVE = 1, VRAM_FAULT_COPY = 2 };
void vram_device_inject_fault(vram_device *d, unsigned kinds, uint64_t countdown, int persistent,
                              vram_status st);
uint64_t vram_device_faults_hit(const vram_device *d);

#ifdef __cplusplus
}
#endif
#endif
