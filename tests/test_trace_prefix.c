/* test_trace_prefix.c - the prefix cache's trace events (traces/FORMAT.md,
 * "Prefix cache"): pnode, lookup and fill read with their fields, every
 * refusal of the reader word for word, the writer's refusals of the same,
 * and a written trace read back. */
#include <unistd.h>

#include "testlib.h"
#include "trace.h"

#define HDR "vramtrace 2\nmodel m\nengine paged\ncapacity 1000\n"
#define PHDR HDR "kv_block_tokens 16\nprefix_segment_tokens 512\n"
#define OUT "trace_prefix.trace"

static void test_read(void)
{
    static const char text[] = PHDR "prefix_cache_blocks 29000\n"
                               "pnode 1 0 46\n"
                               "pnode 2 1 18446744073709551615\n"
                               "@5 lookup 7 2 1000 1000\n"
                               "fill 7 512\n"
                               "lookup 8 1 3 40\n"
                               "end 7\n";
    vtrace_reader *r;
    char err[512];
    assert_ok(vtrace_open_buffer(text, sizeof text - 1, "t", &r, err, sizeof err));
    const vtrace_header *h = vtrace_header_of(r);
    expect_eq_u64(h->kv_block_tokens, 16);
    expect_eq_u64(h->prefix_segment_tokens, 512);
    expect_eq_u64(h->prefix_cache_blocks, 29000);
    static const vtrace_event want[] = {
        {.type = VTRACE_PNODE, .id = 1, .node = 0, .hash = 46},
        {.type = VTRACE_PNODE, .id = 2, .node = 1, .hash = UINT64_MAX},
        {.type = VTRACE_LOOKUP, .id = 7, .node = 2, .prompt = 1000, .tokens = 1000, .ts_us = 5},
        {.type = VTRACE_FILL, .id = 7, .tokens = 512, .ts_us = 5},
        {.type = VTRACE_LOOKUP, .id = 8, .node = 1, .prompt = 3, .tokens = 40, .ts_us = 5},
        {.type = VTRACE_REQUEST_END, .id = 7, .ts_us = 5},
    };
    vtrace_event ev;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_true(vtrace_next(r, &ev) == 1);
        expect_true(ev.type == want[i].type);
        expect_eq_u64(ev.id, want[i].id);
        expect_eq_u64(ev.node, want[i].node);
        expect_eq_u64(ev.hash, want[i].hash);
        expect_eq_u64(ev.prompt, want[i].prompt);
        expect_eq_u64(ev.tokens, want[i].tokens);
        expect_eq_u64(ev.ts_us, want[i].ts_us);
        expect_eq_u64(ev.line, i + 8);
    }
    expect_true(vtrace_next(r, &ev) == 0);
    vtrace_close(r);
}

/* Reads `text` to its end; the first error, "" if none. */
static const char *first_error(const char *text, char *err, size_t errlen)
{
    vtrace_reader *r;
    if (vtrace_open_buffer(text, strlen(text), "t", &r, err, errlen) != VRAM_OK)
        return err;
    vtrace_event ev;
    int rc;
    while ((rc = vtrace_next(r, &ev)) == 1)
        ;
    snprintf(err, errlen, "%s", rc < 0 ? vtrace_error(r) : "");
    vtrace_close(r);
    return err;
}

