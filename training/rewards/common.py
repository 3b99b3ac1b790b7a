# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""What every reward needs: completion text, per-sample dataset columns, task applicability, metric logging."""

import math
from collections.abc import Callable, Sequence

from medmo.clinical.tasks import task_family


def completion_text(completion) -> str:
    """The assistant text of a completion: a string, or TRL's conversational
    `[{"role": "assistant", "content": str}]` (content may itself be a list of text parts)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        completion = [completion]
    if isinstance(completion, Sequence):
        parts = []
        for message in completion:
            content = message.get("content", "") if isinstance(message, dict) else message
            if isinstance(content, list):
                content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
            parts.append(content if isinstance(content, str) else "")
        return "".join(parts)
    return ""


def column(kwargs: dict, name: str, index: int, default=None):
    """Row `index` of dataset column `name` (TRL passes each column as a list), or `default`."""
    values = kwargs.get(name)
    if values is None:
        return default
    try:
        return values[index]
    except (IndexError, TypeError, KeyError):
        return default


def applies(kwargs: dict, index: int, family: str) -> bool:
    """True when the row has no `task` column or its task belongs to reward `family` (`grounding`,
    `answer`, `report`: see `medmo.clinical.tasks`); rows of other tasks are not applicable."""
    task = column(kwargs, "task", index)
    return task is None or task_family(task) == family


def finite(value: float, low: float, high: float) -> float:
    """`value` clipped into [low, high]; NaN becomes `low` (a reward must always be a number)."""
    if value is None or not math.isfinite(value):
        return low
    return min(high, max(low, float(value)))


def score_rows(completions, score_row: Callable, log_metric: Callable | None, metric: str) -> list[float | None]:
    """The per-row loop every row-wise reward shares: `score_row(index, text)` returns None when
    row `index` does not apply, else `(reward, parsed)`; the parse rate over applicable rows is
    logged as `metric`."""
    rewards, read, applicable = [], 0, 0
    for index, completion in enumerate(completions):
        outcome = score_row(index, completion_text(completion))
        if outcome is None:
            rewards.append(None)
            continue
        reward, parsed = outcome
        applicable += 1
        read += bool(parsed)
        rewards.append(reward)
    log_rate(log_metric, metric, read, applicable)
    return rewards


def log_rate(log_metric: Callable | None, name: str, hits: int, total: int) -> None:
    """Report a parse rate through TRL's `log_metric` when the trainer passes one."""
    if log_metric is not None and total:
        log_metric(name, hits / total)


def check_nonnegative(**values: float) -> None:
    for name, value in values.items():
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}.")
