/* tracegen.c - the trace generator (tracegen.h): start-up, a continuous-
 * batching scheduler over the recorded requests, shut-down.
 *
 * Time is engine time in microseconds: arrivals come from the recording
 * (shifted to the window start, divided by the speedup); a step lasts
 *   STEP_BASE_US + prefill tokens * PREFILL_NS_PER_TOKEN / 1000
 *                + context tokens read / KV_TOKENS_PER_US
 * (a 4-GPU H100-class node serving a 70B model: ~10 ms per decode step, ~16k
 * prefill tokens/s). Byte counts all come from the budget planner. */
#include "tracegen.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace.h"
#include "tracegen_prefix.h"
#include "vram/budget.h"

#define PRIO_WEIGHT 100
#define PRIO_ACTIVATION 90
#define PRIO_ADAPTER 50
#define PRIO_KV 10
#define SEGMENT_TOKENS VWORKLOAD_MOONCAKE_BLOCK_TOKENS
#define STEP_BASE_US 10000
#define PREFILL_NS_PER_TOKEN 60000
#define KV_TOKENS_PER_US 32
#define WORKSPACE_FIXED (UINT64_C(32) << 20)
#define ADMIT_LOOKAHEAD 64        /* waiting requests looked at for a free adapter slot */

typedef struct greq {
    uint64_t rid;              /* request id: the workload line */
    uint64_t arrival_us;       /* engine time */
    uint64_t prompt;           /* tokens to prefill; after a preemption, prompt + generated (recompute) */
    uint64_t output;           /* tokens still to generate */
    uint64_t computed;         /* tokens whose KV exists */
    uint64_t generated;        /* tokens generated since (re)admission */
    uint64_t step_tokens;      /* tokens of the current step */
    int adapter;               /* -1: none */
    /* KV, paged: the first segs_held segments are shared, then nblocks private blocks */
    uint64_t *blocks;
    size_t nblocks, blocks_cap;
    uint64_t *segs;            /* hash ids of the full 512-token segments of the prompt */
    size_t nsegs, segs_held;
    /* KV, contiguous: one buffer of kv_tokens tokens (kv_id 0: none) */
    uint64_t kv_id, kv_tokens;
} greq;

typedef struct adapter {
    uint64_t id;               /* alloc id while resident, else 0 */
    uint64_t last_step;
    uint32_t users;            /* running requests using it */
} adapter;

typedef struct gen {
    const vtracegen_config *c;
    vtrace_writer *w;
    vtracegen_stats st;
    vram_model_config model;
    vram_budget_profile prof;
    uint64_t now, next_id;
    uint64_t block_bytes, seg_bytes, adapter_bytes;
    uint64_t pool, used;       /* KV bytes: the planner's budget and what requests and cache hold */
    int sharing;               /* prefix segments are shared */
    /* input */
    vworkload_reader *wl;
    greq *ahead;               /* the next request to arrive, NULL when none is left */
    uint64_t win_start_us, win_end_us;
    /* queues: waiting is a ring, running is in admission order */
    greq **waiting;
    size_t wait_head, wait_len, wait_cap;
    greq **running;
    size_t nrun;
    adapter *ad;
    uint32_t ad_resident;
    vtg_prefix *prefix;
    /* start-up state */
    uint64_t *weight_ids;
    size_t nweights;
    char embed_key[VTRACE_KEY_MAX];
    int embed_state;           /* the embedding model: 0 not yet attached, 1 attached, 2 gone */
    uint64_t embed_attach_us, embed_detach_us;
    char *err;
    size_t errlen;
} gen;

#define TRY(x)                                                                             \
    do {                                                                                   \
        vram_status st_ = (x);                                                             \
        if (st_)                                                                           \
            return st_;                                                                    \
    } while (0)

