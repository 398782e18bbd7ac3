/* test_trace.c - the trace parser: a valid trace read field by field, and every
 * malformed-line class with its exact file:line error (table-driven). */
#include "testlib.h"
#include "trace.h"

#define HDR "vramtrace 1\nmodel m\nengine paged\ncapacity 1000\n"

static void test_valid(void)
{
    static const char text[] =
        "vramtrace 1\n"
        "# a comment before the header\n"
        "model llama-3-70b tp=4 bf16  \n"
        "engine\tpaged\n"
        "capacity 85899345920\r\n"
        "kv_block_bytes 1310720\n"
        "source Azure conv (CC-BY-4.0)\n"
        "licence CC-BY-4.0\n"
        "\n"
        "@10 alloc 1 4096 256 kv 7\n"
        "  free   1  \n"
        "use 18446744073709551615\n"
        "   # indented comment\n"
        "@10 acquire base:w 9223372036854775807 2147483647\n"
        "@25 release base:w\n"
        "step 3\n"
        "begin 4\n"
        "end 0004\n"
        "alloc 2 1 0 adapter 0"; /* no final newline */
    vtrace_reader *r;
    char err[256];
    assert_ok(vtrace_open_buffer(text, sizeof text - 1, "t", &r, err, sizeof err));
    const vtrace_header *h = vtrace_header_of(r);
    expect_eq_u64(h->version, 1);
    expect_true(strcmp(h->model, "llama-3-70b tp=4 bf16") == 0);
    expect_true(strcmp(h->engine, "paged") == 0);
    expect_eq_u64(h->capacity, 85899345920ull);
    expect_eq_u64(h->kv_block_bytes, 1310720);
    expect_true(strcmp(h->source, "Azure conv (CC-BY-4.0)") == 0);
    expect_true(strcmp(h->licence, "CC-BY-4.0") == 0);

    vtrace_event ev;
    assert_true(vtrace_next(r, &ev) == 1);
    expect_true(ev.type == VTRACE_ALLOC && ev.id == 1 && ev.size == 4096 && ev.align == 256 &&
                ev.kind == VRAM_KIND_KV && ev.priority == 7 && ev.ts_us == 10 && ev.line == 10);
    assert_true(vtrace_next(r, &ev) == 1);
    expect_true(ev.type == VTRACE_FREE && ev.id == 1 && ev.ts_us == 10 && ev.line == 11);
    assert_true(vtrace_next(r, &ev) == 1);
    expect_true(ev.type == VTRACE_USE && ev.id == UINT64_MAX);
    assert_true(vtrace_next(r, &ev) == 1);
    expect_true(ev.type == VTRACE_SHARED_ACQUIRE && strcmp(ev.key, "base:w") == 0 &&
                ev.size == 9223372036854775807ull && ev.priority == 2147483647 && ev.line == 14);
    assert_true(vtrace_next(r, &ev) == 1);
    expect_true(ev.type == VTRACE_SHARED_RELEASE && strcmp(ev.key, "base:w") == 0 && ev.ts_us == 25);
    assert_true(vtrace_next(r, &ev) == 1);
    expect_true(ev.type == VTRACE_STEP && ev.id == 3 && ev.ts_us == 25);
    assert_true(vtrace_next(r, &ev) == 1);
    expect_true(ev.type == VTRACE_REQUEST_BEGIN && ev.id == 4);
    assert_true(vtrace_next(r, &ev) == 1);
    expect_true(ev.type == VTRACE_REQUEST_END && ev.id == 4);
    assert_true(vtrace_next(r, &ev) == 1);
    expect_true(ev.type == VTRACE_ALLOC && ev.kind == VRAM_KIND_ADAPTER && ev.size == 1 && ev.line == 19);
    expect_true(vtrace_next(r, &ev) == 0);
    expect_true(vtrace_next(r, &ev) == 0);
    expect_true(strcmp(vtrace_error(r), "") == 0);
    expect_eq_u64(vtrace_offset(r), sizeof text - 1);
    vtrace_close(r);
}

static void test_header_only(void)
{
    static const char text[] = HDR "# no events\n";
    vtrace_reader *r;
    char err[256];
    vtrace_event ev;
    assert_ok(vtrace_open_buffer(text, sizeof text - 1, "t", &r, err, sizeof err));
    expect_true(vtrace_next(r, &ev) == 0);
    vtrace_close(r);
}

/* Reads `text` to its end; returns the first error ("" if none). */
static const char *first_error(const char *text, size_t len, char *err, size_t errlen)
{
    vtrace_reader *r;
    if (vtrace_open_buffer(text, len, "t", &r, err, errlen) != VRAM_OK)
        return err;
    vtrace_event ev;
    int rc;
    while ((rc = vtrace_next(r, &ev)) == 1)
        ;
    snprintf(err, errlen, "%s", rc < 0 ? vtrace_error(r) : "");
    expect_true(vtrace_next(r, &ev) == (rc < 0 ? -1 : 0)); /* errors are sticky */
    vtrace_close(r);
    return err;
}

