# SPDX-License-Identifier: GPL-3.0-or-later
"""The time and memory around the model in `spinemet classify` (issue 18, "Overhead"), next to the
model's own forward time and to a plain Python pipeline, side by side in one run, best of N.

    /usr/bin/python3 benchmarks/overhead.py [BUILD_DIR] [--runs N] [--threads N] [--model FILE]
                                            [--series DIR] [--baseline SPINEMET_BINARY]
                                            [--baseline-env NAME=VALUE ...] [--no-python]

On the issue's phantom (generated unless --series names it: `spinemet-phantom --seed 90101 --levels
T9-L3 --slice-thickness 0.625 --matrix 512 --pixel-spacing 0.7`, 322 slices), every run in turn:

- model forward: `spinemet-engine-bench forward`, Engine::predict (the frozen, optimised graph the
  CLI runs) over every crop the CLI classifies, cut into the CLI's batches beforehand, best of 3
  inside each round;
- `spinemet classify --json --dicom-out --threads N --quiet --timings` (and the same for the
  --baseline binary, a build from before a change, whose JSON must be byte-identical): startup
  (process start to model ready, of which the part before main()), the analysis from the first file
  read to the SR written, its stages (read, spine, classify with the model's own share, write),
  the whole process, and the peak resident memory (wait4) against the series' pixel bytes (int16)
  plus the model file, with the peak of anonymous memory alone beside it (--timings samples it;
  the libraries' file-backed pages, shared with other processes, are the difference), and the
  floor under it: the peak of `spinemet --version` (no model) and of `spinemet model-info` (the model
  loaded and probed, no series), to which any analysis adds the series' pixels;
- the Python reference (benchmarks/engine.py: pydicom reads every file, numpy makes the HU volume,
  torch crops at the centres the C++ spine finder chose and runs the same TorchScript file with the
  same threads and batch; no spine search, no SR: both favour Python), model loaded, read to last
  prediction.

The best run of each figure counts (the machine is shared: a slower run is load, not the code). The
issue's targets are printed beside the figures. Not a test: nothing is asserted.
"""

import argparse
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PHANTOM_ARGS = ["--seed", "90101", "--levels", "T9-L3", "--slice-thickness", "0.625", "--matrix", "512",
                "--pixel-spacing", "0.7"]


def run_timed(command, stderr_path, env=None):
    """Runs command (in `env`, default this process' environment); returns (wall seconds, peak RSS MiB, spawn epoch, CPU seconds user + system)."""
    with open(stderr_path, "wb") as err, open(os.devnull, "wb") as out:
        spawned = time.time()
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        with open(stderr_path, errors="replace") as f:
            sys.exit(f"{' '.join(command)} failed ({process.returncode}):\n{f.read()}")
    return wall, usage.ru_maxrss / 1024.0, spawned, usage.ru_utime + usage.ru_stime


def classify_once(binary, series, model, threads, work, name, env=None):
    json_path = os.path.join(work, f"{name}.json")
    dicom_out = os.path.join(work, f"{name}-dicom")
    shutil.rmtree(dicom_out, ignore_errors=True)
    stderr_path = os.path.join(work, f"{name}.stderr")
    command = [binary, "classify", series, "--model", model, "--threads", str(threads), "--json", json_path,
               "--dicom-out", dicom_out, "--quiet", "--timings"]
    wall, peak, spawned, cpu = run_timed(command, stderr_path, env)
    figures = {"process": wall, "peak": peak, "cpu": cpu}
    with open(stderr_path) as f:
        for line in f:
            if line.startswith("timings: "):
                key, value = line[len("timings: "):].split()
                figures[key] = float(value)
    figures["startup"] = figures.pop("model-ready-epoch") - spawned
    figures["before-main"] = figures.pop("main-entered-epoch") - spawned
    figures["classify-minus-model"] = figures["classify"] - figures["model"]
    return figures, json_path


