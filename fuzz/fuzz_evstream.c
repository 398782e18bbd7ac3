/* fuzz_evstream.c - the parsed trace (sim/trace/evstream.c) over any bytes: the
 * stream built from them must pass vevs_check, and its cursor must give
 * exactly the reader's events (every field of vtrace_event), then the
 * reader's end or the reader's error, with the same slots as a live cursor
 * over the same bytes; the slots must follow evstream.h: a live id's slot is
 * below vevs_slots and no other live id's, an alloc of a live id and an event
 * on an id not live carry VEVS_NO_SLOT. The input's first byte chooses the
 * stream's memory bound (0 to 255 KiB, 0: no stream, the build answers NULL
 * past it), the rest is the trace. */
#include <string.h>

#include "evstream.h"
#include "fuzz_input.h"
#include "idmap.h"

#define TARGET "fuzz_evstream"

static void same_event(uint64_t n, const vtrace_event *a, const vtrace_event *b)
{
    int same = a->type == b->type && a->line == b->line && a->ts_us == b->ts_us &&
               a->id == b->id && a->size == b->size && a->align == b->align &&
               a->kind == b->kind && a->priority == b->priority &&
               strcmp(a->key, b->key) == 0 && a->need == b->need && a->owner == b->owner &&
               a->nframes == b->nframes && a->node == b->node && a->hash == b->hash &&
               a->prompt == b->prompt && a->tokens == b->tokens;
    for (unsigned i = 0; same && i < a->nframes; i++)
        same = a->frames[i] == b->frames[i];
    if (!same)
        fz_fail(TARGET, "decode", n, "line %llu: the stream's %s event differs from the reader's",
                (unsigned long long)b->line, vtrace_type_name(b->type));
}

/* The slot rules of evstream.h against a model of the live ids (id -> slot + 1). */
static void check_slot(uint64_t n, vsim_idmap *live, uint32_t *owner_of, uint32_t nslots,
                       const vtrace_event *ev, uint32_t slot)
{
    uint32_t *v = vsim_idmap_get(live, ev->id);
    int on_id = ev->type == VTRACE_ALLOC || ev->type == VTRACE_FREE || ev->type == VTRACE_USE ||
                ev->type == VTRACE_PIN || ev->type == VTRACE_UNPIN;
    uint32_t want = VEVS_NO_SLOT; /* no id, an alloc of a live id, an event on one not live */
    if (on_id && ev->type == VTRACE_ALLOC && !v)
        want = slot == VEVS_NO_SLOT ? 0 : slot; /* a new one: any slot no live id holds */
    else if (on_id && ev->type != VTRACE_ALLOC && v)
        want = *v - 1;
    if (slot != want || (slot != VEVS_NO_SLOT && slot >= nslots))
        fz_fail(TARGET, "slots", n, "line %llu: %s %llu has slot %u, expected %u (of %u)",
                (unsigned long long)ev->line, vtrace_type_name(ev->type),
                (unsigned long long)ev->id, slot, want, nslots);
    if (slot == VEVS_NO_SLOT)
        return;
    if (ev->type == VTRACE_ALLOC) {
        if (owner_of[slot])
            fz_fail(TARGET, "slots", n, "line %llu: slot %u given to id %llu is held by another",
                    (unsigned long long)ev->line, slot, (unsigned long long)ev->id);
        owner_of[slot] = 1;
        int created;
        uint32_t *nv = vsim_idmap_put(live, ev->id, &created);
        if (!nv)
            fz_fail(TARGET, "slots", n, "out of host memory");
        *nv = slot + 1;
    } else if (ev->type == VTRACE_FREE) {
        owner_of[slot] = 0;
        vsim_idmap_remove(live, ev->id);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t limit = (size_t)data[0] << 10;
    data++;
    size--;
    vevs *s = NULL;
    char err[512], msg[256];
    vram_status st = vevs_build("fuzz.trace", data, size, limit, NULL, &s, err, sizeof err);
    vtrace_reader *r = NULL;
    vram_status rst = vtrace_open_buffer(data, size, "fuzz.trace", &r, msg, sizeof msg);
    if ((st != VRAM_OK) != (rst != VRAM_OK))
        fz_fail(TARGET, "open", 0, "the build answered %s, the reader %s", vram_status_name(st),
                vram_status_name(rst));
    if (st) {
        vtrace_close(r);
        return 0;
    }
    if (s && vevs_check(s, msg, sizeof msg))
        fz_fail(TARGET, "check", 0, "%s", msg);
    vevs_cursor *mem = NULL, *live = NULL;
    if (vevs_open(s, "fuzz.trace", data, size, &mem, err, sizeof err) ||
        vevs_open(NULL, "fuzz.trace", data, size, &live, err, sizeof err))
        fz_fail(TARGET, "open", 0, "a cursor did not open: %s", err);
    const vtrace_header *hs = vevs_header(mem), *hr = vtrace_header_of(r);
    if (hs->version != hr->version || hs->capacity != hr->capacity ||
        strcmp(hs->model, hr->model) || hs->kv_block_bytes != hr->kv_block_bytes)
        fz_fail(TARGET, "header", 0, "the stream's header differs from the reader's");
    vsim_idmap *ids = NULL;
    uint32_t *owner_of = NULL;
    uint32_t nslots = vevs_slots(mem);
    if (vsim_idmap_create(sizeof(uint32_t), &ids) ||
        !(owner_of = calloc((size_t)nslots + (s == NULL ? 1u << 16 : 1), sizeof *owner_of)))
        fz_fail(TARGET, "slots", 0, "out of host memory");
    uint64_t n = 0;
    for (;;) {
        vtrace_event want, a, b;
        uint32_t sa, sb;
        int gw = vtrace_next(r, &want), ga = vevs_next(mem, &a, &sa), gb = vevs_next(live, &b, &sb);
        n++;
        if (ga != gw || gb != gw)
            fz_fail(TARGET, "end", n, "the reader answered %d, the stream %d, the live cursor %d",
                    gw, ga, gb);
        if (gw < 0 && (strcmp(vevs_error(mem), vtrace_error(r)) || strcmp(vevs_error(live),
                                                                          vtrace_error(r))))
            fz_fail(TARGET, "error", n, "the stream says \"%s\", the reader \"%s\"",
                    vevs_error(mem), vtrace_error(r));
        if (gw != 1)
            break;
        same_event(n, &a, &want);
        same_event(n, &b, &want);
        if (sa != sb)
            fz_fail(TARGET, "slots", n, "line %llu: slot %u in the stream, %u live",
                    (unsigned long long)want.line, sa, sb);
        if (!s)
            nslots = vevs_slots(live);
        if (nslots > (s ? vevs_slots(mem) : 1u << 16))
            break; /* a live cursor past the model's table: enough of it checked */
        check_slot(n, ids, owner_of, nslots, &want, sa);
    }
    if (s && n - 1 != vevs_events(s) && vevs_error(mem)[0] == '\0')
        fz_fail(TARGET, "count", n, "%llu events read, the stream counts %llu",
                (unsigned long long)n - 1, (unsigned long long)vevs_events(s));
    free(owner_of);
    vsim_idmap_destroy(ids);
    vevs_close(mem);
    vevs_close(live);
    vtrace_close(r);
    vevs_destroy(s);
    return 0;
}
