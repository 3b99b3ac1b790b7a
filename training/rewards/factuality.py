# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Factuality rewards: are the findings the completion states the findings that are there?

Findings are read by `medmo.clinical.findings` (the shared extractor), so the reward and the
evaluation's clinical F1 agree on what a report says.
"""

from functools import lru_cache

from medmo.boxes import final_answer, parse_boxes
from medmo.clinical.findings import extract_findings, normalize_label

from .common import applies, column, finite, score_rows


@lru_cache(maxsize=8192)
def _reference_findings(report: str) -> tuple:
    return tuple(extract_findings(report).items())


def _label_set(labels) -> set[str]:
    if labels is None:
        return set()
    if isinstance(labels, str):
        labels = [part for part in labels.replace(";", ",").split(",")]
    return {normalize_label(label) for label in labels if str(label).strip()}


def _f1(predicted: set, expected: set) -> float:
    if not predicted and not expected:
        return 1.0
    return 2.0 * len(predicted & expected) / (len(predicted) + len(expected))


def stated_labels(text: str) -> set[str]:
    """Finding labels a completion states: its box labels plus the findings its answer asserts."""
    answer = final_answer(text)
    labels = {normalize_label(item["label"]) for item in parse_boxes(answer) if item["label"]}
    labels |= {name for name, status in extract_findings(answer).items() if status == "positive"}
    return labels


class LabelAccuracyReward:
    """F1 between the finding labels a completion states (box labels and asserted findings, normalised
    through the findings lexicon: synonyms, case, plurals) and the row's `labels` column (or, for
    grounding rows, the labels of its target boxes). None for rows without labels.

    >>> label_accuracy_reward(["Nodule <box>[[1, 2, 3, 4]]</box>"], labels=[["nodules", "Mass"]])
    [0.6666666666666666]
    """

    __name__ = "label_accuracy_reward"

    def __call__(self, completions, labels=None, solution=None, log_metric=None, **kwargs):
        columns = {"labels": labels, "solution": solution, **kwargs}

        def score(index: int, text: str):
            truth = _label_set(column(columns, "labels", index))
            if not truth and applies(columns, index, "grounding"):
                target = column(columns, "solution", index)
                truth = {normalize_label(i["label"]) for i in parse_boxes(target) if i["label"]} if isinstance(target, str) else set()
            if not truth:
                return None
            predicted = stated_labels(text)
            return _f1(predicted, truth), predicted

        return score_rows(completions, score, log_metric, "label_accuracy_reward/parse_rate")


label_accuracy_reward = LabelAccuracyReward()


def report_score(generated: dict[str, str], reference: dict[str, str]) -> float:
    """F1 over positive findings minus the share of findings the two reports contradict, in [-1, 1].

    A contradiction is a finding one report asserts and the other denies; the share is taken over
    every finding either report mentions. Two reports with no positive finding have F1 1.
    """
    positive_generated = {name for name, status in generated.items() if status == "positive"}
    positive_reference = {name for name, status in reference.items() if status == "positive"}
    mentioned = set(generated) | set(reference)
    contradicted = sum(
        1
        for name in mentioned
        if {generated.get(name), reference.get(name)} == {"positive", "negative"}
    )
    return finite(_f1(positive_generated, positive_reference) - contradicted / max(1, len(mentioned)), -1.0, 1.0)


def _reference(report, labels) -> dict[str, str] | None:
    if isinstance(report, str) and report.strip():
        return dict(_reference_findings(report))
    if isinstance(labels, dict):
        return {normalize_label(name): str(status) for name, status in labels.items()}
    if labels:
        return dict.fromkeys(_label_set(labels), "positive")
    return None


class ReportFactualityReward:
    """Compares the findings of a generated report with the reference `report` column (or a `labels`
    column: positive finding names, or `{finding: status}`) through `extract_findings`; scores
    `report_score` in [-1, 1]. None for rows without a reference.

    >>> report_factuality_reward(["Small left pleural effusion. No pneumothorax."],
    ...                          report=["Left pleural effusion. No pneumothorax or consolidation."])
    [1.0]
    """

    __name__ = "report_factuality_reward"

    def __call__(self, completions, report=None, labels=None, log_metric=None, **kwargs):
        columns = {"report": report, "labels": labels, **kwargs}

        def score(index: int, text: str):
            reference = _reference(column(columns, "report", index), column(columns, "labels", index))
            if reference is None or not applies(columns, index, "report"):
                return None
            generated = extract_findings(final_answer(text))
            return report_score(generated, reference), generated

        return score_rows(completions, score, log_metric, "report_factuality_reward/parse_rate")


report_factuality_reward = ReportFactualityReward()

__all__ = ["label_accuracy_reward", "report_factuality_reward", "report_score", "stated_labels"]
