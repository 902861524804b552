#!/usr/bin/env python3
"""A plain PyTorch Wide ResNet that loads a model exported by `crest export`.

    model, meta = load_crest_export("RUN/export/gen_5-ema.pt")   # or .safetensors
    logits = model(normalize(uint8_images_nchw))                  # float32 [N, classes]

The architecture is crest's WRN (the CReST/FixMatch reference's, in PyTorch names):
conv1 (3x3, 16 channels), three stages block1..block3 of (depth - 4) / 6 pre-activation blocks
(BatchNorm, leaky ReLU 0.1, 3x3 conv, BatchNorm, leaky ReLU, 3x3 conv; a 1x1 convShortcut
where the width changes; in the first block of every stage the shortcut starts from the
pre-activation, as in the TF reference), bn1 + leaky ReLU, global average pooling, fc.
BatchNorm eps is 1e-3 (the sidecar says so). Inputs are RGB, channels first, scaled
x * 2/255 - 1.

As a script it checks an export against crest's own logits:

    crest predict RUN --folder DIR --logits --out pred.jsonl
    python3 scripts/wrn.py RUN/export/gen_K-ema.pt --compare pred.jsonl [--atol 1e-4]

Loading is safe with files from elsewhere: a .pt is read with torch.load(weights_only=True),
which refuses a pickle that could run code, and the weights must be finite and hash to the
sidecar's "fingerprint" (crest's FNV-1a 64 over the tensors' bytes), so a file changed after
`crest export` wrote it (zeroed, a NaN, one byte) is refused with a ValueError naming it.

Needs torch (>= 1.13, for weights_only) and numpy (Debian: python3-torch, python3-numpy) and,
for --compare, PIL (python3-pil). Exit 0 when every logit matches within --atol, 1 otherwise,
2 on bad input (a refused export included).
"""
import argparse
import json
import pickle
import struct
import sys

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, cin, cout, stride, preact_shortcut, eps, momentum, slope):
        super().__init__()
        self.slope = slope
        self.preact_shortcut = preact_shortcut
        self.bn1 = nn.BatchNorm2d(cin, eps=eps, momentum=momentum)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout, eps=eps, momentum=momentum)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.convShortcut = nn.Conv2d(cin, cout, 1, stride, 0, bias=False) if cin != cout else None

    def forward(self, x):
        pre = F.leaky_relu(self.bn1(x), self.slope)
        shortcut = pre if self.preact_shortcut else x
        if self.convShortcut is not None:
            shortcut = self.convShortcut(shortcut)
        out = self.conv1(pre)
        out = self.conv2(F.leaky_relu(self.bn2(out), self.slope))
        return out + shortcut


class Stage(nn.Module):
    def __init__(self, blocks):
        super().__init__()
        self.layer = nn.Sequential(*blocks)

    def forward(self, x):
        return self.layer(x)


class WideResNet(nn.Module):
    def __init__(self, depth=28, width=2, num_classes=10, eps=1e-3, momentum=0.001, slope=0.1):
        super().__init__()
        if depth < 10 or (depth - 4) % 6:
            raise ValueError("depth must be 6n + 4 with n >= 1, got %d" % depth)
        n = (depth - 4) // 6
        self.slope = slope
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        channels = 16
        for stage in range(3):
            out = (16 << stage) * width
            blocks = []
            for b in range(n):
                stride = 2 if (b == 0 and stage > 0) else 1
                blocks.append(Block(channels, out, stride, b == 0, eps, momentum, slope))
                channels = out
            setattr(self, "block%d" % (stage + 1), Stage(blocks))
        self.bn1 = nn.BatchNorm2d(channels, eps=eps, momentum=momentum)
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x):
        out = self.conv1(x)
        out = self.block3(self.block2(self.block1(out)))
        out = F.leaky_relu(self.bn1(out), self.slope)
        return self.fc(out.mean((2, 3)))


def normalize(images):
    """uint8 [N, 3, H, W] -> float32 in [-1, 1], as crest feeds the model."""
    return images.to(torch.float32) * (2.0 / 255.0) - 1.0


_DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64}


