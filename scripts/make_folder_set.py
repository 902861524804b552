#!/usr/bin/python3
"""Builds a naturally imbalanced image-folder dataset from the CIFAR-10 JPEG archive.

The layout is the one `data.dataset: folder` reads (docs: "Your own data"):

    OUT/train/<class>/NNNN.jpg   labeled: HEAD images of the first class down to TAIL of the
                                 last, exponentially (n_c = round(HEAD * (TAIL/HEAD)^(c/9)))
    OUT/unlabeled/u_<class>_NNNN.jpg
                                 the unlabeled pool: POOL images with the same exponential
                                 profile as the labeled set (head/tail = HEAD/TAIL); the class
                                 in the name lets you check pseudo-labels by hand, crest never
                                 reads it
    OUT/test/<class>/NNNN.jpg    every CIFAR-10 test image (1,000 per class)

Labeled and unlabeled images are disjoint draws (seeded) from the archive's train/ images;
the files are copied byte for byte (no re-encoding), so only Python's standard library is
needed. Usage:

    scripts/make_folder_set.py OUT [--archive ../shared/data/cifar10-jpeg.tar.gz]
        [--head 200] [--tail 20] [--pool 4000] [--seed 0]

Exit 2 with a message on bad arguments, a missing or unreadable archive, or an OUT that
exists and is not empty (nothing is written then).
"""

import argparse
import os
import random
import sys
import tarfile

CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
           "dog", "frog", "horse", "ship", "truck"]


def fail(message):
    print("make_folder_set: " + message, file=sys.stderr)
    sys.exit(2)


def profile(head, tail, classes):
    """Exponential counts from head (class 0) to tail (last class)."""
    return [round(head * (tail / head) ** (c / (classes - 1))) for c in range(classes)]


def pool_profile(pool, head, tail, classes):
    """POOL images split with the labeled profile's shape: each class the floor of its share,
    the rounding rest to class 0."""
    weights = [(tail / head) ** (c / (classes - 1)) for c in range(classes)]
    counts = [int(pool * w / sum(weights)) for w in weights]
    counts[0] += pool - sum(counts)
    return counts


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out")
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--archive",
                        default=os.path.join(here, "..", "..", "shared", "data",
                                             "cifar10-jpeg.tar.gz"))
    parser.add_argument("--head", type=int, default=200)
    parser.add_argument("--tail", type=int, default=20)
    parser.add_argument("--pool", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not 1 <= args.tail <= args.head:
        fail("need 1 <= --tail <= --head, got --head %d --tail %d" % (args.head, args.tail))
    if args.pool < 0:
        fail("--pool must be >= 0, got %d" % args.pool)
    return args


def read_members(archive):
    """{(split, class): [(name, bytes), ...] sorted by name} of the archive's JPEG files, read
    in one pass (a gzip stream has no random access)."""
    if not os.path.isfile(archive):
        fail("archive %s not found (see ../shared/data/README.md; --archive PATH)" % archive)
    try:
        members = {}
        with tarfile.open(archive, "r|gz") as tar:
            for member in tar:
                parts = member.name.split("/")
                if member.isfile() and len(parts) >= 3 and parts[-1].endswith(".jpg"):
                    data = tar.extractfile(member).read()
                    members.setdefault((parts[-3], parts[-2]), []).append((member.name, data))
    except (tarfile.TarError, OSError, EOFError) as error:
        fail("cannot read %s: %s" % (archive, error))
    for key in members:
        members[key].sort()
    for split in ("train", "test"):
        for name in CLASSES:
            if (split, name) not in members:
                fail("%s has no %s/%s/*.jpg (is it the CIFAR-10 JPEG archive?)"
                     % (archive, split, name))
    return members


def copy(member, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as target:
        target.write(member[1])


def main():
    args = parse_args()
    if os.path.exists(args.out) and (not os.path.isdir(args.out) or os.listdir(args.out)):
        fail("%s exists and is not an empty folder; choose a new OUT" % args.out)
    members = read_members(args.archive)
    labeled = profile(args.head, args.tail, len(CLASSES))
    unlabeled = pool_profile(args.pool, args.head, args.tail, len(CLASSES))
    rng = random.Random(args.seed)
    for c, name in enumerate(CLASSES):
        if len(members[("train", name)]) < labeled[c] + unlabeled[c]:
            fail("%s has %d train/%s images, fewer than the %d + %d asked"
                 % (args.archive, len(members[("train", name)]), name, labeled[c], unlabeled[c]))
    for c, name in enumerate(CLASSES):
        train = list(members[("train", name)])
        rng.shuffle(train)
        for i, member in enumerate(train[:labeled[c]]):
            copy(member, os.path.join(args.out, "train", name, "%04d.jpg" % i))
        for i, member in enumerate(train[labeled[c]:labeled[c] + unlabeled[c]]):
            copy(member, os.path.join(args.out, "unlabeled", "u_%s_%04d.jpg" % (name, i)))
        for i, member in enumerate(members[("test", name)]):
            copy(member, os.path.join(args.out, "test", name, "%04d.jpg" % i))
    print("labeled   %s (%d)" % (labeled, sum(labeled)))
    print("unlabeled %s (%d)" % (unlabeled, sum(unlabeled)))
    tests = [len(members[("test", name)]) for name in CLASSES]
    print("test      %s (%d)" % (tests, sum(tests)))
    print("wrote %s" % args.out)


if __name__ == "__main__":
    main()
