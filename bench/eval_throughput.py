"""Evaluation throughput: batched vs one-by-one generation, and metric time per 1,000 samples.

    python bench/eval_throughput.py [--samples 32] [--batch-size 16] [--runs 3]

Generation: the tiny random MedMO on phantom radiographs (CPU), every sample generating the same
number of tokens (`--new-tokens`, no early stop), so both modes do the same work; batched
generation left-pads, as `medmo eval` does. Target: batched >= 3x one-by-one.
Metrics: `score_records` on 1,000 synthetic records per family (answers, reports, grounding),
with and without the bootstrap intervals `medmo eval` adds by default.
Median of `--runs` timed runs after one warm-up.
"""

import argparse
import random
import shutil
import tempfile

import torch

from medmo.evaluation.metrics import meteor, score_records
from medmo.evaluation.runner import generate_batch
from medmo.evaluation.tasks import load_task
from medmo.tiny import build_processor, build_tiny
from medmo.training.data.phantom import write_phantom_dataset

from common import median_seconds


def generation_rates(samples: int, batch_size: int, new_tokens: int, runs: int) -> tuple[float, float]:
    torch.manual_seed(0)
    model, _ = build_tiny(seed=0)
    processor = build_processor(min_pixels=32 * 32, max_pixels=128 * 128)
    with tempfile.TemporaryDirectory() as folder:
        write_phantom_dataset(f"{folder}/phantom", processor, train=0, heldout=samples)
        questions = [s for s in load_task("phantom", folder) if getattr(s, "kind", None) == "closed"][:samples]

        def batched():
            for start in range(0, len(questions), batch_size):
                generate_batch(model, processor, questions[start : start + batch_size], max_new_tokens=new_tokens)

        def one_by_one():
            for sample in questions:
                generate_batch(model, processor, [sample], max_new_tokens=new_tokens)

        return len(questions) / median_seconds(one_by_one, runs), len(questions) / median_seconds(batched, runs)


def synthetic_records(count: int = 1000) -> dict[str, list[dict]]:
    rng = random.Random(0)
    findings = ["A 12 mm nodule in the right upper zone.", "Small left pleural effusion.", "No pleural effusion.",
                "Cardiomegaly.", "The lungs are clear.", "No pneumothorax.", "Mild pulmonary edema."]  # fmt: skip
    answers, reports, grounding = [], [], []
    for i in range(count):
        kind = ("closed", "multiple_choice", "open")[i % 3]
        reference = {"closed": rng.choice(["yes", "no"]), "multiple_choice": rng.choice("ABCD"), "open": "left lower lobe"}[kind]
        prediction = {"closed": rng.choice(["Yes.", "No, there is not."]), "multiple_choice": f"The answer is {rng.choice('ABCD')}.", "open": "the left lower lobe"}[kind]
        answers.append({"id": f"a{i}", "task": "t", "kind": kind, "prediction": prediction, "reference": reference, "options": ["w", "x", "y", "z"]})
        reports.append({"id": f"r{i}", "task": "t", "kind": "report", "prediction": " ".join(rng.sample(findings, 3)), "reference": " ".join(rng.sample(findings, 3))})
        truth, predicted = [], []
        for _ in range(rng.randint(1, 3)):
            x, y, w, h = rng.uniform(0, 800), rng.uniform(0, 800), rng.uniform(20, 200), rng.uniform(20, 200)
            truth.append({"label": rng.choice(["Nodule", "Mass"]), "box": [x, y, x + w, y + h]})
            dx, dy = rng.uniform(-20, 20), rng.uniform(-20, 20)
            predicted.append({"label": truth[-1]["label"], "box": [x + dx, y + dy, x + w + dx, y + h + dy]})
        grounding.append({"id": f"g{i}", "task": "t", "kind": "grounding", "prediction": "", "reference": truth, "predicted_boxes": predicted, "image_size": [1024, 1024]})
    return {"answers": answers, "reports": reports, "grounding": grounding}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--new-tokens", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(torch.get_num_threads())

    single, batched = generation_rates(args.samples, args.batch_size, args.new_tokens, args.runs)
    print(f"## Generation: tiny MedMO, {args.samples} phantom questions, {args.new_tokens} new tokens each, CPU, median of {args.runs}\n")
    print("| mode | samples / s | ratio |")
    print("|---|---:|---:|")
    print(f"| one by one | {single:.1f} | 1.00 |")
    print(f"| batched ({args.batch_size}, left-padded) | {batched:.1f} | {batched / single:.2f} |")

    print(f"\n## Metric computation: seconds per 1,000 samples, median of {args.runs}\n")
    print("| family | metrics only | with bootstrap 95% intervals |")
    print("|---|---:|---:|")
    for family, records in synthetic_records().items():
        plain = median_seconds(lambda r=records: score_records(r, resamples=0), args.runs)
        with_intervals = median_seconds(lambda r=records: score_records(r, resamples=1000), args.runs)
        print(f"| {family} | {plain:.2f} | {with_intervals:.2f} |")
    pairs = [(r["prediction"], r["reference"]) for r in synthetic_records()["reports"]]
    if shutil.which("java"):
        print(f"| (of reports: METEOR, a Java process) | {median_seconds(lambda: meteor(pairs), args.runs):.2f} | |")


if __name__ == "__main__":
    main()
