# SPDX-License-Identifier: GPL-3.0-or-later
"""Writes a model card (Markdown) from an exported model's own metadata, so the card and the file
can never disagree.

    PYTHONPATH=training /usr/bin/python3 -m spinemet_train.model_card --model Resources/model/spinemet-demo.pt \
        --out Resources/model/MODEL_CARD.md
"""

import argparse
import json
import os
import sys

from . import BONE_QUALITY_CLASSES, POSTEROLATERAL_CLASSES
from .export import load_exported

TARGETS = {"blastic": 0.90, "lytic": 0.90, "mixed": 0.90}


SLICE_TARGET_WORDS = {
    "visible": "each slice is labelled with the lesion kinds that show on it, not with its vertebra's label",
    "vertebra_where_visible": "each slice carries its vertebra's label; lesion-free slices of a lesion vertebra are left out",
    "vertebra": "each slice carries its vertebra's label",
}


def number(value):
    return "n/a" if value is None else f"{value:.3f}"


def confusion_table(matrix, names):
    lines = ["| truth \\ predicted | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    lines += [f"| {name} | " + " | ".join(str(v) for v in row) + " |" for name, row in zip(names, matrix)]
    return "\n".join(lines)


def difficulty_table(by_difficulty: dict) -> list:
    if not by_difficulty:
        return []
    lines = ["Vertebra level, each phantom difficulty of the test set on its own (same model, same rule):", "",
             "| difficulty | studies | vertebrae | sens. blastic | sens. lytic | sens. mixed | any-lesion spec. | posterolateral acc. |",
             "|---|---|---|---|---|---|---|---|"]
    for difficulty, summary in sorted(by_difficulty.items()):
        v, data = summary["vertebra_level"], summary["test_set"]
        sens = v["bone_quality_sensitivity"]
        lines.append(f"| {difficulty} | {data['studies']} | {data['vertebrae']} | "
                     + " | ".join(number(sens[c]) for c in ("blastic", "lytic", "mixed"))
                     + f" | {number(v['any_lesion_specificity'])} | {number(v.get('posterolateral_accuracy'))} |")
    return lines + [""]


def distribution_text(figures: dict) -> str:
    return (f"min {figures['min']:.2f}, median {figures['median']:.2f}, 0.99 quantile {figures['q99']:.2f}, "
            f"max {figures['max']:.2f}")


def gate_section(metadata: dict) -> list:
    """What the out-of-distribution gate is, what it was fitted on, its rule and its figures."""
    section = metadata.get("assessability")
    if not section:
        return ["## Out-of-distribution gate", "",
                "None: this model has no `assessability` section, so every vertebra is assessed.", ""]
    lines = ["## Out-of-distribution gate", ""]
    gate = section.get("out_of_distribution")
    if gate:
        threshold_data = (("(held-out phantoms with the training acquisitions and the real validation",
                           "vertebrae of thorax-4dct); never tuned on the real test patients.")
                          if metadata["evaluation"].get("real_anatomy") else
                          ("(held-out phantoms with the training", "acquisitions); never tuned on real CT."))
        lines += [
            "The model knows what it does not know, as far as its own features tell: each crop's backbone",
            f"features ({gate['feature_dimension']} values, `{gate['features_method']}`) are compared with the",
            "training features by the class-conditional Mahalanobis distance with a shared covariance (Lee et",
            "al., NeurIPS 2018), `min_c sqrt((f - mu_c)^T P (f - mu_c))`; a vertebra's score is the median of",
            f"its crops' scores, and above **{gate['threshold']:.2f}** the vertebra is reported as not assessable",
            "instead of being classified (docs/model-contract.md, \"assessability\").",
            "",
            f"- Fitted on: {gate.get('fitted_on', 'not stated')}.",
            f"- Classes: {gate.get('classes', 'not stated')}.",
            f"- Covariance: {gate.get('covariance', 'not stated')}.",
            f"- Threshold rule: {gate.get('threshold_rule', 'not stated')} {threshold_data[0]}",
            f"  {threshold_data[1]}",
        ]
        for key, name in (("validation", "Validation"), ("test", "Test")):
            figures = gate.get(key)
            if figures:
                lines.append(f"- {name} split ({figures.get('studies')} studies, {figures['vertebrae']} vertebrae): "
                             f"{figures['assessable_fraction']:.1%} assessable; vertebra scores "
                             f"{distribution_text(figures['vertebra_scores'])}.")
        for difficulty, figures in sorted(gate.get("test", {}).get("by_difficulty", {}).items()):
            lines.append(f"  Test `{difficulty}` ({figures['vertebrae']} vertebrae): {figures['assessable_fraction']:.1%} "
                         f"assessable, max {figures['vertebra_scores']['max']:.2f}.")
        lines += ["- What it cannot promise: the distance measures how unlike the training data a crop *looks to",
                  "  this network*. A vertebra that happens to look like the training data passes, and a passing",
                  "  vertebra is still classified by a model that has seen synthetic lesions only. It is a guard,",
                  "  not a validation.", ""]
    domain = section.get("domain")
    if domain:
        words = {"slice_thickness_mm": "slice thickness (mm)", "pixel_spacing_mm": "pixel spacing (mm)",
                 "image_noise_hu": "image noise (HU)"}
        lines += ["Validated acquisition domain (a series outside it is not assessable; of the image noise only",
                  "the upper end is checked, a smoother series hides nothing): "
                  + "; ".join(f"{words.get(k, k)} {v[0]:g} to {v[1]:g}" for k, v in sorted(domain.items())) + "."]
        for key, name in (("domain_rule", "How the ranges were set"), ("image_noise_hu_rule", "Image noise")):
            if gate and gate.get(key):
                lines.append(f"{name}: {gate[key]}.")
        lines.append("")
    return lines


HYBRID_SPLIT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "hybrid_split.json")


