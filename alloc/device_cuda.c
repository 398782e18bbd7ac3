/* device_cuda.c - the "cuda" device backend over the CUDA driver API.
 *
 * The driver is opened with dlopen at run time (VRAM_CUDA_DRIVER, else
 * libcuda.so.1): libvram never links libcuda, and cuda.h is used for types
 * only. Fixed segments are cuMemAlloc; growable segments reserve a virtual
 * range (cuMemAddressReserve) and map one physical allocation per granule
 * (cuMemCreate, cuMemMap, cuMemSetAccess). A device is used from one thread
 * at a time: the primary context is made current when the device is created
 * and on every call that talks to the driver.
 *
 * The wrapper (device.c) has already checked arguments: sizes are non-zero,
 * copy ranges lie inside one live segment, release gets the start of a live
 * segment and resize the start of a growable one (which exist only with the
 * VMM API), growable sizes are multiples of the granularity within the segment. */
#include <cuda.h>
#include <dlfcn.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device_internal.h"

_Static_assert(sizeof(size_t) == sizeof(uint64_t), "the cuda backend needs a 64-bit size_t");
_Static_assert(sizeof(CUdeviceptr) == sizeof(uint64_t), "CUdeviceptr must be 64 bits");

#define CUDA_DEFAULT_DRIVER "libcuda.so.1"
#define CUDA_FALLBACK_GRANULARITY (2ull << 20) /* segment alignment when the VMM API is absent */

/* The driver entry points we use, resolved with dlsym. */
typedef struct cuda_api {
    CUresult (*Init)(unsigned int);
    CUresult (*DeviceGet)(CUdevice *, int);
    CUresult (*DevicePrimaryCtxRetain)(CUcontext *, CUdevice);
    CUresult (*CtxSetCurrent)(CUcontext);
    CUresult (*MemAlloc)(CUdeviceptr *, size_t);
    CUresult (*MemFree)(CUdeviceptr);
    CUresult (*MemGetInfo)(size_t *, size_t *);
    CUresult (*MemcpyHtoD)(CUdeviceptr, const void *, size_t);
    CUresult (*MemcpyDtoH)(void *, CUdeviceptr, size_t);
    CUresult (*MemcpyDtoD)(CUdeviceptr, CUdeviceptr, size_t);
    /* optional */
    CUresult (*DevicePrimaryCtxRelease)(CUdevice);
    CUresult (*GetErrorString)(CUresult, const char **);
    CUresult (*MemHostAlloc)(void **, size_t, unsigned int);
    CUresult (*MemFreeHost)(void *);
    /* optional as a group: the VMM API */
    CUresult (*MemAddressReserve)(CUdeviceptr *, size_t, size_t, CUdeviceptr, unsigned long long);
    CUresult (*MemAddressFree)(CUdeviceptr, size_t);
    CUresult (*MemCreate)(CUmemGenericAllocationHandle *, size_t, const CUmemAllocationProp *,
                          unsigned long long);
    CUresult (*MemRelease)(CUmemGenericAllocationHandle);
    CUresult (*MemMap)(CUdeviceptr, size_t, size_t, CUmemGenericAllocationHandle,
                       unsigned long long);
    CUresult (*MemUnmap)(CUdeviceptr, size_t);
    CUresult (*MemSetAccess)(CUdeviceptr, size_t, const CUmemAccessDesc *, size_t);
    CUresult (*MemGetAllocationGranularity)(size_t *, const CUmemAllocationProp *,
                                            CUmemAllocationGranularity_flags);
} cuda_api;

enum { SYM_REQUIRED, SYM_OPTIONAL, SYM_VMM };

