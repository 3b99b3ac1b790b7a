"""Push to a Hub for real (a local Hub-compatible server over HTTP), load back, compare; the token stays secret."""

import os
import subprocess
import sys

import pytest
import torch
from helpers import chat_inputs, random_image, run_python, user_message
from hub_server import LocalHub
from training_helpers import make_workspace, recipe_args

from medmo.loading import load_model, load_processor


TOKEN = "hf_" + "Secr3tT0ken" * 4  # looks like a real token; must never be printed or written


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return make_workspace(tmp_path_factory.mktemp("hub"))


def hub_env(hub, tmp_path) -> dict:
    return {**os.environ, "HF_ENDPOINT": hub.endpoint, "HF_HUB_DISABLE_XET": "1", "HF_HUB_OFFLINE": "0",
            "HF_HOME": str(tmp_path / "hf-home"), "HF_TOKEN": ""}  # fmt: skip


def run_training(module: str, arguments: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *arguments], env=env, capture_output=True, text=True, timeout=600)


def logits_of(model, processor):
    inputs = chat_inputs(processor, user_message("Describe the findings.", [random_image(96, 64)]))
    with torch.no_grad():
        return model(**inputs).logits


def assert_secret(text: str):
    assert TOKEN not in text and TOKEN[3:] not in text


def test_push_full_model_and_load_it_back(workspace, tmp_path):
    with LocalHub(tmp_path / "hub") as hub:
        env = hub_env(hub, tmp_path)
        arguments = recipe_args("stage1_reports", workspace, "pushed", "--push_to_hub", "true", "--hub_model_id", "medmo-org/tiny-sft", "--hub_token", TOKEN)
        result = run_training("medmo.training.sft", arguments, env)
        assert result.returncode == 0, result.stderr[-3000:]
        assert_secret(result.stdout + result.stderr)
        pushed = hub.files("medmo-org/tiny-sft")
        assert {"model.safetensors", "config.json", "modeling_medmo.py", "processing_medmo.py", "README.md", "chat_template.jinja"} <= set(pushed)
        assert not any(name.startswith("checkpoint-") or name.endswith(".bin") for name in pushed)
        for name in pushed:
            assert_secret((hub.state.repo("medmo-org/tiny-sft") / name).read_bytes().decode("utf-8", "ignore"))
        assert {auth for _, _, auth in hub.state.requests if auth} == {f"Bearer {TOKEN}"}  # only in headers

        out = tmp_path / "downloaded.safetensors"
        code = f"""
            import transformers, torch, sys
            sys.path.insert(0, {str(os.path.dirname(__file__))!r})
            from helpers import chat_inputs, random_image, user_message
            from safetensors.torch import save_file
            model = transformers.AutoModelForImageTextToText.from_pretrained("medmo-org/tiny-sft", trust_remote_code=True).eval()
            processor = transformers.AutoProcessor.from_pretrained("medmo-org/tiny-sft", trust_remote_code=True)
            inputs = chat_inputs(processor, user_message("Describe the findings.", [random_image(96, 64)]))
            with torch.no_grad():
                save_file({{"logits": model(**inputs).logits.contiguous()}}, {str(out)!r})
            print(type(model).__module__)
            """
        loaded = run_python(code, env=env)
        assert loaded.stdout.strip().splitlines()[-1].startswith("transformers_modules.medmo_hyphen_org")
    from safetensors.torch import load_file

    local = logits_of(load_model(str(workspace / "pushed")).eval(), load_processor(str(workspace / "pushed")))
    assert torch.equal(load_file(str(out))["logits"], local)


def test_push_adapter_and_load_it_onto_the_base(workspace, tmp_path):
    from peft import PeftModel
    from safetensors.torch import load_file

    out = tmp_path / "adapter-logits.safetensors"
    with LocalHub(tmp_path / "hub") as hub:
        env = hub_env(hub, tmp_path)
        arguments = recipe_args("finetune_lora", workspace, "lora-pushed", "--merge_adapter", "false", "--learning_rate", "0.05",
                                "--push_to_hub", "true", "--hub_model_id", "medmo-org/tiny-lora", "--hub_token", TOKEN)  # fmt: skip
        result = run_training("medmo.training.sft", arguments, env)
        assert result.returncode == 0, result.stderr[-3000:]
        assert_secret(result.stdout + result.stderr)
        assert {"adapter_config.json", "adapter_model.safetensors", "README.md"} <= set(hub.files("medmo-org/tiny-lora"))
        code = f"""
            import sys, torch
            sys.path.insert(0, {str(os.path.dirname(__file__))!r})
            from peft import PeftModel
            from safetensors.torch import save_file
            from helpers import chat_inputs, random_image, user_message
            from medmo.loading import load_model, load_processor
            model = PeftModel.from_pretrained(load_model({str(workspace / "base")!r}), "medmo-org/tiny-lora").eval()
            inputs = chat_inputs(load_processor({str(workspace / "base")!r}), user_message("Describe the findings.", [random_image(96, 64)]))
            with torch.no_grad():
                save_file({{"logits": model(**inputs).logits.contiguous()}}, {str(out)!r})
            """
        run_python(code, env=env)
    local = PeftModel.from_pretrained(load_model(str(workspace / "base")), str(workspace / "lora-pushed")).eval()
    assert torch.equal(load_file(str(out))["logits"], logits_of(local, load_processor(str(workspace / "base"))))


def test_a_failed_push_never_shows_the_token(workspace, tmp_path):
    with LocalHub(tmp_path / "hub", echo_token_in_errors=True) as hub:
        code = f"""
            from medmo.training.hub import push_folder
            push_folder({str(workspace / "base")!r}, "medmo-org/broken", token={TOKEN!r})
            """
        result = run_python(code, env=hub_env(hub, tmp_path), check=False)
    assert result.returncode != 0 and "failed" in result.stderr
    assert_secret(result.stdout + result.stderr)
