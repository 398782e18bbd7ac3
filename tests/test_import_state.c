/* test_import_state.c - the torch importer's reading of the state at the dump
 * (issue 18): snapshots built here byte by byte whose segments hold live blocks
 * the history explains or does not, the blocks in address order with their
 * requested sizes, --history-only, a snapshot without history (a warning), the
 * allocator settings carried into the header (and what is dropped), the
 * capacity rule (peak reserved walked back through segment events, an oom's
 * figures, peak live), and every refusal with its message. */
#include <unistd.h>

#include "import.h"
#include "test_cli_lib.h"
#include "test_pickle_build.h"
#include "trace.h"

#define PK "import_state.pickle"
#define OUT "import_state_out.trace"
#define MiB (INT64_C(1) << 20)

static char err[1024];
static pkb p;

static void expect_err(vram_status got, vram_status want, const char *msg)
{
    expect_status(got, want);
    if (!strstr(err, msg)) {
        fprintf(stderr, "message \"%s\" lacks \"%s\"\n", err, msg);
        test_failures++;
    }
    expect_true(access(OUT, F_OK) != 0 && access(OUT ".tmp", F_OK) != 0);
}

/* The trace's events as (type, id, size) triples, up to 32. */
typedef struct evs {
    vtrace_header h;
    size_t n;
    vtrace_type type[32];
    uint64_t id[32], size[32], ts[32];
} evs;

static void read_events(evs *e)
{
    vtrace_reader *r;
    assert_ok(vtrace_open(OUT, &r, err, sizeof err));
    memset(e, 0, sizeof *e);
    e->h = *vtrace_header_of(r);
    vtrace_event ev;
    int got;
    while ((got = vtrace_next(r, &ev)) == 1 && e->n < 32) {
        e->type[e->n] = ev.type;
        e->id[e->n] = ev.id;
        e->size[e->n] = ev.size;
        e->ts[e->n] = ev.ts_us;
        e->n++;
    }
    expect_true(got == 0);
    vtrace_close(r);
}

/* A snapshot of device 0: one large segment of 20 MiB at 0x40000000 with
 *   A 0x40000000 4 MiB block, 4,000,000 requested, active_allocated (before the history)
 *   B 0x40400000 2 MiB, 2,000,000 requested, inactive (cached: not a live block)
 *   C 0x40600000 1 MiB, 1,000,000 requested, active_allocated (allocated by the history)
 *   D 0x40700000 1 MiB, 1,048,576 requested, active_pending_free (before the history)
 * one small segment of 2 MiB at 0x10000000 with
 *   E 0x10000000 512 B, 100 requested, active_allocated (before the history)
 * and a history: C allocated, a block freed that was allocated before it
 * (0x40400000, 2,000,000: B's place, cached again by the dump), an alloc and
 * free at 0x10000200. `settings` adds allocator_settings. */
static void write_state_snapshot(int settings, int history)
{
    pkb_begin(&p);
    pkb_dict(&p);
    pkb_str(&p, "segments");
    pkb_list(&p);
    pkb_segment_begin(&p, 0, 0x40000000, 20 * MiB, 1);
    pkb_block(&p, 0x40000000, 4 * MiB, 4000000, "active_allocated");
    pkb_block(&p, 0x40400000, 2 * MiB, 2000000, "inactive");
    pkb_block(&p, 0x40600000, 1 * MiB, 1000000, "active_allocated");
    pkb_block(&p, 0x40700000, 1 * MiB, 1 * MiB, "active_pending_free");
    pkb_block(&p, 0x40800000, 12 * MiB, 0, "inactive");
    pkb_segment_end(&p);
    pkb_segment_begin(&p, 0, 0x10000000, 2 * MiB, 0);
    pkb_block(&p, 0x10000000, 512, 100, "active_allocated");
    pkb_block(&p, 0x10000200, 2 * MiB - 512, 0, "inactive");
    pkb_segment_end(&p);
    pkb_segment_begin(&p, 1, 0x80000000, 2 * MiB, 0); /* device 1's: ignored */
    pkb_block(&p, 0x80000000, 512, 512, "active_allocated");
    pkb_segment_end(&p);
    pkb_list_end(&p);
    pkb_str(&p, "device_traces");
    pkb_list(&p);
    pkb_list(&p);
    if (history) {
        pkb_entry(&p, "free_requested", 0x40400000, 2000000, 100);
        pkb_entry(&p, "free_completed", 0x40400000, 2000000, 101);
        pkb_entry(&p, "alloc", 0x10000200, 1000, 102);
        pkb_entry(&p, "alloc", 0x40600000, 1000000, 103);
        pkb_entry(&p, "free_completed", 0x10000200, 1000, 104);
    }
    pkb_list_end(&p);
    pkb_list_end(&p);
    if (settings) {
        pkb_str(&p, "allocator_settings");
        pkb_dict(&p);
        pkb_key_str(&p, "PYTORCH_CUDA_ALLOC_CONF", "expandable_segments:True");
        pkb_key_int(&p, "max_split_size", 512 * MiB);
        pkb_str(&p, "garbage_collection_threshold");
        pkb_float(&p, 0.6);
        pkb_str(&p, "expandable_segments");
        pkb_bool(&p, 1);
        pkb_str(&p, "roundup_power2_divisions");
        pkb_dict(&p);
        pkb_key_int(&p, "1", 0);
        pkb_key_int(&p, "2", 4);
        pkb_dict_end(&p);
        pkb_dict_end(&p);
    }
    pkb_dict_end(&p);
    pkb_end(&p);
    pkb_save(&p, PK);
}

