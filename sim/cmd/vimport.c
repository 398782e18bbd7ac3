/* vimport - turn an allocation recording into a vramlab trace (sim/recordings/import.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import.h"
#include "partial_output.h"
#include "vramlab_version.h"

static const char usage[] =
    "usage: vimport FORMAT INPUT -o OUT.trace [options]\n"
    "\n"
    "Turns an allocation recording into a vramlab trace (traces/FORMAT.md) that\n"
    "`replay` runs through every allocator policy.\n"
    "\n"
    "formats:\n"
    "  rmm       RAPIDS RMM logging_resource_adaptor CSV (Thread,Time,Action,Pointer,Size,Stream)\n"
    "  torch     PyTorch memory snapshot pickle (torch.cuda.memory._dump_snapshot); read by a\n"
    "            strict reader that never runs code: no Python or torch needed\n"
    "  azure     Azure LLM inference request CSV: requests, not allocations; use tracegen\n"
    "  mooncake  Mooncake request JSONL: likewise, use tracegen\n"
    "\n"
    "options:\n"
    "  -o, --output OUT       the trace to write (gzip when it ends in .gz); written to OUT.tmp\n"
    "                         and renamed when complete, so a failed import leaves nothing\n"
    "                         (a device or symbolic link, e.g. /dev/stdout, is written in place)\n"
    "  --capacity BYTES       device capacity in the header; suffixes K M G T (powers of 1024).\n"
    "                         Default: torch, what the recording proves the allocator had: the\n"
    "                         largest of the peak of reserved bytes (the segments at the dump\n"
    "                         walked back through the history's segment events), the bytes\n"
    "                         reserved at an oom plus the free device bytes it recorded, and the\n"
    "                         peak of live bytes (printed: which one); rmm, the peak of live\n"
    "                         bytes rounded up to a GiB\n"
    "  --device N             torch: which device's trace (default 0)\n"
    "  --history-only         torch: the history alone; by default the blocks live at the dump\n"
    "                         that the history does not allocate (weights, optimizer state) are\n"
    "                         allocated at time 0, in the order of their addresses\n"
    "  --no-frames            torch: no frame lines; by default each alloc of the history names\n"
    "                         up to 4 frames of the code that asked (the model's Python frames\n"
    "                         first), deduplicated in `frame` lines (traces/FORMAT.md)\n"
    "  --max-pickle BYTES     torch: the largest pickle read (it is held in memory whole, about\n"
    "                         3x its size once parsed); suffixes as --capacity (default 4G)\n"
    "  --source TEXT          header source (default: the input's name and format)\n"
    "  --licence TEXT         header licence of the recording (default: unknown)\n"
    "  -h, --help             this text\n"
    "  --version              the version and git commit\n"
    "\n"
    "Frees of blocks allocated before the recording began are accepted: each such block is\n"
    "allocated at time 0. A torch snapshot's allocator_settings go into the trace's header,\n"
    "the caching policy's default settings in `replay`. A timestamp earlier than the one before it is written as that one\n"
    "(a warning on stderr names the first and counts them). The input must be a regular file\n"
    "(a FIFO or device is refused). Exit status: 0 done, 1 the import failed, 2 bad usage.\n";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("vimport: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n(vimport --help for usage)\n", stderr);
    va_end(ap);
    return 2;
}

/* Decimal with an optional K/M/G/T suffix (powers of 1024); 0 on a bad or overflowing number. */
static int parse_bytes(const char *s, unsigned long long *out)
{
    unsigned long long v = 0;
    const char *p = s;
    if (*p < '0' || *p > '9')
        return 0;
    for (; *p >= '0' && *p <= '9'; p++)
        if (__builtin_mul_overflow(v, 10ull, &v) || __builtin_add_overflow(v, (unsigned)(*p - '0'), &v))
            return 0;
    int shift = 0;
    switch (*p) {
    case '\0': break;
    case 'K': shift = 10; break;
    case 'M': shift = 20; break;
    case 'G': shift = 30; break;
    case 'T': shift = 40; break;
    default: return 0;
    }
    if (*p && p[1] != '\0' && strcmp(p + 1, "iB") != 0)
        return 0;
    if (shift && v > (~0ull >> shift))
        return 0;
    *out = v << shift;
    return *out > 0;
}

