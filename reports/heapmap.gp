# heapmap.gp - the address space of each heap at one moment as a strip, each
# run of blocks coloured by the kind of buffer it holds, or free.
# Data: HMFILE.dat (heapmap.c): strip, from, to (bytes), kind.
# Parameters: those of common.gp (tags/titles unused), and
#   hmfile   'heapmap' (peak live or --at), 'heapmap_oom' (each run's first OOM) or
#            'heapmap_preempt' (just before each run's first forced preemption)
#   strips   the number of strips
#   yt       the strip labels as a gnuplot ytics list ('"bestfit" 0, ...')
#   caption  the moment drawn
width = 1100; height = 140 + 60 * strips
load gpdir.'/common.gp'
set title caption
set xlabel 'offset in the heap ('.unit.')'
set yrange [strips - 0.5:-0.5]
eval('set ytics (' . yt . ')')
set grid noytics
set key outside below horizontal
# Kinds 0-6: weight, kv, activation, workspace, adapter, other, free.
set palette maxcolors 7
set palette defined (0 '#4c72b0', 1 '#dd8452', 2 '#55a868', 3 '#c44e52', 4 '#8172b3', \
                     5 '#937860', 6 '#e8e8e8')
set cbrange [-0.5:6.5]
unset colorbox
kinds = "weight kv activation workspace adapter other free"
plot datadir.'/'.hmfile.'.dat' using (($2 + $3) / 2 / scale):1:($2 / scale):($3 / scale):($1 - 0.4):($1 + 0.4):4 \
         with boxxyerror fs solid 1.0 noborder lc palette notitle, \
     for [k=0:6] NaN with boxes fs solid 1.0 lc palette cb k title word(kinds, k + 1)
