# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Radiology report text: sections of free-text reports, and the target text MedMO generates."""

import re


# A section header in MIMIC-CXR's free text: an upper-case name and a colon at a line start.
_SECTION = re.compile(r"^\s*([A-Z][A-Z /&()-]+):", re.MULTILINE)
FRONTAL_VIEWS = ("PA", "AP")


def report_sections(text: str) -> dict[str, str]:
    """Upper-case sections of a radiology report (`FINDINGS`, `IMPRESSION`, ...), whitespace collapsed."""
    matches = list(_SECTION.finditer(text))
    sections = {}
    for match, following in zip(matches, [*matches[1:], None]):
        body = text[match.end() : following.start() if following else len(text)]
        sections[match.group(1).strip()] = " ".join(body.split())
    return sections


def report_target(sections: dict[str, str]) -> str | None:
    findings, impression = sections.get("FINDINGS", ""), sections.get("IMPRESSION", "")
    if not findings and not impression:
        return None
    return " ".join(part for part in (f"FINDINGS: {findings}" if findings else "", f"IMPRESSION: {impression}" if impression else "") if part)


__all__ = ["FRONTAL_VIEWS", "report_sections", "report_target"]
