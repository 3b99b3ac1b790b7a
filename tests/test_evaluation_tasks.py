"""Evaluation adapters: each benchmark's published layout, read from a small fixture, comes out as
exactly the samples it holds; every record of the evaluated split that cannot be read comes out as
a `Problem` naming its file and line (or index), so nothing is dropped silently."""

import csv
import gzip
import io
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import MIMIC_REPORT
from PIL import Image

from medmo.sources.iu_xray import read_reports, split_of, torchxrayvision_reports_archive
from medmo.clinical.prompts import evaluation_prompt, format_question
from medmo.evaluation.tasks import KINDS, TASKS, Problem, Sample, load_task


SIZE = (64, 48)  # width != height: a swapped axis shows


def picture(path: Path, size=SIZE, value=100, mode="RGB") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value if mode != "RGB" else (value, value, value)).save(path)
    return path


def png_bytes(size=SIZE, value=150) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (value, value, value)).save(buffer, format="PNG")
    return buffer.getvalue()


def write_lines(path: Path, lines) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines), encoding="utf-8")
    return path


def write_csv(path: Path, rows, opener=open) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with opener(path, "wt", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows(rows)
    return path


def load(name: str, data_dir: Path, limit=None):
    """(samples, [(location, reason)]) of a task, checking what every sample must satisfy."""
    items = list(load_task(name, data_dir, limit))
    samples = [item for item in items if isinstance(item, Sample)]
    problems = [(item.location, item.reason) for item in items if isinstance(item, Problem)]
    assert len(samples) + len(problems) == len(items)
    for sample in samples:
        assert sample.task == name and sample.kind in KINDS
        assert all(Path(image).is_file() for image in sample.images), sample.images
    assert len({sample.id for sample in samples}) == len(samples), "sample ids must be unique: the runner resumes by id"
    return samples, problems


def test_every_task_has_a_test():
    module = sys.modules[__name__]
    assert [name for name in TASKS if not hasattr(module, f"test_{name}")] == []


# --------------------------------------------------------------------------- VQA


def mmmu_table(records):
    """MMMU's Hub parquet schema: images as {bytes, path} structs, options as a Python-literal string."""
    import pyarrow as pa

    image = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    fields = [("id", pa.string()), ("question", pa.string()), ("options", pa.string()), ("explanation", pa.string()),
              *[(f"image_{k}", image) for k in range(1, 8)], ("img_type", pa.string()), ("answer", pa.string()),
              ("topic_difficulty", pa.string()), ("question_type", pa.string()), ("subfield", pa.string())]  # fmt: skip
    return pa.Table.from_pylist([{**{name: None for name, _ in fields}, **record} for record in records], schema=pa.schema(fields))


def test_mmmu_med(tmp_path):
    import pyarrow.parquet as pq

    root = tmp_path / "mmmu"
    (root / "Clinical_Medicine").mkdir(parents=True)
    (root / "Pharmacy").mkdir()
    image = {"bytes": png_bytes(), "path": "a.png"}
    pq.write_table(mmmu_table([
        {"id": "validation_Clinical_Medicine_1", "question": "Which finding is shown in <image 1>?", "options": "['Edema', 'Fibrosis', '<image 2>']",
         "answer": "B", "image_1": image, "image_2": {"bytes": png_bytes((32, 40)), "path": "b.png"}, "question_type": "multiple-choice"},
        {"id": "validation_Clinical_Medicine_2", "question": "Name the lesion in <image 1>.", "options": "[]", "answer": "granuloma",
         "image_1": image, "question_type": "open"},
        {"id": "validation_Clinical_Medicine_3", "question": "Broken?", "options": "['a', ", "answer": "A", "image_1": image},
        {"id": "validation_Clinical_Medicine_4", "question": "Which?", "options": "['a', 'b', 'c']", "answer": "E", "image_1": image},
    ]), root / "Clinical_Medicine" / "validation-00000-of-00001.parquet")  # fmt: skip
    pq.write_table(mmmu_table([{"id": "dev_Clinical_Medicine_1", "question": "Dev?", "options": "[]", "answer": "yes"}]),
                   root / "Clinical_Medicine" / "dev-00000-of-00001.parquet")  # fmt: skip
    pq.write_table(mmmu_table([{"id": "validation_Pharmacy_1", "question": "Is <image 1> a tablet?", "options": "[]", "answer": "Yes",
                                "image_1": image, "question_type": "open"}]), root / "Pharmacy" / "validation-00000-of-00001.parquet")  # fmt: skip
    samples, problems = load("mmmu_med", tmp_path)
    assert [s.id for s in samples] == ["mmmu-validation_Clinical_Medicine_1", "mmmu-validation_Clinical_Medicine_2", "mmmu-validation_Pharmacy_1"]
    choice, open_question, closed = samples
    assert (choice.kind, choice.reference, choice.options) == ("multiple_choice", "B", ["Edema", "Fibrosis", "image 2"])
    assert choice.prompt == format_question("Which finding is shown in the image?", ["Edema", "Fibrosis", "image 2"])
    assert [Image.open(path).size for path in choice.images] == [SIZE, (32, 40)]
    assert (open_question.kind, open_question.reference, open_question.options) == ("open", "granuloma", None)
    assert open_question.prompt == "Name the lesion in the image."
    assert (closed.kind, closed.reference, closed.meta) == ("closed", "Yes", {"subject": "Pharmacy"})
    assert problems == [
        ("Basic_Medical_Science", "subject files missing"),
        ("Clinical_Medicine/validation-00000-of-00001.parquet[2]", "malformed options or image"),
        ("Clinical_Medicine/validation-00000-of-00001.parquet[3]", "answer is not an option"),
        ("Diagnostics_and_Laboratory_Medicine", "subject files missing"),
        ("Public_Health", "subject files missing"),
    ]


def vqa_rad_record(qid, phrase_type, image, question, answer, answer_type):
    """A record of `VQA_RAD Dataset Public.json`, with every field of the OSF release."""
    return {"qid": qid, "phrase_type": phrase_type, "qid_linked_id": f"03f451ca-de62-4617-9679-e836026a7642-{qid}", "image_case_url": "https://medpix.nlm.nih.gov/case?id=x",
            "image_name": image, "image_organ": "CHEST", "evaluation": "evaluated", "question": question, "question_rephrase": "NULL",
            "question_relation": "NULL", "question_frame": "NULL", "question_type": "PRES", "answer": answer, "answer_type": answer_type}  # fmt: skip


def test_vqa_rad(tmp_path):
    root = tmp_path / "vqa_rad"
    picture(root / "VQA_RAD Image Folder" / "synpic1.jpg")
    records = [
        vqa_rad_record(0, "freeform", "synpic1.jpg", "Is this a CT?", "No", "CLOSED"),
        vqa_rad_record(1, "test_freeform", "synpic1.jpg", "Is there a fracture?", "No", "CLOSED"),
        vqa_rad_record(2, "test_para", "synpic1.jpg", "Where is the lesion located?", "left lower lobe", "OPEN"),
        vqa_rad_record(3, "test_freeform", "missing.jpg", "Is it normal?", "yes", "CLOSED"),
        vqa_rad_record(4, "test_freeform", "synpic1.jpg", "How many lesions are seen?", 2, "OPEN"),
        vqa_rad_record(5, "test_para", "synpic1.jpg", "", "yes", "CLOSED"),
        vqa_rad_record(6, "para", "synpic1.jpg", "Is the heart enlarged?", "Yes", "CLOSED"),
    ]
    (root / "VQA_RAD Dataset Public.json").write_text(json.dumps(records))
    samples, problems = load("vqa_rad", tmp_path)
    assert [(s.id, s.kind, s.reference, s.prompt, s.options) for s in samples] == [
        ("vqa_rad-1", "closed", "No", "Is there a fracture?", None),
        ("vqa_rad-2", "open", "left lower lobe", "Where is the lesion located?", None),
        ("vqa_rad-4", "open", "2", "How many lesions are seen?", None),
    ]
    assert samples[0].images == [str(root / "VQA_RAD Image Folder" / "synpic1.jpg")]
    assert problems == [("VQA_RAD Dataset Public.json[3] (missing.jpg)", "image not found or unreadable"),
                        ("VQA_RAD Dataset Public.json[5]", "missing question or answer")]  # fmt: skip


def slake_record(qid, lang, image, question, answer, answer_type="OPEN"):
    """A record of SLAKE's `test.json`, with every field of the release."""
    return {"img_id": 102, "img_name": image, "question": question, "answer": answer, "q_lang": lang, "location": "Lung", "modality": "CT",
            "answer_type": answer_type, "base_type": "vqa", "content_type": "Modality", "triple": ["vhead", "_", "_"], "qid": qid}  # fmt: skip


def test_slake(tmp_path):
    root = tmp_path / "slake"
    picture(root / "imgs" / "xmlab102" / "source.jpg")
    (root / "train.json").write_text(json.dumps([slake_record(1, "en", "xmlab102/source.jpg", "Train?", "yes")]))
    (root / "validate.json").write_text(json.dumps([slake_record(2, "en", "xmlab102/source.jpg", "Validate?", "yes")]))
    records = [
        slake_record(11934, "en", "xmlab102/source.jpg", "What modality is used to take this image?", "CT"),
        slake_record(11935, "zh", "xmlab102/source.jpg", "这张图片是用什么成像方式拍摄的？", "CT"),
        slake_record(11936, "en", "xmlab102/source.jpg", "Is the lung healthy?", "No", "CLOSED"),
        slake_record(11937, "en", "xmlab999/source.jpg", "Which organ is shown?", "Lung"),
        {k: v for k, v in slake_record(11938, "en", "xmlab102/source.jpg", "Where?", "").items() if k != "answer"},
    ]
    (root / "test.json").write_text(json.dumps(records, ensure_ascii=False))
    samples, problems = load("slake", tmp_path)
    assert [(s.id, s.kind, s.reference, s.prompt) for s in samples] == [
        ("slake-11934", "open", "CT", "What modality is used to take this image?"),
        ("slake-11936", "closed", "No", "Is the lung healthy?"),
    ]
    assert samples[0].images == [str(root / "imgs" / "xmlab102" / "source.jpg")]
    assert problems == [("test.json[3] (source.jpg)", "image not found or unreadable"), ("test.json[4]", "missing question or answer")]


def test_pathvqa(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = tmp_path / "pathvqa" / "data"
    data.mkdir(parents=True)
    image = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    schema = pa.schema([("image", image), ("question", pa.string()), ("answer", pa.string())])

    def shard(name, rows):
        pq.write_table(pa.Table.from_pylist([{"image": {"bytes": b, "path": None}, "question": q, "answer": a} for b, q, a in rows], schema=schema), data / name)

    shard("test-00000-of-00002.parquet", [(png_bytes(), "Is this malignant?", "yes"), (b"not an image", "What stain?", "h&e")])
    shard("test-00001-of-00002.parquet", [(png_bytes((40, 30)), "What is present?", "granulation tissue")])
    shard("train-00000-of-00001.parquet", [(png_bytes(), "Train?", "no")])
    shard("validation-00000-of-00001.parquet", [(png_bytes(), "Validation?", "no")])
    samples, problems = load("pathvqa", tmp_path)
    assert [(s.id, s.kind, s.reference, s.prompt) for s in samples] == [
        ("pathvqa-test-00000-of-00002-000000", "closed", "yes", "Is this malignant?"),
        ("pathvqa-test-00001-of-00002-000000", "open", "granulation tissue", "What is present?"),
    ]
    assert [Image.open(s.images[0]).size for s in samples] == [SIZE, (40, 30)]
    assert problems == [("test-00000-of-00002.parquet[1]", "image not found or unreadable")]


def test_pmc_vqa(tmp_path):
    # Version 2 (`test_2.csv`, images from images_2.zip in figures/): the answer letter is in `Answer`.
    root = tmp_path / "v2" / "pmc_vqa"
    picture(root / "figures" / "PMC1_F1.jpg")
    (root / "images").mkdir()  # version 1's folder, not the one test_2.csv names
    header = ["index", "Figure_path", "Caption", "Question", "Choice A", "Choice B", "Choice C", "Choice D", "Answer", "split"]
    write_csv(root / "train_2.csv", [header, [0, "PMC1_F1.jpg", "c", "Train?", "A:x", "B:y", "C:z", "D:w", "A", "train"]])
    write_csv(root / "test_2.csv", [
        header,
        [0, "PMC1_F1.jpg", "Axial CT.\nContrast enhanced.", "What modality is shown?", " A:CT", " B:MRI", " C:X-ray", " D:Ultrasound", "A", "test"],
        [1, "PMC1_F1.jpg", "c", "Which ratio is reported?", "1:1", "B: 1:2", "2:1", "3:1", "B", "test"],  # not every choice carries its letter
        [2, "PMC1_F1.jpg", "c", "Which?", "A:x", "B:y", "C:z", "D:w", "E", "test"],
        [3, "PMC9_F9.jpg", "c", "Which?", "A:x", "B:y", "C:z", "D:w", "C", "test"],
    ])  # fmt: skip
    samples, problems = load("pmc_vqa", root.parent)
    assert [(s.id, s.kind, s.reference, s.options) for s in samples] == [
        ("pmc_vqa-2", "multiple_choice", "A", ["CT", "MRI", "X-ray", "Ultrasound"]),
        ("pmc_vqa-4", "multiple_choice", "B", ["1:1", "1:2", "2:1", "3:1"]),
    ]
    assert samples[0].prompt == format_question("What modality is shown?", ["CT", "MRI", "X-ray", "Ultrasound"])
    assert samples[0].images == [str(root / "figures" / "PMC1_F1.jpg")]
    assert problems == [("test_2.csv:5", "missing question, options or answer label"), ("test_2.csv:6 (PMC9_F9.jpg)", "image not found or unreadable")]

    # Version 1 (`test.csv`, images.zip in images/): the letter is in `Answer_label`, `Answer` holds the text.
    root = tmp_path / "v1" / "pmc_vqa"
    picture(root / "images" / "PMC1064097_F1.jpg")
    write_csv(root / "test.csv", [
        ["Figure_path", "Question", "Answer", "Choice A", "Choice B", "Choice C", "Choice D", "Answer_label"],
        ["PMC1064097_F1.jpg", "What is the uptake pattern in the breast?", "Focal uptake pattern", "A:Diffuse uptake pattern",
         "B:Focal uptake pattern", "C:No uptake pattern", "D:Cannot determine from the information given", "B"],
    ])  # fmt: skip
    [sample], problems = load("pmc_vqa", root.parent)
    assert (sample.reference, sample.options[1], problems) == ("B", "Focal uptake pattern", [])
    assert sample.images == [str(root / "images" / "PMC1064097_F1.jpg")]

    # The manually verified test_clean.csv (version 1 layout) is preferred when present.
    write_csv(root / "test_clean.csv", [
        ["Figure_path", "Question", "Answer", "Choice A", "Choice B", "Choice C", "Choice D", "Answer_label"],
        ["PMC1064097_F1.jpg", "Which view?", "Axial", "A:Axial", "B:Coronal", "C:Sagittal", "D:Oblique", "A"],
    ])  # fmt: skip
    [sample], problems = load("pmc_vqa", root.parent)
    assert (sample.prompt.splitlines()[0], sample.reference, problems) == ("Which view?", "A", [])

    (tmp_path / "none" / "pmc_vqa").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="test_clean.csv, test_2.csv, test.csv"):
        load("pmc_vqa", tmp_path / "none")


def test_omnimedvqa(tmp_path):
    root = tmp_path / "omnimedvqa"
    picture(root / "Images" / "ACRIMA" / "Im553_g_ACRIMA.png")
    picture(root / "Images" / "Chest CT Scan" / "000108.png")
    common = {"dataset": "ACRIMA", "question_type": "Disease Diagnosis", "modality_type": "Fundus Photography", "image_path": "Images/ACRIMA/Im553_g_ACRIMA.png"}
    write_lines(root / "QA_information" / "Open-access" / "ACRIMA.json", [json.dumps([
        {**common, "question_id": "ACRIMA_0000", "question": "Is there glaucoma in this fundus image?", "gt_answer": "No, it's normal.",
         "option_A": "Yes", "option_B": "No, it's normal."},
        {**common, "question_id": "ACRIMA_0001", "question": "What is the diagnosis?", "gt_answer": "Glaucoma",
         "option_A": "Cataract", "option_B": "Normal", "option_C": "Glaucoma", "option_D": "Myopia"},
        {**common, "question_id": "ACRIMA_0002", "question": "What is shown?", "gt_answer": "Retina", "option_A": "Lung", "option_B": "Liver"},
    ])])  # fmt: skip
    write_lines(root / "QA_information" / "Open-access" / "Chest CT Scan.json", [json.dumps([
        {"dataset": "Chest CT Scan", "question_id": "Chest CT Scan_0000", "question_type": "Modality Recognition", "modality": "CT(Computed Tomography)",
         "question": "What imaging modality was used?", "gt_answer": "CT", "option_A": "MR", "option_B": "CT", "image_path": "Images/Chest CT Scan/000108.png"},
        {"dataset": "Chest CT Scan", "question_id": "Chest CT Scan_0001", "question_type": "Modality Recognition", "modality_type": "CT(Computed Tomography)",
         "question": "What imaging modality was used?", "gt_answer": "CT", "option_A": "MR", "option_B": "CT", "image_path": "Images/Chest CT Scan/gone.png"},
    ])])  # fmt: skip
    write_lines(root / "QA_information" / "Restricted-access" / "AIROGS.json", [json.dumps([{**common, "question_id": "AIROGS_0", "question": "Q?", "gt_answer": "Yes", "option_A": "Yes"}])])
    samples, problems = load("omnimedvqa", tmp_path)
    assert [(s.id, s.reference, s.options, s.meta) for s in samples] == [
        ("omnimedvqa-ACRIMA_0000", "B", ["Yes", "No, it's normal."], {"modality": "Fundus Photography"}),
        ("omnimedvqa-ACRIMA_0001", "C", ["Cataract", "Normal", "Glaucoma", "Myopia"], {"modality": "Fundus Photography"}),
        ("omnimedvqa-Chest CT Scan_0000", "B", ["MR", "CT"], {"modality": "CT(Computed Tomography)"}),
    ]
    assert samples[0].kind == "multiple_choice" and samples[0].prompt == format_question("Is there glaucoma in this fundus image?", ["Yes", "No, it's normal."])
    assert samples[0].images == [str(root / "Images" / "ACRIMA" / "Im553_g_ACRIMA.png")]
    assert problems == [("ACRIMA.json[2]", "missing question, or the answer is not among the options"), ("Chest CT Scan.json[1] (gone.png)", "image not found or unreadable")]


MM_QUESTION = "Which artery labeled in Figure A provides the predominant blood supply to the spinal cord?"


def test_medxpertqa_mm(tmp_path):
    root = tmp_path / "medxpertqa"
    for name in ("MM-2002-a.jpeg", "MM-2003-a.jpeg", "MM-2003-b.jpeg"):
        picture(root / "images" / name)
    options = {"A": "C", "B": "D", "C": "A", "D": "B", "E": "None of the above"}
    meta = {"medical_task": "Basic Medicine", "body_system": "Cardiovascular", "question_type": "Understanding"}
    write_lines(root / "MM" / "dev.jsonl", [{"id": "MM-0", "question": "Dev?", "options": options, "label": "A", "images": ["MM-2002-a.jpeg"], **meta}])
    write_lines(root / "MM" / "test.jsonl", [
        {"id": "MM-2002", "question": f"{MM_QUESTION} Answer Choices: (A) C (B) D (C) A (D) B (E) None of the above", "options": options,
         "label": "C", "images": ["MM-2002-a.jpeg"], **meta},
        {"id": "MM-2003", "question": "Compare the two films.\nAnswer Choices: (A) C (B) D (C) A (D) B (E) None of the above", "options": options,
         "label": "E", "images": ["MM-2003-a.jpeg", "MM-2003-b.jpeg"], **meta},
        {"id": "MM-2004", "question": "Q? Answer Choices: (A) C", "options": options, "label": "A", "images": ["MM-2004-a.jpeg"], **meta},
        {"id": "MM-2005", "question": "Q? Answer Choices: (A) C", "options": options, "label": "F", "images": ["MM-2002-a.jpeg"], **meta},
        "{not json",
        "",
    ])  # fmt: skip
    samples, problems = load("medxpertqa_mm", tmp_path)
    assert [(s.id, s.kind, s.reference, s.options) for s in samples] == [
        ("medxpertqa_mm-MM-2002", "multiple_choice", "C", ["C", "D", "A", "B", "None of the above"]),
        ("medxpertqa_mm-MM-2003", "multiple_choice", "E", ["C", "D", "A", "B", "None of the above"]),
    ]
    assert samples[0].prompt == format_question(MM_QUESTION, list(options.values()))  # the choices are listed once, not twice
    assert samples[1].prompt.startswith("Compare the two films.\nA. C\n")
    assert samples[1].images == [str(root / "images" / "MM-2003-a.jpeg"), str(root / "images" / "MM-2003-b.jpeg")]
    assert problems == [("MM/test.jsonl:3 (MM-2004-a.jpeg)", "image not found or unreadable"), ("MM/test.jsonl:4", "answer is not an option"),
                        ("MM/test.jsonl:5", "invalid JSON")]  # fmt: skip


def test_medxpertqa_text(tmp_path):
    root = tmp_path / "medxpertqa"
    options = {letter: f"option {letter}" for letter in "ABCDEFGHIJ"}
    choices = " ".join(f"({letter}) option {letter}" for letter in "ABCDEFGHIJ")
    write_lines(root / "Text" / "test.jsonl", [
        {"id": "Text-0", "question": f"A 45-year-old man presents with chest pain. What is the next step? Answer Choices: {choices}",
         "options": options, "label": "J", "medical_task": "Treatment", "body_system": "Cardiovascular", "question_type": "Reasoning"},
        {"id": "Text-1", "question": "No options?", "label": "A"},
    ])  # fmt: skip
    samples, problems = load("medxpertqa_text", tmp_path)
    assert [(s.id, s.reference, s.images) for s in samples] == [("medxpertqa_text-Text-0", "J", [])]
    assert samples[0].prompt == format_question("A 45-year-old man presents with chest pain. What is the next step?", list(options.values()))
    assert problems == [("Text/test.jsonl:2", "malformed record")]


# --------------------------------------------------------------------------- text QA


def test_mmlu_med(tmp_path):
    root = tmp_path / "mmlu"
    write_csv(root / "test" / "anatomy_test.csv", [
        ["What is the largest organ of the human body?", "Skin", "Liver", "Heart", "Lung", "A"],
        ["Which bone is\nthe longest?", "Femur", "Tibia", "Humerus", "Radius", "A"],
        ["Q", "a", "b", "c", "d", "E"],
        ["Q", "a", "b", "c", "d", ""],
        ["Q", "a", "b", "c", "D"],
    ])  # fmt: skip
    write_csv(root / "test" / "clinical_knowledge_test.csv", [["Which vitamin is fat-soluble?", "B1", "C", "D", "B12", "C"]])
    write_csv(root / "dev" / "anatomy_dev.csv", [["Dev?", "a", "b", "c", "d", "A"]])
    samples, problems = load("mmlu_med", tmp_path)
    assert [(s.id, s.kind, s.reference, s.options, s.meta) for s in samples] == [
        ("mmlu-anatomy-1", "multiple_choice", "A", ["Skin", "Liver", "Heart", "Lung"], {"subject": "anatomy"}),
        ("mmlu-anatomy-2", "multiple_choice", "A", ["Femur", "Tibia", "Humerus", "Radius"], {"subject": "anatomy"}),
        ("mmlu-clinical_knowledge-1", "multiple_choice", "C", ["B1", "C", "D", "B12"], {"subject": "clinical_knowledge"}),
    ]
    assert samples[1].prompt == format_question("Which bone is\nthe longest?", ["Femur", "Tibia", "Humerus", "Radius"])
    assert problems == [
        ("test/anatomy_test.csv:4", "answer is not an option"),  # the quoted question spans lines 2-3
        ("test/anatomy_test.csv:5", "answer is not an option"),
        ("test/anatomy_test.csv:6", "malformed record"),  # five fields
        ("test/college_biology_test.csv", "subject file missing"),
        ("test/college_medicine_test.csv", "subject file missing"),
        ("test/medical_genetics_test.csv", "subject file missing"),
        ("test/professional_medicine_test.csv", "subject file missing"),
    ]


PUBMEDQA_RECORD = {
    "QUESTION": "Do mitochondria play a role in remodelling lace plant leaves during programmed cell death?",
    "CONTEXTS": ["Programmed cell death (PCD) is the regulated death of cells.", "Window stage leaves were stained."],
    "LABELS": ["BACKGROUND", "RESULTS"], "MESHES": ["Apoptosis"], "YEAR": "2011", "reasoning_required_pred": "yes",
    "reasoning_free_pred": "yes", "final_decision": "yes", "LONG_ANSWER": "Results depicted mitochondrial dynamics in vivo.",
}  # fmt: skip


def test_pubmedqa(tmp_path):
    root = tmp_path / "pubmedqa"
    root.mkdir()
    records = {"21645374": PUBMEDQA_RECORD, "16418930": {**PUBMEDQA_RECORD, "QUESTION": "Training question?", "final_decision": "no"},
               "9488747": {**PUBMEDQA_RECORD, "QUESTION": "Syncope during bathing in infants?", "CONTEXTS": [], "final_decision": "maybe"}}  # fmt: skip
    (root / "ori_pqal.json").write_text(json.dumps(records))
    (root / "test_ground_truth.json").write_text(json.dumps({"21645374": "yes", "9488747": "maybe", "12377809": "yes"}))
    samples, problems = load("pubmedqa", tmp_path)
    assert [(s.id, s.kind, s.reference) for s in samples] == [("pubmedqa-21645374", "open", "yes"), ("pubmedqa-9488747", "open", "maybe")]
    assert samples[0].prompt == (
        "Context: Programmed cell death (PCD) is the regulated death of cells. Window stage leaves were stained.\n"
        "Question: Do mitochondria play a role in remodelling lace plant leaves during programmed cell death?\nAnswer yes, no or maybe."
    )
    assert problems == [("ori_pqal.json[12377809]", "pmid of the test list is missing")]


MEDMCQA_README_RECORD = {
    "question": "A 40-year-old man presents with 5 days of productive cough and fever. Which of the following terms best describes these hematologic findings?",
    "exp": "Circulating levels of leukocytes may reach very high levels.", "cop": 1, "opa": "Leukemoid reaction", "opb": "Leukopenia",
    "opc": "Myeloid metaplasia", "opd": "Neutrophilia", "subject_name": "Pathology", "topic_name": "Basic Concepts and Vascular changes of Acute Inflammation",
    "id": "4e1715fe-0bc3-494e-b6eb-2d4617245aef", "choice_type": "single",
}  # fmt: skip


def test_medmcqa(tmp_path):
    root = tmp_path / "medmcqa"
    write_lines(root / "train.json", [{**MEDMCQA_README_RECORD, "id": "train-1"}])
    write_lines(root / "test.json", [{k: v for k, v in MEDMCQA_README_RECORD.items() if k != "cop"}])
    write_lines(root / "dev.json", [
        MEDMCQA_README_RECORD,  # the README's example: cop 1 is "Leukemoid reaction", option A
        {**MEDMCQA_README_RECORD, "id": "q2", "cop": 4},
        {**MEDMCQA_README_RECORD, "id": "q3", "cop": 0},
        {**MEDMCQA_README_RECORD, "id": "q4", "cop": 5},
        "{broken",
    ])  # fmt: skip
    samples, problems = load("medmcqa", tmp_path)
    assert [(s.id, s.kind, s.reference) for s in samples] == [("medmcqa-4e1715fe-0bc3-494e-b6eb-2d4617245aef", "multiple_choice", "A"), ("medmcqa-q2", "multiple_choice", "D")]
    assert samples[0].options == ["Leukemoid reaction", "Leukopenia", "Myeloid metaplasia", "Neutrophilia"]
    withheld = "no answer (withheld or out of range)"
    assert problems == [("dev.json:3", withheld), ("dev.json:4", withheld), ("dev.json:5", "invalid JSON")]


MEDQA_RECORD = {
    "question": "A 23-year-old pregnant woman at 22 weeks gestation presents with burning upon urination. Which is the best treatment?",
    "answer": "Nitrofurantoin", "options": {"A": "Ampicillin", "B": "Ceftriaxone", "C": "Ciprofloxacin", "D": "Doxycycline", "E": "Nitrofurantoin"},
    "meta_info": "step2&3", "answer_idx": "E",
}  # fmt: skip


def test_medqa(tmp_path):
    root = tmp_path / "us" / "medqa" / "US"
    for name in ("train.jsonl", "dev.jsonl", "4_options/phrases_no_exclude_test.jsonl"):
        write_lines(root / name, [MEDQA_RECORD])
    write_lines(root / "test.jsonl", [MEDQA_RECORD, {**MEDQA_RECORD, "answer_idx": "F"}, "{broken"])
    samples, problems = load("medqa", tmp_path / "us")
    assert [(s.id, s.kind, s.reference, s.options) for s in samples] == [
        ("medqa-1", "multiple_choice", "E", ["Ampicillin", "Ceftriaxone", "Ciprofloxacin", "Doxycycline", "Nitrofurantoin"])]
    assert samples[0].prompt == format_question(MEDQA_RECORD["question"], samples[0].options)
    assert problems == [("US/test.jsonl:2", "answer is not an option"), ("US/test.jsonl:3", "invalid JSON")]

    four = {**MEDQA_RECORD, "options": {"A": "Ampicillin", "B": "Ceftriaxone", "C": "Doxycycline", "D": "Nitrofurantoin"}, "answer_idx": "D"}
    write_lines(tmp_path / "flat" / "medqa" / "test.jsonl", [four])  # the test file at the root, no US/ folder
    assert [s.reference for s in load("medqa", tmp_path / "flat")[0]] == ["D"]


def write_medbullets(tmp_path):
    root = tmp_path / "medbullets"
    header4 = ["link", "question", "opa", "opb", "opc", "opd", "answer_idx", "answer", "explanation"]
    question = "A 42-year-old woman is started on verapamil. Which represents the relative conduction speed from fastest to slowest?"
    write_csv(root / "medbullets_op4.csv", [
        header4,
        # the release's rows end with four empty fields beyond the header
        ["https://bit.ly/47KxMQs", question, "AV node > ventricles", "Purkinje fibers > ventricles", "Purkinje fibers > atria > ventricles > AV node",
         "Purkinje fibers > AV node", "C", "Purkinje fibers > atria > ventricles > AV node", "The conduction velocity...\n\nBullet Summary:\nPurkinje.", "", "", "", ""],
        ["https://bit.ly/3GZtkBx", "Which is the explanation?", "a", "b", "c", "d", "E", "e", "x", "", "", "", ""],
    ])  # fmt: skip
    write_csv(root / "medbullets_op5.csv", [
        [*header4[:6], "ope", *header4[6:]],
        ["https://bit.ly/47KxMQs", question, "a", "b", "c", "d", "e", "E", "e", "x"],
    ])
    (root / "medbullets_op4.json").write_text("{}")
    return question


def test_medbullets_op4(tmp_path):
    question = write_medbullets(tmp_path)
    samples, problems = load("medbullets_op4", tmp_path)
    assert [(s.id, s.task, s.reference, len(s.options)) for s in samples] == [("medbullets_op4-2", "medbullets_op4", "C", 4)]
    assert samples[0].options[2] == "Purkinje fibers > atria > ventricles > AV node" and samples[0].prompt.startswith(question)
    assert problems == [("medbullets_op4.csv:6", "answer is not an option")]  # the first row's explanation spans lines 2-5


def test_medbullets_op5(tmp_path):
    write_medbullets(tmp_path)
    samples, problems = load("medbullets_op5", tmp_path)
    assert [(s.id, s.task, s.reference, len(s.options)) for s in samples] == [("medbullets_op5-2", "medbullets_op5", "E", 5)]
    assert problems == []


def test_sgpqa(tmp_path):
    root = tmp_path / "supergpqa"
    record = {"uuid": "0dcd8b1a", "question": "Which enzyme deficiency causes phenylketonuria?", "options": [f"Enzyme {i}" for i in range(9)] + ["Phenylalanine hydroxylase"],
              "answer": "Phenylalanine hydroxylase", "answer_letter": "J", "discipline": "Medicine", "field": "Basic Medicine",
              "subfield": "Biochemistry", "difficulty": "middle", "is_calculation": False}  # fmt: skip
    write_lines(root / "SuperGPQA-all.jsonl", [
        record,
        {**record, "uuid": "e1", "discipline": "Engineering"},
        "{broken",
        {**record, "uuid": "m2", "options": ["a", "b", "c", "d", "e"], "answer_letter": "K"},
        {**record, "uuid": "m3", "options": ["a", "b", "c", "d"], "answer_letter": "B"},
    ])  # fmt: skip
    samples, problems = load("sgpqa", tmp_path)
    assert [(s.id, s.kind, s.reference, len(s.options)) for s in samples] == [("sgpqa-0dcd8b1a", "multiple_choice", "J", 10), ("sgpqa-m3", "multiple_choice", "B", 4)]
    assert samples[0].prompt == format_question(record["question"], record["options"])
    assert problems == [("SuperGPQA-all.jsonl:3", "invalid JSON"), ("SuperGPQA-all.jsonl:4", "answer is not an option")]


# --------------------------------------------------------------------------- reports


MIMIC_METADATA = ["dicom_id", "subject_id", "study_id", "PerformedProcedureStepDescription", "ViewPosition", "Rows", "Columns", "StudyDate",
                  "StudyTime", "ProcedureCodeSequence_CodeMeaning", "ViewCodeSequence_CodeMeaning", "PatientOrientationCodeSequence_CodeMeaning"]  # fmt: skip


def test_mimic_cxr(tmp_path):
    root = tmp_path / "mimic_cxr"
    studies = [  # dicom, study, subject, split, view
        ("d1", "50000001", "10000032", "train", "PA"), ("d3", "50000002", "10000032", "test", "AP"), ("d4", "50000002", "10000032", "test", "LATERAL"),
        ("d5", "50000003", "10000032", "test", "LL"), ("d6", "50000004", "10000033", "test", "PA"), ("d7", "50000005", "10000033", "test", "AP"),
        ("d8", "50000005", "10000033", "test", "PA"), ("d9", "50000006", "10000033", "test", "PA"), ("d10", "50000007", "10000034", "validate", "PA"),
    ]  # fmt: skip
    # PhysioNet ships the split gzipped; the metadata is read plain here to cover both names.
    write_csv(root / "mimic-cxr-2.0.0-split.csv.gz", [["dicom_id", "study_id", "subject_id", "split"], *[s[:4] for s in studies]], opener=gzip.open)
    write_csv(root / "mimic-cxr-2.0.0-metadata.csv", [MIMIC_METADATA, *[[d, sub, st, "CHEST (PA AND LAT)", view, 3056, 2544, 21800506, 213014.531,
                                                                        "CHEST (PA AND LAT)", "postero-anterior", "Erect"] for d, st, sub, _, view in studies]])  # fmt: skip
    for dicom, study, subject, *_ in studies:
        if dicom != "d9":
            picture(root / "files" / f"p{subject[:2]}" / f"p{subject}" / f"s{study}" / f"{dicom}.jpg")
    for subject, study, text in (("10000032", "50000002", MIMIC_REPORT), ("10000032", "50000003", MIMIC_REPORT), ("10000033", "50000004", "FINAL REPORT\n COMPARISON: None.\n"),
                                 ("10000033", "50000005", MIMIC_REPORT.replace("Small left effusion.", "No change.")), ("10000033", "50000006", MIMIC_REPORT)):  # fmt: skip
        (root / "files" / f"p{subject[:2]}" / f"p{subject}" / f"s{study}.txt").write_text(text)
    samples, problems = load("mimic_cxr", tmp_path)
    assert [(s.id, s.kind, Path(s.images[0]).name) for s in samples] == [("mimic_cxr-s50000002", "report", "d3.jpg"), ("mimic_cxr-s50000005", "report", "d8.jpg")]
    assert samples[0].reference == "FINDINGS: There is a small left pleural effusion. No pneumothorax. IMPRESSION: Small left effusion."
    assert samples[1].reference.endswith("IMPRESSION: No change.") and samples[0].prompt == evaluation_prompt("report")
    assert problems == [
        ("files/p10/p10000032/s50000003.txt", "no frontal image"),
        ("files/p10/p10000033/s50000004.txt", "no report sections"),
        ("files/p10/p10000033/s50000006.txt (files/p10/p10000033/s50000006/d9.jpg)", "image not found or unreadable"),
    ]


CHEXPERT_PLUS_COLUMNS = ["path_to_image", "frontal_lateral", "deid_patient_id", "report", "section_history", "section_comparison",
                         "section_findings", "section_impression", "split"]  # fmt: skip


def test_chexpert_plus(tmp_path):
    root = tmp_path / "chexpert_plus"
    picture(root / "PNG" / "valid" / "patient64541" / "study1" / "view1_frontal.png")  # the PNG release
    picture(root / "valid" / "patient64542" / "study1" / "view1_frontal.jpg")  # the original JPGs, where the CSV says
    picture(root / "PNG" / "train" / "patient00001" / "study1" / "view1_frontal.png")
    write_csv(root / "df_chexpert_plus_240401.csv", [
        CHEXPERT_PLUS_COLUMNS,
        ["train/patient00001/study1/view1_frontal.jpg", "Frontal", "patient00001", "FINDINGS: x", "", "", "Clear.", "Normal.", "train"],
        ["valid/patient64541/study1/view1_frontal.jpg", "Frontal", "patient64541", "FINDINGS: Heart size is normal.\nIMPRESSION: No acute disease.", "Cough.",
         "None.", "Heart size is normal.  Lungs\nare clear.", "No acute disease.", "valid"],
        ["valid/patient64542/study1/view2_lateral.jpg", "Lateral", "patient64542", "IMPRESSION: Stable.", "", "", "", "Stable.", "valid"],
        ["valid/patient64542/study1/view1_frontal.jpg", "Frontal", "patient64542", "IMPRESSION: Stable.", "", "", "", "Stable.", "valid"],
        ["valid/patient64543/study1/view1_frontal.jpg", "Frontal", "patient64543", "Comparison only.", "", "Prior.", "", "", "valid"],
        ["valid/patient64544/study1/view1_frontal.jpg", "Frontal", "patient64544", "FINDINGS: Clear.", "", "", "Clear.", "", "valid"],
    ])  # fmt: skip
    samples, problems = load("chexpert_plus", tmp_path)
    assert [(s.id, s.kind, s.reference) for s in samples] == [
        ("chexpert_plus-3", "report", "FINDINGS: Heart size is normal. Lungs are clear. IMPRESSION: No acute disease."),
        ("chexpert_plus-7", "report", "IMPRESSION: Stable."),  # the report of line 3 spans lines 3-4, and its findings 4-5
    ]  # one sample per study: the lateral view of line 6 repeats the report of the frontal one
    assert samples[0].images == [str(root / "PNG" / "valid" / "patient64541" / "study1" / "view1_frontal.png")]
    assert samples[1].images == [str(root / "valid" / "patient64542" / "study1" / "view1_frontal.jpg")]
    assert problems == [("df_chexpert_plus_240401.csv:8", "no report sections"),
                        ("df_chexpert_plus_240401.csv:9 (view1_frontal.jpg)", "image not found or unreadable")]  # fmt: skip


IU_REPORT = """<?xml version="1.0" encoding="utf-8"?><eCitation><meta type="rr"/><uId id="CXR{n}"/><MedlineCitation><Article><Abstract>
  <AbstractText Label="COMPARISON">None.</AbstractText><AbstractText Label="INDICATION">Cough.</AbstractText>
  <AbstractText Label="FINDINGS">{findings}</AbstractText><AbstractText Label="IMPRESSION">{impression}</AbstractText>
  </Abstract></Article></MedlineCitation><MeSH><major>normal</major></MeSH>{images}</eCitation>"""


def iu_report(n: int, findings: str, impression: str, images=()) -> str:
    return IU_REPORT.format(n=n, findings=findings, impression=impression, images="".join(f'<parentImage id="{i}"/>' for i in images))


def test_iu_xray(tmp_path):
    root = tmp_path / "iu_xray"
    assert [split_of(f"CXR{n}") for n in (36, 42, 45, 51, 1)] == ["test", "test", "test", "test", "train"]
    (root / "ecgen-radiology").mkdir(parents=True)
    reports = {1: ("Train report.", "Normal.", ["CXR1_1_IM-0001-3001"]),
               36: ("The lungs are clear.", "No acute disease.", ["CXR36_1_IM-1000-1001", "CXR36_1_IM-1000-2001"]),
               42: ("Heart size normal.", "No acute disease.", ["CXR42_1_IM-2000-1001"]),
               45: ("", "", ["CXR45_1_IM-3000-1001"]),
               51: ("", "Stable chest.", ["CXR51_1_IM-4000-1001"])}  # fmt: skip
    for n, (findings, impression, images) in reports.items():
        (root / "ecgen-radiology" / f"{n}.xml").write_text(iu_report(n, findings, impression, images))
    for name in ("CXR1_1_IM-0001-3001", "CXR36_1_IM-1000-2001", "CXR45_1_IM-3000-1001", "CXR51_1_IM-4000-1001"):
        picture(root / "images" / f"{name}.png")
    samples, problems = load("iu_xray", tmp_path)
    assert [(s.id, s.kind, s.reference, Path(s.images[0]).name) for s in samples] == [
        ("iu_xray-CXR36", "report", "FINDINGS: The lungs are clear. IMPRESSION: No acute disease.", "CXR36_1_IM-1000-2001.png"),
        ("iu_xray-CXR51", "report", "IMPRESSION: Stable chest.", "CXR51_1_IM-4000-1001.png"),
    ]
    assert problems == [("ecgen-radiology/CXR42 (images/CXR42_1_IM-2000-1001.png)", "image not found or unreadable"), ("ecgen-radiology/CXR45", "no report sections")]


def test_iu_xray_on_the_real_report_archive(tmp_path):
    archive = torchxrayvision_reports_archive()
    assert archive is not None, "make setup installs torchxrayvision (--no-deps) for its data files"
    root = tmp_path / "iu_xray"
    (root / "images").mkdir(parents=True)
    shutil.copy(archive, root / archive.name)
    stand_in = png_bytes()  # the images are not shipped: same-name stand-ins for the test reports'
    for report in read_reports(archive):
        if split_of(report["id"]) == "test":
            for name in report["images"]:
                (root / "images" / f"{name}.png").write_bytes(stand_in)
    samples, problems = load("iu_xray", tmp_path)
    assert (len(samples), len(problems)) == (365, 15)  # the 380 reports of the test split
    assert sorted({reason for _, reason in problems}) == ["image not found or unreadable", "no report sections"]
    assert [reason for _, reason in problems].count("no report sections") == 2  # the rest have no image in their XML


# --------------------------------------------------------------------------- grounding


NIH_HEADER = "Image Index,Finding Label,Bbox [x,y,w,h],,,\n"


def test_nih_chestxray14(tmp_path):
    root = tmp_path / "nih_chestxray14"
    for folder, name in (("images_001", "00000001_000.png"), ("images_002", "00000002_000.png"), ("images_001", "00000004_000.png")):
        picture(root / "images" / folder / "images" / name, (1024, 1024), mode="L")
    (root / "BBox_List_2017.csv").write_text(NIH_HEADER + "00000001_000.png,Nodule,100.5,200.25,50,60\n00000002_000.png,Effusion,10,20,30,40\n"
                                             "00000001_000.png,Mass,600,500,200,210\n00000003_000.png,Mass,1,1,5,5\n00000004_000.png,Atelectasis,x,1,2,3\n\n")  # fmt: skip
    samples, problems = load("nih_chestxray14", tmp_path)
    assert [(s.id, s.kind, s.reference, s.image_size) for s in samples] == [
        ("nih-00000001_000", "grounding", [{"label": "Nodule", "box": [100.5, 200.25, 150.5, 260.25]}, {"label": "Mass", "box": [600.0, 500.0, 800.0, 710.0]}], [1024, 1024]),
        ("nih-00000002_000", "grounding", [{"label": "Effusion", "box": [10.0, 20.0, 40.0, 60.0]}], [1024, 1024]),
    ]  # fmt: skip
    assert samples[1].images == [str(root / "images" / "images_002" / "images" / "00000002_000.png")] and samples[0].prompt == evaluation_prompt("grounding")
    assert problems == [("BBox_List_2017.csv:5 (00000003_000.png)", "image not found or unreadable"), ("BBox_List_2017.csv:6", "malformed box row")]


def test_nih_chestxray14_on_the_real_box_list(tmp_path):
    archive = torchxrayvision_reports_archive()
    assert archive is not None, "make setup installs torchxrayvision (--no-deps) for its data files"
    real_csv = archive.parent / "BBox_List_2017.csv.gz"
    root = tmp_path / "nih_chestxray14"
    (root / "images").mkdir(parents=True)
    shutil.copy(real_csv, root / real_csv.name)
    with gzip.open(real_csv, "rt") as file:
        rows = list(csv.reader(file))
    assert rows[0] == next(csv.reader([NIH_HEADER]))  # the fixtures above use the real header
    buffer = io.BytesIO()
    Image.new("L", (1024, 1024)).save(buffer, format="PNG")
    for name in {row[0] for row in rows[1:]}:  # the images are not shipped: same-size stand-ins
        (root / "images" / name).write_bytes(buffer.getvalue())
    samples, problems = load("nih_chestxray14", tmp_path)
    assert (len(samples), sum(len(s.reference) for s in samples), problems) == (880, 984, [])
    first = next(s for s in samples if s.id == "nih-00013118_008")
    x, y, w, h = (float(v) for v in rows[1][2:6])
    assert rows[1][:2] == ["00013118_008.png", "Atelectasis"] and {"label": "Atelectasis", "box": [x, y, x + w, y + h]} in first.reference


DEEPLESION_HEADER = ("File_name,Patient_index,Study_index,Series_ID,Key_slice_index,Measurement_coordinates,Bounding_boxes,Lesion_diameters_Pixel_,"
                     "Normalized_lesion_location,Coarse_lesion_type,Possibly_noisy,Slice_range,Spacing_mm_px_,Image_size,DICOM_windows,Patient_gender,Patient_age,Train_Val_Test")  # fmt: skip


def deeplesion_row(file_name, box, split, window="-175, 275"):
    patient, study, series, key = file_name[:-4].split("_")
    return (f'{file_name},{int(patient)},{int(study)},{int(series)},{int(key)},"1,2,3,4,5,6,7,8","{box}","20, 10","0.5, 0.5, 0.5",4,0,'
            f'"8, 12","0.7, 0.7, 5","512, 512","{window}",M,50,{split}')  # fmt: skip


def test_deeplesion(tmp_path):
    root = tmp_path / "deeplesion"
    hounsfield = np.full((SIZE[1], SIZE[0]), 50, dtype=np.int32)
    hounsfield[:, :10] = -1000  # air on the left: a transposed image shows
    for folder in ("000001_01_01", "000002_01_01", "000004_01_01"):
        (root / "Images_png" / folder).mkdir(parents=True)
    Image.fromarray((hounsfield + 32768).astype(np.uint16)).save(root / "Images_png" / "000001_01_01" / "010.png")  # 16-bit, +32768
    Image.fromarray((hounsfield + 32768).astype(np.uint16)).save(root / "Images_png" / "000002_01_01" / "020.png")
    rows = [deeplesion_row("000001_01_01_010.png", "10.5, 12, 30, 35.5", 3), deeplesion_row("000001_01_01_010.png", "40, 20, 50, 30", 3),
            deeplesion_row("000002_01_01_020.png", "1, 1, 9, 9", 1), deeplesion_row("000003_01_01_030.png", "1, 1, 9, 9", 3),
            deeplesion_row("000004_01_01_040.png", "1, 2, 3", 3)]  # fmt: skip
    (root / "DL_info.csv").write_text(DEEPLESION_HEADER + "\n" + "\n".join(rows) + "\n")
    samples, problems = load("deeplesion", tmp_path)
    [sample] = samples
    assert (sample.id, sample.kind, sample.image_size) == ("deeplesion-000001_01_01_010", "grounding", list(SIZE))
    assert sample.reference == [{"label": "Lesion", "box": [10.5, 12.0, 30.0, 35.5]}, {"label": "Lesion", "box": [40.0, 20.0, 50.0, 30.0]}]
    windowed = np.asarray(Image.open(sample.images[0]).convert("L"))
    assert windowed.shape == (SIZE[1], SIZE[0]) and set(np.unique(windowed[:, :10])) == {0}
    assert set(np.unique(windowed[:, 10:])) == {128}  # 50 HU in the [-175, 275] window: (50 - 49.5) / 449 + 0.5 of 255
    assert problems == [("DL_info.csv:5 (Images_png/000003_01_01/030.png)", "image not found or unreadable"), ("DL_info.csv:6", "malformed row")]


def test_yolo_detection(tmp_path):
    root = tmp_path / "bacteria"
    root.mkdir()
    (root / "data.yaml").write_text("path: .\ntrain: images/train\nval: images/val\ntest: images/test\nnames:\n  0: bacteria\n  1: Str_pne\n")
    for name in ("a", "b", "c", "d"):
        picture(root / "images" / "test" / f"{name}.png", (200, 100))
    picture(root / "images" / "train" / "t.png", (200, 100))
    (root / "images" / "test" / "notes.txt").write_text("not an image")
    (root / "labels" / "test").mkdir(parents=True)
    (root / "labels" / "test" / "a.txt").write_text("1 0.5 0.5 0.2 0.4\n\n0 0.1 0.1 0.1 0.1\n")
    (root / "labels" / "test" / "c.txt").write_text("0 0.5 0.5 0.2 0.2\n0 0.5 oops\n")
    (root / "labels" / "test" / "d.txt").write_text("0 0.1 0.1 0.3 0.1 0.3 0.3 0.1 0.3\n")  # a segment (polygon) line
    samples, problems = load("yolo_detection", tmp_path)
    assert [(s.id, s.kind, s.image_size) for s in samples] == [("yolo-a", "grounding", [200, 100]), ("yolo-b", "grounding", [200, 100]),
                                                                ("yolo-d", "grounding", [200, 100])]  # fmt: skip
    assert [box["label"] for box in samples[0].reference] == ["Str_pne", "bacteria"] and samples[1].reference == []
    np.testing.assert_allclose([box["box"] for box in samples[0].reference], [[80, 30, 120, 70], [10, 5, 30, 15]])
    assert samples[0].prompt == evaluation_prompt("microscopy")
    # a segment line is read as the tightest box around its polygon, as Ultralytics trains detectors on it
    assert samples[2].reference == [{"label": "bacteria", "box": pytest.approx([20, 10, 60, 30])}]
    assert problems == [("labels/test/c.txt:2", "malformed label line"), ("images/test/notes.txt", "image not found or unreadable")]

    picture(tmp_path / "val_only" / "bacteria" / "images" / "val" / "x.png")  # no test split, no data.yaml: val, class ids as labels
    write_lines(tmp_path / "val_only" / "bacteria" / "labels" / "val" / "x.txt", ["0 0.5 0.5 1 1"])
    [sample], _ = load("yolo_detection", tmp_path / "val_only")
    assert sample.reference == [{"label": "0", "box": [0.0, 0.0, 64.0, 48.0]}]
    (tmp_path / "no_split" / "bacteria" / "images" / "train").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="no test / val / valid folder"):
        load("yolo_detection", tmp_path / "no_split")


