/* evict.c - the eviction engine: the evictable set, placement with eviction,
 * eviction of one victim and re-materialisation.
 *
 * The rule when an allocation (or a re-materialisation) does not fit:
 *   1. If the heap's free bytes plus the requested bytes of every evictable
 *      handle are less than the request, nothing can make room: VRAM_ENOMEM,
 *      and nothing was evicted (the state is unchanged).
 *   2. Otherwise victims are taken in the policy's order, one at a time, each
 *      evicted completely, and the allocation is retried after each.
 *   3. If the set runs empty and the allocation still fails, the free bytes
 *      are fragmented by blocks that cannot move out (pinned, in use, never
 *      evicted): VRAM_ENOMEM, and the evictions done stay done (each evicted
 *      handle is valid and comes back on its next use); counted in
 *      failed_despite_free.
 * With defrag_on_oom, a targeted compaction (defrag_target.c) is tried before
 * step 1 and after step 3 whenever the heap has enough free bytes in total
 * (and place_by_defrag does not skip it as bound to fail or backed off).
 * An eviction that fails on the way (host memory, a device copy, contents that
 * do not verify) puts its victim back in its place and ends the round with
 * that status; victims evicted before it stay evicted. */
#include <string.h>

#include "vram/hostpool.h"

#include "manager_internal.h"

const char *const vram_evict_policy_names[] = {"prio-lru", "lru", "cost", NULL};

static const vram_evict_ops *const evict_policies[] = {
    &vram__evict_prio_lru_ops,
    &vram__evict_lru_ops,
    &vram__evict_cost_ops,
};

const vram_evict_ops *vram_evict_policy(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof evict_policies / sizeof evict_policies[0]; i++)
        if (strcmp(evict_policies[i]->name, name) == 0)
            return evict_policies[i];
    return NULL;
}

int vram_evict_key_cmp(const vram_evict_key *a, const vram_evict_key *b)
{
    if (a->major != b->major)
        return a->major < b->major ? -1 : 1;
    if (a->minor != b->minor)
        return a->minor < b->minor ? -1 : 1;
    return 0;
}

static vram_evict_item evict_item(const vram_manager *m, const vram__handle *s)
{
    return (vram_evict_item){
        .priority = s->priority,
        .last_use = s->last_use,
        .size = s->size,
        .reload_ns = m->copy_latency_ns + (double)s->size / m->h2d_bytes_per_ns,
    };
}

void vram__evict_sync(vram_manager *m, uint32_t index)
{
    vram__handle *s = &m->handles.slots[index];
    int want = s->live && s->resident && s->pins == 0 && s->uses == 0 &&
               s->backing != VRAM_BACKING_NONE;
    if (want && !s->evictable) {
        /* Becoming evictable counts as a use: the policies' lists stay in
         * stamp order because every insert carries the newest stamp. */
        s->last_use = ++m->clock;
        s->key_since = s->last_use;
        vram_evict_item it = evict_item(m, s);
        m->policy->insert(m->policy_impl, index, &it);
        s->evictable = 1;
        m->evictable_bytes += s->size;
    } else if (!want && s->evictable) {
        m->policy->remove(m->policy_impl, index);
        s->evictable = 0;
        m->evictable_bytes -= s->size;
    }
}

void vram__evict_use(vram_manager *m, uint32_t index)
{
    vram__handle *s = &m->handles.slots[index];
    s->last_use = ++m->clock;
    if (s->evictable) {
        s->key_since = s->last_use;
        vram_evict_item it = evict_item(m, s);
        m->policy->touch(m->policy_impl, index, &it);
    }
}

static uint64_t heap_free_bytes(const vram_manager *m)
{
    vram_heap_stats hs;
    vram_heap_stats_get(m->heap, &hs);
    return hs.free;
}

void vram__count_oom(vram_manager *m, uint64_t size)
{
    m->counters.failed_allocs++;
    if (heap_free_bytes(m) >= size)
        m->counters.failed_despite_free++;
}

/* Host memory for a copy of `size` bytes, from the pinned host pool.
 * Without real host copies (the sim backend without backing only counts
 * copies) there is none: the copy's destination is a placeholder byte. */