/* The caching policy against the segment entries PyTorch recorded. */
static void compare_segments(const char *input, const vimport_options *opt)
{
    vimport_compare cmp;
    char err[1024];
    if (vimport_torch_compare(input, opt, NULL, &cmp, err, sizeof err)) {
        fprintf(stderr, "vimport: warning: no segment comparison: %s\n", err);
        return;
    }
    printf("  caching policy vs PyTorch (settings \"%s\", capacity %llu bytes): PyTorch made %llu "
           "segment allocation(s) or mapping(s) (%llu bytes) and %llu release(s) (%llu bytes), ours "
           "%llu (%llu bytes) and %llu (%llu bytes); %llu of PyTorch's reproduced (same size, same "
           "record); %llu of %llu record(s) with segment activity agree\n",
           cmp.settings, (unsigned long long)cmp.capacity, (unsigned long long)cmp.torch_allocs,
           (unsigned long long)cmp.torch_alloc_bytes, (unsigned long long)cmp.torch_frees,
           (unsigned long long)cmp.torch_free_bytes, (unsigned long long)cmp.ours_allocs,
           (unsigned long long)cmp.ours_alloc_bytes, (unsigned long long)cmp.ours_frees,
           (unsigned long long)cmp.ours_free_bytes, (unsigned long long)cmp.matched,
           (unsigned long long)cmp.records_agreeing, (unsigned long long)cmp.records_compared);
    if (cmp.start_blocks || cmp.torch_start_reserved)
        printf("  at the history's start: PyTorch had %llu bytes reserved; ours %llu (its %llu "
               "segment(s) or mapping(s) then, and the %llu block(s) live then)\n",
               (unsigned long long)cmp.torch_start_reserved,
               (unsigned long long)cmp.ours_start_reserved,
               (unsigned long long)cmp.seeded_segments, (unsigned long long)cmp.start_blocks);
    if (cmp.departed)
        printf("  first departure: %s\n", cmp.departure);
}

/* What a torch import could not take as recorded, on stderr. */
static void torch_warnings(const char *input, const vimport_options *opt, const vimport_stats *st)
{
    if (st->no_history)
        fprintf(stderr, "vimport: warning: %s: device %d has no trace entries (the history was not "
                "recorded: torch.cuda.memory._record_memory_history): the trace holds only the %llu "
                "block(s) live at the dump, allocated at time 0 and never freed\n", input,
                opt->device, (unsigned long long)st->state_blocks);
    if (st->state_mismatch)
        fprintf(stderr, "vimport: warning: %s: %llu block(s) live at the dump have another size in "
                "the history (the first at 0x%llx); the history's sizes are written\n", input,
                (unsigned long long)st->state_mismatch,
                (unsigned long long)st->state_mismatch_addr);
    if (st->history_not_in_state && !opt->history_only)
        fprintf(stderr, "vimport: warning: %s: %llu allocation(s) live at the end of the history are "
                "not live in the segments at the dump (the first at 0x%llx); they stay live in the "
                "trace\n", input, (unsigned long long)st->history_not_in_state,
                (unsigned long long)st->history_not_in_state_addr);
    if (st->segments_inconsistent)
        fprintf(stderr, "vimport: warning: %s: the history's segment events map more bytes than the "
                "segments at the dump hold; the reserved bytes at its start are taken as 0\n",
                input);
    if (st->settings_dropped[0])
        fprintf(stderr, "vimport: warning: %s: allocator settings the caching policy does not model"
                " are not in the trace: %s\n", input, st->settings_dropped);
}

