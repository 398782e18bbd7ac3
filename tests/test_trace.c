/* test_trace.c - the trace parser: a valid trace of each version (1 and 2) read
 * field by field, and every malformed-line class with its exact file:line
 * error (table-driven): version-1 inputs (still read), then version 2's NEED
 * field, pin/unpin and header keys. */
#include "testlib.h"
#include "trace.h"

#define HDR "vramtrace 1\nmodel m\nengine paged\ncapacity 1000\n"
#define HDR2 "vramtrace 2\nmodel m\nengine paged\ncapacity 1000\n"
#define ALLOC2 "alloc ID SIZE ALIGN KIND PRIORITY NEED"
#define ACQUIRE2 "acquire KEY SIZE PRIORITY NEED"
#define NEED_ANY "NEED '-', 'engine' or a request id"

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
    expect_eq_u64(h->kv_token_bytes, 0);
    expect_eq_u64(h->prefill_tokens_per_s, 0);

    vtrace_event ev;
    assert_true(vtrace_next(r, &ev) == 1);
    expect_true(ev.type == VTRACE_ALLOC && ev.id == 1 && ev.size == 4096 && ev.align == 256 &&
                ev.kind == VRAM_KIND_KV && ev.priority == 7 && ev.ts_us == 10 && ev.line == 10);
    expect_true(ev.need == VTRACE_NEED_NONE && ev.owner == 0); /* version 1: no NEED field */
    assert_true(vtrace_next(r, &ev) == 1);
    expect_true(ev.type == VTRACE_FREE && ev.id == 1 && ev.ts_us == 10 && ev.line == 11);
    assert_true(vtrace_next(r, &ev) == 1);
    expect_true(ev.type == VTRACE_USE && ev.id == UINT64_MAX);
    assert_true(vtrace_next(r, &ev) == 1);
    expect_true(ev.type == VTRACE_SHARED_ACQUIRE && strcmp(ev.key, "base:w") == 0 &&
                ev.size == 9223372036854775807ull && ev.priority == 2147483647 && ev.line == 14);
    assert_true(vtrace_next(r, &ev) == 1);
    expect_true(ev.type == VTRACE_SHARED_RELEASE && strcmp(ev.key, "base:w") == 0 && ev.ts_us == 25 &&
                ev.need == VTRACE_NEED_NONE);
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

