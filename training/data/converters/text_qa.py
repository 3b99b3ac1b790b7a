# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Text-only medical QA: MedQA, MedMCQA, PubMedQA. Multiple choice and yes/no/maybe questions
also become GRPO rows for the answer reward."""

import json

from medmo.clinical.prompts import LETTERS, format_question

from .base import Context, Reject, Row


def _row(sample_id: str, source: str, split: str, question: str, options: list[str] | None, answer: str):
    prompt = format_question(question, options)
    yield Row(split, {"id": sample_id, "source": source, "images": [], "messages": [
        {"role": "user", "content": [{"type": "text", "text": prompt}]},
        {"role": "assistant", "content": [{"type": "text", "text": answer}]}]})  # fmt: skip
    task = "multiple_choice" if options else "text_qa"
    yield Row(split, {"id": sample_id, "source": source, "images": [], "task": task,
                      "prompt": [{"role": "user", "content": [{"type": "text", "text": prompt}]}], "solution": answer, "options": options}, kind="grpo")  # fmt: skip


def medqa(context: Context):
    """MedQA (USMLE): `train.jsonl`, `dev.jsonl`, `test.jsonl` (also under `US/`) with `question`,
    `options` {letter: text}, `answer_idx`."""
    folder = context.raw / "US" if (context.raw / "US").is_dir() else context.raw
    found = False
    for file_name, split in (("train.jsonl", "train"), ("dev.jsonl", "validation"), ("test.jsonl", "test")):
        path = folder / file_name
        if not path.exists():
            continue
        found = True
        with open(path, encoding="utf-8") as file:
            for number, line in enumerate(file, start=1):
                where = f"{file_name}:{number}"
                try:
                    record = json.loads(line)
                    letters = sorted(record["options"])
                    options = [str(record["options"][letter]) for letter in letters]
                    answer = str(record["answer_idx"]).strip().upper()
                except (json.JSONDecodeError, KeyError, TypeError):
                    yield Reject("malformed record", where)
                    continue
                if answer not in letters:
                    yield Reject("answer is not an option", where)
                    continue
                yield from _row(f"medqa-{split}-{number}", "medqa", split, record["question"], options, LETTERS[letters.index(answer)])
    if not found:
        yield Reject("no train/dev/test .jsonl", str(folder))


def medmcqa(context: Context):
    """MedMCQA: `train.json`, `dev.json`, `test.json` (one JSON object per line: `question`,
    `opa`..`opd`, `cop` 1-4, or 0-3 in the Hub release; test answers are withheld and rejected)."""
    found = False
    for file_name, split in (("train.json", "train"), ("dev.json", "validation"), ("test.json", "test")):
        path = context.raw / file_name
        if not path.exists():
            continue
        found = True
        zero_based = context.options.get("zero_based_cop", False)
        with open(path, encoding="utf-8") as file:
            for number, line in enumerate(file, start=1):
                where = f"{file_name}:{number}"
                try:
                    record = json.loads(line)
                    options = [str(record[key]) for key in ("opa", "opb", "opc", "opd")]
                    correct = int(record.get("cop", -1)) - (0 if zero_based else 1)
                except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                    yield Reject("malformed record", where)
                    continue
                if not 0 <= correct < 4:
                    yield Reject("no answer (withheld or out of range)", where)
                    continue
                yield from _row(f"medmcqa-{record.get('id', number)}", "medmcqa", split, record["question"], options, LETTERS[correct])
    if not found:
        yield Reject("no train/dev/test .json", str(context.raw))


def pubmedqa(context: Context):
    """PubMedQA (PQA-L): `ori_pqal.json` ({pmid: {QUESTION, CONTEXTS, final_decision}}); the pmids
    in `test_ground_truth.json` form the test split, the rest train. The question comes with its
    abstract as context; the answer is yes / no / maybe."""
    path = context.raw / "ori_pqal.json"
    if not path.exists():
        yield Reject("ori_pqal.json not found", str(context.raw))
        return
    test_ids = set(json.loads((context.raw / "test_ground_truth.json").read_text())) if (context.raw / "test_ground_truth.json").exists() else set()
    for pmid, record in json.loads(path.read_text(encoding="utf-8")).items():
        decision = str(record.get("final_decision", "")).strip().lower()
        if decision not in ("yes", "no", "maybe") or not record.get("QUESTION"):
            yield Reject("missing question or decision", pmid)
            continue
        context_text = " ".join(record.get("CONTEXTS") or [])
        question = f"Context: {context_text}\nQuestion: {record['QUESTION']}\nAnswer yes, no or maybe."
        yield from _row(f"pubmedqa-{pmid}", "pubmedqa", "test" if pmid in test_ids else "train", question, None, decision)


__all__ = ["medmcqa", "medqa", "pubmedqa"]
