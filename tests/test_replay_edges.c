#define _XOPEN_SOURCE 700 /* posix_openpt, for the progress display on a terminal */
/* test_replay_edges.c - the replayer's edges: device faults injected mid-run
 * (through the inspect callback) that fail an allocation, a touch, a shared
 * acquire or a compaction pass, each reported with file:line and the status;
 * database faults at every statement of a run whose trace cannot be opened;
 * runs that end at an event where a sample, compaction, check, inspection and
 * the stop flag were all due; a violation in the first of the pool layout's
 * two lanes; set-ups that do not apply (tensor cache size, a manager the
 * policy cannot create); bad options; a trace given in memory logged with its
 * CRC; and the replay tool's options, tables, warnings and progress display. */
#include <zlib.h>

#include "test_cli_lib.h"
#include "test_db_lib.h"
#include "vram/device.h"

#define OUT_DB "replay_edges.db"

static char err[1024]; /* messages of the database and the bounds */

static void write_text(const char *path, const char *text)
{
    cli_write_file(path, text, strlen(text));
}

static vreplay_options plain(const char *trace)
{
    vreplay_options o = test_replay_opts(trace, "bestfit", NULL, NULL, NULL);
    o.sample_every = 0;
    o.check_every = 1;
    return o;
}

/* ---- device faults ---- */

/* The inspect callback: every later copy of the device fails with EDEVICE. */
static void fail_copies(void *ctx, uint64_t event_index, vram_manager *const *lanes, int nlanes)
{
    (void)ctx;
    (void)event_index;
    for (int i = 0; i < nlanes; i++)
        vram_device_inject_fault(vram_manager_device(lanes[i]), VRAM_FAULT_COPY, 1, 1,
                                 VRAM_EDEVICE);
}

static void expect_fault_at(const char *trace, uint64_t inspect_at, uint64_t defrag_every,
                            uint64_t events, const char *want)
{
    vreplay_options o = plain(trace);
    o.inspect = fail_copies;
    o.inspect_at = inspect_at;
    o.defrag_every = defrag_every;
    vreplay_result r;
    assert_ok(vreplay_run(&o, &r));
    expect_true(r.status == VREPLAY_RUN_FAILED);
    expect_eq_u64(r.events, events);
    expect_contains(r.message, want);
    expect_contains(r.message, "(VRAM_EDEVICE)");
}

static void test_device_faults(void)
{
    /* 1 MiB of device, KV halves: the third allocation evicts (a copy out),
     * the use of an evicted one re-materialises (copies), so does the acquire. */
    write_text("replay_edges_evict.trace",
               "vramtrace 1\nmodel m\nengine contiguous\ncapacity 1048576\n"
               "alloc 1 524288 0 kv 0\n"
               "alloc 2 524288 0 kv 0\n"
               "alloc 3 524288 0 kv 0\n"
               "use 1\n"
               "acquire kv:x 524288 0\n"
               "release kv:x\nfree 1\nfree 2\nfree 3\n");
    expect_fault_at("replay_edges_evict.trace", 2, 0, 3,
                    "replay_edges_evict.trace:7: vram_alloc failed: ");
    expect_fault_at("replay_edges_evict.trace", 3, 0, 4,
                    "replay_edges_evict.trace:8: vram_touch failed: ");
    expect_fault_at("replay_edges_evict.trace", 4, 0, 5,
                    "replay_edges_evict.trace:9: vram_acquire_shared failed: ");
    /* A hole below a block: the compaction pass after event 4 moves it (a copy). */
    write_text("replay_edges_defrag.trace",
               "vramtrace 1\nmodel m\nengine contiguous\ncapacity 1048576\n"
               "alloc 1 262144 0 activation 0\n"
               "alloc 2 262144 0 activation 0\n"
               "alloc 3 262144 0 activation 0\n"
               "free 2\nfree 1\nfree 3\n");
    expect_fault_at("replay_edges_defrag.trace", 3, 4, 4,
                    "replay_edges_defrag.trace:8: vram_manager_defrag failed: ");
    /* Without the fault the same runs end ok. */
    vreplay_options o = plain("replay_edges_evict.trace");
    vreplay_result r;
    assert_ok(vreplay_run(&o, &r));
    expect_true(r.status == VREPLAY_RUN_OK);
    expect_true(r.evictions > 0);
    o = plain("replay_edges_defrag.trace");
    o.defrag_every = 4;
    assert_ok(vreplay_run(&o, &r));
    expect_true(r.status == VREPLAY_RUN_OK && r.defrag_moves > 0);
    remove("replay_edges_evict.trace");
    remove("replay_edges_defrag.trace");
}

