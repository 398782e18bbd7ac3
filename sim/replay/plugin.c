/* plugin.c - the plugin loader and the adapter (plugin.h): a plugin's table
 * (vram/plugin.h) checked at load, and a vram_heap_ops whose entries validate
 * every answer against a shadow of the live blocks. */
#include "plugin.h"

#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heap_shadow.h"
#include "replay.h"

#define NAME_MAX_LEN 31

/* The adapter's table comes first, so that an entry given `self` finds the
 * plugin by a cast. `t` is the plugin's table copied over a zeroed one: the
 * entries past the plugin's `size` stay NULL, so a host newer than the plugin
 * never calls an entry the plugin does not have. */
struct vplugin {
    vram_heap_ops heap;
    void *dl;
    vram_plugin_ops t;
    char label[sizeof VPLUGIN_PREFIX + NAME_MAX_LEN];
    char crc[9];
    uint64_t bytes;
    char violation[512];
    char path[];
};

/* One heap of the adapter. The shadow holds each live block with the bytes
 * asked for (requested) and the plugin's block_size (rounded); `broken` is set
 * at the first violation, after which every call is refused. */
typedef struct pinst {
    vplugin *p;
    void *impl;
    heap_shadow sh;
    uint64_t capacity;
    uint64_t footprint; /* the end of the highest live block */
    uint64_t peak_in_use, peak_footprint;
    int broken;
} pinst;

static void say(char *msg, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *msg, size_t len, const char *fmt, ...)
{
    if (!msg || !len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, len, fmt, ap);
    va_end(ap);
}

/* Records the instance's first violation and refuses from now on. */
static vram_status violation(pinst *in, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static vram_status violation(pinst *in, const char *fmt, ...)
{
    if (!in->broken) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(in->p->violation, sizeof in->p->violation, fmt, ap);
        va_end(ap);
        in->broken = 1;
    }
    return VRAM_ECORRUPT;
}

static void note_peaks(pinst *in)
{
    if (in->sh.rounded > in->peak_in_use)
        in->peak_in_use = in->sh.rounded;
    if (in->footprint > in->peak_footprint)
        in->peak_footprint = in->footprint;
}

static vram_status ad_create(const vram_heap_ops *self, const vram_heap_config *cfg, void **impl)
{
    vplugin *p = (vplugin *)self;
    pinst *in = calloc(1, sizeof *in);
    if (!in)
        return VRAM_ENOHOST;
    in->p = p;
    in->capacity = cfg->capacity;
    if (heap_shadow_init(&in->sh, cfg->capacity)) {
        heap_shadow_fini(&in->sh);
        free(in);
        return VRAM_ENOHOST;
    }
    vram_plugin_config pc = {.size = sizeof pc, .version = VRAM_PLUGIN_VERSION,
                             .capacity = cfg->capacity, .min_align = cfg->min_align};
    vram_status st = p->t.create(&pc, &in->impl);
    if (st) {
        heap_shadow_fini(&in->sh);
        free(in);
        return st;
    }
    p->violation[0] = '\0';
    *impl = in;
    return VRAM_OK;
}

/* vram_heap_ops.create: never called (create_from is set); for completeness. */
static vram_status ad_create_plain(const vram_heap_config *cfg, void **impl)
{
    (void)cfg;
    (void)impl;
    return VRAM_EUNSUPPORTED;
}

static void ad_destroy(void *impl)
{
    pinst *in = impl;
    in->p->t.destroy(in->impl);
    heap_shadow_fini(&in->sh);
    free(in);
}

