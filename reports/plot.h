/* plot.h - runs gnuplot on one of the report scripts (reports/NAME.gp) with parameters (-e). */
#ifndef VREP_PLOT_H
#define VREP_PLOT_H

#include <stddef.h>

#include "vram/status.h"

/* A gnuplot parameter list under construction: "a='x'; b=3; ". */
typedef struct vrep_params {
    char text[16384];
    int overflow;             /* text was too short: the list is unusable */
} vrep_params;

/* Appends name='value' (single quotes doubled, as gnuplot reads them). */
void vrep_param_str(vrep_params *p, const char *name, const char *value);
/* Appends name=value for a number. */
void vrep_param_num(vrep_params *p, const char *name, double value);

/* Runs `gnuplot -e PARAMS SCRIPT` with its output and errors appended to the
 * file `log`, and waits. Cost: one process. VRAM_ENOTFOUND when `gnuplot`
 * cannot be executed (not installed), VRAM_EINVAL when the parameter list
 * overflowed, VRAM_EIO when the log cannot be opened or gnuplot fails (the
 * message names the script and the log). */
vram_status vrep_plot(const char *gnuplot, const char *script, const vrep_params *params,
                      const char *log, char *err, size_t errlen);

#endif
