#!/usr/bin/env python3
"""FixMatch's training step in plain eager PyTorch: the baseline that `crest bench` is held to.

Written the way the public PyTorch ports of FixMatch write it (FixMatch-pytorch, USB): the
training images on the host as a uint8 NumPy array, one torch.utils.data.Dataset per stream
whose __getitem__ augments one PIL image at a time, two DataLoaders with worker processes,
infinite iterators over them, one forward pass over the concatenated views on the device,
torch.optim.SGD, an EMA of the weights updated parameter by parameter in Python, and the loss
read back with .item() every step for logging.

The model, the augmentations and the loss are crest's (WRN-28-2 by default; CReST's 16-op
RandAugment), so that the two programs do the same work. Reports, as `crest bench` does, the
median steps/s of several timed windows after a warm-up for
  (a) the training step alone, on one fixed batch already on the device, and
  (b) the full step: data loading, augmentation, host-to-device copy and the training step.

Needs torch (1.13 or 2.x), numpy and Pillow; no torchvision. `--help` lists the options.
"""

import argparse
import copy
import json
import math
import os
import platform
import random
import statistics
import sys
import time

from argtypes import at_least, device_name

try:
    import numpy as np
    from PIL import Image, ImageEnhance, ImageOps
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from torch.utils.data import DataLoader, Dataset
except ImportError as error:  # pragma: no cover - depends on the machine
    sys.exit(
        "fixmatch_baseline.py: error: %s. It needs torch, numpy and Pillow: on Debian/Ubuntu "
        "`apt-get install python3-torch python3-numpy python3-pil` (then run it with "
        "/usr/bin/python3), or `pip install torch numpy pillow`." % error
    )

PROG = "fixmatch_baseline.py"
WRN_28_2_PARAMETERS = 1467610  # crest's WRN-28-2 with 10 classes (include/crest/models/wrn.h)
IMAGE_SIZE = 32
CIFAR10_TRAIN_FILES = ["data_batch_%d.bin" % i for i in range(1, 6)]
CIFAR_RECORD = 1 + 3 * IMAGE_SIZE * IMAGE_SIZE  # one label byte, then 3072 bytes, CHW