/* ---- names, refused options, set-ups that do not apply ---- */

static void test_names(void)
{
    static const char *const ops[] = {"alloc", "free", "use", "acquire", "release"};
    for (int i = 0; i < VREPLAY_OP_COUNT; i++)
        expect_true(strcmp(vreplay_op_name((vreplay_op)i), ops[i]) == 0);
    expect_true(strcmp(vreplay_op_name(VREPLAY_OP_COUNT), "?") == 0);
    expect_true(strcmp(vreplay_status_name(VREPLAY_RUN_OK), "ok") == 0);
    expect_true(strcmp(vreplay_status_name(VREPLAY_RUN_FAILED), "failed") == 0);
    expect_true(strcmp(vreplay_status_name(VREPLAY_RUN_INTERRUPTED), "interrupted") == 0);
    expect_true(strcmp(vreplay_status_name(VREPLAY_RUN_NOT_APPLICABLE), "not applicable") == 0);
    expect_true(strcmp(vreplay_status_name((vreplay_status)9), "?") == 0);

    /* A directory opens but cannot be read: no CRC, no size. */
    char hex[9] = "x";
    uint64_t bytes = 1;
    vreplay_trace_crc32(".", hex, &bytes);
    expect_true(hex[0] == '\0' && bytes == 0);
}

static void test_refusals(void)
{
    vreplay_result r;
    vreplay_options o = plain(NULL);
    expect_status(vreplay_run(&o, &r), VRAM_EINVAL);
    expect_contains(r.message, "no trace given");
    o = plain(CLI_DATA "small.trace");
    o.policy = NULL;
    expect_status(vreplay_run(&o, &r), VRAM_EINVAL);
    expect_contains(r.message, "unknown heap policy \"(none)\"");
    o = plain(CLI_DATA "small.trace");
    o.evict_policy = "nope";
    expect_status(vreplay_run(&o, &r), VRAM_EINVAL);
    expect_contains(r.message, "unknown eviction policy \"nope\"");

    /* A tensor cache that is not a whole number of 256-byte units. */
    o = plain(CLI_DATA "small.trace");
    o.tensor_cache = 1000;
    assert_ok(vreplay_run(&o, &r));
    expect_true(r.status == VREPLAY_RUN_NOT_APPLICABLE);
    expect_contains(r.message, "tensor cache: 1000 bytes is not a multiple of 256 below the "
                               "device's 67108864");
    /* A capacity the buddy policy cannot manage: the manager is refused, not the device. */
    o = plain(CLI_DATA "small.trace");
    o.policy = "buddy";
    o.capacity = 67108864 + 100;
    assert_ok(vreplay_run(&o, &r));
    expect_true(r.status == VREPLAY_RUN_NOT_APPLICABLE);
    expect_contains(r.message, "cannot create a manager with the buddy policy over 67108964 bytes");

    /* The pool layout with KV blocks of 384 bytes: the bestfit lane is made,
     * the pool refuses a block that is not a multiple of its alignment. */
    write_text("replay_edges_384.trace",
               "vramtrace 1\nmodel m\nengine paged\ncapacity 1048576\nkv_block_bytes 384\n"
               "alloc 1 384 0 kv 0\nalloc 2 4096 0 activation 0\nfree 1\nfree 2\n");
    vbounds b;
    assert_ok(vbounds_compute("replay_edges_384.trace", 0, 0, &b, err, sizeof err));
    o = plain("replay_edges_384.trace");
    o.policy = "pool";
    o.bounds = &b;
    assert_ok(vreplay_run(&o, &r));
    expect_true(r.status == VREPLAY_RUN_NOT_APPLICABLE);
    expect_contains(r.message, "cannot create a manager with the pool policy over 1043712 bytes");
    /* Blocks of 100 bytes: already the bestfit lane (a whole number of blocks,
     * 4476 bytes) is not a multiple of 256. */
    write_text("replay_edges_384.trace",
               "vramtrace 1\nmodel m\nengine paged\ncapacity 1048576\nkv_block_bytes 100\n"
               "alloc 1 100 0 kv 0\nalloc 2 4096 0 activation 0\nfree 1\nfree 2\n");
    assert_ok(vbounds_compute("replay_edges_384.trace", 0, 0, &b, err, sizeof err));
    assert_ok(vreplay_run(&o, &r));
    expect_true(r.status == VREPLAY_RUN_NOT_APPLICABLE);
    expect_contains(r.message, "cannot create a manager with the bestfit policy over 4476 bytes");
    remove("replay_edges_384.trace");
}

