"""The evaluation harness: metrics pinned by hand and against their libraries, batched resumable
generation, `medmo eval` end to end, re-scoring, leakage, the optional judge and the vLLM glue."""

import hashlib
import json
import shutil
import sys
import threading
import types
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from medmo.cli import main as cli
from medmo.evaluation import TASKS, rescore, score
from medmo.evaluation import metrics
from medmo.evaluation.bootstrap import bootstrap
from medmo.evaluation.judge import TEMPLATE_PATH, Judge
from medmo.evaluation.runner import TransformersBackend, VLLMBackend, generate_batch, prediction_record, run
from medmo.evaluation.tasks import Sample, load_task


REPO = Path(__file__).resolve().parents[1]


def answer_record(kind, prediction, reference, options=None, task="t"):
    return {"id": f"{task}-{prediction}-{reference}", "task": task, "kind": kind, "prediction": prediction, "reference": reference, "options": options}


def box_record(predicted, truth, size=(100, 100), task="boxes", index=0):
    return {"id": f"{task}-{index}", "task": task, "kind": "grounding", "reference": truth, "predicted_boxes": predicted, "image_size": list(size), "prediction": ""}


def write_generic_task(folder: Path, with_missing_image: bool = False) -> Path:
    """A user's own benchmark in the generic layout: a question, a report and a grounding row."""
    folder.mkdir(parents=True)
    Image.new("RGB", (96, 64), (40, 40, 40)).save(folder / "a.png")
    rows = [{"id": "q1", "images": ["a.png"], "question": "Is there a nodule?", "answer": "yes"},
            {"id": "r1", "images": ["a.png"], "report": "Cardiomegaly. No pleural effusion."},
            {"id": "b1", "images": ["a.png"], "boxes": [{"label": "Nodule", "box": [10, 8, 40, 30]}]}]  # fmt: skip
    if with_missing_image:
        rows.insert(1, {"id": "gone", "images": ["missing.png"], "question": "Is it there?", "answer": "no"})
    (folder / "test.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return folder


# --------------------------------------------------------------------------- answers


def test_answer_accuracy_by_kind_with_shared_parsing():
    records = [
        answer_record("closed", "Yes, there is a nodule.", "yes"),
        answer_record("closed", "<think>maybe yes</think><answer>No</answer>", "no"),
        answer_record("closed", "I cannot tell.", "yes"),
        answer_record("multiple_choice", "The answer is (C).", "C", ["lung", "liver", "heart"]),
        answer_record("multiple_choice", "Heart", "C", ["lung", "liver", "heart"]),
        answer_record("multiple_choice", "A or B", "A", ["lung", "liver", "heart"]),
        answer_record("open", "The Left Lung.", "left lung"),
        answer_record("open", "right lung", "left lung"),
    ]
    result = metrics.answer_metrics(records, resamples=0)
    assert result["accuracy_closed"]["value"] == pytest.approx(2 / 3)
    assert result["accuracy_multiple_choice"]["value"] == pytest.approx(2 / 3)
    assert result["accuracy_open"]["value"] == pytest.approx(1 / 2)
    assert result["accuracy"] == {"value": pytest.approx(5 / 8), "n": 8, "ci95": None}
    assert result["token_recall_open"]["value"] == pytest.approx((1.0 + 0.5) / 2)
    assert result["answer_parse_rate"]["value"] == pytest.approx(6 / 8)  # "I cannot tell." and "A or B" commit to nothing


def test_bootstrap_interval_is_deterministic_and_brackets_the_mean():
    values = [1, 0, 1, 1, 0, 1, 1, 1, 0, 1]
    low, high = bootstrap(values, resamples=500)
    assert low < np.mean(values) < high
    assert bootstrap(values, resamples=500) == (low, high)
    assert bootstrap([1.0], resamples=500) is None


# --------------------------------------------------------------------------- reports


def test_bleu_and_rouge_l_hand_computed_and_equal_to_the_libraries():
    from rouge_score import rouge_scorer
    from sacrebleu.metrics import BLEU

    # unigrams: 5 of 6 hypothesis words are in the reference, same length (no brevity penalty)
    pairs = [("the cat sat on the mat", "the cat is on the mat")]
    assert metrics.bleu(pairs, 1) == pytest.approx(100 * 5 / 6)
    # bigrams: "the cat", "on the", "the mat" of 5 -> BLEU-2 = sqrt(5/6 * 3/5)
    assert metrics.bleu(pairs, 2) == pytest.approx(100 * np.sqrt(5 / 6 * 3 / 5))
    # LCS "the cat on the mat" = 5 words: P = R = F = 5/6
    assert metrics.rouge_l(*pairs[0]) == pytest.approx(5 / 6)

    corpus = [("Heart size is normal. No effusion.", "The heart is normal in size. No pleural effusion."),
              ("Small left effusion.", "Small left pleural effusion with atelectasis.")]  # fmt: skip
    for order in (1, 2, 3, 4):
        expected = BLEU(max_ngram_order=order, effective_order=True).corpus_score([p for p, _ in corpus], [[r for _, r in corpus]]).score
        assert metrics.bleu(corpus, order) == pytest.approx(expected)
    with_interval = metrics.bleu_metric(corpus * 3, 4, resamples=200)
    assert with_interval["value"] == pytest.approx(metrics.bleu(corpus * 3, 4))
    assert with_interval["ci95"][0] <= with_interval["value"] <= with_interval["ci95"][1]
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    assert [metrics.rouge_l(p, r) for p, r in corpus] == [scorer.score(r, p)["rougeL"].fmeasure for p, r in corpus]


def test_cider_d_of_identical_reports_is_ten_and_lower_otherwise():
    # identical texts: each order's clipped tf-idf vectors coincide and the Gaussian length penalty
    # is 1, so orders 1-4 each contribute cosine 1: CIDEr-D = 10 * mean(1, 1, 1, 1) = 10
    same = [("the heart size is normal", "the heart size is normal"), ("a small left pleural effusion", "a small left pleural effusion")]
    assert metrics.cider_d(same) == pytest.approx(10.0)
    # three words have no 4-grams: that order contributes 0, so 10 * 3/4
    assert metrics.cider_d([("heart size normal", "heart size normal"), ("small left effusion", "small left effusion")]) == pytest.approx(7.5)
    assert 0 < metrics.cider_d([same[0], ("no effusion", "a small left pleural effusion")]) < 10.0


def test_meteor_runs_with_java_and_is_reported_missing_without(monkeypatch):
    if shutil.which("java"):
        perfect = metrics.meteor([("small left pleural effusion", "small left pleural effusion")])
        partial = metrics.meteor([("large right effusion", "small left pleural effusion")])
        assert perfect > 0.9 > partial > 0
    monkeypatch.setattr(metrics.shutil, "which", lambda name: None)
    result = metrics.report_metrics([answer_record("report", "No effusion.", "No pleural effusion.")], resamples=0)
    assert result["meteor"] == {"value": None, "n": 1, "ci95": None, "note": "needs Java"}


def test_clinical_f1_from_the_shared_findings_extractor():
    from medmo.clinical.findings import extract_findings

    records = [
        answer_record("report", "Cardiomegaly. No pleural effusion.", "Cardiomegaly. Small left pleural effusion."),
        answer_record("report", "Right lower lobe consolidation.", "No consolidation. Cardiomegaly."),
    ]
    positive = lambda text: {n for n, s in extract_findings(text).items() if s == "positive"}  # noqa: E731
    cardio, = positive("Cardiomegaly.")
    effusion, = positive("Small left pleural effusion.")
    consolidation, = positive("Right lower lobe consolidation.")
    result = metrics.clinical_f1(records)
    # cardiomegaly: tp 1, fn 1; effusion: fn 1; consolidation: fp 1 -> micro 2*1 / (2*1 + 1 + 2)
    assert result["micro"] == pytest.approx(2 / 5)
    assert result["per_finding"] == {cardio: pytest.approx(2 / 3), effusion: 0.0, consolidation: 0.0}
    assert result["macro"] == pytest.approx((2 / 3) / 3)


# --------------------------------------------------------------------------- grounding


def test_matched_iou_and_accuracy_at_half_by_hand():
    truth = [{"label": "Nodule", "box": [0, 0, 10, 10]}, {"label": "Mass", "box": [50, 50, 90, 90]}]
    predicted = [{"label": "Nodule", "box": [0, 0, 10, 5]}]  # IoU 0.5 with the nodule, the mass is missed
    assert metrics.matched_ious(predicted, truth) == [0.5, 0.0]
    result = metrics.grounding_metrics([box_record(predicted, truth)], resamples=0)
    assert result["mean_iou"]["value"] == pytest.approx(0.25)
    assert result["acc_at_50"]["value"] == pytest.approx(0.5)
    assert result["per_class"]["Nodule"]["mean_iou"] == pytest.approx(0.5)
    # an image with no finding and no prediction is right; one with a false alarm is not
    empty = metrics.grounding_metrics([box_record([], [], index=1), box_record([{"label": "x", "box": [0, 0, 5, 5]}], [], index=2)], resamples=0)
    assert empty["mean_iou_per_image"]["value"] == pytest.approx(0.5)


def test_coco_map_on_a_crafted_case_matches_the_hand_value():
    # image 1: a perfect box; image 2: IoU 0.62. Both score 1 (MedMO boxes carry no scores).
    records = [box_record([{"label": "Nodule", "box": [0, 0, 100, 100]}], [{"label": "Nodule", "box": [0, 0, 100, 100]}], index=1),
               box_record([{"label": "nodule", "box": [0, 0, 100, 62]}], [{"label": "Nodule", "box": [0, 0, 100, 100]}], index=2)]  # fmt: skip
    # IoU thresholds .50, .55, .60: both true positives, AP 1. The 7 higher thresholds: a true
    # positive then a false positive -> precision 1 up to recall 0.5, i.e. 51 of COCO's 101 recall points.
    expected = (3 * 1.0 + 7 * 51 / 101) / 10
    result = metrics.coco_map(records)
    assert result["map"] == pytest.approx(expected)
    assert result["per_class"] == {"Nodule": pytest.approx(expected)}
    # bootstrap resamples reuse pycocotools' per-image matching: a resample with repeats scores
    # exactly like the corpus that repeats those records
    resampled = metrics.CocoMAP(records).value(np.array([1, 1, 0]))
    assert resampled == pytest.approx(metrics.coco_map([records[1], records[1], records[0]])["map"])
    assert resampled != pytest.approx(expected)


def test_predicted_boxes_are_scored_in_original_pixels(tiny):
    _, processor = tiny
    size = (640, 300)  # resized by the processor: the model's frame differs from the image's
    truth = [{"label": "Nodule", "box": [100.0, 60.0, 220.0, 150.0]}]
    text = processor.format_boxes(truth, size)
    sample = Sample("s", "t", "grounding", "Find it.", truth, ["x.png"], image_size=list(size))
    record = prediction_record(sample, text, processor)
    assert record["box_format"] == processor.box_format
    assert record["predicted_boxes"][0]["label"] == "Nodule"
    assert metrics.matched_ious(record["predicted_boxes"], truth)[0] > 0.97


# --------------------------------------------------------------------------- running


def test_batched_generation_equals_one_by_one(tiny, tmp_path):
    model, processor = tiny
    for index, size in enumerate([(64, 48), (40, 72), (56, 56)]):
        Image.fromarray(np.random.default_rng(index).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(tmp_path / f"{index}.png")
    samples = [Sample(f"s{i}", "t", "open", prompt, "x", [str(tmp_path / f"{i}.png")])
               for i, prompt in enumerate(["What is shown?", "Describe the lungs in this chest radiograph, briefly.", "Any mass?"])]  # fmt: skip
    batched = generate_batch(model, processor, samples, max_new_tokens=8)
    alone = [generate_batch(model, processor, [sample], max_new_tokens=8)[0] for sample in samples]
    assert batched == alone
    assert all(batched)


def test_an_interrupted_run_resumes_where_it_stopped(tiny, tmp_path):
    model, processor = tiny
    write_generic_task(tmp_path / "data" / "generic")
    (tmp_path / "data" / "generic" / "test.jsonl").write_text("".join(
        json.dumps({"id": f"q{i}", "images": ["a.png"], "question": f"Question {i}?", "answer": "yes"}) + "\n" for i in range(5)))  # fmt: skip
    backend = TransformersBackend(model, processor)
    generated = []

    def failing_after_one_batch(batch, max_new_tokens):
        if generated:
            raise KeyboardInterrupt
        generated.extend(s.id for s in batch)
        return backend(batch, 4)

    with pytest.raises(KeyboardInterrupt):
        run(failing_after_one_batch, processor, ["generic"], tmp_path / "data", tmp_path / "out", batch_size=2, progress=False)
    assert len((tmp_path / "out" / "predictions.jsonl").read_text().splitlines()) == 2

    resumed = []

    def counting(batch, max_new_tokens):
        resumed.extend(s.id for s in batch)
        return backend(batch, 4)

    records, reading = run(counting, processor, ["generic"], tmp_path / "data", tmp_path / "out", batch_size=2, progress=False)
    assert sorted(resumed + generated) == [f"generic-q{i}" for i in range(5)] and not set(resumed) & set(generated)
    assert reading["generic"] == {"samples": 5, "problems": 0, "problems_by_reason": {}, "problem_examples": [], "resumed": 2}
    assert len(records) == 5 == len((tmp_path / "out" / "predictions.jsonl").read_text().splitlines())


def test_a_medmo_eval_killed_mid_run_resumes_without_losing_or_repeating_samples(tiny_dir, tmp_path, caplog):
    import os
    import signal
    import subprocess
    import time

    data = tmp_path / "data" / "generic"
    write_generic_task(data)
    questions = [{"id": f"q{i}", "images": ["a.png"], "question": f"Question {i}?", "answer": "yes"} for i in range(80)]
    (data / "test.jsonl").write_text("".join(json.dumps(q) + "\n" for q in questions))
    out = tmp_path / "out"
    arguments = ["eval", "--model", str(tiny_dir), "--tasks", "generic", "--data-dir", str(tmp_path / "data"), "--out", str(out),
                 "--batch-size", "1", "--max-new-tokens", "16", "--resamples", "0"]  # fmt: skip
    process = subprocess.Popen([sys.executable, "-m", "medmo.cli", *arguments], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    predictions = out / "predictions.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and (not predictions.exists() or predictions.read_text().count("\n") < 5):
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL  # killed while still generating, not finished
    before = predictions.read_bytes()
    complete = before[: before.rfind(b"\n") + 1]
    done_before = [json.loads(line)["id"] for line in complete.splitlines()]
    assert 5 <= len(done_before) < 80
    # A kill that lands inside a write leaves half a line: make sure this run has one.
    with open(predictions, "ab") as file:
        file.write(complete.splitlines()[0][:40] if before.endswith(b"\n") else b"")

    assert cli([*arguments, "--batch-size", "16"]) == 0  # resuming with another batch size is fine
    assert "dropped the incomplete last line" in caplog.text
    after = predictions.read_bytes()
    assert after.startswith(complete)  # what was written before the kill is kept as it was
    ids = [json.loads(line)["id"] for line in after.splitlines()]
    assert sorted(ids) == sorted(f"generic-q{i}" for i in range(80))  # each sample exactly once
    assert json.loads((out / "results.json").read_text())["tasks"]["generic"]["scored"] == 80


def test_eval_score_names_a_corrupt_line_and_exits_2(tmp_path, capsys):
    predictions = tmp_path / "predictions.jsonl"
    rows = [json.dumps(answer_record("closed", "yes", "yes", task="vqa_rad")), '{"id": "x", "task": "vqa_rad", "kind": "clo',
            json.dumps(answer_record("closed", "no", "yes", task="vqa_rad"))]  # fmt: skip
    predictions.write_text("\n".join(rows) + "\n")
    assert cli(["eval", "score", "--predictions", str(predictions), "--resamples", "0"]) == 2
    error = capsys.readouterr().err
    assert f"{predictions}:2: not a complete JSON record" in error and "delete that line" in error
    assert not (tmp_path / "results.json").exists()


def test_eval_score_drops_a_truncated_last_line_with_a_warning(tmp_path, caplog):
    predictions = tmp_path / "predictions.jsonl"
    complete = json.dumps(answer_record("closed", "yes", "yes", task="vqa_rad"))
    predictions.write_text(complete + "\n" + complete[:25])
    results = rescore(str(predictions), resamples=0)
    assert results["tasks"]["vqa_rad"]["scored"] == 1
    assert f"{predictions}: dropped the incomplete last line (line 2)" in caplog.text


def test_scoring_refuses_fewer_samples_than_were_read():
    records = [answer_record("closed", "yes", "yes", task="vqa_rad")]
    with pytest.raises(RuntimeError, match="2 samples read but 1 scored"):
        score(records, "m", reading={"vqa_rad": {"samples": 2, "problems": 0}}, resamples=0)


def test_medmo_eval_end_to_end_then_rescore(tiny_dir, tmp_path, capsys):
    write_generic_task(tmp_path / "data" / "generic", with_missing_image=True)
    out = tmp_path / "out"
    status = cli(["eval", "--model", str(tiny_dir), "--tasks", "generic", "--data-dir", str(tmp_path / "data"), "--out", str(out),
                  "--batch-size", "2", "--resamples", "50", "--max-new-tokens", "12"])  # fmt: skip
    assert status == 0
    printed = capsys.readouterr().out
    assert "## Report generation" in printed and "## Grounding" in printed
    results = json.loads((out / "results.json").read_text())
    generic = results["tasks"]["generic"]
    # the row with a missing image is reported with its location, not silently dropped
    assert (generic["samples"], generic["scored"], generic["problems"]) == (3, 3, 1)
    assert generic["problem_examples"] == [{"location": "test.jsonl:2 (missing.png)", "reason": "image not found or unreadable"}]
    assert set(generic["metrics"]) == {"answers", "report", "grounding"}
    assert {p.name for p in out.iterdir()} >= {"predictions.jsonl", "results.json", "results.md", "iou_histogram.png", "overlays"}
    assert (out / "overlays" / "generic-b1.png").exists()

    rescored_dir = tmp_path / "rescored"
    assert cli(["eval", "score", "--predictions", str(out / "predictions.jsonl"), "--out", str(rescored_dir), "--resamples", "50"]) == 0
    rescored = json.loads((rescored_dir / "results.json").read_text())
    assert rescored["tasks"]["generic"]["metrics"] == generic["metrics"]


def test_rescoring_another_models_predictions(tmp_path):
    predictions = tmp_path / "other-model.jsonl"
    rows = [answer_record("closed", "Yes.", "yes", task="vqa_rad"), answer_record("closed", "no", "yes", task="vqa_rad"),
            box_record([{"label": "Nodule", "box": [0, 0, 10, 5]}], [{"label": "Nodule", "box": [0, 0, 10, 10]}], task="nih_chestxray14")]  # fmt: skip
    rows[2]["images"] = []
    predictions.write_text("".join(json.dumps(r) + "\n" for r in rows))
    results = rescore(str(predictions), resamples=0)
    assert results["tasks"]["vqa_rad"]["metrics"]["answers"]["accuracy"]["value"] == 0.5
    assert results["tasks"]["nih_chestxray14"]["metrics"]["grounding"]["mean_iou"]["value"] == pytest.approx(0.5)
    table = (tmp_path / "results.md").read_text()
    assert "| accuracy | 50.0 |" in table and "| nih_chestxray14 | 50.0 |" in table


def test_cli_errors_name_the_fix(tmp_path, capsys):
    with pytest.raises(SystemExit, match="--list-tasks"):
        cli(["eval", "--model", "m", "--tasks", "vqa_radd", "--data-dir", str(tmp_path), "--out", str(tmp_path / "o")])
    with pytest.raises(SystemExit, match="missing --model, --data-dir"):
        cli(["eval", "--tasks", "vqa_rad", "--out", str(tmp_path / "o")])
    with pytest.raises(FileNotFoundError, match="predictions.jsonl an evaluation run wrote"):
        cli(["eval", "score", "--predictions", str(tmp_path / "nope.jsonl")])
    with pytest.raises(FileNotFoundError, match=r"vqa_rad: expected the benchmark's files under .*vqa_rad"):
        list(load_task("vqa_rad", tmp_path))


def test_list_tasks_names_every_adapter(capsys):
    assert cli(["eval", "--list-tasks"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == list(TASKS)


def test_every_registry_benchmark_names_an_existing_task():
    registry = yaml.safe_load((REPO / "data_cards" / "registry.yaml").read_text())
    named = {name: entry.get("eval_task") for name, entry in registry.items() if entry.get("eval_task")}
    assert named, "the registry names no evaluation tasks"
    for name, tasks in named.items():
        for task in [tasks] if isinstance(tasks, str) else tasks:
            assert task in TASKS, f"registry entry {name}: eval_task {task!r} is not an adapter"


# --------------------------------------------------------------------------- leakage


def test_leakage_counts_evaluation_images_found_in_training_data(tmp_path):
    folder = write_generic_task(tmp_path / "data" / "generic")
    training = tmp_path / "train.jsonl"
    shutil.copy(folder / "a.png", tmp_path / "copy.png")
    training.write_text(json.dumps({"images": ["copy.png"], "messages": [{"role": "user", "content": [{"type": "text", "text": "q"}]},
                                                                         {"role": "assistant", "content": [{"type": "text", "text": "a"}]}]}) + "\n")  # fmt: skip
    records = [dict(answer_record("closed", "yes", "yes", task="generic"), images=[str(folder / "a.png")]),
               dict(answer_record("closed", "no", "no", task="generic"), images=[str(tmp_path / "elsewhere.png")])]  # fmt: skip
    Image.new("RGB", (8, 8), (200, 0, 0)).save(tmp_path / "elsewhere.png")
    results = score(records, "m", resamples=0, training_data=[str(training)])
    assert results["leakage"] == {"generic": {"images": 2, "shared": 1}}


# --------------------------------------------------------------------------- judge


class _JudgeServer(BaseHTTPRequestHandler):
    """An OpenAI-compatible endpoint: CORRECT when the candidate contains the reference."""

    seen = []

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _JudgeServer.seen.append((self.path, self.headers.get("Authorization"), body))
        prompt = body["messages"][0]["content"]
        reference = prompt.split("Reference answer: ")[1].split("\n")[0]
        candidate = prompt.split("Candidate answer: ")[1].split("\n")[0]
        if candidate == "crash":
            self.send_response(500)
            self.end_headers()
            return
        verdict = "CORRECT" if reference.lower() in candidate.lower() else "INCORRECT"
        payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": verdict}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


def test_llm_judge_grades_open_answers_and_records_model_and_prompt_hash(monkeypatch):
    server = HTTPServer(("127.0.0.1", 0), _JudgeServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("JUDGE_KEY", "sk-test-secret")
    try:
        judge = Judge(f"http://127.0.0.1:{server.server_port}/v1", "judge-model", api_key_env="JUDGE_KEY")
        records = [dict(answer_record("open", "It is the left lung.", "left lung"), prompt="Where?"),
                   dict(answer_record("open", "liver", "left lung"), prompt="Where?"),
                   dict(answer_record("open", "crash", "left lung"), prompt="Where?"),
                   dict(answer_record("closed", "yes", "yes"), prompt="Is it?")]  # fmt: skip
        results = score(records, "m", resamples=0, judge=judge)["judge"]
    finally:
        server.shutdown()
    assert results["open"] == {"value": 0.5, "graded": 2, "n": 3}
    assert results["judge_model"] == "judge-model"
    assert results["prompt_sha256"] == hashlib.sha256(TEMPLATE_PATH.read_bytes()).hexdigest()
    assert {path for path, _, _ in _JudgeServer.seen} == {"/v1/chat/completions"}
    assert {auth for _, auth, _ in _JudgeServer.seen} == {"Bearer sk-test-secret"}
    assert "sk-test-secret" not in json.dumps(results)
    assert all(body["temperature"] == 0 and body["model"] == "judge-model" for _, _, body in _JudgeServer.seen)


# --------------------------------------------------------------------------- vLLM glue (vLLM itself needs a GPU)


def test_vllm_backend_builds_qwen3vl_requests(tiny_dir, tmp_path, monkeypatch):
    captured = {}

    class FakeLLM:
        def __init__(self, model, **kwargs):
            captured["model"], captured["kwargs"] = model, kwargs

        def generate(self, requests, params, use_tqdm=False):
            captured["requests"], captured["params"] = requests, params
            return [types.SimpleNamespace(outputs=[types.SimpleNamespace(text=f"answer {i}")]) for i in range(len(requests))]

    fake = types.ModuleType("vllm")
    fake.LLM = FakeLLM
    fake.SamplingParams = lambda **kwargs: kwargs
    monkeypatch.setitem(sys.modules, "vllm", fake)
    from medmo import MedMOProcessor

    processor = MedMOProcessor.from_pretrained(tiny_dir)
    Image.new("RGB", (64, 48)).save(tmp_path / "a.png")
    backend = VLLMBackend(str(tiny_dir), processor)
    samples = [Sample("a", "t", "closed", "Is there a nodule?", "no", [str(tmp_path / "a.png")]), Sample("b", "t", "open", "Define atelectasis.", "x")]
    assert backend(samples) == ["answer 0", "answer 1"]
    # vLLM serves the Qwen3-VL architecture: a MedMO folder is exported first
    assert json.loads((Path(captured["model"]) / "config.json").read_text())["model_type"] == "qwen3_vl"
    size = processor.image_processor.size
    assert captured["kwargs"]["mm_processor_kwargs"] == {"min_pixels": size["shortest_edge"], "max_pixels": size["longest_edge"]}
    first, second = captured["requests"]
    assert first["prompt"].count("<|image_pad|>") == 1 and first["prompt"].endswith("<|im_start|>assistant\n")
    assert [image.size for image in first["multi_modal_data"]["image"]] == [(64, 48)]
    assert "multi_modal_data" not in second
    assert captured["params"] == {"temperature": 0.0, "max_tokens": 48}


def test_vllm_backend_without_vllm_names_the_fix(tiny_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)
    with pytest.raises(ImportError, match="--backend transformers"):
        VLLMBackend(str(tiny_dir), None)


def test_a_lora_adapter_folder_is_evaluated_merged_into_its_base(tiny_dir, tmp_path):
    import torch
    from peft import LoraConfig, get_peft_model

    from medmo import MedMOForConditionalGeneration
    from medmo.loading import load_model, load_processor

    base = MedMOForConditionalGeneration.from_pretrained(tiny_dir)
    peft_model = get_peft_model(base, LoraConfig(r=4, target_modules=r".*language_model.*\.(q_proj|v_proj)", init_lora_weights=False))
    peft_model.save_pretrained(tmp_path / "adapter")
    assert json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())["base_model_name_or_path"] == str(tiny_dir)
    model, processor = load_model(str(tmp_path / "adapter"), device="cpu"), load_processor(str(tmp_path / "adapter"))
    ids = torch.tensor([[1, 2, 3, 4, 5]])
    with torch.no_grad():
        expected = peft_model(input_ids=ids).logits
        plain = MedMOForConditionalGeneration.from_pretrained(tiny_dir)(input_ids=ids).logits
        merged = model(input_ids=ids).logits
    assert type(model).__name__ == "MedMOForConditionalGeneration"
    torch.testing.assert_close(merged, expected, atol=1e-4, rtol=1e-4)
    assert not torch.allclose(merged, plain, atol=1e-3)
    assert processor.box_format


def test_readme_evaluation_quickstart_runs_as_written(tmp_path):
    import os
    import re
    import shlex
    import subprocess

    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- tested: eval-quickstart\b.*?-->\s*```bash\n(.*?)```", text, re.DOTALL).group(1)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for line in block.splitlines():
        command = line.split("#")[0].strip()
        for part in command.split("&&"):
            result = subprocess.run(shlex.split(part), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
            assert result.returncode == 0, f"{part}\n{result.stderr[-3000:]}"
    results = json.loads((tmp_path / "eval/tiny/results.json").read_text())
    assert results["tasks"]["phantom"]["scored"] == 20
    assert "## Grounding" in (tmp_path / "eval/tiny/results.md").read_text()


def test_report_extras_reach_results_and_a_missing_package_fails_before_generating(tmp_path, monkeypatch):
    seen = {}

    class F1RadGraph:
        def __init__(self, reward_level, model_type=None):
            pass

        def __call__(self, refs, hyps):
            seen["hyps"], seen["refs"] = hyps, refs
            return 0.25, [0.5, 0.0], None, None

    monkeypatch.setitem(sys.modules, "radgraph", types.SimpleNamespace(F1RadGraph=F1RadGraph))
    predictions = tmp_path / "predictions.jsonl"
    rows = [answer_record("report", "<think>x</think><answer>Small effusion.</answer>", "Small left effusion.", task="mimic_cxr"),
            answer_record("report", "Clear.", "Cardiomegaly.", task="mimic_cxr")]  # fmt: skip
    predictions.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert cli(["eval", "score", "--predictions", str(predictions), "--resamples", "0", "--report-extras", "radgraph"]) == 0
    extra = json.loads((tmp_path / "results.json").read_text())["tasks"]["mimic_cxr"]["metrics"]["report"]["extras"]["radgraph"]
    assert (extra["value"], extra["per_sample"], extra["n"]) == (0.25, [0.5, 0.0], 2)
    assert seen == {"hyps": ["Small effusion.", "Clear."], "refs": ["Small left effusion.", "Cardiomegaly."]}
    assert "| mimic_cxr | radgraph | 25.0 |" in (tmp_path / "results.md").read_text()

    monkeypatch.setitem(sys.modules, "f1chexbert", None)
    with pytest.raises(ImportError, match="pip install f1chexbert"):
        cli(["eval", "--model", str(tmp_path / "never-loaded"), "--tasks", "mimic_cxr", "--data-dir", str(tmp_path), "--out", str(tmp_path / "o"),
             "--report-extras", "chexbert"])  # fmt: skip
