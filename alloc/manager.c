/* manager.c - the façade: creation, handles' life cycle (alloc, free, touch,
 * acquire, pin), stats and the heap walk with kinds. Placement with eviction
 * is evict.c's; shared buffers shared.c's; the check manager_check.c's. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "vram/hostpool.h"

#include "device_internal.h"
#include "manager_internal.h"

static void manager_free(vram_manager *m)
{
    vram_hostpool_destroy(m->hostpool); /* with the host copies still in it */
    vram__handles_fini(&m->handles);
    vram__shared_fini(&m->shared);
    if (m->policy_impl)
        m->policy->destroy(m->policy_impl);
    if (m->heap)
        vram_heap_destroy(m->heap);
    if (m->dev) {
        if (m->base)
            vram_device_release(m->dev, m->base);
        vram_device_destroy(m->dev);
    }
    free(m);
}

/* The heap's table: the config's own (a plugin), else the policy by name. */
static const vram_heap_ops *manager_heap_ops(const vram_manager_config *cfg)
{
    if (cfg->heap_ops)
        return cfg->heap_ops;
    return vram_heap_policy(cfg->heap_policy ? cfg->heap_policy : "bestfit");
}

static vram_status manager_open(vram_manager *m, const vram_manager_config *cfg)
{
    vram_status st = vram_device_create(&cfg->device, &m->dev);
    if (st)
        return st;
    vram_heap_config hc = cfg->heap;
    if (hc.capacity == 0) {
        uint64_t free_bytes;
        st = vram_device_mem_info(m->dev, &free_bytes, &hc.capacity);
        if (st)
            return st;
    }
    st = vram_heap_create(manager_heap_ops(cfg), &hc, &m->heap);
    if (st)
        return st;
    m->capacity = hc.capacity;
    /* One segment for the whole heap: a block's address is base + offset. */
    st = vram_device_reserve(m->dev, m->capacity, &m->base);
    if (st)
        return st;
    st = m->policy->create(&m->policy_impl);
    if (st)
        return st;
    const vram_cost_model *c = &cfg->device.cost;
    /* The device's cost model (its defaults for zeros): the "cost" policy's reload cost. */
    m->copy_latency_ns = c->copy_latency_ns > 0 ? c->copy_latency_ns : VRAM__COST_COPY_LATENCY_NS;
    m->h2d_bytes_per_ns = c->h2d_gbps > 0 ? c->h2d_gbps : VRAM__COST_H2D_GBPS;
    m->verify = vram_device_has_backing(m->dev);
    m->host_copies = m->verify || strcmp(vram_device_backend(m->dev), "sim") != 0;
    if (m->host_copies) {
        st = vram_hostpool_create(m->dev, NULL, &m->hostpool);
        if (st)
            return st;
    }
    m->evict = cfg->evict;
    m->defrag_on_oom = cfg->defrag_on_oom;
    m->defrag_budget = cfg->defrag_budget;
    if (cfg->budget) {
        m->budget = *cfg->budget;
        m->has_budget = 1;
    }
    return VRAM_OK;
}

vram_status vram_manager_create(const vram_manager_config *cfg, vram_manager **out)
{
    if (!out)
        return VRAM_EINVAL;
    *out = NULL;
    if (!cfg)
        return VRAM_EINVAL;
    if (!manager_heap_ops(cfg))
        return VRAM_ENOTFOUND;
    const vram_evict_ops *policy =
        vram_evict_policy(cfg->evict_policy ? cfg->evict_policy : "prio-lru");
    if (!policy)
        return VRAM_ENOTFOUND;
    vram_manager *m = calloc(1, sizeof *m);
    if (!m)
        return VRAM_ENOHOST;
    vram__handles_init(&m->handles);
    m->policy = policy;
    vram_status st = manager_open(m, cfg);
    if (st) {
        manager_free(m);
        return st;
    }
    *out = m;
    return VRAM_OK;
}

static void leak_line(FILE *f, const vram_manager *m, uint32_t i, const char *key)
{
    const vram__handle *s = &m->handles.slots[i];
    fprintf(f,
            "vram: leaked handle 0x%016" PRIx64 ": %" PRIu64 " bytes, kind %s, priority %d, %s"
            "%s%s%s\n",
            vram__handles_value(&m->handles, i).v, s->size, vram_kind_name((vram_kind)s->kind),
            s->priority, s->resident ? "resident" : "evicted", key ? ", shared key \"" : "",
            key ? key : "", key ? "\"" : "");
}

uint64_t vram_manager_destroy(vram_manager *m, FILE *leak_report)
{
    if (!m)
        return 0;
    uint64_t leaks = m->handles.live;
    if (leak_report) {
        for (uint32_t k = 0; k < m->shared.cap; k++)
            if (m->shared.slots[k].key[0])
                leak_line(leak_report, m, m->shared.slots[k].index, m->shared.slots[k].key);
        for (uint32_t i = 0; i < m->handles.used; i++)
            if (m->handles.slots[i].live && !m->handles.slots[i].shared_refs)
                leak_line(leak_report, m, i, NULL);
    }
    manager_free(m);
    return leaks;
}

