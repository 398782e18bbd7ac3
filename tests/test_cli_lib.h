/* test_cli_lib.h - runs a built tool (bin/NAME) as a child process and checks
 * its exit status and messages, for the tests/test_cli_*.c tests.
 *
 * Every run is also checked for the marks of a crash: death by a signal, or a
 * sanitizer report on stderr (ASan and UBSan builds exit 1 with one). */
#ifndef VRAM_TEST_CLI_LIB_H
#define VRAM_TEST_CLI_LIB_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

#define CLI_BIN VRAM_BINARY_DIR "/bin/"
#define CLI_DATA VRAM_SOURCE_DIR "/tests/data/"
#define CLI_OUT_MAX (1 << 16)

typedef struct cli_result {
    int status;           /* exit status; 128 + N when killed by signal N */
    char out[CLI_OUT_MAX]; /* stdout, NUL-terminated (truncated when longer) */
    char err[CLI_OUT_MAX]; /* stderr, likewise */
} cli_result;

static cli_result cli_last;

/* Reads at most CLI_OUT_MAX - 1 bytes of `path` into dst. */
static inline void cli_slurp(const char *path, char *dst)
{
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(dst, 1, CLI_OUT_MAX - 1, f) : 0;
    if (f)
        fclose(f);
    dst[n] = '\0';
}

/* The files a tool's stdout and stderr go to: per test process, since ctest -j
 * runs the tests side by side. */
static inline void cli_capture_paths(char out_path[64], char err_path[64])
{
    snprintf(out_path, 64, "cli_stdout_%ld.txt", (long)getpid());
    snprintf(err_path, 64, "cli_stderr_%ld.txt", (long)getpid());
}

/* Starts argv[0] (a tool name under bin/) with argv, stdin from /dev/null,
 * stdout and stderr into the capture files; its pid. fsize_kib > 0 limits the
 * files the tool writes to that many KiB with SIGXFSZ ignored, so writes past
 * it fail with EFBIG: a full disk. */
static inline pid_t cli_start(long fsize_kib, const char *const *argv)
{
    char tool[1024], out_path[64], err_path[64];
    snprintf(tool, sizeof tool, "%s%s", CLI_BIN, argv[0]);
    cli_capture_paths(out_path, err_path);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in < 0 || out < 0 || err < 0)
            _exit(126);
        dup2(in, 0);
        dup2(out, 1);
        dup2(err, 2);
        if (fsize_kib > 0) {
            struct rlimit rl = {.rlim_cur = (rlim_t)fsize_kib * 1024, .rlim_max = RLIM_INFINITY};
            signal(SIGXFSZ, SIG_IGN);
            if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
                _exit(126);
        }
        execv(tool, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* Waits for the tool started by cli_start: cli_last gets its output; returns
 * its exit status (see cli_result). */
static inline int cli_wait(pid_t pid)
{
    char out_path[64], err_path[64];
    cli_capture_paths(out_path, err_path);
    int st;
    while (waitpid(pid, &st, 0) < 0)
        assert_true(errno == EINTR);
    cli_slurp(out_path, cli_last.out);
    cli_slurp(err_path, cli_last.err);
    remove(out_path);
    remove(err_path);
    cli_last.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return cli_last.status;
}

/* 1 while the tool started by cli_start runs (it is not reaped here). */
static inline int cli_running(pid_t pid)
{
    siginfo_t info = {0};
    return waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == 0;
}

/* cli_start then cli_wait. */
static inline int cli_run_limited(long fsize_kib, const char *const *argv)
{
    return cli_wait(cli_start(fsize_kib, argv));
}

static inline void cli_print_argv(const char *const *argv)
{
    for (int i = 0; argv[i]; i++)
        fprintf(stderr, "%s%s", i ? " " : "", argv[i]);
}

/* The check behind CLI_EXPECT: exit status `want`, and each of the NULL-ended
 * `texts` found in stderr (in any order), and no crash. */
static inline void cli_check(const char *file, int line, long fsize_kib, int want, const char *const *texts,
                      const char *const *argv)
{
    int got = cli_run_limited(fsize_kib, argv);
    const char *missing = NULL;
    for (int i = 0; texts[i] && !missing; i++)
        if (!strstr(cli_last.err, texts[i]))
            missing = texts[i];
    const int crashed = got >= 128 || strstr(cli_last.err, "Sanitizer") ||
                        strstr(cli_last.err, "runtime error:");
    if (got != want || missing || crashed) {
        fprintf(stderr, "%s:%d: FAILED: `", file, line);
        cli_print_argv(argv);
        fprintf(stderr, "` exited %d (wanted %d)%s%s%s; its stderr:\n%s\n", got, want,
                missing ? ", stderr lacks \"" : "", missing ? missing : "", missing ? "\"" : "",
                cli_last.err);
        test_failures++;
    }
}

/* CLI_EXPECT(status, TEXTS(...), "tool", "arg", ...): the tool exits with status
 * and says every one of TEXTS on stderr. CLI_EXPECT_FULL limits files to KiB. */
#define TEXTS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define CLI_EXPECT(want, texts, ...)                                                       \
    cli_check(__FILE__, __LINE__, 0, want, texts, (const char *const[]){__VA_ARGS__, NULL})
#define CLI_EXPECT_FULL(kib, want, texts, ...)                                             \
    cli_check(__FILE__, __LINE__, kib, want, texts, (const char *const[]){__VA_ARGS__, NULL})

/* `tool --help` exits 0 with `usage` on stdout; `tool --bogus` exits 2 naming
 * the option on stderr. */
#define CLI_EXPECT_HELP(tool, usage)                                                       \
    do {                                                                                   \
        CLI_EXPECT(0, TEXTS(""), tool, "--help");                                          \
        expect_true(strstr(cli_last.out, usage) != NULL);                                  \
        CLI_EXPECT(2, TEXTS("--bogus"), tool, "--bogus");                                  \
    } while (0)

/* Writes `len` bytes to `path` (replacing it); stops the test on failure. */
static inline void cli_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_true(f && fwrite(data, 1, len, f) == len && fclose(f) == 0);
}

