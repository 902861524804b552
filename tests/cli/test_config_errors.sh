# Each kind of config or usage error exits 2 with a message that names the key and the value.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

run print-config --config missing.yaml
expect_code 2 "missing config file"
expect_err "cannot read config file 'missing.yaml'" "missing config file"

printf 'data:\n  imbalance: 10\n' >typo.yaml
run print-config --config typo.yaml
expect_code 2 "unknown key"
expect_err "typo.yaml:2: unknown key 'data.imbalance'" "unknown key"
expect_err "did you mean 'data.imbalance_ratio'" "suggestion"

printf 'data:\n  fold: two\n' >type.yaml
run data prepare --config type.yaml
expect_code 2 "wrong type"
expect_err "type.yaml:2: data.fold must be an integer, got 'two'" "wrong type"

printf 'data:\n  label_fraction: 1.5\n' >range.yaml
run print-config --config range.yaml
expect_code 2 "out of range"
expect_err "data.label_fraction must be in (0, 1], got '1.5'" "out of range"

run print-config --set data.imbalance_ratio=0.5
expect_code 2 "--set out of range"
expect_err "--set data.imbalance_ratio=0.5: data.imbalance_ratio must be >= 1, got '0.5'" "--set range"

run print-config --set run.device=gpu0
expect_code 2 "--set bad device"
expect_err "run.device must be auto, cpu, cuda or cuda:N, got 'gpu0'" "device"

run print-config --set crest.nope=1
expect_code 2 "--set unknown key"
expect_err "unknown key 'crest.nope'" "--set unknown key"

run print-config --set data.fold
expect_code 2 "--set without ="
expect_err "expected KEY=VALUE" "--set without ="

run print-config --set model.depth=27
expect_code 2 "cross-key rule"
expect_err "model.depth must be 6n + 4" "cross-key rule"

printf 'data:\n  fold: [1\n' >syntax.yaml
run print-config --config syntax.yaml
expect_code 2 "YAML syntax"
expect_err "syntax.yaml:" "YAML syntax"

run no-such-command
expect_code 2 "unknown subcommand"

run data synth
expect_code 2 "missing required option"
expect_err "--out" "missing required option"

run --help
expect_code 0 "--help"
expect_out "print-config" "--help lists subcommands"

run data prepare --help
expect_code 0 "data prepare --help"
expect_out "--json" "data prepare --help"

run --version
expect_code 0 "--version"
expect_out "crest 0." "--version"

# A folder where a file belongs (an ifstream opens it and reads nothing): named, never read as an
# empty config or grid.
mkdir -p a_folder.yaml
run train --config a_folder.yaml --out folder_run
expect_code 2 "--config names a folder"
expect_err "a_folder.yaml': it is a folder, not a file" "--config folder message"
[ -e folder_run ] && fail "a refused --config created the run folder"
run sweep --grid a_folder.yaml --launcher local
expect_code 2 "--grid names a folder"
expect_err "a_folder.yaml: cannot read the grid file: it is a folder, not a file" "--grid folder message"

finish
