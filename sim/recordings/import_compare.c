/* import_compare.c - the caching policy against PyTorch's own record
 * (vimport_torch_compare, import.h): the snapshot's allocations replayed
 * through a "caching" heap with the recorded settings, segment by segment
 * against the history's segment_alloc, segment_free, segment_map and
 * segment_unmap entries.
 *
 * PyTorch writes a malloc's segment entries before its `alloc` (or `oom`)
 * entry: segments released to make room, the garbage collector's, the new
 * segment or pages. So each segment entry belongs to the next record (alloc,
 * free_completed or oom); those after the last record belong to the end. Our
 * side is the heap's counters (vram_caching_stats) before and after the same
 * record's call: an alloc, a free, or, for an oom, the failed request itself
 * (freed at once should ours place it). A record agrees when both sides made
 * the same segments (sizes as multisets), mapped the same bytes, freed the same
 * number of segments and bytes, and unmapped the same bytes. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import_torch_internal.h"
#include "vram/caching.h"
#include "vram/heap.h"

#define MAX_ALLOCS 8 /* segment_alloc entries one record keeps apart (more: counted) */

/* One side's segment activity for one record. */
typedef struct side {
    uint64_t allocs, alloc_bytes;
    uint64_t sizes[MAX_ALLOCS]; /* the first MAX_ALLOCS sizes, sorted when compared */
    uint64_t maps, map_bytes;
    uint64_t frees, free_bytes;
    uint64_t unmaps, unmap_bytes;
    int oom;
} side;

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void sort_sizes(side *s)
{
    size_t n = s->allocs < MAX_ALLOCS ? (size_t)s->allocs : MAX_ALLOCS;
    qsort(s->sizes, n, sizeof s->sizes[0], cmp_u64);
}

static int empty(const side *s)
{
    return !s->allocs && !s->maps && !s->frees && !s->unmaps && !s->oom;
}

/* PyTorch's segment allocations (or pages mapped) at this record that ours
 * reproduces: equal sizes, or the same bytes mapped. */
static uint64_t reproduced(const side *t, const side *o)
{
    uint64_t n = 0;
    size_t nt = t->allocs < MAX_ALLOCS ? (size_t)t->allocs : MAX_ALLOCS;
    size_t no = o->allocs < MAX_ALLOCS ? (size_t)o->allocs : MAX_ALLOCS;
    for (size_t i = 0, j = 0; i < nt && j < no;) {
        if (t->sizes[i] == o->sizes[j])
            n++, i++, j++;
        else if (t->sizes[i] < o->sizes[j])
            i++;
        else
            j++;
    }
    if (t->maps && t->map_bytes == o->map_bytes)
        n += t->maps;
    return n;
}

static int agree(const side *t, const side *o)
{
    if (t->allocs != o->allocs || t->alloc_bytes != o->alloc_bytes ||
        t->map_bytes != o->map_bytes || t->frees != o->frees || t->free_bytes != o->free_bytes ||
        t->unmap_bytes != o->unmap_bytes || t->oom != o->oom)
        return 0;
    size_t n = t->allocs < MAX_ALLOCS ? (size_t)t->allocs : MAX_ALLOCS;
    return memcmp(t->sizes, o->sizes, n * sizeof t->sizes[0]) == 0;
}

/* "segment_alloc 20971520 + 2097152, segment_free 1 (2097152 bytes), map 20971520 bytes,
 * unmap ..., oom" or "nothing". */
