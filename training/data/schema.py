# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""The training data schema: what one SFT row and one GRPO row look like, and their validation.

SFT row (stages 1-3), one JSON object per line:

    {"id": "nih-00001", "images": ["images/00001.png"],
     "messages": [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Detect ..."}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Nodule <box>[[12, 40, 80, 96]]</box>"}]}],
     "source": "nih_chestxray14"}

GRPO row (stage 4):

    {"id": "...", "images": ["images/00001.png"],
     "prompt": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "..."}]}],
     "task": "grounding" | "vqa" | "report" | ..., "solution": "target text or answer",
     "image_size": [W, H], "labels": ["Nodule"], "report": "reference report", "options": [...],
     "answer_type": "closed" | "open" | "multiple_choice"}

`task` and `answer_type` take the names of `medmo.clinical.tasks`.

Image paths are relative to the JSONL file (or absolute); any format `load_image` reads works,
DICOM included. Every `{"type": "image"}` placeholder needs one entry in `images`, in order.
"""

from collections.abc import Mapping

from medmo.clinical.tasks import ANSWER_KINDS, GRPO_TASKS


ROLES = ("system", "user", "assistant")


class RowError(ValueError):
    """A row breaks the schema; the message says what is wrong and how to fix it."""


def _placeholders(messages) -> int:
    count = 0
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            count += sum(1 for item in content if isinstance(item, Mapping) and item.get("type") == "image")
    return count


def _check_messages(messages, field: str) -> None:
    if not isinstance(messages, list) or not messages:
        raise RowError(f"`{field}` must be a non-empty list of chat messages")
    for position, message in enumerate(messages):
        if not isinstance(message, Mapping) or message.get("role") not in ROLES:
            raise RowError(f"`{field}[{position}]` needs a role in {ROLES}")
        content = message.get("content")
        if isinstance(content, str):
            continue
        if not isinstance(content, list) or not all(isinstance(item, Mapping) and "type" in item for item in content):
            raise RowError(f"`{field}[{position}].content` must be a string or a list of {{'type': ...}} items")


def _check_images(row: Mapping, messages) -> None:
    images = row.get("images") or []
    if not isinstance(images, list):
        raise RowError("`images` must be a list of image paths")
    expected = _placeholders(messages)
    if expected != len(images):
        raise RowError(f"{expected} image placeholder(s) in the messages but {len(images)} entr(y/ies) in `images`")


def validate_sft_row(row: Mapping) -> None:
    """Raise `RowError` unless `row` is a valid SFT row (messages ending with the assistant's answer)."""
    messages = row.get("messages")
    _check_messages(messages, "messages")
    if messages[-1].get("role") != "assistant":
        raise RowError("the last message must be the assistant's answer (the training target)")
    _check_images(row, messages)


def validate_grpo_row(row: Mapping) -> None:
    """Raise `RowError` unless `row` is a valid GRPO row (a prompt without the answer, plus ground truth)."""
    prompt = row.get("prompt")
    _check_messages(prompt, "prompt")
    if prompt[-1].get("role") != "user":
        raise RowError("the prompt must end with the user's turn; the answer goes in `solution`")
    _check_images(row, prompt)
    task = row.get("task")
    if task is not None and task not in GRPO_TASKS:
        raise RowError(f"unknown task {task!r}; use one of {tuple(GRPO_TASKS)}")
    if row.get("answer_type") is not None and row["answer_type"] not in ANSWER_KINDS:
        raise RowError(f"unknown answer_type {row['answer_type']!r}; use one of {ANSWER_KINDS}")
    if not any(row.get(key) not in (None, "", []) for key in ("solution", "labels", "report", "boxes")):
        raise RowError("no ground truth: give `solution`, `labels`, `report` or `boxes`")
    size = row.get("image_size")
    if size is not None and not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, (int, float)) and v > 0 for v in size)):
        raise RowError("`image_size` must be [width, height] in pixels of the frame the boxes are in")


VALIDATORS = {"sft": validate_sft_row, "grpo": validate_grpo_row}

__all__ = ["RowError", "VALIDATORS", "validate_grpo_row", "validate_sft_row"]
