# common.gp - what every report script shares: terminal, data conventions,
# series colours. Loaded by the others after they set width/height.
# Parameters (gnuplot -e, set by the report tool):
#   term     'png' (pngcairo) or 'svg' (interactive: hover for values, click a legend
#            entry to hide its curve; the script inlined, so it works offline)
#   out      the image file
#   datadir  where the .dat files are (OUT/data)
#   tags     the series' file stems, blank-separated ("a1 a2 ...")
#   titles   the series' legend titles, in the same order
#   colours  their colours ("#1f77b4 ..."): a policy's is the same in every figure
#   dashes   their dash types (1 solid; 2 dashed: a comparison's before run)
#   unit     'KiB', 'MiB' or 'GiB' (default): the unit of byte axes
#   xcol, xdiv, xname  the samples' x: column 1 (event index) or 11 (ts_us, / 1e6 for
#            seconds) and its axis label
if (!exists("width")) width = 1000
if (!exists("height")) height = 600
if (term eq 'svg') {
    set terminal svg size width,height font 'sans,11' background rgb 'white' mouse standalone
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
if (!exists("colours")) colours = ''
if (!exists("dashes")) dashes = ''
colour(i) = word(colours, i)
dash(i) = word(dashes, i) + 0
if (!exists("xcol")) xcol = 1
if (!exists("xdiv")) xdiv = 1
if (!exists("xname")) xname = 'trace event'
xval(dummy) = column(xcol) / xdiv
