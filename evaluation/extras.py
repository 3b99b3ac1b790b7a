# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Optional report-generation metrics that need third-party packages and model weights:
RadGraph-F1, CheXbert-F1, GREEN and RaTEScore.

None of them is a dependency of MedMO. `medmo eval` runs them only when asked, e.g.
`--report-extras radgraph,chexbert`; each needs its PyPI package:

    pip install radgraph      # radgraph   (RadGraph-F1)
    pip install f1chexbert    # chexbert   (CheXbert-F1)
    pip install green-score   # green      (GREEN; a 7B LLM, wants a GPU)
    pip install RaTEScore     # ratescore  (RaTEScore)

Offline: the packages fetch their weights from the Hugging Face Hub on first use, and this module
never adds a network call of its own. The evaluation harness (and the test suite) runs with
`HF_HUB_OFFLINE=1`, so the weights must already be cached locally: run each metric once online
with the same `HF_HOME` (or copy the cache), then evaluate offline. Where each package keeps them:

- radgraph: the `radgraph-xl` checkpoint (Hub repo StanfordAIMI/RRG_scorers), extracted under the
  appdirs cache `radgraph/<package version>/` (e.g. ~/.cache/radgraph/0.1.18/radgraph-xl), plus
  its BERT tokenizer in the Hugging Face cache.
- f1chexbert: `chexbert.pth` (StanfordAIMI/RRG_scorers) in the appdirs cache `chexbert/`
  (e.g. ~/.cache/chexbert/), plus the `bert-base-uncased` tokenizer in the Hugging Face cache.
- green-score: StanfordAIMI/GREEN-radllama2-7b in the Hugging Face cache.
- RaTEScore: Angelakeke/RaTE-NER-Deberta and FremyCompany/BioLORD-2023-C in the Hugging Face cache.

Every metric is a function `(predictions, references) -> {"value", "per_sample", ...}` in
`EXTRAS`; `compute_extras` runs the requested ones and adds `n` and a bootstrap `ci95` where
per-sample scores exist. Pass predictions as scored elsewhere (`final_answer` applied, as
`report_metrics` does).

