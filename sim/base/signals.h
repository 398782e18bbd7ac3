/* signals.h - how the tools stop on SIGINT, SIGTERM and SIGHUP: the signal's
 * number goes to a flag the caller polls (the replay after every event, the
 * bounds pass, the database's wait, the report's phases), so that what was
 * started is marked before the exit. */
#ifndef VSIM_SIGNALS_H
#define VSIM_SIGNALS_H

#include <signal.h>

/* Installs the handler: the first of the three signals stores its number in
 * *flag (0 until then). The handler stays in place (no SA_RESETHAND): a second
 * signal (timeout(1) signals the whole process group; Ctrl-C twice) changes
 * nothing. A signal the shell ignored (nohup, a background job) stays
 * ignored. One flag per process: a later call replaces it. */
void vsim_catch_signals(volatile sig_atomic_t *flag);
/* "SIGINT", "SIGTERM", "SIGHUP", or "a signal". */
const char *vsim_signal_name(int sig);

#endif
