/* test_pickle_edges.c - the pickle reader's edges: NULL and odd arguments,
 * short error buffers, every limit hit by each opcode that pushes, the long
 * memo opcodes, files that cannot be read (or must not be: a FIFO, a device,
 * a file over the size limit), integers too large for 64 bits (LONG1, LONG4),
 * and the accessors on values of the wrong type. The ordinary pickles are in
 * test_pickle.c. */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pickle.h"
#include "testlib.h"

static char err[512];

/* Parses a literal (without its terminating NUL) under `lim`. */
#define PARSE_LIM(lit, lim, doc) vpickle_parse(lit, sizeof(lit) - 1, "t", lim, doc, err, sizeof err)

static void expect_message(const char *want)
{
    if (!strstr(err, want)) {
        fprintf(stderr, "message \"%s\" lacks \"%s\"\n", err, want);
        test_failures++;
    }
}

/* Refused under `lim` with EPARSE, *out NULL, and `want` in the message. */
static void expect_refused_lim(const char *buf, size_t len, const vpickle_limits *lim,
                               const char *want)
{
    vpickle_doc *d = (vpickle_doc *)1;
    expect_status(vpickle_parse(buf, len, "t", lim, &d, err, sizeof err), VRAM_EPARSE);
    expect_true(d == NULL);
    expect_message(want);
}
#define REFUSED_LIM(lit, lim, want) expect_refused_lim(lit, sizeof(lit) - 1, lim, want)

static void test_arguments(void)
{
    vpickle_doc *d = (vpickle_doc *)1;
    /* No place for the result; a NULL buffer with a length. */
    expect_status(vpickle_parse("\x80\x04N.", 4, "t", NULL, NULL, err, sizeof err), VRAM_EINVAL);
    expect_status(vpickle_parse(NULL, 4, "t", NULL, &d, err, sizeof err), VRAM_EINVAL);
    expect_true(d == NULL);
    /* A NULL buffer of length 0 is an empty input: truncated at byte 0. */
    expect_status(vpickle_parse(NULL, 0, "t", NULL, &d, err, sizeof err), VRAM_EPARSE);
    expect_message("t: byte 0: truncated");
    /* No name: the input is called "pickle". */
    expect_status(vpickle_parse("\x80\x04NN.", 5, NULL, NULL, &d, err, sizeof err), VRAM_EPARSE);
    expect_message("pickle: byte 4: STOP with 2 values on the stack");
    /* No error buffer, or one of 0 bytes: the status alone, the buffer untouched. */
    expect_status(vpickle_parse("\x80\x04NN.", 5, "t", NULL, &d, NULL, 64), VRAM_EPARSE);
    strcpy(err, "untouched");
    expect_status(vpickle_parse("\x80\x04NN.", 5, "t", NULL, &d, err, 0), VRAM_EPARSE);
    expect_true(strcmp(err, "untouched") == 0);
    /* A buffer too short for the "NAME: byte N: " prefix keeps what fits, terminated. */
    char small[6];
    memset(small, 'x', sizeof small);
    expect_status(vpickle_parse("\x80\x04NN.", 5, "name", NULL, &d, small, sizeof small),
                  VRAM_EPARSE);
    expect_true(strcmp(small, "name:") == 0);
    /* Limits given with every field set are used as given. */
    vpickle_limits lim = {.max_stack = 4, .max_marks = 4, .max_memo = 4};
    assert_ok(PARSE_LIM("\x80\x04N\x94.", &lim, &d));
    expect_true(vpickle_root(d)->type == VPICKLE_NONE);
    vpickle_free(d);
    vpickle_free(NULL);
}

