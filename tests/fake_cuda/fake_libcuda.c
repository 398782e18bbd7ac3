/* fake_libcuda.c - a stand-in for libcuda.so.1 over host memory, for tests.
 *
 * Implements the driver entry points the cuda device backend uses. Device
 * pointers are host addresses: cuMemAlloc returns heap memory; the VMM API
 * reserves address space with mmap(PROT_NONE), backs each cuMemCreate
 * allocation with a memfd, maps it with MAP_FIXED (inaccessible until
 * cuMemSetAccess, as on a GPU) and unmaps by mapping PROT_NONE again.
 *
 * Environment, read by every cuInit (which also resets the counters):
 *   FAKE_CUDA_TOTAL=bytes          device memory (default 1 GiB)
 *   FAKE_CUDA_DEVICES=n            device count (default 1)
 *   FAKE_CUDA_FAIL_INIT=code       cuInit returns this CUresult
 *   FAKE_CUDA_FAIL_ALLOC_AFTER=n   after n successful cuMemAlloc/cuMemCreate,
 *                                  every further one is CUDA_ERROR_OUT_OF_MEMORY
 *   FAKE_CUDA_FAIL_MAP_AFTER=n     after n successful cuMemMap, CUDA_ERROR_INVALID_VALUE
 *   FAKE_CUDA_FAIL_COPY_AFTER=n    after n successful copies, CUDA_ERROR_ILLEGAL_ADDRESS
 *   FAKE_CUDA_NO_VMM=1             cuMemGetAllocationGranularity: CUDA_ERROR_NOT_SUPPORTED
 *   FAKE_CUDA_NO_HOSTALLOC=1       cuMemHostAlloc: CUDA_ERROR_NOT_SUPPORTED
 *   FAKE_CUDA_GRANULARITY=bytes    what cuMemGetAllocationGranularity reports
 *                                  (default 2 MiB, the only size the VMM calls accept)
 * Read by every cuGetErrorString:
 *   FAKE_CUDA_ERRSTR_NULL=1        it succeeds with a NULL string
 * The driver is process-global by nature, so this fake keeps global state.
 * fake_cuda_live() reports what is still allocated, for leak checks;
 * fake_cuda_fail_call() makes the n-th call of one entry point fail.
 *
 * Built with -DFAKE_CUDA_OMIT_<entry point> (e.g. FAKE_CUDA_OMIT_cuMemMap), the
 * fake lacks that symbol: the variants of tests/cmake/fake_cuda.cmake model
 * drivers without the optional entry points, the VMM API or a required one. */
#define _GNU_SOURCE
#include <cuda.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define FAKE_GRANULARITY (2ull << 20)
#define FAKE_ALIGN 256u

typedef struct range {
    uintptr_t addr;
    size_t size;
} range;

typedef struct range_list {
    range *v;
    size_t n, cap;
} range_list;

/* Every live handle is on the list fake.handle_list, so that a handle the
 * caller forgets (after a failed cuMemRelease) is still reachable, not leaked. */
typedef struct fake_handle {
    int fd;
    size_t size;
    struct fake_handle *next;
} fake_handle;

static struct {
    int initialised;
    int primary_refs;
    int current;              /* the primary context is current */
    uint64_t total, used;     /* device bytes: cuMemAlloc + cuMemCreate */
    int devices;
    uint64_t fail_alloc_after, fail_map_after, fail_copy_after; /* UINT64_MAX: never */
    int no_vmm, no_hostalloc;
    uint64_t granularity;
    range_list allocs, reservations;
    uint64_t handles, host_allocs;
    fake_handle *handle_list;
} fake;

static char fake_ctx_object;

static uint64_t env_u64(const char *name, uint64_t def)
{
    const char *v = getenv(name);
    return v && *v ? strtoull(v, NULL, 0) : def;
}

static int list_add(range_list *l, uintptr_t addr, size_t size)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        range *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return 0;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = (range){addr, size};
    return 1;
}

/* Index of the range starting at addr, or -1. */
static long list_find(const range_list *l, uintptr_t addr)
{
    for (size_t i = 0; i < l->n; i++) {
        if (l->v[i].addr == addr)
            return (long)i;
    }
    return -1;
}

/* Frees the array with the last range, so an idle fake holds no memory. */
static void list_del(range_list *l, long i)
{
    l->v[i] = l->v[--l->n];
    if (l->n == 0) {
        free(l->v);
        *l = (range_list){0};
    }
}

