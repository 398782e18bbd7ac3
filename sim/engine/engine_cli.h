/* engine_cli.h - the engine's command-line options (the model, the engine
 * and the recorded workload), shared by the tools that drive it: tracegen
 * (open loop) and serve (closed loop). Messages name the tool and exit
 * statuses follow the tools': 2 for bad usage, 1 for a workload that cannot
 * be read. */
#ifndef VENGINE_CLI_H
#define VENGINE_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "engine.h"

typedef struct vengine_cli {
    vengine_config c;            /* vengine_defaults, then the options */
    const char *format;          /* --format as given, or NULL */
    uint64_t gib;                /* --capacity-gib */
} vengine_cli;

void vengine_cli_init(vengine_cli *o);
/* The options' --help lines. */
void vengine_cli_usage(FILE *f);
/* argv[*i] as an engine option: 1 taken (*i past its value), 0 not an engine
 * option, 2 bad usage (the message printed to stderr as "TOOL: ..."). */
int vengine_cli_option(vengine_cli *o, const char *tool, int argc, char **argv, int *i);
/* After the options: --workload given, the format (by name, else mooncake
 * for *.jsonl), the capacity, the workload a regular file. 0, or the exit
 * status with the message printed. */
int vengine_cli_finish(vengine_cli *o, const char *tool);

#endif
