# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""MIMIC-CXR (reports from MIMIC-CXR, images from MIMIC-CXR-JPG).

Published layout (PhysioNet):

- `mimic-cxr-2.0.0-split.csv` (`dicom_id, study_id, subject_id, split`: train / validate / test)
  and `mimic-cxr-2.0.0-metadata.csv` (`ViewPosition` per `dicom_id`), either gzip-compressed as
  PhysioNet ships them;
- free-text reports `files/p<NN>/p<subject>/s<study>.txt` (FINDINGS / IMPRESSION sections);
- JPGs `files/p<NN>/p<subject>/s<study>/<dicom_id>.jpg`.

One report record per study, on its frontal image (PA before AP); the report is the study's
FINDINGS and IMPRESSION (`medmo.clinical.reports.report_target`).
"""

import csv
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from medmo.clinical.reports import FRONTAL_VIEWS, report_sections, report_target
from medmo.clinical.tasks import REPORT

from .base import NO_REPORT_SECTIONS, Problem, Record, image_problem, open_text, require, size_of, split_name, wanted


SOURCE = "mimic_cxr"


def read(root: Path, splits=None) -> Iterator[Record | Problem]:
    """The studies of the selected splits (`train`, `validation`, `test`)."""
    root = Path(root)
    with open_text(require(root, "mimic-cxr-2.0.0-metadata.csv", "mimic-cxr-2.0.0-metadata.csv.gz")) as file:
        views = {row["dicom_id"]: row.get("ViewPosition", "") for row in csv.DictReader(file)}
    studies = defaultdict(list)
    with open_text(require(root, "mimic-cxr-2.0.0-split.csv", "mimic-cxr-2.0.0-split.csv.gz")) as file:
        for row in csv.DictReader(file):
            split = split_name(row["split"])
            if wanted(split, splits):
                studies[(row["subject_id"], row["study_id"], split)].append(row["dicom_id"])
    for (subject, study, split), dicoms in studies.items():
        folder = root / "files" / f"p{subject[:2]}" / f"p{subject}"
        report_path = folder / f"s{study}.txt"
        where = str(report_path.relative_to(root))
        frontal = sorted((d for d in dicoms if views.get(d) in FRONTAL_VIEWS), key=lambda d: FRONTAL_VIEWS.index(views[d]))
        if not frontal:
            yield Problem(where, "no frontal image")
            continue
        if not report_path.exists():
            yield Problem(where, "report not found")
            continue
        report = report_target(report_sections(report_path.read_text(encoding="utf-8", errors="replace")))
        image = folder / f"s{study}" / f"{frontal[0]}.jpg"
        if report is None:
            yield Problem(where, NO_REPORT_SECTIONS)
        elif size_of(image) is None:
            yield image_problem(where, image, root)
        else:
            yield Record(f"{SOURCE}-s{study}", SOURCE, split, REPORT, where, images=[str(image)], report=report)


__all__ = ["read"]
