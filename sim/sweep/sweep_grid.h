/* sweep_grid.h - a sweep's grid: the tool each run runs (replay or serve), the
 * axes (inputs x policies x capacities x caching settings x KV styles x block
 * sizes ...), their values checked before anything runs, and the runs the
 * grid expands to, each one command line of the tool (docs/SWEEPS.md).
 *
 * A tool is one entry of vsweep_tools: its program, how it takes its input
 * (an operand or an option), what silences its progress, how an input is
 * checked before anything runs, and which runs of its policies do not apply.
 * An axis is one entry of vsweep_axes: its name, the option that carries a
 * value (the same in the sweep and the tool; none for the input), whether one
 * sweep option holds a comma-separated list, the tools it applies to, the
 * check that turns a value into what the tool is given, the word for the
 * tool's default, and the value of an earlier axis it is tied to, if any (the
 * caching settings vary the caching policy's runs only, the block sizes the
 * paged KV style's: the other runs take the tool's default), and whether it
 * varies only the runs over a trace with a prefix cache (the prefix cache's
 * capacity and policy: the replay ignores them elsewhere). Adding an axis is
 * one entry here and one in vsweep_axis_id: the sweep's option is made from
 * the entry (sim/cmd/sweep.c), only its --help lines are written by hand. */
#ifndef VSIM_SWEEP_GRID_H
#define VSIM_SWEEP_GRID_H

#include <stddef.h>
#include <stdint.h>

typedef enum vsweep_tool_id {
    VSWEEP_REPLAY, /* the default: a zeroed grid sweeps replays */
    VSWEEP_SERVE,
    VSWEEP_TOOLS
} vsweep_tool_id;

typedef enum vsweep_axis_id {
    VSWEEP_INPUT, /* the traces of a replay sweep, the workloads of a serve sweep */
    VSWEEP_POLICY,
    VSWEEP_CAPACITY,
    VSWEEP_CACHING_CONF,
    VSWEEP_ENGINE,
    VSWEEP_BLOCK_TOKENS,
    VSWEEP_CAPACITY_GIB,
    VSWEEP_PREFIX_BLOCKS,
    VSWEEP_PREFIX_POLICY,
    VSWEEP_AXES
} vsweep_axis_id;

/* The axes a tool takes, as a mask of (1u << tool id). */
#define VSWEEP_FOR(t) (1u << (t))

typedef struct vsweep_grid vsweep_grid;

/* What the grid learns of one input before anything runs. */
typedef struct vsweep_input {
    uint64_t kv_block_bytes; /* replay: the trace's KV block (0: none) */
    int prefix;              /* replay: its header has the prefix cache's keys
                                (kv_block_tokens, prefix_segment_tokens; traces/FORMAT.md) */
} vsweep_input;

typedef struct vsweep_tool {
    const char *name;         /* --tool's value, and the program beside the sweep: "replay" */
    const char *input;        /* what an input is, in messages and labels: "trace" */
    const char *inputs;       /* "traces" */
    const char *input_option; /* the option carrying the input; NULL: the last operand */
    const char *quiet[3];     /* the options that silence its progress, NULL-ended */
    const char *const *policies; /* its built-in policies, NULL-ended: what "all" means */
    int plugins;              /* 1: plugin:PATH[:NAME] policies too */
    /* Checks one input before anything runs and fills *info; 0 with why. */
    int (*check_input)(const char *path, vsweep_input *info, char *why, size_t whylen);
    /* Whether the run with these value indexes over an input with `info`
     * cannot run (pool where it does not apply); left_out_note says which,
     * before the inputs' names. */
    int (*left_out)(const vsweep_grid *g, const size_t *idx, const vsweep_input *info);
    const char *left_out_note;
} vsweep_tool;

extern const vsweep_tool vsweep_tools[VSWEEP_TOOLS];

/* Checks one value as given and writes what the tool is given to out (len
 * bytes); 0 with why (naming the value) when it is not one. */
typedef int (*vsweep_check_fn)(const vsweep_tool *t, const char *text, char *out, size_t len,
                               char *why, size_t whylen);

typedef struct vsweep_axis {
    const char *name;        /* in messages and run labels: "policy"; NULL: the tool's input */
    const char *plural;      /* "policies" */
    const char *option;      /* the sweep's option, and the tool's: "--policy"; NULL: the input */
    int list;                /* 1: one option holds a comma-separated list; 0: one value each */
    unsigned tools;          /* VSWEEP_FOR(tool) of the tools it applies to */
    vsweep_axis_id tied;     /* with tied_value: the earlier axis whose value it varies with */
    const char *tied_value;  /* the runs with this value of `tied` only; NULL: every run */
    const char *tool_default; /* the word for the tool's default (no option given): every
                                 axis but the input and the policy has one, and runs with it
                                 when given no value (or when it does not apply to the tool) */
    vsweep_check_fn check;   /* NULL: the value as given */
    int prefix_only;         /* 1: varies only the runs over an input with a prefix cache
                                (vsweep_input.prefix); the others take the tool's default */
} vsweep_axis;

