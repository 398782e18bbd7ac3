/* replay_need.c - what an engine step needs (traces/FORMAT.md, "Needed
 * memory"): the replay holds it resident with manager pins, and when a
 * placement fails and only that memory could make room, the engine preempts a
 * request as vLLM's scheduler does (docs/ENGINE_SEMANTICS.md) instead of
 * evicting for free.
 *
 * Invariants kept here:
 * - an id with NEED engine is `held` (one manager pin) from its alloc to its
 *   free; an id with NEED REQ is held exactly while REQ runs and is not
 *   preempted; `held` is never set on an id whose allocation failed;
 * - a key's `pins` is the number of its references (key_ref) that are
 *   `pinned`, and a reference is pinned exactly while its NEED holds;
 * - running[] holds the running, not preempted requests in increasing
 *   `order` (last begin or restore); preempted[] the running, preempted ones
 *   in the order they were preempted (a stack: the last comes back first). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay_internal.h"
#include "vram/device.h"

/* Doubles a growable array of uint64_t; 0, or -1 without host memory. */
static int grow_u64(uint64_t **a, size_t *cap)
{
    size_t c = *cap ? *cap * 2 : 16;
    uint64_t *p = realloc(*a, c * sizeof *p);
    if (!p)
        return -1;
    *a = p;
    *cap = c;
    return 0;
}

/* Appends v to a growable array of uint64_t; 0, or -1 without host memory. */
static int push_u64(uint64_t **a, size_t *n, size_t *cap, uint64_t v)
{
    if (*n == *cap && grow_u64(a, cap) < 0)
        return -1;
    (*a)[(*n)++] = v;
    return 0;
}

/* Removes the first v of a[0..n) keeping the order; 1 if it was there. */
static int remove_u64(uint64_t *a, size_t *n, uint64_t v)
{
    for (size_t i = 0; i < *n; i++)
        if (a[i] == v) {
            memmove(a + i, a + i + 1, (*n - i - 1) * sizeof *a);
            (*n)--;
            return 1;
        }
    return 0;
}

static void req_free_lists(req_entry *r)
{
    free(r->ids);
    free(r->refs);
    r->ids = NULL;
    r->refs = NULL;
    r->nids = r->cap_ids = r->nrefs = r->cap_refs = 0;
}

/* Every put or remove on the request map goes through these two: they may
 * move entries, so the pointer vreplay__need_owner keeps is dropped. */
static req_entry *req_put(engine *e, uint64_t rid)
{
    int created;
    e->last_req = NULL;
    return vsim_idmap_put(e->reqs, rid, &created);
}

static void req_remove(engine *e, uint64_t rid)
{
    e->last_req = NULL;
    vsim_idmap_remove(e->reqs, rid);
}

/* Whether a NEED holds now: always for the engine, never for "-", while the
 * request runs and is not preempted for a request's (r, or NULL if unknown). */
static int holds(vtrace_need need, const req_entry *r)
{
    if (need == VTRACE_NEED_ENGINE)
        return 1;
    return need == VTRACE_NEED_REQUEST && r && r->running && !r->preempted;
}

static int need_holds(const engine *e, vtrace_need need, uint64_t owner)
{
    return holds(need, need == VTRACE_NEED_REQUEST ? vsim_idmap_get(e->reqs, owner) : NULL);
}

/* The reference list of the current event's NEED; NULL without host memory. */
static req_entry *refs_of(engine *e, vtrace_need need, uint64_t owner, int create)
{
    if (need == VTRACE_NEED_ENGINE)
        return &e->engine_refs;
    if (need == VTRACE_NEED_NONE)
        return &e->nobody_refs;
    return create ? req_put(e, owner) : vsim_idmap_get(e->reqs, owner);
}

static void no_host(engine *e) { vreplay__library_failure(e, "the request map", VRAM_ENOHOST); }

