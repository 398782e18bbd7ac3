/* test_cli_replay_json.c - `replay --json` and `replay --csv`: the summary on
 * stdout alone, one object or row per policy run keyed by the runs table's
 * columns (sim/results/schema.sql), null where the database has NULL; valid JSON
 * (checked by a small parser here), RFC 4180 CSV; both at once is bad usage.
 * Without them: a summary in 100 columns and the verdict (sim/replay/verdict.h);
 * --wide: every column. */
#include <math.h>
#include <stdlib.h>

#include "test_cli_lib.h"
#include "test_db_lib.h"

#define PREEMPT CLI_DATA "needs_preempt.trace"
#define SMALL CLI_DATA "small.trace"
#define UNHELD CLI_DATA "bad_release_unheld.trace"

/* --- a minimal JSON parser: validates the text and keeps, for each object of
 * the top-level array, its keys and the raw text of their values --- */
#define JMAX_OBJ 16
#define JMAX_KEYS 64

typedef struct jobj {
    size_t n;
    char key[JMAX_KEYS][64];
    char val[JMAX_KEYS][512]; /* strings unescaped, without quotes; others as written */
    int is_string[JMAX_KEYS];
} jobj;

typedef struct jdoc {
    size_t n;
    jobj obj[JMAX_OBJ];
} jdoc;

static const char *jws(const char *p)
{
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
        p++;
    return p;
}

/* A string at p (at its quote): the end after the closing quote, the text
 * unescaped into out; NULL when malformed. */
static const char *jstring(const char *p, char *out, size_t len)
{
    size_t n = 0;
    if (*p++ != '"')
        return NULL;
    for (; *p != '"'; p++) {
        char c = *p;
        if ((unsigned char)c < 0x20)
            return NULL; /* raw control characters are not allowed */
        if (c == '\\') {
            p++;
            switch (*p) {
            case '"': c = '"'; break;
            case '\\': c = '\\'; break;
            case '/': c = '/'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'u': {
                for (int i = 1; i <= 4; i++)
                    if (!strchr("0123456789abcdefABCDEF", p[i]) || !p[i])
                        return NULL;
                c = '?';
                p += 4;
                break;
            }
            default: return NULL;
            }
        }
        if (n + 1 < len)
            out[n++] = c;
    }
    out[n] = '\0';
    return p + 1;
}

/* A number, null, true or false: the end, NULL when malformed. */
static const char *jscalar(const char *p, char *out, size_t len)
{
    const char *s = p;
    if (!strncmp(p, "null", 4) || !strncmp(p, "true", 4))
        p += 4;
    else if (!strncmp(p, "false", 5))
        p += 5;
    else {
        if (*p == '-')
            p++;
        if (*p == '0')
            p++;
        else if (*p >= '1' && *p <= '9')
            while (*p >= '0' && *p <= '9')
                p++;
        else
            return NULL;
        if (*p == '.') {
            p++;
            if (!(*p >= '0' && *p <= '9'))
                return NULL;
            while (*p >= '0' && *p <= '9')
                p++;
        }
        if (*p == 'e' || *p == 'E') {
            p++;
            if (*p == '+' || *p == '-')
                p++;
            if (!(*p >= '0' && *p <= '9'))
                return NULL;
            while (*p >= '0' && *p <= '9')
                p++;
        }
    }
    size_t n = (size_t)(p - s) < len - 1 ? (size_t)(p - s) : len - 1;
    memcpy(out, s, n);
    out[n] = '\0';
    return p;
}

