# evictions.gp - evictions and, when any, bytes re-materialised over the trace
# per series (cumulative), against Belady's future-knowledge count for the same
# trace and capacity. Data: samples_TAG.dat (columns 9 and 10).
# Parameters: those of common.gp, and
#   belady_ev, belady_bytes  each series' Belady totals (-1 = unknown)
#   belady_what  'optimum' (one evictable size) or 'reference' (mixed sizes)
#   remat_panel  1: some series (or Belady) re-materialised bytes: their panel too
width = remat_panel ? 1100 : 700; height = 480
load gpdir.'/common.gp'
set multiplot layout 1,(remat_panel ? 2 : 1) \
    title sprintf("Evictions over the trace; dashed: Belady's %s", belady_what)
set xlabel xname
set autoscale xfix
set key top left font ',8'
bel(list, i) = word(list, i) + 0
set title 'evictions (cumulative)'
set yrange [0:*]
plot for [i=1:n] datfile('samples', i) using (xval(0)):9 with lines lw 2 lc rgb colour(i) \
         title word(titles, i), \
     for [i=1:n] (bel(belady_ev, i) >= 0 ? bel(belady_ev, i) : NaN) with lines dt 2 \
         lc rgb colour(i) notitle
if (remat_panel) {
    unset key
    set title 'bytes re-materialised (cumulative, '.unit.')'
    plot for [i=1:n] datfile('samples', i) using (xval(0)):($10/scale) with lines lw 2 \
             lc rgb colour(i), \
         for [i=1:n] (bel(belady_bytes, i) >= 0 ? bel(belady_bytes, i) / scale : NaN) with lines \
             dt 2 lc rgb colour(i)
}
unset multiplot
