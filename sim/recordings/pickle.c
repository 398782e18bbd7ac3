/* pickle.c - the strict pickle reader (see pickle.h for what it accepts).
 *
 * A stack machine as in CPython's Unpickler: values are pushed on a stack,
 * MARK remembers a stack height, and the opcodes that take "everything since
 * the mark" (APPENDS, SETITEMS, TUPLE) consume it. As in CPython, no opcode may
 * pop below the innermost mark. */
#include "pickle.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fail.h"

#define DEFAULT_MAX_STACK ((size_t)1 << 20)
#define DEFAULT_MAX_MARKS ((size_t)256)
#define DEFAULT_MAX_MEMO ((size_t)1 << 24)
#define CHUNK_VALUES 1024

/* Values live in chunks, freed together with the document: the graph may share
 * nodes (memo) and hold cycles, so values are never freed one by one. */
typedef struct chunk {
    struct chunk *next;
    size_t used;
    vpickle_value v[CHUNK_VALUES];
} chunk;

struct vpickle_doc {
    unsigned char *data; /* the input; STR/BYTES values point into it */
    size_t len;
    chunk *chunks;
    const vpickle_value *root;
};

/* The state of one parse; freed when the parse ends, the document survives. */
typedef struct parser {
    vpickle_doc *doc;
    const char *name;
    size_t pos;   /* offset of the next byte to read */
    size_t op_at; /* offset of the opcode being run */
    vpickle_limits lim;
    vpickle_value **stack;
    size_t sp, stack_cap;
    size_t *marks;
    size_t nmarks, marks_cap;
    vpickle_value **memo;
    size_t nmemo, memo_cap;
    char *err;
    size_t errlen;
    vram_status status;
} parser;

/* Opcode names for messages, refused ones included, so an error says what it found. */
static const char *opcode_name(unsigned char op)
{
    switch (op) {
    case '(': return "MARK";
    case '.': return "STOP";
    case '0': return "POP";
    case '1': return "POP_MARK";
    case '2': return "DUP";
    case 'F': return "FLOAT";
    case 'I': return "INT";
    case 'J': return "BININT";
    case 'K': return "BININT1";
    case 'L': return "LONG";
    case 'M': return "BININT2";
    case 'N': return "NONE";
    case 'P': return "PERSID";
    case 'Q': return "BINPERSID";
    case 'R': return "REDUCE";
    case 'S': return "STRING";
    case 'T': return "BINSTRING";
    case 'U': return "SHORT_BINSTRING";
    case 'V': return "UNICODE";
    case 'X': return "BINUNICODE";
    case 'a': return "APPEND";
    case 'b': return "BUILD";
    case 'c': return "GLOBAL";
    case 'd': return "DICT";
    case '}': return "EMPTY_DICT";
    case 'e': return "APPENDS";
    case 'g': return "GET";
    case 'h': return "BINGET";
    case 'i': return "INST";
    case 'j': return "LONG_BINGET";
    case 'l': return "LIST";
    case ']': return "EMPTY_LIST";
    case 'o': return "OBJ";
    case 'p': return "PUT";
    case 'q': return "BINPUT";
    case 'r': return "LONG_BINPUT";
    case 's': return "SETITEM";
    case 't': return "TUPLE";
    case ')': return "EMPTY_TUPLE";
    case 'u': return "SETITEMS";
    case 'G': return "BINFLOAT";
    case 'B': return "BINBYTES";
    case 'C': return "SHORT_BINBYTES";
    case 0x80: return "PROTO";
    case 0x81: return "NEWOBJ";
    case 0x82: return "EXT1";
    case 0x83: return "EXT2";
    case 0x84: return "EXT4";
    case 0x85: return "TUPLE1";
    case 0x86: return "TUPLE2";
    case 0x87: return "TUPLE3";
    case 0x88: return "NEWTRUE";
    case 0x89: return "NEWFALSE";
    case 0x8a: return "LONG1";
    case 0x8b: return "LONG4";
    case 0x8c: return "SHORT_BINUNICODE";
    case 0x8d: return "BINUNICODE8";
    case 0x8e: return "BINBYTES8";
    case 0x8f: return "EMPTY_SET";
    case 0x90: return "ADDITEMS";
    case 0x91: return "FROZENSET";
    case 0x92: return "NEWOBJ_EX";
    case 0x93: return "STACK_GLOBAL";
    case 0x94: return "MEMOIZE";
    case 0x95: return "FRAME";
    case 0x96: return "BYTEARRAY8";
    case 0x97: return "NEXT_BUFFER";
    case 0x98: return "READONLY_BUFFER";
    default: return NULL;
    }
}

