/* fuzz_import_torch.c - the PyTorch snapshot importer over any bytes
 * (import_fuzz.h), and the segment reader on the same input: a clean error, or
 * arrays that are set whenever they hold entries, with every segment type 0
 * (small) or 1 (large); and the caching policy's comparison with the
 * snapshot's segment entries (vimport_torch_compare): a clean error naming the
 * input, or counts that add up (agreeing records among those compared, the
 * reproduced allocations among PyTorch's) with the heap's check passing after
 * every record. */
#include "import_fuzz.h"

static void compare(const char *in, const char *target)
{
    char err[1024] = "";
    vimport_compare c;
    vram_status st = vimport_torch_compare(in, NULL, NULL, &c, err, sizeof err);
    if (st) {
        int allowed = st == VRAM_EPARSE || st == VRAM_ENOTFOUND || st == VRAM_EINVAL ||
                      st == VRAM_ENOMEM || st == VRAM_EUNSUPPORTED || st == VRAM_EOVERFLOW;
        if (!allowed || strncmp(err, in, strlen(in)) != 0)
            fz_fail(target, "compare", 0, "%s, error '%s'", vram_status_name(st), err);
        return;
    }
    if (c.records_agreeing > c.records_compared || c.departed != c.records_compared - c.records_agreeing ||
        c.matched > c.torch_allocs || (c.departed && !c.departure[0]))
        fz_fail(target, "compare", 0, "%" PRIu64 " of %" PRIu64 " records agree, %" PRIu64
                " departed, %" PRIu64 " of %" PRIu64 " allocations reproduced", c.records_agreeing,
                c.records_compared, c.departed, c.matched, c.torch_allocs);
}

static void segments(const char *in, const char *target)
{
    compare(in, target);
    char err[1024];
    vimport_torch_segments s;
    vram_status st = vimport_torch_segments_read(in, 0, &s, err, sizeof err);
    if (st) {
        if (st != VRAM_EPARSE && st != VRAM_ENOTFOUND)
            fz_fail(target, "segments", 0, "%s, error '%s'", vram_status_name(st), err);
        return;
    }
    if ((s.n_alloc && !s.alloc_sizes) || (s.n_snapshot && (!s.snapshot_sizes || !s.snapshot_large)))
        fz_fail(target, "segments", 0, "%zu allocs, %zu snapshot segments without their arrays", s.n_alloc,
                s.n_snapshot);
    uint64_t sum = 0;
    for (size_t i = 0; i < s.n_alloc; i++)
        sum += s.alloc_sizes[i]; /* every entry readable (ASan) */
    volatile uint64_t sink = sum;
    (void)sink;
    for (size_t i = 0; i < s.n_snapshot; i++)
        if (s.snapshot_large[i] != 0 && s.snapshot_large[i] != 1)
            fz_fail(target, "segments", i, "snapshot segment of %" PRIu64 " bytes, large %d", s.snapshot_sizes[i],
                    s.snapshot_large[i]);
    vimport_torch_segments_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fz_import_run(data, size, vimport_torch, segments, "torch", "fuzz_import_torch");
}
