# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""What every benchmark task shares: the `Sample` the runner generates for, and records
(`medmo.sources`) turned into samples.

A sample is asked with the prompts the recipes train with: questions with their options lettered
(`format_question`), the first report prompt, the first grounding (or microscopy) prompt unless the
record brings its own question. References stay in the benchmark's own terms: answers as text or
option letters, boxes in original-image pixels. Images that are not plain files (embedded in
Parquet, or read with a window) are written once to the cache (`medmo.sources.cache_dir()`), never
into the benchmark's folder.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from medmo.clinical.prompts import evaluation_prompt, format_question
from medmo.clinical.tasks import ANSWER_KINDS, GROUNDING, REPORT
from medmo.sources import Problem, Record, cache_dir, materialise


UNSCORED = "needs question + answer (an option's letter or text), report, or boxes"


@dataclass
class Sample:
    id: str
    task: str
    kind: str  # one of medmo.clinical.tasks.KINDS
    prompt: str  # the user text, options already lettered
    reference: object  # answer text, option letter, report text, or [{"label", "box"}] in original pixels
    images: list[str] = field(default_factory=list)
    options: list[str] | None = None
    image_size: list[int] | None = None  # original (width, height) of the first image, for grounding
    meta: dict = field(default_factory=dict)


def to_sample(record: Record, task: str, grounding_prompt: str = "grounding") -> Sample | Problem:
    """The sample of a record (its images made files in the cache), or the problem that stops it.
    `grounding_prompt` names the prompt of grounding records without a question of their own."""
    record = materialise(record, cache_dir() / "images")
    if isinstance(record, Problem):
        return record
    common = dict(id=record.id, task=task, images=list(record.images), meta=record.meta)
    if record.kind == GROUNDING:
        prompt = record.question or evaluation_prompt(grounding_prompt)
        return Sample(kind=GROUNDING, prompt=prompt, reference=record.boxes, image_size=list(record.image_size), **common)
    if record.kind == REPORT:
        return Sample(kind=REPORT, prompt=evaluation_prompt("report"), reference=record.report, **common)
    if record.kind in ANSWER_KINDS:
        return Sample(kind=record.kind, prompt=format_question(record.question, record.options), reference=record.answer,
                      options=record.options, **common)  # fmt: skip
    return Problem(record.location, UNSCORED)


def samples(items: Iterable[Record | Problem], task: str, grounding_prompt: str = "grounding") -> Iterator[Sample | Problem]:
    """Samples of task `task` from a reader's records, its problems passed on."""
    for item in items:
        yield item if isinstance(item, Problem) else to_sample(item, task, grounding_prompt)


__all__ = ["UNSCORED", "Sample", "samples", "to_sample"]
