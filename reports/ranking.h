/* ranking.h - the report's verdict: its runs ranked for the workload, each
 * with one sentence of why (sim/replay/verdict.h), at the top of summary.md and
 * index.html. */
#ifndef VREP_RANKING_H
#define VREP_RANKING_H

#include <stdio.h>

#include "report.h"

/* A numbered Markdown list, then the ranking rule. O(n^2). */
void vrep_ranking_md(FILE *f, const vrep_series *s, size_t n);
/* <ol id="verdict"> with one <li> per run, then the rule. O(n^2). */
void vrep_ranking_html(FILE *f, const vrep_series *s, size_t n);

#endif
