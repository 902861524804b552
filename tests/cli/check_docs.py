#!/usr/bin/env python3
"""Checks every crest command written in README.md and docs/*.md against the binary.

Usage: check_docs.py CREST_BINARY SOURCE_DIR [FILE.md ...]
       check_docs.py --run CREST_BINARY SOURCE_DIR WORK_DIR [FILE.md ...]

A command is a line of a fenced code block marked sh, bash or console (continuation lines
joined) that calls crest (`crest`, `build/crest`, any `.../crest`), alone or after `&&`, `;` or `|`. For each one:
  - the subcommand exists (`crest SUB --help` exits 0);
  - every flag it passes is one that SUB's --help lists (global flags before SUB: the top
    level's --help);
  - a --config or --grid file under the repository exists;
  - its --set overrides (with its --config, when that is a repository file) pass
    `crest print-config`, so a key or value a doc shows is one crest accepts;
  - every `scripts/...` or `configs/...`/`sweeps/...` path in the block exists.
Every relative Markdown link [text](path#anchor) must name an existing file, and an anchor one of
its headings (GitHub's slugs).
With --run, the blocks that a line `<!-- check: run -->` right before the fence marks are run:
each file's marked blocks in order, as one bash -e script in WORK_DIR/<file name>, where `crest`
runs CREST_BINARY and configs/, scripts/, sweeps/ and tests/ are the repository's; a block that
fails is reported with its file and line and the script's last output.
Blocks without a language (synopses with [OPTIONAL] placeholders, sample output) are not
commands and are skipped. Exits 1 listing every failure as FILE:LINE: what.
Each distinct `crest ... --help` and `crest print-config ...` runs once; with the environment
variable CHECK_DOCS_CACHE naming a folder, their results are kept there for the next call of
this script with the same binary (tests/cli/test_docs.sh calls it a dozen times).
"""
import hashlib
import json
import os
import re
import shlex
import subprocess
import sys

COMMAND_LANGS = {"sh", "bash", "console", "shell"}
CREST_NAMES = {"crest"}
TWO_WORD = {"data"}  # `crest data prepare`, `crest data synth`


RUN_MARK = "<!-- check: run -->"


def code_blocks(path, marked_only=False):
    """Yields (first_line_number, lines) of each sh/bash/console fenced block (with
    marked_only: of those right after a RUN_MARK line)."""
    lang, start, lines, previous, marked = None, 0, [], "", False
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            stripped = line.rstrip("\n")
            if stripped.lstrip().startswith("```"):
                if lang is None:
                    lang = stripped.strip()[3:].strip() or "-"
                    start, lines, marked = number + 1, [], previous.strip() == RUN_MARK
                else:
                    if lang in COMMAND_LANGS and (marked or not marked_only):
                        yield start, lines
                    lang = None
                previous = stripped
                continue
            if lang is not None:
                lines.append(stripped)
            previous = stripped


def logical_lines(start, lines):
    """Joins backslash continuations; yields (line_number, text) without comments."""
    buffer, first = "", None
    for offset, line in enumerate(lines):
        if first is None:
            first = start + offset
        text = line.rstrip()
        if text.startswith("$ "):
            text = text[2:]
        if text.endswith("\\"):
            buffer += text[:-1] + " "
            continue
        yield first, buffer + text
        buffer, first = "", None
    if buffer:
        yield first, buffer


def tokens_of(text):
    try:
        lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        return list(lexer)
    except ValueError:
        return None


def is_crest(word):
    """`crest`, `build/crest`, `/tmp/r7/crest`, `build-gpu/crest`: the executable by any path."""
    return word in CREST_NAMES or word.endswith("/crest")


def crest_invocations(tokens):
    """Splits a token list at ; && || | and yields the argument lists of crest calls."""
    current = []
    for token in tokens + [";"]:
        if token and set(token) <= set(";&|"):
            if current and is_crest(current[0]):
                yield current[1:]
            current = []
        else:
            current.append(token)


