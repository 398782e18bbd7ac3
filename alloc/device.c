/* device.c - the device wrapper: one function per entry of the backend table,
 * and the one place of argument checks, fault injection, stats and the cost model.
 * A backend that fails a call has written why into d->msg (device_internal.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device_internal.h"
#include "vram/device.h"

#define DEVICE_MSG_LEN 512

typedef struct fault_state {
    unsigned kinds;     /* VRAM_FAULT_* selected */
    uint64_t countdown; /* 0 disarmed; 1 the next selected call fails */
    int persistent;     /* after firing, countdown stays 1 */
    int fired;          /* fired since arming (the hook runs on the first) */
    vram_status st;
} fault_state;

struct vram_device {
    const vram_device_ops *ops;
    void *impl;
    vram_cost_model cost; /* defaults resolved: every field > 0 */
    vram_device_stats stats;
    fault_state fault;
    uint64_t faults_hit;
    int backing;
    char msg[DEVICE_MSG_LEN];
};

static const struct {
    const char *name;
    const vram_device_ops *ops;
    vram__device_create_fn create;
} backends[] = {
    {"sim", &vram__device_sim_ops, vram__device_sim_create},
#ifdef VRAM_HAVE_CUDA
    {"cuda", &vram__device_cuda_ops, vram__device_cuda_create},
#endif
};

vram_status vram__device_fail(char *msg, size_t msglen, vram_status st, const char *fmt, ...)
{
    if (msglen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, msglen, fmt, ap);
        va_end(ap);
    }
    return st;
}

__attribute__((noinline)) void vram__device_fault_hook(void)
{
    /* Keeps the call from being folded away, so a breakpoint here always hits. */
    __asm__ volatile("" ::: "memory");
}

static vram_status bad_cost(const char *field, double v, char *msg, size_t msglen)
{
    return vram__device_fail(msg, msglen, VRAM_EINVAL, "cost model: %s = %g is negative or not a number", field, v);
}

/* Zeros mean the defaults; negative values are refused. */
static vram_status resolve_cost(const vram_cost_model *in, vram_cost_model *out, char *msg,
                                size_t msglen)
{
    const struct {
        const char *name;
        double v, def;
        double *dst;
    } f[] = {
        {"segment_alloc_ns", in->segment_alloc_ns, VRAM__COST_SEGMENT_ALLOC_NS, &out->segment_alloc_ns},
        {"segment_free_ns", in->segment_free_ns, VRAM__COST_SEGMENT_FREE_NS, &out->segment_free_ns},
        {"copy_latency_ns", in->copy_latency_ns, VRAM__COST_COPY_LATENCY_NS, &out->copy_latency_ns},
        {"h2d_gbps", in->h2d_gbps, VRAM__COST_H2D_GBPS, &out->h2d_gbps},
        {"d2h_gbps", in->d2h_gbps, VRAM__COST_D2H_GBPS, &out->d2h_gbps},
        {"d2d_gbps", in->d2d_gbps, VRAM__COST_D2D_GBPS, &out->d2d_gbps},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        if (!(f[i].v >= 0))
            return bad_cost(f[i].name, f[i].v, msg, msglen);
        *f[i].dst = f[i].v > 0 ? f[i].v : f[i].def;
    }
    return VRAM_OK;
}

vram_status vram_device_create(const vram_device_config *cfg, vram_device **out)
{
    static const vram_device_config defaults = {0};
    if (!out)
        return VRAM_EINVAL;
    *out = NULL;
    if (!cfg)
        cfg = &defaults;
    const char *name = cfg->backend ? cfg->backend : "sim";
    char *eb = cfg->errbuf;
    size_t eblen = eb ? cfg->errbuf_len : 0;

    size_t b = 0;
    while (b < sizeof backends / sizeof backends[0] && strcmp(backends[b].name, name) != 0)
        b++;
    if (b == sizeof backends / sizeof backends[0]) {
#ifndef VRAM_HAVE_CUDA
        if (strcmp(name, "cuda") == 0)
            return vram__device_fail(eb, eblen, VRAM_EUNSUPPORTED,
                                     "backend \"cuda\" is not built in (cuda.h was not found at "
                                     "build time); run with the sim backend (--backend sim)");
#endif
        return vram__device_fail(eb, eblen, VRAM_ENOTFOUND,
                                 "unknown device backend \"%s\" (backends: sim, cuda)", name);
    }

    vram_device *d = calloc(1, sizeof *d);
    if (!d)
        return vram__device_fail(eb, eblen, VRAM_ENOHOST, "out of host memory creating a device");
    vram_status st = resolve_cost(&cfg->cost, &d->cost, d->msg, sizeof d->msg);
    if (!st)
        st = backends[b].create(cfg, d->msg, sizeof d->msg, &d->impl);
    if (st) {
        vram__device_fail(eb, eblen, st, "%s", d->msg);
        free(d);
        return st;
    }
    d->ops = backends[b].ops;
    d->backing = cfg->host_backing && d->ops->fill != NULL;
    d->msg[0] = '\0';
    *out = d;
    return VRAM_OK;
}

