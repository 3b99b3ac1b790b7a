"""The optional report metrics (RadGraph-F1, CheXbert-F1, GREEN, RaTEScore): the glue around each
package, checked with fake modules that take the same arguments and return the same structures as
the real APIs (see the comments in medmo/evaluation/extras.py for where those were verified).

Every fake scores a pair asymmetrically (`_pair_score(hyp, ref)`), so a prediction/reference swap
anywhere in the glue changes the numbers and fails the test."""

import sys
import types

import numpy as np
import pytest

from medmo.evaluation import extras
from medmo.evaluation.bootstrap import bootstrap


PREDICTIONS = ["no effusion", "mild edema and cardiomegaly", "small left pneumothorax"]
REFERENCES = ["small effusion", "edema", "left pneumothorax, unchanged since the prior study"]


def _pair_score(hyp: str, ref: str) -> float:
    """A deterministic, order-sensitive stand-in for a metric."""
    return len(hyp) / 100 + len(ref) / 10000


EXPECTED = [_pair_score(h, r) for h, r in zip(PREDICTIONS, REFERENCES)]


@pytest.fixture
def calls():
    return []


def install(monkeypatch, module_name, **attributes):
    module = types.ModuleType(module_name)
    for name, value in attributes.items():
        setattr(module, name, value)
    monkeypatch.setitem(sys.modules, module_name, module)
    return module


@pytest.fixture
def fake_radgraph(monkeypatch, calls):
    class F1RadGraph:
        # radgraph 0.1.18: __init__(reward_level, model_type=None, **kwargs); forward(refs, hyps)
        def __init__(self, reward_level, model_type=None, **kwargs):
            calls.append(("radgraph.init", {"reward_level": reward_level, "model_type": model_type, **kwargs}))
            self.reward_level = reward_level

        def __call__(self, refs, hyps):
            calls.append(("radgraph.call", {"refs": refs, "hyps": hyps}))
            rewards = [_pair_score(h, r) for h, r in zip(hyps, refs)]
            annotations = [{"text": text, "entities": {}, "data_source": None, "data_split": "inference"} for text in hyps]
            return np.mean(rewards), rewards, annotations, [dict(a) for a in annotations]

    return install(monkeypatch, "radgraph", F1RadGraph=F1RadGraph, RadGraph=object)


def _classification_report(micro: float, macro: float, labels: list[str]) -> dict:
    """The dict sklearn's classification_report(output_dict=True) returns for multilabel input."""
    row = {"precision": 0.5, "recall": 0.5, "f1-score": 0.5, "support": 1}
    report = {label: dict(row) for label in labels}
    report["micro avg"] = {**row, "f1-score": micro}
    report["macro avg"] = {**row, "f1-score": macro}
    report["weighted avg"] = dict(row)
    report["samples avg"] = dict(row)
    return report


@pytest.fixture
def fake_chexbert(monkeypatch, calls):
    class F1CheXbert:
        # f1chexbert: __init__(refs_filename=None, hyps_filename=None, device=None); forward(hyps, refs)
        def __init__(self, refs_filename=None, hyps_filename=None, device=None, **kwargs):
            calls.append(("chexbert.init", {"refs_filename": refs_filename, "hyps_filename": hyps_filename, "device": device, **kwargs}))

        def __call__(self, hyps, refs):
            calls.append(("chexbert.call", {"hyps": hyps, "refs": refs}))
            scores = [_pair_score(h, r) for h, r in zip(hyps, refs)]
            per_sample_accuracy = np.array([float(s > 0.15) for s in scores], dtype=np.float32)
            # micro/macro F1s that depend on which side is which
            report_14 = _classification_report(scores[0], scores[1], ["Cardiomegaly", "Edema", "No Finding"])
            report_5 = _classification_report(scores[2], scores[0] / 2, ["Cardiomegaly", "Edema"])
            return float(per_sample_accuracy.mean()), per_sample_accuracy, report_14, report_5

    return install(monkeypatch, "f1chexbert", F1CheXbert=F1CheXbert)


@pytest.fixture
def fake_green(monkeypatch, calls):
    class GREEN:
        # green_score (Stanford-AIMI/GREEN): __init__(model_name, output_dir="."); __call__(refs, hyps)
        def __init__(self, model_name, output_dir="."):
            calls.append(("green.init", {"model_name": model_name, "output_dir": output_dir}))

        def __call__(self, refs, hyps):
            calls.append(("green.call", {"refs": refs, "hyps": hyps}))
            scores = [_pair_score(h, r) for h, r in zip(hyps, refs)]
            scores[-1] = None  # a pair whose evaluation the parser could not read
            valid = [s for s in scores if s is not None]
            return np.mean(valid), np.std(valid), scores, "[Summary]: Green average ...", object()

    return install(monkeypatch, "green_score", GREEN=GREEN)


