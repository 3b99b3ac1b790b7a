# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Multiple-choice question sets, each described by a `ChoiceSet` (its files, table format and
fields) and read by one engine: MedQA, MedMCQA, MMLU's medical subjects, Medbullets, SuperGPQA's
medical questions and MedXpertQA (text and multimodal).

Published layouts:

- MedQA (USMLE, 4 or 5 options): `US/{train,dev,test}.jsonl` (or at the root), records with
  `question`, `options` `{letter: text}`, `answer_idx` (the letter), `answer`, `meta_info`;
- MedMCQA: `{train,dev,test}.json`, one JSON object per line with `id`, `question`, `opa`..`opd`
  and `cop`, the correct option 1-4 (the official release; the Hub copy shifted it to 0-3: option
  `zero_based_cop`); the test answers are withheld;
- MMLU: `test/<subject>_test.csv` and `val/<subject>_val.csv` without a header: question, A, B,
  C, D, answer letter; the medical subjects are MultiMedQA's six (`MMLU_MEDICAL`);
- Medbullets: `medbullets_op4.csv` / `medbullets_op5.csv` (`link, question, opa..opd(, ope),
  answer_idx, answer, explanation`). The two files hold the same 308 questions with 4 and 5
  options, so they are two sets (as MedEvalKit reports them), never pooled;
- SuperGPQA: `SuperGPQA-all.jsonl` rows with `uuid`, `question`, `options` (a list of up to ten),
  `answer_letter`, `discipline` (the `Medicine` rows are read);
- MedXpertQA: `Text/{dev,test}.jsonl` (ten options) and `MM/{dev,test}.jsonl` (images named in
  `images`, files in `images/` from `images.zip`), with `id`, `question` (ending in
  "Answer Choices: (A) ..."), `options` `{letter: text}`, `label` (the letter).

Each question is one multiple-choice record: its options in the release's letter order, its answer
the letter those options get here (A, B, ...). Benchmark-only sets are all split `test`.
"""

import csv
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from medmo.clinical.answers import as_letter, option_letters
from medmo.clinical.tasks import MULTIPLE_CHOICE

from .base import INVALID_JSON, MALFORMED, MISSING_QA, NOT_AN_OPTION, Problem, Record, image_problem, json_lines, numbered, size_of, split_id, wanted


Fields = tuple[str, list[str], int | None]  # question, options, index of the answer (None: not an option)


def by_letter(options: Mapping, answer) -> tuple[list[str], int | None]:
    """Options given as `{letter: text}` in letter order, and the index of the answer's letter."""
    letters = sorted(options)
    texts = [str(options[letter]) for letter in letters]
    letter = str(answer).strip().upper()
    return texts, (letters.index(letter) if letter in letters else None)


def letter_index(letter, options: list) -> int | None:
    """Index of option `letter` (strictly one of the options' letters), else None."""
    letter = as_letter(letter, len(options))
    return None if letter is None else option_letters(len(options)).index(letter)


