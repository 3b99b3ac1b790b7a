"""`pip install .` (a real wheel) gives a working package: its files, its extras, and its commands
run from a clean virtual environment."""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest
from helpers import run_python
from PIL import Image


REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    # Build from a copy of the tracked files, as `pip install .` on a fresh clone would, and so
    # that setuptools' build/ folder never lands in the working tree.
    work = tmp_path_factory.mktemp("wheel")
    checkout = work / "checkout"
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout.split()
    for name in tracked:
        if (REPO_ROOT / name).is_file():  # a file deleted in the working tree is not part of it
            (checkout / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / name, checkout / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(work), str(checkout)],
        check=True,
        capture_output=True,
    )
    return next(work.glob("medmo-*.whl"))


def test_wheel_installs_a_working_medmo_package(wheel, tmp_path):
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in ("medmo/__init__.py", "medmo/configuration_medmo.py", "medmo/modeling_medmo.py",
                     "medmo/processing_medmo.py", "medmo/aux_vision_medmo.py", "medmo/aux_encoder.py", "medmo/chat_template.jinja", "medmo/cli.py", "medmo/loading.py",
                     # package data the installed code reads at run time
                     "medmo/clinical/lexicon.yaml", "medmo/evaluation/judge_prompt.txt", "medmo/evaluation/tasks/__init__.py",
                     "medmo/sources/deeplesion.py", "medmo/data_cards/registry.yaml", "medmo/data_cards/vqa_rad.md",
                     "medmo/training/sft.py", "medmo/training/data/converters/base.py",
                     "medmo/training/recipes/tiny/stage2_grounding.yaml", "medmo/training/accelerate_configs/zero2.yaml",
                     "medmo/inference/vllm_plugin.py", "medmo/inference/serve.py"):  # fmt: skip
        assert expected in names, expected
    # what vLLM discovers in an installed medmo (`vllm serve path/to/medmo-repo`)
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    assert "[vllm.general_plugins]\nmedmo = medmo.inference.vllm_plugin:register" in entry_points
    assert not any(name.startswith(("medmo/tests/", "medmo/bench/", "tests/", "medmo/data/")) for name in names)

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


def test_extras_are_the_packages_their_commands_import():
    from medmo.dependencies import EXTRAS

    declared = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert {extra: sorted(requirements.values()) for extra, requirements in EXTRAS.items()} == {
        extra: sorted(declared[extra]) for extra in EXTRAS
    }
    assert declared["all"] == [f"medmo[{','.join(EXTRAS)}]"]


def test_a_command_without_its_extra_names_the_install(tmp_path, monkeypatch, capsys):
    from medmo import dependencies
    from medmo.cli import main as cli

    monkeypatch.setitem(sys.modules, "sacrebleu", None)  # as if the eval extra were not installed
    assert cli(["eval", "--list-tasks"]) == 2
    assert 'medmo eval needs the eval extra (missing: sacrebleu): pip install "medmo[eval]"' in capsys.readouterr().err
    assert dependencies.missing_modules("eval") == ["sacrebleu"]
    # the training scripts import TRL first thing: without it they say which extra brings it
    result = run_python("import sys; sys.modules['trl'] = None; import runpy; runpy.run_module('medmo.training.sft')", check=False)
    assert result.returncode != 0 and 'python -m medmo.training.sft needs the train extra (missing: trl): pip install "medmo[train]"' in result.stderr


# Run in the new environment: where medmo comes from, and which requirements of `medmo[all]`
# (read from the installed wheel's metadata, extras expanded) no installed distribution satisfies.
CHECK_REQUIREMENTS = """
import importlib.metadata as metadata, json, medmo
from packaging.requirements import Requirement

requirements = [Requirement(text) for text in metadata.distribution("medmo").requires]

def wanted(extras):
    found = []
    for requirement in requirements:
        if requirement.marker is None:
            found.append(requirement)
        elif any(requirement.marker.evaluate({"extra": extra}) for extra in extras):
            found += wanted(requirement.extras) if requirement.name == "medmo" else [requirement]
    return found

unmet = []
for requirement in wanted(["all"]):
    try:
        version = metadata.version(requirement.name)
    except metadata.PackageNotFoundError:
        unmet.append(str(requirement))
        continue
    if not requirement.specifier.contains(version, prereleases=True):
        unmet.append(f"{requirement} (found {version})")
print(json.dumps({"medmo": medmo.__file__, "checked": len(wanted(["all"])), "unmet": unmet}))
"""


