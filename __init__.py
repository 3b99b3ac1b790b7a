# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""MedMO: a medical multimodal LLM on the Qwen3-VL architecture.

Importing `medmo` registers the MedMO classes with the transformers Auto APIs, so a MedMO folder
or Hub repository loads without `trust_remote_code`:

>>> import medmo  # noqa: F401
>>> from transformers import AutoModelForImageTextToText
>>> model = AutoModelForImageTextToText.from_pretrained("path/to/MedMO-8B")

The import is light: the configuration is registered as it is, the model and processor classes
through stand-ins that import them on first use, so `import medmo.boxes` (or any tool module) does
not load the modeling code. `medmo.MedMOForConditionalGeneration` and the other public classes
are imported when first named.
"""

import importlib


__version__ = "0.1.0"

# Public names -> the module that defines them, imported on first access (PEP 562).
_LAZY = {
    "PRESETS": "configuration_medmo",
    "MedMOConfig": "configuration_medmo",
    "MedMOForConditionalGeneration": "modeling_medmo",
    "MedMOModel": "modeling_medmo",
    "MedMOPreTrainedModel": "modeling_medmo",
    "MedMOProcessor": "processing_medmo",
}
# Auto class -> the MedMO class registered for it, and its module.
_AUTO_CLASSES = {
    "AutoModel": ("modeling_medmo", "MedMOModel"),
    "AutoModelForImageTextToText": ("modeling_medmo", "MedMOForConditionalGeneration"),
    "AutoModelForVision2Seq": ("modeling_medmo", "MedMOForConditionalGeneration"),  # transformers 4.57; gone in 5.x
    "AutoProcessor": ("processing_medmo", "MedMOProcessor"),
}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'medmo' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


class _Deferred(type):
    """Metaclass of the stand-ins registered with the Auto classes: any attribute asked of a
    stand-in (`from_pretrained`, `from_config`, ...) comes from the real class, imported then; the
    stand-in also registers the real class in its place, so later lookups get it directly."""

    def __getattr__(cls, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        real = cls._resolve()
        return getattr(real, name)


def _stand_in(module: str, name: str, config_class):
    def resolve(stand_in):
        real = getattr(importlib.import_module(f".{module}", __name__), name)
        import transformers

        for auto_name, (auto_module, auto_class) in _AUTO_CLASSES.items():
            if (auto_module, auto_class) == (module, name) and hasattr(transformers, auto_name):
                getattr(transformers, auto_name).register(config_class, real, exist_ok=True)
        return real

    # `config_class` lets AutoModel.register check the pair without importing the model; the name
    # and module are what transformers reads (the name matches `architectures`, the module tells
    # it the class is local code, not the Hub's).
    return _Deferred(name, (), {"config_class": config_class, "__module__": f"{__name__}.{module}", "_resolve": classmethod(resolve)})


def _register_auto_classes() -> None:
    import transformers

    from .configuration_medmo import MedMOConfig

    transformers.AutoConfig.register(MedMOConfig.model_type, MedMOConfig, exist_ok=True)
    stand_ins = {}
    for auto_name, (module, name) in _AUTO_CLASSES.items():
        if hasattr(transformers, auto_name):
            stand_in = stand_ins.setdefault((module, name), _stand_in(module, name, MedMOConfig))
            getattr(transformers, auto_name).register(MedMOConfig, stand_in, exist_ok=True)


_register_auto_classes()

__all__ = ["PRESETS", "MedMOConfig", "MedMOForConditionalGeneration", "MedMOModel", "MedMOPreTrainedModel", "MedMOProcessor"]
