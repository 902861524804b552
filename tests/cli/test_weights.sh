# Weights load safely and load everywhere (#28 kind 2), with Debian's PyTorch (/usr/bin/python3):
# (a) crest's .pt files (export, pretrain's backbone.pt) load with torch.load(weights_only=True)
# and give crest's tensors; (b) a .pt whose pickle runs code is refused by scripts/wrn.py and by
# model.init_from, and the code never runs; (c) wrn.py refuses an export whose weights changed
# after crest wrote it (the sidecar's fingerprint) or are not finite; (d) model.init_from takes
# Python's torch.save of a state dict (OrderedDict with _metadata, plain dict, a checkpoint
# wrapping it, DataParallel names) and refuses NaN, Inf, extra names, other shapes, damaged and
# legacy files, exit 2 naming the file and the tensors, leaving no run behind.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
TINY="$SRC/tests/cli/tiny.yaml"
PY=/usr/bin/python3
if ! python_has "$PY" torch numpy; then
  echo "python3-torch or numpy missing in $PY: skipped"
  exit 77
fi
FAST=(--set train.epochs=1 --set train.steps_per_epoch=2 --set crest.generations=1)
json_field() { # FILE KEY: a top-level string of a JSON file
  "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}
# py SCRIPT ARGS...: runs Python code from stdin with scripts/ on its path; fails on an error.
py() {
  local what=$1
  shift
  PYTHONPATH="$SRC/scripts" "$PY" - "$@" >"$OUT" 2>"$ERR" || fail "$what"
}

run pretrain --config "$TINY" --out pre --set pretrain.epochs=1 --set pretrain.steps_per_epoch=2 \
  --set pretrain.batch_size=8
expect_code 0 "pretrain"
run -q train --config "$TINY" --out r "${FAST[@]}"
expect_code 0 "a tiny training run"
for format in pt safetensors; do
  run export r --format "$format" --out "m.$format"
  expect_code 0 "export --format $format"
done

# (a) torch.load(weights_only=True) of crest's files: the export's tensors equal the safetensors
# export's and hash to the sidecar's fingerprint; the backbone's to backbone.pt.json's.
py "weights_only loads crest's .pt files with crest's tensors" <<'EOF'
import json, torch, wrn
pt = torch.load("m.pt", weights_only=True)
st = wrn.read_safetensors("m.safetensors")
assert list(pt) == list(st) and len(pt) > 20, (list(pt), list(st))
assert all(torch.equal(pt[k], st[k]) and pt[k].dtype == st[k].dtype for k in pt)
assert wrn.fingerprint(pt.values()) == json.load(open("m.pt.json"))["fingerprint"]
bb = torch.load("pre/backbone.pt", weights_only=True)
assert wrn.fingerprint(bb.values()) == json.load(open("pre/backbone.pt.json"))["backbone_fingerprint"]
assert not any(k.startswith("fc.") for k in bb) and set(bb) == {k for k in pt if k[:3] != "fc."}
for f in ("m.pt", "m.safetensors"):
    wrn.load_crest_export(f)  # the sidecar check passes on untouched exports
EOF

# The files every later check uses, written by Python.
py "Python writes the test files" "$WORK/pwned" <<'EOF'
import collections, json, os, shutil, sys, torch, wrn
marker = sys.argv[1]
class System:  # a pickle that runs a shell command when loaded
    def __reduce__(self):
        return (os.system, ("touch " + marker,))
class Exec:
    def __reduce__(self):
        return (exec, ("open(%r, 'w').close()" % marker,))
sd = torch.load("m.pt", weights_only=True)
torch.save(dict(sd, **{"conv1.weight": System()}), "system.pt")
torch.save({"conv1.weight": Exec()}, "exec.pt")
torch.save(wrn.WideResNet(10, 1, 4), "module.pt")  # the model, not its state dict
for name in ("system", "exec", "module"):
    shutil.copy("m.pt.json", name + ".pt.json")
# Exports changed after crest wrote them, each with the original sidecar.
body_at = 8 + int.from_bytes(open("m.safetensors", "rb").read(8), "little")
data = bytearray(open("m.safetensors", "rb").read())
def tampered(name, change):
    copy = bytearray(data)
    change(copy)
    open(name, "wb").write(copy)
    meta = json.load(open("m.safetensors.json"))
    json.dump(dict(meta, weights=name), open(name + ".json", "w"))
tampered("zeroed.safetensors", lambda d: d.__setitem__(slice(body_at, None), bytes(len(d) - body_at)))
header = json.loads(data[8:body_at])
begin = body_at + header["conv1.weight"]["data_offsets"][0]
tampered("nan.safetensors", lambda d: d.__setitem__(slice(begin, begin + 4), b"\x00\x00\xc0\x7f"))
tampered("byte.safetensors", lambda d: d.__setitem__(begin + 101, d[begin + 101] ^ 1))
torch.save(dict(sd, **{"conv1.weight": torch.zeros_like(sd["conv1.weight"])}), "zeroed.pt")
shutil.copy("m.pt.json", "zeroed.pt.json")
# State dicts for model.init_from: a Python WRN-28-2 (an OrderedDict with _metadata), WRN-10-1
# as a plain dict and wrapped by a training checkpoint under DataParallel names, and refusals.
big = wrn.WideResNet(28, 2, 10)
torch.save(big.state_dict(), "wrn28.pt")
def backbone_fingerprint(model):
    named = list(model.named_parameters()) + list(model.named_buffers())
    return wrn.fingerprint(t for n, t in named if not n.startswith("fc."))
small = wrn.WideResNet(10, 1, 4)
with torch.no_grad():
    for b in small.buffers():
        b.add_(1)  # running statistics that differ from a fresh model's
sd10 = small.state_dict()
assert isinstance(sd10, collections.OrderedDict) and hasattr(sd10, "_metadata")
torch.save(dict(sd10), "plain.pt")
torch.save({"epoch": 3, "best_acc": 0.5, "state_dict": {"module." + k: v for k, v in sd10.items()}},
           "wrapped.pt")
json.dump({"wrn28": backbone_fingerprint(big), "wrn10": backbone_fingerprint(small)},
          open("fingerprints.json", "w"))
def changed(name, **tensors):
    torch.save(collections.OrderedDict(sd10, **tensors), name)
w = sd10["conv1.weight"]
changed("nan.pt", **{"conv1.weight": w.clone().index_fill_(0, torch.tensor([3]), float("nan"))})
changed("inf.pt", **{"bn1.running_var": torch.full_like(sd10["bn1.running_var"], float("inf"))})
changed("neginf.pt", **{"block2.layer.0.conv1.weight": -torch.full_like(
    sd10["block2.layer.0.conv1.weight"], float("inf"))})
changed("extra.pt", **{"projection.weight": torch.ones(4, 4)})
changed("shape.pt", **{"conv1.weight": torch.zeros(16, 3, 5, 5)})
changed("number.pt", **{"conv1.weight": 3})
torch.save(sd10, "legacy.pt", _use_new_zipfile_serialization=False)
raw = open("plain.pt", "rb").read()
open("cut.pt", "wb").write(raw[:len(raw) // 2])
EOF
fingerprint() { "$PY" -c 'import json,sys; print(json.load(open("fingerprints.json"))[sys.argv[1]])' "$1"; }

# (b) Pickles that run code: refused by wrn.py and by model.init_from, and the code never runs.
for f in system exec module; do
  "$PY" "$SRC/scripts/wrn.py" "$f.pt" --compare none.jsonl >"$OUT" 2>"$ERR"
  CODE=$?
  expect_code 2 "wrn.py on $f.pt"
  expect_err "$f.pt refused: torch.load(weights_only=True) will not load it" "wrn.py says why ($f)"
done
for f in system:posix.system exec:__builtin__.exec module:wrn.WideResNet; do
  run train --config "$TINY" --out "r_${f%%:*}" "${FAST[@]}" --set "model.init_from=${f%%:*}.pt"
  expect_code 2 "model.init_from ${f%%:*}.pt"
  expect_err "${f%%:*}.pt: refused: its pickle names the Python global '${f#*:}'" "names the global"
  [ -e "r_${f%%:*}/config.yaml" ] && fail "a refused model.init_from left a run in r_${f%%:*}"
done
[ -e pwned ] && fail "loading a crafted pickle ran its code"
# The files are real attacks: an unrestricted torch.load runs them.
PYTHONPATH="$SRC/scripts" "$PY" -c 'import torch; torch.load("exec.pt")' >/dev/null 2>&1
[ -e pwned ] || fail "exec.pt should run code under a plain torch.load (the test is void)"
rm -f pwned

# (c) Exports changed after crest export wrote them, refused by wrn.py's sidecar check.
for f in zeroed.safetensors:"was changed after crest export" byte.safetensors:"was changed" \
  zeroed.pt:"was changed" nan.safetensors:"holds NaN or infinite values in conv1.weight"; do
  "$PY" "$SRC/scripts/wrn.py" "${f%%:*}" --compare none.jsonl >"$OUT" 2>"$ERR"
  CODE=$?
  expect_code 2 "wrn.py on ${f%%:*}"
  expect_err "${f#*:}" "wrn.py says what is wrong with ${f%%:*}"
done

# (d) model.init_from: Python's state dicts are taken with exactly their weights ...
run -q train --config "$TINY" --out from28 "${FAST[@]}" --set model.init_from=wrn28.pt \
  --set model.depth=28 --set model.width=2
expect_code 0 "model.init_from a Python WRN-28-2 state dict (OrderedDict with _metadata)"
[ "$(json_field from28/gen_0/summary.json init_backbone_fingerprint)" = "$(fingerprint wrn28)" ] ||
  fail "the WRN-28-2 run starts from the Python model's backbone"
for f in plain wrapped; do
  run -q train --config "$TINY" --out "from_$f" "${FAST[@]}" --set "model.init_from=$f.pt"
  expect_code 0 "model.init_from $f.pt"
  [ "$(json_field "from_$f/gen_0/summary.json" init_backbone_fingerprint)" = "$(fingerprint wrn10)" ] ||
    fail "the run from $f.pt starts from the Python model's backbone"
done
# ... and everything else is refused, exit 2, naming the file and what is wrong.
for f in "nan:holds NaN or infinite values in 'conv1.weight'" \
  "inf:holds NaN or infinite values in 'bn1.running_var'" \
  "neginf:'block2.layer.0.conv1.weight'" \
  "extra:holds 1 tensor(s) that a WRN-10-1 (model.depth 10, model.width 1) does not have: 'projection.weight'" \
  "shape:'conv1.weight' has the shape [16, 3, 5, 5], a WRN-10-1" \
  "number:'conv1.weight' holds a value of type int, not a tensor" \
  "legacy:legacy format" "cut:not a .pt file"; do
  run train --config "$TINY" --out "r_${f%%:*}" "${FAST[@]}" --set "model.init_from=${f%%:*}.pt"
  expect_code 2 "model.init_from ${f%%:*}.pt"
  expect_err "model.init_from: ${f%%:*}.pt" "names the key and the file (${f%%:*})"
  expect_err "${f#*:}" "says what is wrong (${f%%:*})"
  [ -e "r_${f%%:*}/config.yaml" ] && fail "a refused model.init_from left a run in r_${f%%:*}"
done
finish
