#!/usr/bin/env python3
"""Compile every crest source against LibTorch 2.x headers, CUDA parts included, on a CPU box.

The development machines have Debian 12's LibTorch 1.13 (CPU); the GPU machines build against a
pip torch 2.x with CUDA. This check catches API drift between the two without a GPU: it fetches
Debian 13's libtorch-dev and libtorch-cuda-dev (LibTorch 2.6, headers only; nothing is
installed) into a cache folder and runs the compiler in syntax-only mode over each translation
unit of build/compile_commands.json, with CREST_WITH_CUDA defined and the CUDA toolkit's headers
(CUDA_HOME, default /usr/local/cuda) on the path.

With --link it goes one step further: it also fetches libtorch-cuda-2.6 (the CUDA build's shared
libraries, about 480 MB), compiles each file to an object (-O0) and links the `crest` and
`crest_tests` executables as the build's own link lines do, with LibTorch 1.13 swapped for
2.6's libtorch, libtorch_cpu, libtorch_cuda, libc10 and libc10_cuda. That proves every LibTorch
symbol crest uses, CUDA graphs and the fused optimiser included, is exported by a CUDA
LibTorch 2.x. The result cannot run here (those libraries need Debian 13's C library and the
CUDA runtime), so what the libraries themselves need is not resolved (--allow-shlib-undefined).

    scripts/check_torch2.py [--build build] [--cache /tmp/crest-torch2] [--jobs 2] [--link]
                            [FILE ...]

Needs a configured build folder (compile_commands.json is written by default; --link also reads
the link lines CMake wrote there), network access to deb.debian.org, and a CUDA toolkit's
include folder. Exit code 0 when every file compiles (and, with --link, both programs link).
"""
import argparse
import concurrent.futures
import glob
import json
import os
import re
import shlex
import subprocess
import sys

SUITE = "deb http://deb.debian.org/debian trixie main contrib\n"
PACKAGES = ["libtorch-dev", "libtorch-cuda-dev"]
LIBRARY_PACKAGES = ["libtorch-cuda-2.6"]
LIBDIR = os.path.join("usr", "lib", "x86_64-linux-gnu")
# The libraries crest links, and those a CUDA build adds (linked whether used or not, as
# TorchConfig.cmake does for libtorch_cuda).
TORCH_LIBRARIES = ["libtorch", "libtorch_cpu", "libc10"]
CUDA_LIBRARIES = ["libtorch_cuda", "libc10_cuda"]


def fetch(cache, packages, stamp_name):
    """Downloads and unpacks the packages into cache/root once; returns that root."""
    root = os.path.join(cache, "root")
    stamp = os.path.join(cache, stamp_name)
    if not os.path.exists(stamp):
        debs = os.path.join(cache, "debs-" + stamp_name)
        for sub in ("lists/partial", "cache/archives/partial"):
            os.makedirs(os.path.join(cache, sub), exist_ok=True)
        os.makedirs(debs, exist_ok=True)
        with open(os.path.join(cache, "sources.list"), "w") as f:
            f.write(SUITE)
        apt = ["-oDir::Etc::SourceList=" + os.path.join(cache, "sources.list"),
               "-oDir::Etc::SourceParts=/dev/null",
               "-oDir::State::Lists=" + os.path.join(cache, "lists"),
               "-oDir::Cache=" + os.path.join(cache, "cache"),
               "-oAPT::Sandbox::User=root", "-qq"]
        subprocess.run(["apt-get"] + apt + ["update"], check=True)
        subprocess.run(["apt-get"] + apt + ["download"] + packages, check=True, cwd=debs)
        for deb in glob.glob(os.path.join(debs, "*.deb")):
            subprocess.run(["dpkg", "-x", deb, root], check=True)
        open(stamp, "w").close()
    return root


def fetch_headers(cache):
    """The include folders of LibTorch 2.x, most specific first."""
    include = os.path.join(fetch(cache, PACKAGES, "unpacked"), "usr", "include")
    return [include, os.path.join(include, "torch", "csrc", "api", "include")]


def fetch_libraries(cache):
    """The folder holding LibTorch 2.x's CUDA build of the shared libraries."""
    libdir = os.path.join(fetch(cache, LIBRARY_PACKAGES, "unpacked-libraries"), LIBDIR)
    for name in TORCH_LIBRARIES + CUDA_LIBRARIES:
        if not glob.glob(os.path.join(libdir, name + ".so.*")):
            sys.exit("%s: no %s.so.* after unpacking %s; remove %s and retry"
                     % (libdir, name, " ".join(LIBRARY_PACKAGES), cache))
    return libdir


def torch_version(include):
    parts = {}
    with open(os.path.join(include, "torch", "csrc", "api", "include", "torch", "version.h")) as f:
        for line in f:
            words = line.split()
            if len(words) == 3 and words[0] == "#define" and words[1].startswith("TORCH_VERSION_"):
                parts[words[1]] = words[2]
    return ".".join(parts.get("TORCH_VERSION_" + k, "?") for k in ("MAJOR", "MINOR", "PATCH"))


def output_of(command, directory):
    """The object file the build's compile command writes, as an absolute path."""
    args = shlex.split(command)
    return os.path.normpath(os.path.join(directory, args[args.index("-o") + 1]))


