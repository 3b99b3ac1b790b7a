"""Training: recipes, SFT and GRPO runs on a tiny MedMO, assistant-only loss, freezing, LoRA, data errors, resume."""

import json

import pytest
import torch
from helpers import auto_load_in_fresh_process
from safetensors.torch import load_file
from training_helpers import RECIPES, make_workspace, recipe_args
from trl import GRPOConfig, ModelConfig, SFTConfig, SFTTrainer, TrlParser

from medmo.training import grpo, sft
from medmo.training.arguments import MedMOArguments, RewardArguments
from medmo.training.data.loading import DataError, load_mixture
from medmo.loading import load_model, load_processor
from medmo.training.modules import LORA_PRESETS


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return make_workspace(tmp_path_factory.mktemp("training"))


def parse(recipe_path):
    """(MedMO fields, TRL config, model config, reward fields or None) of a recipe, as its script parses it."""
    arguments = ["--config", str(recipe_path), "--bf16", "false"]
    if "grpo" in recipe_path.name:
        parser = TrlParser((MedMOArguments, RewardArguments, GRPOConfig, ModelConfig))
        medmo_args, reward_args, training_args, model_args = parser.parse_args_and_config(args=arguments)
        return medmo_args, training_args, model_args, reward_args
    return (*TrlParser((MedMOArguments, SFTConfig, ModelConfig)).parse_args_and_config(args=arguments), None)


@pytest.mark.parametrize("recipe", sorted(RECIPES.glob("*/*.yaml")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_recipe_parses(recipe):
    medmo_args, training_args, model_args, _ = parse(recipe)
    assert medmo_args.datasets and training_args.output_dir and model_args.model_name_or_path
    if "grpo" not in recipe.name:
        assert training_args.assistant_only_loss, "SFT recipes train on the assistant's tokens only"


@pytest.mark.parametrize("size", ["medmo-4b", "medmo-8b"])
def test_published_recipe_values(size):
    # MEDMO.md's recipe table: stage -> (LR, image side, batch, accumulation)
    expected = {"stage1_sft": (1e-5, 768, 10, 2), "stage2_grounding": (8e-6, 1280, 2, 8), "stage3_instruct": (5e-6, 1280, 10, 2)}
    for stage, (lr, side, batch, accumulation) in expected.items():
        medmo_args, training_args, _, _ = parse(RECIPES / size / f"{stage}.yaml")
        assert training_args.learning_rate == lr and medmo_args.max_pixels == side * side
        assert (training_args.per_device_train_batch_size, training_args.gradient_accumulation_steps) == (batch, accumulation)
        assert training_args.lr_scheduler_type == "cosine" and training_args.warmup_steps == 0.05 and training_args.max_grad_norm == 1.0
    _, training_args, _, reward_args = parse(RECIPES / size / "stage4_grpo.yaml")
    assert training_args.learning_rate == 1e-5 and training_args.num_generations == 8
    assert (training_args.epsilon, training_args.epsilon_high) == (0.15, 0.25)
    assert training_args.mask_truncated_completions and training_args.beta > 0 and training_args.loss_type == "dapo"
    assert training_args.max_completion_length == 1024 and training_args.use_vllm and training_args.vllm_mode == "colocate"
    assert "box" in reward_args.reward_funcs and len(training_args.reward_weights) == len(reward_args.reward_funcs)


def test_sft_writes_a_complete_loadable_repository(workspace, tmp_path):
    trainer = sft.main(recipe_args("stage1_reports", workspace, "sft-run"))
    out = workspace / "sft-run"
    for name in ("model.safetensors", "config.json", "modeling_medmo.py", "processing_medmo.py", "boxes.py", "medical_images.py",
                 "chat_template.jinja", "generation_config.json", "tokenizer.json", "processor_config.json", "README.md", "data_report.json"):
        assert (out / name).is_file(), name
    card = (out / "README.md").read_text()
    assert "## Recipe" in card and "stage1_reports" in card and "train_loss" in card and "pipeline_tag: image-text-to-text" in card
    report = json.loads((out / "data_report.json").read_text())[0]
    assert report["read"] == report["kept"] == 24
    assert json.loads((out / "processor_config.json").read_text())["image_processor"]["size"]["longest_edge"] == 4096
    status, _, _ = auto_load_in_fresh_process(out, tmp_path / "logits.safetensors")
    assert status["model"] == "MedMOForConditionalGeneration"
    assert all(entry["loss"] > 0 for entry in trainer.state.log_history if "loss" in entry)


def test_loss_is_on_assistant_tokens_only(workspace):
    processor = load_processor(str(workspace / "base"), max_pixels=4096)
    dataset, _ = load_mixture([{"path": str(workspace / "data/phantom/stage2_grounding.jsonl")}], "sft")
    config = SFTConfig(output_dir=str(workspace / "unused"), assistant_only_loss=True, bf16=False, report_to="none", max_length=None)
    trainer = SFTTrainer(model=load_model(str(workspace / "base")), args=config, train_dataset=dataset, processing_class=processor)
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(3)])
    tokenizer = processor.tokenizer
    for ids, labels in zip(batch["input_ids"], batch["labels"]):
        image_tokens = ids == tokenizer.convert_tokens_to_ids("<|image_pad|>")
        assert image_tokens.any() and (labels[image_tokens] == -100).all()
        trained = tokenizer.decode(ids[labels != -100])
        assert trained.endswith("<|im_end|>\n") and "<|im_start|>" not in trained and "Detect" not in trained
        prompt_end = (ids == tokenizer.convert_tokens_to_ids("<|im_start|>")).nonzero()[-1].item()
        assert (labels[: prompt_end + 3] == -100).all()


