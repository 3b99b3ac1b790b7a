# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""NIH ChestX-ray14 bounding boxes.

Published layout:

- `BBox_List_2017.csv` (or `.csv.gz`): header `Image Index,Finding Label,Bbox [x,y,w,h],,,` (the
  header's "Bbox [x,y,w,h]" is itself split by its commas), then one box per row: the image's file
  name, the finding, and `x, y, w, h` in pixels of the 1024x1024 image (984 boxes on 880 images);
- images anywhere under `images/` (the release spreads them over `images_001/images/`, ...);
- the official split lists `train_val_list.txt` and `test_list.txt`; an image in neither is in
  split `unsplit`.

One grounding record per boxed image with all its boxes as `[x1, y1, x2, y2]`.
"""

import csv
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from medmo.boxes import xywh_to_xyxy
from medmo.clinical.tasks import GROUNDING

from .base import IMAGE_SUFFIXES, Problem, Record, box_problem, image_problem, numbered, open_text, require, size_of, wanted


SOURCE = "nih_chestxray14"
SPLIT_LISTS = (("train", "train_val_list.txt"), ("test", "test_list.txt"))


def _splits(root: Path) -> dict[str, str]:
    splits = {}
    for split, name in SPLIT_LISTS:
        if (root / name).exists():
            splits.update(dict.fromkeys((root / name).read_text().split(), split))
    return splits


def read(root: Path, splits=None) -> Iterator[Record | Problem]:
    """The boxed images of the release (see the module docstring)."""
    root = Path(root)
    path = require(root, "BBox_List_2017.csv", "BBox_List_2017.csv.gz")
    images = {p.name: p for p in (root / "images").rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES} if (root / "images").is_dir() else {}
    split_of = _splits(root)
    grouped = defaultdict(list)
    with open_text(path) as file:
        reader = csv.reader(file)
        next(reader, None)
        for line, row in numbered(reader):
            grouped[row[0]].append((line, row))
    for name, rows in grouped.items():
        split = split_of.get(name, "unsplit")
        if not wanted(split, splits):
            continue
        where = f"{path.name}:{rows[0][0]}"
        try:
            boxes = [{"label": row[1].strip(), "box": xywh_to_xyxy(row[2:6])} for _, row in rows]
        except (ValueError, IndexError):
            yield Problem(where, "malformed box row")
            continue
        image = images.get(name, root / "images" / name)
        size = size_of(image)
        if size is None:
            yield image_problem(where, name)
        elif reason := box_problem(boxes, size):
            yield Problem(where, reason)
        else:
            yield Record(f"nih-{Path(name).stem}", SOURCE, split, GROUNDING, where, images=[str(image)], image_size=size, boxes=boxes)


__all__ = ["read"]