class Runs:
    """`crest ARGS...` run once per distinct ARGS: (exit code, stdout, stderr), kept in memory and,
    when CHECK_DOCS_CACHE names a folder, there for later calls with the same binary (its path,
    size and modification time are part of the key, with the working folder)."""

    def __init__(self, binary):
        self.binary, self.memory = binary, {}
        self.folder = os.environ.get("CHECK_DOCS_CACHE") or None
        stat = os.stat(binary)
        self.identity = [os.path.realpath(binary), stat.st_size, stat.st_mtime_ns, os.getcwd()]

    def __call__(self, args):
        key = json.dumps(self.identity + list(args))
        if key in self.memory:
            return self.memory[key]
        path = None
        if self.folder:
            path = os.path.join(self.folder, hashlib.sha256(key.encode()).hexdigest() + ".json")
            try:
                with open(path, encoding="utf-8") as f:
                    stored = json.load(f)
                if stored["key"] == key:
                    self.memory[key] = tuple(stored["result"])
                    return self.memory[key]
            except (OSError, ValueError, KeyError):
                pass
        proc = subprocess.run([self.binary, *args], capture_output=True, text=True)
        result = (proc.returncode, proc.stdout, proc.stderr)
        self.memory[key] = result
        if path:
            os.makedirs(self.folder, exist_ok=True)
            with open(path + ".tmp", "w", encoding="utf-8") as f:
                json.dump({"key": key, "result": result}, f)
            os.replace(path + ".tmp", path)
        return result


class Help:
    """Flags and subcommands listed by `crest [SUB...] --help`, cached."""

    def __init__(self, binary):
        self.binary, self.cache, self.run = binary, {}, Runs(binary)

    def _read(self, words):
        key = tuple(words)
        if key not in self.cache:
            returncode, stdout, stderr = self.run([*words, "--help"])
            text = stdout + stderr
            options, _, subs = text.partition("Subcommands:")
            self.cache[key] = None if returncode != 0 else (
                set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", options)),
                set(re.findall(r"^  (\S+)", subs, re.M)))
        return self.cache[key]

    def flags(self, words):
        """The flags of `crest WORDS`, or None when WORDS is not a (sub)command path."""
        for depth in range(len(words)):
            parent = self._read(words[:depth])
            if parent is None or words[depth] not in parent[1]:
                return None
        found = self._read(words)
        return None if found is None else found[0]


def check_invocation(args, where, help_, src, problems):
    global_flags = help_.flags([]) or set()
    i = 0
    while i < len(args) and args[i].startswith("-"):
        flag = args[i].split("=", 1)[0]
        if flag not in global_flags:
            problems.append(f"{where}: '{flag}' before the subcommand is not a global flag")
        i += 1
    if i == len(args):
        return  # bare `crest`: trains the quickstart
    words = [args[i]]
    i += 1
    if words[0] in TWO_WORD and i < len(args):
        words.append(args[i])
        i += 1
    flags = help_.flags(words)
    if flags is None:
        problems.append(f"{where}: 'crest {' '.join(words)}' is not a subcommand")
        return
    config, sets = None, []
    rest = args[i:]
    for j, arg in enumerate(rest):
        if not arg.startswith("-") or arg == "-":
            continue
        flag = arg.split("=", 1)[0]
        if re.fullmatch(r"-\d+(\.\d+)?", flag):
            continue  # a negative number as a value
        if flag not in flags and flag not in global_flags:
            problems.append(f"{where}: 'crest {' '.join(words)}' has no flag '{flag}'")
        value = arg.split("=", 1)[1] if "=" in arg else (rest[j + 1] if j + 1 < len(rest) else None)
        if flag in ("--config", "--grid") and value and "$" not in value:
            if re.match(r"(configs|sweeps|tests)/", value):
                if not os.path.isfile(os.path.join(src, value)):
                    problems.append(f"{where}: {flag} {value}: no such file in the repository")
                elif flag == "--config":
                    config = value
        if flag == "--config" and value and config is None:
            config = False  # the user's own file: --set cannot be checked against it
        if flag == "--set" and value:
            sets.append(value)
    if sets and config is not False and not any("$" in s for s in sets):
        command = ["print-config"]
        if config:
            command += ["--config", os.path.join(src, config)]
        for s in sets:
            command += ["--set", s]
        returncode, _, stderr = help_.run(command)
        if returncode != 0:
            message = (stderr.strip().splitlines() or ["?"])[-1]
            problems.append(f"{where}: its --set overrides are refused: {message}")


