# SPDX-License-Identifier: GPL-3.0-or-later
"""Generate the phantom data set: studies with spinemet-phantom, crops with spinemet-prep.

    PYTHONPATH=training /usr/bin/python3 -m spinemet_train.make_dataset --out training/data \
        --phantom build/tools/phantom/spinemet-phantom --prep build/tools/prep/spinemet-prep \
        [--preprocessing training/configs/demo-preprocessing.json] [--jobs 2]

Three splits, from disjoint seeds (the phantom seed fixes anatomy and findings):

- ``train`` (seeds 1000+) and ``val`` (seeds 2000+): acquisition drawn from the "seen" ranges below,
  difficulty by seed: half hard, a quarter normal, a quarter easy (so that early training sees clear
  examples); explicit little endian.
- ``test`` (seeds 3000+): acquisition from the "unseen" ranges: pixel spacings, slice thicknesses,
  offsets and transfer syntaxes that no training or validation study has; difficulty alternating
  normal (even seeds) and hard (odd seeds), so that the figures can be given for each.

``--realistic-bone FRACTION`` (or ``--config training/configs/dataset-realistic-bone.json``) makes that
share of the studies, chosen per seed from a stream of its own, with realistic normal bone
(``spinemet-phantom --bone realistic``); every other argument of a seed stays the same. The default
(0) is the data set of the shipped model.

The DICOM files are deleted once their crops are written (only OUT/<split>/<study>/crops.npy and
samples.json stay) unless --keep-dicom.
"""

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

LEVELS = ["T1", "T2", "T3", "T4", "T5", "T6", "T7", "T8", "T9", "T10", "T11", "T12", "L1", "L2", "L3", "L4", "L5"]

SEEN = {"pixel_spacing": [0.6, 0.65, 0.7, 0.75, 0.8, 0.85], "slice_thickness": [1.5, 2.0, 2.5, 3.0],
        "offset_mm": 15, "transfer_syntax": ["explicit"], "vertebrae": (5, 9)}
UNSEEN = {"pixel_spacing": [0.5, 0.55, 0.9, 0.95, 1.0], "slice_thickness": [1.0, 1.25, 3.5, 4.0],
          "offset_mm": 30, "transfer_syntax": ["rle", "jpeg-lossless", "jpeg-ls"], "vertebrae": (8, 11)}

SPLITS = {"train": (1000, 96, SEEN), "val": (2000, 16, SEEN), "test": (3000, 32, UNSEEN)}


def realistic_bone_chosen(seed: int, fraction: float) -> bool:
    """Whether the study of this seed gets --bone realistic, for a share `fraction` of the studies.
    A random stream of its own, so that the other draws of a seed stay as they are."""
    return fraction > 0 and random.Random(seed * 104729 + 3).random() < fraction


def phantom_arguments(split: str, seed: int, ranges: dict, realistic_bone: float = 0.0) -> list:
    """The spinemet-phantom arguments of one study. realistic_bone: the share of studies with
    realistic normal bone (docs/phantom.md, "Realistic bone"); 0, the default, adds no argument,
    so that the default data set is the one the shipped model was trained on."""
    rng = random.Random(seed * 7919 + 17)
    count = rng.randint(*ranges["vertebrae"])
    first = rng.randint(0, len(LEVELS) - count)
    if split == "test":
        difficulty = ["normal", "hard"][seed % 2]
    else:
        difficulty = ["easy", "hard", "normal", "hard"][seed % 4]
    offset = ranges["offset_mm"]
    return ["--seed", str(seed), "--levels", f"{LEVELS[first]}-{LEVELS[first + count - 1]}",
            "--matrix", "512", "--pixel-spacing", str(rng.choice(ranges["pixel_spacing"])),
            "--slice-thickness", str(rng.choice(ranges["slice_thickness"])),
            "--order", rng.choice(["ascending", "descending"]),
            "--transfer-syntax", rng.choice(ranges["transfer_syntax"]),
            "--lateral-offset", f"{rng.uniform(-offset, offset):.1f}",
            "--ap-offset", f"{rng.uniform(-offset, offset):.1f}",
            "--difficulty", difficulty] + (["--bone", "realistic"] if realistic_bone_chosen(seed, realistic_bone) else [])


def make_study(args, split: str, seed: int, ranges: dict) -> str:
    name = f"{split}-{seed}"
    out = os.path.join(args.out, split, name)
    if os.path.exists(os.path.join(out, "samples.json")):
        return f"{name}: exists"
    dicom = os.path.join(args.out, "dicom", name)
    arguments = phantom_arguments(split, seed, ranges, args.realistic_bone)
    subprocess.run([args.phantom, "--out", dicom] + arguments, check=True, stdout=subprocess.DEVNULL)
    prep = [args.prep, "--out", os.path.join(args.out, split)]
    if args.preprocessing:
        prep += ["--preprocessing", args.preprocessing]
    result = subprocess.run(prep + [dicom], check=True, capture_output=True, text=True)
    if not args.keep_dicom:
        shutil.rmtree(dicom)
    with open(os.path.join(out, "phantom-arguments.json"), "w") as f:
        json.dump(arguments, f)
    return f"{name}: {' '.join(arguments)} -> {result.stdout.strip()}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--phantom", required=True, help="spinemet-phantom executable")
    parser.add_argument("--prep", required=True, help="spinemet-prep executable")
    parser.add_argument("--preprocessing", help="preprocessing JSON for spinemet-prep")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--splits", nargs="+", default=list(SPLITS))
    parser.add_argument("--count", type=int, help="studies per split (default: train 96, val 16, test 32)")
    parser.add_argument("--keep-dicom", action="store_true")
    parser.add_argument("--realistic-bone", type=float, default=0.0, metavar="FRACTION",
                        help="share of the studies (0-1, drawn per seed) made with --bone realistic; "
                             "default 0: the data set of the shipped model (simple bone)")
    parser.add_argument("--config", help="a data set configuration (training/configs/dataset-*.json) whose "
                                         "\"realistic_bone\" sets --realistic-bone")
    args = parser.parse_args(argv)
    if args.config:
        with open(args.config) as f:
            config = json.load(f)
        args.realistic_bone = float(config.get("realistic_bone", args.realistic_bone))
    if not 0 <= args.realistic_bone <= 1:
        parser.error(f"--realistic-bone must be a share between 0 and 1, not {args.realistic_bone}")
    jobs = []
    for split in args.splits:
        first_seed, count, ranges = SPLITS[split]
        jobs += [(split, first_seed + n, ranges) for n in range(args.count or count)]
    failures = 0
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(make_study, args, *job) for job in jobs]
        for n, future in enumerate(futures):
            try:
                print(f"[{n + 1}/{len(jobs)}] {future.result()}", flush=True)
            except subprocess.CalledProcessError as error:
                failures += 1
                print(f"[{n + 1}/{len(jobs)}] FAILED {error.cmd}: {error.stderr}", file=sys.stderr, flush=True)
    shutil.rmtree(os.path.join(args.out, "dicom"), ignore_errors=True) if not args.keep_dicom else None
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
