# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Your own data, and sets without a reader of their own: a CSV, JSONL or Parquet table with named
columns, one item per row.

Columns (each renamable by the option of the same name; a JSON string in a CSV cell is read as
JSON):

- `images` (or `image`): an image path or a list of them, relative to the table's folder; rows
  without images are text questions; option `image` names another column;
- `boxes`: `[{"label", "box": [x1, y1, x2, y2]}]` in pixels of the first image: a grounding row
  (`question`, when present, replaces the default grounding prompt);
- `report`: a report on the images;
- `question` + `answer`: a question; with `options` (a list of texts) the answer is an option's
  letter or its text;
- `answer` without `question`: a caption of the images (training data only);
- `split`: the row's split (normalised: `valid` -> `validation`; default `default_split`).

Options besides the column names: `file` (the table, relative to the raw folder; default the
only `.csv` / `.jsonl` / `.json` / `.parquet` there, or the raw path itself when it is a file),
`default_split` (`train`) and `source` (the set's name and id prefix; default the table's name).
Rows stream from disk, so tables of millions of rows read in bounded memory.
"""

import csv
import json
from collections.abc import Iterator
from pathlib import Path

from medmo.clinical.answers import answer_type, reference_choice
from medmo.clinical.tasks import CAPTION, GROUNDING, MULTIPLE_CHOICE, REPORT

from .base import INVALID_JSON, NOT_AN_OPTION, Problem, Record, box_problem, image_problem, size_of, split_name, wanted


TABLE_SUFFIXES = (".csv", ".jsonl", ".json", ".parquet")
NEEDS = "needs question + answer (an option's letter or text), report, or boxes"
BAD_BOXES = 'boxes must be [{"label", "box": [x1, y1, x2, y2]}]'


def rows(path: Path) -> Iterator[tuple[str, int, dict | None]]:
    """(location, number, row or None when unreadable) for each row of a table, streamed."""
    if path.suffix == ".csv":
        with open(path, encoding="utf-8", newline="") as file:
            reader = csv.DictReader(file)
            start = reader.line_num + 1 if reader.fieldnames is not None else 0
            for row in reader:
                yield f"{path.name}:{start}", start, row
                start = reader.line_num + 1
    elif path.suffix in (".jsonl", ".json"):
        with open(path, encoding="utf-8") as file:
            for number, line in enumerate(file, start=1):
                if line.strip():
                    try:
                        value = json.loads(line)
                    except json.JSONDecodeError:
                        value = None
                    yield f"{path.name}:{number}", number, value if isinstance(value, dict) else None
    elif path.suffix == ".parquet":
        import pyarrow.parquet as parquet

        number = 0
        for batch in parquet.ParquetFile(path).iter_batches(batch_size=1024):
            for row in batch.to_pylist():
                yield f"{path.name}[{number}]", number, row
                number += 1
    else:
        raise ValueError(f"Unsupported table {path.name}; use .csv, .jsonl or .parquet.")


def table(root: Path, file: str | None = None) -> Path:
    """The table to read: `file` under `root`, `root` itself, or the only table in `root`."""
    root = Path(root)
    if file:
        path = root / file
    elif root.is_file():
        path = root
    else:
        tables = [p for p in sorted(root.iterdir()) if p.suffix in TABLE_SUFFIXES] if root.is_dir() else []
        if len(tables) != 1:
            raise FileNotFoundError(f"no single table under {root} ({len(tables)} found): pass option file=<name> (.csv / .jsonl / .parquet)")
        path = tables[0]
    if not path.is_file():
        raise FileNotFoundError(f"table {path} not found")
    return path


def _json(value):
    """A cell holding JSON (a CSV cell) as its value; other values as they are."""
    if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
        return json.loads(value)
    return value


def _boxes(value) -> list[dict]:
    boxes = _json(value)
    if not isinstance(boxes, list) or not all(isinstance(b, dict) and isinstance(b.get("box"), list) and len(b["box"]) == 4 for b in boxes):
        raise ValueError(BAD_BOXES)
    return [{"label": str(b.get("label") or "finding"), "box": [float(v) for v in b["box"]]} for b in boxes]


def read(root: Path, splits=None, file: str | None = None, image: str | None = None, question: str = "question", answer: str = "answer",
         options: str = "options", report: str = "report", boxes: str = "boxes", split: str = "split", default_split: str = "train",
         source: str | None = None) -> Iterator[Record | Problem]:  # fmt: skip
    """The rows of the selected splits (see the module docstring for the columns and options)."""
    path = table(root, file)
    source = source or path.stem
    for where, number, row in rows(path):
        if row is None:
            yield Problem(where, INVALID_JSON)
            continue
        row_split = split_name(row.get(split) or default_split)
        if not wanted(row_split, splits):
            continue
        try:
            paths = _json(row.get(image) if image else row.get("images", row.get("image")))
            paths = [paths] if isinstance(paths, str) else list(paths or [])
            files = [Path(p) if Path(p).is_absolute() else path.parent / p for p in map(str, paths)]
            choices = _json(row.get(options))
        except (json.JSONDecodeError, TypeError):
            yield Problem(where, INVALID_JSON)
            continue
        if (missing := next((f for f in files if size_of(f) is None), None)) is not None:
            yield image_problem(where, missing, path.parent)
            continue
        common = dict(id=f"{source}-{row.get('id') or number}", source=source, split=row_split, location=where, images=[str(f) for f in files])
        text, reply = str(row.get(question) or "").strip(), row.get(answer)
        reply = "" if reply is None else str(reply).strip()
        if row.get(boxes) not in (None, "") and files:
            try:
                items = _boxes(row[boxes])
            except (ValueError, TypeError):
                yield Problem(where, BAD_BOXES)
                continue
            size = size_of(files[0])
            if reason := box_problem(items, size):
                yield Problem(where, reason)
            else:
                yield Record(kind=GROUNDING, image_size=size, boxes=items, question=text or None, **common)
        elif str(row.get(report) or "").strip() and files:
            yield Record(kind=REPORT, report=str(row[report]).strip(), **common)
        elif text and reply and isinstance(choices, list) and choices:
            texts = [str(choice) for choice in choices]
            letter = reference_choice(reply, texts)
            if letter is None:
                yield Problem(where, NOT_AN_OPTION)
            else:
                yield Record(kind=MULTIPLE_CHOICE, question=text, options=texts, answer=letter, **common)
        elif text and reply:
            yield Record(kind=answer_type(reply), question=text, answer=reply, **common)
        elif reply and files:
            yield Record(kind=CAPTION, report=reply, **common)
        else:
            yield Problem(where, NEEDS)


__all__ = ["read", "rows", "table"]
