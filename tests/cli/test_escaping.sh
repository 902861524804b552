# #28 kind 6: user strings are escaped for the format they land in. A folder dataset whose class
# names hold '|', a line break, HTML (a folder name cannot hold '/', so an unclosed <script>), a
# comma and quotes, an entity and a tab goes
# through train (CSV, JSON, TensorBoard, log), report (HTML/SVG), summarize (Markdown, CSV) and
# evaluate; every output parses with its own format's reader. A non-UTF-8 class folder is refused.
# Then a sweep stopped by SIGTERM at each moment (setup, a point about to start, a point just
# started, between points) ends as a stop (exit 130, resumable), never as a failed point.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
TINY="$SRC/tests/cli/tiny.yaml"
PY=/usr/bin/python3

run data synth --format folder --out nasty --classes 6 --train-per-class 24 --test-per-class 6 \
  --imbalance-ratio 2 --seed 5
expect_code 0 "data synth --format folder"
# The six class names (the folders keep their sorted order by a numeric prefix).
names=$'0 a|b\n1 line\nbreak\n2 <script>alert(1)\n3 comma,"quote"\n4 &amp;\n5 tab\there'
$PY - nasty "$names" <<'PYEOF' || fail "renaming the class folders"
import os, sys
root, names = sys.argv[1], sys.argv[2]
wanted = []
for item in names.split("\n"):
    if item[:1].isdigit() and (len(item) < 2 or item[1] == " "):
        wanted.append(item)
    else:
        wanted[-1] += "\n" + item
for split in ("train", "test"):
    old = sorted(os.listdir(os.path.join(root, split)))
    for o, n in zip(old, wanted):
        os.rename(os.path.join(root, split, o), os.path.join(root, split, n))
PYEOF
# One generation of FixMatch on the labeled set (no unlabeled folder), TensorBoard on.
run -q train --config "$TINY" --set data.dataset=folder --set data.root=nasty \
  --set data.protocol=as_is --set crest.mode=fixmatch --set crest.generations=1 \
  --set run.tensorboard=true --out r
expect_code 0 "train on classes with nasty names"

# CSV files of the run read back with Python's csv module: one row per class, the names exact.
$PY - r "$names" <<'PYEOF' || fail "the run's CSV files do not read back exactly"
import csv, sys, glob
run, names = sys.argv[1], sys.argv[2]
wanted = []
for item in names.split("\n"):
    if item[:1].isdigit() and (len(item) < 2 or item[1] == " "):
        wanted.append(item)
    else:
        wanted[-1] += "\n" + item
for name in ("per_class.csv", "labeled_distribution.csv"):
    rows = list(csv.DictReader(open(f"{run}/gen_0/{name}", newline="")))
    got = [r["name"] for r in rows]
    assert got == wanted, (name, got, wanted)
rows = list(csv.reader(open(f"{run}/gen_0/confusion.csv", newline="")))
assert rows[0][1:] == wanted, rows[0]
assert [r[0] for r in rows[1:]] == wanted
assert all(len(r) == len(wanted) + 1 for r in rows), "confusion.csv rows differ in length"
PYEOF

# JSON files parse and hold the names exactly.
$PY - r <<'PYEOF' || fail "the run's JSON files"
import json, sys
run = sys.argv[1]
m = json.load(open(f"{run}/split_manifest.json"))
text = json.dumps(m)
assert "<script>alert(1)" in text and "line\\nbreak" in text, "names in the manifest"
PYEOF

# TensorBoard: the per-class tags use safe components only.
if ls r/tb/gen_0/events.* >/dev/null 2>&1; then
  $PY - r/tb/gen_0 <<'PYEOF' || fail "TensorBoard tags with unsafe characters"
import glob, re, sys
data = open(glob.glob(sys.argv[1] + "/events.*")[0], "rb").read()
found = re.findall(rb"recall_ema/([A-Za-z0-9_.\-]+)", data)
assert found, "no recall_ema tags"
for bad in (b"<script>", b"a|b", b"line\nbreak", b'"quote"'):
    assert b"recall_ema/" + bad not in data, bad
PYEOF
fi

