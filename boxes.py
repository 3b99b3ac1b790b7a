# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Bounding boxes: the one module that parses, formats, converts and compares them.

Every box is `[x1, y1, x2, y2]` (top-left, bottom-right corners, x to the right, y down) in one of
three frames:

- `"original_pixels"`: pixels of the image as the user gave it (what people and metrics use);
- `"model_pixels"`: pixels of the image after the processor's resize (what MedMO was trained to
  write; its size depends on the processor's `min_pixels` / `max_pixels`);
- `"grid_1000"`: Qwen3-VL's relative grid, 0..1000 on both axes whatever the image size.

Image sizes are `(width, height)` everywhere, as PIL's `Image.size`. Every function that moves a
box between frames takes the frame names and the sizes explicitly; nothing guesses a frame, and a
frame's size comes from `frame_size` alone. Other notations data sets use (`[x, y, w, h]`, YOLO's
normalised centres and polygons) convert here too, and so does the rule for which part of a
completion is its answer (`final_answer`), since boxes are read from it.

Parsing accepts everything MedMO and Qwen3-VL write, and never raises: text it cannot read yields
an empty list.

>>> parse_boxes("Fractures <box>[[156, 516, 231, 607], [240, 529, 296, 581]]</box>")
[{'label': 'Fractures', 'box': [156.0, 516.0, 231.0, 607.0]}, {'label': 'Fractures', 'box': [240.0, 529.0, 296.0, 581.0]}]
"""

import json
import math
import re
from collections.abc import Iterable, Sequence

import numpy as np


FRAMES = ("original_pixels", "model_pixels", "grid_1000")
GRID_SIZE = 1000.0

_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_QUAD = rf"\s*({_NUMBER})\s*,\s*({_NUMBER})\s*,\s*({_NUMBER})\s*,\s*({_NUMBER})\s*"
_BRACKETED = re.compile(rf"\[{_QUAD}\]")
_BARE = re.compile(rf"^{_QUAD}$")
_BOX_TAG = re.compile(r"<box>(.*?)</box>", re.DOTALL | re.IGNORECASE)
_ANSWER = re.compile(r"<answer>(.*?)(?:</answer>|$)", re.DOTALL | re.IGNORECASE)
_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL | re.IGNORECASE)
_JSON_OBJECT = re.compile(r"\{[^{}]*\"bbox_2d\"[^{}]*\}", re.DOTALL)
_JSON_BOX = re.compile(rf"\"bbox_2d\"\s*:\s*\[{_QUAD}\]")
_JSON_LABEL = re.compile(r"\"label\"\s*:\s*\"((?:[^\"\\]|\\.)*)\"")
# A bracketed list of quads, e.g. `[ [1, 2, 3, 4], [5, 6, 7, 8] ]`, or a single `[1, 2, 3, 4]`.
_QUAD_LIST = re.compile(rf"\[\s*(?:\[{_QUAD}\]\s*,?\s*)+\]|\[{_QUAD}\]")
_LABEL_TRIM = " \t\r\n:;,.-*_#>|=()'\"`"
_LABEL_SPLIT = re.compile(r"[;]|,\s(?=\S)|\.\s")  # "Nodule <box>..</box>, Mass <box>.." -> "Mass"
_LEADING_CONJUNCTION = re.compile(r"^(?:and|or)\s+", re.IGNORECASE)
_MAX_LABEL_CHARS = 80


# --------------------------------------------------------------------------- parsing


def _quad(groups: Sequence) -> list[float] | None:
    x1, y1, x2, y2 = map(float, groups)
    if math.isinf(x1 + y1 + x2 + y2) or math.isnan(x1 + y1 + x2 + y2):
        return None
    return [min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)]


def _label_before(text: str, end: int, floor: int) -> str | None:
    """The label written just before position `end`: the rest of the line, trimmed."""
    segment = text[floor:end].rsplit("\n", 1)[-1]
    segment = _LABEL_SPLIT.split(segment)[-1]
    label = _LEADING_CONJUNCTION.sub("", segment.replace("**", "").strip(_LABEL_TRIM))
    if not label or label.lower() in ("box", "boxes", "label"):
        return None
    return label[-_MAX_LABEL_CHARS:].strip()


def final_answer(text) -> str:
    """The final answer of a completion: the last `<answer>` block when there is one (an unclosed
    last block runs to the end), else the text without its `<think>` blocks; stripped. Non-strings
    give `""`.

    The one rule for "what did the model answer": boxes are parsed from it, and the rewards and the
    evaluation metrics (through `medmo.clinical.answers`) score it.

    >>> final_answer("<think>maybe B</think><answer>A</answer> <answer> C </answer>")
    'C'
    """
    if not isinstance(text, str):
        return ""
    if "<" not in text:
        return text.strip()
    blocks = _ANSWER.findall(text)
    return (blocks[-1] if blocks else _THINK.sub(" ", text)).strip()


def _json_boxes(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, dict]]:
    found = []
    for match in _JSON_OBJECT.finditer(text):
        chunk = match.group(0)
        try:
            item = json.loads(chunk)
            coordinates, label = item.get("bbox_2d"), item.get("label")
            box = _quad(coordinates) if isinstance(coordinates, list) and len(coordinates) == 4 else None
        except (ValueError, TypeError):
            box_match, label_match = _JSON_BOX.search(chunk), _JSON_LABEL.search(chunk)
            box = _quad(box_match.groups()) if box_match else None
            label = label_match.group(1) if label_match else None
        if box is not None:
            label = str(label).strip() if label not in (None, "") else None
            found.append((match.start(), {"label": label, "box": box}))
            spans.append(match.span())
    return found


def _tagged_boxes(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, dict]]:
    found, floor = [], 0
    for match in _BOX_TAG.finditer(text):
        inside = match.group(1)
        quads = [m.groups() for m in _BRACKETED.finditer(inside)]
        if not quads and (bare := _BARE.match(inside.strip("[] \t\n"))):
            quads = [bare.groups()]
        label = _label_before(text, match.start(), floor)
        for groups in quads:
            if (box := _quad(groups)) is not None:
                found.append((match.start(), {"label": label, "box": box}))
        spans.append(match.span())
        floor = match.end()
    return found


def _listed_boxes(text: str) -> list[tuple[int, dict]]:
    found, floor = [], 0
    for match in _QUAD_LIST.finditer(text):
        label = _label_before(text, match.start(), floor)
        for quad in _BRACKETED.finditer(match.group(0)):
            if (box := _quad(quad.groups())) is not None:
                found.append((match.start(), {"label": label, "box": box}))
        floor = match.end()
    return found


def _mask(text: str, spans: list[tuple[int, int]]) -> str:
    """`text` with the spans already read blanked out (same length, so positions stay valid)."""
    pieces, cursor = [], 0
    for start, end in sorted(spans):
        pieces += [text[cursor:start], "\n" * (end - start)]
        cursor = end
    return "".join(pieces) + text[cursor:]


def parse_boxes(text: str) -> list[dict]:
    """Every box in a model output, in reading order, as `{"label": str | None, "box": [x1, y1, x2, y2]}`.

    Reads MedMO's formats (`Label <box>[[x1, y1, x2, y2], ...]</box>`, `Label: <box> x1, y1, x2, y2
    </box>`, `Label: [ [x1, y1, x2, y2] ]`) and Qwen3-VL's JSON (`{"bbox_2d": [...], "label": ...}`,
    alone, in lists or in code fences), in the final answer only (`final_answer`: the last
    `<answer>` block, else the text without `<think>`). Numbers may be integers or floats; corners
    are put in order (x1 <= x2, y1 <= y2). Coordinates stay in whatever frame the text uses:
    convert them with `convert_boxes`. Never raises; unreadable text gives `[]`.
    """
    if not isinstance(text, str) or not text:
        return []
    try:
        region = final_answer(text)
        spans: list[tuple[int, int]] = []
        found = _json_boxes(region, spans) if "bbox_2d" in region else []
        if "<box>" in region.lower():
            found += _tagged_boxes(_mask(region, spans) if spans else region, spans)
        if "[" in region:
            found += _listed_boxes(_mask(region, spans) if spans else region)
    except (RecursionError, MemoryError, OverflowError, ValueError):
        return []
    return [box for _, box in sorted(found, key=lambda item: item[0])]


# --------------------------------------------------------------------------- frames


def _size(size: Sequence[float], name: str) -> tuple[float, float]:
    try:
        width, height = (float(value) for value in size)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be (width, height), got {size!r}.") from None
    if not (width > 0 and height > 0 and math.isfinite(width) and math.isfinite(height)):
        raise ValueError(f"{name} must be positive and finite, got {size!r}.")
    return width, height


def frame_size(frame: str, image_size: Sequence[float], model_size: Sequence[float] | None = None, image_processor=None) -> tuple[float, float]:
    """The `(width, height)` of box frame `frame` for an image of original size `image_size`.

    `"original_pixels"`: `image_size` itself; `"grid_1000"`: 1000 x 1000 whatever the image;
    `"model_pixels"`: the processor's resized input, given as `model_size` or computed from
    `image_processor` (`model_input_size`). The one place a frame's size is worked out: the
    processor, the data converters, the box reward, the phantom writer and the demo all ask here.

    >>> frame_size("grid_1000", (640, 480))
    (1000.0, 1000.0)
    """
    if frame == "original_pixels":
        return _size(image_size, "image_size")
    if frame == "model_pixels":
        if model_size is None and image_processor is not None:
            model_size = model_input_size(image_size, image_processor)
        if model_size is None:
            raise ValueError("The model_pixels frame needs model_size (the processor's resized (width, height)) or the image processor.")
        return _size(model_size, "model_size")
    if frame == "grid_1000":
        return GRID_SIZE, GRID_SIZE
    raise ValueError(f"Unknown box frame {frame!r}; use one of {FRAMES}.")


def resize_boxes(boxes, from_size: Sequence[float], to_size: Sequence[float], clip: bool = True) -> np.ndarray:
    """`(N, 4)` boxes of an image of `from_size` moved onto the same image resized to `to_size`
    (x and y scale separately). With `clip`, boxes are clipped to `to_size`. Returns float64."""
    array = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    (source_w, source_h), (target_w, target_h) = _size(from_size, "from_size"), _size(to_size, "to_size")
    converted = array * np.array([target_w / source_w, target_h / source_h] * 2)
    if clip:
        converted = np.clip(converted, 0.0, np.array([target_w, target_h] * 2))
    return converted


def convert_boxes(
    boxes: np.ndarray | Sequence[Sequence[float]],
    source: str,
    target: str,
    image_size: Sequence[float],
    model_size: Sequence[float] | None = None,
    clip: bool = True,
) -> np.ndarray:
    """Move `(N, 4)` boxes from frame `source` to frame `target`.

    `image_size` is the original image's `(width, height)`; `model_size` the processor's resized
    `(width, height)`, needed when either frame is `"model_pixels"`. With `clip`, boxes are
    clipped to the target frame's extent. Returns float64 `(N, 4)`.
    """
    return resize_boxes(boxes, frame_size(source, image_size, model_size), frame_size(target, image_size, model_size), clip)


def model_input_size(image_size: Sequence[float], image_processor) -> tuple[int, int]:
    """The `(width, height)` the Qwen3-VL image processor resizes an image of `image_size` to."""
    width, height = (int(round(value)) for value in _size(image_size, "image_size"))
    factor = image_processor.patch_size * image_processor.merge_size
    min_pixels, max_pixels = pixel_limits(image_processor)
    resized_height, resized_width = _smart_resize(height, width, factor, min_pixels, max_pixels)
    return resized_width, resized_height


def pixel_limits(image_processor) -> tuple[int, int]:
    """`(min_pixels, max_pixels)`: the pixel-count bounds the image processor resizes into."""
    size = getattr(image_processor, "size", None) or {}
    if not isinstance(size, dict):  # transformers 5 keeps a SizeDict
        size = {key: getattr(size, key, None) for key in ("shortest_edge", "longest_edge")}
    min_pixels = size.get("shortest_edge") or getattr(image_processor, "min_pixels", None)
    max_pixels = size.get("longest_edge") or getattr(image_processor, "max_pixels", None)
    return int(min_pixels), int(max_pixels)


def boxes_in_original_pixels(text: str, frame: str, image_size: Sequence[float], image_processor=None) -> list[dict]:
    """The boxes of a generated `text` written in `frame`, as `{"label", "box"}` in pixels of the
    original image of `image_size` (floats, clipped, corners in order). `image_processor` (its
    patch and merge size and pixel limits) places the `"model_pixels"` frame. What the processor's
    `post_process_grounding` and the serving client both return."""
    parsed = parse_boxes(text)
    model_size = model_input_size(image_size, image_processor) if frame == "model_pixels" else None
    converted = convert_boxes([item["box"] for item in parsed], frame, "original_pixels", image_size, model_size)
    return [{"label": item["label"], "box": box.tolist()} for item, box in zip(parsed, converted)]


def _smart_resize(height, width, factor, min_pixels, max_pixels):
    try:  # transformers 5: the PIL backend module (importable without torchvision)
        from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize
    except ImportError:  # transformers 4.57
        from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize
    return smart_resize(height, width, factor=factor, min_pixels=min_pixels, max_pixels=max_pixels)


# --------------------------------------------------------------------------- other box notations

# Data sets write boxes in other notations; these move them to `[x1, y1, x2, y2]` (and back for
# pycocotools), so no reader or metric does that arithmetic itself.


def xywh_to_xyxy(box: Sequence[float]) -> list[float]:
    """`[x, y, width, height]` (top-left corner and extent: NIH ChestX-ray14, COCO) as `[x1, y1, x2, y2]`."""
    x, y, width, height = (float(value) for value in box)
    return [x, y, x + width, y + height]


def xyxy_to_xywh(box: Sequence[float]) -> list[float]:
    """`[x1, y1, x2, y2]` as COCO's `[x, y, width, height]`."""
    x1, y1, x2, y2 = (float(value) for value in box)
    return [x1, y1, x2 - x1, y2 - y1]


def cxcywh_to_xyxy(box: Sequence[float], image_size: Sequence[float] | None = None) -> list[float]:
    """`[center x, center y, width, height]` as `[x1, y1, x2, y2]`; with `image_size`, the input is
    normalised to 0-1 (YOLO label files) and the result is in that image's pixels."""
    cx, cy, width, height = (float(value) for value in box)
    scale_x, scale_y = _size(image_size, "image_size") if image_size is not None else (1.0, 1.0)
    return [(cx - width / 2) * scale_x, (cy - height / 2) * scale_y, (cx + width / 2) * scale_x, (cy + height / 2) * scale_y]


def polygon_to_xyxy(points: Sequence[float], image_size: Sequence[float] | None = None) -> list[float]:
    """The tightest `[x1, y1, x2, y2]` around a polygon given as `[x1, y1, x2, y2, x3, y3, ...]`; with
    `image_size`, the points are normalised to 0-1 (YOLO segment lines) and the box is in pixels."""
    values = [float(value) for value in points]
    if len(values) < 6 or len(values) % 2:
        raise ValueError(f"A polygon needs at least 3 (x, y) points, got {len(values)} values.")
    scale_x, scale_y = _size(image_size, "image_size") if image_size is not None else (1.0, 1.0)
    xs, ys = values[0::2], values[1::2]
    return [min(xs) * scale_x, min(ys) * scale_y, max(xs) * scale_x, max(ys) * scale_y]


# --------------------------------------------------------------------------- formatting

TEXT_STYLES = ("medmo", "answer", "qwen_json")


def _decimals_for(step: float) -> int:
    """Fewest decimals whose rounding error (half a unit) stays within 1 original pixel."""
    decimals = 0
    while step * 0.5 * 10.0**-decimals > 1.0 and decimals < 4:
        decimals += 1
    return decimals


def _number(value: float, decimals: int) -> str:
    return str(int(round(value))) if decimals == 0 else f"{value:.{decimals}f}"


def format_boxes(
    boxes: Iterable[dict],
    style: str = "medmo",
    decimals: int = 0,
) -> str:
    """Write `{"label", "box"}` items as model text, boxes already in the output frame.

    Styles: `"medmo"` (`Label <box>[[x1, y1, x2, y2], ...]</box>`, consecutive boxes of one label
    grouped, one label per line), `"answer"` (MedMO's GRPO style: `<answer>\\nLabel: <box> x1, y1,
    x2, y2 </box>\\n</answer>`) and `"qwen_json"` (Qwen3-VL's `[{"bbox_2d": [...], "label": ...}]`).
    `parse_boxes` reads all three back.
    """
    items = [(item.get("label") or "", [float(v) for v in item["box"]]) for item in boxes]
    if style == "qwen_json":
        entries = [
            {"bbox_2d": [float(_number(v, decimals)) if decimals else int(round(v)) for v in box], "label": label}
            for label, box in items
        ]
        return "```json\n" + json.dumps(entries) + "\n```"
    if style == "answer":
        lines = [f"{label}: <box> {', '.join(_number(v, decimals) for v in box)} </box>" for label, box in items]
        return "<answer>\n" + "\n".join(lines) + "\n</answer>"
    if style != "medmo":
        raise ValueError(f"Unknown box text style {style!r}; use one of {TEXT_STYLES}.")
    groups: list[tuple[str, list[list[float]]]] = []
    for label, box in items:
        if groups and groups[-1][0] == label:
            groups[-1][1].append(box)
        else:
            groups.append((label, [box]))
    lines = []
    for label, group in groups:
        quads = ", ".join("[" + ", ".join(_number(v, decimals) for v in box) + "]" for box in group)
        lines.append(f"{label} <box>[{quads}]</box>".strip())
    return "\n".join(lines)


def decimals_for_frame(frame: str, image_size, model_size=None) -> int:
    """Decimals that keep a round trip through `frame` within 1 original pixel."""
    image_w, image_h = _size(image_size, "image_size")
    frame_w, frame_h = frame_size(frame, image_size, model_size)
    return _decimals_for(max(image_w / frame_w, image_h / frame_h))


# --------------------------------------------------------------------------- geometry


def as_array(boxes, order_corners: bool = True) -> np.ndarray:
    """`(N, 4)` float64 boxes from parsed items, lists of quads or arrays, corners in order."""
    if isinstance(boxes, np.ndarray):
        array = boxes.astype(np.float64, copy=False).reshape(-1, 4)
    else:
        rows = [item["box"] if isinstance(item, dict) else item for item in boxes]
        array = np.asarray(rows, dtype=np.float64).reshape(-1, 4)
    if order_corners:
        array = np.concatenate([np.minimum(array[:, :2], array[:, 2:]), np.maximum(array[:, :2], array[:, 2:])], axis=1)
    return array


def areas(boxes: np.ndarray) -> np.ndarray:
    return np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)


def pair_terms(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IoU, GIoU and summed corner distance of aligned pairs: row i of `first` with row i of `second`.

    The one implementation of the box geometry. Callers with many small problems (rewards over a
    batch of completions) stack all their pairs and call it once. IoU is 0 for pairs whose union
    has no area; GIoU lies in [-1, 1]: IoU minus the share of the enclosing box outside the union.
    """
    low = np.maximum(first[:, :2], second[:, :2])
    high = np.minimum(first[:, 2:], second[:, 2:])
    overlap = np.clip(high - low, 0.0, None)
    intersection = overlap[:, 0] * overlap[:, 1]
    size_first, size_second = first[:, 2:] - first[:, :2], second[:, 2:] - second[:, :2]
    union = size_first[:, 0] * size_first[:, 1] + size_second[:, 0] * size_second[:, 1] - intersection
    hull_size = np.maximum(first[:, 2:], second[:, 2:]) - np.minimum(first[:, :2], second[:, :2])
    hull = hull_size[:, 0] * hull_size[:, 1]
    iou = np.divide(intersection, union, out=np.zeros_like(intersection), where=union > 0)
    giou = iou - np.divide(hull - union, hull, out=np.zeros_like(hull), where=hull > 0)
    return iou, giou, np.abs(first - second).sum(axis=1)


def pairwise_terms(predicted, target) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IoU, GIoU and summed corner distance of every (predicted, target) pair, each `(P, G)`."""
    predicted, target = as_array(predicted), as_array(target)
    rows, columns = len(predicted), len(target)
    terms = pair_terms(np.repeat(predicted, columns, axis=0), np.tile(target, (rows, 1)))
    return tuple(term.reshape(rows, columns) for term in terms)


def pairwise_iou(predicted, target) -> np.ndarray:
    """IoU of every predicted box with every target box: `(P, G)`. Zero-area pairs score 0."""
    return pairwise_terms(predicted, target)[0]


def pairwise_giou(predicted, target) -> np.ndarray:
    """Generalized IoU `(P, G)` in [-1, 1]: IoU minus the enclosing box's share not in the union."""
    return pairwise_terms(predicted, target)[1]


def l1_scale(image_size: Sequence[float]) -> float:
    """The MedMO reward's L1 normaliser: twice the diagonal of a `(width, height)` frame."""
    width, height = _size(image_size, "image_size")
    return 2.0 * math.hypot(width, height)


def pairwise_l1(predicted, target, image_size: Sequence[float]) -> np.ndarray:
    """Corner L1 distance `(P, G)` normalised by twice the image diagonal (the MedMO reward's L1)."""
    return pairwise_terms(predicted, target)[2] / l1_scale(image_size)


# --------------------------------------------------------------------------- drawing

# Bright, mutually distinct colours that stay visible on dark radiographs and bright pathology
# slides alike (each drawn over a thin black halo).
PALETTE = [
    (255, 221, 0), (0, 229, 255), (255, 64, 160), (118, 255, 3), (255, 145, 0),
    (170, 120, 255), (255, 255, 255), (0, 255, 170), (255, 90, 90), (90, 160, 255),
]  # fmt: skip


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one fixed-size default font
        return ImageFont.load_default()


def draw_boxes(image, boxes, show_labels: bool = True, line_width: int | None = None):
    """A copy of `image` (RGB) with `boxes` drawn: one colour per label, labels on filled tags.

    `boxes` are `{"label", "box"}` items (or plain quads) in the image's own pixels, as
    `processor.post_process_grounding` returns them.
    """
    from PIL import ImageDraw

    canvas = image.convert("RGB") if image.mode != "RGB" else image.copy()
    items = [item if isinstance(item, dict) else {"label": None, "box": list(item)} for item in boxes]
    width, height = canvas.size
    line = line_width or max(2, round(min(width, height) / 200))
    font = _font(max(10, round(min(width, height) / 40)))
    draw = ImageDraw.Draw(canvas)
    colours: dict[str | None, tuple[int, int, int]] = {}
    for item in items:
        label = item.get("label")
        colour = colours.setdefault(label, PALETTE[len(colours) % len(PALETTE)])
        x1, y1, x2, y2 = (float(v) for v in item["box"])
        draw.rectangle([x1 - line, y1 - line, x2 + line, y2 + line], outline=(0, 0, 0), width=line)
        draw.rectangle([x1, y1, x2, y2], outline=colour, width=line)
        if show_labels and label:
            left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
            tag_w, tag_h = right - left + 2 * line, bottom - top + 2 * line
            tag_y = y1 - tag_h - line if y1 - tag_h - line >= 0 else y1 + line
            draw.rectangle([x1, tag_y, x1 + tag_w, tag_y + tag_h], fill=colour, outline=(0, 0, 0))
            draw.text((x1 + line - left, tag_y + line - top), label, fill=(0, 0, 0), font=font)
    return canvas


__all__ = [
    "FRAMES",
    "TEXT_STYLES",
    "as_array",
    "boxes_in_original_pixels",
    "convert_boxes",
    "cxcywh_to_xyxy",
    "decimals_for_frame",
    "draw_boxes",
    "final_answer",
    "format_boxes",
    "frame_size",
    "model_input_size",
    "l1_scale",
    "pair_terms",
    "pairwise_giou",
    "pairwise_terms",
    "pairwise_iou",
    "pairwise_l1",
    "parse_boxes",
    "pixel_limits",
    "polygon_to_xyxy",
    "resize_boxes",
    "xywh_to_xyxy",
    "xyxy_to_xywh",
]
