# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Box rewards: MedMO's L1 + GIoU reward with Hungarian matching, and a plain GIoU reward.

Both read boxes with `medmo.boxes` (the one parser and geometry module) from the completion and
from the ground truth, in the same frame, so no coordinate conversion happens here.

Ground truth, per row: `solution` (the target text, written as the SFT targets are, e.g.
`Nodule <box>[[12, 40, 80, 96]]</box>`) or structured boxes (`boxes`, or `solution` as a list of
`{"label", "box"}` / `[x1, y1, x2, y2]`); `image_size`, the `[W, H]` of the frame those boxes are
in (for `"model_pixels"`: the processor's resized size). The `grid_1000` frame needs no size.
Rows whose `task` column is not grounding get None (not applicable).
"""

from functools import lru_cache

import numpy as np
from scipy.optimize import linear_sum_assignment

from medmo.boxes import FRAMES, as_array, frame_size, l1_scale, pair_terms, pairwise_terms, parse_boxes

from .common import applies, check_nonnegative, column, completion_text, finite, log_rate, score_rows


# Defaults, chosen because the paper does not publish them: misses already lose their share of the
# coverage term B, so lambda_fn adds a moderate extra cost; extra boxes cost nothing in B, so
# lambda_fp is the only brake on box spamming. At 0.25 each, one extra box beside a perfect match
# scores (1 - 0.25)^2 = 0.56, four extras score 0, and with no finding to report a single false
# box scores 0.56 while an empty answer scores 1.
DEFAULT_LAMBDA_FN = 0.25
DEFAULT_LAMBDA_FP = 0.25


def _boxes_in(text: str) -> np.ndarray:
    return np.array([item["box"] for item in parse_boxes(text)], dtype=np.float64).reshape(-1, 4)


@lru_cache(maxsize=8192)
def _target_boxes(text: str) -> np.ndarray:
    """Ground-truth boxes, cached: GRPO scores each target against several generations."""
    boxes = _boxes_in(text)
    boxes.setflags(write=False)
    return boxes


def read_boxes(value) -> np.ndarray | None:
    """`(N, 4)` boxes from target text or structured boxes; None when there is no ground truth."""
    if value is None:
        return None
    if isinstance(value, str):
        return _target_boxes(value)
    return as_array(value)


def _frame_size(frame: str, image_size) -> tuple[float, float]:
    """The frame's size from the row's `image_size` column, which is already that frame's [W, H]."""
    if image_size is None and frame != "grid_1000":
        raise ValueError(
            f"The box reward needs an `image_size` column ([W, H] of the {frame!r} frame the boxes are in). "
            "The data converters write it: processor.frame_size(original size)."
        )
    return frame_size(frame, image_size, model_size=image_size)


class BoxReward:
    """MedMO's box reward (see `get_box_reward`); an instance is a picklable TRL reward function."""

    def __init__(self, lambda_fn: float, lambda_fp: float, w_l1: float, w_giou: float, box_format: str):
        check_nonnegative(lambda_fn=lambda_fn, lambda_fp=lambda_fp, w_l1=w_l1, w_giou=w_giou)
        if w_l1 + w_giou <= 0:
            raise ValueError("w_l1 + w_giou must be positive.")
        if box_format not in FRAMES:
            raise ValueError(f"box_format must be one of {FRAMES}, got {box_format!r}.")
        self.lambda_fn, self.lambda_fp, self.w_l1, self.w_giou = lambda_fn, lambda_fp, w_l1, w_giou
        self.box_format = box_format
        self.__name__ = "box_reward"

    def score(self, predicted: np.ndarray, target: np.ndarray, image_size) -> float:
        """The reward of one completion's boxes against one row's ground truth (same frame)."""
        return self._score_rows([(predicted, target, image_size)])[0]

    def _score_rows(self, rows: list[tuple[np.ndarray, np.ndarray, object]]) -> list[float]:
        """Scores for (predicted, target, image_size) rows, with the geometry of all rows in one pass."""
        scores: list[float | None] = [None] * len(rows)
        pairs = []
        for index, (predicted, target, image_size) in enumerate(rows):
            if len(target) == 0:
                scores[index] = 1.0 if len(predicted) == 0 else finite(1.0 - self.lambda_fp * len(predicted), 0.0, 1.0) ** 2
            elif len(predicted) == 0:
                scores[index] = 0.0
            else:
                pairs.append(index)
        if not pairs:
            return scores
        firsts = np.concatenate([np.repeat(rows[i][0], len(rows[i][1]), axis=0) for i in pairs])
        seconds = np.concatenate([np.tile(rows[i][1], (len(rows[i][0]), 1)) for i in pairs])
        _, giou_all, distance_all = pair_terms(firsts, seconds)
        offset = 0
        for index in pairs:
            predicted, target, image_size = rows[index]
            shape = (len(predicted), len(target))
            size = shape[0] * shape[1]
            giou = giou_all[offset : offset + size].reshape(shape)
            l1 = distance_all[offset : offset + size].reshape(shape) / l1_scale(_frame_size(self.box_format, image_size))
            offset += size
            scores[index] = self._matched_score(giou, l1)
        return scores

    def _matched_score(self, giou: np.ndarray, l1: np.ndarray) -> float:
        given, expected = l1.shape
        cost = self.w_l1 * l1 + self.w_giou * (1.0 - giou)
        if given == 1 or expected == 1:  # one side has a single box: the best pair is the cheapest
            rows, cols = np.unravel_index([int(cost.argmin())], cost.shape)
        else:
            rows, cols = linear_sum_assignment(cost)
        total = 0.0
        for l1_value, giou_value in zip(l1[rows, cols].tolist(), giou[rows, cols].tolist()):
            total += self.w_l1 * (1.0 - min(1.0, max(0.0, l1_value))) + self.w_giou * (giou_value + 1.0) / 2.0
        matches = len(rows)
        coverage = total / (self.w_l1 + self.w_giou) / expected
        penalty = (self.lambda_fn * (expected - matches) + self.lambda_fp * (given - matches)) / max(1, expected)
        return finite(coverage - penalty, 0.0, 1.0) ** 2

    def __call__(self, completions, solution=None, image_size=None, boxes=None, log_metric=None, **kwargs):
        columns = {"solution": solution, "image_size": image_size, "boxes": boxes, **kwargs}
        rows, positions, read = [], [], 0
        for index, completion in enumerate(completions):
            truth = column(columns, "boxes", index)
            truth = read_boxes(truth if truth is not None else column(columns, "solution", index))
            if truth is None or not applies(columns, index, "grounding"):
                continue
            predicted = _boxes_in(completion_text(completion))
            read += len(predicted) > 0
            rows.append((predicted, truth, column(columns, "image_size", index)))
            positions.append(index)
        rewards: list[float | None] = [None] * len(completions)
        for index, score in zip(positions, self._score_rows(rows)):
            rewards[index] = score
        log_rate(log_metric, "box_reward/parse_rate", read, len(rows))
        return rewards


def get_box_reward(
    lambda_fn: float = DEFAULT_LAMBDA_FN,
    lambda_fp: float = DEFAULT_LAMBDA_FP,
    w_l1: float = 5.0,
    w_giou: float = 2.0,
    box_format: str = "model_pixels",
) -> BoxReward:
    """MedMO's box reward (paper, stage 4), for TRL's GRPOTrainer.

    For G ground-truth and P predicted boxes in a W x H frame:
    `L1_ij = sum |corner differences| / (2 sqrt(W^2 + H^2))`; Hungarian matching M on
    `w_l1 * L1 + w_giou * (1 - GIoU)`; pair score `(w_l1 (1 - clip01(L1)) + w_giou (GIoU + 1) / 2) /
    (w_l1 + w_giou)`; coverage `B = sum over M / G`; penalty `(lambda_fn (G - |M|) + lambda_fp
    (P - |M|)) / max(1, G)`; reward `clip01(B - penalty) ** 2`. Edge cases: G = P = 0 gives 1;
    G = 0 < P gives `clip01(1 - lambda_fp P) ** 2`; G > 0 with nothing readable gives 0. Reversed
    corners are put in order by the parser; zero-area boxes score by L1 alone (their IoU is 0).

    >>> reward = get_box_reward(box_format="original_pixels")
    >>> reward(["Nodule <box>[[10, 10, 50, 50]]</box>"], solution=["Nodule <box>[[10, 10, 50, 50]]</box>"],
    ...        image_size=[[100, 100]])
    [1.0]
    """
    return BoxReward(lambda_fn, lambda_fp, w_l1, w_giou, box_format)


box_reward = get_box_reward()


class GIoUReward:
    """Hungarian matching maximising GIoU; the sum of `(GIoU + 1) / 2` over matched pairs divided by
    `max(G, P)`, so misses and extra boxes both dilute it; 1.0 when both are empty, 0.0 when one is.
    """

    __name__ = "giou_reward"

    def __call__(self, completions, solution=None, boxes=None, log_metric=None, **kwargs):
        columns = {"solution": solution, "boxes": boxes, **kwargs}

        def score(index: int, text: str):
            truth = column(columns, "boxes", index)
            truth = read_boxes(truth if truth is not None else column(columns, "solution", index))
            if truth is None or not applies(columns, index, "grounding"):
                return None
            predicted = _boxes_in(text)
            return self.score(predicted, truth), len(predicted) > 0

        return score_rows(completions, score, log_metric, "giou_reward/parse_rate")

    @staticmethod
    def score(predicted: np.ndarray, target: np.ndarray) -> float:
        if len(target) == 0 and len(predicted) == 0:
            return 1.0
        if len(target) == 0 or len(predicted) == 0:
            return 0.0
        giou = pairwise_terms(predicted, target)[1]
        rows, cols = linear_sum_assignment(-giou)
        return finite(float(((giou[rows, cols] + 1.0) / 2.0).sum()) / max(len(target), len(predicted)), 0.0, 1.0)


giou_reward = GIoUReward()

__all__ = ["BoxReward", "GIoUReward", "box_reward", "get_box_reward", "giou_reward", "read_boxes"]
