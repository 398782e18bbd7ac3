/* test_import_edges.c - the importers' edges: torch snapshots built here byte
 * by byte (segment sums that overflow or exceed 2^63-1, no capacity to derive,
 * segment_map/unmap entries, bad segment_alloc sizes, device -1), RMM logs
 * whose pre-existing sizes overflow, outputs on a full disk, header texts that
 * need cleaning, short or absent error buffers, NULL arguments; inputs that
 * are not read (a FIFO or a device as a snapshot, a snapshot over the size
 * limit), entry fields of the wrong type, timestamps that go backwards (counted,
 * the first named, and a warning from vimport); and the vimport command line's
 * option errors, each named, with exit status 2. */
#include "import.h"
#include "test_cli_lib.h"
#include "trace.h"

#define OUT "import_edges_out.trace"
#define PK "import_edges.pickle"
#define CSV "import_edges.csv"

static char err[1024];

static void expect_message(const char *want)
{
    if (!strstr(err, want)) {
        fprintf(stderr, "message \"%s\" lacks \"%s\"\n", err, want);
        test_failures++;
    }
}

/* ---- a pickle writer for the snapshots (protocol 2, the opcodes pickle.h reads) ---- */

typedef struct pk {
    unsigned char b[1 << 16];
    size_t n;
} pk;

static void pk_byte(pk *p, unsigned char c)
{
    assert_true(p->n < sizeof p->b);
    p->b[p->n++] = c;
}

static void pk_str(pk *p, const char *s)
{
    size_t n = strlen(s);
    assert_true(n < 256);
    pk_byte(p, 0x8c); /* SHORT_BINUNICODE */
    pk_byte(p, (unsigned char)n);
    for (size_t i = 0; i < n; i++)
        pk_byte(p, (unsigned char)s[i]);
}

static void pk_int(pk *p, int64_t v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    pk_byte(p, 0x8a); /* LONG1 of 8 bytes */
    pk_byte(p, 8);
    for (int i = 0; i < 8; i++)
        pk_byte(p, (unsigned char)(u >> (8 * i)));
}

/* Containers: EMPTY_DICT/EMPTY_LIST, MARK, the items, SETITEMS/APPENDS. */
static void pk_dict(pk *p) { pk_byte(p, '}'); pk_byte(p, '('); }
static void pk_dict_end(pk *p) { pk_byte(p, 'u'); }
static void pk_list(pk *p) { pk_byte(p, ']'); pk_byte(p, '('); }
static void pk_list_end(pk *p) { pk_byte(p, 'e'); }

static void pk_entry(pk *p, const char *action, int64_t addr, int64_t size, int64_t t)
{
    pk_dict(p);
    pk_str(p, "action");
    pk_str(p, action);
    pk_str(p, "addr");
    pk_int(p, addr);
    pk_str(p, "size");
    pk_int(p, size);
    pk_str(p, "time_us");
    pk_int(p, t);
    pk_dict_end(p);
}

static void pk_segment(pk *p, int64_t device, int64_t total_size)
{
    pk_dict(p);
    pk_str(p, "device");
    pk_int(p, device);
    pk_str(p, "total_size");
    pk_int(p, total_size);
    pk_str(p, "segment_type");
    pk_str(p, "large");
    pk_dict_end(p);
}

/* {'segments': [device-0 segments of the given sizes], 'device_traces': [[entries]]}
 * where the entries are what `entries` writes; saved as PK. */
static void write_snapshot(const int64_t *seg_sizes, int nseg, void (*entries)(pk *))
{
    static pk p;
    p.n = 0;
    pk_byte(&p, 0x80);
    pk_byte(&p, 2);
    pk_dict(&p);
    pk_str(&p, "segments");
    pk_list(&p);
    for (int i = 0; i < nseg; i++)
        pk_segment(&p, 0, seg_sizes[i]);
    pk_list_end(&p);
    pk_str(&p, "device_traces");
    pk_list(&p);
    pk_list(&p);
    if (entries)
        entries(&p);
    pk_list_end(&p);
    pk_list_end(&p);
    pk_dict_end(&p);
    pk_byte(&p, '.');
    cli_write_file(PK, p.b, p.n);
}