/* Records the first error (at the current opcode) and returns 0, so callers write `return fail(...)`. */
static int fail(parser *p, vram_status st, const char *fmt, ...)
{
    if (p->status)
        return 0;
    p->status = st;
    if (p->err && p->errlen) {
        int n = snprintf(p->err, p->errlen, "%s: byte %zu: ", p->name, p->op_at);
        if (n >= 0 && (size_t)n < p->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return 0;
}

static int no_memory(parser *p)
{
    return fail(p, VRAM_ENOHOST, "out of host memory");
}

/* Grows *arr (of elements of `size` bytes) to hold at least `need`. */
static int grow(parser *p, void **arr, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 1;
    size_t ncap = *cap ? *cap : 16;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2 / size)
            return no_memory(p);
        ncap *= 2;
    }
    void *n = realloc(*arr, ncap * size);
    if (!n)
        return no_memory(p);
    *arr = n;
    *cap = ncap;
    return 1;
}

static vpickle_value *new_value(parser *p, vpickle_type t)
{
    chunk *c = p->doc->chunks;
    if (!c || c->used == CHUNK_VALUES) {
        c = malloc(sizeof *c);
        if (!c) {
            no_memory(p);
            return NULL;
        }
        c->next = p->doc->chunks;
        c->used = 0;
        p->doc->chunks = c;
    }
    vpickle_value *v = &c->v[c->used++];
    memset(v, 0, sizeof *v);
    v->type = t;
    return v;
}

static int is_container(vpickle_type t)
{
    return t == VPICKLE_LIST || t == VPICKLE_TUPLE || t == VPICKLE_DICT;
}

static int seq_append(parser *p, vpickle_value *seq, vpickle_value *item)
{
    void *items = seq->u.seq.items;
    if (!grow(p, &items, &seq->u.seq.cap, seq->u.seq.len + 1, sizeof(vpickle_value *)))
        return 0;
    seq->u.seq.items = items;
    seq->u.seq.items[seq->u.seq.len++] = item;
    return 1;
}

/* ---- the stack ---- */

static size_t mark_base(const parser *p)
{
    return p->nmarks ? p->marks[p->nmarks - 1] : 0;
}

static int push(parser *p, vpickle_value *v)
{
    if (!v)
        return 0;
    if (p->sp >= p->lim.max_stack)
        return fail(p, VRAM_EPARSE, "stack deeper than the limit of %zu values", p->lim.max_stack);
    void *s = p->stack;
    if (!grow(p, &s, &p->stack_cap, p->sp + 1, sizeof(vpickle_value *)))
        return 0;
    p->stack = s;
    p->stack[p->sp++] = v;
    return 1;
}

/* The n values on top of the stack, all above the innermost mark. */
static int need_stack(parser *p, size_t n, const char *op)
{
    if (p->sp - mark_base(p) < n)
        return fail(p, VRAM_EPARSE, "%s needs %zu value(s) on the stack above the mark, has %zu",
                    op, n, p->sp - mark_base(p));
    return 1;
}

/* Pops the innermost mark; *from is the stack height it recorded. */
static int pop_mark(parser *p, const char *op, size_t *from)
{
    if (!p->nmarks)
        return fail(p, VRAM_EPARSE, "%s without a MARK", op);
    *from = p->marks[--p->nmarks];
    return 1;
}

