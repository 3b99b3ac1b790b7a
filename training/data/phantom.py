# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""The phantom training files of the tiny recipes and the demo, one per stage, and the held-out
split that evaluation reads (`medmo.sources.phantom`).

    medmo data phantom data/phantom --train 600 --heldout 200
"""

import json
from pathlib import Path

from medmo.clinical.prompts import pick
from medmo.sources.phantom import heldout_row, make_phantom, phantom_id, records, seeds

from .converters.rows import assistant, grounding_target, user


STAGES = ("stage1_reports", "stage2_grounding", "stage3_instruct", "stage4_grpo")


def write_phantom_dataset(
    output_dir: str | Path,
    processor,
    train: int = 600,
    heldout: int = 200,
    seed: int = 0,
    size: int = 128,
) -> dict[str, Path]:
    """Write phantom images and the JSONL files of every stage (training schema) plus `heldout.jsonl`.

    Held-out phantoms use seeds no training phantom uses. Box targets are written in the frame of
    `processor` (its `box_format` and pixel limits), so pass the processor the grounding stages use.
    Stage 1 holds reports, stage 2 boxes, stage 3 a rotation of questions, reports and boxes, and
    stage 4 GRPO grounding rows that also carry the labels and the report.
    """
    output_dir = Path(output_dir)
    (output_dir / "images").mkdir(parents=True, exist_ok=True)
    files = {name: [] for name in (*STAGES, "heldout")}
    for split, count in (("train", train), ("heldout", heldout)):
        for index, phantom_seed in enumerate(seeds(split, count, seed)):
            phantom = make_phantom(phantom_seed, size=size)
            name = phantom_id(split, index)
            image_path = f"images/{name}.png"
            phantom.image.save(output_dir / image_path)
            if split == "heldout":
                files["heldout"].append(heldout_row(name, image_path, phantom))
                continue
            boxes, report, *questions = records(name, split, image_path, phantom.image.size, phantom.boxes, phantom.report,
                                                phantom.questions(), name)  # fmt: skip
            common = {"id": name, "images": [image_path], "source": "phantom"}
            report_prompt, grounding_prompt = pick("report", name), pick("grounding", name)
            target = grounding_target(processor, boxes.boxes, boxes.image_size)
            question = questions[index % 4]
            instruct = [(question.question, question.answer), (report_prompt, report.report), (grounding_prompt, target)][index % 3]
            files["stage1_reports"].append({**common, "messages": [*user(report_prompt), assistant(report.report)]})
            files["stage2_grounding"].append({**common, "messages": [*user(grounding_prompt), assistant(target)]})
            files["stage3_instruct"].append({**common, "messages": [*user(instruct[0]), assistant(instruct[1])]})
            files["stage4_grpo"].append({**common, "prompt": user(grounding_prompt), "task": "grounding", "solution": target,
                                         "image_size": [round(v) for v in processor.frame_size(phantom.image.size)],
                                         "labels": [box["label"] for box in boxes.boxes] or None, "report": report.report})  # fmt: skip
    paths = {}
    for name, rows in files.items():
        paths[name] = output_dir / f"{name}.jsonl"
        paths[name].write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return paths


__all__ = ["STAGES", "write_phantom_dataset"]