@pytest.fixture
def fake_ratescore(monkeypatch, calls):
    class RaTEScore:
        # RaTEScore: __init__(bert_model=..., eval_model=..., batch_size=1, use_gpu=True, ...);
        # compute_score(candidate_list, reference_list), both plain lists
        def __init__(self, bert_model="Angelakeke/RaTE-NER-Deberta", eval_model="FremyCompany/BioLORD-2023-C", batch_size=1,
                     use_gpu=True, visualization_path=None, affinity_matrix=None):  # fmt: skip
            calls.append(("ratescore.init", {"bert_model": bert_model, "eval_model": eval_model, "use_gpu": use_gpu}))

        def compute_score(self, candidate_list, reference_list):
            if not isinstance(candidate_list, list) or not isinstance(reference_list, list):
                raise ValueError("candidate must be a list")
            calls.append(("ratescore.call", {"candidate_list": candidate_list, "reference_list": reference_list}))
            return [_pair_score(c, r) for c, r in zip(candidate_list, reference_list)]

    return install(monkeypatch, "RaTEScore", RaTEScore=RaTEScore)


@pytest.fixture
def device(monkeypatch):
    """Pin the device the glue picks (the real one asks torch)."""
    monkeypatch.setattr(extras, "_device", lambda: "cuda")
    return "cuda"


def test_the_four_extras_are_registered():
    assert set(extras.EXTRAS) == {"radgraph", "chexbert", "green", "ratescore"}
    assert {name: package[0] for name, package in extras.PACKAGES.items()} == {
        "radgraph": "radgraph", "chexbert": "f1chexbert", "green": "green_score", "ratescore": "RaTEScore"}  # fmt: skip


def test_radgraph_passes_hyps_and_refs_by_name_at_the_partial_level(fake_radgraph, calls):
    result = extras.EXTRAS["radgraph"](PREDICTIONS, REFERENCES)

    assert calls == [
        ("radgraph.init", {"reward_level": "partial", "model_type": "radgraph-xl"}),
        ("radgraph.call", {"refs": REFERENCES, "hyps": PREDICTIONS}),
    ]
    assert result["per_sample"] == pytest.approx(EXPECTED)
    assert result["value"] == pytest.approx(np.mean(EXPECTED))
    assert type(result["value"]) is float and all(type(v) is float for v in result["per_sample"])
    assert result["reward_level"] == "partial"


def test_chexbert_reads_micro_f1_over_5_and_14_observations(fake_chexbert, calls, device):
    result = extras.EXTRAS["chexbert"](PREDICTIONS, REFERENCES)

    assert calls == [
        ("chexbert.init", {"refs_filename": None, "hyps_filename": None, "device": "cuda"}),
        ("chexbert.call", {"hyps": PREDICTIONS, "refs": REFERENCES}),
    ]
    assert result["value"] == pytest.approx(EXPECTED[2]) == pytest.approx(result["micro_f1_5"])
    assert result["macro_f1_5"] == pytest.approx(EXPECTED[0] / 2)
    assert result["micro_f1_14"] == pytest.approx(EXPECTED[0])
    assert result["macro_f1_14"] == pytest.approx(EXPECTED[1])
    assert result["per_sample"] is None
    assert result["accuracy_5_per_sample"] == [float(s > 0.15) for s in EXPECTED]
    assert result["accuracy_5"] == pytest.approx(np.mean(result["accuracy_5_per_sample"]))


def test_green_passes_refs_and_hyps_by_name_and_keeps_unparsed_pairs_as_none(fake_green, calls):
    result = extras.EXTRAS["green"](PREDICTIONS, REFERENCES)

    (init_name, init), (call_name, call) = calls
    assert (init_name, init["model_name"]) == ("green.init", "StanfordAIMI/GREEN-radllama2-7b")
    assert isinstance(init["output_dir"], str)
    assert (call_name, call) == ("green.call", {"refs": REFERENCES, "hyps": PREDICTIONS})
    assert result["per_sample"][:2] == pytest.approx(EXPECTED[:2]) and result["per_sample"][2] is None
    assert result["value"] == pytest.approx(np.mean(EXPECTED[:2]))
    assert result["std"] == pytest.approx(np.std(EXPECTED[:2]))
    assert result["summary"].startswith("[Summary]")


