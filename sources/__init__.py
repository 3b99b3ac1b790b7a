# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Readers of the raw data releases MedMO trains and is evaluated on: one module per release.

Each reader (`read(root, splits=None, **options)`) knows its release's published layout, and
yields neutral records (`Record`: images, question / options / answer, report, boxes in the
original image's pixels) or located problems (`Problem`). Training converters
(`medmo.training.data.converters`) and evaluation tasks (`medmo.evaluation.tasks`) are thin
layers over them, so the two read every release the same way.

| module | release |
|---|---|
| `nih_chestxray14` | NIH ChestX-ray14 boxes |
| `deeplesion` | DeepLesion CT lesions |
| `yolo` | YOLO-format detection sets (Bacteria, GRAZPEDWRI-DX, ...) |
| `instance_masks` | Cell Tracking Challenge / DeepCell instance masks |
| `vqa_rad`, `slake`, `pathvqa`, `pmc_vqa`, `omnimedvqa`, `mmmu` | medical VQA |
| `multiple_choice` | MedQA, MedMCQA, MMLU, Medbullets, SuperGPQA, MedXpertQA |
| `pubmedqa` | PubMedQA |
| `mimic_cxr`, `iu_xray`, `chexpert_plus` | radiology reports |
| `generic` | your own CSV / JSONL / Parquet table (MedSG exports too) |
| `conversations` | LLaVA-format conversations, instruction tables |
| `phantom` | the synthetic phantom radiographs |

Also here: `cards` (the data cards and registry) and `leakage` (images and questions shared by
training and test data).
"""

from .base import Problem, Record, materialise
from .images import ImageRef, cache_dir


__all__ = ["ImageRef", "Problem", "Record", "cache_dir", "materialise"]
