# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""MedMO's evaluation harness: benchmarks in their published layouts, the field's metrics,
batched resumable generation, and results a person can read and a machine can diff.

    medmo eval --model runs/medmo-8b --tasks vqa_rad,slake,nih_chestxray14 --data-dir benchmarks --out eval/medmo-8b
    medmo eval score --predictions eval/medmo-8b/predictions.jsonl

>>> from medmo.evaluation import evaluate
>>> results = evaluate("runs/medmo-8b", ["vqa_rad"], "benchmarks", "eval/out")  # doctest: +SKIP
"""

from pathlib import Path

from medmo.loading import load_model, load_processor

from .metrics import score_records
from .report import write
from .runner import TransformersBackend, read_predictions, run
from .tasks import TASKS, load_task


def leakage(records: list[dict], training_files: list[str]) -> dict:
    """Per task: evaluation images, and how many of them (by file hash) are in the training data."""
    from medmo.sources.leakage import collect, file_hash

    training = set(collect(training_files).images)
    report = {}
    for record in records:
        entry = report.setdefault(record["task"], {"images": 0, "shared": 0})
        for image in record.get("images") or []:
            entry["images"] += 1
            entry["shared"] += file_hash(image) in training
    return report


def score(records: list[dict], model: str, reading: dict | None = None, resamples: int = 1000, judge=None, training_data=None,
          report_extras=()) -> dict:  # fmt: skip
    """Results for prediction records: metrics per task, reading counts, optional judge, leakage and
    report extras (RadGraph-F1, CheXbert-F1, GREEN, RaTEScore; see `medmo.evaluation.extras`)."""
    by_task = {}
    for record in records:
        by_task.setdefault(record["task"], []).append(record)
    results = {"model": model, "tasks": {}}
    for task, task_records in by_task.items():
        read = (reading or {}).get(task, {})
        results["tasks"][task] = {"scored": len(task_records), **read, "metrics": score_records(task_records, resamples, report_extras)}
        if read and read["samples"] != len(task_records):
            raise RuntimeError(f"{task}: {read['samples']} samples read but {len(task_records)} scored.")
    if judge is not None:
        results["judge"] = judge.score(records)
    if training_data:
        results["leakage"] = leakage(records, training_data)
    return results


def evaluate(model_path: str, tasks: list[str], data_dir: str, out_dir: str, limit: int | None = None, batch_size: int = 8,
             resamples: int = 1000, judge=None, training_data: list[str] | None = None, backend: str = "transformers",
             max_new_tokens: int | None = None, report_extras=(), progress: bool = True) -> dict:  # fmt: skip
    """Generate and score `tasks` for the model at `model_path` (a MedMO or Qwen3-VL folder or Hub
    id, or a LoRA adapter folder); writes predictions, results and plots under `out_dir`.

    `backend` is "transformers" (any device; bf16 + SDPA on a GPU) or "vllm" (GPU only).
    `report_extras` are checked before generating, so a missing package fails in seconds.
    """
    if report_extras:
        from .extras import compute_extras

        compute_extras(report_extras, [], [])
    if backend == "vllm":
        from .runner import VLLMBackend

        processor = load_processor(model_path)
        generate = VLLMBackend(model_path, processor)
    elif backend == "transformers":
        model, processor = load_model(model_path, device="auto"), load_processor(model_path)
        generate = TransformersBackend(model, processor)
    else:
        raise ValueError(f"Unknown backend {backend!r}: use 'transformers' or 'vllm'.")
    records, reading = run(generate, processor, tasks, data_dir, out_dir, limit=limit, batch_size=batch_size,
                           max_new_tokens=max_new_tokens, progress=progress)  # fmt: skip
    results = score(records, model_path, reading, resamples, judge, training_data, report_extras)
    results["backend"] = backend
    write(results, records, Path(out_dir))
    return results


def rescore(predictions: str, out_dir: str | None = None, resamples: int = 1000, judge=None, training_data: list[str] | None = None,
            report_extras=()) -> dict:  # fmt: skip
    """Recompute every metric from a saved `predictions.jsonl` (no model, no generation), e.g. to
    score another model's outputs written in the same record format."""
    path = Path(predictions)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: pass the predictions.jsonl an evaluation run wrote.")
    records = list(read_predictions(path).values())
    results = score(records, f"predictions from {path}", resamples=resamples, judge=judge, training_data=training_data,
                    report_extras=report_extras)  # fmt: skip
    write(results, records, Path(out_dir) if out_dir else path.parent)
    return results


__all__ = ["TASKS", "evaluate", "load_task", "rescore", "score"]