/* An object of scalars and strings (all the summary holds). */
static const char *jobject(const char *p, jobj *o)
{
    o->n = 0;
    if (*p++ != '{')
        return NULL;
    p = jws(p);
    if (*p == '}')
        return p + 1;
    for (;;) {
        if (o->n == JMAX_KEYS)
            return NULL;
        p = jstring(jws(p), o->key[o->n], sizeof o->key[0]);
        if (!p)
            return NULL;
        p = jws(p);
        if (*p++ != ':')
            return NULL;
        p = jws(p);
        o->is_string[o->n] = *p == '"';
        p = *p == '"' ? jstring(p, o->val[o->n], sizeof o->val[0])
                      : jscalar(p, o->val[o->n], sizeof o->val[0]);
        if (!p)
            return NULL;
        o->n++;
        p = jws(p);
        if (*p == '}')
            return p + 1;
        if (*p++ != ',')
            return NULL;
    }
}

/* 1 when text is one array of objects and nothing else. */
static int jparse(const char *text, jdoc *d)
{
    d->n = 0;
    const char *p = jws(text);
    if (*p++ != '[')
        return 0;
    p = jws(p);
    if (*p != ']')
        for (;;) {
            if (d->n == JMAX_OBJ || !(p = jobject(jws(p), &d->obj[d->n])))
                return 0;
            d->n++;
            p = jws(p);
            if (*p == ']')
                break;
            if (*p++ != ',')
                return 0;
        }
    return *jws(p + 1) == '\0';
}

/* The value of key in o, NULL when absent. */
static const char *jget(const jobj *o, const char *key)
{
    for (size_t i = 0; i < o->n; i++)
        if (!strcmp(o->key[i], key))
            return o->val[i];
    return NULL;
}

static int jis(const jobj *o, const char *key, const char *want)
{
    const char *v = jget(o, key);
    if (!v || strcmp(v, want)) {
        fprintf(stderr, "  %s: got %s, wanted %s\n", key, v ? v : "(absent)", want);
        return 0;
    }
    return 1;
}

/* The runs columns every object and row carries, in order. */
static const char *const columns[] = {
    "run_id", "policy", "status", "detail", "capacity", "peak_footprint", "peak_live",
    "worst_ext_frag", "ooms", "ooms_despite_free", "errors", "preemptions", "preempted_bytes",
    "restores", "restore_waits", "recompute_tokens", "preempt_modelled_ms", "evictions",
    "evictions_weight", "evictions_kv", "evictions_adapter", "evictions_other",
    "bytes_rematerialised", "alloc_p50_ns", "alloc_p99_ns", "free_p50_ns", "free_p99_ns",
    "modelled_ms", "wall_s", "events_per_s", "prefix_policy", "prefix_blocks",
    "prefix_host_blocks", "prefix_lookups", "prefix_lookup_blocks", "prefix_hit_blocks",
    "prefix_host_hit_blocks", "prefix_hit_ratio", "prefix_token_hit_ratio", "prefix_evictions",
    "prefix_alloc_failures", "prefix_saved_tokens", "prefix_saved_ms", "prefix_lru_hits",
    "prefix_belady_hits", "prefix_unlimited_hits"};
#define NCOLUMNS (sizeof columns / sizeof columns[0])

static jdoc doc;

static void expect_columns(const jobj *o)
{
    expect_eq_u64(o->n, NCOLUMNS);
    for (size_t i = 0; i < NCOLUMNS && i < o->n; i++)
        if (strcmp(o->key[i], columns[i])) {
            fprintf(stderr, "  key %zu: %s, wanted %s\n", i, o->key[i], columns[i]);
            test_failures++;
        }
}

/* The version-2 preemption trace: bestfit preempts once, 32 tokens at
 * 1,000 tokens/s = 32 ms; only JSON on stdout. */
