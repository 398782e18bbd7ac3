/* paths.c - absolute and database-relative paths of a trace. */
#include "paths.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void vsim_dir_of(const char *path, char *buf, size_t len)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(buf, len, ".");
    else if (slash == path)
        snprintf(buf, len, "/");
    else
        snprintf(buf, len, "%.*s", (int)(slash - path), path);
}

int vsim_trace_paths(const char *file, const char *db_file, char *abs, char *rel, size_t len)
{
    char a[PATH_MAX], d[PATH_MAX], dir[PATH_MAX];
    abs[0] = rel[0] = '\0';
    if (!realpath(file, a) || !realpath(db_file, d))
        return 0;
    vsim_dir_of(d, dir, sizeof dir);
    /* Both are absolute: skip the whole components they share ... */
    size_t shared = 0;
    while (dir[shared] == '/') {
        size_t la = strcspn(a + shared + 1, "/"), ld = strcspn(dir + shared + 1, "/");
        if (ld == 0 || la != ld || strncmp(a + shared + 1, dir + shared + 1, la) != 0 ||
            a[shared + 1 + la] != '/')
            break;
        shared += 1 + la;
    }
    /* ... then one ".." for each component of the directory left. */
    size_t used = 0;
    for (const char *p = dir + shared; *p; p++)
        if (p[0] == '/' && p[1] && used + 4 < len) {
            memcpy(rel + used, "../", 4);
            used += 3;
        }
    int w = snprintf(rel + used, len - used, "%s", a + shared + 1);
    if (w < 0 || (size_t)w >= len - used || strlen(a) >= len) {
        abs[0] = rel[0] = '\0';
        return 0;
    }
    snprintf(abs, len, "%s", a);
    return 1;
}
