#!/usr/bin/env python3
"""tests/integration/readme.py - run README.md's commands as written, against `make demo`.

Called by tests/integration/run.sh (case label `readme`); by hand:
    python3 tests/integration/readme.py [README.md]

The conventions of README.md that this test enforces:

- A ```sh block is a list of commands a user would copy.  It runs as written with
  `bash -e -o pipefail`, each block in a shell of its own, in the repository's root,
  with standard input at end of file (so a bare `psql` connects and exits).
- A ```console block is a transcript: a line starting with `$ ` is a command (it goes
  on while a line ends with a backslash, and through the end word of a here-document),
  and the lines up to the next command are exactly what it prints, standard output
  and standard error together, as on a terminal.  The exit status is not checked.
- A block right after the line `<!-- readme-test: skip: REASON -->` is not run; the
  reason says why and what runs it instead (CI steps, benchmarks).  A plain ``` block
  that starts with `$ ` is an error: it must be tagged console.
- Blocks run in README order; the Quick start's `make demo` starts the demo the other
  blocks use, and this test runs `make demo-down` at the end whatever happened.

The README shows the demo's defaults; the test runs with ports of its own:
`6432` (as a word) in a block becomes DEMO_PORT, a free port picked by this run,
which tests/demo.sh then uses exactly; `/tmp/` becomes a scratch directory; and
DEMO_DIR puts the demo under build/itest (ITEST_DIR) instead of build/demo, so a
demo of the user's own is left alone.  MAKEFLAGS and PG* variables of the calling
make and shell are removed: blocks run in a user's clean shell.

Prints `ok - readme: README.md:LINE ...` or `not ok - ...` for each block that runs
and `# not run: ...` for each skipped one; exits 1 if any block failed.
"""

import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SKIP_RE = re.compile(r"^<!--\s*readme-test:\s*skip:\s*(\S.*?)\s*-->$")
FENCE_RE = re.compile(r"^```(\S*)\s*$")
HEREDOC_RE = re.compile(r"<<-?\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1")


class Block:
    def __init__(self, line, lang, text, skip):
        self.line = line        # 1-based line of the opening fence
        self.lang = lang
        self.text = text        # lines between the fences
        self.skip = skip        # reason, or None


def parse(path):
    """The fenced blocks of the markdown file, with their skip markers."""
    blocks, errors = [], []
    lines = open(path, encoding="utf-8").read().split("\n")
    i, prev = 0, ""
    while i < len(lines):
        m = FENCE_RE.match(lines[i])
        if not m:
            if lines[i].strip():
                prev = lines[i].strip()
            i += 1
            continue
        start, lang = i + 1, m.group(1)
        j = i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        if j == len(lines):
            errors.append("%s:%d: unterminated ``` block" % (os.path.relpath(path, ROOT), start))
            break
        text = lines[i + 1:j]
        sm = SKIP_RE.match(prev)
        if prev.startswith("<!--") and "readme-test" in prev and not sm:
            errors.append("%s:%d: malformed marker %r (want <!-- readme-test: skip: REASON -->)"
                          % (os.path.relpath(path, ROOT), start - 1, prev))
        if lang == "" and text and text[0].startswith("$ "):
            errors.append("%s:%d: a transcript in a plain ``` block: tag it ```console"
                          % (os.path.relpath(path, ROOT), start))
        blocks.append(Block(start, lang, text, sm.group(1) if sm else None))
        prev, i = "", j + 1
    return blocks, errors


def transcript(text):
    """A console block as [(command, expected output lines)]."""
    steps, i = [], 0
    while i < len(text):
        if not text[i].startswith("$ "):
            raise ValueError("line %d of the block: output before any `$ ` command" % (i + 1))
        cmd = [text[i][2:]]
        i += 1
        while cmd[-1].endswith("\\") and i < len(text):
            cmd.append(text[i])
            i += 1
        m = HEREDOC_RE.search("\n".join(cmd))
        if m:
            while i < len(text) and text[i].strip() != m.group(2):
                cmd.append(text[i])
                i += 1
            if i == len(text):
                raise ValueError("here-document %s never ends" % m.group(2))
            cmd.append(text[i])
            i += 1
        out = []
        while i < len(text) and not text[i].startswith("$ "):
            out.append(text[i])
            i += 1
        steps.append(("\n".join(cmd), out))
    return steps


def normalise(lines):
    lines = [ln.rstrip() for ln in lines]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def listening(port):
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def port_free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return not listening(port)


def pick_port():
    while True:
        p = random.randint(20000, 31999)  # below the ephemeral range
        if p not in (5432, 6432) and port_free(p):
            return p


