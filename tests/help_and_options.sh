#!/bin/bash
# -help lists every option the program reads (the option tables in src/run/run.c, src/method/*.c, ...),
# options files and PETSc's own options work, bad commands are refused.
. "$DT_SRCDIR/tests/lib.sh"
for pair in train:run/run.c eval:driver/eval.c report:driver/report_command.c; do
  command=${pair%%:*} source="$DT_SRCDIR/src/${pair##*:}"
  "$DT_BIN" "$command" -help >"$TMP/help" || fail "$command -help exited $?"
  options=$(sed -n 's/^ *{"\(-[a-z_]*\)", OPT_.*/\1/p' "$source")
  [ "$(echo "$options" | wc -l)" -ge 1 ] || fail "could not read the option table of $command"
  for o in $options; do
    grep -q -- "^  $o .*(default: " "$TMP/help" || fail "$command -help does not list $o with its default"
  done
  echo "ok: $command -help lists all $(echo "$options" | wc -w) options with defaults"
done
# every method's own options (its table in src/method/NAME.c) are listed by train -help too
"$DT_BIN" train -help >"$TMP/help"
for source in "$DT_SRCDIR"/src/method/*.c; do
  for o in $(sed -n 's/^ *{"\(-[a-z_]*\)", OPT_.*/\1/p' "$source"); do
    grep -q -- "^  $o .*(default: " "$TMP/help" || fail "train -help does not list $o of $(basename "$source")"
  done
done
grep -q -- "^  -nashae_lambda .*also -lambda" "$TMP/help" || fail "train -help does not list -nashae_lambda with its alias"
echo "ok: train -help lists the options of every method"

"$DT_BIN" >/dev/null 2>&1 && fail "no command must be an error"
"$DT_BIN" frobnicate 2>"$TMP/err" && fail "unknown command accepted"
grep -q "unknown command 'frobnicate'" "$TMP/err" || fail "unknown command message: $(cat "$TMP/err")"
"$DT_BIN" -help | grep -q train || fail "top-level -help does not list train"

data=$(beam_archive beam -seed 1)
printf -- '-method ae\n# a comment\n-steps 7\n-latents 3\n' >"$TMP/run.opts"
dt 1 train -options_file "$TMP/run.opts" -data "$data" -run_dir "$TMP/r" -progress_every 0 -log_view \
  >"$TMP/out" 2>"$TMP/err" || fail "train with -options_file and -log_view: $(cat "$TMP/err")"
[ "$(($(wc -l <"$TMP/r/history.csv") - 1))" -eq 7 ] || fail "-steps from the options file not used"
grep -q '"latents": 3' "$TMP/r/summary.json" || fail "-latents from the options file not used"
grep -q '"method": "ae"' "$TMP/r/summary.json" || fail "-method from the options file not used"
grep -q 'Train' "$TMP/out" || fail "-log_view printed no Train stage"
pass "options file, PETSc -log_view"
