/* sweep_grid.c - a sweep's axes, their values and the runs they expand to
 * (sweep_grid.h). */
#include "sweep_grid.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "plugin.h"
#include "trace.h"
#include "vram/caching.h"
#include "vram/heap.h"

/* A byte count: decimal, optionally with KiB, MiB, GiB or TiB; 1 to 2^63-1
 * bytes (traces/FORMAT.md's capacities), written in decimal bytes. */
static int check_capacity(const char *text, char *out, size_t len, char *why, size_t whylen)
{
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
static int check_caching_conf(const char *text, char *out, size_t len, char *why, size_t whylen)
{
    vram_caching_options o;
    char msg[256] = "";
    if (vram_caching_options_parse(text, &o, msg, sizeof msg)) {
        snprintf(why, whylen, "--caching-conf: \"%s\": %s", text, msg[0] ? msg : "not valid");
        return 0;
    }
    snprintf(out, len, "%s", text);
    return 1;
}

/* A built-in policy, or a plugin spec that loads (the replay loads it again). */
static int check_policy(const char *text, char *out, size_t len, char *why, size_t whylen)
{
    snprintf(out, len, "%s", text);
    if (vplugin_is_spec(text)) {
        char msg[1024];
        vplugin *p = NULL;
        if (vplugin_open(text, &p, msg, sizeof msg)) {
            snprintf(why, whylen, "--policy: %s", msg);
            return 0;
        }
        vplugin_close(p);
        return 1;
    }
    for (const char *const *q = vram_heap_policy_names; *q; q++)
        if (strcmp(*q, text) == 0)
            return 1;
    int w = snprintf(why, whylen, "--policy: unknown policy \"%s\" (one of:", text);
    for (const char *const *q = vram_heap_policy_names; *q && w > 0 && (size_t)w < whylen; q++)
        w += snprintf(why + w, whylen - (size_t)w, " %s", *q);
    if (w > 0 && (size_t)w < whylen)
        snprintf(why + w, whylen - (size_t)w, ", all, or plugin:PATH[:NAME])");
    return 0;
}

const vsweep_axis vsweep_axes[VSWEEP_AXES] = {
    [VSWEEP_TRACE] = {"trace", "traces", NULL, 0, NULL, NULL, NULL},
    [VSWEEP_POLICY] = {"policy", "policies", "--policy", 1, NULL, NULL, check_policy},
    [VSWEEP_CAPACITY] = {"capacity", "capacities", "--capacity", 1, NULL, "trace", check_capacity},
    [VSWEEP_CACHING_CONF] = {"caching-conf", "caching-confs", "--caching-conf", 0, "caching",
                             "trace", check_caching_conf},
};

static int same(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* The option an axis' values come from, for messages. */
static const char *option_name(const vsweep_axis *a)
{
    return a->option ? a->option : "TRACE";
}

/* Appends one value (checked; NULL = the replay's default). */
static int add_value(vsweep_grid *g, vsweep_axis_id axis, const char *text, char *why,
                     size_t whylen)
{
    const vsweep_axis *a = &vsweep_axes[axis];
    char canon[4096];
    const char *value = canon;
    if (strlen(text) >= sizeof canon) {
        snprintf(why, whylen, "%s: a value of %zu bytes is too long", option_name(a),
                 strlen(text));
        return -1;
    }
    if (a->replay_default && strcmp(text, a->replay_default) == 0)
        value = NULL;
    else if (a->check && !a->check(text, canon, sizeof canon, why, whylen))
        return -1;
    else if (!a->check)
        snprintf(canon, sizeof canon, "%s", text);
    for (size_t i = 0; i < g->n[axis]; i++)
        if (same(g->values[axis][i], value)) {
            snprintf(why, whylen, "%s: \"%s\" is given twice", option_name(a), text);
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
    if (!vsweep_axes[axis].list)
        return add_value(g, axis, text, why, whylen);
    for (const char *p = text;;) {
        size_t len = strcspn(p, ",");
        char item[4096];
        if (len == 0 || len >= sizeof item) {
            snprintf(why, whylen, "%s: \"%s\" has an empty or overlong item",
                     vsweep_axes[axis].option, text);
            return -1;
        }
        memcpy(item, p, len);
        item[len] = '\0';
        if (axis == VSWEEP_POLICY && strcmp(item, "all") == 0) {
            for (const char *const *q = vram_heap_policy_names; *q; q++)
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

/* The trace at `path` is a regular file whose header reads; its KV block
 * size in *kv_block. */
static int check_trace(const char *path, uint64_t *kv_block, char *why, size_t whylen)
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
    *kv_block = vtrace_header_of(r)->kv_block_bytes;
    vtrace_close(r);
    return 1;
}

/* Whether the axis varies the runs of `policy`. */
static int varies(vsweep_axis_id axis, const char *policy)
{
    const char *only = vsweep_axes[axis].only_policy;
    return !only || same(only, policy);
}

int vsweep_grid_finish(vsweep_grid *g, char *note, size_t notelen, char *why, size_t whylen)
{
    note[0] = '\0';
    if (!g->n[VSWEEP_TRACE]) {
        snprintf(why, whylen, "no TRACE given");
        return -1;
    }
    if (!g->n[VSWEEP_POLICY] && vsweep_grid_add(g, VSWEEP_POLICY, "all", why, whylen))
        return -1;
    for (int a = 0; a < VSWEEP_AXES; a++) {
        const char *only = vsweep_axes[a].only_policy;
        int found = !only || !g->n[a];
        for (size_t i = 0; !found && i < g->n[VSWEEP_POLICY]; i++)
            found = same(only, g->values[VSWEEP_POLICY][i]);
        if (!found) {
            snprintf(why, whylen, "%s varies the %s policy's runs only, and --policy has no %s",
                     vsweep_axes[a].option, only, only);
            return -1;
        }
        if (!g->n[a] && add_value(g, (vsweep_axis_id)a, vsweep_axes[a].replay_default, why,
                                  whylen))
            return -1;
    }
    uint64_t *kv = calloc(g->n[VSWEEP_TRACE], sizeof *kv);
    if (!kv) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    for (size_t t = 0; t < g->n[VSWEEP_TRACE]; t++)
        if (!check_trace(g->values[VSWEEP_TRACE][t], &kv[t], why, whylen)) {
            free(kv);
            return -1;
        }
    /* Every combination of value indexes, in odometer order (the last axis
     * fastest), keeping those where each axis that does not vary the policy
     * is at index 0. */
    size_t idx[VSWEEP_AXES] = {0}, total = 1, left_out = 0;
    for (int a = 0; a < VSWEEP_AXES; a++)
        total = total > VSWEEP_MAX_RUNS ? total : total * g->n[a];
    if (total > VSWEEP_MAX_RUNS) {
        snprintf(why, whylen, "the grid has more than %u runs", VSWEEP_MAX_RUNS);
        free(kv);
        return -1;
    }
    g->points = calloc(total, sizeof *g->points);
    if (!g->points) {
        snprintf(why, whylen, "out of memory");
        free(kv);
        return -1;
    }
    for (size_t k = 0; k < total; k++) {
        const char *policy = g->values[VSWEEP_POLICY][idx[VSWEEP_POLICY]];
        int keep = 1;
        for (int a = 0; a < VSWEEP_AXES; a++)
            keep &= idx[a] == 0 || varies((vsweep_axis_id)a, policy);
        if (keep && strcmp(policy, "pool") == 0 && kv[idx[VSWEEP_TRACE]] == 0) {
            keep = 0;
            left_out++;
        }
        if (keep)
            memcpy(g->points[g->npoints++], idx, sizeof idx);
        for (int a = VSWEEP_AXES - 1; a >= 0 && ++idx[a] == g->n[a]; a--)
            idx[a] = 0;
    }
    if (left_out) {
        int w = snprintf(note, notelen, "pool left out for the trace(s) without KV blocks"
                                        " (kv_block_bytes), where it does not apply:");
        for (size_t t = 0; t < g->n[VSWEEP_TRACE] && w > 0 && (size_t)w < notelen; t++)
            if (kv[t] == 0)
                w += snprintf(note + w, notelen - (size_t)w, " %s", g->values[VSWEEP_TRACE][t]);
    }
    free(kv);
    if (!g->npoints) {
        snprintf(why, whylen, "the grid holds no run: %s", note);
        return -1;
    }
    return 0;
}

const char *vsweep_grid_value(const vsweep_grid *g, size_t k, vsweep_axis_id axis)
{
    const char *policy = g->values[VSWEEP_POLICY][g->points[k][VSWEEP_POLICY]];
    return varies(axis, policy) ? g->values[axis][g->points[k][axis]] : NULL;
}

void vsweep_grid_label(const vsweep_grid *g, size_t k, char *out, size_t len)
{
    size_t used = 0;
    out[0] = '\0';
    for (int a = 0; a < VSWEEP_AXES && used < len; a++) {
        const char *v = vsweep_grid_value(g, k, (vsweep_axis_id)a);
        if (!v)
            continue;
        int w = snprintf(out + used, len - used, "%s%s %s", used ? ", " : "", vsweep_axes[a].name,
                         v);
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
        int w = snprintf(out + used, len - used, "%s%zu %s", used ? " x " : "", g->n[a],
                         g->n[a] == 1 ? vsweep_axes[a].name : vsweep_axes[a].plural);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

size_t vsweep_grid_argv(const vsweep_grid *g, size_t k, const char *replay, const char *db,
                        char *const *extra, size_t nextra, const char **argv)
{
    size_t n = 0;
    argv[n++] = replay;
    for (int a = 0; a < VSWEEP_AXES; a++) {
        const char *v = vsweep_grid_value(g, k, (vsweep_axis_id)a);
        if (v && vsweep_axes[a].option)
            argv[n++] = vsweep_axes[a].option, argv[n++] = v;
    }
    argv[n++] = "--db";
    argv[n++] = db;
    argv[n++] = "--quiet";
    for (size_t i = 0; i < nextra; i++)
        argv[n++] = extra[i];
    argv[n++] = vsweep_grid_value(g, k, VSWEEP_TRACE);
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
    memset(g, 0, sizeof *g);
}
