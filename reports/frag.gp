# frag.gp - fragmentation over the trace per series: external ratio, internal
# waste, free block count, largest free block. Data: samples_TAG.dat.
# Parameters: those of common.gp.
width = 1100; height = 760
load gpdir.'/common.gp'
set multiplot layout 2,2 title 'Fragmentation over the trace'
set xlabel xname
set autoscale xfix
set key top left font ',8'
set title 'external fragmentation: 1 - largest free / total free'
set yrange [0:1.05]
plot for [i=1:n] datfile('samples', i) using (xval(0)):5 with lines lc rgb colour(i) \
         dt dash(i) title word(titles, i)
set autoscale y
set yrange [0:*]
unset key
set title 'internal waste: in use - requested ('.unit.')'
plot for [i=1:n] datfile('samples', i) using (xval(0)):($6/scale) with lines lc rgb colour(i) \
         dt dash(i)
set title 'free blocks'
plot for [i=1:n] datfile('samples', i) using (xval(0)):7 with lines lc rgb colour(i) dt dash(i)
set title 'largest free block ('.unit.')'
plot for [i=1:n] datfile('samples', i) using (xval(0)):($8/scale) with lines lc rgb colour(i) \
         dt dash(i)
unset multiplot
