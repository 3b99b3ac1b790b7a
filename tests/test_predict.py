"""`medmo predict`: input discovery, batched resumable prediction, boxes in original pixels,
overlays, the summary of what could not be read, the README's command."""

import json
import re
import shlex
import shutil
from pathlib import Path

import pytest
from inference_helpers import ScriptedBackend, mixed_folder, write_series
from PIL import Image
from pydicom.data import get_testdata_file

from medmo.cli import main as cli
from medmo.files import read_jsonl
from medmo.inference.predict import PredictError, ReadOptions, classify, discover, overlay_name, predict


README = Path(__file__).resolve().parents[1] / "README.md"
# What the folder of `mixed_folder` yields: one prediction per image and per shown slice.
EXPECTED_IDS = {"in/photos/wide.png", "in/photos/gray16.png", "in/dicom/ct.dcm", "in/dicom/mr.dcm", "in/series#axial-1", "in/volumes/head.nii#axial-12"}


def records(out: Path) -> dict:
    return {record["id"]: record for _, record in read_jsonl(out / "predictions.jsonl")}


@pytest.fixture
def studies(tmp_path):
    return mixed_folder(tmp_path / "in")


# --------------------------------------------------------------------------- finding inputs


def test_discovery_finds_every_kind_and_names_what_is_not_an_image(studies):
    found, skipped = discover([studies])
    kinds = {study.id: study.kind for study in found}
    assert kinds == {"in/photos/wide.png": "image", "in/photos/gray16.png": "image", "in/photos/broken.png": "image",
                     "in/dicom/ct.dcm": "dicom", "in/dicom/mr.dcm": "dicom", "in/series": "series", "in/volumes/head.nii": "volume"}  # fmt: skip
    assert [(s.location, s.reason) for s in skipped] == [("in/notes.txt", "not an image, DICOM or NIfTI file (.txt)")]


def test_a_folder_of_dicoms_from_different_series_is_not_a_series(tmp_path):
    # two one-slice series side by side: each file is its own study
    write_series(tmp_path / "a", slices=1)
    write_series(tmp_path / "b", slices=1)
    for path in (tmp_path / "b").iterdir():
        shutil.move(path, tmp_path / "a" / f"other-{path.name}")
    found, _ = discover([tmp_path / "a"])
    assert sorted(study.kind for study in found) == ["dicom", "dicom"]


def test_files_are_recognised_by_content_when_the_suffix_says_nothing(tmp_path):
    Image.new("L", (8, 8)).save(tmp_path / "scan", format="PNG")
    write_series(tmp_path / "s", slices=1)
    shutil.move(next((tmp_path / "s").iterdir()), tmp_path / "slice")
    (tmp_path / "data.bin").write_bytes(b"\x00" * 300)
    assert [classify(tmp_path / name) for name in ("scan", "slice", "data.bin")] == ["image", "dicom", None]


def test_tables_list_inputs_with_their_own_prompts_and_name_bad_rows(tmp_path, studies):
    (tmp_path / "list.csv").write_text("id,image,prompt\nct,in/dicom/ct.dcm,Any nodule?\ngone,in/missing.png,\n,,\n")
    (tmp_path / "list.jsonl").write_text(json.dumps({"path": "in/series"}) + "\nnot json\n" + json.dumps({"image": "in/notes.txt"}) + "\n")
    found, skipped = discover([tmp_path / "list.csv", tmp_path / "list.jsonl"])
    assert [(s.id, s.kind, s.prompt) for s in found] == [("ct", "dicom", "Any nodule?"), ("in/series", "series", None)]
    assert [(s.location, s.reason) for s in skipped] == [
        ("list.csv:3", "file not found: in/missing.png"),
        ("list.csv:4", "no `image` or `path` column"),
        ("list.jsonl:2", "not a JSON object"),
        ("list.jsonl:3", "not an image, DICOM or NIfTI file: in/notes.txt"),
    ]


def test_a_missing_input_and_duplicate_ids_are_errors(tmp_path, studies):
    with pytest.raises(PredictError, match="no such file or folder"):
        discover([tmp_path / "nowhere"])
    (tmp_path / "list.jsonl").write_text(json.dumps({"id": "x", "image": "in/dicom/ct.dcm"}) + "\n" + json.dumps({"id": "x", "image": "in/dicom/mr.dcm"}) + "\n")
    with pytest.raises(PredictError, match="share the id 'x'"):
        discover([tmp_path / "list.jsonl"])


# --------------------------------------------------------------------------- the run, end to end


