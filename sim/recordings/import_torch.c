/* import_torch.c - PyTorch CUDA memory snapshots to traces (import.h).
 *
 * The snapshot is a dict {segments, device_traces, allocator_settings, ...}.
 * device_traces[D] is the history of device D, each entry a dict with
 * `action`, `addr`, `size`, `stream`, `time_us` (absent in old snapshots: 0),
 * `frames`. The allocator's ring buffer keeps only the latest entries, so frees
 * of blocks allocated before it began are expected (import_core.c).
 * `segments` is the state at the dump: every segment of every device with its
 * blocks (`address`, `size`, `requested_size`, `state`). The blocks live there
 * that the history does not allocate were allocated before it began; they
 * become allocations at time 0 (unless history_only), so a replay starts from
 * the recorded state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import_torch_internal.h"

#define MODEL_NAME "torch-snapshot"
#define ENGINE_NAME "import:torch"

/* ---- the state at the dump: the device's segments and their live blocks ---- */


static void dump_free(dump_state *d)
{
    free(d->segs);
    free(d->live);
    memset(d, 0, sizeof *d);
}

static int grow(void **arr, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 1;
    size_t ncap = *cap ? *cap * 2 : 16;
    void *a = ncap <= SIZE_MAX / size ? realloc(*arr, ncap * size) : NULL;
    if (!a)
        return 0;
    *arr = a;
    *cap = ncap;
    return 1;
}

/* A non-negative int field of a dict: 1 and *out; 0 when absent; -1 when present but
 * not a non-negative int (the message, naming `where`, is in the core's err). */
static int dict_uint(vimport__core *c, const vpickle_value *dict, const char *key, const char *where,
                     uint64_t *out)
{
    const vpickle_value *v = vpickle_dict_get(dict, key);
    if (!v)
        return 0;
    if (v->type != VPICKLE_INT || v->u.i < 0) {
        if (v->type == VPICKLE_INT)
            vimport__fail(c, NULL, VRAM_EPARSE, "%s: '%s' is negative (%lld), expected a "
                          "non-negative int", where, key, (long long)v->u.i);
        else
            vimport__fail(c, NULL, VRAM_EPARSE, "%s: '%s' is %s, expected a non-negative int",
                          where, key, vpickle_type_phrase(v->type));
        return -1;
    }
    *out = (uint64_t)v->u.i;
    return 1;
}

/* The blocks of segment i (live ones into d->live). Blocks without an address
 * (older snapshots) follow one another from the segment's address. */
static vram_status read_blocks(vimport__core *c, const char *path, size_t i, const vpickle_value *seg,
                               int has_addr, uint64_t seg_addr, dump_state *d)
{
    const vpickle_value *blocks = vpickle_dict_get(seg, "blocks");
    if (!blocks)
        return VRAM_OK;
    d->has_blocks = 1;
    char where[96];
    if (blocks->type != VPICKLE_LIST)
        return vimport__fail(c, NULL, VRAM_EPARSE, "%s: segments[%zu]: 'blocks' is %s, expected a "
                             "list", path, i, vpickle_type_phrase(blocks->type));
    uint64_t at = seg_addr;
    for (size_t j = 0; j < vpickle_len(blocks); j++) {
        const vpickle_value *b = vpickle_item(blocks, j);
        snprintf(where, sizeof where, "%s: segments[%zu]['blocks'][%zu]", path, i, j);
        if (b->type != VPICKLE_DICT)
            return vimport__fail(c, NULL, VRAM_EPARSE, "%s: %s, expected a dict", where,
                                 vpickle_type_phrase(b->type));
        uint64_t size, requested = 0, addr = at;
        int got = dict_uint(c, b, "size", where, &size);
        if (got <= 0)
            return got < 0 ? VRAM_EPARSE
                           : vimport__fail(c, NULL, VRAM_EPARSE, "%s: no 'size' in the block", where);
        if (dict_uint(c, b, "requested_size", where, &requested) < 0)
            return VRAM_EPARSE;
        got = dict_uint(c, b, "address", where, &addr);
        if (got < 0)
            return VRAM_EPARSE;
        if (got == 0 && !has_addr)
            return vimport__fail(c, NULL, VRAM_EPARSE, "%s: no 'address', and the segment has none "
                                 "to count from", where);
        if (__builtin_add_overflow(addr, size, &at))
            return vimport__fail(c, NULL, VRAM_EPARSE, "%s: address 0x%llx + size %llu is past "
                                 "2^64", where, (unsigned long long)addr, (unsigned long long)size);
        const vpickle_value *state = vpickle_dict_get(b, "state");
        if (!state || state->type != VPICKLE_STR)
            return vimport__fail(c, NULL, VRAM_EPARSE, "%s: no 'state' string in the block", where);
        int live = vpickle_str_eq(state, "active_allocated") ||
                   vpickle_str_eq(state, "active_pending_free");
        if (!live && !vpickle_str_eq(state, "inactive")) {
            int n = state->u.s.len > 40 ? 40 : (int)state->u.s.len;
            return vimport__fail(c, NULL, VRAM_EPARSE, "%s: unknown state '%.*s' (expected "
                                 "active_allocated, active_pending_free or inactive)", where, n,
                                 state->u.s.ptr);
        }
        if (!live)
            continue;
        if (!size)
            return vimport__fail(c, NULL, VRAM_EPARSE, "%s: a live block of size 0", where);
        if (!grow((void **)&d->live, &d->livecap, d->nlive, sizeof *d->live))
            return vimport__fail(c, NULL, VRAM_ENOHOST, "out of host memory");
        d->live[d->nlive++] = (tblk){.addr = addr,
                                     .size = requested && requested <= size ? requested : size,
                                     .block_size = size};
    }
    return VRAM_OK;
}

