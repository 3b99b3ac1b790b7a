# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""`medmo demo`: MedMO's four-stage recipe in miniature, from scratch, on a CPU.

    medmo demo [--output runs/demo] [--fast] [--device cpu|cuda]

1. Builds a small MedMO (about 1M parameters) and writes synthetic phantom radiographs with
   lesions, boxes, reports and questions (`medmo.sources.phantom`; no patient data, no
   downloads), with a held-out split no training phantom shares.
2. Trains it with the same scripts and recipe files as MedMO-8B (`training/sft.py` and
   `training/grpo.py` with `training/recipes/tiny/`): stage 1 reports at low resolution, stage 2
   grounding at full resolution, stage 3 mixed instructions, stage 4 GRPO with the registry rewards.
3. After every stage evaluates on the held-out phantoms with the evaluation harness's metrics
   (mean IoU, Acc@0.5, report findings F1, VQA accuracy) beside a constant-box baseline.
4. Runs stage 4 for three seeds next to "SFT continued for the same time" controls.
5. Loads the final folder through `AutoModelForImageTextToText` / `AutoProcessor` in a fresh
   process and grounds a held-out phantom and pydicom's CT_small.dcm.

Writes `report.md`, `report.json`, `curves.png` and overlay PNGs to the output folder and prints
the table. `--fast` runs the same code with a handful of images and steps (for the test suite).
The numbers are about phantoms: they show that the recipe learns, not that a model is fit for
patients.
"""

import json
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import yaml


DEFAULT_OUTPUT = Path("runs/demo")
RECIPES = Path(__file__).resolve().parent / "training" / "recipes" / "tiny"
# A from-scratch vision tower's position embeddings at the default init (std 0.02) are drowned by
# patch content and boxes come late; drawn larger they make a small model localise much sooner.
POSITION_EMBEDDING_STD = 0.3
DEMO_MODEL = {
    "text_config": {"hidden_size": 128, "intermediate_size": 256, "num_hidden_layers": 2, "num_attention_heads": 4,
                    "num_key_value_heads": 2, "head_dim": 32,
                    "rope_scaling": {"rope_type": "default", "mrope_section": [8, 4, 4], "mrope_interleaved": True}},
    # 8-px patches: a 128-px phantom becomes 8 x 8 merged tokens of 16 px
    "vision_config": {"hidden_size": 64, "intermediate_size": 128, "depth": 2, "num_heads": 2, "out_hidden_size": 128,
                      "patch_size": 8, "num_position_embeddings": 256, "deepstack_visual_indexes": [0, 1]},
}  # fmt: skip


@dataclass(frozen=True)
class Plan:
    """How much the demo trains; `FULL` is `medmo demo`, `FAST` the suite's smoke run."""

    train_images: int
    heldout_images: int
    epochs: dict  # stage -> epochs
    grpo_steps: int
    seeds: tuple = (0, 1, 2)
    eval_batch_size: int = 50
    logging_steps: int = 5
    device: str = "cpu"  # where the held-out evaluation runs ("cuda": bf16 on a GPU); training goes where the Trainer puts it


FULL = Plan(train_images=2000, heldout_images=200, epochs={"stage1": 1, "stage2": 14, "stage3": 1}, grpo_steps=40)
FAST = Plan(train_images=32, heldout_images=8, epochs={"stage1": 1, "stage2": 1, "stage3": 1}, grpo_steps=1, logging_steps=1)
STAGES = (("stage1", "sft", "stage1_reports.yaml"), ("stage2", "sft", "stage2_grounding.yaml"), ("stage3", "sft", "stage3_instruct.yaml"))


def log(message: str) -> None:
    print(f"[demo] {message}", flush=True)


# --------------------------------------------------------------------------- model and data


def build_model(output_dir: Path, seed: int = 0) -> Path:
    """The demo's from-scratch MedMO (random weights, 8-px patches) saved as a repository folder."""
    import torch

    from .checkpoint import save_medmo_folder
    from .tiny import build_tiny

    model, processor = build_tiny(seed=seed, **DEMO_MODEL)
    with torch.no_grad():
        model.model.visual.pos_embed.weight.normal_(0.0, POSITION_EMBEDDING_STD, generator=torch.Generator().manual_seed(seed))
    return save_medmo_folder(model, processor, output_dir)


