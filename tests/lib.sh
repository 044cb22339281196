# Shared by the shell tests: a scratch directory, the beam archive, and running the program.
set -u
: "${MPIEXEC:=mpiexec}" "${DT_BIN:?DT_BIN: path of the disentangle program}" "${BEAMGEN:?BEAMGEN: path of tools/beamgen}"
: "${DT_SRCDIR:?DT_SRCDIR: the source tree}" "${H5DIFF:=h5diff}" "${MODELDIFF:?MODELDIFF: path of tools/modeldiff}"
TMP=$(mktemp -d /tmp/disentangle-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

fail() {
  echo "FAIL: $*"
  exit 1
}
pass() { echo "PASS: $*"; }

# dt NP ARGS...: the program on NP ranks; a run that hangs is stopped after DT_TIMEOUT seconds
# (exit 124) so that it fails its test instead of stalling the suite
dt() {
  local np=$1
  shift
  timeout -k 10 "${DT_TIMEOUT:-300}" "$MPIEXEC" -n "$np" --oversubscribe "$DT_BIN" "$@"
}

# beam_archive NAME [beamgen options]: write (once) and print the path of an archive
beam_archive() {
  local name=$1
  shift
  local path="$TMP/$name.h5"
  [ -f "$path" ] || "$BEAMGEN" -out "$path" "$@" >/dev/null || fail "beamgen $* failed"
  echo "$path"
}

# history_losses FILE: history.csv without its samples_per_s column (a timing, different in every
# run), whatever losses the method reports
history_losses() {
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "samples_per_s") skip = i }
    { out = ""; for (i = 1; i <= NF; i++) if (i != skip) out = out (out == "" ? "" : ",") $i; print out }' "$1"
}

# csv_column FILE NAME: the values of one column of a CSV with a header row
csv_column() {
  awk -F, -v name="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i; next } { print $c }' "$1"
}

# json_number FILE KEY: a top-level number of a flat JSON object (as the program writes it: one member a line)
json_number() {
  sed -n "s/^ *\"$2\": *\([-0-9.eE+]*\),\{0,1\}$/\1/p" "$1"
}

# json_strict FILE: FILE is one valid JSON document; NaN and Infinity (which Python would accept) are refused
json_strict() {
  /usr/bin/python3 -c 'import json, sys
json.load(open(sys.argv[1]), parse_constant=lambda c: sys.exit(sys.argv[1] + ": bad constant " + c))' "$1"
}

# json_value FILE KEY: a top-level member parsed as JSON; an array one element a line; null prints as "null"
json_value() {
  /usr/bin/python3 -c 'import json, sys
v = json.load(open(sys.argv[1]))[sys.argv[2]]
for x in v if isinstance(v, list) else [v]: print(json.dumps(x))' "$1" "$2"
}

# compare_histories A B STEPS WINDOW TOL COLUMNS: the means over windows of WINDOW steps of the
# named columns (those of COLUMNS the method reports, found by the header), steps 1..STEPS, agree
# to TOL relative to each column's mean magnitude (adv crosses zero, so not relative to the value);
# every one of the STEPS steps must be there
compare_histories() {
  paste -d, "$1" "$2" | awk -F, -v last="$3" -v win="$4" -v tol="$5" -v cols="$6" '
    NR == 1 { half = NF / 2; for (c = 2; c <= half; c++) name[c] = $c; next }
    $1 > last { next }
    { n++; w = int((n - 1) / win)
      for (c = 2; c < half; c++) { a[w, c] += $c; b[w, c] += $(c + half); m[c] += ($c < 0 ? -$c : $c) } }
    END {
      for (c = 2; c < half; c++) {
        if (m[c] == 0 || index(" " cols " ", " " name[c] " ") == 0) continue
        for (i = 0; i <= w; i++) {
          d = (a[i, c] - b[i, c]) / win; d = d < 0 ? -d : d
          r = d / (m[c] / n)
          if (r > worst) { worst = r; at = i * win + 1; col = name[c] }
        }
      }
      printf "  steps 1..%d, windows of %d: worst difference %.2e of the mean magnitude (from step %d, %s)\n",
        last, win, worst, at, col
      exit !(n == last && worst <= tol)
    }'
}
