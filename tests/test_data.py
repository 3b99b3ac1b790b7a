"""Data: cards and registry agree, every converter reads its set's published layout, nothing is lost silently."""

import csv
import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import MIMIC_REPORT
from PIL import Image

from medmo.cli import main as cli
from medmo.tiny import build_processor
from medmo.sources.cards import CARDS_DIR, index_table, problems, read_cards, read_registry
from medmo.training.data.converters import CONVERTERS, ConversionError, convert
from medmo.sources.leakage import check_leakage
from medmo.training.data.loading import load_mixture
from medmo.clinical.prompts import PROMPTS, pick


@pytest.fixture(scope="module")
def processor():
    return build_processor(min_pixels=256 * 256, max_pixels=1280 * 1280)


def picture(path: Path, size=(64, 48), value=100, mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value if mode != "RGB" else (value, value, value)).save(path)
    return path


def run(name, raw, out, processor, **options):
    converter = read_registry().get(name, {}).get("converter", name)
    summary = convert(name, CONVERTERS[converter], raw, out, processor, options={**(read_registry().get(name, {}).get("options") or {}), **options}, progress=False)
    result = summary.as_dict()
    assert result["written_plus_rejected_equals_read"], result
    assert json.loads((out / "summary.json").read_text()) == result
    return result


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def answer(row: dict) -> str:
    return row["messages"][-1]["content"][0]["text"]


# --------------------------------------------------------------------------- cards and registry


def test_cards_and_registry_agree():
    cards, registry = read_cards(), read_registry()
    assert len(cards) >= 39
    assert problems(cards, registry) == []


def test_every_training_entry_names_an_existing_converter_and_eval_sets_a_task():
    for name, entry in read_registry().items():
        if "train" in entry["role"]:
            assert entry["converter"] in CONVERTERS, name
        if "eval" in entry["role"]:
            assert entry["eval_task"], name


def test_index_table_is_up_to_date():
    assert (CARDS_DIR / "README.md").read_text() == index_table(read_cards())


def test_unknown_facts_are_written_as_unknown_not_left_blank():
    for name, card in read_cards().items():
        for key in ("license", "source_url", "size"):
            assert str(card[key]).strip(), f"{name}: {key} is blank (write 'unknown')"
        if card["license"] == "unknown":
            assert "## Unknowns" in card["_body"]


def test_prompt_bank_is_deterministic_per_sample():
    assert pick("grounding", "case-1") == pick("grounding", "case-1")
    assert len({pick("grounding", f"case-{i}") for i in range(50)}) == len(PROMPTS["grounding"])
    with pytest.raises(ValueError, match="No prompts"):
        pick("poetry", "x")


# --------------------------------------------------------------------------- grounding sets


NIH_HEADER = "Image Index,Finding Label,Bbox [x,y,w,h],,,\n"


def test_nih_boxes_fixture(tmp_path, processor):
    raw = tmp_path / "nih"
    (raw / "images" / "images_001").mkdir(parents=True)
    for name in ("a.png", "b.png"):
        picture(raw / "images" / "images_001" / name, (1024, 1024), mode="L")
    (raw / "BBox_List_2017.csv").write_text(NIH_HEADER + "a.png,Nodule,100.5,200.25,50,60,,,\na.png,Mass,600,500,200,210\nb.png,Effusion,10,10,0,5\nc.png,Mass,1,1,5,5\nb.png,Atelectasis,x,1,2,3\n")
    (raw / "test_list.txt").write_text("a.png\n")
    result = run("nih_chestxray14", raw, tmp_path / "out", processor)
    assert (result["read"], result["written"]) == (3, 1)
    assert result["rejected_by_reason"] == {"malformed box row": 1, "image not found or unreadable": 1}
    [row] = rows(tmp_path / "out" / "test.jsonl")
    [[nodule, mass]] = processor.post_process_grounding([answer(row)], [(1024, 1024)])
    np.testing.assert_allclose(nodule["box"], [100.5, 200.25, 150.5, 260.25], atol=1.0)
    assert (nodule["label"], mass["label"]) == ("Nodule", "Mass")
    [grpo] = rows(tmp_path / "out" / "test.grpo.jsonl")
    assert grpo["task"] == "grounding" and grpo["image_size"] == list(processor.model_input_size((1024, 1024)))


