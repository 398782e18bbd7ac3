/* engine.c - the engine model (engine.h): the recorded requests and a
 * continuous-batching scheduler over them (start-up and shut-down are in
 * engine_setup.c, the events and the KV bookkeeping in engine_kv.c).
 *
 * Time is engine time in microseconds: arrivals come from the recording
 * (shifted to the window start, divided by the speedup); each step lasts as
 * engine_internal.h models it. Byte counts all come from the budget planner. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"

static uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* ---- requests ---- */

static void req_free(ereq *r)
{
    if (r) {
        free(r->blocks);
        free(r->keys);
        free(r->path);
        free(r);
    }
}

static vram_status push_waiting(vengine *e, ereq *r, int front)
{
    if (e->wait_len == e->wait_cap) {
        size_t cap = e->wait_cap ? e->wait_cap * 2 : 256;
        ereq **q = malloc(cap * sizeof *q);
        if (!q)
            return vengine_fail(e, VRAM_ENOHOST, "out of host memory");
        for (size_t i = 0; i < e->wait_len; i++)
            q[i] = e->waiting[(e->wait_head + i) % e->wait_cap];
        free(e->waiting);
        e->waiting = q;
        e->wait_cap = cap;
        e->wait_head = 0;
    }
    if (front) {
        e->wait_head = (e->wait_head + e->wait_cap - 1) % e->wait_cap;
        e->waiting[e->wait_head] = r;
    } else {
        e->waiting[(e->wait_head + e->wait_len) % e->wait_cap] = r;
    }
    e->wait_len++;
    return VRAM_OK;
}

static ereq **waiting_at(vengine *e, size_t i)
{
    return &e->waiting[(e->wait_head + i) % e->wait_cap];
}

/* Removes the i-th waiting request, keeping the order of the others. */
static ereq *take_waiting(vengine *e, size_t i)
{
    ereq *r = *waiting_at(e, i);
    for (; i > 0; i--)
        *waiting_at(e, i) = *waiting_at(e, i - 1);
    e->wait_head = (e->wait_head + 1) % e->wait_cap;
    e->wait_len--;
    return r;
}

/* Reads the next request of the window into e->ahead (NULL at the end). Requests
 * the engine can never serve are rejected here, counted and noted in a comment. */
static vram_status read_ahead(vengine *e)
{
    e->ahead = NULL;
    for (;;) {
        vworkload_request q;
        int rc = vworkload_next(e->wl, &q);
        if (rc < 0)
            return vengine_fail(e, VRAM_EPARSE, "%s", vworkload_error(e->wl));
        if (rc == 0 || q.arrival_us >= e->win_end_us)
            return VRAM_OK;
        if (q.arrival_us < e->win_start_us)
            continue;
        e->st.requests++;
        vram_request_budget b;
        uint64_t out = q.output_tokens;
        int fits = vram_budget_request(&e->plan.prof, e->plan.model.context_max, q.prompt_tokens, out,
                                       &b) == VRAM_OK &&
                   b.completion_tokens > 0;
        if (fits) {
            out = b.completion_tokens;
            ereq probe = {.prompt = q.prompt_tokens, .output = out};
            fits = vengine__kv_need(e, &probe, q.prompt_tokens + out - 1) <= e->plan.pool;
        }
        if (!fits) {
            char note[160];
            snprintf(note, sizeof note, "rejected request %llu: %llu prompt + %llu output tokens do not fit "
                     "the context (%llu) or the KV pool", (unsigned long long)q.line,
                     (unsigned long long)q.prompt_tokens, (unsigned long long)q.output_tokens,
                     (unsigned long long)e->plan.model.context_max);
            TRY(vengine__note(e, note));
            e->st.rejected++;
            continue;
        }
        ereq *r = calloc(1, sizeof *r);
        if (!r)
            return vengine_fail(e, VRAM_ENOHOST, "out of host memory");
        r->rid = q.line;
        r->admitted_us = r->first_token_us = UINT64_MAX;
        const double arrival = (double)(q.arrival_us - e->win_start_us) / e->c->speedup;
        if (!(arrival < 0x1p63)) {
            free(r);
            return vengine_fail(e, VRAM_EINVAL, "%s:%llu: arrival %.0f us after the window start at "
                             "--speedup %g: beyond 2^63 us", e->c->workload,
                             (unsigned long long)q.line, arrival, e->c->speedup);
        }
        r->arrival_us = (uint64_t)arrival;
        r->prompt = q.prompt_tokens;
        r->output = r->out_total = out;
        r->adapter = -1;
        if (e->c->adapters) {
            uint64_t x = mix64(e->c->seed ^ mix64(q.line));
            double u = (double)(x >> 11) / 9007199254740992.0;
            if (u < e->c->adapter_share) {
                double v = u / e->c->adapter_share; /* uniform in [0, 1): popular adapters first */
                r->adapter = (int)((double)e->c->adapters * v * v);
            }
        }
        if (e->sharing) {
            vram_status st = vengine__prefix_path(e, r, q.hash_ids, q.n_hash);
            if (!st)
                st = vengine__blocks_keys(e, r);
            if (st) {
                req_free(r);
                return st;
            }
        }
        e->ahead = r;
        return VRAM_OK;
    }
}

