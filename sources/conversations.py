# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Conversation and instruction sets (training data only).

- LLaVA format (PubMedVision, Quilt-LLaVA, ...): a JSON list, JSONL or Parquet table of records
  with `image` (a path relative to `images_dir`, or a list of them) and `conversations`
  `[{"from": "human" | "gpt" | "system", "value": "...<image>..."}]`. Each `<image>` marks where an
  image goes (prepended to the first user turn when the text has none). One conversation record
  per record, ending with the assistant's answer.
- Instruction tables (Medical Meadow, AlpaCare, MedQuAD, medical-o1, ...): columns `instruction`,
  `input` (optional) and `output`, renamable by options of the same names; option `reasoning`
  names a chain-of-thought column, kept in `meta["reasoning"]`. One open-answer text record per row.

Option `file` picks the table (default: the only one), `source` names the set.
"""

import json
from collections.abc import Iterator
from pathlib import Path

from medmo.clinical.tasks import CONVERSATION, OPEN

from .base import INVALID_JSON, Problem, Record, image_problem, size_of
from .generic import rows, table


ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"}


def _records(path: Path) -> Iterator[tuple[str, int, dict | None]]:
    """Rows of a table; a `.json` file may also be one JSON list (LLaVA's own format)."""
    if path.suffix == ".json":
        text = path.read_text(encoding="utf-8")
        if text.lstrip().startswith("["):
            for index, record in enumerate(json.loads(text)):
                yield f"{path.name}[{index}]", index, record if isinstance(record, dict) else None
            return
    yield from rows(path)


def _messages(turns: list) -> tuple[list[dict], int]:
    """Chat messages of LLaVA turns, and how many `<image>` marks they hold (KeyError / TypeError
    for a malformed turn)."""
    messages, placed = [], 0
    for turn in turns:
        role, text = ROLES[str(turn["from"]).lower()], str(turn["value"])
        content = []
        for index, piece in enumerate(text.split("<image>")):
            if index:
                content.append({"type": "image"})
                placed += 1
            if piece.strip():
                content.append({"type": "text", "text": piece.strip()})
        messages.append({"role": role, "content": content})
    return messages, placed


def llava(root: Path, splits=None, file: str | None = None, images_dir: str = "", source: str | None = None) -> Iterator[Record | Problem]:
    """LLaVA-format conversations (all split `train`)."""
    path = table(root, file)
    source = source or path.stem
    if splits is not None and "train" not in splits:
        return
    folder = Path(root) / images_dir if Path(root).is_dir() else path.parent
    for where, number, record in _records(path):
        if not isinstance(record, dict) or not isinstance(record.get("conversations"), list) or not record["conversations"]:
            yield Problem(where, "no conversations")
            continue
        paths = record.get("image") or []
        images = [folder / p for p in ([paths] if isinstance(paths, str) else list(paths))]
        if (missing := next((image for image in images if size_of(image) is None), None)) is not None:
            yield image_problem(where, missing, folder)
            continue
        try:
            messages, placed = _messages(record["conversations"])
        except (KeyError, TypeError):
            yield Problem(where, "malformed turn")
            continue
        if placed == 0 and images:
            first_user = next((m for m in messages if m["role"] == "user"), None)
            if first_user is None:
                yield Problem(where, "no user turn")
                continue
            first_user["content"] = [{"type": "image"}] * len(images) + first_user["content"]
        elif placed != len(images):
            yield Problem(where, f"{placed} <image> tags for {len(images)} images")
            continue
        if messages[-1]["role"] != "assistant":
            yield Problem(where, "the conversation does not end with an answer")
            continue
        yield Record(f"{source}-{where}", source, "train", CONVERSATION, where, images=[str(i) for i in images], conversation=messages)


def instruction(root: Path, splits=None, file: str | None = None, instruction: str = "instruction", input: str = "input",
                output: str = "output", reasoning: str | None = None, source: str | None = None) -> Iterator[Record | Problem]:  # fmt: skip
    """Instruction / output rows as text questions (all split `train`)."""
    path = table(root, file)
    source = source or path.stem
    if splits is not None and "train" not in splits:
        return
    for where, number, record in _records(path):
        if not isinstance(record, dict):
            yield Problem(where, INVALID_JSON)
            continue
        prompt = "\n\n".join(str(record.get(column) or "").strip() for column in (instruction, input)).strip()
        answer = str(record.get(output) or "").strip()
        if not prompt or not answer:
            yield Problem(where, "empty instruction or output")
            continue
        thought = str(record.get(reasoning) or "").strip() if reasoning else ""
        meta = {"reasoning": thought} if thought else {}
        yield Record(f"{source}-{where}", source, "train", OPEN, where, question=prompt, answer=answer, meta=meta)


__all__ = ["instruction", "llava"]
