# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Verifiable rewards for MedMO's GRPO stage, callable by TRL's GRPOTrainer as they are.

Every reward is `f(completions, **columns) -> list[float | None]`; None means "not applicable to
this row". `get_reward_funcs(["box", "label_accuracy", ...])` resolves recipe names.
"""

from .answers import answer_accuracy_reward
from .factuality import label_accuracy_reward, report_factuality_reward, report_score
from .formats import format_reward, tag_count_reward
from .grounding import box_reward, get_box_reward, giou_reward
from .registry import REWARDS, get_reward_func, get_reward_funcs


__all__ = [
    "REWARDS",
    "answer_accuracy_reward",
    "box_reward",
    "format_reward",
    "get_box_reward",
    "get_reward_func",
    "get_reward_funcs",
    "giou_reward",
    "label_accuracy_reward",
    "report_factuality_reward",
    "report_score",
    "tag_count_reward",
]
