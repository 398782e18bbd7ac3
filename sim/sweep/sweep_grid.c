/* sweep_grid.c - a sweep's tools, axes, their values and the runs they
 * expand to (sweep_grid.h). */
#include "sweep_grid.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine.h"
#include "plugin.h"
#include "serve.h"
#include "trace.h"
#include "vram/caching.h"
#include "vram/heap.h"
#include "vram/prefix_cache.h"

/* A byte count: decimal, optionally with KiB, MiB, GiB or TiB; 1 to 2^63-1
 * bytes (traces/FORMAT.md's capacities), written in decimal bytes. */
static int check_capacity(const vsweep_tool *t, const char *text, char *out, size_t len,
                          char *why, size_t whylen)
{
    (void)t;
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    char *end;
    errno = 0;
    uint64_t v = strtoull(text, &end, 10);
    int shift = 0;
    for (int i = 0; i < 4 && *end; i++)
        if (strcmp(end, units[i]) == 0)
            shift = 10 * (i + 1), end += 3;
    if (errno || !isdigit((unsigned char)text[0]) || *end) {
        snprintf(why, whylen, "--capacity: \"%s\" is not a byte count (a decimal number,"
                              " optionally with KiB, MiB, GiB or TiB), nor \"trace\"", text);
        return 0;
    }
    if (v == 0 || v > ((uint64_t)INT64_MAX >> shift)) {
        snprintf(why, whylen, "--capacity: %s is not a device size (1 to 2^63-1 bytes)", text);
        return 0;
    }
    snprintf(out, len, "%" PRIu64, v << shift);
    return 1;
}

/* PYTORCH_CUDA_ALLOC_CONF syntax, as the replay's --caching-conf reads it. */
static int check_caching_conf(const vsweep_tool *t, const char *text, char *out, size_t len,
                              char *why, size_t whylen)
{
    (void)t;
    vram_caching_options o;
    char msg[256] = "";
    if (vram_caching_options_parse(text, &o, msg, sizeof msg)) {
        snprintf(why, whylen, "--caching-conf: \"%s\": %s", text, msg[0] ? msg : "not valid");
        return 0;
    }
    snprintf(out, len, "%s", text);
    return 1;
}

/* One of the tool's built-in policies, or (replay) a plugin spec that loads
 * (the replay loads it again). */
static int check_policy(const vsweep_tool *t, const char *text, char *out, size_t len,
                        char *why, size_t whylen)
{
    snprintf(out, len, "%s", text);
    if (t->plugins && vplugin_is_spec(text)) {
        char msg[1024];
        vplugin *p = NULL;
        if (vplugin_open(text, &p, msg, sizeof msg)) {
            snprintf(why, whylen, "--policy: %s", msg);
            return 0;
        }
        vplugin_close(p);
        return 1;
    }
    for (const char *const *q = t->policies; *q; q++)
        if (strcmp(*q, text) == 0)
            return 1;
    int w = snprintf(why, whylen, "--policy: unknown policy \"%s\" (one of:", text);
    for (const char *const *q = t->policies; *q && w > 0 && (size_t)w < whylen; q++)
        w += snprintf(why + w, whylen - (size_t)w, " %s", *q);
    if (w > 0 && (size_t)w < whylen)
        snprintf(why + w, whylen - (size_t)w, ", all%s)", t->plugins ? ", or plugin:PATH[:NAME]"
                                                                     : "");
    return 0;
}

/* A KV reservation style of serve's --engine (sim/engine/engine.h). */
static int check_engine(const vsweep_tool *t, const char *text, char *out, size_t len,
                        char *why, size_t whylen)
{
    (void)t;
    vengine_kv_style s;
    if (vengine_kv_parse(text, &s)) {
        snprintf(why, whylen, "--engine: unknown KV style \"%s\" (one of: paged, contiguous,"
                              " max, pow2, oracle)", text);
        return 0;
    }
    snprintf(out, len, "%s", vengine_kv_name(s));
    return 1;
}

