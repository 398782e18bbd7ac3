/* fuzz_manager.c - the manager façade (handles, priorities, pins, uses,
 * shared keys, eviction, compaction) against a reference model.
 *
 * Input: one configuration byte (bits 0-1 the heap policy: bestfit, buddy,
 * tlsf, caching; bits 2-3 the eviction policy: prio-lru, lru, cost; bit 4
 * eviction on; bit 5 compaction on OOM), then operations (opcode byte mod 16
 * and operands) until the input ends or MAX_OPS ran. The device is the
 * host-backed sim, so the contents of every handle are verified whenever it is
 * acquired, wherever eviction or compaction moved it.
 *
 * The model knows each slot's handle, size, backing, pins and uses, each shared
 * key's size and references, and freed handles; every status is checked
 * against what the model allows, and after every operation vram_manager_check()
 * runs and every live handle's info (size, pins, uses, shared references,
 * residency of pinned, used and never-evicted handles) and the stats' handle
 * and key counts must agree with the model. At the end everything is released
 * and the manager must report no leak. */
#include <string.h>

#include "fuzz_input.h"
#include "vram/vram.h"

#define MAXH 64
#define NKEYS 8
#define NDEAD 16
#define MAX_OPS 1024
#define TARGET "fuzz_manager"

typedef struct mslot {
    vram_handle h;
    uint64_t size, id;
    uint32_t pins, uses;
    vram_backing backing;
    int live;
} mslot;

typedef struct mkey {
    char name[8];
    uint64_t size;
    uint32_t refs;
    vram_handle h;
} mkey;

typedef struct model {
    vram_manager *m;
    vram_device *dev;
    const char *heap;
    uint64_t op, next_id, heap_capacity;
    mslot hs[MAXH];
    mkey keys[NKEYS];
    vram_handle dead[NDEAD];
    uint32_t ndead;
    fz_trace tr;
} model;