static const struct {
    const char *text, *want;
} bad[] = {
    {HDR "pnode 1 0 5\n", "t:5: 'pnode' needs the header keys kv_block_tokens and prefix_segment_tokens"},
    {HDR "kv_block_tokens 16\nfill 1 5\n",
     "t:6: 'fill' needs the header keys kv_block_tokens and prefix_segment_tokens"},
    {HDR "kv_block_tokens 16\nprefix_segment_tokens 500\nstep 1\n",
     "t:7: prefix_segment_tokens 500 is not a multiple of kv_block_tokens 16"},
    {HDR "kv_block_tokens 0\n", "t:5: kv_block_tokens 0 out of range (expected 1 to 65536)"},
    {HDR "prefix_segment_tokens 16777217\n",
     "t:5: prefix_segment_tokens 16777217 out of range (expected 1 to 16777216)"},
    {HDR "prefix_cache_blocks 1073741825\n",
     "t:5: prefix_cache_blocks 1073741825 out of range (expected 0 to 1073741824)"},
    {"vramtrace 1\nmodel m\nkv_block_tokens 16\n",
     "t:3: header key 'kv_block_tokens' needs trace version 2 (this trace is version 1)"},
    {"vramtrace 1\nmodel m\nengine e\ncapacity 5\npnode 1 0 5\n",
     "t:5: event 'pnode' needs trace version 2 (this trace is version 1)"},
    {PHDR "pnode 2 0 5\n",
     "t:7: pnode 2 out of order (expected node 1: nodes are numbered 1, 2, ... in order)"},
    {PHDR "pnode 1 0 5\npnode 2 2 5\n", "t:8: pnode 2: unknown parent 2 (expected 0, the root, to 1)"},
    {PHDR "pnode 1 0\n", "t:7: missing HASHID (expected: pnode N PARENT HASHID)"},
    {PHDR "pnode 1 0 5 6\n",
     "t:7: trailing text '6' after the pnode event (expected: pnode N PARENT HASHID)"},
    {PHDR "lookup 1 1 5 5\n", "t:7: lookup: unknown node 1 (0 pnode lines so far)"},
    {PHDR "pnode 1 0 5\nlookup 1 0 5 5\n", "t:8: lookup: unknown node 0 (1 pnode lines so far)"},
    {PHDR "pnode 1 0 5\nlookup 1 1 0 5\n",
     "t:8: PROMPT 0 out of range (expected 1 to 4294967295)"},
    {PHDR "pnode 1 0 5\nlookup 1 1 6 5\n", "t:8: TOKENS 5 out of range (expected 6 to 4294967295)"},
    {PHDR "pnode 1 0 5\nlookup 1 1 6\n",
     "t:8: missing TOKENS (expected: lookup REQ NODE PROMPT TOKENS)"},
    {PHDR "fill 1 0\n", "t:7: TOKENS 0 out of range (expected 1 to 4294967295)"},
    {PHDR "fill 1 4294967296\n", "t:7: TOKENS 4294967296 out of range (expected 1 to 4294967295)"},
    {PHDR "fill 1\n", "t:7: missing TOKENS (expected: fill REQ TOKENS)"},
    {PHDR "fills 1 2\n",
     "t:7: unknown header key or event 'fills' (expected model, engine, capacity, kv_block_bytes, "
     "source, licence, kv_token_bytes, prefill_tokens_per_s, allocator_settings, kv_block_tokens, "
     "prefix_segment_tokens, prefix_cache_blocks, or an event)"},
};

static void test_refusals(void)
{
    char err[512];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *got = first_error(bad[i].text, err, sizeof err);
        if (strcmp(got, bad[i].want) != 0) {
            fprintf(stderr, "case %zu: got '%s'\n          wanted '%s'\n", i, got, bad[i].want);
            test_failures++;
        }
    }
}

static vtrace_header prefix_header(void)
{
    vtrace_header h = {.version = 2, .capacity = 1000, .kv_block_tokens = 16,
                       .prefix_segment_tokens = 512, .prefix_cache_blocks = 7};
    strcpy(h.model, "m");
    strcpy(h.engine, "paged");
    return h;
}

