/* fuzz_sweep_grid.c - a sweep's grid (sim/sweep/sweep_grid.c) from any option texts:
 *   - each value list is added or refused; a refusal says why, naming the
 *     option, and leaves the grid's values as they were;
 *   - an axis never holds a value twice; a capacity is the replay's default or
 *     a decimal byte count of 1 to 2^63-1 that reads back as itself; a policy
 *     is a built-in name;
 *   - the grid expands to exactly the runs the rules give (every policy x
 *     trace x capacity, the caching settings for caching only, pool only over
 *     the paged trace), or is refused when they give none, too many, or a
 *     caching setting without caching;
 *   - every run's replay command holds its policy and trace, and no caching
 *     setting unless the policy is caching;
 *   - a serve grid (the first line "@serve") likewise: every workload x
 *     policy x KV style x capacity, the block sizes for paged only, pool
 *     paged only (over both workloads); each command holds its
 *     --workload and policy, no --block-tokens beside an --engine, and no
 *     axis of the other tool (which each grid refuses).
 * Input: lines up to the first NUL, at most 4,095 bytes: the --policy text,
 * the --capacity text, then one --caching-conf text per line; or "@serve",
 * the --policy text, the --engine text, the --block-tokens text, then one
 * --capacity-gib text per line. Plugin specs are skipped (the grid would load
 * them). The inputs (a paged trace, one not; an Azure and a Mooncake
 * workload) are written once to $TMPDIR and removed at the exit. */
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "fuzz_input.h"
#include "sweep_grid.h"
#include "vram/heap.h"

#define TARGET "fuzz_sweep_grid"

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz: " TARGET ": %s%s\n", what, detail);
    __builtin_trap();
}

/* A trace file with this body, written once; its path. */
static const char *trace_file(char *path, size_t len, const char *body)
{
    const char *dir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(path, len, "%s/fuzz_sweep_grid_XXXXXX", dir);
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, body, strlen(body)) != (ssize_t)strlen(body) || close(fd))
        fail("cannot write a trace in ", dir);
    return path;
}

static size_t count_policy(const vsweep_grid *g, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < g->n[VSWEEP_POLICY]; i++)
        n += strcmp(g->values[VSWEEP_POLICY][i], name) == 0;
    return n;
}

/* Every value of a count or size axis reads back as itself. */
static void check_reads_back(const vsweep_grid *g, vsweep_axis_id axis)
{
    for (size_t i = 0; i < g->n[axis]; i++) {
        const char *v = g->values[axis][i];
        vsweep_grid again = {.tool = g->tool};
        char why[512];
        if (v && (vsweep_grid_add(&again, axis, v, why, sizeof why) ||
                  strcmp(again.values[axis][0], v) != 0))
            fail("a value does not read back as itself: ", v);
        vsweep_grid_free(&again);
    }
}

static void check_values(const vsweep_grid *g)
{
    for (int a = 0; a < VSWEEP_AXES; a++)
        for (size_t i = 0; i < g->n[a]; i++)
            for (size_t j = 0; j < i; j++) {
                const char *x = g->values[a][i], *y = g->values[a][j];
                if (x == y || (x && y && strcmp(x, y) == 0))
                    fail("a value twice on the axis ", vsweep_axes[a].name);
            }
    check_reads_back(g, VSWEEP_CAPACITY);
    check_reads_back(g, VSWEEP_BLOCK_TOKENS);
    check_reads_back(g, VSWEEP_CAPACITY_GIB);
    for (size_t i = 0; i < g->n[VSWEEP_ENGINE]; i++) {
        vengine_kv_style s;
        const char *v = g->values[VSWEEP_ENGINE][i];
        if (v && (vengine_kv_parse(v, &s) || strcmp(vengine_kv_name(s), v) != 0))
            fail("not a KV style's name: ", v);
    }
    for (size_t i = 0; i < g->n[VSWEEP_POLICY]; i++) {
        const char *v = g->values[VSWEEP_POLICY][i];
        if (!v || !vram_heap_policy(v))
            fail("not a built-in policy: ", v ? v : "(default)");
    }
}

