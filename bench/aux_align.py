"""Does an auxiliary encoder aligned in a short stage 1 change what a tiny MedMO sees? (phantoms, CPU)

    python bench/aux_align.py [--train 1000] [--heldout 200] [--seeds 0 1 2] [--epochs 1] [--output runs/bench-aux-align]

In the demo's world (its from-scratch MedMO with 8-px patches, phantom radiographs, the tiny
recipes at 64 px), for each seed, every training step one epoch over the training phantoms:

1. stage 1 (`training/recipes/tiny/stage1_reports.yaml`) -> S1;
2. a tiny DINOv2 (4 layers, width 64, 8-px patches) is pretrained to mark, per patch, which lesion
   kinds (nodule, mass, effusion) a box overlaps on the *training* phantoms: a stand-in for a
   radiology encoder pretrained elsewhere on labelled images (RAD-DINO's role). It never sees a
   held-out image; its held-out patch AUC and image-level accuracy are printed;
3. alignment from S1, language model frozen, same steps in both arms:
   - aux: the encoder attached with `attach_aux_encoder`; only its projector trains
     (`training/recipes/tiny/stage1_aux_align.yaml`);
   - control: no auxiliary encoder; the same recipe trains Qwen's merger instead;
4. both arms then continue stage 1 (everything trainable but the pretrained auxiliary encoder);
5. ablation: the aux arm's final model with the auxiliary contribution removed (projector output 0);
6. capacity control: an *untrained* DINOv2 of the same shape, pre-aligned Eagle-style
   (`stage1_aux_prealign.yaml`: encoder + projector train, language model frozen), then stage 1
   continued: the same pathway without pretrained knowledge.

Held-out phantoms: findings F1 of greedy reports (the evaluation harness's metric) and the mean
token loss of the reference reports (teacher-forced; lower is better). Prints a table (mean ± std
over seeds) and writes `<output>/aux_align.json`. Not part of `make demo`: 17.5 min measured on the
shared 2-core CPU machine (8.7 CPU-minutes, one torch thread). Phantoms are not patients: this shows whether the stage-1
mechanism carries what an encoder knows into what the model reads from its images, nothing clinical.
"""

import argparse
import json
import shutil
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from medmo import demo
from medmo.aux_encoder import attach_aux_encoder
from medmo.sources.phantom import make_phantom


ENCODER = {"hidden_size": 64, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 128, "patch_size": 8, "image_size": 64}
ENCODER_MEAN, ENCODER_STD = [0.5, 0.5, 0.5], [0.25, 0.25, 0.25]
KINDS = ("nodule", "mass", "effusion")
ARMS = (
    ("s1", "S1: stage 1, no auxiliary encoder"),
    ("control_align", "S1 + merger aligned (LM frozen)"),
    ("aux_align", "S1 + auxiliary DINOv2, projector aligned (LM frozen)"),
    ("control_sft", "... then stage 1 continued, no auxiliary encoder"),
    ("aux_sft", "... then stage 1 continued, with the auxiliary encoder"),
    ("aux_sft_ablated", "the row above with the auxiliary contribution removed"),
    ("random_prealign", "S1 + untrained DINOv2, encoder + projector pre-aligned (LM frozen)"),
    ("random_sft", "... then stage 1 continued, with that encoder (trainable)"),
)


# --------------------------------------------------------------------------- the auxiliary encoder


