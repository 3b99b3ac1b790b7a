# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Train/test overlap: the same image file or the same question in training and evaluation data.

    medmo data check-leakage --train data/converted/slake/train.jsonl --test data/converted/slake/test.jsonl

Images are compared by the SHA-256 of their bytes (exact copies, whatever their names; resized or
re-encoded copies are not caught), questions by their normalised text (case, punctuation,
articles and spacing removed).
"""

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from medmo.clinical.answers import normalize_answer


@lru_cache(maxsize=None)
def file_hash(path: str) -> str | None:
    try:
        with open(path, "rb") as file:
            return hashlib.sha256(file.read()).hexdigest()
    except OSError:
        return None


def _question(row: dict) -> str | None:
    turns = row.get("messages") or row.get("prompt") or []
    users = [m for m in turns if m.get("role") == "user"]
    if not users:
        return row.get("question")
    content = users[-1].get("content")
    text = content if isinstance(content, str) else " ".join(i.get("text") or "" for i in content if i.get("type") == "text")
    return text or None


@dataclass
class Collection:
    images: dict = field(default_factory=dict)  # hash -> one example path
    questions: dict = field(default_factory=dict)  # normalised text -> one example
    rows: int = 0


def collect(files: Iterable[str | Path], prompt_questions: bool = False) -> Collection:
    """Image hashes and normalised questions of JSONL rows. Prompts repeated from a prompt bank
    (e.g. "Write the radiology report") are questions too unless `prompt_questions` is False and
    the row has no question of its own: rows with `messages` count their last user text."""
    collection = Collection()
    for file in files:
        path = Path(file)
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if not line.strip():
                    continue
                row = json.loads(line)
                collection.rows += 1
                for image in row.get("images") or []:
                    image_path = str(image if Path(image).is_absolute() else path.parent / image)
                    digest = file_hash(image_path)
                    if digest:
                        collection.images.setdefault(digest, image_path)
                question = _question(row)
                if question:
                    collection.questions.setdefault(normalize_answer(question), question)
    return collection


def check_leakage(train_files, test_files, ignore_questions: Iterable[str] = ()) -> dict:
    """Counts and examples of images and questions found in both training and test files.

    `ignore_questions`: prompts that are instructions, not questions (the prompt bank), which
    would otherwise match across every split.
    """
    train, test = collect(train_files), collect(test_files)
    ignored = {normalize_answer(q) for q in ignore_questions}
    shared_images = sorted(set(train.images) & set(test.images))
    shared_questions = sorted((set(train.questions) & set(test.questions)) - ignored)
    return {
        "train_rows": train.rows,
        "test_rows": test.rows,
        "test_images": len(test.images),
        "shared_images": len(shared_images),
        "shared_image_examples": [test.images[h] for h in shared_images[:5]],
        "test_questions": len(set(test.questions) - ignored),
        "shared_questions": len(shared_questions),
        "shared_question_examples": [test.questions[q] for q in shared_questions[:5]],
    }


__all__ = ["check_leakage", "collect", "file_hash"]
