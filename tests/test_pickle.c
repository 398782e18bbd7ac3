/* test_pickle.c - the strict pickle reader on the real torch snapshot and on
 * hand-made pickles (the bytes Python 3 writes, spelled out), refusals included. */
#include <math.h>
#include <string.h>

#include "pickle.h"
#include "testlib.h"

#define SNAPSHOT VRAM_RECORDINGS_DIR "/torch_snapshot_medium_ctx128_inference.pickle"

static char err[512];

/* Parses a literal (without its terminating NUL). */
#define PARSE(lit, doc) vpickle_parse(lit, sizeof(lit) - 1, "t", NULL, doc, err, sizeof err)

static void expect_refused(const void *buf, size_t len, const char *want_in_message)
{
    vpickle_doc *d = (vpickle_doc *)1;
    expect_status(vpickle_parse(buf, len, "t", NULL, &d, err, sizeof err), VRAM_EPARSE);
    expect_true(d == NULL);
    if (!strstr(err, want_in_message)) {
        fprintf(stderr, "message \"%s\" lacks \"%s\"\n", err, want_in_message);
        test_failures++;
    }
}
#define REFUSED(lit, want) expect_refused(lit, sizeof(lit) - 1, want)

static const vpickle_value *get(const vpickle_value *dict, const char *key)
{
    const vpickle_value *v = vpickle_dict_get(dict, key);
    if (!v) {
        fprintf(stderr, "key %s missing\n", key);
        exit(1);
    }
    return v;
}

static void test_real_snapshot(void)
{
    vpickle_doc *d = NULL;
    vram_status st = vpickle_load(SNAPSHOT, NULL, &d, err, sizeof err);
    if (st)
        fprintf(stderr, "%s\n", err);
    assert_ok(st);
    const vpickle_value *root = vpickle_root(d);
    assert_true(root && root->type == VPICKLE_DICT);
    expect_eq_u64(vpickle_len(root), 4);

    const vpickle_value *traces = get(root, "device_traces");
    assert_true(traces->type == VPICKLE_LIST && vpickle_len(traces) == 1);
    const vpickle_value *dev0 = vpickle_item(traces, 0);
    expect_eq_u64(vpickle_len(dev0), 3840);
    uint64_t alloc = 0, freq = 0, fdone = 0, other = 0;
    for (size_t i = 0; i < vpickle_len(dev0); i++) {
        const vpickle_value *act = get(vpickle_item(dev0, i), "action");
        if (vpickle_str_eq(act, "alloc"))
            alloc++;
        else if (vpickle_str_eq(act, "free_requested"))
            freq++;
        else if (vpickle_str_eq(act, "free_completed"))
            fdone++;
        else
            other++;
    }
    expect_eq_u64(alloc, 1280);
    expect_eq_u64(freq, 1280);
    expect_eq_u64(fdone, 1280);
    expect_eq_u64(other, 0);
    const vpickle_value *e0 = vpickle_item(dev0, 0);
    expect_eq_u64(get(e0, "addr")->u.i, UINT64_C(32046710784)); /* LONG1 */
    expect_eq_u64(get(e0, "size")->u.i, 2097152);
    expect_eq_u64(get(e0, "time_us")->u.i, UINT64_C(1783874041854969));

    const vpickle_value *segs = get(root, "segments");
    expect_eq_u64(vpickle_len(segs), 98);
    const vpickle_value *s0 = vpickle_item(segs, 0);
    expect_true(vpickle_str_eq(get(s0, "segment_type"), "small"));
    expect_eq_u64(get(s0, "total_size")->u.i, 2097152);
    const vpickle_value *pool = get(s0, "segment_pool_id");
    expect_true(pool->type == VPICKLE_TUPLE && vpickle_len(pool) == 2);

    const vpickle_value *settings = get(root, "allocator_settings");
    expect_true(get(settings, "max_split_size")->u.i == -1);
    const vpickle_value *exp = get(settings, "expandable_segments");
    expect_true(exp->type == VPICKLE_BOOL && exp->u.b == 0);
    const vpickle_value *gc = get(settings, "garbage_collection_threshold");
    expect_true(gc->type == VPICKLE_FLOAT && gc->u.f == 0.0);
    expect_true(vpickle_dict_get(root, "no such key") == NULL);
    vpickle_free(d);
}