static const struct {
    const char *name; /* "<name>_v2" is tried first */
    size_t off;
    int need;
} syms[] = {
    {"cuInit", offsetof(cuda_api, Init), SYM_REQUIRED},
    {"cuDeviceGet", offsetof(cuda_api, DeviceGet), SYM_REQUIRED},
    {"cuDevicePrimaryCtxRetain", offsetof(cuda_api, DevicePrimaryCtxRetain), SYM_REQUIRED},
    {"cuCtxSetCurrent", offsetof(cuda_api, CtxSetCurrent), SYM_REQUIRED},
    {"cuMemAlloc", offsetof(cuda_api, MemAlloc), SYM_REQUIRED},
    {"cuMemFree", offsetof(cuda_api, MemFree), SYM_REQUIRED},
    {"cuMemGetInfo", offsetof(cuda_api, MemGetInfo), SYM_REQUIRED},
    {"cuMemcpyHtoD", offsetof(cuda_api, MemcpyHtoD), SYM_REQUIRED},
    {"cuMemcpyDtoH", offsetof(cuda_api, MemcpyDtoH), SYM_REQUIRED},
    {"cuMemcpyDtoD", offsetof(cuda_api, MemcpyDtoD), SYM_REQUIRED},
    {"cuDevicePrimaryCtxRelease", offsetof(cuda_api, DevicePrimaryCtxRelease), SYM_OPTIONAL},
    {"cuGetErrorString", offsetof(cuda_api, GetErrorString), SYM_OPTIONAL},
    {"cuMemHostAlloc", offsetof(cuda_api, MemHostAlloc), SYM_OPTIONAL},
    {"cuMemFreeHost", offsetof(cuda_api, MemFreeHost), SYM_OPTIONAL},
    {"cuMemAddressReserve", offsetof(cuda_api, MemAddressReserve), SYM_VMM},
    {"cuMemAddressFree", offsetof(cuda_api, MemAddressFree), SYM_VMM},
    {"cuMemCreate", offsetof(cuda_api, MemCreate), SYM_VMM},
    {"cuMemRelease", offsetof(cuda_api, MemRelease), SYM_VMM},
    {"cuMemMap", offsetof(cuda_api, MemMap), SYM_VMM},
    {"cuMemUnmap", offsetof(cuda_api, MemUnmap), SYM_VMM},
    {"cuMemSetAccess", offsetof(cuda_api, MemSetAccess), SYM_VMM},
    {"cuMemGetAllocationGranularity", offsetof(cuda_api, MemGetAllocationGranularity), SYM_VMM},
};

/* The physical allocations of a growable segment: handles[i] is mapped at
 * addr + i * granularity, for i < n == size / granularity. */
typedef struct cuda_granules {
    CUmemGenericAllocationHandle *handles;
    size_t n, cap;
} cuda_granules;

typedef struct cuda_dev {
    void *lib;
    cuda_api api;
    CUdevice dev;
    CUcontext ctx;
    int vmm;          /* every SYM_VMM entry point resolved and the granularity known */
    uint64_t gran;    /* the driver's recommended VMM granularity */
    uint64_t capacity;
    uint64_t used;    /* sum of segs[i].size: used <= capacity */
    vram__segtab segs; /* growable segments' priv is a cuda_granules */
    CUmemAllocationProp prop;
    CUmemAccessDesc access;
    char *msg;
    size_t msglen;
} cuda_dev;

/* Maps a driver error to a status and writes the driver's words into msg. */
static vram_status cu_fail(cuda_dev *c, CUresult r, const char *call)
{
    const char *text = NULL;
    if (!c->api.GetErrorString || c->api.GetErrorString(r, &text) != CUDA_SUCCESS || !text)
        text = "unknown error";
    vram_status st = r == CUDA_ERROR_OUT_OF_MEMORY ? VRAM_ENOMEM : VRAM_EDEVICE;
    return vram__device_fail(c->msg, c->msglen, st, "cuda: %s failed: %s (CUresult %d)", call, text,
                             (int)r);
}

static vram_status cu_current(cuda_dev *c)
{
    CUresult r = c->api.CtxSetCurrent(c->ctx);
    return r == CUDA_SUCCESS ? VRAM_OK : cu_fail(c, r, "cuCtxSetCurrent");
}