/* A count of 1 to max, written in decimal; `deflt` is the axis' word for the
 * tool's default, for the message. */
static int check_count(const char *option, uint64_t max, const char *deflt, const char *text,
                       char *out, size_t len, char *why, size_t whylen)
{
    char *end;
    errno = 0;
    uint64_t v = strtoull(text, &end, 10);
    if (errno || !isdigit((unsigned char)text[0]) || *end || v == 0 || v > max) {
        snprintf(why, whylen, "%s: \"%s\" is not a count of 1 to %" PRIu64 ", nor \"%s\"",
                 option, text, max, deflt);
        return 0;
    }
    snprintf(out, len, "%" PRIu64, v);
    return 1;
}

/* serve's --block-tokens (a u32) and --capacity-gib (at most 2^30: sim/engine/engine_cli.c). */
static int check_block_tokens(const vsweep_tool *t, const char *text, char *out, size_t len,
                              char *why, size_t whylen)
{
    (void)t;
    return check_count("--block-tokens", UINT32_MAX, "default", text, out, len, why, whylen);
}

static int check_capacity_gib(const vsweep_tool *t, const char *text, char *out, size_t len,
                              char *why, size_t whylen)
{
    (void)t;
    return check_count("--capacity-gib", UINT64_C(1) << 30, "default", text, out, len, why,
                       whylen);
}

/* The replay's --prefix-cache-blocks (sim/cmd/replay.c: 1 to VRAM_PREFIX_MAX_BLOCKS). */
static int check_prefix_blocks(const vsweep_tool *t, const char *text, char *out, size_t len,
                               char *why, size_t whylen)
{
    (void)t;
    return check_count("--prefix-cache-blocks", VRAM_PREFIX_MAX_BLOCKS, "trace", text, out, len,
                       why, whylen);
}

/* A prefix cache eviction policy (vram/prefix_cache.h). */
static int check_prefix_policy(const vsweep_tool *t, const char *text, char *out, size_t len,
                               char *why, size_t whylen)
{
    (void)t;
    snprintf(out, len, "%s", text);
    if (vram_prefix_policy(text))
        return 1;
    int w = snprintf(why, whylen, "--prefix-policy: unknown prefix policy \"%s\" (one of:", text);
    for (const char *const *q = vram_prefix_policy_names; *q && w > 0 && (size_t)w < whylen; q++)
        w += snprintf(why + w, whylen - (size_t)w, " %s", *q);
    if (w > 0 && (size_t)w < whylen)
        snprintf(why + w, whylen - (size_t)w, ")");
    return 0;
}

#define REPLAY VSWEEP_FOR(VSWEEP_REPLAY)
#define SERVE VSWEEP_FOR(VSWEEP_SERVE)
const vsweep_axis vsweep_axes[VSWEEP_AXES] = {
    [VSWEEP_INPUT] = {NULL, NULL, NULL, 0, REPLAY | SERVE, 0, NULL, NULL, NULL, 0},
    [VSWEEP_POLICY] = {"policy", "policies", "--policy", 1, REPLAY | SERVE, 0, NULL, NULL,
                       check_policy, 0},
    [VSWEEP_CAPACITY] = {"capacity", "capacities", "--capacity", 1, REPLAY, 0, NULL, "trace",
                         check_capacity, 0},
    [VSWEEP_CACHING_CONF] = {"caching-conf", "caching-confs", "--caching-conf", 0, REPLAY,
                             VSWEEP_POLICY, "caching", "trace", check_caching_conf, 0},
    /* serve's default style is paged (sim/engine/engine.c's vengine_defaults) */
    [VSWEEP_ENGINE] = {"engine", "engines", "--engine", 1, SERVE, 0, NULL, "paged",
                       check_engine, 0},
    [VSWEEP_BLOCK_TOKENS] = {"block-tokens", "block-tokens", "--block-tokens", 1, SERVE,
                             VSWEEP_ENGINE, "paged", "default", check_block_tokens, 0},
    [VSWEEP_CAPACITY_GIB] = {"capacity-gib", "capacity-gibs", "--capacity-gib", 1, SERVE, 0,
                             NULL, "default", check_capacity_gib, 0},
    /* the replay's defaults: the trace's prefix_cache_blocks, and vllm
     * (vram_prefix_policy_names[0], sim/replay/replay_prefix.c) */
    [VSWEEP_PREFIX_BLOCKS] = {"prefix-cache-blocks", "prefix-cache-blocks",
                              "--prefix-cache-blocks", 1, REPLAY, 0, NULL, "trace",
                              check_prefix_blocks, 1},
    [VSWEEP_PREFIX_POLICY] = {"prefix-policy", "prefix-policies", "--prefix-policy", 1, REPLAY,
                              0, NULL, "vllm", check_prefix_policy, 1},
};

