# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Attach a pretrained auxiliary vision encoder to a MedMO repository (stage i of the MedMO paper).

    medmo attach-aux path/to/medmo-8b path/to/rad-dino path/to/medmo-8b-raddino

The output is a MedMO repository whose `config.json` carries `aux_vision` (the encoder's config,
input size and normalisation, and the MedMO processor's normalisation) and whose weights are the
source's shards, hard-linked and never loaded, plus one new shard with the encoder's weights and a
fresh projector whose output layer is zero. The model it loads gives the same outputs as the source
until the projector is trained (`training/recipes/*/stage1_aux_align.yaml`).
"""

import json
import tempfile
from pathlib import Path

import torch

from .checkpoint import (
    REMOTE_CODE_FILES,
    SINGLE_WEIGHTS,
    WEIGHT_INDEX,
    CheckpointError,
    _atomic_output,
    _check_model_type,
    _copy_side_files,
    _link_or_copy,
    _read_json,
    copy_code_files,
    medmo_config_dict,
    weight_files,
    write_config,
)


# The name a single-file source's weights get beside the new shard (see `attach_aux_encoder`).
BASE_SHARD = "model-base.safetensors"
_SAFETENSORS_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64}


def _image_processor_settings(folder: Path) -> dict:
    """The image processor's settings saved in `folder` (transformers 4.57 writes
    `preprocessor_config.json`, 5.x nests them in `processor_config.json`); empty when absent."""
    if (folder / "preprocessor_config.json").is_file():
        return _read_json(folder / "preprocessor_config.json")
    if (folder / "processor_config.json").is_file():
        return _read_json(folder / "processor_config.json").get("image_processor") or {}
    return {}


def _normalisation(settings: dict, where: Path) -> tuple[list[float], list[float]] | None:
    """(mean, std) that map [0, 1] pixels to what the model expects, or None if the file says nothing."""
    if settings.get("do_rescale", True) and abs(float(settings.get("rescale_factor", 1 / 255)) - 1 / 255) > 1e-9:
        raise CheckpointError(f"{where} rescales pixels by {settings['rescale_factor']}, not 1/255; MedMO only "
                              "supports encoders that read [0, 1] pixels. Pass image_mean / image_std in those units.")  # fmt: skip
    if settings.get("do_normalize") is False:
        return [0.0] * 3, [1.0] * 3
    if "image_mean" not in settings or "image_std" not in settings:
        return None
    mean, std = settings["image_mean"], settings["image_std"]
    expand = lambda value: [float(value)] * 3 if isinstance(value, (int, float)) else [float(v) for v in value]  # noqa: E731
    return expand(mean), expand(std)


def _input_size(settings: dict) -> int | None:
    """The square side the encoder's own processor feeds it: the crop if it crops, else the resize."""
    for key in (("crop_size",) if settings.get("do_center_crop") else ()) + ("size",):
        size = settings.get(key)
        if isinstance(size, int):
            return size
        if isinstance(size, dict):
            if size.get("height") and size.get("height") == size.get("width"):
                return int(size["height"])
            if size.get("shortest_edge"):
                return int(size["shortest_edge"])
    return None


def encoder_settings(encoder_folder: str | Path, image_size: int | None = None, feature_layer: int | None = None,
                     image_mean: list[float] | None = None, image_std: list[float] | None = None) -> tuple[dict, dict]:  # fmt: skip
    """One `aux_vision` encoder entry for a local pretrained encoder folder, and the encoder's weights.

    The input size and normalisation come from the folder's image-processor file unless given. The
    folder must hold a vision model transformers' `AutoModel` loads (DINOv2 / RAD-DINO, a SigLIP or
    CLIP vision tower, ViT); for a dual text-image model, save its vision tower first. The weights
    are returned with the tensor names this transformers version saves the encoder's class under.
    """
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModel

    from .aux_vision_medmo import build_encoder
    from .configuration_medmo import aux_vision_settings

    folder = Path(encoder_folder)
    if not (folder / "config.json").is_file():
        raise CheckpointError(f"{folder} has no config.json; pass a folder saved with `save_pretrained` (e.g. a downloaded RAD-DINO).")
    config = AutoConfig.from_pretrained(folder, local_files_only=True)
    processor_settings = _image_processor_settings(folder)
    normalisation = _normalisation(processor_settings, folder)
    if image_mean is not None or image_std is not None:
        normalisation = (image_mean, image_std)
    if normalisation is None:
        raise CheckpointError(f"{folder} has no image processor file with image_mean / image_std; pass them "
                              "(--image-mean / --image-std), as the encoder's model card gives them.")  # fmt: skip
    spec = {"config": config, "image_mean": normalisation[0], "image_std": normalisation[1], "feature_layer": feature_layer}
    size = image_size or _input_size(processor_settings)
    if size:
        spec["image_size"] = size
    try:
        settings = aux_vision_settings([spec])["encoders"][0]
    except ValueError as error:
        raise CheckpointError(f"{folder}: {error}") from None
    pretrained, loading = AutoModel.from_pretrained(folder, local_files_only=True, dtype=torch.float32, output_loading_info=True)
    if loading["missing_keys"]:
        raise CheckpointError(f"{folder} lacks weights of its {type(pretrained).__name__}: {sorted(loading['missing_keys'])[:5]}.")
    # MedMO builds the same class from `settings`; its weights are stored as this transformers version
    # saves that class (5.x renames some tensors on save and back on load, per model class).
    with torch.device("meta"):
        built = build_encoder(settings)
    if type(built) is not type(pretrained):
        raise CheckpointError(f"{folder} loads as {type(pretrained).__name__}, but its config builds another class; "
                              "save the encoder's base model (e.g. Dinov2Model) first.")  # fmt: skip
    with tempfile.TemporaryDirectory() as saved:
        pretrained.save_pretrained(saved, safe_serialization=True)
        weights = {}
        for shard in weight_files(Path(saved))[0]:
            weights.update(load_file(str(Path(saved) / shard)))
    return settings, weights


