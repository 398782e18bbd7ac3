/* manager_check.c - vram_manager_check: every invariant of the manager, the
 * first violation in words. Cost: O(n log n) in live handles plus a heap
 * walk; for tests, fuzzers and the replayer's --check-every. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "heap_internal.h"
#include "manager_internal.h"

#define HV(m, i) vram__handles_value(&(m)->handles, (i)).v

/* Per-handle rules and the recounted totals. */
static vram_status check_handles(const vram_manager *m, char *msg, size_t len)
{
    uint64_t live = 0, resident = 0, bytes = 0, evictable = 0, evictable_bytes = 0, shared = 0;
    for (uint32_t i = 0; i < m->handles.used; i++) {
        const vram__handle *s = &m->handles.slots[i];
        if (!s->live)
            continue;
        live++;
        if ((s->pins || s->uses) && !s->resident)
            return vram__violation(msg, len, "handle 0x%016" PRIx64 " is pinned or in use but evicted",
                             HV(m, i));
        int want = s->resident && !s->pins && !s->uses && s->backing != VRAM_BACKING_NONE;
        if (want != s->evictable)
            return vram__violation(msg, len, "handle 0x%016" PRIx64 " is %sin the eviction set but %s",
                             HV(m, i), s->evictable ? "" : "not ",
                             want ? "evictable" : "not evictable");
        int want_copy = !s->resident && s->backing == VRAM_BACKING_HOST && m->host_copies;
        if (want_copy != (s->host_copy != NULL))
            return vram__violation(msg, len, "handle 0x%016" PRIx64 " (%s) %s a host copy", HV(m, i),
                             s->resident ? "resident" : "evicted",
                             s->host_copy ? "holds" : "lacks");
        if (s->resident) {
            resident++;
            bytes += s->size;
        }
        if (s->evictable) {
            evictable++;
            evictable_bytes += s->size;
        }
        shared += s->shared_refs > 0;
    }
    if (live != m->handles.live || resident != m->resident_handles ||
        bytes != m->resident_bytes || evictable_bytes != m->evictable_bytes)
        return vram__violation(msg, len,
                         "counts: %" PRIu64 " live, %" PRIu64 " resident, %" PRIu64
                         " resident bytes, %" PRIu64 " evictable bytes recounted; kept %" PRIu32
                         ", %" PRIu64 ", %" PRIu64 ", %" PRIu64,
                         live, resident, bytes, evictable_bytes, m->handles.live,
                         m->resident_handles, m->resident_bytes, m->evictable_bytes);
    if (bytes > m->capacity)
        return vram__violation(msg, len, "resident bytes %" PRIu64 " exceed the capacity %" PRIu64,
                         bytes, m->capacity);
    uint64_t in_set = m->policy->count(m->policy_impl);
    if (in_set != evictable)
        return vram__violation(msg, len, "the %s policy holds %" PRIu64 " handles, %" PRIu64 " evictable",
                         m->policy->name, in_set, evictable);
    if (shared != m->shared.count)
        return vram__violation(msg, len, "%" PRIu64 " shared handles but %" PRIu32 " registry keys",
                         shared, m->shared.count);
    return VRAM_OK;
}

/* Every registry key names a distinct live shared handle. */
static vram_status check_shared(const vram_manager *m, char *msg, size_t len)
{
    unsigned char *seen = calloc((size_t)m->handles.used + 1, 1);
    if (!seen)
        return VRAM_ENOHOST;
    vram_status st = VRAM_OK;
    for (uint32_t k = 0; k < m->shared.cap && !st; k++) {
        const vram__shared_entry *e = &m->shared.slots[k];
        if (!e->key[0])
            continue;
        if (e->index >= m->handles.used || !m->handles.slots[e->index].live ||
            !m->handles.slots[e->index].shared_refs)
            st = vram__violation(msg, len, "shared key \"%s\" names no live shared handle", e->key);
        else if (seen[e->index]++)
            st = vram__violation(msg, len, "shared key \"%s\" names a handle another key names", e->key);
    }
    free(seen);
    return st;
}

