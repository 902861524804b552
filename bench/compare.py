#!/usr/bin/env python3
"""crest against the eager-PyTorch baseline on the same machine, in one command.

    bench/compare.py CONFIG [--device DEV] [--set KEY=VALUE]... [--steps N] [--warmup N]
                     [--windows N] [--workers N] [--out FILE] [--json]

Runs `crest bench --config CONFIG --json` and bench/fixmatch_baseline.py with what the config
resolves to: the same model (depth, width, classes), batch sizes, device, CPU threads, BatchNorm
momentum, EMA decay and threshold, and the same CIFAR-10 directory when data.dataset is cifar10
(otherwise random images of the same count). Prints both programs' steps/s for (a) the training
step and (b) the full step side by side with crest's ratio over the baseline; --out FILE also
writes all of it as one JSON object.

Standard library only: the baseline runs in its own interpreter (--python, $CREST_PYTHON, or
the first of this Python and /usr/bin/python3 that can import torch, numpy and PIL).
"""

import argparse
import json
import os
import shlex
import subprocess
import sys

from argtypes import at_least, device_name

PROG = "compare.py"
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
BASELINE = os.path.join(HERE, "fixmatch_baseline.py")


class CompareError(Exception):
    def __init__(self, message, code=2):
        super().__init__(message)
        self.code = code


def parse_resolved_config(text):
    """`crest print-config` YAML (nested mappings of scalars) -> {"data.synthetic.classes": "4"}."""
    values, stack = {}, []  # stack of (indent, key)
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#") or ":" not in line:
            continue
        indent = len(line) - len(line.lstrip(" "))
        key, _, value = line.strip().partition(":")
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = ".".join([k for _, k in stack] + [key.strip()])
        value = value.strip()
        if value:
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            values[path] = value
        else:
            stack.append((indent, key.strip()))
    return values


def run_json(command, what):
    """Runs `command`, returns its last stdout line parsed as JSON; failures name `what`."""
    try:
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True)
    except OSError as error:
        raise CompareError("cannot run %s (%s): %s" % (what, command[0], error), 1)
    if done.returncode != 0:
        detail = done.stderr.strip() or done.stdout.strip()
        raise CompareError("%s failed (exit %d): %s\n  command: %s" % (
            what, done.returncode, detail[-3000:], " ".join(shlex.quote(c) for c in command)),
            2 if done.returncode == 2 else 1)
    lines = [l for l in done.stdout.splitlines() if l.strip()]
    try:
        return json.loads(lines[-1])
    except (IndexError, ValueError):
        raise CompareError("%s printed no JSON object: %r" % (what, done.stdout[-500:]), 1)


def find_python(explicit):
    if explicit:
        candidates = [explicit]
    elif os.environ.get("CREST_PYTHON"):
        candidates = [os.environ["CREST_PYTHON"]]
    else:
        candidates = [sys.executable, "/usr/bin/python3"]
    tried = []
    for python in candidates:
        if not python or python in tried:
            continue
        tried.append(python)
        try:
            probe = subprocess.run([python, "-c", "import torch, numpy, PIL"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            ok = probe.returncode == 0
        except OSError:
            ok = False
        if ok:
            return python
    raise CompareError(
        "no Python that can import torch, numpy and PIL (tried %s); install python3-torch "
        "python3-numpy python3-pil, or name one with --python" % ", ".join(tried))


def baseline_command(python, config, args, device):
    """The baseline's command line for the resolved `config` (a dict of dotted keys)."""
    def get(key):
        if key not in config:
            raise CompareError("crest print-config has no %s; is build/crest up to date?" % key, 1)
        return config[key]

    dataset = get("data.dataset")
    command = [python, BASELINE, "--json", "--device", device]
    if dataset == "cifar10":
        command += ["--cifar", get("data.root"), "--classes", "10"]
    elif dataset == "cifar100":
        command += ["--synthetic", "50000", "--classes", "100"]
    elif dataset == "synthetic":
        classes = int(get("data.synthetic.classes"))
        count = classes * int(get("data.synthetic.train_per_class"))
        command += ["--synthetic", str(count), "--classes", str(classes)]
    else:
        raise CompareError("data.dataset %s: the baseline reads CIFAR-10 or makes random "
                           "32x32 images; use a cifar10, cifar100 or synthetic config" % dataset)
    if dataset != "cifar10" and get("data.image_size") != "32":
        raise CompareError("data.image_size %s: the baseline's images are 32x32"
                           % get("data.image_size"))
    threads = get("run.threads")
    command += [
        "--depth", get("model.depth"), "--width", get("model.width"),
        "--bn-momentum", get("model.bn_momentum"),
        "--batch-size", get("train.batch_size"), "--unlabeled-ratio", get("train.unlabeled_ratio"),
        "--threshold", get("train.threshold"), "--lr", get("train.lr"),
        "--ema-decay", get("train.ema_decay"),
        "--threads", threads,
        "--steps", str(args.steps), "--warmup", str(args.warmup), "--windows", str(args.windows),
    ]
    if args.workers is not None:
        command += ["--workers", str(args.workers)]
    if args.foreach:
        command.append("--foreach")
    if config.get("train.cudnn_benchmark") == "true":
        command.append("--cudnn-benchmark")  # a free setting: the baseline gets it when crest does
    return command


def ratio(a, b):
    return a / b if b > 0 else float("inf")


def table(result):
    c, b = result["crest"], result["baseline"]
    amp = lambda bf16: "bf16 autocast" if bf16 else "fp32"
    rows = [
        "device      crest: %s; baseline: %s" % (c["device"], b["device"]),
        "model       %s, %d + 2 x %d images a step; crest %s, baseline %s" % (
            c["model"], c["batch_labeled"], c["batch_unlabeled"], amp(c["amp_bf16"]),
            amp(b["amp"] == "bf16")),
        "baseline    torch %s, %d DataLoader workers per stream, %s" % (
            b["torch"], b["workers"], b["data"]),
        "",
        "%-22s %12s %12s %10s" % ("steps/s", "crest", "baseline", "ratio"),
        "%-22s %12.2f %12.2f %9.2fx" % ("(a) training step", c["train_step_per_sec"],
                                       b["baseline_train_step_per_sec"],
                                       result["ratio_train_step"]),
        "%-22s %12.2f %12.2f %9.2fx" % ("(b) full step", c["full_step_per_sec"],
                                       b["baseline_full_step_per_sec"],
                                       result["ratio_full_step"]),
        "",
        "median of %d windows of %d steps after %d warm-up steps, each program" % (
            c["windows"], c["steps_per_window"], b["warmup"]),
    ]
    return "\n".join(rows)


def parse_args(argv):
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])

    parser.add_argument("config", metavar="CONFIG", help="crest YAML config")
    parser.add_argument("--device", type=device_name,
                        help="auto, cpu, cuda or cuda:N, for both (default: run.device)")
    parser.add_argument("-s", "--set", action="append", default=[], metavar="KEY=VALUE",
                        help="config override, passed to crest and read for the baseline")
    parser.add_argument("--steps", type=at_least(1), default=30,
                        help="timed steps of each program, split over the windows")
    parser.add_argument("--warmup", type=at_least(0), default=5)
    parser.add_argument("--windows", type=at_least(1), default=5)
    parser.add_argument("--workers", type=at_least(0),
                        help="baseline DataLoader workers per stream (default: min(8, cores))")
    parser.add_argument("--baseline-amp", choices=["off", "bf16", "match"], default="off",
                        help="off: fp32 as the public ports; match: whatever crest used")
    parser.add_argument("--foreach", action="store_true",
                        help="baseline: torch.optim.SGD(foreach=True)")
    parser.add_argument("--crest", help="crest executable (default: $CREST, else build/crest)")
    parser.add_argument("--python", help="interpreter for the baseline (default: see above)")
    parser.add_argument("--out", metavar="FILE", help="also write the result as JSON here")
    parser.add_argument("--json", action="store_true", help="print the JSON instead of the table")
    return parser.parse_args(argv)


