/* serve.c - the closed loop (serve.h): the engine's events as calls on two
 * live managers (the KV region with the policy under test, the rest bestfit),
 * the KV ledger sampled at every step, and the run's outcomes. */
#include "serve.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fail.h"
#include "idmap.h"
#include "vram/manager.h"

const char *const vserve_policy_names[] = {"bestfit", "buddy", "tlsf", "pool", "caching", NULL};

enum { LANE_MAIN, LANE_KV, LANES };

/* A live engine id: its handle, its lane, and in the KV lane the bytes its
 * block takes beyond its size (the heap's rounding). */
typedef struct live_id {
    vram_handle h;
    uint64_t rounding;
    int lane;
} live_id;

/* A shared key: the references the engine holds, and as above. */
typedef struct live_key {
    uint64_t refs, rounding;
    int lane;
} live_key;

/* Request times of the finished requests, ms. */
typedef struct times {
    double *queue, *ttft;
    size_t n, cap;
} times;

typedef struct serve {
    const vserve_options *o;
    vengine *e;
    vram_manager *lane[LANES];
    vsim_idmap *ids;
    vsim_keymap *keys;
    uint64_t rounding;           /* the KV lane's rounding over its live blocks */
    uint64_t kv_bytes;           /* the KV lane's capacity */
    times t;
    vserve_result *res;
    double weight_us;            /* the samples' durations so far */
    double sum[5];               /* each ledger part x duration */
    char *err;
    size_t errlen;
} serve;

