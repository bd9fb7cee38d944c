# SPDX-License-Identifier: GPL-3.0-or-later
"""One kind of the hostile corpus through `spinemet classify`.

    /usr/bin/python3 tests/hostile/run_kind.py --spinemet BIN --model MODEL --base PHANTOM_FOLDER
                                               --work DIR KIND [--sanitized]

Writes kind KIND (corpus.py) into DIR/KIND, runs the CLI on it and checks that it ended as the
corpus says: exit 2 with `spinemet: error [code]: message` naming a code that docs/errors.md lists,
a valid result (exit 0, JSON of schema spinemet-result/2), or a usage error (exit 1). Never a
signal, never exit 3 (an internal error), never a hang: the CLI is killed after --kill-after
seconds, and that is a failure. The CLI's peak resident memory is checked against the memory
budget (refused series must not have allocated what they claim). With --sanitized (an ASan and
UBSan build), any sanitizer report fails the kind. The folder is deleted when the kind passes.
Exit 77 (CTest's SKIP_RETURN_CODE) when the kind cannot be made here (permissions as root without
setpriv; as root with it, that kind runs the command as nobody).
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus  # noqa: E402

DEFAULT_BUDGET_MIB = 2048                 # LoadOptions::memoryBudgetBytes
# What the CLI holds besides the series: LibTorch, the model, the later stages' buffers.
MARGIN_MIB = 768
# A series refused for its size must be refused before it is allocated.
REFUSED_PEAK_MIB = 512
SKIP = 77
REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def errors_page(repository):
    with open(os.path.join(repository, "docs", "errors.md")) as f:
        return f.read()


def run_with_rusage(command, kill_after, out_path, err_path):
    """Runs `command` (output into the two files); returns (returncode, stdout, stderr, peak
    resident memory in MiB, whether it was killed for running too long)."""
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, start_new_session=True)
        deadline = time.monotonic() + kill_after
        hung = False
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid != 0:
                break
            if time.monotonic() > deadline:
                hung = True
                os.killpg(process.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.05)
        process.returncode = os.waitstatus_to_exitcode(status)
    with open(out_path, "rb") as f:
        stdout = f.read().decode(errors="replace")
    with open(err_path, "rb") as f:
        stderr = f.read().decode(errors="replace")
    return process.returncode, stdout, stderr, usage.ru_maxrss / 1024.0, hung


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spinemet", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--base", required=True, help="the phantom series the corpus is made from")
    parser.add_argument("--work", required=True)
    parser.add_argument("--sanitized", action="store_true")
    parser.add_argument("--kill-after", type=float, default=100, help="seconds before a run counts as a hang")
    parser.add_argument("kind")
    options = parser.parse_args()

    kind = corpus.KINDS[options.kind]
    # Root reads a file without read permission, so as root this kind runs the command as nobody
    # (setpriv, util-linux); without setpriv it cannot be made here.
    as_nobody = options.kind == "unreadable-permissions" and os.geteuid() == 0
    if as_nobody and not shutil.which("setpriv"):
        print("hostile kind %s NOT RUN: running as root without setpriv, a file without read permission stays "
              "readable" % options.kind)
        return SKIP
    folder = os.path.join(options.work, options.kind)
    if os.path.lexists(folder):
        subprocess.run(["chmod", "-R", "u+rwx", folder], check=False)
        shutil.rmtree(folder)
    written = corpus.write_kind(options.kind, folder, options.base)
    json_path = os.path.join(folder, "result.json")
    command = [options.spinemet, "classify", *written.paths, "--model", options.model, "--device", "cpu",
               "--threads", "1", "--quiet"]
    if "--json" not in written.args:
        command += ["--json", json_path]
    command += written.args
    if as_nobody:
        os.chmod(folder, 0o777)         # the result file goes here
        command = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"] + command
    outputs = [os.path.join(options.work, options.kind + ".stdout"), os.path.join(options.work, options.kind + ".stderr")]
    returncode, stdout, stderr, peak_mib, hung = run_with_rusage(command, options.kill_after, *outputs)

    print("kind: %s (%s)\nexpected: %s\ncommand: %s\nexit: %s, peak resident memory %.0f MiB\nstderr:\n%s"
          % (kind.name, kind.what, kind.expected, " ".join(command), returncode, peak_mib, stderr[-4000:]))
    failures = []
    if hung:
        failures.append("did not end within %.0f s: killed (a hang)" % options.kill_after)
    elif returncode < 0:
        failures.append("killed by signal %d (a crash)" % -returncode)
    elif returncode == 3:
        failures.append("exit 3: an internal error, not a named one")
    if options.sanitized and re.search(r"ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer", stderr):
        failures.append("the sanitizers reported a finding")

    if not failures:
        if kind.expected == "ok":
            if returncode != 0:
                failures.append("expected a valid result (exit 0), got exit %d" % returncode)
            else:
                with open(json_path) as f:
                    result = json.load(f)
                if result.get("schema") != "spinemet-result/2" or "vertebrae" not in result:
                    failures.append("the JSON result is not a spinemet-result/2 document")
        elif kind.expected == "usage":
            if returncode != 1 or "spinemet: " not in stderr:
                failures.append("expected a usage error (exit 1), got exit %d" % returncode)
        else:
            match = re.search(r"^spinemet: error \[([a-z0-9-]+)\]: (.+)$", stderr, re.MULTILINE)
            if returncode != 2 or not match:
                failures.append("expected exit 2 with 'spinemet: error [%s]: ...', got exit %d"
                                % (kind.expected, returncode))
            elif match.group(1) != kind.expected:
                failures.append("expected reason %s, got %s: %s" % (kind.expected, match.group(1), match.group(2)))
            elif len(match.group(2)) < 20 or kind.says not in match.group(2):
                failures.append("the message does not say what is wrong (%r expected): %r" % (kind.says, match.group(2)))
            if match and "`%s`" % match.group(1) not in errors_page(REPOSITORY):
                failures.append("reason %s is not listed in docs/errors.md" % match.group(1))
    if "| `%s` | `%s` |" % (kind.name, kind.expected) not in errors_page(REPOSITORY):
        failures.append("docs/errors.md does not list kind %s against %s (corpus.py --table)" % (kind.name, kind.expected))

    if not options.sanitized and not hung:
        budget = DEFAULT_BUDGET_MIB
        if "--memory-budget" in written.args:
            budget = int(written.args[written.args.index("--memory-budget") + 1])
        limit = REFUSED_PEAK_MIB if kind.expected == "memory-budget" else budget + MARGIN_MIB
        if peak_mib > limit:
            failures.append("peak resident memory %.0f MiB exceeds %d MiB" % (peak_mib, limit))

    if failures:
        print("FAILED: " + "; ".join(failures))
        print("(the kind is left in %s)" % folder)
        return 1
    subprocess.run(["chmod", "-R", "u+rwx", folder], check=False)
    shutil.rmtree(folder, ignore_errors=True)
    for path in outputs:
        os.remove(path)
    print("passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