@pytest.mark.slow
def test_the_wheel_runs_its_commands_from_a_clean_environment(wheel, tmp_path):
    # "Clean": a new virtual environment holding only the wheel's medmo. Its third-party packages
    # are this environment's pinned stack, reached read-only through a .pth file that names our
    # site-packages directory (a directory added that way has its own .pth files, the editable
    # medmo among them, left unrun), so nothing of the working tree is importable there; every
    # requirement of medmo[all] is checked against the installed distributions.
    environment = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(environment)
    python = environment / "bin" / "python"
    site = Path(run_python("import sysconfig; print(sysconfig.get_paths()['purelib'])", python=str(python)).stdout.strip())
    stack = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "medmo-test-stack.pth").write_text("".join(f"{path}\n" for path in sorted(stack)))
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)], check=True)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["PATH"] = f"{environment / 'bin'}{os.pathsep}{env['PATH']}"

    def run(*command: str) -> subprocess.CompletedProcess:
        result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, f"{' '.join(command)}\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
        return result

    report = json.loads(run(str(python), "-c", CHECK_REQUIREMENTS).stdout.strip().splitlines()[-1])
    assert report["medmo"].startswith(str(site)) and report["checked"] > 15 and report["unmet"] == []

    # medmo data convert on a fixture in its published layout, named through the shipped registry
    raw = tmp_path / "raw" / "vqa_rad"
    (raw / "VQA_RAD Image Folder").mkdir(parents=True)
    Image.new("RGB", (64, 48), (90, 90, 90)).save(raw / "VQA_RAD Image Folder" / "synpic1.jpg")
    (raw / "VQA_RAD Dataset Public.json").write_text(json.dumps([
        {"qid": 1, "image_name": "synpic1.jpg", "question": "Is there a fracture?", "answer": "No", "answer_type": "CLOSED", "phrase_type": "freeform"},
        {"qid": 2, "image_name": "synpic1.jpg", "question": "Where is the lesion?", "answer": "left lobe", "answer_type": "OPEN", "phrase_type": "test_para"},
    ]))  # fmt: skip
    summary = json.loads(run("medmo", "data", "convert", "vqa_rad", str(raw), str(tmp_path / "converted")).stdout)
    assert (summary["read"], summary["written"], summary["rejected"]) == (2, 2, 0)

    listed = run("medmo", "eval", "--list-tasks").stdout.splitlines()
    assert [line.split()[0] for line in listed][:3] == ["mmmu_med", "vqa_rad", "slake"] and len(listed) == 24

    # a one-step tiny SFT run with the recipe the wheel ships
    run("medmo", "build-tiny", "base")
    run("medmo", "data", "phantom", "data/phantom", "--train", "4", "--heldout", "0", "--size", "64")
    where = "import medmo.training, pathlib; print(pathlib.Path(medmo.training.__file__).parent / 'recipes' / 'tiny' / 'stage1_reports.yaml')"
    recipe = run(str(python), "-c", where).stdout.strip()
    assert recipe.startswith(str(site))
    run(str(python), "-m", "medmo.training.sft", "--config", recipe, "--model_name_or_path", "base", "--output_dir", "runs/sft",
        "--max_steps", "1", "--per_device_train_batch_size", "2", "--report_to", "none")  # fmt: skip
    assert (tmp_path / "runs" / "sft" / "model.safetensors").is_file() and (tmp_path / "runs" / "sft" / "README.md").is_file()