def _fresh_projector(in_features: int, out_features: int, std: float, seed: int) -> dict[str, torch.Tensor]:
    """A projector initialised as MedMO initialises one (normal(std) first layer, zero output layer)."""
    from .aux_vision_medmo import AuxProjector

    generator = torch.Generator().manual_seed(seed)
    projector = AuxProjector(in_features, out_features)
    with torch.no_grad():
        projector.linear_fc1.weight.normal_(0.0, std, generator=generator)
        projector.linear_fc1.bias.zero_()
    return {name: tensor.detach().clone() for name, tensor in projector.state_dict().items()}


def _tensor_index(folder: Path, weights: list[str]) -> tuple[dict[str, str], int, torch.dtype]:
    """Every tensor name -> its shard, the total byte size, and the checkpoint's floating dtype."""
    from safetensors import safe_open

    weight_map, total, dtypes = {}, 0, []
    for shard in weights:
        with safe_open(str(folder / shard), framework="pt") as handle:
            for name in handle.keys():
                piece = handle.get_slice(name)
                dtype = _SAFETENSORS_DTYPES.get(piece.get_dtype())
                weight_map[name] = shard
                if dtype is not None:
                    dtypes.append(dtype)
                    total += dtype.itemsize * int(torch.tensor(piece.get_shape()).prod())
    return weight_map, total, max(set(dtypes), key=dtypes.count) if dtypes else torch.float32


