# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""MedMO models: Qwen3-VL's modules under the MedMO configuration.

Nothing of Qwen3-VL is re-implemented here: these classes only bind the Qwen3-VL modules to
`MedMOConfig`, so published MedMO (Qwen3-VL-format) weights load with identical tensor names
and give bit-identical logits, and every transformers release that improves Qwen3-VL improves
MedMO with it.
"""

import inspect

from transformers import Qwen3VLForConditionalGeneration, Qwen3VLModel
from transformers.models.qwen3_vl.modeling_qwen3_vl import Qwen3VLPreTrainedModel

from .configuration_medmo import MedMOConfig


class MedMOPreTrainedModel(Qwen3VLPreTrainedModel):
    config_class = MedMOConfig

    def save_pretrained(self, save_directory, *args, **kwargs):
        """Save as usual, always with the code files and `auto_map` that let the Hub copy load.

        Overridden because the alternative, registering the classes for their Auto class at import,
        makes transformers treat every MedMO model as remote code, which re-inspects `forward` at
        each generation step (measured: 2-3% slower `generate` on small models).
        """
        model_class = type(self)
        registered = model_class._auto_class
        model_class._auto_class = registered or _AUTO_CLASS.get(model_class.__name__, "AutoModel")
        try:
            return super().save_pretrained(save_directory, *args, **kwargs)
        finally:
            model_class._auto_class = registered


class MedMOModel(MedMOPreTrainedModel, Qwen3VLModel):
    """The MedMO backbone (vision tower, merger and language model) without the language-modeling head."""

    config_class = MedMOConfig


class MedMOForConditionalGeneration(MedMOPreTrainedModel, Qwen3VLForConditionalGeneration):
    """MedMO for image(s) + text -> text: VQA, reports and grounding with boxes.

    Example:

    ```python
    >>> from transformers import AutoModelForImageTextToText, AutoProcessor
    >>> model = AutoModelForImageTextToText.from_pretrained("genmilab/MedMO-8B", trust_remote_code=True)
    >>> processor = AutoProcessor.from_pretrained("genmilab/MedMO-8B", trust_remote_code=True)
    ```
    """

    config_class = MedMOConfig
    # Qwen3-VL opts out, so the Trainer averages per-device (and per-micro-batch) means, which
    # weights tokens unevenly under data parallelism and gradient accumulation. Its forward does
    # pass `num_items_in_batch` to the loss, so MedMO opts in: every assistant token counts once.
    accepts_loss_kwargs = True

    def prepare_inputs_for_generation(self, *args, image_sizes=None, **kwargs):
        """Qwen3-VL's, also taking the `image_sizes` MedMO's processor returns (the original image
        sizes, for `post_process_grounding`), so that `generate(**inputs)` accepts them. Overridden
        because generate refuses inputs this method does not name; the model does not use them."""
        return super().prepare_inputs_for_generation(*args, **kwargs)


def _with_image_sizes(signature: inspect.Signature) -> inspect.Signature:
    """`signature` with a keyword-only `image_sizes=None` before its `**kwargs`: what generate
    inspects, so that every input Qwen3-VL names stays accepted."""
    parameters = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    extra = inspect.Parameter("image_sizes", inspect.Parameter.KEYWORD_ONLY, default=None)
    rest = [p for p in signature.parameters.values() if p.kind is inspect.Parameter.VAR_KEYWORD]
    return signature.replace(parameters=[*parameters, extra, *rest])


MedMOForConditionalGeneration.prepare_inputs_for_generation.__signature__ = _with_image_sizes(
    inspect.signature(Qwen3VLForConditionalGeneration.prepare_inputs_for_generation)
)

_AUTO_CLASS = {"MedMOForConditionalGeneration": "AutoModelForImageTextToText", "MedMOModel": "AutoModel"}

__all__ = ["MedMOPreTrainedModel", "MedMOModel", "MedMOForConditionalGeneration"]
