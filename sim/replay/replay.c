/* replay.c - the replay engine (replay.h): one policy, one pass over a trace.
 *
 * Lanes: a run drives one manager, or two for the "pool" policy (the vLLM
 * layout): block-sized KV allocations and "kv:" shared keys (vreplay_pooled)
 * from a block pool, everything else from a bestfit heap. The bestfit lane
 * gets the trace's peak live "other" bytes plus 1/16, rounded up to whole
 * blocks; the pool lane gets the rest of the device in whole blocks. With a
 * tensor cache (replay.h), its bytes are taken off the device first and the
 * lanes share the rest. */
#include "replay.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "clock.h"
#include "replay_internal.h"
#include "vram/caching.h"
#include "vram/defrag.h"
#include "vram/evict.h"
#include "vram/tensor_cache.h"

const char *vreplay_op_name(vreplay_op op)
{
    static const char *const names[VREPLAY_OP_COUNT] = {"alloc", "free", "use", "acquire",
                                                        "release"};
    return (unsigned)op < VREPLAY_OP_COUNT ? names[op] : "?";
}

const char *vreplay_status_name(vreplay_status st)
{
    switch (st) {
    case VREPLAY_RUN_OK:
        return "ok";
    case VREPLAY_RUN_FAILED:
        return "failed";
    case VREPLAY_RUN_INTERRUPTED:
        return "interrupted";
    case VREPLAY_RUN_NOT_APPLICABLE:
        return "not applicable";
    }
    return "?";
}

vram_backing vreplay_backing_of(vram_kind kind)
{
    switch (kind) {
    case VRAM_KIND_KV:
    case VRAM_KIND_ADAPTER:
        return VRAM_BACKING_HOST;
    case VRAM_KIND_WEIGHT:
        return VRAM_BACKING_CALLBACK;
    default:
        return VRAM_BACKING_NONE;
    }
}

int vreplay_pooled(uint64_t kv_block_bytes, vram_kind kind, const char *key, uint64_t size)
{
    int kv = key ? strncmp(key, "kv:", 3) == 0 : kind == VRAM_KIND_KV;
    return kv && (kv_block_bytes == 0 || size <= kv_block_bytes);
}

/* The stand-in for re-loading weights: the replay has no weights to read.
 * On the sim backend without host backing a copy moves no bytes, so a
 * host-to-device copy of the size is issued for the cost model to charge;
 * elsewhere (real memory behind the copy) the contents are left as they are. */
static vram_status reload_weights(void *ctx, vram_device *dev, uint64_t addr, uint64_t size)
{
    (void)ctx;
    static const unsigned char nothing = 0;
    if (strcmp(vram_device_backend(dev), "sim") != 0 || vram_device_has_backing(dev))
        return VRAM_OK;
    return vram_device_copy_h2d(dev, addr, &nothing, size);
}

/* Version 2 in recompute mode: KV (blocks, or "kv:" prefix keys) comes back
 * by recomputing its tokens, charged at the prefill rate, not by a copy. */
