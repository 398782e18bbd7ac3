/* test_trace_frames.c - the trace format's optional frames (issue 18, version
 * 2): `frame ID LINE FILE FUNCTION` lines, handed to the reader's callback in
 * file order (those before the first event during the open) and skipped
 * without one; an alloc's `frames=ID,...` suffix; every refusal with its
 * file:line message; the writer's text and refusals; a round trip. */
#include <unistd.h>

#include "testlib.h"
#include "trace.h"

#define HDR2 "vramtrace 2\nmodel m\nengine import:torch\ncapacity 1000\n"
#define OUT "trace_frames.trace"

typedef struct got_frames {
    size_t n;
    vtrace_frame f[8];
} got_frames;

static void collect(void *ctx, const vtrace_frame *f)
{
    got_frames *g = ctx;
    if (g->n < 8)
        g->f[g->n] = *f;
    g->n++;
}

static void test_read(void)
{
    static const char text[] = HDR2
        "frame 1 54 /home/u/model.py forward\n"
        "frame 7 0 ?? at::native::empty_cuda(c10::ArrayRef<long>, c10::TensorOptions const&)  \n"
        "alloc 1 4096 0 activation 0 - frames=1,7\n"
        "frame 4294967295 4294967295 train.py\t<module>\n"
        "alloc 2 512 0 other 0 - frames=4294967295\n"
        "alloc 3 512 0 other 0 -\n"
        "free 1\n";
    got_frames g = {0};
    vtrace_reader *r;
    char err[256];
    assert_ok(vtrace_open_buffer_frames(text, sizeof text - 1, "t", collect, &g, &r, err, sizeof err));
    expect_eq_u64(g.n, 2); /* the two before the first event, during the open */
    vtrace_event ev;
    assert_true(vtrace_next(r, &ev) == 1);
    expect_true(ev.type == VTRACE_ALLOC && ev.nframes == 2 && ev.frames[0] == 1 && ev.frames[1] == 7);
    assert_true(vtrace_next(r, &ev) == 1);
    expect_eq_u64(g.n, 3);
    expect_true(ev.id == 2 && ev.nframes == 1 && ev.frames[0] == UINT32_MAX);
    assert_true(vtrace_next(r, &ev) == 1);
    expect_true(ev.id == 3 && ev.nframes == 0);
    assert_true(vtrace_next(r, &ev) == 1 && ev.type == VTRACE_FREE && ev.nframes == 0);
    expect_true(vtrace_next(r, &ev) == 0);
    vtrace_close(r);
    expect_true(g.f[0].id == 1 && g.f[0].line == 54 && strcmp(g.f[0].file, "/home/u/model.py") == 0 &&
                strcmp(g.f[0].func, "forward") == 0);
    expect_true(g.f[1].id == 7 && g.f[1].line == 0 && strcmp(g.f[1].file, "??") == 0 &&
                strcmp(g.f[1].func, "at::native::empty_cuda(c10::ArrayRef<long>, "
                                    "c10::TensorOptions const&)") == 0);
    expect_true(g.f[2].id == UINT32_MAX && g.f[2].line == UINT32_MAX &&
                strcmp(g.f[2].file, "train.py") == 0 && strcmp(g.f[2].func, "<module>") == 0);
    /* without a callback the frame lines are checked and skipped */
    assert_ok(vtrace_open_buffer(text, sizeof text - 1, "t", &r, err, sizeof err));
    int n = 0;
    while (vtrace_next(r, &ev) == 1)
        n++;
    expect_eq_u64(n, 4);
    vtrace_close(r);
}

