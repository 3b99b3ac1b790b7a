"""The files a Hub checkpoint runs stay self-contained and safe: what they import, and what they never do."""

import ast
import sys
from pathlib import Path

import pytest
from transformers.dynamic_module_utils import get_imports, get_relative_import_files


REPO_ROOT = Path(__file__).resolve().parents[1]
REMOTE_CODE = ["configuration_medmo.py", "modeling_medmo.py", "processing_medmo.py"]
ALLOWED_PACKAGES = {"transformers", "torch", "numpy", "PIL"}
FORBIDDEN_MODULES = {"socket", "urllib", "http", "requests", "httpx", "huggingface_hub", "pickle", "subprocess"}


def remote_code_files() -> list[Path]:
    files = {REPO_ROOT / name for name in REMOTE_CODE}
    for name in REMOTE_CODE:
        files.update(Path(path) for path in get_relative_import_files(str(REPO_ROOT / name)))
    return sorted(files)


def test_the_code_files_pull_in_the_box_image_and_aux_vision_modules():
    assert {path.name for path in remote_code_files()} == {*REMOTE_CODE, "boxes.py", "medical_images.py", "aux_vision_medmo.py"}


@pytest.mark.parametrize("path", remote_code_files(), ids=lambda path: path.name)
def test_required_imports_are_stdlib_or_the_core_stack(path):
    required = set(get_imports(str(path)))  # what transformers demands be installed to load the checkpoint
    assert required - sys.stdlib_module_names <= ALLOWED_PACKAGES


@pytest.mark.parametrize("path", remote_code_files(), ids=lambda path: path.name)
def test_no_network_no_pickle_no_eval(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imported.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in ("eval", "exec", "compile", "__import__"), f"{path.name} calls {node.func.id}"
        elif isinstance(node, ast.Attribute) and node.attr == "load" and getattr(node.value, "id", "") == "torch":
            pytest.fail(f"{path.name} calls torch.load (pickle); load safetensors only")
    assert not imported & FORBIDDEN_MODULES
