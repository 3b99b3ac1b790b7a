"""Data parallelism on two CPU processes (torchrun + gloo): the same run as one process with the same global batch."""

import json
import os
import socket
import subprocess
import sys

import pytest
from safetensors.torch import load_file
from training_helpers import make_workspace, recipe_args


pytestmark = pytest.mark.slow
# Same order on one process and on two (each rank takes alternate micro-batches of the sequence);
# plain SGD so that equal gradients give equal weights (Adam's first step divides by |g| and turns
# float noise on near-zero gradients into full-size steps).
COMMON = ("--train_sampling_strategy", "sequential", "--optim", "sgd", "--learning_rate", "0.5", "--use_cpu", "true")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return make_workspace(tmp_path_factory.mktemp("ddp"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def torchrun(module: str, arguments: list[str]) -> subprocess.CompletedProcess:
    port = str(free_port())
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1", "--master_port", port, "-m", module, *arguments]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, env=env)
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def test_sft_on_two_processes_matches_one_process(workspace):
    from medmo.training import sft

    single = sft.main(recipe_args("stage3_instruct", workspace, "one", *COMMON, "--per_device_train_batch_size", "4"))
    torchrun("medmo.training.sft", recipe_args("stage3_instruct", workspace, "two", *COMMON, "--per_device_train_batch_size", "2", "--save_strategy", "steps", "--save_steps", "2"))
    expected = [entry["loss"] for entry in single.state.log_history if "loss" in entry]
    ranks_state = json.loads((workspace / "two/checkpoint-2/trainer_state.json").read_text())
    observed = [entry["loss"] for entry in ranks_state["log_history"] if "loss" in entry]
    assert len(expected) == len(observed) == 2
    assert observed == pytest.approx(expected, abs=1e-4)
    one, two = load_file(str(workspace / "one/model.safetensors")), load_file(str(workspace / "two/model.safetensors"))
    assert max((one[name] - two[name]).abs().max().item() for name in one) < 1e-5
    base = load_file(str(workspace / "base/model.safetensors"))
    assert max((one[name] - base[name]).abs().max().item() for name in one) > 1e-3  # it did train


def test_grpo_on_two_processes(workspace):
    result = torchrun(
        "medmo.training.grpo",
        recipe_args("stage4_grpo", workspace, "grpo-two", "--use_cpu", "true", "--num_generations", "2", "--max_completion_length", "8",
                    "--per_device_train_batch_size", "2"),
    )  # fmt: skip
    assert (workspace / "grpo-two" / "model.safetensors").is_file()
    assert "rewards/box_reward/mean" in result.stdout + result.stderr
