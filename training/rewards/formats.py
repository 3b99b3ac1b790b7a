# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Format rewards: the `<think>...</think><answer>...</answer>` structure, tag counts, and length.

TRL's `think_format_reward` checks the thinking block; this adds the answer block. DAPO's soft
overlong punishment is TRL's `get_soft_overlong_punishment`, registered as `soft_overlong`.
"""

import re

from trl.rewards import think_format_reward

from .common import completion_text


_ANSWER_AFTER_THINK = re.compile(r"</think>\s*<answer>(?P<answer>.*?)</answer>\s*$", re.DOTALL)
_TAGS = ("<think>", "</think>", "<answer>", "</answer>")


class FormatReward:
    """1.0 when a completion is `<think>...</think>` followed by `<answer>...</answer>`, each exactly
    once, the answer non-empty and last; else 0.0.

    >>> format_reward(["<think>small effusion</think><answer>yes</answer>", "yes"])
    [1.0, 0.0]
    """

    __name__ = "format_reward"

    def __call__(self, completions, **kwargs):
        texts = [completion_text(completion) for completion in completions]
        thinking = think_format_reward([[{"content": text.strip()}] for text in texts])
        rewards = []
        for text, think_ok in zip(texts, thinking):
            match = _ANSWER_AFTER_THINK.search(text)
            ok = think_ok == 1.0 and match and match.group("answer").strip() and text.count("<answer>") == 1
            rewards.append(1.0 if ok else 0.0)
        return rewards


format_reward = FormatReward()


class TagCountReward:
    """0.25 for each of the four tags that appears exactly once (partial credit early in training)."""

    __name__ = "tag_count_reward"

    def __call__(self, completions, **kwargs):
        texts = [completion_text(completion) for completion in completions]
        return [sum(0.25 for tag in _TAGS if text.count(tag) == 1) for text in texts]


tag_count_reward = TagCountReward()

__all__ = ["format_reward", "tag_count_reward"]
