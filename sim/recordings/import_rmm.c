/* import_rmm.c - RAPIDS RMM logging_resource_adaptor CSV to traces (import.h).
 *
 * The log: a header `Thread,Time,Action,Pointer,Size,Stream`, then one row per
 * event, in the order the adaptor wrote them (which RMM's own replay benchmark
 * also takes as the order of events):
 *   140573312345856,12:01:02:123456,allocate,0x7f8a40000000,1024,0x0
 * Thread: decimal (or 0x hex). Time: H:M:S followed by ':' or '.' and the
 * fraction of a second (spdlog's "%H:%M:%S:%f", which the adaptor uses), or
 * seconds since the epoch with a fraction (as RMM's documentation shows).
 * Action: `allocate`, `free` (`deallocate` too), or `allocate failure` (pointer
 * `(nil)`: skipped and counted). Pointer: hex with or without 0x. Size: decimal
 * bytes. Stream: decimal or 0x hex; not used. Blank lines are skipped.
 * Clock times that wrap past midnight (a drop of more than 12 hours) count as
 * the next day. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "import_core.h"

#define MODEL_NAME "rmm-log"
#define ENGINE_NAME "import:rmm"
#define HEADER "Thread,Time,Action,Pointer,Size,Stream"
#define LINE_MAX_BYTES 1024
#define FIELDS 6
#define US_PER_DAY (UINT64_C(86400) * 1000000)
#define GiB (UINT64_C(1) << 30)

typedef struct rmm_src {
    vimport__core *core;
    const char *path;
    FILE *f;
    uint64_t line;     /* of the row last read, 1-based */
    uint64_t day_us;   /* days added to clock times after midnight wraps */
    uint64_t last_clock_us;
    uint64_t records, failures;
} rmm_src;

static void rmm_where(void *ctx, char *buf, size_t len)
{
    const rmm_src *s = ctx;
    snprintf(buf, len, "%s:%llu", s->path, (unsigned long long)s->line);
}

static vram_status rmm_rewind(void *ctx)
{
    rmm_src *s = ctx;
    rewind(s->f);
    s->line = s->day_us = s->last_clock_us = s->records = s->failures = 0;
    return VRAM_OK;
}

/* ---- fields ---- */

typedef struct field {
    const char *p;
    size_t n;
} field;

static int field_is(field f, const char *s)
{
    return strlen(s) == f.n && memcmp(f.p, s, f.n) == 0;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Digits of `base` (10 or 16) making up all of f, at least one, no overflow. */
static int parse_num(field f, unsigned base, uint64_t *out)
{
    if (f.n == 0)
        return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < f.n; i++) {
        int d = hexval(f.p[i]);
        if (d < 0 || (unsigned)d >= base || __builtin_mul_overflow(v, base, &v) ||
            __builtin_add_overflow(v, (uint64_t)d, &v))
            return 0;
    }
    *out = v;
    return 1;
}

/* Decimal, or hex after 0x. */
static int parse_int(field f, uint64_t *out)
{
    if (f.n > 2 && f.p[0] == '0' && (f.p[1] == 'x' || f.p[1] == 'X'))
        return parse_num((field){f.p + 2, f.n - 2}, 16, out);
    return parse_num(f, 10, out);
}

/* Hex, with or without 0x. */
static int parse_ptr(field f, uint64_t *out)
{
    if (f.n > 2 && f.p[0] == '0' && (f.p[1] == 'x' || f.p[1] == 'X'))
        f = (field){f.p + 2, f.n - 2};
    return parse_num(f, 16, out);
}

/* Up to 9 fraction digits to microseconds (truncated). */
static int parse_fraction(field f, uint64_t *us)
{
    if (f.n == 0 || f.n > 9)
        return 0;
    uint64_t v;
    if (!parse_num(f, 10, &v))
        return 0;
    for (size_t i = f.n; i < 6; i++)
        v *= 10;
    for (size_t i = 6; i < f.n; i++)
        v /= 10;
    *us = v;
    return 1;
}

/* The text up to (not including) the first of `seps` from *f, which is advanced past it. */
static field take(field *f, const char *seps, char *sep_found)
{
    size_t i = 0;
    while (i < f->n && !strchr(seps, f->p[i]))
        i++;
    field part = {f->p, i};
    *sep_found = i < f->n ? f->p[i] : '\0';
    f->p += i < f->n ? i + 1 : i;
    f->n -= i < f->n ? i + 1 : i;
    return part;
}

