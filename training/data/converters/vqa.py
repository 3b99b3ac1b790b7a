# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Medical VQA sets: VQA-RAD, SLAKE, PathVQA (Hub parquet release), PMC-VQA. Closed questions
(yes/no) and multiple choice also become GRPO rows for the answer reward."""

import csv
import io
import json
from pathlib import Path

from medmo.clinical.prompts import format_question

from .base import Context, Reject, Row, image_size, sft_row, user


def vqa_rows(context: Context, sample_id: str, source: str, split: str, image: Path, question: str, answer: str,
             options: list[str] | None = None, answer_type: str | None = None):  # fmt: skip
    """The SFT row of one question, and a GRPO row when the answer can be checked."""
    prompt = format_question(question, options)
    kind = "multiple_choice" if options else ("closed_vqa" if answer.strip().lower() in ("yes", "no") else "open_vqa")
    images = [str(image)]
    yield Row(split, sft_row(sample_id, source, images, prompt, answer.strip()))
    if kind != "open_vqa" or answer_type == "closed":
        yield Row(split, {"id": sample_id, "source": source, "images": images, "task": kind, "prompt": user(prompt, len(images)),
                          "solution": answer.strip(), "options": options}, kind="grpo")  # fmt: skip


def _image(context: Context, folder: str, name: str, where: str):
    path = context.raw / folder / name
    return (path, None) if image_size(path) else (None, Reject("image not found", where))


def vqa_rad(context: Context):
    """VQA-RAD (OSF release): `VQA_RAD Dataset Public.json` (list of records with `image_name`,
    `question`, `answer`, `answer_type` CLOSED/OPEN, `phrase_type`; test rows have phrase types
    starting with `test`), images in `VQA_RAD Image Folder/`."""
    path = context.raw / "VQA_RAD Dataset Public.json"
    if not path.exists():
        yield Reject("VQA_RAD Dataset Public.json not found", str(context.raw))
        return
    for index, record in enumerate(json.loads(path.read_text(encoding="utf-8"))):
        where = f"{path.name}[{index}]"
        if not all(str(record.get(key, "")).strip() for key in ("image_name", "question", "answer")):
            yield Reject("missing image, question or answer", where)
            continue
        image, reject = _image(context, "VQA_RAD Image Folder", record["image_name"], where)
        if reject:
            yield reject
            continue
        split = "test" if str(record.get("phrase_type", "")).startswith("test") else "train"
        answer_type = "closed" if str(record.get("answer_type", "")).upper() == "CLOSED" else "open"
        yield from vqa_rows(context, f"vqa_rad-{record.get('qid', index)}-{index}", "vqa_rad", split, image, record["question"], str(record["answer"]), answer_type=answer_type)


def slake(context: Context):
    """SLAKE: `train.json`, `validate.json`, `test.json` (records with `img_name`, `question`,
    `answer`, `q_lang` en/zh, `answer_type`), images under `imgs/`. English questions by default
    (option `languages`)."""
    languages = set(context.options.get("languages", ["en"]))
    found = False
    for file_name, split in (("train.json", "train"), ("validate.json", "validation"), ("test.json", "test")):
        path = context.raw / file_name
        if not path.exists():
            continue
        found = True
        for index, record in enumerate(json.loads(path.read_text(encoding="utf-8"))):
            where = f"{file_name}[{index}]"
            if record.get("q_lang", "en") not in languages:
                yield Reject(f"language {record.get('q_lang')} not selected", where)
                continue
            image, reject = _image(context, "imgs", str(record.get("img_name", "")), where)
            if reject:
                yield reject
                continue
            answer_type = "closed" if str(record.get("answer_type", "")).upper() == "CLOSED" else "open"
            yield from vqa_rows(context, f"slake-{record.get('qid', index)}", "slake", split, image, record["question"], str(record["answer"]), answer_type=answer_type)
    if not found:
        yield Reject("no train.json / validate.json / test.json", str(context.raw))


def pathvqa(context: Context):
    """PathVQA as released on the Hub (`data/{train,validation,test}-*.parquet`, columns `image`
    {bytes}, `question`, `answer`). The original release's pickles are not read: unpickling runs
    code. Images are written to `<output>/images/`."""
    import pyarrow.parquet as parquet
    from PIL import Image

    files = sorted((context.raw / "data").glob("*.parquet")) if (context.raw / "data").is_dir() else sorted(context.raw.glob("*.parquet"))
    if not files:
        yield Reject("no parquet files", str(context.raw))
        return
    images_dir = Path(context.options["output_dir"]) / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    for path in files:
        split = next((s for s in ("train", "validation", "test") if path.name.startswith(s)), "train")
        number = 0
        for batch in parquet.ParquetFile(path).iter_batches(batch_size=256, columns=["image", "question", "answer"]):
            for record in batch.to_pylist():
                number += 1
                where = f"{path.name}[{number - 1}]"
                try:
                    image = Image.open(io.BytesIO(record["image"]["bytes"]))
                    target = images_dir / f"{path.stem}-{number:06d}.png"
                    image.convert("RGB").save(target)
                except (OSError, TypeError, KeyError):
                    yield Reject("unreadable image", where)
                    continue
                yield from vqa_rows(context, f"pathvqa-{target.stem}", "pathvqa", split, target, record["question"], str(record["answer"]))


def pmc_vqa(context: Context):
    """PMC-VQA: `train.csv` / `test.csv` (or `train_2.csv` / `test_2.csv`) with `Figure_path`,
    `Question`, `Choice A`..`Choice D` (each like "A: text"), `Answer_label`; images in `figures/`
    (or `images/`)."""
    found = False
    for split in ("train", "test"):
        path = next((context.raw / name for name in (f"{split}_2.csv", f"{split}.csv") if (context.raw / name).exists()), None)
        if path is None:
            continue
        found = True
        folder = "figures" if (context.raw / "figures").is_dir() else "images"
        with open(path, encoding="utf-8") as file:
            for index, record in enumerate(csv.DictReader(file), start=2):
                where = f"{path.name}:{index}"
                options = [str(record.get(f"Choice {letter}", "")).split(":", 1)[-1].strip() for letter in "ABCD"]
                label = str(record.get("Answer_label", "")).strip().upper()
                if not record.get("Question") or label not in "ABCD" or not label or not all(options):
                    yield Reject("missing question, options or answer label", where)
                    continue
                image, reject = _image(context, folder, str(record.get("Figure_path", "")), where)
                if reject:
                    yield reject
                    continue
                yield from vqa_rows(context, f"pmc_vqa-{split}-{index}", "pmc_vqa", split, image, record["Question"], label, options=options)
    if not found:
        yield Reject("no train.csv / test.csv", str(context.raw))


__all__ = ["pathvqa", "pmc_vqa", "slake", "vqa_rad", "vqa_rows"]