static void entries_mapped(pk *p)
{
    pk_entry(p, "segment_alloc", 0, 2097152, 1);
    pk_entry(p, "segment_map", 0, 2097152, 2);
    pk_entry(p, "alloc", 0, 512, 3);
    pk_entry(p, "free_requested", 0, 512, 4);
    pk_entry(p, "free_completed", 0, 512, 5);
    pk_entry(p, "segment_unmap", 0, 2097152, 6);
}

static void entries_one_alloc(pk *p) { pk_entry(p, "alloc", 4096, 1024, 7); }
static void entries_bad_segment_size(pk *p) { pk_entry(p, "segment_alloc", 0, -2, 1); }

static void entries_segment_size_text(pk *p)
{
    pk_dict(p);
    pk_str(p, "action");
    pk_str(p, "segment_alloc");
    pk_str(p, "size");
    pk_str(p, "big");
    pk_dict_end(p);
}

static void test_torch(void)
{
    /* segment_map and segment_unmap are counted with the other segment events. */
    const int64_t two_mib[] = {2097152};
    write_snapshot(two_mib, 1, entries_mapped);
    vimport_stats s;
    assert_ok(vimport_torch(PK, OUT, NULL, &s, err, sizeof err));
    expect_eq_u64(s.segment_events, 3);
    expect_eq_u64(s.allocs, 1);
    expect_eq_u64(s.frees, 1);
    expect_eq_u64(s.free_requested, 1);
    /* the peak of reserved bytes: 0 at the start (2 MiB at the dump, +2 MiB net in the
     * history), 4 MiB after the alloc and the map, before the unmap */
    expect_eq_u64(s.capacity, 4194304);
    expect_eq_u64(s.peak_reserved, 4194304);
    expect_eq_u64(s.reserved_at_dump, 2097152);

    /* No device -1. */
    vimport_options o = {.device = -1};
    expect_status(vimport_torch(PK, OUT, &o, NULL, err, sizeof err), VRAM_ENOTFOUND);
    expect_message(PK ": no trace for device -1 (the snapshot has 1 device trace(s), segments on "
                   "device(s) 0)");

    /* Segment sizes that add up past 2^64: the third overflows the sum. */
    const int64_t huge[] = {INT64_MAX, INT64_MAX, INT64_MAX};
    write_snapshot(huge, 3, entries_one_alloc);
    expect_status(vimport_torch(PK, OUT, NULL, NULL, err, sizeof err), VRAM_EOVERFLOW);
    expect_message(PK ": segments[2]: ");
    expect_true(access(OUT ".tmp", F_OK) != 0);

    /* A sum above 2^63-1 is no capacity; a given one is used instead. */
    const int64_t big[] = {INT64_C(3) << 61, INT64_C(3) << 61};
    write_snapshot(big, 2, entries_one_alloc);
    expect_status(vimport_torch(PK, OUT, NULL, NULL, err, sizeof err), VRAM_EINVAL);
    expect_message(PK ": cannot derive the device capacity (segments 13835058055282163712 bytes, "
                   "peak reserved 13835058055282163712 bytes, peak live 1024 bytes): give it with "
                   "--capacity");
    o = (vimport_options){.capacity = 1 << 30};
    assert_ok(vimport_torch(PK, OUT, &o, &s, err, sizeof err));
    expect_eq_u64(s.capacity, 1 << 30);

    /* No trace entries and no segments: nothing to import. */
    write_snapshot(NULL, 0, NULL);
    expect_status(vimport_torch(PK, OUT, NULL, NULL, err, sizeof err), VRAM_EINVAL);
    expect_message(PK ": device 0 has no trace entries and no segments: nothing to import "
                   "(segments on device(s) none; choose one with --device)");

    /* The segments reader: a segment_alloc whose size is negative or not an int. */
    vimport_torch_segments seg;
    write_snapshot(two_mib, 1, entries_bad_segment_size);
    expect_status(vimport_torch_segments_read(PK, 0, &seg, err, sizeof err), VRAM_EPARSE);
    expect_message(PK ": device_traces[0][0]: segment_alloc without a non-negative int 'size'");
    expect_true(seg.alloc_sizes == NULL && seg.snapshot_sizes == NULL && seg.n_snapshot == 0);
    write_snapshot(two_mib, 1, entries_segment_size_text);
    expect_status(vimport_torch_segments_read(PK, 0, &seg, err, sizeof err), VRAM_EPARSE);
    expect_message("segment_alloc without a non-negative int 'size'");
    expect_status(vimport_torch_segments_read(NULL, 0, &seg, err, sizeof err), VRAM_EINVAL);
    expect_status(vimport_torch_segments_read(PK, 0, NULL, err, sizeof err), VRAM_EINVAL);
    vimport_torch_segments_free(NULL);

    expect_status(vimport_torch(NULL, OUT, NULL, NULL, err, sizeof err), VRAM_EINVAL);
    expect_status(vimport_torch(PK, NULL, NULL, NULL, err, sizeof err), VRAM_EINVAL);
    remove(PK);
    remove(OUT);
}