def python_once(series, model, centres, threads, batch, work):
    stderr_path = os.path.join(work, "python.stderr")
    command = ["/usr/bin/python3", os.path.join(HERE, "engine.py"), series, model, centres, "--threads",
               str(threads), "--batch", str(batch)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    figures = {}
    for line in output.splitlines():
        words = line.split()
        if line.strip().startswith("end to end"):
            figures["analysis"] = float(words[3])
        elif line.strip().startswith("crops + model"):
            figures["model"] = float(words[-2])
        elif line.strip().startswith("read + decode"):
            figures["read"] = float(words[5])
        elif line.strip().startswith("peak resident"):
            figures["peak"] = float(words[3])
        elif line.strip().startswith("check:"):
            figures["check"] = line.strip()
    return figures


def forward_once(bench, series, model, threads, batch, work, rounds):
    centres = os.path.join(work, "centres.json")
    output = subprocess.run([bench, "forward", series, model, "--threads", str(threads), "--batch", str(batch),
                             "--rounds", str(rounds), "--centres", centres],
                            check=True, capture_output=True, text=True).stdout
    line = output.strip().splitlines()[-1]
    return float(line.split()[-2]), int(line.split()[2]), line, centres


def floor_once(binary, model, work):
    """The peak resident memory (MiB, wait4) of `spinemet --version` (LibTorch's libraries and static
    initialisation, no model) and of `spinemet model-info` (the model loaded, frozen, optimised and
    probed, no series): what any analysis holds before the series' pixels."""
    stderr_path = os.path.join(work, "floor.stderr")
    _, empty, _, _ = run_timed([binary, "--version"], stderr_path)
    _, model_only, _, _ = run_timed([binary, "model-info", model], stderr_path)
    return {"peak-empty": empty, "peak-model-only": model_only}


def best(runs, key):
    values = [r[key] for r in runs if key in r]
    return min(values) if values else float("nan")


def cell(value):
    """A figure, or '-' where a binary does not print it (a baseline from before it was added)."""
    return f"{value:12.3f}" if value == value else f"{'-':>12s}"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("build", nargs="?", default="build")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=16, help="the CLI's default batch size")
    parser.add_argument("--model", default=os.path.join(ROOT, "Resources", "model", "spinemet-demo.pt"))
    parser.add_argument("--series", help="a folder with the phantom already written")
    parser.add_argument("--baseline", help="another spinemet binary (a build from before a change)")
    parser.add_argument("--baseline-env", action="append", default=[], metavar="NAME=VALUE",
                        help="set for the baseline's runs only (repeatable); with --baseline naming the same "
                             "binary, pairs one setting against another, e.g. OMP_WAIT_POLICY=PASSIVE")
    parser.add_argument("--no-python", action="store_true")
    args = parser.parse_args()
    if args.baseline_env and not args.baseline:
        parser.error("--baseline-env needs --baseline (which may be the same binary)")
    baseline_env = None
    if args.baseline_env:
        baseline_env = dict(os.environ)
        for setting in args.baseline_env:
            name, equals, value = setting.partition("=")
            if not name or not equals:
                parser.error(f"--baseline-env {setting!r}: expected NAME=VALUE")
            baseline_env[name] = value

    build = os.path.abspath(args.build)
    subprocess.run(["cmake", "--build", build, "--target", "spinemet", "spinemet-phantom", "spinemet-engine-bench",
                    "-j2"], check=True, stdout=subprocess.DEVNULL)
    binary = os.path.join(build, "tools", "spinemet", "spinemet")
    bench = os.path.join(build, "tests", "engine", "spinemet-engine-bench")
    work = tempfile.mkdtemp(prefix="spinemet-overhead-")
    try:
        series = args.series
        if not series:
            series = os.path.join(work, "series")
            subprocess.run([os.path.join(build, "tools", "phantom", "spinemet-phantom"), "--out", series] +
                           PHANTOM_ARGS, check=True, stdout=subprocess.DEVNULL)
        files = [os.path.join(series, name) for name in os.listdir(series)]
        for path in files:                 # the same page cache for every run
            with open(path, "rb") as f:
                f.read()
        model_bytes = os.path.getsize(args.model)
        print(f"series: {series} ({len(files)} files; spinemet-phantom {' '.join(PHANTOM_ARGS)})")
        if args.baseline_env:
            print(f"baseline's environment: {' '.join(args.baseline_env)}")
        print(f"model: {args.model} ({model_bytes / 2**20:.1f} MiB); threads {args.threads}, batch {args.batch}, "
              f"{args.runs} runs; load average {open('/proc/loadavg').read().split()[:3]}")

        candidates = [("spinemet", binary)] + ([("baseline", os.path.abspath(args.baseline))] if args.baseline else [])
        results = {name: [] for name, _ in candidates}
        python_runs, forward_runs = [], []
        json_paths = {}
        centres = None
        for run in range(args.runs):
            seconds, crops, forward_line, centres = forward_once(bench, series, args.model, args.threads, args.batch,
                                                                 work, 3)
            forward_runs.append(seconds)
            # Which binary goes first alternates, so that a burst of load does not always hit one.
            order = candidates if run % 2 == 0 else candidates[::-1]
            for name, path in order:
                figures, json_paths[name] = classify_once(path, series, args.model, args.threads, work, name,
                                                          baseline_env if name == "baseline" else None)
                results[name].append(figures)
            floor = floor_once(binary, args.model, work)
            for name in floor:
                results["spinemet"][-1][name] = floor[name]
            if not args.no_python:
                python_runs.append(python_once(series, args.model, centres, args.threads, args.batch, work))
            print(f"  run {run + 1}: forward {seconds:.2f} s, " +
                  ", ".join(f"{name} {results[name][-1]['analysis']:.2f} s" for name, _ in candidates) +
                  (f", python {python_runs[-1]['analysis']:.2f} s" if python_runs else ""), flush=True)
        print(forward_line)

        import json
        with open(json_paths["spinemet"]) as f:
            geometry = json.load(f)["geometry"]
        pixel_bytes = geometry["rows"] * geometry["columns"] * geometry["slices"] * 2
        forward = min(forward_runs)
        print(f"series pixel bytes (int16): {pixel_bytes / 2**20:.1f} MiB; {crops} crops classified; "
              f"model forward over them, best: {forward:.3f} s")
        if args.baseline:
            same = filecmp.cmp(json_paths["spinemet"], json_paths["baseline"], shallow=False)
            print(f"--json of spinemet and baseline byte-identical: {'yes' if same else 'NO'}")

        names = [name for name, _ in candidates]
        rows = [
            ("startup: process start to model ready", "startup", "< 0.5 s"),
            ("  model ready, seconds into the analysis", "model-ready-in-analysis", ""),
            ("  of which before main()", "before-main", ""),
            ("  model loading: torch::jit::load", "model-load-read", ""),
            ("                 freeze", "model-load-freeze", ""),
            ("                 optimize_for_inference", "model-load-optimise", ""),
            ("                 the probe batch (1 thread)", "model-load-probe", ""),
            ("analysis: first file read to SR written", "analysis", f"<= {3 * forward:.2f} s (3x forward)"),
            ("  read", "read", ""),
            ("  spine", "spine", ""),
            ("  classify", "classify", ""),
            ("    of which the model", "model", ""),
            ("    classify minus model", "classify-minus-model", ""),
            ("  write (JSON, SR, overlays)", "write", ""),
            ("whole process (spawn to exit)", "process", ""),
            ("  its CPU time (user + system)", "cpu", ""),
            ("peak resident memory (wait4, = VmHWM), MiB", "peak", f"<= {(2 * pixel_bytes + model_bytes) / 2**20:.0f} MiB"),
            ("  file-backed (libraries) at model ready", "resident-file-model-ready-mib", ""),
            ("peak anonymous resident (sampled 5 ms), MiB", "resident-anon-peak-mib", "(shown beside; the target is judged on the line above)"),
            ("floor: `spinemet --version`, peak MiB", "peak-empty", "(LibTorch's libraries and static init)"),
            ("floor: `spinemet model-info`, peak MiB", "peak-model-only", "(the model loaded and probed, no series)"),
        ]
        header = f"{'best of ' + str(args.runs):44s}" + "".join(f"{n:>12s}" for n in names)
        header += f"{'python':>12s}" if python_runs else ""
        print(header + "   target")
        for label, key, target in rows:
            line = f"{label:44s}" + "".join(cell(best(results[n], key)) for n in names)
            if python_runs:
                value = best(python_runs, key)
                line += f"{value:12.3f}" if value == value else f"{'-':>12s}"
            print(line + ("   " + target if target else ""))

        print("targets (issue 18), spinemet:")
        s = {key: best(results["spinemet"], key) for key in ("startup", "analysis", "classify-minus-model", "peak")}
        verdict = lambda ok: "met" if ok else "NOT met"
        print(f"  end to end / model forward   {s['analysis'] / forward:6.2f}x   (<= 3x: {verdict(s['analysis'] <= 3 * forward)})")
        if python_runs:
            speed = best(python_runs, "analysis") / s["analysis"]
            print(f"  faster than Python           {speed:6.2f}x   (>= 3x: {verdict(speed >= 3)})")
            print(f"  python {python_runs[-1].get('check', '')}")
        print(f"  startup                      {s['startup']:6.2f} s  (< 0.5 s: {verdict(s['startup'] < 0.5)})")
        limit = 2 * pixel_bytes + model_bytes
        print(f"  peak memory / (2 x pixels + model) {s['peak'] * 2**20 / limit:6.2f}   "
              f"(<= 1: {verdict(s['peak'] * 2**20 <= limit)})")
        anonymous = best(results["spinemet"], "resident-anon-peak-mib")
        print(f"    (not the target's measure: peak anonymous memory alone / the same limit "
              f"{anonymous * 2**20 / limit:6.2f}; the libraries' file-backed pages are shared with other processes)")
        model_only = best(results["spinemet"], "peak-model-only")
        print(f"    (the floor: the model alone {model_only:.0f} MiB + the pixels {pixel_bytes / 2**20:.0f} MiB = "
              f"{model_only + pixel_bytes / 2**20:.0f} MiB, {(model_only * 2**20 + pixel_bytes) / limit:.2f} x the limit, "
              f"before any decoding buffer, crop or activation)")
        share = s["classify-minus-model"] / s["analysis"]
        print(f"  classify minus model / total {100 * share:6.1f} %  (< 10 %: {verdict(share < 0.10)})")
        print(f"load average after: {open('/proc/loadavg').read().split()[:3]}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