static void test_write(void)
{
    vtrace_header h = prefix_header();
    vtrace_writer *w;
    /* headers the reader refuses */
    h.prefix_segment_tokens = 500;
    expect_status(vtrace_writer_open(OUT, &h, &w), VRAM_EINVAL);
    h = prefix_header();
    h.kv_block_tokens = VTRACE_BLOCK_TOKENS_MAX + 1;
    expect_status(vtrace_writer_open(OUT, &h, &w), VRAM_EINVAL);
    h = prefix_header();
    h.version = 1;
    expect_status(vtrace_writer_open(OUT, &h, &w), VRAM_EINVAL);

    /* events without the header keys */
    h = prefix_header();
    h.kv_block_tokens = 0;
    assert_ok(vtrace_writer_open(OUT, &h, &w));
    vtrace_event pn = {.type = VTRACE_PNODE, .id = 1, .node = 0, .hash = 9};
    expect_status(vtrace_write(w, &pn), VRAM_EINVAL);
    assert_ok(vtrace_writer_close(w));

    h = prefix_header();
    assert_ok(vtrace_writer_open(OUT, &h, &w));
    vtrace_event out_of_order = {.type = VTRACE_PNODE, .id = 2, .node = 0, .hash = 9};
    vtrace_event unknown_parent = {.type = VTRACE_PNODE, .id = 1, .node = 1, .hash = 9};
    vtrace_event no_node = {.type = VTRACE_LOOKUP, .id = 3, .node = 1, .prompt = 5, .tokens = 5};
    expect_status(vtrace_write(w, &out_of_order), VRAM_EINVAL);
    expect_status(vtrace_write(w, &unknown_parent), VRAM_EINVAL);
    expect_status(vtrace_write(w, &no_node), VRAM_EINVAL);
    assert_ok(vtrace_write(w, &pn));
    vtrace_event pn2 = {.type = VTRACE_PNODE, .id = 2, .node = 1, .hash = UINT64_MAX};
    assert_ok(vtrace_write(w, &pn2));
    vtrace_event lk = {.type = VTRACE_LOOKUP, .id = 3, .node = 2, .prompt = 600, .tokens = 700};
    vtrace_event lk_back = lk, lk_zero = lk, lk_big = lk, lk_node0 = lk;
    lk_back.tokens = 599;
    lk_zero.prompt = 0;
    lk_big.tokens = (uint64_t)VTRACE_PREFIX_TOKENS_MAX + 1;
    lk_node0.node = 0;
    expect_status(vtrace_write(w, &lk_back), VRAM_EINVAL);
    expect_status(vtrace_write(w, &lk_zero), VRAM_EINVAL);
    expect_status(vtrace_write(w, &lk_big), VRAM_EINVAL);
    expect_status(vtrace_write(w, &lk_node0), VRAM_EINVAL);
    assert_ok(vtrace_write(w, &lk));
    vtrace_event fl = {.type = VTRACE_FILL, .id = 3, .tokens = 704, .ts_us = 10};
    vtrace_event fl_zero = fl;
    fl_zero.tokens = 0;
    expect_status(vtrace_write(w, &fl_zero), VRAM_EINVAL);
    assert_ok(vtrace_write(w, &fl));
    assert_ok(vtrace_writer_close(w));

    vtrace_reader *r;
    char err[512];
    assert_ok(vtrace_open(OUT, &r, err, sizeof err));
    const vtrace_header *back = vtrace_header_of(r);
    expect_eq_u64(back->kv_block_tokens, 16);
    expect_eq_u64(back->prefix_segment_tokens, 512);
    expect_eq_u64(back->prefix_cache_blocks, 7);
    const vtrace_event *want[] = {&pn, &pn2, &lk, &fl};
    vtrace_event ev;
    for (size_t i = 0; i < 4; i++) {
        assert_true(vtrace_next(r, &ev) == 1);
        expect_true(ev.type == want[i]->type);
        expect_eq_u64(ev.id, want[i]->id);
        expect_eq_u64(ev.node, want[i]->node);
        expect_eq_u64(ev.hash, want[i]->hash);
        expect_eq_u64(ev.prompt, want[i]->prompt);
        expect_eq_u64(ev.tokens, want[i]->tokens);
        expect_eq_u64(ev.ts_us, want[i]->ts_us);
    }
    expect_true(vtrace_next(r, &ev) == 0);
    vtrace_close(r);
    unlink(OUT);
}

int main(void)
{
    test_read();
    test_refusals();
    test_write();
    return test_finish("trace_prefix");
}