/* ---- adapters ---- */

/* Makes the request's adapter resident, freeing the least recently used idle
 * one if all slots are taken (adapter_available said one is). */
static vram_status adapter_load(vengine *e, ereq *r)
{
    if (r->adapter < 0 || e->ad[r->adapter].id)
        return VRAM_OK;
    if (e->ad_resident == e->c->max_loras) {
        int victim = -1;
        for (uint32_t i = 0; i < e->c->adapters; i++)
            if (e->ad[i].id && !e->ad[i].users &&
                (victim < 0 || e->ad[i].last_step < e->ad[victim].last_step))
                victim = (int)i;
        if (victim < 0)
            return vengine_fail(e, VRAM_ECORRUPT, "no adapter slot for request %llu",
                                (unsigned long long)r->rid);
        TRY(vengine__emit_id(e, VTRACE_FREE, e->ad[victim].id));
        e->ad[victim].id = 0;
        e->ad_resident--;
    }
    TRY(vengine__emit_alloc(e, e->plan.adapter_bytes, VRAM_KIND_ADAPTER, PRIO_ADAPTER, VTRACE_NEED_NONE, 0,
                        &e->ad[r->adapter].id));
    e->ad[r->adapter].last_step = e->st.steps;
    e->ad_resident++;
    return VRAM_OK;
}

static int adapter_available(const vengine *e, const ereq *r)
{
    if (r->adapter < 0 || e->ad[r->adapter].id || e->ad_resident < e->c->max_loras)
        return 1;
    for (uint32_t i = 0; i < e->c->adapters; i++)
        if (e->ad[i].id && !e->ad[i].users)
            return 1;
    return 0;
}

/* A running request starts or stops using its adapter: the adapter is pinned
 * while at least one running request uses it (users 0 -> 1: pin, 1 -> 0: unpin),
 * so the unpin comes before the request's end and before the adapter's free. */
static vram_status adapter_take(vengine *e, const ereq *r)
{
    if (r->adapter < 0)
        return VRAM_OK;
    adapter *a = &e->ad[r->adapter];
    if (a->users++ == 0)
        TRY(vengine__emit_id(e, VTRACE_PIN, a->id));
    return VRAM_OK;
}

static vram_status adapter_drop(vengine *e, const ereq *r)
{
    if (r->adapter < 0)
        return VRAM_OK;
    adapter *a = &e->ad[r->adapter];
    if (a->users == 0)
        return vengine_fail(e, VRAM_ECORRUPT, "adapter %d dropped by request %llu but not used", r->adapter,
                         (unsigned long long)r->rid);
    if (--a->users == 0)
        TRY(vengine__emit_id(e, VTRACE_UNPIN, a->id));
    return VRAM_OK;
}

/* ---- the scheduler ---- */

/* Preempts the most recently admitted running request: its KV is freed (and
 * its adapter unpinned if it was the last user) before its end, and it goes
 * back to the head of the queue, to recompute prompt + generated tokens. */
