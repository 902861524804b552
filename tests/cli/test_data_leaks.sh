# Data cannot leak or go stale (#28 kind 3): exact duplicate images across test, val, labeled
# and unlabeled are refused by default (exit 2 naming the images, a count per pair of sets and
# data.duplicates) or, with data.duplicates: drop, left out and recorded; the decode cache never
# serves the pixels of a file replaced with its size and mtime kept; a file of a finished
# generation that a resume reads back (pseudo_labels.csv, selection.json, summary.json) is
# checked against what generation.json recorded; a split manifest with a field of the wrong type
# or changed indices is refused naming the file and the key.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
TINY="$SRC/tests/cli/tiny.yaml"

# edit_json FILE PYTHON: runs PYTHON with the parsed FILE as `j`, writes `j` back.
edit_json() {
  python3 - "$1" "$2" <<'EOF'
import json, sys
path, code = sys.argv[1], sys.argv[2]
j = json.load(open(path))
exec(code)
open(path, "w").write(json.dumps(j, indent=1))
EOF
}

# expect_no_raw_json_error DESCRIPTION: no nlohmann exception text reached the user.
expect_no_raw_json_error() {
  grep -qF "json.exception" "$ERR" && fail "$1: a raw json.exception reached the user"
  return 0
}

# ---- exact duplicates across the sets ------------------------------------------------------------
run data synth --format folder --out own --classes 4 --train-per-class 30 --test-per-class 8 \
  --imbalance-ratio 3 --unlabeled-per-class 20 --seed 3
expect_code 0 "data synth --format folder"
OWN=(--config "$TINY" --set data.dataset=folder --set data.protocol=as_is)

run data prepare "${OWN[@]}" --set data.root=own --set run.out_dir=clean
expect_code 0 "a folder without duplicates"
grep -q '"found": 0' clean/split_manifest.json || fail "the manifest records the check (found 0)"