def split_lines() -> list:
    """Which real vertebrae were training backgrounds and which were evaluated (hybrid_split.json)."""
    with open(HYBRID_SPLIT) as f:
        backgrounds = json.load(f)["backgrounds"]
    def levels(names):
        return f"{names[0]}-{names[-1]}" if len(names) > 1 else (names[0] if names else "none")
    return [f"| {name} | {entry['patient']} | {levels(entry['train'])} | {levels(entry['evaluate'])} |"
            for name, entry in backgrounds.items()]


def real_anatomy_section(evaluation: dict) -> list:
    """Rows for real anatomy (lesion-free real backgrounds, lesions inserted into held-out real
    vertebrae), next to the phantom rows; nothing for a model evaluated on phantoms alone."""
    real = evaluation.get("real_anatomy")
    if not real:
        return ["## Evaluation on real anatomy", "",
                "Not measured: this model was evaluated on synthetic phantoms only, with no held-out real",
                "anatomy. A model trained on phantoms alone has not seen real normal bone and may call it a",
                "lesion; on real CT, rely on the out-of-distribution gate below to withhold its findings.", ""]
    free, inserted, data = real["lesion_free"], real["inserted_lesions"], real["test_set"]
    sensitivity = inserted["sensitivity"]
    lesions_met = all((sensitivity[c]["right_class"] or 0) >= 0.85 for c in ("blastic", "lytic", "mixed"))
    distinct = free.get("distinct")
    specificity = distinct["specificity"] if distinct else free["specificity"]
    real_met = ((specificity or 0) >= 0.95 and free["studies_flagged"] == 0 and lesions_met
                and (inserted["posterolateral_accuracy"] or 0) >= 0.85)
    return [
        "## Evaluation on real anatomy (real CT backgrounds, held out)",
        "",
        f"{data['studies']} studies on real lesion-free CT backgrounds whose vertebrae no training or validation",
        f"study used ({data['vertebrae']} vertebrae); lesions are synthetic, inserted by `spinemet-hybrid`.",
        "The real vertebrae, split by vertebra and by patient (training/hybrid_split.json): a vertebra used",
        "as a training background, with or without a lesion, is never evaluated. Of the evaluated ones,",
        "thorax-4dct's chose the operating point (validation); the others are the test below.",
        "",
        "| real CT | patient | training backgrounds | evaluated |",
        "|---|---|---|---|",
        *split_lines(),
        "",
        "| | vertebrae | false lesion calls | specificity | lesion-free studies flagged |",
        "|---|---|---|---|---|",
        f"| (a) lesion-free real vertebrae | {free['vertebrae']} | {free['false_lesion_calls']} | "
        f"{number(free['specificity'])} | {free['studies_flagged']} of {free['studies_without_inserted_lesion']} |",
        *([f"| (a) the same, each real vertebra once | {distinct['vertebrae']} | {distinct['false_lesion_calls']} | "
           f"{number(distinct['specificity'])} | |"] if distinct else []),
        "",
        *(["The first row counts a lesion-free vertebra once per hybrid study it appears in (every seed of a",
           "background repeats it with the same pixels); the second counts each real vertebra once, a false",
           "call where any copy was called, and is the one the target is judged on."] if distinct else []),
        *([""] if distinct else []),
        "| (b) inserted lesions | n | sensitivity (right class) | called a lesion |",
        "|---|---|---|---|",
        *[f"| {c} | {sensitivity[c]['n']} | {number(sensitivity[c]['right_class'])} | "
          f"{number(sensitivity[c]['called_a_lesion'])} |" for c in ("blastic", "lytic", "mixed")],
        "",
        f"Posterolateral accuracy on inserted lesions: {number(inserted['posterolateral_accuracy'])} "
        f"(n {inserted['posterolateral_n']}).",
        "",
        "Targets on real anatomy: specificity >= 0.95 on lesion-free real vertebrae and no lesion-free study",
        "flagged; sensitivity >= 0.85 per class and posterolateral accuracy >= 0.85 on inserted lesions: "
        + ("**all met**." if real_met else "**not all met** (see the tables)."),
        "",
    ]


