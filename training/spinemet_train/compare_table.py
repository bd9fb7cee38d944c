# SPDX-License-Identifier: GPL-3.0-or-later
"""Writes docs/evaluation.md from the evaluation.json of each run under --runs (training/compare.sh)."""

import argparse
import datetime
import json
import os
import re
import sys

DESCRIPTIONS = {
    "method": "multi-task DenseNet, fusion MLP, posterolateral task, self-paced, label smoothing",
    "baseline": "plain four-class DenseNet (same backbone), no self-paced, no label smoothing",
    "no-fusion-mlp": "method without the fusion MLP (fixed truth table)",
    "no-aux-task": "method without the posterolateral task",
    "no-self-paced": "method without self-paced learning",
    "densenet121-method": "method with the DenseNet-121 backbone",
    "densenet121-baseline": "the paper's baseline: DenseNet-121, four classes",
}
ORDER = list(DESCRIPTIONS)
ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SHIPPED_MODEL = os.path.join(ROOT, "Resources", "model", "spinemet-demo.pt")


def cell(value):
    return "n/a" if value is None else f"{value:.3f}"


def method_against_baseline(reports: dict) -> list:
    """A sentence of differences, whichever way they go."""
    if "method" not in reports or "baseline" not in reports:
        return []
    m, b = reports["method"]["vertebra"]["bone_quality"], reports["baseline"]["vertebra"]["bone_quality"]
    differences = [f"{c} {m['sensitivity'][c] - b['sensitivity'][c]:+.3f}" for c in ("blastic", "lytic", "mixed")]
    specificity = m["any_lesion"]["specificity"] - b["any_lesion"]["specificity"]
    return [f"`method` minus `baseline`, vertebra level, whole test set: sensitivity {', '.join(differences)}; "
            f"any-lesion specificity {specificity:+.3f}. A negative number is where the method does not beat the "
            "baseline.", ""]