/* Non-zero when [p, p + n) lies inside one reservation. */
static int in_reservation(uintptr_t p, size_t n)
{
    for (size_t i = 0; i < fake.reservations.n; i++) {
        const range *r = &fake.reservations.v[i];
        if (p >= r->addr && p - r->addr <= r->size && n <= r->size - (p - r->addr))
            return 1;
    }
    return 0;
}

/* CUDA_SUCCESS when the driver is initialised and the context is current. */
static CUresult ready(void)
{
    if (!fake.initialised)
        return CUDA_ERROR_NOT_INITIALIZED;
    return fake.current ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
}

/* Takes one unit of an "after n" budget: non-zero when the call is to fail. */
static int exhausted(uint64_t *after)
{
    if (*after == 0)
        return 1;
    if (*after != UINT64_MAX)
        (*after)--;
    return 0;
}

/* Armed by fake_cuda_fail_call; not reset by cuInit, so creation can be failed. */
#define FAKE_MAX_FAULTS 8
static struct {
    char entry[48];    /* "" for a free slot */
    uint64_t countdown; /* 1: the next call fails */
    int persistent;     /* after firing, every later call fails too */
    CUresult r;
} faults[FAKE_MAX_FAULTS];

/* Not a driver entry point: the nth call from now (1 = the next) of the entry
 * point named `entry` returns r without doing anything; with `persistent`
 * every later call too. nth 0 disarms that entry point; entry NULL disarms
 * all. Returns 0, or -1 when the name is too long or all slots are taken. */
int fake_cuda_fail_call(const char *entry, uint64_t nth, int persistent, CUresult r);
int fake_cuda_fail_call(const char *entry, uint64_t nth, int persistent, CUresult r)
{
    int slot = -1;
    for (int i = 0; i < FAKE_MAX_FAULTS; i++) {
        if (!entry || strcmp(faults[i].entry, entry) == 0)
            faults[i].entry[0] = '\0';
        if (slot < 0 && faults[i].entry[0] == '\0')
            slot = i;
    }
    if (!entry || nth == 0)
        return 0;
    if (slot < 0 || strlen(entry) >= sizeof faults[0].entry)
        return -1;
    strcpy(faults[slot].entry, entry);
    faults[slot].countdown = nth;
    faults[slot].persistent = persistent;
    faults[slot].r = r;
    return 0;
}

/* CUDA_SUCCESS, or the armed failure of this call of `entry`. */
static CUresult injected(const char *entry)
{
    for (int i = 0; i < FAKE_MAX_FAULTS; i++) {
        if (faults[i].entry[0] == '\0' || strcmp(faults[i].entry, entry) != 0)
            continue;
        if (--faults[i].countdown > 0)
            return CUDA_SUCCESS;
        CUresult r = faults[i].r;
        if (faults[i].persistent)
            faults[i].countdown = 1;
        else
            faults[i].entry[0] = '\0';
        return r;
    }
    return CUDA_SUCCESS;
}

/* The first statement of every entry point that can be failed. */
#define FAKE_INJECT(entry)                                                                 \
    do {                                                                                   \
        CUresult inj_ = injected(entry);                                                   \
        if (inj_ != CUDA_SUCCESS)                                                          \
            return inj_;                                                                   \
    } while (0)

