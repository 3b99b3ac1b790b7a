# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""The prompt bank: task -> prompt variants, picked deterministically per sample.

Converters and the phantom generator draw from here, and the evaluation asks with the first prompt
of each task, so training and evaluation use the same wording. The first X-ray detection prompt
and the GRPO system prompt are the ones seen in the MedMO authors' data.
"""

import hashlib

from .answers import option_letters


SYSTEM_PROMPT = "You are a medical imaging expert."
NO_FINDINGS = "No abnormalities detected."

PROMPTS: dict[str, tuple[str, ...]] = {
    "grounding": (
        "You are a medical imaging expert. Detect any visible diseases or abnormalities in this X-ray image. For each "
        "detected finding, provide the disease name and bounding box coordinates as <box> [x_min, y_min, x_max, "
        "y_max] </box> in pixel values.",
        "Locate every abnormality in this image and give each one's name and bounding box.",
        "Find the lesions in this image. Answer with each finding's label and its box [x1, y1, x2, y2].",
        "Detect and localize all findings. Return them as label <box>[[x1, y1, x2, y2]]</box>.",
    ),
    "microscopy": (
        "Detect and localize all bacterial cells in this microscopy image (up to 40). Give each as a bounding box.",
        "Find every cell in this image and return its bounding box.",
    ),
    "report": (
        "Write the radiology report for this image.",
        "Describe the findings in this image as a radiology report.",
        "What are the findings? Write a short report.",
        "Provide the FINDINGS section of the report for this study.",
    ),
    "caption": (
        "Describe this medical image.",
        "Write a caption for this image.",
    ),
}


def format_question(question: str, options: list[str] | None = None) -> str:
    """A question as the model is asked it, options lettered A, B, ... with an answer instruction."""
    text = question.strip()
    if options:
        text += "\n" + "\n".join(f"{letter}. {option}" for letter, option in zip(option_letters(len(options)), options))
        text += "\nAnswer with the option's letter."
    return text


def pick(task: str, key: str) -> str:
    """A prompt of `task` chosen by a stable hash of `key` (a sample id): same sample, same prompt."""
    if task not in PROMPTS:
        raise ValueError(f"No prompts for task {task!r}; tasks: {sorted(PROMPTS)}.")
    variants = PROMPTS[task]
    digest = int.from_bytes(hashlib.sha1(f"{task}:{key}".encode()).digest()[:4], "big")
    return variants[digest % len(variants)]


def evaluation_prompt(task: str) -> str:
    """The wording evaluation uses for `task`: the first variant."""
    return PROMPTS[task][0]


__all__ = ["NO_FINDINGS", "PROMPTS", "SYSTEM_PROMPT", "evaluation_prompt", "format_question", "pick"]
