# evictions.gp - evictions and bytes re-materialised over the trace per series
# (cumulative), against Belady's future-knowledge count for the same trace and
# capacity. Data: samples_TAG.dat (columns 9 and 10).
# Parameters: those of common.gp, and
#   belady_ev, belady_bytes  each series' Belady totals (-1 = unknown)
#   belady_what  'optimum' (one evictable size) or 'reference' (mixed sizes)
width = 1100; height = 480
load gpdir.'/common.gp'
set multiplot layout 1,2 title sprintf("Evictions over the trace; dashed: Belady's %s", belady_what)
set xlabel 'trace event'
set autoscale xfix
set key top left font ',8'
bel(list, i) = word(list, i) + 0
set title 'evictions (cumulative)'
set yrange [0:*]
plot for [i=1:n] datfile('samples', i) using 1:9 with lines lw 2 lc rgb colour(i) \
         title word(titles, i), \
     for [i=1:n] (bel(belady_ev, i) >= 0 ? bel(belady_ev, i) : NaN) with lines dt 2 \
         lc rgb colour(i) notitle
unset key
set title 'bytes re-materialised (cumulative, '.unit.')'
plot for [i=1:n] datfile('samples', i) using 1:($10/scale) with lines lw 2 lc rgb colour(i), \
     for [i=1:n] (bel(belady_bytes, i) >= 0 ? bel(belady_bytes, i) / scale : NaN) with lines \
         dt 2 lc rgb colour(i)
unset multiplot
