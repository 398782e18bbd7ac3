/* workload.c - the Azure CSV and Mooncake JSONL request readers (workload.h).
 *
 * Lines come from the fixed-buffer line source (lines.c); each line is parsed
 * in place between two pointers. The JSON reader accepts exactly the flat
 * objects of the Mooncake release: four keys, integer values, one integer array. */
#include "workload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lines.h"

#define LINE_MAX_BYTES (64 * 1024)
#define TOKENS_MAX 1000000000ull       /* a sanity bound on token counts */
#define AZURE_HEADER "TIMESTAMP,ContextTokens,GeneratedTokens"

struct vworkload_reader {
    vlines *src;
    vworkload_format fmt;
    int started;              /* a request has been read: origin_us is set */
    uint64_t origin_us;       /* the first request's absolute time */
    uint64_t last_us;         /* the previous request's arrival (arrivals never decrease) */
    uint64_t hash[VWORKLOAD_HASH_MAX];
};

#define fail(r, ...) vlines_fail((r)->src, __VA_ARGS__)

/* Reads exactly `n` digits at *pp into *v. */
static int digits(const char **pp, const char *e, int n, uint64_t *v)
{
    const char *p = *pp;
    uint64_t x = 0;
    for (int i = 0; i < n; i++, p++) {
        if (p >= e || *p < '0' || *p > '9')
            return -1;
        x = x * 10 + (uint64_t)(*p - '0');
    }
    *v = x;
    *pp = p;
    return 0;
}

/* A decimal integer of 1 to 19 digits ending at a byte in `stops` (or the line end). */
static int parse_count(vworkload_reader *r, const char **pp, const char *e, const char *what,
                       const char *stops, uint64_t *v)
{
    char tmp[48];
    const char *p = *pp, *q = p;
    while (q < e && !strchr(stops, *q))
        q++;
    if (p == q)
        return fail(r, "missing %s", what);
    uint64_t x = 0;
    for (const char *s = p; s < q; s++) {
        if (*s < '0' || *s > '9')
            return fail(r, "%s: expected a non-negative integer, found '%s'", what, vlines_show(p, q, tmp));
        x = x * 10 + (uint64_t)(*s - '0');
    }
    if (q - p > 19) /* 19 digits never overflow 64 bits */
        return fail(r, "%s out of range: '%s'", what, vlines_show(p, q, tmp));
    *v = x;
    *pp = q;
    return 0;
}

