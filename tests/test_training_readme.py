"""The training guide's tiny-recipe commands run as written, in order, from a fresh working folder."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest


pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]


def guide_commands() -> list[str]:
    text = (REPO / "training" / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- tested: tiny-recipe\b.*?-->\s*```bash\n(.*?)```", text, re.DOTALL).group(1)
    return [line.split("#")[0].strip() for line in block.splitlines() if line.split("#")[0].strip()]


def test_tiny_recipe_commands_run_as_written(tmp_path):
    (tmp_path / "training").symlink_to(REPO / "training")
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    commands = guide_commands()
    assert len(commands) == 7
    for command in commands:
        arguments = shlex.split(command)
        if arguments[0] == "python":
            arguments[0] = sys.executable
        result = subprocess.run(arguments, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, f"{command}\n{result.stderr[-3000:]}"
    for stage in ("stage1", "stage2", "stage3", "stage4"):
        assert (tmp_path / "runs/tiny" / stage / "model.safetensors").is_file()
    assert (tmp_path / "runs/tiny/lora/adapter_model.safetensors").is_file()
    assert (tmp_path / "runs/tiny/lora/merged/model.safetensors").is_file()