def shipped_model_section(model_path: str) -> list:
    """The shipped model's real-anatomy rows and what it does on the real CTs of ../shared, from its
    own metadata and Resources/model/real-ct-check.json: the same words as its model card, so that
    this page, generated anew by every comparison, keeps them."""
    from .export import load_exported
    from .model_card import real_anatomy_section, real_ct_section
    if not os.path.exists(model_path):
        return []
    _, metadata = load_exported(model_path)
    check_path = os.path.join(os.path.dirname(model_path), "real-ct-check.json")
    check = None
    if os.path.exists(check_path):
        with open(check_path) as f:
            check = json.load(f)
    section = real_anatomy_section(metadata["evaluation"]) + real_ct_section(check)
    # one level down: sections of this page's own "shipped model" section
    section = [("#" + line) if line.startswith("## ") else line for line in section]
    return [f"## The shipped model ({metadata['name']} {metadata['version']}) on real anatomy", "",
            "From the model's metadata (Resources/model/MODEL_CARD.md says the same). The comparison above rerun on",
            "the shipped model's data, realistic phantoms and real CT backgrounds: "
            "[evaluation-real-anatomy.md](evaluation-real-anatomy.md). Operating points measured on the same",
            "weights and not shipped, with their test figures: docs/training.md (\"Model 0.4.1\").", ""] + section


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--model", default=SHIPPED_MODEL, help="the shipped model, whose real-anatomy rows the "
                                                                "page carries (default: Resources/model)")
    args = parser.parse_args(argv)
    rows, hard_rows, real_rows, test_set, budgets, reports, slice_targets = [], [], [], None, set(), {}, set()
    names = sorted((n for n in os.listdir(args.runs) if os.path.exists(os.path.join(args.runs, n, "evaluation.json"))),
                   key=lambda n: ORDER.index(n) if n in ORDER else len(ORDER))
    for name in names:
        with open(os.path.join(args.runs, name, "evaluation.json")) as f:
            report = json.load(f)
        test_set = report["test_set"]
        reports[name] = report
        with open(os.path.join(args.runs, name, "config.json")) as f:
            config = json.load(f)
        budgets.add((config["epochs"], config["samples_per_epoch"]))
        slice_targets.add(config.get("slice_targets", "vertebra_where_visible"))
        s, v = report["slice"]["bone_quality"], report["vertebra"]["bone_quality"]
        pl = report["vertebra"]["posterolateral"] if report["summary"]["vertebra_level"].get("posterolateral") != "not trained" else None
        rows.append("| " + " | ".join([f"`{name}`"] + [cell(s["sensitivity"][c]) for c in ("blastic", "lytic", "mixed")]
                                      + [cell(v["sensitivity"][c]) for c in ("blastic", "lytic", "mixed")]
                                      + [cell(v["any_lesion"]["specificity"]), cell(pl["accuracy"]) if pl else "not trained",
                                         report["aggregation"]["rule"]]) + " |")
        hard = report.get("by_difficulty", {}).get("hard")
        if hard:
            h = hard["vertebra_level"]
            hard_rows.append("| " + " | ".join([f"`{name}`"] + [cell(h["bone_quality_sensitivity"][c]) for c in ("blastic", "lytic", "mixed")]
                                               + [cell(h["any_lesion_specificity"]),
                                                  cell(h["posterolateral_accuracy"]) if "posterolateral_accuracy" in h else "not trained"]) + " |")
        real = report.get("real_anatomy")
        if real:
            free, inserted = real["lesion_free"], real["inserted_lesions"]
            distinct = free.get("distinct", free)   # each real vertebra once, where the report has it
            real_rows.append("| " + " | ".join(
                [f"`{name}`", cell(distinct["specificity"]), f"{distinct['false_lesion_calls']} / {distinct['vertebrae']}",
                 f"{free['studies_flagged']} / {free['studies_without_inserted_lesion']}"]
                + [cell(inserted["sensitivity"][c]["right_class"]) for c in ("blastic", "lytic", "mixed")]
                + [cell(inserted["posterolateral_accuracy"]) if pl else "not trained"]) + " |")
    budget_note = []
    match = re.fullmatch(r"compare(-real)?(?:-(\d+)ep)?(?:-(\d+)s)?", os.path.basename(os.path.normpath(args.runs)))
    on_real = bool(match and match.group(1))
    command = "training/compare.sh" + "".join(
        f" {flag} {value}" for flag, value in (("--epochs", match and match.group(2)),
                                                ("--samples-per-epoch", match and match.group(3))) if value) + (
        " --real" if on_real else "") + (" --densenet121" if any(n.startswith("densenet121") for n in names) else "")
    budget = "; ".join(f"{e} epochs of {n} samples" for e, n in sorted(budgets, key=str))
    if on_real:
        with open(os.path.join(ROOT, "training", "configs", "real.json")) as f:
            shipped = json.load(f)
        full = shipped["epochs"] * shipped["samples_per_epoch"]
        draws = {e * n for e, n in budgets}
        if draws and max(draws) < full:
            budget_note = ["", f"**A small budget**: {max(draws)} draws per variant, {100 * max(draws) / full:.1f} % of the "
                           f"shipped model's ({shipped['epochs']} epochs of {shipped['samples_per_epoch']}, configs/real.json). "
                           "The variants are compared early in their training, not at their best: read the rows as "
                           "where each stands after the same short start, not as the method's final merit."]
    data = ("phantoms (half with realistic normal bone) plus hybrid studies (real lesion-free CT backgrounds with "
            "inserted lesions), split as model 0.4.0's data (docs/training.md)" if on_real else
            "training and validation phantoms")
    lines = [
        "# Evaluation: the paper's comparison " + ("on realistic phantoms and real CT backgrounds" if on_real
                                                   else "on synthetic phantoms"),
        "",
        ("Phantom rows were measured **on synthetic CT phantoms** (spinemet-phantom); the real-anatomy rows on "
         "real CT backgrounds of lesion-free patients with synthetic lesions (spinemet-hybrid), never on "
         "patients with real metastases. Each" if on_real else
         "All figures were measured **on synthetic CT phantoms** (spinemet-phantom), not on patients. Each"),
        f"variant was trained by `{command}` on the same {data} with the",
        "same seed and the configuration's backbone unless named `densenet121-*`, for the same budget",
        f"({budget}); its slice -> vertebra rule was chosen on the validation set. The test set is held out:",
        "other seeds, acquisition settings unseen in training, half normal and half hard difficulty",
        f"(docs/training.md). Slice targets: {', '.join(f'`{t}`' for t in sorted(slice_targets))} (docs/training.md,",
        "\"What the loss sees\"); slice-level sensitivity judges each slice by the lesions it shows.",
        *budget_note,
        "",
        f"Test set: {test_set['studies']} studies, {test_set['vertebrae']} vertebrae "
        f"(normal/blastic/lytic/mixed {'/'.join(map(str, test_set['vertebrae_by_bone_quality']))}), "
        f"{test_set['slices']} slices." if test_set else "No finished runs.",
        "",
        "| variant | slice sens. blastic | slice sens. lytic | slice sens. mixed | vertebra sens. blastic | "
        "vertebra sens. lytic | vertebra sens. mixed | vertebra any-lesion spec. | vertebra posterolateral acc. | aggregation |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ] + rows + [
        "",
        "Hard phantoms of the test set only (vertebra level, same models and rules):",
        "",
        "| variant | sens. blastic | sens. lytic | sens. mixed | any-lesion spec. | posterolateral acc. |",
        "|---|---|---|---|---|---|",
    ] + hard_rows + ([
        "",
        "Real anatomy (held-out real vertebrae: thorax-4dct T7-T11 chose the operating point; chest-lidc-0314",
        "C6-T4 and the whole of abdomen-crlm-1006 are the test here), the rule as chosen on validation:",
        "",
        "| variant | real lesion-free spec. | false calls / real vertebrae | lesion-free studies flagged | "
        "inserted blastic | inserted lytic | inserted mixed | inserted posterolateral acc. |",
        "|---|---|---|---|---|---|---|---|",
    ] + real_rows if real_rows else []) + [
        "",
        *method_against_baseline(reports),
        "Variants: " + "; ".join(f"`{n}`: {DESCRIPTIONS.get(n, n)}" for n in names) + ".",
        "",
        ("Not measured yet: " + ", ".join(f"`{n}`" for n in ORDER if n not in names)
         + f" (`{command}`; `--densenet121` for the DenseNet-121 variants, GPU recommended)."
         + ("" if {"method", "baseline"} <= set(names) else
            " Until `method` and `baseline` are, this page makes no claim about the method against the baseline.")
         if any(n not in names for n in ORDER) else "All variants measured."),
        "",
        "The paper (arXiv 2402.08910, abstract) reports sensitivity gains of the full method over the DenseNet-121",
        "baseline of +12.54% / +29.06% / +7.23% (blastic / lytic / mixed) at slice level and +12.33% / +34.25% /",
        "+23.21% at vertebra level, on patient CT. Phantom results are not comparable in absolute terms.",
        "",
        f"Reproduce: `{'training/train_real.sh BUILD_DIR' if on_real else 'training/make_dataset.sh BUILD_DIR'} && "
        f"{command}` (table written {datetime.date.today().isoformat()}).",
        "",
    ] + ([] if on_real else shipped_model_section(args.model))
    with open(args.out, "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