def test_medsg(tmp_path):
    root = tmp_path / "medsg"
    picture(root / "images" / "0-1.png", (256, 192))
    picture(root / "images" / "0-2.png", (256, 192))
    question = "Compare these two images carefully and give me the coordinates of their difference."
    write_lines(root / "test.jsonl", [
        {"id": "Registered_Diff-0", "task": "Registered_Diff", "images": ["images/0-1.png", "images/0-2.png"], "question": question,
         "boxes": [{"label": "difference", "box": [87, 140, 103, 162]}]},
        {"id": "Registered_Diff-1", "images": ["images/0-1.png", "images/gone.png"], "question": question, "boxes": []},
    ])  # fmt: skip
    samples, problems = load("medsg", tmp_path)
    [sample] = samples
    assert (sample.id, sample.kind, sample.prompt, sample.image_size) == ("medsg-Registered_Diff-0", "grounding", question, [256, 192])
    assert sample.reference == [{"label": "difference", "box": [87, 140, 103, 162]}]
    assert sample.images == [str(root / "images" / "0-1.png"), str(root / "images" / "0-2.png")]
    assert problems == [("test.jsonl:2 (images/gone.png)", "image not found or unreadable")]


# --------------------------------------------------------------------------- your data, and the phantom


def test_generic(tmp_path):
    root = tmp_path / "generic"
    picture(root / "img" / "a.png")
    needs = "needs question + answer (an option's letter or text), report, or boxes"
    write_lines(root / "test.jsonl", [
        {"id": "case-1", "images": ["img/a.png"], "boxes": [{"label": "Nodule", "box": [10, 20, 30, 40]}]},
        {"id": "case-2", "images": ["img/a.png"], "report": "FINDINGS: Clear lungs."},
        {"images": ["img/a.png"], "question": "Which organ?", "answer": "Liver"},
        {"images": ["img/a.png"], "question": "Is there a nodule?", "answer": "yes"},
        {"images": ["img/a.png"], "question": "Which modality?", "options": ["CT", "MRI"], "answer": "MRI"},
        {"images": ["img/a.png"], "question": "Which modality?", "options": ["CT", "MRI"], "answer": "A"},
        {"images": ["img/a.png"], "question": "Which modality?", "options": ["CT", "MRI"], "answer": "PET"},
        "{broken",
        "[1, 2]",
        "",
        {"images": ["img/missing.png"], "question": "Is it there?", "answer": "no"},
        {"images": ["img/a.png"]},
        {"images": ["img/a.png"], "boxes": [{"label": "Nodule", "box": [1, 2, 3]}]},
        {"question": "Define atelectasis.", "answer": "Lung collapse"},
    ])  # fmt: skip
    samples, problems = load("generic", tmp_path)
    assert [(s.id, s.kind, s.reference, s.options) for s in samples] == [
        ("generic-case-1", "grounding", [{"label": "Nodule", "box": [10, 20, 30, 40]}], None),
        ("generic-case-2", "report", "FINDINGS: Clear lungs.", None),
        ("generic-3", "open", "Liver", None),
        ("generic-4", "closed", "yes", None),
        ("generic-5", "multiple_choice", "B", ["CT", "MRI"]),
        ("generic-6", "multiple_choice", "A", ["CT", "MRI"]),
        ("generic-14", "open", "Lung collapse", None),
    ]
    assert (samples[0].image_size, samples[0].prompt, samples[1].prompt) == (list(SIZE), evaluation_prompt("grounding"), evaluation_prompt("report"))
    assert samples[-1].images == [] and samples[0].images == [str(root / "img" / "a.png")]
    assert problems == [("test.jsonl:7", "answer is not an option"), ("test.jsonl:8", "invalid JSON"), ("test.jsonl:9", "invalid JSON"),
                        ("test.jsonl:11 (img/missing.png)", "image not found or unreadable"), ("test.jsonl:12", needs),
                        ("test.jsonl:13", 'boxes must be [{"label", "box": [x1, y1, x2, y2]}]')]  # fmt: skip