extern const vsweep_axis vsweep_axes[VSWEEP_AXES];

/* Invariant: every value of an axis has passed its check and differs from the
 * axis' other values; a NULL value is the tool's default (no option). After
 * vsweep_grid_finish, every axis has at least one value (an axis the tool
 * does not take: only NULL), input[] what each input's check found, and
 * points[] holds the runs: per run, one value index per axis, an axis that
 * does not vary the run at index 0 (its value for the run is then the tool's
 * default, whatever values[0] is): one tied to a value its tied axis does not
 * have in the run, or a prefix-only axis over an input without a prefix
 * cache. An axis is tied only to an earlier one, so one pass in axis order
 * settles every tie. */
struct vsweep_grid {
    vsweep_tool_id tool; /* set before the first vsweep_grid_add */
    char **values[VSWEEP_AXES];
    size_t n[VSWEEP_AXES];
    vsweep_input *input; /* per value of VSWEEP_INPUT, after vsweep_grid_finish */
    size_t (*points)[VSWEEP_AXES];
    size_t npoints;
};

/* The most runs one grid may expand to. */
#define VSWEEP_MAX_RUNS 100000u

/* The name of axis a in the grid's messages ("trace", "workload" for the
 * input); whether the grid's tool takes it. */
const char *vsweep_axis_name(const vsweep_grid *g, vsweep_axis_id a, int plural);
int vsweep_axis_applies(const vsweep_grid *g, vsweep_axis_id a);

/* Adds the values of one option (split at commas for a list axis; "all" on
 * the policy axis is every built-in policy of the tool; a plugin:PATH[:NAME]
 * policy is loaded once to check it). 0 ok; -1 with why ("--capacity: ...")
 * for an axis the tool does not take, a value its check refuses, one already
 * given, or no memory: the items of the list before the one refused stay
 * added (the sweep stops on a refusal). */
int vsweep_grid_add(vsweep_grid *g, vsweep_axis_id axis, const char *text, char *why,
                    size_t whylen);

/* Completes the grid once every option is added: an axis without values gets
 * the tool's default (the policy axis: every built-in policy); checks every
 * input (the tool's check_input: a trace's header, a workload's file), that
 * an axis tied to a value has it in the grid and that a prefix-only axis
 * given values has an input with a prefix cache; expands the points (the runs
 * the tool's left_out refuses are left out and named in note, "" when none).
 * 0 ok; -1 with why. Cost: one header read per trace. */
int vsweep_grid_finish(vsweep_grid *g, char *note, size_t notelen, char *why, size_t whylen);

/* The value of `axis` at run k: NULL for the tool's default (also for an
 * axis tied to a value the run does not have). */
const char *vsweep_grid_value(const vsweep_grid *g, size_t k, vsweep_axis_id axis);

/* "trace small.trace, policy tlsf, capacity 68719476736": run k's values, the
 * tool's defaults left out. */
void vsweep_grid_label(const vsweep_grid *g, size_t k, char *out, size_t len);

/* "2 traces x 3 policies x 2 capacities": the sizes of the tool's axes, but
 * a prefix-only axis left at the tool's default (most traces have no prefix
 * cache: the shape would only grow "x 1 prefix-policy"). */
void vsweep_grid_shape(const vsweep_grid *g, char *out, size_t len);

/* The most argv entries vsweep_grid_argv writes beside the extra ones: the
 * program, an option and value per axis, --db and its value, two quiet
 * options, the terminating NULL. */
#define VSWEEP_ARGV_FIXED (2 * VSWEEP_AXES + 6)

/* Run k's command: argv[] = {program, the input's option and value (serve),
 * each axis' option and value but the tool's defaults', "--db", db, the quiet
 * options, extra[0..nextra), the input (replay), NULL}, pointing into g and
 * the arguments (nothing copied); argv has room for VSWEEP_ARGV_FIXED +
 * nextra entries. Its entry count, NULL excluded. */
size_t vsweep_grid_argv(const vsweep_grid *g, size_t k, const char *program, const char *db,
                        char *const *extra, size_t nextra, const char **argv);

void vsweep_grid_free(vsweep_grid *g);

#endif