/* Reads the snapshot's `segments` (absent: none) for `device`. */
static vram_status read_dump(vimport__core *c, const char *path, const vpickle_doc *doc, int device,
                             dump_state *d)
{
    memset(d, 0, sizeof *d);
    const vpickle_value *segs = vpickle_dict_get(vpickle_root(doc), "segments");
    if (!segs)
        return VRAM_OK;
    if (segs->type != VPICKLE_LIST)
        return vimport__fail(c, NULL, VRAM_EPARSE, "%s: 'segments' is %s, expected a list", path,
                             vpickle_type_phrase(segs->type));
    d->segments_listed = vpickle_len(segs);
    for (size_t i = 0; i < vpickle_len(segs); i++) {
        const vpickle_value *seg = vpickle_item(segs, i);
        const vpickle_value *dev = vpickle_dict_get(seg, "device");
        const vpickle_value *size = vpickle_dict_get(seg, "total_size");
        if (!dev || dev->type != VPICKLE_INT || !size || size->type != VPICKLE_INT || size->u.i < 0)
            return vimport__fail(c, NULL, VRAM_EPARSE,
                                 "%s: segments[%zu]: expected a dict with int 'device' and "
                                 "non-negative int 'total_size'", path, i);
        if (dev->u.i >= 0 && dev->u.i < 64)
            d->devices |= UINT64_C(1) << dev->u.i;
        if (dev->u.i != device)
            continue;
        if (__builtin_add_overflow(d->reserved, (uint64_t)size->u.i, &d->reserved))
            return vimport__fail(c, NULL, VRAM_EOVERFLOW, "%s: segments[%zu]: %s", path, i,
                                 vram_strerror(VRAM_EOVERFLOW));
        char where[64];
        snprintf(where, sizeof where, "%s: segments[%zu]", path, i);
        uint64_t addr = 0;
        int has_addr = dict_uint(c, seg, "address", where, &addr);
        if (has_addr < 0)
            return VRAM_EPARSE;
        if (!grow((void **)&d->segs, &d->segcap, d->nsegs, sizeof *d->segs))
            return vimport__fail(c, NULL, VRAM_ENOHOST, "out of host memory");
        const vpickle_value *exp = vpickle_dict_get(seg, "is_expandable");
        d->segs[d->nsegs++] = (tseg){
            .addr = addr, .size = (uint64_t)size->u.i,
            .large = vpickle_str_eq(vpickle_dict_get(seg, "segment_type"), "large"),
            .expandable = exp && exp->type == VPICKLE_BOOL && exp->u.b};
        vram_status st = read_blocks(c, path, i, seg, has_addr, addr, d);
        if (st)
            return st;
    }
    return VRAM_OK;
}

/* "0, 1 and 3" for the devices with segments, "none" without. */
static void device_list(uint64_t devices, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    int count = __builtin_popcountll(devices), k = 0;
    for (int d = 0; d < 64 && n < len; d++) {
        if (!(devices >> d & 1))
            continue;
        k++;
        int w = snprintf(buf + n, len - n, "%s%d", k == 1 ? "" : k == count ? " and " : ", ", d);
        if (w < 0)
            break;
        n += (size_t)w;
    }
    if (!count)
        snprintf(buf, len, "none");
}