static void test_state(void)
{
    write_state_snapshot(1, 1);
    vimport_stats s;
    assert_ok(vimport_torch(PK, OUT, NULL, &s, err, sizeof err));
    expect_eq_u64(s.preexisting, 1);        /* 0x40400000, freed by the history */
    expect_eq_u64(s.state_blocks, 3);       /* A, D, E */
    expect_eq_u64(s.state_bytes, 4000000 + 1048576 + 100);
    expect_eq_u64(s.explained_blocks, 1);   /* C */
    expect_eq_u64(s.state_mismatch, 0);
    expect_eq_u64(s.history_not_in_state, 0);
    expect_eq_u64(s.allocs, 4 + 2);
    expect_eq_u64(s.frees, 2);
    expect_eq_u64(s.live_at_end, 4);        /* A, C, D, E */
    /* live at the start: A, D, E and the freed 2,000,000 = 7,048,676; the history frees
     * that (5,048,676), allocates 1000 and C (6,049,676) */
    expect_eq_u64(s.peak_live_bytes, 7048676);
    expect_eq_u64(s.reserved_at_dump, 22 * MiB);
    expect_eq_u64(s.capacity, 22 * MiB);
    expect_true(strcmp(s.allocator_settings,
                       "expandable_segments:True,max_split_size_mb:512,"
                       "garbage_collection_threshold:0.6") == 0);
    expect_true(strcmp(s.settings_dropped, "roundup_power2_divisions") == 0);

    evs e;
    read_events(&e);
    expect_true(strcmp(e.h.allocator_settings, s.allocator_settings) == 0);
    /* the start blocks in address order: E, A, the freed one, D; then the history */
    static const uint64_t sizes[] = {100, 4000000, 2000000, 1048576, 2000000, 1000, 1000000, 1000};
    static const vtrace_type types[] = {VTRACE_ALLOC, VTRACE_ALLOC, VTRACE_ALLOC, VTRACE_ALLOC,
                                        VTRACE_FREE,  VTRACE_ALLOC, VTRACE_ALLOC, VTRACE_FREE};
    static const uint64_t ids[] = {1, 2, 3, 4, 3, 5, 6, 5};
    expect_eq_u64(e.n, 8);
    for (size_t i = 0; i < 8 && i < e.n; i++) {
        expect_true(e.type[i] == types[i] && e.id[i] == ids[i]);
        if (e.type[i] == VTRACE_ALLOC)
            expect_eq_u64(e.size[i], sizes[i]);
    }
    expect_true(e.ts[0] == 0 && e.ts[3] == 0 && e.ts[4] == 1 && e.ts[7] == 4);

    /* The command line: the state counted, the settings and the capacity explained, the
     * dropped setting warned. */
    CLI_EXPECT(0, TEXTS("vimport: warning: " PK ": allocator settings the caching policy does not "
                        "model are not in the trace: roundup_power2_divisions\n"),
               "vimport", "torch", PK, "-o", OUT);
    expect_true(strstr(cli_last.out, "state at the dump: 3 live block(s) the history does not "
                                     "allocate (5048676 bytes) allocated at time 0, 1 allocated "
                                     "by the history; 2 segment(s), 23068672 bytes") != NULL);
    expect_true(strstr(cli_last.out, "capacity: the peak of reserved bytes: 23068672 at the dump "
                                     "in 2 segment(s), no segment events in the history") != NULL);
    expect_true(strstr(cli_last.out, "allocator settings: expandable_segments:True,"
                                     "max_split_size_mb:512,garbage_collection_threshold:0.6")
                != NULL);

    /* --history-only: today's import: the freed block alone at the start. */
    vimport_options o = {.history_only = 1};
    assert_ok(vimport_torch(PK, OUT, &o, &s, err, sizeof err));
    expect_eq_u64(s.state_blocks, 0);
    expect_eq_u64(s.allocs, 3);
    expect_eq_u64(s.peak_live_bytes, 2000000);
    read_events(&e);
    expect_true(e.n == 5 && e.type[0] == VTRACE_ALLOC && e.size[0] == 2000000);
    CLI_EXPECT(0, TEXTS(""), "vimport", "torch", PK, "-o", OUT, "--history-only");
    expect_true(strstr(cli_last.out, "allocated at time 0 (none: --history-only)") != NULL);
    CLI_EXPECT(2, TEXTS("vimport: --history-only applies to torch snapshots only, not to rmm"),
               "vimport", "rmm", PK, "-o", OUT, "--history-only");
    remove(OUT);
}

