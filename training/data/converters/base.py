# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""The conversion loop and its summary.

A converter is a generator over a raw release that yields, per raw item, finished rows (`Row`) or
a `Problem` (`medmo.sources`). `convert` drives it: rows go straight to their split's JSONL file
(so memory stays bounded whatever the input size), problems are counted by reason with examples,
and `summary.json` says items read, written and rejected, with `written + rejected == read`. In
strict mode the first problem stops the conversion. A release file that is missing altogether, or
an option the reader does not take, stops it with a `ConversionError` naming the fix.
"""

import json
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from medmo.files import atomic_writer, write_text_atomic
from medmo.sources import Problem


logger = logging.getLogger(__name__)
EXAMPLES = 3


@dataclass
class Row:
    """One converted row: its split, its kind (`sft` or `grpo`) and the row itself."""

    split: str
    row: dict
    kind: str = "sft"


class ConversionError(ValueError):
    """A conversion cannot go on: strict mode's first problem, or a release or option that is wrong."""


def split_file(split: str, kind: str) -> str:
    """File name of a converted split: `train.jsonl` (SFT rows) or `train.grpo.jsonl` (GRPO rows)."""
    return f"{split}.jsonl" if kind == "sft" else f"{split}.{kind}.jsonl"


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

    def reject(self, problem: Problem) -> None:
        self.read += 1
        self.rejected[problem.reason] += 1
        self.examples.setdefault(problem.reason, [])
        if len(self.examples[problem.reason]) < EXAMPLES:
            self.examples[problem.reason].append(problem.location)

    def as_dict(self) -> dict:
        rejected = sum(self.rejected.values())
        return {"name": self.name, "read": self.read, "written": self.written_records, "rows_by_file": dict(self.written),
                "rejected": rejected, "rejected_by_reason": dict(self.rejected), "examples": self.examples,
                "written_plus_rejected_equals_read": self.written_records + rejected == self.read}  # fmt: skip


@dataclass
class Context:
    """What a converter needs besides the raw folder: the processor (the box frame), the options
    (`--option` and the registry's) and where the output goes (`images/` holds written images)."""

    raw: Path
    processor: object
    options: dict
    output_dir: Path


def convert(
    name: str,
    converter: Callable[[Context], Iterator[Row | Problem]],
    raw: str | Path,
    output_dir: str | Path,
    processor,
    strict: bool = False,
    options: dict | None = None,
    progress: bool = True,
) -> Summary:
    """Run `converter` over the raw folder `raw`, writing `<output_dir>/<split>.jsonl` (SFT rows),
    `<split>.grpo.jsonl` (GRPO rows) and `summary.json`."""
    raw, output_dir = Path(raw), Path(output_dir)
    if getattr(converter, "reads_raw", True) and not raw.exists():
        raise ConversionError(f"{name}: raw data not found at {raw}; download it first (see data_cards/{name}.md).")
    output_dir.mkdir(parents=True, exist_ok=True)
    context = Context(raw=raw, processor=processor, options=dict(options or {}), output_dir=output_dir)
    summary, files = Summary(name), {}
    # Each output file is renamed into place only when the whole conversion succeeds: a crash or a
    # strict-mode stop leaves the previous outputs (or none), never a truncated file.
    with ExitStack() as outputs:
        try:
            for item in tqdm(converter(context), desc=name, unit=" records", disable=not progress, mininterval=2.0):
                if isinstance(item, Problem):
                    if strict:
                        raise ConversionError(f"{name}: {item.location}: {item.reason} (strict mode stops at the first bad record).")
                    summary.reject(item)
                    continue
                if item.kind == "sft":  # a record counts once; its GRPO twin rides along
                    summary.read += 1
                file_name = split_file(item.split, item.kind)
                if file_name not in files:
                    files[file_name] = outputs.enter_context(atomic_writer(output_dir / file_name))
                files[file_name].write(json.dumps(item.row, ensure_ascii=False) + "\n")
                summary.written[file_name] += 1
        except FileNotFoundError as error:
            raise ConversionError(f"{name}: {error}; see data_cards/{name}.md for the release's layout.") from None
    result = summary.as_dict()
    write_text_atomic(output_dir / "summary.json", json.dumps(result, indent=2) + "\n")
    if result["rejected"]:
        logger.warning("%s: rejected %d of %d records: %s", name, result["rejected"], result["read"], result["rejected_by_reason"])
    return summary


__all__ = ["ConversionError", "Context", "Row", "Summary", "convert", "split_file"]