static void test_values(void)
{
    /* pickle.dumps({'a': [1, -1, 2**40, -2**63, 1.5, True, None, b'xy', (1, 2)]}, protocol=4) */
    static const char p[] =
        "\x80\x04\x95;\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x01" "a\x94]\x94(K\x01J\xff\xff\xff\xff"
        "\x8a\x06\x00\x00\x00\x00\x00\x01\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x80G?\xf8\x00\x00"
        "\x00\x00\x00\x00\x88NC\x02xy\x94K\x01K\x02\x86\x94" "es.";
    vpickle_doc *d = NULL;
    assert_ok(PARSE(p, &d));
    const vpickle_value *l = get(vpickle_root(d), "a");
    assert_true(l->type == VPICKLE_LIST && vpickle_len(l) == 9);
    expect_true(vpickle_item(l, 0)->u.i == 1);
    expect_true(vpickle_item(l, 1)->u.i == -1);
    expect_true(vpickle_item(l, 2)->u.i == INT64_C(1) << 40);
    expect_true(vpickle_item(l, 3)->u.i == INT64_MIN);
    expect_true(vpickle_item(l, 4)->type == VPICKLE_FLOAT && vpickle_item(l, 4)->u.f == 1.5);
    expect_true(vpickle_item(l, 5)->type == VPICKLE_BOOL && vpickle_item(l, 5)->u.b == 1);
    expect_true(vpickle_item(l, 6)->type == VPICKLE_NONE);
    const vpickle_value *b = vpickle_item(l, 7);
    expect_true(b->type == VPICKLE_BYTES && b->u.s.len == 2 && memcmp(b->u.s.ptr, "xy", 2) == 0);
    const vpickle_value *t = vpickle_item(l, 8);
    expect_true(t->type == VPICKLE_TUPLE && vpickle_len(t) == 2 && vpickle_item(t, 1)->u.i == 2);
    expect_true(vpickle_item(l, 9) == NULL);
    vpickle_free(d);

    /* protocol 2 with BINPUT: pickle.dumps({'k': 'v'}, protocol=2) */
    static const char p2[] = "\x80\x02}q\x00X\x01\x00\x00\x00kq\x01X\x01\x00\x00\x00vq\x02s.";
    assert_ok(PARSE(p2, &d));
    expect_true(vpickle_str_eq(get(vpickle_root(d), "k"), "v"));
    vpickle_free(d);

    /* A list that contains itself: l = []; l.append(l). Parsed, not walked. */
    static const char cyc[] = "\x80\x04\x95\x06\x00\x00\x00\x00\x00\x00\x00]\x94h\x00" "a.";
    assert_ok(PARSE(cyc, &d));
    expect_true(vpickle_item(vpickle_root(d), 0) == vpickle_root(d));
    vpickle_free(d);

    /* (1, 2, 3, 4): TUPLE from a MARK. */
    static const char tup[] = "\x80\x04(K\x01K\x02K\x03K\x04t\x94.";
    assert_ok(PARSE(tup, &d));
    expect_eq_u64(vpickle_len(vpickle_root(d)), 4);
    vpickle_free(d);
}

