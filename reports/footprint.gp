# footprint.gp - footprint and live bytes over the trace per series, with the
# lower bound (peak live bytes) as a line. Data: samples_TAG.dat (sql/samples.sql).
# Parameters: those of common.gp, and
#   bounds   each series' peak live bytes (0 = unknown), blank-separated
width = 1000; height = 560
load gpdir.'/common.gp'
set title 'Footprint (solid) and live bytes (dotted) over the trace'
set xlabel 'trace event'
set ylabel unit
set key outside below horizontal
set autoscale xfix
set yrange [0:*]
bound(i) = word(bounds, i) + 0
plot for [i=1:n] datfile('samples', i) using 1:($2/scale) with lines lw 2 lc rgb colour(i) \
         title word(titles, i), \
     for [i=1:n] datfile('samples', i) using 1:($4/scale) with lines lw 1 dt 3 lc rgb colour(i) \
         notitle, \
     for [i=1:n] (bound(i) > 0 ? bound(i) / scale : NaN) with lines dt 2 lw 1.5 lc rgb 'black' \
         title (i == 1 ? 'lower bound (peak live)' : '')