static int recomputed(const engine *e, int is_kv)
{
    return e->needs && !e->swap && is_kv;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The median cost of one clock reading, so readers can judge the latencies. */
static double timer_cost_ns(void)
{
    enum { N = 101 };
    uint64_t d[N];
    for (int i = 0; i < N; i++) {
        uint64_t a = vclock_ticks();
        uint64_t b = vclock_ticks();
        d[i] = vclock_ns(b - a);
    }
    qsort(d, N, sizeof d[0], cmp_u64);
    return (double)d[N / 2];
}

static void msg(engine *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void msg(engine *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->res->message, sizeof e->res->message, fmt, ap);
    va_end(ap);
}

/* Logs a database failure: the run cannot be recorded faithfully any more. */
static vram_status db_check(engine *e, vram_status st)
{
    if (st && !e->done) {
        e->done = 1;
        e->res->status = VREPLAY_RUN_FAILED;
        msg(e, "%s", vdb_error(e->opt->db));
    }
    return st;
}

static vram_status log_event(engine *e, const vdb_event *ev)
{
    if (!e->opt->db)
        return VRAM_OK;
    return db_check(e, vdb_event_add(e->opt->db, e->res->run_id, ev));
}

/* Ends the run as failed with an event row of `kind` carrying the message. */
static void fail_run(engine *e, const char *kind, uint64_t line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail_run(engine *e, const char *kind, uint64_t line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->res->message, sizeof e->res->message, fmt, ap);
    va_end(ap);
    e->res->status = VREPLAY_RUN_FAILED;
    vdb_event row = {.event_index = e->index, .line = line, .kind = kind,
                     .message = e->res->message};
    log_event(e, &row);
    e->done = 1;
}

void vreplay__trace_error(engine *e, const char *what)
{
    fail_run(e, "trace_error", e->ev.line, "%s:%llu: %s", e->opt->trace_path,
             (unsigned long long)e->ev.line, what);
}

/* Ends the run at the plugin's first violation (plugin.h), with the line of
 * the event whose call met it. */
static void plugin_violation(engine *e)
{
    fail_run(e, "violation", e->ev.line, "%s:%llu: %s broke the heap contract: %s",
             e->opt->trace_path, (unsigned long long)e->ev.line, vplugin_label(e->plugin),
             vplugin_violation(e->plugin));
}

static int plugin_violated(const engine *e)
{
    return e->plugin && vplugin_violation(e->plugin)[0];
}

void vreplay__library_failure(engine *e, const char *call, vram_status st)
{
    if (plugin_violated(e)) {
        plugin_violation(e);
        return;
    }
    fail_run(e, "error", e->ev.line, "%s:%llu: %s failed: %s (%s)", e->opt->trace_path,
             (unsigned long long)e->ev.line, call, vram_strerror(st), vram_status_name(st));
}

/* 1 - largest free / total free. In the pool layout only the bestfit lane
 * counts: any free pool block serves any KV request, so the pool lane has no
 * external fragmentation whatever its largest block. */
static double ext_frag(const engine *e, const vdb_sample *all)
{
    uint64_t free_bytes = all->free_bytes, largest = all->largest_free;
    if (e->kv_lane != LANE_MAIN) {
        vram_manager_stats m;
        vram_manager_stats_get(e->lane[LANE_MAIN], &m);
        free_bytes = m.heap.free;
        largest = m.heap.largest_free;
    }
    return free_bytes ? 1.0 - (double)largest / (double)free_bytes : 0.0;
}

/* The cost model's time for a lane: the device's own, plus - for the caching
 * policy, whose segments are modelled inside its heap over one device
 * reservation - each segment cudaMalloc and each expandable-segment page map
 * at segment_alloc_ns, each cudaFree and unmap at segment_free_ns, as the
 * device charges reserve/grow and release/shrink (docs/COST_MODEL.md). */
static double lane_modelled_ns(const engine *e, int lane, const vram_manager_stats *m)
{
    vram_caching_stats cs;
    if (!e->caching || lane != LANE_MAIN ||
        vram_heap_caching_stats(vram_manager_heap(e->lane[lane]), &cs) != VRAM_OK)
        return m->device.modelled_ns;
    vram_cost_model cost;
    vram_device_cost_model_get(vram_manager_device(e->lane[lane]), &cost);
    return m->device.modelled_ns + (double)(cs.segment_allocs + cs.maps) * cost.segment_alloc_ns +
           (double)(cs.segment_frees + cs.unmaps) * cost.segment_free_ns;
}

/* Combined stats of every lane (a sample's view of the device); returns the
 * bytes evicted so far, which the sample row does not carry. */
static uint64_t lanes_sample(const engine *e, vdb_sample *s)
{
    memset(s, 0, sizeof *s);
    double modelled = 0;
    uint64_t bytes_evicted = 0;
    for (int i = 0; i < e->lanes; i++) {
        vram_manager_stats m;
        vram_manager_stats_get(e->lane[i], &m);
        s->requested += m.heap.requested;
        s->in_use += m.heap.in_use;
        s->footprint += m.heap.footprint;
        s->reserved += m.device.reserved;
        s->free_bytes += m.heap.free;
        s->free_blocks += m.heap.free_blocks;
        if (m.heap.largest_free > s->largest_free)
            s->largest_free = m.heap.largest_free;
        s->handles += m.handles;
        s->resident_handles += m.resident_handles;
        s->evictions += m.evictions;
        s->bytes_rematerialised += m.bytes_rematerialised;
        bytes_evicted += m.bytes_evicted;
        modelled += lane_modelled_ns(e, i, &m);
    }
    if (e->tc_heap) {
        vram_heap_stats h;
        vram_heap_stats_get(e->tc_heap, &h);
        s->requested += h.requested;
        s->in_use += h.in_use;
        s->footprint += h.footprint;
        s->reserved += h.capacity;
        s->free_bytes += h.free;
        s->free_blocks += h.free_blocks;
    }
    /* A preemption's drops are not the policy's evictions (summarise's rule). */
    for (int k = 0; k < VRAM_KIND_COUNT; k++) {
        s->evictions -= e->dropped_by_kind[k];
        bytes_evicted -= e->dropped_bytes_by_kind[k];
    }
    s->bytes_rematerialised -= e->undone_remat_bytes;
    s->live_bytes = e->live;
    s->internal_waste = s->in_use - s->requested;
    s->ext_frag = ext_frag(e, s);
    s->modelled_ms = (modelled + e->recompute_ns) / 1e6; /* as the run's total (summarise) */
    s->event_index = e->index;
    s->line = e->ev.line;
    s->ts_us = e->ev.ts_us;
    return bytes_evicted;
}

/* Logs the evictions since the previous sample as one event row (per-call
 * detection would cost a stats call after every operation). */
static void log_evictions(engine *e, uint64_t evictions, uint64_t bytes_evicted)
{
    if (evictions == e->evictions_seen)
        return;
    char text[96];
    snprintf(text, sizeof text, "%llu evictions since the previous sample",
             (unsigned long long)(evictions - e->evictions_seen));
    vdb_event row = {.event_index = e->index, .line = e->ev.line, .kind = "eviction",
                     .count = evictions - e->evictions_seen,
                     .bytes = bytes_evicted - e->bytes_evicted_seen, .message = text};
    e->evictions_seen = evictions;
    e->bytes_evicted_seen = bytes_evicted;
    log_event(e, &row);
}

static void take_sample(engine *e)
{
    vdb_sample s;
    uint64_t bytes_evicted = lanes_sample(e, &s);
    e->res->samples++;
    if (s.ext_frag > e->res->worst_ext_frag)
        e->res->worst_ext_frag = s.ext_frag;
    if (s.footprint > e->res->peak_sample_footprint) {
        e->res->peak_sample_footprint = s.footprint;
        e->res->waste_at_peak = s.internal_waste;
        e->res->free_at_peak = s.footprint - s.in_use;
    }
    if (!e->opt->db)
        return;
    if (!db_check(e, vdb_sample_add(e->opt->db, e->res->run_id, &s)))
        log_evictions(e, s.evictions, bytes_evicted);
}

static void defrag_pass(engine *e)
{
    for (int i = 0; i < e->lanes && !e->done; i++) {
        vram_defrag_report rep;
        vram_status st = vram_manager_defrag(e->lane[i], 0, &rep);
        if (st) {
            vreplay__library_failure(e, "vram_manager_defrag", st);
            return;
        }
        if (rep.moves == 0)
            continue;
        char text[160];
        snprintf(text, sizeof text, "lane %d: external fragmentation %.3f -> %.3f", i,
                 rep.frag_before, rep.frag_after);
        vdb_event row = {.event_index = e->index, .line = e->ev.line, .kind = "defrag",
                         .count = rep.moves, .bytes = rep.bytes_moved, .message = text};
        log_event(e, &row);
    }
}

/* A failed request larger than the whole device: no policy could place it;
 * counted, and where the first few were kept for the caller's warnings. */
static void note_over_capacity(engine *e, uint64_t size)
{
    vreplay_result *r = e->res;
    if (size <= e->capacity)
        return;
    if (r->over_capacity < VREPLAY_OVER_CAPACITY_KEPT) {
        r->over_capacity_line[r->over_capacity] = e->ev.line;
        r->over_capacity_size[r->over_capacity] = size;
    }
    r->over_capacity++;
}

void vreplay__record_oom(engine *e, int lane, const char *op, uint64_t size)
{
    note_over_capacity(e, size);
    vram_manager_stats m;
    vram_manager_stats_get(e->lane[lane], &m);
    int despite = m.heap.free >= size;
    e->res->ooms++;
    e->res->ooms_despite_free += (uint64_t)despite;
    char text[192];
    vram_caching_stats cs;
    const char *message = NULL;
    if (e->caching &&
        vram_heap_caching_stats(vram_manager_heap(e->lane[lane]), &cs) == VRAM_OK) {
        /* As PyTorch's out-of-memory message puts it. */
        snprintf(text, sizeof text,
                 "%llu bytes reserved in total, of which %llu allocated and %llu reserved but"
                 " unallocated",
                 (unsigned long long)cs.reserved, (unsigned long long)cs.allocated,
                 (unsigned long long)cs.reserved_unallocated);
        message = text;
    }
    vdb_event row = {.event_index = e->index, .line = e->ev.line, .kind = "oom", .op = op,
                     .id = e->ev.id, .key = e->ev.type == VTRACE_SHARED_ACQUIRE ? e->ev.key : NULL,
                     .size = size, .free_bytes = m.heap.free, .largest_free = m.heap.largest_free,
                     .despite_free = despite, .message = message};
    log_event(e, &row);
}

void vreplay__record_preempt(engine *e, uint64_t rid, int has_owner, uint64_t owner,
                             uint64_t size, uint64_t bytes)
{
    const char *op = vtrace_type_name(e->ev.type);
    char whose[48] = "the engine";
    if (has_owner)
        snprintf(whose, sizeof whose, "request %llu", (unsigned long long)owner);
    char text[256];
    snprintf(text, sizeof text,
             "request %llu preempted (the newest running one holding memory there): %s of %llu"
             " bytes for %s found no room and nothing evictable",
             (unsigned long long)rid, op, (unsigned long long)size, whose);
    vdb_event row = {.event_index = e->index, .line = e->ev.line, .kind = "preempt", .op = op,
                     .id = rid, .size = size, .bytes = bytes, .message = text};
    log_event(e, &row);
}

static void record_refusal(engine *e, const char *op, uint64_t size, vram_status st)
{
    note_over_capacity(e, size);
    char text[160];
    snprintf(text, sizeof text, "the policy refused %llu bytes: %s",
             (unsigned long long)size, vram_strerror(st));
    e->res->errors++;
    vdb_event row = {.event_index = e->index, .line = e->ev.line, .kind = "error", .op = op,
                     .id = e->ev.id, .key = e->ev.type == VTRACE_SHARED_ACQUIRE ? e->ev.key : NULL,
                     .size = size, .message = text};
    log_event(e, &row);
}

/* Timing: with time_every N, the calls of every N-th timed event are measured
 * (a systematic sample), the others pay no clock reading. Returns the start
 * reading, or 0 for "not timed" (neither clock.h source reads 0 after boot). */
static uint64_t time_start(engine *e)
{
    if (--e->to_time != 0)
        return 0;
    e->to_time = e->time_every;
    return vclock_ticks();
}

static void timed(engine *e, vreplay_op op, uint64_t t0)
{
    if (t0)
        vhist_record(&e->res->lat[op], vclock_ns(vclock_ticks() - t0));
}

static void note_live(engine *e, uint64_t size)
{
    e->live += size;
    if (e->live > e->res->peak_live) {
        e->res->peak_live = e->live;
        e->res->peak_live_event = e->index;
    }
}

/* The caching policy's reserved bytes rise only in a call that needs device
 * bytes (alloc, use, acquire): after each, the highest reserved so far and
 * what of it was unallocated then. Called after every such call, so it reads
 * the two counters alone (vram_heap_caching_reserved, constant time), not
 * vram_heap_caching_stats' tree maxima. */
static void note_reserved(engine *e, int lane)
{
    uint64_t reserved, allocated;
    if (!e->caching ||
        vram_heap_caching_reserved(vram_manager_heap(e->lane[lane]), &reserved, &allocated) ||
        reserved <= e->res->peak_reserved)
        return;
    e->res->peak_reserved = reserved;
    e->res->reserved_unallocated = reserved - allocated;
}

/* The tensor cache's key for a trace allocation: its size in bytes of u8. */
static vram_tensor_shape tc_shape(uint64_t size)
{
    vram_tensor_shape sh = {.ndim = 1, .dims = {size}, .dtype = VRAM_DTYPE_U8};
    return sh;
}

/* Serves an activation or workspace from the tensor cache (replay.h): VRAM_OK
 * and *offset; VRAM_ENOMEM or VRAM_EINVAL when its heap cannot hold the size
 * (the caller goes to the lanes); any other status is a library failure. */
static vram_status tc_alloc(engine *e, uint64_t size, uint64_t *offset)
{
    vram_tensor_shape sh = tc_shape(size);
    vram_status st = vram_tensor_cache_acquire(e->tc, &sh, offset);
    if (st != VRAM_ENOTFOUND)
        return st;
    st = vram_heap_alloc(e->tc_heap, size, 0, offset);
    if (st == VRAM_ENOMEM) {
        vram_tensor_cache_stats ts;
        vram_tensor_cache_stats_get(e->tc, &ts);
        if (ts.idle_bytes == 0)
            return st;
        st = vram_tensor_cache_trim(e->tc, NULL, NULL);
        if (!st)
            st = vram_heap_alloc(e->tc_heap, size, 0, offset);
    }
    return st;
}

/* Gives an id's block back to the tensor cache: a buffer it handed out is
 * released, a block of its heap adopted (or freed when the cache refuses it). */
static vram_status tc_free(engine *e, uint64_t size, uint64_t offset)
{
    vram_status st = vram_tensor_cache_release(e->tc, offset);
    if (st == VRAM_ENOTFOUND) {
        vram_tensor_shape sh = tc_shape(size);
        st = vram_tensor_cache_adopt(e->tc, &sh, offset);
        if (st == VRAM_ENOMEM)
            st = vram_heap_free(e->tc_heap, offset);
    }
    vram_tensor_cache_stats ts;
    vram_tensor_cache_stats_get(e->tc, &ts);
    if (ts.idle_bytes > e->res->tc_idle_peak)
        e->res->tc_idle_peak = ts.idle_bytes;
    return st;
}

static int tc_serves(const engine *e, const vtrace_event *ev)
{
    return e->tc && (ev->kind == VRAM_KIND_ACTIVATION || ev->kind == VRAM_KIND_WORKSPACE) &&
           ev->align <= VRAM_DEFAULT_ALIGN;
}

/* The entry of the event's slot, the table grown to hold it; NULL (the run
 * ended) without host memory. */
static id_entry *slot_entry(engine *e)
{
    if (e->slot >= e->nids) {
        uint32_t n = e->slot >= e->nids * 2 ? e->slot + 1 : e->nids * 2;
        id_entry *p = realloc(e->ids, (size_t)n * sizeof *p);
        if (!p) {
            vreplay__library_failure(e, "the id table", VRAM_ENOHOST);
            return NULL;
        }
        memset(p + e->nids, 0, (size_t)(n - e->nids) * sizeof *p);
        e->ids = p;
        e->nids = n;
    }
    return &e->ids[e->slot];
}

/* The trace error of an event on an id the stream found not live. */
static void not_live(engine *e, const char *what)
{
    char text[96];
    snprintf(text, sizeof text, "%s of id %llu, which is %s", what, (unsigned long long)e->ev.id,
             e->ev.type == VTRACE_ALLOC ? "already live" : "not live");
    vreplay__trace_error(e, text);
}

static void do_alloc(engine *e)
{
    const vtrace_event *ev = &e->ev;
    if (e->slot == VEVS_NO_SLOT) {
        not_live(e, "alloc");
        return;
    }
    id_entry *it = slot_entry(e);
    if (!it)
        return;
    uint32_t gen = it->gen + 1;
    memset(it, 0, sizeof *it);
    it->gen = gen;
    it->live = 1;
    it->id = ev->id;
    req_entry *owner = NULL; /* NEED REQ: the request (the map does not move until the end) */
    if (e->needs && ev->need == VTRACE_NEED_REQUEST && !(owner = vreplay__need_owner(e)))
        return;
    uint64_t t0 = time_start(e);
    if (tc_serves(e, ev)) {
        uint64_t off;
        vram_status st = tc_alloc(e, ev->size, &off);
        if (st == VRAM_OK) {
            timed(e, VREPLAY_OP_ALLOC, t0);
            it->h.v = off + 1;
            it->size_lane = ev->size | (uint64_t)LANE_TC << LANE_SHIFT;
            note_live(e, ev->size);
            vreplay__need_alloc(e, it, owner, 0);
            return;
        }
        if (st != VRAM_ENOMEM && st != VRAM_EINVAL) {
            it->h.v = 0;
            vreplay__library_failure(e, "the tensor cache", st);
            return;
        }
    }
    int lane = vreplay_pooled(e->block, ev->kind, NULL, ev->size) ? e->kv_lane : LANE_MAIN;
    vram_alloc_desc d = {.size = ev->size, .align = ev->align, .priority = ev->priority,
                         .kind = ev->kind, .backing = vreplay_backing_of(ev->kind),
                         .remat = reload_weights};
    if (recomputed(e, ev->kind == VRAM_KIND_KV)) {
        d.backing = VRAM_BACKING_CALLBACK;
        d.remat = vreplay__recompute;
        d.remat_ctx = e;
    }
    /* What a step needs is pinned from its allocation on (replay_need.c). */
    d.pinned = e->needs && vreplay__need_holds_now(e, owner);
    vram_status st = vram_alloc(e->lane[lane], &d, &it->h);
    timed(e, VREPLAY_OP_ALLOC, t0);
    while (st == VRAM_ENOMEM && e->needs) {
        int p = vreplay__need_preempt(e, lane, ev->need == VTRACE_NEED_REQUEST, ev->owner,
                                      ev->size);
        if (p <= 0)
            break;
        d.pinned = vreplay__need_holds_now(e, owner); /* the asking request may be preempted */
        st = vram_alloc(e->lane[lane], &d, &it->h);
    }
    if (e->done)
        return;
    it->size_lane = ev->size | (uint64_t)lane << LANE_SHIFT;
    if (st == VRAM_OK) {
        note_reserved(e, lane);
        note_live(e, ev->size);
        vreplay__need_alloc(e, it, owner, d.pinned);
        return;
    }
    it->h.v = 0;
    vreplay__need_alloc(e, it, owner, 0);
    if (st == VRAM_ENOMEM)
        vreplay__record_oom(e, lane, "alloc", ev->size);
    else if (st == VRAM_EINVAL || st == VRAM_EUNSUPPORTED)
        record_refusal(e, "alloc", ev->size, st);
    else
        vreplay__library_failure(e, "vram_alloc", st);
}

static void do_free_or_use(engine *e)
{
    const vtrace_event *ev = &e->ev;
    int is_free = ev->type == VTRACE_FREE;
    if (e->slot == VEVS_NO_SLOT) {
        not_live(e, is_free ? "free" : "use");
        return;
    }
    id_entry *it = &e->ids[e->slot];
    int held = is_free && e->needs ? vreplay__need_free(e, it) : 0;
    if (held < 0)
        return;
    if (it->h.v == 0) {
        e->res->skipped++;
        if (is_free)
            it->live = 0;
        return;
    }
    if (id_lane(it) == LANE_TC) {
        /* A use needs nothing: activations and workspaces are never evicted. */
        if (!is_free)
            return;
        uint64_t size = id_size(it), t0 = time_start(e);
        vram_status st = tc_free(e, size, it->h.v - 1);
        timed(e, VREPLAY_OP_FREE, t0);
        it->live = 0;
        if (st)
            vreplay__library_failure(e, "the tensor cache's free", st);
        else
            e->live -= size;
        return;
    }
    vram_manager *m = e->lane[id_lane(it)];
    uint64_t t0 = time_start(e);
    vram_status st = !is_free ? vram_touch(m, it->h)
                     : held   ? vram_unpin_free(m, it->h)
                              : vram_free(m, it->h);
    timed(e, is_free ? VREPLAY_OP_FREE : VREPLAY_OP_USE, t0);
    while (!is_free && st == VRAM_ENOMEM && e->needs) {
        int p = vreplay__need_preempt(e, id_lane(it), it->need == VTRACE_NEED_REQUEST,
                                      it->owner, id_size(it));
        if (p <= 0)
            break;
        st = vram_touch(m, it->h);
    }
    if (e->done)
        return;
    if (!is_free && !st)
        note_reserved(e, id_lane(it));
    if (is_free) {
        uint64_t size = id_size(it);
        it->live = 0;
        if (st)
            vreplay__library_failure(e, "vram_free of a live handle", st);
        else
            e->live -= size;
    } else if (st == VRAM_ENOMEM) {
        vreplay__record_oom(e, id_lane(it), "use", id_size(it));
    } else if (st) {
        vreplay__library_failure(e, "vram_touch", st);
    }
}

static void do_acquire(engine *e)
{
    const vtrace_event *ev = &e->ev;
    int created;
    key_entry *k = vsim_keymap_put(e->keys, ev->key, &created);
    if (!k) {
        vreplay__library_failure(e, "the key map", VRAM_ENOHOST);
        return;
    }
    if (created) {
        k->size = ev->size;
        k->lane = (uint32_t)(vreplay_pooled(e->block, VRAM_KIND_OTHER, ev->key, ev->size)
                                 ? e->kv_lane
                                 : LANE_MAIN);
    } else if (k->size != ev->size) {
        char text[160];
        snprintf(text, sizeof text, "acquire of key \"%s\" with size %llu, held with size %llu",
                 ev->key, (unsigned long long)ev->size, (unsigned long long)k->size);
        vreplay__trace_error(e, text);
        return;
    }
    vram_handle h;
    int lane = (int)k->lane;
    int recompute = recomputed(e, strncmp(ev->key, "kv:", 3) == 0);
    vram_remat_fn loader = recompute ? vreplay__recompute : reload_weights;
    void *loader_ctx = recompute ? e : NULL;
    uint64_t t0 = time_start(e);
    vram_status st = vram_acquire_shared(e->lane[lane], ev->key, ev->size, ev->priority, loader,
                                         loader_ctx, &h);
    timed(e, VREPLAY_OP_ACQUIRE, t0);
    while (st == VRAM_ENOMEM && e->needs) {
        int p = vreplay__need_preempt(e, lane, ev->need == VTRACE_NEED_REQUEST, ev->owner,
                                      ev->size);
        if (p <= 0)
            break;
        st = vram_acquire_shared(e->lane[lane], ev->key, ev->size, ev->priority, loader,
                                 loader_ctx, &h);
    }
    if (e->done)
        return;
    if (st == VRAM_OK)
        k->h = h;
    vreplay__need_acquire(e, k, st);
    if (st == VRAM_OK) {
        note_reserved(e, lane);
        if (k->held++ == 0)
            note_live(e, ev->size);
        return;
    }
    k->failed++;
    if (st == VRAM_ENOMEM)
        vreplay__record_oom(e, (int)k->lane, "acquire", ev->size);
    else if (st == VRAM_EINVAL || st == VRAM_EUNSUPPORTED)
        record_refusal(e, "acquire", ev->size, st);
    else
        vreplay__library_failure(e, "vram_acquire_shared", st);
}

/* A release drops a failed acquisition first when there is one: the holders
 * that did get the buffer keep it as long as possible. */
static void do_release(engine *e)
{
    const vtrace_event *ev = &e->ev;
    key_entry *k = vsim_keymap_get(e->keys, ev->key);
    if (!k) {
        char text[128];
        snprintf(text, sizeof text, "release of key \"%s\", which is not held", ev->key);
        vreplay__trace_error(e, text);
        return;
    }
    int failed_ref = k->failed != 0;
    if (e->needs && vreplay__need_release(e, k, &failed_ref) < 0)
        return;
    if (failed_ref) {
        k->failed--;
        e->res->skipped++;
    } else {
        uint64_t t0 = time_start(e);
        vram_status st = vram_release_shared(e->lane[k->lane], ev->key);
        timed(e, VREPLAY_OP_RELEASE, t0);
        if (st) {
            vreplay__library_failure(e, "vram_release_shared of a held key", st);
            return;
        }
        if (--k->held == 0)
            e->live -= k->size;
    }
    if (k->held == 0 && k->failed == 0)
        vsim_keymap_remove(e->keys, ev->key);
}

static void check_invariants(engine *e)
{
    char text[256];
    for (int i = 0; i < e->lanes && !e->done; i++) {
        vram_status st = vram_manager_check(e->lane[i], text, sizeof text);
        if (st == VRAM_ECORRUPT)
            fail_run(e, "violation", e->ev.line, "%s:%llu: invariant violated after this event: %s",
                     e->opt->trace_path, (unsigned long long)e->ev.line, text);
        else if (st)
            vreplay__library_failure(e, "vram_manager_check", st);
    }
    if (!e->done && vreplay__need_check(e, text, sizeof text))
        fail_run(e, "violation", e->ev.line,
                 "%s:%llu: needed-memory invariant violated after this event: %s",
                 e->opt->trace_path, (unsigned long long)e->ev.line, text);
    if (e->tc && !e->done &&
        (vram_tensor_cache_check(e->tc, text, sizeof text) ||
         vram_heap_check(e->tc_heap, text, sizeof text)))
        fail_run(e, "violation", e->ev.line,
                 "%s:%llu: tensor cache invariant violated after this event: %s",
                 e->opt->trace_path, (unsigned long long)e->ev.line, text);
    if (e->prefix && !e->done && vrprefix_check(e->prefix, text, sizeof text))
        fail_run(e, "violation", e->ev.line,
                 "%s:%llu: prefix cache invariant violated after this event: %s",
                 e->opt->trace_path, (unsigned long long)e->ev.line, text);
}

/* A prefix-cache event (replay_prefix.h); a contradiction ends the run at its line. */
static void prefix_event(engine *e)
{
    char err[512];
    vram_status st = e->prefix ? vrprefix_event(e->prefix, &e->ev, e->opt->trace_path, err,
                                                sizeof err)
                               : VRAM_OK;
    if (st)
        fail_run(e, st == VRAM_EPARSE ? "trace_error" : "error", e->ev.line, "%s", err);
}

static void dispatch(engine *e)
{
    switch (e->ev.type) {
    case VTRACE_ALLOC:
        do_alloc(e);
        if (e->prefix && e->ev.kind == VRAM_KIND_KV && e->ev.need == VTRACE_NEED_REQUEST)
            prefix_event(e); /* a block the request took */
        break;
    case VTRACE_FREE:
    case VTRACE_USE:
        do_free_or_use(e);
        break;
    case VTRACE_SHARED_ACQUIRE:
        do_acquire(e);
        break;
    case VTRACE_SHARED_RELEASE:
        do_release(e);
        break;
    case VTRACE_STEP:
        e->res->steps++;
        vreplay__need_step(e);
        break;
    case VTRACE_REQUEST_BEGIN:
        e->res->requests++;
        if (e->needs)
            vreplay__need_begin(e);
        break;
    case VTRACE_REQUEST_END:
        if (e->needs)
            vreplay__need_end(e);
        prefix_event(e);
        break;
    case VTRACE_PNODE:
    case VTRACE_LOOKUP:
    case VTRACE_FILL:
        prefix_event(e);
        break;
    case VTRACE_PIN:
        vreplay__need_pin(e);
        break;
    case VTRACE_UNPIN:
        vreplay__need_unpin(e);
        break;
    default:
        break;
    }
}

/* The line number in a reader error "FILE:LINE: ...", 0 if none. */
static uint64_t error_line(const char *err, const char *path)
{
    size_t n = strlen(path);
    if (strncmp(err, path, n) != 0 || err[n] != ':')
        return 0;
    uint64_t line = 0;
    for (const char *p = err + n + 1; *p >= '0' && *p <= '9'; p++)
        line = line * 10 + (uint64_t)(*p - '0');
    return line;
}

/* Counts down every N events (no division per event); 1 when the N-th came. */
static int every(uint64_t *left, uint64_t n)
{
    if (n == 0 || --*left != 0)
        return 0;
    *left = n;
    return 1;
}

static void replay_loop(engine *e)
{
    const vreplay_options *o = e->opt;
    uint64_t progress_every = o->progress ? o->progress_every : 0;
    uint64_t to_sample = o->sample_every, to_defrag = o->defrag_every;
    uint64_t to_check = o->check_every, to_progress = progress_every;
    int got = 0;
    while (!e->done && (got = vevs_next(e->c, &e->ev, &e->slot)) == 1) {
        /* The next event's id entry is most often cold (an id freed long
         * after its alloc): fetched while this event's calls run. */
        uint32_t next = vevs_peek_slot(e->c);
        if (next < e->nids)
            __builtin_prefetch(&e->ids[next]);
        e->index++;
        if (o->position) {
            o->position->line = e->ev.line;
            o->position->event = e->index;
        }
        dispatch(e);
        if (plugin_violated(e) && !e->done)
            plugin_violation(e); /* met in a call whose failure the manager absorbed */
        if (every(&to_sample, o->sample_every) && !e->done)
            take_sample(e);
        if (every(&to_defrag, o->defrag_every) && !e->done)
            defrag_pass(e);
        if (every(&to_check, o->check_every) && !e->done)
            check_invariants(e);
        if (o->inspect && e->index == o->inspect_at && !e->done)
            o->inspect(o->inspect_ctx, e->index, e->lane, e->lanes);
        if (every(&to_progress, progress_every))
            o->progress(o->progress_ctx, e->index);
        if (o->stop && *o->stop && !e->done) {
            e->res->status = VREPLAY_RUN_INTERRUPTED;
            msg(e, "interrupted after event %llu (%s:%llu)", (unsigned long long)e->index,
                o->trace_path, (unsigned long long)e->ev.line);
            e->done = 1;
        }
    }
    if (!e->done && got < 0) {
        const char *err = vevs_error(e->c);
        fail_run(e, "trace_error", error_line(err, o->trace_path), "%s", err);
    }
    /* The final state, unless the last event was sampled (checked) already. */
    if (!e->done && o->sample_every && e->index % o->sample_every != 0)
        take_sample(e);
    if (!e->done && o->check_every && e->index % o->check_every != 0)
        check_invariants(e);
    /* A plugin's heap is checked at the end in any case (its walk against the shadow). */
    if (!e->done && e->plugin && !o->check_every)
        check_invariants(e);
}

void vreplay_trace_crc32(const char *path, char hex[9], uint64_t *bytes)
{
    hex[0] = '\0';
    *bytes = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    unsigned char buf[1 << 16];
    uLong crc = crc32(0L, Z_NULL, 0);
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        crc = crc32(crc, buf, (uInt)n);
        *bytes += n;
    }
    if (!ferror(f))
        snprintf(hex, 9, "%08lx", (unsigned long)crc);
    fclose(f);
}