static vram_status host_copy_alloc(const vram_manager *m, uint64_t size, void **out)
{
    *out = NULL;
    if (!m->host_copies)
        return VRAM_OK;
    return vram_hostpool_get(m->hostpool, size, out);
}

static void host_copy_free(const vram_manager *m, void *p)
{
    if (p)
        vram_hostpool_put(m->hostpool, p);
}

/* Evicts a victim already popped from the policy's set. On failure the
 * handle is untouched (still resident, flagged evictable: the caller unpops). */
static vram_status evict_one(vram_manager *m, uint32_t index)
{
    vram__handle *s = &m->handles.slots[index];
    uint64_t addr = vram__addr(m, s);
    vram_status st;
    if (m->verify && s->tagged) {
        st = vram_device_verify(m->dev, addr, s->size, vram__handles_value(&m->handles, index).v);
        if (st)
            return st;
    }
    void *copy = NULL;
    if (s->backing == VRAM_BACKING_HOST) {
        unsigned char dummy;
        st = host_copy_alloc(m, s->size, &copy);
        if (st)
            return st;
        st = vram_device_copy_d2h(m->dev, copy ? copy : &dummy, addr, s->size);
        if (st) {
            host_copy_free(m, copy);
            return st;
        }
    }
    st = vram_heap_free_token(m->heap, s->token);
    if (st) {
        host_copy_free(m, copy);
        return st;
    }
    m->releases++;
    s->host_copy = copy;
    s->resident = 0;
    s->evictable = 0;
    s->offset = s->token = 0;
    m->evictable_bytes -= s->size;
    m->resident_bytes -= s->size;
    m->resident_handles--;
    m->counters.evictions++;
    m->counters.bytes_evicted += s->size;
    m->counters.evictions_by_kind[s->kind]++;
    m->counters.bytes_evicted_by_kind[s->kind] += s->size;
    return VRAM_OK;
}

vram_status vram__evict_index(vram_manager *m, uint32_t index)
{
    vram__handle *s = &m->handles.slots[index];
    if (!s->resident)
        return VRAM_OK;
    if (s->backing == VRAM_BACKING_NONE)
        return VRAM_EINVAL;
    if (!s->evictable) /* resident with a backing: pinned or acquired (vram__evict_sync) */
        return VRAM_EBUSY;
    m->policy->remove(m->policy_impl, index);
    vram_status st = evict_one(m, index);
    if (st) {
        /* evict_one left it resident and flagged: put it back in the set */
        s->evictable = 0;
        m->evictable_bytes -= s->size;
        vram__evict_sync(m, index);
    }
    return st;
}

/* Step 2 and 3 of the rule: one eviction round. */
static vram_status evict_until_fits(vram_manager *m, uint64_t size, uint64_t align,
                                    vram__block *b)
{
    uint64_t start = ++m->clock;
    uint32_t victim;
    vram_evict_key key;
    while (m->policy->pop(m->policy_impl, &victim, &key)) {
        vram_status st = evict_one(m, victim);
        if (st) {
            m->policy->unpop(m->policy_impl, victim);
            return st;
        }
        m->policy->evicted(m->policy_impl, &key);
        /* A round that evicts nothing leaves the previous round's record. */
        m->round = (vram__round){.valid = 1, .start = start, .last = key};
        st = vram_heap_alloc_token(m->heap, size, align, &b->offset, &b->token);
        if (st != VRAM_ENOMEM)
            return st;
    }
    return VRAM_ENOMEM;
}

/* Futile passes in a row double the attempts skipped before the next one, up
 * to 2^DEFRAG_BACKOFF_MAX - 1: under constant eviction every failing allocation
 * would otherwise pay a pass that evictions alone (they free blocks of movable
 * handles, which a pass could already move) rarely let succeed. */
#define DEFRAG_BACKOFF_MAX 10

/* Compaction when the heap holds `size` free bytes in total but no block.
 * A pass is skipped when the latest one could not make room for this size or
 * less and no handle's block has been released since: the free space can only
 * have shrunk, so it would fail again (and a pass costs O(n log n)). After a
 * futile pass the next attempts are also skipped by the back-off above, which
 * a successful pass or a free (vram__drop_contents) resets. */
