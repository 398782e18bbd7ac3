/* summary.h - the summary table (one row per run) and the before/after
 * comparison, as markdown (summary.md) and HTML (index.html), from one list
 * of metrics so both always show the same numbers. */
#ifndef VREP_SUMMARY_H
#define VREP_SUMMARY_H

#include <stdio.h>

#include "report.h"

/* The summary table: a row per series. O(series). */
void vrep_summary_md(FILE *f, const vrep_series *s, size_t n);
void vrep_summary_html(FILE *f, const vrep_series *s, size_t n);

/* The comparison: a row per metric and pair, before / after / delta, the
 * delta marked "worse" when the after run is worse (latencies: more than
 * VREP_WORSE_LATENCY higher, as they are bucketed and noisy; others: any
 * increase). O(pairs). */
#define VREP_WORSE_LATENCY 0.10
void vrep_compare_md(FILE *f, const vrep_pair *p, size_t n);
void vrep_compare_html(FILE *f, const vrep_pair *p, size_t n);

/* Bytes as people read them: "512 B", else 3 decimals of the largest unit
 * (KiB, MiB, GiB, TiB) that leaves at least 1. */
void vrep_fmt_bytes(double v, char *buf, size_t len);

/* Writes `text` with &, <, >, " escaped. */
void vrep_html_text(FILE *f, const char *text);

#endif