# nth DIR K: the K-th file of DIR (0-based, sorted) relative to own/.
nth() { local files=("$1"/*); echo "${files[$2]#*/}"; }
t_disc0=$(nth own/test/disc 0) t_disc1=$(nth own/test/disc 1) t_square=$(nth own/test/square 2)

# Test images copied into unlabeled/ (the outside report: 24 of 29 pseudo-labels were test images).
cp -r own leak1 && mkdir leak1/unlabeled/copied
cp "own/$t_disc0" "own/$t_disc1" "own/$t_square" leak1/unlabeled/copied/
run data prepare "${OWN[@]}" --set data.root=leak1 --set run.out_dir=l1
expect_code 2 "test images in unlabeled/"
expect_err "3 image(s) repeat an image of another set" "the count"
expect_err "test and unlabeled: 3 image(s) in both" "the pair of sets"
expect_err "$t_disc0 = unlabeled/copied/$(basename "$t_disc0")" "names the files in both sets"
expect_err "data.duplicates: drop" "names the key"
[ -e l1/split_manifest.json ] && fail "a refused prepare wrote a manifest"
run -q train "${OWN[@]}" --set data.root=leak1 --out t1
expect_code 2 "train refuses the same data"
expect_err "test and unlabeled: 3 image(s) in both" "train names the pair of sets"
[ -e t1/config.yaml ] && fail "the refused run left a config.yaml"

# Other ways to duplicate: a test image under another name in train/ (test vs labeled), a training
# image in unlabeled/ (labeled vs unlabeled), the test folder copied as val/ (test vs val), a val
# image in train/ (val vs labeled).
t_ring=$(nth own/test/ring 3) l_tri=$(nth own/train/triangle 1)
cp -r own leak2 && cp "own/$t_ring" leak2/train/ring/renamed.png
run data prepare "${OWN[@]}" --set data.root=leak2 --set run.out_dir=l2
expect_code 2 "a test image in train/"
expect_err "test and labeled: 1 image(s) in both: $t_ring = train/ring/renamed.png" "names both files"
cp -r own leak3 && cp "own/$l_tri" leak3/unlabeled/part_0/again.png
run data prepare "${OWN[@]}" --set data.root=leak3 --set run.out_dir=l3
expect_code 2 "a training image in unlabeled/"
expect_err "labeled and unlabeled: 1 image(s) in both: $l_tri = unlabeled/part_0/again.png" \
  "names both files"
cp -r own leak4 && cp -r own/test leak4/val
run data prepare "${OWN[@]}" --set data.root=leak4 --set run.out_dir=l4
expect_code 2 "the test folder copied as val/"
expect_err "test and val: 32 image(s) in both" "counts the val copies"
run data synth --format folder --out valsrc --classes 4 --train-per-class 2 --test-per-class 3 \
  --seed 11
v_disc=$(nth valsrc/test/disc 0)
cp -r own leak5 && cp -r valsrc/test leak5/val && cp "valsrc/$v_disc" leak5/train/disc/v.png
run data prepare "${OWN[@]}" --set data.root=leak5 --set run.out_dir=l5
expect_code 2 "a val image in train/"
expect_err "val and labeled: 1 image(s) in both: val/${v_disc#test/} = train/disc/v.png" "names both"

# data.unlabeled_root holding the test images of CIFAR binaries (the same synthetic seed writes
# the same pixels as PNG files), and a test record copied into a training batch.
run data synth --out c10 --classes 4 --train-per-class 30 --test-per-class 8 --seed 3
expect_code 0 "data synth CIFAR layout"
C10=(--config "$TINY" --set data.dataset=cifar10 --set data.root=c10)
run data prepare "${C10[@]}" --set data.unlabeled_root=own/test --set run.out_dir=l6
expect_code 2 "data.unlabeled_root holding the CIFAR test images"
expect_err "test and unlabeled: 32 image(s) in both: test index" "names the test indices"
expect_err "= own/test/" "names the unlabeled files"
cp -r c10 c10leak
dd if=c10/test_batch.bin of=c10leak/data_batch_1.bin bs=1 skip=$((3 * 3073 + 1)) \
  seek=$((2 * 3073 + 1)) count=3072 conv=notrunc status=none
run data prepare "${C10[@]}" --set data.root=c10leak --set data.protocol=as_is \
  --set crest.mode=fixmatch --set run.out_dir=l7
expect_code 2 "a test record inside a training batch"
expect_err "test and labeled: 1 image(s) in both: test index 3 = train index 2" "names the indices"

# data.duplicates: drop leaves out the later copies, says how many and records them.
cp -r leak1 leak8 && cp "own/$l_tri" leak8/unlabeled/part_0/again.png
run data prepare "${OWN[@]}" --set data.root=leak8 --set data.duplicates=drop --set run.out_dir=l8 --json
expect_code 0 "data.duplicates: drop"
expect_err "left out 4 image(s)" "the log says how many"
python3 - l8/split_manifest.json <<'EOF' || fail "the manifest records what was dropped"
import json, sys
m = json.load(open(sys.argv[1]))
d = m["duplicates"]
assert d["policy"] == "drop" and d["found"] == 4, d
assert d["dropped"] == {"unlabeled": 4}, d
assert all(f.startswith("unlabeled/") for f in d["dropped_images"]["unlabeled"]), d
assert not any(f.startswith("unlabeled/copied/") for f in m["unlabeled_files"]), "copies kept"
EOF
run data prepare "${OWN[@]}" --set data.root=leak4 --set data.duplicates=drop --set run.out_dir=l9
expect_code 0 "drop with the test folder as val/"
expect_err "left out 32 image(s)" "every val copy left out"
run data prepare "${OWN[@]}" --set data.root=own --set data.duplicates=keep --set run.out_dir=l10
expect_code 2 "an unknown data.duplicates"
expect_err "data.duplicates must be one of refuse or drop, got 'keep'" "lists the choices"

# ---- the decode cache: a file replaced with its size and mtime kept ------------------------------
cp -r own cached
run data prepare "${OWN[@]}" --set data.root=cached --set data.cache=cacheA --set run.out_dir=c1
expect_code 0 "prepare with a cache"
python3 - cached/train/disc <<'EOF' || fail "could not replace a file keeping its size and mtime"
import os, struct, sys, zlib
d = sys.argv[1]
files = sorted(os.path.join(d, f) for f in os.listdir(d))
big = max(files, key=os.path.getsize)
other = next(f for f in files if os.path.getsize(big) - os.path.getsize(f) >= 14)
st = os.stat(big)
data = open(other, "rb").read()
# Another picture, padded to the same size with a tEXt chunk before its IEND chunk.
text = b"k\0" + b"x" * (st.st_size - len(data) - 14)
pad = struct.pack(">I", len(text)) + b"tEXt" + text + struct.pack(">I", zlib.crc32(b"tEXt" + text))
open(big, "wb").write(data[:-12] + pad + data[-12:])
os.utime(big, ns=(st.st_atime_ns, st.st_mtime_ns))
assert os.path.getsize(big) == st.st_size and os.stat(big).st_mtime_ns == st.st_mtime_ns
EOF
run data prepare "${OWN[@]}" --set data.root=cached --set data.cache=cacheA --set run.out_dir=c2
expect_code 0 "prepare again with the cache"
expect_err "1 decoded" "the replaced file is decoded again"
run data prepare "${OWN[@]}" --set data.root=cached --set data.cache=off --set run.out_dir=c3
expect_code 0 "prepare without a cache"
fingerprint() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["source"]["train_fingerprint"])' "$1"; }
[ "$(fingerprint c2/split_manifest.json)" = "$(fingerprint c3/split_manifest.json)" ] ||
  fail "the cache served other pixels than a fresh decode"