int main(int argc, char **argv)
{
    const char *format = NULL, *input = NULL, *output = NULL;
    vimport_options opt = {0};
    int device_given = 0, max_pickle_given = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const int has_value = i + 1 < argc;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(a, "--version")) {
            return vramlab_print_version(argv[0]);
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (!has_value)
                return usage_error("%s needs a file name", a);
            output = argv[++i];
        } else if (!strcmp(a, "--capacity")) {
            unsigned long long v;
            if (!has_value)
                return usage_error("%s needs a number of bytes", a);
            if (!parse_bytes(argv[++i], &v) || v > 0x7fffffffffffffffull)
                return usage_error("--capacity: expected bytes from 1 to 2^63-1 (e.g. 85899345920 "
                                   "or 80G), found '%s'", argv[i]);
            opt.capacity = v;
        } else if (!strcmp(a, "--max-pickle")) {
            unsigned long long v;
            if (!has_value)
                return usage_error("%s needs a number of bytes", a);
            if (!parse_bytes(argv[++i], &v))
                return usage_error("--max-pickle: expected bytes, at least 1 (e.g. 8G), found '%s'",
                                   argv[i]);
            opt.max_pickle_bytes = v;
            max_pickle_given = 1;
        } else if (!strcmp(a, "--device")) {
            char *end;
            if (!has_value)
                return usage_error("%s needs a device number", a);
            long d = strtol(argv[++i], &end, 10);
            if (*argv[i] == '\0' || *end || d < 0 || d > 1024)
                return usage_error("--device: expected a device number from 0 to 1024, found '%s'",
                                   argv[i]);
            opt.device = (int)d;
            device_given = 1;
        } else if (!strcmp(a, "--history-only")) {
            opt.history_only = 1;
        } else if (!strcmp(a, "--no-frames")) {
            opt.no_frames = 1;
        } else if (!strcmp(a, "--source") || !strcmp(a, "--licence")) {
            if (!has_value)
                return usage_error("%s needs a text", a);
            *(a[2] == 's' ? &opt.source : &opt.licence) = argv[++i];
        } else if (a[0] == '-' && a[1] != '\0') {
            return usage_error("unknown option '%s'", a);
        } else if (!format) {
            format = a;
        } else if (!input) {
            input = a;
        } else {
            return usage_error("unexpected argument '%s'", a);
        }
    }
    if (!format)
        return usage_error("%s", "no FORMAT: expected rmm, torch, azure or mooncake");
    if (!strcmp(format, "azure") || !strcmp(format, "mooncake")) {
        fprintf(stderr, "vimport: %s files record requests (arrivals, prompt and output lengths), "
                "not allocations: turn them into a trace with a model and an engine style using "
                "`tracegen` (see tracegen --help)\n", format);
        return 2;
    }
    if (strcmp(format, "rmm") != 0 && strcmp(format, "torch") != 0)
        return usage_error("unknown FORMAT '%s': expected rmm, torch, azure or mooncake", format);
    if (device_given && strcmp(format, "torch") != 0)
        return usage_error("--device applies to torch snapshots only, not to %s", format);
    if (max_pickle_given && strcmp(format, "torch") != 0)
        return usage_error("--max-pickle applies to torch snapshots only, not to %s", format);
    if (opt.history_only && strcmp(format, "torch") != 0)
        return usage_error("--history-only applies to torch snapshots only, not to %s", format);
    if (opt.no_frames && strcmp(format, "torch") != 0)
        return usage_error("--no-frames applies to torch snapshots only, not to %s", format);
    if (!input)
        return usage_error("%s", "no INPUT file");
    if (!output)
        return usage_error("%s", "no output: give -o OUT.trace");

    char err[1024];
    vimport_stats st;
    partial_output_arm(output);
    vram_status s = !strcmp(format, "rmm") ? vimport_rmm(input, output, &opt, &st, err, sizeof err)
                                           : vimport_torch(input, output, &opt, &st, err, sizeof err);
    partial_output_disarm();
    if (s) {
        fprintf(stderr, "vimport: %s\n", err[0] ? err : vram_strerror(s));
        return 1;
    }
    if (st.clamped_ts)
        fprintf(stderr, "vimport: warning: %s: the timestamp goes back %llu us; written as the one "
                "before (%llu timestamp(s) clamped in this input)\n", st.clamped_at,
                (unsigned long long)st.clamped_back_us, (unsigned long long)st.clamped_ts);
    if (!strcmp(format, "torch"))
        torch_warnings(input, &opt, &st);
    printf("%s: %llu records -> %llu allocs (%llu pre-existing), %llu frees, %llu live at the end\n",
           output, (unsigned long long)st.records, (unsigned long long)st.allocs,
           (unsigned long long)st.preexisting, (unsigned long long)st.frees,
           (unsigned long long)st.live_at_end);
    if (!strcmp(format, "rmm"))
        printf("  %llu allocate failure(s) skipped\n", (unsigned long long)st.failures);
    else
        printf("  %llu free_requested checked, %llu segment events, %llu oom, %llu snapshot skipped\n"
               "  state at the dump: %llu live block(s) the history does not allocate (%llu bytes)"
               " allocated at time 0%s, %llu allocated by the history; %llu segment(s), %llu bytes"
               "\n",
               (unsigned long long)st.free_requested, (unsigned long long)st.segment_events,
               (unsigned long long)st.failures, (unsigned long long)st.snapshots,
               (unsigned long long)st.state_blocks, (unsigned long long)st.state_bytes,
               opt.history_only ? " (none: --history-only)" : "",
               (unsigned long long)st.explained_blocks, (unsigned long long)st.segments_at_dump,
               (unsigned long long)st.reserved_at_dump);
    printf("  peak live %llu bytes, capacity %llu bytes, %llu timestamp(s) clamped\n",
           (unsigned long long)st.peak_live_bytes, (unsigned long long)st.capacity,
           (unsigned long long)st.clamped_ts);
    if (!strcmp(format, "torch")) {
        printf("  capacity: %s\n  allocator settings: %s\n", st.capacity_rule,
               st.allocator_settings[0] ? st.allocator_settings : "none recorded");
        printf("  frames: %llu of the history's %llu allocs name their code (%llu distinct "
               "frames)%s\n", (unsigned long long)st.allocs_with_frames,
               (unsigned long long)(st.allocs - st.state_blocks - st.preexisting),
               (unsigned long long)st.frames, opt.no_frames ? " (--no-frames)" : "");
        if (st.allocs_by_kind[VRAM_KIND_OTHER] != st.allocs - st.state_blocks - st.preexisting)
            printf("  kinds from the recorded categories: %llu weight, %llu activation, %llu "
                   "workspace, %llu other\n",
                   (unsigned long long)st.allocs_by_kind[VRAM_KIND_WEIGHT],
                   (unsigned long long)st.allocs_by_kind[VRAM_KIND_ACTIVATION],
                   (unsigned long long)st.allocs_by_kind[VRAM_KIND_WORKSPACE],
                   (unsigned long long)st.allocs_by_kind[VRAM_KIND_OTHER]);
    }
    if (!strcmp(format, "torch") && st.segment_events)
        compare_segments(input, &opt);
    return 0;
}
