# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Cell sets annotated with instance masks: one box per labelled instance, the tightest box around
its pixels.

Published layouts (`layout`):

- `ctc` (default): Cell Tracking Challenge sequences, frames `<seq>/t<NNN>.tif` and gold
  segmentations `<seq>_GT/SEG/man_seg<NNN>.tif` (frames without a SEG mask are not annotated, and
  are reported as such); all in split `train`;
- `npz`: DeepCell / TissueNet arrays `<name>_<split>.npz` with `X` (N, H, W, C) images and `y`
  (N, H, W, C) label masks; channel `channel` (default 0) is used. Read with `allow_pickle=False`.

`label` names the objects (default "Cell"); `source` names the set (default: the folder's name).
"""

from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from medmo.clinical.tasks import GROUNDING

from .base import Problem, Record, split_name, wanted
from .images import ImageRef


def mask_boxes(mask: np.ndarray, label: str, minimum_pixels: int = 4) -> list[dict]:
    """Boxes (original pixels, pixel edges) of every instance id > 0 in a label image; instances
    smaller than `minimum_pixels` are annotation specks, not cells."""
    boxes = []
    for instance in np.unique(mask):
        if instance == 0:
            continue
        rows, columns = np.nonzero(mask == instance)
        if rows.size >= minimum_pixels:
            boxes.append({"label": label, "box": [float(columns.min()), float(rows.min()), float(columns.max() + 1), float(rows.max() + 1)]})
    return boxes


def _npz(root: Path, splits, label: str, source: str, channel: int) -> Iterator[Record | Problem]:
    files = sorted(root.glob("*.npz"))
    if not files:
        raise FileNotFoundError(f"no .npz files under {root}")
    for path in files:
        split = split_name(path.stem.split("_")[-1])
        if not wanted(split, splits):
            continue
        with np.load(path, allow_pickle=False) as arrays:
            images, masks = arrays["X"], arrays["y"]  # each read once: NpzFile re-reads a key on every access
        for index in range(images.shape[0]):
            mask = masks[index, ..., min(channel, masks.shape[-1] - 1)]
            image = ImageRef(images[index, ..., channel], name=f"{path.stem}-{index:05d}")
            yield Record(f"{source}-{path.stem}-{index}", source, split, GROUNDING, f"{path.name}[{index}]", images=[image],
                         image_size=mask.shape[::-1], boxes=mask_boxes(mask, label))  # fmt: skip


def _ctc(root: Path, splits, label: str, source: str) -> Iterator[Record | Problem]:
    sequences = [p for p in sorted(root.iterdir()) if p.is_dir() and (root / f"{p.name}_GT" / "SEG").is_dir()]
    if not sequences:
        raise FileNotFoundError(f"no <seq>/ folder with <seq>_GT/SEG/ under {root}")
    if not wanted("train", splits):
        return
    for sequence in sequences:
        for frame in sorted(sequence.glob("t*.tif")):
            where = f"{sequence.name}/{frame.name}"
            mask_path = root / f"{sequence.name}_GT" / "SEG" / f"man_seg{frame.stem[1:]}.tif"
            if not mask_path.exists():
                yield Problem(where, "frame without a gold segmentation")
                continue
            try:
                with Image.open(mask_path) as opened:
                    mask = np.asarray(opened)
            except OSError:
                yield Problem(where, "unreadable mask")
                continue
            yield Record(f"{source}-{sequence.name}-{frame.stem}", source, "train", GROUNDING, where,
                         images=[ImageRef(frame, name=f"{sequence.name}-{frame.stem}")], image_size=mask.shape[::-1],
                         boxes=mask_boxes(mask, label))  # fmt: skip


def read(root: Path, splits=None, layout: str = "ctc", label: str = "Cell", source: str | None = None,
         channel: int = 0) -> Iterator[Record | Problem]:  # fmt: skip
    """The annotated frames of the selected splits, each with its instances' boxes."""
    root = Path(root)
    source = source or root.name
    if layout == "npz":
        return _npz(root, splits, label, source, int(channel))
    if layout == "ctc":
        return _ctc(root, splits, label, source)
    raise ValueError(f"Unknown instance-mask layout {layout!r}; use 'ctc' or 'npz'.")


__all__ = ["mask_boxes", "read"]
