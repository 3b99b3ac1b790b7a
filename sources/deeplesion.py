# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""DeepLesion (NIH CT lesions).

Published layout:

- `DL_info.csv`: one row per lesion with `File_name` (`<patient>_<study>_<series>_<slice>.png`, e.g.
  `000001_01_01_010.png`), `Bounding_boxes` ("x1, y1, x2, y2" in pixels of the key slice),
  `DICOM_windows` ("low, high" in Hounsfield units), `Possibly_noisy` (1 for annotations the
  authors flag as possibly inaccurate), `Image_size` and `Train_Val_Test` (1 train,
  2 validation, 3 test);
- key slices as 16-bit PNGs `Images_png/<patient>_<study>_<series>/<slice>.png`, stored as
  Hounsfield units + 32768.

One grounding record per key slice with all its lesions, labelled "Lesion" (sources disagree on
the coarse lesion-type codes; see the data card). Its image is the slice read with the row's
window, so training and evaluation see the same pixels; `meta["possibly_noisy"]` carries the flag.
"""

import csv
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from medmo.clinical.tasks import GROUNDING

from .base import Problem, Record, box_problem, image_problem, numbered, require, size_of, wanted
from .images import ImageRef


SOURCE = "deeplesion"
SPLITS = {"1": "train", "2": "validation", "3": "test"}
# The PNGs store Hounsfield units + 32768, so a window on HU moves by this much on stored values.
HU_OFFSET = 32768


def _box(text: str) -> list[float]:
    box = [float(v) for v in text.split(",")]
    if len(box) != 4:
        raise ValueError(f"a box has 4 coordinates, not {len(box)}")
    return box


def slice_image(path: Path, window: str, name: str) -> ImageRef:
    """A key slice read with its row's `DICOM_windows` ("low, high" in HU)."""
    low, high = (float(v) for v in window.split(","))
    return ImageRef(path, window=((low + high) / 2 + HU_OFFSET, high - low), name=name)


def read(root: Path, splits=None) -> Iterator[Record | Problem]:
    """The key slices of the selected splits, with their lesions (see the module docstring)."""
    root = Path(root)
    path = require(root, "DL_info.csv")
    slices = defaultdict(list)
    with open(path, encoding="utf-8") as file:
        for line, row in numbered(csv.DictReader(file)):
            slices[row.get("File_name", "")].append((line, row))
    for file_name, rows in slices.items():
        first = rows[0][1]
        split = SPLITS.get(str(first.get("Train_Val_Test", "")).strip(), "unsplit")
        if not wanted(split, splits):
            continue
        where = f"{path.name}:{rows[0][0]}"
        try:
            boxes = [{"label": "Lesion", "box": _box(row["Bounding_boxes"])} for _, row in rows]
            folder, slice_name = file_name.rsplit("_", 1)
            image = slice_image(root / "Images_png" / folder / slice_name, first["DICOM_windows"], Path(file_name).stem)
        except (KeyError, ValueError, AttributeError):
            yield Problem(where, "malformed row")
            continue
        size = size_of(image)
        if size is None:
            yield image_problem(where, Path("Images_png") / folder / slice_name)
        elif reason := box_problem(boxes, size):
            yield Problem(where, reason)
        else:
            noisy = any(str(row.get("Possibly_noisy", "0")).strip() == "1" for _, row in rows)
            yield Record(f"deeplesion-{Path(file_name).stem}", SOURCE, split, GROUNDING, where, images=[image], image_size=size,
                         boxes=boxes, meta={"possibly_noisy": noisy})  # fmt: skip


__all__ = ["HU_OFFSET", "read", "slice_image"]