static vram_status preempt_newest(vengine *e, vengine_preempt_cause cause)
{
    ereq *v = e->running[e->nrun - 1]; /* still running: freed with them after a failure */
    TRY(vengine__kv_release(e, v));
    TRY(adapter_drop(e, v));
    TRY(vengine__emit_id(e, VTRACE_REQUEST_END, v->rid));
    v->prompt += v->generated;
    v->output -= v->generated;
    v->computed = v->generated = 0;
    e->st.preemptions++;
    e->st.preempt_by_cause[cause]++;
    e->nrun--;
    vram_status st = push_waiting(e, v, 1);
    if (st)
        req_free(v);
    return st;
}

/* Grows running[idx]'s KV to hold `tokens`, making room as vLLM does until
 * the KV budget has the bytes and the sink placed them: idle cached blocks
 * first (the cache evicts them as it hands out blocks), then preemption of
 * the newest running requests. *self = 1 if running[idx] itself was preempted
 * (then nothing grew). */
static vram_status grow_running(vengine *e, size_t idx, uint64_t tokens, int *self)
{
    ereq *r = e->running[idx];
    *self = 0;
    for (;;) {
        vengine_preempt_cause cause = VENGINE_PREEMPT_BUDGET;
        if (vengine__kv_room(e, r, tokens)) {
            vram_status st = vengine__kv_grow(e, r, tokens);
            if (st != VRAM_ENOMEM)
                return st;
            cause = VENGINE_PREEMPT_PLACEMENT; /* closed loop: within the budget, not placed */
            int evicted;
            TRY(vengine__blocks_evict(e, &evicted));
            if (evicted)
                continue;
        }
        if (e->nrun - 1 == idx)
            *self = 1;
        TRY(preempt_newest(e, cause));
        if (*self)
            return VRAM_OK;
    }
}

/* Closed loop: st is an admission's allocation; when the sink could not place
 * it (VRAM_ENOMEM), an idle cached block is evicted and *retry = 1, or none
 * is left and VRAM_ENOMEM stays. */
static vram_status retry_admission(vengine *e, vram_status st, int *retry)
{
    *retry = 0;
    if (st != VRAM_ENOMEM)
        return st;
    TRY(vengine__blocks_evict(e, retry));
    return *retry ? VRAM_OK : VRAM_ENOMEM;
}

#define PLACE_FOR_ADMISSION(call)                                                          \
    for (int retry_ = 1; retry_;)                                                          \
        TRY(retry_admission(e, (call), &retry_))

/* The memory of an admission: the adapter, the cached prefix (no
 * allocation), the rest of the prompt's KV (blocks the cache hands out,
 * evicting idle cached ones when none is free). VRAM_ENOMEM (closed loop):
 * the sink could not place something even after every idle cached block
 * went; *took_adapter says whether the adapter was taken. */
static vram_status admit_memory(vengine *e, ereq *r, int *took_adapter)
{
    *took_adapter = 0;
    PLACE_FOR_ADMISSION(adapter_load(e, r));
    TRY(adapter_take(e, r));
    *took_adapter = 1;
    if (e->c->kv == VENGINE_KV_PAGED)
        TRY(vengine__blocks_acquire(e, r));
    PLACE_FOR_ADMISSION(vengine__kv_grow(e, r, r->prompt));
    return VRAM_OK;
}

/* Closed loop: an admission the sink could not place is undone: what the
 * request took is given back (the blocks it computed into stay cached only
 * once full, so none here) and it keeps its place in the queue. */
static vram_status admit_undo(vengine *e, ereq *r, int took_adapter)
{
    TRY(vengine__kv_release(e, r));
    if (took_adapter)
        TRY(adapter_drop(e, r));
    e->st.admissions_refused++;
    return vengine__emit_id(e, VTRACE_REQUEST_END, r->rid);
}

/* Admits the first waiting request whose adapter can be loaded (a request
 * waiting for an adapter slot lets those behind it pass, as vLLM's LoRA
 * scheduling does) if its prompt's KV fits the budget, counting the blocks
 * it finds cached and the idle cached blocks it can evict, but never by
 * preemption: memory is first come, first served. In closed loop the sink
 * must also place it, else the admission is undone. *admitted tells. */