static void describe(const side *s, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
#define PUT(...)                                                                                   \
    do {                                                                                           \
        int w_ = n < len ? snprintf(buf + n, len - n, __VA_ARGS__) : 0;                            \
        n += w_ > 0 ? (size_t)w_ : 0;                                                              \
    } while (0)
    if (s->allocs) {
        PUT("segment_alloc");
        size_t k = s->allocs < MAX_ALLOCS ? (size_t)s->allocs : MAX_ALLOCS;
        for (size_t i = 0; i < k; i++)
            PUT("%s%" PRIu64, i ? " + " : " ", s->sizes[i]);
        if (s->allocs > k)
            PUT(" + ... (%" PRIu64 " in all, %" PRIu64 " bytes)", s->allocs, s->alloc_bytes);
    }
    if (s->frees)
        PUT("%ssegment_free %" PRIu64 " (%" PRIu64 " bytes)", n ? ", " : "", s->frees,
            s->free_bytes);
    if (s->maps)
        PUT("%smap %" PRIu64 " bytes", n ? ", " : "", s->map_bytes);
    if (s->unmaps)
        PUT("%sunmap %" PRIu64 " bytes", n ? ", " : "", s->unmap_bytes);
    if (s->oom)
        PUT("%sout of memory", n ? ", " : "");
    if (!n)
        PUT("nothing");
#undef PUT
}

static void add_alloc(side *s, uint64_t size)
{
    if (s->allocs < MAX_ALLOCS)
        s->sizes[s->allocs] = size;
    s->allocs++;
    s->alloc_bytes += size;
}

/* Ours: the counters' change over one call. */
static side delta(const vram_caching_stats *a, const vram_caching_stats *b)
{
    side s = {0};
    uint64_t n = b->segment_allocs - a->segment_allocs;
    if (n == 1)
        add_alloc(&s, b->segment_alloc_bytes - a->segment_alloc_bytes);
    else if (n) { /* more than one in a call: sizes unknown, the total kept */
        s.allocs = n;
        s.alloc_bytes = b->segment_alloc_bytes - a->segment_alloc_bytes;
    }
    s.maps = b->maps - a->maps;
    s.map_bytes = b->map_bytes - a->map_bytes;
    s.frees = b->segment_frees - a->segment_frees;
    s.free_bytes = b->segment_free_bytes - a->segment_free_bytes;
    s.unmaps = b->unmaps - a->unmaps;
    s.unmap_bytes = b->unmap_bytes - a->unmap_bytes;
    return s;
}

/* Offsets of our blocks by recorded address. */
typedef struct placed {
    uint64_t off;
} placed;

typedef struct run {
    vimport__torch *t;
    int expandable;
    vram_heap *h;
    vsim_idmap *blocks;
    vimport_compare *out;
} run;

static vram_status fail(run *r, vram_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static vram_status fail(run *r, vram_status st, const char *fmt, ...)
{
    vimport__core *c = &r->t->core;
    if (c->err && c->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err, c->errlen, fmt, ap);
        va_end(ap);
    }
    return st;
}

static vram_status caching_now(run *r, vram_caching_stats *s)
{
    vram_status st = vram_heap_caching_stats(r->h, s);
    return st ? fail(r, st, "caching stats: %s", vram_strerror(st)) : VRAM_OK;
}

/* Our side of one record: the call, and what it did to the segments. */
static vram_status our_record(run *r, const char *action, uint64_t addr, uint64_t size,
                              int torch_released, side *o)
{
    vram_caching_stats a, b;
    vram_status st = caching_now(r, &a);
    if (st)
        return st;
    /* PyTorch released cached memory before this record: torch.cuda.empty_cache(),
     * which a trace does not hold, or the retry of a failed cudaMalloc. Ours
     * releases its cached memory too, so that what follows starts alike; the
     * releases are compared. */
    if (torch_released && (st = vram_heap_caching_empty_cache(r->h)))
        return fail(r, st, "empty_cache: %s", vram_strerror(st));
    r->out->mirrored_releases += (uint64_t)(torch_released != 0);
    int oom = 0;
    if (!strcmp(action, "alloc") || !strcmp(action, "oom")) {
        uint64_t off;
        st = vram_heap_alloc(r->h, size, 0, &off);
        if (st == VRAM_ENOMEM || (st == VRAM_EINVAL && size > r->t->capacity)) {
            oom = 1; /* above the capacity: no device would hold it */
            st = VRAM_OK;
        } else if (st) {
            return fail(r, st, "%s: the caching policy refused an allocation of %" PRIu64
                        " bytes: %s", r->t->path, size, vram_strerror(st));
        } else if (!strcmp(action, "oom")) {
            vram_heap_free(r->h, off); /* the program never got it */
        } else {
            placed *p = vsim_idmap_put(r->blocks, addr, &(int){0});
            if (!p)
                return fail(r, VRAM_ENOHOST, "out of host memory");
            p->off = off;
        }
    } else { /* free_completed of a block ours placed (pass 1 checked the history) */
        placed *p = vsim_idmap_get(r->blocks, addr);
        if (p) {
            vram_heap_free(r->h, p->off);
            vsim_idmap_remove(r->blocks, addr);
        }
    }
    if ((st = caching_now(r, &b)))
        return st;
    *o = delta(&a, &b);
    char msg[256];
    if (vram_heap_check(r->h, msg, sizeof msg))
        return fail(r, VRAM_ECORRUPT, "%s: the caching heap's check failed after a %s: %s",
                    r->t->path, action, msg);
    o->oom = oom;
    return VRAM_OK;
}

