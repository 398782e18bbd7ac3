/* heapcmp_vram.c - libvram's side of ../shared/anchors/heapcmp.sh, which compiles
 * this file instead of its own offset-based one when it exists: a block is
 * allocated with vram_heap_alloc_token and freed by its token, the path the
 * manager takes. Not a program of its own (bench/CMakeLists.txt leaves it
 * out): it defines the harness's `be_vram` (its backend.h), whose create takes
 * a policy name. Figures: BENCHMARKS.md, "The heap against OffsetAllocator". */
#include "backend.h"
#include "vram/heap.h"

/* A range far larger than any stream needs, so that no run ends in ENOMEM. */
#define HEAPCMP_CAPACITY (UINT64_C(1) << 46)

static void *heapcmp_create(const char *policy, uint64_t live_blocks)
{
    (void)live_blocks;
    const vram_heap_ops *ops = vram_heap_policy(policy);
    vram_heap_config cfg = {.capacity = HEAPCMP_CAPACITY};
    vram_heap *h;
    return ops && vram_heap_create(ops, &cfg, &h) == VRAM_OK ? h : NULL;
}

static int heapcmp_alloc(void *h, uint64_t bytes, uint64_t *token, uint64_t *offset)
{
    return vram_heap_alloc_token(h, bytes, 0, offset, token) != VRAM_OK;
}

static void heapcmp_free(void *h, uint64_t token) { (void)vram_heap_free_token(h, token); }

/* After the timed loop: the heap's own check, reported as the harness expects. */
static void heapcmp_report(void *h, FILE *out)
{
    char why[256];
    if (vram_heap_check(h, why, sizeof why) != VRAM_OK)
        fprintf(out, " vram_check_FAILED=\"%s\"", why);
}

static void heapcmp_destroy(void *h) { vram_heap_destroy(h); }

const backend be_vram = {
    .name = "vram",
    .create = heapcmp_create,
    .alloc = heapcmp_alloc,
    .free = heapcmp_free,
    .report = heapcmp_report,
    .destroy = heapcmp_destroy,
};
