# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""MMMU, its medical subjects.

Published layout (Hub Parquet): `<Subject>/{dev,validation,test}-NNNNN-of-NNNNN.parquet` with `id`,
`question`, `options` (a Python-literal list, empty for open questions), `answer` (a letter for
multiple choice), `image_1`..`image_7` ({bytes, path}) and `question_type`; `dev` is the few-shot
split (split names are kept as released). Questions and options
refer to images as `<image k>`. The medical subjects are `MEDICAL_SUBJECTS`; the test answers are
withheld, so the validation split is the one scored.

One record per question: multiple choice with options, else closed / open by its answer. `<image
k>` markers become words naming the image ("the image", "image 2"), and the embedded images are
`ImageRef`s; `meta["subject"]` names the subject.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

from medmo.clinical.answers import answer_type, as_letter

from .base import NOT_AN_OPTION, Problem, Record, wanted
from .images import ImageRef


SOURCE = "mmmu"
MEDICAL_SUBJECTS = ("Basic_Medical_Science", "Clinical_Medicine", "Diagnostics_and_Laboratory_Medicine", "Pharmacy", "Public_Health")
MAX_IMAGES = 7


def image_words(text: str) -> str:
    """`<image k>` markers become words naming the image, in order."""
    for k in range(1, MAX_IMAGES + 1):
        text = text.replace(f"<image {k}>", "the image" if k == 1 else f"image {k}")
    return text


def _image(value, name: str) -> ImageRef:
    if not isinstance(value, dict) or value.get("bytes") is None:
        raise TypeError("an image is {bytes, path} with bytes")
    return ImageRef(value["bytes"], name=name)


def read(root: Path, splits=None) -> Iterator[Record | Problem]:
    """The questions of the medical subjects in the selected splits; a subject without files of
    those splits is a problem (its questions would be missing from the score)."""
    import pyarrow.parquet as parquet

    root = Path(root)
    for subject in MEDICAL_SUBJECTS:
        # MMMU's `dev` is its few-shot split, not a validation split: split names stay as released.
        files = [path for path in sorted((root / subject).glob("*.parquet")) if wanted(path.name.split("-")[0], splits)]
        if not files:
            yield Problem(subject, "subject files missing")
        for path in files:
            split = path.name.split("-")[0]
            for index, record in enumerate(parquet.read_table(path).to_pylist()):
                where, name = f"{subject}/{path.name}[{index}]", record.get("id") or f"{subject}-{index}"
                try:
                    options = [image_words(str(option)) for option in ast.literal_eval(record.get("options") or "[]")]
                    images = [_image(record[f"image_{k}"], f"{name}-{k}") for k in range(1, MAX_IMAGES + 1) if record.get(f"image_{k}")]
                except (ValueError, SyntaxError, TypeError, KeyError):
                    yield Problem(where, "malformed options or image")
                    continue
                answer = str(record.get("answer", "")).strip()
                if options and as_letter(answer, len(options)) is None:
                    yield Problem(where, NOT_AN_OPTION)
                    continue
                yield Record(f"mmmu-{name}", SOURCE, split, answer_type(answer, options or None), where, images=images,
                             question=image_words(record["question"]), options=options or None, answer=answer, meta={"subject": subject})  # fmt: skip


__all__ = ["MEDICAL_SUBJECTS", "image_words", "read"]
