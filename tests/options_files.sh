#!/bin/bash
# Options files and the command line, as users get them wrong: every problem is ONE line naming the
# file and line (or the stray word), exit 2, no run directory; a byte order mark is skipped, nested
# files work, the command line wins over a file wherever it stands, and a FIFO does not block.
. "$DT_SRCDIR/tests/lib.sh"
data=$(beam_archive beam -seed 1)
n=0

# refuse WHAT TEXT ARGS...: train must stop with exit 2, one error line containing TEXT, no run dir
refuse() {
  local what=$1 text=$2
  shift 2
  local run="$TMP/run-$n"
  n=$((n + 1))
  timeout 60 "$MPIEXEC" -n 2 --oversubscribe "$DT_BIN" train -data "$data" -run_dir "$run" -steps 3 "$@" \
    >"$TMP/out" 2>"$TMP/err"
  local code=$?
  [ "$code" -eq 2 ] || { cat "$TMP/out" "$TMP/err"; fail "$what: exit $code, want 2"; }
  [ "$(grep -c 'disentangle: error:' "$TMP/err")" -eq 1 ] || { cat "$TMP/err"; fail "$what: not exactly one error line"; }
  grep -q -F -- "$text" "$TMP/err" || fail "$what: message lacks '$text': $(cat "$TMP/err")"
  ! grep -q -i 'traceback\|PETSC ERROR' "$TMP/err" || fail "$what: a traceback"
  [ ! -e "$run" ] || fail "$what: the run directory was created"
  echo "ok: $what -> $(grep 'disentangle: error:' "$TMP/err")"
}

f=$TMP/opts
printf -- '-steps 3\nthis is not an option\n' >"$f.garbage"
refuse "a garbage line" "'$f.garbage' line 2: 'this' is not an option" -options_file "$f.garbage"
printf -- '-steps 3 -batch 10\n' >"$f.two"
refuse "two options on a line" "'$f.two' line 1: 2 options on one line" -options_file "$f.two"
printf -- '-run_dir /tmp/a b\n' >"$f.space"
refuse "a value with a space" "'$f.space' line 1: '-run_dir' is followed by 2 words" -options_file "$f.space"
head -c 3000 /dev/urandom >"$f.random"
refuse "random bytes" "'$f.random' line " -options_file "$f.random"
grep -q -a -P '[^\x09\x0a\x20-\x7e]' "$TMP/err" && fail "random bytes were printed back"
mkdir "$f.dir"
refuse "a directory" "'$f.dir': it is a directory" -options_file "$f.dir"
refuse "a missing file" "'$f.missing': No such file or directory" -options_file "$f.missing"
printf -- '-steps 3\n\0-batch 10\n' >"$f.nul"
refuse "a NUL byte at a line's start" "'$f.nul' line 2: a control byte 0x00 (NUL)" -options_file "$f.nul"
printf -- '-steps 3\n-options_file %s\n' "$f.self" >"$f.self"
refuse "a file that includes itself" "it includes itself" -options_file "$f.self"
printf -- '-options_file %s\n' "$f.b" >"$f.a"
printf -- '-options_file %s\n' "$f.a" >"$f.b"
refuse "two files that include each other" "it includes itself" -options_file "$f.a"
mkfifo "$f.fifo"
refuse "a FIFO (must not block)" "'$f.fifo': it is not a regular file" -options_file "$f.fifo"
refuse "a stray word on the command line" "'0' after -batch is neither an option nor its value" -batch 50 0
refuse "a mistyped PETSc option" "unknown option -log_viwe (did you mean -log_view?)" -log_viwe
refuse "-log_view into a missing directory" "option -log_view: cannot write '/no/dir/x.txt'" -log_view :/no/dir/x.txt

# What must work: a byte order mark, comments, a nested file (relative to the including file), and
# the command line winning over the file whether it comes before or after -options_file.
mkdir "$TMP/sub"
printf '\xEF\xBB\xBF# made on Windows\n-steps 9   # trailing comment\n-options_file inner.opts\n' >"$TMP/sub/outer.opts"
printf -- '-latents 3\n-batch 40\n-method ae\n' >"$TMP/sub/inner.opts"
dt 2 train -batch 20 -options_file "$TMP/sub/outer.opts" -data "$data" -run_dir "$TMP/ok" -progress_every 0 \
  >"$TMP/out" 2>"$TMP/err" || fail "a good options file with a BOM and a nested file: $(cat "$TMP/err")"
[ "$(($(wc -l <"$TMP/ok/history.csv") - 1))" -eq 9 ] || fail "-steps 9 from the file was not used"
[ "$(json_value "$TMP/ok/summary.json" latents)" = 3 ] || fail "-latents 3 from the nested file was not used"
[ "$(json_value "$TMP/ok/summary.json" batch)" = 20 ] || fail "the command line's -batch 20 did not win over the file"
echo "ok: BOM, comments, nested file, command line wins"

# A method option's older name on the command line wins over its new name in a file.
dt 1 train -options_file "$DT_SRCDIR/inputs/beam-nashae.opts" -lambda 0.3 -data "$data" -run_dir "$TMP/alias" -steps 2 \
  -progress_every 0 >/dev/null 2>"$TMP/err" || fail "-lambda on the command line with -nashae_lambda in a file: $(cat "$TMP/err")"
"$DT_BIN" inspect "$TMP/alias/model.h5" | grep -q -- "-nashae_lambda 0.29999" || fail "-lambda 0.3 did not win over the file"
echo "ok: -lambda on the command line wins over -nashae_lambda in a file"
pass "options files: $n kinds of bad input refused with one line, good files read"
