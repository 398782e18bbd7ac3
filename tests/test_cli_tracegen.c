/* test_cli_tracegen.c - `tracegen` on bad input and bad output places: every
 * failure exits non-zero with a message naming the file (and line or value),
 * and leaves no partial trace; a device output (/dev/full) is written in
 * place, never replaced by a regular file; a FIFO or device workload is
 * refused at once, as are a workload without a request and bytes after a
 * gzip stream. */
#include <time.h>
#include <zlib.h>

#include "test_cli_lib.h"

#define AZURE VRAM_RECORDINGS_DIR "/AzureLLMInferenceTrace_conv.csv"

/* The first `rows` requests of the Azure conversation recording: a quick workload. */
static void write_small_workload(const char *path, int rows)
{
    FILE *in = fopen(AZURE, "r"), *out = fopen(path, "w");
    assert_true(in && out);
    char line[512];
    for (int i = 0; i <= rows && fgets(line, sizeof line, in); i++)
        fputs(line, out);
    fclose(in);
    assert_true(fclose(out) == 0);
}

static void test_usage(void)
{
    CLI_EXPECT_HELP("tracegen", "usage: tracegen --workload FILE");
    CLI_EXPECT(2, TEXTS("--workload and -o are required"), "tracegen");
    CLI_EXPECT(2, TEXTS("-o needs a value"), "tracegen", "--workload", "w.csv", "-o");
    CLI_EXPECT(2, TEXTS("--tp '99999999999999999999'"), "tracegen", "--workload", "w.csv", "-o",
               "x.trace", "--tp", "99999999999999999999");
    CLI_EXPECT(2, TEXTS("--speedup 'nan'"), "tracegen", "--workload", "w.csv", "-o", "x.trace",
               "--speedup", "nan");
    CLI_EXPECT(2, TEXTS("'extra'"), "tracegen", "--workload", "w.csv", "-o", "x.trace", "extra");
}

static void test_bad_workloads(void)
{
    CLI_EXPECT(1, TEXTS(CLI_DATA "bad_azure_row.csv:3: ContextTokens", "'-5'"), "tracegen",
               "--workload", CLI_DATA "bad_azure_row.csv", "-o", "cli_tracegen_x.trace");
    CLI_EXPECT(1, TEXTS(CLI_DATA "bad_mooncake_row.jsonl:2: hash_ids: expected ',' or ']' after id 2"), "tracegen", "--workload",
               CLI_DATA "bad_mooncake_row.jsonl", "-o", "cli_tracegen_x.trace");
    cli_write_file("cli_tracegen_empty.csv", "", 0);
    CLI_EXPECT(1, TEXTS("cli_tracegen_empty.csv:1: empty file"), "tracegen", "--workload",
               "cli_tracegen_empty.csv", "-o", "cli_tracegen_x.trace");
    cli_write_garbage("cli_tracegen_garbage.csv", 2000, 3);
    CLI_EXPECT(1, TEXTS("cli_tracegen_garbage.csv:1:"), "tracegen", "--workload",
               "cli_tracegen_garbage.csv", "-o", "cli_tracegen_x.trace");
    CLI_EXPECT(1, TEXTS("cli_tracegen_garbage.csv:1: NUL byte"), "tracegen",
               "--workload", "cli_tracegen_garbage.csv", "--format", "mooncake", "-o",
               "cli_tracegen_x.trace");
    cli_make_dir("cli_tracegen_dir.csv");
    CLI_EXPECT(1, TEXTS("cli_tracegen_dir.csv", "Is a directory"), "tracegen", "--workload",
               "cli_tracegen_dir.csv", "-o", "cli_tracegen_x.trace");
    CLI_EXPECT(1, TEXTS("cli_tracegen_missing.csv: cannot open: No such file"), "tracegen",
               "--workload", "cli_tracegen_missing.csv", "-o", "cli_tracegen_x.trace");
    CLI_EXPECT(1, TEXTS("unknown model 'nope'"), "tracegen", "--workload", "cli_tracegen_w.csv",
               "-o", "cli_tracegen_x.trace", "--model", "nope");
    CLI_EXPECT(1, TEXTS("no room for the KV cache"), "tracegen", "--workload", "cli_tracegen_w.csv",
               "-o", "cli_tracegen_x.trace", "--capacity-gib", "1");

    /* option values the planner cannot use: each named with its value */
    static const char *const bad_values[][3] = {
        {"--capacity-gib", "0", "--capacity-gib 0: expected at least 1"},
        {"--block-tokens", "0", "--block-tokens 0: expected at least 1"},
        {"--utilisation", "2", "--utilisation 2: expected a share in (0, 1]"},
        {"--speedup", "1e-300", "--speedup 1e-300: expected 1e-06 to 1e+06"},
        {"--adapters", "4000000000", "--adapters 4000000000: expected at most 1048576"},
        {"--lora-rank", "0", "--lora-rank 0 with 8 adapters"},
        {"--max-loras", "0", "--max-loras 0 with 8 adapters"},
        {"--adapter-share", "1.5", "--adapter-share 1.5: expected a share in [0, 1]"},
        {"--start-s", "1e300", "--start-s 1e+300: expected 0 to 1e+12 seconds"},
    };
    for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++)
        CLI_EXPECT(1, TEXTS(bad_values[i][2]), "tracegen", "--workload", "cli_tracegen_w.csv", "-o",
                   "cli_tracegen_x.trace", bad_values[i][0], bad_values[i][1]);
    /* two years between arrivals, slowed a million times: past 2^63 us */
    static const char far[] = "TIMESTAMP,ContextTokens,GeneratedTokens\n"
                              "2023-11-16 18:15:46.6805900,374,44\n2025-11-16 18:15:46.6805900,374,44\n";
    cli_write_file("cli_tracegen_far.csv", far, sizeof far - 1);
    CLI_EXPECT(1, TEXTS("cli_tracegen_far.csv:3: arrival", "beyond 2^63 us"), "tracegen", "--workload",
               "cli_tracegen_far.csv", "-o", "cli_tracegen_x.trace", "--speedup", "1e-6");
    expect_true(!cli_exists("cli_tracegen_x.trace") && !cli_exists("cli_tracegen_x.trace.tmp"));
}

