"""MedMO folders load through the Auto APIs: remote code, installed package, and across transformers versions."""

import json
import pytest
import torch
import transformers
from helpers import auto_load_in_fresh_process, chat_inputs, random_image, run_python, user_message


pytestmark = pytest.mark.compat
TF_MAJOR = int(transformers.__version__.split(".")[0])


def local_outputs(model, processor):
    inputs = chat_inputs(processor, user_message("Describe the findings.", [random_image(96, 64)]))
    if TF_MAJOR < 5:
        inputs.pop("mm_token_type_ids", None)
    with torch.no_grad():
        return model(**inputs).logits, model.generate(**inputs, max_new_tokens=6, do_sample=False)


def test_saved_folder_has_code_files_and_a_complete_auto_map(tiny_dir):
    names = {path.name for path in tiny_dir.iterdir()}
    assert {"configuration_medmo.py", "modeling_medmo.py", "processing_medmo.py", "chat_template.jinja"} <= names
    assert "model.safetensors" in names and not any(name.endswith(".bin") for name in names)
    auto_map = json.loads((tiny_dir / "config.json").read_text())["auto_map"]
    assert auto_map == {
        "AutoConfig": "configuration_medmo.MedMOConfig",
        "AutoModel": "modeling_medmo.MedMOModel",
        "AutoModelForImageTextToText": "modeling_medmo.MedMOForConditionalGeneration",
        "AutoModelForVision2Seq": "modeling_medmo.MedMOForConditionalGeneration",
    }
    processor_config = json.loads((tiny_dir / "processor_config.json").read_text())
    assert processor_config["auto_map"]["AutoProcessor"] == "processing_medmo.MedMOProcessor"


@pytest.mark.parametrize(
    "auto_class", ["AutoModelForImageTextToText"] + (["AutoModelForVision2Seq"] if TF_MAJOR < 5 else [])
)
def test_remote_code_load_in_a_fresh_process_gives_identical_outputs(tiny, tiny_dir, tmp_path, auto_class):
    report, logits, generated = auto_load_in_fresh_process(tiny_dir, tmp_path / "out.safetensors", auto_class)
    assert report["model"] == "MedMOForConditionalGeneration"
    assert report["module"].startswith("transformers_modules.")  # the folder's own code ran
    assert report["processor"] == "MedMOProcessor"
    expected_logits, expected_ids = local_outputs(*tiny)
    assert torch.equal(logits, expected_logits)
    assert torch.equal(generated, expected_ids)


def test_loading_without_trust_remote_code_fails_with_a_clear_message(tiny_dir):
    result = run_python(
        f"""
        from transformers import AutoModelForImageTextToText
        AutoModelForImageTextToText.from_pretrained({str(tiny_dir)!r})
        """,
        check=False,
    )
    assert result.returncode != 0
    assert "trust_remote_code=True" in result.stderr


def test_installed_package_registers_the_auto_classes(tiny, tiny_dir):
    result = run_python(
        f"""
        import medmo, transformers
        from transformers import AutoConfig, AutoModel, AutoModelForImageTextToText, AutoProcessor
        folder = {str(tiny_dir)!r}
        names = [type(AutoConfig.from_pretrained(folder)).__name__,
                 type(AutoModel.from_pretrained(folder)).__name__,
                 type(AutoModelForImageTextToText.from_pretrained(folder)).__module__,
                 type(AutoProcessor.from_pretrained(folder)).__name__]
        if hasattr(transformers, "AutoModelForVision2Seq"):
            names.append(type(transformers.AutoModelForVision2Seq.from_pretrained(folder)).__name__)
        import json
        print(json.dumps(names))
        """
    )
    names = json.loads(result.stdout.strip().splitlines()[-1])
    assert names[:4] == ["MedMOConfig", "MedMOModel", "medmo.modeling_medmo", "MedMOProcessor"]
    assert names[4:] == ([] if TF_MAJOR >= 5 else ["MedMOForConditionalGeneration"])