static const struct {
    const char *text, *error;
} bad[] = {
    {"vramtrace 1\nmodel m\nengine e\ncapacity 5\nframe 1 2 f g\n",
     "t:5: 'frame' lines need trace version 2 (this trace is version 1)"},
    {"vramtrace 1\nmodel m\nengine e\ncapacity 5\nfree 1\nframe 1 2 f g\n",
     "t:6: 'frame' lines need trace version 2 (this trace is version 1)"},
    {"vramtrace 2\nmodel m\nframe 1 2 f g\n", "t:3: missing header key 'engine' before the first frame line"},
    {HDR2 "frame 0 2 f g\n", "t:5: frame ID 0 out of range (expected 1 to 4294967295)"},
    {HDR2 "frame 4294967296 2 f g\n", "t:5: frame ID 4294967296 out of range (expected 1 to 4294967295)"},
    {HDR2 "frame x 2 f g\n", "t:5: frame ID: expected a decimal number, found 'x'"},
    {HDR2 "frame 1\n", "t:5: missing LINE (expected: frame ID LINE FILE FUNCTION)"},
    {HDR2 "frame 1 4294967296 f g\n", "t:5: LINE 4294967296 out of range (expected 0 to 4294967295)"},
    {HDR2 "frame 1 2\n", "t:5: missing FILE (expected: frame ID LINE FILE FUNCTION)"},
    {HDR2 "frame 1 2 f \t\n", "t:5: missing FUNCTION (expected: frame ID LINE FILE FUNCTION)"},
    {HDR2 "frame 1 2 f g\x01h\n", "t:5: frame line has control byte 0x01 in 'f g?h'"},
    {HDR2 "alloc 1 2 0 kv 1 - frames=\n",
     "t:5: frames: expected frame ids separated by commas, found 'frames=' (expected: "
     "frames=ID[,ID...] (1 to 4 frame ids))"},
    {HDR2 "alloc 1 2 0 kv 1 - frames=1,\n",
     "t:5: frames: expected frame ids separated by commas, found 'frames=1,' (expected: "
     "frames=ID[,ID...] (1 to 4 frame ids))"},
    {HDR2 "alloc 1 2 0 kv 1 - frames=1;2\n",
     "t:5: frames: expected frame ids separated by commas, found 'frames=1;2' (expected: "
     "frames=ID[,ID...] (1 to 4 frame ids))"},
    {HDR2 "alloc 1 2 0 kv 1 - frames=0\n", "t:5: frame id 0 out of range (expected 1 to 4294967295)"},
    {HDR2 "alloc 1 2 0 kv 1 - frames=99999999999\n",
     "t:5: frame id 99999999999 out of range (expected 1 to 4294967295)"},
    {HDR2 "alloc 1 2 0 kv 1 - frames=1,2,3,4,5\n", "t:5: more than 4 frame ids in 'frames=1,2,3,4,5'"},
    {HDR2 "alloc 1 2 0 kv 1 - frames=1 x\n",
     "t:5: trailing text 'x' after the alloc event (expected: alloc ID SIZE ALIGN KIND PRIORITY NEED)"},
    {HDR2 "free 1 frames=1\n", "t:5: trailing text 'frames=1' after the free event (expected: free ID)"},
    {"vramtrace 1\nmodel m\nengine e\ncapacity 5\nalloc 1 2 0 kv 1 frames=1\n",
     "t:5: trailing text 'frames=1' after the alloc event (expected: alloc ID SIZE ALIGN KIND "
     "PRIORITY)"},
};

static void test_refusals(void)
{
    char err[512];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vtrace_reader *r = NULL;
        vram_status st = vtrace_open_buffer(bad[i].text, strlen(bad[i].text), "t", &r, err, sizeof err);
        const char *got = err;
        if (!st) {
            vtrace_event ev;
            while (vtrace_next(r, &ev) == 1)
                ;
            got = vtrace_error(r);
        }
        if (strcmp(got, bad[i].error) != 0) {
            fprintf(stderr, "case %zu:\n  got:    %s\n  wanted: %s\n", i, got, bad[i].error);
            test_failures++;
        }
        vtrace_close(r);
    }
    /* a FILE or FUNCTION of 256 bytes */
    char line[700];
    memset(line, 0, sizeof line);
    strcpy(line, HDR2 "frame 1 2 ");
    memset(line + strlen(line), 'f', 256);
    strcat(line, " g\n");
    vtrace_reader *r = NULL;
    expect_status(vtrace_open_buffer(line, strlen(line), "t", &r, err, sizeof err), VRAM_EPARSE);
    expect_true(strcmp(err, "t:5: FILE too long (256 bytes, at most 255)") == 0);
    strcpy(line, HDR2 "frame 1 2 f ");
    memset(line + strlen(line), 'g', 256);
    strcat(line, "\n");
    expect_status(vtrace_open_buffer(line, strlen(line), "t", &r, err, sizeof err), VRAM_EPARSE);
    expect_true(strcmp(err, "t:5: FUNCTION too long (256 bytes, at most 255)") == 0);
}

