/* bounds.c - peak live bytes and Belady's eviction count from a trace (bounds.h).
 *
 * Pass 1 checks the trace's own consistency, tracks live bytes and logs every
 * reference (alloc, use, acquire) of an evictable item to a next-use log
 * (nextuse.h), which then gives each reference the event index of its item's
 * next reference. Pass 2 reads the same references in the same order and
 * simulates Belady's rule with a max-heap of resident evictable items keyed by
 * their next use. */
#include "bounds.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idmap.h"
#include "nextuse.h"
#include "replay.h"
#include "trace.h"

#define NEVER VNEXTUSE_NEVER
#define NOT_EVICTABLE 0 /* live1.item of an item Belady does not track */

/* Pass 1: a live item. */
typedef struct live1 {
    uint64_t size;
    uint64_t item;    /* its number in the next-use log (from 1), or NOT_EVICTABLE */
    uint64_t holders; /* shared keys: holders; ids: 1 */
    int pooled;       /* counts as KV (vreplay_pooled) */
} live1;

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

typedef struct pass1 {
    const char *path;
    vsim_idmap *ids;
    vsim_keymap *keys;
    vnextuse *next;   /* NULL without Belady */
    uint64_t items;   /* evictable items numbered so far */
    uint64_t live, live_kv, live_other;
    uint64_t block; /* the header's kv_block_bytes */
    int have_evictable_size;
    vbounds *b;
} pass1;

/* A reference of an evictable item at event `index`; `first`: its creation. */
static vram_status p1_reference(pass1 *p, const live1 *it, uint64_t index, int first)
{
    if (!p->next || it->item == NOT_EVICTABLE)
        return VRAM_OK;
    return vnextuse_log(p->next, it->item, index, first);
}

static void p1_evictable_open(pass1 *p, live1 *it, uint64_t size)
{
    it->item = ++p->items;
    if (!p->have_evictable_size) {
        p->have_evictable_size = 1;
        p->b->evictable_size = size;
    } else if (p->b->evictable_size != size) {
        p->b->belady_exact = 0;
    }
}

static void p1_add_live(pass1 *p, uint64_t size, int kv, const vtrace_event *ev, uint64_t index)
{
    p->live += size;
    if (kv) {
        p->live_kv += size;
        if (p->live_kv > p->b->peak_live_kv)
            p->b->peak_live_kv = p->live_kv;
    } else {
        p->live_other += size;
        if (p->live_other > p->b->peak_live_other)
            p->b->peak_live_other = p->live_other;
    }
    if (p->live > p->b->peak_live) {
        p->b->peak_live = p->live;
        p->b->peak_live_event = index;
        p->b->peak_live_line = ev->line;
    }
}

static void p1_sub_live(pass1 *p, uint64_t size, int kv)
{
    p->live -= size;
    if (kv)
        p->live_kv -= size;
    else
        p->live_other -= size;
}

