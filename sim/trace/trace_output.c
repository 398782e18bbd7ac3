/* trace_output.c - where a tool writes the file it replaces only when complete.
 *
 * A regular (or absent) OUT is written as OUT.tmp and renamed over OUT at the
 * end, so a failed run leaves OUT as it was. Anything else - a device or FIFO
 * (/dev/full), a symbolic link (/dev/stdout -> /proc/self/fd/1) - is written in
 * place through its name: a rename would put a regular file in its place. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fail.h"
#include "trace.h"

vram_status vtrace_output_begin(const char *path, vtrace_output *o, char *err, size_t errlen)
{
    *o = (vtrace_output){0};
    if (err && errlen)
        err[0] = '\0';
    if (!path || !path[0])
        return vsim_fail(err, errlen, VRAM_EINVAL, "no output file given");
    struct stat s;
    if (stat(path, &s) == 0 && S_ISDIR(s.st_mode))
        return vsim_fail(err, errlen, VRAM_EINVAL, "%s: is a directory (give a file name)", path);
    const int in_place = lstat(path, &s) == 0 && !S_ISREG(s.st_mode);
    size_t n = strlen(path);
    o->final = malloc(n + 1);
    o->write_path = in_place ? o->final : malloc(n + 5);
    if (!o->final || !o->write_path) {
        if (!in_place)
            free(o->write_path);
        free(o->final);
        *o = (vtrace_output){0};
        return vsim_fail(err, errlen, VRAM_ENOHOST, "%s: out of host memory", path);
    }
    memcpy(o->final, path, n + 1);
    if (!in_place) {
        memcpy(o->write_path, path, n);
        memcpy(o->write_path + n, ".tmp", 5);
    }
    return VRAM_OK;
}

vram_status vtrace_output_not_input(const char *path, const char *input, char *err, size_t errlen)
{
    struct stat o, i;
    if (path && input && stat(path, &o) == 0 && stat(input, &i) == 0 && o.st_dev == i.st_dev &&
        o.st_ino == i.st_ino && S_ISREG(o.st_mode))
        return vsim_fail(err, errlen, VRAM_EINVAL, "%s: is the input %s: the output would replace it",
                    path, input);
    return VRAM_OK;
}

vram_status vtrace_output_commit(vtrace_output *o, char *err, size_t errlen)
{
    vram_status st = VRAM_OK;
    if (o->write_path && o->write_path != o->final && rename(o->write_path, o->final) != 0) {
        st = vsim_fail(err, errlen, VRAM_EIO, "cannot rename %s to %s: %s", o->write_path, o->final,
                  strerror(errno));
        remove(o->write_path);
    }
    if (o->write_path != o->final)
        free(o->write_path);
    free(o->final);
    *o = (vtrace_output){0};
    return st;
}

void vtrace_output_abort(vtrace_output *o)
{
    if (o->write_path && o->write_path != o->final) {
        remove(o->write_path);
        free(o->write_path);
    }
    free(o->final);
    *o = (vtrace_output){0};
}