static void test_json_v2(void)
{
    CLI_EXPECT(0, TEXTS("bounds computed"), "replay", "--no-db", "--quiet", "--json", "--policy",
               "bestfit,tlsf", PREEMPT);
    expect_true(strstr(cli_last.out, "bounds computed") == NULL);
    expect_true(strstr(cli_last.out, "| policy") == NULL);
    assert_true(jparse(cli_last.out, &doc));
    assert_true(doc.n == 2);
    const jobj *b = &doc.obj[0];
    expect_columns(b);
    expect_true(jis(b, "policy", "bestfit"));
    expect_true(jis(b, "status", "ok"));
    expect_true(jis(b, "run_id", "null")); /* --no-db */
    expect_true(jis(b, "detail", "null"));
    expect_true(jis(b, "capacity", "8388608"));
    expect_true(jis(b, "preemptions", "1"));
    expect_true(jis(b, "preempted_bytes", "2097152"));
    expect_true(jis(b, "restores", "1"));
    expect_true(jis(b, "restore_waits", "1"));
    expect_true(jis(b, "recompute_tokens", "32"));
    expect_true(jis(b, "ooms", "0"));
    expect_true(jis(b, "evictions", "0"));
    expect_true(jis(b, "bytes_rematerialised", "2097152"));
    const char *ms = jget(b, "preempt_modelled_ms");
    expect_true(ms && fabs(strtod(ms, NULL) - 32.0) < 1e-6);
    expect_true(jis(&doc.obj[1], "policy", "tlsf"));
    expect_true(jis(&doc.obj[1], "preemptions", "1"));
    expect_true(!doc.obj[0].is_string[4] && doc.obj[0].is_string[1]);
}

/* A version-1 trace: the preemption columns are null, as in the database;
 * logged runs carry their run_id, and "logged to" goes to stderr. */
static void test_json_v1_logged(void)
{
    test_remove_db("cli_replay_json.db");
    CLI_EXPECT(0, TEXTS("logged to cli_replay_json.db"), "replay", "--quiet", "--json", "--db",
               "cli_replay_json.db", "--policy", "bestfit,caching", SMALL);
    assert_true(jparse(cli_last.out, &doc));
    assert_true(doc.n == 2);
    for (size_t i = 0; i < 2; i++) {
        const jobj *o = &doc.obj[i];
        expect_columns(o);
        for (size_t k = 11; k <= 16; k++) /* preemptions ... preempt_modelled_ms */
            expect_true(jis(o, columns[k], "null"));
        const char *id = jget(o, "run_id"); /* 1 and 2, in the order the runs began */
        expect_true(id && (strtoll(id, NULL, 10) == 1 || strtoll(id, NULL, 10) == 2));
        expect_true(jis(o, "peak_live", "638976"));
    }
    expect_true(jis(&doc.obj[1], "policy", "caching"));
    sqlite3 *db = test_open_db("cli_replay_json.db");
    expect_eq_u64(test_q1(db, "SELECT count(*) FROM runs WHERE status = 'ok'"), 2);
    const char *id = jget(&doc.obj[1], "run_id");
    expect_true(id && strtoll(id, NULL, 10) ==
                          test_q1(db, "SELECT id FROM runs WHERE policy = 'caching'"));
    sqlite3_close(db);
    test_remove_db("cli_replay_json.db");
}

/* A failed run: its detail, with quotes and a comma, escaped. */
static void test_json_escapes(void)
{
    CLI_EXPECT(1, TEXTS("which is not held"), "replay", "--no-db", "--quiet", "--json", "--policy",
               "bestfit", UNHELD);
    assert_true(jparse(cli_last.out, &doc));
    assert_true(doc.n == 1);
    expect_true(jis(&doc.obj[0], "status", "failed"));
    const char *d = jget(&doc.obj[0], "detail");
    expect_true(d && strstr(d, "bad_release_unheld.trace:7: release of key \"w:never\", which is"
                                " not held"));
}

/* Rows of CSV text (CRLF-ended lines). */
static size_t csv_lines(const char *s)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, "\r\n")); p += 2)
        n++;
    return n;
}

