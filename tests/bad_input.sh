#!/bin/bash
# Every kind of bad input is refused before any work starts: exit code 2, exactly ONE error
# line (from rank 0 of 2 ranks) naming the culprit, and no run directory left behind.
. "$DT_SRCDIR/tests/lib.sh"
good=$(beam_archive beam -seed 1)
short=$(beam_archive short -seed 1 -length 500)
nodata=$(beam_archive nodata -seed 1 -omit_data)
nan=$(beam_archive nan -seed 1 -corrupt nan:17)
echo "this is not HDF5" >"$TMP/text.h5"
checked=0

# expect_refusal WHAT EXPECTED-TEXT ARGS...: train must refuse ARGS with EXPECTED-TEXT
expect_refusal() {
  local what=$1 text=$2
  shift 2
  local run="$TMP/run-$checked"
  dt 2 train -data "$good" -run_dir "$run" -steps 5 "$@" >"$TMP/out" 2>"$TMP/err"
  local code=$?
  [ "$code" -eq 2 ] || { cat "$TMP/err"; fail "$what: exit code $code, want 2"; }
  local lines
  lines=$(grep -c 'disentangle: error:' "$TMP/err")
  [ "$lines" -eq 1 ] || { cat "$TMP/err"; fail "$what: $lines error lines, want exactly 1"; }
  grep -q -F -- "$text" "$TMP/err" || fail "$what: message lacks '$text': $(cat "$TMP/err")"
  ! grep -q -i 'traceback\|PETSC ERROR' "$TMP/err" || fail "$what: a traceback instead of one line"
  [ ! -e "$run" ] || fail "$what: run directory $run was created"
  echo "ok: $what -> $(grep 'disentangle: error:' "$TMP/err")"
  checked=$((checked + 1))
}

expect_refusal "missing archive" "/no/such/beam.h5" -data /no/such/beam.h5
expect_refusal "not an HDF5 file" "not an HDF5 file" -data "$TMP/text.h5"
expect_refusal "archive without /data" "/data" -data "$nodata"
expect_refusal "different sample shapes" "short.h5" -data "$good,$short"
expect_refusal "NaN in a sample" "sample 17" -data "$nan"
expect_refusal "batch larger than the data" "-batch" -batch 361
expect_refusal "no latents" "-latents" -latents 0
expect_refusal "lambda above 1" "-lambda" -lambda 1.5
expect_refusal "lambda below 0" "-lambda" -lambda -0.1
expect_refusal "lambda, new name, above 1" "-nashae_lambda" -nashae_lambda 2
expect_refusal "negative batch" "-batch" -batch -5
expect_refusal "steps not a number" "-steps" -steps abc
expect_refusal "unknown option" "unknown option -latent (did you mean -latents?)" -latent 4
expect_refusal "unknown method" "-method" -method vae
expect_refusal "bad widths" "-hidden" -hidden 200,x,40
expect_refusal "empty archive list entry" "-data" -data "$good,"
# ML-VAE (src/method/mlvae.c): its batches must be whole groups, its latents content + style
expect_refusal "mlvae without grouped batches" "-sampler grouped" -method mlvae -sampler iid
expect_refusal "mlvae with no style latent" "-mlvae_content" -method mlvae -latents 4 -mlvae_content 4
expect_refusal "mlvae with a Gaussian head swapped in" "-head" -method mlvae -head gaussian
expect_refusal "mlvae, batch not whole groups" "-group_size" -method mlvae -sampler grouped -batch 10 -group_size 4
# An option of another method is not an error (options files are shared between methods), but
# the run says it ignores it.
dt 1 train -data "$good" -run_dir "$TMP/foreign" -steps 2 -method ae -nashae_lambda 0.1 -progress_every 0 \
  >"$TMP/out" 2>"$TMP/err" || fail "an option of another method stopped the run: $(cat "$TMP/err")"
grep -q "note: -nashae_lambda is an option of method nashae; ignored for -method ae" "$TMP/out" "$TMP/err" ||
  fail "no note about the ignored option: $(cat "$TMP/out" "$TMP/err")"
echo "ok: an option of another method is ignored with a note"
pass "$checked kinds of bad input refused with one clear line"