static vram_status ad_alloc(void *impl, uint64_t size, uint64_t align, uint64_t *offset)
{
    pinst *in = impl;
    if (in->broken)
        return VRAM_ECORRUPT;
    uint64_t off = UINT64_MAX, bs = size;
    vram_status st = in->p->t.alloc(in->impl, size, align, &off, &bs);
    if (st)
        return st;
    char why[256];
    if (bs < size)
        return violation(in,
                         "alloc(%" PRIu64 ", align %" PRIu64 ") answered offset %" PRIu64
                         " with block_size %" PRIu64 ", below the size asked",
                         size, align, off, bs);
    if (off % align || off >= in->capacity || bs > in->capacity - off) {
        if (off % align)
            snprintf(why, sizeof why, "not aligned to %" PRIu64, align);
        else
            snprintf(why, sizeof why, "outside the range [0, %" PRIu64 ")", in->capacity);
        return violation(in,
                         "alloc(%" PRIu64 ", align %" PRIu64 ") answered offset %" PRIu64
                         " (block_size %" PRIu64 "): %s",
                         size, align, off, bs, why);
    }
    if (heap_shadow_add(&in->sh, off, size, align, bs, why, sizeof why)) {
        if (strncmp(why, "shadow:", 7) != 0)
            return violation(in,
                             "alloc(%" PRIu64 ", align %" PRIu64 ") answered offset %" PRIu64
                             ": %s",
                             size, align, off, why);
        /* The shadow's own memory: undo the plugin's allocation. */
        if (in->p->t.free(in->impl, off))
            return violation(in, "free(%" PRIu64 ") of the block just allocated failed", off);
        return VRAM_ENOHOST;
    }
    if (off + bs > in->footprint)
        in->footprint = off + bs;
    note_peaks(in);
    *offset = off;
    return VRAM_OK;
}

/* After blocks were removed from the shadow. */
static void refresh_footprint(pinst *in)
{
    const heap_shadow_block *last = heap_shadow_last(&in->sh);
    in->footprint = last ? last->off + last->rounded : 0;
}