/* ---- operands ---- */

static int need_bytes(parser *p, uint64_t n, const char *op)
{
    if (n > p->doc->len - p->pos)
        return fail(p, VRAM_EPARSE, "truncated: %s needs %llu byte(s), %zu left", op,
                    (unsigned long long)n, p->doc->len - p->pos);
    return 1;
}

/* An unsigned little-endian operand of `width` bytes (1..8). */
static int read_le(parser *p, unsigned width, const char *op, uint64_t *out)
{
    if (!need_bytes(p, width, op))
        return 0;
    uint64_t v = 0;
    for (unsigned i = 0; i < width; i++)
        v |= (uint64_t)p->doc->data[p->pos + i] << (8 * i);
    p->pos += width;
    *out = v;
    return 1;
}

static int push_int(parser *p, int64_t i)
{
    vpickle_value *v = new_value(p, VPICKLE_INT);
    if (v)
        v->u.i = i;
    return push(p, v);
}

/* LONG1 / LONG4: a byte count (of `width` bytes), then that many bytes of
 * little-endian two's complement. Only what fits in 64 bits is read: an int64,
 * or 9 bytes whose last is 0 (2^63 to 2^64-1, a VPICKLE_UINT). */
static int op_long(parser *p, unsigned width, const char *op)
{
    uint64_t n;
    if (!read_le(p, width, op, &n))
        return 0;
    if (n == 9) {
        if (!need_bytes(p, 9, op))
            return 0;
        if (p->doc->data[p->pos + 8] == 0) { /* non-negative, below 2^64 */
            uint64_t u;
            if (!read_le(p, 8, op, &u))
                return 0;
            p->pos++;
            if (u <= INT64_MAX)
                return push_int(p, (int64_t)u);
            vpickle_value *v = new_value(p, VPICKLE_UINT);
            if (v)
                v->u.u = u;
            return push(p, v);
        }
    }
    if (n > 8)
        return need_bytes(p, n, op) &&
               fail(p, VRAM_EPARSE, "%s: an integer of %llu bytes is too large (wider than 64 "
                    "bits: at most 8 bytes are read)", op, (unsigned long long)n);
    uint64_t u = 0;
    if (n && !read_le(p, (unsigned)n, op, &u))
        return 0;
    if (n && n < 8 && (u >> (8 * n - 1)) & 1)
        u |= ~UINT64_C(0) << (8 * n); /* sign-extend */
    int64_t i;
    memcpy(&i, &u, sizeof i); /* two's complement reinterpretation, no implementation-defined cast */
    return push_int(p, i);
}

static int op_binfloat(parser *p)
{
    if (!need_bytes(p, 8, "BINFLOAT"))
        return 0;
    uint64_t u = 0;
    for (int i = 0; i < 8; i++) /* big-endian IEEE 754 */
        u = (u << 8) | p->doc->data[p->pos + i];
    p->pos += 8;
    vpickle_value *v = new_value(p, VPICKLE_FLOAT);
    if (v)
        memcpy(&v->u.f, &u, sizeof v->u.f);
    return push(p, v);
}

/* STR/BYTES with a length operand of `width` bytes. */
static int op_text(parser *p, vpickle_type t, unsigned width, const char *op)
{
    uint64_t n;
    if (!read_le(p, width, op, &n) || !need_bytes(p, n, op))
        return 0;
    vpickle_value *v = new_value(p, t);
    if (v) {
        v->u.s.ptr = (const char *)p->doc->data + p->pos;
        v->u.s.len = (size_t)n;
    }
    p->pos += (size_t)n;
    return push(p, v);
}

/* ---- containers ---- */

static int hashable(const vpickle_value *k)
{
    return k->type != VPICKLE_LIST && k->type != VPICKLE_DICT;
}

