# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""MedMO models: Qwen3-VL's modules under the MedMO configuration.

Nothing of Qwen3-VL is re-implemented here: these classes only bind the Qwen3-VL modules to
`MedMOConfig`, so published MedMO (Qwen3-VL-format) weights load with identical tensor names
and give bit-identical logits, and every transformers release that improves Qwen3-VL improves
MedMO with it.

The one addition is optional: with `config.aux_vision` set, `MedMOModel` also holds auxiliary
vision encoders whose projected features are added to the image tokens (`aux_vision_medmo.py`).
Without it (the default, and every published checkpoint) the model is exactly Qwen3-VL's.
"""

import inspect

import transformers
from transformers import Qwen3VLForConditionalGeneration, Qwen3VLModel
from transformers.models.qwen3_vl.modeling_qwen3_vl import Qwen3VLPreTrainedModel

from .aux_vision_medmo import MedMOAuxVision, ZeroInitLinear
from .configuration_medmo import MedMOConfig


try:  # transformers 5.x: init functions that leave loaded weights alone
    from transformers import initialization as init
except ImportError:  # 4.57 only initialises modules whose weights were not loaded
    from torch.nn import init

TRANSFORMERS_MAJOR = int(transformers.__version__.split(".")[0])


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

    def _init_weights(self, module):
        """Qwen3-VL's initialisation, except that an auxiliary projector's output layer starts at zero."""
        if isinstance(module, ZeroInitLinear):
            init.zeros_(module.weight)
            init.zeros_(module.bias)
        else:
            super()._init_weights(module)


class MedMOModel(MedMOPreTrainedModel, Qwen3VLModel):
    """The MedMO backbone (vision tower, merger and language model) without the language-modeling head,
    plus the auxiliary vision encoders when `config.aux_vision` names any (`aux_vision` is `None` otherwise)."""

    config_class = MedMOConfig

    def __init__(self, config: MedMOConfig):
        super().__init__(config)
        settings = getattr(config, "aux_vision", None)
        self.aux_vision = MedMOAuxVision(settings, config.vision_config) if settings else None
        if self.aux_vision is not None:
            self.post_init()  # Qwen3VLModel.__init__ initialised the weights before this module existed

    def get_image_features(self, pixel_values, image_grid_thw=None, **kwargs):
        """Qwen3-VL's image tokens, with the auxiliary encoders' projected features added when configured.

        Overridden because every route to the image tokens passes here: `forward`, video frames, and
        in transformers 5.x `generate`, which encodes the images once before the first step (and before
        beam expansion). 4.57 returns `(per-image embeddings, DeepStack features)`, 5.x a model output
        whose `pooler_output` holds the per-image embeddings; DeepStack features are left as they are.
        """
        if self.aux_vision is None:
            return super().get_image_features(pixel_values, image_grid_thw, **kwargs)
        if TRANSFORMERS_MAJOR < 5:
            embeddings, deepstack = super().get_image_features(pixel_values, image_grid_thw)
            return self._add_aux_features(embeddings, pixel_values, image_grid_thw), deepstack
        return_dict = kwargs.pop("return_dict", None)
        output = super().get_image_features(pixel_values, image_grid_thw, return_dict=True, **kwargs)
        output.pooler_output = self._add_aux_features(output.pooler_output, pixel_values, image_grid_thw)
        return output if (self.config.return_dict if return_dict is None else return_dict) else output.to_tuple()

    def _add_aux_features(self, embeddings, pixel_values, image_grid_thw):
        added = self.aux_vision(pixel_values, image_grid_thw)
        return tuple(embedding + extra.to(embedding.dtype) for embedding, extra in zip(embeddings, added))


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

    def __init__(self, config: MedMOConfig):
        super().__init__(config)
        if getattr(config, "aux_vision", None):
            # Qwen3VLForConditionalGeneration.__init__ builds a plain Qwen3VLModel; the auxiliary encoders
            # live in MedMOModel. (Under `from_pretrained` both are built on the meta device: no cost.)
            self.model = MedMOModel(config)
            self.post_init()

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