static vram_status ad_free(void *impl, uint64_t offset)
{
    pinst *in = impl;
    if (in->broken)
        return VRAM_ECORRUPT;
    heap_shadow_block b;
    if (heap_shadow_take(&in->sh, offset, &b))
        return VRAM_ENOTFOUND;
    /* Out of the shadow first (one descent): a failure breaks the instance anyway. */
    vram_status st = in->p->t.free(in->impl, offset);
    if (st)
        return violation(in, "free(%" PRIu64 ") of the live block [%" PRIu64 ", +%" PRIu64
                             ") answered %s",
                         offset, offset, b.requested, vram_status_name(st));
    if (offset + b.rounded >= in->footprint)
        refresh_footprint(in);
    return VRAM_OK;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static vram_status ad_free_batch(void *impl, size_t n, const uint64_t *offsets)
{
    pinst *in = impl;
    if (in->broken)
        return VRAM_ECORRUPT;
    if (n == 0)
        return VRAM_OK;
    for (size_t i = 0; i < n; i++)
        if (!heap_shadow_find(&in->sh, offsets[i]))
            return VRAM_ENOTFOUND;
    uint64_t *sorted = malloc(n * sizeof *sorted);
    if (!sorted)
        return VRAM_ENOHOST;
    memcpy(sorted, offsets, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cmp_u64);
    for (size_t i = 1; i < n; i++)
        if (sorted[i] == sorted[i - 1]) {
            free(sorted);
            return VRAM_EDOUBLEFREE;
        }
    free(sorted);
    if (in->p->t.free_batch) {
        vram_status st = in->p->t.free_batch(in->impl, n, offsets);
        if (st)
            return violation(in, "free_batch of %zu live blocks answered %s", n,
                             vram_status_name(st));
    }
    for (size_t i = 0; i < n; i++) {
        if (!in->p->t.free_batch) {
            vram_status st = in->p->t.free(in->impl, offsets[i]);
            if (st)
                return violation(in, "free(%" PRIu64 ") of a live block answered %s", offsets[i],
                                 vram_status_name(st));
        }
        heap_shadow_remove(&in->sh, offsets[i]);
    }
    refresh_footprint(in);
    return VRAM_OK;
}

static vram_status ad_grow(void *impl, uint64_t bytes)
{
    pinst *in = impl;
    if (in->broken)
        return VRAM_ECORRUPT;
    if (!in->p->t.grow)
        return VRAM_EUNSUPPORTED;
    vram_status st = in->p->t.grow(in->impl, bytes);
    if (st)
        return st;
    in->capacity += bytes;
    heap_shadow_set_capacity(&in->sh, in->capacity);
    return VRAM_OK;
}

/* The gaps between live blocks (and before the first, after the last). */
typedef struct gap_scan {
    uint64_t pos, largest, count;
} gap_scan;

static void gap(gap_scan *g, uint64_t to)
{
    if (to <= g->pos)
        return;
    g->count++;
    if (to - g->pos > g->largest)
        g->largest = to - g->pos;
}

static int gap_visit(const heap_shadow_block *b, void *ctx)
{
    gap_scan *g = ctx;
    gap(g, b->off);
    if (b->off + b->rounded > g->pos)
        g->pos = b->off + b->rounded;
    return 0;
}

static void free_space(const pinst *in, uint64_t *largest, uint64_t *count)
{
    if (in->p->t.stats) {
        vram_plugin_stats ps = {.size = sizeof ps};
        in->p->t.stats(in->impl, &ps);
        *largest = ps.largest_free;
        *count = ps.free_blocks;
        return;
    }
    gap_scan g = {0, 0, 0};
    heap_shadow_visit(&in->sh, gap_visit, &g);
    gap(&g, in->capacity);
    *largest = g.largest;
    *count = g.count;
}

static void ad_stats(const void *impl, vram_heap_stats *out)
{
    const pinst *in = impl;
    memset(out, 0, sizeof *out);
    out->capacity = in->capacity;
    out->in_use = in->sh.rounded;
    out->requested = in->sh.requested;
    out->free = in->capacity - in->sh.rounded;
    out->live_allocs = in->sh.count;
    out->peak_in_use = in->peak_in_use;
    out->footprint = in->footprint;
    out->peak_footprint = in->peak_footprint;
    free_space(in, &out->largest_free, &out->free_blocks);
}

static uint64_t ad_max_alloc(const void *impl)
{
    uint64_t largest, count;
    free_space(impl, &largest, &count);
    return largest;
}

static void ad_restore_peaks(void *impl, uint64_t peak_in_use, uint64_t peak_footprint)
{
    pinst *in = impl;
    in->peak_in_use = peak_in_use > in->sh.rounded ? peak_in_use : in->sh.rounded;
    in->peak_footprint = peak_footprint > in->footprint ? peak_footprint : in->footprint;
}

/* walk(): the shadow's blocks, and the gaps between them as free blocks. */
typedef struct walk_out {
    vram_walk_fn fn;
    void *ctx;
    uint64_t pos;
} walk_out;

static int walk_gap(walk_out *w, uint64_t to)
{
    if (to <= w->pos)
        return 0;
    vram_block_info b = {.offset = w->pos, .size = to - w->pos};
    w->pos = to;
    return w->fn(&b, w->ctx);
}

static int walk_visit(const heap_shadow_block *sb, void *ctx)
{
    walk_out *w = ctx;
    if (walk_gap(w, sb->off))
        return 1;
    vram_block_info b = {.offset = sb->off, .size = sb->rounded, .requested = sb->requested,
                         .refs = 1, .used = 1};
    if (sb->off + sb->rounded > w->pos)
        w->pos = sb->off + sb->rounded;
    return w->fn(&b, w->ctx);
}

static vram_status ad_walk(const void *impl, vram_walk_fn fn, void *ctx)
{
    const pinst *in = impl;
    walk_out w = {fn, ctx, 0};
    if (!heap_shadow_visit(&in->sh, walk_visit, &w))
        walk_gap(&w, in->capacity);
    return VRAM_OK;
}

/* check(): the plugin's walk against the shadow. */
typedef struct walk_check {
    const pinst *in;
    uint64_t end, used;
    char *msg;
    size_t len;
    int bad;
} walk_check;

static int check_block(void *ctx, const vram_plugin_block *b)
{
    walk_check *c = ctx;
    const heap_shadow_block *sb = b->used ? heap_shadow_find(&c->in->sh, b->offset) : NULL;
    if (b->offset < c->end)
        say(c->msg, c->len, "walk: block at %" PRIu64 " starts before the end %" PRIu64
                            " of the previous one (out of order or overlapping)",
            b->offset, c->end);
    else if (b->size == 0 || b->offset >= c->in->capacity || b->size > c->in->capacity - b->offset)
        say(c->msg, c->len, "walk: block [%" PRIu64 ", +%" PRIu64 ") is empty or leaves the range"
                            " [0, %" PRIu64 ")",
            b->offset, b->size, c->in->capacity);
    else if (b->used && !sb)
        say(c->msg, c->len, "walk: used block at %" PRIu64 " is no live allocation", b->offset);
    else if (sb && b->size < sb->requested)
        say(c->msg, c->len, "walk: used block at %" PRIu64 " has %" PRIu64 " bytes, %" PRIu64
                            " were asked for",
            b->offset, b->size, sb->requested);
    else {
        c->end = b->offset + b->size;
        c->used += b->used != 0;
        return 0;
    }
    c->bad = 1;
    return 1;
}

static vram_status ad_check(const void *impl, char *msg, size_t msglen)
{
    const pinst *in = impl;
    const vplugin *p = in->p;
    if (in->broken) {
        say(msg, msglen, "%s", p->violation);
        return VRAM_ECORRUPT;
    }
    if (p->t.walk) {
        walk_check c = {.in = in, .msg = msg, .len = msglen};
        vram_status st = p->t.walk(in->impl, check_block, &c);
        if (c.bad)
            return VRAM_ECORRUPT;
        if (st) {
            say(msg, msglen, "walk answered %s", vram_status_name(st));
            return VRAM_ECORRUPT;
        }
        if (c.used != in->sh.count) {
            say(msg, msglen, "walk: %" PRIu64 " used blocks, %" PRIu32 " live allocations", c.used,
                in->sh.count);
            return VRAM_ECORRUPT;
        }
    }
    if (p->t.stats) {
        vram_plugin_stats ps = {.size = sizeof ps};
        p->t.stats(in->impl, &ps);
        /* in_use: exact when the plugin reported its rounding at alloc. */
        int rounded_reported = in->sh.rounded != in->sh.requested;
        if (ps.in_use < in->sh.requested || (rounded_reported && ps.in_use != in->sh.rounded) ||
            ps.in_use > in->capacity) {
            say(msg, msglen, "stats: in_use %" PRIu64 ", but the live blocks take %" PRIu64
                             " bytes (%" PRIu64 " asked for) of %" PRIu64,
                ps.in_use, in->sh.rounded, in->sh.requested, in->capacity);
            return VRAM_ECORRUPT;
        }
        if (ps.largest_free > in->capacity - ps.in_use) {
            say(msg, msglen, "stats: largest_free %" PRIu64 " above the free bytes %" PRIu64,
                ps.largest_free, in->capacity - ps.in_use);
            return VRAM_ECORRUPT;
        }
    }
    if (p->t.check) {
        char own[256] = "";
        vram_status st = p->t.check(in->impl, own, sizeof own);
        if (st) {
            own[sizeof own - 1] = '\0';
            say(msg, msglen, "the plugin's own check: %s (%s)", own[0] ? own : "(no message)",
                vram_status_name(st));
            return VRAM_ECORRUPT;
        }
    }
    return VRAM_OK;
}

int vplugin_is_spec(const char *policy)
{
    return policy && strncmp(policy, VPLUGIN_PREFIX, sizeof VPLUGIN_PREFIX - 1) == 0;
}

static int valid_name(const char *s, size_t n)
{
    if (n == 0 || n > NAME_MAX_LEN)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '.' || ch == '-'))
            return 0;
    }
    return 1;
}

