/* heap_fuzz.c - decodes fuzz input into heap operations and checks every
 * result against a shadow model (tests/heap_shadow.h) and the policy's rules.
 *
 * Input: two configuration bytes, then operations until the input ends or
 * FZ_MAX_OPS ran. Configuration byte 0: bits 0-1 the capacity (1 MiB, 16 MiB,
 * 256 MiB, or 48.75 MiB which is no power of two), bits 2-3 the minimum
 * alignment (default 256, 512, 4 KiB, 64 KiB), bits 4-5 the pool block size
 * (1, 16, 512 or 48 times the minimum alignment). Byte 1 (caching):
 * bit 0 expandable segments, bit 1 max_split_size 32 MiB, bit 2 gc_threshold 0.5.
 * Each operation is one opcode byte (mod 16) and its operands:
 *   0-5 alloc(size, align)      6-9 free of a live block
 *       (3-5 through vram_heap_alloc_token; 6-7 free such a block by its
 *       token, 8-9 and blocks without one by offset)
 *   10  free that must fail (an offset, then a stale or forged token)
 *   11  alloc_batch of 1-8 sizes
 *   12  free_batch of live ones  13  grow
 *   14  retain (pool; EUNSUPPORTED elsewhere)   15 free_batch that must fail
 *
 * Checks after every operation: the shadow's alignment, range and overlap
 * rules for each new block; the stats against the shadow (live_allocs and
 * requested exactly, in_use exactly where the rounding is known); a failed call
 * changed no counter; vram_heap_check(). Every status must be one the contract
 * allows, and an allocation's outcome must follow the policy's own rule
 * (fit_rule below), in both directions where the rule is exact. At the end every
 * block is freed and the heap must be empty. */
#include "heap_fuzz.h"

#include <string.h>

#include "fuzz_input.h"
#include "heap_shadow.h"
#include "vram/heap.h"

#define FZ_MAX_OPS 1024
#define FZ_MAX_LIVE 1024
#define FZ_RECENT 8
#define FZ_BATCH 8
#define MiB (UINT64_C(1) << 20)

/* A live block: offset, bytes asked for, references (pool retain), trace id,
 * the heap's token when it was allocated with one. */
typedef struct fz_block {
    uint64_t off, size, id, token;
    uint32_t refs;
    int has_token;
} fz_block;

typedef enum fz_round { ROUND_UNKNOWN, ROUND_MIN_ALIGN, ROUND_POW2, ROUND_BLOCK } fz_round;

typedef struct fz_heap {
    const char *policy, *target;
    const vram_heap_ops *ops;                    /* NULL: the policy by name */
    const char *(*explain)(const void *ctx);     /* more words for a failure, or NULL */
    const void *explain_ctx;
    vram_heap *h;
    heap_shadow sh;
    fz_trace tr;
    uint64_t op, min_align, block_size, max_log2, grown, grow_limit, next_id;
    fz_round round;
    fz_block live[FZ_MAX_LIVE];
    uint32_t nlive;
    uint64_t recent[FZ_RECENT]; /* offsets freed lately, for the must-fail frees */
    uint32_t nrecent;
    uint64_t stale[FZ_RECENT];  /* tokens of blocks freed lately */
    uint32_t nstale;
    char why[512];
} fz_heap;