def write_data(model_dir: Path, data_dir: Path, plan: Plan) -> dict[str, Path]:
    """Phantom JSONL files of every stage plus the held-out split, boxes in the model's frame."""
    from .loading import load_processor
    from .training.data.phantom import write_phantom_dataset

    processor = load_processor(str(model_dir), max_pixels=128 * 128)
    return write_phantom_dataset(data_dir / "phantom", processor, train=plan.train_images, heldout=plan.heldout_images)


# --------------------------------------------------------------------------- training through the recipe scripts


def recipe_datasets(recipe: str, phantom_dir: Path) -> list[dict]:
    """The recipe's data sets, with its `data/phantom/` paths pointed at the demo's phantom folder."""
    datasets = yaml.safe_load((RECIPES / recipe).read_text())["datasets"]
    return [{**spec, "path": str(phantom_dir / Path(spec["path"]).name)} for spec in datasets]


def train(kind: str, recipe: str, model_in: Path, output: Path, phantom_dir: Path, plan: Plan, *overrides: str) -> dict:
    """One run of `training/sft.py` or `training/grpo.py` on a tiny recipe; its log and wall time."""
    from .training import grpo, sft

    argv = ["--config", str(RECIPES / recipe), "--model_name_or_path", str(model_in), "--output_dir", str(output),
            "--datasets", json.dumps(recipe_datasets(recipe, phantom_dir)), "--logging_steps", str(plan.logging_steps), *overrides]  # fmt: skip
    start = time.perf_counter()
    trainer = (sft if kind == "sft" else grpo).main(argv)
    return {"seconds": time.perf_counter() - start, "steps": trainer.state.global_step, "log": trainer.state.log_history}


# --------------------------------------------------------------------------- evaluation


def heldout_samples(data_dir: Path) -> list:
    """Held-out phantoms as evaluation samples: each image's boxes and report, and one of its
    four questions (rotating), so every question type is asked about a quarter of the images."""
    from .evaluation.tasks import Sample, load_task

    samples = [s for s in load_task("phantom", data_dir) if isinstance(s, Sample)]
    images = sorted({s.images[0] for s in samples})
    keep = {f"{Path(image).stem}-q{index % 4}" for index, image in enumerate(images)}
    return [s for s in samples if s.kind in ("grounding", "report") or s.id in keep]


def score(records: list[dict]) -> dict:
    """The demo's four numbers, from the evaluation harness's metric functions."""
    from .clinical.tasks import ANSWER_KINDS
    from .evaluation.metrics import clinical_f1, grounding_metrics, is_correct

    grounding = grounding_metrics([r for r in records if r["kind"] == "grounding"], resamples=0)
    questions = [is_correct(r) for r in records if r["kind"] in ANSWER_KINDS]
    return {
        "mean_iou": grounding["mean_iou"]["value"] or 0.0,
        "acc_at_50": grounding["acc_at_50"]["value"] or 0.0,
        "findings_f1": clinical_f1([r for r in records if r["kind"] == "report"])["micro"],
        "vqa_acc": float(np.mean(questions)) if questions else 0.0,
    }


def evaluate(model_dir: Path, samples: list, out_dir: Path, plan: Plan) -> tuple[dict, list[dict]]:
    """Greedy, batched generation on the held-out samples (predictions streamed to `out_dir`)."""
    from .evaluation.runner import MAX_NEW_TOKENS, TransformersBackend, prediction_record
    from .loading import load_model, load_processor

    model, processor = load_model(str(model_dir), device=plan.device), load_processor(str(model_dir))
    backend = TransformersBackend(model, processor)
    records = []
    for kind in ("grounding", "report", "closed", "open"):
        group = [s for s in samples if s.kind == kind]
        for start in range(0, len(group), plan.eval_batch_size):
            batch = group[start : start + plan.eval_batch_size]
            # a phantom holds at most two lesions and a four-sentence report: 64 tokens suffice
            texts = backend(batch, min(64, MAX_NEW_TOKENS[kind]))
            records += [prediction_record(sample, text, processor) for sample, text in zip(batch, texts)]
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return score(records), records