>>> from medmo.evaluation.extras import compute_extras
>>> compute_extras("radgraph,chexbert", predictions, references)  # doctest: +SKIP
{'radgraph': {'value': 0.41, 'per_sample': [...], 'n': 2, 'ci95': ...}, 'chexbert': {...}}
"""

import importlib
import tempfile
from collections.abc import Callable

import numpy as np

from .bootstrap import bootstrap


# extra -> (import name, class, pip requirement)
PACKAGES = {
    "radgraph": ("radgraph", "F1RadGraph", "radgraph"),
    "chexbert": ("f1chexbert", "F1CheXbert", "f1chexbert"),
    "green": ("green_score", "GREEN", "green-score"),
    "ratescore": ("RaTEScore", "RaTEScore", "RaTEScore"),
}
RADGRAPH_REWARD_LEVEL = "partial"
RADGRAPH_MODEL = "radgraph-xl"
GREEN_MODEL = "StanfordAIMI/GREEN-radllama2-7b"


def _scorer_class(name: str):
    """The scorer class of extra `name`, imported now; ImportError with the install command if absent."""
    module_name, class_name, requirement = PACKAGES[name]
    advice = (f"`pip install {requirement}`; its model weights must already be in the local Hugging Face cache "
              "(set HF_HOME, or run the metric once online; the medmo.evaluation.extras docstring lists each "
              "package's cache): evaluation runs offline (HF_HUB_OFFLINE=1).")  # fmt: skip
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ImportError(f"The {name!r} report extra needs the optional package {module_name!r} ({error}): {advice}") from error
    scorer = getattr(module, class_name, None)
    if scorer is None:
        raise ImportError(f"The {name!r} report extra needs {module_name}.{class_name}, which this version lacks: {advice}")
    return scorer


def _device() -> str:
    import torch  # every extra's package depends on torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def radgraph_f1(predictions: list[str], references: list[str]) -> dict:
    """RadGraph-F1 at the "partial" reward level (RG_ER: entities, and whether they have relations)."""
    # Verified against radgraph 0.1.18 (PyPI sdist radgraph-0.1.18/radgraph/radgraph.py and its README,
    # as mirrored in pypi-data/pypi-mirror-356): F1RadGraph(reward_level, model_type=None, **RadGraph kwargs);
    # its forward is (refs, hyps) -- references FIRST -- so both go by keyword. It returns
    # (mean_reward, reward_list, hypothesis_annotations, reference_annotations); for one reward level the
    # mean is a float and reward_list holds one float per pair (0.0 when either report is empty). The README
    # names the levels (simple, partial, complete) = (RG_E, RG_ER, RG_bar_ER) and says RG_ER is the one RRG
    # papers report. radgraph-xl is the package's default model, named here so the result records it.
    scorer = _scorer_class("radgraph")(reward_level=RADGRAPH_REWARD_LEVEL, model_type=RADGRAPH_MODEL)
    mean_reward, rewards, _, _ = scorer(hyps=list(predictions), refs=list(references))
    return {"value": float(mean_reward), "per_sample": [float(r) for r in rewards],
            "reward_level": RADGRAPH_REWARD_LEVEL, "model_type": RADGRAPH_MODEL}  # fmt: skip


def chexbert_f1(predictions: list[str], references: list[str]) -> dict:
    """CheXbert-F1: micro-F1 of CheXbert's positive labels over the 5 common observations (headline)
    and over all 14, with the macro-F1s and the 5-observation exact-match accuracy."""
    # The f1chexbert package's own source is not in the index; verified against jbdel/RadEval (same
    # author): factual/f1chexbert.py, a copy that says "the public API stays identical", and RadEval.py,
    # which unpacks it into 4 values; third-party scripts call the PyPI package the same way.
    # F1CheXbert(refs_filename=None, hyps_filename=None, device=...); forward(hyps, refs) -- hypotheses
    # FIRST, unlike radgraph/GREEN, so keywords again -- returns (accuracy over the 5 observations,
    # per-sample exact-match array, sklearn classification_report dict over 14 labels, the same over 5),
    # each report keyed "micro avg"/"macro avg"/... -> {"precision", "recall", "f1-score", "support"}.
    # RadEval and the RRG literature report micro-F1 over 5 and 14; the 5-observation one is the headline.
    scorer = _scorer_class("chexbert")(device=_device())
    accuracy, accuracy_per_sample, report_14, report_5 = scorer(hyps=list(predictions), refs=list(references))
    return {
        "value": float(report_5["micro avg"]["f1-score"]),
        "per_sample": None,  # F1 over labels pooled across samples; no per-sample F1
        "micro_f1_5": float(report_5["micro avg"]["f1-score"]),
        "macro_f1_5": float(report_5["macro avg"]["f1-score"]),
        "micro_f1_14": float(report_14["micro avg"]["f1-score"]),
        "macro_f1_14": float(report_14["macro avg"]["f1-score"]),
        "accuracy_5": float(accuracy),
        "accuracy_5_per_sample": [float(a) for a in np.asarray(accuracy_per_sample).ravel()],
    }


def green(predictions: list[str], references: list[str]) -> dict:
    """GREEN (GREEN-RadLlama2-7b): matched findings / (matched findings + clinically significant errors)."""
    # Verified against Stanford-AIMI/GREEN green_score/green.py (current class: GREEN(model_name,
    # output_dir=".", [cpu, compute_summary_stats]); __call__(refs, hyps) -- references FIRST -- returning
    # (mean, std, green_score_list, summary, result_df)) and its tests/test_script.py; the Hugging Face Space
    # StanfordAIMI/GREEN app.py calls it the same way. A pair whose evaluation lacks the expected sections
    # scores None. green-score 0.0.5's older GREEN(cuda, model_id_or_path=...) API is not supported.
    with tempfile.TemporaryDirectory(prefix="medmo-green-") as output_dir:
        scorer = _scorer_class("green")(model_name=GREEN_MODEL, output_dir=output_dir)
        mean, std, scores, summary, _ = scorer(refs=list(references), hyps=list(predictions))
    return {"value": float(mean), "per_sample": [None if s is None else float(s) for s in scores],
            "std": float(std), "model": GREEN_MODEL, "summary": summary}  # fmt: skip


def ratescore(predictions: list[str], references: list[str]) -> dict:
    """RaTEScore: entity-aware (NER + synonym embedding) F1 between each report and its reference."""
    # Verified against MAGIC-AI4Med/RaTEScore RaTEScore/scorer.py and README: RaTEScore(bert_model=
    # "Angelakeke/RaTE-NER-Deberta", eval_model="FremyCompany/BioLORD-2023-C", batch_size=1, use_gpu=True,
    # ...); compute_score(candidate_list, reference_list) -- candidates first; both must be `list`s --
    # returns one float per pair. use_gpu defaults to True (fails without CUDA), so it follows the device.
    scorer = _scorer_class("ratescore")(use_gpu=_device() == "cuda")
    per_sample = [float(s) for s in scorer.compute_score(candidate_list=list(predictions), reference_list=list(references))]
    return {"value": float(np.mean(per_sample)), "per_sample": per_sample}


EXTRAS: dict[str, Callable[[list[str], list[str]], dict]] = {
    "radgraph": radgraph_f1,
    "chexbert": chexbert_f1,
    "green": green,
    "ratescore": ratescore,
}


def compute_extras(names, predictions: list[str], references: list[str], resamples: int = 1000) -> dict[str, dict]:
    """Run the extras `names` (a list, or a comma-separated string such as "radgraph,chexbert") on
    paired predictions and references: {name: {"value", "per_sample", "n", "ci95", ...}}.

    Every name and package is checked before anything runs: an unknown name raises ValueError, a
    missing package ImportError naming its `pip install` command.
    """
    if isinstance(names, str):
        names = [name.strip() for name in names.split(",") if name.strip()]
    names = list(dict.fromkeys(names))
    unknown = [name for name in names if name not in EXTRAS]
    if unknown:
        raise ValueError(f"Unknown report extra(s) {', '.join(map(repr, unknown))}: choose from {', '.join(EXTRAS)}.")
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references.")
    for name in names:
        _scorer_class(name)
    results = {}
    for name in names:
        if not predictions:
            results[name] = {"value": None, "per_sample": [], "n": 0, "ci95": None}
            continue
        result = EXTRAS[name](list(predictions), list(references))
        per_sample = result.get("per_sample")
        complete = per_sample is not None and all(value is not None for value in per_sample)
        results[name] = {**result, "n": len(predictions), "ci95": bootstrap(per_sample, resamples=resamples) if complete else None}
    return results


__all__ = ["EXTRAS", "PACKAGES", "chexbert_f1", "compute_extras", "green", "radgraph_f1", "ratescore"]
