# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""A client for a served MedMO (`medmo serve` or `vllm serve`): send a DICOM, NIfTI slice or PNG
with the `openai` package, get the answer and its boxes in the original image's pixels.

>>> from medmo.inference.client import MedMOClient
>>> client = MedMOClient("http://127.0.0.1:8000/v1")           # medmo serve: box settings from the server
>>> result = client.ground("chest.dcm")                          # doctest: +SKIP
>>> result.boxes                                                 # [{"label": "Nodule", "box": [x1, y1, x2, y2]}] in chest.dcm's pixels
>>> client = MedMOClient("http://gpu:8000/v1", processor="path/to/medmo-repo")  # vllm serve: settings from the repository

Images are read here with MedMO's readers (DICOM windowing, NIfTI slices) and sent as PNG data URLs,
which every OpenAI-compatible server takes; `send="dicom"` sends a DICOM file's own bytes instead
(`medmo serve` reads them with its processor, windowed by the file's tags). Boxes are mapped back
with the served processor's settings (`box_format`, patch and merge size, pixel limits): fetched
from `medmo serve`'s `/v1/medmo/box-frame`, or read from the repository folder given as `processor`.
"""

import base64
import io
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

from medmo.boxes import boxes_in_original_pixels, pixel_limits


@dataclass(frozen=True)
class BoxFrame:
    """The processor settings that place a reply's boxes: the frame the model writes and how the
    processor resizes images."""

    box_format: str
    patch_size: int
    merge_size: int
    min_pixels: int
    max_pixels: int

    @classmethod
    def from_processor(cls, processor) -> "BoxFrame":
        image_processor = processor.image_processor
        low, high = pixel_limits(image_processor)
        return cls(processor.box_format, int(image_processor.patch_size), int(image_processor.merge_size), low, high)

    def to_original(self, text: str, image_size) -> list[dict]:
        """Boxes in `text` as `{"label", "box"}` in pixels of an original image of `image_size`,
        exactly as `MedMOProcessor.post_process_grounding` computes them."""
        settings = SimpleNamespace(patch_size=self.patch_size, merge_size=self.merge_size,
                                   size={"shortest_edge": self.min_pixels, "longest_edge": self.max_pixels})  # fmt: skip
        return boxes_in_original_pixels(text, self.box_format, image_size, settings)


@dataclass
class Result:
    text: str
    boxes: list[dict]  # in pixels of the original image
    image_size: tuple[int, int]
    response: object = field(repr=False, default=None)


def _is_volume(source) -> bool:
    if not isinstance(source, (str, Path)):
        return False
    path = Path(source)
    return path.is_dir() or path.name.lower().endswith((".nii", ".nii.gz"))


def image_part(source, window=None, frame=None, send: str = "png", axis: str = "axial", slice_index: int | None = None) -> tuple[dict, tuple[int, int]]:
    """An `image_url` content part for `source` and the original `(width, height)` its boxes refer to.

    `source` is a path to a PNG / JPEG / DICOM file, a PIL image or an array, or a volume (a NIfTI
    file or a DICOM series folder), of which one slice is sent: `slice_index` along `axis`
    (default: the middle one), shown as `medmo predict` and chat messages show it.
    """
    from medmo.medical_images import load_image, load_volume_slices

    if _is_volume(source):
        if send != "png":
            raise ValueError('A volume is sent as one rendered slice: use send="png".')
        ((_, image),) = load_volume_slices(source, axis=axis, slices=None if slice_index is None else [slice_index], window=window)
    else:
        image = load_image(source, window=window, frame=frame)
    if send == "dicom":
        if window is not None or frame is not None or not isinstance(source, (str, Path)):
            raise ValueError('send="dicom" sends the file as it is: pass a DICOM path without window/frame (or use send="png").')
        data, media_type = Path(source).read_bytes(), "application/dicom"
    elif send == "png":
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        data, media_type = buffer.getvalue(), "image/png"
    else:
        raise ValueError(f'send must be "png" or "dicom", got {send!r}.')
    url = f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"
    return {"type": "image_url", "image_url": {"url": url}}, image.size


class MedMOClient:
    """Chat with a served MedMO through the `openai` package, boxes mapped to original pixels.

    Args:
        base_url: the server's OpenAI base URL, e.g. `http://127.0.0.1:8000/v1`.
        model: the served model name (default: the first one `/v1/models` lists).
        processor: a MedMO repository folder (or a loaded processor) whose settings place the boxes;
            by default they are fetched from `medmo serve`'s `/v1/medmo/box-frame`.
        api_key: sent as the bearer token (neither `medmo serve` nor a default `vllm serve` checks it).
    """

    def __init__(self, base_url: str = "http://127.0.0.1:8000/v1", model: str | None = None, processor=None, api_key: str = "unused",
                 timeout: float = 600.0):  # fmt: skip
        try:
            from openai import OpenAI
        except ImportError as error:
            raise ImportError('The MedMO client needs the openai package: pip install openai (or pip install "medmo[client]").') from error
        self.base_url = base_url.rstrip("/")
        self.openai = OpenAI(base_url=self.base_url, api_key=api_key, timeout=timeout)
        self.model = model or self.openai.models.list().data[0].id
        self.frame = self._box_frame(processor)

    def _box_frame(self, processor) -> BoxFrame:
        if processor is None:
            import json
            import urllib.request

            with urllib.request.urlopen(f"{self.base_url}/medmo/box-frame", timeout=30) as response:
                settings = json.loads(response.read())
            return BoxFrame(**{key: settings[key] for key in BoxFrame.__dataclass_fields__})
        if isinstance(processor, (str, Path)):
            from medmo.loading import load_processor

            processor = load_processor(str(processor))
        return BoxFrame.from_processor(processor)

    def ask(self, source, prompt: str, window=None, frame=None, send: str = "png", axis: str = "axial", slice_index: int | None = None,
            max_tokens: int = 256, **request) -> Result:  # fmt: skip
        """One image (or volume slice, see `image_part`) and one instruction; the reply's text, and
        its boxes in pixels of the original image (of the slice, for volumes)."""
        part, size = image_part(source, window=window, frame=frame, send=send, axis=axis, slice_index=slice_index)
        messages = [{"role": "user", "content": [part, {"type": "text", "text": prompt}]}]
        response = self.openai.chat.completions.create(model=self.model, messages=messages, max_tokens=max_tokens,
                                                       temperature=request.pop("temperature", 0.0), **request)  # fmt: skip
        text = response.choices[0].message.content or ""
        return Result(text, self.frame.to_original(text, size), size, response)

    def ground(self, source, prompt: str | None = None, **options) -> Result:
        """Findings with boxes, asked with MedMO's grounding prompt unless `prompt` is given."""
        from medmo.clinical.prompts import evaluation_prompt

        return self.ask(source, prompt or evaluation_prompt("grounding"), **options)


__all__ = ["BoxFrame", "MedMOClient", "Result", "image_part"]
