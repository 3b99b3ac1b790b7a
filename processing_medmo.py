# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""MedMO processor: Qwen3-VL's processor with medical image inputs and grounded outputs.

On top of the stock processor it

- reads DICOM, NIfTI volumes, 16-bit and palette images and arrays wherever an image goes (the
  processor call and chat messages), through `medical_images.py`;
- turns box text in model outputs into boxes in the original image's pixels
  (`post_process_grounding`), and boxes into training targets (`format_boxes`), through
  `boxes.py`, in the frame this checkpoint speaks (`box_format`, saved with the processor);
- drops the video processor when torchvision is absent (Qwen3-VL's stock processor refuses to
  build without it), so MedMO runs image-only without torchvision.

Like the stock processor it returns `mm_token_type_ids` on transformers 5.x, whose forward needs
them with images; 4.57's `generate` rejects them, so there they stay opt-in
(`return_mm_token_type_ids=True`). With images it also returns `image_sizes`: the original
`(width, height)` of every image, in order, which `post_process_grounding` takes as it is (the
MedMO model accepts and ignores the key, so `model.generate(**inputs)` still works).
"""

import copy

from transformers import Qwen3VLProcessor
from transformers.utils import is_torchvision_available

from .boxes import FRAMES, boxes_in_original_pixels, convert_boxes, decimals_for_frame, draw_boxes, format_boxes, frame_size, model_input_size
from .medical_images import load_image, load_volume_slices


DEFAULT_BOX_FORMAT = "model_pixels"
# Keys of a chat-message image item that configure how a medical file is read.
IMAGE_OPTIONS = ("window", "frame")
VOLUME_OPTIONS = ("axis", "slices", "num_slices", "window")


def _video_supported() -> bool:
    return is_torchvision_available()


def _map_images(images, function):
    """Apply `function` to every image of a possibly nested (per-sample) list."""
    if isinstance(images, (list, tuple)):
        return [_map_images(item, function) for item in images]
    return function(images)


def _like(reference, sizes: list[list[int]]):
    """`sizes` as the same kind of container as `reference` (the `image_grid_thw` the call returned:
    a torch tensor, a numpy array or a list, following `return_tensors`)."""
    if type(reference).__module__.startswith("torch"):
        import torch

        return torch.tensor(sizes, dtype=torch.long).reshape(-1, 2)
    if type(reference).__module__.startswith("numpy"):
        import numpy as np

        return np.asarray(sizes, dtype=np.int64).reshape(-1, 2)
    return sizes


def _flat(images) -> list:
    """The images of a possibly nested (per-sample) list, in order."""
    if isinstance(images, (list, tuple)):
        return [image for item in images for image in _flat(item)]
    return [images]


class MedMOProcessor(Qwen3VLProcessor):
    r"""
    Turns chat messages with medical images into model inputs for MedMO, and its answers into boxes.

    Args:
        image_processor ([`Qwen2VLImageProcessor`]): resizes each image so that its pixel count
            lies within `min_pixels` / `max_pixels` (saved in the image processor's config), in
            multiples of `patch_size * merge_size`.
        tokenizer ([`Qwen2Tokenizer`]): the Qwen3 tokenizer with Qwen3-VL's special tokens.
        video_processor (*optional*): Qwen3-VL's video processor; left out when torchvision is
            not installed.
        chat_template (`str`, *optional*): the Qwen3-VL chat template (`chat_template.jinja`).
        box_format (`str`, *optional*, defaults to `"model_pixels"`): the frame this checkpoint
            writes boxes in: `"model_pixels"` (pixels of the resized model input, as the published
            MedMO checkpoints were trained), `"grid_1000"` (Qwen3-VL's 0..1000 grid) or
            `"original_pixels"`.

    Example:

    ```python
    >>> from transformers import AutoProcessor
    >>> processor = AutoProcessor.from_pretrained("genmilab/MedMO-8B", trust_remote_code=True)
    >>> image = processor.load_image("chest.dcm")  # DICOM -> RGB, windowed from the file's tags
    >>> messages = [{"role": "user", "content": [
    ...     {"type": "image", "image": image},
    ...     {"type": "text", "text": "Detect any abnormalities and give their boxes."}]}]
    >>> inputs = processor.apply_chat_template(
    ...     messages, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt")
    >>> # ... output = model.generate(**inputs); texts = processor.batch_decode(...)
    >>> processor.post_process_grounding(["Nodule <box>[[120, 80, 160, 130]]</box>"], inputs["image_sizes"])
    ```
    """

    # transformers 4.57 reads the sub-processors from this list; 5.x from `get_attributes()`.
    attributes = ["image_processor", "tokenizer"] + (["video_processor"] if _video_supported() else [])

    def __init__(
        self,
        image_processor=None,
        tokenizer=None,
        video_processor=None,
        chat_template=None,
        box_format=DEFAULT_BOX_FORMAT,
        **kwargs,
    ):
        if box_format not in FRAMES:
            raise ValueError(f"box_format must be one of {FRAMES}, got {box_format!r}.")
        self.box_format = box_format
        super().__init__(image_processor, tokenizer, video_processor, chat_template=chat_template, **kwargs)
        # Batches pad on the left, as generation needs. It also keeps `mm_token_type_ids` aligned
        # with prompts that TRL's GRPOTrainer left-pads itself: with right padding the two disagree
        # for prompts of different lengths and M-RoPE positions break.
        if tokenizer is not None:
            tokenizer.padding_side = "left"

    @classmethod
    def get_attributes(cls):
        attributes = super().get_attributes()
        return attributes if _video_supported() else [name for name in attributes if name != "video_processor"]

    # ------------------------------------------------------------------ inputs

    @staticmethod
    def load_image(source, window=None, frame=None, **kwargs):
        """Any supported image (path, DICOM dataset, array, PIL) as RGB 8-bit at its original size.

        `window`: `None` (the file's window tags, else min..max), a CT preset (`"lung"`,
        `"mediastinum"`, `"abdomen"`, `"liver"`, `"bone"`, `"brain"`) or `(center, width)`.
        """
        return load_image(source, window=window, frame=frame, **kwargs)

    @staticmethod
    def volume_content(source, axis="axial", slices=None, num_slices=None, window=None) -> list[dict]:
        """Chat content items for a volume: each chosen slice as an image, preceded by its number.

        `source` is a NIfTI file, a multi-frame DICOM or a folder of DICOM slices; the volume is
        reoriented to RAS+ and shown radiologically (see `medical_images.load_volume_slices`).
        """
        items = []
        for index, image in load_volume_slices(source, axis=axis, slices=slices, num_slices=num_slices, window=window):
            items.append({"type": "text", "text": f"{axis.capitalize()} slice {index}:"})
            items.append({"type": "image", "image": image})
        return items

    def _expand_content(self, content):
        if not isinstance(content, list):
            return content
        expanded = []
        for item in content:
            if not isinstance(item, dict):
                expanded.append(item)
            elif item.get("type") == "volume" or "volume" in item:
                options = {key: item[key] for key in VOLUME_OPTIONS if key in item}
                expanded.extend(self.volume_content(item["volume"], **options))
            elif item.get("type") == "image" and ("image" in item or "path" in item):
                options = {key: item[key] for key in IMAGE_OPTIONS if key in item}
                source = item["image"] if "image" in item else item["path"]
                expanded.append({"type": "image", "image": self.load_image(source, **options)})
            else:
                expanded.append(item)
        return expanded

    def load_conversation_images(self, conversation):
        """A copy of `conversation` (or a batch of them) with every image item read into RGB and
        every volume item expanded into slices."""
        conversation = copy.copy(conversation)
        if conversation and isinstance(conversation[0], (list, tuple)):
            return [self.load_conversation_images(single) for single in conversation]
        return [
            {**message, "content": self._expand_content(message.get("content"))} if isinstance(message, dict) else message
            for message in conversation
        ]

    def apply_chat_template(self, conversation, chat_template=None, **kwargs):
        """Qwen3-VL's `apply_chat_template`, after reading medical images in the messages.

        Image items may name DICOM files and carry reading options
        (`{"type": "image", "image": "scan.dcm", "window": "lung"}`); volume items
        (`{"type": "volume", "volume": "ct.nii.gz", "num_slices": 8, "axis": "axial"}`) become
        several images with their slice numbers in the text.
        """
        return super().apply_chat_template(self.load_conversation_images(conversation), chat_template, **kwargs)

    def __call__(self, images=None, text=None, videos=None, **kwargs):
        """Qwen3-VL's processor call, after reading medical images, plus `image_sizes`: the original
        `(width, height)` of each image in order (a `(N, 2)` tensor with `return_tensors="pt"`)."""
        if images is None:
            return super().__call__(images=images, text=text, videos=videos, **kwargs)
        images = _map_images(images, self.load_image)
        inputs = super().__call__(images=images, text=text, videos=videos, **kwargs)
        sizes = [list(image.size) for image in _flat(images)]
        inputs["image_sizes"] = _like(inputs.get("image_grid_thw"), sizes)
        return inputs

    # ------------------------------------------------------------------ outputs

    def model_input_size(self, image_size) -> tuple[int, int]:
        """The `(width, height)` this processor resizes an image of `image_size` to."""
        return model_input_size(image_size, self.image_processor)

    def frame_size(self, image_size, box_format: str | None = None) -> tuple[float, float]:
        """The `(width, height)` of the frame this checkpoint writes boxes in, for an image of
        original size `image_size` (`boxes.frame_size` with this processor's resize)."""
        return frame_size(box_format or self.box_format, image_size, image_processor=self.image_processor)

    def post_process_grounding(self, texts, image_sizes, box_format: str | None = None) -> list[list[dict]]:
        """Boxes in each generated text, in pixels of the original image.

        Args:
            texts: one generated string per image (or token ids, decoded here).
            image_sizes: the original `(width, height)` of the image each text talks about: the
                `image_sizes` the processor call returned (one image per prompt), or `image.size`
                of each loaded image.
            box_format: the frame the texts use; defaults to this processor's `box_format`.

        Returns:
            Per text, a list of `{"label": str | None, "box": [x1, y1, x2, y2]}` with float
            coordinates clipped to the image and x1 <= x2, y1 <= y2.
        """
        if isinstance(texts, str):
            texts = [texts]
        elif not all(isinstance(text, str) for text in texts):  # token ids
            texts = self.batch_decode(texts, skip_special_tokens=True)
        frame = box_format or self.box_format
        if hasattr(image_sizes, "tolist"):  # the processor's tensor or array
            image_sizes = image_sizes.tolist()
        if len(image_sizes) != len(texts):
            raise ValueError(f"Got {len(texts)} texts but {len(image_sizes)} image sizes; pass one size per text.")
        results = []
        for text, size in zip(texts, image_sizes):
            results.append(boxes_in_original_pixels(text, frame, size, self.image_processor))
        return results

    def format_boxes(self, boxes, image_size, style: str | None = None, box_format: str | None = None) -> str:
        """Training-target text for `{"label", "box"}` items given in original-image pixels.

        The exact inverse of `post_process_grounding`: boxes are moved into this checkpoint's frame
        and written with as few decimals as keep the round trip within 1 pixel (integers unless
        the frame is much coarser than the image). `style` defaults to MedMO's
        `Label <box>[[...]]</box>` (Qwen3-VL's JSON for the `grid_1000` frame).
        """
        frame = box_format or self.box_format
        items = list(boxes)
        model_size = self.model_input_size(image_size) if frame == "model_pixels" else None
        converted = convert_boxes([item["box"] for item in items], "original_pixels", frame, image_size, model_size)
        decimals = decimals_for_frame(frame, image_size, model_size)
        style = style or ("qwen_json" if frame == "grid_1000" else "medmo")
        items = [{"label": item.get("label"), "box": box} for item, box in zip(items, converted)]
        return format_boxes(items, style=style, decimals=decimals)

    @staticmethod
    def draw_boxes(image, boxes, **kwargs):
        """`image` with `boxes` (from `post_process_grounding`) drawn on it, for people to look at."""
        return draw_boxes(image, boxes, **kwargs)


# `save_pretrained` then writes this file and its `auto_map` entry next to the processor files.
MedMOProcessor.register_for_auto_class()

__all__ = ["MedMOProcessor"]
