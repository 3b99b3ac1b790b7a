# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Grounding benchmarks: each the evaluated split of a reader in `medmo.sources`; boxes in
original-image pixels."""

from pathlib import Path

from medmo.sources import deeplesion as deeplesion_source, generic as generic_source
from medmo.sources import nih_chestxray14 as nih_chestxray14_source, yolo as yolo_source

from .common import samples


def nih_chestxray14(root: Path):
    """NIH ChestX-ray14: the 880 boxed images (sources.nih_chestxray14)."""
    return samples(nih_chestxray14_source.read(root), "nih_chestxray14")


def deeplesion(root: Path):
    """DeepLesion test key slices, windowed per slice (sources.deeplesion)."""
    return samples(deeplesion_source.read(root, splits=("test",)), "deeplesion")


def yolo_detection(root: Path):
    """A YOLO-format set's test (else validation) split, microscopy prompt (sources.yolo)."""
    present = yolo_source.split_folders(root)
    split = next((s for s in ("test", "validation") if s in present), None)
    if split is None:
        raise FileNotFoundError(f"no test / val / valid folder under {Path(root) / 'images'}")
    return samples(yolo_source.read(root, splits=(split,)), "yolo_detection", grounding_prompt="microscopy")


def medsg(root: Path):
    """MedSG-Bench exported to the generic layout, test.jsonl with images and boxes (sources.generic)."""
    return samples(generic_source.read(root, file="test.jsonl", default_split="test", source="medsg"), "medsg")


__all__ = ["deeplesion", "medsg", "nih_chestxray14", "yolo_detection"]