static vram_status lane_create(engine *e, int lane, const char *policy, uint64_t capacity,
                               uint64_t block)
{
    char why[256] = "";
    vram_manager_config c;
    memset(&c, 0, sizeof c);
    c.device.backend = e->opt->backend;
    c.device.capacity = capacity;
    c.device.errbuf = why;
    c.device.errbuf_len = sizeof why;
    c.heap_policy = policy;
    if (e->plugin && lane == LANE_MAIN)
        c.heap_ops = vplugin_heap_ops(e->plugin);
    c.heap.block_size = block;
    c.heap.caching = e->opt->caching;
    c.evict_policy = e->opt->evict_policy;
    c.evict = 1;
    c.defrag_on_oom = e->opt->defrag_on_oom;
    vram_status st = vram_manager_create(&c, &e->lane[lane]);
    if (st) {
        e->lane[lane] = NULL;
        e->device_failed = why[0] != '\0';
        if (why[0])
            msg(e, "%s", why);
        else
            msg(e, "cannot create a manager with the %s policy over %llu bytes: %s", policy,
                (unsigned long long)capacity, vram_strerror(st));
    }
    return st;
}

/* The tensor cache's heap (bestfit over its bytes) and the cache; VRAM_OK,
 * or a status with the message set. */
static vram_status tc_create(engine *e, uint64_t capacity)
{
    uint64_t bytes = e->opt->tensor_cache;
    if (bytes >= capacity || bytes % VRAM_DEFAULT_ALIGN) {
        msg(e, "tensor cache: %llu bytes is not a multiple of %u below the device's %llu",
            (unsigned long long)bytes, VRAM_DEFAULT_ALIGN, (unsigned long long)capacity);
        return VRAM_EINVAL;
    }
    vram_heap_config hc = {.capacity = bytes};
    vram_status st = vram_heap_create(vram_heap_policy("bestfit"), &hc, &e->tc_heap);
    vram_tensor_cache_config tcc = {.limit_bytes = bytes};
    if (!st)
        st = vram_tensor_cache_create(e->tc_heap, &tcc, &e->tc);
    if (st)
        msg(e, "cannot create a tensor cache of %llu bytes: %s", (unsigned long long)bytes,
            vram_strerror(st));
    return st;
}

