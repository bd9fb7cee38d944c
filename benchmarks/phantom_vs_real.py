#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Phantom bone against real CT bone (docs/phantom.md, "Realistic bone: phantom against real CT").

Measures, with one method for every study, the vertebral bodies of
  - the real CTs of ../shared/testdata/real-ct (thorax-4dct, chest-lidc-0314, abdomen-crlm-1006),
  - phantoms with realistic bone and with simple bone, in acquisitions like each real CT's
    (pixel spacing, slice thickness), lesion-free (--lesion-probability 0),
and writes docs/images/phantom-vs-real.md (the table), phantom-vs-real-histograms.png and
phantom-vs-real-slices.png (an axial and a sagittal slice of each, same window).

The vertebral bodies of the real CTs come from the spine finder
(build/tests/spine/spinemet-spine-inspect): its body box at the vertebra's middle slice; those of
the phantoms from their ground truth (body size, body centre at the middle slice), so that the
measurement does not depend on the finder (which misses some osteopenic phantoms, docs/phantom.md). Measured per vertebra, on the middle half of its slices:
  - HU inside the body: an ellipse of 0.6 x the box's width and depth, centred on the box,
    which keeps clear of the cortex (median, 5th and 95th percentile, pooled histogram);
  - texture: the standard deviation of those voxels (noise included, as a reader sees it), the
    image noise (real CT: robust SD in paraspinal muscle; phantoms: the noise they were made with)
    and the texture without it, sqrt(SD^2 - noise^2);
  - cortex: profiles from the box centre forwards and to either side, 7 columns or rows wide;
    the apparent thickness is the full width at half maximum of the cortical peak above the
    higher of the bone inside and the soft tissue outside, and the peak's HU.
