/* trace.h - the vramlab trace: versioned text, one event per line (traces/FORMAT.md).
 *
 * The reader streams: memory does not grow with the trace length. Gzip files
 * are read transparently. Every error names file:line and what was expected;
 * after an error the reader returns only errors. */
#ifndef VTRACE_H
#define VTRACE_H

#include <stddef.h>
#include <stdint.h>

#include "vram/manager.h"
#include "vram/status.h"

#define VTRACE_VERSION 2       /* what the writers write; the reader reads 1 and 2 */
#define VTRACE_KEY_MAX 64     /* shared-weight keys, including the NUL */
#define VTRACE_TEXT_MAX 256   /* header strings, including the NUL */
#define VTRACE_FRAMES_MAX 4   /* frame ids one alloc may name (version 2) */
#define VTRACE_FRAME_ID_MAX UINT32_MAX
#define VTRACE_FRAME_LINE_MAX UINT32_MAX
#define VTRACE_PNODE_MAX UINT32_MAX      /* prefix nodes of one trace */
#define VTRACE_PREFIX_TOKENS_MAX UINT32_MAX /* a request's tokens in lookup and fill */
#define VTRACE_BLOCK_TOKENS_MAX 65536    /* kv_block_tokens */
#define VTRACE_SEGMENT_TOKENS_MAX (1u << 24) /* prefix_segment_tokens */
#define VTRACE_PREFIX_BLOCKS_MAX (1u << 30) /* prefix_cache_blocks (VRAM_PREFIX_MAX_BLOCKS) */

typedef enum vtrace_type {
    VTRACE_ALLOC,          /* id size align kind priority */
    VTRACE_FREE,           /* id */
    VTRACE_USE,            /* id: a touch */
    VTRACE_SHARED_ACQUIRE, /* key size priority */
    VTRACE_SHARED_RELEASE, /* key */
    VTRACE_STEP,           /* id = step number */
    VTRACE_REQUEST_BEGIN,  /* id = request id */
    VTRACE_REQUEST_END,    /* id = request id */
    VTRACE_PIN,            /* id: needed from now until its unpin (version 2) */
    VTRACE_UNPIN,          /* id (version 2) */
    /* The prefix cache's block stream (version 2, traces/FORMAT.md "Prefix
     * cache"): a trie of prompt segments and each request's walk over it. */
    VTRACE_PNODE,          /* id = node N, node = its parent (0: the root), hash = the segment's id */
    VTRACE_LOOKUP,         /* id = request, node = its prompt's last segment, prompt, tokens */
    VTRACE_FILL,           /* id = request, tokens = its tokens with KV now */
    VTRACE_TYPE_COUNT
} vtrace_type;

/* Who needs an allocation or a shared reference at every step (version 2;
 * version-1 events read as VTRACE_NEED_NONE). */
typedef enum vtrace_need {
    VTRACE_NEED_NONE,      /* "-": needed only when used or pinned; an engine may drop it */
    VTRACE_NEED_ENGINE,    /* "engine": needed by every step while live (weights) */
    VTRACE_NEED_REQUEST    /* REQ: needed by every step while request `owner` runs */
} vtrace_need;

typedef struct vtrace_header {
    int version;
    char model[VTRACE_TEXT_MAX];    /* e.g. "llama-3-70b tp=4 bf16" */
    char engine[VTRACE_TEXT_MAX];   /* "paged" or "contiguous" (or "import:rmm", ...) */
    uint64_t capacity;              /* device bytes */
    uint64_t kv_block_bytes;        /* paged: bytes of one KV block; 0 otherwise */
    char source[VTRACE_TEXT_MAX];   /* the recording it was derived from */
    char licence[VTRACE_TEXT_MAX];  /* the recording's licence */
    uint64_t kv_token_bytes;        /* KV bytes of one token (recompute cost); 0 = unknown */
    uint64_t prefill_tokens_per_s;  /* the engine's prefill rate; 0 = the replay's default */
    /* The recorded allocator's settings, PYTORCH_CUDA_ALLOC_CONF syntax
     * ("expandable_segments:True"): the caching policy's default in a replay;
     * "" = none recorded. Version 2. */
    char allocator_settings[VTRACE_TEXT_MAX];
    /* The prefix cache (version 2; 0 = absent): tokens of one KV block and of
     * one prefix segment (a multiple of it; both needed by prefix events), and
     * the blocks of the generator's cache (the replay's default). */
    uint64_t kv_block_tokens;
    uint64_t prefix_segment_tokens;
    uint64_t prefix_cache_blocks;
} vtrace_header;