vram_status vreplay__need_open(engine *e, const vtrace_header *hdr)
{
    if (hdr->version < 2)
        return VRAM_OK;
    e->needs = 1;
    e->swap = e->opt->preempt_swap;
    e->prefill_tokens_per_s = e->opt->prefill_tokens_per_s > 0 ? e->opt->prefill_tokens_per_s
                              : hdr->prefill_tokens_per_s   ? (double)hdr->prefill_tokens_per_s
                                                            : VREPLAY_PREFILL_DEFAULT;
    /* A trace without kv_token_bytes: the generator's 16-token blocks. */
    e->kv_token_bytes = hdr->kv_token_bytes     ? (double)hdr->kv_token_bytes
                        : hdr->kv_block_bytes ? (double)hdr->kv_block_bytes / 16
                                              : 0;
    e->engine_refs.running = 1;
    return vsim_idmap_create(sizeof(req_entry), &e->reqs);
}

static void free_lists_of(uint64_t id, const char *key, void *value, void *ctx)
{
    (void)id;
    (void)key;
    (void)ctx;
    req_free_lists(value);
}

void vreplay__need_close(engine *e)
{
    vsim_idmap_each(e->reqs, free_lists_of, NULL);
    vsim_idmap_destroy(e->reqs);
    req_free_lists(&e->engine_refs);
    req_free_lists(&e->nobody_refs);
    free(e->running);
    free(e->preempted);
}

/* ---- costs ---- */

vram_status vreplay__recompute(void *ctx, vram_device *dev, uint64_t addr, uint64_t size)
{
    (void)dev;
    (void)addr;
    engine *e = ctx;
    if (e->kv_token_bytes <= 0)
        return VRAM_OK;
    uint64_t tokens = (uint64_t)((double)size / e->kv_token_bytes + 0.999999);
    e->res->recompute_tokens += tokens;
    e->recompute_ns += (double)tokens / e->prefill_tokens_per_s * 1e9;
    return VRAM_OK;
}

/* Swap: the modelled time of copying `bytes` in `copies` copies one way. */
static double swap_ns(const engine *e, int lane, uint64_t bytes, uint64_t copies, int to_host)
{
    vram_cost_model c;
    vram_device_cost_model_get(vram_manager_device(e->lane[lane]), &c);
    return (double)copies * c.copy_latency_ns +
           (double)bytes / (to_host ? c.d2h_gbps : c.h2d_gbps);
}

/* ---- holding and dropping a request's memory ---- */

/* Adds a manager pin to h (`size` bytes); on VRAM_ENOMEM, preempts as
 * vreplay__need_preempt says and retries. VRAM_OK, VRAM_ENOMEM, or a library
 * status (the run has ended). */
static vram_status pin_placed(engine *e, int lane, vram_handle h, uint64_t size)
{
    for (;;) {
        vram_status st = vram_pin(e->lane[lane], h);
        if (st != VRAM_ENOMEM)
            return st;
        int p = vreplay__need_preempt(e, lane, 0, 0, size);
        if (p <= 0)
            return p < 0 ? VRAM_EDEVICE : VRAM_ENOMEM;
    }
}

/* After its pin went: evicts a preempted request's block unless something
 * else still holds it (a trace pin, a use, another request's reference) or it
 * has no backing (an activation a request owns stays), and counts the drop. */
static vram_status evict_unneeded(engine *e, int lane, vram_handle h)
{
    vram_manager *m = e->lane[lane];
    vram_handle_info info;
    vram_status st = vram_handle_get(m, h, &info);
    if (st || !info.resident || info.pins || info.uses)
        return st;
    st = vram_evict(m, h);
    if (st == VRAM_EINVAL) /* no backing: it stays */
        return VRAM_OK;
    if (st)
        return st;
    e->dropped_by_kind[info.kind]++;
    e->dropped_bytes_by_kind[info.kind] += info.size;
    e->res->preempted_bytes += info.size;
    if (e->swap)
        e->res->preempt_ns += swap_ns(e, lane, info.size, 1, 1);
    return VRAM_OK;
}

/* Drops the replay's pin of a held id, evicting it when `evict` (a
 * preemption). 0, or -1 when the run ended. */
static int unhold_id(engine *e, id_entry *it, int evict)
{
    vram_status st = vram_unpin(e->lane[id_lane(it)], it->h);
    it->held = 0;
    if (!st && evict)
        st = evict_unneeded(e, id_lane(it), it->h);
    if (st)
        vreplay__library_failure(e, "dropping a request's block", st);
    return st ? -1 : 0;
}

