/* emit.h - text for other programs: JSON strings and RFC 4180 CSV fields
 * (replay --json/--csv, report --list --json/--csv). */
#ifndef VSIM_EMIT_H
#define VSIM_EMIT_H

#include <stdio.h>

/* `s` as a JSON string: quoted, with ", \ and control characters escaped. */
void vsim_json_string(FILE *f, const char *s);
/* `s` as a CSV field: quoted (quotes doubled) when it holds a comma, a quote,
 * CR or LF, else as it is. */
void vsim_csv_field(FILE *f, const char *s);

#endif
