# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Phantom chest radiographs: synthetic images with lesions, boxes, reports and questions.

No patient data and no files needed: every image is drawn from a seed. A phantom has a body,
two dark lungs, a heart, a spine and noise, and 0-2 lesions: a small bright nodule, a larger
bright mass, or a bright pleural effusion at a lung base. Each comes with its boxes (original
pixels), a report consistent with it ("A 14 mm nodule in the right upper zone. No pleural
effusion."), and questions (is there a nodule? how many lesions? which side?). Sides are the
patient's, as radiologists read them: the image's left is the patient's right.

The set's "release" is its seeds: `generate` draws it; `medmo data phantom` writes the training
files and the held-out split (`heldout.jsonl` with PNGs, `heldout_row`), which `read` reads back.

    medmo data phantom data/phantom --train 600 --heldout 200
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from medmo.clinical.answers import answer_type
from medmo.clinical.tasks import GROUNDING, REPORT

from .base import MALFORMED, Problem, Record, image_problem, json_lines, require, size_of, wanted
from .images import ImageRef


MM_PER_PIXEL = 2.5  # a 128-px phantom spans 32 cm, about a chest's width
LESION_NAMES = {"nodule": "Nodule", "mass": "Mass", "effusion": "Pleural effusion"}


@dataclass
class Lesion:
    kind: str  # "nodule" | "mass" | "effusion"
    box: list[float]  # [x1, y1, x2, y2] in pixels
    side: str  # the patient's "right" or "left"
    zone: str  # "upper" | "middle" | "lower"
    size_mm: int


@dataclass
class Phantom:
    image: Image.Image
    lesions: list[Lesion] = field(default_factory=list)

    @property
    def report(self) -> str:
        sentences = []
        for lesion in self.lesions:
            if lesion.kind == "effusion":
                amount = "Small" if lesion.size_mm < 45 else "Moderate"
                sentences.append(f"{amount} {lesion.side} pleural effusion.")
            else:
                sentences.append(f"A {lesion.size_mm} mm {lesion.kind} in the {lesion.side} {lesion.zone} zone.")
        if not any(lesion.kind == "effusion" for lesion in self.lesions):
            sentences.append("No pleural effusion.")
        if not self.lesions:
            sentences = ["The lungs are clear.", *sentences, "No acute cardiopulmonary process."]
        return " ".join(sentences)

    @property
    def boxes(self) -> list[dict]:
        return [{"label": LESION_NAMES[lesion.kind], "box": lesion.box} for lesion in self.lesions]

    def questions(self) -> list[tuple[str, str]]:
        """(question, answer) pairs about this phantom."""
        kinds = {lesion.kind for lesion in self.lesions}
        sides = {lesion.side for lesion in self.lesions}
        side = "none" if not sides else ("both" if len(sides) == 2 else sides.pop())
        return [
            ("Is there a nodule?", "yes" if "nodule" in kinds else "no"),
            ("Is there a pleural effusion?", "yes" if "effusion" in kinds else "no"),
            ("How many lesions are there?", str(len(self.lesions))),
            ("Which side is the lesion on?", side),
        ]


def _ellipse(shape, center, axes) -> np.ndarray:
    rows, columns = np.ogrid[: shape[0], : shape[1]]
    return ((columns - center[0]) / axes[0]) ** 2 + ((rows - center[1]) / axes[1]) ** 2 <= 1.0


def _blob(shape, center, sigma) -> np.ndarray:
    rows, columns = np.ogrid[: shape[0], : shape[1]]
    return np.exp(-(((columns - center[0]) ** 2 + (rows - center[1]) ** 2) / (2 * sigma**2)))


def _zone(y: float, top: float, bottom: float) -> str:
    third = (bottom - top) / 3
    return "upper" if y < top + third else ("middle" if y < top + 2 * third else "lower")


def make_phantom(seed: int, size: int = 128, max_lesions: int = 2) -> Phantom:
    """One phantom radiograph, the same for the same seed."""
    rng = np.random.default_rng(seed)
    shape = (size, size)
    pixels = np.zeros(shape, dtype=np.float32)
    body = _ellipse(shape, (size * 0.5, size * 0.52), (size * 0.46, size * 0.46))
    pixels[body] = 0.55
    lungs = {}
    for side, x in (("right", 0.31), ("left", 0.69)):  # the patient's right lung is on the image's left
        center = (size * (x + rng.uniform(-0.02, 0.02)), size * 0.47)
        axes = (size * rng.uniform(0.14, 0.17), size * rng.uniform(0.27, 0.31))
        pixels[_ellipse(shape, center, axes)] = 0.16
        lungs[side] = (center, axes)
    pixels += 0.35 * _ellipse(shape, (size * 0.57, size * 0.62), (size * 0.13, size * 0.11))
    spine = np.zeros(shape, dtype=bool)
    spine[:, int(size * 0.47) : int(size * 0.53)] = True
    pixels[spine & body] += 0.25
    lesions = []
    for _ in range(int(rng.integers(0, max_lesions + 1))):
        kind = str(rng.choice(["nodule", "mass", "effusion"], p=[0.45, 0.3, 0.25]))
        side = str(rng.choice(["right", "left"]))
        (cx, cy), (ax, ay) = lungs[side]
        top, bottom = cy - ay, cy + ay
        if kind == "effusion":
            if any(lesion.kind == "effusion" and lesion.side == side for lesion in lesions):
                continue
            height = ay * 2 * rng.uniform(0.18, 0.32)
            region = _ellipse(shape, (cx, cy), (ax, ay)) & (np.arange(size)[:, None] >= bottom - height)
            pixels[region] += 0.45
            rows, columns = np.nonzero(region)
            box = [float(columns.min()), float(rows.min()), float(columns.max() + 1), float(rows.max() + 1)]
            lesions.append(Lesion(kind, box, side, "lower", int(round(height * MM_PER_PIXEL))))
            continue
        sigma = rng.uniform(2.5, 4.0) if kind == "nodule" else rng.uniform(5.0, 8.0)
        x = cx + rng.uniform(-0.55, 0.55) * ax
        y = cy + rng.uniform(-0.6, 0.5) * ay
        pixels += 0.6 * _blob(shape, (x, y), sigma)
        radius = 2.0 * sigma
        box = [max(0.0, x - radius), max(0.0, y - radius), min(float(size), x + radius), min(float(size), y + radius)]
        lesions.append(Lesion(kind, [round(v, 1) for v in box], side, _zone(y, top, bottom), int(round(2 * radius * MM_PER_PIXEL))))
    pixels += rng.normal(0.0, 0.03, shape).astype(np.float32)
    image = Image.fromarray((np.clip(pixels, 0.0, 1.0) * 255).astype(np.uint8), mode="L").convert("RGB")
    return Phantom(image, sorted(lesions, key=lambda lesion: (lesion.box[1], lesion.box[0])))


# --------------------------------------------------------------------------- the phantom set

SOURCE = "phantom"
# Held-out phantoms are drawn from seeds that training phantoms never use.
HELDOUT_SEED_OFFSET = 500_000


def seeds(split: str, count: int, seed: int = 0) -> range:
    """The drawing seeds of a split's phantoms (`train` or `heldout`) for a set's `seed`."""
    base = seed * 1_000_003 + (HELDOUT_SEED_OFFSET if split == "heldout" else 0)
    return range(base, base + count)


def phantom_id(split: str, index: int) -> str:
    return f"phantom-{split}-{index:05d}"


def records(name: str, split: str, image, size, boxes: list[dict], report: str, questions, location: str) -> list[Record]:
    """A phantom's records: its boxes (`<name>-boxes`), its report (`<name>-report`) and its four
    questions (`<name>-q<i>`), on `image` of original `size`."""
    common = dict(source=SOURCE, split=split, location=location, images=[image], image_size=tuple(size))
    found = [Record(f"{name}-boxes", kind=GROUNDING, boxes=boxes, **common), Record(f"{name}-report", kind=REPORT, report=report, **common)]
    for index, (question, answer) in enumerate(questions):
        found.append(Record(f"{name}-q{index}", kind=answer_type(answer), question=question, answer=answer, **common))
    return found


def generate(train: int = 600, heldout: int = 200, seed: int = 0, size: int = 128) -> Iterator[tuple[str, int, list[Record]]]:
    """`(split, index, records)` of freshly drawn phantoms: `train` of split `train`, then
    `heldout` of split `heldout`; each phantom's image is an `ImageRef` named by its id."""
    for split, count in (("train", train), ("heldout", heldout)):
        for index, phantom_seed in enumerate(seeds(split, count, seed)):
            drawn = make_phantom(phantom_seed, size=size)
            name = phantom_id(split, index)
            image = ImageRef(drawn.image, name=name)
            yield split, index, records(name, split, image, drawn.image.size, drawn.boxes, drawn.report, drawn.questions(), name)


def heldout_row(name: str, image_path: str, phantom: Phantom) -> dict:
    """A line of `heldout.jsonl`, the held-out phantoms' published layout (read by `read`)."""
    return {"id": name, "images": [image_path], "source": SOURCE, "boxes": phantom.boxes, "image_size": list(phantom.image.size),
            "report": phantom.report, "questions": phantom.questions()}  # fmt: skip


def read(root: Path, splits=None) -> Iterator[Record | Problem]:
    """The held-out phantoms `medmo data phantom` wrote: `heldout.jsonl` (one line per phantom: `id`,
    `images`, `boxes` in original pixels, `image_size`, `report`, `questions`) with the images it
    names; six records per phantom (see `records`), split `heldout`."""
    root = Path(root)
    path = require(root, "heldout.jsonl")
    if not wanted("heldout", splits):
        return
    for number, row in json_lines(path):
        where = f"{path.name}:{number}"
        try:
            name, image = row["id"], root / row["images"][0]
            boxes, size, report, questions = row["boxes"], row["image_size"], row["report"], [tuple(q) for q in row["questions"]]
        except (KeyError, IndexError, TypeError):
            yield Problem(where, MALFORMED)
            continue
        if size_of(image) is None:
            yield image_problem(where, image.name)
            continue
        yield from records(name, "heldout", str(image), size, boxes, report, questions, where)


__all__ = ["Lesion", "Phantom", "generate", "heldout_row", "make_phantom", "phantom_id", "read", "records", "seeds"]
