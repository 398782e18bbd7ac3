/* test_db_writers.c - concurrent writers into one results database (issue 13,
 * item 1; docs/RELIABILITY.md, "Concurrent writers"): WRITERS replays started
 * together into one file, half with small batches (many short write
 * transactions), all exit 0, and every run of every writer is there,
 * complete and marked "ok", with the same rows as its policy's runs in the
 * other writers; the runs overlapped in time (the writers did contend), and
 * the file passes PRAGMA integrity_check. */
#include <sqlite3.h>
#include <time.h>

#include "test_cli_lib.h"
#include "test_db_lib.h"

#define DB "db_writers.db"
#define WRITERS 8
#define POLICIES "bestfit,buddy,tlsf"
#define NPOLICIES 3
#define TRACE VRAM_SOURCE_DIR "/traces/llama70b-contig.trace"

static uint64_t ms_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

/* The output files of writer i (cli_start's are per process, not per child). */
static void paths(int i, char out[64], char err[64])
{
    snprintf(out, 64, "db_writers_%d.out", i);
    snprintf(err, 64, "db_writers_%d.err", i);
}

static pid_t start_writer(int i)
{
    char out[64], err[64];
    paths(i, out, err);
    const char *batch = i % 2 ? "64" : "4096";
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int n = open("/dev/null", O_RDONLY);
        if (o < 0 || e < 0 || n < 0)
            _exit(126);
        dup2(n, 0);
        dup2(o, 1);
        dup2(e, 2);
        execl(CLI_BIN "replay", "replay", "--quiet", "--no-belady", "--policy", POLICIES,
              "--sample-every", "5", "--batch", batch, "--db", DB, TRACE, (char *)NULL);
        _exit(127);
    }
    return pid;
}

int main(void)
{
    test_remove_db(DB);
    uint64_t t0 = ms_now();
    pid_t pids[WRITERS];
    for (int i = 0; i < WRITERS; i++)
        pids[i] = start_writer(i);
    for (int i = 0; i < WRITERS; i++) {
        int st;
        assert_true(waitpid(pids[i], &st, 0) == pids[i]);
        char out[64], err[64];
        paths(i, out, err);
        static char text[CLI_OUT_MAX];
        cli_slurp(err, text);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || strstr(text, "locked")) {
            fprintf(stderr, "FAILED: writer %d: exit %d; stderr:\n%s\n", i,
                    WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), text);
            test_failures++;
        }
        cli_slurp(out, text);
        expect_true(strstr(text, "logged to " DB) != NULL);
        remove(out);
        remove(err);
    }
    printf("db_writers: %d writers x %d policies in %llu ms\n", WRITERS, NPOLICIES,
           (unsigned long long)(ms_now() - t0));

    sqlite3 *q = test_open_db(DB);
    expect_eq_u64(test_q1(q, "SELECT count(*) FROM runs"), WRITERS * NPOLICIES);
    expect_eq_u64(test_q1(q, "SELECT count(*) FROM runs WHERE status = 'ok' AND ended IS NOT NULL"),
                  WRITERS * NPOLICIES);
    /* every run complete: its policy's sample count, 5 latency summaries, bounds */
    expect_eq_u64(test_q1(q, "SELECT count(*) FROM (SELECT r.policy, count(DISTINCT"
                             " (SELECT count(*) FROM samples s WHERE s.run_id = r.id)) AS k"
                             " FROM runs r GROUP BY r.policy) WHERE k != 1"),
                  0);
    expect_eq_u64(test_q1(q, "SELECT count(*) FROM runs r WHERE (SELECT count(*) FROM samples s"
                             " WHERE s.run_id = r.id) < 1000"),
                  0);
    expect_eq_u64(test_q1(q, "SELECT count(*) FROM runs r WHERE (SELECT count(*) FROM"
                             " latency_summary l WHERE l.run_id = r.id) != 5"),
                  0);
    expect_eq_u64(test_q1(q, "SELECT count(*) FROM runs r WHERE (SELECT count(*) FROM bounds b"
                             " WHERE b.run_id = r.id) != 1"),
                  0);
    int64_t overlapping = test_q1(q, "SELECT count(*) FROM runs a JOIN runs b ON a.id < b.id"
                                     " AND a.started < b.ended AND b.started < a.ended");
    printf("db_writers: %lld pairs of runs overlapped in time\n", (long long)overlapping);
    expect_true(overlapping > 0);
    sqlite3_stmt *s;
    assert_true(sqlite3_prepare_v2(q, "PRAGMA integrity_check", -1, &s, NULL) == SQLITE_OK);
    expect_true(sqlite3_step(s) == SQLITE_ROW &&
                strcmp((const char *)sqlite3_column_text(s, 0), "ok") == 0);
    sqlite3_finalize(s);
    sqlite3_close(q);
    test_remove_db(DB);
    return test_finish("db_writers");
}