/* H:M:S[:.]frac as a clock time, or SECONDS[.frac]; *is_clock tells which. */
static int parse_time(field f, uint64_t *us, int *is_clock)
{
    char sep;
    field first = take(&f, ":.", &sep);
    uint64_t a, frac = 0;
    if (!parse_num(first, 10, &a))
        return 0;
    if (sep != ':') { /* epoch seconds */
        *is_clock = 0;
        if (sep == '.' && !parse_fraction(f, &frac))
            return 0;
        return !__builtin_mul_overflow(a, 1000000, us) && !__builtin_add_overflow(*us, frac, us);
    }
    uint64_t m, s;
    if (!parse_num(take(&f, ":", &sep), 10, &m) || sep != ':')
        return 0;
    if (!parse_num(take(&f, ":.", &sep), 10, &s) || !sep || !parse_fraction(f, &frac))
        return 0;
    if (a > 23 || m > 59 || s > 60) /* 60: a leap second */
        return 0;
    *is_clock = 1;
    *us = ((a * 60 + m) * 60 + s) * 1000000 + frac;
    return 1;
}

/* Splits a line into exactly FIELDS comma-separated fields, blanks trimmed. */
static int split(char *line, field out[FIELDS])
{
    size_t k = 0;
    char *p = line;
    for (;;) {
        char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (k == FIELDS)
            return -1;
        while (n && (*p == ' ' || *p == '\t'))
            p++, n--;
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        out[k++] = (field){p, n};
        if (!end)
            break;
        p = end + 1;
    }
    return (int)k;
}

/* ---- rows ---- */

/* Reads the next line into buf without its newline (and a '\r' before it).
 * 1: a line; 0: end of file; -1: error (reported). */
