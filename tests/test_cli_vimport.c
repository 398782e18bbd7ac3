/* test_cli_vimport.c - `vimport` on bad input and bad output places: truncated,
 * empty or garbage pickles, a FIFO or device as a pickle and one over the
 * size limit, RMM logs with a bad row, unreadable inputs, a full
 * disk and device outputs. Each exits 1 naming the file (and line or byte),
 * and no partial trace is left. */
#include <time.h>

#include "test_cli_lib.h"

#define TORCH CLI_DATA "torch_small.pickle"
#define RMM CLI_DATA "rmm_sample.csv"
#define OUT "cli_vimport_x.trace"

static void test_usage(void)
{
    CLI_EXPECT_HELP("vimport", "usage: vimport FORMAT INPUT");
    CLI_EXPECT(2, TEXTS("--capacity", "'0'"), "vimport", "rmm", RMM, "-o", OUT, "--capacity", "0");
    CLI_EXPECT(2, TEXTS("--capacity", "'99999999999T'"), "vimport", "rmm", RMM, "-o", OUT,
               "--capacity", "99999999999T");
    CLI_EXPECT(2, TEXTS("--device applies to torch snapshots only"), "vimport", "rmm", RMM, "-o", OUT,
               "--device", "1");
    CLI_EXPECT(2, TEXTS("--device: expected a device number", "'-1'"), "vimport", "torch", TORCH, "-o",
               OUT, "--device", "-1");
}

static void test_bad_pickles(void)
{
    /* cut inside the first frame, and inside a later one */
    cli_write_prefix("cli_vimport_cut1.pickle", TORCH, 500);
    CLI_EXPECT(1, TEXTS("cli_vimport_cut1.pickle: byte 2: truncated"), "vimport", "torch",
               "cli_vimport_cut1.pickle", "-o", OUT);
    cli_write_prefix("cli_vimport_cut2.pickle", VRAM_RECORDINGS_DIR "/torch_snapshot_medium_ctx128_inference.pickle",
                     100000);
    CLI_EXPECT(1, TEXTS("cli_vimport_cut2.pickle: byte ", "truncated"), "vimport", "torch",
               "cli_vimport_cut2.pickle", "-o", OUT);
    cli_write_file("cli_vimport_empty.pickle", "", 0);
    CLI_EXPECT(1, TEXTS("cli_vimport_empty.pickle: byte 0: truncated"), "vimport", "torch",
               "cli_vimport_empty.pickle", "-o", OUT);
    cli_write_garbage("cli_vimport_garbage.pickle", 3000, 42);
    CLI_EXPECT(1, TEXTS("cli_vimport_garbage.pickle: byte 0:"), "vimport", "torch",
               "cli_vimport_garbage.pickle", "-o", OUT);
    CLI_EXPECT(1, TEXTS("torch_double_free.pickle"), "vimport", "torch",
               CLI_DATA "torch_double_free.pickle", "-o", OUT);
    CLI_EXPECT(1, TEXTS("no trace for device 3"), "vimport", "torch", TORCH, "-o", OUT, "--device", "3");
    expect_true(!cli_exists(OUT) && !cli_exists(OUT ".tmp"));
}

/* A snapshot that is a FIFO with no writer, or a device that never ends: refused
 * at once (within 10 s), naming the file; nothing is written. */
static void test_unbounded_pickles(void)
{
    static const char want_tail[] = ": not a regular file: a pickle is read whole into memory; "
                                    "save it to a file first\n";
    remove("cli_vimport.fifo");
    assert_true(mkfifo("cli_vimport.fifo", 0600) == 0);
    static const char *const inputs[] = {"cli_vimport.fifo", "/dev/zero", "/dev/urandom"};
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        const char *const argv[] = {"vimport", "torch", inputs[i], "-o", OUT, NULL};
        pid_t pid = cli_start(0, argv);
        struct timespec pause = {0, 10 * 1000 * 1000};
        for (int k = 0; k < 1000 && cli_running(pid); k++)
            nanosleep(&pause, NULL);
        if (cli_running(pid)) {
            kill(pid, SIGKILL);
            cli_wait(pid);
            fprintf(stderr, "vimport torch %s still ran after 10 s\n", inputs[i]);
            test_failures++;
            continue;
        }
        expect_eq_u64(cli_wait(pid), 1);
        char want[256];
        snprintf(want, sizeof want, "vimport: %s%s", inputs[i], want_tail);
        if (strcmp(cli_last.err, want) != 0) {
            fprintf(stderr, "vimport torch %s: stderr \"%s\", wanted \"%s\"\n", inputs[i],
                    cli_last.err, want);
            test_failures++;
        }
    }
    remove("cli_vimport.fifo");
    /* above the limit: refused before it is read */
    CLI_EXPECT(1, TEXTS("vimport: " TORCH ": 755 bytes: larger than the limit of 754 bytes on a "
                        "pickle read into memory (--max-pickle raises it)\n"),
               "vimport", "torch", TORCH, "-o", OUT, "--max-pickle", "754");
    expect_true(!cli_exists(OUT) && !cli_exists(OUT ".tmp"));
}