def test_frozen_parts_do_not_change(workspace):
    sft.main(recipe_args("stage1_reports", workspace, "frozen", "--freeze_vision_tower", "true", "--freeze_merger", "true", "--learning_rate", "0.01"))
    before, after = load_file(str(workspace / "base/model.safetensors")), load_file(str(workspace / "frozen/model.safetensors"))
    for name, tensor in before.items():
        changed = not torch.equal(tensor, after[name])
        if name.startswith("model.visual."):
            assert not changed, f"{name} was frozen"
    assert not torch.equal(before["lm_head.weight"], after["lm_head.weight"])


def test_all_frozen_is_refused(workspace):
    with pytest.raises(ValueError, match="Every parameter is frozen"):
        sft.main(recipe_args("stage1_reports", workspace, "x", "--freeze_vision_tower", "true", "--freeze_merger", "true", "--freeze_language_model", "true"))


def test_malformed_row_is_named_or_skipped_and_counted(workspace, tmp_path):
    rows = (workspace / "data/phantom/stage1_reports.jsonl").read_text().splitlines()
    bad = tmp_path / "bad.jsonl"
    broken = json.loads(rows[1])
    broken["messages"] = broken["messages"][:1]  # no assistant answer
    bad.write_text("\n".join([rows[0], json.dumps(broken), "{not json", *rows[2:6]]).replace("images/", str(workspace / "data/phantom/images") + "/") + "\n")
    with pytest.raises(DataError, match=r"bad.jsonl:2: the last message must be the assistant's answer"):
        load_mixture([{"path": str(bad)}], "sft")
    dataset, [report] = load_mixture([{"path": str(bad)}], "sft", skip_bad_rows=True)
    assert (report.read, report.kept, sum(report.rejected.values())) == (7, 5, 2) and len(dataset) == 5
    assert report.rejected["invalid JSON"] == 1 and report.examples["invalid JSON"] == [f"{bad}:3"]


def test_test_splits_are_refused_unless_allowed(workspace, tmp_path):
    test_split = tmp_path / "vqa_rad" / "test.jsonl"
    test_split.parent.mkdir()
    test_split.write_text((workspace / "data/phantom/stage1_reports.jsonl").read_text().replace("images/", str(workspace / "data/phantom/images") + "/"))
    with pytest.raises(DataError, match="test split"):
        load_mixture([{"name": "vqa_rad", "split": "test"}], "sft", data_dir=tmp_path)
    dataset, _ = load_mixture([{"name": "vqa_rad", "split": "test"}], "sft", data_dir=tmp_path, allow_test_splits=True)
    assert len(dataset) == 24


def test_weights_subsample_and_repeat(workspace):
    path = str(workspace / "data/phantom/stage1_reports.jsonl")
    dataset, reports = load_mixture([{"path": path, "weight": 0.5}, {"path": path, "weight": 2.0}], "sft")
    assert [r.used_after_weighting for r in reports] == [12, 48] and len(dataset) == 60


def test_lora_presets_hit_the_right_modules(workspace):
    import re

    model = load_model(str(workspace / "base"))
    names = [name for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)]
    language = [n for n in names if re.fullmatch(LORA_PRESETS["language"], n)]
    both = [n for n in names if re.fullmatch(LORA_PRESETS["language_vision"], n)]
    assert language and all(n.startswith("model.language_model.") for n in language)
    assert any(".merger." in n for n in both) and any("deepstack_merger_list" in n for n in both) and any(".blocks." in n for n in both)
    assert not any("patch_embed" in n for n in both) and "lm_head" not in both


