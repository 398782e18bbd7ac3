/* units.h - numbers as the tools print them for people. */
#ifndef VSIM_UNITS_H
#define VSIM_UNITS_H

#include <stddef.h>

/* Bytes: "512 B" below 1 KiB, else 3 decimals of the largest binary unit
 * (KiB, MiB, GiB, TiB) that leaves at least 1: "71.483 GiB". Returns buf. */
const char *vsim_bytes(double bytes, char *buf, size_t len);

#endif