static void test_csv(void)
{
    CLI_EXPECT(0, TEXTS("bounds computed"), "replay", "--no-db", "--quiet", "--csv", SMALL);
    char header[2048] = "";
    for (size_t i = 0; i < NCOLUMNS; i++)
        snprintf(header + strlen(header), sizeof header - strlen(header), "%s%s", i ? "," : "",
                 columns[i]);
    strcat(header, "\r\n");
    expect_true(strncmp(cli_last.out, header, strlen(header)) == 0);
    expect_eq_u64(csv_lines(cli_last.out), 1 + 5); /* the header, a row per built-in policy */
    expect_true(strstr(cli_last.out, "\r\n,bestfit,ok,,67108864,") != NULL);
    expect_true(strstr(cli_last.out, "\r\n,caching,ok,,67108864,") != NULL);
    /* every row has every column (nothing here needs quoting) */
    for (const char *p = cli_last.out; *p;) {
        size_t commas = 0;
        const char *e = strstr(p, "\r\n");
        assert_true(e);
        for (const char *q = p; q < e; q++)
            commas += *q == ',';
        expect_eq_u64(commas, NCOLUMNS - 1);
        p = e + 2;
    }
    expect_true(strstr(cli_last.out, "bounds computed") == NULL);

    /* RFC 4180: a field with a comma or quotes is quoted, its quotes doubled */
    CLI_EXPECT(1, TEXTS("which is not held"), "replay", "--no-db", "--quiet", "--csv", "--policy",
               "bestfit", UNHELD);
    expect_eq_u64(csv_lines(cli_last.out), 2);
    expect_true(strstr(cli_last.out, ",bestfit,failed,\"") != NULL);
    expect_true(strstr(cli_last.out, "release of key \"\"w:never\"\", which is not held\",") !=
                NULL);
}

static void test_usage(void)
{
    CLI_EXPECT(2, TEXTS("replay: --json and --csv: choose one"), "replay", "--json", "--csv",
               SMALL);
    expect_true(cli_last.out[0] == '\0');
    CLI_EXPECT(0, TEXTS(""), "replay", "--help");
    expect_true(strstr(cli_last.out, "--json") && strstr(cli_last.out, "--csv"));
}

/* The terminal output: no line over 100 columns by default, the verdict
 * ranking both runs with the forced preemption's numbers; --wide has every
 * column; with --json the verdict goes to stderr. */
static void test_terminal(void)
{
    CLI_EXPECT(0, TEXTS(""), "replay", "--no-db", "--quiet", "--policy", "bestfit,tlsf", PREEMPT);
    size_t longest = 0;
    for (const char *line = cli_last.out; *line;) {
        size_t len = strcspn(line, "\n");
        if (len > longest)
            longest = len;
        line += len + (line[len] == '\n');
    }
    fprintf(stderr, "longest line: %zu\n", longest);
    expect_true(longest <= 100);
    expect_true(strstr(cli_last.out, "| policy | footprint | / peak live | OOMs |") != NULL);
    expect_true(strstr(cli_last.out, "Verdict (terms: docs/METRICS.md)\n1. ") != NULL);
    expect_true(strstr(cli_last.out, "1 forced preemption (32.000 ms of the modelled time)") != NULL);
    expect_true(strstr(cli_last.out, "2. ") != NULL);
    expect_true(strstr(cli_last.out, "Ranked by, in turn: ") != NULL);
    CLI_EXPECT(0, TEXTS(""), "replay", "--no-db", "--quiet", "--wide", "--policy", "bestfit",
               PREEMPT);
    expect_true(strstr(cli_last.out, "| policy | peak footprint | / peak live | worst ext frag |") !=
                NULL);
    expect_true(strstr(cli_last.out, "| policy | forced preemptions |") != NULL);
    CLI_EXPECT(0, TEXTS("Verdict"), "replay", "--no-db", "--quiet", "--json", "--policy", "bestfit",
               PREEMPT);
    expect_true(strstr(cli_last.out, "Verdict") == NULL);
}

int main(void)
{
    test_usage();
    test_json_v2();
    test_json_v1_logged();
    test_json_escapes();
    test_csv();
    test_terminal();
    return test_finish("cli_replay_json");
}