def read_safetensors(path):
    """The tensors of a .safetensors file (u64 header size, JSON header, data), in data order."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        (n,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8:8 + n])
        body = data[8 + n:]
        entries = sorted((entry["data_offsets"], name, entry) for name, entry in header.items()
                         if name != "__metadata__")
        tensors = {}
        for (begin, end), name, entry in entries:
            if not 0 <= begin <= end <= len(body):
                raise ValueError("%s's data_offsets run past the file" % name)
            array = np.frombuffer(body[begin:end], dtype=_DTYPES[entry["dtype"]])
            tensors[name] = torch.from_numpy(array.reshape(entry["shape"]).copy())
    except (struct.error, KeyError, TypeError, ValueError) as error:
        raise ValueError("%s is not a safetensors file crest wrote (%s)" % (path, error))
    return tensors


def fingerprint(tensors):
    """crest's weights fingerprint: FNV-1a 64 (16 hex digits) over the bytes of `tensors` in
    order, each contiguous and little-endian (parameters then buffers, as crest export writes
    them)."""
    h = 0xCBF29CE484222325
    for t in tensors:
        for byte in t.detach().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes():
            h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def _load_pt(path):
    """A .pt's dict of tensors via torch.load(weights_only=True): no pickle code runs."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise ValueError("%s refused: torch.load(weights_only=True) will not load it, since it "
                         "could run code (%s)" % (path, str(error).strip().splitlines()[-1]))
    except RuntimeError as error:
        raise ValueError("%s is not a .pt file torch.load reads (%s)" % (path, error))
    if not isinstance(state, dict) or not all(isinstance(t, torch.Tensor) for t in state.values()):
        raise ValueError("%s does not hold a dict of tensors" % path)
    return state


def check_weights(path, state, meta):
    """ValueError unless every tensor of `state` is finite and they hash to the sidecar's
    fingerprint (the weights crest exported, unchanged)."""
    bad = [name for name, t in state.items() if t.is_floating_point() and
           not bool(torch.isfinite(t).all())]
    if bad:
        raise ValueError("%s holds NaN or infinite values in %s: damaged weights; export the "
                         "model again" % (path, ", ".join(bad[:5])))
    expected = meta.get("fingerprint")
    if not expected:
        raise ValueError("%s.json gives no fingerprint to check the weights against; export "
                         "the model again with crest export" % path)
    got = fingerprint(state.values())
    if got != expected:
        raise ValueError("%s: its weights hash to %s, but its sidecar %s.json says %s: the file "
                         "was changed after crest export wrote it, or the sidecar is another "
                         "export's; export the model again" % (path, got, path, expected))


def load_crest_export(path):
    """(model in eval mode, sidecar dict) for a `crest export` file (.pt or .safetensors).
    ValueError when the sidecar is not crest's, or the weights were changed since the export."""
    with open(path + ".json") as f:
        meta = json.load(f)
    if meta.get("format") != "crest-wrn-export":
        raise ValueError(path + ".json is not a crest export sidecar")
    if meta["weights_format"] == "safetensors":
        state = read_safetensors(path)
    else:
        state = _load_pt(path)
    check_weights(path, state, meta)
    model = WideResNet(meta["depth"], meta["width"], meta["num_classes"], meta["bn_eps"],
                       meta["bn_momentum"], meta["leaky_relu_slope"])
    model.load_state_dict(state, strict=True)
    model.eval()
    return model, meta


def _load_image(path, size):
    from PIL import Image
    with Image.open(path) as image:
        rgb = image.convert("RGB")
        if rgb.size != (size, size):
            raise ValueError("%s is %dx%d; --compare needs images of the model's size %d"
                             % (path, rgb.size[0], rgb.size[1], size))
        return torch.from_numpy(np.asarray(rgb).copy()).permute(2, 0, 1)


def compare_arguments(description, compare_help):
    """Parses `EXPORT --compare FILE.jsonl [--atol A]` and loads both: returns (model, meta,
    images uint8 [N, 3, S, S], crest's logits float64 [N, C], N, atol), or None after printing
    the error (the caller exits 2)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("export", help="the .pt or .safetensors file crest export wrote")
    parser.add_argument("--compare", required=True, help=compare_help)
    parser.add_argument("--atol", type=float, default=1e-4)
    args = parser.parse_args()
    try:
        model, meta = load_crest_export(args.export)
        with open(args.compare) as f:
            entries = [json.loads(line) for line in f if line.strip()]
        if not entries or "logits" not in entries[0]:
            raise ValueError(args.compare + " holds no logits (run crest predict with --logits)")
        images = torch.stack([_load_image(e["file"], meta["image_size"]) for e in entries])
    except (OSError, ValueError, KeyError) as error:
        print("error: %s" % error, file=sys.stderr)
        return None
    expected = torch.tensor([e["logits"] for e in entries], dtype=torch.float64)
    return model, meta, images, expected, len(entries), args.atol


def main():
    loaded = compare_arguments(__doc__.split("\n")[0],
                               "JSONL of `crest predict --logits`: its images and logits")
    if loaded is None:
        return 2
    model, _, images, expected, count, atol = loaded
    with torch.no_grad():
        logits = model(normalize(images)).to(torch.float64)
    diff = (logits - expected).abs().max().item()
    print("%d images, %d classes: largest |python - crest| logit difference %.3g (atol %g)"
          % (count, logits.shape[1], diff, atol))
    return 0 if diff <= atol else 1


if __name__ == "__main__":
    sys.exit(main())
