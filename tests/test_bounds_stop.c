/* test_bounds_stop.c - vbounds_compute_stop (issue 13, item 2): a stop flag
 * (a signal handler's) ends the bounds pass after the event at which it is
 * seen, in either pass, with VRAM_EBUSY and the line in the message, and the
 * next-use scan between the passes stops on it too; without a flag, or with
 * one never set, the figures are vbounds_compute's. */
#include <signal.h>
#include <string.h>

#include "bounds.h"
#include "nextuse.h"
#include "testlib.h"

#define TRACE VRAM_SOURCE_DIR "/traces/llama70b-contig.trace"

int main(void)
{
    vbounds a, b;
    char err[512];
    assert_ok(vbounds_compute(TRACE, 0, 1, &a, err, sizeof err));
    volatile sig_atomic_t stop = 0;
    assert_ok(vbounds_compute_stop(TRACE, 0, 1, &stop, &b, err, sizeof err));
    expect_true(memcmp(&a, &b, sizeof a) == 0);
    assert_ok(vbounds_compute_stop(TRACE, 0, 1, NULL, &b, err, sizeof err));
    expect_true(memcmp(&a, &b, sizeof a) == 0);

    /* set before the pass: it stops after the first event (the header's lines before it) */
    stop = SIGINT;
    for (int belady = 0; belady < 2; belady++) {
        expect_status(vbounds_compute_stop(TRACE, 0, belady, &stop, &b, err, sizeof err),
                      VRAM_EBUSY);
        expect_true(strstr(err, "llama70b-contig.trace:") != NULL);
        expect_true(strstr(err, ": the bounds pass was stopped (a signal)") != NULL);
        expect_true(!b.belady_done);
    }

    /* between the passes: the next-use scan stops within a chunk of references */
    vnextuse *n;
    assert_ok(vnextuse_create(&n));
    for (uint64_t i = 0; i < 50000; i++)
        assert_ok(vnextuse_log(n, i % 100, i + 1, i < 100));
    vnextuse_set_stop(n, &stop);
    expect_status(vnextuse_finish(n), VRAM_EBUSY);
    vnextuse_destroy(n);
    return test_finish("bounds_stop");
}
