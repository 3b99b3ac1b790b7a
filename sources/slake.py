# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""SLAKE.

Published layout: `train.json`, `validate.json`, `test.json`, each a list of records with
`img_name` (relative to `imgs/`), `question`, `answer`, `q_lang` (`en` or `zh`), `qid`,
`answer_type` (CLOSED / OPEN) and more.

One question record per QA pair in the chosen `languages` (English by default; records in other
languages are not part of the selection, like records of other splits). The kind follows the
answer; `meta["closed_answer"]` keeps the release's CLOSED marking.
"""

import json
from collections.abc import Iterator
from pathlib import Path

from .base import Problem, Record, json_question, wanted


SOURCE = "slake"
FILES = (("train", "train.json"), ("validation", "validate.json"), ("test", "test.json"))


def read(root: Path, splits=None, languages=("en",)) -> Iterator[Record | Problem]:
    """The QA pairs of the selected splits and languages."""
    root = Path(root)
    files = [(split, root / name) for split, name in FILES if wanted(split, splits)]
    if not any(path.exists() for _, path in files):
        raise FileNotFoundError(f"none of {', '.join(path.name for _, path in files)} under {root}")
    languages = {languages} if isinstance(languages, str) else set(languages)
    for split, path in files:
        if not path.exists():
            continue
        for index, record in enumerate(json.loads(path.read_text(encoding="utf-8"))):
            if record.get("q_lang", "en") not in languages:
                continue
            image = root / "imgs" / str(record.get("img_name", ""))
            yield json_question(SOURCE, split, f"{path.name}[{index}]", record, image, index)


__all__ = ["read"]