def test_nih_boxes_on_the_real_csv(tmp_path, processor):
    from medmo.sources.iu_xray import torchxrayvision_reports_archive

    archive = torchxrayvision_reports_archive()
    assert archive is not None, "make setup installs torchxrayvision (--no-deps) for its data files"
    real_csv = archive.parent / "BBox_List_2017.csv.gz"
    raw = tmp_path / "nih"
    (raw / "images").mkdir(parents=True)
    shutil.copy(real_csv, raw / real_csv.name)
    with gzip.open(real_csv, "rt") as file:
        records = list(csv.reader(file))[1:]
    blank = Image.new("L", (1024, 1024))
    for name in {record[0] for record in records}:  # the images are not shipped: same-size stand-ins
        blank.save(raw / "images" / name)
    result = run("nih_chestxray14", raw, tmp_path / "out", processor)
    assert (result["read"], result["written"], result["rejected"]) == (880, 880, 0)
    converted = rows(tmp_path / "out" / "unsplit.jsonl")
    assert sum(len(processor.post_process_grounding([answer(r)], [(1024, 1024)])[0]) for r in converted) == len(records) == 984
    first = records[0]
    x, y, w, h = (float(v) for v in first[2:6])
    row = next(r for r in converted if r["id"] == f"nih-{Path(first[0]).stem}")
    boxes = processor.post_process_grounding([answer(row)], [(1024, 1024)])[0]
    assert any(np.allclose(b["box"], [x, y, x + w, y + h], atol=1.0) and b["label"] == first[1] for b in boxes)


def test_deeplesion_fixture(tmp_path, processor):
    raw = tmp_path / "deeplesion"
    hounsfield = np.full((64, 64), 40, dtype=np.int32)
    for folder in ("000001_01_01", "000002_01_01"):
        (raw / "Images_png" / folder).mkdir(parents=True)
        Image.fromarray((hounsfield + 32768).astype(np.uint16)).save(raw / "Images_png" / folder / "010.png")
    header = "File_name,Patient_index,Study_index,Series_ID,Key_slice_index,Measurement_coordinates,Bounding_boxes,Lesion_diameters_Pixel_,Normalized_lesion_location,Coarse_lesion_type,Possibly_noisy,Slice_range,Spacing_mm_px_,Image_size,DICOM_windows,Patient_gender,Patient_age,Train_Val_Test"
    lines = [
        '000001_01_01_010.png,1,1,1,10,"1,2,3,4,5,6,7,8","10.5, 12, 30, 35.5","20, 10","0.5, 0.5, 0.5",4,0,"8, 12","0.7, 0.7, 5",  "64, 64","-175, 275",M,50,1',
        '000001_01_01_010.png,1,1,1,10,"1,2,3,4,5,6,7,8","40, 40, 50, 52","10, 8","0.5, 0.5, 0.5",5,0,"8, 12","0.7, 0.7, 5","64, 64","-175, 275",M,50,1',
        '000002_01_01_010.png,2,1,1,10,"1,2,3,4,5,6,7,8","1, 1, 9, 9","5, 5","0.5, 0.5, 0.5",-1,1,"8, 12","0.7, 0.7, 5","64, 64","-175, 275",F,60,3',
    ]
    (raw / "DL_info.csv").write_text(header + "\n" + "\n".join(line.replace(",  ", ",") for line in lines) + "\n")
    result = run("deeplesion", raw, tmp_path / "out", processor)
    assert (result["written"], result["rejected_by_reason"]) == (1, {"flagged possibly noisy": 1})
    [row] = rows(tmp_path / "out" / "train.jsonl")
    assert len(processor.post_process_grounding([answer(row)], [(64, 64)])[0]) == 2
    windowed = np.asarray(Image.open(row["images"][0]).convert("L"))
    assert windowed.mean() == pytest.approx((40 - (50 - 0.5)) / (450 - 1) * 255 + 127.5, abs=1.5)  # 40 HU in the [-175, 275] window
    assert run("deeplesion", raw, tmp_path / "noisy", processor, keep_noisy=True)["written"] == 2


