/* summary.h - the summary table (one row per run) and the before/after
 * comparison, as markdown (summary.md) and HTML (index.html), from one list
 * of metrics so both always show the same numbers. */
#ifndef VREP_SUMMARY_H
#define VREP_SUMMARY_H

#include <stdio.h>

#include "report.h"

/* The summary table: a row per series. O(series). The evictions by kind share
 * one column ("evictions weight/kv/adapter/other", values "0/12/0/3"); the
 * comparison gives each kind its own row. Unknown values (NULL: runs of
 * version-1 traces have no preemption numbers) read "n/a" and are not judged. */
void vrep_summary_md(FILE *f, const vrep_series *s, size_t n);
void vrep_summary_html(FILE *f, const vrep_series *s, size_t n);

/* The comparison, pair by pair: first the settings that differ between the
 * two runs (differ.h), then a row per metric, before / after / delta, the
 * delta marked "worse" or "better": exact figures (bytes, counts, modelled
 * time) on any difference; measured latencies only beyond the run-to-run
 * spread of their repeats (spread.h), the row saying why not otherwise.
 * O(pairs). */
void vrep_compare_md(FILE *f, const vrep_pair *p, size_t n);
void vrep_compare_html(FILE *f, const vrep_pair *p, size_t n);

/* The sentence under the comparison: what is marked and how. */
extern const char vrep_compare_note[];

/* The definitions of every measure the page shows, the same in summary.md (a
 * list) and index.html (<dl id="terms">). */
void vrep_terms_md(FILE *f);
void vrep_terms_html(FILE *f);

/* A version-2 run's preemption mode and what its preemptions moved, for the
 * runs lists: "preemption by recompute: 2.000 MiB dropped, 1 restored"; ""
 * for a run without a mode (version-1 trace). */
void vrep_preempt_text(const vrep_run *r, char *buf, size_t len);

/* Writes `text` with &, <, >, " escaped. */
void vrep_html_text(FILE *f, const char *text);

#endif