static void test_bad_outputs(void)
{
    cli_make_dir("cli_tracegen_out.dir");
    CLI_EXPECT(1, TEXTS("cli_tracegen_out.dir: is a directory"), "tracegen", "--workload",
               "cli_tracegen_w.csv", "-o", "cli_tracegen_out.dir");
    CLI_EXPECT(1, TEXTS("cli_tracegen_nodir/x.trace.tmp: cannot write: No such file or directory"),
               "tracegen", "--workload", "cli_tracegen_w.csv", "-o", "cli_tracegen_nodir/x.trace");
    if (cli_make_readonly_dir("cli_tracegen_ro"))
        CLI_EXPECT(1, TEXTS("cli_tracegen_ro/x.trace.tmp: cannot write: Permission denied"), "tracegen",
                   "--workload", "cli_tracegen_w.csv", "-o", "cli_tracegen_ro/x.trace");
    cli_write_file("cli_tracegen_file", "x", 1);
    CLI_EXPECT(1, TEXTS("cli_tracegen_file/x.trace.tmp: cannot write: Not a directory"), "tracegen",
               "--workload", "cli_tracegen_w.csv", "-o", "cli_tracegen_file/x.trace");

    /* the output named as the workload: refused, the workload kept */
    write_small_workload("cli_tracegen_in.csv", 5);
    struct stat before, after;
    assert_true(stat("cli_tracegen_in.csv", &before) == 0);
    CLI_EXPECT(1, TEXTS("cli_tracegen_in.csv: is the input cli_tracegen_in.csv"), "tracegen",
               "--workload", "cli_tracegen_in.csv", "-o", "cli_tracegen_in.csv");
    expect_true(stat("cli_tracegen_in.csv", &after) == 0 && after.st_size == before.st_size);

    /* a device: written in place, so the write fails and the device stays */
    cli_link_dev_full("cli_tracegen_full.trace");
    CLI_EXPECT(1, TEXTS("cli_tracegen_full.trace: cannot write: No space left on device"), "tracegen",
               "--workload", "cli_tracegen_w.csv", "-o", "cli_tracegen_full.trace");
    expect_true(!cli_exists("cli_tracegen_full.trace.tmp"));
    if (cli_is_link("cli_tracegen_full.trace")) /* else a tool run as root would replace /dev/full */
        CLI_EXPECT(1, TEXTS("/dev/full: cannot write: No space left on device"), "tracegen",
                   "--workload", "cli_tracegen_w.csv", "-o", "/dev/full");
    else
        expect_true(!"tracegen replaced its output link instead of writing through it");

    /* a disk that fills: the previous trace stays as it was, no .tmp is left */
    cli_write_file("cli_tracegen_keep.trace", "old", 3);
    static const long limits_kib[] = {4, 64};
    static const char *const names[] = {"cli_tracegen_keep.trace", "cli_tracegen_keep.trace.gz"};
    for (size_t i = 0; i < 2; i++)
        for (size_t k = 0; k < 2; k++) {
            char tmp[64];
            snprintf(tmp, sizeof tmp, "%s.tmp", names[k]);
            CLI_EXPECT_FULL(limits_kib[i], 1, TEXTS(tmp, "cannot write: File too large"), "tracegen",
                            "--workload", AZURE, "-o", names[k]);
            expect_true(!cli_exists(tmp));
        }
    FILE *f = fopen("cli_tracegen_keep.trace", "r");
    char kept[8] = "";
    expect_true(f && fgets(kept, sizeof kept, f) && strcmp(kept, "old") == 0);
    if (f)
        fclose(f);
    expect_true(!cli_exists("cli_tracegen_keep.trace.gz"));

    /* a disk that fills while requests are admitted or preempted: each failure
     * is reported, and the request being moved is freed with the others (under
     * the asan preset LeakSanitizer's report would fail the check: issue 13
     * found 4,224 bytes leaked from try_admit) */
    static const long admit_kib[] = {256, 384, 512, 1024, 1536};
    static const char *const leak_workloads[] = {AZURE, VRAM_RECORDINGS_DIR "/AzureLLMInferenceTrace_code.csv"};
    for (size_t w = 0; w < 2; w++)
        for (size_t i = 0; i < sizeof admit_kib / sizeof admit_kib[0]; i++)
            CLI_EXPECT_FULL(admit_kib[i], 1, TEXTS("tracegen: cli_tracegen_adm.trace.tmp: cannot write: "
                                                   "File too large\n"),
                            "tracegen", "--workload", leak_workloads[w], "--capacity-gib", w ? "40" : "80",
                            "-o", "cli_tracegen_adm.trace");
    expect_true(!cli_exists("cli_tracegen_adm.trace") && !cli_exists("cli_tracegen_adm.trace.tmp"));

    /* the longest window at the smallest speedup: its times stay in range (a
     * clang UBSan build checks the double-to-integer conversions) */
    CLI_EXPECT(0, TEXTS("cli_tracegen_ok.trace: "), "tracegen", "--workload", "cli_tracegen_w.csv", "-o",
               "cli_tracegen_ok.trace", "--duration-s", "1e12", "--speedup", "1e-6");
    /* the same without a limit succeeds: the failures above were the disk's */
    CLI_EXPECT(0, TEXTS("cli_tracegen_ok.trace: "), "tracegen", "--workload", "cli_tracegen_w.csv",
               "-o", "cli_tracegen_ok.trace");
}

