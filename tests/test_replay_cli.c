/* test_replay_cli.c - the `replay` tool's exit status and messages: --help,
 * usage errors (2), a malformed trace and an unwritable or corrupt database
 * (1, with the file named), the option errors (2, naming the bad item), and a
 * good run (0, tables printed, database written). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

#define TOOL VRAM_BINARY_DIR "/bin/replay"
#define DATA VRAM_SOURCE_DIR "/tests/data/"

static char out[1 << 16];

/* Runs the tool with `args`, stdout and stderr into `out`; its exit status. */
static int run(const char *args)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s %s > replay_cli.out 2>&1", TOOL, args);
    int st = system(cmd);
    FILE *f = fopen("replay_cli.out", "r");
    size_t n = f ? fread(out, 1, sizeof out - 1, f) : 0;
    if (f)
        fclose(f);
    out[n] = '\0';
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void expect_run(const char *args, int want_status, const char *want_text)
{
    int got = run(args);
    if (got != want_status || !strstr(out, want_text)) {
        fprintf(stderr, "FAILED: replay %s: exit %d (wanted %d), output lacks \"%s\"?\n%s\n",
                args, got, want_status, want_text, out);
        test_failures++;
    }
}

int main(void)
{
    if (access(TOOL, X_OK) != 0) {
        fprintf(stderr, "FAILED: %s is not built\n", TOOL);
        return 1;
    }
    expect_run("--help", 0, "usage: replay");
    expect_run("", 2, "no TRACE given");
    expect_run("--policy nope " DATA "small.trace", 2, "unknown policy \"nope\"");
    expect_run("--sample-every -3 " DATA "small.trace", 2, "--sample-every");
    expect_run("--defrag sometimes " DATA "small.trace", 2, "--defrag");
    expect_run("--bogus " DATA "small.trace", 2, "--bogus");
    expect_run("a.trace b.trace", 2, "more than one TRACE");
    expect_run("--evict-policy nope " DATA "small.trace", 2, "unknown policy \"nope\"");
    expect_run("--caching-conf max_split_size_mb:abc " DATA "small.trace", 2,
               "--caching-conf: 'max_split_size_mb:abc'");
    expect_run("--caching-conf roundup_power2_divisions:4 " DATA "small.trace", 2,
               "'roundup_power2_divisions:4': key not modelled");
    expect_run("--tensor-cache 1000 " DATA "small.trace", 2, "1000 is not a multiple of 256");
    expect_run("--wide --no-db --policy caching --caching-conf expandable_segments:True " DATA
               "small.trace", 0, "reserved but unallocated at peak");
    expect_true(strstr(out, "Caching settings: \"expandable_segments:True\"") != NULL);
    expect_run("--wide --no-db --policy bestfit --tensor-cache 65536 " DATA "small.trace", 0,
               "Tensor cache: 64.000 KiB");
    expect_run("--no-db --evict-policy lru --policy bestfit " DATA "belady.trace", 0, "| bestfit |");

    expect_run("--no-db " DATA "malformed.trace", 1, "malformed.trace:8:");
    expect_run("--db no-such-dir/x.db " DATA "small.trace", 1, "no-such-dir/x.db");

    FILE *f = fopen("replay_cli_corrupt.db", "w");
    assert_true(f != NULL);
    for (int i = 0; i < 300; i++)
        fputs("not a database at all ", f);
    fclose(f);
    expect_run("--db replay_cli_corrupt.db " DATA "small.trace", 1, "replay_cli_corrupt.db");

    unlink("replay_cli.db");
    unlink("replay_cli.db-wal");
    unlink("replay_cli.db-shm");
    expect_run("--quiet --db replay_cli.db " DATA "small.trace", 0, "| tlsf |");
    expect_true(strstr(out, "peak live bytes") != NULL);
    expect_true(strstr(out, "logged to replay_cli.db") != NULL);
    expect_true(access("replay_cli.db", R_OK) == 0);
    /* the only policy asked for does not apply: nothing ran, a failure saying why (issue 13) */
    expect_run("--no-db --policy pool " DATA "frag.trace", 1, "n/a: pool serves one block size");
    expect_true(strstr(out, "replay: pool: not run: pool serves one block size") != NULL);
    expect_true(strstr(out, "no policy could run") != NULL);
    /* beside a policy that ran, it is shown n/a and the replay succeeds */
    expect_run("--no-db --policy pool,bestfit " DATA "frag.trace", 0,
               "n/a: pool serves one block size");
    expect_run("--no-db --policy tlsf,bestfit " DATA "small.trace", 0, "| bestfit |");
    expect_true(strstr(out, "| tlsf |") != NULL && strstr(out, "| buddy |") == NULL);
    expect_run("--no-db --policy tlsf,nope " DATA "small.trace", 2, "unknown policy \"nope\"");
    return test_finish("replay_cli");
}