class Runner:
    def __init__(self, readme):
        self.readme = os.path.relpath(readme, ROOT)
        self.port = int(os.environ.get("README_DEMO_PORT") or pick_port())
        base = os.environ.get("ITEST_DIR") or os.path.join(ROOT, "build", "itest")
        os.makedirs(base, exist_ok=True)
        self.scratch = tempfile.mkdtemp(prefix="readme.", dir=base)
        os.makedirs(os.path.join(self.scratch, "tmp"))
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("PG") or k == "PGROUTER_BIN"}
        for k in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES"):
            env.pop(k, None)
        env["DEMO_DIR"] = os.path.join(self.scratch, "demo")
        env["DEMO_PORT"] = str(self.port)
        self.env = env
        self.failed = 0

    def subst(self, s):
        s = re.sub(r"\b6432\b", str(self.port), s)
        return s.replace("/tmp/", os.path.join(self.scratch, "tmp") + "/")

    def report(self, block, what, err):
        label = "%s:%d %s" % (self.readme, block.line, what)
        if err is None:
            print("ok - readme: %s" % label, flush=True)
        else:
            self.failed += 1
            print("not ok - readme: %s: %s" % (label, err.replace("\n", " | ")[:400]),
                  flush=True)

    def sh(self, script, timeout, line_buffered=False):
        argv = ["bash", "-e", "-o", "pipefail", "-c", script]
        if line_buffered:
            # as on a terminal: each line as it is written, so that standard output
            # and standard error interleave as a user sees them
            argv = ["stdbuf", "-oL", "-eL"] + argv
        try:
            p = subprocess.run(argv, cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=timeout)
        except subprocess.TimeoutExpired as e:
            out = (e.stdout or b"").decode("utf-8", "replace")
            return None, out + "\n(timed out after %d s)" % timeout
        return p.returncode, p.stdout.decode("utf-8", "replace")

    def run_sh(self, block):
        script = self.subst("\n".join(block.text))
        print("# README.md:%d: running:\n%s" % (block.line, script), file=sys.stderr, flush=True)
        rc, out = self.sh(script, 900)
        sys.stderr.write(out + "\n")
        if rc == 0:
            self.report(block, "sh", None)
        else:
            tail = " | ".join(out.strip().split("\n")[-3:])
            self.report(block, "sh", "exit status %s: %s" % (rc, tail))

    def run_console(self, block):
        try:
            steps = transcript(block.text)
        except ValueError as e:
            self.report(block, "console", str(e))
            return
        for shown, want in steps:
            cmd = self.subst(shown)
            want = normalise([self.subst(w) for w in want])
            print("# README.md:%d: $ %s" % (block.line, cmd), file=sys.stderr, flush=True)
            rc, out = self.sh(cmd, 300, line_buffered=True)
            got = normalise(out.split("\n"))
            sys.stderr.write(out + "\n")
            if got != want:
                diff = next((k for k in range(max(len(got), len(want)))
                             if k >= len(got) or k >= len(want) or got[k] != want[k]), 0)
                self.report(block, "console `%s`" % shown.split("\n")[0][:60],
                            "output line %d: README says %r, got %r (exit status %s)"
                            % (diff + 1, want[diff] if diff < len(want) else "(nothing)",
                               got[diff] if diff < len(got) else "(nothing)", rc))
                return
        self.report(block, "console", None)

    def demo_down(self):
        rc, out = self.sh("make demo-down", 300)
        sys.stderr.write("# make demo-down:\n" + out + "\n")
        pidfile = os.path.join(self.env["DEMO_DIR"], "pgrouter.pid")
        err = None
        if rc != 0:
            err = "make demo-down: exit status %s: %s" % (rc, out.strip()[-200:])
        elif os.path.exists(pidfile):
            err = "make demo-down left %s behind" % pidfile
        elif listening(self.port):
            err = "pgrouter still listens on %d after make demo-down" % self.port
        label = "make demo-down"
        if err is None:
            print("ok - readme: %s" % label, flush=True)
        else:
            self.failed += 1
            print("not ok - readme: %s: %s" % (label, err.replace("\n", " | ")), flush=True)


def main():
    readme = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "README.md"))
    if os.environ.get("ITEST_DIRECT") == "1":
        print("ok - readme: README.md # SKIP runs pgrouter (ITEST_DIRECT=1)", flush=True)
        return 0
    blocks, errors = parse(readme)
    r = Runner(readme)
    print("# readme: demo on 127.0.0.1:%d, scratch %s" % (r.port, r.scratch), flush=True)
    for e in errors:
        r.failed += 1
        print("not ok - readme: %s" % e, flush=True)
    ran = 0
    try:
        for b in blocks:
            if b.lang not in ("sh", "console"):
                continue
            if b.skip is not None:
                print("# not run: %s:%d: %s" % (r.readme, b.line, b.skip), flush=True)
                continue
            ran += 1
            if b.lang == "sh":
                r.run_sh(b)
            else:
                r.run_console(b)
    finally:
        r.demo_down()
    if ran == 0:
        r.failed += 1
        print("not ok - readme: no sh or console block ran", flush=True)
    if r.failed == 0:
        shutil.rmtree(r.scratch, ignore_errors=True)
    return 1 if r.failed else 0


if __name__ == "__main__":
    sys.exit(main())
