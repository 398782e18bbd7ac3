# footprint.gp - footprint and live bytes over the trace per series, with the
# lower bound (peak live bytes) and the device's capacity as lines, and room
# above the capacity so that a footprint at it stays visible.
# Data: samples_TAG.dat (sql/samples.sql).
# Parameters: those of common.gp, and
#   bounds    each series' peak live bytes (0 = unknown), blank-separated
#   capacity  the largest device of the series, bytes
width = 1000; height = 560
load gpdir.'/common.gp'
set title 'Footprint (solid) and live bytes (dotted) over the trace'
set xlabel xname
set ylabel unit
set key outside below horizontal
set autoscale xfix
set yrange [0:capacity * 1.08 / scale]
bound(i) = word(bounds, i) + 0
plot for [i=1:n] datfile('samples', i) using (xval(0)):($2/scale) with lines lw 2 \
         lc rgb colour(i) dt dash(i) title word(titles, i), \
     for [i=1:n] datfile('samples', i) using (xval(0)):($4/scale) with lines lw 1 dt 3 \
         lc rgb colour(i) notitle, \
     for [i=1:n] (bound(i) > 0 ? bound(i) / scale : NaN) with lines dt 2 lw 1.5 lc rgb 'black' \
         title (i == 1 ? 'lower bound (peak live)' : ''), \
     capacity / scale with lines lw 1.5 lc rgb '#555555' title 'device capacity'