/* Resolves the entry points; a missing required one is VRAM_ENODRIVER. */
static vram_status resolve(cuda_dev *c, const char *path)
{
    int vmm = 1;
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
        char v2[64];
        snprintf(v2, sizeof v2, "%s_v2", syms[i].name);
        void *p = dlsym(c->lib, v2);
        if (!p)
            p = dlsym(c->lib, syms[i].name);
        if (!p && syms[i].need == SYM_REQUIRED)
            return vram__device_fail(c->msg, c->msglen, VRAM_ENODRIVER,
                                     "the CUDA driver %s lacks %s; run with the sim backend "
                                     "(--backend sim)",
                                     path, syms[i].name);
        if (!p && syms[i].need == SYM_VMM)
            vmm = 0;
        /* POSIX: a data pointer from dlsym holds a function pointer of the same size. */
        memcpy((char *)&c->api + syms[i].off, &p, sizeof p);
    }
    c->vmm = vmm;
    return VRAM_OK;
}

/* cuInit, the device, its primary context, the granularity and the capacity. */
static vram_status open_device(cuda_dev *c, const vram_device_config *cfg)
{
    CUresult r = c->api.Init(0);
    if (r != CUDA_SUCCESS)
        return cu_fail(c, r, "cuInit");
    r = c->api.DeviceGet(&c->dev, cfg->cuda_ordinal);
    if (r != CUDA_SUCCESS) {
        cu_fail(c, r, "cuDeviceGet");
        size_t len = strlen(c->msg);
        snprintf(c->msg + len, c->msglen - len, " for device ordinal %d", cfg->cuda_ordinal);
        return VRAM_EDEVICE;
    }
    r = c->api.DevicePrimaryCtxRetain(&c->ctx, c->dev);
    if (r != CUDA_SUCCESS)
        return cu_fail(c, r, "cuDevicePrimaryCtxRetain");
    vram_status st = cu_current(c);
    if (st)
        return st;

    c->prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
    c->prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    c->prop.location.id = c->dev;
    c->access.location = c->prop.location;
    c->access.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
    c->gran = CUDA_FALLBACK_GRANULARITY;
    size_t g = 0;
    if (c->vmm && c->api.MemGetAllocationGranularity(&g, &c->prop,
                                                     CU_MEM_ALLOC_GRANULARITY_RECOMMENDED) ==
                      CUDA_SUCCESS &&
        g && !(g & (g - 1)))
        c->gran = g;
    else
        c->vmm = 0;

    size_t free_b, total_b;
    r = c->api.MemGetInfo(&free_b, &total_b);
    if (r != CUDA_SUCCESS)
        return cu_fail(c, r, "cuMemGetInfo");
    c->capacity = cfg->capacity && cfg->capacity < total_b ? cfg->capacity : total_b;
    return VRAM_OK;
}

static void cuda_destroy(void *impl);

vram_status vram__device_cuda_create(const vram_device_config *cfg, char *msg, size_t msglen,
                                     void **impl)
{
    const char *env = getenv("VRAM_CUDA_DRIVER");
    const char *path = env && *env ? env : CUDA_DEFAULT_DRIVER;
    cuda_dev *c = calloc(1, sizeof *c);
    if (!c)
        return vram__device_fail(msg, msglen, VRAM_ENOHOST, "cuda backend: out of host memory");
    c->msg = msg;
    c->msglen = msglen;
    c->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!c->lib) {
        const char *why = dlerror();
        free(c);
        return vram__device_fail(msg, msglen, VRAM_ENODRIVER,
                                 "cannot load the CUDA driver (%s: %s); run with the sim backend "
                                 "(--backend sim)",
                                 path, why ? why : "unknown dlopen error");
    }
    vram_status st = resolve(c, path);
    if (!st)
        st = open_device(c, cfg);
    if (st) {
        cuda_destroy(c);
        return st;
    }
    *impl = c;
    return VRAM_OK;
}

/* Unmaps and releases granules [keep, g->n) of the segment at addr. Stops at
 * the first driver error (that granule stays mapped) and returns it. */
