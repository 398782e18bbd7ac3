/* tracegen.c - the trace generator (tracegen.h): the recorded requests and
 * a continuous-batching scheduler over them (start-up and shut-down are in
 * tracegen_setup.c, the KV bookkeeping in tracegen_kv.c).
 *
 * Time is engine time in microseconds: arrivals come from the recording
 * (shifted to the window start, divided by the speedup); each step lasts as
 * tracegen_internal.h models it. Byte counts all come from the budget planner. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tracegen_internal.h"

static uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
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
            return vtg__fail(g, VRAM_ENOHOST, "out of host memory");
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
            return vtg__fail(g, VRAM_EPARSE, "%s", vworkload_error(g->wl));
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
            fits = vtg__kv_need(g, &probe, q.prompt_tokens + out - 1) <= g->pool;
        }
        if (!fits) {
            char note[160];
            snprintf(note, sizeof note, "rejected request %llu: %llu prompt + %llu output tokens do not fit "
                     "the context (%llu) or the KV pool", (unsigned long long)q.line,
                     (unsigned long long)q.prompt_tokens, (unsigned long long)q.output_tokens,
                     (unsigned long long)g->model.context_max);
            vram_status st = vtrace_write_comment(g->w, note);
            if (st)
                return vtg__write_failed(g, st);
            g->st.rejected++;
            continue;
        }
        greq *r = calloc(1, sizeof *r);
        if (!r)
            return vtg__fail(g, VRAM_ENOHOST, "out of host memory");
        r->rid = q.line;
        const double arrival = (double)(q.arrival_us - g->win_start_us) / g->c->speedup;
        if (!(arrival < 0x1p63)) {
            free(r);
            return vtg__fail(g, VRAM_EINVAL, "%s:%llu: arrival %.0f us after the window start at "
                             "--speedup %g: beyond 2^63 us", g->c->workload,
                             (unsigned long long)q.line, arrival, g->c->speedup);
        }
        r->arrival_us = (uint64_t)arrival;
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
                    return vtg__fail(g, VRAM_ENOHOST, "out of host memory");
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
            return vtg__fail(g, VRAM_ECORRUPT, "no adapter slot for request %llu", (unsigned long long)r->rid);
        TRY(vtg__emit_id(g, VTRACE_FREE, g->ad[victim].id));
        g->ad[victim].id = 0;
        g->ad_resident--;
    }
    TRY(vtg__emit_alloc(g, g->adapter_bytes, VRAM_KIND_ADAPTER, PRIO_ADAPTER, VTRACE_NEED_NONE, 0,
                        &g->ad[r->adapter].id));
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

/* A running request starts or stops using its adapter: the adapter is pinned
 * while at least one running request uses it (users 0 -> 1: pin, 1 -> 0: unpin),
 * so the unpin comes before the request's end and before the adapter's free. */
static vram_status adapter_take(gen *g, const greq *r)
{
    if (r->adapter < 0)
        return VRAM_OK;
    adapter *a = &g->ad[r->adapter];
    if (a->users++ == 0)
        TRY(vtg__emit_id(g, VTRACE_PIN, a->id));
    return VRAM_OK;
}

static vram_status adapter_drop(gen *g, const greq *r)
{
    if (r->adapter < 0)
        return VRAM_OK;
    adapter *a = &g->ad[r->adapter];
    if (a->users == 0)
        return vtg__fail(g, VRAM_ECORRUPT, "adapter %d dropped by request %llu but not used", r->adapter,
                         (unsigned long long)r->rid);
    if (--a->users == 0)
        TRY(vtg__emit_id(g, VTRACE_UNPIN, a->id));
    return VRAM_OK;
}

/* ---- the scheduler ---- */

/* Preempts the most recently admitted running request: its KV is freed (and
 * its adapter unpinned if it was the last user) before its end, and it goes
 * back to the head of the queue, to recompute prompt + generated tokens. */
