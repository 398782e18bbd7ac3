/* plot.c - gnuplot as a child process. */
#include "plot.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "rdb.h"

extern char **environ;

static void append(vrep_params *p, const char *s)
{
    size_t used = strlen(p->text), n = strlen(s);
    if (used + n + 1 > sizeof p->text) {
        p->overflow = 1;
        return;
    }
    memcpy(p->text + used, s, n + 1);
}

void vrep_param_str(vrep_params *p, const char *name, const char *value)
{
    append(p, name);
    append(p, "='");
    for (const char *c = value; *c; c++) {
        char one[3] = {*c, *c == '\'' ? '\'' : '\0', '\0'};
        append(p, one);
    }
    append(p, "'; ");
}

void vrep_param_num(vrep_params *p, const char *name, double value)
{
    char num[64];
    snprintf(num, sizeof num, "=%.17g; ", value);
    append(p, name);
    append(p, num);
}

vram_status vrep_plot(const char *gnuplot, const char *script, const vrep_params *params,
                      const char *log, char *err, size_t errlen)
{
    if (params->overflow) {
        snprintf(err, errlen, "%s: too many parameters for one gnuplot command line", script);
        return VRAM_EINVAL;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    char *argv[] = {(char *)gnuplot, "-e", (char *)params->text, (char *)script, NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, gnuplot, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc == ENOENT || rc == EACCES) {
        snprintf(err, errlen, "cannot run %s: %s", gnuplot, strerror(rc));
        return VRAM_ENOTFOUND;
    }
    if (rc) {
        snprintf(err, errlen, "cannot run %s (log %s): %s", gnuplot, log, strerror(rc));
        return VRAM_EIO;
    }
    /* Waits looking at vrep_stop every 10 ms: a signal ends gnuplot too. */
    int status, killed = 0;
    for (;;) {
        pid_t got = waitpid(pid, &status, WNOHANG);
        if (got == pid)
            break;
        if (got < 0 && errno != EINTR) {
            snprintf(err, errlen, "waiting for %s: %s", gnuplot, strerror(errno));
            return VRAM_EIO;
        }
        if (vrep_stop && !killed) {
            kill(pid, SIGKILL);
            killed = 1;
        }
        struct timespec tick = {0, 10 * 1000 * 1000};
        nanosleep(&tick, NULL);
    }
    if (killed) {
        snprintf(err, errlen, "%s on %s: stopped by a signal", gnuplot, script);
        return VRAM_EBUSY;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
        snprintf(err, errlen, "cannot run %s (see %s)", gnuplot, log);
        return VRAM_ENOTFOUND;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(err, errlen, "gnuplot failed on %s (status %d); its messages are in %s", script,
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1, log);
        return VRAM_EIO;
    }
    return VRAM_OK;
}