static void test_refusals(void)
{
    /* What pickle.dumps(os.system) style payloads start with: GLOBAL 'os system'. */
    REFUSED("\x80\x02" "cos\nsystem\n(S'true'\ntR.", "GLOBAL (0x63) refused");
    REFUSED("\x80\x02" "cos\nsystem\n", "byte 2:");
    REFUSED("\x80\x04\x8c\x02os\x8c\x06system\x93.", "STACK_GLOBAL");
    REFUSED("\x80\x04N)R.", "REDUCE");
    REFUSED("\x80\x04}N" "b.", "BUILD");
    REFUSED("\x80\x04\xff.", "unknown opcode 0xff");
    REFUSED("(lp0\n.", "protocols 0 and 1"); /* protocol 0 */
    REFUSED("\x80\x06N.", "protocol 6");
    REFUSED("\x80\x04h\x05.", "BINGET index 5 out of range (the memo holds 0)");
    REFUSED("\x80\x04N\x94j\x01\x00\x00\x00.", "LONG_BINGET index 1 out of range (the memo holds 1)");
    REFUSED("\x80\x04Nr\x00\x00\x00\x10.", "skips ahead");
    REFUSED("\x80\x04\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01.", "wider than 64 bits");
    REFUSED("\x80\x04N.N", "1 byte(s) after STOP");
    REFUSED("\x80\x04NN.", "2 values on the stack");
    REFUSED("\x80\x04(N.", "MARK(s) open");
    REFUSED("\x80\x04.", "0 values on the stack");
    REFUSED("\x80\x04]N" "e.", "APPENDS without a MARK");
    REFUSED("\x80\x04}(N" "u.", "odd number");
    REFUSED("\x80\x04}]N" "s.", "a list cannot be a dict key");
    REFUSED("\x80\x04N(N" "a.", "APPEND needs 2 value(s)"); /* may not reach below the mark */
    REFUSED("\x80\x04NNa.", "APPEND on None, expected a list");
    REFUSED("\x80\x04N\x80\x04.", "PROTO after the start");
    REFUSED("\x80\x04\x95\xff\x00\x00\x00\x00\x00\x00\x00N.", "FRAME of 255 bytes");
    REFUSED("", "truncated");
    REFUSED("\x80\x04N", "no STOP");
}

static void test_truncation_and_limits(void)
{
    static const char p[] =
        "\x80\x04\x95;\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x01" "a\x94]\x94(K\x01J\xff\xff\xff\xff"
        "\x8a\x06\x00\x00\x00\x00\x00\x01\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x80G?\xf8\x00\x00"
        "\x00\x00\x00\x00\x88NC\x02xy\x94K\x01K\x02\x86\x94" "es.";
    /* Every proper prefix fails cleanly (ASan watches for reads past the end). */
    for (size_t n = 0; n < sizeof p - 1; n++) {
        vpickle_doc *d = NULL;
        expect_status(vpickle_parse(p, n, "t", NULL, &d, err, sizeof err), VRAM_EPARSE);
    }
    REFUSED("\x80\x04\x8c\x05" "ab", "truncated: SHORT_BINUNICODE needs 5 byte(s), 2 left");
    REFUSED("\x80\x04X\xff\xff\xff\xff" "ab", "needs 4294967295 byte(s)");

    vpickle_limits lim = {.max_marks = 2};
    vpickle_doc *d = NULL;
    static const char marks[] = "\x80\x04(((";
    expect_status(vpickle_parse(marks, sizeof marks - 1, "t", &lim, &d, err, sizeof err), VRAM_EPARSE);
    expect_true(strstr(err, "more than 2 nested MARKs") != NULL);
    lim = (vpickle_limits){.max_stack = 3};
    static const char deep[] = "\x80\x04NNNN";
    expect_status(vpickle_parse(deep, sizeof deep - 1, "t", &lim, &d, err, sizeof err), VRAM_EPARSE);
    expect_true(strstr(err, "limit of 3 values") != NULL);

    /* The real file cut short, and with bytes flipped (seeded): errors, never crashes or leaks. */
    FILE *f = fopen(SNAPSHOT, "rb");
    assert_true(f != NULL);
    static unsigned char buf[1 << 21];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    assert_true(len > 1000000 && len < sizeof buf);
    expect_status(vpickle_parse(buf, len / 2, "cut", NULL, &d, err, sizeof err), VRAM_EPARSE);
    expect_true(strstr(err, "cut: byte ") != NULL);
    uint64_t seed = 20261122;
    fprintf(stderr, "pickle mutation seed %llu\n", (unsigned long long)seed);
    for (int round = 0; round < 40; round++) {
        uint64_t s = seed + (uint64_t)round;
        size_t at = test_rand(&s) % len;
        unsigned char old = buf[at];
        buf[at] ^= (unsigned char)(1u << (test_rand(&s) % 8));
        vram_status st = vpickle_parse(buf, len, "mut", NULL, &d, err, sizeof err);
        expect_true(st == VRAM_OK || st == VRAM_EPARSE);
        vpickle_free(d);
        buf[at] = old;
    }
}

int main(void)
{
    test_real_snapshot();
    test_values();
    test_refusals();
    test_truncation_and_limits();
    return test_finish("pickle");
}
