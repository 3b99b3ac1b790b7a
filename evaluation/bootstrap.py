# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Bootstrap confidence intervals, shared by every metric (`metrics`, the report `extras`)."""

import numpy as np


def bootstrap(values, resamples: int = 1000, seed: int = 0) -> tuple[float, float] | None:
    """95% percentile bootstrap interval of the mean of per-sample `values` (None for fewer than 2)."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) < 2 or resamples <= 0:
        return None
    indices = np.random.default_rng(seed).integers(0, len(values), size=(resamples, len(values)))
    low, high = np.percentile(values[indices].mean(axis=1), [2.5, 97.5])
    return float(low), float(high)


def interval(statistic, rows: int, resamples: int, seed: int = 0) -> tuple[float, float] | None:
    """95% percentile bootstrap interval of `statistic(indices)` over resampled sample indices, for
    corpus-level metrics that are not means of per-sample values."""
    if rows < 2 or resamples <= 0:
        return None
    rng = np.random.default_rng(seed)
    estimates = [statistic(rng.integers(0, rows, rows)) for _ in range(resamples)]
    low, high = np.percentile(estimates, [2.5, 97.5])
    return float(low), float(high)


def mean_with_interval(values, resamples: int) -> dict:
    """`{"value", "n", "ci95"}` of per-sample `values` (value None when there are none)."""
    values = [float(v) for v in values]
    return {"value": float(np.mean(values)) if values else None, "n": len(values), "ci95": bootstrap(values, resamples=resamples)}


__all__ = ["bootstrap", "interval", "mean_with_interval"]
