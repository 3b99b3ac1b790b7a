"""Folders saved under transformers 5.x load under 4.57 and the reverse, with the same outputs.

Driven from the 5.x suite: the 4.57 side runs in the second environment that `make setup` creates
(`.venv-tf4`, or the interpreter named by MEDMO_TF4_PYTHON).
"""

import os
from pathlib import Path

import pytest
import torch
import transformers
from helpers import auto_load_in_fresh_process, run_python
from test_auto_loading import local_outputs


REPO_ROOT = Path(__file__).resolve().parents[1]
TF4_PYTHON = os.environ.get("MEDMO_TF4_PYTHON") or str(REPO_ROOT / ".venv-tf4" / "bin" / "python")
pytestmark = [
    pytest.mark.skipif(not transformers.__version__.startswith("5"), reason="driven from the transformers 5.x suite"),
    pytest.mark.skipif(not Path(TF4_PYTHON).exists(), reason=f"no transformers 4.57 env at {TF4_PYTHON}; run `make setup`"),
]


def test_folder_saved_with_5x_loads_in_4_57(tiny, tiny_dir, tmp_path):
    report, logits, generated = auto_load_in_fresh_process(
        tiny_dir, tmp_path / "out.safetensors", "AutoModelForVision2Seq", python=TF4_PYTHON
    )
    assert report["version"].startswith("4.57") and report["model"] == "MedMOForConditionalGeneration"
    expected_logits, expected_ids = local_outputs(*tiny)
    torch.testing.assert_close(logits, expected_logits, atol=1e-5, rtol=0)
    assert torch.equal(generated, expected_ids)


def test_folder_saved_with_4_57_loads_in_5x(tmp_path):
    folder = tmp_path / "saved-by-4.57"
    run_python(f"from medmo.tiny import save_tiny; save_tiny({str(folder)!r}, seed=3)", python=TF4_PYTHON)
    _, logits_4, generated_4 = auto_load_in_fresh_process(folder, tmp_path / "a.safetensors", "AutoModelForVision2Seq", python=TF4_PYTHON)
    report, logits_5, generated_5 = auto_load_in_fresh_process(folder, tmp_path / "b.safetensors")
    assert report["version"].startswith("5.")
    torch.testing.assert_close(logits_5, logits_4, atol=1e-5, rtol=0)
    assert torch.equal(generated_5, generated_4)


def _rope_keys(folder) -> set:
    import json

    return {key for key in json.loads((Path(folder) / "config.json").read_text())["text_config"] if key.startswith("rope")}


@pytest.fixture
def qwen3vl_saved_by_5x(tiny, tmp_path):
    """A stock Qwen3-VL folder as transformers 5.x saves it: M-RoPE under `rope_parameters` only."""
    from helpers import write_qwen3vl_checkpoint

    folder = tmp_path / "qwen3vl-saved-by-5x"
    qwen = write_qwen3vl_checkpoint(*tiny, folder)
    assert _rope_keys(folder) == {"rope_parameters"}
    return folder, qwen


def _reference(qwen, processor):
    from helpers import chat_inputs, for_stock_qwen3vl, random_image, user_message

    inputs = for_stock_qwen3vl(chat_inputs(processor, user_message("Describe the findings.", [random_image(96, 64)])))
    with torch.no_grad():
        return qwen(**inputs).logits, qwen.generate(**inputs, max_new_tokens=6, do_sample=False)


def test_5x_saved_qwen3vl_folder_converted_by_5x_loads_in_4_57(qwen3vl_saved_by_5x, tiny, tmp_path):
    from medmo.checkpoint import convert_qwen3vl_to_medmo

    source, qwen = qwen3vl_saved_by_5x
    converted = convert_qwen3vl_to_medmo(source, tmp_path / "medmo")
    assert {"rope_parameters", "rope_scaling", "rope_theta"} <= _rope_keys(converted)
    report, logits, generated = auto_load_in_fresh_process(converted, tmp_path / "out.safetensors", "AutoModelForVision2Seq", python=TF4_PYTHON)
    assert report["version"].startswith("4.57") and report["model"] == "MedMOForConditionalGeneration"
    expected_logits, expected_ids = _reference(qwen, tiny[1])
    torch.testing.assert_close(logits, expected_logits, atol=1e-5, rtol=0)
    assert torch.equal(generated, expected_ids)


