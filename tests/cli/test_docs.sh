# Every crest command in README.md and docs/*.md names a real subcommand, real flags, existing
# repository files and --set overrides crest accepts (tests/cli/check_docs.py). The checker is
# first shown to fail on docs that are wrong in each of those ways.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
CHECK="$SRC/tests/cli/check_docs.py"
# Each distinct --help and print-config of the checker runs once across its calls below.
export CHECK_DOCS_CACHE="$WORK/check-docs-cache"

# check_bad NAME TEXT EXPECTED: a doc holding the command TEXT fails with EXPECTED in the output.
check_bad() {
  printf '# doc\n\n```sh\n%s\n```\n' "$2" >"$1.md"
  "$PY" "$CHECK" "$CREST" "$SRC" "$1.md" >"$OUT" 2>"$ERR"
  CODE=$?
  expect_code 1 "checker on a doc with $1"
  expect_out "$3" "checker on a doc with $1"
}
check_bad unknown-subcommand "crest trian --config configs/quickstart.yaml" "is not a subcommand"
check_bad unknown-flag "build/crest train --config configs/quickstart.yaml --outdir x" "has no flag '--outdir'"
check_bad misplaced-global "crest --resume train" "is not a global flag"
check_bad missing-config "crest train --config configs/no-such-preset.yaml" "no such file"
check_bad missing-grid "crest sweep --grid sweeps/nope.yaml --launcher local" "no such file"
check_bad bad-key "crest train --set data.imbalnce_ratio=10" "--set overrides are refused"
check_bad bad-value "crest train --config configs/cifar10lt.yaml --set data.label_fraction=1.5" "--set overrides are refused"
check_bad missing-script "scripts/no_such_script.sh data && crest report runs/x" "no such file"
check_bad after-pipe "ls | crest evaluate runs/x --no-such-flag" "has no flag '--no-such-flag'"
check_bad continuation "crest train \\
  --bogus 1" "has no flag '--bogus'"

# Links: a missing file, a missing heading (in another file and in the same one).
printf '# doc\n\n## Real heading\n\nSee [x](no-such-page.md).\n' >link1.md
"$PY" "$CHECK" "$CREST" "$SRC" link1.md >"$OUT" 2>"$ERR"; CODE=$?
expect_code 1 "link to a missing file"
expect_out "link to no-such-page.md: no such file" "link to a missing file"
printf '# doc\n\n## Real heading\n\nSee [x](link1.md#real-heading), [y](#real-heading), [z](link1.md#fake).\n' >link2.md
"$PY" "$CHECK" "$CREST" "$SRC" link2.md >"$OUT" 2>"$ERR"; CODE=$?
expect_code 1 "link to a missing heading"
expect_out "link to link1.md#fake: no such heading" "link to a missing heading"
grep -q "real-heading" "$OUT" && fail "a link to an existing heading was reported"

# Not commands: a block without a language, and text after a comment sign, are not checked.
printf '# doc\n\n```\ncrest trian [--bogus]\n```\n\n```sh\ncrest report runs/x  # --bogus\n```\n' >ok.md
"$PY" "$CHECK" "$CREST" "$SRC" ok.md >"$OUT" 2>"$ERR"
CODE=$?
expect_code 0 "synopsis blocks and comments are not checked"
expect_out "1 crest commands" "one command counted"

# Marked blocks are run: one that fails is reported with its file and line; unmarked ones are not.
printf '# doc\n\n```sh\nexit 3\n```\n\n<!-- check: run -->\n```sh\ncrest print-config >cfg.yaml\ntest -s cfg.yaml\n```\n\n<!-- check: run -->\n```sh\ncrest print-config --config configs/nope.yaml\n```\n' >runme.md
"$PY" "$CHECK" --run "$CREST" "$SRC" "$WORK/run-bad" runme.md >"$OUT" 2>"$ERR"; CODE=$?
expect_code 1 "a marked block that fails"
expect_out "runme.md:15: the block failed (exit 2)" "the failing block named"
[ -s "$WORK"/run-bad/runme_md/cfg.yaml ] || fail "the first marked block did not run in the work folder"

# The real docs: every command checked, every marked block run.
"$PY" "$CHECK" "$CREST" "$SRC" >"$OUT" 2>"$ERR"
CODE=$?
expect_code 0 "every command in README.md and docs/*.md"
"$PY" "$CHECK" --run "$CREST" "$SRC" "$WORK/run" >"$OUT" 2>"$ERR"
CODE=$?
expect_code 0 "the marked blocks of README.md and docs/*.md"
expect_out "docs/own-data.md: 1 block(s), exit 0" "own-data.md's walkthrough ran"
finish
