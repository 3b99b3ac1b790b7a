"""One reader per release: on every benchmark fixture (the published layouts of
`test_evaluation_tasks.py`), the training converter and the evaluation task read the same records:
the same ids, the same answers and reports, the same boxes once the converter's targets are mapped
back from the processor's frame, the same pixels, and the same rejected records."""

import json

import numpy as np
import pytest

import test_evaluation_tasks as fixtures
from medmo.clinical.tasks import ANSWER_KINDS, GROUNDING, REPORT
from medmo.evaluation.tasks import TASKS, Sample, load_task
from medmo.medical_images import load_image
from medmo.sources import Problem
from medmo.tiny import build_processor
from medmo.training.data.converters import CONVERTERS
from medmo.training.data.converters.base import Context, Row


# evaluation task -> (converter, its options, the split the task evaluates; None: every split)
PAIRS = {
    "vqa_rad": ("vqa_rad", {}, "test"),
    "slake": ("slake", {}, "test"),
    "pathvqa": ("pathvqa", {}, "test"),
    "pmc_vqa": ("pmc_vqa", {}, "test"),
    "medqa": ("medqa", {}, "test"),
    "medmcqa": ("medmcqa", {}, "validation"),
    "pubmedqa": ("pubmedqa", {}, "test"),
    "mimic_cxr": ("mimic_cxr", {}, "test"),
    "iu_xray": ("iu_xray", {}, "test"),
    "chexpert_plus": ("chexpert_plus", {}, "validation"),
    "nih_chestxray14": ("nih_chestxray14", {}, None),
    # training leaves out annotations flagged possibly noisy (a training choice, tested below); evaluation scores them all
    "deeplesion": ("deeplesion", {"keep_noisy": True}, "test"),
    "yolo_detection": ("yolo", {"source": "yolo"}, "test"),
    "medsg": ("generic", {"file": "test.jsonl", "default_split": "test", "source": "medsg"}, "test"),
    "generic": ("generic", {"file": "test.jsonl", "default_split": "test", "source": "generic"}, "test"),
}


@pytest.fixture(scope="module")
def processor():
    return build_processor(min_pixels=256 * 256, max_pixels=1280 * 1280)


def fixture_data_dir(task: str, tmp_path):
    """The data folder holding a readable fixture of `task`, written by its evaluation test."""
    tmp_path.mkdir(parents=True)
    getattr(fixtures, f"test_{task}")(tmp_path)
    return fixtures._fixture_data_dir(task, tmp_path)


def converted(converter: str, raw, out, processor, options: dict) -> tuple[list[Row], list[Problem]]:
    items = list(CONVERTERS[converter](Context(raw=raw, processor=processor, options=options, output_dir=out)))
    return [i for i in items if isinstance(i, Row)], [i for i in items if isinstance(i, Problem)]


def pixels(path) -> np.ndarray:
    return np.asarray(load_image(path))


def text_of(message: dict) -> str:
    return next(item["text"] for item in message["content"] if item["type"] == "text")


def test_every_task_with_a_training_twin_is_compared():
    # the tasks whose benchmark is also converted for training (the registry's train+eval sets and the generic layout)
    assert set(PAIRS) | {"phantom"} == {name for name in TASKS if name not in
                                         ("mmmu_med", "omnimedvqa", "medxpertqa_mm", "mmlu_med", "medbullets_op4", "medbullets_op5",
                                          "medxpertqa_text", "sgpqa")}  # fmt: skip


@pytest.mark.parametrize("task", sorted(PAIRS))
def test_converter_and_evaluation_read_the_same_records(task, tmp_path, processor):
    converter, options, split = PAIRS[task]
    data_dir = fixture_data_dir(task, tmp_path / "fixture")
    root = data_dir / TASKS[task].folder
    rows, rejected = converted(converter, root, tmp_path / "out", processor, {**options, "splits": None if split is None else [split]})
    items = list(load_task(task, data_dir))
    samples = {item.id: item for item in items if isinstance(item, Sample)}
    problems = [item for item in items if isinstance(item, Problem)]

    assert samples, f"the {task} fixture has no sample to compare"
    assert sorted((p.location, p.reason) for p in rejected) == sorted((p.location, p.reason) for p in problems)
    sft = {row.row["id"]: row.row for row in rows if row.kind == "sft"}
    grpo = {row.row["id"]: row.row for row in rows if row.kind == "grpo"}
    assert list(sft) == list(samples)
    for sample_id, sample in samples.items():
        row = sft[sample_id]
        assert [pixels(a).tolist() for a in row["images"]] == [pixels(b).tolist() for b in sample.images]
        target = text_of(row["messages"][-1])
        if sample.kind in ANSWER_KINDS:
            assert (text_of(row["messages"][0]), target) == (sample.prompt, sample.reference)
            if sample_id in grpo:
                assert (grpo[sample_id]["solution"], grpo[sample_id]["answer_type"], grpo[sample_id]["options"]) == (sample.reference, sample.kind, sample.options)
        elif sample.kind == REPORT:
            assert target == sample.reference == grpo[sample_id]["report"]
        else:
            assert sample.kind == GROUNDING
            back = processor.post_process_grounding([target], [sample.image_size])[0]
            assert [b["label"] for b in back] == [b["label"] for b in sample.reference]
            np.testing.assert_allclose([b["box"] for b in back], [b["box"] for b in sample.reference], atol=1.0)
            assert grpo[sample_id]["image_size"] == [round(v) for v in processor.frame_size(sample.image_size)]