/* In the pool layout the first lane's violation ends the checks: reported
 * once, with the line after which it was found. */
static void test_pool_violation(void)
{
    vbounds b;
    assert_ok(vbounds_compute(CLI_DATA "small.trace", 0, 0, &b, err, sizeof err));
    vreplay_options o = plain(CLI_DATA "small.trace");
    o.policy = "pool";
    o.bounds = &b;
    o.inspect = test_corrupt_lane0;
    o.inspect_at = 5;
    vreplay_result r;
    assert_ok(vreplay_run(&o, &r));
    expect_true(r.status == VREPLAY_RUN_FAILED);
    expect_eq_u64(r.events, 6);
    expect_contains(r.message, "small.trace:14: invariant violated after this event: ");
}

/* ---- a run that ends where everything was due ---- */

static int inspected;

static void count_inspections(void *ctx, uint64_t event_index, vram_manager *const *lanes,
                              int nlanes)
{
    (void)ctx;
    (void)event_index;
    (void)lanes;
    (void)nlanes;
    inspected++;
}

static void test_end_when_due(void)
{
    write_text("replay_edges_first.trace",
               "vramtrace 1\nmodel m\nengine contiguous\ncapacity 1048576\nfree 5\n");
    volatile sig_atomic_t stop = 1; /* would interrupt after the first event */
    vreplay_options o = plain("replay_edges_first.trace");
    o.sample_every = o.defrag_every = o.check_every = 1;
    o.inspect = count_inspections;
    o.inspect_at = 1;
    o.stop = &stop;
    vreplay_result r;
    assert_ok(vreplay_run(&o, &r));
    /* The failure of event 1 ends the run: no sample, pass, check or inspection
     * after it, and it is reported as failed, not interrupted. */
    expect_true(r.status == VREPLAY_RUN_FAILED);
    expect_contains(r.message, "replay_edges_first.trace:5: free of id 5, which is not live");
    expect_eq_u64(r.events, 1);
    expect_eq_u64(r.samples, 0);
    expect_eq_u64(r.defrag_passes, 0);
    expect_eq_u64(inspected, 0);
    remove("replay_edges_first.trace");
}

/* ---- the database ---- */

static vdb *fresh_db(void)
{
    test_remove_db(OUT_DB);
    vdb *db;
    assert_ok(vdb_open(OUT_DB, &db, err, sizeof err));
    return db;
}

static void test_memory_trace_logged(void)
{
    static const char text[] = "vramtrace 1\nmodel m\nengine contiguous\ncapacity 1048576\n"
                               "alloc 1 4096 0 kv 1\nuse 1\nfree 1\n";
    vdb *db = fresh_db();
    vreplay_options o = plain("in-memory.trace");
    o.trace_data = text;
    o.trace_size = sizeof text - 1;
    o.db = db;
    vreplay_result r;
    assert_ok(vreplay_run(&o, &r));
    expect_true(r.status == VREPLAY_RUN_OK);
    assert_ok(vdb_close(db, err, sizeof err));
    char want[9];
    snprintf(want, sizeof want, "%08lx",
             (unsigned long)crc32(crc32(0L, Z_NULL, 0), (const Bytef *)text, sizeof text - 1));
    sqlite3 *q = test_open_db(OUT_DB);
    expect_eq_u64(test_q1(q, "SELECT count(*) FROM runs WHERE id=%lld AND trace_crc32='%s' AND "
                             "trace_bytes=%d AND status='ok'",
                          (long long)r.run_id, want, (int)(sizeof text - 1)),
                  1);
    sqlite3_close(q);
}

/* A trace that cannot be opened is still logged as a failed run; when the
 * database fails at any of the statements that takes, the run could not be
 * recorded: VRAM_EIO, the database's message, never a crash. */