static vram_status unmap_from(cuda_dev *c, uint64_t addr, cuda_granules *g, size_t keep)
{
    while (g->n > keep) {
        CUdeviceptr p = addr + (g->n - 1) * c->gran;
        CUresult r = c->api.MemUnmap(p, c->gran);
        if (r != CUDA_SUCCESS)
            return cu_fail(c, r, "cuMemUnmap");
        r = c->api.MemRelease(g->handles[g->n - 1]);
        g->n--;
        if (r != CUDA_SUCCESS)
            return cu_fail(c, r, "cuMemRelease");
    }
    return VRAM_OK;
}

/* Frees the driver resources of one segment; the first error wins. The host
 * side (granules_free) stays, so a failed release still knows what is mapped. */
static vram_status free_segment(cuda_dev *c, vram__seg *s)
{
    if (!s->growable) {
        CUresult r = c->api.MemFree(s->addr);
        return r == CUDA_SUCCESS ? VRAM_OK : cu_fail(c, r, "cuMemFree");
    }
    vram_status st = unmap_from(c, s->addr, s->priv, 0);
    if (st)
        return st;
    CUresult r = c->api.MemAddressFree(s->addr, s->extent);
    return r == CUDA_SUCCESS ? VRAM_OK : cu_fail(c, r, "cuMemAddressFree");
}

/* The host side of a segment: a growable one's granule table. */
static void granules_free(vram__seg *s)
{
    cuda_granules *g = s->priv;
    if (g)
        free(g->handles);
    free(g);
}

static void cuda_destroy(void *impl)
{
    cuda_dev *c = impl;
    if (c->ctx) {
        /* Without a current context the driver keeps what it could not be told
         * to free; the host side goes regardless. */
        int current = cu_current(c) == VRAM_OK;
        for (size_t i = 0; i < c->segs.n; i++) {
            if (current)
                free_segment(c, &c->segs.segs[i]);
            granules_free(&c->segs.segs[i]);
        }
        if (c->api.DevicePrimaryCtxRelease)
            c->api.DevicePrimaryCtxRelease(c->dev);
    }
    vram__segtab_free(&c->segs);
    dlclose(c->lib);
    free(c);
}

static vram_status over_capacity(cuda_dev *c, uint64_t size)
{
    return vram__device_fail(c->msg, c->msglen, VRAM_ENOMEM,
                             "cuda: %" PRIu64 " bytes do not fit: %" PRIu64 " of %" PRIu64
                             " bytes of the device's capacity free",
                             size, c->capacity - c->used, c->capacity);
}

static vram_status add_segment(cuda_dev *c, const vram__seg *s)
{
    vram_status st = vram__segtab_insert(&c->segs, s);
    if (st)
        return vram__device_fail(c->msg, c->msglen, st, "cuda: out of host memory for the segment table");
    c->used += s->size;
    return VRAM_OK;
}

static vram_status cuda_reserve(void *impl, uint64_t size, uint64_t *addr)
{
    cuda_dev *c = impl;
    if (size > c->capacity - c->used)
        return over_capacity(c, size);
    vram_status st = cu_current(c);
    if (st)
        return st;
    CUdeviceptr p;
    CUresult r = c->api.MemAlloc(&p, size);
    if (r != CUDA_SUCCESS)
        return cu_fail(c, r, "cuMemAlloc");
    vram__seg s = {.addr = p, .extent = size, .size = size};
    st = add_segment(c, &s);
    if (st) {
        c->api.MemFree(p);
        return st;
    }
    *addr = p;
    return VRAM_OK;
}

static vram_status no_vmm(cuda_dev *c)
{
    return vram__device_fail(c->msg, c->msglen, VRAM_EUNSUPPORTED,
                             "cuda: the driver lacks the virtual memory management API "
                             "(cuMemAddressReserve, cuMemCreate, cuMemMap, ...)");
}