/* Sets up the lanes; VRAM_OK, or a status with the message set. */
static vram_status lanes_create(engine *e, const vtrace_header *hdr, uint64_t capacity)
{
    const char *policy = e->opt->policy;
    e->capacity = e->res->capacity = capacity;
    e->kv_lane = LANE_MAIN;
    e->block = hdr->kv_block_bytes;
    if (e->opt->tensor_cache) {
        vram_status st = tc_create(e, capacity);
        if (st)
            return st;
        capacity -= e->opt->tensor_cache;
    }
    if (e->plugin)
        vplugin_describe(e->plugin, e->res->layout, sizeof e->res->layout);
    if (strcmp(policy, "pool") != 0) {
        e->lanes = 1;
        e->caching = strcmp(policy, "caching") == 0;
        return lane_create(e, LANE_MAIN, policy, capacity, 0);
    }
    uint64_t block = hdr->kv_block_bytes;
    if (block == 0) {
        msg(e, "pool serves one block size: the trace has no kv_block_bytes (%s engine)",
            hdr->engine);
        return VRAM_EUNSUPPORTED;
    }
    if (!e->opt->bounds) {
        msg(e, "pool sizes its KV lane from the trace's peak non-KV bytes: needs the bounds");
        return VRAM_EUNSUPPORTED;
    }
    uint64_t other = e->opt->bounds->peak_live_other;
    /* other + 1/16 in whole blocks, or UINT64_MAX when that does not fit 64 bits */
    uint64_t reserve;
    if (__builtin_add_overflow(other, other / 16, &reserve) ||
        __builtin_add_overflow(reserve, block - 1, &reserve))
        reserve = UINT64_MAX;
    else
        reserve = reserve / block * block;
    if (reserve == 0)
        reserve = block;
    uint64_t kv = reserve < capacity ? (capacity - reserve) / block * block : 0;
    if (kv == 0) {
        char need[32] = "2^64 or more";
        if (reserve != UINT64_MAX)
            snprintf(need, sizeof need, "%llu", (unsigned long long)reserve);
        msg(e, "pool: no room for a KV block of %llu B: the lanes have %llu B of the device and"
               " the non-KV lane needs %s B (peak other live %llu B + 1/16, in whole blocks)",
            (unsigned long long)block, (unsigned long long)capacity, need,
            (unsigned long long)other);
        return VRAM_EUNSUPPORTED;
    }
    snprintf(e->res->layout, sizeof e->res->layout,
             "vLLM layout: block-sized kv from a pool of %llu blocks of %llu B (%llu B); other"
             " from bestfit (%llu B = peak other live + 1/16); footprint = sum of both lanes",
             (unsigned long long)(kv / block), (unsigned long long)block, (unsigned long long)kv,
             (unsigned long long)(capacity - kv));
    e->lanes = 2;
    e->kv_lane = LANE_KV;
    vram_status st = lane_create(e, LANE_MAIN, "bestfit", capacity - kv, 0);
    if (!st)
        st = lane_create(e, LANE_KV, "pool", kv, block);
    return st;
}

