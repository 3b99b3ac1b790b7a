# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Converters from each data set's published raw layout into MedMO's training schema.

    medmo data convert nih_chestxray14 raw/nih data/converted/nih_chestxray14 --model models/medmo-8b

`CONVERTERS` maps a converter name to its generator; `data_cards/registry.yaml` says which
converter (and options) each data set uses.
"""

from .base import ConversionError, Summary, convert
from .conversations import instruction, llava
from .generic import generic
from .grounding import deeplesion, nih_chestxray14, yolo
from .masks import instance_masks
from .synthetic import phantom
from .reports import iu_xray, mimic_cxr
from .text_qa import medmcqa, medqa, pubmedqa
from .vqa import pathvqa, pmc_vqa, slake, vqa_rad


CONVERTERS = {
    "nih_chestxray14": nih_chestxray14,
    "deeplesion": deeplesion,
    "yolo": yolo,
    "vqa_rad": vqa_rad,
    "slake": slake,
    "pathvqa": pathvqa,
    "pmc_vqa": pmc_vqa,
    "mimic_cxr": mimic_cxr,
    "iu_xray": iu_xray,
    "medqa": medqa,
    "medmcqa": medmcqa,
    "pubmedqa": pubmedqa,
    "instance_masks": instance_masks,
    "llava": llava,
    "instruction": instruction,
    "generic": generic,
    "phantom": phantom,
}

__all__ = ["CONVERTERS", "ConversionError", "Summary", "convert"]