/* One record compared: counted, and the first departure described. */
static void compare_record(run *r, size_t entry, const char *what, side *t, side *o)
{
    vimport_compare *out = r->out;
    sort_sizes(t);
    sort_sizes(o);
    out->torch_allocs += t->allocs + t->maps;
    out->torch_alloc_bytes += t->alloc_bytes + t->map_bytes;
    out->torch_frees += t->frees + t->unmaps;
    out->torch_free_bytes += t->free_bytes + t->unmap_bytes;
    out->ours_allocs += o->allocs + o->maps;
    out->ours_alloc_bytes += o->alloc_bytes + o->map_bytes;
    out->ours_frees += o->frees + o->unmaps;
    out->ours_free_bytes += o->free_bytes + o->unmap_bytes;
    out->torch_ooms += (uint64_t)t->oom;
    out->ours_ooms += (uint64_t)o->oom;
    if (empty(t) && empty(o))
        return;
    out->records_compared++;
    out->matched += reproduced(t, o);
    if (agree(t, o)) {
        out->records_agreeing++;
        return;
    }
    if (out->departed++)
        return;
    out->departure_entry = entry;
    char ts[200], os[200];
    describe(t, ts, sizeof ts);
    describe(o, os, sizeof os);
    snprintf(out->departure, sizeof out->departure, "%s: PyTorch: %s; ours: %s", what, ts, os);
}

static uint64_t entry_uint(const vpickle_value *e, const char *key)
{
    const vpickle_value *v = vpickle_dict_get(e, key);
    return v && v->type == VPICKLE_INT && v->u.i > 0 ? (uint64_t)v->u.i : 0;
}

/* The pool of the dump's segment at or below addr (an expandable segment's
 * pages lie in its pool's range): 1 large, 0 small, -1 none. */
static int pool_below(const dump_state *d, uint64_t addr)
{
    int pool = -1;
    uint64_t best = 0;
    for (size_t i = 0; i < d->nsegs; i++)
        if (d->segs[i].addr <= addr && (pool < 0 || d->segs[i].addr >= best)) {
            best = d->segs[i].addr;
            pool = d->segs[i].large;
        }
    return pool;
}

typedef struct seen_seg {
    int first_is_free; /* 1: the history's first event at this address releases it */
    uint64_t size;
} seen_seg;

typedef struct start_seg {
    uint64_t addr, size;
    int large;
} start_seg;

static int by_seg_addr(const void *a, const void *b)
{
    const start_seg *x = a, *y = b;
    return (x->addr > y->addr) - (x->addr < y->addr);
}

/* The block size PyTorch gave a start block: the dump's for a block live there,
 * else the request rounded to 512 B. */
static uint64_t start_block_size(const dump_state *d, uint64_t addr, uint64_t requested)
{
    size_t lo = 0, hi = d->nlive; /* d->live is not sorted: a linear scan is O(n) per block */
    (void)lo;
    (void)hi;
    for (size_t i = 0; i < d->nlive; i++)
        if (d->live[i].addr == addr)
            return d->live[i].block_size;
    return (requested + 511) / 512 * 512;
}