def constant_box_baseline(model_dir: Path, phantom_dir: Path, samples: list) -> dict:
    """The score of answering every held-out image with one box: the mean of the training targets'
    boxes (read back to pixels by the processor), labelled with the commonest label."""
    from PIL import Image

    from .evaluation.metrics import grounding_metrics
    from .loading import load_processor

    processor = load_processor(str(model_dir), max_pixels=128 * 128)
    boxes, labels = [], []
    for line in (phantom_dir / "stage2_grounding.jsonl").read_text().splitlines():
        row = json.loads(line)
        with Image.open(phantom_dir / row["images"][0]) as image:
            size = image.size
        for box in processor.post_process_grounding([row["messages"][-1]["content"][0]["text"]], [size])[0]:
            boxes.append(box["box"])
            labels.append(box["label"])
    mean_box = np.mean(boxes, axis=0).tolist()
    label = max(set(labels), key=labels.count)
    records = [{"kind": "grounding", "reference": s.reference, "predicted_boxes": [{"label": label, "box": mean_box}], "image_size": s.image_size}
               for s in samples if s.kind == "grounding"]  # fmt: skip
    metrics = grounding_metrics(records, resamples=0)
    return {"mean_iou": metrics["mean_iou"]["value"], "acc_at_50": metrics["acc_at_50"]["value"], "box": [round(v, 1) for v in mean_box], "label": label}


# --------------------------------------------------------------------------- stage 4: GRPO and its control


def grpo_vs_control(stage3: Path, output_dir: Path, phantom_dir: Path, samples: list, plan: Plan, sft_seconds_per_step: float,
                    grpo_args: tuple[str, ...] = ()) -> dict:
    """Stage 4 (GRPO) for each seed, and for each a control that continues stage 3's SFT for the
    same wall time (steps = GRPO seconds / stage 3's seconds per step). Both start from stage 3.
    The first seed's GRPO model is the demo's final model (`stage4/`). `grpo_args` override the
    stage-4 recipe (`bench/demo_grpo.py` tries variants with them)."""
    runs, first_records = {"grpo": [], "sft_control": []}, None
    for seed in plan.seeds:
        log(f"stage 4, seed {seed}: GRPO ({plan.grpo_steps} steps)")
        folder = output_dir / ("stage4" if seed == plan.seeds[0] else f"stage4-seed{seed}")
        grpo_run = train("grpo", "stage4_grpo.yaml", stage3, folder, phantom_dir, plan, "--max_steps", str(plan.grpo_steps), "--seed", str(seed), *grpo_args)
        metrics, records = evaluate(folder, samples, output_dir / "eval" / folder.name, plan)
        first_records = first_records or records
        runs["grpo"].append({"seed": seed, "seconds": grpo_run["seconds"], "steps": grpo_run["steps"], **metrics, "log": grpo_run["log"]})
        steps = max(1, round(grpo_run["seconds"] / sft_seconds_per_step))
        log(f"stage 4, seed {seed}: SFT control ({steps} steps, the same {grpo_run['seconds']:.0f} s)")
        control_dir = output_dir / f"sft-control-seed{seed}"
        control = train("sft", "stage3_instruct.yaml", stage3, control_dir, phantom_dir, plan, "--max_steps", str(steps), "--seed", str(seed))
        metrics, _ = evaluate(control_dir, samples, output_dir / "eval" / control_dir.name, plan)
        runs["sft_control"].append({"seed": seed, "seconds": control["seconds"], "steps": control["steps"], **metrics})
    summary = {}
    for arm, results in runs.items():
        summary[arm] = {key: {"mean": statistics.fmean(r[key] for r in results), "std": statistics.pstdev(r[key] for r in results)}
                        for key in ("mean_iou", "acc_at_50", "findings_f1", "vqa_acc", "seconds")}  # fmt: skip
    return {"seeds": list(plan.seeds), "grpo_steps": plan.grpo_steps, "sft_seconds_per_step": sft_seconds_per_step, "summary": summary,
            "runs": {arm: [{k: v for k, v in r.items() if k != "log"} for r in results] for arm, results in runs.items()},
            "logs": [r["log"] for r in runs["grpo"]], "records": first_records}  # fmt: skip


# --------------------------------------------------------------------------- outputs


