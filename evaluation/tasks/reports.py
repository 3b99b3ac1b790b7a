# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Report-generation benchmarks: each the evaluated split of a reader in `medmo.sources`."""

from pathlib import Path

from medmo.sources import chexpert_plus as chexpert_plus_source, iu_xray as iu_xray_source, mimic_cxr as mimic_cxr_source

from .common import samples


def mimic_cxr(root: Path):
    """MIMIC-CXR test studies, frontal image (sources.mimic_cxr)."""
    return samples(mimic_cxr_source.read(root, splits=("test",)), "mimic_cxr")


def chexpert_plus(root: Path):
    """CheXpert Plus valid studies, the test split being private (sources.chexpert_plus)."""
    return samples(chexpert_plus_source.read(root, splits=("validation",)), "chexpert_plus")


def iu_xray(root: Path):
    """IU X-Ray test reports of the shared hash split (sources.iu_xray)."""
    return samples(iu_xray_source.read(root, splits=("test",)), "iu_xray")


__all__ = ["chexpert_plus", "iu_xray", "mimic_cxr"]