/* No history: the state alone, with a warning that says so. */
static void test_no_history(void)
{
    write_state_snapshot(0, 0);
    vimport_stats s;
    assert_ok(vimport_torch(PK, OUT, NULL, &s, err, sizeof err));
    expect_true(s.no_history);
    expect_eq_u64(s.state_blocks, 4); /* A, C, D, E: nothing explains C now */
    expect_eq_u64(s.allocs, 4);
    expect_eq_u64(s.frees, 0);
    expect_true(s.allocator_settings[0] == '\0'); /* none recorded */
    evs e;
    read_events(&e);
    expect_true(e.n == 4 && e.h.allocator_settings[0] == '\0');
    CLI_EXPECT(0, TEXTS("vimport: warning: " PK ": device 0 has no trace entries (the history was "
                        "not recorded: torch.cuda.memory._record_memory_history): the trace holds "
                        "only the 4 block(s) live at the dump, allocated at time 0 and never "
                        "freed\n"),
               "vimport", "torch", PK, "-o", OUT);
    expect_true(strstr(cli_last.out, "allocator settings: none recorded") != NULL);
    remove(OUT);
    vimport_options o = {.history_only = 1};
    expect_err(vimport_torch(PK, OUT, &o, &s, err, sizeof err), VRAM_EINVAL,
               PK ": device 0 has no trace entries (was the history recorded, "
               "torch.cuda.memory._record_memory_history?): --history-only leaves nothing to "
               "import; without it the 4 live block(s) at the dump are imported");
    /* device 1: its segment, no trace list at all */
    o = (vimport_options){.device = 1};
    assert_ok(vimport_torch(PK, OUT, &o, &s, err, sizeof err));
    expect_true(s.no_history && s.state_blocks == 1);
    remove(OUT);
    o.device = 2;
    expect_err(vimport_torch(PK, OUT, &o, &s, err, sizeof err), VRAM_ENOTFOUND,
               PK ": no trace for device 2 (the snapshot has 1 device trace(s), segments on "
               "device(s) 0 and 1)");
    CLI_EXPECT(1, TEXTS("vimport: " PK ": no trace for device 2"), "vimport", "torch", PK, "-o",
               OUT, "--device", "2");
}