typedef struct vtrace_event {
    vtrace_type type;
    uint64_t line;        /* line number in the trace file (1-based) */
    uint64_t ts_us;       /* timestamp, microseconds from the trace start */
    uint64_t id;          /* alloc/free/use id; step or request number */
    uint64_t size;        /* alloc, shared acquire */
    uint64_t align;       /* alloc; 0 = default */
    vram_kind kind;       /* alloc */
    int priority;         /* alloc, shared acquire */
    char key[VTRACE_KEY_MAX]; /* shared acquire/release */
    vtrace_need need;     /* alloc, acquire, release (version 2) */
    uint64_t owner;       /* the request id when need is VTRACE_NEED_REQUEST, else 0 */
    uint32_t frames[VTRACE_FRAMES_MAX]; /* alloc (version 2, optional): the code that asked,
                                           innermost first, ids of `frame` lines */
    unsigned nframes;     /* 0 to VTRACE_FRAMES_MAX */
    uint64_t node;        /* pnode: the parent node (0: the root); lookup: the prompt's last node */
    uint64_t hash;        /* pnode: the segment's hash id */
    uint64_t prompt;      /* lookup: the prompt's tokens, 1 .. VTRACE_PREFIX_TOKENS_MAX */
    uint64_t tokens;      /* lookup: prompt .. max; fill: 1 .. max */
} vtrace_event;

/* A `frame ID LINE FILE FUNCTION` line (version 2, optional): one place in
 * the code, named by allocs' frames=ID,... suffix. Not an event: a reader
 * opened with a frame callback hands each one over as it reads it; otherwise
 * frame lines are checked and skipped. */
typedef struct vtrace_frame {
    uint32_t id;                    /* 1 to VTRACE_FRAME_ID_MAX */
    uint32_t line;                  /* 0: unknown */
    char file[VTRACE_TEXT_MAX];     /* 1-255 bytes, no blank or control byte */
    char func[VTRACE_TEXT_MAX];     /* 1-255 bytes, no control byte, no blank at the ends */
} vtrace_frame;

typedef void (*vtrace_frame_fn)(void *ctx, const vtrace_frame *f);

typedef struct vtrace_reader vtrace_reader;

/* Opens a trace file (plain or gzip, told by its bytes) and reads its header,
 * up to the first event. Cost: one buffer of 256 KiB. On failure *out is NULL
 * and err (if errlen > 0) holds the reason: VRAM_EIO "file: cannot open: ..."
 * (or a NULL path: VRAM_EINVAL), VRAM_EPARSE "file:line: what was expected"
 * (a header error, or an error on the first event), VRAM_ENOHOST. */
vram_status vtrace_open(const char *path, vtrace_reader **out, char *err, size_t errlen);
/* The same over `len` bytes at `buf` (fuzzers, tests), read in place: the buffer
 * must outlive the reader; `name` stands in for the file name in messages. */
vram_status vtrace_open_buffer(const void *buf, size_t len, const char *name, vtrace_reader **out,
                               char *err, size_t errlen);
/* vtrace_open and vtrace_open_buffer with `fn` called for each frame line
 * (those before the first event during the open), in file order. */
vram_status vtrace_open_frames(const char *path, vtrace_frame_fn fn, void *ctx,
                               vtrace_reader **out, char *err, size_t errlen);
vram_status vtrace_open_buffer_frames(const void *buf, size_t len, const char *name,
                                      vtrace_frame_fn fn, void *ctx, vtrace_reader **out,
                                      char *err, size_t errlen);
const vtrace_header *vtrace_header_of(const vtrace_reader *r);
/* 1: *ev holds the next event; 0: end of trace; -1: error, see vtrace_error
 * (a malformed line, a line over 4096 bytes, a read error or corrupt gzip).
 * Errors are sticky. Cost: linear in the line; no allocation. */
int vtrace_next(vtrace_reader *r, vtrace_event *ev);
/* "file:line: message" of the last error, "" if none. */
const char *vtrace_error(const vtrace_reader *r);
/* Bytes of the file consumed so far (compressed bytes for gzip), for progress
 * against the file size; for a memory buffer, bytes of the buffer consumed. */
uint64_t vtrace_offset(const vtrace_reader *r);
/* Host bytes the reader holds; fixed at open (it does not grow while reading). */
size_t vtrace_memory(const vtrace_reader *r);
void vtrace_close(vtrace_reader *r);

typedef struct vtrace_writer vtrace_writer;
/* Writes plain text, or gzip when the path ends in ".gz", starting with the
 * header. VRAM_EINVAL for a header the reader would refuse (version not 1 or
 * 2, version-2 keys in a version-1 header, empty model or engine, a text with a control byte or blank
 * ends, capacity 0 or above 2^63-1), VRAM_EIO when the file cannot be created
 * (errno tells why), VRAM_ENOHOST. */