def test_predict_on_a_mixed_folder_end_to_end_and_resume(tiny_dir, studies, tmp_path, capsys):
    out = tmp_path / "out"
    arguments = ["predict", "--model", str(tiny_dir), "--inputs", str(studies), "--out", str(out), "--dicom-sr", "--max-new-tokens", "8",
                 "--batch-size", "4"]  # fmt: skip
    assert cli(arguments) == 0
    printed = capsys.readouterr().out
    assert "in/notes.txt: not an image" in printed and "in/photos/broken.png: broken.png could not be decoded" in printed
    written = records(out)
    assert set(written) == EXPECTED_IDS
    for record in written.values():
        assert record["kind"] == "grounding" and isinstance(record["predicted_boxes"], list) and record["box_format"] == "model_pixels"
        with Image.open(out / record["overlay"]) as overlay:  # drawn on the image as read, at its original size
            assert list(overlay.size) == record["image_size"]
    assert written["in/dicom/ct.dcm"]["image_size"] == [128, 128] and written["in/photos/wide.png"]["image_size"] == [300, 200]
    assert written["in/series#axial-1"]["meta"]["dicom"]["file"].endswith(".dcm")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["studies_found"] == {"image": 3, "dicom": 2, "series": 1, "volume": 1}
    assert summary["predictions_new"] == 6 and summary["predictions_resumed"] == 0
    assert [f["location"] for f in summary["unreadable"]["files"]] == ["in/photos/broken.png"]
    assert summary["not_images"]["files"] == [{"location": "in/notes.txt", "reason": "not an image, DICOM or NIfTI file (.txt)"}]
    assert len(summary["dicom_sr"]) == 2  # the CT file and the series share CT_small's study; MR_small is another

    before = (out / "predictions.jsonl").read_bytes()
    assert cli(arguments) == 0
    assert (out / "predictions.jsonl").read_bytes() == before
    summary = json.loads((out / "summary.json").read_text())
    assert summary["predictions_new"] == 0 and summary["predictions_resumed"] == 6


def test_batches_are_filled_across_studies_and_a_rerun_finishes_a_torn_file(tiny, studies, tmp_path):
    model, processor = tiny
    backend = ScriptedBackend(lambda sample: "Nodule <box>[[4, 4, 20, 20]]</box>")
    out = tmp_path / "out"
    predict("tiny", [studies], out, generate=backend, processor=processor, batch_size=4, progress=False)
    assert backend.batches == [4, 2]
    lines = (out / "predictions.jsonl").read_bytes().splitlines(keepends=True)
    (out / "predictions.jsonl").write_bytes(b"".join(lines[:-1]) + lines[-1][:25])  # killed while writing the last record
    summary = predict("tiny", [studies], out, generate=backend, processor=processor, batch_size=4, progress=False)
    assert summary["predictions_new"] == 1 and summary["predictions_resumed"] == 5
    assert set(records(out)) == EXPECTED_IDS