static vram_status cuda_reserve_growable(void *impl, uint64_t max_size, uint64_t *addr)
{
    cuda_dev *c = impl;
    if (!c->vmm)
        return no_vmm(c);
    vram_status st = cu_current(c);
    if (st)
        return st;
    cuda_granules *g = calloc(1, sizeof *g);
    if (!g)
        return vram__device_fail(c->msg, c->msglen, VRAM_ENOHOST, "cuda: out of host memory");
    CUdeviceptr p;
    CUresult r = c->api.MemAddressReserve(&p, max_size, c->gran, 0, 0);
    if (r != CUDA_SUCCESS) {
        free(g);
        return cu_fail(c, r, "cuMemAddressReserve");
    }
    vram__seg s = {.addr = p, .extent = max_size, .size = 0, .growable = 1, .priv = g};
    st = add_segment(c, &s);
    if (st) {
        c->api.MemAddressFree(p, max_size);
        free(g);
        return st;
    }
    *addr = p;
    return VRAM_OK;
}

/* Maps one more granule at the end of the segment. */
static vram_status map_one(cuda_dev *c, uint64_t addr, cuda_granules *g)
{
    if (g->n == g->cap) {
        size_t cap = g->cap ? 2 * g->cap : 8;
        CUmemGenericAllocationHandle *h = realloc(g->handles, cap * sizeof *h);
        if (!h)
            return vram__device_fail(c->msg, c->msglen, VRAM_ENOHOST, "cuda: out of host memory");
        g->handles = h;
        g->cap = cap;
    }
    CUmemGenericAllocationHandle h;
    CUdeviceptr p = addr + g->n * c->gran;
    CUresult r = c->api.MemCreate(&h, c->gran, &c->prop, 0);
    if (r != CUDA_SUCCESS)
        return cu_fail(c, r, "cuMemCreate");
    r = c->api.MemMap(p, c->gran, 0, h, 0);
    if (r != CUDA_SUCCESS) {
        c->api.MemRelease(h);
        return cu_fail(c, r, "cuMemMap");
    }
    r = c->api.MemSetAccess(p, c->gran, &c->access, 1);
    if (r != CUDA_SUCCESS) {
        c->api.MemUnmap(p, c->gran);
        c->api.MemRelease(h);
        return cu_fail(c, r, "cuMemSetAccess");
    }
    g->handles[g->n++] = h;
    return VRAM_OK;
}

/* A failed grow unmaps what it mapped, so nothing changes; a failed shrink
 * leaves the granules up to the failing one mapped (seg->size says so). */
static vram_status cuda_resize(void *impl, uint64_t addr, uint64_t size)
{
    cuda_dev *c = impl;
    vram__seg *s = &c->segs.segs[vram__segtab_find(&c->segs, addr)];
    cuda_granules *g = s->priv;
    size_t want = (size_t)(size / c->gran), had = g->n;
    if (size > s->size && size - s->size > c->capacity - c->used)
        return over_capacity(c, size - s->size);
    vram_status st = cu_current(c);
    while (!st && g->n < want)
        st = map_one(c, addr, g);
    if (st && g->n > had)
        unmap_from(c, addr, g, had);
    if (!st && g->n > want)
        st = unmap_from(c, addr, g, want);
    c->used = c->used - s->size + g->n * c->gran;
    s->size = g->n * c->gran;
    return st;
}

static vram_status cuda_release(void *impl, uint64_t addr)
{
    cuda_dev *c = impl;
    size_t i = vram__segtab_find(&c->segs, addr);
    vram__seg *s = &c->segs.segs[i];
    vram_status st = cu_current(c);
    if (!st)
        st = free_segment(c, s);
    if (st) {
        if (s->growable) { /* some granules may be gone: the segment says what is left */
            uint64_t left = ((cuda_granules *)s->priv)->n * c->gran;
            c->used -= s->size - left;
            s->size = left;
        }
        return st;
    }
    granules_free(s);
    c->used -= s->size;
    vram__segtab_remove(&c->segs, i);
    return VRAM_OK;
}