/* The capacity rule: segment events walked back from the dump, an oom's figures. */
static void test_capacity(void)
{
    /* dump: one 20 MiB segment with a live block; history: a 20 MiB segment allocated and one
     * 40 MiB segment allocated and freed: reserved 0 -> 20 -> 60 -> 20 MiB: peak 60 MiB. */
    pkb_begin(&p);
    pkb_dict(&p);
    pkb_str(&p, "segments");
    pkb_list(&p);
    pkb_segment_begin(&p, 0, 0x40000000, 20 * MiB, 1);
    pkb_block(&p, 0x40000000, 20 * MiB, 20 * MiB, "active_allocated");
    pkb_segment_end(&p);
    pkb_list_end(&p);
    pkb_str(&p, "device_traces");
    pkb_list(&p);
    pkb_list(&p);
    pkb_entry(&p, "segment_alloc", 0x40000000, 20 * MiB, 1);
    pkb_entry(&p, "alloc", 0x40000000, 20 * MiB, 2);
    pkb_entry(&p, "segment_alloc", 0x50000000, 40 * MiB, 3);
    pkb_entry(&p, "alloc", 0x50000000, 40 * MiB, 4);
    pkb_entry(&p, "free_completed", 0x50000000, 40 * MiB, 5);
    pkb_entry(&p, "segment_free", 0x50000000, 40 * MiB, 6);
    pkb_entry(&p, "oom", 100 * MiB, 200 * MiB, 7); /* 100 MiB free, 20 MiB reserved then */
    pkb_list_end(&p);
    pkb_list_end(&p);
    pkb_dict_end(&p);
    pkb_end(&p);
    pkb_save(&p, PK);
    vimport_stats s;
    assert_ok(vimport_torch(PK, OUT, NULL, &s, err, sizeof err));
    expect_eq_u64(s.explained_blocks, 1);
    expect_eq_u64(s.peak_reserved, 60 * MiB);
    expect_eq_u64(s.oom_capacity, 120 * MiB);
    expect_eq_u64(s.capacity, 120 * MiB);
    expect_true(strcmp(s.capacity_rule, "the oom at device_traces[0][6]: 20971520 bytes reserved "
                                        "then + 104857600 bytes the device had free") == 0);
    /* given: used as is */
    vimport_options o = {.capacity = 1 << 30};
    assert_ok(vimport_torch(PK, OUT, &o, &s, err, sizeof err));
    expect_eq_u64(s.capacity, 1 << 30);
    expect_true(strcmp(s.capacity_rule, "given (--capacity)") == 0);
    remove(OUT);
}

/* A segments list whose blocks the importer refuses, each with its message. */
static void write_bad(const char *what)
{
    pkb_begin(&p);
    pkb_dict(&p);
    pkb_str(&p, "segments");
    pkb_list(&p);
    pkb_segment_begin(&p, 0, 0x40000000, 20 * MiB, 1);
    if (!strcmp(what, "state")) {
        pkb_block(&p, 0x40000000, 1 * MiB, 1, "allocated");
    } else if (!strcmp(what, "overlap")) {
        pkb_block(&p, 0x40000000, 2 * MiB, 2 * MiB, "active_allocated");
        pkb_block(&p, 0x40100000, 1 * MiB, 1 * MiB, "active_allocated");
    } else if (!strcmp(what, "freed")) {
        pkb_block(&p, 0x40000000, 1 * MiB, 1 * MiB, "active_allocated");
    } else if (!strcmp(what, "size")) {
        pkb_dict(&p);
        pkb_key_int(&p, "address", 0x40000000);
        pkb_key_str(&p, "size", "big");
        pkb_key_str(&p, "state", "inactive");
        pkb_dict_end(&p);
    } else if (!strcmp(what, "not a dict")) {
        pkb_none(&p);
    } else if (!strcmp(what, "empty")) {
        pkb_block(&p, 0x40000000, 20 * MiB, 0, "inactive");
    }
    pkb_segment_end(&p);
    if (!strcmp(what, "no address")) { /* a block without an address in a segment without one */
        pkb_dict(&p);
        pkb_key_int(&p, "device", 0);
        pkb_key_int(&p, "total_size", 2 * MiB);
        pkb_str(&p, "blocks");
        pkb_list(&p);
        pkb_dict(&p);
        pkb_key_int(&p, "size", 2 * MiB);
        pkb_key_str(&p, "state", "active_allocated");
        pkb_dict_end(&p);
        pkb_list_end(&p);
        pkb_dict_end(&p);
    }
    pkb_list_end(&p);
    pkb_str(&p, "device_traces");
    pkb_list(&p);
    pkb_list(&p);
    if (!strcmp(what, "freed"))
        pkb_entry(&p, "free_completed", 0x40000000, 1 * MiB, 1);
    pkb_list_end(&p);
    pkb_list_end(&p);
    pkb_dict_end(&p);
    pkb_end(&p);
    pkb_save(&p, PK);
}

