# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Records (`medmo.sources`) as training rows: the SFT row every record makes, and the GRPO row of
records a reward can score. Prompts come from `medmo.clinical.prompts`; box targets are written by
the processor in its frame (`format_boxes`), with the frame's size from `frame_size`.

- grounding: the boxes as target text (or "No abnormalities detected."), GRPO row `task:
  grounding` with `solution`, `image_size` (the frame's `[W, H]`) and `labels`;
- report: the report, GRPO row `task: report` with `report`;
- caption: the caption (SFT only);
- closed / open / multiple choice: the question (options lettered) and its answer (the letter for
  multiple choice); a GRPO row with `solution`, `options` and `answer_type` (the record's kind,
  which the answer reward judges by) when the answer can be checked: yes / no, a letter, or a
  release's closed-set answer (`meta["closed_answer"]`);
- conversation: the messages as they are (SFT only).
"""

from collections.abc import Iterator

from medmo.clinical.prompts import NO_FINDINGS, SYSTEM_PROMPT, format_question, pick
from medmo.clinical.tasks import ANSWER_KINDS, CAPTION, CLOSED, CONVERSATION, GROUNDING, MULTIPLE_CHOICE, REPORT, grpo_task
from medmo.sources import Record

from .base import Row


def user(text: str, images: int = 1) -> list[dict]:
    return [{"role": "user", "content": [{"type": "image"}] * images + [{"type": "text", "text": text}]}]


def assistant(text: str) -> dict:
    return {"role": "assistant", "content": [{"type": "text", "text": text}]}


def sft_row(sample_id: str, source: str, images: list[str], prompt: str, answer: str) -> dict:
    return {"id": sample_id, "source": source, "images": images, "messages": [*user(prompt, len(images)), assistant(answer)]}


def grounding_target(processor, boxes: list[dict], image_size) -> str:
    """Target text for boxes in original pixels, in the processor's frame (or the no-findings text)."""
    return processor.format_boxes(boxes, image_size) if boxes else NO_FINDINGS


def grounding_grpo_row(record: Record, prompt: str, target: str, processor) -> dict:
    """The GRPO row of a grounding record: the target, the frame's size and the labels."""
    return {"id": record.id, "source": record.source, "images": list(record.images), "task": GROUNDING,
            "prompt": [{"role": "system", "content": [{"type": "text", "text": SYSTEM_PROMPT}]}, *user(prompt, len(record.images))],
            "solution": target, "image_size": [round(v) for v in processor.frame_size(record.image_size)],
            "labels": sorted({box["label"] for box in record.boxes}) or None}  # fmt: skip


def answer_text(record: Record) -> str:
    """The target of a question: the answer, after its reasoning when the release has one (in the
    `<think>` / `<answer>` format the GRPO format reward checks)."""
    reasoning = record.meta.get("reasoning")
    return f"<think>{reasoning}</think><answer>{record.answer}</answer>" if reasoning else record.answer


def record_rows(record: Record, processor, prompt_task: str | None = None) -> Iterator[Row]:
    """The rows of a record whose images are files. `prompt_task` picks the prompt bank of
    grounding (`grounding`, `microscopy`) or caption (`caption`, `report`) records."""
    images, split = list(record.images), record.split
    if record.kind == GROUNDING:
        prompt = record.question or pick(prompt_task or "grounding", record.id)
        target = grounding_target(processor, record.boxes, record.image_size)
        yield Row(split, sft_row(record.id, record.source, images, prompt, target))
        yield Row(split, grounding_grpo_row(record, prompt, target, processor), kind="grpo")
    elif record.kind == REPORT:
        prompt = pick("report", record.id)
        yield Row(split, sft_row(record.id, record.source, images, prompt, record.report))
        yield Row(split, {"id": record.id, "source": record.source, "images": images, "task": REPORT, "prompt": user(prompt, len(images)),
                          "report": record.report}, kind="grpo")  # fmt: skip
    elif record.kind == CAPTION:
        yield Row(split, sft_row(record.id, record.source, images, pick(prompt_task or "caption", record.id), record.report))
    elif record.kind in ANSWER_KINDS:
        prompt = format_question(record.question, record.options)
        yield Row(split, sft_row(record.id, record.source, images, prompt, answer_text(record)))
        if record.kind in (CLOSED, MULTIPLE_CHOICE) or record.meta.get("closed_answer"):
            yield Row(split, {"id": record.id, "source": record.source, "images": images, "task": grpo_task(record.kind, bool(images)),
                              "prompt": user(prompt, len(images)), "solution": record.answer, "options": record.options,
                              "answer_type": record.kind}, kind="grpo")  # fmt: skip
    elif record.kind == CONVERSATION:
        yield Row(split, {"id": record.id, "source": record.source, "images": images, "messages": record.conversation})
    else:
        raise ValueError(f"No training rows for records of kind {record.kind!r}.")


__all__ = ["answer_text", "assistant", "grounding_grpo_row", "grounding_target", "record_rows", "sft_row", "user"]
