# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""What every reader shares: the neutral `Record`, the located `Problem`, split names, and the
small helpers for reading published tables (gzip, CSV line numbers, JSON lines, image checks).

A reader is `read(root, splits=None, **options) -> Iterator[Record | Problem]`: one `Record` per
usable item of the release (a question, a report, an image with its boxes), or a `Problem` for an
item of a selected split that cannot be used, with where it is and why. `splits` selects splits by
their normalised names (`train`, `validation`, `test`, ...); None reads every split. A release
file that is missing altogether raises `FileNotFoundError` naming what was expected.
"""

import csv
import dataclasses
import gzip
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from medmo.boxes import as_array
from medmo.clinical.answers import answer_type
from medmo.clinical.tasks import RECORD_KINDS
from medmo.medical_images import image_size as header_size

from .images import ImageRef, write_image


# Reasons: the counting keys of problems (the location says which item and which file).
IMAGE_PROBLEM = "image not found or unreadable"
MALFORMED = "malformed record"
INVALID_JSON = "invalid JSON"
NOT_AN_OPTION = "answer is not an option"
MISSING_QA = "missing question or answer"
NO_REPORT_SECTIONS = "no report sections"
BOX_ZERO_AREA = "box with zero area"
BOX_OUTSIDE = "box outside the image"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".dcm")
# Split names as releases write them -> the names every reader yields.
SPLIT_NAMES = {"train": "train", "training": "train", "val": "validation", "valid": "validation", "validate": "validation",
               "validation": "validation", "dev": "validation", "test": "test"}  # fmt: skip


@dataclass
class Problem:
    """An item of a release that could not be used: `location` says where (file and line or index,
    and the image file for image problems), `reason` why (a fixed phrase: problems are counted by
    reason). Readers, data conversion and evaluation all report this one type."""

    location: str
    reason: str


@dataclass
class Record:
    """One item of a data release, in neutral terms (no prompt, no target text, no box frame).

    - `kind`: one of `medmo.clinical.tasks.RECORD_KINDS` (closed, open, multiple_choice, report,
      grounding, caption, conversation);
    - `images`: file paths, or `ImageRef`s for images that are not plain files (embedded bytes,
      a window to apply); `image_size` is the original `(width, height)` of the first image;
    - `question`, `options` (texts, lettered A, B, ... when asked), `answer` (the option letter for
      multiple choice, else the answer text);
    - `report`: a report (`FINDINGS: ... IMPRESSION: ...`) or a caption;
    - `boxes`: `[{"label", "box": [x1, y1, x2, y2]}]` in the original pixels of the first image;
    - `conversation`: chat messages, for conversation sets;
    - `location`: where the item is in the release (for problems found later);
    - `meta`: facts a consumer may use (a benchmark's subject, a release's own answer type, ...).
    """

    id: str
    source: str
    split: str
    kind: str
    location: str
    images: list = field(default_factory=list)
    image_size: tuple[int, int] | None = None
    question: str | None = None
    options: list[str] | None = None
    answer: str | None = None
    report: str | None = None
    boxes: list[dict] | None = None
    conversation: list[dict] | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.kind not in RECORD_KINDS:
            raise ValueError(f"Record kind {self.kind!r} is not one of {RECORD_KINDS}.")


def split_name(raw) -> str:
    """A release's split name in the shared vocabulary (`valid`, `val`, `dev` -> `validation`)."""
    text = str(raw).strip().lower()
    return SPLIT_NAMES.get(text, text)


def wanted(split: str, splits: Sequence[str] | None) -> bool:
    """Whether a reader asked for `splits` (None: all) yields items of `split`."""
    return splits is None or split in splits


def split_id(source: str, split: str, key) -> str:
    """The id of an item numbered within one file of a release that has a file per split: test
    items keep the ids `medmo eval` has always written (predictions resume by them); other splits
    carry their name, so ids stay unique across the release's files."""
    return f"{source}-{key}" if split == "test" else f"{source}-{split}-{key}"


def require(root: Path, *names: str) -> Path:
    """The first of `names` under `root`; a missing release file raises FileNotFoundError naming them."""
    for name in names:
        if (root / name).exists():
            return root / name
    raise FileNotFoundError(f"none of {', '.join(names)} under {root}")


def open_text(path: Path):
    """A published table or text file, gzip-compressed (`.gz`, as PhysioNet and NIH ship them) or not."""
    return gzip.open(path, "rt", encoding="utf-8") if Path(path).suffix == ".gz" else open(path, encoding="utf-8")