def check_paths(text, where, src, problems):
    for path in re.findall(r"(?<![\w./-])((?:scripts|configs|sweeps)/[\w./${}-]+)", text):
        path = path.rstrip(".")
        if "$" in path:
            continue  # a shell variable in the name: e.g. configs/cifar10lt-cpu-$m.yaml
        if not os.path.exists(os.path.join(src, path)):
            problems.append(f"{where}: {path}: no such file in the repository")


def slug(heading):
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors_of(path):
    found, fence = set(), False
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.lstrip().startswith("```"):
                fence = not fence
            elif not fence and line.startswith("#"):
                found.add(slug(line.lstrip("#")))
    return found


def check_links(path, name, problems):
    """Relative links outside code: the file exists, and the anchor is one of its headings."""
    fence = False
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if line.lstrip().startswith("```"):
                fence = not fence
                continue
            if fence:
                continue
            line = re.sub(r"`[^`]*`", "", line)
            for target in re.findall(r"\]\(([^)\s]+)\)", line):
                if re.match(r"[a-z]+:", target):
                    continue  # http:, https:, mailto:
                file_part, _, anchor = target.partition("#")
                linked = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) \
                    if file_part else path
                if not os.path.exists(linked):
                    problems.append(f"{name}:{number}: link to {target}: no such file")
                elif anchor and linked.endswith(".md") and anchor not in anchors_of(linked):
                    problems.append(f"{name}:{number}: link to {target}: no such heading")


def run_marked(binary, src, work, files):
    """Runs each file's marked blocks as one script; returns the problems."""
    problems = []
    for path in files:
        blocks = list(code_blocks(path, marked_only=True))
        if not blocks:
            continue
        name = display_name(path, src)
        folder = os.path.join(work, re.sub(r"\W", "_", name))
        os.makedirs(folder, exist_ok=True)
        for shared in ("configs", "scripts", "sweeps", "tests"):
            link = os.path.join(folder, shared)
            if not os.path.exists(link):
                os.symlink(os.path.join(os.path.abspath(src), shared), link)
        script = ["set -e", f"crest() {{ {shlex.quote(os.path.abspath(binary))} \"$@\"; }}"]
        for start, lines in blocks:
            script.append(f"echo '### {name}:{start}'")
            script.extend(lines)
        proc = subprocess.run(["bash", "-c", "\n".join(script)], cwd=folder,
                              capture_output=True, text=True)
        print(f"check_docs --run: {name}: {len(blocks)} block(s), exit {proc.returncode}")
        if proc.returncode != 0:
            output = proc.stdout + proc.stderr
            marks = re.findall(r"^### (\S+)$", proc.stdout, re.M)
            where = marks[-1] if marks else name
            tail = "\n    ".join(output.strip().splitlines()[-8:])
            problems.append(f"{where}: the block failed (exit {proc.returncode}):\n    {tail}")
    return problems


def display_name(path, src):
    """The path relative to the repository, or as given when it lies outside it."""
    relative = os.path.relpath(path, src)
    return path if relative.startswith("..") else relative


def doc_files(src):
    return [os.path.join(src, "README.md")] + sorted(
        os.path.join(src, "docs", f) for f in os.listdir(os.path.join(src, "docs"))
        if f.endswith(".md"))


def main():
    if len(sys.argv) >= 5 and sys.argv[1] == "--run":
        binary, src, work = sys.argv[2:5]
        problems = run_marked(binary, src, work, sys.argv[5:] or doc_files(src))
        for p in problems:
            print(p)
        return 1 if problems else 0
    if len(sys.argv) < 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    binary, src = sys.argv[1], sys.argv[2]
    files = sys.argv[3:] or doc_files(src)
    help_, problems, count = Help(binary), [], 0
    for path in files:
        name = display_name(path, src)
        check_links(path, name, problems)
        for start, lines in code_blocks(path):
            for number, text in logical_lines(start, lines):
                where = f"{name}:{number}"
                check_paths(text, where, src, problems)
                tokens = tokens_of(text)
                if tokens is None:
                    continue
                for args in crest_invocations(tokens):
                    count += 1
                    check_invocation(args, where, help_, src, problems)
    for p in problems:
        print(p)
    print(f"check_docs: {count} crest commands in {len(files)} files, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
