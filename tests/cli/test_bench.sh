# crest bench on the CPU with a tiny config: the table, the JSON, and bad options.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
TINY="$SRC/tests/cli/tiny.yaml"

run -q bench --config "$TINY" --steps 4 --warmup 1 --windows 2
expect_code 0 "bench table"
expect_out "(a) training step" "table row (a)"
expect_out "(b) full step" "table row (b)"
expect_out "(c) pseudo-labelling" "table row (c)"
expect_out "(d) peak memory" "table row (d)"
expect_out "sgd foreach, channels_last off, cuda graph off" "how the step ran (CPU defaults)"

run -q bench --config "$TINY" --steps 2 --warmup 0 --windows 1 --set train.sgd=loop \
  --set train.channels_last=on
expect_code 0 "bench with the fast-path keys set"
expect_out "sgd loop, channels_last on" "the fast-path keys reach the step"

run -q bench --config "$TINY" --steps 2 --set train.cuda_graph=on
expect_code 2 "cuda_graph=on on the CPU"
expect_err "train.cuda_graph=on needs a CUDA device" "cuda_graph=on message"

run -q bench --config "$TINY" --steps 4 --warmup 1 --windows 2 --json
expect_code 0 "bench json"
[ "$(wc -l <"$OUT")" -eq 1 ] || fail "--json prints one line"
for key in train_step_per_sec full_step_per_sec pseudo_label_images_per_sec peak_memory_bytes; do
  grep -q "\"$key\":[0-9]" "$OUT" || fail "JSON lacks a positive $key"
done
grep -q '"fast_path":{[^}]*"sgd":"foreach"' "$OUT" || fail "JSON lacks fast_path.sgd"

run -q bench --config "$TINY" --steps 0
expect_code 2 "--steps 0"
expect_err "--steps >= 1" "--steps 0 message"

finish