static void test_db_faults(void)
{
    vdb *db = fresh_db();
    uint64_t before = vdb_steps(db);
    vreplay_options o = plain("no/such.trace");
    o.db = db;
    vreplay_result r;
    expect_status(vreplay_run(&o, &r), VRAM_EIO);
    expect_contains(r.message, "no/such.trace");
    uint64_t steps = vdb_steps(db) - before;
    assert_ok(vdb_close(db, err, sizeof err));
    assert_true(steps > 0);
    for (uint64_t c = 1; c <= steps + 2; c++) {
        db = fresh_db();
        vdb_inject_fault(db, c, 1);
        o.db = db;
        vram_status st = vreplay_run(&o, &r);
        expect_status(st, VRAM_EIO);
        expect_true(r.status == VREPLAY_RUN_FAILED);
        if (c <= steps && !strstr(r.message, OUT_DB ": ")) {
            fprintf(stderr, "fault at step %llu: message \"%s\" does not name the database\n",
                    (unsigned long long)c, r.message);
            test_failures++;
        }
        vdb_close(db, NULL, 0);
    }
    test_remove_db(OUT_DB);
}

/* ---- the replay tool ---- */

static void test_cli_errors(void)
{
    const char *t = CLI_DATA "small.trace";
    CLI_EXPECT(2, TEXTS("replay: --capacity: \"\" is not a non-negative decimal number"), "replay",
               "--capacity", "", t);
    CLI_EXPECT(2, TEXTS("replay: --time-every: \"x\" is not a non-negative decimal number"),
               "replay", "--time-every", "x", t);
    CLI_EXPECT(2, TEXTS("replay: --capacity: \"12x\" is not a non-negative decimal number"),
               "replay", "--capacity", "12x", t);
    CLI_EXPECT(2, TEXTS("replay: --check-every: \"-1\" is not a non-negative decimal number"),
               "replay", "--check-every", "-1", t);
    CLI_EXPECT(2, TEXTS("replay: --tensor-cache: \"x\" is not a non-negative decimal number"),
               "replay", "--tensor-cache", "x", t);
    CLI_EXPECT(2, TEXTS("replay: --backend: \"gpu\" is not sim or cuda"), "replay", "--backend",
               "gpu", t);
    static const char *const defrag[] = {"every=0", "every=x", "sometimes"};
    for (int i = 0; i < 3; i++) {
        char want[128];
        snprintf(want, sizeof want, "replay: --defrag: \"%s\" is not off, on-oom or every=N (N > 0)",
                 defrag[i]);
        CLI_EXPECT(2, TEXTS(want), "replay", "--defrag", defrag[i], t);
    }
    CLI_EXPECT(2, TEXTS("replay: --tensor-cache: 100 is not a multiple of 256 bytes"), "replay",
               "--tensor-cache", "100", t);
    /* No CUDA driver on the test machines: the run fails, naming the way out. */
    cli_run_limited(0, (const char *const[]){"replay", "--no-db", "--policy", "bestfit",
                                              "--backend", "cuda", t, NULL});
    if (cli_last.status == 0) {
        fprintf(stderr, "note: a CUDA driver is present; the no-driver case is not tested\n");
    } else {
        expect_eq_u64(cli_last.status, 1);
        expect_true(strstr(cli_last.err, "replay: bestfit: ") != NULL);
        expect_true(strstr(cli_last.err, "--backend sim") != NULL);
        expect_true(strstr(cli_last.out, "| policy |") == NULL); /* no run: no table */
    }
    CLI_EXPECT(0, TEXTS(""), "replay", "-h");
    expect_true(strstr(cli_last.out, "usage: replay [options] TRACE") != NULL);

    /* A malformed trace: no bounds, every run failed, the table without ratios. */
    CLI_EXPECT(1, TEXTS("replay: bounds not computed: ", "malformed.trace:8:",
                        "replay: bestfit: failed: "),
               "replay", "--wide", "--no-db", "--policy", "bestfit", CLI_DATA "malformed.trace");
    expect_true(strstr(cli_last.out, "| bestfit (failed) | ") != NULL);
    expect_true(strstr(cli_last.out, "| - | - |") != NULL); /* no ratio, no sample */
}