def compare(args):
    if not os.path.isfile(args.config):
        raise CompareError("config file %s does not exist (presets live in %s)"
                           % (args.config, os.path.join(REPO, "configs")))
    crest = args.crest or os.environ.get("CREST") or os.path.join(REPO, "build", "crest")
    if not (os.path.isfile(crest) and os.access(crest, os.X_OK)):
        raise CompareError("crest executable %s not found; build it (scripts/setup.sh) or name "
                           "it with --crest or $CREST" % crest)
    if args.out and not os.path.isdir(os.path.dirname(os.path.abspath(args.out))):
        raise CompareError("--out %s: its directory does not exist" % args.out)
    python = find_python(args.python)

    sets = []
    for item in args.set:
        sets += ["--set", item]
    printed = subprocess.run([crest, "print-config", "--config", args.config] + sets,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             universal_newlines=True)
    if printed.returncode != 0:
        raise CompareError("crest could not resolve %s: %s" % (
            args.config, printed.stderr.strip() or printed.stdout.strip()), printed.returncode)
    config = parse_resolved_config(printed.stdout)
    device = args.device or config.get("run.device", "auto")

    crest_command = [crest, "-q", "bench", "--config", args.config] + sets + [
        "--device", device, "--steps", str(args.steps), "--warmup", str(args.warmup),
        "--windows", str(args.windows), "--json"]
    base_command = baseline_command(python, config, args, device)  # validated before crest runs
    crest_result = run_json(crest_command, "crest bench")
    amp = args.baseline_amp
    if amp == "match":
        amp = "bf16" if crest_result.get("amp_bf16") else "off"
    base_command += ["--amp", amp]
    base_result = run_json(base_command, "the baseline")
    if base_result.get("model") != crest_result.get("model") or \
            base_result.get("batch_unlabeled") != crest_result.get("batch_unlabeled"):
        raise CompareError("the two programs ran different steps: crest %s %s, baseline %s %s" % (
            crest_result.get("model"), crest_result.get("batch_unlabeled"),
            base_result.get("model"), base_result.get("batch_unlabeled")), 1)
    return {
        "config": args.config,
        "sets": args.set,
        "crest": crest_result,
        "baseline": base_result,
        "ratio_train_step": ratio(crest_result["train_step_per_sec"],
                                  base_result["baseline_train_step_per_sec"]),
        "ratio_full_step": ratio(crest_result["full_step_per_sec"],
                                 base_result["baseline_full_step_per_sec"]),
        "baseline_python": python,
        "commands": {"crest": " ".join(shlex.quote(c) for c in crest_command),
                     "baseline": " ".join(shlex.quote(c) for c in base_command)},
    }


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        result = compare(args)
    except CompareError as error:
        print("%s: error: %s" % (PROG, error), file=sys.stderr)
        return error.code
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2, sort_keys=True)
            f.write("\n")
    print(json.dumps(result, sort_keys=True) if args.json else table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