def test_boxes_are_in_original_pixels_and_drawn_on_the_original_image(tiny, tmp_path):
    model, processor = tiny
    Image.new("RGB", (300, 200), (0, 0, 0)).save(tmp_path / "wide.png")
    text = "Nodule <box>[[16, 32, 48, 64]]</box>"
    predict("tiny", [tmp_path / "wide.png"], tmp_path / "out", generate=ScriptedBackend(lambda s: text), processor=processor, progress=False)
    (record,) = records(tmp_path / "out").values()
    expected = processor.post_process_grounding([text], [(300, 200)])[0]
    assert record["predicted_boxes"] == expected and expected[0]["box"] != [16.0, 32.0, 48.0, 64.0]  # a real frame change
    x1, y1, x2, y2 = (round(v) for v in expected[0]["box"])
    with Image.open(tmp_path / "out" / record["overlay"]) as overlay:
        assert overlay.getpixel((x1, (y1 + y2) // 2)) != (0, 0, 0) and overlay.getpixel(((x1 + x2) // 2, (y1 + y2) // 2)) == (0, 0, 0)


def test_volume_options_choose_slices_and_each_slice_is_a_prediction(tiny, studies, tmp_path):
    _, processor = tiny
    options = ReadOptions(axis="coronal", slices=[5, 20], window=(50.0, 200.0))
    predict("tiny", [studies / "volumes"], tmp_path / "out", generate=ScriptedBackend(lambda s: "none"), processor=processor, options=options,
            task="report", progress=False)  # fmt: skip
    written = records(tmp_path / "out")
    assert set(written) == {"volumes/head.nii#coronal-5", "volumes/head.nii#coronal-20"}
    assert {r["meta"]["slice"] for r in written.values()} == {5, 20} and all(r["kind"] == "report" and "overlay" not in r for r in written.values())


def test_table_prompts_reach_the_model(tiny, studies, tmp_path):
    _, processor = tiny
    (tmp_path / "questions.jsonl").write_text(json.dumps({"image": "in/dicom/ct.dcm", "prompt": "Is this a CT?"}) + "\n")
    seen = []
    backend = ScriptedBackend(lambda sample: seen.append(sample.prompt) or "yes")
    predict("tiny", [tmp_path / "questions.jsonl"], tmp_path / "out", task="vqa", generate=backend, processor=processor, progress=False)
    assert seen == ["Is this a CT?"] and records(tmp_path / "out")["in/dicom/ct.dcm"]["kind"] == "open"
    predict("tiny", [tmp_path / "in" / "dicom"], tmp_path / "out2", task="vqa", prompt="Any nodule?", generate=backend, processor=processor,
            progress=False)  # fmt: skip
    assert seen[1:] == ["Any nodule?", "Any nodule?"]


def test_bad_options_stop_with_the_fix(tiny, studies, tmp_path, capsys):
    _, processor = tiny
    with pytest.raises(PredictError, match="needs a question for every input"):
        predict("tiny", [studies], tmp_path / "a", task="vqa", processor=processor, generate=ScriptedBackend(str))
    with pytest.raises(PredictError, match="needs --task grounding"):
        predict("tiny", [studies], tmp_path / "b", task="report", dicom_sr=True, processor=processor, generate=ScriptedBackend(str))
    backend = ScriptedBackend(lambda s: "x")
    predict("tiny", [studies / "photos"], tmp_path / "c", processor=processor, generate=backend, progress=False)
    with pytest.raises(PredictError, match=r"other settings \(task"):
        predict("tiny", [studies / "photos"], tmp_path / "c", task="report", processor=processor, generate=backend, progress=False)
    assert cli(["predict", "--model", "m", "--inputs", str(tmp_path / "nowhere"), "--out", str(tmp_path / "d")]) == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_overlay_names_are_flat_and_distinct():
    names = {overlay_name(i) for i in ("a/b.png", "a_b.png", "../../etc/x.png#axial-3")}
    assert len(names) == 3 and all("/" not in name and not name.startswith(".") for name in names)


# --------------------------------------------------------------------------- the README


def readme_commands(name: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    match = re.search(rf"<!-- tested: {name}\b.*?-->\s*```bash\n(.*?)```", text, re.DOTALL)
    assert match, f"README has no bash block marked 'tested: {name}'"
    return [line for line in match.group(1).splitlines() if line.strip() and not line.startswith("#")]


def test_readme_predict_command_runs_as_written(tiny_dir, tmp_path, monkeypatch):
    mixed_folder(tmp_path / "studies")
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "medmo-8b").symlink_to(tiny_dir, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    (command,) = [line for line in readme_commands("predict-command") if line.startswith("medmo predict")]
    assert cli(shlex.split(command)[1:] + ["--max-new-tokens", "8"]) == 0
    summary = json.loads((tmp_path / "predictions" / "summary.json").read_text())
    assert summary["predictions_new"] == 6 and len(summary["dicom_sr"]) == 2


def test_copies_of_one_slice_are_images_and_an_unreadable_series_does_not_stop_the_run(tiny, tmp_path):
    _, processor = tiny
    (tmp_path / "dups").mkdir()
    for name in ("a.dcm", "b.dcm"):  # one slice twice: same series and position, not a volume
        shutil.copy(get_testdata_file("CT_small.dcm"), tmp_path / "dups" / name)
    assert sorted(study.kind for study in discover([tmp_path / "dups"])[0]) == ["dicom", "dicom"]
    # named as a series in a table, the copies cannot be laid out as a volume (nibabel's OrientationError)
    Image.new("RGB", (32, 32)).save(tmp_path / "fine.png")
    (tmp_path / "list.jsonl").write_text(json.dumps({"path": "dups"}) + "\n" + json.dumps({"image": "fine.png"}) + "\n")
    summary = predict("tiny", [tmp_path / "list.jsonl"], tmp_path / "out", generate=ScriptedBackend(lambda s: "x"), processor=processor, progress=False)
    assert summary["predictions_new"] == 1
    (problem,) = summary["unreadable"]["files"]
    assert problem["location"] == "dups" and problem["reason"].startswith("OrientationError")


def test_a_window_given_as_numbers_resumes(tiny, tmp_path):
    _, processor = tiny
    shutil.copy(get_testdata_file("CT_small.dcm"), tmp_path / "ct.dcm")
    options = ReadOptions(window=(40.0, 400.0))
    for _ in range(2):  # the second run finds the settings it wrote, tuple stored as a list
        summary = predict("tiny", [tmp_path / "ct.dcm"], tmp_path / "out", generate=ScriptedBackend(lambda s: "x"), processor=processor,
                          options=options, progress=False)  # fmt: skip
    assert summary["predictions_resumed"] == 1


def test_nothing_is_written_when_no_study_is_found(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "notes.txt").write_text("x")
    with pytest.raises(PredictError, match="No images, DICOM files or volumes"):
        predict("tiny", [tmp_path / "in"], tmp_path / "out", generate=ScriptedBackend(str), processor=None, progress=False)
    assert not (tmp_path / "out").exists()
