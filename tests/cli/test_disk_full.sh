#!/usr/bin/env bash
# A full disk during a run: exit 1 naming the file, nothing written before is lost, no temporary
# is left behind, and --resume finishes the run once there is space again. Stale temporaries of
# a write that was cut short are removed on resume. Needs a small tmpfs (root with mount rights);
# without one the test is reported as skipped (exit 77), never as passed.
source "$(dirname "$0")/lib.sh" "$@"

mkdir disk
if ! mount -t tmpfs -o size=16m tmpfs disk 2>/dev/null; then
  echo "SKIP: cannot mount a tmpfs here (needs root with mount rights)"
  exit 77
fi
trap 'umount "$WORK/disk" 2>/dev/null; rm -rf "$WORK"' EXIT

temporaries() { find disk -name '*.tmp*' | sort; }

# Fill the disk, then free 64 KiB: enough for the config, the log and the manifest, not for the
# first checkpoint (about a megabyte for WRN-10-1 with EMA and momentum).
dd if=/dev/zero of=disk/filler bs=64k 2>/dev/null
truncate -s -65536 disk/filler
run train --config "$SRC/tests/cli/tiny.yaml" --out disk/run
expect_code 1 "training onto a full disk"
expect_err "cannot write" "the message says a write failed"
expect_err "disk/run/" "the message names the file"
expect_err "No space left on device" "the message gives the reason"
expect_err "is intact" "the message says the last checkpoint is intact"
expect_err "--resume" "the message says how to continue"
grep -q "terminate called\|Aborted\|Stack trace" "$ERR" && fail "a raw crash instead of a message"
[ -z "$(temporaries)" ] || fail "temporaries left behind: $(temporaries)"
[ -f disk/run/config.yaml ] || fail "config.yaml written before the failure is gone"

# Space again; a temporary from a cut-short write, as a kill leaves one; resume finishes.
rm -f disk/filler
printf 'half' > disk/run/split_manifest.json.tmp.4242
run train --config "$SRC/tests/cli/tiny.yaml" --out disk/run --resume
expect_code 0 "resume after freeing space"
[ -f disk/run/summary.json ] || fail "the resumed run did not finish"
[ -z "$(temporaries)" ] || fail "temporaries left after the resume: $(temporaries)"
grep -q "split_manifest.json.tmp.4242" disk/run/crest.log || fail "the log does not say what was removed"

# A full disk at the end of a generation (after its checkpoints): still exit 1, and the
# generation's checkpoint survives for the resume.
run train --config "$SRC/tests/cli/tiny.yaml" --out disk/run2 --set crest.generations=1
expect_code 0 "a one-generation run with space"
rm disk/run2/summary.json disk/run2/gen_0/generation.json
dd if=/dev/zero of=disk/filler bs=64k 2>/dev/null
run train --config "$SRC/tests/cli/tiny.yaml" --out disk/run2 --set crest.generations=1 --resume
expect_code 1 "resume onto a full disk"
[ -z "$(temporaries)" ] || fail "temporaries left behind: $(temporaries)"
[ -f disk/run2/gen_0/checkpoint.pt ] || fail "the checkpoint was lost"
rm -f disk/filler
run train --config "$SRC/tests/cli/tiny.yaml" --out disk/run2 --set crest.generations=1 --resume
expect_code 0 "resume after freeing space again"

finish
