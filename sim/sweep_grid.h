/* sweep_grid.h - a sweep's grid: the axes (traces x policies x capacities x
 * caching settings ...), their values checked before anything runs, and the
 * runs the grid expands to, each one replay command line (docs/SWEEPS.md).
 *
 * An axis is one entry of vsweep_axes: its name, the replay option that
 * carries a value (the TRACE operand for the trace axis), whether one sweep
 * option holds a comma-separated list, the check that turns a value into what
 * the replay is given, and the one policy the axis varies, if any (the caching
 * settings vary the caching policy's runs only: the other policies run once
 * with the replay's default). Adding an axis is one entry here and one in
 * vsweep_axis_id: the sweep's option is made from the entry (sim/cmd/sweep.c),
 * only its --help lines are written by hand. */
#ifndef VSIM_SWEEP_GRID_H
#define VSIM_SWEEP_GRID_H

#include <stddef.h>

typedef enum vsweep_axis_id {
    VSWEEP_TRACE,
    VSWEEP_POLICY,
    VSWEEP_CAPACITY,
    VSWEEP_CACHING_CONF,
    VSWEEP_AXES
} vsweep_axis_id;

/* Checks one value as given and writes what the replay is given to out (len
 * bytes); 0 with why (naming the value) when it is not one. */
typedef int (*vsweep_check_fn)(const char *text, char *out, size_t len, char *why, size_t whylen);

typedef struct vsweep_axis {
    const char *name;        /* in messages and run labels: "policy" */
    const char *plural;      /* "policies" */
    const char *option;      /* the sweep's option, and the replay's: "--policy"; NULL: operands */
    int list;                /* 1: one option holds a comma-separated list; 0: one value each */
    const char *only_policy; /* the one policy whose runs the axis varies, NULL: every policy */
    const char *replay_default; /* the word for the replay's default (no option given): every
                                   axis but trace and policy has one, and runs with it when
                                   given no value */
    vsweep_check_fn check;   /* NULL: the value as given */
} vsweep_axis;

extern const vsweep_axis vsweep_axes[VSWEEP_AXES];

/* Invariant: every value of an axis has passed its check and differs from the
 * axis' other values; a NULL value is the replay's default (no option). After
 * vsweep_grid_finish, every axis has at least one value and points[] holds the
 * runs: per run, one value index per axis, an axis that does not vary the
 * run's policy at index 0 (its value for the run is then the replay's
 * default, whatever values[0] is). */
typedef struct vsweep_grid {
    char **values[VSWEEP_AXES];
    size_t n[VSWEEP_AXES];
    size_t (*points)[VSWEEP_AXES];
    size_t npoints;
} vsweep_grid;

/* The most runs one grid may expand to. */
#define VSWEEP_MAX_RUNS 100000u

/* Adds the values of one option (split at commas for a list axis; "all" on
 * the policy axis is every built-in policy; a plugin:PATH[:NAME] policy is
 * loaded once to check it). 0 ok; -1 with why ("--capacity: ...") for a value
 * its check refuses, one already given, or no memory: the items of the list
 * before the one refused stay added (the sweep stops on a refusal). */
int vsweep_grid_add(vsweep_grid *g, vsweep_axis_id axis, const char *text, char *why,
                    size_t whylen);

/* Completes the grid once every option is added: an axis without values gets
 * the replay's default (the policy axis: every built-in policy); checks every
 * trace (a regular file whose header reads: the reader's FILE:LINE message
 * otherwise) and that an axis tied to one policy has it in the grid; expands
 * the points (the pool policy only over traces with KV blocks: the others are
 * left out and named in note, "" when none). 0 ok; -1 with why. Cost: one
 * header read per trace. */
int vsweep_grid_finish(vsweep_grid *g, char *note, size_t notelen, char *why, size_t whylen);

/* The value of `axis` at run k: NULL for the replay's default (also for an
 * axis that does not vary the run's policy). */
const char *vsweep_grid_value(const vsweep_grid *g, size_t k, vsweep_axis_id axis);

/* "trace small.trace, policy tlsf, capacity 68719476736": run k's values, the
 * replay's defaults left out. */
void vsweep_grid_label(const vsweep_grid *g, size_t k, char *out, size_t len);

/* "2 traces x 3 policies x 2 capacities": the axes' sizes. */
void vsweep_grid_shape(const vsweep_grid *g, char *out, size_t len);

/* The most argv entries vsweep_grid_argv writes beside the extra ones. */
#define VSWEEP_ARGV_FIXED (2 * VSWEEP_AXES + 4)

/* Run k's replay command: argv[] = {replay, each axis' option and value but
 * the replay's defaults', "--db", db, "--quiet", extra[0..nextra), TRACE,
 * NULL}, pointing into g and the arguments (nothing copied); argv has room
 * for VSWEEP_ARGV_FIXED + nextra entries. Its entry count, NULL excluded. */
size_t vsweep_grid_argv(const vsweep_grid *g, size_t k, const char *replay, const char *db,
                        char *const *extra, size_t nextra, const char **argv);

void vsweep_grid_free(vsweep_grid *g);

#endif
