"""Reward throughput on one core, beside naive baselines.

    python bench/rewards.py [--runs 7]

- `box_reward`: completions with 1-5 boxes against targets with 1-5 boxes, in MedMO's text styles;
  the baseline computes the same reward with a per-pair Python loop for L1 / GIoU and scipy's
  Hungarian matching (what a straightforward implementation does).
- `report_factuality_reward`: 200-word reports against a cached reference; the baseline scans
  each lexicon phrase with its own regex and looks for triggers in a 6-word window (a plain
  NegEx loop).

Targets: box >= 20,000 completions/s (<= 5 boxes), factuality >= 2,000 reports/s. Median of
`--runs` samples.
"""

import argparse
import math
import random
import re
import statistics

import numpy as np
from scipy.optimize import linear_sum_assignment

from medmo.boxes import format_boxes, parse_boxes
from medmo.clinical.findings import load_lexicon
from medmo.training.rewards import box_reward, report_factuality_reward

from common import median_seconds


def median_rate(function, items: int, runs: int) -> float:
    return items / median_seconds(function, runs)


def random_boxes(rng: random.Random, count: int, size: int = 1000) -> list[dict]:
    boxes = []
    for _ in range(count):
        x, y = rng.uniform(0, size * 0.8), rng.uniform(0, size * 0.8)
        boxes.append({"label": rng.choice(["Nodule", "Mass", "Effusion"]), "box": [x, y, x + rng.uniform(5, 200), y + rng.uniform(5, 200)]})
    return boxes


def box_batch(count: int):
    rng = random.Random(0)
    completions, solutions = [], []
    for index in range(count):
        truth = random_boxes(rng, rng.randint(1, 5))
        jittered = [{"label": b["label"], "box": [v + rng.uniform(-20, 20) for v in b["box"]]} for b in truth]
        predicted = jittered[: rng.randint(0, len(jittered))] + random_boxes(rng, rng.randint(0, 2))
        style = ("medmo", "answer", "qwen_json")[index % 3]
        completions.append(format_boxes(predicted[:5], style=style) if predicted else "No findings.")
        solutions.append(format_boxes(truth))
    return completions, solutions, [[1000, 1000]] * count


def naive_box_reward(completions, solution, image_size, lambda_fn=0.25, lambda_fp=0.25, **kwargs):
    rewards = []
    for text, target_text, (width, height) in zip(completions, solution, image_size):
        predicted = [item["box"] for item in parse_boxes(text)]
        target = [item["box"] for item in parse_boxes(target_text)]
        if not target:
            rewards.append(1.0 if not predicted else max(0.0, 1 - lambda_fp * len(predicted)) ** 2)
            continue
        if not predicted:
            rewards.append(0.0)
            continue
        diagonal = 2 * math.hypot(width, height)
        l1 = [[0.0] * len(target) for _ in predicted]
        giou = [[0.0] * len(target) for _ in predicted]
        for i, p in enumerate(predicted):
            for j, t in enumerate(target):
                l1[i][j] = sum(abs(a - b) for a, b in zip(p, t)) / diagonal
                iw = max(0.0, min(p[2], t[2]) - max(p[0], t[0]))
                ih = max(0.0, min(p[3], t[3]) - max(p[1], t[1]))
                inter = iw * ih
                union = (p[2] - p[0]) * (p[3] - p[1]) + (t[2] - t[0]) * (t[3] - t[1]) - inter
                hull = (max(p[2], t[2]) - min(p[0], t[0])) * (max(p[3], t[3]) - min(p[1], t[1]))
                iou = inter / union if union > 0 else 0.0
                giou[i][j] = iou - ((hull - union) / hull if hull > 0 else 0.0)
        cost = [[5 * l1[i][j] + 2 * (1 - giou[i][j]) for j in range(len(target))] for i in range(len(predicted))]
        rows, cols = linear_sum_assignment(np.array(cost))
        score = sum((5 * (1 - min(1.0, max(0.0, l1[i][j]))) + 2 * (giou[i][j] + 1) / 2) / 7 for i, j in zip(rows, cols))
        penalty = (lambda_fn * (len(target) - len(rows)) + lambda_fp * (len(predicted) - len(rows))) / len(target)
        rewards.append(min(1.0, max(0.0, score / len(target) - penalty)) ** 2)
    return rewards


