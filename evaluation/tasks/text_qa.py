# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Medical text-QA benchmarks: each the evaluated split of a reader in `medmo.sources`."""

from pathlib import Path

from medmo.sources import pubmedqa as pubmedqa_source
from medmo.sources.multiple_choice import MEDBULLETS_OP4, MEDBULLETS_OP5, MEDMCQA, MEDQA, MEDXPERTQA_TEXT, MMLU, SGPQA

from .common import samples


def mmlu_med(root: Path):
    """MMLU's six medical subjects, test split (sources.multiple_choice)."""
    return samples(MMLU.read(root, splits=("test",)), "mmlu_med")


def pubmedqa(root: Path):
    """PubMedQA's 500 test questions, yes / no / maybe (sources.pubmedqa)."""
    return samples(pubmedqa_source.read(root, splits=("test",)), "pubmedqa")


def medmcqa(root: Path):
    """MedMCQA dev split, the test answers being withheld (sources.multiple_choice)."""
    return samples(MEDMCQA.read(root, splits=("validation",)), "medmcqa")


def medqa(root: Path):
    """MedQA (USMLE) test questions (sources.multiple_choice)."""
    return samples(MEDQA.read(root, splits=("test",)), "medqa")


def medbullets_op4(root: Path):
    """Medbullets with 4 options (sources.multiple_choice)."""
    return samples(MEDBULLETS_OP4.read(root, splits=("test",)), "medbullets_op4")


def medbullets_op5(root: Path):
    """Medbullets with 5 options (sources.multiple_choice)."""
    return samples(MEDBULLETS_OP5.read(root, splits=("test",)), "medbullets_op5")


def medxpertqa_text(root: Path):
    """MedXpertQA text test questions, ten options (sources.multiple_choice)."""
    return samples(MEDXPERTQA_TEXT.read(root, splits=("test",)), "medxpertqa_text")


def sgpqa(root: Path):
    """SuperGPQA's medical questions (sources.multiple_choice)."""
    return samples(SGPQA.read(root, splits=("test",)), "sgpqa")


__all__ = ["medbullets_op4", "medbullets_op5", "medmcqa", "medqa", "medxpertqa_text", "mmlu_med", "pubmedqa", "sgpqa"]
