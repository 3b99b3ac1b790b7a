# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""IU X-Ray (Open-i): chest radiographs with XML reports.

Published layout: reports as XML files (`ecgen-radiology/*.xml`) or the `NLMCXR_reports.tgz`
archive; each names its `uId`, its FINDINGS and IMPRESSION (`AbstractText` elements), its MeSH
"major" terms and its images (`parentImage` ids); PNG images `images/<parentImage id>.png`. There
is no official split: `split_of` gives a stable 80/10/10 split by a hash of the report id.

`read` yields one report record per report, on the first of its images that exists. The MeSH
terms, assigned by human indexers, map onto MedMO's findings (`MESH_TO_FINDING`) as an independent
reference for the findings extractor (its agreement test and bench). Everything but `read` uses
the standard library only, so the bench loads this file on its own in other environments.
"""

import hashlib
import re
import tarfile
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from pathlib import Path


# First term of a MeSH "major" heading -> canonical finding. Terms with no counterpart among the
# 21 findings (anatomy, calcified granuloma, degenerative changes, ...) are not mapped.
MESH_TO_FINDING = {
    "normal": "No Finding",
    "Cardiomegaly": "Cardiomegaly",
    "Opacity": "Lung Opacity",
    "Airspace Disease": "Lung Opacity",
    "Pulmonary Atelectasis": "Atelectasis",
    "Pleural Effusion": "Pleural Effusion",
    "Nodule": "Nodule",
    "Mass": "Mass",
    "Fractures, Bone": "Fracture",
    "Infiltrate": "Infiltration",
    "Emphysema": "Emphysema",
    "Pulmonary Emphysema": "Emphysema",
    "Pulmonary Edema": "Edema",
    "Pulmonary Congestion": "Edema",
    "Pneumonia": "Pneumonia",
    "Consolidation": "Consolidation",
    "Pneumothorax": "Pneumothorax",
    "Hernia, Hiatal": "Hernia",
    "Pulmonary Fibrosis": "Fibrosis",
    "Cicatrix": "Fibrosis",
    "Catheters, Indwelling": "Support Devices",
    "Implanted Medical Device": "Support Devices",
    "Tube, Inserted": "Support Devices",
    "Medical Device": "Support Devices",
    "Stents": "Support Devices",
    "Surgical Instruments": "Support Devices",
}


def _section(root, label: str) -> str:
    for node in root.iter("AbstractText"):
        if node.get("Label", "").upper() == label:
            return (node.text or "").strip()
    return ""


def parse_report(xml_text: str) -> dict:
    """One IU X-Ray report: id, FINDINGS, IMPRESSION, MeSH major terms, mapped findings, image ids."""
    root = ElementTree.fromstring(xml_text)
    identifier = root.find("uId")
    major = [node.text.strip() for node in root.iter("major") if node.text]
    findings = {MESH_TO_FINDING[term.split("/")[0]] for term in major if term.split("/")[0] in MESH_TO_FINDING}
    for term in major:
        head, *qualifiers = term.split("/")
        if head == "Thickening" and "pleura" in qualifiers:
            findings.add("Pleural Thickening")
        if head == "Cardiac Shadow" and "enlarged" in qualifiers:  # an enlarged cardiac silhouette
            findings.add("Cardiomegaly")
    return {
        "id": identifier.get("id") if identifier is not None else "",
        "findings": _section(root, "FINDINGS"),
        "impression": _section(root, "IMPRESSION"),
        "mesh_major": major,
        "mesh_findings": sorted(findings),
        "images": [node.get("id") for node in root.iter("parentImage")],
    }


def read_reports(source: str | Path) -> Iterator[dict]:
    """Reports from the release: a folder of XML files or the `NLMCXR_reports.tgz` archive."""
    source = Path(source)
    if source.is_dir():
        for path in sorted(source.rglob("*.xml"), key=lambda p: int(re.sub(r"\D", "", p.stem) or 0)):
            yield parse_report(path.read_text(encoding="utf-8"))
        return
    with tarfile.open(source) as archive:
        members = sorted((m for m in archive.getmembers() if m.name.endswith(".xml")), key=lambda m: m.name)
        for member in members:
            yield parse_report(archive.extractfile(member).read().decode("utf-8"))


def split_of(report_id: str) -> str:
    """IU X-Ray has no official split: a stable 80/10/10 train/validation/test split by a hash of
    the report id, shared by the converter and the evaluation so the two never overlap."""
    bucket = int(hashlib.sha1(report_id.encode()).hexdigest(), 16) % 10
    return "test" if bucket == 0 else ("validation" if bucket == 1 else "train")


# The findings extractor's own halves of IU X-Ray, for rule work only (not the converter's split):
# rules and lexicon are corrected on "dev" reports; "test" reports are only ever scored. The salt
# makes the halves independent of `split_of`'s buckets (an unsalted `sha1 % 2` would put every
# converter test report in one half).
EXTRACTOR_HALF_SALT = "medmo-findings-extractor-half:"


def extractor_half(report_id: str) -> str:
    """`"dev"` or `"test"`: the findings extractor's fixed 50/50 split of IU X-Ray by report id.

    Used only to develop and report the rule engine against MeSH terms (`bench/findings.py`):
    read misses on the dev half, report the test half. Unrelated to `split_of`, the
    train/validation/test split that model training and evaluation share.
    """
    digest = hashlib.sha1((EXTRACTOR_HALF_SALT + report_id).encode()).digest()
    return "test" if digest[0] % 2 else "dev"


def read(root: Path, splits=None):
    """Report records of the selected splits (`train`, `validation`, `test`): the report is its
    FINDINGS and IMPRESSION; a report without them, or without an image file, is a problem."""
    # Imported here so that the module itself needs only the standard library (see the docstring).
    from medmo.clinical.reports import report_target
    from medmo.clinical.tasks import REPORT

    from .base import NO_REPORT_SECTIONS, Problem, Record, image_problem, require, size_of, wanted

    root = Path(root)
    source = require(root, "ecgen-radiology", "NLMCXR_reports.tgz")
    for report in read_reports(source):
        split = split_of(report["id"])
        if not wanted(split, splits):
            continue
        where = f"{source.name}/{report['id']}"
        target = report_target({"FINDINGS": report["findings"], "IMPRESSION": report["impression"]})
        candidates = [root / "images" / f"{name}.png" for name in report["images"]]
        image = next((path for path in candidates if size_of(path) is not None), None)
        if target is None:
            yield Problem(where, NO_REPORT_SECTIONS)
        elif image is None:
            yield image_problem(where, candidates[0] if candidates else "no image listed", root)
        else:
            yield Record(f"iu_xray-{report['id']}", "iu_xray", split, REPORT, where, images=[str(image)], report=target)


def torchxrayvision_reports_archive() -> Path | None:
    """The IU X-Ray reports archive the torchxrayvision wheel ships (installed with --no-deps), if any."""
    import importlib.util

    spec = importlib.util.find_spec("torchxrayvision")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "NLMCXR_reports.tgz"
    return path if path.exists() else None


__all__ = ["MESH_TO_FINDING", "extractor_half", "parse_report", "read", "read_reports", "split_of", "torchxrayvision_reports_archive"]