static void test_bad_rmm(void)
{
    CLI_EXPECT(1, TEXTS("bad_rmm_size.csv:3: column 5 (Size)", "'banana'"), "vimport", "rmm",
               CLI_DATA "bad_rmm_size.csv", "-o", OUT);
    CLI_EXPECT(1, TEXTS("bad_rmm_columns.csv:3: expected 6 comma-separated columns"), "vimport", "rmm",
               CLI_DATA "bad_rmm_columns.csv", "-o", OUT);
    CLI_EXPECT(1, TEXTS("bad_rmm_double_free.csv:4: free of 0x7f3a2e000000", "double free"), "vimport",
               "rmm", CLI_DATA "bad_rmm_double_free.csv", "-o", OUT);
    CLI_EXPECT(1, TEXTS("bad_rmm_zero_size.csv:3: size 0"), "vimport", "rmm",
               CLI_DATA "bad_rmm_zero_size.csv", "-o", OUT);
    cli_write_file("cli_vimport_empty.csv", "", 0);
    CLI_EXPECT(1, TEXTS("cli_vimport_empty.csv:1: empty file"), "vimport", "rmm", "cli_vimport_empty.csv",
               "-o", OUT);
    cli_make_dir("cli_vimport_dir.csv");
    CLI_EXPECT(1, TEXTS("cli_vimport_dir.csv: not a regular file"), "vimport", "rmm",
               "cli_vimport_dir.csv", "-o", OUT);
    CLI_EXPECT(1, TEXTS("cli_vimport_missing.csv: cannot open: No such file"), "vimport", "rmm",
               "cli_vimport_missing.csv", "-o", OUT);
    expect_true(!cli_exists(OUT) && !cli_exists(OUT ".tmp"));
}

static void test_bad_outputs(void)
{
    cli_make_dir("cli_vimport_out.dir");
    CLI_EXPECT(1, TEXTS("cli_vimport_out.dir: is a directory"), "vimport", "rmm", RMM, "-o",
               "cli_vimport_out.dir");
    CLI_EXPECT(1, TEXTS("cli_vimport_nodir/x.trace.tmp: cannot write: No such file or directory"),
               "vimport", "rmm", RMM, "-o", "cli_vimport_nodir/x.trace");
    if (cli_make_readonly_dir("cli_vimport_ro"))
        CLI_EXPECT(1, TEXTS("cli_vimport_ro/x.trace.tmp: cannot write: Permission denied"), "vimport",
                   "rmm", RMM, "-o", "cli_vimport_ro/x.trace");
    cli_write_file("cli_vimport_file", "x", 1);
    CLI_EXPECT(1, TEXTS("cli_vimport_file/x.trace.tmp: cannot write: Not a directory"), "vimport", "rmm",
               RMM, "-o", "cli_vimport_file/x.trace");

    /* the output named as the input (or a link to it): refused, the input kept */
    cli_write_prefix("cli_vimport_in.csv", RMM, 200);
    CLI_EXPECT(1, TEXTS("cli_vimport_in.csv: is the input cli_vimport_in.csv"), "vimport", "rmm",
               "cli_vimport_in.csv", "-o", "cli_vimport_in.csv");
    unlink("cli_vimport_in.link");
    assert_true(symlink("cli_vimport_in.csv", "cli_vimport_in.link") == 0);
    CLI_EXPECT(1, TEXTS("cli_vimport_in.link: is the input cli_vimport_in.csv"), "vimport", "rmm",
               "cli_vimport_in.csv", "-o", "cli_vimport_in.link");
    struct stat s;
    expect_true(stat("cli_vimport_in.csv", &s) == 0 && s.st_size == 200);
    cli_write_prefix("cli_vimport_in.pickle", TORCH, 300);
    CLI_EXPECT(1, TEXTS("cli_vimport_in.pickle: is the input"), "vimport", "torch",
               "cli_vimport_in.pickle", "-o", "cli_vimport_in.pickle");
    expect_true(stat("cli_vimport_in.pickle", &s) == 0 && s.st_size == 300);

    cli_link_dev_full("cli_vimport_full.trace");
    CLI_EXPECT(1, TEXTS("cli_vimport_full.trace: cannot write: No space left on device"), "vimport",
               "rmm", RMM, "-o", "cli_vimport_full.trace");
    expect_true(!cli_exists("cli_vimport_full.trace.tmp"));
    if (cli_is_link("cli_vimport_full.trace")) /* else a tool run as root would replace /dev/full */
        CLI_EXPECT(1, TEXTS("/dev/full: cannot write: No space left on device"), "vimport", "rmm", RMM,
                   "-o", "/dev/full");
    else
        expect_true(!"vimport replaced its output link instead of writing through it");

    /* a disk that fills during the import: no partial trace is left */
    CLI_EXPECT_FULL(8, 1, TEXTS(OUT ".tmp: cannot write: File too large"), "vimport", "torch",
                    VRAM_RECORDINGS_DIR "/torch_snapshot_medium_ctx128_inference.pickle", "-o", OUT);
    expect_true(!cli_exists(OUT) && !cli_exists(OUT ".tmp"));
    CLI_EXPECT(0, TEXTS(""), "vimport", "rmm", RMM, "-o", OUT);
    expect_true(cli_exists(OUT) && !cli_exists(OUT ".tmp"));
}

int main(void)
{
    remove(OUT);
    test_usage();
    test_bad_pickles();
    test_unbounded_pickles();
    test_bad_rmm();
    test_bad_outputs();
    return test_finish("cli_vimport");
}