static vram_status place_by_defrag(vram_manager *m, uint64_t size, uint64_t align,
                                   vram__block *b)
{
    if (!m->defrag_on_oom || heap_free_bytes(m) < size)
        return VRAM_ENOMEM;
    if (m->futile && size >= m->futile_size && m->releases == m->futile_releases)
        return VRAM_ENOMEM;
    if (m->defrag_skip) {
        m->defrag_skip--;
        return VRAM_ENOMEM;
    }
    vram_status st = vram__defrag_for(m, size, align);
    if (st == VRAM_OK)
        st = vram_heap_alloc_token(m->heap, size, align, &b->offset, &b->token);
    if (st == VRAM_OK) {
        m->counters.defrag_oom_saved++;
        m->defrag_streak = 0;
    } else if (st == VRAM_ENOMEM) {
        m->futile = 1;
        m->futile_size = size;
        m->futile_releases = m->releases;
        m->defrag_skip = (UINT64_C(1) << m->defrag_streak) - 1;
        if (m->defrag_streak < DEFRAG_BACKOFF_MAX)
            m->defrag_streak++;
    }
    return st;
}

vram_status vram__place(vram_manager *m, uint64_t size, uint64_t align, vram__block *b)
{
    vram_status st = vram_heap_alloc_token(m->heap, size, align, &b->offset, &b->token);
    if (st != VRAM_ENOMEM)
        return st;
    st = place_by_defrag(m, size, align, b);
    if (st != VRAM_ENOMEM || !m->evict)
        return st;
    if (heap_free_bytes(m) + m->evictable_bytes < size)
        return VRAM_ENOMEM; /* step 1: unchanged */
    st = evict_until_fits(m, size, align, b);
    if (st != VRAM_ENOMEM)
        return st;
    return place_by_defrag(m, size, align, b);
}

void vram__mark_resident(vram_manager *m, uint32_t index, vram__block b)
{
    vram__handle *s = &m->handles.slots[index];
    s->offset = b.offset;
    s->token = b.token;
    s->resident = 1;
    m->resident_bytes += s->size;
    m->resident_handles++;
}

vram_status vram__remat(vram_manager *m, uint32_t index)
{
    vram__block b;
    uint64_t size = m->handles.slots[index].size;
    vram_status st = vram__place(m, size, m->handles.slots[index].align, &b);
    if (st)
        return st;
    vram__handle *s = &m->handles.slots[index];
    uint64_t addr = m->base + b.offset;
    if (s->backing == VRAM_BACKING_HOST) {
        unsigned char dummy = 0;
        st = vram_device_copy_h2d(m->dev, addr, s->host_copy ? s->host_copy : &dummy, size);
    } else {
        st = s->remat(s->remat_ctx, m->dev, addr, size);
        s->tagged = 0; /* the callback wrote what it wanted */
    }
    if (st) {
        vram_heap_free_token(m->heap, b.token);
        return st;
    }
    host_copy_free(m, s->host_copy);
    s->host_copy = NULL;
    vram__mark_resident(m, index, b);
    m->counters.rematerialisations++;
    m->counters.bytes_rematerialised += size;
    vram__evict_sync(m, index);
    return VRAM_OK;
}

vram_status vram__drop_contents(vram_manager *m, uint32_t index)
{
    vram__handle *s = &m->handles.slots[index];
    vram_status verdict = VRAM_OK;
    if (s->resident) {
        if (m->verify && s->tagged)
            verdict = vram_device_verify(m->dev, vram__addr(m, s), s->size,
                                         vram__handles_value(&m->handles, index).v);
        if (s->evictable) {
            m->policy->remove(m->policy_impl, index);
            s->evictable = 0;
            m->evictable_bytes -= s->size;
        }
        vram_status st = vram_heap_free_token(m->heap, s->token);
        if (st && !verdict)
            verdict = st;
        m->releases++;
        m->defrag_streak = 0;
        m->defrag_skip = 0;
        s->resident = 0;
        m->resident_bytes -= s->size;
        m->resident_handles--;
    }
    host_copy_free(m, s->host_copy);
    s->host_copy = NULL;
    return verdict;
}