def curves(stage_logs: dict, grpo_logs: list, seeds, path: Path) -> None:
    """Training loss of stages 1-3 (one x-axis, stage by stage) and stage 4's mean reward per seed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (losses, rewards) = plt.subplots(1, 2, figsize=(10, 3.6))
    offset = 0
    for stage, history in stage_logs.items():
        points = [(offset + e["step"], e["loss"]) for e in history if "loss" in e and "step" in e]
        if points:
            losses.plot(*zip(*points), label=stage)
        offset += max((e.get("step", 0) for e in history), default=0)
    losses.set(xlabel="optimizer step", ylabel="training loss", title="SFT stages 1-3", yscale="log")
    losses.legend()
    for seed, history in zip(seeds, grpo_logs):
        points = [(e["step"], e["reward"]) for e in history if "reward" in e and "step" in e]
        if points:
            rewards.plot(*zip(*points), marker="o", label=f"seed {seed}")
    rewards.set(xlabel="GRPO step", ylabel="mean reward (weighted sum)", title="Stage 4 GRPO")
    rewards.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


OVERLAY_SIZE = (384, 384)


def overlays(records: list[dict], folder: Path, count: int = 4) -> list[Path]:
    """Held-out phantoms with true (label "true: ...") and predicted boxes, for people to look at."""
    from .boxes import draw_boxes, resize_boxes
    from .medical_images import load_image

    folder.mkdir(parents=True, exist_ok=True)
    chosen = [r for r in records if r["kind"] == "grounding" and r["reference"]][:count]
    paths = []
    for record in chosen:
        truth = [{"label": f"true: {b['label']}", "box": b["box"]} for b in record["reference"]]
        predicted = [{"label": f"pred: {b.get('label')}", "box": b["box"]} for b in record.get("predicted_boxes") or []]
        image = load_image(record["images"][0]).resize(OVERLAY_SIZE)
        items = truth + predicted
        boxes = resize_boxes([b["box"] for b in items], record["image_size"], OVERLAY_SIZE) if items else []
        scaled = [{"label": b["label"], "box": box.tolist()} for b, box in zip(items, boxes)]
        paths.append(folder / f"{Path(record['images'][0]).stem}.png")
        draw_boxes(image, scaled).save(paths[-1])
    return paths


METRICS = (("mean_iou", "mean IoU"), ("acc_at_50", "Acc@0.5"), ("findings_f1", "findings F1"), ("vqa_acc", "VQA acc."), ("seconds", "seconds"))


def markdown(report: dict) -> str:
    lines = ["# MedMO demo: the four-stage recipe on phantoms", "",
             f"{report['plan']['train_images']} training and {report['plan']['heldout_images']} held-out phantoms; "
             f"a {report['parameters'] / 1e6:.2f}M-parameter MedMO trained from scratch on a CPU. Held-out metrics after each stage:", "",
             "| stage | " + " | ".join(title for _, title in METRICS) + " |", "|---" * (len(METRICS) + 1) + "|"]  # fmt: skip
    baseline = report["constant_box_baseline"]
    lines.append(f"| constant box {baseline['box']} | {baseline['mean_iou']:.3f} | {baseline['acc_at_50']:.3f} | - | - | - |")
    for row in report["stages"]:
        lines.append(f"| {row['stage']} | " + " | ".join(f"{row[key]:.3f}" if key != "seconds" else f"{row[key]:.0f}" for key, _ in METRICS) + " |")
    control = report["grpo_vs_sft_control"]
    lines += ["", f"Stage 4 against SFT continued for the same wall time, from the same stage-3 model, seeds {control['seeds']} "
              f"(mean ± std over seeds; GRPO {control['grpo_steps']} steps):", "",
              "| arm | " + " | ".join(title for _, title in METRICS) + " |", "|---" * (len(METRICS) + 1) + "|"]  # fmt: skip
    for arm, title in (("grpo", "GRPO (stage 4)"), ("sft_control", "SFT continued")):
        values = control["summary"][arm]
        lines.append(f"| {title} | " + " | ".join(f"{values[key]['mean']:.3f} ± {values[key]['std']:.3f}" if key != "seconds"
                                                  else f"{values[key]['mean']:.0f}" for key, _ in METRICS) + " |")  # fmt: skip
    lines += ["", f"Total {report['total_seconds'] / 60:.1f} min. Phantoms are not patients: these numbers show that the recipe "
              "learns, not that a model is fit for clinical use.", ""]  # fmt: skip
    return "\n".join(lines)


# --------------------------------------------------------------------------- finale


FINALE = """
import sys, transformers
from PIL import Image
folder, phantom, dicom, out = sys.argv[1:5]
model = transformers.AutoModelForImageTextToText.from_pretrained(folder, trust_remote_code=True).eval()
processor = transformers.AutoProcessor.from_pretrained(folder, trust_remote_code=True)
print(f"loaded {type(model).__name__} and {type(processor).__name__} from {folder} (the folder's own code)")
for name, path in (("phantom", phantom), ("CT_small.dcm", dicom)):
    image = processor.load_image(path)
    messages = [{"role": "user", "content": [{"type": "image", "image": image}, {"type": "text", "text": sys.argv[5]}]}]
    inputs = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt")
    output = model.generate(**inputs, max_new_tokens=64, do_sample=False)
    text = processor.batch_decode(output[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)[0]
    boxes = processor.post_process_grounding([text], inputs["image_sizes"])[0]
    processor.draw_boxes(image, boxes).save(f"{out}/finale-{name.split('.')[0]}.png")
    print(f"{name} ({image.size[0]}x{image.size[1]}): {text!r} -> boxes in original pixels: {boxes}")
"""


def finale(model_dir: Path, phantom_image: str, output_dir: Path) -> str:
    """Load the final folder through the Auto classes in a fresh process and ground two images."""
    from pydicom.data import get_testdata_file

    from .clinical.prompts import evaluation_prompt

    command = [sys.executable, "-c", FINALE, str(model_dir), phantom_image, get_testdata_file("CT_small.dcm"), str(output_dir), evaluation_prompt("grounding")]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"The finale failed to load {model_dir} through the Auto classes:\n{result.stderr[-3000:]}")
    return result.stdout


# --------------------------------------------------------------------------- the demo


def run(output_dir: Path = DEFAULT_OUTPUT, fast: bool = False, device: str = "cpu") -> dict:
    """The whole demo; returns the report it writes to `output_dir`. `device` is where the held-out
    evaluation runs (training uses a GPU whenever the Trainer sees one)."""
    import shutil

    plan = replace(FAST if fast else FULL, device=device)
    start = time.perf_counter()
    if output_dir.exists():
        shutil.rmtree(output_dir)
    output_dir.mkdir(parents=True)
    base = build_model(output_dir / "base")
    paths = write_data(base, output_dir / "data", plan)
    phantom_dir = paths["heldout"].parent
    samples = heldout_samples(output_dir / "data")
    log(f"{plan.train_images} training / {plan.heldout_images} held-out phantoms in {phantom_dir} ({time.perf_counter() - start:.0f}s)")
    baseline = constant_box_baseline(base, phantom_dir, samples)

    stages, logs, model = [], {}, base
    for name, kind, recipe in STAGES:
        log(f"{name}: training/{kind}.py --config training/recipes/tiny/{recipe}")
        result = train(kind, recipe, model, output_dir / name, phantom_dir, plan, "--num_train_epochs", str(plan.epochs[name]))
        model, logs[name] = output_dir / name, result["log"]
        evaluated = time.perf_counter()
        metrics, records = evaluate(model, samples, output_dir / "eval" / name, plan)
        stages.append({"stage": name, **metrics, "seconds": result["seconds"]})
        log(f"{name}: " + ", ".join(f"{key} {value:.3f}" for key, value in metrics.items())
            + f" (training {result['seconds']:.0f} s, evaluation {time.perf_counter() - evaluated:.0f} s, {time.perf_counter() - start:.0f} s so far)")
    sft_seconds_per_step = result["seconds"] / max(1, result["steps"])

    control = grpo_vs_control(model, output_dir, phantom_dir, samples, plan, sft_seconds_per_step)
    first = control["runs"]["grpo"][0]
    stages.append({"stage": "stage4", **{key: first[key] for key in ("mean_iou", "acc_at_50", "findings_f1", "vqa_acc", "seconds")}})
    curves(logs, control.pop("logs"), plan.seeds, output_dir / "curves.png")
    final_records = control.pop("records")
    drawn = overlays(final_records, output_dir / "overlays")

    report = {"plan": asdict(plan), "parameters": _parameters(base), "constant_box_baseline": baseline, "stages": stages,
              "grpo_vs_sft_control": control, "overlays": [str(p) for p in drawn]}  # fmt: skip
    log("finale: a fresh process loads the final folder through AutoModelForImageTextToText / AutoProcessor")
    with_lesion = next((r for r in final_records if r["kind"] == "grounding" and r["reference"]), final_records[0])
    print(finale(output_dir / "stage4", with_lesion["images"][0], output_dir), end="")
    report["total_seconds"] = time.perf_counter() - start
    (output_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (output_dir / "report.md").write_text(markdown(report), encoding="utf-8")
    print(markdown(report))
    log(f"report: {output_dir / 'report.md'}, {output_dir / 'report.json'}, {output_dir / 'curves.png'}, overlays in {output_dir / 'overlays'}")
    return report


def _parameters(model_dir: Path) -> int:
    from safetensors import safe_open

    with safe_open(str(model_dir / "model.safetensors"), "np") as weights:
        return sum(int(np.prod(weights.get_slice(name).get_shape())) for name in weights.keys())