static void summarise(engine *e, vdb_summary *s)
{
    vreplay_result *r = e->res;
    for (int i = 0; i < e->lanes && e->lane[i]; i++) {
        vram_manager_stats m;
        vram_manager_stats_get(e->lane[i], &m);
        for (int k = 0; k < VRAM_KIND_COUNT; k++) {
            r->evictions_by_kind[k] += m.evictions_by_kind[k];
            r->bytes_evicted_by_kind[k] += m.bytes_evicted_by_kind[k];
        }
        r->rematerialisations += m.rematerialisations;
        r->bytes_rematerialised += m.bytes_rematerialised;
        r->peak_footprint += m.heap.peak_footprint;
        r->peak_in_use += m.heap.peak_in_use;
        r->modelled_ns += lane_modelled_ns(e, i, &m);
        r->defrag_passes += m.defrag_passes;
        r->defrag_moves += m.defrag_moves;
        r->defrag_bytes_moved += m.defrag_bytes_moved;
        r->defrag_oom_saved += m.defrag_oom_saved;
        r->defrag_modelled_ns += m.defrag_modelled_ns;
    }
    /* The drops of preempted requests are preemptions, not the policy's evictions. */
    for (int k = 0; k < VRAM_KIND_COUNT; k++) {
        r->evictions_by_kind[k] -= e->dropped_by_kind[k];
        r->bytes_evicted_by_kind[k] -= e->dropped_bytes_by_kind[k];
        r->evictions += r->evictions_by_kind[k];
        r->bytes_evicted += r->bytes_evicted_by_kind[k];
    }
    r->needs = e->needs;
    r->rematerialisations -= e->undone_remats;
    r->bytes_rematerialised -= e->undone_remat_bytes;
    r->preempt_ns += e->recompute_ns;
    r->modelled_ns += e->recompute_ns;
    r->has_unallocated = e->caching;
    if (e->tc) {
        vram_heap_stats h;
        vram_heap_stats_get(e->tc_heap, &h);
        vram_tensor_cache_stats ts;
        vram_tensor_cache_stats_get(e->tc, &ts);
        r->tc_hits = ts.hits;
        r->tc_misses = ts.misses;
        r->tc_peak_footprint = h.peak_footprint;
        r->peak_footprint += h.peak_footprint;
        r->peak_in_use += h.peak_in_use;
    }
    r->events = e->index;
    if (e->prefix && vrprefix_result_get(e->prefix, e->ran, &r->prefix))
        vreplay__library_failure(e, "the prefix cache's references", VRAM_ENOHOST);
    memset(s, 0, sizeof *s);
    s->events = r->events;
    s->steps = r->steps;
    s->requests = r->requests;
    s->skipped = r->skipped;
    s->errors = r->errors;
    s->ooms = r->ooms;
    s->ooms_despite_free = r->ooms_despite_free;
    s->evictions = r->evictions;
    s->rematerialisations = r->rematerialisations;
    s->bytes_evicted = r->bytes_evicted;
    s->bytes_rematerialised = r->bytes_rematerialised;
    s->peak_footprint = r->peak_footprint;
    s->peak_in_use = r->peak_in_use;
    s->peak_live = r->peak_live;
    s->samples = r->samples;
    s->worst_ext_frag = r->worst_ext_frag;
    s->alloc_p50_ns = vhist_quantile(&r->lat[VREPLAY_OP_ALLOC], 0.50);
    s->alloc_p99_ns = vhist_quantile(&r->lat[VREPLAY_OP_ALLOC], 0.99);
    s->free_p50_ns = vhist_quantile(&r->lat[VREPLAY_OP_FREE], 0.50);
    s->free_p99_ns = vhist_quantile(&r->lat[VREPLAY_OP_FREE], 0.99);
    s->defrag_passes = r->defrag_passes;
    s->defrag_moves = r->defrag_moves;
    s->defrag_bytes_moved = r->defrag_bytes_moved;
    s->defrag_oom_saved = r->defrag_oom_saved;
    s->defrag_modelled_ms = r->defrag_modelled_ns / 1e6;
    s->has_unallocated = r->has_unallocated;
    s->reserved_unallocated = r->reserved_unallocated;
    s->has_tensor_cache = e->tc != NULL;
    s->tc_hits = r->tc_hits;
    s->tc_misses = r->tc_misses;
    s->tc_idle_peak = r->tc_idle_peak;
    s->tc_peak_footprint = r->tc_peak_footprint;
    if (e->needs) {
        s->preempt_mode = e->swap ? "swap" : "recompute";
        s->preemptions = r->preemptions;
        s->preempted_bytes = r->preempted_bytes;
        s->restores = r->restores;
        s->restore_waits = r->restore_waits;
        s->recompute_tokens = r->recompute_tokens;
        s->preempt_modelled_ms = r->preempt_ns / 1e6;
    }
    s->evictions_by_kind[0] = r->evictions_by_kind[VRAM_KIND_WEIGHT];
    s->evictions_by_kind[1] = r->evictions_by_kind[VRAM_KIND_KV];
    s->evictions_by_kind[2] = r->evictions_by_kind[VRAM_KIND_ADAPTER];
    s->prefix = r->prefix.on ? &r->prefix : NULL;
    s->evictions_by_kind[3] = r->evictions - s->evictions_by_kind[0] - s->evictions_by_kind[1] -
                              s->evictions_by_kind[2];
    s->modelled_ms = r->modelled_ns / 1e6;
    s->wall_s = r->wall_s;
    s->events_per_s = r->wall_s > 0 ? (double)r->events / r->wall_s : 0;
}