/* One event of pass 1; VRAM_OK or an error with err set. */
static vram_status p1_event(pass1 *p, const vtrace_event *ev, uint64_t index, char *err,
                            size_t errlen)
{
    int created;
    live1 *it;
    switch (ev->type) {
    case VTRACE_ALLOC:
        it = vsim_idmap_put(p->ids, ev->id, &created);
        if (!it)
            return VRAM_ENOHOST;
        if (!created) {
            set_err(err, errlen, "%s:%llu: alloc of id %llu, which is already live", p->path,
                    (unsigned long long)ev->line, (unsigned long long)ev->id);
            return VRAM_EPARSE;
        }
        it->size = ev->size;
        it->holders = 1;
        if (vreplay_backing_of(ev->kind) != VRAM_BACKING_NONE)
            p1_evictable_open(p, it, ev->size);
        it->pooled = vreplay_pooled(p->block, ev->kind, NULL, ev->size);
        p1_add_live(p, ev->size, it->pooled, ev, index);
        return p1_reference(p, it, index, 1);
    case VTRACE_FREE:
    case VTRACE_USE:
        it = vsim_idmap_get(p->ids, ev->id);
        if (!it) {
            set_err(err, errlen, "%s:%llu: %s of id %llu, which is not live", p->path,
                    (unsigned long long)ev->line, vtrace_type_name(ev->type),
                    (unsigned long long)ev->id);
            return VRAM_EPARSE;
        }
        if (ev->type == VTRACE_USE)
            return p1_reference(p, it, index, 0);
        p1_sub_live(p, it->size, it->pooled);
        vsim_idmap_remove(p->ids, ev->id);
        return VRAM_OK;
    case VTRACE_SHARED_ACQUIRE:
        it = vsim_keymap_put(p->keys, ev->key, &created);
        if (!it)
            return VRAM_ENOHOST;
        if (created) {
            it->size = ev->size;
            it->pooled = vreplay_pooled(p->block, VRAM_KIND_OTHER, ev->key, ev->size);
            p1_evictable_open(p, it, ev->size);
            p1_add_live(p, ev->size, it->pooled, ev, index);
        } else if (it->size != ev->size) {
            set_err(err, errlen, "%s:%llu: acquire of key \"%s\" with size %llu, held with size %llu",
                    p->path, (unsigned long long)ev->line, ev->key,
                    (unsigned long long)ev->size, (unsigned long long)it->size);
            return VRAM_EPARSE;
        }
        it->holders++;
        return p1_reference(p, it, index, created);
    case VTRACE_SHARED_RELEASE:
        it = vsim_keymap_get(p->keys, ev->key);
        if (!it) {
            set_err(err, errlen, "%s:%llu: release of key \"%s\", which is not held", p->path,
                    (unsigned long long)ev->line, ev->key);
            return VRAM_EPARSE;
        }
        if (--it->holders == 0) {
            p1_sub_live(p, it->size, it->pooled);
            vsim_keymap_remove(p->keys, ev->key);
        }
        return VRAM_OK;
    default:
        return VRAM_OK;
    }
}

static vram_status open_trace(const char *path, vtrace_reader **r, char *err, size_t errlen)
{
    vram_status st = vtrace_open(path, r, err, errlen);
    if (st && err && errlen && !err[0])
        set_err(err, errlen, "%s: cannot open trace: %s", path, vram_strerror(st));
    return st;
}

static vram_status read_error(vtrace_reader *r, char *err, size_t errlen)
{
    set_err(err, errlen, "%s", vtrace_error(r));
    return VRAM_EPARSE;
}

static vram_status run_pass1(pass1 *p, char *err, size_t errlen)
{
    vtrace_reader *r;
    vram_status st = open_trace(p->path, &r, err, errlen);
    if (st)
        return st;
    if (p->b->capacity == 0)
        p->b->capacity = vtrace_header_of(r)->capacity;
    p->block = vtrace_header_of(r)->kv_block_bytes;
    vtrace_event ev;
    uint64_t index = 0;
    int got;
    while ((got = vtrace_next(r, &ev)) == 1) {
        st = p1_event(p, &ev, ++index, err, errlen);
        if (st)
            break;
    }
    if (got < 0)
        st = read_error(r, err, errlen);
    p->b->events = index;
    vtrace_close(r);
    return st;
}

/* ---- Pass 2: the Belady simulation. ---- */

/* An item of pass 2; items live in a pool indexed by the maps (pointers into
 * the maps would move when they grow). */
typedef struct item2 {
    uint64_t size;
    uint64_t next;     /* event index of the next use, NEVER if none */
    size_t heap_pos;   /* position in the heap while resident and evictable */
    uint64_t holders;
    int evictable, resident, failed;
} item2;

typedef struct pass2 {
    item2 *items;
    size_t n_items, cap_items;
    size_t *free_items; /* indices of unused pool entries */
    size_t n_free;
    size_t *heap;       /* max-heap of item indices by next */
    size_t n_heap;
    uint64_t resident;  /* bytes of resident items */
    vram_status io;     /* the first failure reading next uses, sticky */
    vnextuse *next;
    vbounds *b;
} pass2;

static void heap_swap(pass2 *s, size_t i, size_t j)
{
    size_t t = s->heap[i];
    s->heap[i] = s->heap[j];
    s->heap[j] = t;
    s->items[s->heap[i]].heap_pos = i;
    s->items[s->heap[j]].heap_pos = j;
}

static uint64_t heap_key(const pass2 *s, size_t i) { return s->items[s->heap[i]].next; }

