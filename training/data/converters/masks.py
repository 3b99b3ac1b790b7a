# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Cell sets annotated with instance masks (Cell Tracking Challenge, DeepCell / TissueNet): one
box per labelled instance, as the tightest box around its pixels."""

from pathlib import Path

import numpy as np
from PIL import Image

from medmo.medical_images import to_uint8

from .base import Context, Reject, grounding_rows


def mask_boxes(mask: np.ndarray, label: str, minimum_pixels: int = 4) -> list[dict]:
    """Boxes (original pixels, pixel edges) of every instance id > 0 in a label image."""
    boxes = []
    for instance in np.unique(mask):
        if instance == 0:
            continue
        rows, columns = np.nonzero(mask == instance)
        if rows.size >= minimum_pixels:
            boxes.append({"label": label, "box": [float(columns.min()), float(rows.min()), float(columns.max() + 1), float(rows.max() + 1)]})
    return boxes


def _save(context: Context, name: str, pixels: np.ndarray) -> Path:
    target = Path(context.options["output_dir"]) / "images" / f"{name}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(to_uint8(pixels)).convert("RGB").save(target)
    return target


def instance_masks(context: Context):
    """Layouts (option `layout`):

    - `ctc` (default): Cell Tracking Challenge sequences `<seq>/t<NNN>.tif` with gold segmentation
      `<seq>_GT/SEG/man_seg<NNN>.tif` (frames without a SEG mask are skipped as unannotated);
    - `npz`: DeepCell arrays `<split>.npz` with `X` (N, H, W, C) images and `y` (N, H, W, C) label
      masks; channel `channel` (default 0) is used. Read with `allow_pickle=False`.

    Images are written as 8-bit PNGs (min..max) to `<output>/images/`; option `label` names the
    objects (default "Cell"); option `source` names the set.
    """
    label = context.options.get("label", "Cell")
    source = context.options.get("source", context.raw.name)
    if context.options.get("layout", "ctc") == "npz":
        channel = int(context.options.get("channel", 0))
        files = sorted(context.raw.glob("*.npz"))
        if not files:
            yield Reject("no .npz files", str(context.raw))
        for path in files:
            split = {"val": "validation"}.get(path.stem.split("_")[-1], path.stem.split("_")[-1])
            arrays = np.load(path, allow_pickle=False)
            for index in range(arrays["X"].shape[0]):
                where = f"{path.name}[{index}]"
                mask = arrays["y"][index, ..., min(channel, arrays["y"].shape[-1] - 1)]
                boxes = mask_boxes(mask, label)
                image = _save(context, f"{path.stem}-{index:05d}", arrays["X"][index, ..., channel])
                yield from grounding_rows(context, f"{source}-{path.stem}-{index}", source, split, image, mask.shape[::-1], boxes, "microscopy")
        return
    sequences = [p for p in sorted(context.raw.iterdir()) if p.is_dir() and (context.raw / f"{p.name}_GT" / "SEG").is_dir()]
    if not sequences:
        yield Reject("no <seq>/ with <seq>_GT/SEG/", str(context.raw))
    for sequence in sequences:
        for frame in sorted(sequence.glob("t*.tif")):
            where = f"{sequence.name}/{frame.name}"
            mask_path = context.raw / f"{sequence.name}_GT" / "SEG" / f"man_seg{frame.stem[1:]}.tif"
            if not mask_path.exists():
                yield Reject("frame without a gold segmentation", where)
                continue
            try:
                mask = np.asarray(Image.open(mask_path))
                image = _save(context, f"{sequence.name}-{frame.stem}", np.asarray(Image.open(frame), dtype=np.float32))
            except OSError:
                yield Reject("unreadable image or mask", where)
                continue
            yield from grounding_rows(context, f"{source}-{sequence.name}-{frame.stem}", source, "train", image, mask.shape[::-1], mask_boxes(mask, label), "microscopy")


__all__ = ["instance_masks", "mask_boxes"]