/* Writes the run's closing rows and its status; VRAM_EIO if the database failed. */
static vram_status close_run(engine *e, const vdb_summary *s)
{
    vdb *db = e->opt->db;
    vreplay_result *r = e->res;
    if (!db || !r->run_id)
        return VRAM_OK;
    if (e->ran) {
        vram_status w = VRAM_OK;
        for (int op = 0; op < VREPLAY_OP_COUNT && !w; op++)
            w = db_check(e, vdb_latency_add(db, r->run_id, vreplay_op_name((vreplay_op)op),
                                            &r->lat[op]));
        if (!w && e->opt->bounds)
            db_check(e, vdb_bounds_add(db, r->run_id, e->opt->bounds));
    }
    const char *status = r->status == VREPLAY_RUN_OK            ? "ok"
                         : r->status == VREPLAY_RUN_INTERRUPTED ? "interrupted"
                                                                : "failed";
    const char *detail = r->message[0] ? r->message : NULL;
    if (vdb_run_end(db, r->run_id, status, detail, s) == VRAM_OK)
        return VRAM_OK;
    /* The database failed; vdb_run_end marked the run failed if it still could. */
    r->status = VREPLAY_RUN_FAILED;
    snprintf(r->message, sizeof r->message, "%s", vdb_error(db));
    return VRAM_EIO;
}