[ "$(fingerprint c1/split_manifest.json)" != "$(fingerprint c2/split_manifest.json)" ] ||
  fail "the replaced file did not change the pixels (the check would not see a stale cache)"

# ---- files between generations -------------------------------------------------------------------
run -q train --config "$TINY" --out r
expect_code 0 "a two-generation run"
cp -r r ok && run -q train --config "$TINY" --out ok --resume
expect_code 0 "an untouched finished run resumes"

# resume_refused NAME DESCRIPTION TEXT: `train --resume` of copy NAME exits 2 with TEXT.
resume_refused() {
  run -q train --config "$TINY" --out "$1" --resume
  expect_code 2 "$2"
  expect_err "$3" "$2: the message"
}
rows=$(($(wc -l <r/gen_0/pseudo_labels.csv) - 1))
[ "$rows" -gt 3 ] || fail "generation 0 selected only $rows images"

# The outside report: pseudo_labels.csv cut, then --resume in the next generation.
cp -r r cut && head -4 r/gen_0/pseudo_labels.csv >cut/gen_0/pseudo_labels.csv
rm cut/gen_1/generation.json
resume_refused cut "pseudo_labels.csv cut to 3 rows" "gen_0/pseudo_labels.csv has 3 pseudo-labels, but"
expect_err "gen_0/selection.json says $rows were selected" "names the count recorded"
expect_err "put the originals back, or start a new run folder" "says what to do"
cp -r r relabel && python3 - relabel/gen_0/pseudo_labels.csv <<'EOF'
import sys
lines = open(sys.argv[1]).read().splitlines()
f = lines[1].split(",")
f[1] = str((int(f[1]) + 1) % 4)  # another class, the same length
lines[1] = ",".join(f)
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
EOF
resume_refused relabel "a pseudo-label changed in place" "pseudo-labels of class"
# A change that every check of the contents lets through: a confidence, the same length.
cp -r r conf && python3 - conf/gen_0/pseudo_labels.csv <<'EOF'
import sys
text = open(sys.argv[1]).read()
i = text.index("0.", text.index("\n") + 1) + 2
open(sys.argv[1], "w").write(text[:i] + ("1" if text[i] != "1" else "2") + text[i + 1:])
EOF
resume_refused conf "a confidence changed in place" "gen_0/pseudo_labels.csv changed after generation 0 finished"
expect_err "put the original file back, or start a new run folder" "says what to do"
cp -r r nosel && rm nosel/gen_0/selection.json
resume_refused nosel "selection.json deleted" "gen_0/selection.json is missing"
cp -r r seledit && edit_json seledit/gen_0/selection.json 'j["alpha"] = 0.5'
resume_refused seledit "selection.json edited" "gen_0/selection.json changed after generation 0 finished"
cp -r r sumedit && echo " " >>sumedit/gen_0/summary.json
resume_refused sumedit "the generation's summary.json edited" "gen_0/summary.json changed"
# A run of an older crest (no fingerprints in generation.json): the counts in selection.json.
cp -r r older && edit_json older/gen_0/generation.json 'j.pop("files")'
head -4 r/gen_0/pseudo_labels.csv >older/gen_0/pseudo_labels.csv
resume_refused older "a cut pseudo_labels.csv without fingerprints" "has 3 pseudo-labels, but"
cp -r r older2 && edit_json older2/gen_0/generation.json 'j.pop("files")'
edit_json older2/gen_0/selection.json 'j["selected_total"] += 1'
resume_refused older2 "selection.json counting another total" "were selected"
cp -r r older_ok && edit_json older_ok/gen_0/generation.json 'j.pop("files")'
run -q train --config "$TINY" --out older_ok --resume
expect_code 0 "a run without fingerprints but with matching files resumes"
cp -r r badfp && edit_json badfp/gen_0/generation.json 'j["files"]["pseudo_labels.csv"]["bytes"] = "many"'
resume_refused badfp "a fingerprint of the wrong type" "'bytes'"

