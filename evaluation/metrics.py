# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Metrics: answers (shared parsing with the rewards), reports (BLEU, ROUGE-L, CIDEr-D, METEOR,
clinical F1 from the shared findings extractor) and grounding (IoU, Acc@0.5, COCO mAP), each with
a bootstrap confidence interval.

Every function takes the per-sample prediction records the runner writes (`predictions.jsonl`),
so metrics can be recomputed from saved predictions alone (`medmo eval score`).
"""

import contextlib
import copy
import io
import shutil
from collections import defaultdict

import numpy as np
from scipy.optimize import linear_sum_assignment

from medmo.boxes import as_array, final_answer, pairwise_iou, xyxy_to_xywh
from medmo.clinical.answers import answer_correct, parse_answer, token_recall
from medmo.clinical.findings import extract_findings
from medmo.clinical.tasks import ANSWER_KINDS, OPEN

from .bootstrap import interval, mean_with_interval


# --------------------------------------------------------------------------- answers


def is_correct(record: dict) -> bool:
    """Whether one prediction record answers its question (`answer_correct`, as the reward judges)."""
    return answer_correct(record["prediction"], record["reference"], record["kind"], record.get("options"))


def answer_metrics(records: list[dict], resamples: int = 1000) -> dict:
    by_kind = defaultdict(list)
    for record in records:
        by_kind[record["kind"]].append(record)
    metrics = {"accuracy": mean_with_interval([is_correct(r) for r in records], resamples)}
    for kind, group in by_kind.items():
        metrics[f"accuracy_{kind}"] = mean_with_interval([is_correct(r) for r in group], resamples)
    if by_kind.get(OPEN):
        metrics["token_recall_open"] = mean_with_interval([token_recall(r["prediction"], r["reference"]) for r in by_kind[OPEN]], resamples)
    parsed = [parse_answer(r["prediction"], r["kind"], r.get("options")) is not None for r in records]
    metrics["answer_parse_rate"] = mean_with_interval(parsed, 0)
    return metrics


# --------------------------------------------------------------------------- reports


def _bleu_scorer(order: int):
    from sacrebleu.metrics import BLEU

    return BLEU(max_ngram_order=order, effective_order=True)


def bleu(pairs: list[tuple[str, str]], order: int) -> float:
    """Corpus BLEU-`order` (sacrebleu, 0-100)."""
    return _bleu_scorer(order).corpus_score([final_answer(p) for p, _ in pairs], [[r for _, r in pairs]]).score


def bleu_metric(pairs: list[tuple[str, str]], order: int, resamples: int) -> dict:
    """Corpus BLEU with a bootstrap interval; resamples sum each sentence's n-gram statistics
    (computed once by sacrebleu) instead of re-tokenising the corpus."""
    scorer = _bleu_scorer(order)
    # sacrebleu's own statistics extraction, so resampled scores equal corpus_score on the resample
    stats = np.asarray(scorer._extract_corpus_statistics([final_answer(p) for p, _ in pairs], [[r for _, r in pairs]]))

    def corpus(indices) -> float:
        return scorer._compute_score_from_stats(list(stats[indices].sum(axis=0))).score

    return {"value": corpus(np.arange(len(pairs))), "n": len(pairs), "ci95": interval(corpus, len(pairs), resamples)}


def rouge_l_scores(pairs: list[tuple[str, str]]) -> list[float]:
    """ROUGE-L F-measure per pair (rouge-score, Porter stemming)."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    return [scorer.score(reference, final_answer(prediction))["rougeL"].fmeasure for prediction, reference in pairs]


def rouge_l(prediction: str, reference: str) -> float:
    return rouge_l_scores([(prediction, reference)])[0]


def cider_d_scores(pairs: list[tuple[str, str]]) -> tuple[float, list[float]]:
    """CIDEr-D (pycocoevalcap's implementation), one reference per sample: the corpus score and
    each sample's score (the corpus score is their mean; idf comes from the whole corpus)."""
    from pycocoevalcap.cider.cider import Cider

    def tokens(text: str) -> str:
        return " ".join("".join(c.lower() if c.isalnum() else " " for c in text).split())

    references = {i: [tokens(r)] for i, (_, r) in enumerate(pairs)}
    hypotheses = {i: [tokens(final_answer(p)) or "empty"] for i, (p, _) in enumerate(pairs)}
    value, per_sample = Cider().compute_score(references, hypotheses)
    return float(value), [float(v) for v in per_sample]


def cider_d(pairs: list[tuple[str, str]]) -> float:
    return cider_d_scores(pairs)[0]


def meteor(pairs: list[tuple[str, str]]) -> float | None:
    """METEOR (pycocoevalcap, needs Java); None without a `java` executable."""
    if shutil.which("java") is None:
        return None
    from pycocoevalcap.meteor.meteor import Meteor

    scorer = Meteor()
    references = {i: [r.lower()] for i, (_, r) in enumerate(pairs)}
    hypotheses = {i: [final_answer(p).lower() or "empty"] for i, (p, _) in enumerate(pairs)}
    return float(scorer.compute_score(references, hypotheses)[0])