/* The entry a NULL required pointer is, or NULL when none is. */
static const char *missing_entry(const vram_plugin_ops *t)
{
    if (!t->create)
        return "create";
    if (!t->destroy)
        return "destroy";
    if (!t->alloc)
        return "alloc";
    if (!t->free)
        return "free";
    return NULL;
}

/* Checks the table the entry returned and keeps a copy; VRAM_OK or a status
 * with the message. Reads nothing past version and size before both passed. */
static vram_status adopt_table(vplugin *p, const vram_plugin_ops *ops, const char *want,
                               char *msg, size_t len)
{
    if (!ops) {
        if (want)
            say(msg, len, "%s: %s has no allocator named \"%s\"", p->path, VRAM_PLUGIN_ENTRY, want);
        else
            say(msg, len, "%s: %s returned no table (NULL) for the default allocator", p->path,
                VRAM_PLUGIN_ENTRY);
        return VRAM_ENOTFOUND;
    }
    if (ops->version == 0 || ops->version > VRAM_PLUGIN_VERSION) {
        if (ops->version == 0)
            say(msg, len, "%s: the table's version is 0: set it to VRAM_PLUGIN_VERSION (%u)",
                p->path, VRAM_PLUGIN_VERSION);
        else
            say(msg, len,
                "%s: the table is ABI version %" PRIu32 ", newer than this bench's %u: rebuild"
                " the plugin against this bench's vram/plugin.h",
                p->path, ops->version, VRAM_PLUGIN_VERSION);
        return VRAM_EMISMATCH;
    }
    size_t need = VRAM_PLUGIN_OPS_V1_SIZE;
    if (ops->size < need) {
        say(msg, len,
            "%s: the table is %" PRIu32 " bytes, too small for ABI version %" PRIu32
            " (%zu bytes): set size to sizeof(vram_plugin_ops)",
            p->path, ops->size, ops->version, need);
        return VRAM_EMISMATCH;
    }
    memset(&p->t, 0, sizeof p->t);
    memcpy(&p->t, ops, ops->size < sizeof p->t ? ops->size : sizeof p->t);
    if (!p->t.name) {
        say(msg, len, "%s: required entry \"name\" is NULL", p->path);
        return VRAM_EINVAL;
    }
    size_t n = strnlen(p->t.name, NAME_MAX_LEN + 1);
    if (!valid_name(p->t.name, n)) {
        say(msg, len, "%s: entry \"name\" is \"%.*s%s\": not 1-%d characters of [A-Za-z0-9_.-]",
            p->path, NAME_MAX_LEN, p->t.name, n > NAME_MAX_LEN ? "..." : "", NAME_MAX_LEN);
        return VRAM_EINVAL;
    }
    if (want && strcmp(want, p->t.name) != 0) {
        say(msg, len, "%s: asked for allocator \"%s\", %s returned \"%s\"", p->path, want,
            VRAM_PLUGIN_ENTRY, p->t.name);
        return VRAM_ENOTFOUND;
    }
    const char *missing = missing_entry(&p->t);
    if (missing) {
        say(msg, len, "%s: plugin \"%s\": required entry \"%s\" is NULL", p->path, p->t.name,
            missing);
        return VRAM_EINVAL;
    }
    return VRAM_OK;
}