# ---- evaluate on another set: not on images the run trained on --------------------------------
# tiny.yaml's synthetic data written as CIFAR binaries (the same generator and seed); a test set
# made of its training records holds images the run trained on.
run data synth --out s0 --classes 4 --train-per-class 60 --test-per-class 20
expect_code 0 "synth the run's own data"
run evaluate r --set data.dataset=cifar10 --set data.root=s0 --json
expect_code 0 "evaluate on the run's test images as CIFAR binaries"
cp -r s0 s0x && cp s0/data_batch_1.bin s0x/test_batch.bin
run evaluate r --set data.dataset=cifar10 --set data.root=s0x
expect_code 2 "evaluate on images the run trained on"
expect_err "of the evaluation set cifar10-test are images the run trained on" "says why"
expect_err "= index " "names the evaluation images"
# The same records as PNG files in class folders: evaluate --folder.
python3 - s0/data_batch_1.bin heldout <<'EOF' || fail "could not write PNGs"
import os, struct, sys, zlib
data, out = open(sys.argv[1], "rb").read(), sys.argv[2]
names = open("s0/batches.meta.txt").read().split()
def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
def png(path, planes):  # 32x32 RGB from CIFAR's R, G, B planes
    rows = b"".join(b"\0" + bytes(planes[p * 1024 + y * 32 + x] for x in range(32) for p in range(3))
                    for y in range(32))
    head = struct.pack(">IIBBBBB", 32, 32, 8, 2, 0, 0, 0)
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", head) +
                           chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
for r in range(8):
    record = data[r * 3073:(r + 1) * 3073]
    os.makedirs(os.path.join(out, names[record[0]]), exist_ok=True)
    png(os.path.join(out, names[record[0]], "%d.png" % r), record[1:])
EOF
run evaluate r --folder heldout
expect_code 2 "evaluate --folder on training images as PNG files"
expect_err "of the evaluation set heldout are images the run trained on" "names the folder"

# ---- split_manifest.json: types and changed indices ----------------------------------------------
# manifest_refused NAME PYTHON TEXT DESCRIPTION: edits r's manifest in copy NAME; resume exits 2
# naming the manifest and TEXT, with no raw JSON exception.
manifest_refused() {
  cp -r r "$1" && edit_json "$1/split_manifest.json" "$2"
  run -q train --config "$TINY" --out "$1" --resume
  expect_code 2 "$4"
  expect_err "$1/split_manifest.json" "$4: names the file"
  expect_err "$3" "$4: names the key"
  expect_no_raw_json_error "$4"
}
manifest_refused m1 'j["format"] = 5' "'format' is 5" "format a number"
manifest_refused m2 'j["version"] = "1"' "'version' \"1\"" "version a string"
manifest_refused m3 'j["version"] = 2' "'version' 2" "another version"
manifest_refused m4 'j["labeled_indices"][0] = "x"' "'labeled_indices'" "an index of the wrong type"
manifest_refused m5 'j["unlabeled_indices"][0] = -4' "'unlabeled_indices'" "a negative index"
manifest_refused m6 'j["classes"] = [1, 2]' "'classes'" "classes of the wrong type"
manifest_refused m7 'j["source"] = [1]' "'source'" "source not an object"
manifest_refused m8 'j["source"]["train_size"] = "big"' "'train_size'" "a size of the wrong type"
manifest_refused m9 'j["unlabeled_indices"][0] = j["labeled_indices"][0]' \
  "unlabeled_indices: 1 of" "a changed unlabeled index"
expect_err "describes another split" "says the split differs"
manifest_refused m10 'j["unlabeled_indices"].pop()' "unlabeled_indices: " "an unlabeled index removed"
manifest_refused m11 'j["settings"]["fold"] = 7' "settings.fold: stored 7, now 1" "a changed setting"
manifest_refused m12 'j["labeled_counts"][0] += 1' "labeled_counts: " "a changed count"
manifest_refused m13 'j["duplicates"]["found"] = 2' "duplicates.found: stored 2, now 0" \
  "a changed duplicates record"
# A manifest of an older crest has no duplicates record: that part is not compared.
cp -r r m0 && edit_json m0/split_manifest.json 'j.pop("duplicates")'
run -q train --config "$TINY" --out m0 --resume
expect_code 0 "a manifest without the duplicates record (an older crest) resumes"
# The manifest as another command reads it: evaluate (its class names) and data prepare.
cp -r r m14 && edit_json m14/split_manifest.json 'j["format"] = 5'
run evaluate m14
expect_code 2 "evaluate with a manifest of the wrong format"
expect_err "m14/split_manifest.json" "evaluate names the file"
expect_no_raw_json_error "evaluate"
run data prepare --config "$TINY" --set run.out_dir=m14
expect_code 2 "data prepare over a manifest of the wrong format"
expect_no_raw_json_error "data prepare"
cp -r r m15 && edit_json m15/gen_1/execution.json 'j["format"] = 5' && rm m15/gen_1/generation.json
run -q train --config "$TINY" --out m15 --resume
expect_code 2 "execution.json with a format of the wrong type"
expect_err "m15/gen_1/execution.json" "names the execution record"
expect_no_raw_json_error "execution.json"

finish
