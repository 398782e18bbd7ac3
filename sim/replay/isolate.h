/* isolate.h - a replay in a child process (`replay --isolate`): a plugin that
 * crashes or hangs ends its own run as failed, with the trace line of the
 * event it was replaying, and the bench goes on with the other policies.
 *
 * The child is a fork of the caller: it opens its own connection to the
 * results database (the caller's must have no open transaction, which holds
 * between runs: vdb_run_end commits), runs vreplay_run with the position
 * shared with the parent (replay.h, vreplay_position) and sends its status and
 * result back through a pipe. The parent waits and watches: a child that ends
 * without a result (a signal, or an exit from inside the plugin: abort(),
 * exit(), a sanitizer's report) or makes no progress for timeout_s seconds
 * (then it is killed with SIGKILL) gives a failed run: the message names the
 * file:line, the plugin and what happened; the parent logs an "error" event
 * at that line and marks the run row failed through opt->db. Interrupting
 * (opt->stop) is the child's business; a child that does not end within
 * timeout_s of it is killed and the run is interrupted.
 *
 * Cost: one fork and one database open per run, and two stores per event. */
#ifndef VSIM_ISOLATE_H
#define VSIM_ISOLATE_H

#include "replay.h"

/* As vreplay_run, in a child process. db_path: the database the child opens
 * (NULL: nothing is logged), with `batch` rows per transaction (0: the
 * default); opt->db is the caller's connection to it, used only to mark a run
 * the child could not finish. timeout_s: the longest the child may go without
 * replaying an event (0: no limit). Returns what vreplay_run returned in the
 * child, VRAM_OK for a run the child could not finish (out->status failed,
 * interrupted), or VRAM_ENOHOST/VRAM_EIO when the child could not be
 * started or the database could not be written. */
vram_status vreplay_run_isolated(const vreplay_options *opt, const char *db_path, unsigned batch,
                                 unsigned timeout_s, vreplay_result *out);

#endif