#ifndef FAKE_CUDA_OMIT_cuGetErrorString
CUresult CUDAAPI cuGetErrorString(CUresult error, const char **pStr)
{
    static const struct {
        CUresult r;
        const char *s;
    } t[] = {
        {CUDA_SUCCESS, "no error"},
        {CUDA_ERROR_INVALID_VALUE, "invalid argument"},
        {CUDA_ERROR_OUT_OF_MEMORY, "out of memory"},
        {CUDA_ERROR_NOT_INITIALIZED, "initialization error"},
        {CUDA_ERROR_NO_DEVICE, "no CUDA-capable device is detected"},
        {CUDA_ERROR_INVALID_DEVICE, "invalid device ordinal"},
        {CUDA_ERROR_INVALID_CONTEXT, "invalid device context"},
        {CUDA_ERROR_ILLEGAL_ADDRESS, "an illegal memory access was encountered"},
        {CUDA_ERROR_NOT_SUPPORTED, "operation not supported"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        if (t[i].r == error) {
            *pStr = env_u64("FAKE_CUDA_ERRSTR_NULL", 0) ? NULL : t[i].s;
            return CUDA_SUCCESS;
        }
    }
    *pStr = NULL;
    return CUDA_ERROR_INVALID_VALUE;
}
#endif

CUresult CUDAAPI cuInit(unsigned int Flags)
{
    FAKE_INJECT("cuInit");
    if (Flags != 0)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult fail = (CUresult)env_u64("FAKE_CUDA_FAIL_INIT", CUDA_SUCCESS);
    if (fail != CUDA_SUCCESS)
        return fail;
    if (!fake.initialised) {
        fake.total = env_u64("FAKE_CUDA_TOTAL", 1ull << 30);
        fake.used = 0;
    }
    fake.devices = (int)env_u64("FAKE_CUDA_DEVICES", 1);
    fake.fail_alloc_after = env_u64("FAKE_CUDA_FAIL_ALLOC_AFTER", UINT64_MAX);
    fake.fail_map_after = env_u64("FAKE_CUDA_FAIL_MAP_AFTER", UINT64_MAX);
    fake.fail_copy_after = env_u64("FAKE_CUDA_FAIL_COPY_AFTER", UINT64_MAX);
    fake.no_vmm = env_u64("FAKE_CUDA_NO_VMM", 0) != 0;
    fake.no_hostalloc = env_u64("FAKE_CUDA_NO_HOSTALLOC", 0) != 0;
    fake.granularity = env_u64("FAKE_CUDA_GRANULARITY", FAKE_GRANULARITY);
    fake.initialised = 1;
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGet(CUdevice *device, int ordinal)
{
    FAKE_INJECT("cuDeviceGet");
    if (!fake.initialised)
        return CUDA_ERROR_NOT_INITIALIZED;
    if (ordinal < 0 || ordinal >= fake.devices)
        return CUDA_ERROR_INVALID_DEVICE;
    *device = ordinal;
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev)
{
    FAKE_INJECT("cuDevicePrimaryCtxRetain");
    if (!fake.initialised)
        return CUDA_ERROR_NOT_INITIALIZED;
    if (dev < 0 || dev >= fake.devices)
        return CUDA_ERROR_INVALID_DEVICE;
    fake.primary_refs++;
    *pctx = (CUcontext)(void *)&fake_ctx_object;
    return CUDA_SUCCESS;
}

#ifndef FAKE_CUDA_OMIT_cuDevicePrimaryCtxRelease
CUresult CUDAAPI cuDevicePrimaryCtxRelease(CUdevice dev)
{
    FAKE_INJECT("cuDevicePrimaryCtxRelease");
    if (dev < 0 || dev >= fake.devices || fake.primary_refs == 0)
        return CUDA_ERROR_INVALID_CONTEXT;
    if (--fake.primary_refs == 0)
        fake.current = 0;
    return CUDA_SUCCESS;
}
#endif

CUresult CUDAAPI cuCtxSetCurrent(CUcontext ctx)
{
    FAKE_INJECT("cuCtxSetCurrent");
    if (!fake.initialised)
        return CUDA_ERROR_NOT_INITIALIZED;
    if (ctx && ((void *)ctx != (void *)&fake_ctx_object || fake.primary_refs == 0))
        return CUDA_ERROR_INVALID_CONTEXT;
    fake.current = ctx != NULL;
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemGetInfo(size_t *free_bytes, size_t *total)
{
    FAKE_INJECT("cuMemGetInfo");
    CUresult r = ready();
    if (r != CUDA_SUCCESS)
        return r;
    *free_bytes = fake.total - fake.used;
    *total = fake.total;
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemAlloc(CUdeviceptr *dptr, size_t bytesize)
{
    FAKE_INJECT("cuMemAlloc");
    CUresult r = ready();
    if (r != CUDA_SUCCESS)
        return r;
    if (bytesize == 0)
        return CUDA_ERROR_INVALID_VALUE;
    if (bytesize > fake.total - fake.used || exhausted(&fake.fail_alloc_after))
        return CUDA_ERROR_OUT_OF_MEMORY;
    void *p = aligned_alloc(FAKE_ALIGN, (bytesize + FAKE_ALIGN - 1) / FAKE_ALIGN * FAKE_ALIGN);
    if (!p || !list_add(&fake.allocs, (uintptr_t)p, bytesize)) {
        free(p);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    fake.used += bytesize;
    *dptr = (CUdeviceptr)(uintptr_t)p;
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemFree(CUdeviceptr dptr)
{
    FAKE_INJECT("cuMemFree");
    CUresult r = ready();
    if (r != CUDA_SUCCESS)
        return r;
    long i = list_find(&fake.allocs, (uintptr_t)dptr);
    if (i < 0)
        return CUDA_ERROR_INVALID_VALUE;
    fake.used -= fake.allocs.v[i].size;
    free((void *)(uintptr_t)dptr);
    list_del(&fake.allocs, i);
    return CUDA_SUCCESS;
}

static CUresult copy_ready(void)
{
    CUresult r = ready();
    if (r != CUDA_SUCCESS)
        return r;
    return exhausted(&fake.fail_copy_after) ? CUDA_ERROR_ILLEGAL_ADDRESS : CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemcpyHtoD(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount)
{
    FAKE_INJECT("cuMemcpyHtoD");
    CUresult r = copy_ready();
    if (r == CUDA_SUCCESS)
        memcpy((void *)(uintptr_t)dstDevice, srcHost, ByteCount);
    return r;
}

CUresult CUDAAPI cuMemcpyDtoH(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount)
{
    FAKE_INJECT("cuMemcpyDtoH");
    CUresult r = copy_ready();
    if (r == CUDA_SUCCESS)
        memcpy(dstHost, (const void *)(uintptr_t)srcDevice, ByteCount);
    return r;
}

#ifndef FAKE_CUDA_OMIT_cuMemcpyDtoD
CUresult CUDAAPI cuMemcpyDtoD(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount)
{
    FAKE_INJECT("cuMemcpyDtoD");
    CUresult r = copy_ready();
    if (r == CUDA_SUCCESS)
        memmove((void *)(uintptr_t)dstDevice, (const void *)(uintptr_t)srcDevice, ByteCount);
    return r;
}
#endif

#ifndef FAKE_CUDA_OMIT_cuMemHostAlloc
CUresult CUDAAPI cuMemHostAlloc(void **pp, size_t bytesize, unsigned int Flags)
{
    FAKE_INJECT("cuMemHostAlloc");
    CUresult r = ready();
    if (r != CUDA_SUCCESS)
        return r;
    if (fake.no_hostalloc)
        return CUDA_ERROR_NOT_SUPPORTED;
    if (bytesize == 0 || Flags != 0)
        return CUDA_ERROR_INVALID_VALUE;
    *pp = malloc(bytesize);
    if (!*pp)
        return CUDA_ERROR_OUT_OF_MEMORY;
    fake.host_allocs++;
    return CUDA_SUCCESS;
}
#endif

#ifndef FAKE_CUDA_OMIT_cuMemFreeHost
CUresult CUDAAPI cuMemFreeHost(void *p)
{
    FAKE_INJECT("cuMemFreeHost");
    CUresult r = ready();
    if (r != CUDA_SUCCESS)
        return r;
    free(p);
    fake.host_allocs--;
    return CUDA_SUCCESS;
}
#endif

static int prop_ok(const CUmemAllocationProp *prop)
{
    return prop && prop->type == CU_MEM_ALLOCATION_TYPE_PINNED &&
           prop->location.type == CU_MEM_LOCATION_TYPE_DEVICE && prop->location.id >= 0 &&
           prop->location.id < fake.devices;
}

CUresult CUDAAPI cuMemGetAllocationGranularity(size_t *granularity, const CUmemAllocationProp *prop,
                                               CUmemAllocationGranularity_flags option)
{
    FAKE_INJECT("cuMemGetAllocationGranularity");
    (void)option;
    if (!fake.initialised)
        return CUDA_ERROR_NOT_INITIALIZED;
    if (fake.no_vmm)
        return CUDA_ERROR_NOT_SUPPORTED;
    if (!prop_ok(prop))
        return CUDA_ERROR_INVALID_VALUE;
    *granularity = fake.granularity;
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemAddressReserve(CUdeviceptr *ptr, size_t size, size_t alignment,
                                     CUdeviceptr addr, unsigned long long flags)
{
    FAKE_INJECT("cuMemAddressReserve");
    CUresult r = ready();
    if (r != CUDA_SUCCESS)
        return r;
    if (size == 0 || size % FAKE_GRANULARITY || addr || flags)
        return CUDA_ERROR_INVALID_VALUE;
    size_t align = alignment > FAKE_GRANULARITY ? alignment : FAKE_GRANULARITY;
    unsigned char *p = mmap(NULL, size + align, PROT_NONE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return CUDA_ERROR_OUT_OF_MEMORY;
    uintptr_t start = ((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1);
    size_t head = start - (uintptr_t)p;
    if (head)
        munmap(p, head);
    if (align - head)
        munmap((void *)(start + size), align - head);
    if (!list_add(&fake.reservations, start, size)) {
        munmap((void *)start, size);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    *ptr = (CUdeviceptr)start;
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemAddressFree(CUdeviceptr ptr, size_t size)
{
    FAKE_INJECT("cuMemAddressFree");
    CUresult r = ready();
    if (r != CUDA_SUCCESS)
        return r;
    long i = list_find(&fake.reservations, (uintptr_t)ptr);
    if (i < 0 || fake.reservations.v[i].size != size)
        return CUDA_ERROR_INVALID_VALUE;
    munmap((void *)(uintptr_t)ptr, size);
    list_del(&fake.reservations, i);
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemCreate(CUmemGenericAllocationHandle *handle, size_t size,
                             const CUmemAllocationProp *prop, unsigned long long flags)
{
    FAKE_INJECT("cuMemCreate");
    CUresult r = ready();
    if (r != CUDA_SUCCESS)
        return r;
    if (size == 0 || size % FAKE_GRANULARITY || flags || !prop_ok(prop))
        return CUDA_ERROR_INVALID_VALUE;
    if (size > fake.total - fake.used || exhausted(&fake.fail_alloc_after))
        return CUDA_ERROR_OUT_OF_MEMORY;
    fake_handle *h = malloc(sizeof *h);
    if (!h)
        return CUDA_ERROR_OUT_OF_MEMORY;
    h->fd = memfd_create("fake_cuda", MFD_CLOEXEC);
    if (h->fd < 0 || ftruncate(h->fd, (off_t)size) != 0) {
        if (h->fd >= 0)
            close(h->fd);
        free(h);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    h->size = size;
    h->next = fake.handle_list;
    fake.handle_list = h;
    fake.used += size;
    fake.handles++;
    *handle = (CUmemGenericAllocationHandle)(uintptr_t)h;
    return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemRelease(CUmemGenericAllocationHandle handle)
{
    FAKE_INJECT("cuMemRelease");
    CUresult r = ready();
    if (r != CUDA_SUCCESS)
        return r;
    fake_handle *h = (fake_handle *)(uintptr_t)handle, **at = &fake.handle_list;
    while (*at && *at != h)
        at = &(*at)->next;
    if (!*at)
        return CUDA_ERROR_INVALID_VALUE;
    *at = h->next;
    close(h->fd);
    fake.used -= h->size;
    fake.handles--;
    free(h);
    return CUDA_SUCCESS;
}

#ifndef FAKE_CUDA_OMIT_cuMemMap
CUresult CUDAAPI cuMemMap(CUdeviceptr ptr, size_t size, size_t offset,
                          CUmemGenericAllocationHandle handle, unsigned long long flags)
{
    FAKE_INJECT("cuMemMap");
    CUresult r = ready();
    if (r != CUDA_SUCCESS)
        return r;
    fake_handle *h = (fake_handle *)(uintptr_t)handle;
    if (!h || flags || offset > h->size || size > h->size - offset ||
        !in_reservation((uintptr_t)ptr, size) || exhausted(&fake.fail_map_after))
        return CUDA_ERROR_INVALID_VALUE;
    void *p = mmap((void *)(uintptr_t)ptr, size, PROT_NONE, MAP_SHARED | MAP_FIXED, h->fd,
                   (off_t)offset);
    return p == MAP_FAILED ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}
#endif

CUresult CUDAAPI cuMemUnmap(CUdeviceptr ptr, size_t size)
{
    FAKE_INJECT("cuMemUnmap");
    CUresult r = ready();
    if (r != CUDA_SUCCESS)
        return r;
    if (!in_reservation((uintptr_t)ptr, size))
        return CUDA_ERROR_INVALID_VALUE;
    void *p = mmap((void *)(uintptr_t)ptr, size, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemSetAccess(CUdeviceptr ptr, size_t size, const CUmemAccessDesc *desc,
                                size_t count)
{
    FAKE_INJECT("cuMemSetAccess");
    CUresult r = ready();
    if (r != CUDA_SUCCESS)
        return r;
    if (count != 1 || !desc || desc->flags != CU_MEM_ACCESS_FLAGS_PROT_READWRITE ||
        !in_reservation((uintptr_t)ptr, size))
        return CUDA_ERROR_INVALID_VALUE;
    return mprotect((void *)(uintptr_t)ptr, size, PROT_READ | PROT_WRITE) == 0
               ? CUDA_SUCCESS
               : CUDA_ERROR_INVALID_VALUE;
}

/* Not a driver entry point: what is still allocated, for the tests' leak checks.
 * out: [0] cuMemAlloc blocks, [1] cuMemCreate handles, [2] cuMemHostAlloc blocks,
 * [3] address reservations, [4] primary context references. */
void fake_cuda_live(uint64_t out[5]);
void fake_cuda_live(uint64_t out[5])
{
    out[0] = fake.allocs.n;
    out[1] = fake.handles;
    out[2] = fake.host_allocs;
    out[3] = fake.reservations.n;
    out[4] = (uint64_t)fake.primary_refs;
}