static void test_refusals(void)
{
    write_bad("state");
    expect_err(vimport_torch(PK, OUT, NULL, NULL, err, sizeof err), VRAM_EPARSE,
               PK ": segments[0]['blocks'][0]: unknown state 'allocated' (expected "
               "active_allocated, active_pending_free or inactive)");
    write_bad("overlap");
    expect_err(vimport_torch(PK, OUT, NULL, NULL, err, sizeof err), VRAM_EPARSE,
               PK ": the blocks live when the recording begins overlap: 0x40000000 (2097152 bytes) "
               "and 0x40100000 (1048576 bytes)");
    write_bad("freed");
    expect_err(vimport_torch(PK, OUT, NULL, NULL, err, sizeof err), VRAM_EPARSE,
               PK ": segments: the block at 0x40000000 is live at the dump, but the history frees "
               "it and never allocates it again: the history and the segments disagree "
               "(--history-only imports the history alone)");
    vimport_options o = {.history_only = 1};
    assert_ok(vimport_torch(PK, OUT, &o, NULL, err, sizeof err));
    remove(OUT);
    write_bad("size");
    expect_err(vimport_torch(PK, OUT, NULL, NULL, err, sizeof err), VRAM_EPARSE,
               PK ": segments[0]['blocks'][0]: 'size' is a str, expected a non-negative int");
    write_bad("not a dict");
    expect_err(vimport_torch(PK, OUT, NULL, NULL, err, sizeof err), VRAM_EPARSE,
               PK ": segments[0]['blocks'][0]: None, expected a dict");
    write_bad("no address");
    expect_err(vimport_torch(PK, OUT, NULL, NULL, err, sizeof err), VRAM_EPARSE,
               PK ": segments[1]['blocks'][0]: no 'address', and the segment has none to count "
               "from");
    write_bad("empty");
    expect_err(vimport_torch(PK, OUT, NULL, NULL, err, sizeof err), VRAM_EINVAL,
               PK ": device 0 has no trace entries and its 1 segment(s) hold no live block: nothing "
               "to replay");
    CLI_EXPECT(1, TEXTS("vimport: " PK ": device 0 has no trace entries and its 1 segment(s) hold "
                        "no live block: nothing to replay\n"),
               "vimport", "torch", PK, "-o", OUT);
    /* neither segments nor device_traces */
    pkb_begin(&p);
    pkb_dict(&p);
    pkb_key_int(&p, "version", 1);
    pkb_dict_end(&p);
    pkb_end(&p);
    pkb_save(&p, PK);
    expect_err(vimport_torch(PK, OUT, NULL, NULL, err, sizeof err), VRAM_EPARSE,
               PK ": not a memory snapshot: expected a dict with a 'device_traces' list or a "
               "'segments' list");
    remove(PK);
}

static void frame(pkb *q, const char *name, const char *file, int64_t line)
{
    pkb_dict(q);
    pkb_key_str(q, "name", name);
    pkb_key_str(q, "filename", file);
    pkb_str(q, "line");
    if (line < 0)
        pkb_size_max(q);
    else
        pkb_int(q, line);
    pkb_dict_end(q);
}

/* An alloc entry with frames (innermost first, as PyTorch records them) and a category. */
static void alloc_with_frames(int64_t addr, int64_t size, int64_t t, int which, const char *category)
{
    pkb_dict(&p);
    pkb_key_str(&p, "action", "alloc");
    pkb_key_int(&p, "addr", addr);
    pkb_key_int(&p, "size", size);
    pkb_key_int(&p, "time_us", t);
    if (category)
        pkb_key_str(&p, "category", category);
    pkb_str(&p, "frames");
    pkb_list(&p);
    frame(&p, "torch::unwind::unwind()", "??", 0);
    frame(&p, "DeviceCachingAllocator::malloc", "CUDACachingAllocator.cpp", 0);
    if (which == 0) {
        frame(&p, "_call_impl", "/v/site-packages/torch/nn/modules/module.py", 1790);
        frame(&p, "forward", "/m/model.py", -1); /* SIZE_MAX: unknown line */
        frame(&p, "train step", "/m/my train.py", 12);
    } else {
        frame(&p, "at::create_out", "RegisterCUDA_0.cpp", 0);
    }
    pkb_list_end(&p);
    pkb_dict_end(&p);
}

/* Frames: the model's Python frames first (outside torch), else any named C++
 * file but the allocator's; deduplicated in frame lines written before the
 * first alloc that names them; SIZE_MAX lines as 0; categories as kinds. */