/* Adds the values stack[from, sp) to `into` (a list, or a dict taking pairs). */
static int move_items(parser *p, vpickle_value *into, size_t from, const char *op)
{
    if (into->type == VPICKLE_DICT && (p->sp - from) % 2)
        return fail(p, VRAM_EPARSE, "%s with an odd number (%zu) of keys and values", op,
                    p->sp - from);
    for (size_t i = from; i < p->sp; i++) {
        if (into->type == VPICKLE_DICT && (i - from) % 2 == 0 && !hashable(p->stack[i]))
            return fail(p, VRAM_EPARSE, "%s: %s cannot be a dict key", op,
                        vpickle_type_phrase(p->stack[i]->type));
        if (!seq_append(p, into, p->stack[i]))
            return 0;
    }
    p->sp = from;
    return 1;
}

/* APPENDS / SETITEMS: the target sits just below the mark. */
static int op_extend(parser *p, vpickle_type want, const char *op)
{
    size_t from = 0;
    if (!pop_mark(p, op, &from))
        return 0;
    if (from == 0 || from <= mark_base(p))
        return fail(p, VRAM_EPARSE, "%s without a %s below its MARK", op, vpickle_type_name(want));
    vpickle_value *target = p->stack[from - 1];
    if (target->type != want)
        return fail(p, VRAM_EPARSE, "%s on %s, expected a %s", op,
                    vpickle_type_phrase(target->type), vpickle_type_name(want));
    return move_items(p, target, from, op);
}

/* APPEND / SETITEM: n = 1 value or 2 (key, value) on top of the target. */
static int op_add_one(parser *p, vpickle_type want, size_t n, const char *op)
{
    if (!need_stack(p, n + 1, op))
        return 0;
    vpickle_value *target = p->stack[p->sp - n - 1];
    if (target->type != want)
        return fail(p, VRAM_EPARSE, "%s on %s, expected a %s", op,
                    vpickle_type_phrase(target->type), vpickle_type_name(want));
    return move_items(p, target, p->sp - n, op);
}

/* TUPLE (from the mark) and TUPLE1..3 (n from the top). */
static int make_tuple(parser *p, size_t from)
{
    vpickle_value *t = new_value(p, VPICKLE_TUPLE);
    if (!t || !move_items(p, t, from, "TUPLE"))
        return 0;
    return push(p, t);
}

static int op_tuple_n(parser *p, size_t n, const char *op)
{
    return need_stack(p, n, op) && make_tuple(p, p->sp - n);
}

/* ---- the memo ---- */

static int memo_put(parser *p, uint64_t idx, const char *op)
{
    if (!need_stack(p, 1, op))
        return 0;
    /* Picklers number memo entries 0, 1, 2, ...: an index may repeat an old one
     * or take the next, so the memo stays dense and bounded by the input. */
    if (idx > p->nmemo)
        return fail(p, VRAM_EPARSE, "%s index %llu skips ahead of the memo (next is %zu)", op,
                    (unsigned long long)idx, p->nmemo);
    if (idx == p->nmemo) {
        if (p->nmemo >= p->lim.max_memo)
            return fail(p, VRAM_EPARSE, "memo larger than the limit of %zu entries", p->lim.max_memo);
        void *m = p->memo;
        if (!grow(p, &m, &p->memo_cap, p->nmemo + 1, sizeof(vpickle_value *)))
            return 0;
        p->memo = m;
        p->nmemo++;
    }
    p->memo[idx] = p->stack[p->sp - 1];
    return 1;
}

static int memo_get(parser *p, uint64_t idx, const char *op)
{
    if (idx >= p->nmemo)
        return fail(p, VRAM_EPARSE, "%s index %llu out of range (the memo holds %zu)", op,
                    (unsigned long long)idx, p->nmemo);
    return push(p, p->memo[idx]);
}

/* ---- the loop ---- */

