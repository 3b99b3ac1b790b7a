# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Conversation-style sets: LLaVA-format image conversations (PubMedVision, Quilt-LLaVA, ...) and
text instruction sets (`instruction` / `input` / `output` tables: Medical Meadow, AlpaCare,
MedQuAD, medical-o1, ...)."""

import json
from pathlib import Path

from .base import Context, Reject, Row, image_size
from .generic import _records, _table


ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"}


def _llava_records(path: Path):
    if path.suffix == ".json":
        records = json.loads(path.read_text(encoding="utf-8"))
        for index, record in enumerate(records if isinstance(records, list) else []):
            yield f"{path.name}[{index}]", record
    else:
        yield from _records(path)


def llava(context: Context):
    """LLaVA format: records with `image` (a path relative to the raw folder, or a list of paths)
    and `conversations` [{"from": "human"|"gpt", "value": "...<image>..."}]. Each `<image>`
    becomes an image placeholder (prepended to the first turn when the text has none). Option
    `file` picks the table; `images_dir` the folder image paths are relative to."""
    table = _table(context)
    if table is None or not table.exists():
        yield Reject("no table: pass option file=<name> (.json / .jsonl / .parquet)", str(context.raw))
        return
    images_dir = context.raw / context.options.get("images_dir", "")
    source = context.options.get("source", table.stem)
    for where, record in _llava_records(table):
        if not isinstance(record, dict) or not isinstance(record.get("conversations"), list) or not record["conversations"]:
            yield Reject("no conversations", where)
            continue
        paths = record.get("image") or []
        paths = [paths] if isinstance(paths, str) else list(paths)
        images = [images_dir / p for p in paths]
        if any(image_size(image) is None for image in images):
            yield Reject("image not found", where)
            continue
        messages, placed = [], 0
        try:
            for turn in record["conversations"]:
                role, text = ROLES[str(turn["from"]).lower()], str(turn["value"])
                pieces = text.split("<image>")
                content = []
                for index, piece in enumerate(pieces):
                    if index:
                        content.append({"type": "image"})
                        placed += 1
                    if piece.strip():
                        content.append({"type": "text", "text": piece.strip()})
                messages.append({"role": role, "content": content})
        except (KeyError, TypeError):
            yield Reject("malformed turn", where)
            continue
        if placed == 0 and images:
            first_user = next(m for m in messages if m["role"] == "user")
            first_user["content"] = [{"type": "image"}] * len(images) + first_user["content"]
        elif placed != len(images):
            yield Reject(f"{placed} <image> tags for {len(images)} images", where)
            continue
        if messages[-1]["role"] != "assistant":
            yield Reject("the conversation does not end with an answer", where)
            continue
        yield Row("train", {"id": f"{source}-{where}", "source": source, "images": [str(i) for i in images], "messages": messages})


def instruction(context: Context):
    """Text instruction tables: columns `instruction`, `input` (optional), `output` (renamable with
    options of the same names); option `reasoning` names a chain-of-thought column, written as
    `<think>...</think><answer>...</answer>` (the format the GRPO format reward checks)."""
    table = _table(context)
    if table is None or not table.exists():
        yield Reject("no table: pass option file=<name> (.csv / .jsonl / .parquet)", str(context.raw))
        return
    options = context.options
    source = options.get("source", table.stem)
    for where, record in _records(table) if table.suffix != ".json" else _llava_records(table):
        if not isinstance(record, dict):
            yield Reject("invalid JSON", where)
            continue
        prompt = "\n\n".join(str(record.get(options.get(key, key)) or "").strip() for key in ("instruction", "input")).strip()
        answer = str(record.get(options.get("output", "output")) or "").strip()
        if not prompt or not answer:
            yield Reject("empty instruction or output", where)
            continue
        if options.get("reasoning") and str(record.get(options["reasoning"]) or "").strip():
            answer = f"<think>{str(record[options['reasoning']]).strip()}</think><answer>{answer}</answer>"
        yield Row("train", {"id": f"{source}-{where}", "source": source, "images": [], "messages": [
            {"role": "user", "content": [{"type": "text", "text": prompt}]},
            {"role": "assistant", "content": [{"type": "text", "text": answer}]}]})  # fmt: skip


__all__ = ["instruction", "llava"]