/* The same for a pinned reference to a shared key. */
static int unhold_ref(engine *e, key_ref *ref, int evict)
{
    key_entry *k = vsim_keymap_get(e->keys, ref->key);
    vram_status st = vram_unpin(e->lane[k->lane], k->h);
    ref->pinned = 0;
    k->pins--;
    if (!st && evict)
        st = evict_unneeded(e, (int)k->lane, k->h);
    if (st)
        vreplay__library_failure(e, "dropping a request's shared block", st);
    return st ? -1 : 0;
}

/* The allocation of r's list at i, when it is live and r (rid) owns it; else NULL. */
static id_entry *owned(engine *e, const req_entry *r, uint64_t rid, uint32_t i)
{
    id_entry *it = &e->ids[(uint32_t)r->ids[i]];
    return it->live && it->gen == (uint32_t)(r->ids[i] >> 32) && it->h.v &&
                   it->need == VTRACE_NEED_REQUEST && it->owner == rid && id_lane(it) != LANE_TC
               ? it
               : NULL;
}

/* Releases every pin r holds (held ids, pinned references), evicting what is
 * left unpinned when `evict`. 0, or -1 when the run ended. */
static int unhold_all(engine *e, uint64_t rid, int evict)
{
    req_entry *r = vsim_idmap_get(e->reqs, rid);
    for (uint32_t i = 0; r && i < r->nids; i++) {
        id_entry *it = owned(e, r, rid, i);
        if (it && it->held && unhold_id(e, it, evict) < 0)
            return -1;
    }
    for (uint32_t i = 0; r && i < r->nrefs; i++)
        if (r->refs[i].pinned && unhold_ref(e, &r->refs[i], evict) < 0)
            return -1;
    return 0;
}

/* Whether r holds a pin in `lane`: preempting it can make room there. */
static int holds_in_lane(engine *e, const req_entry *r, uint64_t rid, int lane)
{
    for (uint32_t i = 0; i < r->nids; i++) {
        const id_entry *it = owned(e, r, rid, i);
        if (it && it->held && id_lane(it) == lane)
            return 1;
    }
    for (uint32_t i = 0; i < r->nrefs; i++) {
        if (!r->refs[i].pinned)
            continue;
        const key_entry *k = vsim_keymap_get(e->keys, r->refs[i].key);
        if ((int)k->lane == lane)
            return 1;
    }
    return 0;
}

int vreplay__need_preempt(engine *e, int lane, int has_owner, uint64_t owner, uint64_t size)
{
    if (!e->needs)
        return 0;
    if (has_owner && !need_holds(e, VTRACE_NEED_REQUEST, owner))
        return 0; /* it preempted itself already (or does not run): it waits */
    for (size_t i = e->nrunning; i-- > 0;) {
        uint64_t rid = e->running[i];
        req_entry *r = vsim_idmap_get(e->reqs, rid);
        if (!holds_in_lane(e, r, rid, lane))
            continue;
        const uint64_t dropped = e->res->preempted_bytes;
        if (unhold_all(e, rid, 1) < 0)
            return -1;
        vreplay__record_preempt(e, rid, has_owner, owner, size,
                                e->res->preempted_bytes - dropped);
        r = vsim_idmap_get(e->reqs, rid);
        r->preempted = 1;
        memmove(e->running + i, e->running + i + 1, (e->nrunning - i - 1) * sizeof *e->running);
        e->nrunning--;
        if (push_u64(&e->preempted, &e->npreempted, &e->cap_preempted, rid) < 0) {
            no_host(e);
            return -1;
        }
        e->res->preemptions++;
        return 1;
    }
    return 0;
}

/* Pins what r owns again (its begin, or a restore at a step) without
 * preempting anyone: a waiting request is admitted only when it fits, as
 * vLLM's scheduler admits from its waiting queue. 0: r runs; 1: it does not
 * fit and waits, nothing held; -1: the run ended. */
