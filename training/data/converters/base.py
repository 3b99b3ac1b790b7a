# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""What every converter shares: the conversion loop, the summary, writing rows and box targets.

A converter is a generator over the raw release that yields, per raw record, either a finished
row (`Row`) or a rejection (`Reject`). `convert` drives it: rows go straight to their split's
JSONL file (so memory stays bounded whatever the input size), rejections are counted by reason
with examples, and `summary.json` says rows read, written and rejected, with
`written + rejected == read`. In strict mode the first rejection stops the conversion.
"""

import gzip
import json
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image
from tqdm.auto import tqdm

from medmo.boxes import as_array
from medmo.files import atomic_writer, write_text_atomic
from ..loading import split_file
from medmo.clinical.prompts import NO_FINDINGS, SYSTEM_PROMPT, pick


logger = logging.getLogger(__name__)
EXAMPLES = 3


@dataclass
class Row:
    """One converted row: its split, its kind (`sft` or `grpo`) and the row itself."""

    split: str
    row: dict
    kind: str = "sft"


@dataclass
class Reject:
    """A raw record that could not be converted, and why (the reason is the counting key)."""

    reason: str
    where: str


class ConversionError(ValueError):
    """Strict mode: the first raw record that cannot be converted."""


@dataclass
class Summary:
    name: str
    read: int = 0
    written: Counter = field(default_factory=Counter)
    rejected: Counter = field(default_factory=Counter)
    examples: dict = field(default_factory=dict)

    @property
    def written_records(self) -> int:
        """Records written (one SFT row each; GRPO twins are not extra records)."""
        return sum(count for file_name, count in self.written.items() if not file_name.endswith(".grpo.jsonl"))

    def as_dict(self) -> dict:
        rejected = sum(self.rejected.values())
        return {"name": self.name, "read": self.read, "written": self.written_records, "rows_by_file": dict(self.written),
                "rejected": rejected, "rejected_by_reason": dict(self.rejected), "examples": self.examples,
                "written_plus_rejected_equals_read": self.written_records + rejected == self.read}  # fmt: skip


@dataclass
class Context:
    """What a converter needs besides the raw folder: the processor (box frame) and the options."""

    raw: Path
    processor: object
    options: dict

    def grounding_target(self, boxes: list[dict], image_size) -> str:
        """Target text for boxes in original pixels, in the processor's frame (or the no-findings text)."""
        return self.processor.format_boxes(boxes, image_size) if boxes else NO_FINDINGS

    def frame_size(self, image_size) -> list[int]:
        """`image_size` for GRPO rows: the size of the frame the target boxes are written in."""
        if self.processor.box_format == "model_pixels":
            return list(self.processor.model_input_size(image_size))
        if self.processor.box_format == "grid_1000":
            return [1000, 1000]
        return [int(v) for v in image_size]



def open_text(path: Path):
    """A published table or text file, gzip-compressed (`.gz`, as PhysioNet and NIH ship them) or not."""
    return gzip.open(path, "rt", encoding="utf-8") if Path(path).suffix == ".gz" else open(path, encoding="utf-8")

def image_size(path: Path) -> tuple[int, int] | None:
    """An image's (width, height) from its header, or None when it is missing or unreadable."""
    try:
        with Image.open(path) as image:
            return image.size
    except (OSError, ValueError):
        return None


def user(text: str, images: int = 1) -> list[dict]:
    return [{"role": "user", "content": [{"type": "image"}] * images + [{"type": "text", "text": text}]}]


def assistant(text: str) -> dict:
    return {"role": "assistant", "content": [{"type": "text", "text": text}]}


def sft_row(sample_id: str, source: str, images: list[str], prompt: str, answer: str) -> dict:
    return {"id": sample_id, "source": source, "images": images, "messages": [*user(prompt, len(images)), assistant(answer)]}


def grounding_rows(context: Context, sample_id: str, source: str, split: str, image: Path, size, boxes: list[dict],
                   task_prompt: str = "grounding") -> Iterator[Row]:  # fmt: skip
    """The SFT row and the GRPO row of one image with its boxes (original pixels)."""
    prompt = pick(task_prompt, sample_id)
    target = context.grounding_target(boxes, size)
    yield Row(split, sft_row(sample_id, source, [str(image)], prompt, target))
    yield Row(split, {"id": sample_id, "source": source, "images": [str(image)], "task": "grounding",
                      "prompt": [{"role": "system", "content": [{"type": "text", "text": SYSTEM_PROMPT}]}, *user(prompt)],
                      "solution": target, "image_size": context.frame_size(size),
                      "labels": sorted({b["label"] for b in boxes}) or None}, kind="grpo")  # fmt: skip


def check_boxes(boxes: list[dict], size) -> str | None:
    """A reason to reject boxes in original pixels, or None: they must be finite, non-empty, inside the image."""
    array = as_array(boxes)
    if len(array) == 0:
        return None
    width, height = size
    if not ((array[:, 2] > array[:, 0]) & (array[:, 3] > array[:, 1])).all():
        return "box with zero area"
    if (array[:, :2] < -1).any() or (array[:, 2] > width + 1).any() or (array[:, 3] > height + 1).any():
        return "box outside the image"
    return None


def convert(
    name: str,
    generator: Callable[[Context], Iterator[Row | Reject]],
    raw: str | Path,
    output_dir: str | Path,
    processor,
    strict: bool = False,
    options: dict | None = None,
    progress: bool = True,
) -> Summary:
    """Run `generator` over the raw folder `raw`, writing `<output_dir>/<split>.jsonl` (SFT rows),
    `<split>.grpo.jsonl` (GRPO rows) and `summary.json`."""
    raw, output_dir = Path(raw), Path(output_dir)
    if getattr(generator, "reads_raw", True) and not raw.exists():
        raise ConversionError(f"{name}: raw data not found at {raw}; download it first (see data_cards/{name}.md).")
    output_dir.mkdir(parents=True, exist_ok=True)
    context = Context(raw=raw, processor=processor, options={**(options or {}), "output_dir": str(output_dir)})
    summary, files = Summary(name), {}
    # Each output file is renamed into place only when the whole conversion succeeds: a crash or a
    # strict-mode stop leaves the previous outputs (or none), never a truncated file.
    with ExitStack() as outputs:
        for item in tqdm(generator(context), desc=name, unit=" records", disable=not progress, mininterval=2.0):
            if isinstance(item, Reject):
                summary.read += 1
                if strict:
                    raise ConversionError(f"{name}: {item.where}: {item.reason} (strict mode stops at the first bad record).")
                summary.rejected[item.reason] += 1
                summary.examples.setdefault(item.reason, [])
                if len(summary.examples[item.reason]) < EXAMPLES:
                    summary.examples[item.reason].append(item.where)
                continue
            if item.kind == "sft":  # a record counts once; its GRPO twin rides along
                summary.read += 1
            file_name = split_file(item.split, item.kind)
            if file_name not in files:
                files[file_name] = outputs.enter_context(atomic_writer(output_dir / file_name))
            files[file_name].write(json.dumps(item.row, ensure_ascii=False) + "\n")
            summary.written[file_name] += 1
    result = summary.as_dict()
    write_text_atomic(output_dir / "summary.json", json.dumps(result, indent=2) + "\n")
    if result["rejected"]:
        logger.warning("%s: rejected %d of %d records: %s", name, result["rejected"], result["read"], result["rejected_by_reason"])
    return summary


__all__ = ["ConversionError", "Context", "Reject", "Row", "Summary", "assistant", "check_boxes", "convert", "grounding_rows",
           "image_size", "sft_row", "user"]  # fmt: skip