def numbered(reader) -> Iterator[tuple[int, object]]:
    """(line, row) for each row of a csv reader: the line the row starts on, since a quoted field can
    span lines. Blank rows (which hold nothing) are skipped."""
    if isinstance(reader, csv.DictReader) and reader.fieldnames is None:  # reads the header line; None: empty file
        return
    start = reader.line_num + 1
    for row in reader:
        if row:
            yield start, row
        start = reader.line_num + 1


def json_lines(path: Path) -> Iterator[tuple[int, dict | None]]:
    """(line number, object) for the non-blank lines of a JSON-lines file; None for a line that is
    not a JSON object."""
    with open(path, encoding="utf-8") as file:
        for number, line in enumerate(file, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                value = None
            yield number, value if isinstance(value, dict) else None


def size_of(image) -> tuple[int, int] | None:
    """The original `(width, height)` of an image file or `ImageRef` (from its header where it has
    one; DICOM included), or None when it is missing or unreadable."""
    try:
        return image.size() if isinstance(image, ImageRef) else header_size(image)
    except (OSError, ValueError, ImportError):
        return None


def image_problem(where: str, image, root: Path | None = None) -> Problem:
    """The problem of a record whose image is missing or unreadable (its file named beside `where`)."""
    name = image.name if isinstance(image, ImageRef) else Path(image)
    if root is not None and isinstance(name, Path) and name.is_relative_to(root):
        name = name.relative_to(root)
    return Problem(f"{where} ({name})", IMAGE_PROBLEM)


def box_problem(boxes: list[dict], size) -> str | None:
    """A reason to reject boxes in original pixels, or None: they must have an area and lie inside
    the image (1 pixel of slack for rounding in the release)."""
    array = as_array(boxes)
    if len(array) == 0:
        return None
    width, height = size
    if not ((array[:, 2] > array[:, 0]) & (array[:, 3] > array[:, 1])).all():
        return BOX_ZERO_AREA
    if (array[:, :2] < -1).any() or (array[:, 2] > width + 1).any() or (array[:, 3] > height + 1).any():
        return BOX_OUTSIDE
    return None


def json_question(source: str, split: str, where: str, record: dict, image: Path, index: int) -> Record | Problem:
    """The question record of a VQA release's JSON record (`question`, `answer`, `qid`, `answer_type`
    CLOSED / OPEN: VQA-RAD and SLAKE) on one image file, or the problem that stops it. The kind
    follows the answer; `meta["closed_answer"]` keeps the release's CLOSED marking."""
    question, answer = str(record.get("question") or "").strip(), record.get("answer")
    answer = "" if answer is None else str(answer).strip()
    if not question or not answer:
        return Problem(where, MISSING_QA)
    if size_of(image) is None:
        return image_problem(where, image.name)
    closed = str(record.get("answer_type", "")).upper() == "CLOSED"
    return Record(f"{source}-{record.get('qid', index)}", source, split, answer_type(answer), where, images=[str(image)],
                  question=question, answer=answer, meta={"closed_answer": closed})  # fmt: skip


def materialise(record: Record, folder: Path, by_name: bool = False) -> Record | Problem:
    """A copy of `record` whose images are all files: `ImageRef`s are written as PNGs to `folder`
    (named by their `name` with `by_name`, else by a hash of their content), plain paths stay as
    they are. A `Problem` at the record's location when an image cannot be decoded."""
    paths = []
    for image in record.images:
        if not isinstance(image, ImageRef):
            paths.append(str(image))
            continue
        try:
            paths.append(str(write_image(image, folder, image.name if by_name else None)))
        except (OSError, ValueError):
            return image_problem(record.location, image)
    return dataclasses.replace(record, images=paths)


__all__ = [
    "BOX_OUTSIDE",
    "BOX_ZERO_AREA",
    "IMAGE_PROBLEM",
    "IMAGE_SUFFIXES",
    "INVALID_JSON",
    "MALFORMED",
    "MISSING_QA",
    "NOT_AN_OPTION",
    "NO_REPORT_SECTIONS",
    "Problem",
    "Record",
    "box_problem",
    "image_problem",
    "json_lines",
    "json_question",
    "materialise",
    "numbered",
    "open_text",
    "require",
    "size_of",
    "split_id",
    "split_name",
    "wanted",
]