static vram_status try_admit(vengine *e, uint64_t budget, int *admitted)
{
    size_t idx = 0;
    *admitted = 0;
    while (idx < e->wait_len && idx < ADMIT_LOOKAHEAD && !adapter_available(e, *waiting_at(e, idx)))
        idx++;
    if (idx == e->wait_len || idx == ADMIT_LOOKAHEAD)
        return VRAM_OK;
    ereq *r = *waiting_at(e, idx);
    if (!vengine__kv_room(e, r, r->prompt))
        return VRAM_OK;

    TRY(vengine__emit_id(e, VTRACE_REQUEST_BEGIN, r->rid));
    TRY(vengine__prefix_lookup(e, r));
    int took_adapter;
    vram_status st = admit_memory(e, r, &took_adapter);
    if (st == VRAM_ENOMEM)
        return admit_undo(e, r, took_adapter);
    TRY(st);
    *admitted = 1;
    if (e->c->kv == VENGINE_KV_PAGED)
        vengine__blocks_admitted(e, r);
    if (r->admitted_us == UINT64_MAX)
        r->admitted_us = e->now;
    /* cached leading blocks are not computed again (at most prompt - 1 tokens) */
    r->computed = r->nhit * e->c->block_tokens;
    r->step_tokens = r->prompt - r->computed < budget ? r->prompt - r->computed : budget;
    take_waiting(e, idx); /* queued until running: after a failure above, freed with the queue */
    e->running[e->nrun++] = r;
    return VRAM_OK;
}

/* The embedding model that shares the token embeddings attaches and detaches. */
static vram_status embed_consumer(vengine *e)
{
    if (e->embed_state == 0 && e->now >= e->embed_attach_us) {
        TRY(vengine__emit_key(e, VTRACE_SHARED_ACQUIRE, e->plan.embed_key, e->plan.prof.weights.embed,
                              PRIO_WEIGHT,
                          VTRACE_NEED_ENGINE, 0));
        e->embed_state = 1;
    }
    if (e->embed_state == 1 && e->embed_detach_us && e->now >= e->embed_detach_us) {
        TRY(vengine__emit_key(e, VTRACE_SHARED_RELEASE, e->plan.embed_key, 0, 0, VTRACE_NEED_ENGINE, 0));
        e->embed_state = 2;
    }
    return VRAM_OK;
}

/* What the running requests do in this step. */
typedef struct step_batch {
    uint64_t tokens, seqs, prefill, context;
} step_batch;

static step_batch batch_of(const vengine *e)
{
    step_batch b = {0};
    for (size_t i = 0; i < e->nrun; i++) {
        const ereq *r = e->running[i];
        b.tokens += r->step_tokens;
        b.seqs += r->step_tokens > 0;
        b.prefill += r->computed < r->prompt ? r->step_tokens : 0;
        b.context += r->step_tokens ? r->computed + r->step_tokens : 0;
    }
    return b;
}

/* The step's activation and workspace buffers, sized by its batch. Closed
 * loop: when the sink cannot place them, the newest running request is
 * preempted and the smaller batch tried again; with one request left the
 * step runs without them (an OOM: *act or *ws 0). */
static vram_status place_step_buffers(vengine *e, uint64_t *act, uint64_t *ws)
{
    for (;;) {
        step_batch b = batch_of(e);
        uint64_t act_bytes, ws_bytes;
        TRY(vengine__step_buffers(e, b.tokens, b.seqs, &act_bytes, &ws_bytes));
        *act = *ws = 0;
        vram_status st = vengine__emit_alloc(e, act_bytes, VRAM_KIND_ACTIVATION, PRIO_ACTIVATION,
                                             VTRACE_NEED_NONE, 0, act);
        if (!st)
            st = vengine__emit_alloc(e, ws_bytes, VRAM_KIND_WORKSPACE, PRIO_ACTIVATION, VTRACE_NEED_NONE, 0,
                                     ws);
        if (st != VRAM_ENOMEM)
            return st;
        if (*act) {
            TRY(vengine__emit_id(e, VTRACE_FREE, *act));
            *act = 0;
        }
        if (e->nrun <= 1) {
            e->st.ooms++;
            return VRAM_OK;
        }
        TRY(preempt_newest(e, VENGINE_PREEMPT_BUFFERS));
    }
}