static int hold_all(engine *e, uint64_t rid)
{
    vram_manager_stats before[MAX_LANES];
    for (int l = 0; l < e->lanes; l++)
        vram_manager_stats_get(e->lane[l], &before[l]);
    const vreplay_result keep = *e->res;
    double keep_recompute = e->recompute_ns;
    req_entry *r = vsim_idmap_get(e->reqs, rid);
    vram_status st = VRAM_OK;
    /* What is still resident first, so that placing the rest never evicts it. */
    for (int pass = 0; pass < 2; pass++)
        for (uint32_t i = 0; !st && i < r->nids; i++) {
            id_entry *it = owned(e, r, rid, i);
            vram_handle_info info;
            if (!it || it->held)
                continue;
            st = vram_handle_get(e->lane[id_lane(it)], it->h, &info);
            if (!st && info.resident == (pass == 0))
                st = vram_pin(e->lane[id_lane(it)], it->h);
            if (!st && info.resident == (pass == 0))
                it->held = 1;
        }
    for (uint32_t i = 0; !st && i < r->nrefs; i++) {
        key_ref *ref = &r->refs[i];
        if (ref->pinned || ref->failed)
            continue;
        key_entry *k = vsim_keymap_get(e->keys, ref->key);
        st = vram_pin(e->lane[k->lane], k->h);
        if (!st) {
            ref->pinned = 1;
            k->pins++;
        }
    }
    if (e->swap)
        for (int l = 0; l < e->lanes; l++) {
            vram_manager_stats now;
            vram_manager_stats_get(e->lane[l], &now);
            e->res->preempt_ns +=
                swap_ns(e, l, now.bytes_rematerialised - before[l].bytes_rematerialised,
                        now.rematerialisations - before[l].rematerialisations, 0);
        }
    if (st == VRAM_OK)
        return 0;
    if (st != VRAM_ENOMEM) {
        vreplay__library_failure(e, "vram_pin of a request's block", st);
        return -1;
    }
    /* vLLM allocates a request's blocks all at once or not at all: what this
     * attempt brought back and dropped again is not counted. */
    if (unhold_all(e, rid, 1) < 0)
        return -1;
    for (int l = 0; l < e->lanes; l++) {
        vram_manager_stats now;
        vram_manager_stats_get(e->lane[l], &now);
        e->undone_remats += now.rematerialisations - before[l].rematerialisations;
        e->undone_remat_bytes += now.bytes_rematerialised - before[l].bytes_rematerialised;
    }
    e->res->recompute_tokens = keep.recompute_tokens;
    e->res->preempted_bytes = keep.preempted_bytes;
    e->res->preempt_ns = keep.preempt_ns;
    e->recompute_ns = keep_recompute;
    e->res->restore_waits++;
    return 1;
}

/* ---- events ---- */

req_entry *vreplay__need_owner(engine *e)
{
    /* A request allocates its blocks in runs: the last one found is kept
     * until the request map changes (req_put, req_remove). */
    if (e->last_req && e->last_rid == e->ev.owner)
        return e->last_req;
    req_entry *r = req_put(e, e->ev.owner);
    if (!r)
        no_host(e);
    e->last_rid = e->ev.owner;
    e->last_req = r;
    return r;
}

int vreplay__need_holds_now(const engine *e, const req_entry *owner)
{
    return holds(e->ev.need, owner);
}

void vreplay__need_alloc(engine *e, id_entry *it, req_entry *owner, int held)
{
    const vtrace_event *ev = &e->ev;
    it->need = (uint8_t)ev->need;
    it->owner = ev->owner;
    it->held = (uint8_t)held;
    it->pins = it->pins_failed = 0;
    if (!owner || !it->h.v || id_lane(it) == LANE_TC)
        return;
    size_t n = owner->nids, cap = owner->cap_ids;
    uint64_t *ids = owner->ids;
    if (n == cap && n) {
        /* compact: drop the ids it no longer owns; grow when that leaves it
         * more than half full, so a walk costs O(1) amortised per alloc */
        uint32_t k = 0;
        for (uint32_t i = 0; i < owner->nids; i++)
            if (owned(e, owner, ev->owner, i))
                ids[k++] = ids[i];
        owner->nids = k;
        n = k;
        if (n > cap / 2 && grow_u64(&ids, &cap) < 0) {
            no_host(e);
            return;
        }
    }
    if (push_u64(&ids, &n, &cap, id_ref(e->slot, it)) < 0) {
        no_host(e);
        return;
    }
    owner->ids = ids;
    owner->nids = (uint32_t)n;
    owner->cap_ids = (uint32_t)cap;
}

