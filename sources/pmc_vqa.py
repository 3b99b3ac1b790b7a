# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""PMC-VQA.

Published layout, two versions that may sit side by side:

- version 1: `train.csv`, `test.csv` and the manually verified `test_clean.csv`, images in
  `images/` (`images.zip`); the answer letter is in `Answer_label` (`Answer` holds its text);
- version 2: `train_2.csv`, `test_2.csv`, images in `figures/` (`images_2.zip`); the answer letter
  is in `Answer`.

Both have `Figure_path`, `Question` and `Choice A`..`Choice D`, each choice usually written with
its letter ("A:CT", " B: 1:2"), sometimes without ("1:1").

One file per split, in this order of preference: the verified `test_clean.csv`, then version 2,
then version 1 (what MedMO's evaluation reads). A choice loses a leading "<letter>:" and nothing
else, so "1:1" stays "1:1". The answer is `Answer_label` when the file has it, else `Answer`, and
must be one of the letters A-D.
"""

import csv
import re
from collections.abc import Iterator
from pathlib import Path

from medmo.clinical.answers import as_letter
from medmo.clinical.tasks import MULTIPLE_CHOICE

from .base import Problem, Record, image_problem, numbered, size_of, split_id, wanted


SOURCE = "pmc_vqa"
FILES = {"train": ("train_2.csv", "train.csv"), "test": ("test_clean.csv", "test_2.csv", "test.csv")}
LETTERS = "ABCD"
_CHOICE_PREFIX = re.compile(r"^\s*[A-D]\s*:\s*")


def split_file(root: Path, split: str) -> Path | None:
    """The file a split is read from (see the module docstring), or None."""
    return next((root / name for name in FILES[split] if (root / name).exists()), None)


def read(root: Path, splits=None) -> Iterator[Record | Problem]:
    """The questions of the selected splits (`train`, `test`)."""
    root = Path(root)
    chosen = [split for split in FILES if wanted(split, splits)]
    files = {split: path for split in chosen if (path := split_file(root, split)) is not None}
    if not files:
        raise FileNotFoundError(f"none of {', '.join(name for split in chosen for name in FILES[split])} under {root}")
    for split, path in files.items():
        folder = root / ("figures" if path.stem.endswith("_2") else "images")
        with open(path, encoding="utf-8") as file:
            for line, record in numbered(csv.DictReader(file)):
                where = f"{path.name}:{line}"
                options = [_CHOICE_PREFIX.sub("", str(record.get(f"Choice {letter}") or "")).strip() for letter in LETTERS]
                answer = as_letter(record.get("Answer_label") if "Answer_label" in record else record.get("Answer"), len(LETTERS))
                image = folder / str(record.get("Figure_path", ""))
                if not str(record.get("Question") or "").strip() or answer is None or not all(options):
                    yield Problem(where, "missing question, options or answer label")
                elif size_of(image) is None:
                    yield image_problem(where, image.name)
                else:
                    yield Record(split_id(SOURCE, split, line), SOURCE, split, MULTIPLE_CHOICE, where, images=[str(image)],
                                 question=record["Question"].strip(), options=options, answer=answer)  # fmt: skip


__all__ = ["read", "split_file"]
