#!/usr/bin/env bash
# Render an HTML page (a disentangle report, or any page) to a PNG with headless Chromium.
#
#   tools/render_report.sh REPORT.html OUT.png [WIDTH]
#
# WIDTH defaults to 1000 px (the report's own width). The window is as tall as the page's
# <meta name="report-height"> hint plus some slack (6000 px for a page without one), and when
# netpbm is installed the white rows below the page are trimmed away (keeping a 20 px margin),
# so the PNG shows the whole page and little else. Exit status: 0 rendered; 1 failed;
# 2 usage; 77 Chromium is not installed (the test suite counts that as a skip).
#
# The flags matter here: without the background-networking ones Chromium waits on a network
# this machine does not have. Each run gets its own throw-away profile directory.
set -u

usage() { echo "usage: $0 REPORT.html OUT.png [WIDTH]" >&2; exit 2; }
if [ $# -lt 2 ] || [ $# -gt 3 ]; then usage; fi
html=$1 png=$2 width=${3:-1000}
case $width in '' | *[!0-9]*) usage ;; esac
[ -r "$html" ] || { echo "$0: cannot read $html" >&2; exit 1; }

browser=
for b in chromium chromium-browser google-chrome; do
  if command -v "$b" >/dev/null 2>&1; then browser=$b; break; fi
done
if [ -z "$browser" ]; then
  echo "$0: chromium is not installed (apt-get install chromium)" >&2
  exit 77
fi

# The page's own height hint, if it has one; slack for captions that wrap differently.
hint=$(grep -o -m1 '<meta name="report-height" content="[0-9]*"' "$html" | grep -o '[0-9][0-9]*')
height=$(( ${hint:-5700} + 300 ))

abs=$(cd "$(dirname "$html")" && pwd)/$(basename "$html")
out_dir=$(cd "$(dirname "$png")" && pwd) || { echo "$0: no directory for $png" >&2; exit 1; }
out=$out_dir/$(basename "$png")
profile=$(mktemp -d "${TMPDIR:-/tmp}/render_report.XXXXXX") || exit 1
trap 'rm -rf "$profile"' EXIT

# Render at a window height; timeout: a Chromium that hangs must not hang the test suite.
render() {
  rm -f "$out"
  timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --hide-scrollbars --force-device-scale-factor=1 \
    --window-size="$width,$1" --screenshot="$out" "file://$abs" >"$profile/log" 2>&1
  local status=$?
  if [ $status -ne 0 ] || [ ! -s "$out" ]; then
    echo "$0: $browser failed (status $status) rendering $html; its last lines:" >&2
    tail -5 "$profile/log" >&2
    exit 1
  fi
}

# Trim the white below the page (needs netpbm; without it the PNG keeps the window height).
# Returns 1 when the bottom row was not white: the page may go on below the window.
trim() {
  command -v pngtopnm >/dev/null 2>&1 && command -v pnmcrop >/dev/null 2>&1 &&
    command -v pnmtopng >/dev/null 2>&1 || return 0
  pngtopnm "$out" 2>/dev/null | pnmcrop -white -bottom -margin=20 2>/dev/null |
    pnmtopng >"$profile/trim.png" 2>/dev/null && [ -s "$profile/trim.png" ] || return 0
  local before after
  before=$(pngtopnm "$out" | pamfile | awk '{print $(NF-2)}')
  after=$(pngtopnm "$profile/trim.png" | pamfile | awk '{print $(NF-2)}')
  mv "$profile/trim.png" "$out"
  [ "$after" -le "$before" ] || return 1
  [ "$after" -ne "$((before + 20))" ]
}

render "$height"
if ! trim; then # the hint was too small: once more, twice as tall
  render $((height * 2))
  trim || true
fi
exit 0
