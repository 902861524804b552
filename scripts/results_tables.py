#!/usr/bin/env python3
"""Markdown tables of finished or unfinished crest runs, as docs/results.md shows them.

    scripts/results_tables.py RUN_DIR [RUN_DIR ...]

For each run folder (the one `crest train --out` wrote): one row per generation from
generations.csv (accuracy, mean recall, minority and head recall, minority precision, the
selection); the training signals of each generation (first and last evaluation in
gen_K/metrics.jsonl: losses, mask rate, accuracy of the kept pseudo-labels); test recall and
precision per class (gen_K/per_class.csv); and for self-training runs the selection per class
(gen_K/selection.json) beside the precision that the generation's test confusion matrix
(gen_K/confusion.csv) predicts for all of the pool's predictions of a class once re-weighted from
the balanced test set to the pool's class counts. A selection far below that prediction would
point at a bug; one above it is the confidence ranking at work.

Standard library only. Exit code 2, naming the file, when a run folder lacks what it needs.
"""
import csv
import json
import os
import sys


class RunError(Exception):
    pass


def read_csv(path):
    try:
        with open(path, newline="") as f:
            return list(csv.DictReader(f))
    except OSError as e:
        raise RunError("cannot read %s: %s" % (path, e.strerror))


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except OSError as e:
        raise RunError("cannot read %s: %s" % (path, e.strerror))
    except ValueError as e:
        raise RunError("%s is not valid JSON (%s)" % (path, e))


def read_jsonl(path):
    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]
    except OSError as e:
        raise RunError("cannot read %s: %s" % (path, e.strerror))
    except ValueError as e:
        raise RunError("%s has a line that is not JSON (%s)" % (path, e))


def field(row, key, path):
    if key not in row:
        raise RunError("%s has no column '%s' (written by another crest version?)" % (path, key))
    return row[key]


def pct(value):
    # An empty field is an undefined figure (e.g. the precision of classes never predicted).
    if value in ("", None):
        return "n/a"
    return "%.1f" % (100.0 * float(value))


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def expected_precision(confusion, pool_counts, c):
    """Precision of 'predicted c' over the pool, from the test confusion rows re-weighted."""
    rate = [[v / max(1.0, sum(row)) for v in row] for row in confusion]
    denominator = sum(rate[k][c] * pool_counts[k] for k in range(len(confusion)))
    return rate[c][c] * pool_counts[c] / denominator if denominator > 0 else None


def run_tables(run):
    out = []
    name = os.path.basename(os.path.normpath(run))
    generations_path = os.path.join(run, "generations.csv")
    gens = read_csv(generations_path)
    if not gens:
        raise RunError("%s has no finished generation yet" % generations_path)
    out.append("#### %s\n" % name)
    rows = []
    for r in gens:
        get = lambda key: field(r, key, generations_path)
        selected = get("selection_precision") != ""
        rows.append([get("generation"), "%.2f" % float(get("t")),
                     "%s (%s)" % (get("labeled"), get("pseudo_labeled")),
                     "%.2f" % (100 * float(get("accuracy"))), "%.2f" % (100 * float(get("mean_recall"))),
                     pct(get("minority_recall")), pct(get("minority_precision")),
                     pct(get("majority_recall")), get("selected") if selected else "-",
                     pct(get("selection_precision")) if selected else "-"])
    out.append(table(["gen", "t_g", "labeled (pseudo)", "accuracy", "mean recall",
                      "minority recall", "minority precision", "head recall", "selected",
                      "selection precision"], rows))

    rows = []
    for r in gens:
        g = r["generation"]
        path = os.path.join(run, "gen_%s" % g, "metrics.jsonl")
        lines = read_jsonl(path)
        if not lines:
            raise RunError("%s is empty" % path)
        first, last = lines[0], lines[-1]

        def span(key):
            if key not in first or key not in last:
                raise RunError("%s lacks '%s'" % (path, key))
            return "%.3f -> %.3f" % (first[key], last[key])
        rows.append([g, span("loss"), span("loss_x"), span("loss_u"), span("mask_rate"),
                     span("pseudo_label_acc"), "%.2f" % last.get("steps_per_sec", 0.0)])
    out.append("\nTraining signals (first -> last evaluation of each generation):\n")
    out.append(table(["gen", "loss", "labeled loss", "unlabeled loss", "mask rate",
                      "kept pseudo-label accuracy", "steps/s"], rows))

    names = None
    recall, precision = [], []
    for r in gens:
        path = os.path.join(run, "gen_%s" % r["generation"], "per_class.csv")
        per_class = read_csv(path)
        names = [field(p, "name", path) for p in per_class]
        recall.append([r["generation"]] + [pct(field(p, "recall", path)) for p in per_class])
        precision.append([r["generation"]] + [pct(field(p, "precision", path)) for p in per_class])
    header = ["gen"] + ["%d %s" % (i, n) for i, n in enumerate(names)]
    out.append("\nTest recall per class (%), EMA model at the end of each generation:\n")
    out.append(table(header, recall))
    out.append("\nTest precision per class (%):\n")
    out.append(table(header, precision))

    rows = []
    for r in gens:
        g = r["generation"]
        path = os.path.join(run, "gen_%s" % g, "selection.json")
        if not os.path.exists(path):
            continue
        s = read_json(path)
        for key in ("selected", "predicted", "precision", "pool_true_counts"):
            if key not in s:
                raise RunError("%s lacks '%s'" % (path, key))
        confusion_path = os.path.join(run, "gen_%s" % g, "confusion.csv")
        confusion_rows = read_csv(confusion_path)
        if not confusion_rows:
            raise RunError("%s is empty" % confusion_path)
        columns = [k for k in confusion_rows[0] if k != "true\\predicted"]
        confusion = [[float(row[k]) for k in columns] for row in confusion_rows]
        selected, expected, counts = [], [], []
        for c in range(len(s["selected"])):
            counts.append("%d/%d" % (s["selected"][c], s["predicted"][c]))
            selected.append(pct(s["precision"][c]) if s["selected"][c] else "-")
            e = expected_precision(confusion, s["pool_true_counts"], c)
            expected.append(pct(e) if e is not None else "-")
        rows += [["%s selected/predicted" % g] + counts,
                 ["%s selection precision" % g] + selected,
                 ["%s expected from test" % g] + expected]
    if rows:
        out.append("\nSelection per predicted class at the end of each generation (selected / "
                   "predicted in the pool; precision against the hidden labels, %; the precision "
                   "the test confusion matrix predicts for all of the pool's predictions, %):\n")
        out.append(table(header, rows))
    return "\n".join(out) + "\n"


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if argv else 2
    try:
        for run in argv:
            if not os.path.isdir(run):
                raise RunError("%s is not a run folder" % run)
            print(run_tables(run))
    except RunError as e:
        print("results_tables.py: %s" % e, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