def rewrite(command, includes, cuda_include, version, obj=None):
    """The build's compile command, pointed at the other headers, without PCH; syntax only, or
    writing obj unoptimised when one is given."""
    args = shlex.split(command)
    out = [args[0], "-DCREST_WITH_CUDA=1"]
    i = 1
    while i < len(args):
        a = args[i]
        if a == "-o" or (a == "-include" and "cmake_pch" in args[i + 1]):
            i += 2
            continue
        if obj and re.fullmatch(r"-O[0-9sgz]?|-g[0-9]?", a):
            i += 1
            continue
        if a == "-isystem" and args[i + 1].endswith("torch/csrc/api/include"):
            for inc in includes + [cuda_include]:
                out += ["-isystem", inc]
            i += 2
            continue
        if a == "-c":  # with its source: the caller names the source
            i += 2
            continue
        if a == "-Winvalid-pch":
            i += 1
            continue
        if a.startswith("-DCREST_TORCH_VERSION="):
            a = '-DCREST_TORCH_VERSION="%s"' % version
        out.append(a)
        i += 1
    return out + (["-O0", "-g0", "-o", obj] if obj else ["-fsyntax-only"])


def link_directory(link_txt):
    """Where CMake runs a link line: the folder above CMakeFiles/TARGET.dir/link.txt."""
    return os.path.abspath(os.path.dirname(os.path.dirname(os.path.dirname(link_txt))))


def link_command(link_txt, objects, libdir, cudart, output):
    """The build's link line (CMake's link.txt) with this check's objects for the build's, crest's
    static library spelled out as its objects, and LibTorch 2.x's CUDA libraries for 1.13's."""
    directory = link_directory(link_txt)
    args = shlex.split(open(link_txt).read())
    core = sorted(o for source, o in objects.items() if "/crest_core.dir/" in source)
    out = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "-o":
            out += ["-o", output]
            i += 2
            continue
        path = os.path.normpath(os.path.join(directory, a))
        if a.endswith(".o"):
            if path not in objects:
                sys.exit("%s names %s, which compile_commands.json does not build" % (link_txt, a))
            out.append(objects[path])
        elif a.endswith("libcrest_core.a"):
            out += core
        else:
            for name in TORCH_LIBRARIES:
                a = re.sub(r"/[^,\"]*/%s\.so[.0-9]*" % name,
                           os.path.join(libdir, name + ".so.2.6"), a)
            out.append(a)
        i += 1
    cuda = ",".join(os.path.join(libdir, name + ".so.2.6") for name in CUDA_LIBRARIES)
    return out + ["-Wl,--no-as-needed," + cuda, "-Wl,--as-needed", cudart,
                  "-Wl,--allow-shlib-undefined"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", default="build")
    parser.add_argument("--cache", default="/tmp/crest-torch2")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--cuda-home", default=os.environ.get("CUDA_HOME", "/usr/local/cuda"))
    parser.add_argument("--link", action="store_true",
                        help="also compile objects and link crest and crest_tests (fetches 480 MB)")
    parser.add_argument("files", nargs="*", help="check only sources whose path contains one of these")
    args = parser.parse_args()

    db = os.path.join(args.build, "compile_commands.json")
    if not os.path.exists(db):
        sys.exit("%s not found: configure first (cmake -S . -B %s)" % (db, args.build))
    cuda_include = os.path.join(args.cuda_home, "include")
    if not os.path.exists(os.path.join(cuda_include, "cuda_runtime_api.h")):
        sys.exit("no CUDA headers in %s: set --cuda-home or CUDA_HOME" % cuda_include)
    targets = {"crest": os.path.join(args.build, "CMakeFiles", "crest.dir", "link.txt"),
               "crest_tests": os.path.join(args.build, "tests", "CMakeFiles", "crest_tests.dir",
                                           "link.txt")}
    # LibTorch's inline CUDA helpers call the CUDA runtime: a CUDA build links it (TorchConfig
    # adds the toolkit's cudart), and so does this check.
    cudart = os.path.join(args.cuda_home, "lib64", "libcudart.so")
    if args.link:
        if not os.path.exists(cudart):
            sys.exit("no CUDA runtime library %s: --link needs the toolkit's lib64 (set --cuda-home "
                     "or CUDA_HOME)" % cudart)
        if args.files:
            sys.exit("--link needs every file: leave out %s" % " ".join(args.files))
        for link_txt in targets.values():
            if not os.path.exists(link_txt):
                sys.exit("%s not found: generate the build first (cmake -S . -B %s)"
                         % (link_txt, args.build))
    includes = fetch_headers(args.cache)
    libdir = fetch_libraries(args.cache) if args.link else None
    version = torch_version(includes[0])
    objects = {}
    jobs = []
    for entry in json.load(open(db)):
        source = entry["file"]
        if args.files and not any(f in source for f in args.files):
            continue
        if source.endswith(".cpp") and "cmake_pch" not in source:
            obj = None
            if args.link:
                built = output_of(entry["command"], entry["directory"])
                obj = os.path.join(args.cache, "objects",
                                   os.path.relpath(built, os.path.abspath(args.build)))
                os.makedirs(os.path.dirname(obj), exist_ok=True)
                objects[built] = obj
            jobs.append((source, rewrite(entry["command"], includes, cuda_include, version, obj),
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
    if failed or not args.link:
        return 1 if failed else 0
    for name, link_txt in targets.items():
        output = os.path.join(args.cache, "bin", name)
        os.makedirs(os.path.dirname(output), exist_ok=True)
        result = subprocess.run(link_command(link_txt, objects, libdir, cudart, output),
                                cwd=link_directory(link_txt),
                                capture_output=True, text=True)
        print(("linked " if result.returncode == 0 else "FAIL   ") + name +
              " against LibTorch %s (CUDA) in %s" % (version, libdir), flush=True)
        if result.returncode:
            failed += 1
            print(result.stderr[:8000])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
