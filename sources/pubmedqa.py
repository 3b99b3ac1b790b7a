# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""PubMedQA (PQA-L, the 1,000 expert-labelled questions).

Published layout: `ori_pqal.json`, `{pmid: {QUESTION, CONTEXTS (the abstract's paragraphs),
LABELS, MESHES, YEAR, final_decision (yes / no / maybe), LONG_ANSWER, ...}}`, and
`test_ground_truth.json`, `{pmid: decision}` for the 500 test questions; the rest are training
questions.

One open-answer record per question, asked with its abstract as context; the answer is yes, no or
maybe, scored by exact match (`meta["closed_answer"]`: a closed set of answers). A test pmid
missing from `ori_pqal.json` is a problem.
"""

import json
from collections.abc import Iterator
from pathlib import Path

from medmo.clinical.tasks import OPEN

from .base import Problem, Record, require, wanted


SOURCE = "pubmedqa"
DECISIONS = ("yes", "no", "maybe")


def question_text(record: dict) -> str:
    """The question as asked: the abstract as context, then the question and the allowed answers."""
    context = " ".join(record.get("CONTEXTS") or [])
    return f"Context: {context}\nQuestion: {record['QUESTION']}\nAnswer yes, no or maybe."


def read(root: Path, splits=None) -> Iterator[Record | Problem]:
    """The questions of the selected splits (`train`, `test`)."""
    root = Path(root)
    path = require(root, "ori_pqal.json")
    records = json.loads(path.read_text(encoding="utf-8"))
    truth_path = root / "test_ground_truth.json"
    truth = json.loads(truth_path.read_text(encoding="utf-8")) if truth_path.exists() else {}
    if wanted("test", splits) and not truth and not wanted("train", splits):
        raise FileNotFoundError(f"test_ground_truth.json (the test split's pmids) not found under {root}")
    for pmid, record in records.items():
        split = "test" if pmid in truth else "train"
        if not wanted(split, splits):
            continue
        decision = str(truth[pmid] if split == "test" else (record.get("final_decision") if isinstance(record, dict) else "")).strip().lower()
        if not isinstance(record, dict) or not record.get("QUESTION"):
            yield Problem(f"{path.name}[{pmid}]", "missing question")
        elif decision not in DECISIONS:
            yield Problem(f"{(truth_path if split == 'test' else path).name}[{pmid}]", "decision is not yes / no / maybe")
        else:
            yield Record(f"{SOURCE}-{pmid}", SOURCE, split, OPEN, f"{path.name}[{pmid}]", question=question_text(record), answer=decision,
                         meta={"closed_answer": True})  # fmt: skip
    if wanted("test", splits):
        for pmid in truth:
            if pmid not in records:
                yield Problem(f"{path.name}[{pmid}]", "pmid of the test list is missing")


__all__ = ["DECISIONS", "question_text", "read"]