REPORTS = [
    "The cardiomediastinal silhouette is within normal limits. There is a small left pleural effusion with adjacent "
    "basilar atelectasis, although superimposed consolidation cannot be excluded. No pneumothorax. Mild interstitial "
    "edema is present. A 9 mm nodule projects over the right upper lobe; follow-up CT may be considered. Degenerative "
    "changes of the thoracic spine. The endotracheal tube terminates 4 cm above the carina and the nasogastric tube "
    "courses below the diaphragm. Old healed right rib fractures. No free air. Possible small hiatal hernia. The "
    "previously described right apical opacity has resolved, and there is no new focal airspace disease. ",
    "Heart size is normal. The lungs are clear without focal consolidation, effusion, or pneumothorax. No acute "
    "osseous abnormality. Right internal jugular central venous catheter tip in the SVC. Mild biapical scarring. "
    "Calcified granuloma in the left mid lung. No pulmonary edema. Stable mild cardiomegaly is not seen on this study; "
    "the cardiac silhouette is within normal limits. Small bilateral pleural effusions have resolved. ",
]


class NaiveNegex:
    """Each lexicon phrase searched with its own regex; triggers looked up in a 6-word window."""

    def __init__(self):
        lexicon = load_lexicon()
        self.phrases = [(re.compile(rf"\b{re.escape(p)}(?:e?s)?\b", re.I), name) for name, ps in lexicon.findings.items() for p in ps]
        self.negations = [t.lower() for t in lexicon.triggers["pre_negation"]]
        self.hedges = [t.lower() for t in lexicon.triggers["pre_uncertainty"]]

    def __call__(self, text: str) -> dict[str, str]:
        result = {}
        for sentence in re.split(r"(?<=[.!?])\s+", text):
            lowered = sentence.lower()
            for pattern, name in self.phrases:
                for match in pattern.finditer(sentence):
                    window = " " + " ".join(lowered[: match.start()].split()[-6:]) + " "
                    status = "positive"
                    if any(f" {t} " in window for t in self.negations):
                        status = "negative"
                    elif any(f" {t} " in window for t in self.hedges):
                        status = "uncertain"
                    result.setdefault(name, status)
        return result


def naive_factuality(completions, report, **kwargs):
    extractor = kwargs["_extractor"]
    from medmo.training.rewards.factuality import report_score

    return [report_score(extractor(text), extractor(reference)) for text, reference in zip(completions, report)]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    count = 4000
    completions, solutions, sizes = box_batch(count)
    box_fast = median_rate(lambda: box_reward(completions, solution=solutions, image_size=sizes), count, args.runs)
    box_naive = median_rate(lambda: naive_box_reward(completions, solutions, sizes), count, args.runs)
    check = np.allclose(box_reward(completions[:500], solution=solutions[:500], image_size=sizes[:500]),
                        naive_box_reward(completions[:500], solutions[:500], sizes[:500]))  # fmt: skip

    # ~200-word generated reports (varied per row, so nothing is cached) against two references
    reports = [(REPORTS[0] * 2).replace("small", ("moderate", "small", "large")[i % 3]) + f" Study {i}." for i in range(400)]
    references = [REPORTS[i % 2] * 2 for i in range(400)]
    words = statistics.mean(len(r.split()) for r in reports)
    naive = NaiveNegex()
    fact_fast = median_rate(lambda: report_factuality_reward(reports, report=references), len(reports), args.runs)
    fact_naive = median_rate(lambda: naive_factuality(reports, references, _extractor=naive), len(reports), args.runs)

    print(f"One core, median of {args.runs} runs\n")
    print("| reward | MedMO (completions / s) | naive baseline (completions / s) | speed-up | target |")
    print("|---|---:|---:|---:|---:|")
    print(f"| box_reward (1-5 boxes, 3 text styles) | {box_fast:,.0f} | {box_naive:,.0f} | {box_fast / box_naive:.1f}x | 20,000 |")
    print(f"| report_factuality_reward ({words:.0f}-word reports) | {fact_fast:,.0f} | {fact_naive:,.0f} | {fact_fast / fact_naive:.1f}x | 2,000 |")
    print(f"\nbox_reward equals the baseline on 500 completions: {check}")


if __name__ == "__main__":
    main()