static vram_status preempt_newest(gen *g)
{
    greq *v = g->running[g->nrun - 1]; /* still running: freed with them after a failure */
    TRY(vtg__kv_release(g, v));
    TRY(adapter_drop(g, v));
    TRY(vtg__emit_id(g, VTRACE_REQUEST_END, v->rid));
    v->prompt += v->generated;
    v->output -= v->generated;
    v->computed = v->generated = 0;
    g->st.preemptions++;
    g->nrun--;
    vram_status st = push_waiting(g, v, 1);
    if (st)
        req_free(v);
    return st;
}

/* Makes `need` KV bytes free: idle prefix segments first, then preemption of
 * the newest running requests. *self = 1 if running[idx] itself was preempted. */
static vram_status make_room(gen *g, uint64_t need, size_t idx, int *self)
{
    *self = 0;
    while (vtg__kv_free(g) < need) {
        int evicted;
        TRY(vtg__evict_segment(g, &evicted));
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
    need += vtg__ceil_div(priv, g->c->block_tokens) * g->block_bytes;
    if (g->c->engine == VTRACEGEN_CONTIGUOUS)
        need = vtg__kv_need(g, r, r->prompt);
    uint64_t reclaimable = (vtg_prefix_idle_count(g->prefix) - idle_hits) * g->seg_bytes;
    if (vtg__kv_free(g) + reclaimable < need)
        return VRAM_OK;

    *admitted = 1;
    TRY(vtg__emit_id(g, VTRACE_REQUEST_BEGIN, r->rid));
    TRY(adapter_load(g, r));
    TRY(adapter_take(g, r));
    /* hits first (no allocation), then evictions, then the new allocations */
    for (size_t i = 0; i < r->nsegs; i++) {
        if (!vtg_prefix_resident(g->prefix, r->segs[i]))
            continue;
        int was;
        TRY(vtg_prefix_take(g->prefix, r->segs[i], &was));
        TRY(vtg__emit_segment(g, VTRACE_SHARED_ACQUIRE, r->segs[i], r));
        g->st.prefix_hits++;
    }
    while (vtg__kv_free(g) < need) {
        int evicted;
        TRY(vtg__evict_segment(g, &evicted));
        if (!evicted)
            return vtg__fail(g, VRAM_ECORRUPT, "KV accounting: %llu bytes needed, %llu free",
                        (unsigned long long)need, (unsigned long long)vtg__kv_free(g));
    }
    /* the misses: created by this request (its reference, NEED the request), kept
     * by the cache from now until evicted (the cache's reference, NEED '-') */
    for (size_t i = 0; i < r->nsegs; i++) {
        int was = 1;
        if (vtg_prefix_resident(g->prefix, r->segs[i]))
            continue;
        TRY(vtg_prefix_take(g->prefix, r->segs[i], &was));
        TRY(vtg__emit_segment(g, VTRACE_SHARED_ACQUIRE, r->segs[i], r));
        TRY(vtg__emit_segment(g, VTRACE_SHARED_ACQUIRE, r->segs[i], NULL));
        vtg__add_used(g, g->seg_bytes);
        g->st.prefix_misses++;
    }
    r->segs_held = r->nsegs;
    TRY(vtg__kv_grow(g, r, r->prompt));
    /* cached leading tokens are not computed again; at least one token is */
    r->computed = hit_prefix * SEGMENT_TOKENS;
    if (r->computed >= r->prompt)
        r->computed = r->prompt - 1;
    r->step_tokens = r->prompt - r->computed < budget ? r->prompt - r->computed : budget;
    take_waiting(g, idx); /* queued until running: after a failure above, freed with the queue */
    g->running[g->nrun++] = r;
    return VRAM_OK;
}

/* The embedding model that shares the token embeddings attaches and detaches. */
static vram_status embed_consumer(gen *g)
{
    if (g->embed_state == 0 && g->now >= g->embed_attach_us) {
        TRY(vtg__emit_key(g, VTRACE_SHARED_ACQUIRE, g->embed_key, g->prof.weights.embed, PRIO_WEIGHT,
                          VTRACE_NEED_ENGINE, 0));
        g->embed_state = 1;
    }
    if (g->embed_state == 1 && g->embed_detach_us && g->now >= g->embed_detach_us) {
        TRY(vtg__emit_key(g, VTRACE_SHARED_RELEASE, g->embed_key, 0, 0, VTRACE_NEED_ENGINE, 0));
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
            TRY(make_room(g, vtg__kv_need(g, r, r->computed + 1), i, &self));
            if (self)
                break;
            TRY(vtg__kv_grow(g, r, r->computed + 1));
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
    TRY(vtg__emit_id(g, VTRACE_STEP, ++g->st.steps));
    uint64_t act_bytes, ws_bytes, act, ws;
    TRY(vtg__step_buffers(g, tokens, seqs, &act_bytes, &ws_bytes));
    TRY(vtg__emit_alloc(g, act_bytes, VRAM_KIND_ACTIVATION, PRIO_ACTIVATION, VTRACE_NEED_NONE, 0, &act));
    TRY(vtg__emit_alloc(g, ws_bytes, VRAM_KIND_WORKSPACE, PRIO_ACTIVATION, VTRACE_NEED_NONE, 0, &ws));
    for (uint32_t a = 0; a < g->c->adapters; a++) {
        if (g->ad[a].id && g->ad[a].users) {
            TRY(vtg__emit_id(g, VTRACE_USE, g->ad[a].id));
            g->ad[a].last_step = g->st.steps;
        }
    }
    g->now += STEP_BASE_US + prefill * PREFILL_NS_PER_TOKEN / 1000 + context / KV_TOKENS_PER_US;
    TRY(vtg__emit_id(g, VTRACE_FREE, ws));
    TRY(vtg__emit_id(g, VTRACE_FREE, act));
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
            TRY(vtg__kv_release(g, r));
            TRY(adapter_drop(g, r));
            TRY(vtg__emit_id(g, VTRACE_REQUEST_END, r->rid));
            g->st.finished++;
            req_free(r);
            continue;
        }
        g->running[kept++] = r;
    }
    g->nrun = kept;
    return VRAM_OK;
}