/* Validates a descriptor (an alignment must be 0 or a power of two); the heap
 * refuses absurd sizes itself. */
static vram_status desc_check(const vram_alloc_desc *d)
{
    if (d->size == 0 || (unsigned)d->kind >= VRAM_KIND_COUNT || (d->align & (d->align - 1)))
        return VRAM_EINVAL;
    switch (d->backing) {
    case VRAM_BACKING_NONE:
    case VRAM_BACKING_HOST:
        return VRAM_OK;
    case VRAM_BACKING_CALLBACK:
        return d->remat ? VRAM_OK : VRAM_EINVAL;
    }
    return VRAM_EINVAL;
}

vram_status vram__alloc_index(vram_manager *m, const vram_alloc_desc *d, uint32_t *index)
{
    vram_status st = desc_check(d);
    if (st)
        return st;
    uint32_t i;
    st = vram__handles_new(&m->handles, &i);
    if (st)
        return st;
    /* The policy covers every index of the table (retried after a failure). */
    if (m->policy_cap < m->handles.cap) {
        st = m->policy->reserve(m->policy_impl, m->handles.cap);
        if (st == VRAM_OK)
            m->policy_cap = m->handles.cap;
    }
    vram__block b = {0, 0};
    int placed = 0;
    if (st == VRAM_OK) {
        st = vram__place(m, d->size, d->align, &b);
        placed = st == VRAM_OK;
    }
    if (st == VRAM_OK && m->verify)
        st = vram_device_fill(m->dev, m->base + b.offset, d->size, vram__handles_value(&m->handles, i).v);
    if (st) {
        if (placed)
            vram_heap_free_token(m->heap, b.token);
        vram__handles_release(&m->handles, i);
        if (st == VRAM_ENOMEM)
            vram__count_oom(m, d->size);
        return st;
    }
    vram__handle *s = &m->handles.slots[i];
    s->size = d->size;
    s->align = d->align;
    s->priority = d->priority;
    s->kind = (uint8_t)d->kind;
    s->backing = (uint8_t)d->backing;
    s->remat = d->remat;
    s->remat_ctx = d->remat_ctx;
    s->tagged = (uint8_t)m->verify;
    s->pins = d->pinned ? 1 : 0;
    vram__mark_resident(m, i, b);
    vram__evict_use(m, i);
    vram__evict_sync(m, i);
    *index = i;
    return VRAM_OK;
}

vram_status vram_alloc(vram_manager *m, const vram_alloc_desc *desc, vram_handle *out)
{
    if (!m || !desc || !out)
        return VRAM_EINVAL;
    uint32_t i;
    vram_status st = vram__alloc_index(m, desc, &i);
    if (st)
        return st;
    *out = vram__handles_value(&m->handles, i);
    return VRAM_OK;
}

vram_status vram__free_index(vram_manager *m, uint32_t index)
{
    vram_status st = vram__drop_contents(m, index);
    vram__handles_release(&m->handles, index);
    return st;
}

/* The slot of h: VRAM_EINVAL for a NULL manager, else as vram__handles_lookup. */
static vram_status slot_of(const vram_manager *m, vram_handle h, uint32_t *i)
{
    return m ? vram__handles_lookup(&m->handles, h, i) : VRAM_EINVAL;
}

vram_status vram_free(vram_manager *m, vram_handle h)
{
    uint32_t i;
    vram_status st = slot_of(m, h, &i);
    if (st)
        return st;
    const vram__handle *s = &m->handles.slots[i];
    if (s->shared_refs || s->pins || s->uses)
        return VRAM_EBUSY;
    return vram__free_index(m, i);
}

vram_status vram_unpin_free(vram_manager *m, vram_handle h)
{
    uint32_t i;
    vram_status st = slot_of(m, h, &i);
    if (st)
        return st;
    vram__handle *s = &m->handles.slots[i];
    if (s->pins == 0)
        return VRAM_EINVAL;
    if (s->pins > 1 || s->shared_refs || s->uses)
        return VRAM_EBUSY;
    s->pins = 0; /* not evictable in between: vram__drop_contents finds it out of the set */
    return vram__free_index(m, i);
}

vram_status vram__use_index(vram_manager *m, uint32_t index)
{
    if (!m->handles.slots[index].resident) {
        vram_status st = vram__remat(m, index);
        if (st) {
            if (st == VRAM_ENOMEM)
                vram__count_oom(m, m->handles.slots[index].size);
            return st;
        }
    }
    vram__evict_use(m, index);
    return VRAM_OK;
}

vram_status vram_touch(vram_manager *m, vram_handle h)
{
    uint32_t i;
    vram_status st = slot_of(m, h, &i);
    if (st)
        return st;
    return vram__use_index(m, i);
}

