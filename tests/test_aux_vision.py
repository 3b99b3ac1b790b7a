"""Auxiliary vision encoders (stage i): off by default and then exactly Qwen3-VL; when attached, an
identity at first (zero-initialised projector), spatially aligned with the image tokens, trainable
on its own, saved and loaded through the Auto classes, on transformers 4.57 and 5.x."""

import copy
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
import transformers
from helpers import auto_load_in_fresh_process, chat_inputs, random_image, run_python, user_message
from PIL import Image
from transformers import Qwen3VLConfig, Qwen3VLModel

from medmo import MedMOConfig, MedMOForConditionalGeneration, MedMOModel, MedMOProcessor
from medmo.aux_encoder import attach_aux_encoder
from medmo.aux_vision_medmo import unpatchify
from medmo.checkpoint import CheckpointError, export_medmo_to_qwen3vl, save_medmo_folder
from medmo.cli import main as cli
from medmo.tiny import TINY_AUX_ENCODERS, build_processor, build_tiny, save_tiny_aux_encoder


pytestmark = pytest.mark.compat
TF_MAJOR = int(transformers.__version__.split(".")[0])
REPO_ROOT = Path(__file__).resolve().parents[1]
TF4_PYTHON = os.environ.get("MEDMO_TF4_PYTHON") or str(REPO_ROOT / ".venv-tf4" / "bin" / "python")


def encoder(kind: str = "dinov2", **settings) -> dict:
    """One `aux_vision` encoder entry: a tiny random encoder with its processor's normalisation."""
    config, processor = TINY_AUX_ENCODERS[kind]
    return {"config": dict(config), "image_mean": processor["image_mean"], "image_std": processor["image_std"], **settings}


def inputs_for(processor, *images, text="Describe the findings."):
    inputs = chat_inputs(processor, user_message(text, list(images)))
    if TF_MAJOR < 5:
        inputs.pop("mm_token_type_ids", None)
    return inputs


def logits(model, inputs):
    with torch.no_grad():
        return model(**inputs).logits


