/* pickle.h - a strict reader of the Python pickle subset that plain data uses.
 *
 * It reads what `pickle.dump` writes for dicts, lists, tuples, str, bytes, int,
 * float, bool and None at protocols 2 to 5 (what torch.cuda.memory._dump_snapshot
 * produces) and refuses every opcode that could name code or build objects
 * (GLOBAL, STACK_GLOBAL, REDUCE, BUILD, INST, OBJ, NEWOBJ, PERSID, EXT*, ...),
 * with the opcode's name and byte offset. Nothing is executed.
 *
 * Memory is bounded by the input: every value costs at least one input byte, so
 * the value graph is O(input length); the stack, the mark stack and the memo
 * have explicit limits on top. The parser is a loop, never recursive.
 *
 * The result is a graph, not necessarily a tree: a memoised value (BINGET) is
 * shared by every place that names it, and a list may even contain itself.
 * Walk it along known paths, or keep a visited set; never recurse blindly. */
#ifndef VSIM_PICKLE_H
#define VSIM_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "vram/status.h"

typedef enum vpickle_type {
    VPICKLE_NONE,
    VPICKLE_BOOL,
    VPICKLE_INT,   /* at most 64 bits signed: wider LONG1/LONG4 values are refused */
    VPICKLE_FLOAT,
    VPICKLE_STR,   /* UTF-8 as stored, not validated; may hold NUL bytes */
    VPICKLE_BYTES,
    VPICKLE_LIST,
    VPICKLE_TUPLE,
    VPICKLE_DICT,  /* pairs in insertion order; a later equal key wins on lookup */
    VPICKLE_UINT   /* an int from 2^63 to 2^64-1 (u.u): PyTorch writes SIZE_MAX so, e.g. an
                      unknown frame line; callers expecting VPICKLE_INT name it as another type */
} vpickle_type;

typedef struct vpickle_value vpickle_value;

struct vpickle_value {
    vpickle_type type;
    union {
        int b;
        int64_t i;
        uint64_t u;          /* UINT */
        double f;
        struct {
            const char *ptr; /* into the document's copy of the input; not NUL-terminated */
            size_t len;
        } s;                 /* STR, BYTES */
        struct {
            vpickle_value **items; /* DICT: key at 2k, value at 2k+1 */
            size_t len;            /* items (DICT: 2 * pairs) */
            size_t cap;
        } seq;               /* LIST, TUPLE, DICT */
    } u;
};

/* The most bytes of file vpickle_load reads into memory by default: 4 GiB
 * (the document then takes about 3 times that). */
#define VPICKLE_MAX_BYTES (UINT64_C(4) << 30)

typedef struct vpickle_limits {
    size_t max_stack;  /* values on the stack at once; 0 = 1<<20 */
    size_t max_marks;  /* open MARKs (nesting of SETITEMS/APPENDS/TUPLE); 0 = 256 */
    size_t max_memo;   /* memo entries; 0 = 1<<24 */
    uint64_t max_bytes; /* vpickle_load: file bytes held in memory; 0 = VPICKLE_MAX_BYTES */
} vpickle_limits;

typedef struct vpickle_doc vpickle_doc;

/* Parses one pickle from buf[0, len) (copied: the caller's buffer may go).
 * Cost O(len). On failure *out is NULL and err holds "NAME: byte OFFSET: what"
 * (`name` stands for the input, e.g. a file name): an unsupported opcode by name,
 * truncated input, a memo index out of range, an operand of the wrong type, a
 * limit exceeded, bytes after STOP. Statuses: VRAM_EPARSE for malformed or
 * refused input, VRAM_ENOHOST without memory, VRAM_EINVAL for NULL arguments. */
vram_status vpickle_parse(const void *buf, size_t len, const char *name, const vpickle_limits *lim,
                          vpickle_doc **out, char *err, size_t errlen);
/* Reads the file and parses it as vpickle_parse (the bytes read are the
 * document's copy: the file's size is held once). VRAM_EIO (with the path and
 * errno text in err) when it cannot be read, or when it is not a regular file
 * ("PATH: not a regular file: ...": a FIFO, device or socket, refused before
 * any read, so a FIFO with no writer does not block); VRAM_EINVAL when it is
 * larger than lim->max_bytes ("PATH: N bytes: larger than the limit of M bytes
 * on a pickle read into memory ..."), checked before reading and again while
 * reading a file that grows. */
vram_status vpickle_load(const char *path, const vpickle_limits *lim, vpickle_doc **out, char *err,
                         size_t errlen);
void vpickle_free(vpickle_doc *d);

/* The value the pickle's STOP returned. */
const vpickle_value *vpickle_root(const vpickle_doc *d);

/* The value of the string key `key` in a dict (the last equal one), or NULL
 * when absent or when `dict` is not a dict. O(pairs). */
const vpickle_value *vpickle_dict_get(const vpickle_value *dict, const char *key);
/* Elements of a list or tuple, pairs of a dict; 0 for other types. */
size_t vpickle_len(const vpickle_value *v);
/* The i-th element of a list or tuple; NULL out of range or for other types. */
const vpickle_value *vpickle_item(const vpickle_value *v, size_t i);
/* 1 when v is a str equal to `s`. */
int vpickle_str_eq(const vpickle_value *v, const char *s);
/* "dict", "list", ...: for error messages. */
const char *vpickle_type_name(vpickle_type t);
/* The same with its article, for "X is ...": "None", "an int", "a dict", ... */
const char *vpickle_type_phrase(vpickle_type t);

#endif