def attach_aux_encoder(model_or_folder, encoder_folder: str | Path, output_dir: str | Path, *, processor=None,
                       image_size: int | None = None, feature_layer: int | None = None, image_mean: list[float] | None = None,
                       image_std: list[float] | None = None, link: bool = True, seed: int = 0) -> Path:  # fmt: skip
    """Write a MedMO repository to `output_dir`: `model_or_folder` plus the pretrained vision encoder
    in `encoder_folder` as an auxiliary encoder, with a zero-initialised projector.

    `model_or_folder` is a MedMO repository folder (its shards are hard-linked with `link=True`, or
    copied, never loaded) or an in-memory MedMO model with its `processor`. An encoder already
    attached stays: attaching again adds a second one. `image_size`, `image_mean` / `image_std`
    override the encoder folder's image-processor file; `feature_layer` picks a hidden state
    (default: the encoder's output). The MedMO processor's normalisation is written too, so the
    model can recover pixels from `pixel_values`. Nothing is left at `output_dir` if anything fails.

    Example:

    ```python
    >>> from transformers import AutoModelForImageTextToText
    >>> attach_aux_encoder("runs/medmo-8b", "models/rad-dino", "runs/medmo-8b-raddino")
    >>> model = AutoModelForImageTextToText.from_pretrained("runs/medmo-8b-raddino", trust_remote_code=True)
    ```
    """
    if not isinstance(model_or_folder, (str, Path)):
        if processor is None:
            raise ValueError("attach_aux_encoder(model, ...) needs the model's `processor` too: the repository it writes includes it.")
        from .checkpoint import save_medmo_folder

        output_dir = Path(output_dir)
        output_dir.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=f".{output_dir.name}.source.", dir=output_dir.parent) as staging:
            save_medmo_folder(model_or_folder, processor, staging)
            return attach_aux_encoder(staging, encoder_folder, output_dir, image_size=image_size, feature_layer=feature_layer,
                                      image_mean=image_mean, image_std=image_std, link=True, seed=seed)  # fmt: skip
    source, output_dir = Path(model_or_folder), Path(output_dir)
    if not source.is_dir():
        raise CheckpointError(f"{source} is not a folder; pass a MedMO repository folder (`medmo convert` makes one).")
    config = _read_json(source / "config.json")
    _check_model_type(config, source, ("medmo",))
    weights, _ = weight_files(source)
    processor_normalisation = _normalisation(_image_processor_settings(source), source)
    if processor_normalisation is None:
        raise CheckpointError(f"{source} has no image processor settings (processor_config.json / preprocessor_config.json); "
                              "the auxiliary encoder needs the processor's normalisation. Save the processor into the folder.")  # fmt: skip
    existing = (config.get("aux_vision") or {}).get("encoders", [])
    if existing and [config["aux_vision"]["processor_image_mean"], config["aux_vision"]["processor_image_std"]] != list(processor_normalisation):
        raise CheckpointError(f"{source}/config.json's aux_vision normalisation disagrees with its processor's; fix one of them.")
    settings, encoder_weights = encoder_settings(encoder_folder, image_size, feature_layer, image_mean, image_std)
    index = len(existing)
    config["aux_vision"] = {"encoders": [*existing, settings], "processor_image_mean": processor_normalisation[0],
                            "processor_image_std": processor_normalisation[1]}  # fmt: skip
    new_config = medmo_config_dict(config)

    weight_map, total, dtype = _tensor_index(source, weights)
    hidden, std = new_config["vision_config"]["out_hidden_size"], new_config["text_config"].get("initializer_range", 0.02)
    projector = _fresh_projector(_encoder_width(settings), hidden, std, seed)
    tensors = {f"model.aux_vision.encoders.{index}.{name}": tensor for name, tensor in encoder_weights.items()}
    tensors.update({f"model.aux_vision.projectors.{index}.{name}": tensor for name, tensor in projector.items()})
    tensors = {name: (tensor.to(dtype) if tensor.is_floating_point() else tensor).contiguous() for name, tensor in tensors.items()}
    shard = f"model-aux-vision-{index}.safetensors"
    if shard in weights:
        raise CheckpointError(f"{source} already has {shard} but config.json lists {index} auxiliary encoder(s); the folder is inconsistent.")

    from safetensors.torch import save_file

    with _atomic_output(output_dir) as staging:
        _copy_side_files(source, staging, [], None, link)
        for name in weights:
            # A lone model.safetensors would shadow the index (transformers reads it first): rename it.
            target = BASE_SHARD if name == SINGLE_WEIGHTS else name
            _link_or_copy(source / name, staging / target, link)
            weight_map = {key: (target if value == name else value) for key, value in weight_map.items()}
        save_file(tensors, str(staging / shard), metadata={"format": "pt"})
        weight_map.update({name: shard for name in tensors})
        total += sum(tensor.numel() * tensor.element_size() for tensor in tensors.values())
        index_file = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
        (staging / WEIGHT_INDEX).write_text(json.dumps(index_file, indent=2) + "\n", encoding="utf-8")
        write_config(new_config, staging)
        for name in REMOTE_CODE_FILES:
            copy_code_files(name, staging)
        (staging / "README.md").write_text(_card(source, new_config, Path(encoder_folder)), encoding="utf-8")
    return output_dir


def _encoder_width(settings: dict) -> int:
    from transformers import AutoConfig

    config = dict(settings["config"])
    return AutoConfig.for_model(config.pop("model_type"), **config).hidden_size


def _card(source: Path, config: dict, encoder_folder: Path) -> str:
    """The source's model card facts, plus a section on the auxiliary encoder(s)."""
    from .model_card import CardFacts, read_card_metadata, render_card

    metadata = read_card_metadata(source / "README.md")
    base_model = metadata.get("base_model")
    encoders = "\n".join(
        f"- encoder {i}: `{entry['config']['model_type']}` (hidden size {_encoder_width(entry)}), {entry['image_size']} px input, "
        f"mean {entry['image_mean']} / std {entry['image_std']}, features from "
        + ("its output" if entry["feature_layer"] is None else f"hidden state {entry['feature_layer']}")
        for i, entry in enumerate(config["aux_vision"]["encoders"])
    )  # fmt: skip
    section = f"""\
## Auxiliary vision encoder

This model adds the features of auxiliary vision encoder(s) to Qwen3-VL's image tokens (stage i of
the MedMO recipe), through a projector whose output layer started at zero:

{encoders}

The last one was attached from `{encoder_folder.name}` with `medmo attach-aux`. Until the projector is trained
(`training/recipes/*/stage1_aux_align.yaml`) the model's outputs equal those of `{source.name}`. The encoder's
own licence applies to its weights. vLLM and other engines that know only Qwen3-VL cannot run it
(`medmo export-qwen3vl` refuses it): serve it with transformers.
"""
    facts = CardFacts(
        title=f"MedMO ({source.name}) with an auxiliary vision encoder",
        summary=f"`{source.name}` with an auxiliary vision encoder attached, as a MedMO model repository.",
        base_model=str(base_model[0] if isinstance(base_model, list) else base_model) if base_model else None,
        license=metadata.get("license"),
        datasets=list(metadata.get("datasets") or []),
        sections=[section],
    )
    return render_card(facts)


__all__ = ["attach_aux_encoder", "encoder_settings"]