static void test_write(void)
{
    vtrace_header h = {.version = 2, .capacity = 1000};
    strcpy(h.model, "m");
    strcpy(h.engine, "import:torch");
    vtrace_writer *w;
    assert_ok(vtrace_writer_open(OUT, &h, &w));
    vtrace_frame f = {.id = 3, .line = 54};
    strcpy(f.file, "model.py");
    strcpy(f.func, "forward (x)");
    assert_ok(vtrace_write_frame(w, &f));
    vtrace_frame bad_f = f;
    bad_f.id = 0;
    expect_status(vtrace_write_frame(w, &bad_f), VRAM_EINVAL);
    bad_f = f;
    strcpy(bad_f.file, "my model.py");
    expect_status(vtrace_write_frame(w, &bad_f), VRAM_EINVAL);
    bad_f = f;
    strcpy(bad_f.func, "forward ");
    expect_status(vtrace_write_frame(w, &bad_f), VRAM_EINVAL);
    bad_f = f;
    bad_f.func[0] = '\0';
    expect_status(vtrace_write_frame(w, &bad_f), VRAM_EINVAL);
    vtrace_event ev = {.type = VTRACE_ALLOC, .id = 1, .size = 4096, .kind = VRAM_KIND_ACTIVATION,
                       .nframes = 2, .frames = {3, 4294967295u}};
    assert_ok(vtrace_write(w, &ev));
    ev.nframes = 5;
    expect_status(vtrace_write(w, &ev), VRAM_EINVAL);
    ev.nframes = 1;
    ev.frames[0] = 0;
    expect_status(vtrace_write(w, &ev), VRAM_EINVAL);
    vtrace_event fr = {.type = VTRACE_FREE, .id = 1, .nframes = 1, .frames = {3}};
    expect_status(vtrace_write(w, &fr), VRAM_EINVAL); /* frames on an alloc only */
    fr.nframes = 0;
    assert_ok(vtrace_write(w, &fr));
    assert_ok(vtrace_writer_close(w));
    FILE *in = fopen(OUT, "rb");
    assert_true(in != NULL);
    char buf[512];
    size_t n = fread(buf, 1, sizeof buf - 1, in);
    buf[n] = '\0';
    fclose(in);
    expect_true(strstr(buf, "\nframe 3 54 model.py forward (x)\nalloc 1 4096 0 activation 0 - "
                            "frames=3,4294967295\nfree 1\n") != NULL);
    got_frames g = {0};
    vtrace_reader *r;
    char err[256];
    assert_ok(vtrace_open_frames(OUT, collect, &g, &r, err, sizeof err));
    vtrace_event back;
    assert_true(vtrace_next(r, &back) == 1);
    expect_true(back.nframes == 2 && back.frames[0] == 3 && back.frames[1] == 4294967295u);
    vtrace_close(r);
    expect_true(g.n == 1 && strcmp(g.f[0].func, "forward (x)") == 0);
    remove(OUT);

    /* version 1: no frames */
    h.version = 1;
    assert_ok(vtrace_writer_open(OUT, &h, &w));
    expect_status(vtrace_write_frame(w, &f), VRAM_EINVAL);
    ev.nframes = 1;
    ev.frames[0] = 3;
    expect_status(vtrace_write(w, &ev), VRAM_EINVAL);
    assert_ok(vtrace_writer_close(w));
    remove(OUT);
}

int main(void)
{
    test_read();
    test_refusals();
    test_write();
    return test_finish("trace_frames");
}