void vram_device_destroy(vram_device *d)
{
    if (!d)
        return;
    d->ops->destroy(d->impl);
    free(d);
}

const char *vram_device_backend(const vram_device *d) { return d->ops->name; }
int vram_device_has_backing(const vram_device *d) { return d->backing; }
const char *vram_device_errmsg(const vram_device *d) { return d->msg; }
uint64_t vram_device_faults_hit(const vram_device *d) { return d->faults_hit; }
void vram_device_stats_get(const vram_device *d, vram_device_stats *out) { *out = d->stats; }
void vram_device_cost_model_get(const vram_device *d, vram_cost_model *out) { *out = d->cost; }

uint64_t vram_device_granularity(const vram_device *d) { return d->ops->granularity(d->impl); }

static vram_status fail(vram_device *d, vram_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static vram_status fail(vram_device *d, vram_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->msg, sizeof d->msg, fmt, ap);
    va_end(ap);
    return st;
}

void vram_device_inject_fault(vram_device *d, unsigned kinds, uint64_t countdown, int persistent,
                              vram_status st)
{
    d->fault = (fault_state){.kinds = kinds,
                             .countdown = countdown,
                             .persistent = persistent,
                             .st = st == VRAM_OK ? VRAM_EDEVICE : st};
}

/* Counts one call of `kind` down; non-zero when it is to fail. */
static int fault_fires(vram_device *d, unsigned kind, const char *call)
{
    fault_state *f = &d->fault;
    if (!(f->kinds & kind) || f->countdown == 0)
        return 0;
    if (f->countdown > 1) {
        f->countdown--;
        return 0;
    }
    if (!f->persistent)
        f->countdown = 0;
    d->faults_hit++;
    if (!f->fired) {
        f->fired = 1;
        vram__device_fault_hook();
    }
    fail(d, f->st, "%s: injected fault (%s)", call, vram_status_name(f->st));
    return 1;
}

static void account_reserve(vram_device *d, uint64_t bytes)
{
    d->stats.reserved += bytes;
    if (d->stats.reserved > d->stats.peak_reserved)
        d->stats.peak_reserved = d->stats.reserved;
}

vram_status vram_device_reserve(vram_device *d, uint64_t size, uint64_t *addr)
{
    d->msg[0] = '\0';
    if (size == 0 || !addr)
        return fail(d, VRAM_EINVAL, "reserve: %s", addr ? "size 0" : "NULL address out-pointer");
    if (fault_fires(d, VRAM_FAULT_RESERVE, "reserve"))
        return d->fault.st;
    vram_status st = d->ops->reserve(d->impl, size, addr);
    if (st)
        return st;
    account_reserve(d, size);
    d->stats.segments++;
    d->stats.reserve_calls++;
    d->stats.modelled_ns += d->cost.segment_alloc_ns;
    return VRAM_OK;
}

vram_status vram_device_release(vram_device *d, uint64_t addr)
{
    d->msg[0] = '\0';
    vram_segment_info si;
    if (d->ops->segment_info(d->impl, addr, &si) || si.addr != addr)
        return fail(d, VRAM_ENOTFOUND, "release: 0x%" PRIx64 " is not the start of a live segment",
                    addr);
    vram_status st = d->ops->release(d->impl, addr);
    if (st) {
        /* The segment is still live, but a growable one may have lost some
         * granules before the failure. */
        vram_segment_info now;
        d->ops->segment_info(d->impl, addr, &now);
        d->stats.reserved -= si.size - now.size;
        return st;
    }
    d->stats.reserved -= si.size;
    d->stats.segments--;
    d->stats.release_calls++;
    d->stats.modelled_ns += d->cost.segment_free_ns;
    return VRAM_OK;
}

