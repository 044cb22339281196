#!/bin/bash
# The HTML report, checked as text and as a picture.
#
# Runs the demo program ($REPORT_DEMO, default ./report_demo), which writes a report for
# synthetic data whose right picture is known (tests/report_demo.c: z0 follows the duty cycle,
# z2 the gate frequency, z1 and z3 dead; corr(z0,z2) = +0.9, corr(z0,z1) = -0.9, corr(z1,z3)
# undefined), then checks:
#  - the program: same bytes twice, a failed write exits non-zero and leaves no file;
#  - the HTML: one <svg> per figure, nothing external (no URL, script, link, src, import),
#    under 512 kB, every section title, text escaped, active latents listed first, well-formed
#    XML when python3 is there to say so;
#  - the picture, rendered by tools/render_report.sh with headless Chromium and read with
#    netpbm: 1000 px wide, not blank (many colours, enough ink), red and blue both present;
#  - known pixels. A figure's place on the full page depends on how the fonts wrap the text
#    above it, so each figure checked is cut out of the report (its <svg> starts and ends on
#    lines of their own) and rendered alone on a page with the report's <head> and a body with
#    no margin: then a cell's pixel position is exactly the x/y/width/height of its <rect id>
#    in the HTML. Heat map: the +0.9 cell and the diagonal are red, the -0.9 cell blue, the
#    0.05 cell near white, the undefined cell grey, the colour bar red at the top and blue at
#    the bottom. Scatter: z0 against duty cycle is a rising line (ink in the bottom-left and
#    top-right quarters, none in the other two); dead z1 is a flat line (ink in a few rows).
#  - image samples (report_demo -images gray|rgb: 16 x 16 images of a 4 x 4 square that z0
#    moves right and z2 down, values 1.7 on -0.4): the traversals are ONE embedded PNG whose
#    decoded pixels are the clamped values (255 square, 0 background, 128 gaps); rendered, the
#    square is white (gray) or red (rgb) exactly where the decoder put it in each tile, the
#    background black, and the rows of the dead latents faded; the loss figure takes the
#    history's own columns (kl on the log axis, tc, which goes negative, on a linear panel).
#
# Env: REPORT_DEMO (the demo binary), DT_SRCDIR (source tree; default: this script's ..),
# REPORT_PNG_OUT (if set, the rendered demo report is saved there). Prints PASS/FAIL lines;
# exit 0 pass, 1 fail, 77 skip (only when Chromium is missing or cannot start here).
# Needs: chromium, netpbm (pngtopnm, pamcut, pnmtopnm, ppmhist, pamfile).
set -u
SRCDIR=${DT_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
DEMO=${REPORT_DEMO:-./report_demo}
RENDER="$SRCDIR/tools/render_report.sh" # run with bash: the exec bit may not survive packaging
TMP=$(mktemp -d /tmp/report-render.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
failures=0 passes=0

pass() { echo "PASS: $*"; passes=$((passes + 1)); }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
check() { # check DESCRIPTION COMMAND...: PASS or FAIL by the command's status
  local what=$1
  shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}
finish() {
  echo "report_render: $passes passed, $failures failed"
  [ "$failures" -eq 0 ] && exit 0 || exit 1
}
skip() {
  echo "SKIP: ******** $* ********"
  echo "SKIP: the report's rendering test did not run"
  exit 77
}

# ------------------------------------------------------------------ prerequisites
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 ||
  skip "chromium is not installed (apt-get install chromium)"
for tool in pngtopnm pamcut pnmtopnm ppmhist pamfile pnmcrop pnmtopng; do
  command -v "$tool" >/dev/null 2>&1 || { fail "$tool not found: install netpbm"; finish; }
done
[ -x "$DEMO" ] || { fail "demo program $DEMO not found (set REPORT_DEMO)"; finish; }
echo '<!DOCTYPE html><html><body><p>probe</p></body></html>' >"$TMP/probe.html"
bash "$RENDER" "$TMP/probe.html" "$TMP/probe.png" 400 >"$TMP/probe.log" 2>&1 ||
  skip "chromium cannot render a trivial page here: $(tail -3 "$TMP/probe.log" | tr '\n' ' ')"

# ------------------------------------------------------------------ the program
html="$TMP/report.html"
check "demo writes the report" "$DEMO" "$html"
[ -s "$html" ] || { fail "no report written"; finish; }
check "no report.html.tmp left behind" test ! -e "$html.tmp"
"$DEMO" "$TMP/again.html"
check "same input, same bytes" cmp -s "$html" "$TMP/again.html"
"$DEMO" "$TMP/no-such-dir/r.html" 2>"$TMP/err.txt"
check "write into a missing directory fails" test $? -ne 0
check "  ... naming the file" grep -q "no-such-dir/r.html.tmp" "$TMP/err.txt"
check "  ... and leaves nothing" test ! -e "$TMP/no-such-dir"

# ------------------------------------------------------------------ the HTML
size=$(wc -c <"$html")
check "report is small ($size bytes < 512000)" test "$size" -lt 512000
check "4 figures: 4 <svg> and 4 </svg>" test "$(grep -c '^<svg ' "$html")" -eq 4 -a "$(grep -c '^</svg>$' "$html")" -eq 4
for id in fig-loss fig-traversals fig-factors fig-corr; do
  check "figure $id" grep -q "^<svg id=\"$id\"" "$html"
done
check "nothing external (URL, script, link, src=, @import, url() not #)" \
  bash -c "! grep -Eiq 'https?:|<script|<link|<iframe|<img|src=|@import|url\([^#]' '$html'"
for title in "Loss curves" "Latent traversals" "Latents vs. factors" "Latent correlations" "Metrics"; do
  check "section '$title'" grep -q "<h2>$title</h2>" "$html"
done
check "summary: 2 of 4 latents active" grep -q "2 of 4 latents active" "$html"
check "metric names escaped" grep -qF 'DCI &lt;disentanglement&gt; &amp; &quot;completeness&quot;' "$html"
check "subtitle escaped" grep -qF '(synthetic &lt;demo&gt; &amp; &#39;test&#39;)' "$html"
check "no raw < from the data" bash -c "! grep -q '<disentanglement>\|<demo>' '$html'"
check "NaN metric shown as n/a" grep -qF '<td class="v">n/a</td>' "$html"
check "metric value with 4 significant digits" grep -qF '<td class="v">0.8765</td>' "$html"
order=$(sed -n '/^<svg id="fig-traversals"/,/^<\/svg>/p' "$html" | grep -o '>z[0-9]*</text>' | sed 's/[^z0-9]//g' | tr '\n' ' ')
check "traversal rows active first: z0 z2 z1 z3 (got: $order)" test "$order" = "z0 z2 z1 z3 "
check "two latents marked inactive in the traversals" \
  test "$(sed -n '/^<svg id="fig-traversals"/,/^<\/svg>/p' "$html" | grep -c '>inactive<')" -eq 2
if command -v python3 >/dev/null 2>&1; then
  check "well-formed XML" python3 -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' "$html"
else
  echo "note: python3 absent, XML well-formedness not checked"
fi

# ------------------------------------------------------------------ the whole page as a picture
start=$(date +%s%N)
bash "$RENDER" "$html" "$TMP/report.png" 1000 || { fail "render_report.sh failed"; finish; }
echo "rendered the report in $((($(date +%s%N) - start) / 1000000)) ms"
[ -n "${REPORT_PNG_OUT:-}" ] && cp "$TMP/report.png" "$REPORT_PNG_OUT"
pngtopnm "$TMP/report.png" >"$TMP/report.ppm"
read -r width height < <(pamfile "$TMP/report.ppm" | awk '{print $(NF-4), $(NF-2)}')
check "PNG is 1000 px wide (got $width)" test "$width" -eq 1000
check "PNG holds the whole page, 1500..8000 px tall (got $height)" test "$height" -ge 1500 -a "$height" -le 8000
# ppmhist: one line per colour "r g b lum count"
ppmhist -noheader "$TMP/report.ppm" >"$TMP/hist.txt"
read -r colours ink red blue < <(awk '{ n++; if (!($1 == 255 && $2 == 255 && $3 == 255)) ink += $5
  if ($1 - $3 >= 60 && $1 - $2 >= 60) red += $5; if ($3 - $1 >= 60) blue += $5 }
  END { print n, ink, red + 0, blue + 0 }' "$TMP/hist.txt")
check "not blank: $colours colours (>= 200)" test "$colours" -ge 200
check "not blank: $ink non-white pixels (>= 3%)" test "$ink" -ge $((width * height * 3 / 100))
check "red is drawn: $red red pixels (>= 5000)" test "$red" -ge 5000
check "blue is drawn: $blue blue pixels (>= 5000)" test "$blue" -ge 5000

# ------------------------------------------------------------------ known pixels of figures
# figure_page ID [HTML NAME]: a page of the report's <head> (less its height hint) and that
# figure alone, rendered to $TMP/NAME.ppm (NAME defaults to ID, HTML to the demo report)
figure_page() {
  local src=${2:-$html} name=${3:-$1}
  { sed -n '1,/^<\/head>$/p' "$src" | grep -v 'name="report-height"'
    echo '<body>'
    sed -n "/^<svg id=\"$1\"/,/^<\/svg>\$/p" "$src"
    echo '</body></html>'; } >"$TMP/$name.html"
  bash "$RENDER" "$TMP/$name.html" "$TMP/$name.png" 1000 && pngtopnm "$TMP/$name.png" >"$TMP/$name.ppm"
}
# rect_box FIGURE ID: "x y w h" of <rect id=ID>, rounded to whole pixels
rect_box() {
  grep -o "<rect id=\"$2\" x=\"[-0-9.]*\" y=\"[-0-9.]*\" width=\"[0-9.]*\" height=\"[0-9.]*\"" "$TMP/$1.html" |
    awk -F'"' '{ printf "%d %d %d %d\n", $4 + 0.5, $6 + 0.5, $8 + 0.5, $10 + 0.5 }'
}
# pixels FIGURE X Y W H: the region's pixels, "r g b" one per line
pixels() {
  pamcut -left "$2" -top "$3" -width "$4" -height "$5" "$TMP/$1.ppm" | pnmtopnm -plain |
    tr -s ' \t\n' '\n' | awk 'NF' | awk 'NR > 4 { v[++k] = $1; if (k == 3) { print v[1], v[2], v[3]; k = 0 } }'
}
# cell_colour ID: colour at one fifth into the heat map cell (clear of the printed number)
cell_colour() {
  local x y w h
  read -r x y w h < <(rect_box fig-corr "$1")
  [ -n "${h:-}" ] || { echo "missing"; return; }
  pixels fig-corr $((x + w / 5)) $((y + h / 5)) 1 1
}
is_red() { awk -v c="$1" 'BEGIN { split(c, p, " "); exit !(p[1] - p[3] >= 60 && p[1] - p[2] >= 60) }'; }
is_blue() { awk -v c="$1" 'BEGIN { split(c, p, " "); exit !(p[3] - p[1] >= 60) }'; }
is_pale() { awk -v c="$1" 'BEGIN { split(c, p, " "); exit !(p[1] >= 215 && p[2] >= 215 && p[3] >= 215) }'; }
is_grey() { awk -v c="$1" 'BEGIN { split(c, p, " "); d = p[1] - p[3]; if (d < 0) d = -d
  exit !(d <= 8 && p[1] >= 180 && p[1] <= 240) }'; }

if figure_page fig-corr; then
  c=$(cell_colour corr-0-2); check "heat map corr(z0,z2) = +0.9 is red ($c)" is_red "$c"
  c=$(cell_colour corr-2-0); check "heat map corr(z2,z0) = +0.9 is red ($c)" is_red "$c"
  c=$(cell_colour corr-0-1); check "heat map corr(z0,z1) = -0.9 is blue ($c)" is_blue "$c"
  c=$(cell_colour corr-0-3); check "heat map corr(z0,z3) = 0.05 is near white ($c)" is_pale "$c"
  c=$(cell_colour corr-1-3); check "heat map undefined corr(z1,z3) is grey ($c)" is_grey "$c"
  for i in 0 1 2 3; do
    c=$(cell_colour "corr-$i-$i"); check "heat map diagonal ($i,$i) is red ($c)" is_red "$c"
  done
  read -r x y w h < <(rect_box fig-corr corr-bar)
  c=$(pixels fig-corr $((x + w / 2)) $((y + 3)) 1 1); check "colour bar top (+1) is red ($c)" is_red "$c"
  c=$(pixels fig-corr $((x + w / 2)) $((y + h - 4)) 1 1); check "colour bar bottom (-1) is blue ($c)" is_blue "$c"
else
  fail "rendering the heat map alone"
fi

# quarter_ink X Y W H: pixels darker than the cells' background and grid (any channel < 220)
quarter_ink() { pixels fig-factors "$@" | awk '$1 < 220 || $2 < 220 || $3 < 220 { n++ } END { print n + 0 }'; }
if figure_page fig-factors; then
  read -r x y w h < <(rect_box fig-factors scatter-0-1)
  # quarters of the cell, 6 px clear of its frame and of its centre lines
  hw=$((w / 2 - 12)) hh=$((h / 2 - 12))
  bleft=$(quarter_ink $((x + 6)) $((y + h / 2 + 6)) $hw $hh)
  tright=$(quarter_ink $((x + w / 2 + 6)) $((y + 6)) $hw $hh)
  tleft=$(quarter_ink $((x + 6)) $((y + 6)) $hw $hh)
  bright=$(quarter_ink $((x + w / 2 + 6)) $((y + h / 2 + 6)) $hw $hh)
  check "scatter z0 vs duty cycle rises: ink bottom-left $bleft, top-right $tright (>= 50 each)" \
    test "$bleft" -ge 50 -a "$tright" -ge 50
  check "  ... and nothing top-left ($tleft) or bottom-right ($bright)" \
    test "$tleft" -le 3 -a "$bright" -le 3
  read -r x y w h < <(rect_box fig-factors scatter-1-1)
  rows=$(pixels fig-factors $((x + 3)) $((y + 3)) $((w - 6)) $((h - 6)) |
    awk -v w=$((w - 6)) '$1 < 220 || $2 < 220 || $3 < 220 { row = int((NR - 1) / w); if (!(row in r)) { r[row] = 1; n++ } }
    END { print n + 0 }')
  check "scatter of dead z1 is a flat line: ink in $rows rows (1..6)" test "$rows" -ge 1 -a "$rows" -le 6
else
  fail "rendering the scatter plots alone"
fi

# ------------------------------------------------------------------ image samples
# grid_pixel NAME ROW COL X Y: the rendered colour of image pixel (X, Y) of tile (ROW, COL) of
# the traversal grid, found from the <image> element's box and its data-grid attribute
grid_pixel() {
  local at
  at=$(grep -o '<image id="traversal-grid" [^>]*data-grid="[^"]*"' "$TMP/$1.html" | awk -F'"' -v r="$2" -v c="$3" \
    -v x="$4" -v y="$5" '{ split($12, g, " "); pw = g[2] * (g[3] + g[5]) - g[5]; ph = g[1] * (g[4] + g[5]) - g[5]
      printf "%d %d\n", $4 + (c * (g[3] + g[5]) + x + 0.5) * $8 / pw, $6 + (r * (g[4] + g[5]) + y + 0.5) * $10 / ph }')
  [ -n "$at" ] || { echo "missing"; return; }
  pixels "$1" $at 1 1
}
is_white() { awk -v c="$1" 'BEGIN { split(c, p, " "); exit !(p[1] >= 200 && p[2] >= 200 && p[3] >= 200) }'; }
is_black() { awk -v c="$1" 'BEGIN { split(c, p, " "); exit !(p[1] <= 40 && p[2] <= 40 && p[3] <= 40) }'; }
is_faded() { awk -v c="$1" 'BEGIN { split(c, p, " "); exit !(p[1] >= 100 && p[1] <= 190 && p[1] == p[3]) }'; }
for kind in gray rgb; do
  img="$TMP/images-$kind.html"
  check "demo -images $kind writes the report" "$DEMO" -images "$kind" "$img"
  [ -s "$img" ] || { fail "no $kind image report"; continue; }
  size=$(wc -c <"$img")
  check "$kind: report is small ($size bytes < 512000)" test "$size" -lt 512000
  check "$kind: 4 figures" test "$(grep -c '^<svg ' "$img")" -eq 4 -a "$(grep -c '^</svg>$' "$img")" -eq 4
  check "$kind: the traversals are one embedded PNG" \
    test "$(grep -c '<image id="traversal-grid" [^>]*href="data:image/png;base64,[A-Za-z0-9+/=]*"/>' "$img")" -eq 1 -a \
    "$(grep -o '<image' "$img" | wc -l)" -eq 1
  check "$kind: nothing external" bash -c "! grep -Eiq 'https?:|<script|<link|<iframe|<img|src=|@import|url\([^#]' '$img'"
  check "$kind: loss columns by name: kl on the log axis, tc on its own linear panel, no adv" \
    bash -c "grep -q '>kl  last ' '$img' && grep -q '>tc (linear)<' '$img' && ! grep -q '>adv' '$img'"
  if command -v python3 >/dev/null 2>&1; then
    check "$kind: well-formed XML" python3 -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' "$img"
  fi
  # the PNG itself: 4 rows x 7 columns of 16 x 16 tiles 1 px apart, values clamped, gaps mid grey
  grep -o 'data:image/png;base64,[A-Za-z0-9+/=]*' "$img" | cut -d, -f2 | base64 -d >"$TMP/grid-$kind.png"
  pngtopnm "$TMP/grid-$kind.png" >"$TMP/grid-$kind.pnm" 2>/dev/null || fail "$kind: the embedded PNG does not decode"
  check "$kind: PNG is $([ $kind = gray ] && echo PGM || echo PPM) 118 x 67" \
    bash -c "pamfile '$TMP/grid-$kind.pnm' | grep -q '$([ $kind = gray ] && echo PGM || echo PPM) raw, 118 by 67 *maxval 255'"
  value() { pamcut -left "$1" -top "$2" -width 1 -height 1 "$TMP/grid-$kind.pnm" | pnmtopnm -plain | tail -1 | awk '{ print $1 }'; }
  check "$kind: PNG square pixel is 255 (1.7 clamped)" test "$(value 2 7)" = 255
  check "$kind: PNG background pixel is 0 (-0.4 clamped)" test "$(value 12 7)" = 0
  check "$kind: PNG gap pixel is 128" test "$(value 16 7)" = 128
  # rendered: rows z0, z2 (active), z1, z3 (dead); z0 moves the square right, z2 down
  if figure_page fig-traversals "$img" "trav-$kind"; then
    bright=is_white
    [ "$kind" = rgb ] && bright=is_red
    c=$(grid_pixel "trav-$kind" 0 0 2 7); check "$kind: z0 at min: square at the left ($c)" $bright "$c"
    c=$(grid_pixel "trav-$kind" 0 0 12 7); check "$kind: z0 at min: nothing at the right ($c)" is_black "$c"
    c=$(grid_pixel "trav-$kind" 0 6 12 7); check "$kind: z0 at max: square at the right ($c)" $bright "$c"
    c=$(grid_pixel "trav-$kind" 0 6 2 7); check "$kind: z0 at max: nothing at the left ($c)" is_black "$c"
    c=$(grid_pixel "trav-$kind" 1 0 7 2); check "$kind: z2 at min: square at the top ($c)" $bright "$c"
    c=$(grid_pixel "trav-$kind" 1 6 7 12); check "$kind: z2 at max: square at the bottom ($c)" $bright "$c"
    c=$(grid_pixel "trav-$kind" 2 3 1 1); check "$kind: dead z1's row is faded ($c)" is_faded "$c"
  else
    fail "rendering the $kind image traversals alone"
  fi
done
finish
