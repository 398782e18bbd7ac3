# prefix.gp - the prefix cache's hit ratio against its capacity (prefix_figure.c,
# sql/prefix.sql): one panel per trace, x the cache's device blocks (log scale), y the
# block hit ratio; a curve per prefix policy (a host tier's dashed), textbook LRU and Belady
# over the same block stream at each capacity (grey and black, dashed), the unlimited
# cache's ratio as a dotted horizontal line. Each point is the median of its runs.
# Data: DATADIR/prefix_K.dat (tab-separated, '?' missing): blocks, each curve's ratio, LRU,
# Belady, unlimited. Parameters (gnuplot -e): datadir, out, term ('png', the default, or
# 'svg': interactive, as common.gp's), panels (the number of traces), and for each panel K:
# titleK (the trace's file name), curvesK, coloursK, dashesK (blank-separated, one word per
# curve), xticsK (the capacities as a gnuplot tics list, '' for gnuplot's own), unlK (the
# unlimited cache's ratio), xminK, xmaxK (the x range).
if (!exists("term")) term = 'png'
height = 90 + 380 * panels
if (term eq 'svg') {
    set terminal svg size 1000,height font 'sans,11' background rgb 'white' mouse standalone
} else {
    set terminal pngcairo size 1000,height font 'sans,10' background rgb 'white'
}
set output out
set datafile separator "\t"
set datafile missing '?'
set logscale x
set yrange [0:*]
set offsets 0, 0, graph 0.08, 0
set grid lc rgb '#dddddd'
set key outside right top vertical noenhanced font ',9'
set xlabel "the prefix cache's device blocks (running requests' KV and cached; log scale)"
set ylabel 'block hit ratio'
set multiplot layout panels,1 \
    title "Prefix cache: hit ratio against capacity (the references' blocks are all cache)"
do for [k=1:panels] {
    file = sprintf('%s/prefix_%d.dat', datadir, k)
    curves = value(sprintf('curves%d', k))
    colours = value(sprintf('colours%d', k))
    dashes = value(sprintf('dashes%d', k))
    nc = words(curves)
    unl = value(sprintf('unl%d', k))
    set title value(sprintf('title%d', k)) noenhanced
    set xrange [value(sprintf('xmin%d', k)):value(sprintf('xmax%d', k))]
    xt = value(sprintf('xtics%d', k))
    if (xt ne '') { eval('set xtics '.xt) } else { set xtics autofreq }
    # curves that coincide (policies choosing the same victims) stay visible: each one drawn
    # wider, with larger points, than the ones drawn over it
    plot for [c=1:nc] file using 1:(column(c + 1)) with linespoints lw (1.5 + 1.5 * (nc - c)) \
             pt int(word('7 5 9 13 11 15', (c - 1) % 6 + 1)) ps (0.7 + 0.35 * (nc - c)) \
             lc rgb word(colours, c) dt int(word(dashes, c)) title word(curves, c), \
         file using 1:(column(nc + 2)) with linespoints lw 1.5 pt 6 dt 2 lc rgb '#7f7f7f' \
             title 'LRU (reference)', \
         file using 1:(column(nc + 3)) with linespoints lw 1.5 pt 4 dt 2 lc rgb '#000000' \
             title 'Belady (optimum)', \
         unl with lines lw 1.5 dt 3 lc rgb '#000000' title sprintf('unlimited %.4f', unl)
}
unset multiplot