int vreplay__need_free(engine *e, id_entry *it)
{
    if (it->pins || it->pins_failed) {
        char text[96];
        snprintf(text, sizeof text, "free of id %llu, which is pinned",
                 (unsigned long long)e->ev.id);
        vreplay__trace_error(e, text);
        return -1;
    }
    int held = it->held;
    it->held = 0;
    return held;
}

/* Appends a reference to r's list; 0 or -1 without host memory. */
static int add_ref(req_entry *r, const char *key, int failed, int pinned)
{
    if (r->nrefs == r->cap_refs) {
        uint32_t c = r->cap_refs ? r->cap_refs * 2 : 8;
        key_ref *p = realloc(r->refs, c * sizeof *p);
        if (!p)
            return -1;
        r->refs = p;
        r->cap_refs = c;
    }
    key_ref *ref = &r->refs[r->nrefs++];
    snprintf(ref->key, sizeof ref->key, "%s", key);
    ref->failed = (uint8_t)failed;
    ref->pinned = (uint8_t)pinned;
    return 0;
}

void vreplay__need_acquire(engine *e, key_entry *k, vram_status st)
{
    const vtrace_event *ev = &e->ev;
    if (!e->needs)
        return;
    int pinned = 0;
    if (st == VRAM_OK && need_holds(e, ev->need, ev->owner)) {
        vram_status p = vram_pin(e->lane[k->lane], k->h);
        if (p) {
            vreplay__library_failure(e, "vram_pin of a shared block", p);
            return;
        }
        pinned = 1;
        k->pins++;
    }
    req_entry *r = refs_of(e, ev->need, ev->owner, 1);
    if (!r || add_ref(r, ev->key, st != VRAM_OK, pinned) < 0)
        no_host(e);
}

int vreplay__need_release(engine *e, key_entry *k, int *failed_ref)
{
    const vtrace_event *ev = &e->ev;
    req_entry *r = refs_of(e, ev->need, ev->owner, 0);
    uint32_t found = UINT32_MAX;
    for (uint32_t i = 0; r && i < r->nrefs; i++)
        if (strcmp(r->refs[i].key, ev->key) == 0 &&
            (found == UINT32_MAX || (r->refs[i].failed && !r->refs[found].failed)))
            found = i;
    if (found == UINT32_MAX) {
        char text[192], buf[21];
        snprintf(text, sizeof text, "release of key \"%s\" by NEED %s, which holds no reference",
                 ev->key, vtrace_need_text(ev->need, ev->owner, buf));
        vreplay__trace_error(e, text);
        return -1;
    }
    key_ref *ref = &r->refs[found];
    *failed_ref = ref->failed;
    if (ref->pinned) {
        vram_status st = vram_unpin(e->lane[k->lane], k->h);
        k->pins--;
        if (st) {
            vreplay__library_failure(e, "vram_unpin of a shared block", st);
            return -1;
        }
    }
    r->refs[found] = r->refs[--r->nrefs];
    return 0;
}

static id_entry *pin_target(engine *e, const char *what)
{
    if (e->slot != VEVS_NO_SLOT)
        return &e->ids[e->slot];
    char text[96];
    snprintf(text, sizeof text, "%s of id %llu, which is not live", what,
             (unsigned long long)e->ev.id);
    vreplay__trace_error(e, text);
    return NULL;
}

void vreplay__need_pin(engine *e)
{
    id_entry *it = pin_target(e, "pin");
    if (!it)
        return;
    if (!it->h.v) {
        e->res->skipped++;
        it->pins_failed++;
        return;
    }
    if (id_lane(it) == LANE_TC) { /* never evicted: nothing to hold */
        it->pins++;
        return;
    }
    int lane = id_lane(it);
    /* Preempting never moves the table. */
    vram_status st = pin_placed(e, lane, it->h, id_size(it));
    if (st == VRAM_OK) {
        it->pins++;
    } else if (st == VRAM_ENOMEM) {
        it->pins_failed++;
        vreplay__record_oom(e, lane, "pin", id_size(it));
    } else if (!e->done) {
        vreplay__library_failure(e, "vram_pin", st);
    }
}