/* Runs one opcode; returns 1 to continue, 0 on error (p->status set) or at STOP (root set). */
static int step(parser *p)
{
    p->op_at = p->pos;
    if (!need_bytes(p, 1, "an opcode (no STOP)"))
        return 0;
    const unsigned char op = p->doc->data[p->pos++];
    const char *name = opcode_name(op);
    uint64_t n;
    if (p->op_at == 0 && op != 0x80)
        return fail(p, VRAM_EPARSE, "expected PROTO (0x80), found %s (0x%02x): protocols 0 and 1 "
                    "are not supported", name ? name : "an unknown opcode", op);
    switch (op) {
    case 0x80: /* PROTO */
        if (p->op_at != 0)
            return fail(p, VRAM_EPARSE, "PROTO after the start");
        if (!read_le(p, 1, name, &n))
            return 0;
        if (n < 2 || n > 5)
            return fail(p, VRAM_EPARSE, "protocol %llu not supported (2 to 5 are)", (unsigned long long)n);
        return 1;
    case 0x95: /* FRAME: a length prefix for buffered reading; only checked */
        if (!read_le(p, 8, name, &n))
            return 0;
        if (n > p->doc->len - p->pos)
            return fail(p, VRAM_EPARSE, "truncated: FRAME of %llu bytes, %zu left",
                        (unsigned long long)n, p->doc->len - p->pos);
        return 1;
    case '.': /* STOP */
        if (p->nmarks)
            return fail(p, VRAM_EPARSE, "STOP with %zu MARK(s) open", p->nmarks);
        if (p->sp != 1)
            return fail(p, VRAM_EPARSE, "STOP with %zu values on the stack, expected 1", p->sp);
        if (p->pos != p->doc->len)
            return fail(p, VRAM_EPARSE, "%zu byte(s) after STOP", p->doc->len - p->pos);
        p->doc->root = p->stack[0];
        return 0;
    case '(':
        if (p->nmarks >= p->lim.max_marks)
            return fail(p, VRAM_EPARSE, "more than %zu nested MARKs", p->lim.max_marks);
        {
            void *m = p->marks;
            if (!grow(p, &m, &p->marks_cap, p->nmarks + 1, sizeof(size_t)))
                return 0;
            p->marks = m;
        }
        p->marks[p->nmarks++] = p->sp;
        return 1;
    case 'N': return push(p, new_value(p, VPICKLE_NONE));
    case 0x88:
    case 0x89: {
        vpickle_value *v = new_value(p, VPICKLE_BOOL);
        if (v)
            v->u.b = op == 0x88;
        return push(p, v);
    }
    case 'K': return read_le(p, 1, name, &n) && push_int(p, (int64_t)n);
    case 'M': return read_le(p, 2, name, &n) && push_int(p, (int64_t)n);
    case 'J':
        return read_le(p, 4, name, &n) &&
               push_int(p, n >= UINT64_C(0x80000000) ? (int64_t)n - INT64_C(0x100000000) : (int64_t)n);
    case 0x8a: return op_long(p, 1, name);
    case 0x8b: return op_long(p, 4, name);
    case 'G': return op_binfloat(p);
    case 0x8c: return op_text(p, VPICKLE_STR, 1, name);
    case 'X': return op_text(p, VPICKLE_STR, 4, name);
    case 0x8d: return op_text(p, VPICKLE_STR, 8, name);
    case 'C': return op_text(p, VPICKLE_BYTES, 1, name);
    case 'B': return op_text(p, VPICKLE_BYTES, 4, name);
    case 0x8e: return op_text(p, VPICKLE_BYTES, 8, name);
    case '}': return push(p, new_value(p, VPICKLE_DICT));
    case ']': return push(p, new_value(p, VPICKLE_LIST));
    case ')': return push(p, new_value(p, VPICKLE_TUPLE));
    case 'a': return op_add_one(p, VPICKLE_LIST, 1, name);
    case 's': return op_add_one(p, VPICKLE_DICT, 2, name);
    case 'e': return op_extend(p, VPICKLE_LIST, name);
    case 'u': return op_extend(p, VPICKLE_DICT, name);
    case 't': {
        size_t from = 0;
        return pop_mark(p, name, &from) && make_tuple(p, from);
    }
    case 0x85: return op_tuple_n(p, 1, name);
    case 0x86: return op_tuple_n(p, 2, name);
    case 0x87: return op_tuple_n(p, 3, name);
    case 0x94: return memo_put(p, p->nmemo, name);
    case 'q': return read_le(p, 1, name, &n) && memo_put(p, n, name);
    case 'r': return read_le(p, 4, name, &n) && memo_put(p, n, name);
    case 'h': return read_le(p, 1, name, &n) && memo_get(p, n, name);
    case 'j': return read_le(p, 4, name, &n) && memo_get(p, n, name);
    default:
        if (name)
            return fail(p, VRAM_EPARSE, "opcode %s (0x%02x) refused: only plain data "
                        "(dict, list, tuple, str, bytes, int, float, bool, None) is read", name, op);
        return fail(p, VRAM_EPARSE, "unknown opcode 0x%02x", op);
    }
}