static const struct {
    const char *text;
    const char *error; /* the whole message */
} bad[] = {
    {"", "t:1: empty file (expected 'vramtrace 1' as the first line)"},
    {"alloc 1 2 0 kv 1\n", "t:1: expected 'vramtrace 1' as the first line, found 'alloc 1 2 0 kv 1'"},
    {"# comment\nvramtrace 1\n", "t:1: expected 'vramtrace 1' as the first line, found '# comment'"},
    {"vramtrace 2\n", "t:1: unsupported version 2 (this reader reads version 1)"},
    {"vramtrace\n", "t:1: missing version (expected: vramtrace VERSION)"},
    {"vramtrace one\n", "t:1: version: expected a decimal number, found 'one'"},
    {"vramtrace 1 x\n", "t:1: trailing text 'x' after the version (expected: vramtrace 1)"},
    {"vramtrace 1\nmodel m\nmodel n\n", "t:3: duplicate header key 'model'"},
    {"vramtrace 1\nmodel\n", "t:2: header 'model' has no value"},
    {"vramtrace 1\nmodel a\x01" "b\n", "t:2: header 'model' value has control byte 0x01"},
    {"vramtrace 1\nsource " "0123456789012345678901234567890123456789012345678901234567890123"
     "0123456789012345678901234567890123456789012345678901234567890123"
     "0123456789012345678901234567890123456789012345678901234567890123"
     "0123456789012345678901234567890123456789012345678901234567890123\n",
     "t:2: header 'source' value too long (256 bytes, at most 255)"},
    {"vramtrace 1\ncolour blue\n", "t:2: unknown header key or event 'colour' (expected model, engine, "
                                 "capacity, kv_block_bytes, source, licence, or an event)"},
    {"vramtrace 1\nmodel m\nengine e\n", "t:3: missing header key 'capacity' (the trace ends without it)"},
    {"vramtrace 1\nmodel m\ncapacity 5\nalloc 1 2 0 kv 1\n",
     "t:4: missing header key 'engine' before the first event"},
    {"vramtrace 1\nmodel m\nengine e\ncapacity 0\n", "t:4: capacity 0 out of range (expected 1 to 9223372036854775807)"},
    {"vramtrace 1\nmodel m\nengine e\ncapacity 10G\n", "t:4: capacity: expected a decimal number, found '10G'"},
    {"vramtrace 1\nmodel m\nengine e\ncapacity 10 20\n",
     "t:4: trailing text '20' after header 'capacity' (expected: capacity BYTES)"},
    {HDR "alloc 1 2 0 kv 1\nmodel x\n", "t:6: header key 'model' after the first event"},
    {HDR "malloc 1 2\n", "t:5: unknown header key or event 'malloc' (expected model, engine, capacity, "
                         "kv_block_bytes, source, licence, or an event)"},
    {HDR "free 1\nmalloc 1 2\n",
     "t:6: unknown event 'malloc' (expected alloc, free, use, acquire, release, step, begin or end)"},
    {HDR "alloc 1 2 0 kv\n", "t:5: missing PRIORITY (expected: alloc ID SIZE ALIGN KIND PRIORITY)"},
    {HDR "alloc 1 2 0\n", "t:5: missing KIND (expected: alloc ID SIZE ALIGN KIND PRIORITY)"},
    {HDR "alloc\n", "t:5: missing ID (expected: alloc ID SIZE ALIGN KIND PRIORITY)"},
    {HDR "free\n", "t:5: missing ID (expected: free ID)"},
    {HDR "step\n", "t:5: missing N (expected: step N)"},
    {HDR "acquire\n", "t:5: missing KEY (expected: acquire KEY SIZE PRIORITY)"},
    {HDR "acquire k 5\n", "t:5: missing PRIORITY (expected: acquire KEY SIZE PRIORITY)"},
    {HDR "release\n", "t:5: missing KEY (expected: release KEY)"},
    {HDR "alloc x 2 0 kv 1\n", "t:5: ID: expected a decimal number, found 'x'"},
    {HDR "alloc 1 0x10 0 kv 1\n", "t:5: SIZE: expected a decimal number, found '0x10'"},
    {HDR "alloc 1 +2 0 kv 1\n", "t:5: SIZE: expected a decimal number, found '+2'"},
    {HDR "alloc 1 -2 0 kv 1\n", "t:5: SIZE is negative: '-2' (expected: alloc ID SIZE ALIGN KIND PRIORITY)"},
    {HDR "alloc 1 2 0 kv -1\n", "t:5: PRIORITY is negative: '-1' (expected: alloc ID SIZE ALIGN KIND PRIORITY)"},
    {HDR "free 18446744073709551616\n", "t:5: ID out of range: '18446744073709551616' (at most 18446744073709551615)"},
    {HDR "free 99999999999999999999999\n", "t:5: ID out of range: '99999999999999999999999' (at most 18446744073709551615)"},
    {HDR "alloc 1 0 0 kv 1\n", "t:5: SIZE 0 out of range (expected 1 to 9223372036854775807)"},
    {HDR "alloc 1 9223372036854775808 0 kv 1\n",
     "t:5: SIZE 9223372036854775808 out of range (expected 1 to 9223372036854775807)"},
    {HDR "alloc 1 2 0 kv 2147483648\n", "t:5: PRIORITY 2147483648 out of range (expected 0 to 2147483647)"},
    {HDR "alloc 1 2 48 kv 1\n", "t:5: ALIGN 48 is not a power of two (or 0)"},
    {HDR "alloc 1 2 2147483648 kv 1\n", "t:5: ALIGN 2147483648 out of range (expected 0 to 1073741824)"},
    {HDR "alloc 1 2 0 KV 1\n",
     "t:5: unknown kind 'KV' (expected weight, kv, activation, workspace, adapter or other)"},
    {HDR "acquire " "0123456789012345678901234567890123456789012345678901234567890123 5 1\n",
     "t:5: key too long: '0123456789012345678901234567890123456789...' (64 bytes, at most 63)"},
    {HDR "release k\x7f" "ey\n", "t:5: key 'k?ey' has byte 0x7f (expected printable ASCII)"},
    {HDR "@10 step 1\n@9 step 2\n", "t:6: timestamp 9 goes backwards (previous 10)"},
    {HDR "@ step 1\n", "t:5: '@' without a timestamp (expected @MICROSECONDS before the event)"},
    {HDR "@x step 1\n", "t:5: timestamp: expected a decimal number, found 'x'"},
    {HDR "@5\n", "t:5: timestamp '@5' without an event"},
    {HDR "free 1 2\n", "t:5: trailing text '2' after the free event (expected: free ID)"},
    {HDR "alloc 1 2 0 kv 1 # note\n",
     "t:5: trailing text '# note' after the alloc event (expected: alloc ID SIZE ALIGN KIND PRIORITY)"},
    {HDR "free 1\nfree 2\nfree 3x\n", "t:7: ID: expected a decimal number, found '3x'"},
};

