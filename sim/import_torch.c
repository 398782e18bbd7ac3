/* import_torch.c - PyTorch CUDA memory snapshots to traces (import.h).
 *
 * The snapshot is a dict {segments, device_traces, allocator_settings, ...};
 * device_traces[D] is the list of trace entries of device D, each a dict with
 * `action`, `addr`, `size`, `stream`, `time_us` (absent in old snapshots: 0),
 * `frames`. The allocator's ring buffer keeps only the latest entries, so frees
 * of blocks allocated before it began are expected (import_core.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import_core.h"
#include "pickle.h"

#define MODEL_NAME "torch-snapshot"
#define ENGINE_NAME "import:torch"

typedef struct torch_src {
    vimport__core *core;
    const char *path;
    const vpickle_value *entries; /* device_traces[device] */
    int device;
    size_t next;                  /* index of the next entry */
    size_t cur;                   /* index of the entry last read */
    /* counters of the current pass */
    uint64_t records, free_requested, segment_events, ooms, snapshots;
} torch_src;

static void torch_where(void *ctx, char *buf, size_t len)
{
    const torch_src *s = ctx;
    snprintf(buf, len, "%s: device_traces[%d][%zu]", s->path, s->device, s->cur);
}

static vram_status torch_rewind(void *ctx)
{
    torch_src *s = ctx;
    s->next = s->cur = 0;
    s->records = s->free_requested = s->segment_events = s->ooms = s->snapshots = 0;
    return VRAM_OK;
}

/* A non-negative int field of a dict; with `optional`, absent means 0. */
static int int_field(torch_src *s, const vimport__source *src, const vpickle_value *dict,
                     const char *key, int optional, uint64_t *out)
{
    const vpickle_value *v = vpickle_dict_get(dict, key);
    if (!v && optional) {
        *out = 0;
        return 1;
    }
    if (!v) {
        vimport__fail(s->core, src, VRAM_EPARSE, "no '%s' in the entry", key);
        return 0;
    }
    if (v->type != VPICKLE_INT) {
        vimport__fail(s->core, src, VRAM_EPARSE, "'%s' is %s, expected a non-negative int", key,
                      vpickle_type_phrase(v->type));
        return 0;
    }
    if (v->u.i < 0) {
        vimport__fail(s->core, src, VRAM_EPARSE, "'%s' is negative (%lld), expected a non-negative int",
                      key, (long long)v->u.i);
        return 0;
    }
    *out = (uint64_t)v->u.i;
    return 1;
}

static int torch_next(void *ctx, vimport__rec *rec)
{
    torch_src *s = ctx;
    const vimport__source src = {.where = torch_where, .ctx = s};
    while (s->next < vpickle_len(s->entries)) {
        s->cur = s->next++;
        s->records++;
        const vpickle_value *e = vpickle_item(s->entries, s->cur);
        if (e->type != VPICKLE_DICT) {
            vimport__fail(s->core, &src, VRAM_EPARSE, "%s, expected a dict",
                          vpickle_type_phrase(e->type));
            return -1;
        }
        const vpickle_value *act = vpickle_dict_get(e, "action");
        if (!act || act->type != VPICKLE_STR) {
            vimport__fail(s->core, &src, VRAM_EPARSE, "no 'action' string in the entry");
            return -1;
        }
        if (vpickle_str_eq(act, "alloc"))
            rec->type = VIMPORT__ALLOC;
        else if (vpickle_str_eq(act, "free_completed"))
            rec->type = VIMPORT__FREE;
        else if (vpickle_str_eq(act, "free_requested"))
            rec->type = VIMPORT__CHECK_LIVE;
        else if (vpickle_str_eq(act, "segment_alloc") || vpickle_str_eq(act, "segment_free") ||
                 vpickle_str_eq(act, "segment_map") || vpickle_str_eq(act, "segment_unmap")) {
            s->segment_events++;
            continue;
        } else if (vpickle_str_eq(act, "oom")) {
            s->ooms++;
            continue;
        } else if (vpickle_str_eq(act, "snapshot")) {
            s->snapshots++;
            continue;
        } else {
            int n = act->u.s.len > 40 ? 40 : (int)act->u.s.len;
            vimport__fail(s->core, &src, VRAM_EPARSE,
                          "unknown action '%.*s' (expected alloc, free_requested, free_completed, "
                          "segment_alloc, segment_free, segment_map, segment_unmap, oom, snapshot)",
                          n, act->u.s.ptr);
            return -1;
        }
        if (rec->type == VIMPORT__CHECK_LIVE)
            s->free_requested++;
        if (!int_field(s, &src, e, "addr", 0, &rec->addr) ||
            !int_field(s, &src, e, "size", 0, &rec->size) ||
            !int_field(s, &src, e, "time_us", 1, &rec->ts_us))
            return -1;
        return 1;
    }
    return 0;
}

