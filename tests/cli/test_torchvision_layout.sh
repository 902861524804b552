# torchvision's CIFAR "python version" layout (cifar-10-batches-py/, cifar-100-python/): read,
# as data.root or its parent, giving the same data as the binary layout; damaged or foreign
# pickles are refused with exit 2 naming the file. The fixtures are written here, byte by byte
# as Python 2's cPickle writes them at protocol 2 (numpy is not needed).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

cat >make_layout.py <<'PY'
import os, struct, sys

class Pickle:
    """Protocol-2 opcodes as cPickle emits them for the CIFAR batches."""
    def __init__(self):
        self.out = bytearray(b"\x80\x02")
        self.memo = 0
    def put(self):
        self.memo += 1
        self.out += b"q" + bytes([self.memo]) if self.memo < 256 else b"r" + struct.pack("<I", self.memo)
    def string(self, b):
        self.out += b"U" + bytes([len(b)]) + b if len(b) < 256 else b"T" + struct.pack("<I", len(b)) + b
        self.put()
    def integer(self, n):
        if 0 <= n < 256: self.out += b"K" + bytes([n])
        elif 0 <= n < 65536: self.out += b"M" + struct.pack("<H", n)
        else: self.out += b"J" + struct.pack("<i", n)
    def int_list(self, values):
        self.out += b"]"; self.put()
        for i in range(0, len(values), 1000):
            self.out += b"("
            for v in values[i:i + 1000]: self.integer(v)
            self.out += b"e"
    def str_list(self, values):
        self.out += b"]"; self.put()
        self.out += b"("
        for v in values: self.string(v)
        self.out += b"e"
    def array(self, rows, cols, data):
        self.out += b"cnumpy.core.multiarray\n_reconstruct\n"; self.put()
        self.out += b"cnumpy\nndarray\n"; self.put()
        self.out += b"K\x00\x85"; self.put()
        self.string(b"b")
        self.out += b"\x87"; self.put()
        self.out += b"R"; self.put()
        self.out += b"(K\x01"
        self.integer(rows); self.integer(cols)
        self.out += b"\x86"; self.put()
        self.out += b"cnumpy\ndtype\n"; self.put()
        self.string(b"u1")
        self.out += b"K\x00K\x01\x87"; self.put()
        self.out += b"R"; self.put()
        self.out += b"(K\x03"
        self.string(b"|")
        self.out += b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89"
        self.out += b"T" + struct.pack("<I", len(data)) + data
        self.out += b"tb"
    def dict(self, items):
        self.out += b"}"; self.put(); self.out += b"("
        for key, write in items:
            self.string(key); write(self)
        self.out += b"u."
        return bytes(self.out)

def image(i):  # distinct for every i: the split refuses repeated images
    return struct.pack("<I", i) + bytes((i * 7 + j * 13 + (j * j) % 251) % 256 for j in range(4, 3072))