static int read_line(rmm_src *s, const vimport__source *src, char *buf, size_t cap)
{
    size_t n = 0;
    int ch;
    while ((ch = getc_unlocked(s->f)) != EOF && ch != '\n') {
        if (ch == '\0' || n + 1 >= cap) {
            s->line++;
            if (ch == '\0')
                vimport__fail(s->core, src, VRAM_EPARSE, "NUL byte in the line");
            else
                vimport__fail(s->core, src, VRAM_EPARSE, "line longer than %zu bytes", cap - 1);
            return -1;
        }
        buf[n++] = (char)ch;
    }
    if (ferror(s->f)) {
        vimport__fail(s->core, NULL, VRAM_EIO, "%s: read error: %s", s->path, strerror(errno));
        return -1;
    }
    if (ch == EOF && n == 0)
        return 0;
    s->line++;
    if (n && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    return 1;
}

static int bad_field(rmm_src *s, const vimport__source *src, int col, const char *name,
                     const char *expected, field f)
{
    int n = f.n > 40 ? 40 : (int)f.n;
    vimport__fail(s->core, src, VRAM_EPARSE, "column %d (%s): expected %s, found '%.*s'", col, name,
                  expected, n, f.p);
    return -1;
}

static int rmm_next(void *ctx, vimport__rec *rec)
{
    rmm_src *s = ctx;
    const vimport__source src = {.where = rmm_where, .ctx = s};
    char buf[LINE_MAX_BYTES];
    int got;
    while ((got = read_line(s, &src, buf, sizeof buf)) == 1) {
        if (s->line == 1) {
            if (strcmp(buf, HEADER) != 0) {
                vimport__fail(s->core, &src, VRAM_EPARSE, "expected the header '" HEADER
                              "', found '%.60s'", buf);
                return -1;
            }
            continue;
        }
        if (buf[strspn(buf, " \t")] == '\0')
            continue;
        s->records++;
        field f[FIELDS];
        int n = split(buf, f);
        if (n != FIELDS) {
            vimport__fail(s->core, &src, VRAM_EPARSE, "expected %d comma-separated columns "
                          "(Thread,Time,Action,Pointer,Size,Stream), found %s", FIELDS,
                          n < 0 ? "more" : n == 1 ? "1" : "fewer");
            return -1;
        }
        uint64_t thread, stream, ts;
        int is_clock = 0;
        if (!parse_int(f[0], &thread))
            return bad_field(s, &src, 1, "Thread", "a thread id (decimal or 0x hex)", f[0]);
        if (!parse_time(f[1], &ts, &is_clock))
            return bad_field(s, &src, 2, "Time", "HH:MM:SS:ffffff or seconds.ffffff", f[1]);
        if (!parse_int(f[5], &stream))
            return bad_field(s, &src, 6, "Stream", "a stream handle (decimal or 0x hex)", f[5]);
        if (field_is(f[2], "allocate failure")) {
            s->failures++;
            continue;
        }
        if (field_is(f[2], "allocate"))
            rec->type = VIMPORT__ALLOC;
        else if (field_is(f[2], "free") || field_is(f[2], "deallocate"))
            rec->type = VIMPORT__FREE;
        else
            return bad_field(s, &src, 3, "Action", "allocate, free or allocate failure", f[2]);
        if (!parse_ptr(f[3], &rec->addr))
            return bad_field(s, &src, 4, "Pointer", "a hex address (0x7f8a40000000)", f[3]);
        if (!parse_num(f[4], 10, &rec->size))
            return bad_field(s, &src, 5, "Size", "decimal bytes", f[4]);
        if (is_clock) {
            if (ts + US_PER_DAY / 2 < s->last_clock_us)
                s->day_us += US_PER_DAY; /* past midnight */
            s->last_clock_us = ts;
            ts += s->day_us;
        }
        rec->ts_us = ts;
        return 1;
    }
    if (got == 0 && s->line == 0) {
        vimport__fail(s->core, NULL, VRAM_EPARSE, "%s:1: empty file, expected the header '" HEADER "'",
                      s->path);
        return -1;
    }
    return got;
}

static vram_status import_file(vimport__core *c, rmm_src *s, const char *out_path,
                               const vimport_options *opt)
{
    const vimport__source src = {rmm_next, rmm_rewind, rmm_where, s};
    vram_status st = vimport__scan(c, &src);
    if (st)
        return st;
    vtrace_header h = {.version = VTRACE_VERSION};
    h.capacity = opt->capacity;
    if (!h.capacity) {
        uint64_t peak = c->stats.peak_live_bytes;
        h.capacity = peak / GiB * GiB + (peak % GiB ? GiB : 0); /* peak <= 2^63-1: no overflow */
    }
    if (!h.capacity || h.capacity > INT64_MAX)
        return vimport__fail(c, NULL, VRAM_EINVAL,
                             "%s: nothing is allocated, so no capacity can be derived: give it with "
                             "--capacity", s->path);
    vimport__header_text(h.model, MODEL_NAME);
    vimport__header_text(h.engine, ENGINE_NAME);
    char text[VTRACE_TEXT_MAX];
    if (opt->source)
        vimport__header_text(h.source, opt->source);
    else {
        snprintf(text, sizeof text, "%s (RMM logging_resource_adaptor CSV)",
                 vimport__basename(s->path));
        vimport__header_text(h.source, text);
    }
    vimport__header_text(h.licence, opt->licence ? opt->licence : "unknown");
    char comment[160];
    snprintf(comment, sizeof comment, "rmm log: %llu rows, %llu allocate failure(s) skipped",
             (unsigned long long)s->records, (unsigned long long)s->failures);
    st = vimport__emit(c, &src, out_path, &h, comment);
    c->stats.records = s->records;
    c->stats.failures = s->failures;
    c->stats.capacity = h.capacity;
    return st;
}

vram_status vimport_rmm(const char *in_path, const char *out_path, const vimport_options *opt,
                        vimport_stats *stats, char *err, size_t errlen)
{
    if (!in_path || !out_path)
        return VRAM_EINVAL;
    const vimport_options defaults = {0};
    if (!opt)
        opt = &defaults;
    vimport__core c;
    vram_status st = vimport__core_open(&c, in_path, out_path, err, errlen);
    if (st)
        return st;
    rmm_src s = {.core = &c, .path = in_path};
    /* The log is read twice (sizes first, then the events): a pipe would be
     * empty the second time, and opening a FIFO would wait for a writer. */
    struct stat sb;
    if (stat(in_path, &sb) == 0 && !S_ISREG(sb.st_mode))
        st = vimport__fail(&c, NULL, VRAM_EIO,
                           "%s: not a regular file: an RMM log is read twice; save it to a file"
                           " first", in_path);
    else if (!(s.f = fopen(in_path, "rb")))
        st = vimport__fail(&c, NULL, VRAM_EIO, "%s: cannot open: %s", in_path, strerror(errno));
    else
        st = import_file(&c, &s, out_path, opt);
    if (s.f)
        fclose(s.f);
    if (stats)
        *stats = c.stats;
    vimport__core_fini(&c);
    return st;
}