/* Adds one to a counter that keeps the handle resident (uses or pins). */
static vram_status hold(vram_manager *m, vram_handle h, int pin, uint64_t *addr)
{
    uint32_t i;
    vram_status st = slot_of(m, h, &i);
    if (st)
        return st;
    if ((pin ? m->handles.slots[i].pins : m->handles.slots[i].uses) == UINT32_MAX)
        return VRAM_EOVERFLOW;
    st = vram__use_index(m, i);
    if (st)
        return st;
    vram__handle *s = &m->handles.slots[i];
    if (pin)
        s->pins++;
    else
        s->uses++;
    vram__evict_sync(m, i);
    if (addr)
        *addr = vram__addr(m, s);
    return VRAM_OK;
}

static vram_status unhold(vram_manager *m, vram_handle h, int pin)
{
    uint32_t i;
    vram_status st = slot_of(m, h, &i);
    if (st)
        return st;
    uint32_t *count = pin ? &m->handles.slots[i].pins : &m->handles.slots[i].uses;
    if (*count == 0)
        return VRAM_EINVAL;
    --*count;
    vram__evict_sync(m, i);
    return VRAM_OK;
}

vram_status vram_acquire(vram_manager *m, vram_handle h, uint64_t *addr) { return hold(m, h, 0, addr); }
vram_status vram_unacquire(vram_manager *m, vram_handle h) { return unhold(m, h, 0); }
vram_status vram_pin(vram_manager *m, vram_handle h) { return hold(m, h, 1, NULL); }
vram_status vram_unpin(vram_manager *m, vram_handle h) { return unhold(m, h, 1); }

vram_status vram_evict(vram_manager *m, vram_handle h)
{
    uint32_t i;
    vram_status st = slot_of(m, h, &i);
    return st ? st : vram__evict_index(m, i);
}

vram_status vram_handle_get(const vram_manager *m, vram_handle h, vram_handle_info *out)
{
    if (!out)
        return VRAM_EINVAL;
    uint32_t i;
    vram_status st = slot_of(m, h, &i);
    if (st)
        return st;
    const vram__handle *s = &m->handles.slots[i];
    *out = (vram_handle_info){
        .size = s->size,
        .addr = s->resident ? vram__addr(m, s) : 0,
        .priority = s->priority,
        .kind = (vram_kind)s->kind,
        .resident = s->resident,
        .pins = s->pins,
        .uses = s->uses,
        .last_use = s->last_use,
        .shared_refs = s->shared_refs,
    };
    return VRAM_OK;
}

void vram_manager_stats_get(const vram_manager *m, vram_manager_stats *out)
{
    if (!m || !out)
        return;
    *out = m->counters;
    vram_heap_stats_get(m->heap, &out->heap);
    vram_device_stats_get(m->dev, &out->device);
    out->handles = m->handles.live;
    out->resident_handles = m->resident_handles;
    out->resident_bytes = m->resident_bytes;
    out->shared_keys = m->shared.count;
}

typedef struct walk_ctx {
    const vram_manager *m;
    const vram__placed *by_offset;
    uint32_t n;
    vram_manager_walk_fn fn;
    void *ctx;
} walk_ctx;

static int walk_block(const vram_block_info *b, void *p)
{
    const walk_ctx *w = p;
    vram_kind kind = VRAM_KIND_OTHER;
    if (b->used) {
        uint32_t i = vram__placed_find(w->by_offset, w->n, b->offset);
        if (i != UINT32_MAX)
            kind = (vram_kind)w->m->handles.slots[i].kind;
    }
    return w->fn(b, kind, w->ctx);
}

vram_status vram_manager_walk(const vram_manager *m, vram_manager_walk_fn fn, void *ctx)
{
    if (!m || !fn)
        return VRAM_EINVAL;
    walk_ctx w = {.m = m, .fn = fn, .ctx = ctx};
    vram__placed *by_offset;
    vram_status st = vram__handles_resident_by_offset(&m->handles, &by_offset, &w.n);
    if (st)
        return st;
    w.by_offset = by_offset;
    st = vram_heap_walk(m->heap, walk_block, &w);
    free(by_offset);
    return st;
}

vram_heap *vram_manager_heap(vram_manager *m) { return m ? m->heap : NULL; }
vram_device *vram_manager_device(vram_manager *m) { return m ? m->dev : NULL; }

const vram_budget_profile *vram_manager_budget(const vram_manager *m)
{
    return m && m->has_budget ? &m->budget : NULL;
}

vram_status vram_manager_auto_context(const vram_manager *m, double utilisation, uint64_t *tokens,
                                      int *fits)
{
    if (!m || !tokens)
        return VRAM_EINVAL;
    if (!m->has_budget)
        return VRAM_ENOTFOUND;
    return vram_budget_auto_context(&m->budget, m->capacity, utilisation, tokens, fits);
}
