"""Training a MedMO with an auxiliary vision encoder: the stage-1 alignment recipes, freezing, LoRA."""

import json
import re
from pathlib import Path

import pytest
import torch
from helpers import auto_load_in_fresh_process
from safetensors.torch import load_file
from training_helpers import RECIPES, make_workspace, recipe_args
from trl import ModelConfig, SFTConfig, TrlParser

from medmo.tiny import save_tiny
from medmo.training import sft
from medmo.training.arguments import MedMOArguments
from medmo.loading import load_model
from medmo.training.modules import LORA_PRESETS, aux_projector_names, lora_config


PROJECTOR, ENCODER = "model.aux_vision.projectors.", "model.aux_vision.encoders."


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = make_workspace(tmp_path_factory.mktemp("training-aux"), train=16, heldout=4)
    save_tiny(root / "aux-base", seed=0, aux_encoder="dinov2")
    return root


def weights(folder: Path) -> dict[str, torch.Tensor]:
    tensors = {}
    for shard in sorted(folder.glob("*.safetensors")):
        tensors.update(load_file(str(shard)))
    return tensors


def changed_tensors(before: Path, after: Path) -> set[str]:
    old, new = weights(before), weights(after)
    assert set(old) == set(new)
    return {name for name in old if not torch.equal(old[name], new[name])}


def parse(path: Path):
    return TrlParser((MedMOArguments, SFTConfig, ModelConfig)).parse_args_and_config(args=["--config", str(path), "--bf16", "false"])


@pytest.mark.parametrize("size", ["tiny", "medmo-4b", "medmo-8b"])
def test_the_aux_recipes_freeze_what_they_say(size):
    frozen = ("freeze_vision_tower", "freeze_merger", "freeze_language_model")
    align, _, _ = parse(RECIPES / size / "stage1_aux_align.yaml")
    assert all(getattr(align, name) for name in frozen) and align.freeze_aux_encoder and not align.freeze_aux_projector
    prealign, training_args, _ = parse(RECIPES / size / "stage1_aux_prealign.yaml")
    assert all(getattr(prealign, name) for name in frozen) and not prealign.freeze_aux_encoder and not prealign.freeze_aux_projector
    assert training_args.ddp_find_unused_parameters  # DINOv2's mask token gets no gradient


def test_stage1_aux_align_trains_only_the_projector_and_loads_through_the_auto_classes(workspace, tmp_path):
    trainer = sft.main(recipe_args("stage1_aux_align", workspace, "aux-align", "--model_name_or_path", str(workspace / "aux-base"),
                                   "--learning_rate", "0.01"))  # fmt: skip
    assert all(entry["loss"] > 0 for entry in trainer.state.log_history if "loss" in entry)
    changed = changed_tensors(workspace / "aux-base", workspace / "aux-align")
    assert changed and all(name.startswith(PROJECTOR) for name in changed)
    assert any("linear_fc2" in name for name in changed)  # the zero-initialised output layer moved
    report, _, _ = auto_load_in_fresh_process(workspace / "aux-align", tmp_path / "out.safetensors")
    assert report["model"] == "MedMOForConditionalGeneration" and report["module"].startswith("transformers_modules.")
    assert json.loads((workspace / "aux-align" / "config.json").read_text())["aux_vision"]["encoders"][0]["config"]["model_type"] == "dinov2"


def test_stage1_aux_prealign_trains_the_encoder_and_projector_only(workspace):
    # Gradients reach the encoder once the zero-initialised output layer has moved: from the second update.
    sft.main(recipe_args("stage1_aux_prealign", workspace, "aux-prealign", "--model_name_or_path", str(workspace / "aux-base"),
                         "--learning_rate", "0.01", "--max_steps", "3", "--warmup_steps", "0"))  # fmt: skip
    changed = changed_tensors(workspace / "aux-base", workspace / "aux-prealign")
    assert all(name.startswith((PROJECTOR, ENCODER)) for name in changed)
    assert any(name.startswith(ENCODER) for name in changed) and any(name.startswith(PROJECTOR) for name in changed)


def test_aux_options_that_cannot_apply_are_refused(workspace):
    with pytest.raises(ValueError, match=r"freeze_aux_projector is set but the model has no auxiliary vision encoder.*medmo attach-aux"):
        sft.main(recipe_args("stage1_reports", workspace, "x", "--freeze_aux_projector", "true"))
    with pytest.raises(ValueError, match=r"lora_aux_projector is set but the model has no auxiliary vision encoder"):
        sft.main(recipe_args("finetune_lora", workspace, "y", "--lora_aux_projector", "true"))
    with pytest.raises(ValueError, match=r"lora_aux_projector applies to LoRA runs"):
        sft.main(recipe_args("stage1_aux_align", workspace, "z", "--model_name_or_path", str(workspace / "aux-base"), "--lora_aux_projector", "true"))


def test_lora_presets_leave_the_auxiliary_modules_alone(workspace):
    from peft import get_peft_model

    model = load_model(str(workspace / "aux-base"))
    names = [name for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)]
    assert any(name.startswith("model.aux_vision.") for name in names)
    for preset in LORA_PRESETS.values():
        assert not [name for name in names if name.startswith("model.aux_vision.") and re.fullmatch(preset, name)]
    adapted = get_peft_model(model, lora_config("language_vision", ModelConfig(lora_r=4)))
    assert not [name for name, p in adapted.named_parameters() if p.requires_grad and "aux_vision" in name]


def test_lora_with_the_aux_projector_saves_and_merges_it(workspace):
    base = load_model(str(workspace / "aux-base"))
    assert aux_projector_names(base) == ["model.aux_vision.projectors.0"]
    sft.main(recipe_args("finetune_lora", workspace, "lora-aux", "--model_name_or_path", str(workspace / "aux-base"),
                         "--lora_aux_projector", "true", "--learning_rate", "0.05"))  # fmt: skip
    adapter = load_file(str(workspace / "lora-aux" / "adapter_model.safetensors"))
    assert any("aux_vision.projectors.0" in name for name in adapter)  # modules_to_save: the projector in full
    assert not any("aux_vision" in name and "lora_" in name for name in adapter)  # and no adapters on it
    changed = changed_tensors(workspace / "aux-base", workspace / "lora-aux" / "merged")
    assert any(name.startswith(PROJECTOR) for name in changed) and not any(name.startswith(ENCODER) for name in changed)


@pytest.mark.slow
def test_the_guides_aux_recipe_commands_run_as_written(tmp_path):
    import os
    import shlex
    import subprocess
    import sys

    text = (RECIPES.parent / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- tested: aux-recipe\b.*?-->\s*```bash\n(.*?)```", text, re.DOTALL).group(1)
    commands = [line.split("#")[0].strip() for line in block.splitlines() if line.split("#")[0].strip()]
    (tmp_path / "training").symlink_to(RECIPES.parent)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for command in commands:
        arguments = shlex.split(command)
        arguments[0] = sys.executable if arguments[0] == "python" else arguments[0]
        result = subprocess.run(arguments, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, f"{command}\n{result.stderr[-3000:]}"
    changed = changed_tensors(tmp_path / "runs/tiny/aux-base", tmp_path / "runs/tiny/stage1-aux-align")
    assert changed and all(name.startswith(PROJECTOR) for name in changed)
    assert (tmp_path / "runs/tiny/stage1-aux/model.safetensors").is_file()