def with_random_projectors(model, seed: int = 0):
    """The projectors' output layers drawn at random, as after training (they start at zero)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for projector in model.model.aux_vision.projectors:
            projector.linear_fc2.weight.copy_(torch.randn(projector.linear_fc2.weight.shape, generator=generator) * 0.5)
    return model


@pytest.fixture(scope="module")
def aux_pair(tiny):
    """The shared tiny model and the same weights with a DINOv2 and a SigLIP auxiliary encoder."""
    model, processor = tiny
    aux, _ = build_tiny(seed=1, tokenizer=processor.tokenizer, aux_vision=[encoder("dinov2"), encoder("siglip")])
    missing, unexpected = aux.load_state_dict(model.state_dict(), strict=False)
    assert not unexpected and missing and all(name.startswith("model.aux_vision.") for name in missing)
    return model, aux.eval(), processor


@pytest.fixture(scope="module")
def encoder_folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("encoders")
    return {kind: save_tiny_aux_encoder(root / kind, kind, seed=3) for kind in TINY_AUX_ENCODERS}


@pytest.fixture(scope="module")
def attached(tiny_dir, encoder_folders, tmp_path_factory):
    """`medmo attach-aux` on the tiny folder: a DINOv2, then a SigLIP vision tower."""
    root = tmp_path_factory.mktemp("attached")
    one = attach_aux_encoder(tiny_dir, encoder_folders["dinov2"], root / "one")
    return attach_aux_encoder(one, encoder_folders["siglip"], root / "two")


# --------------------------------------------------------------------------- configuration


def test_default_config_writes_todays_keys_and_no_aux_vision(tmp_path):
    config = MedMOConfig.from_preset("tiny")
    assert config.aux_vision is None
    serialised = config.to_dict()
    assert "aux_vision" not in serialised
    settings = {k: v for k, v in serialised.items() if k not in ("model_type", "auto_map", "architectures")}
    assert set(serialised) == set(Qwen3VLConfig(**settings).to_dict())  # not one key beyond Qwen3-VL's
    config.save_pretrained(tmp_path)
    assert "aux_vision" not in json.loads((tmp_path / "config.json").read_text())


@pytest.mark.parametrize("form", ["dict", "list", "single"])
def test_aux_settings_are_completed_and_serialise_idempotently(form, tmp_path):
    entries = [encoder("dinov2", feature_layer=1), encoder("siglip")]
    given = {"dict": {"encoders": entries}, "list": entries, "single": entries[0]}[form]
    config = MedMOConfig.from_preset("tiny", aux_vision=given)
    first = config.aux_vision["encoders"][0]
    assert first["image_size"] == 64 and first["feature_layer"] == 1  # the image size from the encoder's config
    assert config.aux_vision["processor_image_mean"] == [0.5, 0.5, 0.5]
    serialised = config.to_dict()
    assert MedMOConfig.from_dict(serialised).to_dict() == serialised
    config.save_pretrained(tmp_path)
    assert MedMOConfig.from_pretrained(tmp_path).to_dict() == {**serialised, "auto_map": {"AutoConfig": "configuration_medmo.MedMOConfig"}}


def test_an_encoder_config_object_is_stored_as_its_dict():
    from transformers import Dinov2Config

    dinov2 = Dinov2Config(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64, patch_size=8, image_size=32)
    dinov2._name_or_path = "/home/someone/rad-dino"
    config = MedMOConfig.from_preset("tiny", aux_vision={"config": dinov2, "image_mean": [0.5] * 3, "image_std": [0.5] * 3})
    stored = config.aux_vision["encoders"][0]["config"]
    assert stored["model_type"] == "dinov2" and stored["hidden_size"] == 32
    assert "_name_or_path" not in stored and "transformers_version" not in stored  # no local paths in config.json


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda e: e.pop("image_mean"), r"lacks `image_mean`.*preprocessor_config\.json"),
        (lambda e: e.update(image_size=60), r"image_size 60 must be a positive multiple of the encoder's patch_size 8"),
        (lambda e: e.update(image_std=[0.5, 0.5]), r"image_std must be three numbers"),
        (lambda e: e.update(image_std=[0.5, 0.0, 0.5]), r"image_std must be positive"),
        (lambda e: e.update(feature_layer=9), r"feature_layer 9"),
        (lambda e: e.update(layer=1), r"unknown keys \['layer'\]"),
        (lambda e: e.update(config={"model_type": "siglip"}), r"dual text-image model.*SiglipVisionConfig"),
        (lambda e: e.update(config={"model_type": "no-such-encoder"}), r"cannot build a 'no-such-encoder' config"),
        (lambda e: e.update(config={"hidden_size": 32}), r"`config` must be a transformers config or its dict with a `model_type`"),
    ],
)
def test_bad_aux_settings_name_what_is_wrong(change, message):
    entry = encoder("dinov2")
    change(entry)
    with pytest.raises(ValueError, match=message):
        MedMOConfig.from_preset("tiny", aux_vision=[entry])


# --------------------------------------------------------------------------- the default path is Qwen3-VL's


def test_default_model_is_todays_qwen3vl_model(tiny):
    model, processor = tiny
    assert type(model.model) is Qwen3VLModel  # the generation class builds the stock backbone, as before
    assert not any("aux_vision" in name for name, _ in model.named_parameters())
    backbone = MedMOModel(model.config).eval()  # the AutoModel class: no auxiliary module, same outputs
    assert backbone.aux_vision is None
    backbone.load_state_dict(model.model.state_dict())
    inputs = inputs_for(processor, random_image(96, 64))
    inputs.pop("labels", None)
    with torch.no_grad():
        expected = model.model(**inputs).last_hidden_state
        assert torch.equal(backbone(**inputs).last_hidden_state, expected)


# --------------------------------------------------------------------------- zero init: an identity until trained


def test_zero_init_identity_from_config(aux_pair):
    model, aux, processor = aux_pair
    assert isinstance(aux.model, MedMOModel) and len(aux.model.aux_vision.encoders) == 2
    for projector in aux.model.aux_vision.projectors:
        assert not projector.linear_fc2.weight.any() and not projector.linear_fc2.bias.any()
        assert projector.linear_fc1.weight.std() > 0  # the first layer is random, as it must be to learn
    for images in ([random_image(96, 64)], [random_image(64, 64, seed=1), random_image(128, 48, seed=2)], []):
        inputs = inputs_for(processor, *images)
        assert torch.equal(logits(aux, inputs), logits(model, inputs))


def test_an_encoder_runs_at_another_input_size_than_its_config(tokenizer):
    # SigLIP's position embeddings are interpolated when asked; DINOv2 always interpolates
    model, processor = build_tiny(seed=0, tokenizer=tokenizer, aux_vision=[encoder("siglip", image_size=64), encoder("dinov2", image_size=32)])
    model = with_random_projectors(model).eval()
    batch = inputs_for(processor, random_image(96, 64))
    with torch.no_grad():
        added = model.model.aux_vision(batch["pixel_values"], batch["image_grid_thw"])
    assert [tuple(a.shape) for a in added] == [(6, 64)] and torch.isfinite(added[0]).all()


def test_a_trained_projector_changes_what_the_model_sees(aux_pair):
    model, aux, processor = aux_pair
    trained = with_random_projectors(copy.deepcopy(aux))
    image_inputs, text_inputs = inputs_for(processor, random_image(96, 64)), inputs_for(processor)
    assert not torch.allclose(logits(trained, image_inputs), logits(model, image_inputs), atol=1e-3)
    assert torch.equal(logits(trained, text_inputs), logits(model, text_inputs))  # text alone never passes through it


def test_zero_init_identity_after_from_pretrained(attached, tiny):
    model, processor = tiny
    loaded, info = MedMOForConditionalGeneration.from_pretrained(attached, output_loading_info=True)
    assert not any(info.values()), info
    assert [e["config"]["model_type"] for e in loaded.config.aux_vision["encoders"]] == ["dinov2", "siglip_vision_model"]
    inputs = inputs_for(processor, random_image(96, 64))
    assert torch.equal(logits(loaded.eval(), inputs), logits(model, inputs))


@pytest.mark.skipif(TF_MAJOR < 5, reason="4.57's Qwen3VLModel has no base-model prefix: it loads no weights of a full checkpoint, aux or not")
def test_the_backbone_alone_loads_an_attached_folder(attached):
    backbone, info = MedMOModel.from_pretrained(attached, output_loading_info=True)  # what AutoModel returns
    assert not info["missing_keys"] and set(info["unexpected_keys"]) <= {"lm_head.weight"}  # a backbone has no head
    assert len(backbone.aux_vision.encoders) == 2


def test_attached_encoders_hold_the_pretrained_weights(attached, encoder_folders):
    loaded = MedMOForConditionalGeneration.from_pretrained(attached).eval()
    pixels = torch.rand(2, 3, 64, 64)
    for index, kind in enumerate(("dinov2", "siglip")):
        reference = transformers.AutoModel.from_pretrained(encoder_folders[kind]).eval()
        size = TINY_AUX_ENCODERS[kind][0]["image_size"]
        with torch.no_grad():
            expected = reference(pixel_values=pixels[:, :, :size, :size]).last_hidden_state
            actual = loaded.model.aux_vision.encoders[index](pixel_values=pixels[:, :, :size, :size]).last_hidden_state
        assert torch.equal(actual, expected)


# --------------------------------------------------------------------------- saving, loading, generating


def test_save_load_round_trip_through_the_auto_classes(aux_pair, tmp_path):
    _, aux, processor = aux_pair
    trained = with_random_projectors(copy.deepcopy(aux), seed=4)
    folder = save_medmo_folder(trained, processor, tmp_path / "saved")
    assert json.loads((folder / "config.json").read_text())["aux_vision"] == trained.config.aux_vision
    assert (folder / "aux_vision_medmo.py").is_file()  # the Hub copy carries the module it imports
    auto_class = "AutoModelForImageTextToText" if TF_MAJOR >= 5 else "AutoModelForVision2Seq"
    report, loaded_logits, generated = auto_load_in_fresh_process(folder, tmp_path / "out.safetensors", auto_class)
    assert report["module"].startswith("transformers_modules.")
    inputs = inputs_for(processor, random_image(96, 64))
    assert torch.equal(loaded_logits, logits(trained, inputs))
    assert torch.equal(generated, trained.generate(**inputs, max_new_tokens=6, do_sample=False))


@pytest.mark.parametrize("beams", [1, 2])
def test_generate_sees_the_auxiliary_features(aux_pair, beams):
    model, aux, processor = aux_pair
    trained = with_random_projectors(copy.deepcopy(aux), seed=5)
    inputs = inputs_for(processor, random_image(80, 64, seed=6))
    settings = dict(max_new_tokens=4, do_sample=False, num_beams=beams, output_logits=True, return_dict_in_generate=True)
    with torch.no_grad():
        output = trained.generate(**inputs, **settings)
        plain = model.generate(**inputs, **settings)
    # the first step's logits are the forward pass's, auxiliary features included, for every beam
    expected = logits(trained, inputs)[:, -1]
    torch.testing.assert_close(output.logits[0], expected.expand(beams, -1), atol=1e-5, rtol=1e-5)
    assert not torch.allclose(plain.logits[0], output.logits[0], atol=1e-3)


# --------------------------------------------------------------------------- pixels and token positions


def test_unpatchify_recovers_the_processors_image(tiny):
    _, processor = tiny
    image = random_image(96, 64, seed=7)  # a multiple of 32 px within the pixel limits: not resized
    batch = processor.image_processor(images=[image], return_tensors="pt")
    [frames] = unpatchify(batch["pixel_values"], batch["image_grid_thw"], MedMOConfig.from_preset("tiny").vision_config)
    expected = (torch.from_numpy(np.asarray(image, dtype=np.float32) / 255).permute(2, 0, 1) - 0.5) / 0.5
    assert frames.shape == (1, 3, 64, 96)
    torch.testing.assert_close(frames[0], expected, atol=1e-6, rtol=0)


def test_unpatchify_keeps_one_frame_per_temporal_patch():
    vision = MedMOConfig.from_preset("tiny").vision_config  # patch 16, temporal patch 2, merge 2
    frames = torch.rand(4, 3, 64, 32)  # 4 frames -> 2 temporal patches
    t, h, w = 2, 4, 2
    # Qwen's patchify: (t, tp, C, h/m, m, p, w/m, m, p) -> (t, h/m, w/m, m, m, C, tp, p, p)
    patches = frames.reshape(t, 2, 3, h // 2, 2, 16, w // 2, 2, 16).permute(0, 3, 6, 4, 7, 2, 1, 5, 8)
    [recovered] = unpatchify(patches.reshape(t * h * w, -1), torch.tensor([[t, h, w]]), vision)
    assert torch.equal(recovered, frames[::2])


def test_a_bright_quadrant_lands_on_the_tokens_mrope_places_there(tokenizer):
    """A top-right bright quadrant changes the auxiliary features of exactly the tokens whose M-RoPE
    (h, w) positions are the top-right quadrant of the token grid (non-square, so a transposed or
    mirrored mapping would fail)."""
    processor = build_processor(tokenizer, max_pixels=256 * 256)
    # feature_layer 0: the encoder's patch embeddings, so every feature sees only its own patch
    model, _ = build_tiny(seed=0, tokenizer=tokenizer, aux_vision=[encoder("dinov2", feature_layer=0)])
    model = with_random_projectors(model).eval()
    dark = np.zeros((128, 256, 3), dtype=np.uint8)
    bright = dark.copy()
    bright[:64, 128:] = 255
    contributions = []
    for pixels in (bright, dark):
        batch = inputs_for(processor, Image.fromarray(pixels))
        with torch.no_grad():
            [added] = model.model.aux_vision(batch["pixel_values"], batch["image_grid_thw"])
        contributions.append(added)
    change = (contributions[0] - contributions[1]).norm(dim=-1)

    positions_kwargs = {"mm_token_type_ids": batch["mm_token_type_ids"]} if TF_MAJOR >= 5 else {}
    positions, _ = model.model.get_rope_index(input_ids=batch["input_ids"], image_grid_thw=batch["image_grid_thw"],
                                              attention_mask=batch["attention_mask"], **positions_kwargs)  # fmt: skip
    image_tokens = batch["input_ids"][0] == processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    rows, columns = (positions[axis, 0, image_tokens] for axis in (1, 2))
    rows, columns = rows - rows.min(), columns - columns.min()
    assert (rows.max() + 1, columns.max() + 1) == (4, 8)  # 128 x 256 px, 32-px merged tokens
    quadrant = (rows < 2) & (columns >= 4)
    assert set(change.topk(int(quadrant.sum())).indices.tolist()) == set(quadrant.nonzero().flatten().tolist())
    assert change[quadrant].min() > 5 * change[~quadrant].max()


# --------------------------------------------------------------------------- training only the projector


@pytest.mark.parametrize("checkpointing", [False, True], ids=["plain", "gradient-checkpointing"])
def test_only_the_projector_learns_when_the_rest_is_frozen(aux_pair, checkpointing):
    _, aux, processor = aux_pair
    model = copy.deepcopy(aux).train()
    if checkpointing:
        model.gradient_checkpointing_enable()
        model.config.use_cache = False
    trainable = [p for name, p in model.named_parameters() if name.startswith("model.aux_vision.projectors.")]
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(name.startswith("model.aux_vision.projectors."))
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    optimizer = torch.optim.SGD(trainable, lr=0.5)
    inputs = inputs_for(processor, random_image(96, 64, seed=8), random_image(64, 64, seed=9))
    for step in range(2):  # the output layer starts at zero: the layers before it learn from step 2
        optimizer.zero_grad()
        loss = model(**inputs, labels=inputs["input_ids"]).loss
        loss.backward()
        if step == 0:
            assert all(p.grad is None for name, p in model.named_parameters() if not name.startswith("model.aux_vision.projectors."))
            assert all(p.grad is not None for p in trainable)
            assert all(p.grad.any() for name, p in model.named_parameters() if name.startswith("model.aux_vision.") and "linear_fc2" in name)
        optimizer.step()
    changed = {name for name, p in model.named_parameters() if not torch.equal(p, before[name])}
    assert changed == {name for name, _ in model.named_parameters() if name.startswith("model.aux_vision.projectors.")}


# --------------------------------------------------------------------------- attach, CLI, export


def test_attach_writes_an_index_that_shadows_nothing(attached):
    names = sorted(path.name for path in attached.iterdir() if "safetensors" in path.name)
    assert names == ["model-aux-vision-0.safetensors", "model-aux-vision-1.safetensors", "model-base.safetensors",
                     "model.safetensors.index.json"]  # fmt: skip
    config = json.loads((attached / "config.json").read_text())
    dinov2, siglip = config["aux_vision"]["encoders"]
    assert (dinov2["image_size"], dinov2["image_mean"]) == (64, TINY_AUX_ENCODERS["dinov2"][1]["image_mean"])  # the crop, its norm
    assert (siglip["image_size"], siglip["image_std"]) == (32, [0.5, 0.5, 0.5])
    assert "Auxiliary vision encoder" in (attached / "README.md").read_text()


def test_attach_cli_and_its_options(tiny_dir, encoder_folders, tmp_path):
    status = cli(["attach-aux", str(tiny_dir), str(encoder_folders["dinov2"]), str(tmp_path / "out"),
                  "--image-size", "32", "--feature-layer", "1", "--image-mean", "0.4", "0.4", "0.4", "--image-std", "0.2", "0.2", "0.2"])  # fmt: skip
    assert status == 0
    [entry] = json.loads((tmp_path / "out" / "config.json").read_text())["aux_vision"]["encoders"]
    assert (entry["image_size"], entry["feature_layer"], entry["image_mean"], entry["image_std"]) == (32, 1, [0.4] * 3, [0.2] * 3)


def test_attach_an_in_memory_model(tiny, encoder_folders, tmp_path):
    model, processor = tiny
    with pytest.raises(ValueError, match="needs the model's `processor`"):
        attach_aux_encoder(model, encoder_folders["dinov2"], tmp_path / "x")
    out = attach_aux_encoder(model, encoder_folders["dinov2"], tmp_path / "out", processor=processor)
    loaded = MedMOForConditionalGeneration.from_pretrained(out).eval()
    inputs = inputs_for(processor, random_image(96, 64))
    assert torch.equal(logits(loaded, inputs), logits(model, inputs))


def test_attach_refuses_bad_input_and_leaves_nothing(tiny_dir, encoder_folders, tmp_path):
    no_norm = tmp_path / "no-norm"
    save_tiny_aux_encoder(no_norm, "dinov2")
    (no_norm / "preprocessor_config.json").unlink()
    with pytest.raises(CheckpointError, match="--image-mean"):
        attach_aux_encoder(tiny_dir, no_norm, tmp_path / "a")
    dual = tmp_path / "dual"
    from transformers import SiglipConfig, SiglipModel

    SiglipModel(SiglipConfig(text_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2},
                             vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
                                            "patch_size": 8, "image_size": 32})).save_pretrained(dual)  # fmt: skip
    (dual / "preprocessor_config.json").write_text(json.dumps(TINY_AUX_ENCODERS["siglip"][1]))
    with pytest.raises(CheckpointError, match="dual text-image model"):
        attach_aux_encoder(tiny_dir, dual, tmp_path / "b")
    with pytest.raises(CheckpointError, match="model_type 'dinov2'; expected 'medmo'"):
        attach_aux_encoder(encoder_folders["dinov2"], encoder_folders["dinov2"], tmp_path / "c")
    assert not any((tmp_path / name).exists() for name in "abc")


def test_export_to_qwen3vl_refuses_an_auxiliary_encoder(attached, tmp_path):
    with pytest.raises(CheckpointError, match=r"auxiliary vision encoder.*vLLM.*dropped"):
        export_medmo_to_qwen3vl(attached, tmp_path / "qwen3vl")
    assert cli(["export-qwen3vl", str(attached), str(tmp_path / "qwen3vl")]) == 2
    assert not (tmp_path / "qwen3vl").exists()


# --------------------------------------------------------------------------- across transformers versions


cross_version = pytest.mark.skipif(
    TF_MAJOR < 5 or not Path(TF4_PYTHON).exists(),
    reason=f"driven from the transformers 5.x suite, with the 4.57 env at {TF4_PYTHON} (`make setup`)",
)


@cross_version
@pytest.mark.parametrize("saved_by", ["5.x", "4.57"])
def test_a_dinov2_auxiliary_model_loads_in_the_other_version(saved_by, tmp_path):
    """A tiny MedMO + DINOv2 (RAD-DINO's architecture), attached and given a trained-looking projector
    under one version, gives the same logits under the other."""
    code = f"""
        import torch
        from medmo import MedMOForConditionalGeneration
        from medmo.aux_encoder import attach_aux_encoder
        from medmo.checkpoint import save_medmo_folder
        from medmo.tiny import build_tiny, save_tiny_aux_encoder
        model, processor = build_tiny(seed=2)
        save_tiny_aux_encoder({str(tmp_path / "encoder")!r}, "dinov2", seed=2)
        folder = attach_aux_encoder(model, {str(tmp_path / "encoder")!r}, {str(tmp_path / "attached")!r}, processor=processor)
        trained = MedMOForConditionalGeneration.from_pretrained(folder)
        with torch.no_grad():
            trained.model.aux_vision.projectors[0].linear_fc2.weight.normal_(0, 0.5, generator=torch.Generator().manual_seed(0))
        save_medmo_folder(trained, processor, {str(tmp_path / "saved")!r})
    """
    run_python(code, python=TF4_PYTHON if saved_by == "4.57" else None)
    _, in_4_57, _ = auto_load_in_fresh_process(tmp_path / "saved", tmp_path / "out.safetensors", "AutoModelForVision2Seq", python=TF4_PYTHON)
    inputs = inputs_for(MedMOProcessor.from_pretrained(tmp_path / "saved"), random_image(96, 64))
    trained, info = MedMOForConditionalGeneration.from_pretrained(tmp_path / "saved", output_loading_info=True)
    assert not any(info.values()), info
    torch.testing.assert_close(logits(trained.eval(), inputs), in_4_57, atol=1e-5, rtol=0)
    # the trained projector reaches the image tokens: the attached (zero-projector) model differs
    assert not torch.allclose(logits(MedMOForConditionalGeneration.from_pretrained(tmp_path / "attached").eval(), inputs), in_4_57, atol=1e-3)