static void test_limits(void)
{
    /* The memo limit: the second MEMOIZE would make a second entry. */
    vpickle_limits lim = {.max_memo = 1};
    REFUSED_LIM("\x80\x04N\x94\x94.", &lim, "byte 4: memo larger than the limit of 1 entries");
    /* Re-putting an existing index does not grow the memo: accepted at the limit. */
    vpickle_doc *d = NULL;
    assert_ok(PARSE_LIM("\x80\x04N\x94q\x00.", &lim, &d));
    vpickle_free(d);

    /* The stack limit, hit by each opcode that pushes a new value. */
    lim = (vpickle_limits){.max_stack = 1};
    REFUSED_LIM("\x80\x04NK\x01.", &lim, "byte 3: stack deeper than the limit of 1 values");
    REFUSED_LIM("\x80\x04NM\x01\x02.", &lim, "byte 3: stack deeper");
    REFUSED_LIM("\x80\x04NJ\x01\x02\x03\x04.", &lim, "byte 3: stack deeper");
    REFUSED_LIM("\x80\x04N\x8a\x01\x05.", &lim, "byte 3: stack deeper");
    REFUSED_LIM("\x80\x04NG\x3f\xf0\x00\x00\x00\x00\x00\x00.", &lim, "byte 3: stack deeper");
    REFUSED_LIM("\x80\x04N\x8c\x01x.", &lim, "byte 3: stack deeper");
    REFUSED_LIM("\x80\x04N\x88.", &lim, "byte 3: stack deeper");
    REFUSED_LIM("\x80\x04N}.", &lim, "byte 3: stack deeper");
    REFUSED_LIM("\x80\x04N\x94h\x00.", &lim, "byte 4: stack deeper");
    /* TUPLE of an empty MARK pushes the tuple onto a full stack. */
    REFUSED_LIM("\x80\x04N(t.", &lim, "byte 4: stack deeper than the limit of 1 values");
    /* At the limit exactly, the same pickles parse. */
    lim.max_stack = 2;
    assert_ok(PARSE_LIM("\x80\x04(K\x01K\x02t.", &lim, &d));
    expect_eq_u64(vpickle_len(vpickle_root(d)), 2);
    vpickle_free(d);
    assert_ok(PARSE_LIM("\x80\x04N(t\x86.", &lim, &d));
    const vpickle_value *pair = vpickle_root(d);
    expect_true(pair->type == VPICKLE_TUPLE && vpickle_len(pair) == 2);
    expect_true(vpickle_item(pair, 1)->type == VPICKLE_TUPLE && vpickle_len(vpickle_item(pair, 1)) == 0);
    vpickle_free(d);
}

static void test_long_memo(void)
{
    /* l = []; l.append(l) with the 4-byte memo opcodes (LONG_BINPUT, LONG_BINGET). */
    vpickle_doc *d = NULL;
    assert_ok(PARSE_LIM("\x80\x02]r\x00\x00\x00\x00j\x00\x00\x00\x00" "a.", NULL, &d));
    const vpickle_value *l = vpickle_root(d);
    expect_true(l->type == VPICKLE_LIST && vpickle_len(l) == 1 && vpickle_item(l, 0) == l);
    vpickle_free(d);
}

static void test_load(void)
{
    vpickle_doc *d = (vpickle_doc *)1;
    expect_status(vpickle_load(NULL, NULL, &d, err, sizeof err), VRAM_EINVAL);
    expect_status(vpickle_load("x.pickle", NULL, NULL, err, sizeof err), VRAM_EINVAL);
    expect_status(vpickle_load("no/such/file.pickle", NULL, &d, NULL, 0), VRAM_EIO);
    expect_true(d == NULL);
    expect_status(vpickle_load("no/such/file.pickle", NULL, &d, err, sizeof err), VRAM_EIO);
    expect_message("no/such/file.pickle: cannot open: No such file or directory");
    /* A directory opens but cannot be read. */
    expect_status(vpickle_load(".", NULL, &d, err, sizeof err), VRAM_EIO);
    expect_message(".: read error: Is a directory");
    expect_true(d == NULL);
    expect_status(vpickle_load(".", NULL, &d, NULL, 0), VRAM_EIO);
    /* An error buffer of 0 bytes is left alone. */
    strcpy(err, "untouched");
    expect_status(vpickle_load(".", NULL, &d, err, 0), VRAM_EIO);
    expect_status(vpickle_load("no/such/file.pickle", NULL, &d, err, 0), VRAM_EIO);
    expect_true(strcmp(err, "untouched") == 0);
}

/* Integers wider than 64 bits are named as such, with their byte count, by
 * LONG1 and LONG4 alike; up to 8 bytes both read (LONG4 is what pickle writes
 * for integers of more than 255 bytes, but any length is valid). */
