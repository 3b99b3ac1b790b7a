"""`pip install .` (a real wheel) gives the same working package as the editable install."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from helpers import run_python


REPO_ROOT = Path(__file__).resolve().parents[1]


def test_wheel_installs_a_working_medmo_package(tmp_path):
    # Build from a copy of the tracked files, as `pip install .` on a fresh clone would, and so
    # that setuptools' build/ folder never lands in the working tree.
    checkout = tmp_path / "checkout"
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout.split()
    for name in tracked:
        (checkout / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, checkout / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(checkout)],
        check=True,
        capture_output=True,
    )
    wheel = next(tmp_path.glob("medmo-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in ("medmo/__init__.py", "medmo/configuration_medmo.py", "medmo/modeling_medmo.py",
                     "medmo/processing_medmo.py", "medmo/chat_template.jinja", "medmo/cli.py",
                     # package data the installed code reads at run time
                     "medmo/clinical/lexicon.yaml", "medmo/evaluation/judge_prompt.txt", "medmo/evaluation/tasks.py",
                     "medmo/training/sft.py", "medmo/training/data/converters/base.py",
                     "medmo/training/recipes/tiny/stage2_grounding.yaml", "medmo/training/accelerate_configs/zero2.yaml",
                     "medmo/inference/vllm_plugin.py", "medmo/inference/serve.py"):
        assert expected in names, expected
    # what vLLM discovers in an installed medmo (`vllm serve path/to/medmo-repo`)
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    assert "[vllm.general_plugins]\nmedmo = medmo.inference.vllm_plugin:register" in entry_points
    assert not any(name.startswith(("medmo/tests/", "medmo/bench/", "tests/")) for name in names)

    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)], check=True)
    result = run_python(
        """
        import medmo, medmo.tiny
        from transformers import AutoConfig
        model, processor = medmo.tiny.build_tiny()
        print(medmo.__file__)
        print(type(AutoConfig.for_model("medmo")).__name__)
        """,
        env={"PYTHONPATH": str(target)},
        cwd=tmp_path,
    )
    first, second = result.stdout.strip().splitlines()[-2:]
    assert first.startswith(str(target))
    assert second == "MedMOConfig"
