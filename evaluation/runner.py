# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Running an evaluation: load the model, generate for every sample in batches, stream predictions.

Predictions are appended to `<out>/predictions.jsonl` as each batch finishes, synced to disk; a
run that is interrupted (even killed mid-write) and started again skips the samples already there
and generates the rest. Generation is greedy by default,
batched with left padding; the prompts are the ones the recipes train with.
"""

import json
import logging
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import torch
import transformers
from tqdm.auto import tqdm

from medmo.files import JsonlAppender, read_jsonl

from .tasks import Sample, load_task


logger = logging.getLogger(__name__)
# transformers 5 takes processor options in `processor_kwargs`; 4.57 takes them as keyword arguments.
PADDING = {"processor_kwargs": {"padding": True}} if int(transformers.__version__.split(".")[0]) >= 5 else {"padding": True}
MAX_NEW_TOKENS = {"closed": 16, "multiple_choice": 32, "open": 48, "report": 256, "grounding": 256}


def _messages(sample: Sample) -> list[dict]:
    content = [{"type": "image", "image": image} for image in sample.images] + [{"type": "text", "text": sample.prompt}]
    return [{"role": "user", "content": content}]


def generate_batch(model, processor, samples: list[Sample], max_new_tokens: int | None = None, do_sample: bool = False) -> list[str]:
    """Answers for a batch of samples (left-padded, greedy unless `do_sample`)."""
    inputs = processor.apply_chat_template(
        [_messages(s) for s in samples], add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt", **PADDING
    ).to(model.device)
    tokens = max_new_tokens or max(MAX_NEW_TOKENS[s.kind] for s in samples)
    with torch.no_grad():
        output = model.generate(**inputs, max_new_tokens=tokens, do_sample=do_sample)
    return processor.batch_decode(output[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)


class TransformersBackend:
    """Generation with the transformers model (any device); the default backend."""

    def __init__(self, model, processor):
        self.model, self.processor = model, processor

    def __call__(self, samples: list[Sample], max_new_tokens: int | None = None) -> list[str]:
        return generate_batch(self.model, self.processor, samples, max_new_tokens)


class VLLMBackend:
    """Generation with vLLM (GPU only). vLLM serves the Qwen3-VL architecture, so a MedMO folder is
    exported to a Qwen3-VL folder first (hard links, no copies of the weights). Prompts are built
    with MedMO's chat template and images are read by MedMO's loaders (DICOM, NIfTI, 16-bit), then
    handed to vLLM, which applies the same Qwen3-VL image processing."""

    def __init__(self, path: str, processor, **engine_args):
        try:
            import vllm
        except ImportError as error:
            raise ImportError("The vLLM backend needs vLLM on a GPU machine: `pip install vllm`, or use `--backend transformers`.") from error
        self.processor, self._vllm = processor, vllm
        model_path = self._qwen3vl_folder(Path(path))
        size = processor.image_processor.size  # Qwen-VL keeps the pixel-count bounds under these names
        settings = {"min_pixels": size["shortest_edge"], "max_pixels": size["longest_edge"]}
        self.llm = vllm.LLM(model=str(model_path), mm_processor_kwargs=settings, limit_mm_per_prompt={"image": 8}, **engine_args)

    @staticmethod
    def _qwen3vl_folder(path: Path) -> Path:
        if (path / "adapter_config.json").exists():
            raise ValueError(f"{path} is a LoRA adapter: merge it first (`merge_adapter: true` in the recipe) or use `--backend transformers`.")
        config = json.loads((path / "config.json").read_text()) if (path / "config.json").is_file() else {}
        if config.get("model_type") != "medmo":
            return path
        import tempfile

        from medmo.checkpoint import export_medmo_to_qwen3vl

        return export_medmo_to_qwen3vl(path, Path(tempfile.mkdtemp(prefix="medmo-vllm-")) / "qwen3vl")

    def __call__(self, samples: list[Sample], max_new_tokens: int | None = None) -> list[str]:
        from medmo.medical_images import load_image

        requests = []
        for sample in samples:
            prompt = self.processor.apply_chat_template(_messages(sample), add_generation_prompt=True, tokenize=False)
            images = [load_image(path) for path in sample.images]
            requests.append({"prompt": prompt, "multi_modal_data": {"image": images}} if images else {"prompt": prompt})
        tokens = max_new_tokens or max(MAX_NEW_TOKENS[s.kind] for s in samples)
        outputs = self.llm.generate(requests, self._vllm.SamplingParams(temperature=0.0, max_tokens=tokens), use_tqdm=False)
        return [output.outputs[0].text for output in outputs]


def prediction_record(sample: Sample, text: str, processor) -> dict:
    record = {**asdict(sample), "prediction": text}
    if sample.kind == "grounding":
        record["predicted_boxes"] = processor.post_process_grounding([text], [sample.image_size])[0]
        record["box_format"] = processor.box_format
    return record


def read_predictions(path: Path) -> dict[str, dict]:
    """Prediction records by sample id. An incomplete last line (a run killed while writing) is
    dropped with a warning, so its sample is generated again; other damage raises
    `CorruptFileError` naming the file and line."""
    if not path.exists():
        return {}
    return {record["id"]: record for _, record in read_jsonl(path)}


def run(
    generate,
    processor,
    tasks: list[str],
    data_dir: str | Path,
    out_dir: str | Path,
    limit: int | None = None,
    batch_size: int = 8,
    max_new_tokens: int | None = None,
    progress: bool = True,
) -> tuple[list[dict], dict]:
    """Generate for every sample of `tasks` with `generate(samples, max_new_tokens) -> texts` (a
    backend), resuming from existing predictions.

    Returns all prediction records and the reading report per task: samples read, problems by
    reason with their locations, predictions already present.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "predictions.jsonl"
    done = read_predictions(path)
    reading = {}
    with JsonlAppender(path) as predictions:
        for task in tasks:
            samples, problems = [], []
            for item in load_task(task, data_dir, limit):
                (samples if isinstance(item, Sample) else problems).append(item)
            todo = [s for s in samples if s.id not in done]
            reading[task] = {"samples": len(samples), "problems": len(problems),
                             "problems_by_reason": dict(Counter(p.reason for p in problems)),
                             "problem_examples": [asdict(p) for p in problems[:5]], "resumed": len(samples) - len(todo)}  # fmt: skip
            # Batches of one kind share a generation length; images of similar size pad little.
            todo.sort(key=lambda s: (s.kind, len(s.images)))
            bar = tqdm(total=len(todo), desc=task, disable=not progress, unit=" samples")
            for start in range(0, len(todo), batch_size):
                batch = todo[start : start + batch_size]
                records = [prediction_record(sample, text, processor) for sample, text in zip(batch, generate(batch, max_new_tokens))]
                predictions.write(records)  # synced per batch: a crash can only cut the batch being written
                done.update((record["id"], record) for record in records)
                bar.update(len(batch))
            bar.close()
            if problems:
                logger.warning("%s: %d records could not be read: %s", task, len(problems), reading[task]["problems_by_reason"])
    return [record for record in done.values() if record["task"] in set(tasks)], reading


__all__ = ["MAX_NEW_TOKENS", "TransformersBackend", "VLLMBackend", "generate_batch", "prediction_record", "read_predictions", "run"]