/* Refuses a range not inside one live segment's usable bytes. */
static vram_status check_span(vram_device *d, const char *call, uint64_t a, uint64_t n)
{
    vram_segment_info si;
    if (d->ops->segment_info(d->impl, a, &si) || a - si.addr >= si.size || n > si.size - (a - si.addr))
        return fail(d, VRAM_EINVAL,
                    "%s: [0x%" PRIx64 ", +%" PRIu64 ") is not inside one live segment", call, a, n);
    return VRAM_OK;
}

static void account_copy(vram_device *d, uint64_t n, double gbps, uint64_t *counter)
{
    /* 1 GB/s moves one byte per ns. */
    d->stats.modelled_ns += d->cost.copy_latency_ns + (double)n / gbps;
    d->stats.copy_calls++;
    *counter += n;
}

vram_status vram_device_copy_h2d(vram_device *d, uint64_t dst, const void *src, uint64_t n)
{
    d->msg[0] = '\0';
    if (n == 0)
        return VRAM_OK;
    if (!src)
        return fail(d, VRAM_EINVAL, "copy_h2d: NULL source");
    vram_status st = check_span(d, "copy_h2d", dst, n);
    if (st)
        return st;
    if (fault_fires(d, VRAM_FAULT_COPY, "copy_h2d"))
        return d->fault.st;
    st = d->ops->copy_h2d(d->impl, dst, src, n);
    if (st)
        return st;
    account_copy(d, n, d->cost.h2d_gbps, &d->stats.bytes_h2d);
    return VRAM_OK;
}

vram_status vram_device_copy_d2h(vram_device *d, void *dst, uint64_t src, uint64_t n)
{
    d->msg[0] = '\0';
    if (n == 0)
        return VRAM_OK;
    if (!dst)
        return fail(d, VRAM_EINVAL, "copy_d2h: NULL destination");
    vram_status st = check_span(d, "copy_d2h", src, n);
    if (st)
        return st;
    if (fault_fires(d, VRAM_FAULT_COPY, "copy_d2h"))
        return d->fault.st;
    st = d->ops->copy_d2h(d->impl, dst, src, n);
    if (st)
        return st;
    account_copy(d, n, d->cost.d2h_gbps, &d->stats.bytes_d2h);
    return VRAM_OK;
}

vram_status vram_device_copy_d2d(vram_device *d, uint64_t dst, uint64_t src, uint64_t n)
{
    d->msg[0] = '\0';
    if (n == 0)
        return VRAM_OK;
    vram_status st = check_span(d, "copy_d2d (source)", src, n);
    if (!st)
        st = check_span(d, "copy_d2d (destination)", dst, n);
    if (st)
        return st;
    if (fault_fires(d, VRAM_FAULT_COPY, "copy_d2d"))
        return d->fault.st;
    st = d->ops->copy_d2d(d->impl, dst, src, n);
    if (st)
        return st;
    account_copy(d, n, d->cost.d2d_gbps, &d->stats.bytes_d2d);
    return VRAM_OK;
}

vram_status vram_device_mem_info(vram_device *d, uint64_t *free_bytes, uint64_t *total_bytes)
{
    d->msg[0] = '\0';
    if (!free_bytes || !total_bytes)
        return fail(d, VRAM_EINVAL, "mem_info: NULL out-pointer");
    uint64_t f, t;
    vram_status st = d->ops->mem_info(d->impl, &f, &t);
    if (st)
        return st;
    *free_bytes = f;
    *total_bytes = t;
    return VRAM_OK;
}

vram_status vram_device_fill(vram_device *d, uint64_t addr, uint64_t n, uint64_t tag)
{
    d->msg[0] = '\0';
    if (n == 0)
        return VRAM_OK;
    vram_status st = check_span(d, "fill", addr, n);
    if (st || !d->backing)
        return st;
    return d->ops->fill(d->impl, addr, n, tag);
}

vram_status vram_device_verify(vram_device *d, uint64_t addr, uint64_t n, uint64_t tag)
{
    d->msg[0] = '\0';
    if (n == 0)
        return VRAM_OK;
    vram_status st = check_span(d, "verify", addr, n);
    if (st || !d->backing)
        return st;
    return d->ops->verify(d->impl, addr, n, tag);
}