def test_phantom(tmp_path):
    from medmo.tiny import build_processor
    from medmo.training.data.phantom import write_phantom_dataset

    root = tmp_path / "phantom"
    write_phantom_dataset(root, build_processor(min_pixels=32 * 32, max_pixels=128 * 128), train=0, heldout=4, size=64)
    records = [json.loads(line) for line in (root / "heldout.jsonl").read_text().splitlines()]
    assert any(record["boxes"] for record in records)
    (root / "images" / "phantom-heldout-00001.png").unlink()
    with open(root / "heldout.jsonl", "a") as file:
        file.write("{broken\n")
    samples, problems = load("phantom", tmp_path)
    assert len(samples) == 3 * 6 and problems == [("heldout.jsonl:2 (phantom-heldout-00001.png)", "image not found or unreadable"), ("heldout.jsonl:5", "malformed record")]
    for record, group in zip([records[0], records[2], records[3]], [samples[i : i + 6] for i in range(0, 18, 6)]):
        boxes, report, *questions = group
        assert (boxes.id, boxes.kind, boxes.reference, boxes.image_size) == (f"{record['id']}-boxes", "grounding", record["boxes"], [64, 64])
        assert (report.kind, report.reference, report.images) == ("report", record["report"], [str(root / record["images"][0])])
        assert [(q.prompt, q.reference) for q in questions] == [tuple(pair) for pair in record["questions"]]
        assert [q.kind for q in questions] == ["closed", "closed", "open", "open"]