static void entries_backwards(pk *p)
{
    pk_entry(p, "alloc", 4096, 1024, 100);
    pk_entry(p, "alloc", 8192, 1024, 90);       /* 10 us back: clamped to 100 */
    pk_entry(p, "free_completed", 4096, 1024, 95); /* still before 100: clamped */
    pk_entry(p, "free_completed", 8192, 1024, 120);
}

static void entries_before_first(pk *p)
{
    pk_entry(p, "alloc", 4096, 1024, 100);
    pk_entry(p, "free_completed", 4096, 1024, 40); /* before the first record */
}

static void entries_size_none(pk *p)
{
    pk_dict(p);
    pk_str(p, "action");
    pk_str(p, "alloc");
    pk_str(p, "addr");
    pk_int(p, 4096);
    pk_str(p, "size");
    pk_byte(p, 'N');
    pk_dict_end(p);
}

static void entries_addr_negative(pk *p) { pk_entry(p, "alloc", -5, 1024, 1); }
static void entries_not_dict(pk *p) { pk_byte(p, 'N'); }

/* A snapshot as FIFO or device is refused before any read (a FIFO with no
 * writer would block the open); one over the size limit before it is read. */
static void test_torch_inputs(void)
{
    remove("import_edges.fifo");
    assert_true(mkfifo("import_edges.fifo", 0600) == 0);
    expect_status(vimport_torch("import_edges.fifo", OUT, NULL, NULL, err, sizeof err), VRAM_EIO);
    expect_true(strcmp(err, "import_edges.fifo: not a regular file: a pickle is read whole into "
                            "memory; save it to a file first") == 0);
    remove("import_edges.fifo");
    CLI_EXPECT(1, TEXTS("vimport: /dev/zero: not a regular file: a pickle is read whole into "
                        "memory; save it to a file first\n"),
               "vimport", "torch", "/dev/zero", "-o", OUT);
    expect_true(access(OUT, F_OK) != 0 && access(OUT ".tmp", F_OK) != 0);

    const int64_t two_mib[] = {2097152};
    write_snapshot(two_mib, 1, entries_one_alloc);
    struct stat sb;
    assert_true(stat(PK, &sb) == 0);
    const uint64_t size = (uint64_t)sb.st_size;
    vimport_options o = {.max_pickle_bytes = size};
    assert_ok(vimport_torch(PK, OUT, &o, NULL, err, sizeof err));
    o.max_pickle_bytes = size - 1;
    expect_status(vimport_torch(PK, OUT, &o, NULL, err, sizeof err), VRAM_EINVAL);
    char want[256];
    snprintf(want, sizeof want, PK ": %llu bytes: larger than the limit of %llu bytes on a pickle "
             "read into memory (--max-pickle raises it)", (unsigned long long)size,
             (unsigned long long)size - 1);
    expect_true(strcmp(err, want) == 0);
    char limit[32];
    snprintf(limit, sizeof limit, "%llu", (unsigned long long)size - 1);
    CLI_EXPECT(1, TEXTS(want), "vimport", "torch", PK, "-o", OUT, "--max-pickle", limit);
    CLI_EXPECT(0, TEXTS(""), "vimport", "torch", PK, "-o", OUT, "--max-pickle", "1K");
    remove(OUT);

    /* Fields of the wrong type or sign, named with their value or type. */
    write_snapshot(two_mib, 1, entries_size_none);
    expect_status(vimport_torch(PK, OUT, NULL, NULL, err, sizeof err), VRAM_EPARSE);
    expect_true(strcmp(err, PK ": device_traces[0][0]: 'size' is None, expected a non-negative "
                            "int") == 0);
    write_snapshot(two_mib, 1, entries_addr_negative);
    expect_status(vimport_torch(PK, OUT, NULL, NULL, err, sizeof err), VRAM_EPARSE);
    expect_true(strcmp(err, PK ": device_traces[0][0]: 'addr' is negative (-5), expected a "
                            "non-negative int") == 0);
    write_snapshot(two_mib, 1, entries_not_dict);
    expect_status(vimport_torch(PK, OUT, NULL, NULL, err, sizeof err), VRAM_EPARSE);
    expect_true(strcmp(err, PK ": device_traces[0][0]: None, expected a dict") == 0);
    expect_true(access(OUT, F_OK) != 0);
    remove(PK);
}