def test_lora_fine_tuning_saves_reloads_and_merges(workspace, tmp_path):
    from peft import PeftModel

    sft.main(recipe_args("finetune_lora", workspace, "lora", "--lora_preset", "language_vision", "--learning_rate", "0.05"))
    out = workspace / "lora"
    assert (out / "adapter_config.json").is_file() and (out / "adapter_model.safetensors").is_file()
    assert "lora" in (out / "README.md").read_text()
    adapted = PeftModel.from_pretrained(load_model(str(workspace / "base")), str(out)).eval()
    _, merged_logits, _ = auto_load_in_fresh_process(out / "merged", tmp_path / "merged.safetensors")
    from helpers import chat_inputs, random_image, user_message

    inputs = chat_inputs(load_processor(str(out / "merged")), user_message("Describe the findings.", [random_image(96, 64)]))
    with torch.no_grad():
        torch.testing.assert_close(adapted(**inputs).logits, merged_logits, atol=1e-4, rtol=1e-4)
        base_logits = load_model(str(workspace / "base")).eval()(**inputs).logits
    assert not torch.allclose(base_logits, merged_logits, atol=1e-3)


def test_grpo_runs_from_its_recipe(workspace):
    trainer = grpo.main(recipe_args("stage4_grpo", workspace, "grpo-run", "--num_generations", "2", "--max_completion_length", "8"))
    steps = [entry for entry in trainer.state.log_history if "rewards/box_reward/mean" in entry]
    assert len(steps) == 2
    assert (workspace / "grpo-run" / "model.safetensors").is_file() and "GRPO" in (workspace / "grpo-run" / "README.md").read_text()


def test_sft_takes_no_reward_fields(workspace):
    # the reward fields belong to GRPO recipes; an SFT run naming them is a mistake, not a no-op
    with pytest.raises(ValueError, match="reward_funcs"):
        sft.main(recipe_args("stage1_reports", workspace, "x", "--reward_funcs", "box"))


def test_grpo_needs_rewards(workspace, tmp_path):
    import yaml

    recipe = yaml.safe_load((RECIPES / "tiny/stage4_grpo.yaml").read_text())
    for key in ("reward_funcs", "reward_weights", "reward_kwargs"):
        recipe.pop(key)
    (tmp_path / "no_rewards.yaml").write_text(yaml.safe_dump(recipe))
    arguments = recipe_args("stage4_grpo", workspace, "x")
    arguments[1] = str(tmp_path / "no_rewards.yaml")
    with pytest.raises(ValueError, match="reward_funcs"):
        grpo.main(arguments)


def test_resume_continues_the_same_trajectory(workspace):
    common = ("--max_steps", "4", "--learning_rate", "0.01", "--lr_scheduler_type", "constant", "--warmup_steps", "0")
    uninterrupted = sft.main(recipe_args("stage3_instruct", workspace, "straight", *common))
    first = sft.main(recipe_args("stage3_instruct", workspace, "interrupted", *common, "--save_strategy", "steps", "--save_steps", "2"))
    losses = lambda trainer: [round(e["loss"], 6) for e in trainer.state.log_history if "loss" in e]  # noqa: E731
    assert losses(first) == losses(uninterrupted)
    # A run killed after step 2 leaves checkpoint-2; resuming from it must replay steps 3-4 exactly.
    resumed = sft.main(recipe_args("stage3_instruct", workspace, "interrupted", *common, "--resume_from_checkpoint", str(workspace / "interrupted/checkpoint-2")))
    assert losses(resumed)[-2:] == losses(uninterrupted)[-2:]


def test_grpo_batches_prompts_of_different_lengths(workspace):
    # Regression: TRL left-pads the prompts it generates from but asks the processor for
    # mm_token_type_ids with the tokenizer's own padding side; MedMO's processor pads left so the
    # two agree (with right padding, M-RoPE positions broke on mixed-length batches).
    import numpy as np
    from datasets import Dataset
    from PIL import Image
    from trl import GRPOTrainer

    from medmo.training.rewards import get_reward_funcs

    rng = np.random.default_rng(0)
    rows = [
        {"images": [Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))],
         "prompt": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Find the nodule" + " now" * i + "."}]}],
         "solution": "Nodule <box>[[1, 1, 9, 9]]</box>", "image_size": [64, 64], "task": "grounding"}
        for i in range(8)
    ]  # fmt: skip
    config = GRPOConfig(output_dir=str(workspace / "mixed"), max_steps=2, per_device_train_batch_size=8, num_generations=2,
                        max_completion_length=16, beta=0.02, bf16=False, report_to="none", save_strategy="no", seed=0)  # fmt: skip
    trainer = GRPOTrainer(model=load_model(str(workspace / "base")), reward_funcs=get_reward_funcs(["box", "tag_count"]), args=config,
                          processing_class=load_processor(str(workspace / "base")), train_dataset=Dataset.from_list(rows))  # fmt: skip
    trainer.train()
    assert trainer.state.global_step == 2
