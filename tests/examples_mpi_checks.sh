# The checks of --distributed, sourced by tests/examples_test.sh --mpi (which
# provides $bin, $work with a tiny data set, "${mpiexec[@]}", fail and
# expect_exit): two ranks train what one process trains (the VAE, and the
# DCGAN, whose BatchNorm spans the ranks), rank 0 alone writes,
# a resumed run goes on, and a launcher without --distributed, ranks with
# different flags, a rank without its data and a killed rank all end the job
# with a message, within 30 seconds, the last checkpoint whole.
vae=("$bin/vae_mnist" --data "$work/data" --batch 32 --hidden 16 --latent 2)
vae_batch16=("$bin/vae_mnist" --data "$work/data" --batch 16 --hidden 16 --latent 2)
vae_no_data=("$bin/vae_mnist" --data "$work/nowhere" --batch 32 --hidden 16 --latent 2)
two=("${mpiexec[@]}" -n 2)
json_field() { sed -n "s/.*\"$1\":\\([^,}]*\\).*/\\1/p" <<<"$2"; }

alone=$("${vae[@]}" --epochs 2 | tail -n 1)
output=$("${two[@]}" "${vae[@]}" --epochs 2 --distributed --out "$work/out" --checkpoint "$work/d.ckpt" 2>&1) || fail "2 ranks: $output"
[ "$(grep -c '"model":"vae"' <<<"$output")" -eq 1 ] || fail "2 ranks should print one JSON line (rank 0's): $output"
[ "$(json_field ranks "$output")" = 2 ] || fail "the JSON line does not say 2 ranks: $output"
for f in reconstructions.png samples.png interpolation.png history.csv; do [ -s "$work/out/$f" ] || fail "2 ranks wrote no $f"; done
python3 - "$(json_field test_loss "$alone")" "$(json_field test_loss "$output")" <<'PY' || fail "2 ranks do not train what one process trains: $alone / $output"
import sys
one, two = map(float, sys.argv[1:])
sys.exit(0 if abs(one - two) <= 1e-3 * abs(one) else 1)
PY
expect_exit 0 "resumed from .* after epoch 2; training epochs 3..3" "${two[@]}" "${vae[@]}" --epochs 3 --distributed --resume "$work/d.ckpt"

# The DCGAN's BatchNorm normalizes over the global batch: two ranks train what one process trains.
# Two steps of it: a GAN on random images magnifies the two runs' different
# rounding (sums over threads or over ranks) step after step, by 6 steps up
# to 2e-3 of test_d_real; after 2 they agree within 2e-4. Statistics over
# each rank's half batch part them at once (the job stops: the ranks'
# running statistics differ).
write_set "$work/dcgan-data" train 100
write_set "$work/dcgan-data" t10k 100
dcgan=("$bin/gan_mnist" --data "$work/dcgan-data" --arch dcgan --batch 50 --noise 8 --epochs 1)
alone=$("${dcgan[@]}" | tail -n 1)
output=$("${two[@]}" "${dcgan[@]}" --distributed 2>&1) || fail "DCGAN on 2 ranks: $output"
python3 - "$(json_field train_d_loss "$alone")" "$(json_field train_d_loss "$output")" \
  "$(json_field test_d_real "$alone")" "$(json_field test_d_real "$output")" <<'PY' || fail "2 ranks do not train the DCGAN one process trains: $alone / $output"
import sys
v = list(map(float, sys.argv[1:]))
sys.exit(0 if all(abs(a - b) <= 1e-3 * abs(a) for a, b in zip(v[0::2], v[1::2])) else 1)
PY

expect_exit 1 "without --distributed" "${two[@]}" "${vae[@]}" --epochs 1
expect_exit 1 "ranks were started with different settings: --batch is '32' on rank 0, '16' on rank 1" \
  "${mpiexec[@]}" -n 1 "${vae[@]}" --epochs 1 --distributed : -n 1 "${vae_batch16[@]}" --epochs 1 --distributed

# A rank without its data, and a rank killed mid-run: the job ends, naming the rank.
tests=$(dirname "$0")
"$tests/mpi/expect_failure.sh" 30 "rank 1 of 2: .*nowhere" \
  "${mpiexec[@]}" -n 1 "${vae[@]}" --epochs 1 --distributed : -n 1 "${vae_no_data[@]}" --epochs 1 --distributed \
  >/dev/null ||
  fail "a rank without its data did not end the job"
"${two[@]}" "${vae[@]}" --epochs 100000 --distributed --checkpoint "$work/k.ckpt" >"$work/killed.log" 2>&1 &
launcher=$!
for _ in $(seq 300); do [ -s "$work/k.ckpt" ] && break; sleep 0.1; done
[ -s "$work/k.ckpt" ] || fail "the run to kill wrote no checkpoint: $(cat "$work/killed.log")"
victim=$(pgrep -n -f "$work/k.ckpt" | head -n 1)
kill -9 "$victim"
start=$(date +%s)
set +e
wait "$launcher"
code=$?
set -e
[ "$code" -ne 0 ] || fail "the job exited 0 after a rank was killed"
[ $(($(date +%s) - start)) -le 30 ] || fail "the job took more than 30 s to end after a rank was killed"
expect_exit 0 "resumed from" "${vae[@]}" --epochs 1 --resume "$work/k.ckpt"