/* Timestamps that go backwards are written as the one before: counted, the
 * first named with how far it went back, and vimport warns once on stderr. */
static void test_backwards(void)
{
    const int64_t two_mib[] = {2097152};
    write_snapshot(two_mib, 1, entries_backwards);
    vimport_stats s;
    assert_ok(vimport_torch(PK, OUT, NULL, &s, err, sizeof err));
    expect_eq_u64(s.clamped_ts, 2);
    expect_eq_u64(s.clamped_back_us, 10);
    expect_true(strcmp(s.clamped_at, PK ": device_traces[0][1]") == 0);
    CLI_EXPECT(0, TEXTS("vimport: warning: " PK ": device_traces[0][1]: the timestamp goes back 10 "
                        "us; written as the one before (2 timestamp(s) clamped in this input)\n"),
               "vimport", "torch", PK, "-o", OUT);
    expect_true(strstr(cli_last.out, "2 timestamp(s) clamped") != NULL);
    /* the times written: 0, 0, 0, 20 (microseconds from the first record) */
    vtrace_reader *r;
    vtrace_event ev;
    assert_ok(vtrace_open(OUT, &r, err, sizeof err));
    uint64_t times[4] = {0};
    int n = 0;
    while (n < 4 && vtrace_next(r, &ev) == 1)
        times[n++] = ev.ts_us;
    vtrace_close(r);
    expect_true(n == 4 && times[0] == 0 && times[1] == 0 && times[2] == 0 && times[3] == 20);

    /* a time before the first record's is clamped (and counted) as well */
    write_snapshot(two_mib, 1, entries_before_first);
    assert_ok(vimport_torch(PK, OUT, NULL, &s, err, sizeof err));
    expect_eq_u64(s.clamped_ts, 1);
    expect_eq_u64(s.clamped_back_us, 60);
    expect_true(strcmp(s.clamped_at, PK ": device_traces[0][1]") == 0);
    /* none: no warning */
    write_snapshot(two_mib, 1, entries_one_alloc);
    assert_ok(vimport_torch(PK, OUT, NULL, &s, err, sizeof err));
    expect_true(s.clamped_ts == 0 && s.clamped_at[0] == '\0');
    CLI_EXPECT(0, TEXTS(""), "vimport", "torch", PK, "-o", OUT);
    expect_true(strstr(cli_last.err, "warning") == NULL);
    remove(PK);

    /* RMM: FILE:LINE of the first */
    FILE *f = fopen(CSV, "wb");
    assert_true(f != NULL);
    fprintf(f, "Thread,Time,Action,Pointer,Size,Stream\n"
               "1,10:00:00.000500,allocate,0x10,64,0x0\n"
               "1,10:00:00.000400,allocate,0x20,64,0x0\n"
               "1,10:00:00.000300,free,0x10,64,0x0\n"
               "1,10:00:00.000600,free,0x20,64,0x0\n");
    assert_true(fclose(f) == 0);
    assert_ok(vimport_rmm(CSV, OUT, NULL, &s, err, sizeof err));
    expect_eq_u64(s.clamped_ts, 2);
    expect_eq_u64(s.clamped_back_us, 100);
    expect_true(strcmp(s.clamped_at, CSV ":3") == 0);
    CLI_EXPECT(0, TEXTS("vimport: warning: " CSV ":3: the timestamp goes back 100 us; written as the "
                        "one before (2 timestamp(s) clamped in this input)\n"),
               "vimport", "rmm", CSV, "-o", OUT);
    remove(CSV);
    remove(OUT);
}

