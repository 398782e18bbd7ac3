/* test_report_lib.h - what the report tests share: a results database made by
 * replaying a small trace, running bin/report, reading files, image checks. */
#ifndef TEST_REPORT_LIB_H
#define TEST_REPORT_LIB_H

#include <fcntl.h>
#include <dirent.h>
#include <spawn.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bounds.h"
#include "db.h"
#include "test_db_lib.h"

#define REPORT_BIN VRAM_BINARY_DIR "/bin/report"
#define MIX_TRACE VRAM_SOURCE_DIR "/tests/data/report_mix.trace"

extern char **environ;

/* rm -rf path (build-tree scratch only). */
static void rm_tree(const char *path)
{
    DIR *d = opendir(path);
    if (!d) {
        unlink(path);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        struct stat st;
        if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
            rm_tree(sub);
        else
            unlink(sub);
    }
    closedir(d);
    rmdir(path);
}

/* Replays `trace` with each of `policies` (NULL-terminated) into a new
 * database, with a compaction pass every `defrag_every` events (0: none). */
static void make_db_defrag(const char *path, const char *trace, const char *const *policies,
                           uint64_t defrag_every)
{
    test_remove_db(path);
    vdb *db;
    char err[512];
    vram_status st = vdb_open(path, &db, err, sizeof err);
    if (st)
        fprintf(stderr, "%s\n", err);
    assert_ok(st);
    vbounds b;
    st = vbounds_compute(trace, 0, 1, &b, err, sizeof err);
    if (st)
        fprintf(stderr, "%s\n", err);
    assert_ok(st);
    static vreplay_result res;
    for (const char *const *p = policies; *p; p++) {
        vreplay_options o;
        memset(&o, 0, sizeof o);
        o.trace_path = trace;
        o.policy = *p;
        o.sample_every = 1;
        o.defrag_every = defrag_every;
        o.options_text = "test_report";
        o.bounds = &b;
        o.db = db;
        assert_ok(vreplay_run(&o, &res));
        if (res.status != VREPLAY_RUN_OK)
            fprintf(stderr, "%s: %s\n", *p, res.message);
        assert_true(res.status == VREPLAY_RUN_OK);
    }
    assert_ok(vdb_close(db, err, sizeof err));
}

static void make_db(const char *path, const char *trace, const char *const *policies)
{
    make_db_defrag(path, trace, policies, 0);
}

/* Runs argv with stdout and stderr to `log`; `env` ("NAME=VALUE") is added to
 * the environment when not NULL. The exit status, -1 if it did not exit. */
static int run_logged(char *const argv[], const char *env, const char *log)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **envp = calloc(n + 2, sizeof *envp);
    assert_true(envp != NULL);
    memcpy(envp, environ, n * sizeof *envp);
    if (env)
        envp[n++] = (char *)env;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    free(envp);
    if (rc != 0)
        return -1;
    int status;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

/* The whole file, NUL-terminated, length in *len (may be NULL); NULL if unreadable. */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)size + 1);
    size_t got = buf ? fread(buf, 1, (size_t)size, f) : 0;
    fclose(f);
    if (!buf)
        return NULL;
    buf[got] = '\0';
    if (len)
        *len = got;
    return buf;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A PNG: the signature, an IHDR chunk first with width and height within
 * [min_side, 5000], and at least min_bytes bytes. */
static int png_ok(const char *path, uint32_t min_side, size_t min_bytes)
{
    size_t len;
    unsigned char *b = (unsigned char *)read_file(path, &len);
    int ok = b && len >= min_bytes && len > 24 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0 &&
             be32(b + 8) == 13 && memcmp(b + 12, "IHDR", 4) == 0 && be32(b + 16) >= min_side &&
             be32(b + 16) <= 5000 && be32(b + 20) >= min_side && be32(b + 20) <= 5000;
    if (!ok)
        fprintf(stderr, "FAILED: %s is not a PNG of sensible size (%zu bytes)\n", path,
                b ? len : 0);
    free(b);
    return ok;
}

#endif