def finding_counts(records: list[dict]) -> tuple[list[str], np.ndarray]:
    """Positive findings of generated vs reference reports (shared extractor): finding names and
    per-record (true positive, false positive, false negative) counts, shape [records, names, 3]."""
    per_record = []
    for record in records:
        predicted = {n for n, s in extract_findings(final_answer(record["prediction"])).items() if s == "positive"}
        truth = {n for n, s in extract_findings(record["reference"]).items() if s == "positive"}
        per_record.append((predicted, truth))
    names = sorted(set().union(*(p | t for p, t in per_record))) if per_record else []
    counts = np.zeros((len(records), len(names), 3), dtype=np.int64)
    for row, (predicted, truth) in enumerate(per_record):
        for column, name in enumerate(names):
            counts[row, column] = (name in predicted and name in truth, name in predicted and name not in truth, name in truth and name not in predicted)
    return names, counts


def _f1(tp, fp, fn):
    denominator = 2 * tp + fp + fn
    return np.divide(2 * tp, denominator, out=np.zeros_like(denominator, dtype=np.float64), where=denominator > 0)


def clinical_f1(records: list[dict]) -> dict:
    """Positive-finding F1 between generated and reference reports: micro, macro over the findings
    that occur (in either report), and per finding."""
    names, counts = finding_counts(records)
    totals = counts.sum(axis=0)
    per_finding = _f1(*totals.T)
    return {"micro": float(_f1(*totals.sum(axis=0))), "macro": float(per_finding.mean()) if names else 0.0,
            "per_finding": {name: float(value) for name, value in zip(names, per_finding)}}  # fmt: skip


def report_metrics(records: list[dict], resamples: int = 1000, extras=()) -> dict:
    """Report-generation metrics; `extras` names optional model-based ones (`medmo.evaluation.extras`)."""
    pairs = [(r["prediction"], r["reference"]) for r in records]
    metrics = {f"bleu_{n}": bleu_metric(pairs, n, resamples) for n in (1, 2, 3, 4)}
    metrics["rouge_l"] = mean_with_interval(rouge_l_scores(pairs), resamples)
    cider_value, cider_per_sample = cider_d_scores(pairs)
    # the interval resamples per-sample scores with the corpus idf fixed
    metrics["cider_d"] = {**mean_with_interval(cider_per_sample, resamples), "value": cider_value}
    meteor_value = meteor(pairs)
    metrics["meteor"] = {"value": meteor_value, "n": len(pairs), "ci95": None, "note": None if meteor_value is not None else "needs Java"}
    names, counts = finding_counts(records)
    micro = lambda rows: float(_f1(*counts[rows].sum(axis=(0, 1))))  # noqa: E731
    macro = lambda rows: float(_f1(*counts[rows].sum(axis=0).T).mean()) if names else 0.0  # noqa: E731
    everything = np.arange(len(records))
    metrics["clinical_f1_micro"] = {"value": micro(everything), "n": len(records), "ci95": interval(micro, len(records), resamples)}
    metrics["clinical_f1_macro"] = {"value": macro(everything), "n": len(records), "ci95": interval(macro, len(records), resamples)}
    metrics["clinical_f1_per_finding"] = {name: float(value) for name, value in zip(names, _f1(*counts.sum(axis=0).T))}
    if extras:
        from .extras import compute_extras

        metrics["extras"] = compute_extras(extras, [final_answer(p) for p, _ in pairs], [r for _, r in pairs], resamples)
    return metrics


# --------------------------------------------------------------------------- grounding


def matched_ious(predicted: list[dict], truth: list[dict]) -> list[float]:
    """IoU of each ground-truth box with its Hungarian-matched prediction (0 when unmatched)."""
    if not truth:
        return []
    if not predicted:
        return [0.0] * len(truth)
    iou = pairwise_iou(as_array(predicted), as_array(truth))
    rows, cols = linear_sum_assignment(-iou)
    matched = [0.0] * len(truth)
    for row, col in zip(rows, cols):
        matched[col] = float(iou[row, col])
    return matched