/* One engine step: growth (with preemption), admissions, the step's buffers,
 * progress, completions. *idle = 1 when there was nothing to run. */
static vram_status step(vengine *e, int *idle)
{
    uint64_t budget = e->c->max_batch_tokens;
    *idle = 0;
    /* running requests, oldest first: decode needs a token's KV, prefill continues */
    for (size_t i = 0; i < e->nrun; i++) {
        ereq *r = e->running[i];
        r->step_tokens = 0;
        if (budget == 0)
            continue;
        if (r->computed < r->prompt) {
            r->step_tokens = r->prompt - r->computed < budget ? r->prompt - r->computed : budget;
        } else {
            int self;
            TRY(grow_running(e, i, r->computed + 1, &self));
            if (self)
                break;
            r->step_tokens = 1;
        }
        budget -= r->step_tokens;
    }
    /* admissions, first come first served: the head blocks those behind it */
    while (budget && e->wait_len && e->nrun < e->c->max_batch_seqs) {
        int admitted;
        TRY(try_admit(e, budget, &admitted));
        if (!admitted)
            break;
        budget -= e->running[e->nrun - 1]->step_tokens;
    }
    step_batch batch = batch_of(e);
    if (batch.tokens == 0) {
        *idle = 1;
        return VRAM_OK;
    }
    if (e->nrun > e->st.peak_running)
        e->st.peak_running = e->nrun;
    TRY(vengine__emit_id(e, VTRACE_STEP, ++e->st.steps));
    uint64_t act, ws;
    TRY(place_step_buffers(e, &act, &ws));
    batch = batch_of(e); /* closed loop: after the preemptions that made room */
    e->st.running_sum += e->nrun;
    for (uint32_t a = 0; a < e->c->adapters; a++) {
        if (e->ad[a].id && e->ad[a].users) {
            TRY(vengine__emit_id(e, VTRACE_USE, e->ad[a].id));
            e->ad[a].last_step = e->st.steps;
        }
    }
    const uint64_t dur =
        STEP_BASE_US + batch.prefill * PREFILL_NS_PER_TOKEN / 1000 + batch.context / KV_TOKENS_PER_US;
    if (e->sink.stepped)
        TRY(e->sink.stepped(e->sink.ctx, dur));
    e->now += dur;
    if (ws)
        TRY(vengine__emit_id(e, VTRACE_FREE, ws));
    if (act)
        TRY(vengine__emit_id(e, VTRACE_FREE, act));
    /* progress and completions */
    size_t kept = 0;
    for (size_t i = 0; i < e->nrun; i++) {
        ereq *r = e->running[i];
        if (r->computed < r->prompt) {
            r->computed += r->step_tokens;
            if (r->computed == r->prompt) {
                r->generated = 1; /* the last prefill chunk yields the first token */
                if (r->first_token_us == UINT64_MAX)
                    r->first_token_us = e->now;
            }
        } else if (r->step_tokens) {
            r->computed++;
            r->generated++;
        }
        TRY(vengine__prefix_fill(e, r));
        if (e->c->kv == VENGINE_KV_PAGED)
            TRY(vengine__blocks_fill(e, r));
        if (r->generated >= r->output) {
            TRY(vengine__kv_release(e, r));
            TRY(adapter_drop(e, r));
            TRY(vengine__emit_id(e, VTRACE_REQUEST_END, r->rid));
            e->st.finished++;
            e->st.tokens_out += r->out_total;
            if (e->sink.done) {
                vengine_request_times t = {.rid = r->rid, .arrival_us = r->arrival_us,
                                           .admitted_us = r->admitted_us, .first_token_us = r->first_token_us,
                                           .end_us = e->now, .output = r->out_total};
                TRY(e->sink.done(e->sink.ctx, &t));
            }
            req_free(r);
            continue;
        }
        e->running[kept++] = r;
    }
    e->nrun = kept;
    return VRAM_OK;
}


vram_status vengine_fail(vengine *e, vram_status st, const char *fmt, ...)
{
    if (e->err && e->errlen && !e->err[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->err, e->errlen, fmt, ap);
        va_end(ap);
    }
    return st;
}