/* An RMM log: the header, then `rows` rows of `action` at addresses from
 * 0x1000 up, each of `size` bytes (with `and_free`, each alloc freed at once). */
static void write_rmm(int rows, const char *action, const char *size, int and_free)
{
    FILE *f = fopen(CSV, "wb");
    assert_true(f != NULL);
    fprintf(f, "Thread,Time,Action,Pointer,Size,Stream\n");
    for (int i = 0; i < rows; i++) {
        fprintf(f, "1,10:00:00.%06d,%s,0x%x,%s,0x0\n", i % 1000000, action, 0x1000 + i, size);
        if (and_free)
            fprintf(f, "1,10:00:00.%06d,free,0x%x,%s,0x0\n", i % 1000000, 0x1000 + i, size);
    }
    assert_true(fclose(f) == 0);
}

static void read_header(const char *path, vtrace_header *h)
{
    vtrace_reader *r;
    assert_ok(vtrace_open(path, &r, err, sizeof err));
    *h = *vtrace_header_of(r);
    vtrace_close(r);
}

static void test_rmm(void)
{
    /* Frees of blocks older than the log whose sizes add up past 2^63-1. */
    write_rmm(2, "free", "6917529027641081856", 0); /* 3 * 2^61 each */
    expect_status(vimport_rmm(CSV, OUT, NULL, NULL, err, sizeof err), VRAM_EPARSE);
    expect_message(CSV ":3: the allocated sizes add up to more than 2^63-1 bytes");
    /* Without an error buffer, the status alone; with a short one, what fits. */
    expect_status(vimport_rmm(CSV, OUT, NULL, NULL, NULL, 0), VRAM_EPARSE);
    strcpy(err, "untouched");
    expect_status(vimport_rmm(CSV, OUT, NULL, NULL, err, 0), VRAM_EPARSE);
    expect_true(strcmp(err, "untouched") == 0);
    char small[8];
    expect_status(vimport_rmm(CSV, OUT, NULL, NULL, small, sizeof small), VRAM_EPARSE);
    expect_true(strcmp(small, "import_") == 0);
    expect_status(vimport_rmm(NULL, OUT, NULL, NULL, err, sizeof err), VRAM_EINVAL);
    /* A size that overflows the running total itself (2^64 - 1 after 1 byte). */
    FILE *f = fopen(CSV, "wb");
    assert_true(f != NULL);
    fprintf(f, "Thread,Time,Action,Pointer,Size,Stream\n1,10:00:00.000001,allocate,0x10,1,0x0\n"
               "1,10:00:00.000002,allocate,0x20,18446744073709551615,0x0\n");
    assert_true(fclose(f) == 0);
    expect_status(vimport_rmm(CSV, OUT, NULL, NULL, err, sizeof err), VRAM_EPARSE);
    expect_message(CSV ":3: the allocated sizes add up to more than 2^63-1 bytes");
    expect_true(access(OUT, F_OK) != 0 && access(OUT ".tmp", F_OK) != 0);

    /* Header texts as given are cleaned: blanks at the ends dropped, control
     * bytes shown as '?' (a tab inside kept, as the writer allows), at most 255
     * bytes kept. */
    write_rmm(1, "allocate", "1024", 1);
    char long_licence[400];
    memset(long_licence, 'L', sizeof long_licence - 1);
    long_licence[sizeof long_licence - 1] = '\0';
    vimport_options o = {.source = " \t src\x01x\x7f \t", .licence = long_licence};
    vimport_stats s;
    assert_ok(vimport_rmm(CSV, OUT, &o, &s, err, sizeof err));
    vtrace_header h;
    read_header(OUT, &h);
    expect_true(strcmp(h.source, "src?x?") == 0);
    expect_eq_u64(strlen(h.licence), VTRACE_TEXT_MAX - 1);
    expect_eq_u64(h.capacity, UINT64_C(1) << 30); /* the peak, rounded up to a GiB */
    o = (vimport_options){.source = "a\tb"};
    assert_ok(vimport_rmm(CSV, OUT, &o, &s, err, sizeof err));
    read_header(OUT, &h);
    expect_true(strcmp(h.source, "a\tb") == 0);
    o = (vimport_options){.source = "   "};
    assert_ok(vimport_rmm(CSV, OUT, &o, &s, err, sizeof err));
    read_header(OUT, &h);
    expect_true(strcmp(h.source, "") == 0);
    remove(OUT);
    /* An output name too short to end in ".gz" is plain text. */
    assert_ok(vimport_rmm(CSV, "ie", NULL, &s, err, sizeof err));
    read_header("ie", &h);
    expect_true(strcmp(h.engine, "import:rmm") == 0);
    remove("ie");

    /* A full disk: /dev/full is written in place and refuses the bytes, while
     * writing the pre-existing blocks (frees only) or the recorded events. */
    write_rmm(12000, "free", "4096", 0);
    expect_status(vimport_rmm(CSV, "/dev/full", NULL, NULL, err, sizeof err), VRAM_EIO);
    expect_message("/dev/full: cannot write: No space left on device");
    write_rmm(6000, "allocate", "4096", 1);
    expect_status(vimport_rmm(CSV, "/dev/full", NULL, NULL, err, sizeof err), VRAM_EIO);
    expect_message("/dev/full: cannot write: No space left on device");
    remove(CSV);

    /* A FIFO (or a pipe, as `<(cat log)` gives) cannot be read twice. */
    remove("import_edges.fifo");
    assert_true(mkfifo("import_edges.fifo", 0600) == 0);
    expect_status(vimport_rmm("import_edges.fifo", OUT, NULL, NULL, err, sizeof err), VRAM_EIO);
    expect_message("import_edges.fifo: not a regular file: an RMM log is read twice");
    remove("import_edges.fifo");
}