static void test_big_ints(void)
{
    vpickle_doc *d = NULL;
    REFUSED_LIM("\x80\x04\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01.", NULL,
                "t: byte 2: LONG1: an integer of 9 bytes is too large (wider than 64 bits: at most "
                "8 bytes are read)");
    REFUSED_LIM("\x80\x04\x8b\x09\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01.", NULL,
                "t: byte 2: LONG4: an integer of 9 bytes is too large (wider than 64 bits: at most "
                "8 bytes are read)");
    /* 9 bytes whose last is 0 fit 64 bits unsigned: PyTorch's SIZE_MAX (an unknown frame
     * line in a public snapshot) is a VPICKLE_UINT; a non-minimal small one an int */
    assert_ok(PARSE_LIM("\x80\x04\x8a\x09\xff\xff\xff\xff\xff\xff\xff\xff\x00.", NULL, &d));
    expect_true(vpickle_root(d)->type == VPICKLE_UINT && vpickle_root(d)->u.u == UINT64_MAX);
    vpickle_free(d);
    assert_ok(PARSE_LIM("\x80\x04\x8b\x09\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x00.",
                        NULL, &d));
    expect_true(vpickle_root(d)->type == VPICKLE_UINT && vpickle_root(d)->u.u == UINT64_C(1) << 63);
    vpickle_free(d);
    assert_ok(PARSE_LIM("\x80\x04\x8a\x09\x05\x00\x00\x00\x00\x00\x00\x00\x00.", NULL, &d));
    expect_true(vpickle_root(d)->type == VPICKLE_INT && vpickle_root(d)->u.i == 5);
    vpickle_free(d);
    REFUSED_LIM("\x80\x04\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\xff.", NULL,
                "t: byte 2: LONG1: an integer of 9 bytes is too large (wider than 64 bits: at most "
                "8 bytes are read)");
    REFUSED_LIM("\x80\x04\x8a\x09\x00\x00", NULL, "t: byte 2: truncated: LONG1 needs 9 byte(s)");
    /* a length beyond the input is a truncation first */
    REFUSED_LIM("\x80\x04\x8b\x00\x01\x00\x00\x01.", NULL,
                "t: byte 2: truncated: LONG4 needs 256 byte(s), 2 left");
    REFUSED_LIM("\x80\x04\x8b\x02\x00\x00", NULL, "t: byte 2: truncated: LONG4 needs 4 byte(s)");
    /* LONG4 of 2 bytes: -2 (0xfffe, sign-extended); of 0 bytes: 0 */
    assert_ok(PARSE_LIM("\x80\x04\x8b\x02\x00\x00\x00\xfe\xff.", NULL, &d));
    expect_true(vpickle_root(d)->type == VPICKLE_INT && vpickle_root(d)->u.i == -2);
    vpickle_free(d);
    assert_ok(PARSE_LIM("\x80\x04\x8b\x00\x00\x00\x00.", NULL, &d));
    expect_true(vpickle_root(d)->type == VPICKLE_INT && vpickle_root(d)->u.i == 0);
    vpickle_free(d);
    /* a value of the wrong type is named with its article */
    REFUSED_LIM("\x80\x04NNa.", NULL, "t: byte 4: APPEND on None, expected a list");
    REFUSED_LIM("\x80\x04K\x01N(e.", NULL, "APPENDS on None, expected a list");
    REFUSED_LIM("\x80\x04K\x01NNs.", NULL, "t: byte 6: SETITEM on an int, expected a dict");
}

/* Only a regular file is read, and only up to the size limit: a FIFO with no
 * writer is refused without waiting for one, a device (which may never end)
 * without reading it. */