static void test_bad_lines(void)
{
    char err[512];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *got = first_error(bad[i].text, strlen(bad[i].text), err, sizeof err);
        if (strcmp(got, bad[i].error) != 0) {
            fprintf(stderr, "case %zu:\n  got:    %s\n  wanted: %s\n", i, got, bad[i].error);
            test_failures++;
        }
    }
}

/* Cases that need bytes strlen cannot carry, or long lines. */
static void test_bad_bytes(void)
{
    char err[512];
    static const char nul[] = HDR "free 1\nfree \0 2\n";
    expect_true(strcmp(first_error(nul, sizeof nul - 1, err, sizeof err), "t:6: NUL byte in the line") == 0);

    size_t n = strlen(HDR) + 5000;
    char *big = malloc(n + 1);
    assert_true(big != NULL);
    memcpy(big, HDR, strlen(HDR));
    memset(big + strlen(HDR), '#', 5000);
    big[n] = '\n';
    expect_true(strcmp(first_error(big, n, err, sizeof err), "t:5: line too long (more than 4096 bytes)") == 0);
    expect_true(strcmp(first_error(big, n + 1, err, sizeof err), "t:5: line too long (more than 4096 bytes)") == 0);
    /* a line of exactly 4096 bytes is accepted */
    memset(big + strlen(HDR) + 4096, '\n', 1);
    expect_true(strcmp(first_error(big, strlen(HDR) + 4097, err, sizeof err), "") == 0);
    free(big);

    /* every prefix of a valid trace ends cleanly or with an error, never out of bounds */
    static const char text[] = HDR "@1 alloc 1 4096 256 kv 7\nacquire k 5 1\nrelease k\nfree 1\n";
    for (size_t len = 0; len <= sizeof text - 1; len++) {
        char *copy = malloc(len ? len : 1);
        assert_true(copy != NULL);
        memcpy(copy, text, len);
        first_error(copy, len, err, sizeof err);
        free(copy);
    }
}

static void test_open_errors(void)
{
    vtrace_reader *r = (vtrace_reader *)&r;
    char err[256];
    expect_status(vtrace_open("/nonexistent/x.trace", &r, err, sizeof err), VRAM_EIO);
    expect_true(r == NULL);
    expect_true(strcmp(err, "/nonexistent/x.trace: cannot open: No such file or directory") == 0);
    expect_status(vtrace_open_buffer("x", 1, "buf", &r, err, sizeof err), VRAM_EPARSE);
    expect_true(r == NULL);
    expect_true(strcmp(err, "buf:1: expected 'vramtrace 1' as the first line, found 'x'") == 0);
}

int main(void)
{
    test_valid();
    test_header_only();
    test_bad_lines();
    test_bad_bytes();
    test_open_errors();
    return test_finish("trace");
}