static vram_status begin_run(engine *e, const vtrace_header *hdr, uint64_t capacity)
{
    vdb *db = e->opt->db;
    if (!db)
        return VRAM_OK;
    char crc[9], defrag[32] = "off";
    uint64_t bytes = e->opt->trace_bytes;
    if (e->opt->trace_crc32) {
        snprintf(crc, sizeof crc, "%s", e->opt->trace_crc32);
    } else if (e->opt->trace_data) {
        bytes = e->opt->trace_size;
        snprintf(crc, sizeof crc, "%08lx",
                 (unsigned long)crc32_z(crc32(0L, Z_NULL, 0), e->opt->trace_data, bytes));
    } else {
        vreplay_trace_crc32(e->opt->trace_path, crc, &bytes);
    }
    if (e->opt->defrag_every)
        snprintf(defrag, sizeof defrag, "every=%llu", (unsigned long long)e->opt->defrag_every);
    else if (e->opt->defrag_on_oom)
        snprintf(defrag, sizeof defrag, "on-oom");
    vdb_run_info info = {
        .trace = e->opt->trace_path, .trace_crc32 = crc[0] ? crc : NULL, .trace_bytes = bytes,
        .model = hdr ? hdr->model : NULL, .engine = hdr ? hdr->engine : NULL,
        .policy = e->plugin ? vplugin_label(e->plugin) : e->opt->policy,
        .backend = e->opt->backend ? e->opt->backend : "sim",
        .evict_policy = e->opt->evict_policy, .capacity = capacity,
        .sample_every = e->opt->sample_every, .check_every = e->opt->check_every,
        .time_every = e->time_every,
        .options = e->opt->options_text, .defrag = defrag, .layout = e->res->layout,
        .caching_conf = strcmp(e->opt->policy, "caching") == 0 ? e->opt->caching_conf : NULL,
        .tensor_cache = e->opt->tensor_cache};
    vram_status st = vdb_run_begin(db, &info, &e->res->run_id);
    if (st) {
        e->res->status = VREPLAY_RUN_FAILED;
        msg(e, "%s", vdb_error(db));
    }
    return st;
}