static vram_status fail(serve *s, vram_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static vram_status fail(serve *s, vram_status st, const char *fmt, ...)
{
    if (s->err && s->errlen && !s->err[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(s->err, s->errlen, fmt, ap);
        va_end(ap);
    }
    return st;
}

static uint64_t in_use(const vram_manager *m)
{
    vram_manager_stats st;
    vram_manager_stats_get(m, &st);
    return st.heap.in_use;
}

/* The KV lane holds the KV allocations (cached prefix blocks among them); the
 * engine's only shared key, the embeddings, is in the main lane. */
static int lane_of(vram_kind kind)
{
    return kind == VRAM_KIND_KV ? LANE_KV : LANE_MAIN;
}

static vram_status on_alloc(serve *s, const vtrace_event *ev)
{
    int lane = lane_of(ev->kind);
    vram_manager *m = s->lane[lane];
    uint64_t before = in_use(m);
    vram_alloc_desc d = {.size = ev->size, .priority = ev->priority, .kind = ev->kind,
                         .backing = VRAM_BACKING_NONE};
    vram_handle h;
    vram_status st = vram_alloc(m, &d, &h);
    if (st == VRAM_ENOMEM)
        return VRAM_ENOMEM;
    if (st)
        return fail(s, st, "alloc of %llu bytes (%s): %s", (unsigned long long)ev->size,
                    vram_kind_name(ev->kind), vram_strerror(st));
    int created;
    live_id *it = vsim_idmap_put(s->ids, ev->id, &created);
    if (!it)
        return fail(s, VRAM_ENOHOST, "out of host memory");
    *it = (live_id){.h = h, .lane = lane, .rounding = lane == LANE_KV ? in_use(m) - before - ev->size : 0};
    s->rounding += it->rounding;
    return VRAM_OK;
}

static vram_status on_free(serve *s, uint64_t id)
{
    live_id *it = vsim_idmap_get(s->ids, id);
    if (!it)
        return fail(s, VRAM_ECORRUPT, "free of id %llu that is not live", (unsigned long long)id);
    vram_status st = vram_free(s->lane[it->lane], it->h);
    if (st)
        return fail(s, st, "free of id %llu: %s", (unsigned long long)id, vram_strerror(st));
    s->rounding -= it->rounding;
    vsim_idmap_remove(s->ids, id);
    return VRAM_OK;
}

static vram_status on_acquire(serve *s, const vtrace_event *ev)
{
    int created;
    live_key *k = vsim_keymap_put(s->keys, ev->key, &created);
    if (!k)
        return fail(s, VRAM_ENOHOST, "out of host memory");
    int lane = lane_of(VRAM_KIND_OTHER);
    vram_manager *m = s->lane[lane];
    uint64_t before = in_use(m);
    vram_handle h;
    vram_status st = vram_acquire_shared(m, ev->key, ev->size, ev->priority, NULL, NULL, &h);
    if (st) {
        if (created)
            vsim_keymap_remove(s->keys, ev->key);
        if (st == VRAM_ENOMEM)
            return VRAM_ENOMEM;
        return fail(s, st, "acquire of %s (%llu bytes): %s", ev->key, (unsigned long long)ev->size,
                    vram_strerror(st));
    }
    if (created) {
        *k = (live_key){.lane = lane, .rounding = lane == LANE_KV ? in_use(m) - before - ev->size : 0};
        s->rounding += k->rounding;
    }
    k->refs++;
    return VRAM_OK;
}

static vram_status on_release(serve *s, const char *key)
{
    live_key *k = vsim_keymap_get(s->keys, key);
    if (!k)
        return fail(s, VRAM_ECORRUPT, "release of %s that is not held", key);
    vram_status st = vram_release_shared(s->lane[k->lane], key);
    if (st)
        return fail(s, st, "release of %s: %s", key, vram_strerror(st));
    if (--k->refs == 0) {
        s->rounding -= k->rounding;
        vsim_keymap_remove(s->keys, key);
    }
    return VRAM_OK;
}

/* The engine's events: memory on the managers; the rest (step, begin, end,
 * use, pin, unpin) changes nothing there, as no manager evicts. */
static vram_status sink_event(void *ctx, const vtrace_event *ev)
{
    serve *s = ctx;
    switch (ev->type) {
    case VTRACE_ALLOC:
        return on_alloc(s, ev);
    case VTRACE_FREE:
        return on_free(s, ev->id);
    case VTRACE_SHARED_ACQUIRE:
        return on_acquire(s, ev);
    case VTRACE_SHARED_RELEASE:
        return on_release(s, ev->key);
    default:
        return VRAM_OK;
    }
}

static vram_status times_add(serve *s, double queue_ms, double ttft_ms)
{
    times *t = &s->t;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 1024;
        double *q = realloc(t->queue, cap * sizeof *q);
        if (q)
            t->queue = q;
        double *f = q ? realloc(t->ttft, cap * sizeof *f) : NULL;
        if (!f)
            return fail(s, VRAM_ENOHOST, "out of host memory");
        t->ttft = f;
        t->cap = cap;
    }
    t->queue[t->n] = queue_ms;
    t->ttft[t->n++] = ttft_ms;
    return VRAM_OK;
}

static vram_status sink_done(void *ctx, const vengine_request_times *t)
{
    return times_add(ctx, (double)(t->admitted_us - t->arrival_us) / 1e3,
                     (double)(t->first_token_us - t->arrival_us) / 1e3);
}

/* The free bytes of the KV heap in pieces of at least `unit` bytes. */
typedef struct usable_walk {
    uint64_t unit, bytes;
} usable_walk;

static int count_usable(const vram_block_info *b, void *ctx)
{
    usable_walk *w = ctx;
    if (!b->used && b->size >= w->unit)
        w->bytes += b->size;
    return 0;
}

/* The KV region now: the engine's ledger of what it holds, the heap's rounding
 * and its free bytes split by whether the next KV allocation fits in them.
 * VRAM_ECORRUPT when the engine's and the heap's books disagree. */
static vram_status ledger_now(serve *s, vserve_ledger *l)
{
    vengine_kv_ledger el;
    vengine_kv_ledger_get(s->e, &el);
    vram_manager_stats ms;
    vram_manager_stats_get(s->lane[LANE_KV], &ms);
    if (ms.heap.requested != el.held)
        return fail(s, VRAM_ECORRUPT, "KV ledger: the engine holds %llu bytes of KV, the KV heap %llu",
                    (unsigned long long)el.held, (unsigned long long)ms.heap.requested);
    if (ms.heap.in_use - ms.heap.requested != s->rounding)
        return fail(s, VRAM_ECORRUPT, "KV ledger: the KV heap rounds %llu bytes, its blocks %llu",
                    (unsigned long long)(ms.heap.in_use - ms.heap.requested), (unsigned long long)s->rounding);
    usable_walk w = {.unit = vengine_next_kv_bytes(s->e)};
    uint64_t free_bytes = s->kv_bytes - ms.heap.in_use;
    if (ms.heap.largest_free >= w.unit) {
        vram_status st = vram_heap_walk(vram_manager_heap(s->lane[LANE_KV]), count_usable, &w);
        if (st)
            return fail(s, st, "walk of the KV heap: %s", vram_strerror(st));
        if (w.bytes > free_bytes) /* caching: free blocks inside its segments, the rest unreserved */
            return fail(s, VRAM_ECORRUPT, "KV ledger: %llu free bytes usable of %llu free",
                        (unsigned long long)w.bytes, (unsigned long long)free_bytes);
    }
    *l = (vserve_ledger){.kv_bytes = s->kv_bytes, .tokens = el.tokens, .reserved = el.reserved,
                         .waste = el.unused + s->rounding, .free_unusable = free_bytes - w.bytes,
                         .free_usable = w.bytes};
    if (l->tokens + l->reserved + l->waste + l->free_unusable + l->free_usable != l->kv_bytes)
        return fail(s, VRAM_ECORRUPT, "KV ledger: the parts do not add up to the region's %llu bytes",
                    (unsigned long long)l->kv_bytes);
    return VRAM_OK;
}

static vram_status check_all(serve *s)
{
    char msg[512];
    vram_status st = vengine_check(s->e, msg, sizeof msg);
    for (int i = 0; !st && i < LANES; i++)
        st = vram_manager_check(s->lane[i], msg, sizeof msg);
    return st ? fail(s, st, "check: %s", msg) : VRAM_OK;
}

static vram_status sink_stepped(void *ctx, uint64_t dur_us)
{
    serve *s = ctx;
    const vserve_options *o = s->o;
    vserve_sample smp = {.step = vengine_stats_of(s->e)->steps, .ts_us = vengine_now(s->e), .dur_us = dur_us};
    vengine_load(s->e, &smp.running, &smp.waiting);
    vram_status st = ledger_now(s, &smp.l);
    if (st)
        return st;
    const uint64_t parts[5] = {smp.l.tokens, smp.l.reserved, smp.l.waste, smp.l.free_unusable,
                               smp.l.free_usable};
    for (int i = 0; i < 5; i++)
        s->sum[i] += (double)parts[i] * (double)dur_us;
    s->weight_us += (double)dur_us;
    s->res->samples++;
    if (o->check_every && smp.step % o->check_every == 0 && (st = check_all(s)))
        return st;
    if (o->progress && o->progress_every && smp.step % o->progress_every == 0)
        o->progress(o->progress_ctx, smp.step);
    if (o->stop && *o->stop)
        return fail(s, VRAM_EBUSY, "stopped at step %llu", (unsigned long long)smp.step);
    return o->sample ? o->sample(o->sample_ctx, &smp) : VRAM_OK;
}

static vram_status lane_create(serve *s, int lane, const char *policy, uint64_t capacity, uint64_t block)
{
    char why[256] = "";
    vram_manager_config c = {.device = {.capacity = capacity, .errbuf = why, .errbuf_len = sizeof why},
                             .heap_policy = policy, .heap = {.block_size = block}};
    vram_status st = vram_manager_create(&c, &s->lane[lane]);
    if (st)
        return fail(s, st, "cannot create a %s manager over %llu bytes: %s", policy,
                    (unsigned long long)capacity, why[0] ? why : vram_strerror(st));
    return VRAM_OK;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Mean and 99th percentile (nearest rank) of v[0..n), sorted here. */
static void mean_p99(double *v, size_t n, double *mean, double *p99)
{
    *mean = *p99 = 0;
    if (!n)
        return;
    qsort(v, n, sizeof *v, cmp_double);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    *mean = sum / (double)n;
    *p99 = v[(size_t)ceil(0.99 * (double)n) - 1];
}

static void outcomes(serve *s)
{
    vserve_result *r = s->res;
    r->engine = *vengine_stats_of(s->e);
    r->kv_bytes = s->kv_bytes;
    r->modelled_s = (double)r->engine.end_us / 1e6;
    r->tokens_per_s = r->modelled_s > 0 ? (double)r->engine.tokens_out / r->modelled_s : 0;
    r->mean_batch = r->engine.steps ? (double)r->engine.running_sum / (double)r->engine.steps : 0;
    mean_p99(s->t.queue, s->t.n, &r->queue_mean_ms, &r->queue_p99_ms);
    mean_p99(s->t.ttft, s->t.n, &r->ttft_mean_ms, &r->ttft_p99_ms);
    double *share[5] = {&r->avg.tokens, &r->avg.reserved, &r->avg.waste, &r->avg.free_unusable,
                        &r->avg.free_usable};
    for (int i = 0; i < 5; i++)
        *share[i] = s->weight_us > 0 ? s->sum[i] / s->weight_us / (double)s->kv_bytes : 0;
}

/* The managers over the engine's plan: the KV region of the budget's bytes
 * (whole heap alignment units) and the rest of the planned share. */
static vram_status setup(serve *s)
{
    const vserve_options *o = s->o;
    const vengine_plan *p = vengine_plan_of(s->e);
    int pool = !strcmp(o->policy, "pool");
    if (pool && o->e.kv != VENGINE_KV_PAGED)
        return fail(s, VRAM_EINVAL, "the pool policy serves fixed blocks: only --engine paged");
    s->kv_bytes = p->pool / VRAM_DEFAULT_ALIGN * VRAM_DEFAULT_ALIGN;
    if (pool)
        s->kv_bytes = p->pool / p->block_bytes * p->block_bytes;
    uint64_t share = (uint64_t)floor(o->e.utilisation * (double)o->e.capacity);
    uint64_t rest = (share - s->kv_bytes) / VRAM_DEFAULT_ALIGN * VRAM_DEFAULT_ALIGN;
    TRY(lane_create(s, LANE_KV, o->policy, s->kv_bytes, pool ? p->block_bytes : 0));
    TRY(lane_create(s, LANE_MAIN, "bestfit", rest, 0));
    if (vsim_idmap_create(sizeof(live_id), &s->ids) || vsim_keymap_create(sizeof(live_key), &s->keys))
        return fail(s, VRAM_ENOHOST, "out of host memory");
    return VRAM_OK;
}

static vram_status run(serve *s)
{
    TRY(setup(s));
    vram_status st = vengine_start(s->e);
    if (st == VRAM_ENOMEM)
        return fail(s, st, "the weights do not fit the %llu bytes beside the KV region",
                    (unsigned long long)(s->o->e.utilisation * (double)s->o->e.capacity) - s->kv_bytes);
    for (int done = 0; !st && !done;)
        st = vengine_advance(s->e, &done);
    if (!st)
        st = vengine_finish(s->e);
    return st ? st : check_all(s);
}

vram_status vserve_run(const vserve_options *o, vserve_result *out, char *err, size_t errlen)
{
    *out = (vserve_result){0};
    if (err && errlen)
        err[0] = '\0';
    serve s = {.o = o, .res = out, .err = err, .errlen = errlen};
    int known = 0;
    for (size_t i = 0; o->policy && vserve_policy_names[i]; i++)
        known |= !strcmp(o->policy, vserve_policy_names[i]);
    if (!known)
        return fail(&s, VRAM_EINVAL, "unknown policy '%s' (expected bestfit, buddy, tlsf, pool or caching)",
                    o->policy ? o->policy : "(null)");
    const clock_t c0 = clock();
    const vengine_sink sink = {.event = sink_event, .done = sink_done, .stepped = sink_stepped, .ctx = &s};
    vram_status st = vengine_create(&o->e, &sink, err, errlen, &s.e);
    if (!st)
        st = run(&s);
    if (s.e)
        outcomes(&s);
    out->cpu_s = (double)(clock() - c0) / CLOCKS_PER_SEC;
    vengine_destroy(s.e);
    for (int i = 0; i < LANES; i++)
        if (s.lane[i])
            vram_manager_destroy(s.lane[i], NULL);
    vsim_idmap_destroy(s.ids);
    vsim_keymap_destroy(s.keys);
    free(s.t.queue);
    free(s.t.ttft);
    return st;
}