# The HTML report: no raw <script> from a name, the names escaped, parses as HTML.
run report r
expect_code 0 "report"
grep -qF "<script>alert(1)" r/report.html && fail "a class name reached the HTML as raw markup"
grep -qF "&lt;script&gt;alert(1)" r/report.html || fail "the report lacks the escaped name"
$PY - r/report.html <<'PYEOF' || fail "the report's HTML"
import html.parser, sys
class P(html.parser.HTMLParser):
    scripts = 0
    def handle_starttag(self, tag, attrs):
        if tag == "script": P.scripts += 1
P().feed(open(sys.argv[1], encoding="utf-8").read())
assert P.scripts == 0, f"{P.scripts} script element(s)"
PYEOF

# summarize: every Markdown table row keeps its column count; the CSV reads back.
run summarize r
expect_code 0 "summarize (Markdown)"
cp "$OUT" summary.md
$PY - summary.md <<'PYEOF' || fail "summarize's Markdown tables"
import re, sys
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
table = []
for line in lines + [""]:
    if line.startswith("|"):
        table.append(line)
        continue
    if table:
        counts = {len(re.findall(r"(?<!\\)\|", row)) for row in table}
        assert len(counts) == 1, (counts, table)
        table = []
assert "<script>" not in open(sys.argv[1]).read()
PYEOF
run summarize r --format csv
expect_code 0 "summarize (CSV)"
$PY - "$OUT" <<'PYEOF' || fail "summarize's CSV"
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
assert len(rows) >= 2 and all(len(r) == len(rows[0]) for r in rows), rows
PYEOF

# evaluate: the per-class table on one line per class, the names visible.
run evaluate r
expect_code 0 "evaluate"
expect_out 'line\nbreak' "the evaluate table shows the line break as \\n"
expect_out 'tab\there' "the evaluate table shows the tab as \\t"
[ "$(grep -c '^[0-9]  ' "$OUT")" -ge 6 ] || fail "one table line per class"

# A class folder whose name is not UTF-8 is refused, naming it visibly (where the filesystem
# allows such a name).
mkdir -p bad/train bad/test
cp -r nasty/train/"0 a|b" bad/train/ok && cp -r nasty/test/"0 a|b" bad/test/ok
if cp -r nasty/train/"0 a|b" "bad/train/x$(printf '\377')y" 2>/dev/null; then
  cp -r nasty/test/"0 a|b" "bad/test/x$(printf '\377')y"
  run data prepare --config "$TINY" --set data.dataset=folder --set data.root=bad \
    --set data.protocol=as_is --set crest.mode=fixmatch --set run.out_dir=bp
  expect_code 2 "a class folder that is not UTF-8"
  expect_err 'x\xFFy' "names the folder with the byte made visible"
  expect_err "not UTF-8" "says what is wrong"
fi

# ---- a sweep stopped at every moment ends as a stop ----
cp "$TINY" tiny.yaml
cat >grid.yaml <<'EOF'
base: tiny.yaml
grid: {data.fold: [1, 2]}
set: {crest.generations: 1, train.epochs: 1, crest.mode: fixmatch}
EOF
for moment in setup launch spawned collected; do
  CREST_TEST_STOP_AT=$moment "$CREST" sweep --grid grid.yaml --out "sw_$moment" \
    --launcher local --slots 1 >"stop_$moment.out" 2>"stop_$moment.err"
  code=$?
  [ "$code" -eq 130 ] || fail "a stop at '$moment' exits 130, got $code: $(tail -3 "stop_$moment.err")"
  grep -q "sweep stopped" "stop_$moment.err" || fail "a stop at '$moment' says 'sweep stopped'"
  grep -q "^\[[0-9/]*\] failed" "stop_$moment.out" && fail "a stop at '$moment' reported a failed point"
  grep -q "fix the cause" "stop_$moment.err" && fail "a stop at '$moment' reported a failure"
done
grep -q "stopped 0 fold=1" stop_spawned.out || fail "the point stopped while starting is 'stopped'"
grep -q "finished 0 fold=1" stop_collected.out || fail "the first point finished before the stop"
grep -q "1 not started" stop_collected.out || fail "the second point waits for the rerun"
grep -q "2 not started" stop_launch.out || fail "no point starts after a stop at 'launch'"
# Each stopped sweep resumes to the end.
for moment in launch spawned collected; do
  run sweep --grid grid.yaml --out "sw_$moment" --launcher local --slots 1
  expect_code 0 "the sweep stopped at '$moment' resumes"
  expect_out " 0 failed" "the resumed sweep at '$moment' has no failure"
done

finish