def test_yolo_fixture(tmp_path, processor):
    raw = tmp_path / "wrist"
    raw.mkdir()
    (raw / "data.yaml").write_text("names: [boneanomaly, fracture]\n")
    picture(raw / "images" / "train" / "a.png", (200, 100))
    picture(raw / "images" / "train" / "b.png", (200, 100))
    picture(raw / "images" / "val" / "c.png", (200, 100))
    (raw / "labels" / "train").mkdir(parents=True)
    (raw / "labels" / "val").mkdir(parents=True)
    (raw / "labels" / "train" / "a.txt").write_text("1 0.5 0.5 0.2 0.4\n0 0.1 0.1 0.1 0.1\n")
    (raw / "labels" / "val" / "c.txt").write_text("1 0.5 oops\n")
    result = run("grazpedwri_dx", raw, tmp_path / "out", processor)
    assert (result["written"], result["rejected_by_reason"]) == (2, {"malformed label line": 1})
    a, b = rows(tmp_path / "out" / "train.jsonl")
    boxes = processor.post_process_grounding([answer(a)], [(200, 100)])[0]
    np.testing.assert_allclose(boxes[0]["box"], [80, 30, 120, 70], atol=1.0)
    assert boxes[0]["label"] == "fracture" and answer(b) == "No abnormalities detected."


def test_instance_masks_ctc_and_npz(tmp_path, processor):
    raw = tmp_path / "ctc"
    frame = np.zeros((40, 60), dtype=np.uint16)
    frame[5:15, 10:30] = 1000
    (raw / "01").mkdir(parents=True)
    Image.fromarray(frame).save(raw / "01" / "t000.tif")
    Image.fromarray(frame).save(raw / "01" / "t001.tif")
    mask = np.zeros((40, 60), dtype=np.uint16)
    mask[5:15, 10:30], mask[20:30, 40:50] = 1, 2
    (raw / "01_GT" / "SEG").mkdir(parents=True)
    Image.fromarray(mask).save(raw / "01_GT" / "SEG" / "man_seg000.tif")
    result = run("ctc", raw, tmp_path / "out", processor)
    assert (result["written"], result["rejected_by_reason"]) == (1, {"frame without a gold segmentation": 1})
    boxes = processor.post_process_grounding([answer(rows(tmp_path / "out" / "train.jsonl")[0])], [(60, 40)])[0]
    np.testing.assert_allclose([b["box"] for b in boxes], [[10, 5, 30, 15], [40, 20, 50, 30]], atol=1.0)
    npz = tmp_path / "deepcell"
    npz.mkdir()
    np.savez(npz / "tissuenet_train.npz", X=frame[None, ..., None].astype(np.float32), y=mask[None, ..., None].astype(np.int32))
    assert run("deepcell", npz, tmp_path / "npz-out", processor)["written"] == 1


# --------------------------------------------------------------------------- VQA sets


