/* bounds.c - peak live bytes and Belady's reference from a trace (bounds.h).
 *
 * Both passes walk the trace with the same state (struct walk): the live ids
 * and keys, the requests, and which request owns what (a node per evictable id
 * with NEED REQ and per key and REQ holding references of it, listed under
 * the request in creation order). Pass 1 checks the trace's consistency,
 * tracks live bytes and logs every reference of an evictable item (alloc, use,
 * pin, acquire, and at `begin REQ` each item REQ owns) to a next-use log
 * (nextuse.h), which then gives each reference the event index of its item's
 * next one. Pass 2 walks the same way, reads the next uses back in the same
 * order and simulates: a max-heap of the eviction candidates (resident,
 * evictable, not needed) keyed by next use, and forced preemptions of the
 * newest running request when the candidates cannot make room, by the rules
 * of the replay (sim/replay/replay_need.c, docs/ENGINE_SEMANTICS.md).
 *
 * Invariants of pass 2:
 * - an item's `need` is its NEED engine references + its pins + the
 *   references of its owners that run and are not preempted; it is in the
 *   heap exactly when it is resident, evictable and need is 0 (heap_bytes:
 *   their sizes); an item a preempted request owns and nothing else needs is
 *   not resident;
 * - `resident` is the bytes of the resident items, never above the capacity;
 * - `active` lists the running, not preempted requests in increasing `seq`
 *   (their last begin or restore); `preempted` the running, preempted ones in
 *   the order they were preempted (a stack: the last comes back first). */
#include "bounds.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evstream.h"
#include "fail.h"
#include "idmap.h"
#include "nextuse.h"
#include "replay.h"
#include "trace.h"

#define NEVER VNEXTUSE_NEVER
#define NIL SIZE_MAX

/* A live id or shared key. */
typedef struct item {
    uint64_t size;
    uint64_t log;         /* pass 1: its number in the next-use log (from 1); 0: not evictable */
    uint64_t next;        /* pass 2: event index of its next reference, NEVER if none */
    uint64_t refs;        /* keys: references held; ids: 1 */
    uint64_t engine_refs; /* references with NEED engine (an id: 0 or 1) */
    uint64_t free_refs;   /* keys: references with NEED - */
    uint64_t pins;        /* ids: pins not yet unpinned */
    uint64_t need;        /* pass 2: see the invariants */
    size_t node;          /* an evictable id with NEED REQ: its node; else NIL */
    size_t heap_pos;
    unsigned evictable : 1, resident : 1, failed : 1, in_heap : 1, pooled : 1;
} item;

/* A request's reference(s) to one evictable item. */
typedef struct node {
    size_t item, req;
    uint64_t refs;  /* ids: 1; keys: the references taken with NEED REQ */
    size_t prev, next;
} node;

typedef struct request {
    uint64_t id;
    uint64_t seq;      /* when it last began or was restored */
    size_t first, last;  /* its nodes */
    size_t prev, next;   /* in `active` or `preempted` */
    int running, preempted;
} request;

/* Fixed-size entries reused through a free list; indices stay valid when it
 * grows (pointers do not). */
typedef struct pool {
    unsigned char *data;
    size_t elem, n, cap;
    size_t *free;
    size_t nfree;
} pool;

typedef struct rlist {
    size_t first, last;
} rlist;

typedef struct walk {
    const vevs *stream; /* the trace parsed once, or NULL: read the file at path */
    const char *path;
    char *err;
    size_t errlen;
    int sim;          /* 0: pass 1; 1: pass 2 (Belady) */
    int v2;           /* the trace is version 2: requests matter */
    uint64_t index;   /* the event being walked, from 1 */
    vsim_idmap *ids;  /* id -> item index */
    vsim_keymap *keys;/* key -> item index */
    vsim_keymap *refs;/* "KEY REQ" -> node index */
    vsim_idmap *reqs; /* request id -> request index */
    pool items, nodes, requests;
    rlist active, preempted;
    uint64_t seq;
    vnextuse *next;   /* NULL without Belady */
    vbounds *b;
    /* pass 1 */
    uint64_t logged_items;
    uint64_t live, live_kv, live_other;
    uint64_t block;   /* the header's kv_block_bytes */
    int have_evictable_size;
    /* pass 2 */
    size_t *heap;     /* max-heap of item indices by next; as large as the item pool */
    size_t n_heap, cap_heap;
    uint64_t heap_bytes;
    uint64_t resident;
    uint64_t waits;   /* begins and restores that did not fit */
    vram_status io;   /* the first failure reading next uses, sticky */
    volatile sig_atomic_t *stop; /* non-zero: stop after the event (a signal); may be NULL */
} walk;