void vreplay__need_unpin(engine *e)
{
    id_entry *it = pin_target(e, "unpin");
    if (!it)
        return;
    if (it->pins_failed) {
        it->pins_failed--;
        return;
    }
    if (it->pins == 0) {
        char text[96];
        snprintf(text, sizeof text, "unpin of id %llu, which is not pinned",
                 (unsigned long long)e->ev.id);
        vreplay__trace_error(e, text);
        return;
    }
    it->pins--;
    if (!it->h.v || id_lane(it) == LANE_TC)
        return;
    vram_status st = vram_unpin(e->lane[id_lane(it)], it->h);
    if (st)
        vreplay__library_failure(e, "vram_unpin", st);
}

void vreplay__need_begin(engine *e)
{
    uint64_t rid = e->ev.id;
    req_entry *r = refs_of(e, VTRACE_NEED_REQUEST, rid, 1);
    if (!r) {
        no_host(e);
        return;
    }
    if (r->running) {
        char text[96];
        snprintf(text, sizeof text, "begin of request %llu, which is running",
                 (unsigned long long)rid);
        vreplay__trace_error(e, text);
        return;
    }
    r->running = 1;
    r->preempted = 0;
    r->order = ++e->order;
    if (push_u64(&e->running, &e->nrunning, &e->cap_running, rid) < 0) {
        no_host(e);
        return;
    }
    if (r->nids == 0 && r->nrefs == 0)
        return;
    int h = hold_all(e, rid);
    if (h == 1) { /* it does not fit: it waits as if preempted */
        r = vsim_idmap_get(e->reqs, rid);
        r->preempted = 1;
        remove_u64(e->running, &e->nrunning, rid);
        if (push_u64(&e->preempted, &e->npreempted, &e->cap_preempted, rid) < 0)
            no_host(e);
    }
}

void vreplay__need_end(engine *e)
{
    uint64_t rid = e->ev.id;
    req_entry *r = vsim_idmap_get(e->reqs, rid);
    if (!r || !r->running) {
        char text[96];
        snprintf(text, sizeof text, "end of request %llu, which is not running",
                 (unsigned long long)rid);
        vreplay__trace_error(e, text);
        return;
    }
    if (r->preempted)
        remove_u64(e->preempted, &e->npreempted, rid);
    else if (unhold_all(e, rid, 0) < 0)
        return;
    else
        remove_u64(e->running, &e->nrunning, rid);
    r = vsim_idmap_get(e->reqs, rid);
    r->running = r->preempted = 0;
    uint32_t k = 0;
    for (uint32_t i = 0; i < r->nids; i++)
        if (owned(e, r, rid, i))
            r->ids[k++] = r->ids[i];
    r->nids = k;
    if (r->nids == 0 && r->nrefs == 0) {
        req_free_lists(r);
        req_remove(e, rid);
    }
}

void vreplay__need_step(engine *e)
{
    if (!e->needs || e->npreempted == 0)
        return;
    /* The most recently preempted first, as vLLM puts a preempted request back
     * at the head of its waiting queue, and none after the first that does not
     * fit (its queue is first come, first served). */
    while (e->npreempted && !e->done) {
        uint64_t rid = e->preempted[e->npreempted - 1];
        if (hold_all(e, rid) != 0)
            break;
        req_entry *r = vsim_idmap_get(e->reqs, rid);
        r->preempted = 0;
        r->order = ++e->order;
        e->npreempted--;
        if (push_u64(&e->running, &e->nrunning, &e->cap_running, rid) < 0)
            no_host(e);
        e->res->restores++;
    }
}

/* ---- the check (the invariants at the top of this file) ---- */

typedef struct check_ctx {
    engine *e;
    char *msg;
    size_t len;
    int bad;
    uint64_t pinned_refs;   /* key references pinned, over every NEED */
    uint64_t key_pins;      /* sum of the keys' pins */
} check_ctx;

#define VIOLATION(c, ...)                                                                  \
    do {                                                                                   \
        if (!(c)->bad)                                                                     \
            snprintf((c)->msg, (c)->len, __VA_ARGS__);                                     \
        (c)->bad = 1;                                                                      \
    } while (0)

