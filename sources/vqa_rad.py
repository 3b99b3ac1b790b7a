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

from medmo.clinical.answers import answer_type

from .base import MISSING_QA, Problem, Record, image_problem, require, size_of, wanted


SOURCE = "vqa_rad"


def read(root: Path, splits=None) -> Iterator[Record | Problem]:
    """The QA pairs of the selected splits (`train`, `test`)."""
    root = Path(root)
    path = require(root, "VQA_RAD Dataset Public.json")
    for index, record in enumerate(json.loads(path.read_text(encoding="utf-8"))):
        split = "test" if str(record.get("phrase_type", "")).startswith("test") else "train"
        if not wanted(split, splits):
            continue
        where = f"{path.name}[{index}]"
        question, answer = str(record.get("question") or "").strip(), str(record.get("answer", "")).strip()
        image = root / "VQA_RAD Image Folder" / str(record.get("image_name", ""))
        if not question or record.get("answer") is None or not answer:
            yield Problem(where, MISSING_QA)
        elif size_of(image) is None:
            yield image_problem(where, image.name)
        else:
            yield Record(f"{SOURCE}-{record.get('qid', index)}", SOURCE, split, answer_type(answer), where, images=[str(image)],
                         question=question, answer=answer, meta={"closed_answer": str(record.get("answer_type", "")).upper() == "CLOSED"})  # fmt: skip


__all__ = ["read"]
