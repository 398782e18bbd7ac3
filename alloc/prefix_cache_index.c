/* prefix_cache_index.c - the chained block hash (vram_prefix_hash) and the
 * open-addressing index from hash to block or host slot.
 *
 * The index is sized at creation for every entry it can ever hold (the device
 * tier has nblocks blocks, the host tier host_cap entries), at least twice
 * that in slots, so it never grows and a put never fails. Probing is linear
 * from a Fibonacci-hashed home slot (the top bits of key * 2^64/phi, good for
 * keys that are themselves small numbers, as tests use); deletion shifts the
 * following entries back, so there are no tombstones and a probe ends at the
 * first empty slot. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "prefix_cache_internal.h"

#define P1 UINT64_C(0x9e3779b97f4a7c15)
#define P2 UINT64_C(0xc2b2ae3d27d4eb4f)
#define P3 UINT64_C(0x165667b19e3779f9)

static inline uint64_t rotl(uint64_t x, int r) { return x << r | x >> (64 - r); }

/* murmur3's 64-bit finaliser: every input bit reaches every output bit. */
static inline uint64_t fmix(uint64_t z)
{
    z ^= z >> 33;
    z *= UINT64_C(0xff51afd7ed558ccd);
    z ^= z >> 33;
    z *= UINT64_C(0xc4ceb9fe1a85ec53);
    z ^= z >> 33;
    return z;
}

/* Two token ids per 64-bit word, each word folded in as xxhash64's round does;
 * the token count, the parent and the extra key go through the finaliser, so
 * a chain of equal blocks under different parents or extra keys differs. */
vram_status vram_prefix_hash(uint64_t parent, const uint32_t *tokens, size_t ntokens,
                             uint64_t extra, uint64_t *out)
{
    if (!tokens || !ntokens || !out)
        return VRAM_EINVAL;
    uint64_t h = fmix(parent ^ P1) + (uint64_t)ntokens * P3;
    size_t i = 0;
    for (; i + 1 < ntokens; i += 2) {
        uint64_t w = (uint64_t)tokens[i] | (uint64_t)tokens[i + 1] << 32;
        h = rotl(h ^ rotl(w * P2, 31) * P1, 27) * P1 + P3;
    }
    if (i < ntokens)
        h = rotl(h ^ (uint64_t)tokens[i] * P1, 23) * P2 + P3;
    h = fmix(h ^ fmix(extra + P2));
    *out = h ? h : 1; /* 0 is VRAM_PREFIX_ROOT */
    return VRAM_OK;
}

void *vram__pc_zalloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    size_t bytes = n * size;
    const size_t huge = (size_t)2 << 20;
    if (bytes < 2 * huge)
        return calloc(n ? n : 1, size ? size : 1);
    /* A large table probed at random: on 2 MiB pages where the system allows
     * (transparent huge pages in "madvise" mode), one TLB entry covers 2 MiB
     * of it instead of 4 KiB, which halves the misses of a random probe. */
    void *p = NULL;
    bytes = (bytes + huge - 1) / huge * huge;
    if (posix_memalign(&p, huge, bytes))
        return NULL;
#ifdef MADV_HUGEPAGE
    madvise(p, bytes, MADV_HUGEPAGE); /* advice only: a refusal changes nothing */
#endif
    memset(p, 0, bytes);
    return p;
}

vram_status vram__pc_index_create(pc_index *ix, uint64_t entries)
{
    uint64_t cap = 16;
    while (cap < 2 * entries)
        cap *= 2;
    ix->slots = vram__pc_zalloc(cap, sizeof *ix->slots);
    if (!ix->slots)
        return VRAM_ENOHOST;
    ix->mask = cap - 1;
    ix->count = 0;
    return VRAM_OK;
}

void vram__pc_index_destroy(pc_index *ix)
{
    free(ix->slots);
    ix->slots = NULL;
}

uint64_t vram__pc_index_home(const pc_index *ix, uint64_t key)
{
    /* the top bits of the product are the well-mixed ones */
    return (key * P1) >> 32 & ix->mask;
}

void vram__pc_index_prefetch(const pc_index *ix, uint64_t key)
{
    const pc_slot *s = &ix->slots[vram__pc_index_home(ix, key)];
    __builtin_prefetch(s, 1);
    /* the next line, also at the table's end: its slots wrap to the start,
     * and a line past the table is only a wasted hint */
    __builtin_prefetch((const char *)s + 64, 1);
}

uint32_t vram__pc_index_find(const pc_index *ix, uint64_t key)
{
    for (uint64_t i = vram__pc_index_home(ix, key);; i = (i + 1) & ix->mask) {
        const pc_slot *s = &ix->slots[i];
        if (s->key == key)
            return s->val;
        if (!s->key)
            return PC_NIL;
    }
}

void vram__pc_index_put(pc_index *ix, uint64_t key, uint32_t val)
{
    uint64_t i = vram__pc_index_home(ix, key);
    while (ix->slots[i].key)
        i = (i + 1) & ix->mask;
    ix->slots[i] = (pc_slot){key, val};
    ix->count++;
}

int vram__pc_index_del(pc_index *ix, uint64_t key)
{
    uint64_t i = vram__pc_index_home(ix, key);
    for (;; i = (i + 1) & ix->mask) {
        if (!ix->slots[i].key)
            return 0;
        if (ix->slots[i].key == key)
            break;
    }
    /* Backward shift: move each later entry of the run into the hole when its
     * home does not lie cyclically in (hole, its slot]. */
    uint64_t hole = i;
    for (uint64_t j = (i + 1) & ix->mask; ix->slots[j].key; j = (j + 1) & ix->mask) {
        uint64_t home = vram__pc_index_home(ix, ix->slots[j].key);
        if (((j - home) & ix->mask) >= ((j - hole) & ix->mask)) {
            ix->slots[hole] = ix->slots[j];
            hole = j;
        }
    }
    ix->slots[hole] = (pc_slot){0, 0};
    ix->count--;
    return 1;
}