static void check_id(check_ctx *c, const id_entry *it)
{
    uint64_t id = it->id;
    if (c->bad || !it->live || !it->h.v || id_lane(it) == LANE_TC)
        return;
    int want = need_holds(c->e, (vtrace_need)it->need, it->owner);
    if (it->held != want) {
        VIOLATION(c, "id %llu (NEED %d of %llu) is %sheld by the replay, its NEED %s",
                  (unsigned long long)id, it->need, (unsigned long long)it->owner,
                  it->held ? "" : "not ", want ? "holds" : "does not hold");
        return;
    }
    vram_handle_info info;
    if (vram_handle_get(c->e->lane[id_lane(it)], it->h, &info) != VRAM_OK ||
        info.pins != it->held + it->pins)
        VIOLATION(c, "id %llu: the manager holds %u pins, the replay %u (need) + %u (trace)",
                  (unsigned long long)id, info.pins, it->held, it->pins);
    else if (info.pins && !info.resident)
        VIOLATION(c, "id %llu is pinned but not resident", (unsigned long long)id);
}

static void check_refs(check_ctx *c, const req_entry *r, vtrace_need need, uint64_t owner)
{
    int holds = need_holds(c->e, need, owner);
    for (uint32_t i = 0; i < r->nrefs && !c->bad; i++) {
        const key_ref *ref = &r->refs[i];
        if (ref->pinned != (holds && !ref->failed))
            VIOLATION(c, "a reference of NEED %d/%llu to key \"%s\" is %spinned", need,
                      (unsigned long long)owner, ref->key, ref->pinned ? "" : "not ");
        else if (!vsim_keymap_get(c->e->keys, ref->key))
            VIOLATION(c, "a reference to key \"%s\", which is not held", ref->key);
        c->pinned_refs += ref->pinned;
    }
}

static void check_request(uint64_t rid, const char *key, void *value, void *ctx)
{
    (void)key;
    check_ctx *c = ctx;
    const req_entry *r = value;
    engine *e = c->e;
    size_t in_run = 0, in_pre = 0;
    for (size_t i = 0; i < e->nrunning; i++)
        in_run += e->running[i] == rid;
    for (size_t i = 0; i < e->npreempted; i++)
        in_pre += e->preempted[i] == rid;
    if (in_run != (size_t)(r->running && !r->preempted) ||
        in_pre != (size_t)(r->running && r->preempted))
        VIOLATION(c, "request %llu (running %d, preempted %d) is listed %zu times as running and"
                     " %zu as preempted",
                  (unsigned long long)rid, r->running, r->preempted, in_run, in_pre);
    check_refs(c, r, VTRACE_NEED_REQUEST, rid);
}

static void check_key(uint64_t hash, const char *key, void *value, void *ctx)
{
    (void)hash;
    check_ctx *c = ctx;
    const key_entry *k = value;
    c->key_pins += k->pins;
    if (c->bad || k->held == 0)
        return;
    vram_handle_info info;
    if (vram_handle_get(c->e->lane[k->lane], k->h, &info) != VRAM_OK || info.pins != k->pins)
        VIOLATION(c, "key \"%s\": the manager holds %u pins, the replay %u", key, info.pins,
                  k->pins);
}

vram_status vreplay__need_check(engine *e, char *msg, size_t len)
{
    if (!e->needs)
        return VRAM_OK;
    check_ctx c = {.e = e, .msg = msg, .len = len};
    for (uint32_t i = 0; i < e->nids; i++)
        check_id(&c, &e->ids[i]);
    vsim_idmap_each(e->reqs, check_request, &c);
    check_refs(&c, &e->engine_refs, VTRACE_NEED_ENGINE, 0);
    check_refs(&c, &e->nobody_refs, VTRACE_NEED_NONE, 0);
    vsim_keymap_each(e->keys, check_key, &c);
    if (!c.bad && c.pinned_refs != c.key_pins)
        VIOLATION(&c, "%llu key references are pinned, the keys count %llu pins",
                  (unsigned long long)c.pinned_refs, (unsigned long long)c.key_pins);
    for (size_t i = 1; i < e->nrunning && !c.bad; i++) {
        const req_entry *a = vsim_idmap_get(e->reqs, e->running[i - 1]);
        const req_entry *b = vsim_idmap_get(e->reqs, e->running[i]);
        if (!a || !b || a->order >= b->order)
            VIOLATION(&c, "running requests %llu and %llu are out of admission order",
                      (unsigned long long)e->running[i - 1], (unsigned long long)e->running[i]);
    }
    return c.bad ? VRAM_ECORRUPT : VRAM_OK;
}
