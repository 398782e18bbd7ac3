/* tracegen.c - the trace generator (tracegen.h): the engine (engine.h) open
 * loop, its events and notes written by a trace writer, with the header, the
 * command, the plan and the summary as comments. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tracegen.h"

typedef struct gen {
    vengine *e;
    vtrace_writer *w;
    const char *out_path;      /* the file w writes, for messages */
} gen;

/* "OUT: cannot write: reason" for a failed trace write (errno as vtrace_write left it). */
static vram_status write_failed(gen *g, vram_status st)
{
    return vengine_fail(g->e, st, "%s: cannot write: %s", g->out_path,
                        st == VRAM_EIO ? strerror(errno) : vram_strerror(st));
}

static vram_status sink_event(void *ctx, const vtrace_event *ev)
{
    gen *g = ctx;
    vram_status st = vtrace_write(g->w, ev);
    return st ? write_failed(g, st) : VRAM_OK;
}

static vram_status sink_note(void *ctx, const char *text)
{
    gen *g = ctx;
    vram_status st = vtrace_write_comment(g->w, text);
    return st ? write_failed(g, st) : VRAM_OK;
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

/* Opens the trace and writes the header, the command and the plan. */
static vram_status write_start(gen *g, const vtracegen_config *tc, const char *path)
{
    const vengine_config *c = &tc->e;
    const vengine_plan *p = vengine_plan_of(g->e);
    vtrace_header h = {.version = VTRACE_VERSION, .capacity = c->capacity,
                       .kv_block_bytes = c->kv == VENGINE_KV_PAGED ? p->block_bytes : 0,
                       .kv_token_bytes = p->prof.kv_bytes_per_token,
                       .prefill_tokens_per_s = p->prefill_tokens_per_s,
                       .kv_block_tokens = p->prefix_blocks ? c->block_tokens : 0,
                       .prefix_segment_tokens = p->prefix_blocks ? VWORKLOAD_MOONCAKE_BLOCK_TOKENS : 0,
                       .prefix_cache_blocks = p->prefix_blocks};
    snprintf(h.model, sizeof h.model, "%s tp=%u %s", p->model.name, c->tp, dtype_name(p->model.dtype_bytes));
    snprintf(h.engine, sizeof h.engine, "%s", vengine_kv_name(c->kv));
    snprintf(h.source, sizeof h.source, "%s", tc->source ? tc->source : base_name(c->workload));
    snprintf(h.licence, sizeof h.licence, "%s",
             tc->licence ? tc->licence : c->format == VWORKLOAD_AZURE ? "CC-BY-4.0" : "Apache-2.0");
    errno = 0;
    vram_status st = vtrace_writer_open_as(path, &h, tc->gzip, &g->w);
    if (st)
        return vengine_fail(g->e, st, "%s: cannot write: %s", path,
                            errno ? strerror(errno) : vram_strerror(st));
    char note[512];
    snprintf(note, sizeof note,
             "weights %llu bytes (%u layers of %llu, embeddings shared as %s), KV %llu bytes/token, "
             "KV pool %llu bytes, adapters %u x %llu bytes (at most %u resident), batch %llu tokens / "
             "%llu requests, speedup %g, window %g s + %g s, seed %llu",
             (unsigned long long)p->prof.weights.total, p->model.layers,
             (unsigned long long)p->prof.weights.per_layer, p->embed_key,
             (unsigned long long)p->prof.kv_bytes_per_token, (unsigned long long)p->pool, c->adapters,
             (unsigned long long)p->adapter_bytes, c->max_loras, (unsigned long long)c->max_batch_tokens,
             (unsigned long long)c->max_batch_seqs, c->speedup, c->start_s, c->duration_s,
             (unsigned long long)c->seed);
    if (tc->comment && (st = vtrace_write_comment(g->w, tc->comment)))
        return st == VRAM_EINVAL ? vengine_fail(g->e, st, "invalid comment (one line of text expected)")
                                 : write_failed(g, st);
    return sink_note(g, note);
}

/* The summary comment. */
static vram_status write_end(gen *g)
{
    const vengine_stats *s = vengine_stats_of(g->e);
    char note[400];
    int n = snprintf(note, sizeof note,
                     "end: %llu requests, %llu finished, %llu rejected, %llu preemptions, %llu steps, "
                     "%llu events, peak KV %llu of %llu bytes, peak %llu running",
                     (unsigned long long)s->requests, (unsigned long long)s->finished,
                     (unsigned long long)s->rejected, (unsigned long long)s->preemptions,
                     (unsigned long long)s->steps, (unsigned long long)s->events,
                     (unsigned long long)s->peak_kv_bytes, (unsigned long long)s->kv_pool_bytes,
                     (unsigned long long)s->peak_running);
    if (vengine_plan_of(g->e)->prefix_blocks)
        snprintf(note + n, sizeof note - (size_t)n,
                 ", prefix cache: %llu of %llu blocks looked up were cached, %llu evicted",
                 (unsigned long long)s->prefix_hit_blocks, (unsigned long long)s->prefix_lookup_blocks,
                 (unsigned long long)s->prefix_evictions);
    return sink_note(g, note);
}

static vram_status generate(gen *g, const vtracegen_config *c, const char *tmp)
{
    vram_status st = write_start(g, c, tmp);
    if (!st)
        st = vengine_start(g->e);
    for (int done = 0; !st && !done;)
        st = vengine_advance(g->e, &done);
    if (!st)
        st = vengine_finish(g->e);
    return st ? st : write_end(g);
}

void vtracegen_defaults(vtracegen_config *c)
{
    *c = (vtracegen_config){0};
    vengine_defaults(&c->e);
}

vram_status vtracegen_run(const vtracegen_config *c, const char *path, vengine_stats *st, char *err,
                          size_t errlen)
{
    gen g = {0};
    if (err && errlen)
        err[0] = '\0';
    if (!c) {
        if (err && errlen)
            snprintf(err, errlen, "no configuration");
        return VRAM_EINVAL;
    }
    vtrace_output out;
    vram_status rc = vtrace_output_not_input(path, c->e.workload, err, errlen);
    if (!rc)
        rc = vtrace_output_begin(path, &out, err, errlen);
    if (rc)
        return rc;
    g.out_path = out.write_path;
    const vengine_sink sink = {.event = sink_event, .note = sink_note, .ctx = &g};
    rc = vengine_create(&c->e, &sink, err, errlen, &g.e);
    if (!rc)
        rc = generate(&g, c, out.write_path);
    if (g.w) {
        vram_status cst = vtrace_writer_close(g.w);
        if (!rc && cst)
            rc = vengine_fail(g.e, cst, "%s: cannot write: %s", out.write_path,
                              cst == VRAM_EIO ? strerror(errno) : vram_strerror(cst));
    }
    if (!rc)
        rc = vtrace_output_commit(&out, err, errlen);
    else
        vtrace_output_abort(&out);
    if (st)
        *st = g.e ? *vengine_stats_of(g.e) : (vengine_stats){0};
    vengine_destroy(g.e);
    return rc;
}