typedef struct block_ctx {
    const vram_manager *m;
    const vram__placed *placed;
    uint32_t n;
    uint64_t used_blocks;
    vram_status st;
    char *msg;
    size_t len;
} block_ctx;

static int check_block(const vram_block_info *b, void *p)
{
    block_ctx *c = p;
    if (!b->used)
        return 0;
    c->used_blocks++;
    uint32_t i = vram__placed_find(c->placed, c->n, b->offset);
    if (i == UINT32_MAX) {
        c->st = vram__violation(c->msg, c->len,
                          "used heap block at offset %" PRIu64 " (%" PRIu64 " bytes) has no handle",
                          b->offset, b->size);
        return 1;
    }
    const vram__handle *s = &c->m->handles.slots[i];
    if (b->size < s->size || (b->requested && b->requested != s->size)) {
        c->st = vram__violation(c->msg, c->len,
                          "handle 0x%016" PRIx64 " of %" PRIu64 " bytes sits in a heap block of %" PRIu64
                          " bytes (%" PRIu64 " requested) at offset %" PRIu64,
                          HV(c->m, i), s->size, b->size, b->requested, b->offset);
        return 1;
    }
    return 0;
}

/* Resident handles <-> used heap blocks, one to one, no overlap. */
static vram_status check_blocks(const vram_manager *m, char *msg, size_t len)
{
    vram__placed *placed;
    uint32_t n;
    vram_status st = vram__handles_resident_by_offset(&m->handles, &placed, &n);
    if (st)
        return st;
    for (uint32_t k = 0; k + 1 < n && !st; k++) {
        const vram__handle *a = &m->handles.slots[placed[k].index];
        if (a->offset + a->size > placed[k + 1].offset)
            st = vram__violation(msg, len,
                           "handles 0x%016" PRIx64 " and 0x%016" PRIx64 " overlap at offset %" PRIu64,
                           HV(m, placed[k].index), HV(m, placed[k + 1].index), placed[k + 1].offset);
    }
    block_ctx c = {.m = m, .placed = placed, .n = n, .msg = msg, .len = len};
    if (!st) {
        st = vram_heap_walk(m->heap, check_block, &c);
        if (!st)
            st = c.st;
    }
    if (!st && c.used_blocks != n)
        st = vram__violation(msg, len, "%" PRIu64 " used heap blocks for %" PRIu32 " resident handles",
                       c.used_blocks, n);
    free(placed);
    return st;
}

/* The latest eviction round took its victims in the policy's order: no handle
 * that was in the eviction set, with its present key, since before the round
 * began (key_since < round.start) and is still there has a key before the
 * last victim's key. Earlier rounds are not checked (their keys are gone). */
static vram_status check_order(const vram_manager *m, char *msg, size_t len)
{
    if (!m->round.valid)
        return VRAM_OK;
    for (uint32_t i = 0; i < m->handles.used; i++) {
        const vram__handle *s = &m->handles.slots[i];
        if (!s->live || !s->evictable || s->key_since >= m->round.start)
            continue;
        vram_evict_key k = m->policy->key(m->policy_impl, i);
        if (vram_evict_key_cmp(&k, &m->round.last) < 0)
            return vram__violation(msg, len,
                             "eviction order (%s): handle 0x%016" PRIx64 " (key %g/%" PRIu64
                             ") was kept while a handle with key %g/%" PRIu64
                             " was evicted in the latest round",
                             m->policy->name, HV(m, i), k.major, k.minor, m->round.last.major,
                             m->round.last.minor);
    }
    return VRAM_OK;
}

vram_status vram_manager_check(const vram_manager *m, char *msg, size_t msglen)
{
    if (msg && msglen)
        msg[0] = '\0';
    if (!m)
        return VRAM_EINVAL;
    char heapmsg[200];
    if (vram_heap_check(m->heap, heapmsg, sizeof heapmsg))
        return vram__violation(msg, msglen, "heap (%s): %s", vram_heap_name(m->heap), heapmsg);
    vram_status st = check_handles(m, msg, msglen);
    if (!st)
        st = check_shared(m, msg, msglen);
    if (!st)
        st = check_blocks(m, msg, msglen);
    if (!st)
        st = check_order(m, msg, msglen);
    return st;
}