/* Splits "plugin:PATH[:NAME]": the path (with "./" before a path without '/')
 * into a new vplugin, the name (if any) into name. */
static vram_status parse_spec(const char *spec, vplugin **out, char *name, char *msg, size_t len)
{
    name[0] = '\0';
    if (!vplugin_is_spec(spec)) {
        say(msg, len, "\"%s\" is not plugin:PATH[:NAME]", spec ? spec : "(null)");
        return VRAM_EINVAL;
    }
    const char *rest = spec + sizeof VPLUGIN_PREFIX - 1;
    size_t plen = strlen(rest);
    const char *colon = strrchr(rest, ':');
    if (colon && !strchr(colon, '/') && valid_name(colon + 1, strlen(colon + 1))) {
        plen = (size_t)(colon - rest);
        snprintf(name, NAME_MAX_LEN + 1, "%s", colon + 1);
    } else if (colon && colon[1] == '\0') {
        say(msg, len, "\"%s\": empty NAME after the last ':'", spec);
        return VRAM_EINVAL;
    }
    if (plen == 0) {
        say(msg, len, "\"%s\" names no file: plugin:PATH[:NAME]", spec);
        return VRAM_EINVAL;
    }
    int dot = memchr(rest, '/', plen) == NULL;
    vplugin *p = calloc(1, sizeof *p + plen + 3);
    if (!p) {
        say(msg, len, "out of host memory");
        return VRAM_ENOHOST;
    }
    snprintf(p->path, plen + 3, "%s%.*s", dot ? "./" : "", (int)plen, rest);
    *out = p;
    return VRAM_OK;
}