static int check_tokens(vworkload_reader *r, const char *what, uint64_t v)
{
    if (v < 1 || v > TOKENS_MAX)
        return fail(r, "%s %llu out of range (expected 1 to %llu)", what, (unsigned long long)v,
                    TOKENS_MAX);
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static uint64_t days_from_civil(uint64_t y, uint64_t m, uint64_t d)
{
    y -= m <= 2;
    uint64_t era = y / 400, yoe = y - era * 400;
    uint64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    uint64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int leap(uint64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* "YYYY-MM-DD HH:MM:SS[.fraction]" (1970 to 9999) to microseconds since 1970. */
static int parse_azure_time(vworkload_reader *r, const char **pp, const char *e, uint64_t *us)
{
    static const uint8_t mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    char tmp[48];
    const char *p = *pp, *stop = memchr(p, ',', (size_t)(e - p));
    if (!stop)
        stop = e;
    uint64_t y, mo, d, h, mi, s, frac = 0;
    if (digits(&p, e, 4, &y) || p >= e || *p++ != '-' || digits(&p, e, 2, &mo) || p >= e ||
        *p++ != '-' || digits(&p, e, 2, &d) || p >= e || *p++ != ' ' || digits(&p, e, 2, &h) ||
        p >= e || *p++ != ':' || digits(&p, e, 2, &mi) || p >= e || *p++ != ':' ||
        digits(&p, e, 2, &s))
        return fail(r, "TIMESTAMP: expected YYYY-MM-DD HH:MM:SS[.fraction], found '%s'",
                    vlines_show(*pp, stop, tmp));
    if (p < e && *p == '.') {
        int n = 0;
        for (p++; p < e && *p >= '0' && *p <= '9'; p++, n++)
            if (n < 6)
                frac = frac * 10 + (uint64_t)(*p - '0');
        if (n == 0 || n > 9)
            return fail(r, "TIMESTAMP: expected 1 to 9 fraction digits, found '%s'",
                        vlines_show(*pp, stop, tmp));
        for (; n < 6; n++)
            frac *= 10;
    }
    if (p != stop)
        return fail(r, "TIMESTAMP: unexpected text in '%s'", vlines_show(*pp, stop, tmp));
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > (uint64_t)(mdays[mo - 1] + (mo == 2 && leap(y))) ||
        h > 23 || mi > 59 || s > 59)
        return fail(r, "TIMESTAMP: no such date or time: '%s'", vlines_show(*pp, stop, tmp));
    *us = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60 + s;
    *us = *us * 1000000 + frac;
    *pp = p;
    return 0;
}

/* Sets the arrival of `req` from an absolute time; arrivals never decrease. */
static int set_arrival(vworkload_reader *r, uint64_t abs_us, vworkload_request *req)
{
    if (!r->started) {
        r->started = 1;
        r->origin_us = r->last_us = abs_us;
    }
    if (abs_us < r->last_us)
        return fail(r, "timestamp goes backwards (%llu us before the previous request)",
                    (unsigned long long)(r->last_us - abs_us));
    r->last_us = abs_us;
    req->arrival_us = abs_us - r->origin_us;
    return 0;
}

static int parse_azure(vworkload_reader *r, const char *p, const char *e, vworkload_request *req)
{
    char tmp[48];
    uint64_t abs_us = 0;
    if (parse_azure_time(r, &p, e, &abs_us) < 0)
        return -1;
    if (p >= e || *p++ != ',')
        return fail(r, "missing ContextTokens (expected TIMESTAMP,ContextTokens,GeneratedTokens)");
    if (parse_count(r, &p, e, "ContextTokens", ",", &req->prompt_tokens) < 0 ||
        check_tokens(r, "ContextTokens", req->prompt_tokens) < 0)
        return -1;
    if (p >= e || *p++ != ',')
        return fail(r, "missing GeneratedTokens (expected TIMESTAMP,ContextTokens,GeneratedTokens)");
    if (parse_count(r, &p, e, "GeneratedTokens", ",", &req->output_tokens) < 0 ||
        check_tokens(r, "GeneratedTokens", req->output_tokens) < 0)
        return -1;
    if (p != e)
        return fail(r, "trailing text '%s' (expected TIMESTAMP,ContextTokens,GeneratedTokens)",
                    vlines_show(p, e, tmp));
    req->hash_ids = NULL;
    req->n_hash = 0;
    return set_arrival(r, abs_us, req);
}

static const char *skip_ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

enum { KEY_TIMESTAMP, KEY_INPUT, KEY_OUTPUT, KEY_HASH, KEY_COUNT };
static const char *const json_keys[KEY_COUNT] = {"timestamp", "input_length", "output_length", "hash_ids"};

#define KEY_BYTES 48 /* decoded key bytes kept: more than any known key, enough to show */

/* Four hex digits at p (before e) into *v. */
static int hex4(const char *p, const char *e, unsigned *v)
{
    unsigned x = 0;
    for (int i = 0; i < 4; i++, p++) {
        if (p >= e)
            return -1;
        unsigned d = *p >= '0' && *p <= '9'   ? (unsigned)(*p - '0')
                     : *p >= 'a' && *p <= 'f' ? (unsigned)(*p - 'a' + 10)
                     : *p >= 'A' && *p <= 'F' ? (unsigned)(*p - 'A' + 10)
                                              : 16u;
        if (d > 15)
            return -1;
        x = x * 16 + d;
    }
    *v = x;
    return 0;
}

/* A JSON string key, *pp at its opening quote, decoded as JSON decodes any
 * string (\" \\ \/ \b \f \n \r \t, \uXXXX and surrogate pairs to UTF-8):
 * its first KEY_BYTES bytes into out, its whole decoded length into *len;
 * *pp moves past the closing quote. */
static int parse_key(vworkload_reader *r, const char **pp, const char *e, char out[KEY_BYTES],
                     size_t *len)
{
    char tmp[48];
    const char *p = *pp + 1;
    size_t n = 0;
    for (;;) {
        if (p >= e)
            return fail(r, "unterminated key");
        unsigned char ch = (unsigned char)*p;
        if (ch == '"')
            break;
        unsigned char utf8[4];
        size_t nb = 1;
        utf8[0] = ch;
        if (ch == '\\') {
            const char *esc = p++;
            if (p >= e)
                return fail(r, "unterminated key");
            switch (*p) {
            case '"': case '\\': case '/': utf8[0] = (unsigned char)*p; break;
            case 'b': utf8[0] = '\b'; break;
            case 'f': utf8[0] = '\f'; break;
            case 'n': utf8[0] = '\n'; break;
            case 'r': utf8[0] = '\r'; break;
            case 't': utf8[0] = '\t'; break;
            case 'u': {
                unsigned cp, lo;
                if (hex4(p + 1, e, &cp) < 0)
                    return fail(r, "bad escape '%s' in a key (expected \\u and 4 hex digits)",
                                vlines_show(esc, p + 5 < e ? p + 5 : e, tmp));
                p += 4;
                if (cp >= 0xdc00 && cp <= 0xdfff)
                    return fail(r, "bad escape '%s' in a key (a low surrogate without a high one)",
                                vlines_show(esc, p + 1, tmp));
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    if (e - p < 7 || p[1] != '\\' || p[2] != 'u' || hex4(p + 3, e, &lo) < 0 ||
                        lo < 0xdc00 || lo > 0xdfff)
                        return fail(r, "bad escape '%s' in a key (a high surrogate without a low "
                                       "one)", vlines_show(esc, p + 1, tmp));
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    p += 6;
                }
                if (cp < 0x80) {
                    utf8[0] = (unsigned char)cp;
                } else if (cp < 0x800) {
                    utf8[0] = (unsigned char)(0xc0 | cp >> 6);
                    utf8[1] = (unsigned char)(0x80 | (cp & 0x3f));
                    nb = 2;
                } else if (cp < 0x10000) {
                    utf8[0] = (unsigned char)(0xe0 | cp >> 12);
                    utf8[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
                    utf8[2] = (unsigned char)(0x80 | (cp & 0x3f));
                    nb = 3;
                } else {
                    utf8[0] = (unsigned char)(0xf0 | cp >> 18);
                    utf8[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
                    utf8[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
                    utf8[3] = (unsigned char)(0x80 | (cp & 0x3f));
                    nb = 4;
                }
                break;
            }
            default:
                return fail(r, "bad escape '%s' in a key (expected \\\" \\\\ \\/ \\b \\f \\n "
                               "\\r \\t or \\uXXXX)", vlines_show(esc, p + 1, tmp));
            }
        }
        for (size_t i = 0; i < nb; i++, n++)
            if (n < KEY_BYTES)
                out[n] = (char)utf8[i];
        p++;
    }
    *len = n;
    *pp = p + 1;
    return 0;
}

static int parse_hash_ids(vworkload_reader *r, const char **pp, const char *e, vworkload_request *req)
{
    const char *p = skip_ws(*pp, e);
    if (p >= e || *p++ != '[')
        return fail(r, "hash_ids: expected '['");
    size_t n = 0;
    p = skip_ws(p, e);
    if (p < e && *p == ']') {
        *pp = p + 1;
        req->n_hash = 0;
        return 0;
    }
    for (;;) {
        if (n == VWORKLOAD_HASH_MAX)
            return fail(r, "hash_ids: more than %d ids", VWORKLOAD_HASH_MAX);
        p = skip_ws(p, e);
        if (parse_count(r, &p, e, "hash id", ",] \t", &r->hash[n++]) < 0)
            return -1;
        p = skip_ws(p, e);
        if (p < e && *p == ',') {
            p++;
            continue;
        }
        if (p < e && *p == ']')
            break;
        return fail(r, "hash_ids: expected ',' or ']' after id %zu", n);
    }
    req->n_hash = n;
    *pp = p + 1;
    return 0;
}

static int parse_mooncake(vworkload_reader *r, const char *p, const char *e, vworkload_request *req)
{
    char tmp[48];
    uint64_t vals[KEY_COUNT] = {0};
    unsigned seen = 0;
    p = skip_ws(p, e);
    if (p >= e || *p != '{')
        return fail(r, "expected a JSON object '{', found '%s'", vlines_show(p, e, tmp));
    p++;
    for (;;) {
        p = skip_ws(p, e);
        if (p >= e || *p != '"')
            return fail(r, "expected a quoted key");
        char name[KEY_BYTES];
        size_t len = 0;
        if (parse_key(r, &p, e, name, &len) < 0)
            return -1;
        int key = -1;
        for (int i = 0; i < KEY_COUNT; i++)
            if (strlen(json_keys[i]) == len && memcmp(json_keys[i], name, len) == 0)
                key = i;
        if (key < 0)
            return fail(r, "unknown key '%s' (expected timestamp, input_length, output_length, hash_ids)",
                        vlines_show(name, name + (len < KEY_BYTES ? len : KEY_BYTES), tmp));
        if (seen & (1u << key))
            return fail(r, "duplicate key '%s'", json_keys[key]);
        seen |= 1u << key;
        p = skip_ws(p, e);
        if (p >= e || *p++ != ':')
            return fail(r, "expected ':' after key '%s'", json_keys[key]);
        if (key == KEY_HASH) {
            if (parse_hash_ids(r, &p, e, req) < 0)
                return -1;
        } else {
            p = skip_ws(p, e);
            if (parse_count(r, &p, e, json_keys[key], ",} \t", &vals[key]) < 0)
                return -1;
        }
        p = skip_ws(p, e);
        if (p < e && *p == ',') {
            p++;
            continue;
        }
        if (p < e && *p == '}')
            break;
        return fail(r, "expected ',' or '}' after the value of '%s'", json_keys[key]);
    }
    p = skip_ws(p + 1, e);
    if (p != e)
        return fail(r, "trailing text '%s' after the object", vlines_show(p, e, tmp));
    for (int i = 0; i < KEY_COUNT; i++)
        if (!(seen & (1u << i)))
            return fail(r, "missing key '%s'", json_keys[i]);
    if (check_tokens(r, "input_length", vals[KEY_INPUT]) < 0 ||
        check_tokens(r, "output_length", vals[KEY_OUTPUT]) < 0)
        return -1;
    uint64_t blocks = (vals[KEY_INPUT] + VWORKLOAD_MOONCAKE_BLOCK_TOKENS - 1) / VWORKLOAD_MOONCAKE_BLOCK_TOKENS;
    if (req->n_hash != blocks)
        return fail(r, "hash_ids has %zu ids, expected ceil(input_length / %d) = %llu", req->n_hash,
                    VWORKLOAD_MOONCAKE_BLOCK_TOKENS, (unsigned long long)blocks);
    if (vals[KEY_TIMESTAMP] > UINT64_MAX / 1000)
        return fail(r, "timestamp %llu ms out of range", (unsigned long long)vals[KEY_TIMESTAMP]);
    req->prompt_tokens = vals[KEY_INPUT];
    req->output_tokens = vals[KEY_OUTPUT];
    req->hash_ids = r->hash;
    return set_arrival(r, vals[KEY_TIMESTAMP] * 1000, req);
}

int vworkload_next(vworkload_reader *r, vworkload_request *req)
{
    for (;;) {
        const char *p, *e;
        int rc = vlines_next(r->src, &p, &e);
        if (rc == 0 && !r->started) /* a recording without a request: nothing to generate from */
            return r->fmt == VWORKLOAD_AZURE
                       ? fail(r, "no requests after the header (expected "
                                 "TIMESTAMP,ContextTokens,GeneratedTokens rows)")
                       : fail(r, "empty file (expected one JSON object a line, with timestamp, "
                                 "input_length, output_length and hash_ids)");
        if (rc <= 0)
            return rc;
        if (p == e)
            continue; /* empty lines (a trailing newline or two) carry nothing */
        req->line = vlines_line(r->src);
        rc = r->fmt == VWORKLOAD_AZURE ? parse_azure(r, p, e, req) : parse_mooncake(r, p, e, req);
        return rc < 0 ? -1 : 1;
    }
}

static vram_status open_lines(vram_status st, vlines *src, vworkload_format fmt,
                              vworkload_reader **out, char *err, size_t errlen)
{
    if (st)
        return st;
    if (fmt != VWORKLOAD_AZURE && fmt != VWORKLOAD_MOONCAKE) {
        if (err && errlen)
            snprintf(err, errlen, "unknown workload format %d", (int)fmt);
        vlines_close(src);
        return VRAM_EINVAL;
    }
    vworkload_reader *r = calloc(1, sizeof *r);
    if (!r) {
        if (err && errlen)
            snprintf(err, errlen, "out of host memory");
        vlines_close(src);
        return VRAM_ENOHOST;
    }
    r->src = src;
    r->fmt = fmt;
    if (fmt == VWORKLOAD_AZURE) {
        const char *p, *e;
        char tmp[48];
        int rc = vlines_next(src, &p, &e);
        if (rc == 0)
            fail(r, "empty file (expected the header '" AZURE_HEADER "')");
        else if (rc > 0 && ((size_t)(e - p) != strlen(AZURE_HEADER) || memcmp(p, AZURE_HEADER, (size_t)(e - p))))
            fail(r, "expected the header '" AZURE_HEADER "', found '%s'", vlines_show(p, e, tmp));
        if (vlines_error(src)[0]) {
            if (err && errlen)
                snprintf(err, errlen, "%s", vlines_error(src));
            vworkload_close(r);
            return VRAM_EPARSE;
        }
    }
    if (err && errlen)
        err[0] = '\0';
    *out = r;
    return VRAM_OK;
}

vram_status vworkload_open(const char *path, vworkload_format fmt, vworkload_reader **out, char *err,
                           size_t errlen)
{
    vlines *src = NULL;
    *out = NULL;
    vram_status st = vlines_open(path, LINE_MAX_BYTES, &src, err, errlen);
    return open_lines(st, src, fmt, out, err, errlen);
}

vram_status vworkload_open_buffer(const void *buf, size_t len, const char *name, vworkload_format fmt,
                                  vworkload_reader **out, char *err, size_t errlen)
{
    vlines *src = NULL;
    *out = NULL;
    vram_status st = vlines_open_buffer(buf, len, name ? name : "(workload)", LINE_MAX_BYTES, &src,
                                        err, errlen);
    return open_lines(st, src, fmt, out, err, errlen);
}

const char *vworkload_error(const vworkload_reader *r)
{
    return vlines_error(r->src);
}

int vworkload_format_parse(const char *name, vworkload_format *out)
{
    if (name && strcmp(name, "azure") == 0)
        *out = VWORKLOAD_AZURE;
    else if (name && strcmp(name, "mooncake") == 0)
        *out = VWORKLOAD_MOONCAKE;
    else
        return -1;
    return 0;
}

void vworkload_close(vworkload_reader *r)
{
    if (!r)
        return;
    vlines_close(r->src);
    free(r);
}