/* Places the start blocks inside their recorded segments, at their recorded
 * offsets (vram_heap_caching_seed_segment). */
static vram_status seed_layout(run *r, start_seg *segs, size_t nsegs)
{
    vimport__core *c = &r->t->core;
    const dump_state *d = &r->t->dump;
    qsort(segs, nsegs, sizeof *segs, by_seg_addr);
    size_t n = c->n_start, k = 0; /* start blocks are in address order */
    uint64_t *at = malloc((n + 1) * sizeof *at), *bs = malloc((n + 1) * sizeof *bs);
    uint64_t *rq = malloc((n + 1) * sizeof *rq), *off = malloc((n + 1) * sizeof *off);
    vram_status st = at && bs && rq && off ? VRAM_OK : fail(r, VRAM_ENOHOST, "out of host memory");
    for (size_t i = 0; i < nsegs && !st; i++) {
        const start_seg *g = &segs[i];
        while (k < n && c->start[k].addr < g->addr)
            k++; /* below this segment: placed by the policy later */
        size_t m = 0, first = k;
        for (; k < n && c->start[k].addr < g->addr + g->size; k++) {
            uint64_t b = start_block_size(d, c->start[k].addr, c->start[k].size);
            if (c->start[k].addr + b > g->addr + g->size || b < c->start[k].size)
                continue; /* not inside: placed by the policy later */
            at[m] = c->start[k].addr - g->addr;
            bs[m] = b;
            rq[m] = c->start[k].size;
            m++;
        }
        st = vram_heap_caching_seed_segment(r->h, g->size, g->large, m, at, bs, rq, off);
        for (size_t j = 0, q = first; !st && j < m; q++) {
            if (c->start[q].addr - g->addr != at[j])
                continue;
            placed *p = vsim_idmap_put(r->blocks, c->start[q].addr, &(int){0});
            if (!p)
                st = fail(r, VRAM_ENOHOST, "out of host memory");
            else
                p->off = off[j++];
        }
        if (st == VRAM_EINVAL) /* a layout the seed refuses: the segment alone */
            st = vram_heap_caching_seed(r->h, g->size, g->large);
    }
    free(at);
    free(bs);
    free(rq);
    free(off);
    return st;
}

/* PyTorch's segments when the history began, made in ours before it: the
 * dump's that the history never touches and those it releases before making
 * them, each with the start blocks it held at their recorded offsets; with
 * expandable segments, each pool's mapped bytes then (the dump's less the
 * history's net mapping), the start blocks placed by the policy. */