vram_status vplugin_open(const char *spec, vplugin **out, char *msg, size_t msglen)
{
    if (!out)
        return VRAM_EINVAL;
    *out = NULL;
    say(msg, msglen, "%s", "");
    char name[NAME_MAX_LEN + 1];
    vplugin *p;
    vram_status st = parse_spec(spec, &p, name, msg, msglen);
    if (st)
        return st;
    FILE *f = fopen(p->path, "rb");
    if (!f) {
        say(msg, msglen, "%s: cannot open the plugin: %s", p->path, strerror(errno));
        free(p);
        return VRAM_ENOTFOUND;
    }
    fclose(f);
    vreplay_trace_crc32(p->path, p->crc, &p->bytes);
    p->dl = dlopen(p->path, RTLD_NOW | RTLD_LOCAL);
    if (!p->dl) {
        const char *why = dlerror();
        say(msg, msglen, "%s: dlopen failed: %s", p->path, why ? why : "(no reason given)");
        free(p);
        return VRAM_ENOTFOUND;
    }
    void *sym = dlsym(p->dl, VRAM_PLUGIN_ENTRY);
    if (!sym) {
        say(msg, msglen,
            "%s: not a vramlab plugin: no symbol \"%s\" (export it with VRAM_PLUGIN_EXPORT,"
            " vram/plugin.h)",
            p->path, VRAM_PLUGIN_ENTRY);
        vplugin_close(p);
        return VRAM_ENOTFOUND;
    }
    vram_plugin_entry_fn entry;
    memcpy(&entry, &sym, sizeof entry);
    st = adopt_table(p, entry(VRAM_PLUGIN_VERSION, name[0] ? name : NULL), name[0] ? name : NULL,
                     msg, msglen);
    if (st) {
        vplugin_close(p);
        return st;
    }
    snprintf(p->label, sizeof p->label, "%s%s", VPLUGIN_PREFIX, p->t.name);
    p->heap = (vram_heap_ops){
        .name = p->label, .create = ad_create_plain, .destroy = ad_destroy, .alloc = ad_alloc,
        .free = ad_free, .grow = ad_grow, .stats = ad_stats, .walk = ad_walk, .check = ad_check,
        .free_batch = ad_free_batch, .max_alloc = ad_max_alloc,
        .restore_peaks = ad_restore_peaks, .create_from = ad_create};
    *out = p;
    return VRAM_OK;
}

void vplugin_close(vplugin *p)
{
    if (!p)
        return;
    if (p->dl)
        dlclose(p->dl);
    free(p);
}

const vram_heap_ops *vplugin_heap_ops(const vplugin *p) { return &p->heap; }
const char *vplugin_label(const vplugin *p) { return p->label; }
const char *vplugin_name(const vplugin *p) { return p->t.name; }
const char *vplugin_path(const vplugin *p) { return p->path; }
const char *vplugin_crc32(const vplugin *p) { return p->crc; }
uint64_t vplugin_bytes(const vplugin *p) { return p->bytes; }
const char *vplugin_violation(const vplugin *p) { return p->violation; }

void vplugin_describe(const vplugin *p, char *buf, size_t len)
{
    const vram_plugin_ops *t = &p->t;
    snprintf(buf, len, "plugin %s, crc32 %s, %" PRIu64 " bytes, ABI version %" PRIu32 "%s%s%s%s%s: %s",
             t->name, p->crc[0] ? p->crc : "?", p->bytes, t->version, t->grow ? ", grow" : "",
             t->free_batch ? ", free_batch" : "", t->stats ? ", stats" : "",
             t->walk ? ", walk" : "", t->check ? ", check" : "", p->path);
}

int vplugin_spec_of_run(const char *policy, const char *layout, char *spec, size_t len)
{
    if (!vplugin_is_spec(policy) || !layout)
        return 0;
    const char *name = policy + sizeof VPLUGIN_PREFIX - 1;
    size_t n = strlen(name);
    if (strncmp(layout, "plugin ", 7) != 0 || strncmp(layout + 7, name, n) != 0 ||
        strncmp(layout + 7 + n, ", crc32 ", 8) != 0)
        return 0;
    const char *abi = strstr(layout, ", ABI version ");
    const char *path = abi ? strstr(abi, ": ") : NULL;
    if (!path || !path[2])
        return 0;
    int w = snprintf(spec, len, "%s%s:%s", VPLUGIN_PREFIX, path + 2, name);
    return w > 0 && (size_t)w < len;
}