/* The snapshot's root, checked, and the device's trace list. */
static vram_status open_snapshot(vimport__core *c, const char *path, int device,
                                 uint64_t max_bytes, vpickle_doc **doc,
                                 const vpickle_value **entries)
{
    const vpickle_limits lim = {.max_bytes = max_bytes};
    vram_status st = vpickle_load(path, &lim, doc, c->err, c->errlen);
    if (st)
        return st;
    const vpickle_value *root = vpickle_root(*doc);
    const vpickle_value *traces = vpickle_dict_get(root, "device_traces");
    if (!traces || traces->type != VPICKLE_LIST)
        return vimport__fail(c, NULL, VRAM_EPARSE,
                             "%s: not a memory snapshot: expected a dict with a 'device_traces' list",
                             path);
    if (device < 0 || (size_t)device >= vpickle_len(traces))
        return vimport__fail(c, NULL, VRAM_ENOTFOUND,
                             "%s: no trace for device %d (the snapshot has %zu device trace(s))",
                             path, device, vpickle_len(traces));
    *entries = vpickle_item(traces, (size_t)device);
    if ((*entries)->type != VPICKLE_LIST)
        return vimport__fail(c, NULL, VRAM_EPARSE, "%s: device_traces[%d] is %s, expected a list",
                             path, device, vpickle_type_phrase((*entries)->type));
    return VRAM_OK;
}

/* Calls fn for each segment of `device` in the snapshot's `segments` list (absent: none). */
typedef vram_status (*segment_fn)(void *ctx, uint64_t total_size, int large);

static vram_status each_segment(vimport__core *c, const char *path, const vpickle_doc *doc,
                                int device, segment_fn fn, void *ctx)
{
    const vpickle_value *segs = vpickle_dict_get(vpickle_root(doc), "segments");
    if (!segs)
        return VRAM_OK;
    if (segs->type != VPICKLE_LIST)
        return vimport__fail(c, NULL, VRAM_EPARSE, "%s: 'segments' is %s, expected a list", path,
                             vpickle_type_phrase(segs->type));
    for (size_t i = 0; i < vpickle_len(segs); i++) {
        const vpickle_value *seg = vpickle_item(segs, i);
        const vpickle_value *dev = vpickle_dict_get(seg, "device");
        const vpickle_value *size = vpickle_dict_get(seg, "total_size");
        if (!dev || dev->type != VPICKLE_INT || !size || size->type != VPICKLE_INT || size->u.i < 0)
            return vimport__fail(c, NULL, VRAM_EPARSE,
                                 "%s: segments[%zu]: expected a dict with int 'device' and "
                                 "non-negative int 'total_size'", path, i);
        if (dev->u.i != device)
            continue;
        vram_status st = fn(ctx, (uint64_t)size->u.i,
                            vpickle_str_eq(vpickle_dict_get(seg, "segment_type"), "large"));
        if (st)
            return vimport__fail(c, NULL, st, "%s: segments[%zu]: %s", path, i, vram_strerror(st));
    }
    return VRAM_OK;
}

static vram_status sum_segment(void *ctx, uint64_t total_size, int large)
{
    (void)large;
    uint64_t *sum = ctx;
    return __builtin_add_overflow(*sum, total_size, sum) ? VRAM_EOVERFLOW : VRAM_OK;
}

static vram_status import_doc(vimport__core *c, const char *in_path, const char *out_path,
                              const vimport_options *opt, const vpickle_doc *doc,
                              const vpickle_value *entries)
{
    torch_src s = {.core = c, .path = in_path, .entries = entries, .device = opt->device};
    const vimport__source src = {torch_next, torch_rewind, torch_where, &s};
    uint64_t seg_bytes = 0;
    vram_status st = each_segment(c, in_path, doc, opt->device, sum_segment, &seg_bytes);
    if (!st)
        st = vimport__scan(c, &src);
    if (st)
        return st;

    vtrace_header h = {.version = VTRACE_VERSION};
    h.capacity = opt->capacity;
    if (!h.capacity)
        h.capacity = seg_bytes > c->stats.peak_live_bytes ? seg_bytes : c->stats.peak_live_bytes;
    if (!h.capacity || h.capacity > INT64_MAX)
        return vimport__fail(c, NULL, VRAM_EINVAL,
                             "%s: cannot derive the device capacity (segments %llu bytes, peak live "
                             "%llu bytes): give it with --capacity", in_path,
                             (unsigned long long)seg_bytes,
                             (unsigned long long)c->stats.peak_live_bytes);
    vimport__header_text(h.model, MODEL_NAME);
    vimport__header_text(h.engine, ENGINE_NAME);
    char text[VTRACE_TEXT_MAX];
    if (opt->source)
        vimport__header_text(h.source, opt->source);
    else {
        snprintf(text, sizeof text, "%s (PyTorch memory snapshot, device %d)",
                 vimport__basename(in_path), opt->device);
        vimport__header_text(h.source, text);
    }
    vimport__header_text(h.licence, opt->licence ? opt->licence : "unknown");

    char comment[320];
    snprintf(comment, sizeof comment,
             "torch snapshot device %d: %llu entries; %llu free_requested checked; %llu segment "
             "events, %llu oom, %llu snapshot skipped; %llu bytes in segments at the dump",
             opt->device, (unsigned long long)s.records, (unsigned long long)s.free_requested,
             (unsigned long long)s.segment_events, (unsigned long long)s.ooms,
             (unsigned long long)s.snapshots, (unsigned long long)seg_bytes);
    st = vimport__emit(c, &src, out_path, &h, comment);
    c->stats.records = s.records;
    c->stats.free_requested = s.free_requested;
    c->stats.segment_events = s.segment_events;
    c->stats.failures = s.ooms;
    c->stats.snapshots = s.snapshots;
    c->stats.capacity = h.capacity;
    return st;
}

