# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Report sets: MIMIC-CXR (FINDINGS / IMPRESSION of the free-text reports) and IU X-Ray (XML).
Each study becomes a report-generation SFT row and a GRPO row for the factuality reward."""

import csv

from medmo.clinical.iu_xray import read_reports, split_of
from medmo.clinical.reports import FRONTAL_VIEWS, report_sections, report_target

from medmo.clinical.prompts import pick
from .base import Context, Reject, Row, image_size, open_text, sft_row, user


def report_rows(sample_id: str, source: str, split: str, image, report: str):
    prompt = pick("report", sample_id)
    yield Row(split, sft_row(sample_id, source, [str(image)], prompt, report))
    yield Row(split, {"id": sample_id, "source": source, "images": [str(image)], "task": "report", "prompt": user(prompt), "report": report}, kind="grpo")


def mimic_cxr(context: Context):
    """MIMIC-CXR: `mimic-cxr-2.0.0-split.csv` (`dicom_id, study_id, subject_id, split`),
    `mimic-cxr-2.0.0-metadata.csv` (`ViewPosition`), either gzip-compressed as PhysioNet ships them, reports `files/p<NN>/p<subject>/s<study>.txt`
    and JPGs `files/p<NN>/p<subject>/s<study>/<dicom_id>.jpg` (MIMIC-CXR-JPG). One frontal image
    per study (PA before AP); studies without FINDINGS or IMPRESSION are rejected."""
    split_path, metadata_path = (next((p for p in (context.raw / name, context.raw / f"{name}.gz") if p.exists()), None)
                                 for name in ("mimic-cxr-2.0.0-split.csv", "mimic-cxr-2.0.0-metadata.csv"))  # fmt: skip
    if split_path is None or metadata_path is None:
        yield Reject("split or metadata CSV (.csv or .csv.gz) not found", str(context.raw))
        return
    with open_text(metadata_path) as file:
        views = {row["dicom_id"]: row.get("ViewPosition", "") for row in csv.DictReader(file)}
    studies: dict[str, dict] = {}
    with open_text(split_path) as file:
        for row in csv.DictReader(file):
            study = studies.setdefault(row["study_id"], {"subject": row["subject_id"], "split": row["split"], "images": []})
            study["images"].append(row["dicom_id"])
    for study_id, study in studies.items():
        folder = context.raw / "files" / f"p{study['subject'][:2]}" / f"p{study['subject']}"
        where = f"s{study_id}"
        frontal = sorted((d for d in study["images"] if views.get(d) in FRONTAL_VIEWS), key=lambda d: FRONTAL_VIEWS.index(views[d]))
        if not frontal:
            yield Reject("no frontal image", where)
            continue
        report_path, image = folder / f"s{study_id}.txt", folder / f"s{study_id}" / f"{frontal[0]}.jpg"
        if not report_path.exists():
            yield Reject("report not found", where)
            continue
        if image_size(image) is None:
            yield Reject("image not found", where)
            continue
        target = report_target(report_sections(report_path.read_text(encoding="utf-8", errors="replace")))
        if target is None:
            yield Reject("no FINDINGS or IMPRESSION section", where)
            continue
        yield from report_rows(f"mimic_cxr-s{study_id}", "mimic_cxr", {"validate": "validation"}.get(study["split"], study["split"]), image, target)


def iu_xray(context: Context):
    """IU X-Ray (Open-i): reports as XML (`ecgen-radiology/*.xml` or `NLMCXR_reports.tgz`) and PNG
    images named by each report's `parentImage` id (`images/<id>.png`). The first image of a
    report is used. No official split exists: reports are split 80/10/10 by a hash of their id."""
    source = next((p for p in (context.raw / "ecgen-radiology", context.raw / "NLMCXR_reports.tgz") if p.exists()), None)
    if source is None:
        yield Reject("ecgen-radiology/ or NLMCXR_reports.tgz not found", str(context.raw))
        return
    for report in read_reports(source):
        where = report["id"]
        target = report_target({"FINDINGS": report["findings"], "IMPRESSION": report["impression"]})
        if target is None:
            yield Reject("no FINDINGS or IMPRESSION section", where)
            continue
        image = next((context.raw / "images" / f"{i}.png" for i in report["images"] if image_size(context.raw / "images" / f"{i}.png")), None)
        if image is None:
            yield Reject("image not found", where)
            continue
        yield from report_rows(f"iu_xray-{report['id']}", "iu_xray", split_of(report["id"]), image, target)


__all__ = ["iu_xray", "mimic_cxr"]
