"""The package's layers, read from the source (every import, at module level or inside a function):
each layer imports only the layers below it, and no module imports itself back through others.

    floor 5  the commands and apps: cli, demo, quickstart, the package root
    floor 4.5 inference/ (predict, serve, DICOM SR, quantized loading): uses evaluation's generation
    floor 4  training/ (its rewards excepted) and evaluation/: neither imports the other
    floor 3  sources/: one reader per raw data release
    floor 2  clinical/ (findings, answers, prompts, the task vocabulary), then training/rewards/
    floor 1  the package's tools (checkpoint, loading, files, tiny, ...), above the remote code:
             configuration_medmo, modeling_medmo, processing_medmo, boxes, medical_images, which
             import only each other and the core stack, so the Hub copy of a checkpoint works alone
"""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import run_python
from transformers.dynamic_module_utils import get_relative_import_files


REPO = Path(__file__).resolve().parents[1]
# The files a checkpoint folder carries: the three code files and what they import relatively.
REMOTE_CODE = {
    Path(path).stem
    for name in ("configuration_medmo.py", "modeling_medmo.py", "processing_medmo.py")
    for path in [REPO / name, *get_relative_import_files(str(REPO / name))]
}
# What the remote-code files may import: the core stack, and the optional medical readers (imported
# inside `try`, so a checkpoint loads without them).
REMOTE_CODE_PACKAGES = {"transformers", "torch", "numpy", "PIL", "pydicom", "nibabel"}
APPS = {"medmo", "medmo.cli", "medmo.demo", "medmo.quickstart"}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    parts = parts[:-1] if parts[-1] == "__init__" else parts
    return ".".join(("medmo", *parts))


def package_modules() -> dict[str, Path]:
    """Every module of the installed package (tracked .py files outside tests/ and bench/)."""
    files = subprocess.run(["git", "ls-files", "*.py"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    paths = [REPO / name for name in files if not name.startswith(("tests/", "bench/")) and (REPO / name).is_file()]
    return {module_name(path): path for path in paths}


MODULES = package_modules()


def imports(name: str) -> list[str]:
    """The names a module imports, resolved to absolute names (a `from X import y` that names a
    module counts as importing X.y)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                found.append(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return found


def floor(name: str) -> tuple[float, str]:
    """(floor, component) of a package module; a module may import lower floors and its own component."""
    short = name.removeprefix("medmo.")
    if name in APPS:
        return 5.0, "apps"
    if short in REMOTE_CODE:
        return 1.0, "remote code"
    if short.startswith("training.rewards"):
        return 2.5, "rewards"
    # inference (predict, serve, DICOM SR) runs a trained model through the evaluation harness's
    # batched generation, so it sits above evaluation (and never imports training)
    for prefix, level in (("clinical", 2.0), ("sources", 3.0), ("data_cards", 3.0), ("training", 4.0), ("evaluation", 4.0),
                          ("inference", 4.5)):
        if short == prefix or short.startswith(prefix + "."):
            return level, prefix
    return 1.5, "tools"  # checkpoint, loading, files, tiny, model_card, dependencies


def internal(name: str) -> str | None:
    """The package module an imported name refers to, or None for another package."""
    if name != "medmo" and not name.startswith("medmo."):
        return None
    while name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def test_the_module_list_is_complete():
    assert {"medmo.sources.deeplesion", "medmo.evaluation.tasks.grounding", "medmo.clinical.tasks", "medmo.loading"} <= set(MODULES)
    assert {"configuration_medmo", "modeling_medmo", "processing_medmo", "boxes", "medical_images"} <= REMOTE_CODE
    assert all(floor(name) for name in MODULES)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_each_module_imports_only_lower_floors(name):
    level, component = floor(name)
    for target in filter(None, map(internal, imports(name))):
        target_level, target_component = floor(target)
        allowed = target_component == component or target_level < level
        assert allowed, f"{name} (floor {level}, {component}) imports {target} (floor {target_level}, {target_component})"


@pytest.mark.parametrize("name", sorted(n for n in MODULES if floor(n)[1] == "remote code"))
def test_remote_code_imports_only_the_core_stack(name):
    outside = {target.split(".")[0] for target in imports(name) if internal(target) is None} - set(sys.stdlib_module_names)
    assert outside <= REMOTE_CODE_PACKAGES, f"{name} imports {sorted(outside - REMOTE_CODE_PACKAGES)}"


def test_evaluation_never_imports_training():
    offenders = [(name, target) for name in MODULES if name.startswith("medmo.evaluation")
                 for target in imports(name) if (internal(target) or "").startswith("medmo.training")]  # fmt: skip
    assert offenders == []


def test_no_import_cycles():
    graph = {name: {target for target in map(internal, imports(name)) if target and target != name} for name in MODULES}
    cycles, state = [], {}

    def visit(node, path):
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                cycles.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target, [*path, target])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_the_box_module_does_not_load_the_models():
    # `import medmo` registers the Auto classes through stand-ins; the modeling code loads on first use
    result = run_python(
        """
        import sys, json
        import medmo.boxes
        loaded = sorted(m for m in sys.modules if m.startswith(("medmo.modeling", "medmo.processing", "transformers.models.qwen3_vl.modeling")))
        import medmo
        from transformers import AutoModelForImageTextToText
        model = AutoModelForImageTextToText.from_config(medmo.MedMOConfig.from_preset("tiny"))
        print(json.dumps({"before": loaded, "model": f"{type(model).__module__}.{type(model).__name__}"}))
        """
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"before": [], "model": "medmo.modeling_medmo.MedMOForConditionalGeneration"}