@dataclass(frozen=True)
class ChoiceSet:
    """A multiple-choice release: where its splits are, how its rows read, how its items are named.

    - `files`: split -> file paths relative to the root; the first that exists is read, or, with
      `every_file`, each is one part of the split (a missing one is a problem);
    - `table`: `jsonl` (one object per line), `csv` (with a header) or `csv_rows` (without);
    - `fields(row, **options)`: `(question, options, answer index or None)`; raising
      KeyError / IndexError / TypeError / ValueError / AttributeError means a malformed row;
    - `key(row, line, path)`: what the item's id is made of; `split_ids`: ids carry the split name
      (for line-numbered ids of per-split files, see `split_id`);
    - `keep(row)`: rows of the release that belong to the set (None: all);
    - `images(row)`: image file names under `images/` (None: a text set);
    - `meta(path)`: facts about the file's items (e.g. MMLU's subject);
    - `no_answer`: the reason given when the answer is not an option.
    """

    name: str
    files: dict[str, tuple[str, ...]]
    table: str
    fields: Callable[..., Fields]
    key: Callable[[dict, int, Path], object] = lambda row, line, path: line
    split_ids: bool = False
    every_file: bool = False
    keep: Callable[[dict], bool] | None = None
    images: Callable[[dict], list[str]] | None = None
    meta: Callable[[Path], dict] = lambda path: {}
    no_answer: str = NOT_AN_OPTION
    missing_file: str = "file missing"
    options: tuple[str, ...] = field(default=())

    def _files(self, root: Path, splits) -> Iterator[tuple[str, Path | None, str]]:
        """(split, path or None when missing, its name) for every file of the selected splits."""
        chosen = {split: names for split, names in self.files.items() if wanted(split, splits)}
        found = []
        for split, names in chosen.items():
            if self.every_file:
                found += [(split, root / name if (root / name).exists() else None, name) for name in names]
            elif (path := next((root / name for name in names if (root / name).exists()), None)) is not None:
                found.append((split, path, path.name))
        if not any(path for _, path, _ in found):
            raise FileNotFoundError(f"none of {', '.join(name for names in chosen.values() for name in names)} under {root}")
        return iter(found)

    def _rows(self, path: Path) -> Iterator[tuple[int, dict | list | None]]:
        if self.table == "jsonl":
            yield from json_lines(path)
            return
        with open(path, encoding="utf-8") as file:
            yield from numbered(csv.DictReader(file) if self.table == "csv" else csv.reader(file))

    def read(self, root: Path, splits=None, **options) -> Iterator[Record | Problem]:
        """The questions of the selected splits; `options` are this set's reading options."""
        unknown = set(options) - set(self.options)
        if unknown:
            raise ValueError(f"{self.name} takes no option(s) {sorted(unknown)}; its options: {list(self.options) or 'none'}.")
        root = Path(root)
        for split, path, name in self._files(root, splits):
            if path is None:
                yield Problem(name, self.missing_file)
                continue
            location = path.relative_to(root)
            for line, row in self._rows(path):
                where = f"{location}:{line}"
                if row is None:
                    yield Problem(where, INVALID_JSON)
                    continue
                if self.keep is not None and not self.keep(row):
                    continue
                try:
                    question, texts, index = self.fields(row, **options)
                    images = [root / "images" / str(image) for image in self.images(row) or []] if self.images else []
                    key = self.key(row, line, path)
                except (KeyError, IndexError, TypeError, ValueError, AttributeError):
                    yield Problem(where, MALFORMED)
                    continue
                if not str(question or "").strip():
                    yield Problem(where, MISSING_QA)
                elif index is None or not 0 <= index < len(texts):
                    yield Problem(where, self.no_answer)
                elif (missing := next((image for image in images if size_of(image) is None), None)) is not None:
                    yield image_problem(where, missing.name)
                else:
                    identifier = split_id(self.name, split, key) if self.split_ids else f"{self.name}-{key}"
                    yield Record(identifier, self.name, split, MULTIPLE_CHOICE, where, images=[str(image) for image in images],
                                 question=question, options=texts, answer=option_letters(len(texts))[index], meta=self.meta(path))  # fmt: skip


def _medmcqa(row, zero_based_cop: bool = False) -> Fields:
    options = [str(row[key]) for key in ("opa", "opb", "opc", "opd")]
    correct = row.get("cop")
    return row["question"], options, int(correct) - (0 if zero_based_cop else 1) if correct is not None else None


def _mmlu(row) -> Fields:
    if len(row) != 6:
        raise ValueError(f"an MMLU row has 6 fields, not {len(row)}")
    return row[0], row[1:5], letter_index(row[5], row[1:5])


def _medxpertqa(row) -> Fields:
    options, index = by_letter(row["options"], row["label"])
    # The question text lists the choices too; they are lettered again from `options`.
    return re.split(r"\s*Answer Choices:", row["question"])[0], options, index


