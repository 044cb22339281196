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
# figure_page ID: a page of the report's <head> (less its height hint) and that figure alone
figure_page() {
  { sed -n '1,/^<\/head>$/p' "$html" | grep -v 'name="report-height"'
    echo '<body>'
    sed -n "/^<svg id=\"$1\"/,/^<\/svg>\$/p" "$html"
    echo '</body></html>'; } >"$TMP/$1.html"
  bash "$RENDER" "$TMP/$1.html" "$TMP/$1.png" 1000 && pngtopnm "$TMP/$1.png" >"$TMP/$1.ppm"
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
finish
