# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Your own data (and sets without a dedicated converter): CSV, JSONL or parquet with named columns.

Options (`--option key=value` on the command line, or `options:` in the registry):

- `file`: the table, relative to the raw folder (default: the only .csv / .jsonl / .parquet there);
- `image`, `question`, `answer`: column names (defaults `image`, `question`, `answer`); without a
  question column the prompt comes from the prompt bank of `prompt_task` (`report`, `caption`,
  `grounding`);
- `boxes`: a column with JSON boxes `[{"label": ..., "box": [x1, y1, x2, y2]}]` in pixels of the
  image (the answer is then written by the processor in its box frame);
- `split`: a column naming each row's split (default: every row is `train`).

Rows stream from disk, so tables of millions of rows convert in bounded memory.
"""

import csv
import json
from collections.abc import Iterator
from pathlib import Path

from medmo.clinical.prompts import pick
from .base import Context, Reject, check_boxes, grounding_rows, image_size, sft_row
from .vqa import vqa_rows


def _records(path: Path) -> Iterator[tuple[str, dict]]:
    if path.suffix == ".csv":
        with open(path, encoding="utf-8", newline="") as file:
            for number, record in enumerate(csv.DictReader(file), start=2):
                yield f"{path.name}:{number}", record
    elif path.suffix in (".jsonl", ".json"):
        with open(path, encoding="utf-8") as file:
            for number, line in enumerate(file, start=1):
                if line.strip():
                    try:
                        yield f"{path.name}:{number}", json.loads(line)
                    except json.JSONDecodeError:
                        yield f"{path.name}:{number}", None
    elif path.suffix == ".parquet":
        import pyarrow.parquet as parquet

        number = 0
        for batch in parquet.ParquetFile(path).iter_batches(batch_size=1024):
            for record in batch.to_pylist():
                number += 1
                yield f"{path.name}[{number - 1}]", record
    else:
        raise ValueError(f"Unsupported table {path.name}; use .csv, .jsonl or .parquet.")


def _table(context: Context) -> Path | None:
    if context.options.get("file"):
        return context.raw / context.options["file"]
    if context.raw.is_file():
        return context.raw
    tables = [p for p in sorted(context.raw.iterdir()) if p.suffix in (".csv", ".json", ".jsonl", ".parquet")]
    return tables[0] if len(tables) == 1 else None


def generic(context: Context):
    table = _table(context)
    if table is None or not table.exists():
        yield Reject("no table: pass option file=<name> (one .csv / .jsonl / .parquet)", str(context.raw))
        return
    options = context.options
    image_column, question_column = options.get("image", "image"), options.get("question", "question")
    answer_column, boxes_column, split_column = options.get("answer", "answer"), options.get("boxes"), options.get("split")
    source = options.get("source", table.stem)
    base = table.parent
    for where, record in _records(table):
        if not isinstance(record, dict):
            yield Reject("invalid JSON", where)
            continue
        image_value = record.get(image_column)
        image = Path(str(image_value)) if image_value else None
        image = image if image is None or image.is_absolute() else base / image
        size = image_size(image) if image else None
        if image is None or size is None:
            yield Reject("image not found", where)
            continue
        split = str(record.get(split_column) or "train") if split_column else "train"
        sample_id = f"{source}-{where}"
        if boxes_column:
            try:
                raw_boxes = record.get(boxes_column)
                boxes = json.loads(raw_boxes) if isinstance(raw_boxes, str) else list(raw_boxes or [])
                boxes = [{"label": str(b.get("label") or "finding"), "box": [float(v) for v in b["box"]]} for b in boxes]
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                yield Reject("malformed boxes", where)
                continue
            if (reason := check_boxes(boxes, size)) is not None:
                yield Reject(reason, where)
                continue
            yield from grounding_rows(context, sample_id, source, split, image, size, boxes)
            continue
        answer = str(record.get(answer_column) or "").strip()
        if not answer:
            yield Reject("empty answer", where)
            continue
        question = str(record.get(question_column) or "").strip()
        if question:
            yield from vqa_rows(context, sample_id, source, split, image, question, answer)
        else:
            from .base import Row

            yield Row(split, sft_row(sample_id, source, [str(image)], pick(options.get("prompt_task", "caption"), sample_id), answer))


__all__ = ["generic"]