def real_ct_section(real_ct_check: dict) -> list:
    """What a user sees on the lesion-free real CTs of ../shared (spinemet_train.real_ct_check)."""
    if not real_ct_check:
        return []
    rows = []
    for name, entry in real_ct_check["studies"].items():
        calls = ", ".join(f"{c['vertebra']} {c['class']}" + (" (a training background)" if c["training_background"] else "")
                          for c in entry["lesion_calls"]) or "none"
        rows.append(f"| {name} | {entry['vertebrae']} | {entry['assessable']} | {len(entry['lesion_calls'])} | "
                    f"{calls} | {entry['state']} |")
    return [
        "## Served on the real CTs of ../shared (lesion-free patients)",
        "",
        "`spinemet classify` on each whole series, gate and assessability included, as a user runs it",
        "(`spinemet_train.real_ct_check`). Some of these vertebrae were training backgrounds",
        "(training/hybrid_split.json), so this is a check of what a user sees, not a held-out figure; the",
        "held-out figures are the real-anatomy rows above. `tests/worker/test_shipped_assessability.py`",
        "fails if the shipped model makes more lesion calls on any of them than stated here.",
        "",
        "| real CT | vertebrae | assessable | lesion calls | which | study state |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
    ]


def render(metadata: dict, path: str, note: str = "", real_ct_check: dict = None) -> str:
    a, p, e = metadata["architecture"], metadata["preprocessing"], metadata["evaluation"]
    t = metadata.get("training", {})
    config = t.get("config", {})
    data = t.get("data", {})
    v, s = e["vertebra_level"], e["slice_level"]
    on_real = bool(e.get("real_anatomy"))
    check = e.get("fixed_phantom_check", {})
    test = e["test_set"]
    sens = v["bone_quality_sensitivity"]
    met = all(sens[c] is not None and sens[c] >= TARGETS[c] for c in TARGETS) \
        and v["any_lesion_specificity"] >= 0.95 and v.get("posterolateral_accuracy", 0) >= 0.85
    history = t.get("history", [])
    seconds = sum(r["seconds"] for r in history)
    per_epoch = config.get('samples_per_epoch') or data.get('train_slices_in_loss') or 0
    speed = f"{per_epoch * len(history) / seconds:.0f}" if seconds else "n/a"
    minutes = f"{seconds / 60:.0f}"
    lines = [
        f"# Model card: {metadata['name']} {metadata['version']}",
        "",
        f"File: `{os.path.basename(path)}` ({os.path.getsize(path) / 1e6:.1f} MB), TorchScript, contract "
        f"`{metadata['contract']}` (docs/model-contract.md), exported with PyTorch 1.13 on {metadata['date']}.",
        "",
        *([f"**Status:** {note}", ""] if note else []),
        "## Intended use",
        "",
        "Research and demonstration of the SpineMet pipeline only. **Not for clinical use**, not a medical",
        *(["device. It was trained and evaluated on **synthetic lesions**: in synthetic CT phantoms and inserted",
           "into the real CT of three lesion-free patients (`spinemet-hybrid`); it has never seen a real",
           "metastasis. Its figures say how well it tells those lesions from phantom and real normal bone,",
           "nothing about real metastases. Train on real labelled data (e.g. TCIA Spine-Mets-CT-SEG through",
           "`spinemet-prep --labels`) before drawing any conclusion about patients."] if on_real else
          ["device. It was trained and evaluated on **synthetic CT phantoms** made by `spinemet-phantom`, never",
           "on patient data: its figures say how well it separates the phantom generator's lesions, nothing",
           "about real metastases. Train on real labelled data (e.g. TCIA Spine-Mets-CT-SEG through",
           "`spinemet-prep --labels`) before drawing any conclusion about patients."]),
        "",
        "## Model",
        "",
        f"- {a['variant']} DenseNet (torchvision's DenseNet, **random initialisation, no pretrained weights**):",
        f"  growth rate {a['growth_rate']}, blocks {a['block_config']}, {a['num_init_features']} initial features,",
        f"  bottleneck {a['bn_size']}, `{a['stem']}` stem, {a['parameters']:,} parameters.",
        "- Heads: " + "; ".join(f"{k}: {v_}" for k, v_ in a["heads"].items()) + ".",
        f"- Input `float32 [N, {p['channels']}, {p['input_size']}, {p['input_size']}]`: a {p['crop_mm']:g} mm axial",
        f"  crop around the vertebral body and posterior elements, HU window {p['window']} mapped to [0, 1],",
        f"  mean {p['mean']}, std {p['std']}. Outputs: {', '.join(metadata['outputs'])}.",
        "",
        "Why this configuration and not DenseNet-121: the paper's backbone (DenseNet-121, 7.0 M parameters)",
        "takes a training step about five times slower on the two CPU cores available here (docs/training.md,",
        f"\"The models\"); this one trained at {speed} samples a second over this run (other work sharing the",
        f"cores), {minutes} minutes up to the shipped epoch {t.get('epoch')}. {p['input_size']} px over {p['crop_mm']:g} mm gives "
        f"{p['crop_mm'] / p['input_size']:.2f} mm pixels: the hard phantoms' smallest",
        f"lesions (2.5 mm semi-axis) span about {5 / (p['crop_mm'] / p['input_size']):.0f} pixels, and the crop keeps the pedicles the posterolateral",
        "task needs" + (f"; {p['channels']} channels, the slices {p['channel_spacing_mm']:g} mm below and above beside the slice itself,"
                        " let a lesion seen on one slice be confirmed by its neighbours." if p['channels'] > 1 else "."),
        "`training/configs/densenet121.json` trains the paper's backbone with the same command (on a GPU",
        "where there is one).",
        "",
        "## Training",
        "",
        f"- Data: {metadata['trained_on']}. Training set {data.get('train', {}).get('studies')} studies /",
        f"  {data.get('train', {}).get('vertebrae')} vertebrae (normal/blastic/lytic/mixed "
        f"{'/'.join(map(str, data.get('train', {}).get('vertebrae_by_bone_quality', [])))}), "
        f"{data.get('train_slices_in_loss')} slices in the loss; validation "
        f"{(data.get('validation') or {}).get('studies')} studies / {(data.get('validation') or {}).get('vertebrae')} vertebrae.",
        "  Phantom seeds and acquisition ranges: docs/training.md (`training/make_dataset.sh`)"
        + ("; real backgrounds: training/hybrid_split.json (below)." if on_real else "."),
        f"- Slice targets `{config.get('slice_targets', 'vertebra_where_visible')}`: "
        + SLICE_TARGET_WORDS.get(config.get('slice_targets', 'vertebra_where_visible'), "")
        + " (docs/training.md, \"What the loss sees\").",
        f"- {config.get('epochs')} epochs of {config.get('samples_per_epoch')} class-balanced samples, batch "
        f"{config.get('batch_size')}, AdamW lr {config.get('learning_rate')}, label smoothing "
        f"{config.get('loss', {}).get('label_smoothing')}, loss weights "
        + ", ".join(f"{k} {v_}" for k, v_ in config.get('loss', {}).items() if k != 'label_smoothing') + ",",
        f"  self-paced learning {config.get('self_paced')}, augmentation without flips; seed {config.get('seed')};",
        f"  best epoch by validation: {t.get('epoch')} of {config.get('epochs')}. Reproduce: "
        + ("`training/train_real.sh BUILD`." if on_real else "`training/make_dataset.sh BUILD && training/train_demo.sh BUILD`."),
        "",
        "## Slice -> vertebra rule",
        "",
        f"`{metadata['aggregation']['rule']}`, {metadata['aggregation'].get('chosen_by', '')}.",
        "Definitions: docs/training.md (\"The slice -> vertebra aggregation rule\").",
        "",
        "## Evaluation on the held-out phantom test set (synthetic phantoms)",
        "",
        f"{test['studies']} studies, {test['vertebrae']} vertebrae (normal/blastic/lytic/mixed "
        f"{'/'.join(map(str, test['vertebrae_by_bone_quality']))}; posterolateral none/unilateral/bilateral "
        f"{'/'.join(map(str, test['vertebrae_by_posterolateral']))}), {test['slices']} slices, from seeds and",
        "acquisition settings (pixel spacing, slice thickness, offsets, transfer syntax) that no training",
        "study had" + (f"; difficulty {' and '.join(sorted(e['by_difficulty']))}, each reported on its own below." if e.get("by_difficulty") else "."),
        "",
        "| level | sens. normal | sens. blastic | sens. lytic | sens. mixed | any-lesion sens. | any-lesion spec. | posterolateral acc. |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, level in (("vertebra", v), ("slice", s)):
        bq = level["bone_quality_sensitivity"]
        lines.append(f"| {name} | " + " | ".join(number(bq[c]) for c in BONE_QUALITY_CLASSES) + " | "
                     + f"{number(level['any_lesion_sensitivity'])} | {number(level['any_lesion_specificity'])} | "
                     + f"{number(level.get('posterolateral_accuracy'))} |")
    lines += [
        "",
        "Specificity per bone-quality class (vertebra level): "
        + ", ".join(f"{c} {number(v['bone_quality_specificity'][c])}" for c in BONE_QUALITY_CLASSES) + ".",
        "Posterolateral sensitivity (vertebra level): "
        + ", ".join(f"{c} {number(v.get('posterolateral_sensitivity', {}).get(c))}" for c in POSTEROLATERAL_CLASSES) + ".",
        "",
        *difficulty_table(e.get("by_difficulty", {})),
        "Vertebra-level bone-quality confusion:",
        "",
        confusion_table(v["bone_quality_confusion"], BONE_QUALITY_CLASSES),
        "",
        "Vertebra-level posterolateral confusion:",
        "",
        confusion_table(v.get("posterolateral_confusion", []), POSTEROLATERAL_CLASSES),
        "",
        "Targets of the project for this demo model (vertebra level, phantom test set): sensitivity >= 0.90",
        "for blastic, lytic and mixed, any-lesion specificity >= 0.95, posterolateral accuracy >= 0.85: "
        + ("**all met**." if met else "**not all met** (see the table)."),
        "",
        *real_anatomy_section(e),
        *real_ct_section(real_ct_check),
        *gate_section(metadata),
        "## Fixed phantom check",
        "",
        f"`tests/training/test_shipped_model.py` regenerates test-split seeds {check.get('seeds')} with the real",
        f"`spinemet-phantom` and `spinemet-prep` and expects, on their {check.get('vertebrae')} vertebrae,",
        f"bone-quality accuracy {number(check.get('vertebra_bone_quality_accuracy'))} and posterolateral accuracy",
        f"{number(check.get('vertebra_posterolateral_accuracy'))} (tolerance 0.05).",
        "",
        "## Limitations",
        "",
        *(["- Lesions are synthetic everywhere: on phantoms and inserted into the real backgrounds of three",
           "  lesion-free patients (three scanners). No real metastasis was seen in training or evaluation;",
           "  fractures, implants and lesions that look like none of the synthetic ones are untested.",
           "- Three patients are few: the operating point was chosen on one (thorax-4dct's held-out",
           "  vertebrae) and judged on the other two; a fourth patient may differ more than these do."]
          if e.get("real_anatomy") else
          ["- Synthetic phantoms only: lesion shapes are ellipsoids, anatomy is geometric; real CT has",
           "  degenerative change, fractures, implants, beam hardening and lesions that look like none of these."]),
        "- The four-class decision is per slice and per vertebra only; the two SINS components it feeds are",
        "  partial scores, never the SINS total.",
        "",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--note", default="", help="a status paragraph placed at the top (e.g. an interrupted run)")
    parser.add_argument("--note-file", help="read the status paragraph from this file")
    parser.add_argument("--real-ct-check", help="spinemet_train.real_ct_check's report, stated in the card")
    args = parser.parse_args(argv)
    _, metadata = load_exported(args.model)
    note = args.note
    if args.note_file:
        with open(args.note_file) as f:
            note = f.read().strip()
    real_ct_check = None
    if args.real_ct_check:
        with open(args.real_ct_check) as f:
            real_ct_check = json.load(f)
    with open(args.out, "w") as f:
        f.write(render(metadata, args.model, note, real_ct_check))
    return 0


if __name__ == "__main__":
    sys.exit(main())
