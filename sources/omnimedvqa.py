# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""OmniMedVQA (its open-access part).

Published layout: `QA_information/Open-access/*.json`, each a list of records with
`question_id`, `question`, `gt_answer` (the text of the right option), `option_A`..`option_D`
(C and D may be absent), `image_path` (relative to the root, e.g. `Images/<dataset>/...`) and
`modality_type` (one file of the release names it `modality`). The restricted-access part is not
read. All records are test records (OmniMedVQA is a benchmark).

One multiple-choice record per question, `meta["modality"]` from the release.
"""

import json
from collections.abc import Iterator
from pathlib import Path

from medmo.clinical.answers import option_letters
from medmo.clinical.tasks import MULTIPLE_CHOICE

from .base import Problem, Record, image_problem, size_of, wanted


SOURCE = "omnimedvqa"


def read(root: Path, splits=None) -> Iterator[Record | Problem]:
    """The open-access questions (split `test`)."""
    root = Path(root)
    folder = root / "QA_information" / "Open-access"
    files = sorted(folder.glob("*.json"))
    if not files:
        raise FileNotFoundError(f"no JSON files under {folder}")
    if not wanted("test", splits):
        return
    for path in files:
        for index, record in enumerate(json.loads(path.read_text(encoding="utf-8"))):
            where = f"{path.name}[{index}]"
            options = [str(record[f"option_{letter}"]) for letter in "ABCD" if record.get(f"option_{letter}") not in (None, "")]
            answer = str(record.get("gt_answer", ""))
            image = root / str(record.get("image_path", ""))
            if answer not in options or not record.get("question"):
                yield Problem(where, "missing question, or the answer is not among the options")
            elif size_of(image) is None:
                yield image_problem(where, image.name)
            else:
                meta = {"modality": record.get("modality_type", record.get("modality"))}
                yield Record(f"{SOURCE}-{record.get('question_id', index)}", SOURCE, "test", MULTIPLE_CHOICE, where, images=[str(image)],
                             question=record["question"], options=options, answer=option_letters(len(options))[options.index(answer)],
                             meta=meta)  # fmt: skip


__all__ = ["read"]