/* Version 2: the header keys, NEED on alloc/acquire/release, pin and unpin. */
static void test_valid_v2(void)
{
    static const char text[] =
        "vramtrace 2\n"
        "model llama-3-70b tp=4 bf16\n"
        "engine paged\n"
        "capacity 85899345920\n"
        "kv_block_bytes 1310720\n"
        "kv_token_bytes 81920\n"
        "prefill_tokens_per_s\t16667 \n"
        "allocator_settings expandable_segments:True,max_split_size_mb:512 \n"
        "acquire base:m:embed 525336576 100 engine\n"
        "alloc 1 427851776 0 weight 100 engine\n"
        "alloc 9 382730240 0 adapter 50 -\n"
        "@5150 begin 17\n"
        "pin 9\n"
        "alloc 2 1310720 0 kv 10 17\n"
        "acquire kv:42 41943040 10 0017\n"
        "acquire kv:42 41943040 10 -\n"
        "step 1\n"
        "release kv:42 17\n"
        "free 2\n"
        "unpin 9\n"
        "end 17\n"
        "alloc 3 1 0 other 0 18446744073709551615\n"
        "@9000 free 1\n"
        "release kv:42 -\n"
        "release base:m:embed\tengine  "; /* no final newline */
    vtrace_reader *r;
    char err[256];
    assert_ok(vtrace_open_buffer(text, sizeof text - 1, "t", &r, err, sizeof err));
    const vtrace_header *h = vtrace_header_of(r);
    expect_eq_u64(h->version, 2);
    expect_eq_u64(h->kv_block_bytes, 1310720);
    expect_eq_u64(h->kv_token_bytes, 81920);
    expect_eq_u64(h->prefill_tokens_per_s, 16667);
    expect_true(strcmp(h->allocator_settings, "expandable_segments:True,max_split_size_mb:512") == 0);
    static const struct {
        vtrace_type type;
        uint64_t id;
        const char *key;
        vtrace_need need;
        uint64_t owner;
    } want[] = {
        {VTRACE_SHARED_ACQUIRE, 0, "base:m:embed", VTRACE_NEED_ENGINE, 0},
        {VTRACE_ALLOC, 1, "", VTRACE_NEED_ENGINE, 0},
        {VTRACE_ALLOC, 9, "", VTRACE_NEED_NONE, 0},
        {VTRACE_REQUEST_BEGIN, 17, "", VTRACE_NEED_NONE, 0},
        {VTRACE_PIN, 9, "", VTRACE_NEED_NONE, 0},
        {VTRACE_ALLOC, 2, "", VTRACE_NEED_REQUEST, 17},
        {VTRACE_SHARED_ACQUIRE, 0, "kv:42", VTRACE_NEED_REQUEST, 17},
        {VTRACE_SHARED_ACQUIRE, 0, "kv:42", VTRACE_NEED_NONE, 0},
        {VTRACE_STEP, 1, "", VTRACE_NEED_NONE, 0},
        {VTRACE_SHARED_RELEASE, 0, "kv:42", VTRACE_NEED_REQUEST, 17},
        {VTRACE_FREE, 2, "", VTRACE_NEED_NONE, 0},
        {VTRACE_UNPIN, 9, "", VTRACE_NEED_NONE, 0},
        {VTRACE_REQUEST_END, 17, "", VTRACE_NEED_NONE, 0},
        {VTRACE_ALLOC, 3, "", VTRACE_NEED_REQUEST, UINT64_MAX},
        {VTRACE_FREE, 1, "", VTRACE_NEED_NONE, 0},
        {VTRACE_SHARED_RELEASE, 0, "kv:42", VTRACE_NEED_NONE, 0},
        {VTRACE_SHARED_RELEASE, 0, "base:m:embed", VTRACE_NEED_ENGINE, 0},
    };
    vtrace_event ev;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_true(vtrace_next(r, &ev) == 1);
        if (ev.type != want[i].type || ev.need != want[i].need || ev.owner != want[i].owner ||
            strcmp(ev.key, want[i].key) != 0 || (!want[i].key[0] && ev.id != want[i].id)) {
            fprintf(stderr, "event %zu (line %llu): type %s id %llu key '%s' need %d owner %llu\n", i,
                    (unsigned long long)ev.line, vtrace_type_name(ev.type), (unsigned long long)ev.id, ev.key,
                    (int)ev.need, (unsigned long long)ev.owner);
            test_failures++;
        }
        expect_eq_u64(ev.line, i + 9);
    }
    expect_true(vtrace_next(r, &ev) == 0);
    expect_true(strcmp(vtrace_error(r), "") == 0);
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
    {"", "t:1: empty file (expected 'vramtrace 2' as the first line)"},
    {"alloc 1 2 0 kv 1\n", "t:1: expected 'vramtrace 2' as the first line, found 'alloc 1 2 0 kv 1'"},
    {"# comment\nvramtrace 1\n", "t:1: expected 'vramtrace 2' as the first line, found '# comment'"},
    {"vramtrace 3\n", "t:1: unsupported version 3 (this reader reads versions 1 to 2)"},
    {"vramtrace 0\n", "t:1: unsupported version 0 (this reader reads versions 1 to 2)"},
    {"vramtrace 2\n", "t:1: missing header key 'model' (the trace ends without it)"},
    {"vramtrace\n", "t:1: missing version (expected: vramtrace VERSION)"},
    {"vramtrace one\n", "t:1: version: expected a decimal number, found 'one'"},
    {"vramtrace 1 x\n", "t:1: trailing text 'x' after the version (expected: vramtrace 2)"},
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

    /* version 2 in a version-1 trace */
    {HDR "pin 1\n", "t:5: event 'pin' needs trace version 2 (this trace is version 1)"},
    {HDR "free 1\nunpin 1\n", "t:6: event 'unpin' needs trace version 2 (this trace is version 1)"},
    {"vramtrace 1\nmodel m\nkv_token_bytes 81920\n",
     "t:3: header key 'kv_token_bytes' needs trace version 2 (this trace is version 1)"},
    {"vramtrace 1\nmodel m\nengine e\ncapacity 5\nprefill_tokens_per_s 16667\n",
     "t:5: header key 'prefill_tokens_per_s' needs trace version 2 (this trace is version 1)"},
    {"vramtrace 1\nmodel m\nallocator_settings expandable_segments:True\n",
     "t:3: header key 'allocator_settings' needs trace version 2 (this trace is version 1)"},
    {HDR "alloc 1 2 0 kv 1 engine\n",
     "t:5: trailing text 'engine' after the alloc event (expected: alloc ID SIZE ALIGN KIND PRIORITY)"},
    {HDR "release k -\n", "t:5: trailing text '-' after the release event (expected: release KEY)"},
    {"vramtrace 1\ncolour blue\n", "t:2: unknown header key or event 'colour' (expected model, engine, "
                                   "capacity, kv_block_bytes, source, licence, or an event)"},

    /* version 2: NEED */
    {HDR2 "alloc 1 2 0 kv 1\n", "t:5: missing NEED (expected: " ALLOC2 ", " NEED_ANY ")"},
    {HDR2 "acquire k 5 1\n", "t:5: missing NEED (expected: " ACQUIRE2 ", " NEED_ANY ")"},
    {HDR2 "release k\n", "t:5: missing NEED (expected: release KEY NEED, " NEED_ANY ")"},
    {HDR2 "alloc 1 2 0 kv 1 Engine\n",
     "t:5: NEED 'Engine' is not '-', 'engine' or a request id (expected: " ALLOC2 ")"},
    {HDR2 "alloc 1 2 0 kv 1 req7\n",
     "t:5: NEED 'req7' is not '-', 'engine' or a request id (expected: " ALLOC2 ")"},
    {HDR2 "acquire k 5 1 --\n", "t:5: NEED '--' is not '-', 'engine' or a request id (expected: " ACQUIRE2 ")"},
    {HDR2 "alloc 1 2 0 kv 1 -7\n", "t:5: NEED '-7' is not '-', 'engine' or a request id (expected: " ALLOC2 ")"},
    {HDR2 "release k +7\n",
     "t:5: NEED '+7' is not '-', 'engine' or a request id (expected: release KEY NEED)"},
    {HDR2 "alloc 1 2 0 kv 1 7x\n", "t:5: NEED: expected a decimal number, found '7x'"},
    {HDR2 "alloc 1 2 0 kv 1 18446744073709551616\n",
     "t:5: NEED out of range: '18446744073709551616' (at most 18446744073709551615)"},
    {HDR2 "alloc 1 2 0 kv 1 engine x\n",
     "t:5: trailing text 'x' after the alloc event (expected: " ALLOC2 ")"},
    {HDR2 "release k 3 4\n", "t:5: trailing text '4' after the release event (expected: release KEY NEED)"},
    {HDR2 "alloc 1 2 0 kv 1 - # note\n",
     "t:5: trailing text '# note' after the alloc event (expected: " ALLOC2 ")"},
    {HDR2 "alloc 1 2 0 kv\n", "t:5: missing PRIORITY (expected: " ALLOC2 ")"},

    /* version 2: pin, unpin */
    {HDR2 "pin\n", "t:5: missing ID (expected: pin ID)"},
    {HDR2 "free 1\nunpin\n", "t:6: missing ID (expected: unpin ID)"},
    {HDR2 "pin 1 2\n", "t:5: trailing text '2' after the pin event (expected: pin ID)"},
    {HDR2 "unpin 1 -\n", "t:5: trailing text '-' after the unpin event (expected: unpin ID)"},
    {HDR2 "pin -1\n", "t:5: ID is negative: '-1' (expected: pin ID)"},
    {HDR2 "unpin 18446744073709551616\n",
     "t:5: ID out of range: '18446744073709551616' (at most 18446744073709551615)"},
    {HDR2 "pins 1\n", "t:5: unknown header key or event 'pins' (expected model, engine, capacity, "
                      "kv_block_bytes, source, licence, kv_token_bytes, prefill_tokens_per_s, "
                      "allocator_settings, kv_block_tokens, prefix_segment_tokens, "
                      "prefix_cache_blocks, or an event)"},
    {HDR2 "free 1\nunpinn 1\n", "t:6: unknown event 'unpinn' (expected alloc, free, use, acquire, release, "
                                 "step, begin, end, pin, unpin, pnode, lookup or fill)"},

    /* version 2: header keys */
    {"vramtrace 2\nmodel m\nkv_token_bytes 8 9\n",
     "t:3: trailing text '9' after header 'kv_token_bytes' (expected: kv_token_bytes BYTES)"},
    {"vramtrace 2\nmodel m\nkv_token_bytes -8\n",
     "t:3: kv_token_bytes is negative: '-8' (expected: kv_token_bytes BYTES)"},
    {"vramtrace 2\nmodel m\nprefill_tokens_per_s fast\n",
     "t:3: prefill_tokens_per_s: expected a decimal number, found 'fast'"},
    {"vramtrace 2\nmodel m\nprefill_tokens_per_s 9223372036854775808\n",
     "t:3: prefill_tokens_per_s 9223372036854775808 out of range (expected 0 to 9223372036854775807)"},
    {"vramtrace 2\nkv_token_bytes 1\nkv_token_bytes 2\n", "t:3: duplicate header key 'kv_token_bytes'"},
    {"vramtrace 2\nallocator_settings a:b\nallocator_settings c:d\n",
     "t:3: duplicate header key 'allocator_settings'"},
    {"vramtrace 2\nmodel m\nallocator_settings  \n", "t:3: header 'allocator_settings' has no value"},
    {HDR2 "free 1\nprefill_tokens_per_s 5\n", "t:6: header key 'prefill_tokens_per_s' after the first event"},
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
    static const char text2[] = "vramtrace 2\nmodel m\nengine paged\ncapacity 1000\nkv_token_bytes 8\n"
                                "prefill_tokens_per_s 9\n@1 alloc 1 4096 256 kv 7 12\npin 1\n"
                                "acquire k 5 1 engine\nrelease k engine\nunpin 1\nfree 1\n";
    const char *texts[] = {text, text2};
    const size_t lens[] = {sizeof text - 1, sizeof text2 - 1};
    for (size_t t = 0; t < 2; t++) {
        for (size_t len = 0; len <= lens[t]; len++) {
            char *copy = malloc(len ? len : 1);
            assert_true(copy != NULL);
            memcpy(copy, texts[t], len);
            first_error(copy, len, err, sizeof err);
            free(copy);
        }
        expect_true(strcmp(first_error(texts[t], lens[t], err, sizeof err), "") == 0);
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
    expect_true(strcmp(err, "buf:1: expected 'vramtrace 2' as the first line, found 'x'") == 0);
}

int main(void)
{
    test_valid();
    test_valid_v2();
    test_header_only();
    test_bad_lines();
    test_bad_bytes();
    test_open_errors();
    return test_finish("trace");
}
