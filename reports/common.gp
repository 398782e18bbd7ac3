# common.gp - what every report script shares: terminal, data conventions,
# series colours. Loaded by the others after they set width/height.
# Parameters (gnuplot -e, set by the report tool):
#   term     'png' (pngcairo) or 'svg'
#   out      the image file
#   datadir  where the .dat files are (OUT/data)
#   tags     the series' file stems, blank-separated ("a1 a2 ...")
#   titles   the series' legend titles, in the same order
#   unit     'KiB', 'MiB' or 'GiB' (default): the unit of byte axes
if (!exists("width")) width = 1000
if (!exists("height")) height = 600
if (term eq 'svg') {
    set terminal svg size width,height font 'sans,11' background rgb 'white'
} else {
    set terminal pngcairo size width,height font 'sans,10' background rgb 'white'
}
set output out
set datafile separator "\t"
set datafile missing '?'
set grid lc rgb '#dddddd'
set key noenhanced
set title noenhanced
n = words(tags)
if (!exists("unit")) unit = 'GiB'
scale = unit eq 'KiB' ? 1024.0 : unit eq 'MiB' ? 1048576.0 : 1073741824.0
datfile(kind, i) = sprintf('%s/%s_%s.dat', datadir, kind, word(tags, i))
colours = "#1f77b4 #ff7f0e #2ca02c #d62728 #9467bd #8c564b #e377c2 #7f7f7f #bcbd22 #17becf"
colour(i) = word(colours, (i - 1) % 10 + 1)