vram_status vimport_torch(const char *in_path, const char *out_path, const vimport_options *opt,
                          vimport_stats *stats, char *err, size_t errlen)
{
    if (!in_path || !out_path)
        return VRAM_EINVAL;
    const vimport_options defaults = {0};
    if (!opt)
        opt = &defaults;
    vimport__core c;
    vram_status st = vimport__core_open(&c, in_path, out_path, err, errlen);
    if (st)
        return st;
    vpickle_doc *doc = NULL;
    const vpickle_value *entries = NULL;
    st = open_snapshot(&c, in_path, opt->device, opt->max_pickle_bytes, &doc, &entries);
    if (!st)
        st = import_doc(&c, in_path, out_path, opt, doc, entries);
    if (stats)
        *stats = c.stats;
    vpickle_free(doc);
    vimport__core_fini(&c);
    return st;
}

/* ---- segments, for comparisons with the caching policy ---- */

static vram_status push_u64(uint64_t **arr, size_t *n, uint64_t v)
{
    if ((*n & (*n - 1)) == 0) { /* grow at powers of two: 0, 1, 2, 4, ... */
        size_t cap = *n ? *n * 2 : 1;
        uint64_t *a = cap <= SIZE_MAX / sizeof *a ? realloc(*arr, cap * sizeof *a) : NULL;
        if (!a)
            return VRAM_ENOHOST;
        *arr = a;
    }
    (*arr)[(*n)++] = v;
    return VRAM_OK;
}

static vram_status collect_segment(void *ctx, uint64_t total_size, int large)
{
    vimport_torch_segments *out = ctx;
    if ((out->n_snapshot & (out->n_snapshot - 1)) == 0) {
        size_t cap = out->n_snapshot ? out->n_snapshot * 2 : 1;
        int *l = cap <= SIZE_MAX / sizeof *l ? realloc(out->snapshot_large, cap * sizeof *l) : NULL;
        if (!l)
            return VRAM_ENOHOST;
        out->snapshot_large = l;
    }
    out->snapshot_large[out->n_snapshot] = large;
    return push_u64(&out->snapshot_sizes, &out->n_snapshot, total_size);
}

static vram_status collect_segment_allocs(vimport__core *c, const char *path, int device,
                                          const vpickle_value *entries, vimport_torch_segments *out)
{
    for (size_t i = 0; i < vpickle_len(entries); i++) {
        const vpickle_value *e = vpickle_item(entries, i);
        if (!vpickle_str_eq(vpickle_dict_get(e, "action"), "segment_alloc"))
            continue;
        const vpickle_value *size = vpickle_dict_get(e, "size");
        if (!size || size->type != VPICKLE_INT || size->u.i < 0)
            return vimport__fail(c, NULL, VRAM_EPARSE,
                                 "%s: device_traces[%d][%zu]: segment_alloc without a non-negative "
                                 "int 'size'", path, device, i);
        if (push_u64(&out->alloc_sizes, &out->n_alloc, (uint64_t)size->u.i))
            return vimport__fail(c, NULL, VRAM_ENOHOST, "out of host memory");
    }
    return VRAM_OK;
}

vram_status vimport_torch_segments_read(const char *in_path, int device,
                                        vimport_torch_segments *out, char *err, size_t errlen)
{
    if (!in_path || !out)
        return VRAM_EINVAL;
    memset(out, 0, sizeof *out);
    vimport__core c;
    vram_status st = vimport__core_init(&c, err, errlen);
    if (st)
        return st;
    vpickle_doc *doc = NULL;
    const vpickle_value *entries = NULL;
    st = open_snapshot(&c, in_path, device, 0, &doc, &entries);
    if (!st)
        st = each_segment(&c, in_path, doc, device, collect_segment, out);
    if (!st)
        st = collect_segment_allocs(&c, in_path, device, entries, out);
    vpickle_free(doc);
    vimport__core_fini(&c);
    if (st)
        vimport_torch_segments_free(out);
    return st;
}

void vimport_torch_segments_free(vimport_torch_segments *s)
{
    if (!s)
        return;
    free(s->alloc_sizes);
    free(s->snapshot_sizes);
    free(s->snapshot_large);
    memset(s, 0, sizeof *s);
}