/* `len` bytes of splitmix64 output from seed `seed` into `path`. */
static inline void cli_write_garbage(const char *path, size_t len, uint64_t seed)
{
    unsigned char buf[4096];
    assert_true(len <= sizeof buf);
    for (size_t i = 0; i < len; i++)
        buf[i] = (unsigned char)test_rand(&seed);
    cli_write_file(path, buf, len);
}

/* The first `len` bytes of `src` copied to `dst`: a truncated file. */
static inline void cli_write_prefix(const char *dst, const char *src, size_t len)
{
    static char buf[1 << 20];
    FILE *f = fopen(src, "rb");
    assert_true(f);
    size_t n = fread(buf, 1, len < sizeof buf ? len : sizeof buf, f);
    fclose(f);
    assert_true(n == len);
    cli_write_file(dst, buf, n);
}

/* A directory at `path` (kept if it exists). */
static inline void cli_make_dir(const char *path)
{
    assert_true(mkdir(path, 0755) == 0 || errno == EEXIST);
}

/* A directory at `path` that this user cannot write into; 0 (and none made)
 * for root, whom permissions do not stop. */
static inline int cli_make_readonly_dir(const char *path)
{
    if (geteuid() == 0)
        return 0;
    cli_make_dir(path);
    assert_true(chmod(path, 0555) == 0);
    return 1;
}

/* 1 when `path` exists (as anything). */
static inline int cli_exists(const char *path)
{
    struct stat s;
    return lstat(path, &s) == 0;
}

/* A symbolic link `link` to /dev/full, the device whose writes fail with ENOSPC:
 * a tool that wrongly renamed over its output replaces this link, never the device. */
static inline void cli_link_dev_full(const char *link)
{
    unlink(link);
    assert_true(symlink("/dev/full", link) == 0);
}

/* 1 when `link` is still the link made by cli_link_dev_full. */
static inline int cli_is_link(const char *link)
{
    struct stat s;
    return lstat(link, &s) == 0 && S_ISLNK(s.st_mode);
}

#endif