static void engine_free(engine *e)
{
    for (int i = 0; i < MAX_LANES; i++)
        vram_manager_destroy(e->lane[i], NULL);
    vram_tensor_cache_destroy(e->tc);
    vram_heap_destroy(e->tc_heap);
    vreplay__need_close(e);
    vrprefix_destroy(e->prefix);
    free(e->ids);
    vsim_keymap_destroy(e->keys);
    vevs_close(e->c);
    vplugin_close(e->plugin); /* after the lanes: their heaps are the plugin's */
}

/* Opens the trace; on failure the run (if logged) is marked failed. */
static vram_status open_trace(engine *e, uint64_t *capacity)
{
    char err[512] = "";
    const vreplay_options *o = e->opt;
    vram_status st = vevs_open(o->stream, o->trace_path, o->trace_data, o->trace_size, &e->c, err,
                               sizeof err);
    if (st) {
        if (!err[0])
            snprintf(err, sizeof err, "%s: cannot open trace: %s", e->opt->trace_path,
                     vram_strerror(st));
        vdb_summary none;
        memset(&none, 0, sizeof none);
        if (begin_run(e, NULL, e->opt->capacity))
            return VRAM_EIO;
        fail_run(e, "trace_error", error_line(err, e->opt->trace_path), "%s", err);
        return close_run(e, &none) ? VRAM_EIO : st;
    }
    *capacity = e->opt->capacity ? e->opt->capacity : vevs_header(e->c)->capacity;
    /* A stream in memory knows every slot: no growth while replaying. */
    e->nids = vevs_slots(e->c);
    if (e->nids && !(e->ids = calloc(e->nids, sizeof *e->ids))) {
        snprintf(e->res->message, sizeof e->res->message, "out of host memory");
        return VRAM_ENOHOST;
    }
    return VRAM_OK;
}

vram_status vreplay_run(const vreplay_options *opt, vreplay_result *out)
{
    memset(out, 0, sizeof *out);
    for (int op = 0; op < VREPLAY_OP_COUNT; op++)
        vhist_init(&out->lat[op]);
    vclock_init();
    out->timer_ns = timer_cost_ns();
    engine e;
    memset(&e, 0, sizeof e);
    e.opt = opt;
    e.res = out;
    e.time_every = e.to_time = opt->time_every ? opt->time_every : 1;
    if (!opt->trace_path) {
        snprintf(out->message, sizeof out->message, "no trace given (trace_path is NULL)");
        return VRAM_EINVAL;
    }
    if (!opt->policy || (!vram_heap_policy(opt->policy) && !vplugin_is_spec(opt->policy))) {
        snprintf(out->message, sizeof out->message, "unknown heap policy \"%s\"",
                 opt->policy ? opt->policy : "(none)");
        return VRAM_EINVAL;
    }
    if (opt->evict_policy && !vram_evict_policy(opt->evict_policy)) {
        snprintf(out->message, sizeof out->message, "unknown eviction policy \"%s\"",
                 opt->evict_policy);
        return VRAM_EINVAL;
    }
    vram_status st = VRAM_OK;
    if (vplugin_is_spec(opt->policy)) {
        /* Not a run: a plugin that does not load is a usage error, logged nowhere. */
        st = vplugin_open(opt->policy, &e.plugin, out->message, sizeof out->message);
        if (st)
            return st;
    }
    st = vsim_keymap_create(sizeof(key_entry), &e.keys);
    uint64_t capacity = 0;
    if (!st)
        st = open_trace(&e, &capacity);
    if (st) {
        engine_free(&e);
        return st;
    }
    const vtrace_header *hdr = vevs_header(e.c);
    st = vreplay__need_open(&e, hdr);
    if (st) {
        snprintf(out->message, sizeof out->message, "out of host memory");
        engine_free(&e);
        return st;
    }
    st = vrprefix_create(hdr, &opt->prefix, e.prefill_tokens_per_s, &e.prefix, out->message,
                         sizeof out->message);
    if (st) {
        engine_free(&e);
        return st;
    }
    vram_status setup = lanes_create(&e, hdr, capacity);
    if ((setup == VRAM_EUNSUPPORTED || setup == VRAM_EINVAL) && !e.device_failed) {
        /* Not a run: nothing is logged, the message says why. */
        out->status = VREPLAY_RUN_NOT_APPLICABLE;
        engine_free(&e);
        return VRAM_OK;
    }
    st = begin_run(&e, hdr, capacity);
    if (st) {
        engine_free(&e);
        return st;
    }
    if (opt->position)
        opt->position->run_id = out->run_id;
    if (setup) {
        char why[sizeof out->message];
        memcpy(why, out->message, sizeof why);
        fail_run(&e, "error", 0, "%s", why);
    } else {
        uint64_t t0 = vclock_mono_ns();
        replay_loop(&e);
        out->wall_s = (double)(vclock_mono_ns() - t0) / 1e9;
        e.ran = 1;
    }
    vdb_summary sum;
    summarise(&e, &sum);
    st = close_run(&e, &sum);
    engine_free(&e);
    return st ? st : setup;
}