@pytest.mark.parametrize("picked, use_gpu", [("cuda", True), ("cpu", False)])
def test_ratescore_scores_candidates_against_references_on_the_picked_device(fake_ratescore, calls, monkeypatch, picked, use_gpu):
    monkeypatch.setattr(extras, "_device", lambda: picked)

    result = extras.EXTRAS["ratescore"](tuple(PREDICTIONS), tuple(REFERENCES))  # tuples in, lists out

    assert calls[0] == ("ratescore.init", {"bert_model": "Angelakeke/RaTE-NER-Deberta", "eval_model": "FremyCompany/BioLORD-2023-C", "use_gpu": use_gpu})
    assert calls[1] == ("ratescore.call", {"candidate_list": PREDICTIONS, "reference_list": REFERENCES})
    assert result["per_sample"] == pytest.approx(EXPECTED)
    assert result["value"] == pytest.approx(np.mean(EXPECTED))


def test_compute_extras_runs_the_requested_ones_with_n_and_interval(fake_radgraph, fake_chexbert, fake_green, fake_ratescore, calls, device):
    results = extras.compute_extras("radgraph, chexbert,green,radgraph", PREDICTIONS, REFERENCES, resamples=200)

    assert list(results) == ["radgraph", "chexbert", "green"]  # in order, once each; ratescore not asked for
    assert not any(name.startswith("ratescore") for name, _ in calls)
    assert {name: result["n"] for name, result in results.items()} == {"radgraph": 3, "chexbert": 3, "green": 3}
    assert results["radgraph"]["ci95"] == bootstrap(EXPECTED, resamples=200)
    assert results["radgraph"]["ci95"] is not None
    assert results["chexbert"]["ci95"] is None  # no per-sample F1
    assert results["green"]["ci95"] is None  # a pair without a score
    assert results["radgraph"]["value"] == pytest.approx(np.mean(EXPECTED))


def test_unknown_extra_raises_value_error_listing_the_known_ones(fake_radgraph, calls):
    with pytest.raises(ValueError, match="'bleurt'") as error:
        extras.compute_extras(["radgraph", "bleurt"], PREDICTIONS, REFERENCES)
    for name in ("radgraph", "chexbert", "green", "ratescore"):
        assert name in str(error.value)
    assert calls == []  # nothing ran before the check


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="3 predictions but 2 references"):
        extras.compute_extras(["ratescore"], PREDICTIONS, REFERENCES[:2])


@pytest.mark.parametrize("name, module, requirement", [
    ("radgraph", "radgraph", "pip install radgraph"),
    ("chexbert", "f1chexbert", "pip install f1chexbert"),
    ("green", "green_score", "pip install green-score"),
    ("ratescore", "RaTEScore", "pip install RaTEScore"),
])  # fmt: skip
def test_missing_package_raises_import_error_with_install_command(monkeypatch, name, module, requirement):
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail, as when not installed

    with pytest.raises(ImportError) as error:
        extras.compute_extras([name], PREDICTIONS, REFERENCES)
    message = str(error.value)
    assert requirement in message and "Hugging Face cache" in message and "HF_HUB_OFFLINE=1" in message
    assert isinstance(error.value.__cause__, ImportError)


def test_missing_package_is_reported_before_any_extra_runs(fake_ratescore, calls, monkeypatch, device):
    monkeypatch.setitem(sys.modules, "green_score", None)

    with pytest.raises(ImportError, match="pip install green-score"):
        extras.compute_extras(["ratescore", "green"], PREDICTIONS, REFERENCES)
    assert calls == []  # ratescore was not run only to fail on green afterwards


def test_package_without_the_scorer_class_raises_import_error(monkeypatch):
    install(monkeypatch, "radgraph", RadGraph=object)  # an old radgraph without F1RadGraph

    with pytest.raises(ImportError, match=r"radgraph\.F1RadGraph.*pip install radgraph"):
        extras.compute_extras(["radgraph"], PREDICTIONS, REFERENCES)


def test_no_samples_loads_no_model(fake_radgraph, calls):
    assert extras.compute_extras(["radgraph"], [], []) == {"radgraph": {"value": None, "per_sample": [], "n": 0, "ci95": None}}
    assert calls == []
