/* tracefind.h - the trace a run replayed, found again for its heap maps:
 * the path as replay was given it (from the report's directory), then the
 * absolute path the database recorded, then the recorded path from the
 * database's directory (the database and the trace moved together), each
 * taken only with the CRC-32 the run recorded. */
#ifndef VREP_TRACEFIND_H
#define VREP_TRACEFIND_H

#include <stddef.h>

#include "report.h"

/* 1 with the path found in `path`; 0 with the reason in `path` ("the trace
 * x.trace is not at x.trace, /abs/x.trace or DBDIR/../x.trace", "... has
 * changed since the run (CRC-32 ...)"). Cost: a read of each candidate. */
int vrep_trace_find(const vrep_series *s, char *path, size_t len);

#endif
