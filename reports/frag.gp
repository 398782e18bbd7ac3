# frag.gp - fragmentation over the trace per series: external ratio, internal
# waste, free block count, largest free block. Data: samples_TAG.dat.
# Parameters: those of common.gp.
width = 1100; height = 760
load gpdir.'/common.gp'
set multiplot layout 2,2 title 'Fragmentation over the trace'
set xlabel 'trace event'
set autoscale xfix
set key top left font ',8'
set title 'external fragmentation: 1 - largest free / total free'
set yrange [0:1]
plot for [i=1:n] datfile('samples', i) using 1:5 with lines lc rgb colour(i) title word(titles, i)
set autoscale y
set yrange [0:*]
unset key
set title 'internal waste: in use - requested ('.unit.')'
plot for [i=1:n] datfile('samples', i) using 1:($6/scale) with lines lc rgb colour(i)
set title 'free blocks'
plot for [i=1:n] datfile('samples', i) using 1:7 with lines lc rgb colour(i)
set title 'largest free block ('.unit.')'
plot for [i=1:n] datfile('samples', i) using 1:($8/scale) with lines lc rgb colour(i)
unset multiplot
