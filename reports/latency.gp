# latency.gp - measured op latency per series and op kind as a CDF on a log
# scale. Data: lat_TAG_OP.dat (sql/latency_cdf.sql: bucket upper bound, fraction).
# Parameters: those of common.gp, and
#   ops      the ops to draw, blank-separated ("alloc free use ...")
width = 1100; height = 700
load gpdir.'/common.gp'
nops = words(ops)
rows = nops > 3 ? 2 : 1
cols = nops > 3 ? 3 : nops
set multiplot layout rows,cols title 'Op latency: fraction of calls at or below (measured, bucketed)'
set logscale x 10
set format x '10^{%T}'
set xlabel 'ns'
set yrange [0:1.02]
set key bottom right font ',8'
latfile(i, op) = sprintf('%s/lat_%s_%s.dat', datadir, word(tags, i), op)
do for [k=1:nops] {
    set title word(ops, k)
    plot for [i=1:n] latfile(i, word(ops, k)) using 1:2 with steps lw 1.5 lc rgb colour(i) \
         dt dash(i) title word(titles, i)
    unset key
}
unset multiplot