/* Runs tracegen on `workload`, which must be refused within 10 s (a FIFO with
 * no writer must not block the open): exit 1 and `want` on stderr. */
static void expect_refused_at_once(const char *workload, const char *want)
{
    const char *const argv[] = {"tracegen", "--workload", workload, "-o", "cli_tracegen_x.trace",
                                NULL};
    pid_t pid = cli_start(0, argv);
    struct timespec pause = {0, 10 * 1000 * 1000};
    for (int i = 0; i < 1000 && cli_running(pid); i++)
        nanosleep(&pause, NULL);
    if (cli_running(pid)) {
        kill(pid, SIGKILL);
        cli_wait(pid);
        fprintf(stderr, "tracegen --workload %s still ran after 10 s\n", workload);
        test_failures++;
        return;
    }
    expect_eq_u64(cli_wait(pid), 1);
    if (!strstr(cli_last.err, want)) {
        fprintf(stderr, "tracegen --workload %s: stderr lacks \"%s\":\n%s\n", workload, want,
                cli_last.err);
        test_failures++;
    }
    expect_true(!cli_exists("cli_tracegen_x.trace") && !cli_exists("cli_tracegen_x.trace.tmp"));
}

/* Inputs that used to wait forever or succeed with nothing: a FIFO or a
 * device, a recording without a request, bytes after a gzip stream. */