def test_5x_saved_qwen3vl_folder_converted_by_4_57_loads_in_both(qwen3vl_saved_by_5x, tiny, tmp_path):
    source, qwen = qwen3vl_saved_by_5x
    converted = tmp_path / "medmo"
    run_python(f"from medmo.checkpoint import convert_qwen3vl_to_medmo; convert_qwen3vl_to_medmo({str(source)!r}, {str(converted)!r})",
               python=TF4_PYTHON)
    expected_logits, expected_ids = _reference(qwen, tiny[1])
    for auto_class, python in (("AutoModelForVision2Seq", TF4_PYTHON), ("AutoModelForImageTextToText", None)):
        _, logits, generated = auto_load_in_fresh_process(converted, tmp_path / "out.safetensors", auto_class, python=python)
        torch.testing.assert_close(logits, expected_logits, atol=1e-5, rtol=0)
        assert torch.equal(generated, expected_ids)


def test_export_of_a_medmo_folder_with_5x_rope_only_loads_in_4_57(qwen3vl_saved_by_5x, tiny, tmp_path):
    """A MedMO folder whose config has only 5.x's spelling (as `medmo convert` wrote before it
    serialised through the config class) exports to a Qwen3-VL folder that stock 4.57 loads."""
    import json

    from medmo.checkpoint import convert_qwen3vl_to_medmo, export_medmo_to_qwen3vl

    source, qwen = qwen3vl_saved_by_5x
    medmo_folder = convert_qwen3vl_to_medmo(source, tmp_path / "medmo")
    config = json.loads((medmo_folder / "config.json").read_text())
    for key in ("rope_scaling", "rope_theta"):
        config["text_config"].pop(key)
    (medmo_folder / "config.json").write_text(json.dumps(config))
    exported = export_medmo_to_qwen3vl(medmo_folder, tmp_path / "qwen3vl")
    assert {"rope_parameters", "rope_scaling", "rope_theta"} <= _rope_keys(exported)
    report, logits, generated = auto_load_in_fresh_process(exported, tmp_path / "out.safetensors", "AutoModelForVision2Seq",
                                                           python=TF4_PYTHON, processor_folder=medmo_folder)
    assert report["model"] == "Qwen3VLForConditionalGeneration"
    expected_logits, expected_ids = _reference(qwen, tiny[1])
    torch.testing.assert_close(logits, expected_logits, atol=1e-5, rtol=0)
    assert torch.equal(generated, expected_ids)


def test_4_57_saved_medmo_folder_exported_by_5x_loads_in_both(tmp_path):
    from medmo.checkpoint import export_medmo_to_qwen3vl

    folder = tmp_path / "saved-by-4.57"
    run_python(f"from medmo.tiny import save_tiny; save_tiny({str(folder)!r}, seed=5)", python=TF4_PYTHON)
    assert "rope_parameters" not in _rope_keys(folder)
    _, reference, _ = auto_load_in_fresh_process(folder, tmp_path / "ref.safetensors", "AutoModelForVision2Seq", python=TF4_PYTHON)
    exported = export_medmo_to_qwen3vl(folder, tmp_path / "qwen3vl")
    _, logits_5, _ = auto_load_in_fresh_process(exported, tmp_path / "a.safetensors", processor_folder=folder)
    _, logits_4, _ = auto_load_in_fresh_process(exported, tmp_path / "b.safetensors", "AutoModelForVision2Seq", python=TF4_PYTHON,
                                                processor_folder=folder)
    torch.testing.assert_close(logits_5, reference, atol=1e-5, rtol=0)
    torch.testing.assert_close(logits_4, reference, atol=1e-5, rtol=0)
