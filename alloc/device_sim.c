/* device_sim.c - the "sim" device backend: segments are placed by address
 * arithmetic in a simulated address space; with host_backing each segment is
 * backed by host memory, so contents can be filled, verified and copied.
 *
 * The wrapper (device.c) has already checked arguments: sizes are non-zero,
 * copy, fill and verify ranges lie inside one live segment, release gets the
 * start of a live segment and resize the start of a growable one, growable
 * sizes are multiples of the granularity within the segment. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device_internal.h"

#define SIM_BASE 0x7f0000000000ull    /* where the simulated address space starts */
#define SIM_GRANULARITY (2ull << 20)  /* segment alignment and mapping unit: 2 MiB */

typedef struct sim_dev {
    uint64_t capacity;
    uint64_t used;     /* sum of segs[i].size: used <= capacity */
    int backing;       /* every segment's priv is its host copy, size bytes long */
    vram__segtab segs;
    char *msg;
    size_t msglen;
} sim_dev;

static vram_status sim_fail(sim_dev *s, vram_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static vram_status sim_fail(sim_dev *s, vram_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->msg, s->msglen, fmt, ap);
    va_end(ap);
    return st;
}

vram_status vram__device_sim_create(const vram_device_config *cfg, char *msg, size_t msglen,
                                    void **impl)
{
    if (cfg->capacity == 0)
        return vram__device_fail(msg, msglen, VRAM_EINVAL,
                                 "sim backend: capacity 0 (give the simulated device's bytes)");
    sim_dev *s = calloc(1, sizeof *s);
    if (!s)
        return vram__device_fail(msg, msglen, VRAM_ENOHOST, "sim backend: out of host memory");
    s->capacity = cfg->capacity;
    s->backing = cfg->host_backing != 0;
    s->msg = msg;
    s->msglen = msglen;
    *impl = s;
    return VRAM_OK;
}

static void sim_destroy(void *impl)
{
    sim_dev *s = impl;
    for (size_t i = 0; i < s->segs.n; i++)
        free(s->segs.segs[i].priv);
    vram__segtab_free(&s->segs);
    free(s);
}

/* Adds a segment of `extent` bytes of address space with `size` usable bytes. */
static vram_status sim_add(sim_dev *s, uint64_t size, uint64_t extent, int growable,
                           uint64_t *addr)
{
    if (size > s->capacity - s->used)
        return sim_fail(s, VRAM_ENOMEM,
                        "sim: %" PRIu64 " bytes do not fit: %" PRIu64 " of %" PRIu64 " free", size,
                        s->capacity - s->used, s->capacity);
    vram__seg seg = {.extent = extent, .size = size, .growable = growable};
    vram_status st = vram__segtab_place(&s->segs, SIM_BASE, extent, SIM_GRANULARITY, &seg.addr);
    if (st)
        return sim_fail(s, st, "sim: no gap of %" PRIu64 " bytes left in the address space", extent);
    if (s->backing && size) {
        seg.priv = size <= SIZE_MAX ? calloc(1, (size_t)size) : NULL;
        if (!seg.priv)
            return sim_fail(s, VRAM_ENOHOST, "sim: no host memory to back %" PRIu64 " bytes", size);
    }
    st = vram__segtab_insert(&s->segs, &seg);
    if (st) {
        free(seg.priv);
        return sim_fail(s, st, "sim: out of host memory for the segment table");
    }
    s->used += size;
    *addr = seg.addr;
    return VRAM_OK;
}

static vram_status sim_reserve(void *impl, uint64_t size, uint64_t *addr)
{
    return sim_add(impl, size, size, 0, addr);
}

static vram_status sim_reserve_growable(void *impl, uint64_t max_size, uint64_t *addr)
{
    return sim_add(impl, 0, max_size, 1, addr);
}

static vram_status sim_release(void *impl, uint64_t addr)
{
    sim_dev *s = impl;
    size_t i = vram__segtab_find(&s->segs, addr);
    s->used -= s->segs.segs[i].size;
    free(s->segs.segs[i].priv);
    vram__segtab_remove(&s->segs, i);
    return VRAM_OK;
}

static vram_status sim_resize(void *impl, uint64_t addr, uint64_t size)
{
    sim_dev *s = impl;
    vram__seg *seg = &s->segs.segs[vram__segtab_find(&s->segs, addr)];
    if (size > seg->size && size - seg->size > s->capacity - s->used)
        return sim_fail(s, VRAM_ENOMEM,
                        "sim: growing by %" PRIu64 " bytes does not fit: %" PRIu64 " of %" PRIu64
                        " free",
                        size - seg->size, s->capacity - s->used, s->capacity);
    if (s->backing) {
        unsigned char *p = NULL;
        if (size) {
            p = size <= SIZE_MAX ? realloc(seg->priv, (size_t)size) : NULL;
            if (!p)
                return sim_fail(s, VRAM_ENOHOST, "sim: no host memory to back %" PRIu64 " bytes",
                                size);
            if (size > seg->size)
                memset(p + seg->size, 0, (size_t)(size - seg->size));
        } else {
            free(seg->priv);
        }
        seg->priv = p;
    }
    s->used = s->used - seg->size + size;
    seg->size = size;
    return VRAM_OK;
}