static vram_status seed_start(run *r)
{
    const dump_state *d = &r->t->dump;
    const vpickle_value *entries = r->t->entries;
    const size_t n = entries ? vpickle_len(entries) : 0;
    vsim_idmap *seen = NULL;
    if (vsim_idmap_create(sizeof(seen_seg), &seen))
        return fail(r, VRAM_ENOHOST, "out of host memory");
    int64_t net[2] = {0, 0};
    for (size_t i = 0; i < n; i++) {
        const vpickle_value *e = vpickle_item(entries, i);
        const vpickle_value *act = vpickle_dict_get(e, "action");
        int make = vpickle_str_eq(act, "segment_alloc") || vpickle_str_eq(act, "segment_map");
        int drop = vpickle_str_eq(act, "segment_free") || vpickle_str_eq(act, "segment_unmap");
        if (!make && !drop)
            continue;
        uint64_t addr = entry_uint(e, "addr"), size = entry_uint(e, "size");
        const int mapping = vpickle_str_eq(act, "segment_map") || vpickle_str_eq(act, "segment_unmap");
        /* a small segment is 2 MiB, a large one never is; pages lie in their pool's range */
        int pool = mapping ? pool_below(d, addr) : size > 2 * 1048576;
        if (pool >= 0)
            net[pool] += make ? (int64_t)size : -(int64_t)size;
        if (mapping)
            continue;
        int created = 0;
        seen_seg *s = vsim_idmap_put(seen, addr, &created);
        if (!s) {
            vsim_idmap_destroy(seen);
            return fail(r, VRAM_ENOHOST, "out of host memory");
        }
        if (created)
            *s = (seen_seg){.first_is_free = drop, .size = size};
    }
    vram_status st = VRAM_OK;
    if (r->expandable) {
        int64_t mapped[2] = {0, 0};
        for (size_t i = 0; i < d->nsegs; i++)
            mapped[d->segs[i].large] += (int64_t)d->segs[i].size;
        for (int pool = 0; pool < 2 && !st; pool++)
            if (mapped[pool] - net[pool] > 0)
                st = vram_heap_caching_seed(r->h, (uint64_t)(mapped[pool] - net[pool]), pool);
    } else {
        start_seg *segs = malloc((d->nsegs + n + 1) * sizeof *segs);
        size_t ns = 0;
        if (!segs)
            st = fail(r, VRAM_ENOHOST, "out of host memory");
        for (size_t i = 0; segs && i < d->nsegs; i++)
            if (!vsim_idmap_get(seen, d->segs[i].addr))
                segs[ns++] = (start_seg){d->segs[i].addr, d->segs[i].size, d->segs[i].large};
        for (size_t i = 0; segs && i < n; i++) { /* released by the history before it made them */
            const vpickle_value *e = vpickle_item(entries, i);
            if (!vpickle_str_eq(vpickle_dict_get(e, "action"), "segment_free"))
                continue;
            seen_seg *s = vsim_idmap_get(seen, entry_uint(e, "addr"));
            if (s && s->first_is_free) {
                s->first_is_free = 0; /* once */
                /* a small segment is 2 MiB; a large one never is (10 MiB at least) */
                segs[ns++] = (start_seg){entry_uint(e, "addr"), s->size, s->size > 2 * 1048576};
            }
        }
        if (!st)
            st = seed_layout(r, segs, ns);
        free(segs);
    }
    vsim_idmap_destroy(seen);
    if (st && st != VRAM_ENOHOST)
        return fail(r, st, "%s: the caching policy cannot hold PyTorch's %" PRIu64 " bytes of "
                    "segments at the history's start in %" PRIu64 " bytes: %s", r->t->path,
                    r->out->torch_start_reserved, r->t->capacity, vram_strerror(st));
    if (st)
        return st;
    vram_caching_stats s;
    if ((st = caching_now(r, &s)))
        return st;
    r->out->seeded_segments = s.segment_allocs + s.maps;
    return VRAM_OK;
}

static vram_status place_start(run *r)
{
    vimport__core *c = &r->t->core;
    for (size_t i = 0; i < c->n_start; i++) {
        if (vsim_idmap_get(r->blocks, c->start[i].addr))
            continue; /* placed in its recorded segment (seed_start) */
        uint64_t off;
        vram_status st = vram_heap_alloc(r->h, c->start[i].size, 0, &off);
        if (st)
            return fail(r, st, "%s: the caching policy cannot place the %zu blocks live when the "
                        "history begins (block %zu, %" PRIu64 " bytes: %s) in %" PRIu64 " bytes",
                        r->t->path, c->n_start, i + 1, c->start[i].size, vram_strerror(st),
                        r->t->capacity);
        placed *p = vsim_idmap_put(r->blocks, c->start[i].addr, &(int){0});
        if (!p)
            return fail(r, VRAM_ENOHOST, "out of host memory");
        p->off = off;
    }
    vram_caching_stats s;
    vram_status st = caching_now(r, &s);
    r->out->ours_start_reserved = s.reserved;
    return st;
}