static void test_cli(void)
{
    const char *in = CLI_DATA "rmm_sample.csv";
    /* Option values: missing, malformed, out of range. */
    CLI_EXPECT(2, TEXTS("-o needs a file name"), "vimport", "rmm", in, "-o");
    CLI_EXPECT(2, TEXTS("--capacity needs a number of bytes"), "vimport", "rmm", in, "--capacity");
    CLI_EXPECT(2, TEXTS("--device needs a device number"), "vimport", "torch", in, "--device");
    CLI_EXPECT(2, TEXTS("--source needs a text"), "vimport", "rmm", in, "--source");
    CLI_EXPECT(2, TEXTS("--licence needs a text"), "vimport", "rmm", in, "--licence");
    static const char *const bad_bytes[] = {"", "x", "0", "1Gx", "99999999999999999999999",
                                            "16777216T", "8388608T",
                                            "18446744073709551619"};
    for (size_t i = 0; i < sizeof bad_bytes / sizeof bad_bytes[0]; i++) {
        char want[128];
        snprintf(want, sizeof want, "--capacity: expected bytes from 1 to 2^63-1 (e.g. 85899345920 "
                 "or 80G), found '%s'", bad_bytes[i]);
        CLI_EXPECT(2, TEXTS(want), "vimport", "rmm", in, "-o", OUT, "--capacity", bad_bytes[i]);
    }
    static const char *const bad_devices[] = {"", "x", "-1", "1025", "1y"};
    for (size_t i = 0; i < sizeof bad_devices / sizeof bad_devices[0]; i++) {
        char want[128];
        snprintf(want, sizeof want, "--device: expected a device number from 0 to 1024, found '%s'",
                 bad_devices[i]);
        CLI_EXPECT(2, TEXTS(want), "vimport", "torch", in, "-o", OUT, "--device", bad_devices[i]);
    }
    CLI_EXPECT(2, TEXTS("--device applies to torch snapshots only, not to rmm"), "vimport", "rmm",
               in, "-o", OUT, "--device", "0");
    CLI_EXPECT(2, TEXTS("--max-pickle applies to torch snapshots only, not to rmm"), "vimport",
               "rmm", in, "-o", OUT, "--max-pickle", "1G");
    CLI_EXPECT(2, TEXTS("--max-pickle needs a number of bytes"), "vimport", "torch", in,
               "--max-pickle");
    static const char *const bad_limits[] = {"", "0", "x", "1Q", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad_limits / sizeof bad_limits[0]; i++) {
        char want[128];
        snprintf(want, sizeof want, "--max-pickle: expected bytes, at least 1 (e.g. 8G), found '%s'",
                 bad_limits[i]);
        CLI_EXPECT(2, TEXTS(want), "vimport", "torch", in, "-o", OUT, "--max-pickle", bad_limits[i]);
    }
    CLI_EXPECT(2, TEXTS("no FORMAT: expected rmm, torch, azure or mooncake"), "vimport", "-o", OUT);
    CLI_EXPECT(2, TEXTS("no INPUT file"), "vimport", "rmm", "-o", OUT);
    CLI_EXPECT(2, TEXTS("unexpected argument 'extra'"), "vimport", "rmm", in, "extra", "-o", OUT);
    CLI_EXPECT(2, TEXTS("mooncake files record requests", "tracegen"), "vimport", "mooncake", in);
    CLI_EXPECT(2, TEXTS("unknown option '--bogus'"), "vimport", "--bogus");
    CLI_EXPECT(2, TEXTS("unknown FORMAT '-'"), "vimport", "-", in, "-o", OUT);
    CLI_EXPECT(0, TEXTS(""), "vimport", "-h");
    expect_true(strstr(cli_last.out, "usage: vimport FORMAT INPUT") != NULL);
    expect_true(access(OUT, F_OK) != 0);

    /* Suffixes K, M, G, T (and KiB ...) are powers of 1024. */
    CLI_EXPECT(0, TEXTS(""), "vimport", "rmm", in, "--output", OUT, "--capacity", "65536K");
    expect_true(strstr(cli_last.out, "capacity 67108864 bytes") != NULL);
    CLI_EXPECT(0, TEXTS(""), "vimport", "rmm", in, "-o", OUT, "--capacity", "64MiB");
    expect_true(strstr(cli_last.out, "capacity 67108864 bytes") != NULL);
    CLI_EXPECT(0, TEXTS(""), "vimport", "rmm", in, "-o", OUT, "--capacity", "1T");
    expect_true(strstr(cli_last.out, "capacity 1099511627776 bytes") != NULL);

    /* A torch snapshot with every text option: the torch summary lines. */
    CLI_EXPECT(0, TEXTS(""), "vimport", "torch", CLI_DATA "torch_small.pickle", "-o", OUT,
               "--device", "0", "--source", "given source", "--licence", "CC0-1.0");
    expect_true(strstr(cli_last.out, "12 records -> 4 allocs (1 pre-existing), 2 frees") != NULL);
    expect_true(strstr(cli_last.out, "2 free_requested checked, 3 segment events, 1 oom, "
                                     "1 snapshot skipped") != NULL);
    vtrace_header h;
    read_header(OUT, &h);
    expect_true(strcmp(h.source, "given source") == 0 && strcmp(h.licence, "CC0-1.0") == 0);
    remove(OUT);
}

int main(void)
{
    test_torch();
    test_torch_inputs();
    test_backwards();
    test_rmm();
    test_cli();
    return test_finish("import_edges");
}