/* ---- the history: device_traces[device] as a vimport__source ---- */


static void torch_where(void *ctx, char *buf, size_t len)
{
    const torch_src *s = ctx;
    snprintf(buf, len, "%s: device_traces[%d][%zu]", s->path, s->device, s->cur);
}

static vram_status torch_rewind(void *ctx)
{
    torch_src *s = ctx;
    s->pass++; /* every frame is new to the next pass */
    s->allocs_with_frames = 0;
    memset(s->by_kind, 0, sizeof s->by_kind);
    s->next = s->cur = 0;
    s->records = s->free_requested = s->segment_events = s->ooms = s->snapshots = 0;
    s->seg_delta = s->seg_delta_max = 0;
    s->oom_best = -1;
    s->oom_at = 0;
    s->oom_free = 0;
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

/* A segment event of `size` bytes: +1 maps, -1 unmaps. */
static int segment_event(torch_src *s, const vimport__source *src, const vpickle_value *e, int sign)
{
    uint64_t size;
    s->segment_events++;
    if (!int_field(s, src, e, "size", 0, &size))
        return 0;
    int64_t d = sign > 0 ? (int64_t)size : -(int64_t)size; /* size <= INT64_MAX: an int64 */
    if (__builtin_add_overflow(s->seg_delta, d, &s->seg_delta)) {
        vimport__fail(s->core, src, VRAM_EPARSE, "the segment sizes add up past 2^63 bytes");
        return 0;
    }
    if (s->seg_delta > s->seg_delta_max)
        s->seg_delta_max = s->seg_delta;
    return 1;
}

/* An oom entry: `addr` holds the free device bytes cudaMemGetInfo gave. */
static int oom_event(torch_src *s, const vimport__source *src, const vpickle_value *e)
{
    uint64_t device_free;
    s->ooms++;
    if (!int_field(s, src, e, "addr", 0, &device_free))
        return 0;
    int64_t v;
    if (device_free > INT64_MAX || __builtin_add_overflow(s->seg_delta, (int64_t)device_free, &v)) {
        vimport__fail(s->core, src, VRAM_EPARSE, "the free device bytes %llu are past 2^63",
                      (unsigned long long)device_free);
        return 0;
    }
    if (v > s->oom_best) {
        s->oom_best = v;
        s->oom_at = s->cur;
        s->oom_free = device_free;
    }
    return 1;
}

/* ---- frames and categories ---- */

typedef struct frame_seen {
    uint32_t id;
    uint32_t pass; /* the pass that last wrote it */
} frame_seen;

static int ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

static int contains(const char *s, size_t n, const char *what)
{
    size_t k = strlen(what);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(s + i, what, k) == 0)
            return 1;
    return 0;
}

/* Which frames name the code: pass 0 takes Python files outside torch (the
 * user's model), pass 1, when there are none, any named file but the
 * allocator's own and the traceback's. */
static int frame_wanted(const vpickle_value *f, int pass)
{
    const vpickle_value *file = vpickle_dict_get(f, "filename");
    if (!file || file->type != VPICKLE_STR || !file->u.s.len)
        return 0;
    const char *p = file->u.s.ptr;
    size_t n = file->u.s.len;
    if (pass == 0)
        return ends_with(p, n, ".py") && !contains(p, n, "/torch/");
    return !(n == 2 && p[0] == '?' && p[1] == '?') && !ends_with(p, n, "CUDACachingAllocator.cpp") &&
           !ends_with(p, n, "memory_snapshot.cpp");
}

/* A text of a frame as the format takes it: control bytes (and, for a file,
 * blanks) as '?', blanks at the ends dropped, at most 255 bytes, "?" if empty. */
static void frame_text(char out[VTRACE_TEXT_MAX], const vpickle_value *v, int is_file)
{
    size_t n = 0;
    if (v && v->type == VPICKLE_STR) {
        const char *p = v->u.s.ptr;
        size_t len = v->u.s.len;
        while (len && (*p == ' ' || *p == '\t'))
            p++, len--;
        for (; n < len && n < VTRACE_TEXT_MAX - 1; n++) {
            unsigned char ch = (unsigned char)p[n];
            out[n] = ch < 0x20 || ch == 0x7f || (is_file && ch == ' ') ? '?' : (char)ch;
        }
        while (n && (out[n - 1] == ' ' || out[n - 1] == '\t'))
            n--;
    }
    if (!n)
        out[n++] = '?';
    out[n] = '\0';
}

/* The entry's top frames (innermost first) as ids; frames new to this pass
 * go to rec->new_frames. A frames list of another shape names no code. */