/* Walks the history (checked by pass 1) record by record. */
static vram_status walk(run *r)
{
    const vpickle_value *entries = r->t->entries;
    const size_t n = entries ? vpickle_len(entries) : 0;
    side t = {0};
    char what[160];
    for (size_t i = 0; i < n; i++) {
        const vpickle_value *e = vpickle_item(entries, i);
        const vpickle_value *act = vpickle_dict_get(e, "action");
        uint64_t size = entry_uint(e, "size"), addr = entry_uint(e, "addr");
        if (vpickle_str_eq(act, "segment_alloc")) {
            add_alloc(&t, size);
        } else if (vpickle_str_eq(act, "segment_map")) {
            t.maps++;
            t.map_bytes += size;
        } else if (vpickle_str_eq(act, "segment_free")) {
            t.frees++;
            t.free_bytes += size;
        } else if (vpickle_str_eq(act, "segment_unmap")) {
            t.unmaps++;
            t.unmap_bytes += size;
        } else if (vpickle_str_eq(act, "alloc") || vpickle_str_eq(act, "free_completed") ||
                   vpickle_str_eq(act, "oom")) {
            const char *a = vpickle_str_eq(act, "alloc") ? "alloc"
                            : vpickle_str_eq(act, "oom") ? "oom"
                                                         : "free_completed";
            side o;
            vram_status st = our_record(r, a, addr, size, t.frees || t.unmaps, &o);
            if (st)
                return st;
            t.oom = !strcmp(a, "oom");
            /* One stream is modelled: another stream's pool is PyTorch's alone. */
            uint64_t stream = entry_uint(e, "stream");
            char on[48] = "";
            if (stream)
                snprintf(on, sizeof on, " on stream 0x%" PRIx64, stream);
            snprintf(what, sizeof what, "device_traces[%d][%zu] (%s of %" PRIu64 " bytes%s)",
                     r->t->opt.device, i, a, size, on);
            compare_record(r, i, what, &t, &o);
            memset(&t, 0, sizeof t);
        }
    }
    side o = {0};
    snprintf(what, sizeof what, "after the last record of device_traces[%d] (outside any "
             "allocation: torch.cuda.empty_cache?)", r->t->opt.device);
    compare_record(r, n, what, &t, &o);
    return VRAM_OK;
}

vram_status vimport_torch_compare(const char *in_path, const vimport_options *opt,
                                  const char *caching_conf, vimport_compare *out, char *err,
                                  size_t errlen)
{
    if (!in_path || !out)
        return VRAM_EINVAL;
    memset(out, 0, sizeof *out);
    const vimport_options defaults = {0};
    if (!opt)
        opt = &defaults;
    vimport__torch *t = malloc(sizeof *t);
    if (!t) {
        if (err && errlen)
            snprintf(err, errlen, "out of host memory");
        return VRAM_ENOHOST;
    }
    run r = {.t = t, .out = out};
    vram_status st = vimport__torch_prepare(in_path, opt, t, err, errlen);
    const char *conf = caching_conf ? caching_conf : t->core.stats.allocator_settings;
    vram_caching_options co = {0};
    if (!st) {
        snprintf(out->settings, sizeof out->settings, "%s", conf);
        out->capacity = t->capacity;
        char why[256] = "";
        st = vram_caching_options_parse(conf, &co, why, sizeof why);
        if (st)
            fail(&r, st, "%s: caching settings '%s': %s", in_path, conf, why);
    }
    if (!st) {
        /* PyTorch's reserved bytes when the history began: the dump's, less the net change */
        int64_t start = (int64_t)t->dump.reserved - t->src.seg_delta;
        out->torch_start_reserved = start > 0 ? (uint64_t)start : 0;
        out->start_blocks = t->core.n_start;
        r.expandable = co.expandable_segments;
        vram_heap_config cfg = {.capacity = t->capacity, .caching = &co};
        st = vram_heap_create(vram_heap_policy("caching"), &cfg, &r.h);
        if (st)
            fail(&r, st, "%s: cannot create a caching heap of %" PRIu64 " bytes with '%s': %s",
                 in_path, t->capacity, conf, vram_strerror(st));
    }
    if (!st && vsim_idmap_create(sizeof(placed), &r.blocks))
        st = fail(&r, VRAM_ENOHOST, "out of host memory");
    if (!st)
        st = seed_start(&r);
    if (!st)
        st = place_start(&r);
    if (!st)
        st = walk(&r);
    vsim_idmap_destroy(r.blocks);
    vram_heap_destroy(r.h);
    vimport__torch_fini(t);
    free(t);
    return st;
}