#define ITEM(w, i) (&((item *)(w)->items.data)[i])
#define NODE(w, i) (&((node *)(w)->nodes.data)[i])
#define REQ(w, i) (&((request *)(w)->requests.data)[i])


/* "file:line: message" for an event that contradicts the trace so far. */
static vram_status bad(walk *w, const vtrace_event *ev, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static vram_status bad(walk *w, const vtrace_event *ev, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return vsim_fail(w->err, w->errlen, VRAM_EPARSE, "%s:%llu: %s", w->path, (unsigned long long)ev->line, msg);
}

/* ---- pools and lists ---- */

static int pool_new(pool *p, size_t *out)
{
    if (p->nfree) {
        *out = p->free[--p->nfree];
        return 1;
    }
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 256;
        unsigned char *data = realloc(p->data, cap * p->elem);
        if (!data)
            return 0;
        p->data = data;
        size_t *fr = realloc(p->free, cap * sizeof *fr);
        if (!fr)
            return 0;
        p->free = fr;
        p->cap = cap;
    }
    *out = p->n++;
    return 1;
}

static void pool_release(pool *p, size_t i) { p->free[p->nfree++] = i; }

static void pool_destroy(pool *p)
{
    free(p->data);
    free(p->free);
}

static void rl_append(walk *w, rlist *l, size_t r)
{
    request *q = REQ(w, r);
    q->prev = l->last;
    q->next = NIL;
    if (l->last != NIL)
        REQ(w, l->last)->next = r;
    else
        l->first = r;
    l->last = r;
}

static void rl_remove(walk *w, rlist *l, size_t r)
{
    request *q = REQ(w, r);
    if (q->prev != NIL)
        REQ(w, q->prev)->next = q->next;
    else
        l->first = q->next;
    if (q->next != NIL)
        REQ(w, q->next)->prev = q->prev;
    else
        l->last = q->prev;
    q->prev = q->next = NIL;
}

/* ---- the candidate heap (pass 2) ---- */

static uint64_t heap_key(const walk *w, size_t pos) { return ITEM(w, w->heap[pos])->next; }

static void heap_swap(walk *w, size_t i, size_t j)
{
    size_t t = w->heap[i];
    w->heap[i] = w->heap[j];
    w->heap[j] = t;
    ITEM(w, w->heap[i])->heap_pos = i;
    ITEM(w, w->heap[j])->heap_pos = j;
}