# --------------------------------------------------------------------------- loading


def test_limit_counts_samples_and_keeps_the_problems_before_them(tmp_path):
    root = tmp_path / "vqa_rad"
    picture(root / "VQA_RAD Image Folder" / "synpic1.jpg")
    records = [vqa_rad_record(0, "test_freeform", "gone.jpg", "Q0?", "yes", "CLOSED")] + [
        vqa_rad_record(i, "test_freeform", "synpic1.jpg", f"Q{i}?", "yes", "CLOSED") for i in range(1, 4)]  # fmt: skip
    (root / "VQA_RAD Dataset Public.json").write_text(json.dumps(records))
    assert [type(item).__name__ for item in load_task("vqa_rad", tmp_path, limit=2)] == ["Problem", "Sample", "Sample"]
    assert [type(item).__name__ for item in load_task("vqa_rad", tmp_path, limit=0)] == ["Problem"]
    assert len(load("vqa_rad", tmp_path)[0]) == 3


def test_unknown_task_names_the_tasks(tmp_path):
    with pytest.raises(ValueError, match=r"Unknown task 'vqa_radd'; tasks: mmmu_med, vqa_rad, "):
        list(load_task("vqa_radd", tmp_path))


@pytest.mark.parametrize("name", list(TASKS))
def test_missing_folder_names_the_expected_folder(tmp_path, name):
    expected = tmp_path / TASKS[name].folder
    with pytest.raises(FileNotFoundError, match=f"{name}: expected the benchmark's files under {expected}"):
        list(load_task(name, tmp_path))


