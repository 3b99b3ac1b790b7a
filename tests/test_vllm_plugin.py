"""The vLLM plugin, against a stand-in `vllm` (vLLM itself needs a GPU): discovered through the
`vllm.general_plugins` entry point that pyproject.toml declares, it maps MedMO's architecture onto
vLLM's Qwen3-VL and makes a MedMO folder's config and processor resolve without remote code."""

import json
import sys
import textwrap
import tomllib
import types
from pathlib import Path

from helpers import run_python

from medmo.inference import vllm_plugin


REPO = Path(__file__).resolve().parents[1]

# The parts of vLLM's API the plugin touches, with vLLM's own checks (vllm/model_executor/models/registry.py,
# vllm/plugins/__init__.py): a lazy `module:Class` string, plugins found by entry-point group.
STAND_IN_VLLM = '''
class _ModelRegistry:
    def __init__(self):
        self.models = {"Qwen3VLForConditionalGeneration": "vllm.model_executor.models.qwen3_vl:Qwen3VLForConditionalGeneration"}
        self.calls = 0

    def get_supported_archs(self):
        return self.models.keys()

    def register_model(self, model_arch, model_cls):
        if not isinstance(model_arch, str):
            raise TypeError("`model_arch` should be a string")
        if isinstance(model_cls, str) and len(model_cls.split(":")) != 2:
            raise ValueError("Expected a string in the format `<module>:<class>`")
        self.calls += 1
        self.models[model_arch] = model_cls


ModelRegistry = _ModelRegistry()
'''
STAND_IN_PLUGINS = '''
from importlib.metadata import entry_points

plugins_loaded = False


def load_general_plugins():
    global plugins_loaded
    if plugins_loaded:
        return
    plugins_loaded = True
    for plugin in entry_points(group="vllm.general_plugins"):
        plugin.load()()
'''


def stand_in(root: Path) -> Path:
    """A stand-in vllm package and an installed-distribution record carrying pyproject's entry points."""
    (root / "vllm" / "plugins").mkdir(parents=True)
    (root / "vllm" / "__init__.py").write_text(STAND_IN_VLLM)
    (root / "vllm" / "plugins" / "__init__.py").write_text(STAND_IN_PLUGINS)
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["entry-points"]
    dist = root / "medmo_plugin_check-0.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: medmo-plugin-check\nVersion: 0.0\n")
    (dist / "entry_points.txt").write_text("".join(f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in items.items()) for group, items in declared.items()))
    return root


def test_vllm_discovers_the_plugin_and_serves_medmo_as_qwen3_vl(tiny_dir, tmp_path):
    site = stand_in(tmp_path / "site")
    code = f"""
        import json, sys
        sys.path.insert(0, {str(site)!r})
        from transformers import AutoConfig, AutoProcessor, Qwen3VLConfig, Qwen3VLProcessor

        try:  # before the plugin: a MedMO folder's config needs remote code
            AutoConfig.from_pretrained({str(tiny_dir)!r})
            before = "resolved"
        except (ValueError, OSError, EOFError) as error:
            before = type(error).__name__
        from vllm.plugins import load_general_plugins
        load_general_plugins()
        import vllm
        assert "medmo" in sys.modules  # imported by the plugin, not by this script
        vllm.plugins.plugins_loaded = False
        load_general_plugins()  # vLLM loads plugins in every process it starts: harmless twice
        config = AutoConfig.from_pretrained({str(tiny_dir)!r})
        processor = AutoProcessor.from_pretrained({str(tiny_dir)!r})
        print("REPORT", json.dumps({{"before": before, "models": dict(vllm.ModelRegistry.models), "calls": vllm.ModelRegistry.calls,
                          "config": [type(config).__name__, isinstance(config, Qwen3VLConfig), config.architectures],
                          "processor": [type(processor).__name__, isinstance(processor, Qwen3VLProcessor)]}}))
    """
    result = run_python(textwrap.dedent(code))
    report = json.loads(result.stdout.split("REPORT ")[-1])  # after the remote-code prompt the first attempt printed
    assert report["before"] != "resolved"
    assert report["models"]["MedMOForConditionalGeneration"] == "vllm.model_executor.models.qwen3_vl:Qwen3VLForConditionalGeneration"
    assert report["calls"] == 1
    # vLLM looks the folder's architecture up in its registry, and checks these types in its Qwen3-VL
    assert report["config"] == ["MedMOConfig", True, ["MedMOForConditionalGeneration"]]
    assert report["processor"] == ["MedMOProcessor", True]


def test_the_architecture_registered_is_the_one_medmo_folders_name(tiny_dir):
    assert json.loads((Path(tiny_dir) / "config.json").read_text())["architectures"] == [vllm_plugin.ARCHITECTURE]


def test_register_leaves_an_existing_registration_alone(monkeypatch):
    calls = []
    registry = types.SimpleNamespace(get_supported_archs=lambda: {vllm_plugin.ARCHITECTURE}, register_model=lambda *a: calls.append(a))
    monkeypatch.setitem(sys.modules, "vllm", types.SimpleNamespace(ModelRegistry=registry))
    vllm_plugin.register()
    assert calls == []