void vengine_defaults(vengine_config *c)
{
    *c = (vengine_config){
        .model = "llama-3-70b", .tp = 4, .kv = VENGINE_KV_PAGED, .format = VWORKLOAD_AZURE,
        .capacity = UINT64_C(80) << 30, .seed = 1, .speedup = 1, .max_batch_tokens = 8192,
        .max_batch_seqs = 256, .block_tokens = 16, .contig_min_tokens = 256, .utilisation = 0.9,
        .adapters = 8, .max_loras = 4, .lora_rank = 64, .adapter_share = 0.3, .prefix_cache = 1,
    };
}

vram_status vengine_create(const vengine_config *c, const vengine_sink *sink, char *err, size_t errlen,
                           vengine **out)
{
    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    vengine *e = calloc(1, sizeof *e);
    if (!e) {
        if (err && errlen)
            snprintf(err, errlen, "out of host memory");
        return VRAM_ENOHOST;
    }
    *e = (vengine){.c = c, .sink = *sink, .next_id = 1, .err = err, .errlen = errlen};
    char werr[512];
    vram_status st = vengine__plan(e);
    if (!st && (st = c->workload_data ? vworkload_open_buffer(c->workload_data, c->workload_size, c->workload,
                                                              c->format, &e->wl, werr, sizeof werr)
                                      : vworkload_open(c->workload, c->format, &e->wl, werr, sizeof werr)))
        vengine_fail(e, st, "%s", werr);
    if (!st) {
        e->running = calloc(c->max_batch_seqs, sizeof *e->running);
        e->ad = calloc(c->adapters ? c->adapters : 1, sizeof *e->ad);
        if (!e->running || !e->ad)
            st = vengine_fail(e, VRAM_ENOHOST, "out of host memory");
    }
    if (!st)
        st = vengine__blocks_open(e);
    if (!st)
        st = vengine__prefix_open(e);
    if (st) {
        vengine_destroy(e);
        return st;
    }
    *out = e;
    return VRAM_OK;
}

void vengine_destroy(vengine *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->nrun; i++)
        req_free(e->running[i]);
    while (e->wait_len)
        req_free(take_waiting(e, 0));
    req_free(e->ahead);
    free(e->running);
    free(e->waiting);
    free(e->ad);
    free(e->weight_ids);
    vengine__blocks_close(e);
    vengine__prefix_close(e);
    vworkload_close(e->wl);
    free(e);
}

const vengine_plan *vengine_plan_of(const vengine *e)
{
    return &e->plan;
}

const vengine_stats *vengine_stats_of(const vengine *e)
{
    return &e->st;
}

uint64_t vengine_now(const vengine *e)
{
    return e->now;
}

void vengine_load(const vengine *e, uint64_t *running, uint64_t *waiting)
{
    *running = e->nrun;
    *waiting = e->wait_len;
}

vram_status vengine_start(vengine *e)
{
    TRY(vengine__start_up(e));
    return read_ahead(e);
}

vram_status vengine_advance(vengine *e, int *done)
{
    *done = !e->ahead && !e->wait_len && !e->nrun;
    if (*done)
        return VRAM_OK;
    while (e->ahead && e->ahead->arrival_us <= e->now) {
        TRY(push_waiting(e, e->ahead, 0));
        TRY(read_ahead(e));
    }
    TRY(embed_consumer(e));
    int idle;
    TRY(step(e, &idle));
    if (!idle)
        return VRAM_OK;
    if (e->nrun || e->wait_len)
        return vengine_fail(e, VRAM_ECORRUPT, "scheduler stalled at %llu us with %zu waiting",
                            (unsigned long long)e->now, e->wait_len);
    if (e->ahead)
        e->now = e->ahead->arrival_us;
    return VRAM_OK;
}

vram_status vengine_finish(vengine *e)
{
    if (e->embed_state == 0 && e->c->duration_s > 0) /* a window shorter than the attach time */
        TRY(embed_consumer(e));
    TRY(vengine__shut_down(e));
    e->st.end_us = e->now;
    return VRAM_OK;
}
