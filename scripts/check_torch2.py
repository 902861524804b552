#!/usr/bin/env python3
"""Check crest against LibTorch 2.x on a CPU box: compile, link against its CUDA build, run tests.

The development machines have Debian 12's LibTorch 1.13 (CPU); the GPU machines build against a
pip torch 2.x with CUDA. This script catches the drift between the two without a GPU, using
Debian 13's LibTorch 2.6 packages, fetched into a cache folder (nothing is installed). Three
depths:

  (default)  fetches libtorch-dev and libtorch-cuda-dev (headers) and compiles each translation
             unit of build/compile_commands.json in syntax-only mode, with CREST_WITH_CUDA defined
             and the CUDA toolkit's headers (CUDA_HOME, default /usr/local/cuda) on the path.
  --link     also fetches libtorch-cuda-2.6 (the CUDA build's shared libraries, 480 MB), compiles
             each file to an object (-O0) and links `crest` and `crest_tests` with the build's own
             link lines, LibTorch 1.13 swapped for 2.6's libtorch, libtorch_cpu, libc10,
             libtorch_cuda and libc10_cuda, plus the toolkit's cudart. Every LibTorch symbol crest
             uses, CUDA graphs and the fused optimiser included, must then be exported by a CUDA
             LibTorch 2.x. The programs cannot run here (no GPU), so what those libraries need
             themselves is left unresolved (--allow-shlib-undefined).
  --run      builds the CPU variant the same way (no CREST_WITH_CUDA) against libtorch2.6 and
             everything it depends on in Debian 13, its C library included (about 110 packages,
             175 MB), with Debian 13's dynamic loader as the programs' interpreter and the
             unpacked libraries on their rpath, so they run on this Debian 12 machine. Then runs
             crest_tests and every tests/cli/test_*.sh with that crest: the whole suite, on
             LibTorch 2.6.

    scripts/check_torch2.py [--build build] [--cache /tmp/crest-torch2] [--jobs 2]
                            [--link | --run] [FILE ...]

Needs a configured build folder (compile_commands.json is written by default; --link and --run
also read the link lines CMake wrote there), network access to deb.debian.org, and a CUDA
toolkit's include folder. Exit code 0 when every file compiles and, with --link, both programs
link, or with --run, every test passes.
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
import time

SUITE = "deb http://deb.debian.org/debian trixie main contrib\n"
HEADER_PACKAGES = ["libtorch-dev", "libtorch-cuda-dev"]
CUDA_PACKAGES = ["libtorch-cuda-2.6"]
CPU_PACKAGE = "libtorch2.6"
LIBDIR = os.path.join("usr", "lib", "x86_64-linux-gnu")
# The libraries crest links, and those a CUDA build adds (linked whether used or not, as
# TorchConfig.cmake does for libtorch_cuda).
TORCH_LIBRARIES = ["libtorch", "libtorch_cpu", "libc10"]
CUDA_LIBRARIES = ["libtorch_cuda", "libc10_cuda"]
# Where Debian's alternatives would point libblas.so.3 and liblapack.so.3.
ALTERNATIVE_DIRS = ["blas", "lapack", "openblas-pthread"]
SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def apt_options(cache):
    for sub in ("lists/partial", "cache/archives/partial"):
        os.makedirs(os.path.join(cache, sub), exist_ok=True)
    with open(os.path.join(cache, "sources.list"), "w") as f:
        f.write(SUITE)
    return ["-oDir::Etc::SourceList=" + os.path.join(cache, "sources.list"),
            "-oDir::Etc::SourceParts=/dev/null",
            "-oDir::State::Lists=" + os.path.join(cache, "lists"),
            "-oDir::State::Status=/dev/null",
            "-oDir::Cache=" + os.path.join(cache, "cache"),
            "-oAPT::Sandbox::User=root", "-qq"]


def dependency_closure(apt, package):
    """The package and everything it depends on, recursively, as apt-cache lists them."""
    listing = subprocess.run(
        ["apt-cache"] + apt + ["depends", "--recurse", "--no-recommends", "--no-suggests",
                               "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances",
                               package],
        check=True, capture_output=True, text=True).stdout
    return sorted({line for line in listing.splitlines()
                   if line and not line.startswith((" ", "<"))})


def fetch(cache, name, packages, closure=False):
    """Downloads the packages (with their dependencies when closure) and unpacks them into
    cache/root-NAME, once; returns that folder."""
    root = os.path.join(cache, "root-" + name)
    stamp = root + ".unpacked"
    if not os.path.exists(stamp):
        apt = apt_options(cache)
        subprocess.run(["apt-get"] + apt + ["update"], check=True)
        if closure:
            packages = sorted({p for package in packages for p in dependency_closure(apt, package)})
        debs = os.path.join(cache, "debs-" + name)
        os.makedirs(debs, exist_ok=True)
        subprocess.run(["apt-get"] + apt + ["download"] + packages, check=True, cwd=debs)
        for deb in glob.glob(os.path.join(debs, "*.deb")):
            subprocess.run(["dpkg", "-x", deb, root], check=True)
        open(stamp, "w").close()
    return root


def fetch_headers(cache):
    """The include folders of LibTorch 2.x, most specific first."""
    include = os.path.join(fetch(cache, "headers", HEADER_PACKAGES), "usr", "include")
    return [include, os.path.join(include, "torch", "csrc", "api", "include")]


def library_dir(root, names, packages, cache):
    libdir = os.path.join(root, LIBDIR)
    for name in names:
        if not glob.glob(os.path.join(libdir, name + ".so.*")):
            sys.exit("%s: no %s.so.* after unpacking %s; remove %s and retry"
                     % (libdir, name, " ".join(packages), cache))
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


def rewrite(command, includes, cuda_include, version, obj=None, cuda=True):
    """The build's compile command, pointed at the other headers, without PCH; syntax only, or
    writing obj unoptimised when one is given."""
    args = shlex.split(command)
    out = [args[0]] + (["-DCREST_WITH_CUDA=1"] if cuda else [])
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
            for inc in includes + ([cuda_include] if cuda else []):
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


def link_command(link_txt, objects, libdir, output):
    """The build's link line (CMake's link.txt) with this check's objects for the build's, crest's
    static library spelled out as its objects, and LibTorch 2.x's libraries for 1.13's."""
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
    return out


def cuda_link_flags(libdir, cudart):
    # LibTorch's inline CUDA helpers call the CUDA runtime: a CUDA build links it (TorchConfig
    # adds the toolkit's cudart), and so does this check.
    cuda = ",".join(os.path.join(libdir, name + ".so.2.6") for name in CUDA_LIBRARIES)
    return ["-Wl,--no-as-needed," + cuda, "-Wl,--as-needed", cudart,
            "-Wl,--allow-shlib-undefined"]


def run_flags(libdir):
    """Debian 13's loader as the interpreter and its libraries on the rpath (DT_RPATH, which also
    serves the libraries' own dependencies), ahead of this machine's. The linker sees this
    machine's older C library, so what LibTorch 2.6 needs of Debian 13's is left to the loader."""
    path = [libdir] + [os.path.join(libdir, d) for d in ALTERNATIVE_DIRS]
    return ["-Wl,--dynamic-linker=" + os.path.join(libdir, "ld-linux-x86-64.so.2"),
            "-Wl,--disable-new-dtags,-rpath," + ":".join(path), "-Wl,--allow-shlib-undefined"]


def compile_all(jobs, count, title):
    def check(job):
        source, command, directory = job
        result = subprocess.run(command + ["-c", source], cwd=directory, capture_output=True,
                                text=True)
        return source, result.returncode, result.stderr

    failed = 0
    print(title % len(jobs), flush=True)
    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        for source, code, errors in pool.map(check, jobs):
            print(("ok    " if code == 0 else "FAIL  ") + os.path.relpath(source), flush=True)
            if code:
                failed += 1
                print(errors[:8000])
    print("%d of %d files failed" % (failed, len(jobs)), flush=True)
    return failed


def run_tests(bin_dir, build):
    """crest_tests, then every CLI test with the LibTorch 2.6 crest; returns the failures."""
    failed = []
    started = time.time()
    env = dict(os.environ, CREST_SOURCE_DIR=SOURCE_DIR)
    result = subprocess.run([os.path.join(bin_dir, "crest_tests"), "--gtest_brief=1"],
                            cwd=os.path.join(build, "tests"), env=env, capture_output=True,
                            text=True)
    summary = [l for l in result.stdout.splitlines() if re.match(r"\[ *(PASSED|SKIPPED|FAILED) *\]", l)]
    print(("ok    " if result.returncode == 0 else "FAIL  ") + "crest_tests (%.0f s): %s"
          % (time.time() - started, "; ".join(summary[:3])), flush=True)
    if result.returncode:
        failed.append("crest_tests")
        print(result.stdout[-8000:] + result.stderr[-4000:])
    for script in sorted(glob.glob(os.path.join(SOURCE_DIR, "tests", "cli", "test_*.sh"))):
        name = "cli." + os.path.basename(script)[len("test_"):-len(".sh")]
        started = time.time()
        result = subprocess.run(["bash", script, os.path.join(bin_dir, "crest"), SOURCE_DIR],
                                capture_output=True, text=True)
        print(("ok    " if result.returncode == 0 else "FAIL  ") + "%s (%.0f s)"
              % (name, time.time() - started), flush=True)
        if result.returncode:
            failed.append(name)
            print(result.stdout[-8000:] + result.stderr[-4000:])
    return failed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", default="build")
    parser.add_argument("--cache", default="/tmp/crest-torch2")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--cuda-home", default=os.environ.get("CUDA_HOME", "/usr/local/cuda"))
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--link", action="store_true",
                      help="also compile objects and link crest and crest_tests against the CUDA "
                           "build (fetches 480 MB)")
    mode.add_argument("--run", action="store_true",
                      help="build the CPU variant against LibTorch 2.6 and run the test suite "
                           "with it (fetches 175 MB)")
    parser.add_argument("files", nargs="*", help="check only sources whose path contains one of these")
    args = parser.parse_args()

    db = os.path.join(args.build, "compile_commands.json")
    if not os.path.exists(db):
        sys.exit("%s not found: configure first (cmake -S . -B %s)" % (db, args.build))
    cuda_include = os.path.join(args.cuda_home, "include")
    if not args.run and not os.path.exists(os.path.join(cuda_include, "cuda_runtime_api.h")):
        sys.exit("no CUDA headers in %s: set --cuda-home or CUDA_HOME" % cuda_include)
    targets = {"crest": os.path.join(args.build, "CMakeFiles", "crest.dir", "link.txt"),
               "crest_tests": os.path.join(args.build, "tests", "CMakeFiles", "crest_tests.dir",
                                           "link.txt")}
    cudart = os.path.join(args.cuda_home, "lib64", "libcudart.so")
    building = args.link or args.run
    if args.link and not os.path.exists(cudart):
        sys.exit("no CUDA runtime library %s: --link needs the toolkit's lib64 (set --cuda-home "
                 "or CUDA_HOME)" % cudart)
    if building:
        flag = "--link" if args.link else "--run"
        if args.files:
            sys.exit("%s needs every file: leave out %s" % (flag, " ".join(args.files)))
        for link_txt in targets.values():
            if not os.path.exists(link_txt):
                sys.exit("%s not found: generate the build first (cmake -S . -B %s)"
                         % (link_txt, args.build))
    includes = fetch_headers(args.cache)
    version = torch_version(includes[0])
    variant = "cuda" if args.link else "cpu"
    libdir = None
    if args.link:
        libdir = library_dir(fetch(args.cache, "cuda", CUDA_PACKAGES),
                             TORCH_LIBRARIES + CUDA_LIBRARIES, CUDA_PACKAGES, args.cache)
    elif args.run:
        libdir = library_dir(fetch(args.cache, "cpu", [CPU_PACKAGE], closure=True),
                             TORCH_LIBRARIES + ["libc", "libstdc++"], [CPU_PACKAGE], args.cache)
    objects = {}
    jobs = []
    for entry in json.load(open(db)):
        source = entry["file"]
        if args.files and not any(f in source for f in args.files):
            continue
        if source.endswith(".cpp") and "cmake_pch" not in source:
            obj = None
            if building:
                built = output_of(entry["command"], entry["directory"])
                obj = os.path.join(args.cache, "objects-" + variant,
                                   os.path.relpath(built, os.path.abspath(args.build)))
                os.makedirs(os.path.dirname(obj), exist_ok=True)
                objects[built] = obj
            jobs.append((source, rewrite(entry["command"], includes, cuda_include, version, obj,
                                         cuda=not args.run), entry["directory"]))

    title = "compiling %%d files against LibTorch %s %s" % (
        version, "(CPU) headers" if args.run else "+ CUDA headers")
    failed = compile_all(jobs, args.jobs, title)
    if failed or not building:
        return 1 if failed else 0
    bin_dir = os.path.join(args.cache, "bin-" + variant)
    os.makedirs(bin_dir, exist_ok=True)
    for name, link_txt in targets.items():
        command = link_command(link_txt, objects, libdir, os.path.join(bin_dir, name))
        command += cuda_link_flags(libdir, cudart) if args.link else run_flags(libdir)
        result = subprocess.run(command, cwd=link_directory(link_txt), capture_output=True,
                                text=True)
        print(("linked " if result.returncode == 0 else "FAIL   ") + name +
              " against LibTorch %s (%s) in %s" % (version, variant.upper(), libdir), flush=True)
        if result.returncode:
            failed += 1
            print(result.stderr[:8000])
    if failed or not args.run:
        return 1 if failed else 0
    failures = run_tests(bin_dir, os.path.abspath(args.build))
    print("LibTorch %s: %s" % (version, "every test passed" if not failures
                               else "failed: " + " ".join(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
