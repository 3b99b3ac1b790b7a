# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Detection and grounding sets: NIH ChestX-ray14 boxes, DeepLesion, and YOLO-format sets
(Bacteria, DeepCell, GRAZPEDWRI-DX). Boxes are read in original pixels and written as targets in
the processor's frame by `medmo.boxes` (through `processor.format_boxes`)."""

import csv
from collections import defaultdict
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from medmo.medical_images import apply_window

from .base import Context, Reject, check_boxes, grounding_rows, image_size, open_text


def _find(raw: Path, *names: str) -> Path | None:
    for name in names:
        if (raw / name).exists():
            return raw / name
    return None


def _index_images(folder: Path) -> dict[str, Path]:
    """File name -> path for every image under `folder` (releases split images over sub-folders)."""
    return {path.name: path for path in folder.rglob("*") if path.suffix.lower() in (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")}


def _split_lists(raw: Path) -> dict[str, str]:
    splits = {}
    for split, names in (("train", ("train_val_list.txt",)), ("test", ("test_list.txt",))):
        path = _find(raw, *names)
        if path:
            splits.update(dict.fromkeys(path.read_text().split(), split))
    return splits


def nih_chestxray14(context: Context):
    """NIH ChestX-ray14 boxes: `BBox_List_2017.csv(.gz)` (`Image Index, Finding Label, x, y, w, h`
    in pixels of the 1024x1024 PNGs), images under `images/`, official split lists
    `train_val_list.txt` / `test_list.txt` (without them every image goes to split `unsplit`)."""
    csv_path = _find(context.raw, "BBox_List_2017.csv", "BBox_List_2017.csv.gz")
    if csv_path is None:
        yield Reject("BBox_List_2017.csv not found", str(context.raw))
        return
    images = _index_images(context.raw / "images") if (context.raw / "images").exists() else {}
    splits = _split_lists(context.raw)
    grouped: dict[str, list] = defaultdict(list)
    with open_text(csv_path) as file:
        reader = csv.reader(file)
        next(reader, None)  # the header's "Bbox [x,y,w,h]" is itself split by its commas
        for number, fields in enumerate(reader, start=2):
            grouped[fields[0] if fields else ""].append((number, fields))
    for name, records in grouped.items():
        where = f"{csv_path.name}:{records[0][0]}"
        try:
            boxes = []
            for _, fields in records:
                x, y, w, h = (float(value) for value in fields[2:6])
                boxes.append({"label": fields[1].strip(), "box": [x, y, x + w, y + h]})
        except (ValueError, IndexError):
            yield Reject("malformed box row", where)
            continue
        path = images.get(name)
        size = image_size(path) if path else None
        if size is None:
            yield Reject("image not found", where)
            continue
        if (reason := check_boxes(boxes, size)) is not None:
            yield Reject(reason, where)
            continue
        yield from grounding_rows(context, f"nih-{Path(name).stem}", "nih_chestxray14", splits.get(name, "unsplit"), path, size, boxes)


DEEPLESION_SPLITS = {"1": "train", "2": "validation", "3": "test"}


def _deeplesion_image(context: Context, file_name: str, window: str) -> Path:
    """The key slice as an 8-bit PNG windowed by the row's DICOM window (HU = stored value - 32768)."""
    target = Path(context.options["output_dir"]) / "images" / file_name
    if target.exists():
        return target
    folder, slice_name = file_name.rsplit("_", 1)
    source = context.raw / "Images_png" / folder / slice_name
    hounsfield = np.asarray(Image.open(source), dtype=np.int32) - 32768
    low, high = (float(v) for v in window.split(","))
    target.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(apply_window(hounsfield, (low + high) / 2, high - low)).convert("RGB").save(target)
    return target


def deeplesion(context: Context):
    """DeepLesion: `DL_info.csv` (one row per lesion: `File_name`, `Bounding_boxes` x1,y1,x2,y2 in
    pixels of the 512x512 key slice, `DICOM_windows`, `Possibly_noisy`, `Train_Val_Test` 1/2/3),
    slices as 16-bit PNGs under `Images_png/<patient>_<study>_<series>/<slice>.png`. Key slices are
    written windowed to `<output>/images/`. Lesions are labelled "Lesion": sources disagree on the
    coarse-type codes (see the data card). Rows flagged `Possibly_noisy` are rejected unless the
    option `keep_noisy` is set."""
    csv_path = _find(context.raw, "DL_info.csv")
    if csv_path is None:
        yield Reject("DL_info.csv not found", str(context.raw))
        return
    slices: dict[str, list] = defaultdict(list)
    with open(csv_path, encoding="utf-8") as file:
        for number, row in enumerate(csv.DictReader(file), start=2):
            slices[row.get("File_name", "")].append((number, row))
    for file_name, rows in slices.items():
        where = f"{csv_path.name}:{rows[0][0]}"
        if any(row.get("Possibly_noisy", "0").strip() == "1" for _, row in rows) and not context.options.get("keep_noisy"):
            yield Reject("flagged possibly noisy", where)
            continue
        try:
            boxes = [{"label": "Lesion", "box": [float(v) for v in row["Bounding_boxes"].split(",")]} for _, row in rows]
            width, height = (int(float(v)) for v in rows[0][1]["Image_size"].split(","))
            split = DEEPLESION_SPLITS[rows[0][1]["Train_Val_Test"].strip()]
            image = _deeplesion_image(context, file_name, rows[0][1]["DICOM_windows"])
        except (KeyError, ValueError):
            yield Reject("malformed row", where)
            continue
        except OSError:
            yield Reject("image not found", where)
            continue
        if (reason := check_boxes(boxes, (width, height))) is not None:
            yield Reject(reason, where)
            continue
        yield from grounding_rows(context, f"deeplesion-{Path(file_name).stem}", "deeplesion", split, image, (width, height), boxes)


YOLO_SPLITS = {"train": "train", "val": "validation", "valid": "validation", "validation": "validation", "test": "test"}


def yolo(context: Context):
    """A YOLO-format detection set (Bacteria, DeepCell exports, GRAZPEDWRI-DX): `images/<split>/*`
    with `labels/<split>/<stem>.txt` lines `class cx cy w h` (normalised 0-1) and class names in
    `data.yaml` (`names`). Without split sub-folders everything is split `train`. An image without
    a label file has no boxes. Option `prompt_task`: `grounding` (default) or `microscopy`."""
    names_file = _find(context.raw, "data.yaml", "dataset.yaml")
    names = yaml.safe_load(names_file.read_text())["names"] if names_file else []
    names = {index: str(name) for index, name in (names.items() if isinstance(names, dict) else enumerate(names))}
    images_root = context.raw / "images"
    folders = [p for p in sorted(images_root.iterdir()) if p.is_dir()] if images_root.is_dir() else []
    folders = folders or [images_root]
    source = context.options.get("source", context.raw.name)
    task = context.options.get("prompt_task", "grounding")
    for folder in folders:
        split = YOLO_SPLITS.get(folder.name, "train") if folder != images_root else "train"
        labels_folder = context.raw / "labels" / (folder.name if folder != images_root else "")
        for image in sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")):
            where = str(image.relative_to(context.raw))
            size = image_size(image)
            if size is None:
                yield Reject("unreadable image", where)
                continue
            boxes, label_path = [], labels_folder / f"{image.stem}.txt"
            try:
                for line in label_path.read_text().splitlines() if label_path.exists() else []:
                    if not line.strip():
                        continue
                    klass, cx, cy, w, h = line.split()[:5]
                    cx, cy, w, h = (float(v) for v in (cx, cy, w, h))
                    label = names.get(int(klass), f"class {klass}")
                    boxes.append({"label": label, "box": [(cx - w / 2) * size[0], (cy - h / 2) * size[1], (cx + w / 2) * size[0], (cy + h / 2) * size[1]]})
            except ValueError:
                yield Reject("malformed label line", str(label_path.relative_to(context.raw)))
                continue
            if (reason := check_boxes(boxes, size)) is not None:
                yield Reject(reason, where)
                continue
            yield from grounding_rows(context, f"{source}-{split}-{image.stem}", source, split, image, size, boxes, task)


__all__ = ["deeplesion", "nih_chestxray14", "yolo"]