vram_status vtrace_writer_open(const char *path, const vtrace_header *hdr, vtrace_writer **out);
/* The same with the compression chosen by the caller (gzip != 0: gzip whatever the name). */
vram_status vtrace_writer_open_as(const char *path, const vtrace_header *hdr, int gzip,
                                  vtrace_writer **out);
/* Appends an event; `@ts` is written only when ev->ts_us changed. VRAM_EINVAL
 * for an event the reader would refuse (in a version-1 trace: a need other
 * than none, pin, unpin; a need out of range; size 0 or above 2^63-1, alignment not
 * 0 or a power of two up to 2^30, bad kind, negative priority, key empty, too
 * long or with a byte outside '!'..'~', timestamp going back); VRAM_EIO once a
 * write failed (disk full), errno set to that write's error (ENOSPC, EFBIG).
 * Cost: buffered, amortised O(line). */
vram_status vtrace_write(vtrace_writer *w, const vtrace_event *ev);
/* Writes a frame line (version 2); VRAM_EINVAL for what the reader would
 * refuse (version 1, id 0, a file with a blank or control byte, a function
 * with a control byte or blank ends, either empty or over 255 bytes). */
vram_status vtrace_write_frame(vtrace_writer *w, const vtrace_frame *f);
/* Writes "# text"; VRAM_EINVAL when text has a control byte (a newline) or more
 * than 4000 bytes. */
vram_status vtrace_write_comment(vtrace_writer *w, const char *text);
/* Flushes and closes; a write or close error is reported here too (VRAM_EIO,
 * errno set as by vtrace_write). */
vram_status vtrace_writer_close(vtrace_writer *w);

/* The allocator settings the trace at `path` records (header
 * allocator_settings), parsed as the caching policy's options
 * (trace_settings.c): 1 with conf and *out set; 0 when it records none, or
 * cannot be opened (the caller's own read reports why); -1 when they do not
 * parse, with "PATH: allocator_settings 'TEXT': why (give --caching-conf to
 * override)" in err. Cost: reading the header. */
struct vram_caching_options;
int vtrace_recorded_settings(const char *path, char conf[VTRACE_TEXT_MAX],
                             struct vram_caching_options *out, char *err, size_t errlen);

/* The file a tool writes that replaces OUT only when complete (trace_output.c):
 * write_path is "OUT.tmp", renamed over OUT by vtrace_output_commit, when OUT is
 * absent or a regular file; OUT itself when it is anything a rename would
 * replace by a regular file: a device, a FIFO, a symbolic link (/dev/full,
 * /dev/stdout). */
typedef struct vtrace_output {
    char *write_path; /* where to write */
    char *final;      /* OUT */
} vtrace_output;
/* VRAM_EINVAL "OUT: is a directory" (or an empty path), VRAM_ENOHOST; err names
 * the file. Cost: one stat. */
vram_status vtrace_output_begin(const char *path, vtrace_output *o, char *err, size_t errlen);
/* VRAM_EINVAL "OUT: is the input IN: ..." when OUT and IN name the same regular
 * file (same device and inode), which the output would replace. Cost: two stats. */
vram_status vtrace_output_not_input(const char *path, const char *input, char *err, size_t errlen);
/* After the file at write_path was written and closed: the rename (none in
 * place). VRAM_EIO "cannot rename OUT.tmp to OUT: reason", OUT.tmp removed.
 * Frees o either way. */
vram_status vtrace_output_commit(vtrace_output *o, char *err, size_t errlen);
/* After a failure: removes OUT.tmp (never OUT) and frees o. */
void vtrace_output_abort(vtrace_output *o);

const char *vtrace_type_name(vtrace_type t);
/* The NEED field as written: "-", "engine", or the owner's decimal id in buf
 * (at least 21 bytes). */
const char *vtrace_need_text(vtrace_need need, uint64_t owner, char buf[21]);
/* The format's kind words: "weight", "kv", "activation", "workspace", "adapter",
 * "other"; "?" for an out-of-range kind. */
const char *vtrace_kind_name(vram_kind k);
/* Parses a kind word of `len` bytes (not NUL-terminated). 0 and *out, or -1 for
 * an unknown word. Cost: a few byte compares. */
int vtrace_kind_parse(const char *word, size_t len, vram_kind *out);

/* The prefix block keys (traces/FORMAT.md, "Prefix cache"), chained on the
 * key before them (VRAM_PREFIX_ROOT at a chain's start) with vram_prefix_hash:
 * block j of the segment named `hash_id` (Mooncake's 512-token hash ids), and
 * block i of request `req`'s own tokens (past its prompt's segments). The
 * generator keys its cache and the replay its own with these, so both see the
 * same blocks. */
uint64_t vtrace_segment_key(uint64_t prev, uint64_t hash_id, uint32_t j);
uint64_t vtrace_request_key(uint64_t prev, uint64_t req, uint32_t i);

#endif