static vram_status cuda_copy_h2d(void *impl, uint64_t dst, const void *src, uint64_t n)
{
    cuda_dev *c = impl;
    vram_status st = cu_current(c);
    CUresult r = st ? CUDA_SUCCESS : c->api.MemcpyHtoD(dst, src, n);
    return st ? st : r == CUDA_SUCCESS ? VRAM_OK : cu_fail(c, r, "cuMemcpyHtoD");
}

static vram_status cuda_copy_d2h(void *impl, void *dst, uint64_t src, uint64_t n)
{
    cuda_dev *c = impl;
    vram_status st = cu_current(c);
    CUresult r = st ? CUDA_SUCCESS : c->api.MemcpyDtoH(dst, src, n);
    return st ? st : r == CUDA_SUCCESS ? VRAM_OK : cu_fail(c, r, "cuMemcpyDtoH");
}

static vram_status cuda_copy_d2d(void *impl, uint64_t dst, uint64_t src, uint64_t n)
{
    cuda_dev *c = impl;
    vram_status st = cu_current(c);
    CUresult r = st ? CUDA_SUCCESS : c->api.MemcpyDtoD(dst, src, n);
    return st ? st : r == CUDA_SUCCESS ? VRAM_OK : cu_fail(c, r, "cuMemcpyDtoD");
}

/* The driver's free bytes, bounded by what the capacity leaves. */
static vram_status cuda_mem_info(void *impl, uint64_t *free_bytes, uint64_t *total_bytes)
{
    cuda_dev *c = impl;
    vram_status st = cu_current(c);
    if (st)
        return st;
    size_t f, t;
    CUresult r = c->api.MemGetInfo(&f, &t);
    if (r != CUDA_SUCCESS)
        return cu_fail(c, r, "cuMemGetInfo");
    uint64_t left = c->capacity - c->used;
    *free_bytes = f < left ? f : left;
    *total_bytes = c->capacity;
    return VRAM_OK;
}

static vram_status cuda_segment_info(void *impl, uint64_t addr, vram_segment_info *out)
{
    const cuda_dev *c = impl;
    size_t i = vram__segtab_find(&c->segs, addr);
    if (i == SIZE_MAX)
        return VRAM_ENOTFOUND;
    vram__segtab_info(&c->segs.segs[i], out);
    return VRAM_OK;
}

static uint64_t cuda_granularity(void *impl)
{
    const cuda_dev *c = impl;
    return c->gran;
}

/* Page-locked through the driver where it can, else malloc. */
static vram_status cuda_host_alloc(void *impl, uint64_t size, void **ptr, int *pinned)
{
    cuda_dev *c = impl;
    if (c->api.MemHostAlloc && c->api.MemFreeHost && cu_current(c) == VRAM_OK &&
        c->api.MemHostAlloc(ptr, size, 0) == CUDA_SUCCESS) {
        *pinned = 1;
        return VRAM_OK;
    }
    *pinned = 0;
    *ptr = malloc(size);
    return *ptr ? VRAM_OK : VRAM_ENOHOST;
}

static void cuda_host_free(void *impl, void *ptr, int pinned)
{
    cuda_dev *c = impl;
    if (pinned) {
        cu_current(c);
        c->api.MemFreeHost(ptr);
    } else {
        free(ptr);
    }
}

const vram_device_ops vram__device_cuda_ops = {
    .name = "cuda",
    .reserve = cuda_reserve,
    .release = cuda_release,
    .copy_h2d = cuda_copy_h2d,
    .copy_d2h = cuda_copy_d2h,
    .copy_d2d = cuda_copy_d2d,
    .mem_info = cuda_mem_info,
    .destroy = cuda_destroy,
    .segment_info = cuda_segment_info,
    .reserve_growable = cuda_reserve_growable,
    .resize = cuda_resize,
    .granularity = cuda_granularity,
    .host_alloc = cuda_host_alloc,
    .host_free = cuda_host_free,
};
