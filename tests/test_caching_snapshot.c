/* test_caching_snapshot.c - replays the allocations of a real PyTorch memory
 * snapshot (traces/recordings/torch_snapshot_medium_ctx128_inference.pickle)
 * through the "caching" policy and compares the segments it reserves with the
 * segment_alloc events PyTorch recorded in the same window (count and sizes)
 * and with the segments alive at the dump.
 *
 * The window is replayed twice: cold (from an empty heap) and warm (over what
 * the cold pass left cached, as PyTorch's allocator was while it recorded);
 * then from the recorded state (vimport_torch_compare: the 223 blocks live at
 * the dump placed first).
 * The match is printed, not asserted: the recording is a ring buffer and the
 * segments of earlier allocations (the weights) were never recorded. Asserted:
 * the importer and both passes succeed, every free finds its block, the heap
 * checks, and everything is freed at the end. */
#include <unistd.h>

#include "testlib.h"

#include "import.h"
#include "trace.h"
#include "vram/caching.h"
#include "vram/heap.h"

#define SNAPSHOT VRAM_RECORDINGS_DIR "/torch_snapshot_medium_ctx128_inference.pickle"
#define GIB (UINT64_C(1) << 30)
#define MAX_IDS 65536

typedef struct sizes {
    uint64_t *v;
    size_t n, cap;
} sizes;

static void push(sizes *s, uint64_t x)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        assert_true(s->v != NULL);
    }
    s->v[s->n++] = x;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* How many sizes the two lists share, counted as multisets. */
static size_t common(const uint64_t *a, size_t na, const uint64_t *b, size_t nb)
{
    uint64_t *x = malloc((na + 1) * sizeof *x), *y = malloc((nb + 1) * sizeof *y);
    assert_true(x && y);
    if (na) /* an empty list may be NULL */
        memcpy(x, a, na * sizeof *x);
    if (nb)
        memcpy(y, b, nb * sizeof *y);
    qsort(x, na, sizeof *x, cmp_u64);
    qsort(y, nb, sizeof *y, cmp_u64);
    size_t i = 0, j = 0, n = 0;
    while (i < na && j < nb) {
        if (x[i] == y[j])
            n++, i++, j++;
        else if (x[i] < y[j])
            i++;
        else
            j++;
    }
    free(x);
    free(y);
    return n;
}

static uint64_t sum(const uint64_t *v, size_t n)
{
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += v[i];
    return s;
}

static void print_sizes(const char *who, const uint64_t *v, size_t n)
{
    printf("  %-8s", who);
    for (size_t i = 0; i < n && i < 24; i++)
        printf(" %.1f", (double)v[i] / (1 << 20));
    printf("%s MiB\n", n > 24 ? " ..." : "");
}

/* Replays the allocs and frees of the trace at `path` through h (ids are
 * per pass); the sizes of the segments it reserves are appended to *ours. */
static void replay(vram_heap *h, const char *path, sizes *ours)
{
    char err[512];
    vtrace_reader *r = NULL;
    vram_status st = vtrace_open(path, &r, err, sizeof err);
    if (st)
        fprintf(stderr, "%s\n", err);
    assert_ok(st);
    uint64_t *offs = calloc(MAX_IDS, sizeof *offs);
    assert_true(offs != NULL);
    vtrace_event ev;
    int more;
    while ((more = vtrace_next(r, &ev)) == 1) {
        if (ev.type != VTRACE_ALLOC && ev.type != VTRACE_FREE)
            continue;
        assert_true(ev.id < MAX_IDS);
        vram_caching_stats before, after;
        assert_ok(vram_heap_caching_stats(h, &before));
        if (ev.type == VTRACE_ALLOC)
            assert_ok(vram_heap_alloc(h, ev.size, ev.align, &offs[ev.id]));
        else
            assert_ok(vram_heap_free(h, offs[ev.id]));
        assert_ok(vram_heap_caching_stats(h, &after));
        /* An allocation makes at most one segment; its size is the new bytes. */
        if (after.segment_allocs > before.segment_allocs)
            push(ours, after.segment_alloc_bytes - before.segment_alloc_bytes);
    }
    if (more < 0)
        fprintf(stderr, "%s\n", vtrace_error(r));
    assert_true(more == 0);
    char msg[256];
    st = vram_heap_check(h, msg, sizeof msg);
    if (st)
        fprintf(stderr, "check: %s\n", msg);
    expect_status(st, VRAM_OK);
    free(offs);
    vtrace_close(r);
}