static vram_status fail(gen *g, vram_status st, const char *fmt, ...)
{
    if (g->err && g->errlen && !g->err[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(g->err, g->errlen, fmt, ap);
        va_end(ap);
    }
    return st;
}

static uint64_t ceil_div(uint64_t a, uint64_t b)
{
    return a / b + (a % b != 0);
}

static uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* ---- emission ---- */

static vram_status emit(gen *g, vtrace_event *ev)
{
    ev->ts_us = g->now;
    vram_status st = vtrace_write(g->w, ev);
    if (st)
        return fail(g, st, "cannot write the trace: %s", vram_strerror(st));
    g->st.events++;
    return VRAM_OK;
}

static vram_status emit_alloc(gen *g, uint64_t size, vram_kind kind, int prio, uint64_t *id)
{
    vtrace_event ev = {.type = VTRACE_ALLOC, .id = g->next_id++, .size = size, .kind = kind,
                       .priority = prio};
    *id = ev.id;
    return emit(g, &ev);
}

static vram_status emit_id(gen *g, vtrace_type t, uint64_t id)
{
    vtrace_event ev = {.type = t, .id = id};
    return emit(g, &ev);
}

static vram_status emit_key(gen *g, vtrace_type t, const char *key, uint64_t size, int prio)
{
    vtrace_event ev = {.type = t, .size = size, .priority = prio};
    snprintf(ev.key, sizeof ev.key, "%s", key);
    return emit(g, &ev);
}

static vram_status emit_segment(gen *g, vtrace_type t, uint64_t hash)
{
    char key[VTRACE_KEY_MAX];
    snprintf(key, sizeof key, "kv:%llu", (unsigned long long)hash);
    return emit_key(g, t, key, g->seg_bytes, PRIO_KV);
}

/* ---- KV accounting ---- */

static uint64_t kv_free(const gen *g)
{
    return g->pool - g->used;
}

static void add_used(gen *g, uint64_t bytes)
{
    g->used += bytes;
    if (g->used > g->st.peak_kv_bytes)
        g->st.peak_kv_bytes = g->used;
}

/* Tokens the request's KV can hold now. */
static uint64_t kv_capacity(const gen *g, const greq *r)
{
    if (g->c->engine == VTRACEGEN_CONTIGUOUS)
        return r->kv_tokens;
    return r->segs_held * SEGMENT_TOKENS + r->nblocks * g->c->block_tokens;
}

/* Contiguous: the next buffer size in tokens for holding `tokens`. */
static uint64_t contig_size(const gen *g, const greq *r, uint64_t tokens)
{
    uint64_t cap = r->kv_tokens ? r->kv_tokens * 2 : 0;
    uint64_t min = ceil_div(tokens, g->c->contig_min_tokens) * g->c->contig_min_tokens;
    if (cap < min)
        cap = min;
    uint64_t ceiling = ceil_div(g->model.context_max, g->c->contig_min_tokens) * g->c->contig_min_tokens;
    return cap > ceiling ? (min > ceiling ? min : ceiling) : cap;
}

/* Bytes to add so that the request holds `tokens` (its segments already counted). */
static uint64_t kv_need(const gen *g, const greq *r, uint64_t tokens)
{
    if (tokens <= kv_capacity(g, r))
        return 0;
    if (g->c->engine == VTRACEGEN_CONTIGUOUS)
        return contig_size(g, r, tokens) * g->prof.kv_bytes_per_token;
    uint64_t priv = tokens - r->segs_held * SEGMENT_TOKENS;
    return (ceil_div(priv, g->c->block_tokens) - r->nblocks) * g->block_bytes;
}

/* Grows the request's KV to hold `tokens`; the bytes have been checked. */
static vram_status kv_grow(gen *g, greq *r, uint64_t tokens)
{
    if (tokens <= kv_capacity(g, r))
        return VRAM_OK;
    if (g->c->engine == VTRACEGEN_CONTIGUOUS) {
        /* a bigger buffer, the contents copied, the old one freed */
        uint64_t size = contig_size(g, r, tokens), id;
        TRY(emit_alloc(g, size * g->prof.kv_bytes_per_token, VRAM_KIND_KV, PRIO_KV, &id));
        add_used(g, size * g->prof.kv_bytes_per_token);
        if (r->kv_id) {
            TRY(emit_id(g, VTRACE_FREE, r->kv_id));
            g->used -= r->kv_tokens * g->prof.kv_bytes_per_token;
        }
        r->kv_id = id;
        r->kv_tokens = size;
        return VRAM_OK;
    }
    uint64_t want = ceil_div(tokens - r->segs_held * SEGMENT_TOKENS, g->c->block_tokens);
    if (want > r->blocks_cap) {
        size_t cap = r->blocks_cap ? r->blocks_cap : 16;
        while (cap < want)
            cap *= 2;
        uint64_t *b = realloc(r->blocks, cap * sizeof *b);
        if (!b)
            return fail(g, VRAM_ENOHOST, "out of host memory");
        r->blocks = b;
        r->blocks_cap = cap;
    }
    while (r->nblocks < want) {
        TRY(emit_alloc(g, g->block_bytes, VRAM_KIND_KV, PRIO_KV, &r->blocks[r->nblocks]));
        r->nblocks++;
        add_used(g, g->block_bytes);
    }
    return VRAM_OK;
}

/* Frees all the request's KV: private blocks or buffer, and its segment references. */
static vram_status kv_release(gen *g, greq *r)
{
    for (size_t i = r->nblocks; i-- > 0;)
        TRY(emit_id(g, VTRACE_FREE, r->blocks[i]));
    g->used -= r->nblocks * g->block_bytes;
    r->nblocks = 0;
    if (r->kv_id) {
        TRY(emit_id(g, VTRACE_FREE, r->kv_id));
        g->used -= r->kv_tokens * g->prof.kv_bytes_per_token;
        r->kv_id = 0;
        r->kv_tokens = 0;
    }
    for (size_t i = r->segs_held; i-- > 0;) {
        if (vtg_prefix_drop(g->prefix, r->segs[i]) < 0)
            return fail(g, VRAM_ECORRUPT, "prefix segment %llu dropped but not held",
                        (unsigned long long)r->segs[i]);
        TRY(emit_segment(g, VTRACE_SHARED_RELEASE, r->segs[i]));
    }
    r->segs_held = 0;
    return VRAM_OK;
}

/* Evicts one idle prefix segment: the cache's reference is released. 0 if none. */
static vram_status evict_segment(gen *g, int *evicted)
{
    uint64_t h;
    *evicted = vtg_prefix_evict(g->prefix, &h);
    if (!*evicted)
        return VRAM_OK;
    g->used -= g->seg_bytes;
    return emit_segment(g, VTRACE_SHARED_RELEASE, h);
}

/* ---- requests ---- */

static void req_free(greq *r)
{
    if (r) {
        free(r->blocks);
        free(r->segs);
        free(r);
    }
}

static vram_status push_waiting(gen *g, greq *r, int front)
{
    if (g->wait_len == g->wait_cap) {
        size_t cap = g->wait_cap ? g->wait_cap * 2 : 256;
        greq **q = malloc(cap * sizeof *q);
        if (!q)
            return fail(g, VRAM_ENOHOST, "out of host memory");
        for (size_t i = 0; i < g->wait_len; i++)
            q[i] = g->waiting[(g->wait_head + i) % g->wait_cap];
        free(g->waiting);
        g->waiting = q;
        g->wait_cap = cap;
        g->wait_head = 0;
    }
    if (front) {
        g->wait_head = (g->wait_head + g->wait_cap - 1) % g->wait_cap;
        g->waiting[g->wait_head] = r;
    } else {
        g->waiting[(g->wait_head + g->wait_len) % g->wait_cap] = r;
    }
    g->wait_len++;
    return VRAM_OK;
}

static greq **waiting_at(gen *g, size_t i)
{
    return &g->waiting[(g->wait_head + i) % g->wait_cap];
}

/* Removes the i-th waiting request, keeping the order of the others. */
static greq *take_waiting(gen *g, size_t i)
{
    greq *r = *waiting_at(g, i);
    for (; i > 0; i--)
        *waiting_at(g, i) = *waiting_at(g, i - 1);
    g->wait_head = (g->wait_head + 1) % g->wait_cap;
    g->wait_len--;
    return r;
}

/* Reads the next request of the window into g->ahead (NULL at the end). Requests
 * the engine can never serve are rejected here, counted and noted in a comment. */
static vram_status read_ahead(gen *g)
{
    g->ahead = NULL;
    for (;;) {
        vworkload_request q;
        int rc = vworkload_next(g->wl, &q);
        if (rc < 0)
            return fail(g, VRAM_EPARSE, "%s", vworkload_error(g->wl));
        if (rc == 0 || q.arrival_us >= g->win_end_us)
            return VRAM_OK;
        if (q.arrival_us < g->win_start_us)
            continue;
        g->st.requests++;
        vram_request_budget b;
        uint64_t out = q.output_tokens;
        int fits = vram_budget_request(&g->prof, g->model.context_max, q.prompt_tokens, out, &b) == VRAM_OK &&
                   b.completion_tokens > 0;
        if (fits) {
            out = b.completion_tokens;
            greq probe = {0};
            fits = kv_need(g, &probe, q.prompt_tokens + out - 1) <= g->pool;
        }
        if (!fits) {
            char note[160];
            snprintf(note, sizeof note, "rejected request %llu: %llu prompt + %llu output tokens do not fit "
                     "the context (%llu) or the KV pool", (unsigned long long)q.line,
                     (unsigned long long)q.prompt_tokens, (unsigned long long)q.output_tokens,
                     (unsigned long long)g->model.context_max);
            vram_status st = vtrace_write_comment(g->w, note);
            if (st)
                return fail(g, st, "cannot write the trace: %s", vram_strerror(st));
            g->st.rejected++;
            continue;
        }
        greq *r = calloc(1, sizeof *r);
        if (!r)
            return fail(g, VRAM_ENOHOST, "out of host memory");
        r->rid = q.line;
        r->arrival_us = (uint64_t)((double)(q.arrival_us - g->win_start_us) / g->c->speedup);
        r->prompt = q.prompt_tokens;
        r->output = out;
        r->adapter = -1;
        if (g->c->adapters) {
            uint64_t x = mix64(g->c->seed ^ mix64(q.line));
            double u = (double)(x >> 11) / 9007199254740992.0;
            if (u < g->c->adapter_share) {
                double v = u / g->c->adapter_share; /* uniform in [0, 1): popular adapters first */
                r->adapter = (int)((double)g->c->adapters * v * v);
            }
        }
        if (g->sharing) {
            r->nsegs = q.prompt_tokens / SEGMENT_TOKENS;
            if (r->nsegs > q.n_hash)
                r->nsegs = q.n_hash;
            if (r->nsegs) {
                r->segs = malloc(r->nsegs * sizeof *r->segs);
                if (!r->segs) {
                    req_free(r);
                    return fail(g, VRAM_ENOHOST, "out of host memory");
                }
                memcpy(r->segs, q.hash_ids, r->nsegs * sizeof *r->segs);
            }
            /* a segment repeated within one request ends its shareable prefix */
            for (size_t i = 1; i < r->nsegs; i++)
                for (size_t j = 0; j < i; j++)
                    if (r->segs[j] == r->segs[i])
                        r->nsegs = i;
        }
        g->ahead = r;
        return VRAM_OK;
    }
}

/* ---- adapters ---- */

/* Makes the request's adapter resident, freeing the least recently used idle
 * one if all slots are taken (adapter_available said one is). */
static vram_status adapter_load(gen *g, greq *r)
{
    if (r->adapter < 0 || g->ad[r->adapter].id)
        return VRAM_OK;
    if (g->ad_resident == g->c->max_loras) {
        int victim = -1;
        for (uint32_t i = 0; i < g->c->adapters; i++)
            if (g->ad[i].id && !g->ad[i].users &&
                (victim < 0 || g->ad[i].last_step < g->ad[victim].last_step))
                victim = (int)i;
        if (victim < 0)
            return fail(g, VRAM_ECORRUPT, "no adapter slot for request %llu", (unsigned long long)r->rid);
        TRY(emit_id(g, VTRACE_FREE, g->ad[victim].id));
        g->ad[victim].id = 0;
        g->ad_resident--;
    }
    TRY(emit_alloc(g, g->adapter_bytes, VRAM_KIND_ADAPTER, PRIO_ADAPTER, &g->ad[r->adapter].id));
    g->ad[r->adapter].last_step = g->st.steps;
    g->ad_resident++;
    return VRAM_OK;
}

static int adapter_available(const gen *g, const greq *r)
{
    if (r->adapter < 0 || g->ad[r->adapter].id || g->ad_resident < g->c->max_loras)
        return 1;
    for (uint32_t i = 0; i < g->c->adapters; i++)
        if (g->ad[i].id && !g->ad[i].users)
            return 1;
    return 0;
}

/* ---- the scheduler ---- */

/* Preempts the most recently admitted running request: its KV is freed and it
 * goes back to the head of the queue, to recompute prompt + generated tokens. */
static vram_status preempt_newest(gen *g)
{
    greq *v = g->running[--g->nrun];
    TRY(kv_release(g, v));
    TRY(emit_id(g, VTRACE_REQUEST_END, v->rid));
    if (v->adapter >= 0)
        g->ad[v->adapter].users--;
    v->prompt += v->generated;
    v->output -= v->generated;
    v->computed = v->generated = 0;
    g->st.preemptions++;
    return push_waiting(g, v, 1);
}

/* Makes `need` KV bytes free: idle prefix segments first, then preemption of
 * the newest running requests. *self = 1 if running[idx] itself was preempted. */
static vram_status make_room(gen *g, uint64_t need, size_t idx, int *self)
{
    *self = 0;
    while (kv_free(g) < need) {
        int evicted;
        TRY(evict_segment(g, &evicted));
        if (evicted)
            continue;
        if (g->nrun - 1 == idx)
            *self = 1;
        TRY(preempt_newest(g));
        if (*self)
            return VRAM_OK;
    }
    return VRAM_OK;
}

/* Admits the first waiting request whose adapter can be loaded (a request
 * waiting for an adapter slot lets those behind it pass, as vLLM's LoRA
 * scheduling does) if its prompt's KV fits, after evicting idle prefix
 * segments but never by preemption: memory is first come, first served.
 * *admitted tells. */
static vram_status try_admit(gen *g, uint64_t budget, int *admitted)
{
    size_t idx = 0;
    *admitted = 0;
    while (idx < g->wait_len && idx < ADMIT_LOOKAHEAD && !adapter_available(g, *waiting_at(g, idx)))
        idx++;
    if (idx == g->wait_len || idx == ADMIT_LOOKAHEAD)
        return VRAM_OK;
    greq *r = *waiting_at(g, idx);
    /* bytes: missing segments and private blocks of the prompt; idle segments
     * this request hits are not counted as reclaimable */
    uint64_t need = 0, idle_hits = 0, hit_prefix = 0;
    int leading = 1;
    for (size_t i = 0; i < r->nsegs; i++) {
        int resident = vtg_prefix_resident(g->prefix, r->segs[i]);
        need += resident ? 0 : g->seg_bytes;
        idle_hits += vtg_prefix_idle(g->prefix, r->segs[i]);
        leading &= resident;
        hit_prefix += leading;
    }
    uint64_t priv = r->prompt - r->nsegs * SEGMENT_TOKENS;
    need += ceil_div(priv, g->c->block_tokens) * g->block_bytes;
    if (g->c->engine == VTRACEGEN_CONTIGUOUS)
        need = kv_need(g, r, r->prompt);
    uint64_t reclaimable = (vtg_prefix_idle_count(g->prefix) - idle_hits) * g->seg_bytes;
    if (kv_free(g) + reclaimable < need)
        return VRAM_OK;

    take_waiting(g, idx);
    *admitted = 1;
    TRY(emit_id(g, VTRACE_REQUEST_BEGIN, r->rid));
    TRY(adapter_load(g, r));
    if (r->adapter >= 0)
        g->ad[r->adapter].users++;
    /* hits first (no allocation), then evictions, then the new allocations */
    for (size_t i = 0; i < r->nsegs; i++) {
        if (!vtg_prefix_resident(g->prefix, r->segs[i]))
            continue;
        int was;
        TRY(vtg_prefix_take(g->prefix, r->segs[i], &was));
        TRY(emit_segment(g, VTRACE_SHARED_ACQUIRE, r->segs[i]));
        g->st.prefix_hits++;
    }
    while (kv_free(g) < need) {
        int evicted;
        TRY(evict_segment(g, &evicted));
        if (!evicted)
            return fail(g, VRAM_ECORRUPT, "KV accounting: %llu bytes needed, %llu free",
                        (unsigned long long)need, (unsigned long long)kv_free(g));
    }
    /* the misses: created by this request, kept by the cache from now until evicted */
    for (size_t i = 0; i < r->nsegs; i++) {
        int was = 1;
        if (vtg_prefix_resident(g->prefix, r->segs[i]))
            continue;
        TRY(vtg_prefix_take(g->prefix, r->segs[i], &was));
        TRY(emit_segment(g, VTRACE_SHARED_ACQUIRE, r->segs[i]));
        TRY(emit_segment(g, VTRACE_SHARED_ACQUIRE, r->segs[i]));
        add_used(g, g->seg_bytes);
        g->st.prefix_misses++;
    }
    r->segs_held = r->nsegs;
    TRY(kv_grow(g, r, r->prompt));
    /* cached leading tokens are not computed again; at least one token is */
    r->computed = hit_prefix * SEGMENT_TOKENS;
    if (r->computed >= r->prompt)
        r->computed = r->prompt - 1;
    r->step_tokens = r->prompt - r->computed < budget ? r->prompt - r->computed : budget;
    g->running[g->nrun++] = r;
    return VRAM_OK;
}

/* Activation and workspace bytes of a step of `tokens` tokens over `seqs` requests. */
static vram_status step_buffers(gen *g, uint64_t tokens, uint64_t seqs, uint64_t *act, uint64_t *ws)
{
    vram_runtime_config rt = {.max_batch_tokens = tokens, .max_batch_seqs = seqs};
    vram_budget_profile p;
    vram_status st = vram_budget_profile_get(&g->model, &rt, &p);
    if (st)
        return fail(g, st, "budget planner: %s", vram_strerror(st));
    *act = p.activation_bytes;
    /* attention and GEMM split-K workspaces: fp32 per query head and token, plus a fixed part */
    *ws = WORKSPACE_FIXED + tokens * (g->model.heads / g->model.tp) * g->model.head_dim * 4;
    return VRAM_OK;
}

/* The embedding model that shares the token embeddings attaches and detaches. */
static vram_status embed_consumer(gen *g)
{
    if (g->embed_state == 0 && g->now >= g->embed_attach_us) {
        TRY(emit_key(g, VTRACE_SHARED_ACQUIRE, g->embed_key, g->prof.weights.embed, PRIO_WEIGHT));
        g->embed_state = 1;
    }
    if (g->embed_state == 1 && g->embed_detach_us && g->now >= g->embed_detach_us) {
        TRY(emit_key(g, VTRACE_SHARED_RELEASE, g->embed_key, 0, 0));
        g->embed_state = 2;
    }
    return VRAM_OK;
}

/* One engine step: growth (with preemption), admissions, the step's buffers,
 * progress, completions. *idle = 1 when there was nothing to run. */
static vram_status step(gen *g, int *idle)
{
    uint64_t budget = g->c->max_batch_tokens;
    *idle = 0;
    /* running requests, oldest first: decode needs a token's KV, prefill continues */
    for (size_t i = 0; i < g->nrun; i++) {
        greq *r = g->running[i];
        r->step_tokens = 0;
        if (budget == 0)
            continue;
        if (r->computed < r->prompt) {
            r->step_tokens = r->prompt - r->computed < budget ? r->prompt - r->computed : budget;
        } else {
            int self;
            TRY(make_room(g, kv_need(g, r, r->computed + 1), i, &self));
            if (self)
                break;
            TRY(kv_grow(g, r, r->computed + 1));
            r->step_tokens = 1;
        }
        budget -= r->step_tokens;
    }
    /* admissions, first come first served: the head blocks those behind it */
    while (budget && g->wait_len && g->nrun < g->c->max_batch_seqs) {
        int admitted;
        TRY(try_admit(g, budget, &admitted));
        if (!admitted)
            break;
        budget -= g->running[g->nrun - 1]->step_tokens;
    }
    uint64_t tokens = g->c->max_batch_tokens - budget, seqs = 0, prefill = 0, context = 0;
    for (size_t i = 0; i < g->nrun; i++) {
        const greq *r = g->running[i];
        seqs += r->step_tokens > 0;
        prefill += r->computed < r->prompt ? r->step_tokens : 0;
        context += r->step_tokens ? r->computed + r->step_tokens : 0;
    }
    if (tokens == 0) {
        *idle = 1;
        return VRAM_OK;
    }
    if (g->nrun > g->st.peak_running)
        g->st.peak_running = g->nrun;
    TRY(emit_id(g, VTRACE_STEP, ++g->st.steps));
    uint64_t act_bytes, ws_bytes, act, ws;
    TRY(step_buffers(g, tokens, seqs, &act_bytes, &ws_bytes));
    TRY(emit_alloc(g, act_bytes, VRAM_KIND_ACTIVATION, PRIO_ACTIVATION, &act));
    TRY(emit_alloc(g, ws_bytes, VRAM_KIND_WORKSPACE, PRIO_ACTIVATION, &ws));
    for (uint32_t a = 0; a < g->c->adapters; a++) {
        if (g->ad[a].id && g->ad[a].users) {
            TRY(emit_id(g, VTRACE_USE, g->ad[a].id));
            g->ad[a].last_step = g->st.steps;
        }
    }
    g->now += STEP_BASE_US + prefill * PREFILL_NS_PER_TOKEN / 1000 + context / KV_TOKENS_PER_US;
    TRY(emit_id(g, VTRACE_FREE, ws));
    TRY(emit_id(g, VTRACE_FREE, act));
    /* progress and completions */
    size_t kept = 0;
    for (size_t i = 0; i < g->nrun; i++) {
        greq *r = g->running[i];
        if (r->computed < r->prompt) {
            r->computed += r->step_tokens;
            if (r->computed == r->prompt)
                r->generated = 1; /* the last prefill chunk yields the first token */
        } else if (r->step_tokens) {
            r->computed++;
            r->generated++;
        }
        if (r->generated >= r->output) {
            TRY(kv_release(g, r));
            TRY(emit_id(g, VTRACE_REQUEST_END, r->rid));
            if (r->adapter >= 0)
                g->ad[r->adapter].users--;
            g->st.finished++;
            req_free(r);
            continue;
        }
        g->running[kept++] = r;
    }
    g->nrun = kept;
    return VRAM_OK;
}

static const char *dtype_name(uint32_t bytes)
{
    return bytes == 1 ? "fp8" : bytes == 2 ? "bf16" : bytes == 4 ? "fp32" : "fp64";
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* Model, byte sizes and the KV pool from the planner; checks the options. */
static vram_status plan(gen *g)
{
    const vtracegen_config *c = g->c;
    if (!c->workload)
        return fail(g, VRAM_EINVAL, "no workload file given");
    if (vram_model_find(c->model, &g->model))
        return fail(g, VRAM_EINVAL, "unknown model '%s' (see tracegen --help for the built-ins)",
                    c->model ? c->model : "(null)");
    g->model.tp = c->tp;
    vram_status st = vram_model_check(&g->model);
    if (st)
        return fail(g, VRAM_EINVAL, "model '%s' cannot be split %u ways", c->model, c->tp);
    if (!c->max_batch_tokens || !c->max_batch_seqs || !c->block_tokens || !c->contig_min_tokens ||
        !(c->utilisation > 0 && c->utilisation <= 1) || !(c->speedup > 0) || !c->capacity ||
        (c->adapters && !c->max_loras) || !(c->adapter_share >= 0 && c->adapter_share <= 1) ||
        !(c->start_s >= 0) || !(c->duration_s >= 0) || c->start_s > 1e12 || c->duration_s > 1e12)
        return fail(g, VRAM_EINVAL, "invalid option: zero batch, block or capacity, utilisation outside "
                    "(0, 1], speedup <= 0, share outside [0, 1], adapters with max-loras 0, "
                    "or a negative window");
    vram_runtime_config rt = {.max_batch_tokens = c->max_batch_tokens, .max_batch_seqs = c->max_batch_seqs};
    st = vram_budget_profile_get(&g->model, &rt, &g->prof);
    if (st)
        return fail(g, st, "budget planner: %s", vram_strerror(st));
    g->block_bytes = g->prof.kv_bytes_per_token * c->block_tokens;
    g->seg_bytes = g->prof.kv_bytes_per_token * SEGMENT_TOKENS;
    /* LoRA on q, k, v, o: A (in x r) and B (r x out); column-parallel q/k/v shard
     * B, row-parallel o shards A */
    uint64_t q = (uint64_t)g->model.heads / c->tp * g->model.head_dim;
    uint64_t kv = (g->model.kv_heads >= c->tp ? g->model.kv_heads / c->tp : 1) * (uint64_t)g->model.head_dim;
    uint64_t h = g->model.hidden;
    g->adapter_bytes = (uint64_t)g->model.layers * g->model.dtype_bytes * c->lora_rank *
                       ((h + q) + 2 * (h + kv) + (q + h));
    uint64_t act, ws;
    TRY(step_buffers(g, c->max_batch_tokens, c->max_batch_seqs, &act, &ws));
    double usable = floor(c->utilisation * (double)c->capacity);
    double reserved = (double)g->prof.device_local_bytes + (double)ws +
                      (double)(c->adapters ? c->max_loras : 0) * (double)g->adapter_bytes;
    if (usable - reserved < (double)(g->block_bytes > g->seg_bytes ? g->block_bytes : g->seg_bytes))
        return fail(g, VRAM_EINVAL, "no room for the KV cache: %.0f bytes usable, %.0f for weights, "
                    "activations, workspace and adapters", usable, reserved);
    g->pool = (uint64_t)(usable - reserved);
    g->st.kv_pool_bytes = g->pool;
    g->sharing = c->prefix_cache && c->engine == VTRACEGEN_PAGED && c->format == VWORKLOAD_MOONCAKE;
    g->win_start_us = (uint64_t)(c->start_s * 1e6);
    g->win_end_us = c->duration_s > 0 ? g->win_start_us + (uint64_t)(c->duration_s * 1e6) : UINT64_MAX;
    if (c->duration_s > 0) {
        double d = c->duration_s * 1e6 / c->speedup;
        g->embed_attach_us = (uint64_t)(d / 4);
        g->embed_detach_us = (uint64_t)(d * 3 / 4);
    }
    snprintf(g->embed_key, sizeof g->embed_key, "base:%s:embed", g->model.name);
    return VRAM_OK;
}

static vram_status write_start(gen *g, const char *path)
{
    const vtracegen_config *c = g->c;
    vtrace_header h = {.version = VTRACE_VERSION, .capacity = c->capacity,
                       .kv_block_bytes = c->engine == VTRACEGEN_PAGED ? g->block_bytes : 0};
    snprintf(h.model, sizeof h.model, "%s tp=%u %s", g->model.name, c->tp, dtype_name(g->model.dtype_bytes));
    snprintf(h.engine, sizeof h.engine, "%s", c->engine == VTRACEGEN_PAGED ? "paged" : "contiguous");
    snprintf(h.source, sizeof h.source, "%s", c->source ? c->source : base_name(c->workload));
    snprintf(h.licence, sizeof h.licence, "%s",
             c->licence ? c->licence : c->format == VWORKLOAD_AZURE ? "CC-BY-4.0" : "Apache-2.0");
    errno = 0;
    vram_status st = vtrace_writer_open_as(path, &h, c->gzip, &g->w);
    if (st)
        return fail(g, st, "%s: cannot write: %s", path, errno ? strerror(errno) : vram_strerror(st));
    char note[512];
    snprintf(note, sizeof note,
             "weights %llu bytes (%u layers of %llu, embeddings shared as %s), KV %llu bytes/token, "
             "KV pool %llu bytes, adapters %u x %llu bytes (at most %u resident), batch %llu tokens / "
             "%llu requests, speedup %g, window %g s + %g s, seed %llu",
             (unsigned long long)g->prof.weights.total, g->model.layers,
             (unsigned long long)g->prof.weights.per_layer, g->embed_key,
             (unsigned long long)g->prof.kv_bytes_per_token, (unsigned long long)g->pool, c->adapters,
             (unsigned long long)g->adapter_bytes, c->max_loras, (unsigned long long)c->max_batch_tokens,
             (unsigned long long)c->max_batch_seqs, c->speedup, c->start_s, c->duration_s,
             (unsigned long long)c->seed);
    if (c->comment && (st = vtrace_write_comment(g->w, c->comment)))
        return fail(g, st, "invalid comment (one line of text expected)");
    if ((st = vtrace_write_comment(g->w, note)))
        return fail(g, st, "cannot write the trace: %s", vram_strerror(st));
    /* start-up: the chat model's shard, its embeddings shared by key */
    TRY(emit_key(g, VTRACE_SHARED_ACQUIRE, g->embed_key, g->prof.weights.embed, PRIO_WEIGHT));
    g->nweights = g->model.layers + 2;
    g->weight_ids = calloc(g->nweights, sizeof *g->weight_ids);
    if (!g->weight_ids)
        return fail(g, VRAM_ENOHOST, "out of host memory");
    for (uint32_t l = 0; l < g->model.layers; l++)
        TRY(emit_alloc(g, g->prof.weights.per_layer, VRAM_KIND_WEIGHT, PRIO_WEIGHT, &g->weight_ids[l]));
    TRY(emit_alloc(g, g->prof.weights.final_norm, VRAM_KIND_WEIGHT, PRIO_WEIGHT, &g->weight_ids[g->model.layers]));
    if (g->prof.weights.lm_head)
        TRY(emit_alloc(g, g->prof.weights.lm_head, VRAM_KIND_WEIGHT, PRIO_WEIGHT,
                       &g->weight_ids[g->model.layers + 1]));
    return VRAM_OK;
}

/* Shut-down: everything still held is given back, in reverse order of taking. */
static vram_status write_end(gen *g)
{
    for (uint32_t a = 0; a < g->c->adapters; a++)
        if (g->ad[a].id) {
            TRY(emit_id(g, VTRACE_FREE, g->ad[a].id));
            g->ad[a].id = 0;
        }
    int evicted = 1;
    while (evicted)
        TRY(evict_segment(g, &evicted));
    if (g->embed_state == 1)
        TRY(emit_key(g, VTRACE_SHARED_RELEASE, g->embed_key, 0, 0));
    for (size_t i = g->nweights; i-- > 0;)
        if (g->weight_ids[i])
            TRY(emit_id(g, VTRACE_FREE, g->weight_ids[i]));
    TRY(emit_key(g, VTRACE_SHARED_RELEASE, g->embed_key, 0, 0));
    g->st.end_us = g->now;
    char note[320];
    snprintf(note, sizeof note,
             "end: %llu requests, %llu finished, %llu rejected, %llu preemptions, %llu steps, "
             "%llu events, peak KV %llu of %llu bytes, peak %llu running, prefix hits %llu misses %llu",
             (unsigned long long)g->st.requests, (unsigned long long)g->st.finished,
             (unsigned long long)g->st.rejected, (unsigned long long)g->st.preemptions,
             (unsigned long long)g->st.steps, (unsigned long long)g->st.events,
             (unsigned long long)g->st.peak_kv_bytes, (unsigned long long)g->pool,
             (unsigned long long)g->st.peak_running, (unsigned long long)g->st.prefix_hits,
             (unsigned long long)g->st.prefix_misses);
    vram_status st = vtrace_write_comment(g->w, note);
    return st ? fail(g, st, "cannot write the trace: %s", vram_strerror(st)) : VRAM_OK;
}

static vram_status generate(gen *g, const char *tmp)
{
    char werr[512];
    TRY(plan(g));
    vram_status st = vworkload_open(g->c->workload, g->c->format, &g->wl, werr, sizeof werr);
    if (st)
        return fail(g, st, "%s", werr);
    g->running = calloc(g->c->max_batch_seqs, sizeof *g->running);
    g->ad = calloc(g->c->adapters ? g->c->adapters : 1, sizeof *g->ad);
    if (!g->running || !g->ad || vtg_prefix_create(&g->prefix))
        return fail(g, VRAM_ENOHOST, "out of host memory");
    TRY(write_start(g, tmp));
    TRY(read_ahead(g));
    while (g->ahead || g->wait_len || g->nrun) {
        while (g->ahead && g->ahead->arrival_us <= g->now) {
            TRY(push_waiting(g, g->ahead, 0));
            TRY(read_ahead(g));
        }
        TRY(embed_consumer(g));
        int idle;
        TRY(step(g, &idle));
        if (!idle)
            continue;
        if (g->nrun || g->wait_len)
            return fail(g, VRAM_ECORRUPT, "scheduler stalled at %llu us with %zu waiting",
                        (unsigned long long)g->now, g->wait_len);
        if (g->ahead)
            g->now = g->ahead->arrival_us;
    }
    if (g->embed_state == 0 && g->c->duration_s > 0) /* a window shorter than the attach time */
        TRY(embed_consumer(g));
    return write_end(g);
}

void vtracegen_defaults(vtracegen_config *c)
{
    *c = (vtracegen_config){
        .model = "llama-3-70b", .tp = 4, .engine = VTRACEGEN_PAGED, .format = VWORKLOAD_AZURE,
        .capacity = UINT64_C(80) << 30, .seed = 1, .speedup = 1, .max_batch_tokens = 8192,
        .max_batch_seqs = 256, .block_tokens = 16, .contig_min_tokens = 256, .utilisation = 0.9,
        .adapters = 8, .max_loras = 4, .lora_rank = 64, .adapter_share = 0.3, .prefix_cache = 1,
    };
}

vram_status vtracegen_run(const vtracegen_config *c, const char *path, vtracegen_stats *st, char *err,
                          size_t errlen)
{
    gen g = {.c = c, .next_id = 1, .err = err, .errlen = errlen};
    if (err && errlen)
        err[0] = '\0';
    char tmp[4096];
    if (!c || !path || snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        if (err && errlen)
            snprintf(err, errlen, "no configuration or output path");
        return VRAM_EINVAL;
    }
    vram_status rc = generate(&g, tmp);
    if (g.w) {
        vram_status cst = vtrace_writer_close(g.w);
        if (!rc && cst)
            rc = fail(&g, cst, "%s: cannot write: %s", tmp, vram_strerror(cst));
    }
    if (!rc && rename(tmp, path) != 0)
        rc = fail(&g, VRAM_EIO, "%s: cannot rename to %s", tmp, path);
    if (rc && g.w)
        remove(tmp);
    for (size_t i = 0; i < g.nrun; i++)
        req_free(g.running[i]);
    while (g.wait_len)
        req_free(take_waiting(&g, 0));
    req_free(g.ahead);
    free(g.running);
    free(g.waiting);
    free(g.ad);
    free(g.weight_ids);
    vtg_prefix_destroy(g.prefix);
    vworkload_close(g.wl);
    if (st)
        *st = g.st;
    return rc;
}