def patch_targets(phantom, size: int, grid: int) -> np.ndarray:
    """(grid, grid, kinds): 1 where a lesion box of that kind overlaps the patch."""
    targets = np.zeros((grid, grid, len(KINDS)), dtype=np.float32)
    cell = phantom.image.size[0] / grid
    for lesion in phantom.lesions:
        x1, y1, x2, y2 = lesion.box
        rows = range(int(y1 // cell), min(grid, int(np.ceil(y2 / cell))))
        columns = range(int(x1 // cell), min(grid, int(np.ceil(x2 / cell))))
        for row in rows:
            for column in columns:
                targets[row, column, KINDS.index(lesion.kind)] = 1.0
    return targets


def phantom_batch(seeds, size: int, grid: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Phantoms resized to the encoder's input and normalised as its processor says, with patch targets."""
    images, targets = [], []
    for phantom_seed in seeds:
        phantom = make_phantom(phantom_seed)
        pixels = np.asarray(phantom.image.resize((size, size), Image.BICUBIC), dtype=np.float32) / 255
        images.append((torch.from_numpy(pixels).permute(2, 0, 1) - ENCODER_MEAN[0]) / ENCODER_STD[0])
        targets.append(torch.from_numpy(patch_targets(phantom, size, grid)))
    return torch.stack(images), torch.stack(targets).flatten(1, 2)


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (the rank statistic; no ties in practice for float scores)."""
    ranks = np.empty(len(scores))
    ranks[np.argsort(scores)] = np.arange(1, len(scores) + 1)
    positives = labels.sum()
    return float((ranks[labels > 0].sum() - positives * (positives + 1) / 2) / (positives * (len(labels) - positives)))


def save_encoder(encoder, folder: Path) -> Path:
    """The encoder as a pretrained folder looks: weights, config and its processor's settings."""
    size = ENCODER["image_size"]
    encoder.save_pretrained(folder, safe_serialization=True)
    (folder / "preprocessor_config.json").write_text(json.dumps({
        "do_resize": True, "size": {"height": size, "width": size}, "do_rescale": True, "rescale_factor": 1 / 255,
        "do_normalize": True, "image_mean": ENCODER_MEAN, "image_std": ENCODER_STD}, indent=2))  # fmt: skip
    return folder


def pretrain_encoder(folder: Path, train_images: int, seed: int, heldout_seeds, epochs: int = 8) -> dict:
    """Train a tiny DINOv2 with a per-patch lesion-kind head on the training phantoms (the seeds
    `write_phantom_dataset` gives its training split); save the encoder alone as a pretrained folder."""
    from transformers import Dinov2Config, Dinov2Model

    torch.manual_seed(seed)
    size, grid = ENCODER["image_size"], ENCODER["image_size"] // ENCODER["patch_size"]
    images, targets = phantom_batch(range(train_images), size, grid)
    encoder, head = Dinov2Model(Dinov2Config(**ENCODER)), torch.nn.Linear(ENCODER["hidden_size"], len(KINDS))
    optimizer = torch.optim.AdamW([*encoder.parameters(), *head.parameters()], lr=3e-3, weight_decay=0.01)
    batches = torch.randperm(len(images)).split(32)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=epochs * len(batches), pct_start=0.1)
    start, losses = time.perf_counter(), []
    for _ in range(epochs):
        for batch in torch.randperm(len(images)).split(32):
            logits = head(encoder(pixel_values=images[batch]).last_hidden_state[:, 1:])  # patch tokens, after the class token
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
    # held-out check: per patch, how well the features rank lesion patches (AUC); per image, whether
    # any patch above 0.5 finds each lesion kind present
    images, targets = phantom_batch(heldout_seeds, size, grid)
    with torch.no_grad():
        scores = head(encoder.eval()(pixel_values=images).last_hidden_state[:, 1:]).sigmoid()
    present = (scores.amax(dim=1) > 0.5) == (targets.amax(dim=1) > 0)
    save_encoder(encoder, folder)
    return {"seconds": time.perf_counter() - start, "first_loss": statistics.fmean(losses[:10]), "last_loss": statistics.fmean(losses[-10:]),
            "heldout_patch_auc": {kind: auc(targets[..., k].flatten().numpy(), scores[..., k].flatten().numpy()) for k, kind in enumerate(KINDS)},
            "heldout_image_accuracy": dict(zip(KINDS, present.float().mean(dim=0).tolist()))}  # fmt: skip


# --------------------------------------------------------------------------- evaluation


def report_loss(model_dir: Path, samples: list) -> float:
    """Mean token loss of the reference reports given image and prompt (teacher-forced)."""
    from medmo.loading import load_model, load_processor

    model, processor = load_model(str(model_dir), device="cpu"), load_processor(str(model_dir))
    total, tokens = 0.0, 0
    for sample in samples:
        user = [{"role": "user", "content": [{"type": "image", "image": sample.images[0]}, {"type": "text", "text": sample.prompt}]}]
        answer = [{"role": "assistant", "content": [{"type": "text", "text": sample.reference}]}]
        full = processor.apply_chat_template(user + answer, tokenize=True, return_dict=True, return_tensors="pt")
        prompt_length = processor.apply_chat_template(user, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt")["input_ids"].shape[1]
        labels = full["input_ids"].clone()
        labels[:, :prompt_length] = -100
        with torch.no_grad():
            loss = model(**full, labels=labels).loss
        count = int((labels[:, 1:] != -100).sum())
        total, tokens = total + loss.item() * count, tokens + count
    return total / tokens


def findings_f1(model_dir: Path, samples: list, out_dir: Path) -> float:
    from medmo.evaluation.metrics import clinical_f1
    from medmo.evaluation.runner import TransformersBackend, prediction_record
    from medmo.loading import load_model, load_processor

    model, processor = load_model(str(model_dir), device="cpu"), load_processor(str(model_dir))
    backend, records = TransformersBackend(model, processor), []
    for start in range(0, len(samples), 50):
        batch = samples[start : start + 50]
        records += [prediction_record(s, text, processor) for s, text in zip(batch, backend(batch, 64))]
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return clinical_f1(records)["micro"]


def evaluate(model_dir: Path, samples: list, out_dir: Path) -> dict:
    start = time.perf_counter()
    metrics = {"findings_f1": findings_f1(model_dir, samples, out_dir), "report_loss": report_loss(model_dir, samples)}
    return {**metrics, "eval_seconds": time.perf_counter() - start}


# --------------------------------------------------------------------------- the experiment


def run_seed(seed: int, base: Path, phantom_dir: Path, samples: list, plan, output: Path, train_images: int, epochs: int) -> dict:
    folder = output / f"seed{seed}"
    results = {}

    def step(name: str, recipe: str, model_in: Path, *overrides: str) -> None:
        run = demo.train("sft", recipe, model_in, folder / name, phantom_dir, plan, "--num_train_epochs", str(epochs), "--seed", str(seed), *overrides)
        results[name] = {"train_seconds": run["seconds"], "steps": run["steps"], **evaluate(folder / name, samples, folder / "eval" / name)}
        demo.log(f"seed {seed}: {name}: findings F1 {results[name]['findings_f1']:.3f}, report loss {results[name]['report_loss']:.4f} "
                 f"({run['seconds']:.0f} s training)")  # fmt: skip

    demo.log(f"seed {seed}: stage 1 (reports)")
    step("s1", "stage1_reports.yaml", base)
    demo.log(f"seed {seed}: pretraining the tiny auxiliary encoder on the training phantoms")
    heldout_seeds = [500_000 + index for index in range(len(samples))]  # `write_phantom_dataset`'s held-out seeds
    results["encoder_pretraining"] = pretrain_encoder(folder / "encoder", train_images, seed, heldout_seeds)
    attach_aux_encoder(folder / "s1", folder / "encoder", folder / "s1-aux", seed=seed)
    # alignment: only a projector trains, the language model is frozen
    step("aux_align", "stage1_aux_align.yaml", folder / "s1-aux")
    step("control_align", "stage1_aux_align.yaml", folder / "s1", "--freeze_merger", "false", "--freeze_aux_encoder", "false")
    # then stage 1 goes on with everything but the auxiliary encoder trainable, in both arms
    step("aux_sft", "stage1_reports.yaml", folder / "aux_align", "--freeze_aux_encoder", "true")
    step("control_sft", "stage1_reports.yaml", folder / "control_align")
    # the same pathway without pretrained knowledge: an untrained DINOv2 of the same shape, pre-aligned
    # Eagle-style (encoder and projector train, language model frozen), then trained on in stage 1
    from transformers import Dinov2Config, Dinov2Model

    torch.manual_seed(seed)
    save_encoder(Dinov2Model(Dinov2Config(**ENCODER)), folder / "random-encoder")
    attach_aux_encoder(folder / "s1", folder / "random-encoder", folder / "s1-random-aux", seed=seed)
    step("random_prealign", "stage1_aux_prealign.yaml", folder / "s1-random-aux")
    step("random_sft", "stage1_reports.yaml", folder / "random_prealign")
    # ablation: the same trained model with the auxiliary contribution removed (projector output zero)
    ablated = ablate(folder / "aux_sft", folder / "aux_sft_ablated")
    results["aux_sft_ablated"] = {"train_seconds": 0.0, **evaluate(ablated, samples, folder / "eval" / "aux_sft_ablated")}
    for name in ("aux_align", "aux_sft"):
        results[name]["aux_share"] = aux_share(folder / name, samples)
    demo.log(f"seed {seed}: with the auxiliary contribution removed: findings F1 {results['aux_sft_ablated']['findings_f1']:.3f}, "
             f"report loss {results['aux_sft_ablated']['report_loss']:.4f}; aux share {results['aux_sft']['aux_share']:.3f}")  # fmt: skip
    return results


def ablate(model_dir: Path, out_dir: Path) -> Path:
    """A copy of `model_dir` whose auxiliary projectors output zero (the model without what it adds)."""
    from medmo import MedMOForConditionalGeneration, MedMOProcessor

    model = MedMOForConditionalGeneration.from_pretrained(model_dir)
    with torch.no_grad():
        for projector in model.model.aux_vision.projectors:
            projector.linear_fc2.weight.zero_()
            projector.linear_fc2.bias.zero_()
    model.save_pretrained(out_dir)
    MedMOProcessor.from_pretrained(model_dir).save_pretrained(out_dir)
    return out_dir


def aux_share(model_dir: Path, samples: list) -> float:
    """Mean norm of the auxiliary contribution over the mean norm of Qwen's image tokens, held-out images."""
    from medmo.loading import load_model, load_processor

    model, processor = load_model(str(model_dir), device="cpu"), load_processor(str(model_dir))
    images = [Image.open(sample.images[0]).convert("RGB") for sample in samples]
    batch = processor.image_processor(images=images, return_tensors="pt")
    with torch.no_grad():
        added = torch.cat(model.model.aux_vision(batch["pixel_values"], batch["image_grid_thw"]))
        tokens = model.model.visual(batch["pixel_values"].to(model.dtype), grid_thw=batch["image_grid_thw"])
    tokens = tokens.pooler_output if hasattr(tokens, "pooler_output") else tokens[0]
    return float(added.norm(dim=-1).mean() / tokens.norm(dim=-1).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=Path("runs/bench-aux-align"))
    parser.add_argument("--train", type=int, default=1000, help="training phantoms")
    parser.add_argument("--heldout", type=int, default=200, help="held-out phantoms")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=1, help="epochs of each training step (stage 1, alignment, continuation)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (on a shared 2-core machine, 2 thrash when others run)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    if args.output.exists():
        shutil.rmtree(args.output)
    plan = demo.Plan(train_images=args.train, heldout_images=args.heldout, epochs={"stage1": 1}, grpo_steps=0, seeds=tuple(args.seeds))
    data = demo.write_data(demo.build_model(args.output / "base-for-data"), args.output / "data", plan)
    phantom_dir = data["heldout"].parent
    samples = [s for s in demo.heldout_samples(args.output / "data") if s.kind == "report"]
    runs = {}
    for seed in args.seeds:
        base = demo.build_model(args.output / f"seed{seed}" / "base", seed=seed)
        runs[seed] = run_seed(seed, base, phantom_dir, samples, plan, args.output, args.train, args.epochs)
    summary = {arm: {key: {"mean": statistics.fmean(runs[s][arm][key] for s in runs), "std": statistics.pstdev(runs[s][arm][key] for s in runs)}
                     for key in ("findings_f1", "report_loss", "train_seconds")} for arm, _ in ARMS}  # fmt: skip
    report = {"train_images": args.train, "heldout_images": args.heldout, "epochs": args.epochs, "seeds": args.seeds,
              "runs": runs, "summary": summary, "total_seconds": time.perf_counter() - start}  # fmt: skip
    (args.output / "aux_align.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")

    steps = runs[args.seeds[0]]["s1"]["steps"]
    print(f"\n{args.train} training / {args.heldout} held-out phantoms, seeds {args.seeds}; each step {args.epochs} epoch(s) "
          f"({steps} optimizer steps) of the tiny recipes at 64 px (mean ± std over seeds)\n")  # fmt: skip
    print("| model | findings F1 | report loss | training s |\n|---|---|---|---|")
    for arm, title in ARMS:
        values = summary[arm]
        print(f"| {title} | {values['findings_f1']['mean']:.3f} ± {values['findings_f1']['std']:.3f} | "
              f"{values['report_loss']['mean']:.3f} ± {values['report_loss']['std']:.3f} | {values['train_seconds']['mean']:.0f} |")  # fmt: skip
    share = {name: statistics.fmean(runs[s][name]["aux_share"] for s in runs) for name in ("aux_align", "aux_sft")}
    quality = {measure: {kind: statistics.fmean(runs[s]["encoder_pretraining"][measure][kind] for s in runs) for kind in KINDS}
               for measure in ("heldout_patch_auc", "heldout_image_accuracy")}  # fmt: skip
    print(f"\nAuxiliary contribution / Qwen image tokens (mean norms, held-out): {share['aux_align']:.3f} after alignment, "
          f"{share['aux_sft']:.3f} after the continued stage 1.")  # fmt: skip
    print("The pretrained encoder on held-out phantoms: patch AUC " + ", ".join(f"{k} {v:.3f}" for k, v in quality["heldout_patch_auc"].items())
          + "; image-level accuracy " + ", ".join(f"{k} {v:.2f}" for k, v in quality["heldout_image_accuracy"].items()) + ".")  # fmt: skip
    print(f"Total {report['total_seconds'] / 60:.1f} min.")


if __name__ == "__main__":
    main()