class CocoMAP:
    """COCO mAP@[.5:.95] and per-class AP (pycocotools) of prediction records. MedMO's boxes carry
    no scores, so every prediction has score 1: the AP is that of an unranked detector.

    pycocotools matches boxes per image once (`evaluate`); `value(indices)` then accumulates the
    precision over any resample of the images, which is what the bootstrap interval needs.
    """

    def __init__(self, records: list[dict]):
        self.labels = sorted({b.get("label") or "finding" for r in records for b in r["reference"]})
        self.evaluation = self._evaluate(records) if self.labels else None
        self.images = len(records)

    def _evaluate(self, records):
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval

        ids = {label: index + 1 for index, label in enumerate(self.labels)}
        lowered = {label.lower(): index for label, index in ids.items()}
        images, annotations, detections = [], [], []
        for image_id, record in enumerate(records, start=1):
            width, height = record["image_size"]
            images.append({"id": image_id, "width": width, "height": height})
            for box in record["reference"]:
                x1, y1, x2, y2 = box["box"]
                annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": ids[box.get("label") or "finding"],
                                    "bbox": xyxy_to_xywh(box["box"]), "area": (x2 - x1) * (y2 - y1), "iscrowd": 0})  # fmt: skip
            for box in record.get("predicted_boxes") or []:
                category = lowered.get(str(box.get("label") or "finding").lower())
                if category is not None:  # a label the reference never uses cannot be a true positive of any class
                    detections.append({"image_id": image_id, "category_id": category, "bbox": xyxy_to_xywh(box["box"]), "score": 1.0})
        if not detections:
            return None
        # pycocotools prints progress on stdout; the numbers go to results.json instead.
        with contextlib.redirect_stdout(io.StringIO()):
            truth = COCO()
            truth.dataset = {"images": images, "annotations": annotations, "categories": [{"id": i, "name": l} for l, i in ids.items()]}
            truth.createIndex()
            evaluation = COCOeval(truth, truth.loadRes(detections), "bbox")
            # mAP@[.5:.95] needs only the "all" area range at 100 detections: evaluating just those
            # makes each bootstrap resample's accumulate() 4x cheaper.
            evaluation.params.areaRng, evaluation.params.areaRngLbl, evaluation.params.maxDets = [[0, 1e10]], ["all"], [100]
            evaluation.evaluate()
        return evaluation

    def precision(self, indices=None) -> np.ndarray | None:
        """COCO's precision array [IoU thresholds, recall points, classes] (all areas, 100
        detections) over the images at `indices` (repeats allowed), -1 where undefined."""
        if self.evaluation is None:
            return None
        evaluation = copy.copy(self.evaluation)
        params = copy.copy(self.evaluation.params)
        indices = np.arange(self.images) if indices is None else indices
        areas, images = len(params.areaRng), len(params.imgIds)
        # evalImgs is laid out [class][area range][image]; renumbering the resampled images lets
        # accumulate() treat repeats as distinct images.
        evaluation.evalImgs = [self.evaluation.evalImgs[(k * areas + a) * images + i] for k in range(len(params.catIds)) for a in range(areas) for i in indices]
        params.imgIds = list(range(len(indices)))
        evaluation.params, evaluation._paramsEval = params, copy.copy(params)
        with contextlib.redirect_stdout(io.StringIO()):
            evaluation.accumulate()
        return evaluation.eval["precision"][:, :, :, 0, -1]

    def value(self, indices=None) -> float:
        precision = self.precision(indices)
        if precision is None or not (precision > -1).any():
            return 0.0
        return float(precision[precision > -1].mean())

    def per_class(self) -> dict[str, float]:
        precision = self.precision()
        if precision is None:
            return {label: 0.0 for label in self.labels}
        return {label: float(p[p > -1].mean()) if ((p := precision[:, :, k]) > -1).any() else 0.0 for k, label in enumerate(self.labels)}


def coco_map(records: list[dict]) -> dict:
    """COCO mAP@[.5:.95] over all classes and AP per class (see `CocoMAP`)."""
    result = CocoMAP(records)
    return {"map": result.value(), "per_class": result.per_class()}


def grounding_metrics(records: list[dict], resamples: int = 1000) -> dict:
    ious, per_class, per_image = [], defaultdict(list), []
    for record in records:
        matched = matched_ious(record.get("predicted_boxes") or [], record["reference"])
        ious += matched
        per_image.append(float(np.mean(matched)) if matched else float(not record.get("predicted_boxes")))
        for box, iou in zip(record["reference"], matched):
            per_class[box.get("label") or "finding"].append(iou)
    coco = CocoMAP(records)
    per_class_ap = coco.per_class()
    return {
        "mean_iou": mean_with_interval(ious, resamples),
        "acc_at_50": mean_with_interval([iou >= 0.5 for iou in ious], resamples),
        "mean_iou_per_image": mean_with_interval(per_image, resamples),
        "map_50_95": {"value": coco.value(), "n": len(records), "ci95": interval(coco.value, len(records), resamples)},
        "per_class": {label: {"mean_iou": float(np.mean(values)), "n": len(values), "ap": per_class_ap.get(label, 0.0)}
                      for label, values in sorted(per_class.items())},  # fmt: skip
        "iou_values": ious,
    }


def score_records(records: list[dict], resamples: int = 1000, report_extras=()) -> dict:
    """Every metric that applies, by sample kind: answers, reports (plus the optional
    `report_extras`, e.g. ["radgraph"]), grounding."""
    groups = defaultdict(list)
    for record in records:
        groups["answers" if record["kind"] in ANSWER_KINDS else record["kind"]].append(record)
    results = {}
    if groups.get("answers"):
        results["answers"] = answer_metrics(groups["answers"], resamples)
    if groups.get("report"):
        results["report"] = report_metrics(groups["report"], resamples, report_extras)
    if groups.get("grounding"):
        results["grounding"] = grounding_metrics(groups["grounding"], resamples)
    return results


__all__ = ["clinical_f1", "is_correct", "coco_map", "grounding_metrics", "matched_ious", "report_metrics", "score_records"]