/* Host bytes behind [addr, addr + n), inside one live segment (checked by the wrapper). */
static unsigned char *host_at(const sim_dev *s, uint64_t addr)
{
    const vram__seg *seg = &s->segs.segs[vram__segtab_find(&s->segs, addr)];
    return (unsigned char *)seg->priv + (addr - seg->addr);
}

static vram_status sim_copy_h2d(void *impl, uint64_t dst, const void *src, uint64_t n)
{
    sim_dev *s = impl;
    if (s->backing)
        memcpy(host_at(s, dst), src, (size_t)n);
    return VRAM_OK;
}

static vram_status sim_copy_d2h(void *impl, void *dst, uint64_t src, uint64_t n)
{
    sim_dev *s = impl;
    if (s->backing)
        memcpy(dst, host_at(s, src), (size_t)n);
    return VRAM_OK;
}

static vram_status sim_copy_d2d(void *impl, uint64_t dst, uint64_t src, uint64_t n)
{
    sim_dev *s = impl;
    if (s->backing)
        memmove(host_at(s, dst), host_at(s, src), (size_t)n);
    return VRAM_OK;
}

static vram_status sim_mem_info(void *impl, uint64_t *free_bytes, uint64_t *total_bytes)
{
    sim_dev *s = impl;
    *free_bytes = s->capacity - s->used;
    *total_bytes = s->capacity;
    return VRAM_OK;
}

/* The pattern byte at position a of a filled range for tag: byte (a mod 8) of
 * a hash of (tag, a / 8), so every 8-byte word and every tag differ. Positions
 * count from the start of the range given to fill/verify, so contents copied
 * to another address (eviction and re-materialisation, compaction) still
 * verify there with the same tag. */
static uint64_t pattern_word(uint64_t tag, uint64_t word)
{
    uint64_t z = tag * 0x9e3779b97f4a7c15ull + word;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static unsigned char pattern_byte(uint64_t tag, uint64_t a)
{
    return (unsigned char)(pattern_word(tag, a >> 3) >> (8 * (a & 7)));
}

/* Writes the pattern of [a, a + n) to out, one hash per 8-byte word. */
static void pattern(uint64_t tag, uint64_t a, unsigned char *out, size_t n)
{
    uint64_t w = pattern_word(tag, a >> 3);
    for (size_t i = 0; i < n; i++, a++) {
        if ((a & 7) == 0)
            w = pattern_word(tag, a >> 3);
        out[i] = (unsigned char)(w >> (8 * (a & 7)));
    }
}

static vram_status sim_fill(void *impl, uint64_t addr, uint64_t n, uint64_t tag)
{
    sim_dev *s = impl;
    pattern(tag, 0, host_at(s, addr), (size_t)n);
    return VRAM_OK;
}

static vram_status sim_verify(void *impl, uint64_t addr, uint64_t n, uint64_t tag)
{
    sim_dev *s = impl;
    const unsigned char *p = host_at(s, addr);
    unsigned char want[4096];
    uint64_t bad = 0, first = 0;
    for (uint64_t done = 0; done < n; done += sizeof want) {
        size_t k = n - done < sizeof want ? (size_t)(n - done) : sizeof want;
        pattern(tag, done, want, k);
        for (size_t i = 0; i < k; i++) {
            if (p[done + i] != want[i] && bad++ == 0)
                first = done + i;
        }
    }
    if (!bad)
        return VRAM_OK;
    return sim_fail(s, VRAM_ECORRUPT,
                    "verify: byte at 0x%" PRIx64 " is 0x%02x, expected 0x%02x for tag %" PRIu64
                    " (%" PRIu64 " of %" PRIu64 " bytes from 0x%" PRIx64 " differ)",
                    addr + first, p[first], pattern_byte(tag, first), tag, bad, n, addr);
}

static vram_status sim_segment_info(void *impl, uint64_t addr, vram_segment_info *out)
{
    const sim_dev *s = impl;
    size_t i = vram__segtab_find(&s->segs, addr);
    if (i == SIZE_MAX)
        return VRAM_ENOTFOUND;
    vram__segtab_info(&s->segs.segs[i], out);
    return VRAM_OK;
}

static uint64_t sim_granularity(void *impl)
{
    (void)impl;
    return SIM_GRANULARITY;
}

const vram_device_ops vram__device_sim_ops = {
    .name = "sim",
    .reserve = sim_reserve,
    .release = sim_release,
    .copy_h2d = sim_copy_h2d,
    .copy_d2h = sim_copy_d2h,
    .copy_d2d = sim_copy_d2d,
    .mem_info = sim_mem_info,
    .fill = sim_fill,
    .verify = sim_verify,
    .destroy = sim_destroy,
    .segment_info = sim_segment_info,
    .reserve_growable = sim_reserve_growable,
    .resize = sim_resize,
    .granularity = sim_granularity,
};
