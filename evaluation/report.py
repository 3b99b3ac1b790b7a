# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Evaluation outputs: `results.json` (machine-readable), `results.md` (the paper's table layout)
and plots (IoU histogram, grounding overlays, per-finding F1 bars)."""

import json
from pathlib import Path

from medmo.boxes import draw_boxes
from medmo.files import write_text_atomic
from medmo.medical_images import load_image

from .tasks import TASKS


# The MedMO paper's headline numbers for each table (MEDMO.md), printed under ours for comparison.
PAPER = {
    "vqa": "Paper: MedMO-8B-Next averages 72.7 over MMMU-Med, VQA-RAD, SLAKE, PathVQA, PMC-VQA, OmniMedVQA, MedXpertQA-MM.",
    "text_qa": "Paper: MedMO-8B-Next averages 60.1 over MMLU-Med, PubMedQA, MedMCQA, MedQA, Medbullets, MedXpertQA-T, SGPQA.",
    "report": "Paper: MedMO-8B-Next reaches ROUGE-L 32.6 / CIDEr 143.4 on MIMIC-CXR.",
    "grounding": "Paper: MedMO-8B-Next averages 56.8 IoU over NIH, DeepLesion, Bacteria and MedSG.",
}


def _percent(metric: dict | None) -> str:
    if not metric or metric.get("value") is None:
        return "-"
    text = f"{100 * metric['value']:.1f}"
    if metric.get("ci95"):
        low, high = metric["ci95"]
        text += f" [{100 * low:.1f}, {100 * high:.1f}]"
    return text


def _plain(metric: dict | None, scale: float = 1.0) -> str:
    return "-" if not metric or metric.get("value") is None else f"{scale * metric['value']:.1f}"


def markdown(results: dict) -> str:
    """Tables by family: VQA and text QA accuracy, report generation, grounding (values in %)."""
    tasks = results["tasks"]
    lines = [f"# Evaluation of `{results['model']}`", "", "Samples read, scored and skipped per task are in `results.json`; values are % with 95% bootstrap intervals.", ""]  # fmt: skip
    for family, title in (("vqa", "Medical VQA (accuracy)"), ("text_qa", "Medical text QA (accuracy)")):
        names = [n for n in TASKS if n in tasks and TASKS[n].family == family and "answers" in tasks[n]["metrics"]]
        if names:
            values = [tasks[n]["metrics"]["answers"]["accuracy"]["value"] for n in names]
            lines += [f"## {title}", "", "| " + " | ".join(["task", *names, "Avg."]) + " |", "|" + "---|" * (len(names) + 2),
                      "| accuracy | " + " | ".join(_percent(tasks[n]["metrics"]["answers"]["accuracy"]) for n in names) + f" | {100 * sum(values) / len(values):.1f} |",
                      "", PAPER[family], ""]  # fmt: skip
    reports = [n for n in TASKS if n in tasks and "report" in tasks[n]["metrics"]]
    if reports:
        lines += ["## Report generation", "", "| task | ROUGE-L | CIDEr-D | BLEU-1 | BLEU-4 | METEOR | clinical F1 micro / macro |", "|---|---|---|---|---|---|---|"]
        for name in reports:
            m = tasks[name]["metrics"]["report"]
            meteor = f"{100 * m['meteor']['value']:.1f}" if m["meteor"]["value"] is not None else "- (no Java)"
            lines.append(f"| {name} | {_percent(m['rouge_l'])} | {_plain(m['cider_d'], 100)} | {_plain(m['bleu_1'])} | {_plain(m['bleu_4'])} | {meteor} "
                         f"| {_percent(m['clinical_f1_micro'])} / {_percent(m['clinical_f1_macro'])} |")  # fmt: skip
        extras = {(n, e) for n in reports for e in tasks[n]["metrics"]["report"].get("extras", {})}
        if extras:
            lines += ["", "| task | extra | value |", "|---|---|---|"]
            lines += [f"| {n} | {e} | {_percent(tasks[n]['metrics']['report']['extras'][e])} |" for n, e in sorted(extras)]
        lines += ["", PAPER["report"], ""]
    grounding = [n for n in TASKS if n in tasks and "grounding" in tasks[n]["metrics"]]
    if grounding:
        lines += ["## Grounding (boxes in original-image pixels)", "", "| task | mean IoU | Acc@0.5 | mAP@[.5:.95] | boxes |", "|---|---|---|---|---|"]
        for name in grounding:
            m = tasks[name]["metrics"]["grounding"]
            lines.append(f"| {name} | {_percent(m['mean_iou'])} | {_percent(m['acc_at_50'])} | {_percent(m['map_50_95'])} | {m['mean_iou']['n']} |")
        values = [tasks[n]["metrics"]["grounding"]["mean_iou"]["value"] or 0.0 for n in grounding]
        lines += [f"| **average** | {100 * sum(values) / len(values):.1f} | | | |", "", PAPER["grounding"], ""]
    mixed = [n for n in TASKS if n in tasks and TASKS[n].family == "mixed" and "answers" in tasks[n]["metrics"]]
    if mixed:
        lines += ["## Questions of mixed sets", "", "| task | accuracy |", "|---|---|"]
        lines += [f"| {n} | {_percent(tasks[n]['metrics']['answers']['accuracy'])} |" for n in mixed] + [""]
    if results.get("leakage"):
        lines += ["## Train/test overlap", "", "| task | evaluation images | also in the training data |", "|---|---|---|"]
        lines += [f"| {n} | {v['images']} | {v['shared']} |" for n, v in results["leakage"].items()] + [""]
    if results.get("judge"):
        judge = results["judge"]
        lines += ["## LLM judge", "", f"Judge `{judge['judge_model']}`, prompt sha256 `{judge['prompt_sha256'][:12]}`.", ""]
        lines += [f"- {kind}: {100 * v['value']:.1f}% correct ({v['graded']} of {v['n']} graded)" for kind, v in judge.items() if isinstance(v, dict) and v.get("value") is not None] + [""]
    return "\n".join(lines)


def plots(results: dict, records: list[dict], out_dir: Path, overlays: int = 6) -> list[Path]:
    """IoU histogram, per-finding F1 bars and overlays of predicted (and true) boxes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    ious = [v for t in results["tasks"].values() for v in t["metrics"].get("grounding", {}).get("iou_values", [])]
    if ious:
        figure, axis = plt.subplots(figsize=(5, 3.2))
        axis.hist(ious, bins=20, range=(0, 1), color="#3b7dd8")
        axis.set(xlabel="IoU of each ground-truth box with its matched prediction", ylabel="boxes", title="Grounding IoU")
        figure.tight_layout()
        figure.savefig(out_dir / "iou_histogram.png", dpi=120)
        plt.close(figure)
        written.append(out_dir / "iou_histogram.png")
    f1 = {}
    for task in results["tasks"].values():
        f1.update(task["metrics"].get("report", {}).get("clinical_f1_per_finding", {}))
    if f1:
        figure, axis = plt.subplots(figsize=(6, 0.3 * len(f1) + 1.2))
        axis.barh(list(f1), list(f1.values()), color="#d86b3b")
        axis.set(xlim=(0, 1), xlabel="F1 (positive findings)", title="Report findings F1 per finding")
        figure.tight_layout()
        figure.savefig(out_dir / "finding_f1.png", dpi=120)
        plt.close(figure)
        written.append(out_dir / "finding_f1.png")
    # Re-scored predictions of another model may name images this machine does not have.
    grounding = [r for r in records if r["kind"] == "grounding" and r.get("images") and Path(r["images"][0]).is_file()][:overlays]
    if grounding:
        (out_dir / "overlays").mkdir(exist_ok=True)
    for record in grounding:
        truth = [{"label": f"true: {b.get('label')}", "box": b["box"]} for b in record["reference"]]
        predicted = [{"label": f"pred: {b.get('label')}", "box": b["box"]} for b in record.get("predicted_boxes") or []]
        path = out_dir / "overlays" / f"{record['id']}.png"
        draw_boxes(load_image(record["images"][0]), truth + predicted).save(path)
        written.append(path)
    return written


def write(results: dict, records: list[dict], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out_dir / "results.json", json.dumps(results, indent=2, default=float) + "\n")
    write_text_atomic(out_dir / "results.md", markdown(results))
    plots(results, records, out_dir)


__all__ = ["markdown", "plots", "write"]
