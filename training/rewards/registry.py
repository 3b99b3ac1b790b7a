# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Reward names -> reward functions, as recipes name them.

    reward_funcs: [box, label_accuracy, report_factuality, format, soft_overlong]
    reward_kwargs: {box: {lambda_fp: 0.5}, soft_overlong: {max_completion_len: 1024, soft_punish_cache: 256}}

A name not in the registry may be a dotted import path (`package.module.function` or
`package.module:function`).
"""

import importlib
from collections.abc import Callable, Mapping, Sequence

from trl.rewards import get_soft_overlong_punishment

from .answers import answer_accuracy_reward
from .factuality import label_accuracy_reward, report_factuality_reward
from .formats import format_reward, tag_count_reward
from .grounding import get_box_reward, giou_reward


def _fixed(reward):
    def factory(**kwargs):
        if kwargs:
            raise ValueError(f"{reward.__name__} takes no parameters; got {sorted(kwargs)}.")
        return reward

    return factory


# name -> factory(**kwargs) returning the reward function
REWARDS: dict[str, Callable[..., Callable]] = {
    "box": get_box_reward,
    "giou": _fixed(giou_reward),
    "label_accuracy": _fixed(label_accuracy_reward),
    "report_factuality": _fixed(report_factuality_reward),
    "answer_accuracy": _fixed(answer_accuracy_reward),
    "format": _fixed(format_reward),
    "tag_count": _fixed(tag_count_reward),
    "soft_overlong": get_soft_overlong_punishment,
}


def _import(path: str) -> Callable:
    module_name, _, attribute = path.replace(":", ".").rpartition(".")
    try:
        function = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError) as error:
        raise ValueError(f"Reward {path!r} is neither a registered name ({', '.join(REWARDS)}) nor importable: {error}") from None
    if not callable(function):
        raise ValueError(f"Reward {path!r} is not callable.")
    return function


def get_reward_func(name: str, **kwargs) -> Callable:
    """One reward function by registry name (with factory parameters) or dotted import path."""
    if name in REWARDS:
        try:
            return REWARDS[name](**kwargs)
        except TypeError as error:
            raise ValueError(f"Bad parameters for reward {name!r}: {error}") from None
    if "." not in name:
        raise ValueError(f"Unknown reward {name!r}; valid names: {', '.join(REWARDS)} (or a dotted import path).")
    if kwargs:
        raise ValueError(f"Reward {name!r} comes from an import path and takes no reward_kwargs.")
    return _import(name)


def get_reward_funcs(names: Sequence[str], reward_kwargs: Mapping[str, Mapping] | None = None) -> list[Callable]:
    """Reward functions for `names`, in order; `reward_kwargs[name]` parameterises a factory."""
    reward_kwargs = dict(reward_kwargs or {})
    unknown = set(reward_kwargs) - set(names)
    if unknown:
        raise ValueError(f"reward_kwargs name rewards that are not used: {sorted(unknown)}.")
    return [get_reward_func(name, **dict(reward_kwargs.get(name) or {})) for name in names]


__all__ = ["REWARDS", "get_reward_func", "get_reward_funcs"]