static int same(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* The option an axis' values come from, for messages. */
static const char *option_name(const vsweep_grid *g, const vsweep_axis *a)
{
    return a->option ? a->option : vsweep_tools[g->tool].input_option
                                       ? vsweep_tools[g->tool].input_option
                                       : "TRACE";
}

const char *vsweep_axis_name(const vsweep_grid *g, vsweep_axis_id a, int plural)
{
    const vsweep_axis *x = &vsweep_axes[a];
    if (x->name)
        return plural ? x->plural : x->name;
    return plural ? vsweep_tools[g->tool].inputs : vsweep_tools[g->tool].input;
}

int vsweep_axis_applies(const vsweep_grid *g, vsweep_axis_id a)
{
    return (vsweep_axes[a].tools & VSWEEP_FOR(g->tool)) != 0;
}

/* Appends one value (checked; NULL = the tool's default). */
static int add_value(vsweep_grid *g, vsweep_axis_id axis, const char *text, char *why,
                     size_t whylen)
{
    const vsweep_axis *a = &vsweep_axes[axis];
    char canon[4096];
    const char *value = canon;
    if (strlen(text) >= sizeof canon) {
        snprintf(why, whylen, "%s: a value of %zu bytes is too long", option_name(g, a),
                 strlen(text));
        return -1;
    }
    if (a->tool_default && strcmp(text, a->tool_default) == 0)
        value = NULL;
    else if (a->check && !a->check(&vsweep_tools[g->tool], text, canon, sizeof canon, why, whylen))
        return -1;
    else if (!a->check)
        snprintf(canon, sizeof canon, "%s", text);
    for (size_t i = 0; i < g->n[axis]; i++)
        if (same(g->values[axis][i], value)) {
            snprintf(why, whylen, "%s: \"%s\" is given twice", option_name(g, a), text);
            return -1;
        }
    char **grown = realloc(g->values[axis], (g->n[axis] + 1) * sizeof *grown);
    char *copy = value ? strdup(value) : NULL;
    if (grown)
        g->values[axis] = grown;
    if (!grown || (value && !copy)) {
        free(copy);
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    g->values[axis][g->n[axis]++] = copy;
    return 0;
}

int vsweep_grid_add(vsweep_grid *g, vsweep_axis_id axis, const char *text, char *why,
                    size_t whylen)
{
    const vsweep_axis *a = &vsweep_axes[axis];
    if (!vsweep_axis_applies(g, axis)) {
        snprintf(why, whylen, "%s: not an axis of %s sweeps (--tool: see --help)", a->option,
                 vsweep_tools[g->tool].name);
        return -1;
    }
    if (!a->list)
        return add_value(g, axis, text, why, whylen);
    for (const char *p = text;;) {
        size_t len = strcspn(p, ",");
        char item[4096];
        if (len == 0 || len >= sizeof item) {
            snprintf(why, whylen, "%s: \"%s\" has an empty or overlong item", a->option, text);
            return -1;
        }
        memcpy(item, p, len);
        item[len] = '\0';
        if (axis == VSWEEP_POLICY && strcmp(item, "all") == 0) {
            for (const char *const *q = vsweep_tools[g->tool].policies; *q; q++)
                if (add_value(g, axis, *q, why, whylen))
                    return -1;
        } else if (add_value(g, axis, item, why, whylen)) {
            return -1;
        }
        if (!p[len])
            return 0;
        p += len + 1;
    }
}

/* Whether the axis varies the run with value indexes idx: untied, or its tied
 * axis' value there is the one it is tied to. */
static int varies(const vsweep_grid *g, const size_t *idx, vsweep_axis_id axis);

/* The value of `axis` at idx as the tool takes it: the default's word for
 * the default (also where the axis does not vary the run). */
static const char *effective(const vsweep_grid *g, const size_t *idx, vsweep_axis_id axis)
{
    const char *v = varies(g, idx, axis) ? g->values[axis][idx[axis]] : NULL;
    return v ? v : vsweep_axes[axis].tool_default;
}

static int varies(const vsweep_grid *g, const size_t *idx, vsweep_axis_id axis)
{
    const vsweep_axis *a = &vsweep_axes[axis];
    if (a->prefix_only && !g->input[idx[VSWEEP_INPUT]].prefix)
        return 0;
    return !a->tied_value || same(effective(g, idx, a->tied), a->tied_value);
}

/* The trace at `path` is a regular file whose header reads; its KV block
 * size and whether it has a prefix cache in *info. */
static int check_trace(const char *path, vsweep_input *info, char *why, size_t whylen)
{
    struct stat sb;
    if (path[0] == '-') {
        snprintf(why, whylen, "TRACE \"%s\" starts with '-': name it ./%s", path, path);
        return 0;
    }
    if (stat(path, &sb) != 0) {
        snprintf(why, whylen, "%s: %s", path, strerror(errno));
        return 0;
    }
    if (!S_ISREG(sb.st_mode)) {
        snprintf(why, whylen, "%s: not a regular file (the replay reads a trace once per pass)",
                 path);
        return 0;
    }
    vtrace_reader *r = NULL;
    char err[1024];
    if (vtrace_open(path, &r, err, sizeof err)) {
        snprintf(why, whylen, "%s", err);
        return 0;
    }
    const vtrace_header *h = vtrace_header_of(r);
    info->kv_block_bytes = h->kv_block_bytes;
    /* as the replay decides it (replay_prefix.c's vrprefix_create) */
    info->prefix = h->kv_block_tokens && h->prefix_segment_tokens;
    vtrace_close(r);
    return 1;
}

/* The workload at `path` is a regular file that can be read (serve reads it
 * and names its bad lines). */
static int check_workload(const char *path, vsweep_input *info, char *why, size_t whylen)
{
    (void)info;
    struct stat sb;
    if (stat(path, &sb) != 0 || access(path, R_OK) != 0) {
        snprintf(why, whylen, "%s: %s", path, strerror(errno));
        return 0;
    }
    if (!S_ISREG(sb.st_mode)) {
        snprintf(why, whylen, "%s: not a regular file (serve reads a workload from a file)", path);
        return 0;
    }
    return 1;
}

/* pool over a trace without KV blocks: the replay shows it n/a. */
static int replay_left_out(const vsweep_grid *g, const size_t *idx, const vsweep_input *info)
{
    return strcmp(g->values[VSWEEP_POLICY][idx[VSWEEP_POLICY]], "pool") == 0 &&
           info->kv_block_bytes == 0;
}

/* pool without paged KV: serve refuses it (sim/engine/serve.c). */
static int serve_left_out(const vsweep_grid *g, const size_t *idx, const vsweep_input *info)
{
    (void)info;
    return strcmp(g->values[VSWEEP_POLICY][idx[VSWEEP_POLICY]], "pool") == 0 &&
           strcmp(effective(g, idx, VSWEEP_ENGINE), "paged") != 0;
}

const vsweep_tool vsweep_tools[VSWEEP_TOOLS] = {
    [VSWEEP_REPLAY] = {"replay", "trace", "traces", NULL, {"--quiet", NULL}, vram_heap_policy_names,
                       1, check_trace, replay_left_out,
                       "pool left out for the trace(s) without KV blocks (kv_block_bytes), where"
                       " it does not apply:"},
    [VSWEEP_SERVE] = {"serve", "workload", "workloads", "--workload", {"--progress", "0", NULL},
                      vserve_policy_names, 0, check_workload, serve_left_out,
                      "pool left out where serve refuses it (the runs not --engine paged), over:"},
};

int vsweep_grid_finish(vsweep_grid *g, char *note, size_t notelen, char *why, size_t whylen)
{
    const vsweep_tool *tool = &vsweep_tools[g->tool];
    note[0] = '\0';
    if (!g->n[VSWEEP_INPUT]) {
        snprintf(why, whylen, "no %s given", tool->input_option ? "WORKLOAD" : "TRACE");
        return -1;
    }
    if (!g->n[VSWEEP_POLICY] && vsweep_grid_add(g, VSWEEP_POLICY, "all", why, whylen))
        return -1;
    for (int a = 0; a < VSWEEP_AXES; a++) {
        const vsweep_axis *x = &vsweep_axes[a];
        int found = !x->tied_value || !g->n[a];
        for (size_t i = 0; !found && i < g->n[x->tied]; i++) {
            const char *v = g->values[x->tied][i];
            found = same(v ? v : vsweep_axes[x->tied].tool_default, x->tied_value);
        }
        if (!found) {
            snprintf(why, whylen, "%s varies only the runs with %s %s, and %s has no %s",
                     x->option, vsweep_axes[x->tied].name, x->tied_value,
                     vsweep_axes[x->tied].option, x->tied_value);
            return -1;
        }
        if (!g->n[a] && add_value(g, (vsweep_axis_id)a, x->tool_default, why, whylen))
            return -1;
    }
    free(g->input);
    g->input = calloc(g->n[VSWEEP_INPUT], sizeof *g->input);
    char *left_out = calloc(g->n[VSWEEP_INPUT], 1); /* per input: a run left out */
    if (!g->input || !left_out) {
        snprintf(why, whylen, "out of memory");
        free(left_out);
        return -1;
    }
    int prefix = 0; /* an input with a prefix cache */
    for (size_t t = 0; t < g->n[VSWEEP_INPUT]; t++) {
        if (!tool->check_input(g->values[VSWEEP_INPUT][t], &g->input[t], why, whylen)) {
            free(left_out);
            return -1;
        }
        prefix |= g->input[t].prefix;
    }
    for (int a = 0; a < VSWEEP_AXES && !prefix; a++)
        if (vsweep_axes[a].prefix_only && (g->n[a] > 1 || g->values[a][0])) {
            snprintf(why, whylen, "%s varies only the traces with a prefix cache (kv_block_tokens"
                                  " and prefix_segment_tokens in the header: traces/FORMAT.md,"
                                  " \"Prefix cache\"), and no TRACE has one",
                     vsweep_axes[a].option);
            free(left_out);
            return -1;
        }
    /* Every combination of value indexes, in odometer order (the last axis
     * fastest), keeping those where each axis that does not vary the run is
     * at index 0. */
    size_t idx[VSWEEP_AXES] = {0}, total = 1;
    for (int a = 0; a < VSWEEP_AXES; a++)
        total = total > VSWEEP_MAX_RUNS ? total : total * g->n[a];
    if (total > VSWEEP_MAX_RUNS) {
        snprintf(why, whylen, "the grid has more than %u runs", VSWEEP_MAX_RUNS);
        free(left_out);
        return -1;
    }
    g->points = calloc(total, sizeof *g->points);
    if (!g->points) {
        snprintf(why, whylen, "out of memory");
        free(left_out);
        return -1;
    }
    for (size_t k = 0; k < total; k++) {
        int keep = 1;
        for (int a = 0; a < VSWEEP_AXES; a++)
            keep &= idx[a] == 0 || varies(g, idx, (vsweep_axis_id)a);
        if (keep && tool->left_out(g, idx, &g->input[idx[VSWEEP_INPUT]])) {
            keep = 0;
            left_out[idx[VSWEEP_INPUT]] = 1;
        }
        if (keep)
            memcpy(g->points[g->npoints++], idx, sizeof idx);
        for (int a = VSWEEP_AXES - 1; a >= 0 && ++idx[a] == g->n[a]; a--)
            idx[a] = 0;
    }
    int w = 0;
    for (size_t t = 0; t < g->n[VSWEEP_INPUT] && w >= 0 && (size_t)w < notelen; t++)
        if (left_out[t])
            w += snprintf(note + w, notelen - (size_t)w, "%s %s", w ? "" : tool->left_out_note,
                          g->values[VSWEEP_INPUT][t]);
    free(left_out);
    if (!g->npoints) {
        snprintf(why, whylen, "the grid holds no run: %s", note);
        return -1;
    }
    return 0;
}

const char *vsweep_grid_value(const vsweep_grid *g, size_t k, vsweep_axis_id axis)
{
    return varies(g, g->points[k], axis) ? g->values[axis][g->points[k][axis]] : NULL;
}

void vsweep_grid_label(const vsweep_grid *g, size_t k, char *out, size_t len)
{
    size_t used = 0;
    out[0] = '\0';
    for (int a = 0; a < VSWEEP_AXES && used < len; a++) {
        const char *v = vsweep_grid_value(g, k, (vsweep_axis_id)a);
        if (!v)
            continue;
        int w = snprintf(out + used, len - used, "%s%s %s", used ? ", " : "",
                         vsweep_axis_name(g, (vsweep_axis_id)a, 0), v);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

void vsweep_grid_shape(const vsweep_grid *g, char *out, size_t len)
{
    size_t used = 0;
    out[0] = '\0';
    for (int a = 0; a < VSWEEP_AXES && used < len; a++) {
        if (!vsweep_axis_applies(g, (vsweep_axis_id)a) ||
            (vsweep_axes[a].prefix_only && g->n[a] == 1 && !g->values[a][0]))
            continue;
        int w = snprintf(out + used, len - used, "%s%zu %s", used ? " x " : "", g->n[a],
                         vsweep_axis_name(g, (vsweep_axis_id)a, g->n[a] != 1));
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

size_t vsweep_grid_argv(const vsweep_grid *g, size_t k, const char *program, const char *db,
                        char *const *extra, size_t nextra, const char **argv)
{
    const vsweep_tool *tool = &vsweep_tools[g->tool];
    const char *input = vsweep_grid_value(g, k, VSWEEP_INPUT);
    size_t n = 0;
    argv[n++] = program;
    if (tool->input_option)
        argv[n++] = tool->input_option, argv[n++] = input;
    for (int a = 0; a < VSWEEP_AXES; a++) {
        const char *v = vsweep_grid_value(g, k, (vsweep_axis_id)a);
        if (v && vsweep_axes[a].option)
            argv[n++] = vsweep_axes[a].option, argv[n++] = v;
    }
    argv[n++] = "--db";
    argv[n++] = db;
    for (const char *const *q = tool->quiet; *q; q++)
        argv[n++] = *q;
    for (size_t i = 0; i < nextra; i++)
        argv[n++] = extra[i];
    if (!tool->input_option)
        argv[n++] = input;
    argv[n] = NULL;
    return n;
}

void vsweep_grid_free(vsweep_grid *g)
{
    for (int a = 0; a < VSWEEP_AXES; a++) {
        for (size_t i = 0; i < g->n[a]; i++)
            free(g->values[a][i]);
        free(g->values[a]);
    }
    free(g->points);
    free(g->input);
    memset(g, 0, sizeof *g);
}
