#!/usr/bin/env python3
"""Post-hoc logit adjustment of a `crest export` model in PyTorch, as `crest predict
--logit-adjust` does, with the class counts the export's sidecar carries:

    import torch
    from wrn import load_crest_export, normalize            # scripts/wrn.py

    model, meta = load_crest_export("RUN/export/gen_2-ema.pt")
    counts = torch.tensor(meta["labeled_class_counts"], dtype=torch.float64)
    prior = (counts / counts.sum()).clamp_min(1e-12)
    with torch.no_grad():
        logits = model(normalize(images)).double()           # images: uint8 [N, 3, S, S]
    if not meta["logit_adjustment"]["already_applied"]:
        logits = logits - meta["logit_adjustment"]["tau"] * prior.log()
    classes = [meta["classes"][i] for i in logits.argmax(1)]

As a script it checks that against crest's own adjusted logits:

    crest predict RUN --folder DIR --logit-adjust --logits --out adjusted.jsonl
    python3 scripts/logit_adjust.py RUN/export/gen_K-ema.pt --compare adjusted.jsonl

Exit 0 when every adjusted logit matches crest's within --atol, 1 otherwise, 2 on bad input.
Needs torch (>= 1.13), numpy and PIL (Debian: python3-torch, python3-numpy, python3-pil).
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wrn import compare_arguments, normalize  # noqa: E402


def adjusted_logits(model, meta, images):
    """float64 [N, C]: the model's logits of uint8 `images` [N, 3, S, S], minus tau * log(prior)
    with the prior from the sidecar's labeled_class_counts (unless already applied)."""
    counts = torch.tensor(meta["labeled_class_counts"], dtype=torch.float64)
    prior = (counts / counts.sum()).clamp_min(1e-12)
    with torch.no_grad():
        logits = model(normalize(images)).double()
    if not meta["logit_adjustment"]["already_applied"]:
        logits = logits - meta["logit_adjustment"]["tau"] * prior.log()
    return logits


def main():
    loaded = compare_arguments(__doc__.split("\n")[0],
                               "JSONL of `crest predict --logit-adjust --logits`")
    if loaded is None:
        return 2
    model, meta, images, expected, count, atol = loaded
    logits = adjusted_logits(model, meta, images)
    diff = (logits - expected).abs().max().item()
    same_top1 = bool((logits.argmax(1) == expected.argmax(1)).all())
    print("%d images: largest |python - crest| adjusted logit difference %.3g (atol %g); "
          "top-1 %s" % (count, diff, atol, "equal" if same_top1 else "DIFFERENT"))
    return 0 if diff <= atol and same_top1 else 1


if __name__ == "__main__":
    sys.exit(main())