static void test_load_bounds(void)
{
    vpickle_doc *d = (vpickle_doc *)1;
    remove("pickle_edges.fifo");
    assert_true(mkfifo("pickle_edges.fifo", 0600) == 0);
    expect_status(vpickle_load("pickle_edges.fifo", NULL, &d, err, sizeof err), VRAM_EIO);
    expect_true(d == NULL);
    expect_true(strcmp(err, "pickle_edges.fifo: not a regular file: a pickle is read whole into "
                            "memory; save it to a file first") == 0);
    remove("pickle_edges.fifo");
    expect_status(vpickle_load("/dev/zero", NULL, &d, err, sizeof err), VRAM_EIO);
    expect_true(strcmp(err, "/dev/zero: not a regular file: a pickle is read whole into memory; "
                            "save it to a file first") == 0);

    /* [7], a pickle of 7 bytes: read at a limit of 7 bytes, refused at 6 (the
     * default limit is 4 GiB). */
    FILE *f = fopen("pickle_edges.pickle", "wb");
    assert_true(f && fwrite("\x80\x04]K\x07" "a.", 1, 7, f) == 7 && fclose(f) == 0);
    vpickle_limits lim = {.max_bytes = 7};
    assert_ok(vpickle_load("pickle_edges.pickle", &lim, &d, err, sizeof err));
    expect_true(vpickle_len(vpickle_root(d)) == 1 && vpickle_item(vpickle_root(d), 0)->u.i == 7);
    vpickle_free(d);
    lim.max_bytes = 6;
    expect_status(vpickle_load("pickle_edges.pickle", &lim, &d, err, sizeof err), VRAM_EINVAL);
    expect_true(d == NULL);
    expect_true(strcmp(err, "pickle_edges.pickle: 7 bytes: larger than the limit of 6 bytes on a "
                            "pickle read into memory (--max-pickle raises it)") == 0);
    expect_eq_u64(VPICKLE_MAX_BYTES, UINT64_C(4) << 30);
    remove("pickle_edges.pickle");
}

static void test_accessors(void)
{
    /* {'k': [1]} at protocol 2. */
    vpickle_doc *d = NULL;
    assert_ok(PARSE_LIM("\x80\x02}X\x01\x00\x00\x00k]K\x01" "as.", NULL, &d));
    const vpickle_value *root = vpickle_root(d);
    const vpickle_value *list = vpickle_dict_get(root, "k");
    const vpickle_value *one = vpickle_item(list, 0);
    assert_true(list && one && one->type == VPICKLE_INT && one->u.i == 1);

    expect_true(vpickle_root(NULL) == NULL);
    expect_true(vpickle_dict_get(NULL, "k") == NULL);
    expect_true(vpickle_dict_get(list, "k") == NULL); /* not a dict */
    expect_true(vpickle_dict_get(root, "absent") == NULL);
    expect_eq_u64(vpickle_len(NULL), 0);
    expect_eq_u64(vpickle_len(one), 0);               /* an int has no length */
    expect_eq_u64(vpickle_len(root), 1);              /* pairs */
    expect_true(vpickle_item(NULL, 0) == NULL);
    expect_true(vpickle_item(root, 0) == NULL);       /* a dict has no items by index */
    expect_true(vpickle_item(one, 0) == NULL);
    expect_true(vpickle_item(list, 1) == NULL);       /* out of range */
    expect_true(vpickle_str_eq(NULL, "k") == 0);
    expect_true(vpickle_str_eq(one, "1") == 0);       /* not a str */
    expect_true(vpickle_str_eq(root->u.seq.items[0], NULL) == 0);
    expect_true(vpickle_str_eq(root->u.seq.items[0], "k") == 1);
    expect_true(vpickle_str_eq(root->u.seq.items[0], "kk") == 0);

    static const char *const names[] = {"None", "bool", "int", "float", "str",
                                        "bytes", "list", "tuple", "dict", "int"};
    for (int t = VPICKLE_NONE; t <= VPICKLE_UINT; t++)
        expect_true(strcmp(vpickle_type_name((vpickle_type)t), names[t]) == 0);
    expect_true(strcmp(vpickle_type_name((vpickle_type)(VPICKLE_UINT + 1)), "?") == 0);
    expect_true(strcmp(vpickle_type_phrase(VPICKLE_UINT), "an int above 2^63-1") == 0);
    expect_true(strcmp(vpickle_type_name((vpickle_type)-1), "?") == 0);
    vpickle_free(d);
}

int main(void)
{
    test_arguments();
    test_limits();
    test_long_memo();
    test_load();
    test_big_ints();
    test_load_bounds();
    test_accessors();
    return test_finish("pickle_edges");
}