def test_vqa_rad_fixture(tmp_path, processor):
    raw = tmp_path / "vqa_rad"
    picture(raw / "VQA_RAD Image Folder" / "synpic1.jpg")
    records = [
        {"qid": 1, "image_name": "synpic1.jpg", "question": "Is there a fracture?", "answer": "No", "answer_type": "CLOSED", "phrase_type": "freeform"},
        {"qid": 2, "image_name": "synpic1.jpg", "question": "Where is the lesion?", "answer": "left lobe", "answer_type": "OPEN", "phrase_type": "test_freeform"},
        {"qid": 3, "image_name": "missing.jpg", "question": "Is it normal?", "answer": "yes", "answer_type": "CLOSED", "phrase_type": "para"},
    ]
    (raw / "VQA_RAD Dataset Public.json").write_text(json.dumps(records))
    result = run("vqa_rad", raw, tmp_path / "out", processor)
    assert (result["written"], result["rejected_by_reason"]) == (2, {"image not found or unreadable": 1})
    assert answer(rows(tmp_path / "out" / "train.jsonl")[0]) == "No" and len(rows(tmp_path / "out" / "test.jsonl")) == 1
    assert rows(tmp_path / "out" / "train.grpo.jsonl")[0]["task"] == "closed_vqa"


def test_slake_fixture_english_only(tmp_path, processor):
    raw = tmp_path / "slake"
    picture(raw / "imgs" / "xmlab1" / "source.jpg")
    entry = {"img_name": "xmlab1/source.jpg", "question": "Which organ?", "answer": "Lung", "answer_type": "OPEN"}
    (raw / "train.json").write_text(json.dumps([{**entry, "qid": 1, "q_lang": "en"}, {**entry, "qid": 2, "q_lang": "zh"}]))
    (raw / "test.json").write_text(json.dumps([{**entry, "qid": 3, "q_lang": "en"}]))
    result = run("slake", raw, tmp_path / "out", processor)
    # a question in another language is not part of the selection (like a split that is not asked for)
    assert (result["read"], result["written"], result["rejected_by_reason"]) == (2, 2, {})
    assert [row["id"] for row in rows(tmp_path / "out" / "train.jsonl")] == ["slake-1"]


def test_pathvqa_parquet_fixture(tmp_path, processor):
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 100, 50)).save(buffer, format="PNG")
    table = pa.table({"image": [{"bytes": buffer.getvalue(), "path": None}, {"bytes": b"not an image", "path": None}],
                      "question": ["Is this malignant?", "What stain?"], "answer": ["yes", "H&E"]})  # fmt: skip
    (tmp_path / "pathvqa" / "data").mkdir(parents=True)
    pq.write_table(table, tmp_path / "pathvqa" / "data" / "train-00000-of-00001.parquet")
    result = run("pathvqa", tmp_path / "pathvqa", tmp_path / "out", processor)
    assert (result["written"], result["rejected_by_reason"]) == (1, {"image not found or unreadable": 1})


