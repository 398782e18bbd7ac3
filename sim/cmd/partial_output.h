/* partial_output.h - for the tools that write OUT.tmp and rename it over OUT
 * at the end (tracegen, vimport): a SIGINT, SIGTERM or SIGHUP before the end
 * removes the partial OUT.tmp, then ends the process as the signal would have.
 * OUT itself is never touched. One tool, one output: the state is the tool's
 * (a signal handler can only reach static storage). */
#ifndef VSIM_PARTIAL_OUTPUT_H
#define VSIM_PARTIAL_OUTPUT_H

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "trace.h"

static char partial_path[4096];              /* the OUT.tmp a signal removes */
static volatile sig_atomic_t partial_armed;  /* 1 while partial_path may exist */

static void partial_on_signal(int sig)
{
    if (partial_armed)
        unlink(partial_path);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Arms the removal for the file the library writes for `out` (vtrace_output:
 * OUT.tmp, or nothing when OUT is written in place). Call before the run. */
static void partial_output_arm(const char *out)
{
    vtrace_output o;
    if (vtrace_output_begin(out, &o, NULL, 0) != VRAM_OK)
        return; /* the run reports it */
    const int staged = o.write_path != o.final && strlen(o.write_path) < sizeof partial_path;
    if (staged)
        memcpy(partial_path, o.write_path, strlen(o.write_path) + 1);
    vtrace_output_abort(&o);
    if (!staged)
        return;
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction sa, old;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = partial_on_signal;
        sigemptyset(&sa.sa_mask);
        /* a signal the shell had ignored (a background job's SIGINT) stays ignored */
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN)
            sigaction(sigs[i], &sa, NULL);
    }
    partial_armed = 1;
}

/* The run is over (OUT.tmp renamed or removed): a signal now just ends the process. */
static void partial_output_disarm(void)
{
    partial_armed = 0;
}

#endif
