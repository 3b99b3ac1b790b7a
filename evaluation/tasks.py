# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Benchmark adapters: each reads one benchmark's published layout from a local copy into `Sample`s.

An adapter is `adapter(root: Path) -> Iterator[Sample | Problem]`: a `Problem` is a record of the
evaluated split that could not be read (a missing file, a malformed line), reported with its
location (file and line or index) and counted, so a run never scores fewer samples than it read
without saying so. `TASKS` maps task names (`medmo eval --tasks ...`) to adapters and the directory
they expect under `--data-dir`; `load_task` applies the sample limit. References stay in the
benchmark's own terms: answers as text or option letters, boxes in original-image pixels.
"""

import ast
import csv
import io
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from medmo.clinical.answers import answer_type
from medmo.clinical.iu_xray import read_reports, split_of
from medmo.clinical.prompts import LETTERS, evaluation_prompt, format_question
from medmo.clinical.reports import FRONTAL_VIEWS, report_sections, report_target
from medmo.training.data.converters.base import open_text


KINDS = ("closed", "open", "multiple_choice", "report", "grounding")


@dataclass
class Sample:
    id: str
    task: str
    kind: str  # one of KINDS
    prompt: str  # the user text, options already lettered
    reference: object  # answer text, option letter, report text, or [{"label", "box"}] in original pixels
    images: list[str] = field(default_factory=list)
    options: list[str] | None = None
    image_size: list[int] | None = None  # original (width, height) of the first image, for grounding
    meta: dict = field(default_factory=dict)


@dataclass
class Problem:
    location: str
    reason: str


def _size(path: Path):
    """(width, height) of an image file (PNG/JPEG or DICOM, NIfTI, 16-bit TIFF), None if unreadable."""
    try:
        with Image.open(path) as image:
            return list(image.size)
    except (OSError, ValueError):
        pass
    from medmo.medical_images import load_image

    try:
        return list(load_image(path).size)
    except (OSError, ValueError, ImportError):
        return None


def _image_problem(path: Path, where: str) -> Problem | None:
    return None if _size(path) else Problem(where, f"image not found or unreadable: {path.name}")


def _find(root: Path, *names: str) -> Path:
    """The first of `names` under `root`; a missing benchmark file stops the run rather than reading as zero samples."""
    for name in names:
        if (root / name).exists():
            return root / name
    raise FileNotFoundError(f"none of {', '.join(names)} under {root}")


def _numbered(reader):
    """(line, row) for each row of a csv reader: the line the row starts on, since a quoted field can span lines."""
    if isinstance(reader, csv.DictReader) and reader.fieldnames is None:  # reads the header line; None: empty file
        return
    start = reader.line_num + 1
    for row in reader:
        yield start, row
        start = reader.line_num + 1


def _lines(path: Path):
    """(line number, text) of the non-blank lines of a JSONL file."""
    with open(path, encoding="utf-8") as file:
        for number, line in enumerate(file, start=1):
            if line.strip():
                yield number, line


def _question(task, sample_id, images, question, answer, options=None, meta=None) -> Sample:
    """A VQA or text-QA sample; the kind follows the answer (yes/no -> closed) and the options,
    as the GRPO answer reward decides it."""
    kind = answer_type(answer, options)
    reference = answer if kind == "multiple_choice" else str(answer).strip()
    return Sample(sample_id, task, kind, format_question(question, options), reference, [str(i) for i in images], options, meta=meta or {})


def _open_question(task: str, sample_id: str, where: str, image: Path, record: dict):
    """A JSON VQA record (`question`, `answer`) on one image file as a sample, or the Problem that stops it."""
    if not record.get("question") or record.get("answer") is None:
        return Problem(where, "missing question or answer")
    return _image_problem(image, where) or _question(task, sample_id, [image], record["question"], str(record["answer"]))


def _saved_image(cache: Path, name: str, data: bytes) -> Path:
    """Images shipped inside parquet files are written once to a cache folder beside the data."""
    path = cache / f"{name}.png"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.open(io.BytesIO(data)).convert("RGB").save(path)
    return path


# --------------------------------------------------------------------------- VQA


def vqa_rad(root: Path):
    """VQA-RAD (OSF): `VQA_RAD Dataset Public.json` (records with `qid`, `image_name`, `question`,
    `answer`, `answer_type`, `phrase_type`); test = phrase types `test_freeform` / `test_para`;
    images in `VQA_RAD Image Folder/`."""
    path = root / "VQA_RAD Dataset Public.json"
    for index, record in enumerate(json.loads(path.read_text(encoding="utf-8"))):
        if not str(record.get("phrase_type", "")).startswith("test"):
            continue
        image = root / "VQA_RAD Image Folder" / str(record.get("image_name", ""))
        yield _open_question("vqa_rad", f"vqa_rad-{record.get('qid', index)}", f"{path.name}[{index}]", image, record)


def slake(root: Path):
    """SLAKE: `test.json` (records with `img_name`, `question`, `answer`, `q_lang` en/zh, `qid`,
    `answer_type`); the English questions are evaluated; images under `imgs/`."""
    path = root / "test.json"
    for index, record in enumerate(json.loads(path.read_text(encoding="utf-8"))):
        if record.get("q_lang", "en") != "en":
            continue
        image = root / "imgs" / str(record.get("img_name", ""))
        yield _open_question("slake", f"slake-{record.get('qid', index)}", f"{path.name}[{index}]", image, record)


def pathvqa(root: Path):
    """PathVQA (Hub parquet): `data/test-*.parquet` with `image` {bytes, path}, `question`, `answer`;
    the test split comes in several shards, so sample ids carry the shard name."""
    import pyarrow.parquet as parquet

    files = sorted((root / "data").glob("test*.parquet"))
    if not files:
        raise FileNotFoundError(f"no test*.parquet under {root / 'data'}")
    for path in files:
        number = 0
        for batch in parquet.ParquetFile(path).iter_batches(batch_size=256):
            for record in batch.to_pylist():
                where = f"{path.name}[{number}]"
                name = f"{path.stem}-{number:06d}"
                number += 1
                if not record.get("question") or record.get("answer") is None:
                    yield Problem(where, "missing question or answer")
                    continue
                try:
                    image = _saved_image(root / ".medmo-cache", name, record["image"]["bytes"])
                except (OSError, TypeError, KeyError):
                    yield Problem(where, "unreadable image")
                    continue
                yield _question("pathvqa", f"pathvqa-{name}", [image], record["question"], str(record["answer"]))


_CHOICE_PREFIX = re.compile(r"^\s*[A-D]\s*:\s*")


def pmc_vqa(root: Path):
    """PMC-VQA: the manually verified `test_clean.csv` (what MedMO's evaluation reads; version 1,
    images in `images/`), else `test_2.csv` with images in `figures/` (version 2, `images_2.zip`),
    else `test.csv` (version 1). Columns `Figure_path`, `Question`, `Choice A`..`Choice D` (each
    like "A:text"), and the answer letter in `Answer_label` (version 1) or `Answer` (version 2)."""
    path = _find(root, "test_clean.csv", "test_2.csv", "test.csv")
    folder = root / ("figures" if path.name == "test_2.csv" else "images")
    with open(path, encoding="utf-8") as file:
        for line, record in _numbered(csv.DictReader(file)):
            where = f"{path.name}:{line}"
            options = [_CHOICE_PREFIX.sub("", str(record.get(f"Choice {letter}") or "")).strip() for letter in "ABCD"]
            label = str(record.get("Answer_label") or record.get("Answer") or "").strip().upper()
            image = folder / str(record.get("Figure_path", ""))
            if not record.get("Question") or label not in ("A", "B", "C", "D") or not all(options):
                yield Problem(where, "missing question, options or answer label")
            elif problem := _image_problem(image, where):
                yield problem
            else:
                yield _question("pmc_vqa", f"pmc_vqa-{line}", [image], record["Question"], label, options)


def omnimedvqa(root: Path):
    """OmniMedVQA (open-access part): `QA_information/Open-access/*.json`, lists of records with
    `question_id`, `question`, `gt_answer` (an option's text), `option_A`..`option_D` (C and D may be
    absent), `image_path` (relative to the root, e.g. `Images/<dataset>/...`), `modality_type`."""
    files = sorted((root / "QA_information" / "Open-access").glob("*.json"))
    if not files:
        raise FileNotFoundError(f"no JSON files under {root / 'QA_information' / 'Open-access'}")
    for path in files:
        for index, record in enumerate(json.loads(path.read_text(encoding="utf-8"))):
            where = f"{path.name}[{index}]"
            options = [str(record[f"option_{l}"]) for l in "ABCD" if record.get(f"option_{l}") not in (None, "")]
            answer = str(record.get("gt_answer", ""))
            if answer not in options or not record.get("question"):
                yield Problem(where, "missing question, or the answer is not among the options")
                continue
            image = root / str(record.get("image_path", ""))
            if problem := _image_problem(image, where):
                yield problem
                continue
            # One file of the release names the field `modality` instead of `modality_type`.
            meta = {"modality": record.get("modality_type", record.get("modality"))}
            yield _question("omnimedvqa", f"omnimedvqa-{record.get('question_id', index)}", [image], record["question"],
                            LETTERS[options.index(answer)], options, meta)  # fmt: skip


MMMU_MEDICAL = ("Basic_Medical_Science", "Clinical_Medicine", "Diagnostics_and_Laboratory_Medicine", "Pharmacy", "Public_Health")


def _mmmu_text(text: str) -> str:
    """`<image k>` markers in MMMU questions and options become words naming the image, in order."""
    for k in range(1, 8):
        text = text.replace(f"<image {k}>", "the image" if k == 1 else f"image {k}")
    return text


def mmmu_med(root: Path):
    """MMMU's medical subjects: `<Subject>/validation-*.parquet` with `id`, `question`, `options`
    (a Python-literal list, empty for open questions), `answer` (a letter for multiple choice),
    `image_1`..`image_7` {bytes, path}, `question_type`."""
    import pyarrow.parquet as parquet

    for subject in MMMU_MEDICAL:
        files = sorted((root / subject).glob("validation*.parquet"))
        if not files:
            yield Problem(subject, "subject files missing")
        for path in files:
            for index, record in enumerate(parquet.read_table(path).to_pylist()):
                where, name = f"{subject}/{path.name}[{index}]", record.get("id") or f"{subject}-{index}"
                try:
                    options = [_mmmu_text(str(option)) for option in ast.literal_eval(record.get("options") or "[]")]
                    images = [_saved_image(root / ".medmo-cache", f"{name}-{k}", record[f"image_{k}"]["bytes"])
                              for k in range(1, 8) if record.get(f"image_{k}")]  # fmt: skip
                except (ValueError, SyntaxError, OSError, TypeError, KeyError):
                    yield Problem(where, "malformed options or image")
                    continue
                answer = str(record.get("answer", "")).strip()
                if options and answer not in list(LETTERS[: len(options)]):
                    yield Problem(where, "answer is not an option")
                    continue
                yield _question("mmmu_med", f"mmmu-{name}", images, _mmmu_text(record["question"]), answer,
                                options or None, {"subject": subject})  # fmt: skip


def _choice_records(task: str, path: Path, root: Path, with_images: bool):
    """MedXpertQA JSONL: `id`, `question` (ending in "Answer Choices: (A) ..."), `options`
    {letter: text}, `label` (a letter), `images` (file names in `images/`, MM only)."""
    for number, line in _lines(path):
        where = f"{path.parent.name}/{path.name}:{number}"
        try:
            record = json.loads(line)
            letters = sorted(record["options"])
            options = [str(record["options"][letter]) for letter in letters]
            answer = LETTERS[letters.index(str(record["label"]).strip())]
            # The question text already lists the choices; they are lettered again from `options`.
            question = re.split(r"\s*Answer Choices:", record["question"])[0]
        except (json.JSONDecodeError, KeyError, ValueError, TypeError, AttributeError):
            yield Problem(where, "malformed record")
            continue
        images = [root / "images" / name for name in record.get("images") or []] if with_images else []
        missing = next((p for image in images if (p := _image_problem(image, where))), None)
        if missing:
            yield missing
            continue
        yield _question(task, f"{task}-{record.get('id', number)}", images, question, answer, options)


def medxpertqa_mm(root: Path):
    """MedXpertQA multimodal: `MM/test.jsonl` (images under `images/`, from `images.zip`)."""
    yield from _choice_records("medxpertqa_mm", root / "MM" / "test.jsonl", root, with_images=True)


def medxpertqa_text(root: Path):
    """MedXpertQA text: `Text/test.jsonl` (ten options)."""
    yield from _choice_records("medxpertqa_text", root / "Text" / "test.jsonl", root, with_images=False)


# --------------------------------------------------------------------------- text QA


def medqa(root: Path):
    """MedQA (USMLE, 4 or 5 options): `US/test.jsonl` (or `test.jsonl`), records with `question`,
    `answer`, `options` {letter: text}, `answer_idx` (the letter), `meta_info`."""
    path = _find(root, "US/test.jsonl", "test.jsonl")
    for number, line in _lines(path):
        try:
            record = json.loads(line)
            letters = sorted(record["options"])
            options = [str(record["options"][letter]) for letter in letters]
            answer, question = LETTERS[letters.index(str(record["answer_idx"]).strip().upper())], record["question"]
        except (json.JSONDecodeError, KeyError, ValueError, TypeError, AttributeError):
            yield Problem(f"{path.name}:{number}", "malformed record")
            continue
        yield _question("medqa", f"medqa-{number}", [], question, answer, options)


def medmcqa(root: Path):
    """MedMCQA: `dev.json` (the test answers are withheld), one object per line with `id`,
    `question`, `opa`..`opd` and `cop`, the correct option 1-4 (the official release; the Hub copy
    shifted it to 0-3, which this adapter does not read)."""
    for number, line in _lines(root / "dev.json"):
        try:
            record = json.loads(line)
            options = [str(record[key]) for key in ("opa", "opb", "opc", "opd")]
            correct, question = int(record["cop"]), record["question"]
        except (json.JSONDecodeError, KeyError, ValueError, TypeError):
            yield Problem(f"dev.json:{number}", "malformed record")
            continue
        if not 1 <= correct <= 4:
            yield Problem(f"dev.json:{number}", "cop is not 1-4")
            continue
        yield _question("medmcqa", f"medmcqa-{record.get('id', number)}", [], question, LETTERS[correct - 1], options)


def pubmedqa(root: Path):
    """PubMedQA (PQA-L): the 500 pmids of `test_ground_truth.json` ({pmid: yes/no/maybe}) looked up
    in `ori_pqal.json` ({pmid: {QUESTION, CONTEXTS, ...}}); the answer is yes / no / maybe."""
    records = json.loads((root / "ori_pqal.json").read_text(encoding="utf-8"))
    for pmid, decision in json.loads((root / "test_ground_truth.json").read_text(encoding="utf-8")).items():
        record = records.get(pmid)
        if not isinstance(record, dict) or not record.get("QUESTION"):
            yield Problem(f"ori_pqal.json[{pmid}]", "pmid of the test list is missing")
            continue
        if str(decision).lower() not in ("yes", "no", "maybe"):
            yield Problem(f"test_ground_truth.json[{pmid}]", "decision is not yes / no / maybe")
            continue
        context = " ".join(record.get("CONTEXTS") or [])
        question = f"Context: {context}\nQuestion: {record['QUESTION']}\nAnswer yes, no or maybe."
        yield Sample(f"pubmedqa-{pmid}", "pubmedqa", "open", question, str(decision).lower())


MMLU_MEDICAL = ("anatomy", "clinical_knowledge", "college_biology", "college_medicine", "medical_genetics", "professional_medicine")


def mmlu_med(root: Path):
    """MMLU's medical subjects (MultiMedQA's six): `test/<subject>_test.csv`, no header: question, A, B, C, D, answer."""
    for subject in MMLU_MEDICAL:
        path = root / "test" / f"{subject}_test.csv"
        if not path.exists():
            yield Problem(str(path.relative_to(root)), "subject file missing")
            continue
        with open(path, encoding="utf-8") as file:
            for line, row in _numbered(csv.reader(file)):
                if len(row) != 6 or row[5].strip() not in ("A", "B", "C", "D"):
                    yield Problem(f"{path.name}:{line}", "malformed row")
                    continue
                yield _question("mmlu_med", f"mmlu-{subject}-{line}", [], row[0], row[5].strip(), row[1:5], {"subject": subject})


def _medbullets(variant: str, root: Path):
    """Medbullets `medbullets_<variant>.csv` (`link, question, opa..opd(, ope), answer_idx, answer,
    explanation`, `answer_idx` a letter). The 4- and 5-option files hold the same 308 questions, so
    they are two tasks (as MedEvalKit reports them), never pooled."""
    path = _find(root, f"medbullets_{variant}.csv")
    with open(path, encoding="utf-8") as file:
        for line, record in _numbered(csv.DictReader(file)):
            options = [record[key] for key in ("opa", "opb", "opc", "opd", "ope") if record.get(key)]
            answer = str(record.get("answer_idx") or "").strip().upper()
            if not record.get("question") or answer not in list(LETTERS[: len(options)]):
                yield Problem(f"{path.name}:{line}", "answer is not an option")
                continue
            yield _question(f"medbullets_{variant}", f"medbullets_{variant}-{line}", [], record["question"], answer, options)


def medbullets_op4(root: Path):
    """Medbullets, 4 options: `medbullets_op4.csv`."""
    yield from _medbullets("op4", root)


def medbullets_op5(root: Path):
    """Medbullets, 5 options: `medbullets_op5.csv`."""
    yield from _medbullets("op5", root)


def sgpqa(root: Path):
    """SuperGPQA's medical questions: `SuperGPQA-all.jsonl` rows with `discipline == "Medicine"`,
    `uuid`, `question`, `options` (a list of up to ten), `answer_letter`."""
    path = root / "SuperGPQA-all.jsonl"
    for number, line in _lines(path):
        where = f"{path.name}:{number}"
        try:
            record = json.loads(line)
            discipline = record.get("discipline")
        except (json.JSONDecodeError, AttributeError):
            yield Problem(where, "invalid JSON")
            continue
        if discipline != "Medicine":
            continue
        options, answer = record.get("options"), str(record.get("answer_letter", "")).strip()
        if not record.get("question") or not isinstance(options, list) or answer not in list(LETTERS[: len(options)]):
            yield Problem(where, "missing question, options or answer letter")
            continue
        yield _question("sgpqa", f"sgpqa-{record.get('uuid', number)}", [], record["question"], answer, [str(o) for o in options])


# --------------------------------------------------------------------------- reports


def _report(task, sample_id, images: list[Path], report: str) -> Sample:
    return Sample(sample_id, task, "report", evaluation_prompt("report"), report, [str(i) for i in images])


def mimic_cxr(root: Path):
    """MIMIC-CXR test split: `mimic-cxr-2.0.0-split.csv(.gz)` (`dicom_id, study_id, subject_id,
    split`), `mimic-cxr-2.0.0-metadata.csv(.gz)` (`ViewPosition`), reports
    `files/p<NN>/p<subject>/s<study>.txt` and JPGs `files/p<NN>/p<subject>/s<study>/<dicom_id>.jpg`.
    One sample per test study, from its PA (else AP) image."""
    with open_text(_find(root, "mimic-cxr-2.0.0-metadata.csv", "mimic-cxr-2.0.0-metadata.csv.gz")) as file:
        views = {row["dicom_id"]: row.get("ViewPosition", "") for row in csv.DictReader(file)}
    studies = defaultdict(list)
    with open_text(_find(root, "mimic-cxr-2.0.0-split.csv", "mimic-cxr-2.0.0-split.csv.gz")) as file:
        for row in csv.DictReader(file):
            if row["split"] == "test":
                studies[(row["subject_id"], row["study_id"])].append(row["dicom_id"])
    for (subject, study), dicoms in studies.items():
        folder = root / "files" / f"p{subject[:2]}" / f"p{subject}"
        frontal = sorted((d for d in dicoms if views.get(d) in FRONTAL_VIEWS), key=lambda d: FRONTAL_VIEWS.index(views[d]))
        report_path = folder / f"s{study}.txt"
        where = str(report_path.relative_to(root))
        target = report_target(report_sections(report_path.read_text(encoding="utf-8", errors="replace"))) if report_path.exists() else None
        if not frontal or target is None:
            yield Problem(where, "no frontal image" if not frontal else "no report FINDINGS / IMPRESSION")
            continue
        image = folder / f"s{study}" / f"{frontal[0]}.jpg"
        yield _image_problem(image, str(image.relative_to(root))) or _report("mimic_cxr", f"mimic_cxr-s{study}", [image], target)


def iu_xray(root: Path):
    """IU X-Ray (Open-i): XML reports (`ecgen-radiology/*.xml` or `NLMCXR_reports.tgz`) and
    `images/<parentImage id>.png`; the test split is the same 10% hash split the converter writes
    (IU X-Ray has no official split)."""
    source = _find(root, "ecgen-radiology", "NLMCXR_reports.tgz")
    for report in read_reports(source):
        if split_of(report["id"]) != "test":
            continue
        target = report_target({"FINDINGS": report["findings"], "IMPRESSION": report["impression"]})
        image = next((root / "images" / f"{i}.png" for i in report["images"] if _size(root / "images" / f"{i}.png")), None)
        if target is None or image is None:
            yield Problem(f"{source.name}/{report['id']}", "no report sections" if target is None else "image not found")
            continue
        yield _report("iu_xray", f"iu_xray-{report['id']}", [image], target)


def _chexpert_image(root: Path, relative: str) -> Path:
    """The CSV names the original JPG (`train/patient.../view1_frontal.jpg`); the PNG release holds
    the same path with a .png suffix under `PNG/`."""
    candidates = (root / relative, root / "PNG" / Path(relative).with_suffix(".png"))
    return next((path for path in candidates if path.exists()), candidates[0])


def chexpert_plus(root: Path):
    """CheXpert Plus: `df_chexpert_plus_240401.csv` with `path_to_image`, `frontal_lateral`,
    `section_findings`, `section_impression`, `split` (`valid` rows are evaluated: the test split is
    private). Rows are images and repeat their study's report, so each study (the image's folder)
    is one sample, on its first frontal image (else its first image)."""
    path = root / "df_chexpert_plus_240401.csv"
    studies: dict[str, tuple[int, dict]] = {}
    with open(path, encoding="utf-8") as file:
        for line, record in _numbered(csv.DictReader(file)):
            if record.get("split") != "valid":
                continue
            study = str(Path(str(record.get("path_to_image") or "")).parent)
            kept = studies.get(study)
            if kept is None or (kept[1].get("frontal_lateral") != "Frontal" and record.get("frontal_lateral") == "Frontal"):
                studies[study] = (line, record)
    for line, record in studies.values():
        where = f"{path.name}:{line}"
        target = report_target({"FINDINGS": " ".join(str(record.get("section_findings") or "").split()),
                                "IMPRESSION": " ".join(str(record.get("section_impression") or "").split())})  # fmt: skip
        image = _chexpert_image(root, str(record.get("path_to_image") or ""))
        if target is None:
            yield Problem(where, "no report sections")
        else:
            yield _image_problem(image, where) or _report("chexpert_plus", f"chexpert_plus-{line}", [image], target)


# --------------------------------------------------------------------------- grounding


def _grounding(task, sample_id, images: list[Path], boxes: list[dict], size, prompt: str | None = None) -> Sample:
    """Boxes in pixels of the first image, whose original size is `size`."""
    return Sample(sample_id, task, "grounding", prompt or evaluation_prompt("grounding"), boxes, [str(i) for i in images], image_size=list(size))


def nih_chestxray14(root: Path):
    """NIH ChestX-ray14 boxes: `BBox_List_2017.csv(.gz)` (header `Image Index,Finding Label,Bbox
    [x,y,w,h],,,`; x, y, w, h in the 1024x1024 image's pixels), images anywhere under `images/`.
    One sample per boxed image (880), all its boxes as [x1, y1, x2, y2]."""
    path = _find(root, "BBox_List_2017.csv", "BBox_List_2017.csv.gz")
    images = {p.name: p for p in (root / "images").rglob("*.png")}
    grouped = defaultdict(list)
    with open_text(path) as file:
        reader = csv.reader(file)
        next(reader, None)
        for line, row in _numbered(reader):
            if row:  # a blank line holds no box
                grouped[row[0]].append((line, row))
    for name, rows in grouped.items():
        where = f"{path.name}:{rows[0][0]}"
        try:
            boxes = [{"label": row[1], "box": [float(row[2]), float(row[3]), float(row[2]) + float(row[4]), float(row[3]) + float(row[5])]} for _, row in rows]
        except (ValueError, IndexError):
            yield Problem(where, "malformed box row")
            continue
        size = _size(images[name]) if name in images else None
        if size is None:
            yield Problem(where, f"image not found: {name}")
            continue
        yield _grounding("nih_chestxray14", f"nih-{Path(name).stem}", [images[name]], boxes, size)


def _box(text: str) -> list[float]:
    box = [float(v) for v in text.split(",")]
    if len(box) != 4:
        raise ValueError(f"a box has 4 coordinates, not {len(box)}")
    return box


def deeplesion(root: Path):
    """DeepLesion test split (`Train_Val_Test == 3`) of `DL_info.csv` (`File_name` like
    `000001_01_01_010.png`, `Bounding_boxes` "x1, y1, x2, y2" in the slice's pixels,
    `DICOM_windows` "low, high"); key slices `Images_png/<series>/<slice>.png` are 16-bit with a
    +32768 offset and are windowed once into a cache. One sample per slice, all its lesions."""
    import numpy as np

    from medmo.medical_images import apply_window

    slices = defaultdict(list)
    with open(root / "DL_info.csv", encoding="utf-8") as file:
        for line, row in _numbered(csv.DictReader(file)):
            if row.get("Train_Val_Test", "").strip() == "3":
                slices[row["File_name"]].append((line, row))
    for file_name, rows in slices.items():
        where = f"DL_info.csv:{rows[0][0]}"
        try:
            boxes = [{"label": "Lesion", "box": _box(row["Bounding_boxes"])} for _, row in rows]
            folder, slice_name = file_name.rsplit("_", 1)
            cached = root / ".medmo-cache" / file_name
            if not cached.exists():
                hounsfield = np.asarray(Image.open(root / "Images_png" / folder / slice_name), dtype=np.int32) - 32768
                low, high = (float(v) for v in rows[0][1]["DICOM_windows"].split(","))
                cached.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(apply_window(hounsfield, (low + high) / 2, high - low)).convert("RGB").save(cached)
        except (KeyError, ValueError):
            yield Problem(where, "malformed row")
            continue
        except OSError:
            yield Problem(where, "slice image not found")
            continue
        yield _grounding("deeplesion", f"deeplesion-{Path(file_name).stem}", [cached], boxes, _size(cached))


def _yolo_box(line: str, size, names: dict) -> dict:
    """A `class cx cy w h` label line (normalised to 0-1) as a box in pixels; a segment line (a
    polygon, more values) is not a box."""
    values = line.split()
    if len(values) != 5:
        raise ValueError(f"a box line has 5 values, not {len(values)}")
    klass, (cx, cy, w, h) = int(values[0]), (float(v) for v in values[1:])
    box = [(cx - w / 2) * size[0], (cy - h / 2) * size[1], (cx + w / 2) * size[0], (cy + h / 2) * size[1]]
    return {"label": str(names.get(klass, klass)), "box": box}


def yolo_detection(root: Path):
    """A YOLO-format set's test (else val / valid) split: `images/<split>/*`, `labels/<split>/<stem>.txt`
    (no file: no boxes), class names from `data.yaml` (`names`, a list or {id: name})."""
    import yaml

    names = yaml.safe_load((root / "data.yaml").read_text())["names"] if (root / "data.yaml").exists() else []
    names = dict(names.items()) if isinstance(names, dict) else dict(enumerate(names))
    split = next((s for s in ("test", "val", "valid") if (root / "images" / s).is_dir()), None)
    if split is None:
        raise FileNotFoundError(f"no test / val / valid folder under {root / 'images'}")
    for image in sorted(p for p in (root / "images" / split).iterdir() if p.is_file()):
        size = _size(image)
        label_path = root / "labels" / split / f"{image.stem}.txt"
        if size is None:
            yield Problem(f"images/{split}/{image.name}", "unreadable image")
            continue
        boxes, bad_line = [], None
        for number, line in enumerate(label_path.read_text().splitlines() if label_path.exists() else [], start=1):
            try:
                if line.strip():
                    boxes.append(_yolo_box(line, size, names))
            except ValueError:
                bad_line = f"labels/{split}/{label_path.name}:{number}"
                break
        if bad_line:
            yield Problem(bad_line, "malformed label line")
            continue
        yield _grounding("yolo_detection", f"yolo-{image.stem}", [image], boxes, size, evaluation_prompt("microscopy"))


# --------------------------------------------------------------------------- your data, and the phantom


def _is_boxes(boxes) -> bool:
    return isinstance(boxes, list) and all(isinstance(b, dict) and isinstance(b.get("box"), list) and len(b["box"]) == 4 for b in boxes)


def _option_letter(answer, options: list) -> str | None:
    """The letter of `answer`, given as an option's letter or as its text; None if it is neither."""
    texts, letters, answer = [str(o) for o in options], list(LETTERS[: len(options)]), str(answer).strip()
    return answer if answer in letters else (letters[texts.index(answer)] if answer in texts else None)


def _generic_records(task: str, root: Path):
    """Samples of `task` from a `test.jsonl` in the generic layout (see `generic`)."""
    path = root / "test.jsonl" if root.is_dir() else root
    for number, line in _lines(path):
        where = f"{path.name}:{number}"
        try:
            record = json.loads(line)
            images = [path.parent / p for p in record.get("images") or []]
        except (json.JSONDecodeError, AttributeError, TypeError):
            yield Problem(where, "invalid JSON")
            continue
        sample_id, options, answer = f"{task}-{record.get('id', number)}", record.get("options"), record.get("answer")
        missing = next((p for image in images if (p := _image_problem(image, where))), None)
        if missing:
            yield missing
        elif record.get("boxes") is not None and images:
            if _is_boxes(record["boxes"]):
                yield _grounding(task, sample_id, images, record["boxes"], _size(images[0]), record.get("question"))
            else:
                yield Problem(where, "boxes must be [{\"label\", \"box\": [x1, y1, x2, y2]}]")
        elif record.get("report") and images:
            yield _report(task, sample_id, images, record["report"])
        elif record.get("question") and answer is not None and not options:
            yield _question(task, sample_id, images, record["question"], str(answer))
        elif record.get("question") and isinstance(options, list) and (letter := _option_letter(answer, options)):
            yield _question(task, sample_id, images, record["question"], letter, [str(o) for o in options])
        else:
            yield Problem(where, "needs question + answer (an option's letter or text), report, or boxes")


def generic(root: Path):
    """Your own benchmark: `test.jsonl` rows with `images` (paths relative to the file) and one of
    `question` + `answer` (+ optional `options`: the answer is an option's letter or text), `report`,
    or `boxes` ([{"label", "box": [x1, y1, x2, y2]}] in the first image's original pixels; an optional
    `question` replaces the default grounding prompt). Every image is shown to the model."""
    yield from _generic_records("generic", root)


def medsg(root: Path):
    """MedSG-Bench in the generic JSONL layout (`test.jsonl` with `images` and `boxes`): its raw
    format is not documented in the sources the data card read; export it to this layout."""
    yield from _generic_records("medsg", root)


def phantom(root: Path):
    """The phantom held-out split (`heldout.jsonl` written by `medmo data phantom`): per image one
    grounding sample, one report sample and its four questions."""
    path = root / "heldout.jsonl"
    for number, line in _lines(path):
        where = f"{path.name}:{number}"
        try:
            record = json.loads(line)
            name, image = record["id"], path.parent / record["images"][0]
            boxes, size, report, questions = record["boxes"], record["image_size"], record["report"], record["questions"]
        except (json.JSONDecodeError, KeyError, IndexError, TypeError):
            yield Problem(where, "malformed record")
            continue
        if problem := _image_problem(image, where):
            yield problem
            continue
        yield _grounding("phantom", f"{name}-boxes", [image], boxes, size)
        yield _report("phantom", f"{name}-report", [image], report)
        for index, (question, answer) in enumerate(questions):
            yield _question("phantom", f"{name}-q{index}", [image], question, answer)


@dataclass(frozen=True)
class Task:
    name: str
    adapter: Callable[[Path], Iterator]
    folder: str  # under --data-dir
    family: str  # vqa | text_qa | report | grounding | mixed


# In the order of the MedMO paper's tables, so results.md columns line up with them.
TASKS: dict[str, Task] = {task.name: task for task in (
    Task("mmmu_med", mmmu_med, "mmmu", "vqa"), Task("vqa_rad", vqa_rad, "vqa_rad", "vqa"), Task("slake", slake, "slake", "vqa"),
    Task("pathvqa", pathvqa, "pathvqa", "vqa"), Task("pmc_vqa", pmc_vqa, "pmc_vqa", "vqa"),
    Task("omnimedvqa", omnimedvqa, "omnimedvqa", "vqa"), Task("medxpertqa_mm", medxpertqa_mm, "medxpertqa", "vqa"),
    Task("mmlu_med", mmlu_med, "mmlu", "text_qa"), Task("pubmedqa", pubmedqa, "pubmedqa", "text_qa"),
    Task("medmcqa", medmcqa, "medmcqa", "text_qa"), Task("medqa", medqa, "medqa", "text_qa"),
    Task("medbullets_op4", medbullets_op4, "medbullets", "text_qa"), Task("medbullets_op5", medbullets_op5, "medbullets", "text_qa"), Task("medxpertqa_text", medxpertqa_text, "medxpertqa", "text_qa"),
    Task("sgpqa", sgpqa, "supergpqa", "text_qa"),
    Task("mimic_cxr", mimic_cxr, "mimic_cxr", "report"), Task("chexpert_plus", chexpert_plus, "chexpert_plus", "report"),
    Task("iu_xray", iu_xray, "iu_xray", "report"),
    Task("nih_chestxray14", nih_chestxray14, "nih_chestxray14", "grounding"), Task("deeplesion", deeplesion, "deeplesion", "grounding"),
    Task("yolo_detection", yolo_detection, "bacteria", "grounding"), Task("medsg", medsg, "medsg", "grounding"),
    Task("generic", generic, "generic", "mixed"), Task("phantom", phantom, "phantom", "mixed"),
)}  # fmt: skip


def load_task(name: str, data_dir: str | Path, limit: int | None = None) -> Iterator[Sample | Problem]:
    """Samples (and problems) of task `name` from `<data_dir>/<task folder>`, at most `limit` samples."""
    if name not in TASKS:
        raise ValueError(f"Unknown task {name!r}; tasks: {', '.join(TASKS)}.")
    task = TASKS[name]
    root = Path(data_dir) / task.folder
    if not root.exists():
        raise FileNotFoundError(f"{name}: expected the benchmark's files under {root} (see data_cards/ for where to get them).")
    samples = 0
    for item in task.adapter(root):
        if isinstance(item, Sample):
            if limit is not None and samples >= limit:
                return
            samples += 1
        yield item


__all__ = ["KINDS", "TASKS", "Problem", "Sample", "Task", "load_task"]
