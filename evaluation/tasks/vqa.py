# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Medical VQA benchmarks: each the evaluated split of a reader in `medmo.sources`."""

from pathlib import Path

from medmo.sources import mmmu as mmmu_source, omnimedvqa as omnimedvqa_source, pathvqa as pathvqa_source
from medmo.sources import pmc_vqa as pmc_vqa_source, slake as slake_source, vqa_rad as vqa_rad_source
from medmo.sources.multiple_choice import MEDXPERTQA_MM

from .common import samples


def mmmu_med(root: Path):
    """MMMU's medical subjects, validation split (sources.mmmu)."""
    return samples(mmmu_source.read(root, splits=("validation",)), "mmmu_med")


def vqa_rad(root: Path):
    """VQA-RAD test questions (sources.vqa_rad)."""
    return samples(vqa_rad_source.read(root, splits=("test",)), "vqa_rad")


def slake(root: Path):
    """SLAKE test questions in English (sources.slake)."""
    return samples(slake_source.read(root, splits=("test",)), "slake")


def pathvqa(root: Path):
    """PathVQA test shards (sources.pathvqa)."""
    return samples(pathvqa_source.read(root, splits=("test",)), "pathvqa")


def pmc_vqa(root: Path):
    """PMC-VQA test questions, test_clean.csv first (sources.pmc_vqa)."""
    return samples(pmc_vqa_source.read(root, splits=("test",)), "pmc_vqa")


def omnimedvqa(root: Path):
    """OmniMedVQA open-access questions (sources.omnimedvqa)."""
    return samples(omnimedvqa_source.read(root, splits=("test",)), "omnimedvqa")


def medxpertqa_mm(root: Path):
    """MedXpertQA multimodal test questions (sources.multiple_choice)."""
    return samples(MEDXPERTQA_MM.read(root, splits=("test",)), "medxpertqa_mm")


__all__ = ["medxpertqa_mm", "mmmu_med", "omnimedvqa", "pathvqa", "pmc_vqa", "slake", "vqa_rad"]