static int entry_frames(torch_src *s, const vpickle_value *e, vimport__rec *rec)
{
    const vpickle_value *frames = vpickle_dict_get(e, "frames");
    if (!frames || frames->type != VPICKLE_LIST)
        return 1;
    for (int pass = 0; pass < 2 && !rec->nframes; pass++)
        for (size_t i = 0; i < vpickle_len(frames) && rec->nframes < VTRACE_FRAMES_MAX; i++) {
            const vpickle_value *f = vpickle_item(frames, i);
            if (f->type != VPICKLE_DICT || !frame_wanted(f, pass))
                continue;
            vtrace_frame fr = {0};
            const vpickle_value *line = vpickle_dict_get(f, "line");
            fr.line = line && line->type == VPICKLE_INT && line->u.i >= 0 &&
                              line->u.i <= (int64_t)VTRACE_FRAME_LINE_MAX
                          ? (uint32_t)line->u.i
                          : 0; /* PyTorch writes SIZE_MAX for an unknown line */
            frame_text(fr.file, vpickle_dict_get(f, "filename"), 1);
            frame_text(fr.func, vpickle_dict_get(f, "name"), 0);
            char key[2 * VTRACE_TEXT_MAX + 16];
            snprintf(key, sizeof key, "%u\t%s\t%s", (unsigned)fr.line, fr.file, fr.func);
            int created = 0;
            frame_seen *seen = vsim_keymap_put(s->frame_ids, key, &created);
            if (!seen) {
                vimport__fail(s->core, NULL, VRAM_ENOHOST, "out of host memory");
                return 0;
            }
            if (created) {
                if (s->next_frame_id == VTRACE_FRAME_ID_MAX) {
                    vimport__fail(s->core, NULL, VRAM_EOVERFLOW, "%s: more than %u distinct "
                                  "frames", s->path, (unsigned)VTRACE_FRAME_ID_MAX);
                    return 0;
                }
                seen->id = ++s->next_frame_id;
            }
            if (seen->pass != s->pass) {
                seen->pass = s->pass;
                fr.id = seen->id;
                s->new_frames[rec->n_new++] = fr;
            }
            rec->frames[rec->nframes++] = seen->id;
        }
    rec->new_frames = s->new_frames;
    s->allocs_with_frames += rec->nframes > 0;
    return 1;
}

/* PyTorch's memory categories (torch.profiler._memory_profiler.Category),
 * when an entry carries one, as kinds. */