/* Reports a violation (also as the trace's last line) and traps. */
static void fail(fz_heap *r, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void fail(fz_heap *r, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *more = r->explain ? r->explain(r->explain_ctx) : NULL;
    if (more && *more) {
        size_t n = strlen(msg);
        snprintf(msg + n, sizeof msg - n, " (the plugin's first violation: %s)", more);
    }
    fz_trace_line(&r->tr, "# violation at op %" PRIu64 ": %s", r->op, msg);
    fz_fail(r->target, r->policy, r->op, "%s", msg);
}

#define FAIL fail

static vram_heap_stats stats_of(const fz_heap *r)
{
    vram_heap_stats s;
    vram_heap_stats_get(r->h, &s);
    return s;
}

/* x rounded up to a multiple of the power of two a (x well below 2^63 here). */
static uint64_t fz_align_up(uint64_t x, uint64_t a) { return (x + a - 1) & ~(a - 1); }

static uint64_t pow2_ceil(uint64_t x)
{
    return x <= 1 ? 1 : UINT64_C(1) << (64 - __builtin_clzll(x - 1));
}

static uint64_t rounded_size(const fz_heap *r, uint64_t size)
{
    switch (r->round) {
    case ROUND_MIN_ALIGN:
        return fz_align_up(size, r->min_align);
    case ROUND_POW2:
        return pow2_ceil(size) > r->min_align ? pow2_ceil(size) : r->min_align;
    case ROUND_BLOCK:
        return r->block_size;
    case ROUND_UNKNOWN:
        break;
    }
    return 0;
}

/* Walk context: does some free block hold `size` bytes at alignment `align`,
 * the start rounded up to the alignment (bestfit), or a whole free block of at
 * least `size` bytes (buddy: its blocks are naturally aligned)? */
typedef struct fit_walk {
    uint64_t size, align;
    int whole, found;
} fit_walk;

static int fit_visit(const vram_block_info *b, void *ctx)
{
    fit_walk *w = ctx;
    if (b->used)
        return 0;
    if (w->whole)
        w->found = b->size >= w->size;
    else {
        uint64_t start = fz_align_up(b->offset, w->align);
        w->found = start >= b->offset && start - b->offset <= b->size &&
                   b->size - (start - b->offset) >= w->size;
    }
    return w->found;
}

/* The policy's own rule for alloc(size, align) with align already raised to
 * the minimum: 1 it must succeed, 0 it must fail with VRAM_ENOMEM, -1 the rule
 * does not decide (the call may do either).
 *   bestfit: a free block holds the rounded size past the front padding
 *            (the search visits every block that could: exact);
 *   buddy:   a free block of at least max(pow2 >= size, min_align, align),
 *            the alignment capped at the largest root (pow2 <= capacity, at 0);
 *   tlsf:    good fit: rounded size + align - min_align <= max_alloc();
 *   pool:    a free block exists (max_alloc() > 0);
 *   caching: for alignments up to 512 B it must fail above max_alloc() and
 *            succeed at it (rounded to 512 B); below it is undecided, as
 *            max_alloc() is not monotone there: a 1-10 MiB
 *            request needs a 20 MiB segment, a small one a small-pool block or
 *            a 2 MiB segment, while max_alloc() may be a larger request that a
 *            cached large-pool block or a smaller stretch serves. */
static int fit_rule(const fz_heap *r, uint64_t size, uint64_t align)
{
    const char *p = r->policy;
    if (strcmp(p, "bestfit") == 0 || strcmp(p, "buddy") == 0) {
        fit_walk w = {fz_align_up(size, r->min_align), align, 0, 0};
        if (strcmp(p, "buddy") == 0) {
            /* the largest root, at offset 0, is aligned to anything */
            uint64_t top = UINT64_C(1) << (63 - __builtin_clzll(stats_of(r).capacity));
            uint64_t a = align < top ? align : top;
            w.size = rounded_size(r, size) > a ? rounded_size(r, size) : a;
            w.whole = 1;
        }
        vram_heap_walk(r->h, fit_visit, &w);
        return w.found;
    }
    uint64_t max = vram_heap_max_alloc(r->h);
    if (strcmp(p, "tlsf") == 0)
        return fz_align_up(size, r->min_align) + (align - r->min_align) <= max;
    if (strcmp(p, "pool") == 0)
        return max > 0;
    if (strcmp(p, "caching") == 0 && align <= 512 && size > max)
        return 0;
    if (strcmp(p, "caching") == 0 && align <= 512 && fz_align_up(size, 512) == max)
        return 1;
    return -1;
}

static void expect_unchanged(fz_heap *r, const vram_heap_stats *before, const char *what)
{
    vram_heap_stats after = stats_of(r);
    if (after.in_use != before->in_use || after.requested != before->requested ||
        after.live_allocs != before->live_allocs || after.capacity != before->capacity)
        FAIL(r, "a failed %s changed the heap: in_use %" PRIu64 " -> %" PRIu64 ", live %" PRIu64
                " -> %" PRIu64 ", capacity %" PRIu64 " -> %" PRIu64,
             what, before->in_use, after.in_use, before->live_allocs, after.live_allocs,
             before->capacity, after.capacity);
}

static void remember_freed(fz_heap *r, uint64_t off) { r->recent[r->nrecent++ % FZ_RECENT] = off; }

/* Records a block the heap just returned, after the shadow's checks; token
 * NULL when it was allocated without one. */
static void record(fz_heap *r, uint64_t off, uint64_t size, uint64_t align, const uint64_t *token)
{
    if (heap_shadow_add(&r->sh, off, size, align, rounded_size(r, size), r->why, sizeof r->why))
        FAIL(r, "alloc(%" PRIu64 ", align %" PRIu64 "): %s", size, align, r->why);
    r->live[r->nlive++] = (fz_block){.off = off, .size = size, .id = ++r->next_id, .refs = 1,
                                     .token = token ? *token : 0, .has_token = token != NULL};
    fz_trace_line(&r->tr, "alloc %" PRIu64 " %" PRIu64 " %" PRIu64 " other 0 -", r->next_id, size,
                  align <= (UINT64_C(1) << 30) ? align : 0);
}

/* Drops one reference of live[i] after a successful free; the block goes with the last. */
static void forget(fz_heap *r, uint32_t i)
{
    fz_block *b = &r->live[i];
    if (--b->refs) {
        fz_trace_line(&r->tr, "# free %" PRIu64 ": a reference dropped, %" PRIu32 " left", b->id, b->refs);
        return;
    }
    if (heap_shadow_remove(&r->sh, b->off))
        FAIL(r, "shadow: no live block at %" PRIu64, b->off);
    fz_trace_line(&r->tr, "free %" PRIu64, b->id);
    remember_freed(r, b->off);
    if (b->has_token)
        r->stale[r->nstale++ % FZ_RECENT] = b->token;
    *b = r->live[--r->nlive];
}

static uint32_t find_live(const fz_heap *r, uint64_t off)
{
    for (uint32_t i = 0; i < r->nlive; i++)
        if (r->live[i].off == off)
            return i;
    return UINT32_MAX;
}

/* Alignment operand: 0 (the minimum), a power of two up to 16 MiB, or (rarely)
 * a value that is no power of two, which must be refused when above the minimum. */
static uint64_t read_align(fz_in *in)
{
    uint8_t b = fz_u8(in);
    if (b < 128)
        return 0;
    if (b >= 250)
        return UINT64_C(3) << (b - 250 + 8);
    return UINT64_C(1) << (b % 25);
}

/* Is alloc(size, align) invalid by the contract? (align as given.) */
static int alloc_invalid(const fz_heap *r, uint64_t size, uint64_t align, const vram_heap_stats *s)
{
    uint64_t a = align < r->min_align ? r->min_align : align;
    if (a & (a - 1))
        return 1;
    if (strcmp(r->policy, "pool") == 0 && (size > r->block_size || a > (r->block_size & -r->block_size)))
        return 1;
    return size > s->capacity ? -1 : 0; /* above the capacity: EINVAL or ENOMEM both fit the contract */
}

static void op_alloc(fz_heap *r, fz_in *in, int by_token)
{
    uint64_t size = fz_size(in, (unsigned)r->max_log2), align = read_align(in), off = 0, token = 0;
    if (r->nlive == FZ_MAX_LIVE)
        return;
    vram_heap_stats before = stats_of(r);
    int invalid = alloc_invalid(r, size, align, &before);
    uint64_t a = align < r->min_align ? r->min_align : align;
    int rule = invalid ? -1 : fit_rule(r, size, a);
    vram_status st = by_token ? vram_heap_alloc_token(r->h, size, align, &off, &token)
                              : vram_heap_alloc(r->h, size, align, &off);
    if (st == VRAM_OK && invalid != 1 && rule != 0) {
        record(r, off, size, a, by_token ? &token : NULL);
        return;
    }
    if (st == VRAM_OK)
        FAIL(r, "alloc(%" PRIu64 ", align %" PRIu64 ") succeeded at %" PRIu64 " but %s", size, align, off,
             invalid == 1 ? "the request is invalid" : "the policy's rule says nothing fits");
    if (st == VRAM_EINVAL && invalid)
        ;
    else if (st == VRAM_ENOMEM && invalid != 1 && rule != 1)
        ;
    else
        FAIL(r, "alloc(%" PRIu64 ", align %" PRIu64 ") gave %s; invalid %d, fit rule %d (max_alloc %" PRIu64
                ", largest_free %" PRIu64 ")",
             size, align, vram_status_name(st), invalid, rule, vram_heap_max_alloc(r->h),
             before.largest_free);
    fz_trace_line(&r->tr, "# alloc %" PRIu64 " align %" PRIu64 ": %s", size, align, vram_status_name(st));
    expect_unchanged(r, &before, "alloc");
}

static void op_free(fz_heap *r, fz_in *in, int by_token)
{
    uint8_t pick = fz_u8(in);
    if (!r->nlive)
        return;
    uint32_t i = pick % r->nlive;
    const fz_block *b = &r->live[i];
    vram_status st = by_token && b->has_token ? vram_heap_free_token(r->h, b->token)
                                              : vram_heap_free(r->h, b->off);
    if (st)
        FAIL(r, "free(%" PRIu64 "%s) of a live block gave %s", b->off,
             by_token && b->has_token ? ", by token" : "", vram_status_name(st));
    forget(r, i);
}

/* Is t the token of a live block? */
static int live_token(const fz_heap *r, uint64_t t)
{
    for (uint32_t i = 0; i < r->nlive; i++)
        if (r->live[i].has_token && r->live[i].token == t)
            return 1;
    return 0;
}

/* An offset no live block starts at: freed lately, inside a live block, or past the range. */
static int bad_offset(const fz_heap *r, fz_in *in, uint64_t *off)
{
    uint8_t how = fz_u8(in), pick = fz_u8(in);
    if (how % 3 == 0 && r->nrecent) {
        *off = r->recent[pick % (r->nrecent < FZ_RECENT ? r->nrecent : FZ_RECENT)];
    } else if (how % 3 == 1 && r->nlive) {
        const fz_block *b = &r->live[pick % r->nlive];
        *off = b->off + 1 + (uint64_t)pick * r->min_align % b->size;
        if (*off >= b->off + b->size)
            return 0;
    } else {
        *off = UINT64_MAX - pick;
    }
    return find_live(r, *off) == UINT32_MAX;
}

static void op_bad_free(fz_heap *r, fz_in *in)
{
    uint64_t off;
    if (!bad_offset(r, in, &off))
        return;
    vram_heap_stats before = stats_of(r);
    vram_status st = vram_heap_free(r->h, off);
    if (st != VRAM_ENOTFOUND && st != VRAM_EDOUBLEFREE)
        FAIL(r, "free(%" PRIu64 ") of no live block gave %s", off, vram_status_name(st));
    fz_trace_line(&r->tr, "# free of offset %" PRIu64 " (no live block): %s", off, vram_status_name(st));
    expect_unchanged(r, &before, "free");
    /* A token of a block freed lately, else a forged one: refused unless it is
     * a live block's (a policy whose token is the offset reuses it). */
    uint64_t t = r->nstale ? r->stale[off % (r->nstale < FZ_RECENT ? r->nstale : FZ_RECENT)]
                           : UINT64_MAX - off % 256;
    if (live_token(r, t) || find_live(r, t) != UINT32_MAX)
        return;
    st = vram_heap_free_token(r->h, t);
    if (st != VRAM_ENOTFOUND && st != VRAM_EDOUBLEFREE)
        FAIL(r, "free of token %#" PRIx64 " (no live block) gave %s", t, vram_status_name(st));
    fz_trace_line(&r->tr, "# free of token %#" PRIx64 " (no live block): %s", t, vram_status_name(st));
    expect_unchanged(r, &before, "free_token");
}

static void op_bad_batch(fz_heap *r, fz_in *in)
{
    uint64_t offs[3];
    size_t n = 0;
    uint8_t dup = fz_u8(in);
    if (r->nlive)
        offs[n++] = r->live[dup % r->nlive].off;
    if (dup & 1 && n && r->live[dup % r->nlive].refs == 1) {
        offs[n++] = offs[0]; /* the same single-reference block twice */
    } else {
        if (!bad_offset(r, in, &offs[n]))
            return;
        n++;
    }
    vram_heap_stats before = stats_of(r);
    vram_status st = vram_heap_free_batch(r->h, n, offs);
    if (st != VRAM_ENOTFOUND && st != VRAM_EDOUBLEFREE)
        FAIL(r, "free_batch of %zu with a bad offset %" PRIu64 " gave %s", n, offs[n - 1],
             vram_status_name(st));
    expect_unchanged(r, &before, "free_batch");
}

static void op_alloc_batch(fz_heap *r, fz_in *in)
{
    uint64_t sizes[FZ_BATCH], offs[FZ_BATCH];
    size_t n = 1 + fz_u8(in) % FZ_BATCH;
    uint64_t align = read_align(in);
    int invalid = 0;
    vram_heap_stats before = stats_of(r);
    for (size_t i = 0; i < n; i++) {
        sizes[i] = fz_size(in, (unsigned)r->max_log2);
        int inv = alloc_invalid(r, sizes[i], align, &before);
        if (inv == 1 || (inv && !invalid))
            invalid = inv;
    }
    if (r->nlive + n > FZ_MAX_LIVE)
        return;
    uint64_t a = align < r->min_align ? r->min_align : align;
    vram_status st = vram_heap_alloc_batch(r->h, n, sizes, align, offs);
    if (st == VRAM_OK && invalid != 1) {
        for (size_t i = 0; i < n; i++)
            record(r, offs[i], sizes[i], a, NULL);
        return;
    }
    /* No order between the errors of a batch: one invalid size and too few
     * blocks for the others may give either. */
    if (!((st == VRAM_EINVAL && invalid) || st == VRAM_ENOMEM))
        FAIL(r, "alloc_batch of %zu (align %" PRIu64 ") gave %s, invalid %d", n, align, vram_status_name(st),
             invalid);
    fz_trace_line(&r->tr, "# alloc_batch of %zu: %s", n, vram_status_name(st));
    expect_unchanged(r, &before, "alloc_batch");
}

/* Up to FZ_BATCH distinct live blocks, each losing one reference. */
static void op_free_batch(fz_heap *r, fz_in *in)
{
    uint64_t offs[FZ_BATCH];
    size_t want = 1 + fz_u8(in) % FZ_BATCH, n = 0;
    uint8_t start = fz_u8(in);
    if (want > r->nlive)
        want = r->nlive;
    for (uint32_t k = 0; n < want; k++)
        offs[n++] = r->live[(start + k) % r->nlive].off;
    if (!n)
        return;
    vram_status st = vram_heap_free_batch(r->h, n, offs);
    if (st)
        FAIL(r, "free_batch of %zu live blocks gave %s", n, vram_status_name(st));
    for (size_t k = 0; k < n; k++)
        forget(r, find_live(r, offs[k]));
}

static void op_grow(fz_heap *r, fz_in *in)
{
    static const uint64_t scale[4] = {1, 16, 1024, 16384};
    uint8_t b = fz_u8(in);
    uint64_t bytes = (1 + b % 8) * r->min_align * scale[(b >> 3) % 4];
    if (r->grown + bytes > r->grow_limit)
        return;
    vram_heap_stats before = stats_of(r);
    vram_status st = vram_heap_grow(r->h, bytes);
    if (st == VRAM_EUNSUPPORTED || st == VRAM_EOVERFLOW) {
        expect_unchanged(r, &before, "grow");
        return;
    }
    if (st)
        FAIL(r, "grow(%" PRIu64 ") gave %s", bytes, vram_status_name(st));
    vram_heap_stats after = stats_of(r);
    if (after.capacity < before.capacity)
        FAIL(r, "grow(%" PRIu64 ") shrank the capacity %" PRIu64 " -> %" PRIu64, bytes, before.capacity,
             after.capacity);
    r->grown += bytes;
    heap_shadow_set_capacity(&r->sh, after.capacity);
    fz_trace_line(&r->tr, "# grow %" PRIu64 " (no trace event; capacity now %" PRIu64 ")", bytes,
                  after.capacity);
}

static void op_retain(fz_heap *r, fz_in *in)
{
    uint64_t off;
    int live = fz_u8(in) % 4 != 0 && r->nlive;
    if (live)
        off = r->live[fz_u8(in) % r->nlive].off;
    else if (!bad_offset(r, in, &off))
        return;
    vram_heap_stats before = stats_of(r);
    vram_status st = vram_heap_retain(r->h, off);
    int pool = strcmp(r->policy, "pool") == 0;
    if (pool && live && st == VRAM_OK) {
        fz_block *b = &r->live[find_live(r, off)];
        b->refs++;
        fz_trace_line(&r->tr, "# retain %" PRIu64 " (no trace event)", b->id);
        return;
    }
    if (!(pool ? !live && st == VRAM_ENOTFOUND : st == VRAM_EUNSUPPORTED))
        FAIL(r, "retain(%" PRIu64 ") of a %s block gave %s", off, live ? "live" : "dead",
             vram_status_name(st));
    expect_unchanged(r, &before, "retain");
}

static void verify(fz_heap *r)
{
    vram_heap_stats s = stats_of(r);
    if (heap_shadow_compare(&r->sh, &s, r->why, sizeof r->why))
        FAIL(r, "stats disagree with the shadow: %s", r->why);
    if (vram_heap_check(r->h, r->why, sizeof r->why))
        FAIL(r, "check(): %s", r->why);
}

/* Builds the heap the two configuration bytes describe; 0 if the policy
 * refuses that configuration (then the input is simply uninteresting). */
static int setup(fz_heap *r, fz_in *in, vram_caching_options *copt)
{
    static const uint64_t caps[4] = {1 * MiB, 16 * MiB, 256 * MiB, 48 * MiB + 768 * 1024};
    static const uint64_t aligns[4] = {0, 512, 4096, 65536};
    static const uint64_t blocks[4] = {1, 16, 512, 48};
    uint8_t c0 = fz_u8(in), c1 = fz_u8(in);
    vram_heap_config cfg = {.capacity = caps[c0 & 3], .min_align = aligns[(c0 >> 2) & 3]};
    uint64_t min_align = cfg.min_align ? cfg.min_align : VRAM_DEFAULT_ALIGN;
    cfg.block_size = blocks[(c0 >> 4) & 3] * min_align;
    *copt = (vram_caching_options){.expandable_segments = c1 & 1,
                                   .max_split_size = c1 & 2 ? 32 * MiB : 0,
                                   .gc_threshold = c1 & 4 ? 0.5 : 0.0};
    cfg.caching = copt;
    vram_status st = vram_heap_create(r->ops ? r->ops : vram_heap_policy(r->policy), &cfg, &r->h);
    if (st == VRAM_EINVAL)
        return 0;
    if (st)
        FAIL(r, "create(capacity %" PRIu64 ", min_align %" PRIu64 ") gave %s", cfg.capacity, cfg.min_align,
             vram_status_name(st));
    r->min_align = vram_heap_min_align(r->h);
    r->block_size = cfg.block_size;
    r->grow_limit = cfg.capacity;
    vram_heap_stats s = stats_of(r);
    r->max_log2 = 64u - (unsigned)__builtin_clzll(s.capacity); /* sizes up to twice the capacity */
    if (strcmp(r->policy, "pool") == 0)
        r->max_log2 = 64u - (unsigned)__builtin_clzll(r->block_size);
    if (strcmp(r->policy, "bestfit") == 0 || strcmp(r->policy, "tlsf") == 0)
        r->round = ROUND_MIN_ALIGN;
    else if (strcmp(r->policy, "buddy") == 0)
        r->round = ROUND_POW2;
    else if (strcmp(r->policy, "pool") == 0)
        r->round = ROUND_BLOCK;
    if (heap_shadow_init(&r->sh, s.capacity))
        FAIL(r, "shadow: out of host memory");
    char what[160];
    snprintf(what, sizeof what, "policy %s, capacity %" PRIu64 ", min_align %" PRIu64 ", block %" PRIu64,
             r->policy, cfg.capacity, r->min_align, r->block_size);
    fz_trace_open(&r->tr, r->target, what, cfg.capacity);
    return 1;
}

int fz_heap_run(const uint8_t *data, size_t size, const char *policy, const char *target)
{
    return fz_heap_run_ops(data, size, NULL, policy, target, NULL, NULL);
}

int fz_heap_run_ops(const uint8_t *data, size_t size, const vram_heap_ops *ops, const char *label,
                    const char *target, const char *(*explain)(const void *ctx),
                    const void *explain_ctx)
{
    fz_heap *r = calloc(1, sizeof *r);
    if (!r)
        return 0;
    r->policy = label;
    r->target = target;
    r->ops = ops;
    r->explain = explain;
    r->explain_ctx = explain_ctx;
    fz_in in = {data, size};
    vram_caching_options copt;
    if (!setup(r, &in, &copt)) {
        free(r);
        return 0;
    }
    for (r->op = 1; in.n && r->op <= FZ_MAX_OPS; r->op++) {
        switch (fz_u8(&in) % 16) {
        case 0: case 1: case 2: op_alloc(r, &in, 0); break;
        case 3: case 4: case 5: op_alloc(r, &in, 1); break;
        case 6: case 7: op_free(r, &in, 1); break;
        case 8: case 9: op_free(r, &in, 0); break;
        case 10: op_bad_free(r, &in); break;
        case 11: op_alloc_batch(r, &in); break;
        case 12: op_free_batch(r, &in); break;
        case 13: op_grow(r, &in); break;
        case 14: op_retain(r, &in); break;
        default: op_bad_batch(r, &in); break;
        }
        verify(r);
    }
    while (r->nlive) {
        const fz_block *b = &r->live[0];
        vram_status st = b->has_token ? vram_heap_free_token(r->h, b->token) : vram_heap_free(r->h, b->off);
        if (st)
            FAIL(r, "draining: free(%" PRIu64 ") gave %s", b->off, vram_status_name(st));
        forget(r, 0);
    }
    vram_heap_stats s = stats_of(r);
    if (s.in_use || s.requested || s.live_allocs)
        FAIL(r, "after freeing everything: in_use %" PRIu64 ", requested %" PRIu64 ", live %" PRIu64,
             s.in_use, s.requested, s.live_allocs);
    verify(r);
    fz_trace_close(&r->tr);
    heap_shadow_fini(&r->sh);
    vram_heap_destroy(r->h);
    free(r);
    return 0;
}