static void test_cli_runs(void)
{
    /* A 1 MiB device and six requests of 2 MiB among ordinary ones. */
    char text[2048] = "vramtrace 1\nmodel m\nengine contiguous\ncapacity 1048576\n";
    for (int id = 1; id <= 6; id++) {
        char line[128];
        snprintf(line, sizeof line, "alloc %d 262144 0 kv 0\nalloc %d 2097152 0 weight 0\n"
                 "free %d\nfree %d\n", id, 100 + id, id, 100 + id);
        strcat(text, line);
    }
    write_text("replay_edges_over.trace", text);
    test_remove_db(OUT_DB);
    CLI_EXPECT(0, TEXTS("replay_edges_over.trace:6: a request of 2097152 bytes is larger than the "
                        "device (1048576 bytes)",
                        "replay: warning: replay_edges_over.trace: 2 more requests larger than the "
                        "device"),
               "replay", "--wide", "--policy", "bestfit,tlsf", "--time-every", "4", "--defrag",
               "every=5",
               "--tensor-cache", "4096", "--batch", "2000000", "--db", OUT_DB,
               "replay_edges_over.trace");
    expect_true(strstr(cli_last.out, "Trace: 6 requests larger than the device (1.000 MiB), first "
                                     "at replay_edges_over.trace:6") != NULL);
    expect_true(strstr(cli_last.out, "one call in --time-every timed") != NULL);
    expect_true(strstr(cli_last.out, "Compaction: --defrag every N. Tensor cache: 4.000 KiB") != NULL);
    expect_true(strstr(cli_last.out, "| - (0/0) |") != NULL); /* no activation: no hit rate */
    expect_true(strstr(cli_last.out, "logged to " OUT_DB) != NULL);
    CLI_EXPECT(0, TEXTS(""), "replay", "--wide", "--policy", "bestfit", "--defrag", "on-oom",
               "--no-db", "replay_edges_over.trace");
    expect_true(strstr(cli_last.out, "Compaction: --defrag on-oom.") != NULL);

    /* OOMs alone mark the ratio; no Belady column without Belady. */
    write_text("replay_edges_oom.trace",
               "vramtrace 1\nmodel m\nengine contiguous\ncapacity 1048576\n"
               "alloc 1 524288 0 activation 0\nalloc 2 524288 0 activation 0\n"
               "alloc 3 524288 0 activation 0\nfree 1\nfree 2\n");
    CLI_EXPECT(0, TEXTS(""), "replay", "--wide", "--policy", "bestfit", "--no-db", "--no-belady",
               "--defrag", "off", "replay_edges_oom.trace");
    expect_true(strstr(cli_last.out, "(one pass)") != NULL);
    expect_true(strstr(cli_last.out, " * | ") != NULL);
    expect_true(strstr(cli_last.out, "| 1 (0) | 0 | - | 0 | - |") != NULL); /* v1: no preemptions */
    /* A trace that allocates nothing: no peak, so no ratio. */
    write_text("replay_edges_none.trace",
               "vramtrace 1\nmodel m\nengine contiguous\ncapacity 1048576\nstep 1\n");
    CLI_EXPECT(0, TEXTS(""), "replay", "--wide", "--policy", "bestfit", "--no-db",
               "replay_edges_none.trace");
    expect_true(strstr(cli_last.out, "| bestfit | 0 B | - | 0.000 |") != NULL);
    remove("replay_edges_oom.trace");
    remove("replay_edges_none.trace");

    /* A command line longer than the 2047 bytes kept in runs.options: cut there. */
    static char conf[3000];
    conf[0] = '\0';
    while (strlen(conf) < 2500)
        strcat(conf, "max_split_size_mb:128,");
    strcat(conf, "max_split_size_mb:128");
    test_remove_db(OUT_DB);
    CLI_EXPECT(0, TEXTS(""), "replay", "--policy", "caching", "--db", OUT_DB, "--caching-conf",
               conf, "replay_edges_over.trace");
    sqlite3 *q = test_open_db(OUT_DB);
    expect_eq_u64(test_q1(q, "SELECT length(options) FROM runs"), 2047);
    expect_eq_u64(test_q1(q, "SELECT count(*) FROM runs WHERE options LIKE '"
                             "replay --policy caching --db " OUT_DB " --caching-conf "
                             "max_split_size_mb:128,max%%'"),
                  1);
    expect_eq_u64(test_q1(q, "SELECT length(caching_conf) FROM runs"), strlen(conf));
    sqlite3_close(q);
    test_remove_db(OUT_DB);
    remove("replay_edges_over.trace");
}

