# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""CheXpert Plus.

Published layout: `df_chexpert_plus_240401.csv` with one row per image: `path_to_image` (the
original JPG, `train/patient.../study.../view1_frontal.jpg`), `frontal_lateral`,
`section_findings`, `section_impression`, `split` (`train`, `valid`; the test split is private)
and more; images where the CSV says, or in the PNG release under `PNG/` with the same path and a
`.png` suffix.

Rows repeat their study's report, so each study (the image's folder) is one report record, on its
first frontal image (else its first image); the report is its FINDINGS and IMPRESSION.
"""

import csv
from collections.abc import Iterator
from pathlib import Path

from medmo.clinical.reports import report_target
from medmo.clinical.tasks import REPORT

from .base import NO_REPORT_SECTIONS, Problem, Record, image_problem, numbered, require, size_of, split_name, wanted


SOURCE = "chexpert_plus"


def image_path(root: Path, relative: str) -> Path:
    """The image a CSV row names: the original JPG where the CSV says, else the PNG release's copy."""
    candidates = (root / relative, root / "PNG" / Path(relative).with_suffix(".png"))
    return next((path for path in candidates if path.exists()), candidates[0])


def read(root: Path, splits=None) -> Iterator[Record | Problem]:
    """The studies of the selected splits (`train`, `validation`)."""
    root = Path(root)
    path = require(root, "df_chexpert_plus_240401.csv")
    studies: dict[tuple[str, str], tuple[int, dict]] = {}
    with open(path, encoding="utf-8") as file:
        for line, record in numbered(csv.DictReader(file)):
            split = split_name(record.get("split") or "")
            if not wanted(split, splits):
                continue
            study = (split, str(Path(str(record.get("path_to_image") or "")).parent))
            kept = studies.get(study)
            if kept is None or (kept[1].get("frontal_lateral") != "Frontal" and record.get("frontal_lateral") == "Frontal"):
                studies[study] = (line, record)
    for (split, _), (line, record) in studies.items():
        where = f"{path.name}:{line}"
        report = report_target({"FINDINGS": " ".join(str(record.get("section_findings") or "").split()),
                                "IMPRESSION": " ".join(str(record.get("section_impression") or "").split())})  # fmt: skip
        image = image_path(root, str(record.get("path_to_image") or ""))
        if report is None:
            yield Problem(where, NO_REPORT_SECTIONS)
        elif size_of(image) is None:
            yield image_problem(where, image.name)
        else:
            yield Record(f"{SOURCE}-{line}", SOURCE, split, REPORT, where, images=[str(image)], report=report)


__all__ = ["image_path", "read"]
