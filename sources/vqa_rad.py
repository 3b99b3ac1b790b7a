# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""VQA-RAD (OSF release).

Published layout: `VQA_RAD Dataset Public.json`, a list of records with `qid`, `image_name`,
`question`, `answer`, `answer_type` (CLOSED / OPEN), `phrase_type` and more; test records have
phrase types `test_freeform` / `test_para`, all others are training records; images in
`VQA_RAD Image Folder/`.

One question record per QA pair; its kind follows the answer (yes / no: closed, else open), and
`meta["closed_answer"]` keeps the release's own CLOSED marking.
"""

import json
from collections.abc import Iterator
from pathlib import Path

from .base import Problem, Record, json_question, require, wanted


SOURCE = "vqa_rad"


def read(root: Path, splits=None) -> Iterator[Record | Problem]:
    """The QA pairs of the selected splits (`train`, `test`)."""
    root = Path(root)
    path = require(root, "VQA_RAD Dataset Public.json")
    for index, record in enumerate(json.loads(path.read_text(encoding="utf-8"))):
        split = "test" if str(record.get("phrase_type", "")).startswith("test") else "train"
        if not wanted(split, splits):
            continue
        image = root / "VQA_RAD Image Folder" / str(record.get("image_name", ""))
        yield json_question(SOURCE, split, f"{path.name}[{index}]", record, image, index)


__all__ = ["read"]