int main(void)
{
    char err[512], path[64];
    snprintf(path, sizeof path, "caching_snapshot.%ld.trace", (long)getpid());
    vimport_stats is;
    const vimport_options history = {.history_only = 1}; /* the window alone, as PyTorch recorded it */
    vram_status st = vimport_torch(SNAPSHOT, path, &history, &is, err, sizeof err);
    if (st)
        fprintf(stderr, "%s\n", err);
    assert_ok(st);
    printf("snapshot: %" PRIu64 " trace entries, %" PRIu64 " allocs (%" PRIu64
           " allocated before the recording), %" PRIu64 " frees, %" PRIu64 " segment events\n",
           is.records, is.allocs, is.preexisting, is.frees, is.segment_events);

    vimport_torch_segments ts;
    st = vimport_torch_segments_read(SNAPSHOT, 0, &ts, err, sizeof err);
    if (st)
        fprintf(stderr, "%s\n", err);
    assert_ok(st);

    /* Cold: from an empty heap. Warm: the same window again over the segments
     * the cold pass left cached, as PyTorch's allocator was when it recorded. */
    vram_heap_config cfg = {.capacity = 80 * GIB};
    vram_heap *h = NULL;
    assert_ok(vram_heap_create(vram_heap_policy("caching"), &cfg, &h));
    sizes cold = {0}, warm = {0};
    replay(h, path, &cold);
    replay(h, path, &warm);
    unlink(path);
    vram_caching_stats cs;
    assert_ok(vram_heap_caching_stats(h, &cs));

    printf("segment_alloc events in the window: PyTorch %zu (%.1f MiB); ours cold %zu (%.1f MiB),"
           " warm %zu (%.1f MiB)\n",
           ts.n_alloc, (double)sum(ts.alloc_sizes, ts.n_alloc) / (1 << 20), cold.n,
           (double)sum(cold.v, cold.n) / (1 << 20), warm.n, (double)sum(warm.v, warm.n) / (1 << 20));
    print_sizes("ours", cold.v, cold.n);
    print_sizes("pytorch", ts.alloc_sizes, ts.n_alloc);
    size_t in_order = 0;
    for (size_t i = 0; i < warm.n && i < ts.n_alloc; i++)
        in_order += warm.v[i] == ts.alloc_sizes[i];
    printf("warm vs PyTorch: %s count, %zu sizes in common, %zu equal at the same position\n",
           warm.n == ts.n_alloc ? "equal" : "different", common(warm.v, warm.n, ts.alloc_sizes,
           ts.n_alloc), in_order);

    size_t theirs_small = 0;
    for (size_t i = 0; i < ts.n_snapshot; i++)
        theirs_small += !ts.snapshot_large[i];
    printf("segments alive: PyTorch at the dump %zu (%zu small, %.1f MiB, weights included);"
           " ours %" PRIu64 " (%" PRIu64 " small, %.1f MiB, %.1f MiB reserved but unallocated)\n",
           ts.n_snapshot, theirs_small, (double)sum(ts.snapshot_sizes, ts.n_snapshot) / (1 << 20),
           cs.segments, cs.small_segments, (double)cs.reserved / (1 << 20),
           (double)cs.reserved_unallocated / (1 << 20));
    printf("our segment sizes also among PyTorch's live segments (as multisets): %zu of %zu\n",
           common(cold.v, cold.n, ts.snapshot_sizes, ts.n_snapshot), cold.n);
    /* vimport_torch_compare's start: PyTorch's 98 segments made in ours with the 223 live
     * blocks at their recorded offsets, so ours reserves what PyTorch did; the window then
     * needs no segment on either side. */
    vimport_compare cmp;
    st = vimport_torch_compare(SNAPSHOT, NULL, NULL, &cmp, err, sizeof err);
    if (st)
        fprintf(stderr, "%s\n", err);
    assert_ok(st);
    printf("state at the dump: PyTorch %.1f MiB reserved; the caching policy %.1f MiB (%" PRIu64
           " segments seeded, %" PRIu64 " blocks at their recorded offsets; settings \"%s\")\n",
           (double)cmp.torch_start_reserved / (1 << 20), (double)cmp.ours_start_reserved / (1 << 20),
           cmp.seeded_segments, cmp.start_blocks, cmp.settings);
    expect_eq_u64(cmp.ours_start_reserved, cmp.torch_start_reserved);
    expect_eq_u64(cmp.seeded_segments, 98);
    expect_eq_u64(cmp.records_compared, 0);
    expect_eq_u64(cmp.start_blocks, 223);
    expect_eq_u64(cmp.torch_start_reserved, UINT64_C(1763704832));
    printf("window from that state: PyTorch made %" PRIu64 " segments; ours %" PRIu64
           " (%.1f MiB); %" PRIu64 " of %" PRIu64 " records with segment activity agree%s%s\n",
           cmp.torch_allocs, cmp.ours_allocs, (double)cmp.ours_alloc_bytes / (1 << 20),
           cmp.records_agreeing, cmp.records_compared, cmp.departed ? "; first departure: " : "",
           cmp.departure);
    expect_eq_u64(cmp.torch_allocs, 0); /* the ring buffer began after every segment existed */
    expect_true(cold.n > 0);
    expect_eq_u64(cs.allocated, 0);
    free(cold.v);
    free(warm.v);
    vimport_torch_segments_free(&ts);
    vram_heap_destroy(h);
    return test_finish("caching_snapshot");
}