def test_deeplesion_training_leaves_out_noisy_annotations_evaluation_keeps(tmp_path, processor):
    data_dir = fixture_data_dir("deeplesion", tmp_path / "fixture")
    csv_path = data_dir / "deeplesion" / "DL_info.csv"
    lines = csv_path.read_text().splitlines()
    lines[1] = lines[1].replace(",4,0,", ",4,1,", 1)  # the first lesion: Possibly_noisy = 1
    csv_path.write_text("\n".join(lines) + "\n")
    rows, rejected = converted("deeplesion", data_dir / "deeplesion", tmp_path / "out", processor, {"splits": ["test"]})
    samples = [item for item in load_task("deeplesion", data_dir) if isinstance(item, Sample)]
    assert [s.id for s in samples] == ["deeplesion-000001_01_01_010"] and not rows
    assert ("DL_info.csv:2", "flagged possibly noisy") in [(p.location, p.reason) for p in rejected]


def test_phantom_converter_draws_the_phantoms_evaluation_reads(tmp_path, processor):
    from medmo.training.data.phantom import write_phantom_dataset

    root = tmp_path / "phantom"
    write_phantom_dataset(root, processor, train=0, heldout=6, size=64)
    samples = {s.id: s for s in load_task("phantom", tmp_path) if isinstance(s, Sample)}
    rows, rejected = converted("phantom", tmp_path, tmp_path / "out", processor, {"train": 0, "heldout": 6, "size": 64})
    assert not rejected
    grounding = [row.row for row in rows if row.kind == "sft" and row.row["id"].endswith("-boxes")]
    assert len(grounding) == 3  # even-numbered phantoms give their boxes, odd ones their report
    for row in grounding:
        sample = samples[row["id"]]
        assert pixels(row["images"][0]).tolist() == pixels(sample.images[0]).tolist()
        back = processor.post_process_grounding([text_of(row["messages"][-1])], [sample.image_size])[0]
        np.testing.assert_allclose([b["box"] for b in back], [b["box"] for b in sample.reference], atol=1.0)
    reports = [row.row for row in rows if row.kind == "sft" and row.row["id"].endswith("-report")]
    assert [text_of(r["messages"][-1]) for r in reports] == [samples[r["id"]].reference for r in reports]


def test_evaluation_leaves_the_benchmark_folder_as_it_was(tmp_path, tiny_dir, monkeypatch):
    # images embedded in Parquet (PathVQA, MMMU) or read with a window (DeepLesion) are made files in the cache, not beside the data
    from medmo.cli import main as cli

    cache = tmp_path / "cache"
    monkeypatch.setenv("MEDMO_CACHE", str(cache))
    for task in ("pathvqa", "mmmu_med", "deeplesion"):
        data_dir = fixture_data_dir(task, tmp_path / task)
        before = sorted((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in data_dir.rglob("*"))
        assert cli(["eval", "--model", str(tiny_dir), "--tasks", task, "--data-dir", str(data_dir), "--out", str(tmp_path / f"{task}-out"),
                    "--max-new-tokens", "2", "--resamples", "0"]) == 0  # fmt: skip
        assert sorted((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in data_dir.rglob("*")) == before
        predictions = [json.loads(line) for line in (tmp_path / f"{task}-out" / "predictions.jsonl").read_text().splitlines()]
        assert all(image.startswith(str(cache)) for record in predictions for image in record["images"])


def test_dicom_images_are_read_by_training_and_evaluation_alike(tmp_path, processor):
    # both read DICOM through medmo.medical_images (the converter used to report it "not found")
    import shutil

    from pydicom.data import get_testdata_file

    root = tmp_path / "generic"
    root.mkdir()
    shutil.copy(get_testdata_file("CT_small.dcm"), root / "ct.dcm")
    (root / "test.jsonl").write_text(json.dumps({"id": "ct", "images": ["ct.dcm"], "boxes": [{"label": "Lesion", "box": [10, 20, 50, 60]}]}) + "\n")
    rows, rejected = converted("generic", root, tmp_path / "out", processor, PAIRS["generic"][1])
    [sample] = [item for item in load_task("generic", tmp_path) if isinstance(item, Sample)]
    assert rejected == [] and sample.image_size == [128, 128]
    [sft] = [row.row for row in rows if row.kind == "sft"]
    assert sft["images"] == sample.images == [str(root / "ct.dcm")]
    back = processor.post_process_grounding([text_of(sft["messages"][-1])], [sample.image_size])[0]
    np.testing.assert_allclose(back[0]["box"], [10, 20, 50, 60], atol=1.0)