static void test_unbounded_inputs(void)
{
    remove("cli_tracegen.fifo");
    assert_true(mkfifo("cli_tracegen.fifo", 0600) == 0);
    expect_refused_at_once("cli_tracegen.fifo",
                           "tracegen: cli_tracegen.fifo: not a regular file (a FIFO with no writer "
                           "would wait forever, a device may never end); save the workload to a "
                           "file first\n");
    remove("cli_tracegen.fifo");
    expect_refused_at_once("/dev/zero",
                           "tracegen: /dev/zero: not a regular file (a FIFO with no writer would "
                           "wait forever, a device may never end); save the workload to a file "
                           "first\n");

    /* no request: an empty Mooncake file fails as an empty Azure file does */
    cli_write_file("cli_tracegen_empty.jsonl", "", 0);
    CLI_EXPECT(1, TEXTS("tracegen: cli_tracegen_empty.jsonl:1: empty file (expected one JSON object "
                        "a line, with timestamp, input_length, output_length and hash_ids)\n"),
               "tracegen", "--workload", "cli_tracegen_empty.jsonl", "-o", "cli_tracegen_x.trace");
    static const char header_only[] = "TIMESTAMP,ContextTokens,GeneratedTokens\n";
    cli_write_file("cli_tracegen_header.csv", header_only, sizeof header_only - 1);
    CLI_EXPECT(1, TEXTS("tracegen: cli_tracegen_header.csv:1: no requests after the header (expected "
                        "TIMESTAMP,ContextTokens,GeneratedTokens rows)\n"),
               "tracegen", "--workload", "cli_tracegen_header.csv", "-o", "cli_tracegen_x.trace");
    expect_true(!cli_exists("cli_tracegen_x.trace") && !cli_exists("cli_tracegen_x.trace.tmp"));

    /* a gzip workload, whole: read; with bytes after its stream: refused */
    const char *gz_path = "cli_tracegen_w.csv.gz";
    FILE *in = fopen("cli_tracegen_w.csv", "rb");
    gzFile gz = gzopen(gz_path, "wb");
    assert_true(in && gz);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        assert_true(gzwrite(gz, buf, (unsigned)n) == (int)n);
    fclose(in);
    assert_true(gzclose(gz) == Z_OK);
    CLI_EXPECT(0, TEXTS("cli_tracegen_ok.trace: "), "tracegen", "--workload", gz_path, "--format",
               "azure", "-o", "cli_tracegen_ok.trace");
    struct stat sb;
    assert_true(stat(gz_path, &sb) == 0);
    FILE *f = fopen(gz_path, "ab");
    assert_true(f && fputs("PK\3\4 not gzip", f) >= 0 && fclose(f) == 0);
    char want[256];
    snprintf(want, sizeof want, "tracegen: %s:22: trailing data after the gzip stream (at byte %lld "
             "of the file)\n", gz_path, (long long)sb.st_size);
    CLI_EXPECT(1, TEXTS(want), "tracegen", "--workload", gz_path, "--format", "azure", "-o",
               "cli_tracegen_x.trace");
    expect_true(!cli_exists("cli_tracegen_x.trace") && !cli_exists("cli_tracegen_x.trace.tmp"));
}

/* SIGTERM during a run: the partial OUT.tmp goes, the old OUT stays, and the
 * process ends by the signal. (A run that ends first is not checked.) */
static void test_terminated(void)
{
    cli_write_file("cli_tracegen_term.trace", "old", 3);
    remove("cli_tracegen_term.trace.tmp");
    const char *const argv[] = {"tracegen", "--workload",
                                VRAM_RECORDINGS_DIR "/mooncake_fast25_conversation_trace.jsonl", "-o",
                                "cli_tracegen_term.trace", NULL};
    pid_t pid = cli_start(0, argv);
    struct timespec pause = {0, 1000 * 1000};
    for (int i = 0; i < 20000 && !cli_exists("cli_tracegen_term.trace.tmp") && cli_running(pid); i++)
        nanosleep(&pause, NULL);
    kill(pid, SIGTERM);
    if (cli_wait(pid) == 0) {
        printf("cli_tracegen: the run ended before SIGTERM; not checked\n");
        return;
    }
    expect_eq_u64(cli_last.status, 128 + SIGTERM);
    expect_true(!cli_exists("cli_tracegen_term.trace.tmp"));
    char kept[8] = "";
    FILE *f = fopen("cli_tracegen_term.trace", "r");
    expect_true(f && fgets(kept, sizeof kept, f) && strcmp(kept, "old") == 0);
    if (f)
        fclose(f);
}

int main(void)
{
    write_small_workload("cli_tracegen_w.csv", 20);
    test_usage();
    test_bad_workloads();
    test_bad_outputs();
    test_unbounded_inputs();
    test_terminated();
    return test_finish("cli_tracegen");
}