MMLU_MEDICAL = ("anatomy", "clinical_knowledge", "college_biology", "college_medicine", "medical_genetics", "professional_medicine")

MEDQA = ChoiceSet(
    "medqa", {"train": ("US/train.jsonl", "train.jsonl"), "validation": ("US/dev.jsonl", "dev.jsonl"), "test": ("US/test.jsonl", "test.jsonl")},
    "jsonl", lambda row: (row["question"], *by_letter(row["options"], row["answer_idx"])), split_ids=True,
)  # fmt: skip
MEDMCQA = ChoiceSet(
    "medmcqa", {"train": ("train.json",), "validation": ("dev.json",), "test": ("test.json",)}, "jsonl", _medmcqa,
    key=lambda row, line, path: row.get("id", line), no_answer="no answer (withheld or out of range)", options=("zero_based_cop",),
)  # fmt: skip
MMLU = ChoiceSet(
    "mmlu", {"test": tuple(f"test/{s}_test.csv" for s in MMLU_MEDICAL), "validation": tuple(f"val/{s}_val.csv" for s in MMLU_MEDICAL)},
    "csv_rows", _mmlu,
    key=lambda row, line, path: f"{path.stem.rsplit('_', 1)[0]}-{line}", every_file=True, missing_file="subject file missing",
    meta=lambda path: {"subject": path.stem.rsplit("_", 1)[0]},
)  # fmt: skip


def _medbullets(variant: str) -> ChoiceSet:
    def fields(row) -> Fields:
        options = [row[key] for key in ("opa", "opb", "opc", "opd", "ope") if row.get(key)]
        return row["question"], options, letter_index(row.get("answer_idx"), options)

    return ChoiceSet(f"medbullets_{variant}", {"test": (f"medbullets_{variant}.csv",)}, "csv", fields)


MEDBULLETS_OP4, MEDBULLETS_OP5 = _medbullets("op4"), _medbullets("op5")
SGPQA = ChoiceSet(
    "sgpqa", {"test": ("SuperGPQA-all.jsonl",)}, "jsonl",
    lambda row: (row["question"], [str(o) for o in row["options"]], letter_index(row.get("answer_letter"), row["options"])),
    key=lambda row, line, path: row.get("uuid", line), keep=lambda row: row.get("discipline") == "Medicine",
)  # fmt: skip
MEDXPERTQA_TEXT = ChoiceSet("medxpertqa_text", {"validation": ("Text/dev.jsonl",), "test": ("Text/test.jsonl",)}, "jsonl", _medxpertqa,
                            key=lambda row, line, path: row.get("id", line))  # fmt: skip
MEDXPERTQA_MM = ChoiceSet("medxpertqa_mm", {"validation": ("MM/dev.jsonl",), "test": ("MM/test.jsonl",)}, "jsonl", _medxpertqa,
                          key=lambda row, line, path: row.get("id", line), images=lambda row: row.get("images") or [])  # fmt: skip


def medqa(root: Path, splits=None) -> Iterator[Record | Problem]:
    """MedQA (see the module docstring)."""
    return MEDQA.read(root, splits)


def medmcqa(root: Path, splits=None, zero_based_cop: bool = False) -> Iterator[Record | Problem]:
    """MedMCQA; `zero_based_cop` for the Hub copy, whose `cop` is 0-3."""
    return MEDMCQA.read(root, splits, zero_based_cop=zero_based_cop)


__all__ = [
    "MEDBULLETS_OP4",
    "MEDBULLETS_OP5",
    "MEDMCQA",
    "MEDQA",
    "MEDXPERTQA_MM",
    "MEDXPERTQA_TEXT",
    "MMLU",
    "MMLU_MEDICAL",
    "SGPQA",
    "ChoiceSet",
    "by_letter",
    "letter_index",
    "medmcqa",
    "medqa",
]
