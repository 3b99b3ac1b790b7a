# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""YOLO-format detection sets (Bacteria, DeepCell exports, GRAZPEDWRI-DX).

Published layout:

- images under `images/<split>/` (`train`, `val` or `valid`, `test`), or directly under `images/`
  for a set without splits (then all `train`);
- one label file per image, `labels/<split>/<stem>.txt`, with a line per object: either a box
  `class cx cy w h` or a segment (polygon) `class x1 y1 x2 y2 x3 y3 ...`, coordinates normalised to
  0-1; an image without a label file has no objects;
- class names in `data.yaml` (or `dataset.yaml`): `names`, a list or `{id: name}`; without it the
  class id is the label.

A segment line becomes the tightest box around its polygon, as Ultralytics does when it trains a
detector on segment labels. One grounding record per image; every file of a split folder must be
a readable image.
"""

from collections.abc import Iterator
from pathlib import Path

import yaml

from medmo.boxes import cxcywh_to_xyxy, polygon_to_xyxy
from medmo.clinical.tasks import GROUNDING

from .base import IMAGE_PROBLEM, Problem, Record, box_problem, size_of, split_id, split_name, wanted


def class_names(root: Path) -> dict[int, str]:
    """Class id -> name from `data.yaml` / `dataset.yaml` (empty without one)."""
    path = next((root / name for name in ("data.yaml", "dataset.yaml") if (root / name).exists()), None)
    names = (yaml.safe_load(path.read_text()) or {}).get("names", []) if path else []
    return {int(index): str(name) for index, name in (names.items() if isinstance(names, dict) else enumerate(names))}


def split_folders(root: Path) -> dict[str, Path]:
    """Split name -> image folder (`images/<split>/`, or `images/` itself as `train`)."""
    images = Path(root) / "images"
    folders = {split_name(p.name): p for p in sorted(images.iterdir()) if p.is_dir()} if images.is_dir() else {}
    return folders or ({"train": images} if images.is_dir() else {})


def label_box(line: str, size, names: dict[int, str]) -> dict:
    """One label line as `{"label", "box"}` in pixels of an image of `size`; ValueError if malformed."""
    values = line.split()
    if len(values) != 5 and (len(values) < 7 or len(values) % 2 == 0):
        raise ValueError(f"a label line has 5 values (a box) or an odd number of 7 or more (a polygon), not {len(values)}")
    klass, coordinates = int(values[0]), [float(v) for v in values[1:]]
    box = cxcywh_to_xyxy(coordinates, size) if len(coordinates) == 4 else polygon_to_xyxy(coordinates, size)
    return {"label": names.get(klass, str(klass)), "box": box}


def read(root: Path, splits=None, source: str = "yolo") -> Iterator[Record | Problem]:
    """Every image of the selected splits with its boxes; `source` names the set (and its ids)."""
    root = Path(root)
    folders = {split: folder for split, folder in split_folders(root).items() if wanted(split, splits)}
    if not folders:
        raise FileNotFoundError(f"no image folder of split(s) {', '.join(splits or ['any'])} under {root / 'images'}")
    names = class_names(root)
    for split, folder in folders.items():
        labels = root / "labels" / folder.relative_to(root / "images")
        for image in sorted(p for p in folder.iterdir() if p.is_file()):
            where = str(image.relative_to(root))
            size = size_of(image)
            if size is None:
                yield Problem(where, IMAGE_PROBLEM)
                continue
            label_path = labels / f"{image.stem}.txt"
            boxes, bad = [], None
            for number, line in enumerate(label_path.read_text().splitlines() if label_path.exists() else [], start=1):
                try:
                    if line.strip():
                        boxes.append(label_box(line, size, names))
                except ValueError:
                    bad = f"{label_path.relative_to(root)}:{number}"
                    break
            if bad:
                yield Problem(bad, "malformed label line")
            elif reason := box_problem(boxes, size):
                yield Problem(where, reason)
            else:
                yield Record(split_id(source, split, image.stem), source, split, GROUNDING, where, images=[str(image)], image_size=size, boxes=boxes)


__all__ = ["class_names", "label_box", "read", "split_folders"]