static void heap_fix(pass2 *s, size_t i)
{
    while (i > 0 && heap_key(s, (i - 1) / 2) < heap_key(s, i)) {
        heap_swap(s, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, big = i;
        if (l < s->n_heap && heap_key(s, l) > heap_key(s, big))
            big = l;
        if (r < s->n_heap && heap_key(s, r) > heap_key(s, big))
            big = r;
        if (big == i)
            return;
        heap_swap(s, i, big);
        i = big;
    }
}

static void heap_remove(pass2 *s, size_t item)
{
    size_t pos = s->items[item].heap_pos;
    s->n_heap--;
    if (pos != s->n_heap) {
        heap_swap(s, pos, s->n_heap);
        heap_fix(s, pos);
    }
}

/* The heap array holds at most one entry per pool item, so it never outgrows
 * cap_items; it is resized with the pool. */
static int pool_new(pass2 *s, size_t *out)
{
    if (s->n_free) {
        *out = s->free_items[--s->n_free];
        return 1;
    }
    if (s->n_items == s->cap_items) {
        size_t cap = s->cap_items ? s->cap_items * 2 : 1024;
        item2 *items = realloc(s->items, cap * sizeof *items);
        if (!items)
            return 0;
        s->items = items;
        size_t *fr = realloc(s->free_items, cap * sizeof *fr);
        if (!fr)
            return 0;
        s->free_items = fr;
        size_t *hp = realloc(s->heap, cap * sizeof *hp);
        if (!hp)
            return 0;
        s->heap = hp;
        s->cap_items = cap;
    }
    *out = s->n_items++;
    return 1;
}

/* The next use of the next reference, in the order pass 1 logged them. */
static uint64_t take_record(pass2 *s)
{
    uint64_t next;
    if (vnextuse_next(s->next, &next) && !s->io)
        s->io = VRAM_EIO;
    return next;
}

/* Evicts farthest-next-use items until `size` more bytes fit; 0 if impossible. */
static int make_room(pass2 *s, uint64_t size)
{
    while (s->resident + size > s->b->capacity) {
        if (s->n_heap == 0)
            return 0;
        size_t victim = s->heap[0];
        heap_remove(s, victim);
        s->items[victim].resident = 0;
        s->resident -= s->items[victim].size;
        s->b->belady_evictions++;
    }
    return 1;
}

static void make_resident(pass2 *s, size_t i)
{
    item2 *it = &s->items[i];
    it->resident = 1;
    s->resident += it->size;
    if (it->evictable) {
        it->heap_pos = s->n_heap;
        s->heap[s->n_heap++] = i;
        heap_fix(s, it->heap_pos);
    }
}

/* A new item (alloc or first acquire). */
static int p2_create(pass2 *s, uint64_t size, int evictable, size_t *out)
{
    if (!pool_new(s, out))
        return 0;
    item2 *it = &s->items[*out];
    memset(it, 0, sizeof *it);
    it->size = size;
    it->evictable = evictable;
    it->holders = 1;
    it->next = evictable ? take_record(s) : NEVER;
    if (make_room(s, size))
        make_resident(s, *out);
    else {
        it->failed = 1;
        s->b->belady_ooms++;
    }
    return 1;
}

/* A use of an existing item: re-materialise it if evicted, then move its next use. */
static void p2_use(pass2 *s, size_t i)
{
    item2 *it = &s->items[i];
    if (!it->evictable)
        return;
    it->next = take_record(s);
    if (it->failed)
        return;
    if (it->resident) {
        heap_fix(s, it->heap_pos);
        return;
    }
    if (!make_room(s, it->size)) {
        s->b->belady_ooms++;
        return;
    }
    s->b->belady_rematerialisations++;
    s->b->belady_bytes_rematerialised += it->size;
    make_resident(s, i);
}

static void p2_drop(pass2 *s, size_t i)
{
    item2 *it = &s->items[i];
    if (it->resident) {
        if (it->evictable)
            heap_remove(s, i);
        s->resident -= it->size;
    }
    s->free_items[s->n_free++] = i;
}

/* VRAM_EPARSE when an id or key is not as pass 1 saw it: the file changed
 * between the passes. */
static vram_status p2_event(pass2 *s, vsim_idmap *ids, vsim_keymap *keys, const vtrace_event *ev)
{
    int created;
    size_t *slot;
    switch (ev->type) {
    case VTRACE_ALLOC:
        slot = vsim_idmap_put(ids, ev->id, &created);
        if (!slot)
            return VRAM_ENOHOST;
        if (!created)
            return VRAM_EPARSE;
        return p2_create(s, ev->size, vreplay_backing_of(ev->kind) != VRAM_BACKING_NONE, slot)
                   ? VRAM_OK
                   : VRAM_ENOHOST;
    case VTRACE_USE:
    case VTRACE_FREE:
        slot = vsim_idmap_get(ids, ev->id);
        if (!slot)
            return VRAM_EPARSE;
        if (ev->type == VTRACE_USE) {
            p2_use(s, *slot);
        } else {
            p2_drop(s, *slot);
            vsim_idmap_remove(ids, ev->id);
        }
        return VRAM_OK;
    case VTRACE_SHARED_ACQUIRE:
        slot = vsim_keymap_put(keys, ev->key, &created);
        if (!slot)
            return VRAM_ENOHOST;
        if (created)
            return p2_create(s, ev->size, 1, slot) ? VRAM_OK : VRAM_ENOHOST;
        s->items[*slot].holders++;
        p2_use(s, *slot);
        return VRAM_OK;
    case VTRACE_SHARED_RELEASE:
        slot = vsim_keymap_get(keys, ev->key);
        if (!slot)
            return VRAM_EPARSE;
        if (--s->items[*slot].holders == 0) {
            p2_drop(s, *slot);
            vsim_keymap_remove(keys, ev->key);
        }
        return VRAM_OK;
    default:
        return VRAM_OK;
    }
}

/* Pass 1 has validated the trace: every id and key referenced here is live,
 * unless the file changed in between. */
static vram_status run_pass2(const char *path, vnextuse *next, vbounds *b, char *err,
                             size_t errlen)
{
    pass2 s;
    memset(&s, 0, sizeof s);
    s.next = next;
    s.b = b;
    vsim_idmap *ids = NULL;
    vsim_keymap *keys = NULL;
    vtrace_reader *r = NULL;
    vram_status st = vsim_idmap_create(sizeof(size_t), &ids);
    if (!st)
        st = vsim_keymap_create(sizeof(size_t), &keys);
    if (!st)
        st = open_trace(path, &r, err, errlen);
    if (!st) {
        vtrace_event ev;
        int got;
        while ((got = vtrace_next(r, &ev)) == 1 && !(st = p2_event(&s, ids, keys, &ev)) &&
               !(st = s.io))
            ;
        if (got < 0)
            st = read_error(r, err, errlen);
        else if (st == VRAM_EPARSE)
            set_err(err, errlen, "%s:%llu: the trace changed between the two passes", path,
                    (unsigned long long)ev.line);
    }
    vtrace_close(r);
    vsim_keymap_destroy(keys);
    vsim_idmap_destroy(ids);
    free(s.items);
    free(s.free_items);
    free(s.heap);
    return st;
}

vram_status vbounds_compute(const char *path, uint64_t capacity, int belady, vbounds *out,
                            char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (err && errlen)
        err[0] = '\0';
    out->capacity = capacity;
    out->belady_exact = 1;
    pass1 p;
    memset(&p, 0, sizeof p);
    p.path = path;
    p.b = out;
    vram_status st = vsim_idmap_create(sizeof(live1), &p.ids);
    if (!st)
        st = vsim_keymap_create(sizeof(live1), &p.keys);
    if (!st && belady)
        st = vnextuse_create(&p.next);
    if (!st)
        st = run_pass1(&p, err, errlen);
    vsim_idmap_destroy(p.ids);
    vsim_keymap_destroy(p.keys);
    if (!st && belady)
        st = vnextuse_finish(p.next);
    if (!st && belady) {
        st = run_pass2(path, p.next, out, err, errlen);
        out->belady_done = !st;
    }
    vnextuse_destroy(p.next);
    if (st == VRAM_ENOHOST && err && errlen && !err[0])
        set_err(err, errlen, "%s: out of host memory computing bounds", path);
    if (st == VRAM_EIO && err && errlen && !err[0])
        set_err(err, errlen, "%s: Belady's next-use log: a temporary file failed", path);
    return st;
}