def test_pmc_vqa_fixture(tmp_path, processor):
    raw = tmp_path / "pmc_vqa"
    picture(raw / "figures" / "f1.jpg")
    with open(raw / "train_2.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["index", "Figure_path", "Caption", "Question", "Choice A", "Choice B", "Choice C", "Choice D", "Answer", "Answer_label"])
        writer.writerow([0, "f1.jpg", "c", "Which modality?", "A:CT", "B:MRI", "C:X-ray", "D:US", "MRI", "B"])
        writer.writerow([1, "f1.jpg", "c", "Which modality?", "A:CT", "B:MRI", "C:X-ray", "D:US", "?", ""])
    result = run("pmc_vqa", raw, tmp_path / "out", processor)
    assert (result["written"], result["rejected"]) == (1, 1)
    [grpo] = rows(tmp_path / "out" / "train.grpo.jsonl")
    assert grpo["task"] == "multiple_choice" and grpo["options"] == ["CT", "MRI", "X-ray", "US"] and grpo["solution"] == "B"


# --------------------------------------------------------------------------- reports


def test_mimic_cxr_fixture(tmp_path, processor):
    raw = tmp_path / "mimic"
    raw.mkdir()
    # PhysioNet ships the split table gzip-compressed
    (raw / "mimic-cxr-2.0.0-split.csv.gz").write_bytes(gzip.compress(b"dicom_id,study_id,subject_id,split\nd1,50000001,10000032,train\nd2,50000001,10000032,train\nd3,50000002,10000032,test\nd4,50000003,10000033,validate\n"))
    (raw / "mimic-cxr-2.0.0-metadata.csv").write_text("dicom_id,subject_id,study_id,ViewPosition\nd1,10000032,50000001,LATERAL\nd2,10000032,50000001,PA\nd3,10000032,50000002,AP\nd4,10000033,50000003,LL\n")
    folder = raw / "files" / "p10" / "p10000032"
    picture(folder / "s50000001" / "d2.jpg")
    picture(folder / "s50000002" / "d3.jpg")
    (folder / "s50000001.txt").write_text(MIMIC_REPORT)
    (folder / "s50000002.txt").write_text("FINAL REPORT\n COMPARISON: None.\n")
    result = run("mimic_cxr", raw, tmp_path / "out", processor)
    assert result["rejected_by_reason"] == {"no report sections": 1, "no frontal image": 1} and result["written"] == 1
    [row] = rows(tmp_path / "out" / "train.jsonl")
    assert answer(row) == "FINDINGS: There is a small left pleural effusion. No pneumothorax. IMPRESSION: Small left effusion."
    assert row["images"][0].endswith("d2.jpg")  # the frontal view, not the lateral


def test_iu_xray_fixture(tmp_path, processor):
    raw = tmp_path / "iu"
    (raw / "ecgen-radiology").mkdir(parents=True)
    report = """<?xml version="1.0" encoding="utf-8"?><eCitation><uId id="CXR{n}"/><MedlineCitation><Article><Abstract>
      <AbstractText Label="FINDINGS">{findings}</AbstractText><AbstractText Label="IMPRESSION">No acute disease.</AbstractText>
      </Abstract></Article></MedlineCitation><MeSH><major>normal</major></MeSH><parentImage id="CXR{n}_1_IM-0001-3001"/></eCitation>"""
    (raw / "ecgen-radiology" / "1.xml").write_text(report.format(n=1, findings="The lungs are clear."))
    (raw / "ecgen-radiology" / "2.xml").write_text(report.format(n=2, findings="Heart size normal."))
    picture(raw / "images" / "CXR1_1_IM-0001-3001.png")
    result = run("iu_xray", raw, tmp_path / "out", processor)
    assert (result["written"], result["rejected_by_reason"]) == (1, {"image not found or unreadable": 1})
    written = [r for split in ("train", "validation", "test") if (tmp_path / "out" / f"{split}.jsonl").exists() for r in rows(tmp_path / "out" / f"{split}.jsonl")]
    assert answer(written[0]) == "FINDINGS: The lungs are clear. IMPRESSION: No acute disease."


# --------------------------------------------------------------------------- text QA


def test_medqa_medmcqa_pubmedqa_fixtures(tmp_path, processor):
    medqa = tmp_path / "medqa" / "US"
    medqa.mkdir(parents=True)
    (medqa / "train.jsonl").write_text(json.dumps({"question": "Drug of choice?", "options": {"A": "x", "B": "y", "C": "z", "D": "w"}, "answer_idx": "C"}) + "\n{broken\n")
    result = run("medqa", tmp_path / "medqa", tmp_path / "medqa-out", processor)
    assert (result["written"], result["rejected"]) == (1, 1)
    assert answer(rows(tmp_path / "medqa-out" / "train.jsonl")[0]) == "C"

    medmcqa = tmp_path / "medmcqa"
    medmcqa.mkdir()
    record = {"id": "q1", "question": "Vitamin?", "opa": "A1", "opb": "B1", "opc": "C1", "opd": "D1", "cop": 2}
    (medmcqa / "train.json").write_text(json.dumps(record) + "\n")
    (medmcqa / "test.json").write_text(json.dumps({**record, "id": "q2", "cop": -1}) + "\n")
    result = run("medmcqa", medmcqa, tmp_path / "medmcqa-out", processor)
    assert (result["written"], result["rejected_by_reason"]) == (1, {"no answer (withheld or out of range)": 1})
    assert answer(rows(tmp_path / "medmcqa-out" / "train.jsonl")[0]) == "B"

    pubmedqa = tmp_path / "pubmedqa"
    pubmedqa.mkdir()
    (pubmedqa / "ori_pqal.json").write_text(json.dumps({"1": {"QUESTION": "Does X help?", "CONTEXTS": ["Background."], "final_decision": "yes"},
                                                         "2": {"QUESTION": "Q2?", "CONTEXTS": [], "final_decision": "maybe"}}))  # fmt: skip
    (pubmedqa / "test_ground_truth.json").write_text(json.dumps({"2": "maybe"}))
    result = run("pubmedqa", pubmedqa, tmp_path / "pubmedqa-out", processor)
    assert result["written"] == 2 and len(rows(tmp_path / "pubmedqa-out" / "test.jsonl")) == 1


# --------------------------------------------------------------------------- your own data and conversation sets


def test_generic_csv_with_boxes_and_questions(tmp_path, processor):
    raw = tmp_path / "mine"
    picture(raw / "img" / "a.png", (300, 200))
    with open(raw / "cases.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["path", "prompt", "reply", "boxes", "fold"])
        writer.writerow(["img/a.png", "", "", json.dumps([{"label": "Nodule", "box": [10, 20, 60, 90]}]), "train"])
        writer.writerow(["img/a.png", "", "", json.dumps([{"label": "Nodule", "box": [10, 20, 600, 90]}]), "train"])
        writer.writerow(["img/missing.png", "", "", "[]", "test"])
    result = run("generic", raw, tmp_path / "out", processor, image="path", question="prompt", answer="reply", boxes="boxes", split="fold")
    assert (result["written"], result["rejected_by_reason"]) == (1, {"box outside the image": 1, "image not found or unreadable": 1})
    [[box]] = processor.post_process_grounding([answer(rows(tmp_path / "out" / "train.jsonl")[0])], [(300, 200)])
    np.testing.assert_allclose(box["box"], [10, 20, 60, 90], atol=1.0)


def test_llava_and_instruction_sets(tmp_path, processor):
    raw = tmp_path / "pmv"
    picture(raw / "images" / "p1.jpg")
    conversations = [{"image": "images/p1.jpg", "conversations": [{"from": "human", "value": "<image>\\nWhat is shown?"}, {"from": "gpt", "value": "A CT slice."}]},
                     {"image": "images/p1.jpg", "conversations": [{"from": "human", "value": "Describe."}]}]  # fmt: skip
    (raw / "alignment.json").write_text(json.dumps(conversations).replace("\\\\n", "\\n"))
    result = run("pubmedvision", raw, tmp_path / "pmv-out", processor)
    assert (result["written"], result["rejected_by_reason"]) == (1, {"the conversation does not end with an answer": 1})
    [row] = rows(tmp_path / "pmv-out" / "train.jsonl")
    assert row["messages"][0]["content"][0] == {"type": "image"} and answer(row) == "A CT slice."

    text = tmp_path / "o1"
    text.mkdir()
    (text / "data.jsonl").write_text(json.dumps({"Question": "Why?", "Complex_CoT": "Because.", "Response": "It is so."}) + "\n")
    result = run("medical_o1", text, tmp_path / "o1-out", processor, instruction="Question", output="Response", reasoning="Complex_CoT")
    assert answer(rows(tmp_path / "o1-out" / "train.jsonl")[0]) == "<think>Because.</think><answer>It is so.</answer>"


def test_converted_rows_load_as_training_data(tmp_path, processor):
    run("phantom", tmp_path, tmp_path / "out", processor, train=6, heldout=2, size=64)
    sft, _ = load_mixture([{"path": str(tmp_path / "out" / "train.jsonl")}], "sft")
    grpo, _ = load_mixture([{"path": str(tmp_path / "out" / "train.grpo.jsonl")}], "grpo")
    assert len(sft) == len(grpo) == 6 and sft[0]["images"][0].size == (64, 64)


def test_strict_mode_stops_at_the_first_bad_record(tmp_path, processor):
    raw = tmp_path / "vqa_rad"
    raw.mkdir()
    (raw / "VQA_RAD Dataset Public.json").write_text(json.dumps([{"qid": 1, "image_name": "none.jpg", "question": "q", "answer": "a"}]))
    with pytest.raises(ConversionError, match=r"\[0\] \(none.jpg\): image not found"):
        convert("vqa_rad", CONVERTERS["vqa_rad"], raw, tmp_path / "out", processor, strict=True, progress=False)
    with pytest.raises(ConversionError, match="raw data not found"):
        convert("vqa_rad", CONVERTERS["vqa_rad"], tmp_path / "nowhere", tmp_path / "out", processor, progress=False)


def test_a_conversion_that_dies_half_way_leaves_no_truncated_output(tmp_path, processor):
    def dies_after_two_rows(context):
        from medmo.training.data.converters.base import Row

        for index in range(2):
            yield Row("train", {"id": f"r{index}", "images": [], "messages": []})
        raise MemoryError("killed")

    out = tmp_path / "out"
    out.mkdir()
    (out / "train.jsonl").write_text('{"id": "from an earlier, complete conversion"}\n')
    dies_after_two_rows.reads_raw = False
    with pytest.raises(MemoryError):
        convert("dying", dies_after_two_rows, tmp_path, out, processor, progress=False)
    # the earlier output is intact; no half-written file or summary is left to be trained on
    assert [p.name for p in out.iterdir()] == ["train.jsonl"]
    assert (out / "train.jsonl").read_text() == '{"id": "from an earlier, complete conversion"}\n'


# --------------------------------------------------------------------------- leakage


def test_leakage_by_image_bytes_and_question_text(tmp_path, capsys):
    picture(tmp_path / "train" / "x.png", value=10)
    picture(tmp_path / "test" / "copy-of-x.png", value=10)
    picture(tmp_path / "test" / "y.png", value=200)

    def write(path, items):
        path.write_text("".join(json.dumps({"images": [image], "messages": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": q}]},
                                                                             {"role": "assistant", "content": [{"type": "text", "text": "a"}]}]}) + "\n" for image, q in items))  # fmt: skip

    write(tmp_path / "train.jsonl", [("train/x.png", "Is there a nodule?"), ("train/x.png", "Write the radiology report for this image.")])
    write(tmp_path / "test.jsonl", [("test/copy-of-x.png", "is there a NODULE"), ("test/y.png", "Write the radiology report for this image.")])
    report = check_leakage([tmp_path / "train.jsonl"], [tmp_path / "test.jsonl"], ignore_questions=["Write the radiology report for this image."])
    assert (report["shared_images"], report["shared_questions"]) == (1, 1)
    assert report["shared_image_examples"][0].endswith("copy-of-x.png")
    status = cli(["data", "check-leakage", "--train", str(tmp_path / "train.jsonl"), "--test", str(tmp_path / "test.jsonl"), "--fail-on-overlap"])
    assert status == 1 and '"shared_images": 1' in capsys.readouterr().out


def test_cli_converts_with_registry_options(tmp_path, capsys):
    assert cli(["data", "convert", "phantom", "-", str(tmp_path / "ph"), "--option", "train=3", "--option", "heldout=1", "--option", "size=64"]) == 0
    assert json.loads(capsys.readouterr().out)["written"] == 4
    assert cli(["data", "convert", "vqa_rad", str(tmp_path / "nowhere"), str(tmp_path / "x")]) == 2