/* Adds one option's text; a refusal must say why and change nothing. */
static void add(vsweep_grid *g, vsweep_axis_id axis, const char *text)
{
    size_t before = g->n[axis];
    char why[2048] = "";
    if (vsweep_grid_add(g, axis, text, why, sizeof why) == 0)
        return;
    if (strncmp(why, vsweep_axes[axis].option, strlen(vsweep_axes[axis].option)) != 0 &&
        strcmp(why, "out of memory") != 0)
        fail("a refusal that does not name its option: ", why);
    /* a list axis keeps the values added before the bad item: a refused option
     * ends the sweep, so only its message matters; the rest stays valid */
    if (!vsweep_axes[axis].list && g->n[axis] != before)
        fail("a refused value was added: ", text);
}

static char paged[256], contig[256], azure[256], mooncake[256];

static void remove_inputs(void)
{
    remove(paged);
    remove(contig);
    remove(azure);
    remove(mooncake);
}

/* Whether argv[1..m) holds `option`. */
static int has(const char **argv, size_t m, const char *option)
{
    for (size_t i = 1; i < m; i++)
        if (strcmp(argv[i], option) == 0)
            return 1;
    return 0;
}

/* A serve grid from the lines after "@serve". */
static void serve_grid(char *line)
{
    vsweep_grid g = {.tool = VSWEEP_SERVE};
    static const vsweep_axis_id fields[] = {VSWEEP_POLICY, VSWEEP_ENGINE, VSWEEP_BLOCK_TOKENS};
    char *next;
    for (size_t field = 0; line; field++, line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        add(&g, field < 3 ? fields[field] : VSWEEP_CAPACITY_GIB, line);
    }
    char note[4096], why[2048];
    if (!vsweep_grid_add(&g, VSWEEP_CAPACITY, "64GiB", why, sizeof why) ||
        !vsweep_grid_add(&g, VSWEEP_CACHING_CONF, "trace", why, sizeof why))
        fail("a serve grid took a replay axis", "");
    check_values(&g);
    size_t blocks_given = g.n[VSWEEP_BLOCK_TOKENS];
    if (vsweep_grid_add(&g, VSWEEP_INPUT, azure, why, sizeof why) ||
        vsweep_grid_add(&g, VSWEEP_INPUT, mooncake, why, sizeof why))
        fail("a workload refused: ", why);
    int rc = vsweep_grid_finish(&g, note, sizeof note, why, sizeof why);
    check_values(&g);
    size_t styles = g.n[VSWEEP_ENGINE], blocks = g.n[VSWEEP_BLOCK_TOKENS];
    size_t caps = g.n[VSWEEP_CAPACITY_GIB], is_paged = 0;
    for (size_t i = 0; i < styles; i++)
        is_paged += g.values[VSWEEP_ENGINE][i] == NULL; /* paged is serve's default */
    size_t pools = count_policy(&g, "pool"), others = g.n[VSWEEP_POLICY] - pools;
    size_t want = caps * 2 * (others * (styles - is_paged + is_paged * blocks) + pools * is_paged * blocks);
    size_t product = 2 * g.n[VSWEEP_POLICY] * styles * blocks * caps;
    int refused = (blocks_given && !is_paged) || product > VSWEEP_MAX_RUNS || want == 0;
    if (rc != 0) {
        if (!refused || !why[0])
            fail("a serve grid refused without cause: ", why);
        vsweep_grid_free(&g);
        return;
    }
    if (refused || g.npoints != want)
        fail("the serve runs are not those the rules give: ", note);
    const char *argv[VSWEEP_ARGV_FIXED + 1];
    for (size_t k = 0; k < g.npoints; k++) {
        size_t m = vsweep_grid_argv(&g, k, "serve", "x.db", NULL, 0, argv);
        const char *policy = vsweep_grid_value(&g, k, VSWEEP_POLICY);
        const char *input = vsweep_grid_value(&g, k, VSWEEP_INPUT);
        if (m > VSWEEP_ARGV_FIXED - 1 || argv[m] || strcmp(argv[1], "--workload") != 0 ||
            strcmp(argv[2], input) != 0 || strcmp(argv[3], "--policy") != 0 ||
            strcmp(argv[4], policy) != 0 || strcmp(argv[m - 1], "0") != 0 ||
            (has(argv, m, "--engine") && has(argv, m, "--block-tokens")) ||
            has(argv, m, "--capacity") || has(argv, m, "--caching-conf"))
            fail("a serve run's command is wrong: policy ", policy);
        if (strcmp(policy, "pool") == 0 && has(argv, m, "--engine"))
            fail("pool where serve refuses it", "");
    }
    vsweep_grid_free(&g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!paged[0]) {
        trace_file(paged, sizeof paged, "vramtrace 1\nmodel m\nengine paged\ncapacity 67108864\n"
                                        "kv_block_bytes 65536\nalloc 1 65536 0 kv 10\nfree 1\n");
        trace_file(contig, sizeof contig, "vramtrace 1\nmodel m\nengine contiguous\n"
                                          "capacity 67108864\nalloc 1 4096 0 kv 10\nfree 1\n");
        trace_file(azure, sizeof azure, "TIMESTAMP,ContextTokens,GeneratedTokens\n");
        char dir[256];
        snprintf(dir, sizeof dir, "%s.jsonl", trace_file(mooncake, sizeof mooncake, ""));
        if (rename(mooncake, dir))
            fail("cannot name a workload ", dir);
        snprintf(mooncake, sizeof mooncake, "%s", dir);
        atexit(remove_inputs);
    }
    char text[4096];
    size_t n = 0;
    while (n < size && n < sizeof text - 1 && data[n])
        n++;
    memcpy(text, data, n);
    text[n] = '\0';
    if (strstr(text, "plugin:"))
        return 0;
    if (strncmp(text, "@serve\n", 7) == 0) {
        serve_grid(text + 7);
        return 0;
    }

    vsweep_grid g = {0};
    char *line = text, *next;
    for (int field = 0; line; field++, line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        add(&g, field == 0 ? VSWEEP_POLICY : field == 1 ? VSWEEP_CAPACITY : VSWEEP_CACHING_CONF,
            line);
    }
    check_values(&g);
    size_t confs_given = g.n[VSWEEP_CACHING_CONF];
    char note[4096], why[2048];
    if (!vsweep_grid_add(&g, VSWEEP_ENGINE, "pow2", why, sizeof why))
        fail("a replay grid took a serve axis", "");
    if (vsweep_grid_add(&g, VSWEEP_INPUT, paged, why, sizeof why) ||
        vsweep_grid_add(&g, VSWEEP_INPUT, contig, why, sizeof why))
        fail("a trace refused: ", why);

    int rc = vsweep_grid_finish(&g, note, sizeof note, why, sizeof why);
    check_values(&g);
    size_t caps = g.n[VSWEEP_CAPACITY], confs = g.n[VSWEEP_CACHING_CONF];
    size_t pools = count_policy(&g, "pool"), cachings = count_policy(&g, "caching");
    size_t others = g.n[VSWEEP_POLICY] - pools - cachings;
    size_t want = caps * (2 * others + pools + 2 * cachings * confs);
    size_t product = 2 * g.n[VSWEEP_POLICY] * caps * confs;
    int refused = (confs_given && !cachings) || product > VSWEEP_MAX_RUNS || want == 0;
    if (rc != 0) {
        if (!refused || !why[0])
            fail("a grid refused without cause: ", why);
        vsweep_grid_free(&g);
        return 0;
    }
    if (refused || g.npoints != want)
        fail("the runs are not those the rules give: ", note);
    if (pools && !strstr(note, "pool left out"))
        fail("pool left out without a note", "");
    const char *argv[VSWEEP_ARGV_FIXED + 1];
    for (size_t k = 0; k < g.npoints; k++) {
        size_t m = vsweep_grid_argv(&g, k, "replay", "x.db", NULL, 0, argv);
        const char *policy = vsweep_grid_value(&g, k, VSWEEP_POLICY);
        int has_conf = 0, has_policy = 0;
        for (size_t i = 1; i + 1 < m; i++) {
            has_conf |= strcmp(argv[i], "--caching-conf") == 0;
            has_policy |= strcmp(argv[i], "--policy") == 0 && strcmp(argv[i + 1], policy) == 0;
        }
        if (m > VSWEEP_ARGV_FIXED - 1 || argv[m] || strcmp(argv[0], "replay") != 0 ||
            strcmp(argv[m - 1], vsweep_grid_value(&g, k, VSWEEP_INPUT)) != 0 || !has_policy ||
            (has_conf && strcmp(policy, "caching") != 0) || has(argv, m, "--engine") ||
            has(argv, m, "--block-tokens") || has(argv, m, "--capacity-gib"))
            fail("a run's replay command is wrong: policy ", policy);
        if (strcmp(policy, "pool") == 0 && strcmp(argv[m - 1], contig) == 0)
            fail("pool over a trace without KV blocks", "");
    }
    vsweep_grid_free(&g);
    return 0;
}