/* Reports a violation (also as the trace's last line) and traps. */
static void fail(model *md, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void fail(model *md, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fz_trace_line(&md->tr, "# violation at op %" PRIu64 ": %s", md->op, msg);
    fz_fail(TARGET, md->heap, md->op, "%s", msg);
}

#define FAIL fail

static vram_status remat_fill(void *ctx, vram_device *dev, uint64_t addr, uint64_t size)
{
    const mslot *s = ctx;
    return vram_device_fill(dev, addr, size, s->h.v);
}

/* Keys are filled with a tag of their own: 0x1000 plus the key's number. */
static vram_status key_loader(void *ctx, vram_device *dev, uint64_t addr, uint64_t size)
{
    const mkey *k = ctx;
    return vram_device_fill(dev, addr, size, 0x1000 + (uint64_t)(k->name[1] - '0'));
}

static void expect(model *md, vram_status got, int ok, const char *what)
{
    if (!ok)
        FAIL(md, "%s gave %s", what, vram_status_name(got));
}

static void bury(model *md, vram_handle h) { md->dead[md->ndead++ % NDEAD] = h; }

static void verify_contents(model *md, uint64_t addr, uint64_t size, uint64_t tag, const char *what)
{
    vram_status st = vram_device_verify(md->dev, addr, size, tag);
    if (st)
        FAIL(md, "%s: contents at %" PRIu64 " (+%" PRIu64 ") do not verify: %s", what, addr, size,
             vram_device_errmsg(md->dev));
}

static void op_alloc(model *md, mslot *s, fz_in *in)
{
    uint8_t b = fz_u8(in), a = fz_u8(in);
    uint64_t size = b == 255 ? md->heap_capacity + 1 : fz_size(in, 15);
    vram_alloc_desc d = {.size = size,
                         .align = a < 192 ? 0 : a < 250 ? 4096 : 3 * 1024,
                         .priority = (int)(b % 4),
                         .kind = (vram_kind)(a % VRAM_KIND_COUNT),
                         .backing = (vram_backing)(b / 4 % 3),
                         .remat = b % 61 == 60 ? NULL : remat_fill,
                         .remat_ctx = s};
    int invalid = (d.align & (d.align - 1)) || (d.backing == VRAM_BACKING_CALLBACK && !d.remat);
    vram_status st = vram_alloc(md->m, &d, &s->h);
    if (st == VRAM_OK && !invalid) {
        *s = (mslot){.h = s->h, .size = size, .id = ++md->next_id, .backing = d.backing, .live = 1};
        fz_trace_line(&md->tr, "alloc %" PRIu64 " %" PRIu64 " %" PRIu64 " %s %d -", s->id, size, d.align,
                      vram_kind_name(d.kind), d.priority);
        return;
    }
    int big = size > md->heap_capacity;
    expect(md, st, invalid ? st == VRAM_EINVAL : st == VRAM_ENOMEM || (st == VRAM_EINVAL && big), "alloc");
    fz_trace_line(&md->tr, "# alloc of %" PRIu64 " bytes: %s", size, vram_status_name(st));
}

static void op_shared_acquire(model *md, fz_in *in)
{
    mkey *k = &md->keys[fz_u8(in) % NKEYS];
    uint8_t b = fz_u8(in);
    uint64_t size = k->refs && b % 8 ? k->size : 512 + 4096 * (uint64_t)(b % 8);
    vram_handle h;
    vram_status st = vram_acquire_shared(md->m, k->name, size, b % 3, key_loader, k, &h);
    if (k->refs && size != k->size) {
        expect(md, st, st == VRAM_EMISMATCH, "acquire_shared with another size");
        return;
    }
    if (st) {
        expect(md, st, st == VRAM_ENOMEM, "acquire_shared");
        return;
    }
    if (k->refs && h.v != k->h.v)
        FAIL(md, "acquire_shared(%s) gave another handle", k->name);
    k->h = h;
    k->size = size;
    k->refs++;
    fz_trace_line(&md->tr, "acquire %s %" PRIu64 " %d -", k->name, size, b % 3);
    uint64_t addr;
    st = vram_acquire(md->m, h, &addr);
    expect(md, st, st == VRAM_OK, "acquire of a just acquired shared buffer");
    verify_contents(md, addr, size, 0x1000 + (uint64_t)(k->name[1] - '0'), "shared buffer");
    st = vram_unacquire(md->m, h);
    expect(md, st, st == VRAM_OK, "unacquire of a shared buffer");
}

static void op_shared_release(model *md, fz_in *in)
{
    mkey *k = &md->keys[fz_u8(in) % NKEYS];
    vram_status st = vram_release_shared(md->m, k->name);
    expect(md, st, st == (k->refs ? VRAM_OK : VRAM_ENOTFOUND), "release_shared");
    if (!k->refs)
        return;
    fz_trace_line(&md->tr, "release %s -", k->name);
    if (--k->refs == 0)
        bury(md, k->h);
}

/* A handle that must be refused: freed before, or forged with an index far past any slot. */
static void op_bad_handle(model *md, fz_in *in)
{
    uint8_t b = fz_u8(in);
    vram_handle h = {md->ndead && b & 1 ? md->dead[b / 2 % (md->ndead < NDEAD ? md->ndead : NDEAD)].v
                                       : (uint64_t)fz_u32(in) << 32 | (0x40000000u + b)};
    vram_status st;
    const char *what;
    switch (b / 2 % 4) {
    case 0: st = vram_touch(md->m, h); what = "touch"; break;
    case 1: st = vram_free(md->m, h); what = "free"; break;
    case 2: st = vram_pin(md->m, h); what = "pin"; break;
    default: st = vram_acquire(md->m, h, NULL); what = "acquire"; break;
    }
    if (st != VRAM_ESTALE && st != VRAM_EDOUBLEFREE && st != VRAM_ENOTFOUND)
        FAIL(md, "%s of a dead or forged handle %#" PRIx64 " gave %s", what, h.v, vram_status_name(st));
}

static void op_live(model *md, mslot *s, unsigned what)
{
    vram_status st;
    uint64_t addr = 0;
    switch (what) {
    case 4:
        st = vram_free(md->m, s->h);
        expect(md, st, st == (s->pins || s->uses ? VRAM_EBUSY : VRAM_OK), "free");
        if (st == VRAM_OK) {
            s->live = 0;
            bury(md, s->h);
            fz_trace_line(&md->tr, "free %" PRIu64, s->id);
        }
        break;
    case 5: case 6:
        st = vram_touch(md->m, s->h);
        expect(md, st, st == VRAM_OK || st == VRAM_ENOMEM, "touch");
        if (st == VRAM_OK)
            fz_trace_line(&md->tr, "use %" PRIu64, s->id);
        break;
    case 7:
        st = vram_acquire(md->m, s->h, &addr);
        expect(md, st, st == VRAM_OK || st == VRAM_ENOMEM, "acquire");
        if (st == VRAM_OK) {
            s->uses++;
            verify_contents(md, addr, s->size, s->h.v, "acquire");
            fz_trace_line(&md->tr, "use %" PRIu64 "\n# acquired (no trace event)", s->id);
        }
        break;
    case 8:
        st = vram_unacquire(md->m, s->h);
        expect(md, st, st == (s->uses ? VRAM_OK : VRAM_EINVAL), "unacquire");
        s->uses -= s->uses > 0;
        break;
    case 9:
        st = vram_pin(md->m, s->h);
        expect(md, st, st == VRAM_OK || st == VRAM_ENOMEM, "pin");
        s->pins += st == VRAM_OK;
        if (st == VRAM_OK)
            fz_trace_line(&md->tr, "pin %" PRIu64, s->id);
        break;
    default:
        st = vram_unpin(md->m, s->h);
        expect(md, st, st == (s->pins ? VRAM_OK : VRAM_EINVAL), "unpin");
        if (st == VRAM_OK)
            fz_trace_line(&md->tr, "unpin %" PRIu64, s->id);
        s->pins -= s->pins > 0;
        break;
    }
}

static void compare(model *md)
{
    char msg[256];
    if (vram_manager_check(md->m, msg, sizeof msg))
        FAIL(md, "check(): %s", msg);
    uint64_t live = 0, keys = 0;
    vram_handle_info info;
    for (int i = 0; i < MAXH; i++) {
        const mslot *s = &md->hs[i];
        if (!s->live)
            continue;
        live++;
        vram_status st = vram_handle_get(md->m, s->h, &info);
        if (st)
            FAIL(md, "handle_get of live slot %d gave %s", i, vram_status_name(st));
        if (info.size != s->size || info.pins != s->pins || info.uses != s->uses || info.shared_refs)
            FAIL(md, "slot %d: size %" PRIu64 "/%" PRIu64 " pins %u/%u uses %u/%u shared %u (manager/model)", i,
                 info.size, s->size, info.pins, s->pins, info.uses, s->uses, info.shared_refs);
        if ((s->pins || s->uses || s->backing == VRAM_BACKING_NONE) && !info.resident)
            FAIL(md, "slot %d is pinned, in use or never evicted, yet not resident", i);
    }
    for (int k = 0; k < NKEYS; k++) {
        if (!md->keys[k].refs)
            continue;
        keys++;
        live++;
        vram_status st = vram_handle_get(md->m, md->keys[k].h, &info);
        if (st || info.shared_refs != md->keys[k].refs || info.size != md->keys[k].size)
            FAIL(md, "key %s: %s, refs %u, model %u", md->keys[k].name, vram_status_name(st), info.shared_refs,
                 md->keys[k].refs);
    }
    vram_manager_stats ms;
    vram_manager_stats_get(md->m, &ms);
    if (ms.handles != live || ms.shared_keys != keys)
        FAIL(md, "stats: %" PRIu64 " handles, %" PRIu64 " keys; model %" PRIu64 ", %" PRIu64, ms.handles,
             ms.shared_keys, live, keys);
}

static void drain(model *md)
{
    for (int i = 0; i < MAXH; i++) {
        mslot *s = &md->hs[i];
        if (!s->live)
            continue;
        for (; s->uses; s->uses--)
            expect(md, vram_unacquire(md->m, s->h), 1, "drain");
        for (; s->pins; s->pins--)
            vram_unpin(md->m, s->h);
        vram_status st = vram_free(md->m, s->h);
        expect(md, st, st == VRAM_OK, "free while draining");
        s->live = 0;
    }
    for (int k = 0; k < NKEYS; k++)
        for (; md->keys[k].refs; md->keys[k].refs--) {
            vram_status st = vram_release_shared(md->m, md->keys[k].name);
            expect(md, st, st == VRAM_OK, "release_shared while draining");
        }
    compare(md);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const heaps[4] = {"bestfit", "buddy", "tlsf", "caching"};
    static const char *const evicts[4] = {"prio-lru", "lru", "cost", "prio-lru"};
    fz_in in = {data, size};
    uint8_t c = fz_u8(&in);
    model *md = calloc(1, sizeof *md);
    if (!md)
        return 0;
    md->heap = heaps[c & 3];
    md->heap_capacity = (c & 3) == 3 ? UINT64_C(4) << 20 : UINT64_C(256) << 10;
    for (int k = 0; k < NKEYS; k++)
        snprintf(md->keys[k].name, sizeof md->keys[k].name, "w%d", k);
    vram_manager_config cfg = {.device = {.capacity = 2 * md->heap_capacity, .host_backing = 1},
                               .heap_policy = md->heap,
                               .heap = {.capacity = md->heap_capacity},
                               .evict_policy = evicts[(c >> 2) & 3],
                               .evict = (c >> 4) & 1,
                               .defrag_on_oom = (c >> 5) & 1};
    vram_status st = vram_manager_create(&cfg, &md->m);
    if (st)
        FAIL(md, "manager_create gave %s", vram_status_name(st));
    md->dev = vram_manager_device(md->m);
    char what[128];
    snprintf(what, sizeof what, "heap %s, evict %s %s, defrag_on_oom %d", md->heap, cfg.evict_policy,
             cfg.evict ? "on" : "off", cfg.defrag_on_oom);
    fz_trace_open(&md->tr, TARGET, what, md->heap_capacity);
    for (md->op = 1; in.n && md->op <= MAX_OPS; md->op++) {
        unsigned what_op = fz_u8(&in) % 16;
        mslot *s = &md->hs[fz_u8(&in) % MAXH];
        if (what_op < 4) {
            if (!s->live)
                op_alloc(md, s, &in);
        } else if (what_op < 11) {
            if (s->live)
                op_live(md, s, what_op);
        } else if (what_op < 13) {
            op_shared_acquire(md, &in);
        } else if (what_op < 15) {
            op_shared_release(md, &in);
        } else {
            op_bad_handle(md, &in);
        }
        compare(md);
    }
    drain(md);
    fz_trace_close(&md->tr);
    uint64_t leaks = vram_manager_destroy(md->m, stderr);
    if (leaks)
        FAIL(md, "%" PRIu64 " handle(s) leaked after everything was freed", leaks);
    free(md);
    return 0;
}
