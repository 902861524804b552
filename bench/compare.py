#!/usr/bin/env python3
"""crest against the eager-PyTorch baseline on the same machine, in one command.

    bench/compare.py CONFIG [--device DEV] [--set KEY=VALUE]... [--steps N] [--warmup N]
                     [--windows N] [--workers N] [--repeats N] [--out FILE] [--json]
    bench/compare.py --cpu-sizes [--repeats N] [--out FILE] [--json]

Runs `crest bench --config CONFIG --json` and bench/fixmatch_baseline.py with what the config
resolves to: the same model (depth, width, classes), batch sizes, device, CPU threads, BatchNorm
momentum, EMA decay and threshold, and the same CIFAR-10 directory when data.dataset is cifar10
(otherwise random images of the same count). Prints both programs' steps/s for (a) the training
step and (b) the full step side by side with crest's ratio over the baseline; --out FILE also
writes all of it as one JSON object. --repeats N runs the pair N times, alternating, and reports
each program's median.

--cpu-sizes runs the two CPU comparisons of docs/performance.md in one command: the quickstart
size (configs/quickstart.yaml: WRN-10-1, 32 + 2 x 96 images) and the paper size
(configs/cifar10lt.yaml: WRN-28-2, 64 + 2 x 448 images, on random images of CIFAR-10's size,
since a step does not depend on pixel content), both on the CPU with their default threads.

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
        "median of %d windows of %d steps after %d warm-up steps, each program%s" % (
            c["windows"], c["steps_per_window"], b["warmup"],
            "; median of %d alternating runs" % result["repeats"]
            if result.get("repeats", 1) > 1 else ""),
    ]
    return "\n".join(rows)


def parse_args(argv):
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])

    parser.add_argument("config", metavar="CONFIG", nargs="?", help="crest YAML config")
    parser.add_argument("--cpu-sizes", action="store_true",
                        help="the quickstart-size and paper-size CPU comparisons (no CONFIG)")
    parser.add_argument("--repeats", type=at_least(1), default=1,
                        help="run the pair N times, alternating; report each program's median")
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
    args = parser.parse_args(argv)
    if args.cpu_sizes == (args.config is not None):
        parser.error("give a CONFIG or --cpu-sizes, not both or neither")
    return args


# --cpu-sizes: (name, config, overrides, steps, warmup, windows). The paper size's steps take
# seconds each on a CPU, so it runs few of them; its pool of random images is small, which only
# (c) pseudo-labelling (not compared) would notice.
CPU_SIZES = [
    ("quickstart", "configs/quickstart.yaml", [], 60, 3, 5),
    ("paper", "configs/cifar10lt.yaml",
     ["data.dataset=synthetic", "data.synthetic.train_per_class=500",
      "data.synthetic.test_per_class=100"], 4, 1, 2),
]


def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else 0.5 * (ordered[middle - 1] + ordered[middle])


def compare(args, config_path, overrides, steps, warmup, windows, device):
    """One comparison: crest bench and the baseline on `config_path`, --repeats times each."""
    if not os.path.isfile(config_path):
        raise CompareError("config file %s does not exist (presets live in %s)"
                           % (config_path, os.path.join(REPO, "configs")))
    crest = args.crest or os.environ.get("CREST") or os.path.join(REPO, "build", "crest")
    if not (os.path.isfile(crest) and os.access(crest, os.X_OK)):
        raise CompareError("crest executable %s not found; build it (scripts/setup.sh) or name "
                           "it with --crest or $CREST" % crest)
    python = find_python(args.python)
    sets = []
    for item in overrides:
        sets += ["--set", item]
    printed = subprocess.run([crest, "print-config", "--config", config_path] + sets,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             universal_newlines=True)
    if printed.returncode != 0:
        raise CompareError("crest could not resolve %s: %s" % (
            config_path, printed.stderr.strip() or printed.stdout.strip()), printed.returncode)
    config = parse_resolved_config(printed.stdout)
    device = device or config.get("run.device", "auto")
    runs = argparse.Namespace(**vars(args))
    runs.steps, runs.warmup, runs.windows = steps, warmup, windows
    crest_command = [crest, "-q", "bench", "--config", config_path] + sets + [
        "--device", device, "--steps", str(steps), "--warmup", str(warmup),
        "--windows", str(windows), "--json"]
    base_command = baseline_command(python, config, runs, device)  # validated before crest runs
    crest_results, base_results = [], []
    for _ in range(args.repeats):
        crest_results.append(run_json(crest_command, "crest bench"))
        if len(base_results) == 0:
            amp = args.baseline_amp
            if amp == "match":
                amp = "bf16" if crest_results[0].get("amp_bf16") else "off"
            base_command += ["--amp", amp]
        base_results.append(run_json(base_command, "the baseline"))
    crest_result, base_result = dict(crest_results[-1]), dict(base_results[-1])
    if base_result.get("model") != crest_result.get("model") or \
            base_result.get("batch_unlabeled") != crest_result.get("batch_unlabeled"):
        raise CompareError("the two programs ran different steps: crest %s %s, baseline %s %s" % (
            crest_result.get("model"), crest_result.get("batch_unlabeled"),
            base_result.get("model"), base_result.get("batch_unlabeled")), 1)
    # Each program's median over the repeats (the single run when --repeats 1).
    for key in ("train_step_per_sec", "full_step_per_sec"):
        crest_result[key] = median([r[key] for r in crest_results])
        base_result["baseline_" + key] = median([r["baseline_" + key] for r in base_results])
    return {
        "config": config_path,
        "sets": list(overrides),
        "repeats": args.repeats,
        "crest": crest_result,
        "baseline": base_result,
        "crest_runs": crest_results,
        "baseline_runs": base_results,
        "ratio_train_step": ratio(crest_result["train_step_per_sec"],
                                  base_result["baseline_train_step_per_sec"]),
        "ratio_full_step": ratio(crest_result["full_step_per_sec"],
                                 base_result["baseline_full_step_per_sec"]),
        "baseline_python": python,
        "commands": {"crest": " ".join(shlex.quote(c) for c in crest_command),
                     "baseline": " ".join(shlex.quote(c) for c in base_command)},
    }


def run_all(args):
    if args.out and not os.path.isdir(os.path.dirname(os.path.abspath(args.out))):
        raise CompareError("--out %s: its directory does not exist" % args.out)
    if not args.cpu_sizes:
        return compare(args, args.config, args.set, args.steps, args.warmup, args.windows,
                       args.device)
    sizes = {}
    for name, config, overrides, steps, warmup, windows in CPU_SIZES:
        sizes[name] = compare(args, os.path.join(REPO, config), overrides + args.set, steps,
                              warmup, windows, "cpu")
    return {"sizes": sizes}


def sizes_table(result):
    parts = []
    for name, one in result["sizes"].items():
        parts.append("== %s size ==\n%s" % (name, table(one)))
    rows = ["%-12s %22s %22s" % ("crest/baseline", "(a) training step", "(b) full step")]
    for name, one in result["sizes"].items():
        rows.append("%-12s %21.2fx %21.2fx" % (name, one["ratio_train_step"],
                                               one["ratio_full_step"]))
    return "\n\n".join(parts + ["\n".join(rows)])


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        result = run_all(args)
    except CompareError as error:
        print("%s: error: %s" % (PROG, error), file=sys.stderr)
        return error.code
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2, sort_keys=True)
            f.write("\n")
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        print(sizes_table(result) if args.cpu_sizes else table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