static void test_frames(void)
{
    pkb_begin(&p);
    pkb_dict(&p);
    pkb_str(&p, "segments");
    pkb_list(&p);
    pkb_list_end(&p);
    pkb_str(&p, "device_traces");
    pkb_list(&p);
    pkb_list(&p);
    alloc_with_frames(0x1000, 4096, 1, 0, "PARAMETER");
    alloc_with_frames(0x2000, 4096, 2, 0, NULL);
    alloc_with_frames(0x3000, 512, 3, 1, "TEMPORARY");
    pkb_entry(&p, "free_completed", 0x3000, 512, 4);
    pkb_list_end(&p);
    pkb_list_end(&p);
    pkb_dict_end(&p);
    pkb_end(&p);
    pkb_save(&p, PK);
    vimport_stats s;
    assert_ok(vimport_torch(PK, OUT, NULL, &s, err, sizeof err));
    expect_eq_u64(s.frames, 3);
    expect_eq_u64(s.allocs_with_frames, 3);
    expect_eq_u64(s.allocs_by_kind[VRAM_KIND_WEIGHT], 1);
    expect_eq_u64(s.allocs_by_kind[VRAM_KIND_WORKSPACE], 1);
    expect_eq_u64(s.allocs_by_kind[VRAM_KIND_OTHER], 1);
    FILE *f = fopen(OUT, "rb");
    assert_true(f != NULL);
    static char text[4096];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    static const char want[] =
        "frame 1 0 /m/model.py forward\n"
        "frame 2 12 /m/my?train.py train step\n"
        "alloc 1 4096 0 weight 0 - frames=1,2\n"
        "@1 alloc 2 4096 0 other 0 - frames=1,2\n"
        "frame 3 0 RegisterCUDA_0.cpp at::create_out\n"
        "@2 alloc 3 512 0 workspace 0 - frames=3\n"
        "@3 free 3\n";
    if (!strstr(text, want)) {
        fprintf(stderr, "trace:\n%s\nlacks:\n%s", text, want);
        test_failures++;
    }
    CLI_EXPECT(0, TEXTS(""), "vimport", "torch", PK, "-o", OUT);
    expect_true(strstr(cli_last.out, "frames: 3 of the history's 3 allocs name their code (3 distinct "
                                     "frames)") != NULL);
    expect_true(strstr(cli_last.out, "kinds from the recorded categories: 1 weight, 0 activation, 1 "
                                     "workspace, 1 other") != NULL);
    vimport_options o = {.no_frames = 1};
    assert_ok(vimport_torch(PK, OUT, &o, &s, err, sizeof err));
    expect_eq_u64(s.frames, 0);
    f = fopen(OUT, "rb");
    assert_true(f != NULL);
    n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    expect_true(strstr(text, "frame") == NULL && strstr(text, "alloc 1 4096 0 weight 0 -\n") != NULL);
    CLI_EXPECT(2, TEXTS("vimport: --no-frames applies to torch snapshots only, not to rmm"),
               "vimport", "rmm", PK, "-o", OUT, "--no-frames");
    remove(OUT);
}

/* replay runs the caching policy with the trace's allocator_settings unless
 * --caching-conf is given; settings it cannot parse are refused with the trace named. */
static void test_replay_settings(void)
{
    write_state_snapshot(1, 1);
    assert_ok(vimport_torch(PK, OUT, NULL, NULL, err, sizeof err));
    CLI_EXPECT(0, TEXTS(""), "replay", OUT, "--no-db", "--quiet", "--no-belady", "--policy",
               "caching");
    expect_true(strstr(cli_last.out, "Caching settings: \"expandable_segments:True,"
                                     "max_split_size_mb:512,garbage_collection_threshold:0.6\"")
                != NULL);
    CLI_EXPECT(0, TEXTS(""), "replay", OUT, "--no-db", "--quiet", "--no-belady", "--policy",
               "caching", "--caching-conf", "expandable_segments:False");
    expect_true(strstr(cli_last.out, "Caching settings: \"expandable_segments:False\"") != NULL);
    FILE *f = fopen(OUT, "wb");
    assert_true(f != NULL);
    fputs("vramtrace 2\nmodel m\nengine import:torch\ncapacity 1073741824\n"
          "allocator_settings colour:blue\nalloc 1 4096 0 other 0 -\nfree 1\n", f);
    assert_true(fclose(f) == 0);
    CLI_EXPECT(1, TEXTS("replay: " OUT ": allocator_settings 'colour:blue': 'colour:blue': key not "
                        "modelled by the caching policy (give --caching-conf to override)\n"),
               "replay", OUT, "--no-db", "--quiet");
    CLI_EXPECT(0, TEXTS(""), "replay", OUT, "--no-db", "--quiet", "--no-belady", "--caching-conf",
               "expandable_segments:True");
    remove(OUT);
}

int main(void)
{
    test_state();
    test_no_history();
    test_capacity();
    test_refusals();
    test_replay_settings();
    test_frames();
    free(p.b);
    return test_finish("import_state");
}