/* Runs bin/replay with stderr on a new pseudo-terminal (stdin and stdout on
 * /dev/null), its files limited to fsize_kib KiB when > 0; what it wrote to
 * the terminal goes to out (cut to len - 1 bytes); its exit status, or -1 when
 * this system has no pseudo-terminals. */
static int run_on_terminal(long fsize_kib, const char *const *argv, char *out, size_t len)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    if (m < 0)
        return -1;
    assert_true(grantpt(m) == 0 && unlockpt(m) == 0 && ptsname(m) != NULL);
    char slave[256];
    snprintf(slave, sizeof slave, "%s", ptsname(m));
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int s = open(slave, O_RDWR | O_NOCTTY), null = open("/dev/null", O_RDWR);
        if (s < 0 || null < 0)
            _exit(126);
        dup2(null, 0);
        dup2(null, 1);
        dup2(s, 2);
        close(m);
        if (fsize_kib > 0) {
            struct rlimit rl = {.rlim_cur = (rlim_t)fsize_kib * 1024, .rlim_max = RLIM_INFINITY};
            signal(SIGXFSZ, SIG_IGN);
            if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
                _exit(126);
        }
        execv(CLI_BIN "replay", (char *const *)argv);
        _exit(127);
    }
    /* Read until the terminal is closed (EIO once the tool has exited). */
    size_t n = 0;
    char scratch[4096];
    for (;;) {
        char *dst = n + 1 < len ? out + n : scratch;
        size_t room = n + 1 < len ? len - 1 - n : sizeof scratch;
        ssize_t got = read(m, dst, room);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        if (dst != scratch)
            n += (size_t)got;
    }
    out[n] = '\0';
    close(m);
    int st;
    while (waitpid(pid, &st, 0) < 0)
        assert_true(errno == EINTR);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* On a terminal the tool shows its progress every 65536 events: as a share of
 * the trace when the bounds counted its events, as a count when they failed
 * (here: a file size limit stops Belady's temporary log). */
static void test_cli_progress(void)
{
    FILE *f = fopen("replay_edges_long.trace", "wb");
    assert_true(f != NULL);
    fprintf(f, "vramtrace 1\nmodel m\nengine contiguous\ncapacity 1073741824\n");
    for (int id = 1; id <= 35000; id++)
        fprintf(f, "alloc %d 4096 0 kv 0\nfree %d\n", id, id);
    assert_true(fclose(f) == 0);
    static char out[1 << 16];
    const char *const argv[] = {"replay", "--policy", "bestfit", "--no-db", "--sample-every", "0",
                                "--check-every", "0", "replay_edges_long.trace", NULL};
    int st = run_on_terminal(0, argv, out, sizeof out);
    if (st < 0) {
        fprintf(stderr, "note: no pseudo-terminal here; the progress display is not tested\n");
        remove("replay_edges_long.trace");
        return;
    }
    expect_eq_u64(st, 0);
    expect_true(strstr(out, "\rbestfit   93.6%  65536 events  ") != NULL);
    expect_true(strstr(out, " M events/s") != NULL);
    expect_eq_u64(run_on_terminal(64, argv, out, sizeof out), 0);
    expect_true(strstr(out, "replay: bounds not computed: replay_edges_long.trace: Belady's "
                            "next-use log: a temporary file failed") != NULL);
    expect_true(strstr(out, "\rbestfit  65536 events  ") != NULL);
    /* --quiet: no progress, even on a terminal. */
    const char *const quiet[] = {"replay", "--quiet", "--policy", "bestfit", "--no-db",
                                 "--no-belady", "replay_edges_long.trace", NULL};
    expect_eq_u64(run_on_terminal(0, quiet, out, sizeof out), 0);
    expect_true(strstr(out, "events/s") == NULL);
    remove("replay_edges_long.trace");
}

int main(void)
{
    test_device_faults();
    test_names();
    test_refusals();
    test_pool_violation();
    test_end_when_due();
    test_memory_trace_logged();
    test_db_faults();
    test_cli_errors();
    test_cli_runs();
    test_cli_progress();
    return test_finish("replay_edges");
}
