# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Benchmark tasks: each reads its benchmark's evaluated split through a reader of `medmo.sources`
and yields `Sample`s, or the `Problem`s of records that could not be read (with their file and
line or index), so a run never scores fewer samples than it read without saying so.

`TASKS` maps task names (`medmo eval --tasks ...`) to their adapter, the folder they expect under
`--data-dir` and their family; `load_task` applies the sample limit. One module per family:
`vqa`, `text_qa`, `reports`, `grounding`, `mixed` (your own benchmark and the phantoms).
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from medmo.clinical.tasks import KINDS
from medmo.sources import Problem

from .common import Sample
from .grounding import deeplesion, medsg, nih_chestxray14, yolo_detection
from .mixed import generic, phantom
from .reports import chexpert_plus, iu_xray, mimic_cxr
from .text_qa import medbullets_op4, medbullets_op5, medmcqa, medqa, medxpertqa_text, mmlu_med, pubmedqa, sgpqa
from .vqa import medxpertqa_mm, mmmu_med, omnimedvqa, pathvqa, pmc_vqa, slake, vqa_rad


@dataclass(frozen=True)
class Task:
    name: str
    adapter: Callable[[Path], Iterator]
    folder: str  # under --data-dir
    family: str  # vqa | text_qa | report | grounding | mixed


# In the order of the MedMO paper's tables, so results.md columns line up with them.
TASKS: dict[str, Task] = {task.name: task for task in (
    Task("mmmu_med", mmmu_med, "mmmu", "vqa"), Task("vqa_rad", vqa_rad, "vqa_rad", "vqa"), Task("slake", slake, "slake", "vqa"),
    Task("pathvqa", pathvqa, "pathvqa", "vqa"), Task("pmc_vqa", pmc_vqa, "pmc_vqa", "vqa"),
    Task("omnimedvqa", omnimedvqa, "omnimedvqa", "vqa"), Task("medxpertqa_mm", medxpertqa_mm, "medxpertqa", "vqa"),
    Task("mmlu_med", mmlu_med, "mmlu", "text_qa"), Task("pubmedqa", pubmedqa, "pubmedqa", "text_qa"),
    Task("medmcqa", medmcqa, "medmcqa", "text_qa"), Task("medqa", medqa, "medqa", "text_qa"),
    Task("medbullets_op4", medbullets_op4, "medbullets", "text_qa"), Task("medbullets_op5", medbullets_op5, "medbullets", "text_qa"),
    Task("medxpertqa_text", medxpertqa_text, "medxpertqa", "text_qa"), Task("sgpqa", sgpqa, "supergpqa", "text_qa"),
    Task("mimic_cxr", mimic_cxr, "mimic_cxr", "report"), Task("chexpert_plus", chexpert_plus, "chexpert_plus", "report"),
    Task("iu_xray", iu_xray, "iu_xray", "report"),
    Task("nih_chestxray14", nih_chestxray14, "nih_chestxray14", "grounding"), Task("deeplesion", deeplesion, "deeplesion", "grounding"),
    Task("yolo_detection", yolo_detection, "bacteria", "grounding"), Task("medsg", medsg, "medsg", "grounding"),
    Task("generic", generic, "generic", "mixed"), Task("phantom", phantom, "phantom", "mixed"),
)}  # fmt: skip


def load_task(name: str, data_dir: str | Path, limit: int | None = None) -> Iterator[Sample | Problem]:
    """Samples (and problems) of task `name` from `<data_dir>/<task folder>`, at most `limit` samples."""
    if name not in TASKS:
        raise ValueError(f"Unknown task {name!r}; tasks: {', '.join(TASKS)}.")
    task = TASKS[name]
    root = Path(data_dir) / task.folder
    if not root.exists():
        raise FileNotFoundError(f"{name}: expected the benchmark's files under {root} (see data_cards/ for where to get them).")
    samples = 0
    for item in task.adapter(root):
        if isinstance(item, Sample):
            if limit is not None and samples >= limit:
                return
            samples += 1
        yield item


__all__ = ["KINDS", "TASKS", "Problem", "Sample", "Task", "load_task"]