def _fixture_data_dir(name: str, tmp_path: Path) -> Path:
    """The data folder an adapter test left a readable fixture of `name` in."""
    for folder in sorted(p for p in tmp_path.rglob(TASKS[name].folder) if p.is_dir()):
        try:
            if any(isinstance(item, Sample) for item in load_task(name, folder.parent)):
                return folder.parent
        except FileNotFoundError:  # a variant the test writes to check the missing-file error
            continue
    raise AssertionError(f"the {name} test left no readable fixture")


@pytest.mark.parametrize("name", list(TASKS))
def test_medmo_eval_runs_on_every_fixture(name, tmp_path, tiny_dir):
    from medmo.cli import main as cli

    (tmp_path / "fixture").mkdir()
    getattr(sys.modules[__name__], f"test_{name}")(tmp_path / "fixture")
    data_dir, out = _fixture_data_dir(name, tmp_path / "fixture"), tmp_path / "out"
    assert cli(["eval", "--model", str(tiny_dir), "--tasks", name, "--data-dir", str(data_dir), "--out", str(out),
                "--limit", "3", "--max-new-tokens", "4", "--resamples", "0"]) == 0  # fmt: skip
    task = json.loads((out / "results.json").read_text())["tasks"][name]
    assert task["scored"] == task["samples"] > 0
    kinds = {json.loads(line)["kind"] for line in (out / "predictions.jsonl").read_text().splitlines()}
    families = {"answers" if kind in ("closed", "open", "multiple_choice") else kind for kind in kinds}
    assert set(task["metrics"]) == families
    assert (out / "results.md").read_text().startswith(f"# Evaluation of `{tiny_dir}`")