static vram_kind entry_kind(const vpickle_value *e)
{
    const vpickle_value *c = vpickle_dict_get(e, "category");
    if (!c || c->type != VPICKLE_STR)
        return VRAM_KIND_OTHER;
    static const struct {
        const char *name;
        vram_kind kind;
    } map[] = {{"PARAMETER", VRAM_KIND_WEIGHT},    {"parameter", VRAM_KIND_WEIGHT},
               {"ACTIVATION", VRAM_KIND_ACTIVATION}, {"activation", VRAM_KIND_ACTIVATION},
               {"INPUT", VRAM_KIND_ACTIVATION},      {"input", VRAM_KIND_ACTIVATION},
               {"TEMPORARY", VRAM_KIND_WORKSPACE},   {"temporary", VRAM_KIND_WORKSPACE}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (vpickle_str_eq(c, map[i].name))
            return map[i].kind;
    return VRAM_KIND_OTHER; /* GRADIENT, OPTIMIZER_STATE, AUTOGRAD_DETAIL, ... */
}

static int torch_next(void *ctx, vimport__rec *rec)
{
    torch_src *s = ctx;
    const vimport__source src = {.where = torch_where, .ctx = s};
    while (s->entries && s->next < vpickle_len(s->entries)) {
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
        else if (vpickle_str_eq(act, "segment_alloc") || vpickle_str_eq(act, "segment_map")) {
            if (!segment_event(s, &src, e, 1))
                return -1;
            continue;
        } else if (vpickle_str_eq(act, "segment_free") || vpickle_str_eq(act, "segment_unmap")) {
            if (!segment_event(s, &src, e, -1))
                return -1;
            continue;
        } else if (vpickle_str_eq(act, "oom")) {
            if (!oom_event(s, &src, e))
                return -1;
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
        if (rec->type == VIMPORT__ALLOC) {
            rec->kind = entry_kind(e);
            s->by_kind[rec->kind]++;
            if (s->frame_ids && !entry_frames(s, e, rec))
                return -1;
        }
        return 1;
    }
    return 0;
}

/* ---- the snapshot ---- */

/* The snapshot's root, checked, and the device's history (*entries NULL when
 * device_traces has no list for the device). */
static vram_status open_snapshot(vimport__core *c, const char *path, int device,
                                 uint64_t max_bytes, vpickle_doc **doc,
                                 const vpickle_value **entries, size_t *ntraces)
{
    const vpickle_limits lim = {.max_bytes = max_bytes};
    vram_status st = vpickle_load(path, &lim, doc, c->err, c->errlen);
    if (st)
        return st;
    const vpickle_value *root = vpickle_root(*doc);
    const vpickle_value *traces = vpickle_dict_get(root, "device_traces");
    const vpickle_value *segs = vpickle_dict_get(root, "segments");
    if ((!traces || traces->type != VPICKLE_LIST) && (!segs || segs->type != VPICKLE_LIST))
        return vimport__fail(c, NULL, VRAM_EPARSE,
                             "%s: not a memory snapshot: expected a dict with a 'device_traces' "
                             "list or a 'segments' list", path);
    *entries = NULL;
    *ntraces = 0;
    if (!traces)
        return VRAM_OK;
    if (traces->type != VPICKLE_LIST)
        return vimport__fail(c, NULL, VRAM_EPARSE, "%s: 'device_traces' is %s, expected a list",
                             path, vpickle_type_phrase(traces->type));
    *ntraces = vpickle_len(traces);
    if (device < 0 || (size_t)device >= vpickle_len(traces))
        return VRAM_OK;
    *entries = vpickle_item(traces, (size_t)device);
    if ((*entries)->type != VPICKLE_LIST)
        return vimport__fail(c, NULL, VRAM_EPARSE, "%s: device_traces[%d] is %s, expected a list",
                             path, device, vpickle_type_phrase((*entries)->type));
    return VRAM_OK;
}

/* The recorded allocator_settings as a PYTORCH_CUDA_ALLOC_CONF string the
 * caching policy parses (vram_caching_options_parse): expandable_segments,
 * max_split_size_mb and garbage_collection_threshold. A setting it does not
 * model (roundup_power2_divisions, a max_split_size of 20 MiB or less) goes to
 * `dropped` instead. Nothing recorded: both empty. */
static void read_settings(const vpickle_doc *doc, char conf[VTRACE_TEXT_MAX],
                          char dropped[VTRACE_TEXT_MAX])
{
    conf[0] = dropped[0] = '\0';
    const vpickle_value *set = vpickle_dict_get(vpickle_root(doc), "allocator_settings");
    if (!set || set->type != VPICKLE_DICT || !vpickle_len(set))
        return;
    size_t n = 0, nd = 0;
    const vpickle_value *v = vpickle_dict_get(set, "expandable_segments");
    int expandable = v && ((v->type == VPICKLE_BOOL && v->u.b) || (v->type == VPICKLE_INT && v->u.i));
    n += (size_t)snprintf(conf + n, VTRACE_TEXT_MAX - n, "expandable_segments:%s",
                          expandable ? "True" : "False");
    v = vpickle_dict_get(set, "max_split_size");
    /* -1 (SIZE_MAX seen as int64) or absent: unlimited */
    if (v && v->type == VPICKLE_INT && v->u.i > 0 && v->u.i < INT64_MAX) {
        int64_t mb = v->u.i >> 20;
        if (mb > 20)
            n += (size_t)snprintf(conf + n, VTRACE_TEXT_MAX - n, ",max_split_size_mb:%lld",
                                  (long long)mb);
        else
            nd += (size_t)snprintf(dropped + nd, VTRACE_TEXT_MAX - nd, "%smax_split_size %lld",
                                   nd ? ", " : "", (long long)v->u.i);
    }
    v = vpickle_dict_get(set, "garbage_collection_threshold");
    if (v && v->type == VPICKLE_FLOAT && v->u.f > 0.0 && v->u.f < 1.0 && n < VTRACE_TEXT_MAX)
        n += (size_t)snprintf(conf + n, VTRACE_TEXT_MAX - n, ",garbage_collection_threshold:%g",
                              v->u.f);
    v = vpickle_dict_get(set, "roundup_power2_divisions");
    int rounding = 0;
    if (v && v->type == VPICKLE_DICT)
        for (size_t i = 0; i < vpickle_len(v); i++) {
            const vpickle_value *x = v->u.seq.items[2 * i + 1];
            rounding |= x->type == VPICKLE_INT && x->u.i != 0;
        }
    else if (v && v->type == VPICKLE_INT)
        rounding = v->u.i != 0;
    if (rounding && nd < VTRACE_TEXT_MAX)
        snprintf(dropped + nd, VTRACE_TEXT_MAX - nd, "%sroundup_power2_divisions",
                 nd ? ", " : "");
}

/* Matching the state at the dump with the history's end. */
typedef struct match_ctx {
    vimport__core *c;
    vsim_idmap *dump_addrs; /* live blocks at the dump, by address (value unused) */
    uint64_t missing;       /* live at the history's end, not at the dump */
    uint64_t first_missing;
} match_ctx;

static void check_in_dump(uint64_t addr, uint64_t size, void *ctx)
{
    (void)size;
    match_ctx *m = ctx;
    if (!vsim_idmap_get(m->dump_addrs, addr) && !m->missing++)
        m->first_missing = addr;
}

/* The dump's live blocks that the history does not explain become start
 * blocks; those it explains are checked against it. */
static vram_status add_state(vimport__core *c, const char *path, const dump_state *d)
{
    vsim_idmap *seen = NULL;
    if (vsim_idmap_create(1, &seen))
        return vimport__fail(c, NULL, VRAM_ENOHOST, "out of host memory");
    vram_status st = VRAM_OK;
    for (size_t i = 0; i < d->nlive && !st; i++) {
        const tblk *b = &d->live[i];
        int created = 0;
        if (!vsim_idmap_put(seen, b->addr, &created)) {
            st = vimport__fail(c, NULL, VRAM_ENOHOST, "out of host memory");
            break;
        }
        if (!created) {
            st = vimport__fail(c, NULL, VRAM_EPARSE, "%s: segments: two live blocks at 0x%llx",
                               path, (unsigned long long)b->addr);
            break;
        }
        uint64_t size;
        switch (vimport__addr_at_end(c, b->addr, &size)) {
        case 1: /* allocated by the history, still live: explained */
            c->stats.explained_blocks++;
            if (size != b->size && size != b->block_size && !c->stats.state_mismatch++)
                c->stats.state_mismatch_addr = b->addr;
            break;
        case 2:
            st = vimport__fail(c, NULL, VRAM_EPARSE,
                               "%s: segments: the block at 0x%llx is live at the dump, but the "
                               "history frees it and never allocates it again: the history and "
                               "the segments disagree (--history-only imports the history alone)",
                               path, (unsigned long long)b->addr);
            break;
        default: /* allocated before the history began */
            st = vimport__add_start(c, b->addr, b->size);
            c->stats.state_blocks++;
            c->stats.state_bytes += b->size;
            break;
        }
    }
    if (!st && d->has_blocks) { /* segments without block lists say nothing of what is live */
        match_ctx m = {.c = c, .dump_addrs = seen};
        vimport__each_live(c, check_in_dump, &m);
        c->stats.history_not_in_state = m.missing;
        c->stats.history_not_in_state_addr = m.first_missing;
    }
    vsim_idmap_destroy(seen);
    return st;
}

/* The default capacity: what the recording proves the allocator had (import.h). */
static vram_status choose_capacity(vimport__core *c, const char *path, const torch_src *s,
                                   const dump_state *d, uint64_t *capacity)
{
    vimport_stats *t = &c->stats;
    t->reserved_at_dump = d->reserved;
    t->segments_at_dump = d->nsegs;
    /* reserved at the history's start = at the dump - the net segment change */
    int64_t start;
    if (d->reserved > INT64_MAX || __builtin_sub_overflow((int64_t)d->reserved, s->seg_delta, &start))
        start = -1;
    if (start < 0) {
        t->segments_inconsistent = 1; /* more mapped in the history than the dump holds */
        start = 0;
    }
    uint64_t peak = (uint64_t)start + (uint64_t)s->seg_delta_max;
    if (peak < d->reserved)
        peak = d->reserved;
    t->peak_reserved = peak;
    if (s->oom_best >= 0)
        t->oom_capacity = (uint64_t)start + (uint64_t)s->oom_best;
    char why[sizeof t->capacity_rule];
    uint64_t cap = peak;
    if (d->nsegs || s->segment_events)
        snprintf(why, sizeof why, "the peak of reserved bytes: %llu at the dump in %zu segment(s)%s",
                 (unsigned long long)d->reserved, d->nsegs,
                 !s->segment_events ? ", no segment events in the history"
                 : peak > d->reserved ? ", more earlier in the history (its segment events)"
                                      : ", its peak (the history's segment events)");
    else
        why[0] = '\0';
    if (t->oom_capacity > cap) {
        cap = t->oom_capacity;
        snprintf(why, sizeof why, "the oom at device_traces[%d][%zu]: %llu bytes reserved then + "
                 "%llu bytes the device had free", s->device, s->oom_at,
                 (unsigned long long)(t->oom_capacity - s->oom_free),
                 (unsigned long long)s->oom_free);
    }
    if (t->peak_live_bytes > cap) {
        cap = t->peak_live_bytes;
        snprintf(why, sizeof why, "the peak of live bytes (more than the segments hold)");
    }
    if (!cap || cap > INT64_MAX)
        return vimport__fail(c, NULL, VRAM_EINVAL,
                             "%s: cannot derive the device capacity (segments %llu bytes, peak "
                             "reserved %llu bytes, peak live %llu bytes): give it with --capacity",
                             path, (unsigned long long)d->reserved, (unsigned long long)peak,
                             (unsigned long long)t->peak_live_bytes);
    snprintf(t->capacity_rule, sizeof t->capacity_rule, "%s", why);
    *capacity = cap;
    return VRAM_OK;
}

/* Pass 1, the state and the capacity (import_torch_internal.h). */
vram_status vimport__torch_prepare(const char *in_path, const vimport_options *opt,
                                   vimport__torch *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    vimport__core *c = &t->core;
    vram_status st = vimport__core_init(c, err, errlen);
    if (st)
        return st;
    t->opt = *opt;
    t->path = in_path;
    size_t ntraces = 0;
    st = open_snapshot(c, in_path, opt->device, opt->max_pickle_bytes, &t->doc, &t->entries,
                       &ntraces);
    if (st)
        return st;
    t->src = (torch_src){.core = c, .path = in_path, .entries = t->entries, .device = opt->device,
                         .oom_best = -1};
    if (!opt->no_frames && vsim_keymap_create(sizeof(frame_seen), &t->src.frame_ids))
        return vimport__fail(c, NULL, VRAM_ENOHOST, "out of host memory");
    torch_src *s = &t->src;
    dump_state *d = &t->dump;
    st = read_dump(c, in_path, t->doc, opt->device, d);
    const size_t n_entries = t->entries ? vpickle_len(t->entries) : 0;
    char devs[96];
    device_list(d->devices, devs, sizeof devs);
    if (!st && !n_entries && !d->nsegs)
        st = t->entries ? vimport__fail(c, NULL, VRAM_EINVAL,
                                        "%s: device %d has no trace entries and no segments: "
                                        "nothing to import (segments on device(s) %s; choose one "
                                        "with --device)", in_path, opt->device, devs)
                        : vimport__fail(c, NULL, VRAM_ENOTFOUND,
                                        "%s: no trace for device %d (the snapshot has %zu device "
                                        "trace(s), segments on device(s) %s)", in_path,
                                        opt->device, ntraces, devs);
    if (!st && !n_entries && opt->history_only)
        st = vimport__fail(c, NULL, VRAM_EINVAL,
                           "%s: device %d has no trace entries (was the history recorded, "
                           "torch.cuda.memory._record_memory_history?): --history-only leaves "
                           "nothing to import; without it the %zu live block(s) at the dump are "
                           "imported", in_path, opt->device, d->nlive);
    const vimport__source src = {torch_next, torch_rewind, torch_where, s};
    if (!st)
        st = vimport__scan(c, &src);
    if (!st && !opt->history_only) {
        st = add_state(c, in_path, d);
        if (!st)
            st = vimport__sort_start(c, in_path);
    }
    if (!st && !n_entries && !c->stats.state_blocks)
        st = vimport__fail(c, NULL, VRAM_EINVAL,
                           "%s: device %d has no trace entries and its %zu segment(s) hold no live "
                           "block: nothing to replay", in_path, opt->device, d->nsegs);
    c->stats.no_history = !n_entries;
    if (!st && opt->capacity) {
        t->capacity = opt->capacity;
        snprintf(c->stats.capacity_rule, sizeof c->stats.capacity_rule, "given (--capacity)");
        c->stats.reserved_at_dump = d->reserved;
        c->stats.segments_at_dump = d->nsegs;
    } else if (!st) {
        st = choose_capacity(c, in_path, s, d, &t->capacity);
    }
    if (!st)
        read_settings(t->doc, c->stats.allocator_settings, c->stats.settings_dropped);
    c->stats.capacity = t->capacity;
    return st;
}

void vimport__torch_fini(vimport__torch *t)
{
    vsim_keymap_destroy(t->src.frame_ids);
    t->src.frame_ids = NULL;
    dump_free(&t->dump);
    vpickle_free(t->doc);
    t->doc = NULL;
    vimport__core_fini(&t->core);
}

static vram_status write_trace(vimport__torch *t, const char *out_path)
{
    vimport__core *c = &t->core;
    const vimport_options *opt = &t->opt;
    torch_src *s = &t->src;
    const vimport__source src = {torch_next, torch_rewind, torch_where, s};
    vtrace_header h = {.version = VTRACE_VERSION, .capacity = t->capacity};
    vimport__header_text(h.model, MODEL_NAME);
    vimport__header_text(h.engine, ENGINE_NAME);
    char text[VTRACE_TEXT_MAX];
    if (opt->source)
        vimport__header_text(h.source, opt->source);
    else {
        snprintf(text, sizeof text, "%s (PyTorch memory snapshot, device %d)",
                 vimport__basename(t->path), opt->device);
        vimport__header_text(h.source, text);
    }
    vimport__header_text(h.licence, opt->licence ? opt->licence : "unknown");
    vimport__header_text(h.allocator_settings, c->stats.allocator_settings);

    char comment[640];
    snprintf(comment, sizeof comment,
             "torch snapshot device %d: %llu entries; %llu free_requested checked; %llu segment "
             "events, %llu oom, %llu snapshot skipped; %llu bytes in %zu segments at the dump, "
             "peak reserved %llu; %llu blocks live at the dump allocated at time 0 (%llu bytes)%s; "
             "capacity: %s",
             opt->device, (unsigned long long)s->records, (unsigned long long)s->free_requested,
             (unsigned long long)s->segment_events, (unsigned long long)s->ooms,
             (unsigned long long)s->snapshots, (unsigned long long)t->dump.reserved,
             t->dump.nsegs, (unsigned long long)c->stats.peak_reserved,
             (unsigned long long)c->stats.state_blocks, (unsigned long long)c->stats.state_bytes,
             opt->history_only ? " (--history-only)" : "", c->stats.capacity_rule);
    vram_status st = vimport__emit(c, &src, out_path, &h, comment);
    c->stats.records = s->records;
    c->stats.free_requested = s->free_requested;
    c->stats.segment_events = s->segment_events;
    c->stats.failures = s->ooms;
    c->stats.snapshots = s->snapshots;
    c->stats.allocs_with_frames = s->allocs_with_frames;
    memcpy(c->stats.allocs_by_kind, s->by_kind, sizeof s->by_kind);
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
    vimport__torch *t = malloc(sizeof *t);
    if (!t) {
        if (err && errlen)
            snprintf(err, errlen, "out of host memory");
        return VRAM_ENOHOST;
    }
    vram_status st = vtrace_output_not_input(out_path, in_path, err, errlen);
    if (st) {
        free(t);
        return st;
    }
    st = vimport__torch_prepare(in_path, opt, t, err, errlen);
    if (!st)
        st = write_trace(t, out_path);
    if (stats)
        *stats = t->core.stats;
    vimport__torch_fini(t);
    free(t);
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

static vram_status collect_segment_allocs(vimport__core *c, const char *path, int device,
                                          const vpickle_value *entries, vimport_torch_segments *out)
{
    for (size_t i = 0; entries && i < vpickle_len(entries); i++) {
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
    size_t ntraces = 0;
    dump_state d = {0};
    st = open_snapshot(&c, in_path, device, 0, &doc, &entries, &ntraces);
    if (!st && !entries)
        st = vimport__fail(&c, NULL, VRAM_ENOTFOUND, "%s: no trace for device %d (the snapshot "
                           "has %zu device trace(s))", in_path, device, ntraces);
    if (!st)
        st = read_dump(&c, in_path, doc, device, &d);
    if (!st && d.nsegs) {
        out->snapshot_sizes = malloc(d.nsegs * sizeof *out->snapshot_sizes);
        out->snapshot_large = malloc(d.nsegs * sizeof *out->snapshot_large);
        if (!out->snapshot_sizes || !out->snapshot_large)
            st = vimport__fail(&c, NULL, VRAM_ENOHOST, "out of host memory");
        for (size_t i = 0; !st && i < d.nsegs; i++) {
            out->snapshot_sizes[i] = d.segs[i].size;
            out->snapshot_large[i] = d.segs[i].large;
        }
        out->n_snapshot = st ? 0 : d.nsegs;
    }
    if (!st)
        st = collect_segment_allocs(&c, in_path, device, entries, out);
    dump_free(&d);
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
