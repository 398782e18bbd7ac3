/* test_fuzz_regressions.c - the fuzz inputs are where the plain driver and
 * the fuzz scripts look for them (the inputs themselves run in the ctests
 * fuzz_regressions_NAME, tests/cmake/fuzz_regressions.cmake):
 *   - every target fuzz/fuzz_NAME.c has a seed corpus fuzz/corpus/fuzz_NAME/
 *     with at least one file;
 *   - every directory of fuzz/corpus/ and fuzz/regressions/ names a target
 *     (a renamed target must not leave its inputs unreplayed);
 *   - the seed corpora stay small: below 2 MB in all. */
#include <dirent.h>
#include <sys/stat.h>

#include "testlib.h"

#define FUZZ_DIR VRAM_SOURCE_DIR "/fuzz"
#define CORPUS_LIMIT (2u << 20)

/* Regular files in dir and their bytes; -1 if dir cannot be opened. */
static long count_files(const char *dir, uint64_t *bytes)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char path[4096];
        struct stat st;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path)
            continue;
        if (e->d_name[0] != '.' && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            n++;
            *bytes += (uint64_t)st.st_size;
        }
    }
    closedir(d);
    return n;
}

static int is_target(const char *name)
{
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s.c", FUZZ_DIR, name);
    return strncmp(name, "fuzz_", 5) == 0 && stat(path, &st) == 0;
}

/* Every subdirectory of FUZZ_DIR/sub must name a target. */
static void no_orphans(const char *sub)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", FUZZ_DIR, sub);
    DIR *d = opendir(dir);
    assert_true(d != NULL);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (!is_target(e->d_name)) {
            fprintf(stderr, "fuzz/%s/%s: no target fuzz/%s.c replays it\n", sub, e->d_name, e->d_name);
            test_failures++;
        }
    }
    closedir(d);
}

int main(void)
{
    DIR *d = opendir(FUZZ_DIR);
    assert_true(d != NULL);
    struct dirent *e;
    uint64_t bytes = 0;
    int targets = 0;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (strncmp(e->d_name, "fuzz_", 5) != 0 || len < 3 || strcmp(e->d_name + len - 2, ".c") != 0)
            continue;
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/corpus/%.*s", FUZZ_DIR, (int)(len - 2), e->d_name);
        long n = count_files(dir, &bytes);
        targets++;
        if (n <= 0) {
            fprintf(stderr, "%s: no seed corpus (%s)\n", e->d_name, n < 0 ? "no directory" : "empty");
            test_failures++;
        }
    }
    closedir(d);
    expect_true(targets >= 14);
    no_orphans("corpus");
    no_orphans("regressions");
    if (bytes >= CORPUS_LIMIT) {
        fprintf(stderr, "seed corpora hold %" PRIu64 " bytes, the limit is %u\n", bytes, CORPUS_LIMIT);
        test_failures++;
    }
    printf("fuzz_regressions: %d targets, seed corpora %" PRIu64 " bytes\n", targets, bytes);
    return test_finish("fuzz_regressions");
}
