/* paths.h - where a trace is, stored so that it can be found again: its
 * absolute path, and its path relative to the results database's directory
 * (still right when the database and the trace move together). */
#ifndef VSIM_PATHS_H
#define VSIM_PATHS_H

#include <stddef.h>

/* The absolute, symlink-free path of `file` into abs and its path from the
 * directory of `db_file` into rel ("../traces/x.trace"); 1, or 0 with both ""
 * when either does not resolve (a missing file) or does not fit in len. */
int vsim_trace_paths(const char *file, const char *db_file, char *abs, char *rel, size_t len);

/* The directory part of `path` ("." for a bare name) into buf. */
void vsim_dir_of(const char *path, char *buf, size_t len);

#endif
