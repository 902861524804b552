#!/usr/bin/env python3
"""Compile every crest source against LibTorch 2.x headers, CUDA parts included, on a CPU box.

The development machines have Debian 12's LibTorch 1.13 (CPU); the GPU machines build against a
pip torch 2.x with CUDA. This check catches API drift between the two without a GPU: it fetches
Debian 13's libtorch-dev and libtorch-cuda-dev (LibTorch 2.6, headers only; nothing is
installed) into a cache folder and runs the compiler in syntax-only mode over each translation
unit of build/compile_commands.json, with CREST_WITH_CUDA defined and the CUDA toolkit's headers
(CUDA_HOME, default /usr/local/cuda) on the path.

    scripts/check_torch2.py [--build build] [--cache /tmp/crest-torch2] [--jobs 2] [FILE ...]

Needs a configured build folder (compile_commands.json is written by default), network access
to deb.debian.org, and a CUDA toolkit's include folder. Exit code 0 when every file compiles.
"""
import argparse
import concurrent.futures
import glob
import json
import os
import shlex
import subprocess
import sys

SUITE = "deb http://deb.debian.org/debian trixie main contrib\n"
PACKAGES = ["libtorch-dev", "libtorch-cuda-dev"]


def fetch_headers(cache):
    """Downloads and unpacks the packages once; returns the include folders, most specific first."""
    root = os.path.join(cache, "root")
    stamp = os.path.join(cache, "unpacked")
    if not os.path.exists(stamp):
        for sub in ("lists/partial", "cache/archives/partial", "debs"):
            os.makedirs(os.path.join(cache, sub), exist_ok=True)
        with open(os.path.join(cache, "sources.list"), "w") as f:
            f.write(SUITE)
        apt = ["-oDir::Etc::SourceList=" + os.path.join(cache, "sources.list"),
               "-oDir::Etc::SourceParts=/dev/null",
               "-oDir::State::Lists=" + os.path.join(cache, "lists"),
               "-oDir::Cache=" + os.path.join(cache, "cache"),
               "-oAPT::Sandbox::User=root", "-qq"]
        subprocess.run(["apt-get"] + apt + ["update"], check=True)
        subprocess.run(["apt-get"] + apt + ["download"] + PACKAGES, check=True,
                       cwd=os.path.join(cache, "debs"))
        for deb in glob.glob(os.path.join(cache, "debs", "*.deb")):
            subprocess.run(["dpkg", "-x", deb, root], check=True)
        open(stamp, "w").close()
    include = os.path.join(root, "usr", "include")
    return [include, os.path.join(include, "torch", "csrc", "api", "include")]


def torch_version(include):
    parts = {}
    with open(os.path.join(include, "torch", "csrc", "api", "include", "torch", "version.h")) as f:
        for line in f:
            words = line.split()
            if len(words) == 3 and words[0] == "#define" and words[1].startswith("TORCH_VERSION_"):
                parts[words[1]] = words[2]
    return ".".join(parts.get("TORCH_VERSION_" + k, "?") for k in ("MAJOR", "MINOR", "PATCH"))


def rewrite(command, includes, cuda_include, version):
    """The build's compile command, pointed at the other headers, without PCH or output."""
    args = shlex.split(command)
    out = [args[0], "-DCREST_WITH_CUDA=1"]
    i = 1
    while i < len(args):
        a = args[i]
        if a == "-o" or (a == "-include" and "cmake_pch" in args[i + 1]):
            i += 2
            continue
        if a == "-isystem" and args[i + 1].endswith("torch/csrc/api/include"):
            for inc in includes + [cuda_include]:
                out += ["-isystem", inc]
            i += 2
            continue
        if a in ("-c", "-Winvalid-pch"):
            i += 1
            continue
        if a.startswith("-DCREST_TORCH_VERSION="):
            a = '-DCREST_TORCH_VERSION="%s"' % version
        out.append(a)
        i += 1
    return out + ["-fsyntax-only"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", default="build")
    parser.add_argument("--cache", default="/tmp/crest-torch2")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--cuda-home", default=os.environ.get("CUDA_HOME", "/usr/local/cuda"))
    parser.add_argument("files", nargs="*", help="check only sources whose path contains one of these")
    args = parser.parse_args()

    db = os.path.join(args.build, "compile_commands.json")
    if not os.path.exists(db):
        sys.exit("%s not found: configure first (cmake -S . -B %s)" % (db, args.build))
    cuda_include = os.path.join(args.cuda_home, "include")
    if not os.path.exists(os.path.join(cuda_include, "cuda_runtime_api.h")):
        sys.exit("no CUDA headers in %s: set --cuda-home or CUDA_HOME" % cuda_include)
    includes = fetch_headers(args.cache)
    version = torch_version(includes[0])
    jobs = []
    for entry in json.load(open(db)):
        source = entry["file"]
        if args.files and not any(f in source for f in args.files):
            continue
        if source.endswith(".cpp") and "cmake_pch" not in source:
            jobs.append((source, rewrite(entry["command"], includes, cuda_include, version),
                         entry["directory"]))

    def check(job):
        source, command, directory = job
        result = subprocess.run(command + ["-c", source], cwd=directory, capture_output=True,
                                text=True)
        return source, result.returncode, result.stderr

    failed = 0
    print("checking %d files against LibTorch %s + CUDA headers" % (len(jobs), version))
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for source, code, errors in pool.map(check, jobs):
            print(("ok    " if code == 0 else "FAIL  ") + os.path.relpath(source), flush=True)
            if code:
                failed += 1
                print(errors[:8000])
    print("%d of %d files failed" % (failed, len(jobs)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