Usage: benchmarks/phantom_vs_real.py [BUILD_DIR] [--seeds N] [--out docs/images]
JPEG-LS real CTs are decoded with dcmdjpls (DCMTK) into a temporary folder first.
"""
import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pydicom
from PIL import Image, ImageDraw

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REAL_CTS = {
    # name: (pixel spacing, slice thickness, phantom levels like the real one's view)
    "thorax-4dct": (0.98, 2.0, "T4-T11"),
    "chest-lidc-0314": (0.78, 1.0, "T3-T10"),
    "abdomen-crlm-1006": (0.8, 5.0, "T11-L4"),
}
WINDOW = (-200.0, 800.0)   # level 300, width 1000: bone texture and cortex both readable


def load_series(folder, scratch):
    files = sorted(glob.glob(os.path.join(folder, "*.dcm")))
    first = pydicom.dcmread(files[0], stop_before_pixels=True)
    if first.file_meta.TransferSyntaxUID.is_compressed:
        decoded = os.path.join(scratch, "decoded-" + os.path.basename(folder.rstrip("/")))
        os.makedirs(decoded, exist_ok=True)
        for f in files:
            target = os.path.join(decoded, os.path.basename(f))
            if not os.path.exists(target):
                subprocess.run(["dcmdjpls", f, target], check=True)
        files = sorted(glob.glob(os.path.join(decoded, "*.dcm")))
    instances = [pydicom.dcmread(f) for f in files]
    positions = {}
    for d in instances:
        positions.setdefault(round(float(d.ImagePositionPatient[2]), 3), d)   # duplicates once
    instances = [positions[z] for z in sorted(positions)]
    volume = np.stack([d.pixel_array.astype(np.float32) * float(d.RescaleSlope) + float(d.RescaleIntercept)
                       for d in instances])
    z = np.array([float(d.ImagePositionPatient[2]) for d in instances])
    return volume, z, float(instances[0].PixelSpacing[0])


def find_bodies(inspect, folder):
    text = subprocess.run([inspect, folder], check=True, capture_output=True, text=True).stdout
    bodies = []
    pattern = re.compile(r"slices\s+(\d+)-\s*(\d+).*body\s+(\d+) x\s+(\d+) mm at column\s+([\d.]+) row\s+([\d.]+)")
    for line in text.splitlines():
        m = pattern.search(line)
        if m:
            first, last, width, depth, column, row = m.groups()
            bodies.append(dict(first=int(first), last=int(last), width=float(width), depth=float(depth),
                               column=float(column), row=float(row), name=line.split()[1]))
    return bodies


def truth_bodies(folder, z):
    """The phantom's vertebral bodies from its ground truth, in the form find_bodies gives."""
    with open(os.path.join(folder, "ground_truth.json")) as f:
        truth = json.load(f)
    bodies = []
    for v in truth["vertebrae"]:
        slices = [s for s in truth["slices"] if s["vertebra"] == v["index"]]
        if not slices:
            continue
        indices = sorted(int(np.argmin(np.abs(z - s["z_mm"]))) for s in slices)
        middle = slices[len(slices) // 2]["body_centre_pixel"]
        bodies.append(dict(first=indices[0], last=indices[-1], width=v["body_size_mm"]["width"],
                           depth=v["body_size_mm"]["depth"], column=middle["column"], row=middle["row"],
                           name=v["level"]))
    return bodies


def cortex_profile(profile, spacing, inside_mm, search_from_mm):
    """FWHM (mm) and peak (HU) of the cortical peak in a profile running outwards from the centre."""
    start = int(search_from_mm / spacing)
    if start + 4 >= len(profile):
        return None
    peak_index = start + int(np.argmax(profile[start:]))
    peak = profile[peak_index]
    inside = np.median(profile[:max(2, int(inside_mm / spacing))])
    outside_from = peak_index + int(3 / spacing)
    outside = np.median(profile[outside_from:outside_from + int(4 / spacing) + 1]) if outside_from + 2 < len(profile) else inside
    base = max(inside, outside)
    if peak - base < 100:
        return None
    half = (peak + base) / 2
    left = peak_index
    while left > 0 and profile[left - 1] > half:
        left -= 1
    right = peak_index
    while right + 1 < len(profile) and profile[right + 1] > half:
        right += 1
    # linear interpolation of the two half-maximum crossings
    width = right - left + 1.0
    if left > 0:
        width -= (half - profile[left - 1]) / max(1e-6, profile[left] - profile[left - 1]) - 0.5
    if right + 1 < len(profile):
        width -= (half - profile[right + 1]) / max(1e-6, profile[right] - profile[right + 1]) - 0.5
    return width * spacing, peak


def measure(volume, z, spacing, bodies, known_noise=None):
    rows = []
    for b in bodies:
        n = b["last"] - b["first"] + 1
        middle = range(b["first"] + n // 4, b["last"] - n // 4 + 1)
        c, r = b["column"], b["row"]
        ax, ay = 0.3 * b["width"] / spacing, 0.3 * b["depth"] / spacing
        yy, xx = np.mgrid[0:volume.shape[1], 0:volume.shape[2]]
        inner = ((xx - c) / ax) ** 2 + ((yy - r) / ay) ** 2 < 1
        values = np.concatenate([volume[k][inner] for k in middle])
        thickness, peaks = [], []
        ci, ri = int(round(c)), int(round(r))
        for k in middle:
            img = volume[k]
            reach = int((0.5 * max(b["width"], b["depth"]) + 12) / spacing)
            candidates = [
                np.median(img[max(0, ri - reach):ri + 1, ci - 3:ci + 4], axis=1)[::-1],          # forwards
                np.median(img[ri - 3:ri + 4, ci:ci + reach], axis=0),                               # left
                np.median(img[ri - 3:ri + 4, max(0, ci - reach):ci + 1], axis=0)[::-1],            # right
            ]
            extents = [b["depth"] / 2, b["width"] / 2, b["width"] / 2]
            for profile, extent in zip(candidates, extents):
                found = cortex_profile(profile, spacing, 0.3 * extent, 0.6 * extent)
                if found:
                    thickness.append(found[0])
                    peaks.append(found[1])
        # image noise: a robust SD (1.4826 x median absolute deviation) in two 4 mm discs of
        # paraspinal muscle, 30 mm either side of the midline and 45 mm behind the body
        muscle = []
        for side in (-1, 1):
            mc, mr = c + side * 30 / spacing, r + (b["depth"] / 2 + 45) / spacing
            disc = ((xx - mc) ** 2 + (yy - mr) ** 2) < (4 / spacing) ** 2
            for k in middle:
                patch = volume[k][disc]
                muscle.append(1.4826 * np.median(np.abs(patch - np.median(patch))))
        noise = known_noise if known_noise is not None else float(np.median(muscle))
        rows.append(dict(name=b["name"], values=values, noise=noise, median=float(np.median(values)), std=float(values.std()),
                         p5=float(np.percentile(values, 5)), p95=float(np.percentile(values, 95)),
                         cortex_mm=float(np.median(thickness)) if thickness else float("nan"),
                         cortex_hu=float(np.median(peaks)) if peaks else float("nan")))
    return rows


def windowed(image):
    low, high = WINDOW
    return (np.clip((image - low) / (high - low), 0, 1) * 255).astype(np.uint8)


def views(volume, z, spacing, body, size_mm=80.0):
    """An axial slice through the body's middle and a sagittal reformat through its centre,
    both at 0.5 mm per pixel, size_mm square, the body centred."""
    k = (body["first"] + body["last"]) // 2
    c, r = body["column"], body["row"] + 10 / spacing   # centre a little behind the body: the canal shows
    step = 0.5
    n = int(size_mm / step)
    offsets = (np.arange(n) - n / 2) * step / spacing
    cols = np.clip(np.round(c + offsets).astype(int), 0, volume.shape[2] - 1)
    rws = np.clip(np.round(r + offsets).astype(int), 0, volume.shape[1] - 1)
    axial = volume[k][np.ix_(rws, cols)]
    zc = z[k]
    zs = zc + (n / 2 - np.arange(n)) * step            # head at the top
    nearest = np.array([int(np.argmin(np.abs(z - value))) for value in zs])
    outside = np.abs(z[nearest] - zs) > (z[1] - z[0]) if len(z) > 1 else np.zeros(n, bool)
    sagittal = volume[nearest][:, rws, int(round(c))]
    sagittal[outside] = -1000
    return windowed(axial), windowed(sagittal)


def text(draw, xy, message, fill=(0, 0, 0)):
    draw.text(xy, message, fill=fill)


def histogram_png(groups, path):
    width, height, margin = 900, 420, 60
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    low, high, bins = -200, 700, 90
    edges = np.linspace(low, high, bins + 1)
    curves = []
    for label, colour, values in groups:
        counts, _ = np.histogram(values, bins=edges)
        curves.append((label, colour, counts / max(1, counts.sum())))
    top = max(c.max() for _, _, c in curves) * 1.05
    x0, y0, x1, y1 = margin, 20, width - 20, height - margin
    draw.rectangle([x0, y0, x1, y1], outline=(0, 0, 0))
    for hu in range(low, high + 1, 100):
        x = x0 + (hu - low) / (high - low) * (x1 - x0)
        draw.line([x, y1, x, y1 + 5], fill=(0, 0, 0))
        text(draw, (x - 12, y1 + 8), str(hu))
    text(draw, ((x0 + x1) / 2 - 110, height - 25), "HU inside the vertebral body (fraction of voxels per 10 HU)")
    for index, (label, colour, fraction) in enumerate(curves):
        points = [(x0 + (edges[i] + 5 - low) / (high - low) * (x1 - x0), y1 - f / top * (y1 - y0))
                  for i, f in enumerate(fraction)]
        draw.line(points, fill=colour, width=3 if label.startswith("phantom") else 2)
        draw.line([x1 - 260, y0 + 15 + 16 * index, x1 - 230, y0 + 15 + 16 * index], fill=colour, width=3)
        text(draw, (x1 - 222, y0 + 9 + 16 * index), label)
    image.save(path)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("build", nargs="?", default=os.path.join(ROOT, "build"))
    parser.add_argument("--seeds", type=int, default=3, help="phantoms per real-CT acquisition and bone model")
    parser.add_argument("--real", default=os.path.join(ROOT, "..", "shared", "testdata", "real-ct"))
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "images"))
    args = parser.parse_args()
    phantom_tool = os.path.join(args.build, "tools", "phantom", "spinemet-phantom")
    inspect = os.path.join(args.build, "tests", "spine", "spinemet-spine-inspect")
    for tool in (phantom_tool, inspect):
        if not os.access(tool, os.X_OK):
            sys.exit(f"{tool} is missing: build the project first")
    if not os.path.isdir(args.real):
        sys.exit(f"real-CT comparison NOT RUN: {args.real} is absent")
    os.makedirs(args.out, exist_ok=True)

    scratch = tempfile.mkdtemp(prefix="phantom-vs-real-")
    results = {}       # study label -> rows
    pictures = []      # (label, axial, sagittal)
    try:
        for group, (name, (pixel, thickness, levels)) in enumerate(REAL_CTS.items()):
            folder = os.path.join(args.real, name)
            volume, z, spacing = load_series(folder, scratch)
            bodies = find_bodies(inspect, folder)
            results[name] = measure(volume, z, spacing, bodies)
            pictures.append((name, *views(volume, z, spacing, bodies[len(bodies) // 2])))
            for bone in ("realistic", "simple"):
                # other patients for each acquisition: seeds 1.., 101.., 201..
                for seed in range(100 * group + 1, 100 * group + args.seeds + 1):
                    study = os.path.join(scratch, f"{bone}-{name}-{seed}")
                    subprocess.run([phantom_tool, "--out", study, "--seed", str(seed), "--bone", bone,
                                    "--levels", levels, "--pixel-spacing", str(pixel), "--slice-thickness",
                                    str(thickness), "--lesion-probability", "0"], check=True,
                                   stdout=subprocess.DEVNULL)
                    volume, z, spacing = load_series(study, scratch)
                    bodies = truth_bodies(study, z)
                    # the phantom's noise is known (the paraspinal estimate meets ribs and processes there)
                    with open(os.path.join(study, "ground_truth.json")) as f:
                        noise = json.load(f)["settings"]["noise_sigma_hu"]
                    results.setdefault(f"phantom {bone}, like {name}", []).extend(
                        measure(volume, z, spacing, bodies, known_noise=noise))
                    if seed == 100 * group + 1:
                        pictures.append((f"phantom {bone} (seed {seed}), like {name}",
                                         *views(volume, z, spacing, bodies[len(bodies) // 2])))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    lines = ["| study | vertebrae | body HU median | body HU 5th-95th pct | SD within the body (HU) | "
             "noise SD (HU) | texture SD without noise (HU) | cortex FWHM (mm) | cortex peak (HU) |",
             "|---|---|---|---|---|---|---|---|---|"]
    summary = {}
    for label, rows in results.items():
        values = np.concatenate([r["values"] for r in rows])
        stds = [r["std"] for r in rows]
        noise = float(np.median([r["noise"] for r in rows]))
        texture = float(np.median([np.sqrt(max(0.0, r["std"] ** 2 - r["noise"] ** 2)) for r in rows]))
        cortex = [r["cortex_mm"] for r in rows if r["cortex_mm"] == r["cortex_mm"]]
        peaks = [r["cortex_hu"] for r in rows if r["cortex_hu"] == r["cortex_hu"]]
        summary[label] = dict(vertebrae=len(rows), median=float(np.median(values)),
                              p5=float(np.percentile(values, 5)), p95=float(np.percentile(values, 95)),
                              std_median=float(np.median(stds)), noise=noise, texture=texture, std_range=[float(min(stds)), float(max(stds))],
                              cortex_mm=float(np.median(cortex)) if cortex else None,
                              cortex_hu=float(np.median(peaks)) if peaks else None,
                              per_vertebra=[{k: r[k] for k in ("name", "median", "std", "cortex_mm", "cortex_hu")}
                                            for r in rows])
        s = summary[label]
        lines.append(f"| {label} | {s['vertebrae']} | {s['median']:.0f} | {s['p5']:.0f} to {s['p95']:.0f} | "
                     f"{s['std_median']:.0f} ({s['std_range'][0]:.0f}-{s['std_range'][1]:.0f}) | "
                     f"{s['noise']:.0f} | {s['texture']:.0f} | "
                     f"{s['cortex_mm']:.1f} | {s['cortex_hu']:.0f} |")
    table = "\n".join(lines)
    with open(os.path.join(args.out, "phantom-vs-real.md"), "w") as f:
        f.write("<!-- written by benchmarks/phantom_vs_real.py; phantom rows are figures on phantoms -->\n")
        f.write(table + "\n")
    with open(os.path.join(args.out, "phantom-vs-real.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(table)

    colours = {"thorax-4dct": (0, 90, 200), "chest-lidc-0314": (0, 160, 160), "abdomen-crlm-1006": (120, 60, 200)}
    groups = [(name, colours[name], np.concatenate([r["values"] for r in results[name]])) for name in REAL_CTS]
    for bone, colour in (("realistic", (220, 30, 30)), ("simple", (150, 150, 150))):
        values = np.concatenate([r["values"] for label, rows in results.items() if label.startswith(f"phantom {bone}")
                                 for r in rows])
        groups.append((f"phantom {bone} (all)", colour, values))
    histogram_png(groups, os.path.join(args.out, "phantom-vs-real-histograms.png"))

    # one row per real CT: real, realistic phantom, simple phantom; axial then sagittal
    tile = pictures[0][1].shape[0]
    label_height = 16
    columns = 6
    rows = len(REAL_CTS)
    sheet = Image.new("L", (columns * tile, rows * (tile + label_height)), 255)
    draw = ImageDraw.Draw(sheet)
    for index, (label, axial, sagittal) in enumerate(pictures):
        row, slot = divmod(index, 3)
        y = row * (tile + label_height)
        for part, image in enumerate((axial, sagittal)):
            x = (slot * 2 + part) * tile
            sheet.paste(Image.fromarray(image), (x, y + label_height))
            short = re.sub(r" \(seed \d+\)", "", label).split(",")[0]
            text(draw, (x + 3, y + 2), f"{short} {'axial' if part == 0 else 'sagittal'}", fill=0)
    sheet.save(os.path.join(args.out, "phantom-vs-real-slices.png"))
    print("written:", ", ".join(os.path.join(args.out, n) for n in
                                ("phantom-vs-real.md", "phantom-vs-real.json", "phantom-vs-real-histograms.png",
                                 "phantom-vs-real-slices.png")))


if __name__ == "__main__":
    main()