static vram_status generate(gen *g, const char *tmp)
{
    char werr[512];
    TRY(vtg__plan(g));
    vram_status st = vworkload_open(g->c->workload, g->c->format, &g->wl, werr, sizeof werr);
    if (st)
        return vtg__fail(g, st, "%s", werr);
    g->running = calloc(g->c->max_batch_seqs, sizeof *g->running);
    g->ad = calloc(g->c->adapters ? g->c->adapters : 1, sizeof *g->ad);
    if (!g->running || !g->ad || vtg_prefix_create(&g->prefix))
        return vtg__fail(g, VRAM_ENOHOST, "out of host memory");
    TRY(vtg__write_start(g, tmp));
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
            return vtg__fail(g, VRAM_ECORRUPT, "scheduler stalled at %llu us with %zu waiting",
                        (unsigned long long)g->now, g->wait_len);
        if (g->ahead)
            g->now = g->ahead->arrival_us;
    }
    if (g->embed_state == 0 && g->c->duration_s > 0) /* a window shorter than the attach time */
        TRY(embed_consumer(g));
    return vtg__write_end(g);
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
    if (!c) {
        if (err && errlen)
            snprintf(err, errlen, "no configuration");
        return VRAM_EINVAL;
    }
    vtrace_output out;
    vram_status rc = vtrace_output_not_input(path, c->workload, err, errlen);
    if (!rc)
        rc = vtrace_output_begin(path, &out, err, errlen);
    if (rc)
        return rc;
    g.out_path = out.write_path;
    rc = generate(&g, out.write_path);
    if (g.w) {
        vram_status cst = vtrace_writer_close(g.w);
        if (!rc && cst)
            rc = vtg__fail(&g, cst, "%s: cannot write: %s", out.write_path,
                           cst == VRAM_EIO ? strerror(errno) : vram_strerror(cst));
    }
    if (!rc)
        rc = vtrace_output_commit(&out, err, errlen);
    else
        vtrace_output_abort(&out);
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