/* Parses data[0, len), which the document takes over (freed on failure too). */
static vram_status parse_owned(unsigned char *data, size_t len, const char *name,
                               const vpickle_limits *lim, vpickle_doc **out, char *err,
                               size_t errlen)
{
    vpickle_doc *d = calloc(1, sizeof *d);
    if (!d) {
        free(data);
        return VRAM_ENOHOST;
    }
    d->data = data;
    d->len = len;

    parser p = {.doc = d, .name = name ? name : "pickle", .err = err, .errlen = errlen};
    if (lim)
        p.lim = *lim;
    if (!p.lim.max_stack)
        p.lim.max_stack = DEFAULT_MAX_STACK;
    if (!p.lim.max_marks)
        p.lim.max_marks = DEFAULT_MAX_MARKS;
    if (!p.lim.max_memo)
        p.lim.max_memo = DEFAULT_MAX_MEMO;
    while (step(&p))
        ;
    free(p.stack);
    free(p.marks);
    free(p.memo);
    if (p.status) {
        vpickle_free(d);
        return p.status;
    }
    *out = d;
    return VRAM_OK;
}

vram_status vpickle_parse(const void *buf, size_t len, const char *name, const vpickle_limits *lim,
                          vpickle_doc **out, char *err, size_t errlen)
{
    if (!out)
        return VRAM_EINVAL;
    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    if (!buf && len)
        return VRAM_EINVAL;
    unsigned char *copy = malloc(len ? len : 1);
    if (!copy)
        return VRAM_ENOHOST;
    if (len)
        memcpy(copy, buf, len);
    return parse_owned(copy, len, name, lim, out, err, errlen);
}

static vram_status too_big(const char *path, uint64_t size, int at_least, uint64_t max, char *err,
                           size_t errlen)
{
    return vsim_fail(err, errlen, VRAM_EINVAL,
                     "%s: %s%llu bytes: larger than the limit of %llu bytes on a pickle read into "
                     "memory (--max-pickle raises it)", path, at_least ? "more than " : "",
                     (unsigned long long)size, (unsigned long long)max);
}

