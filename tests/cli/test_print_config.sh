# crest print-config: resolved YAML that reads back, --set, --defaults, presets.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

run print-config
expect_code 0 "print-config on the embedded quickstart"
expect_out "dataset: synthetic" "embedded quickstart"
cp "$OUT" first.yaml

run print-config --config first.yaml
expect_code 0 "printed config reads back"
cmp -s first.yaml "$OUT" || fail "printing the printed config changed it"

run print-config --config "$SRC/configs/cifar10lt.yaml" --set data.fold=3 --set crest.mode=crest
expect_code 0 "preset with overrides"
expect_out "fold: 3" "--set data.fold"
expect_out "mode: crest" "--set crest.mode"
expect_out "imbalance_ratio: 100.0" "preset value"

run print-config --defaults
expect_code 0 "--defaults"
cmp -s "$SRC/configs/defaults.yaml" "$OUT" || fail "configs/defaults.yaml differs from --defaults"

# Every preset in configs/ and every grid in sweeps/ is valid (a grid's every point resolves).
for preset in "$SRC"/configs/*.yaml; do
  run print-config --config "$preset"
  expect_code 0 "preset $(basename "$preset")"
done
for grid in "$SRC"/sweeps/*.yaml; do
  run sweep --grid "$grid" --launcher local --dry-run
  expect_code 0 "sweep grid $(basename "$grid") (dry run)"
done

finish