static void heap_fix(walk *w, size_t i)
{
    while (i > 0 && heap_key(w, (i - 1) / 2) < heap_key(w, i)) {
        heap_swap(w, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, big = i;
        if (l < w->n_heap && heap_key(w, l) > heap_key(w, big))
            big = l;
        if (r < w->n_heap && heap_key(w, r) > heap_key(w, big))
            big = r;
        if (big == i)
            return;
        heap_swap(w, i, big);
        i = big;
    }
}

static void heap_insert(walk *w, size_t i)
{
    item *it = ITEM(w, i);
    it->in_heap = 1;
    w->heap_bytes += it->size;
    it->heap_pos = w->n_heap;
    w->heap[w->n_heap++] = i;
    heap_fix(w, it->heap_pos);
}

static void heap_remove(walk *w, size_t i)
{
    item *it = ITEM(w, i);
    size_t pos = it->heap_pos;
    it->in_heap = 0;
    w->heap_bytes -= it->size;
    w->n_heap--;
    if (pos != w->n_heap) {
        heap_swap(w, pos, w->n_heap);
        heap_fix(w, pos);
    }
}

/* A new item, zeroed but for node; the heap keeps room for every item. */
static int item_new(walk *w, size_t *out)
{
    if (!pool_new(&w->items, out))
        return 0;
    if (w->sim && w->cap_heap < w->items.cap) {
        size_t *hp = realloc(w->heap, w->items.cap * sizeof *hp);
        if (!hp) {
            pool_release(&w->items, *out);
            return 0;
        }
        w->heap = hp;
        w->cap_heap = w->items.cap;
    }
    item *it = ITEM(w, *out);
    memset(it, 0, sizeof *it);
    it->node = NIL;
    return 1;
}

static void item_drop(walk *w, size_t i)
{
    item *it = ITEM(w, i);
    if (it->resident) {
        if (it->in_heap)
            heap_remove(w, i);
        w->resident -= it->size;
    }
    pool_release(&w->items, i);
}

/* ---- requests and their nodes ---- */

static size_t req_find(const walk *w, uint64_t id)
{
    const size_t *slot = vsim_idmap_get(w->reqs, id);
    return slot ? *slot : NIL;
}

static vram_status req_get(walk *w, uint64_t id, size_t *out)
{
    int created;
    size_t *slot = vsim_idmap_put(w->reqs, id, &created);
    if (!slot)
        return VRAM_ENOHOST;
    if (created) {
        size_t r;
        if (!pool_new(&w->requests, &r)) {
            vsim_idmap_remove(w->reqs, id);
            return VRAM_ENOHOST;
        }
        *slot = r;
        request *q = REQ(w, r);
        memset(q, 0, sizeof *q);
        q->id = id;
        q->first = q->last = q->prev = q->next = NIL;
    }
    *out = *slot;
    return VRAM_OK;
}

/* A request that does not run and owns nothing is forgotten. */
static void req_maybe_forget(walk *w, size_t r)
{
    request *q = REQ(w, r);
    if (q->running || q->first != NIL)
        return;
    vsim_idmap_remove(w->reqs, q->id);
    pool_release(&w->requests, r);
}

static int active(const walk *w, size_t r)
{
    return r != NIL && REQ(w, r)->running && !REQ(w, r)->preempted;
}

static vram_status node_add(walk *w, size_t item_i, size_t r, size_t *out)
{
    if (!pool_new(&w->nodes, out))
        return VRAM_ENOHOST;
    node *n = NODE(w, *out);
    request *q = REQ(w, r);
    n->item = item_i;
    n->req = r;
    n->refs = 0;
    n->next = NIL;
    n->prev = q->last;
    if (q->last != NIL)
        NODE(w, q->last)->next = *out;
    else
        q->first = *out;
    q->last = *out;
    return VRAM_OK;
}

static void node_remove(walk *w, size_t i)
{
    node *n = NODE(w, i);
    size_t r = n->req;
    request *q = REQ(w, r);
    if (n->prev != NIL)
        NODE(w, n->prev)->next = n->next;
    else
        q->first = n->next;
    if (n->next != NIL)
        NODE(w, n->next)->prev = n->prev;
    else
        q->last = n->prev;
    pool_release(&w->nodes, i);
    req_maybe_forget(w, r);
}

/* The map key of request `req`'s references to `key`: blanks are not in keys. */
static void ref_name(char buf[VTRACE_KEY_MAX + 24], const char *key, uint64_t req)
{
    snprintf(buf, VTRACE_KEY_MAX + 24, "%s %llu", key, (unsigned long long)req);
}

/* ---- need, placement (pass 2) ---- */

static void need_add(walk *w, size_t i, uint64_t k)
{
    item *it = ITEM(w, i);
    if (!w->sim)
        return;
    if (it->need == 0 && it->in_heap)
        heap_remove(w, i);
    it->need += k;
}

enum { KEEP, DROP, DROP_UNCOUNTED };

/* `drop`: r no longer runs (a preemption, DROP, or a begin or restore that did
 * not fit, DROP_UNCOUNTED): what it alone needed goes instead of joining the
 * candidates. */
static void need_sub(walk *w, size_t i, uint64_t k, int drop)
{
    item *it = ITEM(w, i);
    if (!w->sim)
        return;
    it->need -= k;
    if (it->need || !it->resident || !it->evictable)
        return;
    if (drop == KEEP) {
        heap_insert(w, i);
        return;
    }
    it->resident = 0;
    w->resident -= it->size;
    if (drop == DROP)
        w->b->belady_preempted_bytes += it->size;
}

/* Whether r holds resident memory, which preempting it would release. */
static int holds(const walk *w, size_t r)
{
    for (size_t n = REQ(w, r)->first; n != NIL; n = NODE(w, n)->next)
        if (ITEM(w, NODE(w, n)->item)->resident)
            return 1;
    return 0;
}

/* vLLM's victim: the newest running, not preempted request that holds
 * memory; NIL if none. */
static size_t victim(const walk *w)
{
    for (size_t r = w->active.last; r != NIL; r = REQ(w, r)->prev)
        if (holds(w, r))
            return r;
    return NIL;
}

/* r stops running until a step restores it: it goes on top of the stack. */
static void to_waiting(walk *w, size_t r, int drop)
{
    REQ(w, r)->preempted = 1;
    rl_append(w, &w->preempted, r);
    for (size_t n = REQ(w, r)->first; n != NIL; n = NODE(w, n)->next)
        need_sub(w, NODE(w, n)->item, NODE(w, n)->refs, drop);
}

/* Evicts farthest-next-use candidates until `size` more bytes fit; then,
 * with may_preempt, preempts the newest request (the asking `owner` too, as
 * vLLM does, after which no one more: it waits); 0 if it cannot fit. */
static int make_room(walk *w, uint64_t size, int may_preempt, size_t owner)
{
    while (w->resident + size > w->b->capacity) {
        if (w->n_heap) {
            size_t v = w->heap[0];
            heap_remove(w, v);
            ITEM(w, v)->resident = 0;
            w->resident -= ITEM(w, v)->size;
            w->b->belady_evictions++;
            continue;
        }
        if (!may_preempt || (owner != NIL && !active(w, owner)))
            return 0;
        size_t r = victim(w);
        if (r == NIL)
            return 0;
        rl_remove(w, &w->active, r);
        to_waiting(w, r, DROP);
        w->b->belady_preemptions++;
    }
    return 1;
}

static void make_resident(walk *w, size_t i)
{
    item *it = ITEM(w, i);
    it->resident = 1;
    w->resident += it->size;
    if (it->evictable && it->need == 0)
        heap_insert(w, i);
}

/* A placement may preempt unless it is for a request that does not run (or
 * waits): has_owner says the item has NEED REQ, owner is that request (NIL
 * when it has no record, i.e. does not run). */
static int may_preempt(const walk *w, int has_owner, size_t owner)
{
    return !has_owner || active(w, owner);
}

/* A new item: placed, or failed for good (an OOM). */
static void place_new(walk *w, size_t i, int has_owner, size_t owner)
{
    if (make_room(w, ITEM(w, i)->size, may_preempt(w, has_owner, owner), owner)) {
        make_resident(w, i);
    } else {
        ITEM(w, i)->failed = 1;
        w->b->belady_ooms++;
    }
}

/* Brings an evicted or dropped item back (counted); an OOM when it cannot fit. */
static void rematerialise(walk *w, size_t i, int may, size_t owner)
{
    item *it = ITEM(w, i);
    if (!it->evictable || it->failed || it->resident)
        return;
    if (!make_room(w, it->size, may, owner)) {
        w->b->belady_ooms++;
        return;
    }
    w->b->belady_rematerialisations++;
    w->b->belady_bytes_rematerialised += ITEM(w, i)->size;
    make_resident(w, i);
}

/* A reference of an item: logged (pass 1) or its next use read (pass 2). */
static vram_status reference(walk *w, size_t i, int first)
{
    item *it = ITEM(w, i);
    if (!it->evictable || !w->next)
        return VRAM_OK;
    if (!w->sim)
        return vnextuse_log(w->next, it->log, w->index, first);
    uint64_t next;
    if (vnextuse_next(w->next, &next) && !w->io)
        w->io = VRAM_EIO;
    it->next = next;
    if (it->in_heap)
        heap_fix(w, it->heap_pos);
    return VRAM_OK;
}

/* Makes everything r owns resident for its begin or restore, as vLLM admits
 * a waiting request: all at once, by evicting candidates, never by
 * preempting. 1: done (re-materialisations counted); 0: it does not fit, and
 * nothing was evicted or placed (on this ideal device the candidates'
 * bytes say so beforehand), what r alone needed is dropped, uncounted. */
static int hold_request(walk *w, size_t r)
{
    uint64_t missing = 0;
    for (size_t n = REQ(w, r)->first; n != NIL; n = NODE(w, n)->next) {
        size_t i = NODE(w, n)->item;
        need_add(w, i, NODE(w, n)->refs);
        const item *it = ITEM(w, i);
        if (!it->failed && !it->resident)
            missing = missing + it->size < missing ? UINT64_MAX : missing + it->size;
    }
    if (missing > w->b->capacity - w->resident + w->heap_bytes) {
        for (size_t n = REQ(w, r)->first; n != NIL; n = NODE(w, n)->next)
            need_sub(w, NODE(w, n)->item, NODE(w, n)->refs, DROP_UNCOUNTED);
        w->waits++;
        return 0;
    }
    for (size_t n = REQ(w, r)->first; missing && n != NIL; n = NODE(w, n)->next)
        rematerialise(w, NODE(w, n)->item, 0, NIL);
    return 1;
}

/* A step: the waiting requests run again, the most recently preempted first
 * (the head of vLLM's waiting queue), up to the first that does not fit
 * (first come, first served); each counts as begun now. */
static void restore_all(walk *w)
{
    size_t r;
    while ((r = w->preempted.last) != NIL && hold_request(w, r)) {
        rl_remove(w, &w->preempted, r);
        REQ(w, r)->preempted = 0;
        REQ(w, r)->seq = ++w->seq;
        rl_append(w, &w->active, r);
    }
}

/* ---- pass 1's bookkeeping ---- */

static void evictable_open(walk *w, item *it)
{
    it->log = ++w->logged_items;
    if (!w->have_evictable_size) {
        w->have_evictable_size = 1;
        w->b->evictable_size = it->size;
    } else if (w->b->evictable_size != it->size) {
        w->b->belady_exact = 0;
    }
}

static void add_live(walk *w, uint64_t size, int kv, const vtrace_event *ev)
{
    w->live += size;
    if (kv) {
        w->live_kv += size;
        if (w->live_kv > w->b->peak_live_kv)
            w->b->peak_live_kv = w->live_kv;
    } else {
        w->live_other += size;
        if (w->live_other > w->b->peak_live_other)
            w->b->peak_live_other = w->live_other;
    }
    if (w->live > w->b->peak_live) {
        w->b->peak_live = w->live;
        w->b->peak_live_event = w->index;
        w->b->peak_live_line = ev->line;
    }
}

static void sub_live(walk *w, uint64_t size, int kv)
{
    w->live -= size;
    if (kv)
        w->live_kv -= size;
    else
        w->live_other -= size;
}

/* ---- events ---- */

static vram_status ev_alloc(walk *w, const vtrace_event *ev)
{
    int created;
    size_t *slot = vsim_idmap_put(w->ids, ev->id, &created);
    if (!slot)
        return VRAM_ENOHOST;
    if (!created)
        return bad(w, ev, "alloc of id %llu, which is already live", (unsigned long long)ev->id);
    size_t i;
    if (!item_new(w, &i)) {
        vsim_idmap_remove(w->ids, ev->id);
        return VRAM_ENOHOST;
    }
    *slot = i;
    item *it = ITEM(w, i);
    it->size = ev->size;
    it->refs = 1;
    it->evictable = vreplay_backing_of(ev->kind) != VRAM_BACKING_NONE;
    if (!w->sim) {
        it->pooled = (unsigned)vreplay_pooled(w->block, ev->kind, NULL, ev->size) & 1u;
        add_live(w, ev->size, it->pooled, ev);
        if (it->evictable)
            evictable_open(w, it);
    }
    size_t owner = NIL;
    if (ev->need == VTRACE_NEED_ENGINE) {
        it->engine_refs = 1;
        need_add(w, i, 1);
    } else if (ev->need == VTRACE_NEED_REQUEST && it->evictable) {
        size_t n;
        vram_status st = req_get(w, ev->owner, &owner);
        if (!st)
            st = node_add(w, i, owner, &n);
        if (st) {
            vsim_idmap_remove(w->ids, ev->id);
            pool_release(&w->items, i);
            if (owner != NIL)
                req_maybe_forget(w, owner);
            return st;
        }
        NODE(w, n)->refs = 1;
        ITEM(w, i)->node = n;
        if (active(w, owner))
            need_add(w, i, 1);
    } else if (ev->need == VTRACE_NEED_REQUEST) {
        owner = req_find(w, ev->owner);
    }
    vram_status st = reference(w, i, 1);
    if (!st && w->sim)
        place_new(w, i, ev->need == VTRACE_NEED_REQUEST, owner);
    return st;
}

/* free, use, pin, unpin */
static vram_status ev_id(walk *w, const vtrace_event *ev)
{
    const char *what = vtrace_type_name(ev->type);
    size_t *slot = vsim_idmap_get(w->ids, ev->id);
    if (!slot)
        return bad(w, ev, "%s of id %llu, which is not live", what, (unsigned long long)ev->id);
    size_t i = *slot;
    item *it = ITEM(w, i);
    vram_status st = VRAM_OK;
    switch (ev->type) {
    case VTRACE_FREE:
        if (it->pins)
            return bad(w, ev, "free of id %llu, which is pinned", (unsigned long long)ev->id);
        if (!w->sim)
            sub_live(w, it->size, it->pooled);
        if (it->node != NIL)
            node_remove(w, it->node);
        item_drop(w, i);
        vsim_idmap_remove(w->ids, ev->id);
        break;
    case VTRACE_USE: { /* an evictable id with NEED REQ has a node */
        size_t owner = it->node == NIL ? NIL : NODE(w, it->node)->req;
        st = reference(w, i, 0);
        if (w->sim)
            rematerialise(w, i, may_preempt(w, owner != NIL, owner), owner);
        break;
    }
    case VTRACE_PIN:
        it->pins++;
        st = reference(w, i, 0);
        need_add(w, i, 1);
        if (w->sim)
            rematerialise(w, i, 1, NIL);
        break;
    default: /* unpin */
        if (it->pins == 0)
            return bad(w, ev, "unpin of id %llu, which is not pinned", (unsigned long long)ev->id);
        it->pins--;
        need_sub(w, i, 1, KEEP);
        break;
    }
    return st;
}

static vram_status ev_acquire(walk *w, const vtrace_event *ev)
{
    int created;
    size_t *slot = vsim_keymap_put(w->keys, ev->key, &created);
    if (!slot)
        return VRAM_ENOHOST;
    size_t i;
    if (created) {
        if (!item_new(w, &i)) {
            vsim_keymap_remove(w->keys, ev->key);
            return VRAM_ENOHOST;
        }
        *slot = i;
        item *it = ITEM(w, i);
        it->size = ev->size;
        it->evictable = 1;
        if (!w->sim) {
            it->pooled = (unsigned)vreplay_pooled(w->block, VRAM_KIND_OTHER, ev->key, ev->size) & 1u;
            evictable_open(w, it);
            add_live(w, ev->size, it->pooled, ev);
        }
    } else {
        i = *slot;
        if (ITEM(w, i)->size != ev->size)
            return bad(w, ev, "acquire of key \"%s\" with size %llu, held with size %llu", ev->key,
                       (unsigned long long)ev->size, (unsigned long long)ITEM(w, i)->size);
    }
    size_t owner = NIL;
    if (ev->need == VTRACE_NEED_REQUEST) {
        char name[VTRACE_KEY_MAX + 24];
        ref_name(name, ev->key, ev->owner);
        size_t *nslot = vsim_keymap_put(w->refs, name, &created);
        vram_status st = nslot ? req_get(w, ev->owner, &owner) : VRAM_ENOHOST;
        if (!st && created) {
            size_t n;
            st = node_add(w, i, owner, &n);
            if (!st)
                *nslot = n;
        }
        if (st) { /* the key's other references stand; a new key has none */
            if (nslot && created)
                vsim_keymap_remove(w->refs, name);
            if (owner != NIL)
                req_maybe_forget(w, owner);
            if (ITEM(w, i)->refs == 0) {
                pool_release(&w->items, i);
                vsim_keymap_remove(w->keys, ev->key);
            }
            return st;
        }
        NODE(w, *nslot)->refs++;
        if (active(w, owner))
            need_add(w, i, 1);
    } else if (ev->need == VTRACE_NEED_ENGINE) {
        ITEM(w, i)->engine_refs++;
        need_add(w, i, 1);
    } else {
        ITEM(w, i)->free_refs++;
    }
    ITEM(w, i)->refs++;
    int first = ITEM(w, i)->refs == 1;
    vram_status st = reference(w, i, first);
    int has_owner = ev->need == VTRACE_NEED_REQUEST;
    if (!st && w->sim && first)
        place_new(w, i, has_owner, owner);
    else if (!st && w->sim)
        rematerialise(w, i, may_preempt(w, has_owner, owner), owner);
    return st;
}

static vram_status ev_release(walk *w, const vtrace_event *ev)
{
    size_t *slot = vsim_keymap_get(w->keys, ev->key);
    if (!slot)
        return bad(w, ev, "release of key \"%s\", which is not held", ev->key);
    size_t i = *slot;
    item *it = ITEM(w, i);
    char buf[21];
    if (ev->need == VTRACE_NEED_REQUEST) {
        char name[VTRACE_KEY_MAX + 24];
        ref_name(name, ev->key, ev->owner);
        size_t *nslot = vsim_keymap_get(w->refs, name);
        if (!nslot)
            goto no_reference;
        size_t n = *nslot;
        NODE(w, n)->refs--;
        if (active(w, NODE(w, n)->req))
            need_sub(w, i, 1, KEEP);
        if (NODE(w, n)->refs == 0) {
            vsim_keymap_remove(w->refs, name);
            node_remove(w, n);
        }
    } else if (ev->need == VTRACE_NEED_ENGINE) {
        if (it->engine_refs == 0)
            goto no_reference;
        it->engine_refs--;
        need_sub(w, i, 1, KEEP);
    } else {
        if (it->free_refs == 0)
            goto no_reference;
        it->free_refs--;
    }
    it = ITEM(w, i);
    if (--it->refs == 0) {
        if (!w->sim)
            sub_live(w, it->size, it->pooled);
        item_drop(w, i);
        vsim_keymap_remove(w->keys, ev->key);
    }
    return VRAM_OK;
no_reference:
    return bad(w, ev, "release of key \"%s\" by NEED %s, which holds no reference", ev->key,
               vtrace_need_text(ev->need, ev->owner, buf));
}

/* Version 2 only: in version 1 nothing is owned, so requests change nothing. */
static vram_status ev_begin(walk *w, const vtrace_event *ev)
{
    size_t r;
    vram_status st = req_get(w, ev->id, &r);
    if (st)
        return st;
    if (REQ(w, r)->running)
        return bad(w, ev, "begin of request %llu, which is running", (unsigned long long)ev->id);
    REQ(w, r)->running = 1;
    REQ(w, r)->seq = ++w->seq;
    for (size_t n = REQ(w, r)->first; n != NIL; n = NODE(w, n)->next)
        if ((st = reference(w, NODE(w, n)->item, 0)))
            return st;
    if (!w->sim || hold_request(w, r)) {
        rl_append(w, &w->active, r);
    } else { /* it does not fit: it waits as if preempted */
        REQ(w, r)->preempted = 1;
        rl_append(w, &w->preempted, r);
    }
    return VRAM_OK;
}

static vram_status ev_end(walk *w, const vtrace_event *ev)
{
    size_t r = req_find(w, ev->id);
    if (r == NIL || !REQ(w, r)->running)
        return bad(w, ev, "end of request %llu, which is not running", (unsigned long long)ev->id);
    request *q = REQ(w, r);
    if (q->preempted) {
        rl_remove(w, &w->preempted, r);
        q->preempted = 0;
    } else {
        rl_remove(w, &w->active, r);
        for (size_t n = q->first; n != NIL; n = NODE(w, n)->next)
            need_sub(w, NODE(w, n)->item, NODE(w, n)->refs, KEEP);
    }
    REQ(w, r)->running = 0;
    req_maybe_forget(w, r);
    return VRAM_OK;
}

/* One event; VRAM_OK or an error with err set. */
static vram_status walk_event(walk *w, const vtrace_event *ev)
{
    switch (ev->type) {
    case VTRACE_ALLOC:
        return ev_alloc(w, ev);
    case VTRACE_FREE:
    case VTRACE_USE:
    case VTRACE_PIN:
    case VTRACE_UNPIN:
        return ev_id(w, ev);
    case VTRACE_SHARED_ACQUIRE:
        return ev_acquire(w, ev);
    case VTRACE_SHARED_RELEASE:
        return ev_release(w, ev);
    case VTRACE_REQUEST_BEGIN:
        return w->v2 ? ev_begin(w, ev) : VRAM_OK;
    case VTRACE_REQUEST_END:
        return w->v2 ? ev_end(w, ev) : VRAM_OK;
    case VTRACE_STEP:
        if (w->v2 && w->sim)
            restore_all(w);
        return VRAM_OK;
    default:
        return VRAM_OK;
    }
}

/* ---- the passes ---- */

static vram_status walk_init(walk *w, const char *path, int sim, vnextuse *next, vbounds *b,
                             char *err, size_t errlen)
{
    memset(w, 0, sizeof *w);
    w->path = path;
    w->err = err;
    w->errlen = errlen;
    w->sim = sim;
    w->next = next;
    w->b = b;
    w->items.elem = sizeof(item);
    w->nodes.elem = sizeof(node);
    w->requests.elem = sizeof(request);
    w->active = w->preempted = (rlist){NIL, NIL};
    vram_status st = vsim_idmap_create(sizeof(size_t), &w->ids);
    if (!st)
        st = vsim_keymap_create(sizeof(size_t), &w->keys);
    if (!st)
        st = vsim_keymap_create(sizeof(size_t), &w->refs);
    if (!st)
        st = vsim_idmap_create(sizeof(size_t), &w->reqs);
    return st;
}

static void walk_destroy(walk *w)
{
    vsim_idmap_destroy(w->ids);
    vsim_keymap_destroy(w->keys);
    vsim_keymap_destroy(w->refs);
    vsim_idmap_destroy(w->reqs);
    pool_destroy(&w->items);
    pool_destroy(&w->nodes);
    pool_destroy(&w->requests);
    free(w->heap);
}

/* Walks the whole trace. Pass 2 reports an inconsistency as a change of the
 * file between the passes (pass 1 found none). */
static vram_status run_pass(walk *w)
{
    vevs_cursor *r;
    vram_status st = vevs_open(w->stream, w->path, NULL, 0, &r, w->err, w->errlen);
    if (st)
        return st;
    const vtrace_header *h = vevs_header(r);
    if (w->b->capacity == 0)
        w->b->capacity = h->capacity;
    w->block = h->kv_block_bytes;
    w->v2 = h->version >= 2;
    vtrace_event ev;
    uint32_t slot;
    int got;
    while ((got = vevs_next(r, &ev, &slot)) == 1) {
        w->index++;
        if ((st = walk_event(w, &ev)) || (st = w->io))
            break;
        if (w->stop && *w->stop) {
            st = vsim_fail(w->err, w->errlen, VRAM_EBUSY, "%s:%llu: the bounds pass was stopped (a signal)",
                           w->path, (unsigned long long)ev.line);
            break;
        }
    }
    if (got < 0) {
        st = vsim_fail(w->err, w->errlen, VRAM_EPARSE, "%s", vevs_error(r));
    } else if (st == VRAM_EPARSE && w->sim) {
        vsim_fail(w->err, w->errlen, st, "%s:%llu: the trace changed between the two passes", w->path,
                  (unsigned long long)ev.line);
    }
    if (!w->sim)
        w->b->events = w->index;
    vevs_close(r);
    return st;
}

vram_status vbounds_compute(const char *path, uint64_t capacity, int belady, vbounds *out,
                            char *err, size_t errlen)
{
    return vbounds_compute_stop(path, capacity, belady, NULL, out, err, errlen);
}

vram_status vbounds_compute_stop(const char *path, uint64_t capacity, int belady,
                                 volatile sig_atomic_t *stop, vbounds *out, char *err,
                                 size_t errlen)
{
    return vbounds_compute_stream(NULL, path, capacity, belady, stop, out, err, errlen);
}

vram_status vbounds_compute_stream(const vevs *stream, const char *path, uint64_t capacity,
                                   int belady, volatile sig_atomic_t *stop, vbounds *out,
                                   char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (err && errlen)
        err[0] = '\0';
    out->capacity = capacity;
    out->belady_exact = 1;
    vnextuse *next = NULL;
    walk w;
    vram_status st = belady ? vnextuse_create(&next) : VRAM_OK;
    if (!st && next)
        vnextuse_set_stop(next, stop);
    if (!st) {
        st = walk_init(&w, path, 0, next, out, err, errlen);
        w.stream = stream;
        w.stop = stop;
        if (!st)
            st = run_pass(&w);
        walk_destroy(&w);
    }
    if (!st && belady)
        st = vnextuse_finish(next);
    if ((!st || st == VRAM_EBUSY) && belady && stop && *stop) {
        st = vsim_fail(err, errlen, VRAM_EBUSY, "%s: the bounds pass was stopped (a signal)", path);
    }
    if (!st && belady) {
        st = walk_init(&w, path, 1, next, out, err, errlen);
        w.stream = stream;
        w.stop = stop;
        if (!st)
            st = run_pass(&w);
        if (out->belady_preemptions || w.waits)
            out->belady_exact = 0;
        walk_destroy(&w);
        out->belady_done = !st;
    }
    vnextuse_destroy(next);
    if (st == VRAM_ENOHOST && err && errlen && !err[0])
        return vsim_fail(err, errlen, st, "%s: out of host memory computing bounds", path);
    if (st == VRAM_EIO && err && errlen && !err[0])
        return vsim_fail(err, errlen, st, "%s: Belady's next-use log: a temporary file failed", path);
    return st;
}