def batch(first, count, classes, label_key, label_of):
    labels = [label_of(first + i) for i in range(count)]
    data = b"".join(image(first + i) for i in range(count))
    names = [b"img_%06d.png" % (first + i) for i in range(count)]
    items = [(b"batch_label", lambda p: p.string(b"batch")),
             (label_key, lambda p: p.int_list(labels)),
             (b"data", lambda p: p.array(count, 3072, data)),
             (b"filenames", lambda p: p.str_list(names))]
    if label_key == b"fine_labels":
        items.insert(0, (b"coarse_labels", lambda p: p.int_list([l // 5 for l in labels])))
    return Pickle().dict(items), labels, data

kind, out, binary = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(out, exist_ok=True); os.makedirs(binary, exist_ok=True)
if kind == "cifar10":
    label_of = lambda i: (i * 3) % 10
    per = 60
    train = b""
    for b in range(5):
        blob, labels, data = batch(b * per, per, 10, b"labels", label_of)
        open(os.path.join(out, "data_batch_%d" % (b + 1)), "wb").write(blob)
        recs = b"".join(bytes([labels[i]]) + data[i * 3072:(i + 1) * 3072] for i in range(per))
        open(os.path.join(binary, "data_batch_%d.bin" % (b + 1)), "wb").write(recs)
    blob, labels, data = batch(1000, 30, 10, b"labels", label_of)
    open(os.path.join(out, "test_batch"), "wb").write(blob)
    open(os.path.join(binary, "test_batch.bin"), "wb").write(
        b"".join(bytes([labels[i]]) + data[i * 3072:(i + 1) * 3072] for i in range(30)))
    names = [b"c%d" % c for c in range(10)]
    p = Pickle()
    open(os.path.join(out, "batches.meta"), "wb").write(
        p.dict([(b"num_cases_per_batch", lambda p: p.integer(10000)),
                (b"label_names", lambda p: p.str_list(names)),
                (b"num_vis", lambda p: p.integer(3072))]))
    open(os.path.join(binary, "batches.meta.txt"), "w").write("".join("c%d\n" % c for c in range(10)))
else:
    label_of = lambda i: (i * 7) % 100
    for name, first, count in (("train", 0, 400), ("test", 5000, 100)):
        blob, labels, data = batch(first, count, 100, b"fine_labels", label_of)
        open(os.path.join(out, name), "wb").write(blob)
        open(os.path.join(binary, name + ".bin"), "wb").write(b"".join(
            bytes([labels[i] // 5, labels[i]]) + data[i * 3072:(i + 1) * 3072] for i in range(count)))
    names = [b"f%02d" % c for c in range(100)]
    open(os.path.join(out, "meta"), "wb").write(Pickle().dict(
        [(b"fine_label_names", lambda p: p.str_list(names)),
         (b"coarse_label_names", lambda p: p.str_list([b"k%d" % c for c in range(20)]))]))
    open(os.path.join(binary, "fine_label_names.txt"), "w").write("".join("f%02d\n" % c for c in range(100)))
PY
"$PY" make_layout.py cifar10 tv/cifar-10-batches-py bin10 || fail "writing the CIFAR-10 fixture"
"$PY" make_layout.py cifar100 tv100/cifar-100-python bin100 || fail "writing the CIFAR-100 fixture"

# prepare DATASET ROOT OUT: the split of the small fixtures, as JSON, and its manifest in OUT.
prepare() {
  run data prepare --set "data.dataset=$1" --set "data.root=$2" --set data.imbalance_ratio=1 \
    --set data.label_fraction=0.5 --out "$3" --json
}
fingerprint() { sed -n 's/.*"train_fingerprint": *"\([^"]*\)".*/\1/p' "$1/split_manifest.json"; }

prepare cifar10 bin10 b10
expect_code 0 "the binary layout of the same images"
for root in tv/cifar-10-batches-py tv/cifar-10-batches-py/ tv; do
  rm -rf p10
  prepare cifar10 "$root" p10
  expect_code 0 "python layout at data.root=$root"
  expect_out '"test":[3,3,3,3,3,3,3,3,3,3]' "python layout test counts ($root)"
  [ -n "$(fingerprint p10)" ] && [ "$(fingerprint p10)" = "$(fingerprint b10)" ] ||
    fail "python layout at $root: not the same images and labels as the binary layout"
  grep -q '"c9"' p10/split_manifest.json || fail "class names not read from batches.meta ($root)"
done
prepare cifar100 bin100 b100
expect_code 0 "CIFAR-100 binary layout"
for root in tv100/cifar-100-python tv100; do
  rm -rf p100
  prepare cifar100 "$root" p100
  expect_code 0 "CIFAR-100 python layout at data.root=$root"
  [ -n "$(fingerprint p100)" ] && [ "$(fingerprint p100)" = "$(fingerprint b100)" ] ||
    fail "CIFAR-100 python layout at $root differs from the binary layout"
  grep -q '"f99"' p100/split_manifest.json || fail "fine label names not read from meta ($root)"
done

# Damaged and foreign files: exit 2 naming the file, nothing half-read.
# damage NAME PYTHON: copies the CIFAR-10 fixture to bad_NAME and runs PYTHON on it (f = its
# data_batch_3 as bytes; what it leaves in `f` is written back).
damage() {
  rm -rf "bad_$1" && cp -r tv/cifar-10-batches-py "bad_$1"
  "$PY" - "bad_$1/data_batch_3" <<PY || fail "damaging for $1"
import pickle, struct, sys
path = sys.argv[1]
f = open(path, "rb").read()
$2
open(path, "wb").write(f)
PY
  run data prepare --set data.dataset=cifar10 --set "data.root=bad_$1" --out "r_$1"
  expect_code 2 "$1"
  expect_err "bad_$1/data_batch_3" "$1: the file is named"
  [ -e "r_$1/split_manifest.json" ] && fail "$1: a manifest was written"
}
damage truncated_half 'f = f[:len(f) // 2]'
damage truncated_end 'f = f[:-1]'
damage truncated_head 'f = f[:1]'
damage empty 'f = b""'
damage garbage 'f = bytes(range(256)) * 40'
damage protocol3 'f = b"\x80\x03" + f[2:]'
damage python3_pickle 'f = pickle.dumps({b"data": b"x" * 10, b"labels": [1]}, protocol=2)'
damage foreign_global 'f = b"\x80\x02cos\nsystem\nq\x01U\x04trueq\x02\x85R."'
damage deep_nesting 'f = b"\x80\x02" + b"(" * 100000 + b")" + b"t" * 100000 + b"."'
damage self_append 'f = b"\x80\x02]q\x01h\x01a."'
damage label_out_of_range 'i = f.index(b"U\x06labels"); f = f[:i + 14] + b"K\x0a" + f[i + 16:]'
damage fewer_labels 'i = f.index(b"U\x06labels"); f = f[:i + 14] + f[i + 16:]'
damage wrong_width 'i = f.index(b"M\x00\x0c"); f = f[:i] + b"M\x01\x0c" + f[i + 3:]'
damage trailing_bytes 'f = f + b"extra"'
expect_err "not a CIFAR python batch" "the last message says what the file is not"
rm -rf bad_missing && cp -r tv/cifar-10-batches-py bad_missing && rm bad_missing/test_batch
run data prepare --set data.dataset=cifar10 --set data.root=bad_missing --out r_missing
expect_code 2 "a missing test_batch"
expect_err "bad_missing/test_batch" "the missing file is named"
rm -rf bad_meta && cp -r tv/cifar-10-batches-py bad_meta && printf 'junk' >bad_meta/batches.meta
run data prepare --set data.dataset=cifar10 --set data.root=bad_meta --out r_meta
expect_code 2 "a damaged batches.meta"
expect_err "bad_meta/batches.meta" "the meta file is named"

finish
