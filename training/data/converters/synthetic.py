# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""The phantom set through the converter interface (`medmo data convert phantom - OUT`), so the
registry can name it like any other set. The raw folder is not read."""

from pathlib import Path

from ..phantom import make_phantom
from medmo.clinical.prompts import pick
from .base import Context, Row, grounding_rows, sft_row


def phantom(context: Context):
    """Options: `train`, `heldout` (counts), `seed`, `size` (pixels). Writes images to
    `<output>/images/`; splits `train` and `heldout` (seeds that training never uses)."""
    options = context.options
    size, seed = int(options.get("size", 128)), int(options.get("seed", 0))
    images = Path(options["output_dir"]) / "images"
    images.mkdir(parents=True, exist_ok=True)
    for split, count, base in (("train", int(options.get("train", 600)), seed * 1_000_003),
                               ("heldout", int(options.get("heldout", 200)), seed * 1_000_003 + 500_000)):  # fmt: skip
        for index in range(count):
            drawn = make_phantom(base + index, size=size)
            sample_id = f"phantom-{split}-{index:05d}"
            path = images / f"{sample_id}.png"
            drawn.image.save(path)
            if index % 2:
                yield Row(split, sft_row(sample_id, "phantom", [str(path)], pick("report", sample_id), drawn.report))
                yield Row(split, {"id": sample_id, "source": "phantom", "images": [str(path)], "task": "report",
                                  "prompt": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": pick("report", sample_id)}]}],
                                  "report": drawn.report}, kind="grpo")  # fmt: skip
            else:
                yield from grounding_rows(context, sample_id, "phantom", split, path, drawn.image.size, drawn.boxes)


phantom.reads_raw = False

__all__ = ["phantom"]