def cores():
    """CPU cores this process may run on (its affinity mask, e.g. under Slurm)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class InputError(Exception):
    """A bad option or input file: reported as one line, exit code 2."""


# --- Model: crest's pre-activation Wide ResNet (src/models/wrn.cpp) -----------------------------


class WideResNetBlock(nn.Module):
    # preact = LeakyReLU(BN(x)); out = conv3x3(stride)(preact) -> BN -> LeakyReLU -> conv3x3;
    # the first block of a stage takes its shortcut from preact, through a 1x1 conv when the
    # channel count changes.
    def __init__(self, in_channels, out_channels, stride, first_of_stage, bn_momentum, slope):
        super().__init__()
        self.slope = slope
        self.shortcut_from_preact = first_of_stage
        self.bn1 = nn.BatchNorm2d(in_channels, momentum=bn_momentum, eps=1e-3)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels, momentum=bn_momentum, eps=1e-3)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.shortcut = None
        if in_channels != out_channels:
            self.shortcut = nn.Conv2d(in_channels, out_channels, 1, stride, 0, bias=False)

    def forward(self, x):
        preact = F.leaky_relu(self.bn1(x), self.slope)
        shortcut = preact if self.shortcut_from_preact else x
        if self.shortcut is not None:
            shortcut = self.shortcut(shortcut)
        out = self.conv1(preact)
        out = self.conv2(F.leaky_relu(self.bn2(out), self.slope))
        return out + shortcut


class WideResNet(nn.Module):
    def __init__(self, depth, width, num_classes, bn_momentum=0.001, slope=0.1):
        super().__init__()
        if depth < 10 or (depth - 4) % 6 != 0:
            raise InputError("--depth must be 6n + 4 with n >= 1 (10, 16, 22, 28, ...), got %d"
                             % depth)
        if width < 1:
            raise InputError("--width must be >= 1, got %d" % width)
        if num_classes < 2:
            raise InputError("--classes must be >= 2, got %d" % num_classes)
        self.slope = slope
        self.stem = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        blocks = []
        channels = 16
        for stage in range(3):
            out = (16 << stage) * width
            for b in range((depth - 4) // 6):
                stride = 2 if (b == 0 and stage > 0) else 1
                blocks.append(WideResNetBlock(channels, out, stride, b == 0, bn_momentum, slope))
                channels = out
        self.blocks = nn.Sequential(*blocks)
        self.bn = nn.BatchNorm2d(channels, momentum=bn_momentum, eps=1e-3)
        self.fc = nn.Linear(channels, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                # Keras VarianceScaling(2.0, 'fan_out', truncated normal at 2 sigma).
                fan_out = module.weight.size(0) * module.weight.size(2) * module.weight.size(3)
                std = math.sqrt(2.0 / fan_out) / 0.87962566103423978
                nn.init.trunc_normal_(module.weight, 0.0, std, -2.0 * std, 2.0 * std)
            elif isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x):
        out = self.blocks(self.stem(x))
        out = F.leaky_relu(self.bn(out), self.slope)
        return self.fc(out.mean((2, 3)))


def parameter_count(model):
    return sum(p.numel() for p in model.parameters())


def build_model(args):
    model = WideResNet(args.depth, args.width, args.classes, bn_momentum=args.bn_momentum)
    count = parameter_count(model)
    if (args.depth, args.width, args.classes) == (28, 2, 10) and count != WRN_28_2_PARAMETERS:
        raise AssertionError("WRN-28-2 with 10 classes must have %d parameters, this one has %d"
                             % (WRN_28_2_PARAMETERS, count))
    return model


# --- Augmentation: one PIL image at a time, in the DataLoader workers ---------------------------
# The same draws as crest's batched ops (include/crest/augment/augment.h), with Python's
# `random`, which the DataLoader seeds differently in each worker.

FILL = 128  # mid-gray, for the geometric ops and Cutout, as crest uses
_NEAREST = getattr(Image, "Resampling", Image).NEAREST
_AFFINE = getattr(Image, "Transform", Image).AFFINE
_FLIP_LEFT_RIGHT = getattr(Image, "Transpose", Image).FLIP_LEFT_RIGHT


def _lut(img, table):
    return img.point(table * len(img.getbands()))


def _affine(img, coefficients):
    return img.transform(img.size, _AFFINE, coefficients, resample=_NEAREST,
                         fillcolor=(FILL,) * 3)


def _enhance(enhancer):
    return lambda img, m, sign: enhancer(img).enhance(0.1 + 1.8 * m)


def _solarize_add(img, m, sign):
    addition = int(110 * m)
    return _lut(img, [min(v + addition, 255) if v < 128 else v for v in range(256)])


# CReST's RandAugment list (data/augment_ops.py, mode "all"), with crest's magnitude mapping:
# m ~ U[0, 1) per layer and image; geometric ops negate their level with probability 1/2.
RANDAUGMENT_OPS = [
    ("AutoContrast", lambda img, m, sign: ImageOps.autocontrast(img)),
    ("Equalize", lambda img, m, sign: ImageOps.equalize(img)),
    ("Posterize", lambda img, m, sign: ImageOps.posterize(img, max(1, int(4 * m)))),
    ("Solarize", lambda img, m, sign: ImageOps.solarize(img, int(256 * m))),
    ("Color", _enhance(ImageEnhance.Color)),
    ("Contrast", _enhance(ImageEnhance.Contrast)),
    ("Brightness", _enhance(ImageEnhance.Brightness)),
    ("Identity", lambda img, m, sign: img),
    ("Invert", lambda img, m, sign: ImageOps.invert(img)),
    ("Sharpness", _enhance(ImageEnhance.Sharpness)),
    ("SolarizeAdd", _solarize_add),
    ("Rotate", lambda img, m, sign: img.rotate(30.0 * m * sign, resample=_NEAREST,
                                               fillcolor=(FILL,) * 3)),
    ("ShearX", lambda img, m, sign: _affine(img, (1, 0.3 * m * sign, 0, 0, 1, 0))),
    ("ShearY", lambda img, m, sign: _affine(img, (1, 0, 0, 0.3 * m * sign, 1, 0))),
    ("TranslateX", lambda img, m, sign: _affine(img, (1, 0, 10.0 * m * sign, 0, 1, 0))),
    ("TranslateY", lambda img, m, sign: _affine(img, (1, 0, 0, 0, 1, 10.0 * m * sign))),
]


def weak_augment(array):
    """uint8 [32, 32, 3] -> PIL image: reflect-pad 4, random 32x32 crop, random flip."""
    padded = np.pad(array, ((4, 4), (4, 4), (0, 0)), mode="reflect")
    img = Image.fromarray(padded)
    x, y = random.randint(0, 8), random.randint(0, 8)
    img = img.crop((x, y, x + IMAGE_SIZE, y + IMAGE_SIZE))
    if random.random() < 0.5:
        img = img.transpose(_FLIP_LEFT_RIGHT)
    return img


def rand_augment(img, layers=2, prob=0.5):
    for _ in range(layers):
        _, op = random.choice(RANDAUGMENT_OPS)
        apply = random.random() < prob
        m = random.random()
        sign = 1.0 if random.random() >= 0.5 else -1.0
        if apply:
            img = op(img, m, sign)
    return img


def cutout(img, size=16):
    """A size x size mid-gray square at centre round(U[0, side)) per axis, clipped."""
    array = np.array(img)
    h, w = array.shape[:2]
    cy, cx = round(random.random() * h), round(random.random() * w)
    array[max(0, cy - size // 2):min(h, cy + size // 2),
          max(0, cx - size // 2):min(w, cx + size // 2)] = FILL
    return Image.fromarray(array)


def strong_augment(array):
    return cutout(rand_augment(weak_augment(array)))


def to_tensor(img):
    """PIL image -> float [3, 32, 32] in [-1, 1]: ToTensor, then Normalize(0.5, 0.5)."""
    t = torch.from_numpy(np.array(img, dtype=np.uint8)).permute(2, 0, 1).contiguous()
    return t.float().div_(255.0).sub_(0.5).div_(0.5)


class LabeledSet(Dataset):
    def __init__(self, images, labels):
        self.images, self.labels = images, labels

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return to_tensor(weak_augment(self.images[i])), int(self.labels[i])


class UnlabeledSet(Dataset):
    def __init__(self, images):
        self.images = images

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        image = self.images[i]
        return to_tensor(weak_augment(image)), to_tensor(strong_augment(image))


def forever(loader):
    """An endless stream of batches: a new pass over the loader whenever one ends."""
    while True:
        for batch in loader:
            yield batch


# --- Data ---------------------------------------------------------------------------------------


def load_cifar10(root):
    """The training set of the CIFAR-10 binary version: uint8 [N, 32, 32, 3], int64 [N]."""
    if not os.path.isdir(root):
        raise InputError("--cifar %s: no such directory (it must hold %s .. %s, the CIFAR-10 "
                         "binary version)"
                         % (root, CIFAR10_TRAIN_FILES[0], CIFAR10_TRAIN_FILES[-1]))
    chunks = []
    for name in CIFAR10_TRAIN_FILES:
        path = os.path.join(root, name)
        if not os.path.isfile(path):
            raise InputError("--cifar %s: %s is missing (scripts/download_cifar.sh cifar10 DIR "
                             "fetches the binary version)" % (root, path))
        raw = np.fromfile(path, dtype=np.uint8)
        if raw.size == 0 or raw.size % CIFAR_RECORD != 0:
            raise InputError("%s: %d bytes is not a whole number of %d-byte CIFAR-10 records"
                             % (path, raw.size, CIFAR_RECORD))
        chunks.append(raw.reshape(-1, CIFAR_RECORD))
    records = np.concatenate(chunks)
    labels = records[:, 0].astype(np.int64)
    if labels.max() >= 10:
        raise InputError("%s: label %d is not a CIFAR-10 class (0..9)" % (root, labels.max()))
    images = records[:, 1:].reshape(-1, 3, IMAGE_SIZE, IMAGE_SIZE).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def synthetic_data(count, classes, seed):
    rng = np.random.RandomState(seed)
    images = rng.randint(0, 256, size=(count, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    labels = rng.randint(0, classes, size=count).astype(np.int64)
    return images, labels


# --- Training step --------------------------------------------------------------------------------


class WeightEma:
    """EMA of the weights, updated one parameter at a time (as the public ports do); buffers
    (BatchNorm statistics) are copied."""

    def __init__(self, model, decay):
        self.decay = decay
        self.model = copy.deepcopy(model)
        self.model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model):
        for ema_p, p in zip(self.model.parameters(), model.parameters()):
            ema_p.mul_(self.decay).add_(p.detach(), alpha=1.0 - self.decay)
        for ema_b, b in zip(self.model.buffers(), model.buffers()):
            ema_b.copy_(b)


def make_optimizer(model, args):
    # Weight decay on every weight but BatchNorm's, as crest (and the reference) do.
    bn, other = [], []
    for module in model.modules():
        params = list(module.parameters(recurse=False))
        (bn if isinstance(module, nn.BatchNorm2d) else other).extend(params)
    groups = [{"params": other, "weight_decay": 5e-4}, {"params": bn, "weight_decay": 0.0}]
    extra = {"foreach": True} if args.foreach else {}
    optimizer = torch.optim.SGD(groups, lr=args.lr, momentum=0.9, nesterov=True, **extra)
    # FixMatch's cosine decay, stepped every step as the public ports do.
    total = 2 ** 20
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda k: math.cos(7.0 * math.pi * k / (16.0 * total)))
    return optimizer, scheduler


class Trainer:
    def __init__(self, args, device):
        self.args = args
        self.device = device
        self.model = build_model(args).to(device)
        self.model.train()
        self.ema = WeightEma(self.model, args.ema_decay)
        self.optimizer, self.scheduler = make_optimizer(self.model, args)
        self.bf16 = args.amp == "bf16"
        self.last_loss = float("nan")

    def optimize(self, inputs, labels):
        """One step on `inputs` = cat(labeled weak, unlabeled weak, unlabeled strong) and the
        labels of the labeled part, both on the device."""
        b = labels.size(0)
        if self.bf16:
            with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16):
                logits = self.model(inputs)
            logits = logits.float()
        else:
            logits = self.model(inputs)
        logits_x = logits[:b]
        logits_w, logits_s = logits[b:].chunk(2)
        loss_x = F.cross_entropy(logits_x, labels)
        probs = torch.softmax(logits_w.detach(), dim=-1)
        max_probs, pseudo = probs.max(dim=-1)
        mask = max_probs.ge(self.args.threshold).float()
        # Averaged over the whole unlabeled batch, kept or not.
        loss_u = (F.cross_entropy(logits_s, pseudo, reduction="none") * mask).mean()
        loss = loss_x + loss_u
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self.scheduler.step()
        self.ema.update(self.model)
        self.last_loss = loss.item()  # logged every step by the public ports

    def full_step(self, labeled, unlabeled):
        x_l, y_l = next(labeled)
        x_w, x_s = next(unlabeled)
        inputs = torch.cat((x_l, x_w, x_s)).to(self.device, non_blocking=True)
        self.optimize(inputs, y_l.to(self.device, non_blocking=True))


# --- Timing ---------------------------------------------------------------------------------------


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_rate(device, windows, per_window, work):
    rates = []
    for _ in range(windows):
        synchronize(device)
        start = time.perf_counter()
        for _ in range(per_window):
            work()
        synchronize(device)
        rates.append(per_window / (time.perf_counter() - start))
    return statistics.median(rates)


def resolve_device(name):
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise InputError("--device %s: CUDA is not available to this torch (%s%s)"
                             % (name, torch.__version__,
                                ", built without CUDA" if torch.version.cuda is None else ""))
        device = torch.device(name)
        index = 0 if device.index is None else device.index
        if index >= torch.cuda.device_count():
            raise InputError("--device %s: only %d CUDA device(s) here"
                             % (name, torch.cuda.device_count()))
        return torch.device("cuda", index)
    return torch.device("cpu")


def describe_device(device):
    if device.type == "cuda":
        return "%s (%s)" % (device, torch.cuda.get_device_name(device))
    return "cpu (%d threads)" % torch.get_num_threads()


def run(args):
    device = resolve_device(args.device)
    if device.type == "cuda" and args.cudnn_benchmark:
        torch.backends.cudnn.benchmark = True
    torch.set_num_threads(args.threads if args.threads > 0 else cores())
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    if args.cifar:
        images, labels = load_cifar10(args.cifar)
        data = "CIFAR-10 %s (%d images)" % (args.cifar, len(images))
        if args.classes != 10:
            raise InputError("--classes %d: CIFAR-10 has 10 classes" % args.classes)
    else:
        images, labels = synthetic_data(args.synthetic, args.classes, args.seed)
        data = "synthetic (%d random images)" % len(images)
    batch_u = args.batch_size * args.unlabeled_ratio
    for what, size in (("--batch-size", args.batch_size), ("--batch-size x --unlabeled-ratio",
                                                           batch_u)):
        if size > len(images):
            raise InputError("%s is %d, more than the %d images of the data" % (what, size,
                                                                                 len(images)))
    # Both streams draw from every training image: which images does not change the step's cost.
    on_cuda = device.type == "cuda"
    loader_options = dict(num_workers=args.workers, pin_memory=on_cuda, drop_last=True,
                          shuffle=True)
    if args.workers > 0:
        loader_options["persistent_workers"] = True  # no worker restart at each pass's end
    labeled = forever(DataLoader(LabeledSet(images, labels), batch_size=args.batch_size,
                                 **loader_options))
    unlabeled = forever(DataLoader(UnlabeledSet(images), batch_size=batch_u, **loader_options))

    trainer = Trainer(args, device)
    per_window = max(1, args.steps // args.windows)
    # (b) first, so that its warm-up starts the workers. Before it, as many untimed steps as
    # the loaders hold batches ahead (2 per worker, DataLoader's prefetch_factor): those were
    # made while nothing consumed them, and would flatter the first timed window.
    for _ in range(2 * args.workers + args.warmup):
        trainer.full_step(labeled, unlabeled)
    full = median_rate(device, args.windows, per_window,
                       lambda: trainer.full_step(labeled, unlabeled))
    # (a) the model's share: one batch, already on the device, every step.
    x_l, y_l = next(labeled)
    x_w, x_s = next(unlabeled)
    inputs = torch.cat((x_l, x_w, x_s)).to(device)
    targets = y_l.to(device)
    for _ in range(args.warmup):
        trainer.optimize(inputs, targets)
    train = median_rate(device, args.windows, per_window,
                        lambda: trainer.optimize(inputs, targets))
    if not math.isfinite(trainer.last_loss):
        raise RuntimeError("the loss is %s: the step is broken" % trainer.last_loss)
    return {
        "baseline_train_step_per_sec": train,
        "baseline_full_step_per_sec": full,
        "device": describe_device(device),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "model": "WRN-%d-%d" % (args.depth, args.width),
        "parameters": parameter_count(trainer.model),
        "classes": args.classes,
        "batch_labeled": args.batch_size,
        "batch_unlabeled": batch_u,
        "workers": args.workers,
        "amp": args.amp,
        "optimizer": "torch.optim.SGD (%s)" % ("foreach=True" if args.foreach
                                               else "default implementation"),
        "data": data,
        "windows": args.windows,
        "steps_per_window": per_window,
        "warmup": args.warmup,
        "full_step_extra_warmup": 2 * args.workers,
        "cudnn_benchmark": bool(args.cudnn_benchmark and device.type == "cuda"),
        "last_loss": trainer.last_loss,
    }


def table(r):
    return "\n".join([
        "baseline                   eager PyTorch %s, Python %s" % (r["torch"], r["python"]),
        "device                     %s" % r["device"],
        "model                      %s (%d parameters), %d + 2 x %d images a step, %s" % (
            r["model"], r["parameters"], r["batch_labeled"], r["batch_unlabeled"],
            "bf16 autocast" if r["amp"] == "bf16" else "fp32"),
        "data                       %s, %d DataLoader workers per stream" % (r["data"],
                                                                            r["workers"]),
        "optimizer                  %s, per-parameter EMA, loss.item() each step" % r["optimizer"],
        "(a) training step          %.2f steps/s   (one batch on the device)" %
        r["baseline_train_step_per_sec"],
        "(b) full step              %.2f steps/s   (DataLoader + PIL augmentation included)" %
        r["baseline_full_step_per_sec"],
        "median of %d windows of %d steps after %d warm-up steps (+%d for (b), see --help)" % (
            r["windows"], r["steps_per_window"], r["warmup"], r["full_step_extra_warmup"]),
    ])


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)

    def probability(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError("expected a number, got %r" % text)
        if not 0.0 <= value <= 1.0:
            raise argparse.ArgumentTypeError("must be in [0, 1], got %s" % text)
        return value

    source = parser.add_mutually_exclusive_group()
    source.add_argument("--cifar", metavar="DIR",
                        help="CIFAR-10 binary version (data_batch_1.bin .. data_batch_5.bin)")
    source.add_argument("--synthetic", metavar="N", type=at_least(1), default=50000,
                        help="N random uint8 images instead (used when --cifar is not given)")
    parser.add_argument("--classes", type=at_least(2), default=10)
    parser.add_argument("--depth", type=at_least(1), default=28, help="WRN depth, 6n + 4")
    parser.add_argument("--width", type=at_least(1), default=2, help="WRN widening factor")
    parser.add_argument("--bn-momentum", type=probability, default=0.001,
                        help="BatchNorm momentum, PyTorch convention (Keras 0.999)")
    parser.add_argument("--batch-size", type=at_least(1), default=64, help="labeled batch B")
    parser.add_argument("--unlabeled-ratio", type=at_least(1), default=7,
                        help="mu: the unlabeled batch is mu x B")
    parser.add_argument("--threshold", type=probability, default=0.95)
    parser.add_argument("--lr", type=float, default=0.03)
    parser.add_argument("--ema-decay", type=probability, default=0.999)
    parser.add_argument("--foreach", action="store_true",
                        help="torch.optim.SGD(foreach=True) instead of torch's default")
    parser.add_argument("--cudnn-benchmark", action="store_true",
                        help="torch.backends.cudnn.benchmark = True (off in the public ports)")
    parser.add_argument("--amp", choices=["off", "bf16"], default="off",
                        help="bf16 autocast of the forward pass (the public ports run fp32)")
    parser.add_argument("--workers", type=at_least(0), default=min(8, cores()),
                        help="DataLoader worker processes per stream")
    parser.add_argument("--threads", type=at_least(0), default=0,
                        help="torch CPU threads of the main process (0: one per core)")
    parser.add_argument("--device", type=device_name, default="auto",
                        help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--steps", type=at_least(1), default=30,
                        help="timed steps, split over the windows (as crest bench --steps)")
    parser.add_argument("--warmup", type=at_least(0), default=5,
                        help="untimed warm-up steps; (b) runs 2 x --workers more, to use up "
                             "the batches the workers made ahead while nothing consumed them")
    parser.add_argument("--windows", type=at_least(1), default=5,
                        help="timed windows; the median is reported")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--count-params", action="store_true",
                        help="print the model's parameter count and exit")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.count_params:
            count = parameter_count(build_model(args))
            model = "WRN-%d-%d" % (args.depth, args.width)
            if args.json:
                print(json.dumps({"model": model, "classes": args.classes, "parameters": count}))
            else:
                print("%s, %d classes: %d parameters" % (model, args.classes, count))
            return 0
        result = run(args)
    except InputError as error:
        print("%s: error: %s" % (PROG, error), file=sys.stderr)
        return 2
    print(json.dumps(result, sort_keys=True) if args.json else table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
