# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""MedMO processor: Qwen3-VL's processor, image-only when torchvision is absent.

Qwen3-VL's stock processor refuses to build without a video processor, and the video processor
needs torchvision. MedMO is an image model first (radiographs, CT slices, pathology tiles), so
this processor drops the video part when torchvision is missing and keeps it when present.
Like the stock processor it returns `mm_token_type_ids` on transformers 5.x, whose forward
needs them with images; 4.57's `generate` rejects them, so there they stay opt-in
(`return_mm_token_type_ids=True`).
"""

from transformers import Qwen3VLProcessor
from transformers.utils import is_torchvision_available


def _video_supported() -> bool:
    return is_torchvision_available()


class MedMOProcessor(Qwen3VLProcessor):
    r"""
    Turns chat messages with images into model inputs for MedMO.

    Args:
        image_processor ([`Qwen2VLImageProcessor`]): resizes each image so that its pixel count
            lies within `min_pixels` / `max_pixels` (saved in the image processor's config), in
            multiples of `patch_size * merge_size`.
        tokenizer ([`Qwen2Tokenizer`]): the Qwen3 tokenizer with Qwen3-VL's special tokens.
        video_processor (*optional*): Qwen3-VL's video processor; left out when torchvision is
            not installed.
        chat_template (`str`, *optional*): the Qwen3-VL chat template (`chat_template.jinja`).

    Example:

    ```python
    >>> from transformers import AutoProcessor
    >>> processor = AutoProcessor.from_pretrained("genmilab/MedMO-8B", trust_remote_code=True)
    >>> messages = [{"role": "user", "content": [
    ...     {"type": "image", "image": "chest_xray.png"},
    ...     {"type": "text", "text": "Describe the findings."}]}]
    >>> inputs = processor.apply_chat_template(
    ...     messages, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt")
    ```
    """

    # transformers 4.57 reads the sub-processors from this list; 5.x from `get_attributes()`.
    attributes = ["image_processor", "tokenizer"] + (["video_processor"] if _video_supported() else [])

    def __init__(self, image_processor=None, tokenizer=None, video_processor=None, chat_template=None, **kwargs):
        super().__init__(image_processor, tokenizer, video_processor, chat_template=chat_template, **kwargs)

    @classmethod
    def get_attributes(cls):
        attributes = super().get_attributes()
        return attributes if _video_supported() else [name for name in attributes if name != "video_processor"]


# `save_pretrained` then writes this file and its `auto_map` entry next to the weights.
MedMOProcessor.register_for_auto_class()

__all__ = ["MedMOProcessor"]