vram_status vram_device_segment_info(const vram_device *d, uint64_t addr, vram_segment_info *out)
{
    if (!out)
        return VRAM_EINVAL;
    return d->ops->segment_info(d->impl, addr, out);
}

/* Rounds n up to the granularity g (a power of two); 0 when that overflows. */
static uint64_t round_gran(uint64_t n, uint64_t g)
{
    return n > UINT64_MAX - (g - 1) ? 0 : (n + g - 1) & ~(g - 1);
}

vram_status vram_device_reserve_growable(vram_device *d, uint64_t max_size, uint64_t *addr)
{
    d->msg[0] = '\0';
    uint64_t ext = round_gran(max_size, vram_device_granularity(d));
    if (ext == 0 || !addr)
        return fail(d, VRAM_EINVAL, "reserve_growable: %s",
                    addr ? "max_size 0 or too large to round to the granularity"
                         : "NULL address out-pointer");
    if (fault_fires(d, VRAM_FAULT_RESERVE, "reserve_growable"))
        return d->fault.st;
    vram_status st = d->ops->reserve_growable(d->impl, ext, addr);
    if (st)
        return st;
    d->stats.segments++;
    d->stats.reserve_calls++;
    d->stats.modelled_ns += d->cost.segment_alloc_ns;
    return VRAM_OK;
}

/* grow != 0: grow_segment, else shrink_segment. */
static vram_status resize(vram_device *d, uint64_t addr, uint64_t new_size, int grow)
{
    const char *call = grow ? "grow_segment" : "shrink_segment";
    d->msg[0] = '\0';
    vram_segment_info si;
    if (d->ops->segment_info(d->impl, addr, &si) || si.addr != addr || !si.growable)
        return fail(d, VRAM_ENOTFOUND, "%s: 0x%" PRIx64 " is not the start of a growable segment",
                    call, addr);
    uint64_t size = round_gran(new_size, vram_device_granularity(d));
    if ((size == 0 && new_size != 0) || size > si.max_size)
        return fail(d, VRAM_EINVAL, "%s: size %" PRIu64 " beyond the segment's %" PRIu64 " bytes",
                    call, new_size, si.max_size);
    if (grow ? size < si.size : size > si.size)
        return fail(d, VRAM_EINVAL, "%s: size %" PRIu64 " would %s the %" PRIu64 " mapped bytes",
                    call, new_size, grow ? "shrink" : "grow", si.size);
    if (size == si.size)
        return VRAM_OK;
    if (grow && fault_fires(d, VRAM_FAULT_RESERVE, call))
        return d->fault.st;
    vram_status st = d->ops->resize(d->impl, addr, size);
    /* A backend may fail half way through (some granules mapped or unmapped):
     * the stats follow what is mapped now, whatever the status. */
    vram_segment_info now;
    d->ops->segment_info(d->impl, addr, &now); /* resize never removes the segment */
    uint64_t mapped = now.size;
    if (mapped > si.size) {
        account_reserve(d, mapped - si.size);
        d->stats.map_calls++;
        d->stats.modelled_ns += d->cost.segment_alloc_ns;
    } else if (mapped < si.size) {
        d->stats.reserved -= si.size - mapped;
        d->stats.unmap_calls++;
        d->stats.modelled_ns += d->cost.segment_free_ns;
    }
    return st;
}

vram_status vram_device_grow_segment(vram_device *d, uint64_t addr, uint64_t new_size)
{
    return resize(d, addr, new_size, 1);
}

vram_status vram_device_shrink_segment(vram_device *d, uint64_t addr, uint64_t new_size)
{
    return resize(d, addr, new_size, 0);
}

vram_status vram__device_host_alloc(vram_device *d, uint64_t size, void **ptr, int *pinned)
{
    if (d->ops->host_alloc)
        return d->ops->host_alloc(d->impl, size, ptr, pinned);
    *pinned = 0;
    *ptr = size <= SIZE_MAX ? malloc((size_t)size) : NULL;
    return *ptr ? VRAM_OK : VRAM_ENOHOST;
}

void vram__device_host_free(vram_device *d, void *ptr, int pinned)
{
    if (d->ops->host_free)
        d->ops->host_free(d->impl, ptr, pinned);
    else
        free(ptr);
}
