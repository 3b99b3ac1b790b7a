# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""The task vocabulary: what a record asks of the model (its kind), and the names GRPO rows use.

One list for the data readers (`medmo.sources`), the converters, the rewards and the evaluation:

- a record's **kind**: `closed` (yes / no), `open` (a short free answer), `multiple_choice` (an
  option letter), `report` (a radiology report), `grounding` (boxes), and for training data only
  `caption` (a free description) and `conversation` (a whole chat, e.g. LLaVA-style sets);
- a GRPO row's **task** column, which says which rewards score the row: the names the converters
  write and the aliases earlier data used, each belonging to one reward family (`grounding`,
  `answer` or `report`).

>>> task_family("closed_vqa"), grpo_task(MULTIPLE_CHOICE, with_images=False)
('answer', 'multiple_choice')
"""

CLOSED = "closed"
OPEN = "open"
MULTIPLE_CHOICE = "multiple_choice"
REPORT = "report"
GROUNDING = "grounding"
CAPTION = "caption"
CONVERSATION = "conversation"

ANSWER_KINDS = (CLOSED, OPEN, MULTIPLE_CHOICE)
# What evaluation scores (a benchmark sample is one of these).
KINDS = (*ANSWER_KINDS, REPORT, GROUNDING)
# What a data record may be.
RECORD_KINDS = (*KINDS, CAPTION, CONVERSATION)

# GRPO `task` column value -> reward family: the box rewards score `grounding` rows, the answer
# reward `answer` rows, the factuality reward `report` rows. The first name of each family is what converters
# write for grounding and reports; answers are written by kind (see `grpo_task`).
GRPO_TASKS = {
    "grounding": "grounding",
    "detection": "grounding",
    "vqa": "answer",
    "closed_vqa": "answer",
    "open_vqa": "answer",
    "multiple_choice": "answer",
    "text_qa": "answer",
    "qa": "answer",
    "report": "report",
    "report_generation": "report",
    "caption": "report",
    "findings": "report",
}


def task_family(task) -> str | None:
    """The reward family of a GRPO `task` value (case-insensitive), None for an unknown one."""
    return GRPO_TASKS.get(str(task).lower()) if task is not None else None


def grpo_task(kind: str, with_images: bool) -> str:
    """The `task` column a converter writes for a record of `kind`."""
    if kind in (GROUNDING, REPORT):
        return kind
    if kind == MULTIPLE_CHOICE:
        return MULTIPLE_CHOICE
    if kind in ANSWER_KINDS:
        return f"{kind}_vqa" if with_images else "text_qa"
    raise ValueError(f"Records of kind {kind!r} make no GRPO rows; kinds with rewards: {(*ANSWER_KINDS, REPORT, GROUNDING)}.")


__all__ = [
    "ANSWER_KINDS",
    "CAPTION",
    "CLOSED",
    "CONVERSATION",
    "GROUNDING",
    "GRPO_TASKS",
    "KINDS",
    "MULTIPLE_CHOICE",
    "OPEN",
    "RECORD_KINDS",
    "REPORT",
    "grpo_task",
    "task_family",
]