vram_status vpickle_load(const char *path, const vpickle_limits *lim, vpickle_doc **out, char *err,
                         size_t errlen)
{
    if (!path || !out)
        return VRAM_EINVAL;
    *out = NULL;
    uint64_t max = lim && lim->max_bytes ? lim->max_bytes : VPICKLE_MAX_BYTES;
    if (max > SIZE_MAX - 1)
        max = SIZE_MAX - 1;
    /* O_NONBLOCK: opening a FIFO with no writer would wait for one; regular
     * files ignore the flag. Anything but a regular file (or a directory,
     * whose read fails with the system's reason) is refused: the whole input
     * is held in memory, and a pipe or device may never end. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return vsim_fail(err, errlen, VRAM_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        vram_status st = vsim_fail(err, errlen, VRAM_EIO, "%s: cannot open: %s", path,
                                   strerror(errno));
        close(fd);
        return st;
    }
    if (!S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode)) {
        close(fd);
        return vsim_fail(err, errlen, VRAM_EIO, "%s: not a regular file: a pickle is read whole "
                         "into memory; save it to a file first", path);
    }
    if (S_ISREG(sb.st_mode) && (uint64_t)sb.st_size > max) {
        close(fd);
        return too_big(path, (uint64_t)sb.st_size, 0, max, err, errlen);
    }
    /* The size at open, plus room to notice a file that grows while read. */
    size_t cap = S_ISREG(sb.st_mode) ? (size_t)sb.st_size + 1 : 1 << 16, len = 0;
    unsigned char *buf = malloc(cap);
    vram_status st = buf ? VRAM_OK
                         : vsim_fail(err, errlen, VRAM_ENOHOST, "%s: out of host memory for %zu "
                                     "bytes", path, cap);
    while (!st) {
        if (len == cap) {
            if (len > max) {
                st = too_big(path, max, 1, max, err, errlen);
                break;
            }
            size_t ncap = cap > max / 2 ? (size_t)max + 1 : cap * 2;
            unsigned char *n = realloc(buf, ncap);
            if (!n) {
                st = vsim_fail(err, errlen, VRAM_ENOHOST, "%s: out of host memory after %zu "
                               "bytes", path, len);
                break;
            }
            buf = n;
            cap = ncap;
        }
        ssize_t got = read(fd, buf + len, cap - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            st = vsim_fail(err, errlen, VRAM_EIO, "%s: read error: %s", path, strerror(errno));
        else if (got == 0)
            break;
        else
            len += (size_t)got;
    }
    close(fd);
    if (!st && len > max)
        st = too_big(path, max, 1, max, err, errlen);
    if (st) {
        free(buf);
        return st;
    }
    if (err && errlen)
        err[0] = '\0';
    return parse_owned(buf, len, path, lim, out, err, errlen);
}

void vpickle_free(vpickle_doc *d)
{
    if (!d)
        return;
    for (chunk *c = d->chunks, *next; c; c = next) {
        next = c->next;
        for (size_t i = 0; i < c->used; i++)
            if (is_container(c->v[i].type))
                free(c->v[i].u.seq.items);
        free(c);
    }
    free(d->data);
    free(d);
}

const vpickle_value *vpickle_root(const vpickle_doc *d)
{
    return d ? d->root : NULL;
}

int vpickle_str_eq(const vpickle_value *v, const char *s)
{
    if (!v || v->type != VPICKLE_STR || !s)
        return 0;
    size_t n = strlen(s);
    return v->u.s.len == n && memcmp(v->u.s.ptr, s, n) == 0;
}

const vpickle_value *vpickle_dict_get(const vpickle_value *dict, const char *key)
{
    if (!dict || dict->type != VPICKLE_DICT)
        return NULL;
    for (size_t i = dict->u.seq.len; i >= 2; i -= 2)
        if (vpickle_str_eq(dict->u.seq.items[i - 2], key))
            return dict->u.seq.items[i - 1];
    return NULL;
}

size_t vpickle_len(const vpickle_value *v)
{
    if (!v || !is_container(v->type))
        return 0;
    return v->type == VPICKLE_DICT ? v->u.seq.len / 2 : v->u.seq.len;
}

const vpickle_value *vpickle_item(const vpickle_value *v, size_t i)
{
    if (!v || (v->type != VPICKLE_LIST && v->type != VPICKLE_TUPLE) || i >= v->u.seq.len)
        return NULL;
    return v->u.seq.items[i];
}

const char *vpickle_type_phrase(vpickle_type t)
{
    static const char *const phrases[] = {"None",  "a bool", "an int",  "a float", "a str",
                                          "a bytes object", "a list", "a tuple", "a dict",
                                          "an int above 2^63-1"};
    return (unsigned)t < sizeof phrases / sizeof phrases[0] ? phrases[t] : "a value of no known type";
}

const char *vpickle_type_name(vpickle_type t)
{
    static const char *const names[] = {"None", "bool", "int",  "float", "str",
                                        "bytes", "list", "tuple", "dict", "int"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "?";
}
