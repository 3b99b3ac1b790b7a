# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Load, validate and mix the data sets a recipe names.

A recipe lists its data sets:

    datasets:
      - path: data/phantom/stage1_reports.jsonl      # a JSONL file in the schema of `schema.py`
        weight: 1.0
      - name: vqa_rad                                 # a registry name: <data_dir>/vqa_rad/<split>.jsonl
        split: train
        weight: 0.5                                   # take half of it; 2.0 would repeat it twice

Every row is validated. A bad row stops the run with its file, line and problem, unless the recipe
sets `skip_bad_rows: true`: then it is skipped and counted by reason, and the run writes
`data_report.json` (rows read, kept, rejected by reason with examples; kept + rejected == read).
Test splits are refused unless `allow_test_splits: true`: training on a benchmark's test split is
leakage. Images stay paths until a row is used, then `load_image` reads them (DICOM included).
Rows (without pixels) are held in memory: a few hundred bytes each, so millions fit; shard larger
mixtures by stage.
"""

import json
import logging
import math
import random
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from datasets import Dataset, concatenate_datasets

from medmo.files import write_text_atomic
from medmo.medical_images import load_image
from medmo.sources import Problem

from .converters.base import split_file
from .schema import VALIDATORS, RowError


logger = logging.getLogger(__name__)
TEST_SPLIT_WORDS = ("test",)
EXAMPLES_PER_REASON = 3


class DataError(ValueError):
    """The data a recipe names cannot be used as it is; the message says where and how to fix it."""


@dataclass
class SourceReport:
    """What happened to the rows of one data set."""

    source: str
    read: int = 0
    kept: int = 0
    rejected: Counter = field(default_factory=Counter)
    examples: dict = field(default_factory=dict)
    used_after_weighting: int = 0

    def reject(self, problem: Problem) -> None:
        self.rejected[problem.reason] += 1
        self.examples.setdefault(problem.reason, [])
        if len(self.examples[problem.reason]) < EXAMPLES_PER_REASON:
            self.examples[problem.reason].append(problem.location)

    def as_dict(self) -> dict:
        values = asdict(self)
        values["rejected"] = dict(self.rejected)
        return values


def _resolve(spec: Mapping, data_dir: str | Path | None, kind: str) -> tuple[Path, str]:
    split = str(spec.get("split", "train"))
    if spec.get("path"):
        path = Path(spec["path"])
        if path.is_dir():
            path = path / split_file(split, kind)
        return path, split
    if spec.get("name"):
        if data_dir is None:
            raise DataError(f"Data set {spec['name']!r} is named by registry name; set `data_dir` (where `medmo data convert` wrote it).")
        return Path(data_dir) / str(spec["name"]) / split_file(split, kind), split
    raise DataError(f"A data set entry needs `path` or `name`: {dict(spec)}")


def _normalise_messages(messages: list) -> list:
    """String contents become one text item, so every row has the same Arrow structure."""
    return [
        {"role": m["role"], "content": [{"type": "text", "text": m["content"]}] if isinstance(m["content"], str) else
         [{"type": item["type"], "text": item.get("text")} for item in m["content"]]}
        for m in messages
    ]  # fmt: skip


def _normalise_row(row: dict, kind: str, folder: Path, source: str) -> dict:
    images = [str((folder / path).resolve()) if not Path(path).is_absolute() else str(path) for path in row.get("images") or []]
    missing = [path for path in images if not Path(path).exists()]
    if missing:
        raise RowError(f"image file not found: {missing[0]}")
    base = {"id": str(row.get("id", "")), "source": str(row.get("source", source)), "images": images}
    if kind == "sft":
        return {**base, "messages": _normalise_messages(row["messages"])}
    options = row.get("options")
    if isinstance(options, Mapping):
        options = [str(options[key]) for key in sorted(options)]
    return {
        **base,
        "prompt": _normalise_messages(row["prompt"]),
        "task": row.get("task"),
        "solution": None if row.get("solution") is None else str(row["solution"]),
        "image_size": row.get("image_size"),
        "labels": [str(label) for label in row.get("labels") or []] or None,
        "report": row.get("report"),
        "options": options,
        "answer_type": row.get("answer_type"),
    }


def read_rows(path: Path, kind: str, report: SourceReport, skip_bad_rows: bool) -> Iterator[dict]:
    """Valid, normalised rows of one JSONL file; bad rows raise or are counted (`skip_bad_rows`)."""
    validate = VALIDATORS[kind]
    with open(path, encoding="utf-8") as file:
        for number, line in enumerate(file, start=1):
            if not line.strip():
                continue
            report.read += 1
            where = f"{path}:{number}"
            try:
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise RowError("a row must be a JSON object")
                validate(row)
                normalised = _normalise_row(row, kind, path.parent, report.source)
            except (json.JSONDecodeError, RowError) as error:
                reason = "invalid JSON" if isinstance(error, json.JSONDecodeError) else str(error)
                if not skip_bad_rows:
                    raise DataError(f"{where}: {reason}. Fix the row, or set `skip_bad_rows: true` to skip and count such rows.") from None
                report.reject(Problem(where, reason))
                continue
            report.kept += 1
            yield normalised


def _weighted(dataset: Dataset, weight: float, seed: int) -> Dataset:
    if weight <= 0 or not math.isfinite(weight):
        raise DataError(f"Data set weights must be positive, got {weight}.")
    whole, fraction = int(weight), weight - int(weight)
    parts = [dataset] * whole
    if fraction:
        order = list(range(len(dataset)))
        random.Random(seed).shuffle(order)
        parts.append(dataset.select(sorted(order[: round(fraction * len(dataset))])))
    return concatenate_datasets(parts) if len(parts) > 1 else parts[0]


def load_mixture(
    specs: list[Mapping],
    kind: str,
    data_dir: str | Path | None = None,
    allow_test_splits: bool = False,
    skip_bad_rows: bool = False,
    seed: int = 0,
) -> tuple[Dataset, list[SourceReport]]:
    """The recipe's data sets, validated, weighted, concatenated and shuffled.

    `kind` is `"sft"` or `"grpo"`. Returns the data set (images read lazily) and one report per source.
    """
    if kind not in VALIDATORS:
        raise ValueError(f"kind must be one of {sorted(VALIDATORS)}, got {kind!r}.")
    if not specs:
        raise DataError("The recipe names no data sets: add a `datasets:` list.")
    parts, reports = [], []
    for spec in specs:
        path, split = _resolve(spec, data_dir, kind)
        if any(word in split.lower() or word in path.stem.lower() for word in TEST_SPLIT_WORDS) and not allow_test_splits:
            raise DataError(
                f"{path} is a test split. Training on a benchmark's test split leaks it into the model; "
                "set `allow_test_splits: true` only if that is really intended."
            )
        if not path.is_file():
            raise DataError(f"Data file not found: {path} (from {dict(spec)}).")
        report = SourceReport(source=str(spec.get("name") or path))
        rows = list(read_rows(path, kind, report, skip_bad_rows))
        if not rows:
            raise DataError(f"{path}: no usable rows ({report.read} read, all rejected: {dict(report.rejected)}).")
        dataset = _weighted(Dataset.from_list(rows), float(spec.get("weight", 1.0)), seed)
        report.used_after_weighting = len(dataset)
        if report.rejected:
            logger.warning("%s: skipped %d of %d rows: %s", path, sum(report.rejected.values()), report.read, dict(report.rejected))
        assert report.kept + sum(report.rejected.values()) == report.read
        parts.append(dataset)
        reports.append(report)
    mixture = concatenate_datasets(parts).shuffle(seed=seed) if len(parts) > 1 else parts[0].shuffle(seed=seed)
    return mixture.with_transform(_load_images), reports


def _load_images(batch: dict) -> dict:
    """Read image paths into RGB images when rows are used (keeps the data set small and lazy)."""
    if "images" in batch:
        batch["images"] = [[load_image(path) for path in paths] for paths in batch["images"]]
    return batch


def write_report(reports: list[SourceReport], output_dir: str | Path) -> Path:
    return write_text_atomic(Path(output_dir) / "data_report.json", json.dumps([report.as_dict() for report in reports], indent=2) + "\n")


__all__ = ["DataError", "SourceReport", "load_mixture", "read_rows", "write_report"]
