# serve.gp - the closed loop's comparison (bench/serve_compare.sh, docs/ENGINE_MODEL.md):
# one bar per KV reservation style x heap policy, the KV region split into the ledger's
# time-weighted shares (token states, reserved, internal waste, free unusable, free
# usable), and each run's throughput (generated tokens per modelled second, right axis)
# on its bar. Parameters (gnuplot -e): data (rows: "STYLE POLICY" tokens reserved waste
# unusable usable tokens_per_s), out (the image), title (the workload, in the title), model
# (default Llama-3-70B TP=4, bench/serve_compare.sh's),
# term ('png', the default, or 'svg': interactive, as common.gp's).
if (!exists("term")) term = 'png'
if (term eq 'svg') {
    set terminal svg size 1200,620 font 'sans,11' background rgb 'white' mouse standalone
} else {
    set terminal pngcairo size 1200,620 font 'sans,10' background rgb 'white'
}
set output out
if (!exists("title")) title = 'a recorded workload'
if (!exists("model")) model = 'Llama-3-70B TP=4'
set title 'The KV region, closed loop: '.title.', '.model noenhanced
set style data histograms
set style histogram rowstacked
set style fill solid 0.9 border rgb '#ffffff'
set boxwidth 0.8
set yrange [0:1]
set ylabel 'share of the KV region, time-weighted'
set y2range [0:*]
set y2label 'generated tokens per modelled second (dots)'
set ytics nomirror
set y2tics
set xtics rotate by 60 right font ',9' noenhanced
set key outside right top vertical font ',9'
set grid y lc rgb '#dddddd'
plot data using 2:xtic(1) title 'token states' lc rgb '#2ca02c', \
     '' using 3 title 'reserved' lc rgb '#98df8a', \
     '' using 4 title 'internal waste' lc rgb '#d62728', \
     '' using 5 title 'free, unusable' lc rgb '#ff7f0e', \
     '' using 6 title 'free, usable' lc rgb '#c7c7c7', \
     '' using 0:7 axes x1y2 with points pt 7 ps 1.3 lc rgb '#1f3f7f' title 'tokens/s'
