"""`medmo convert` / `medmo export-qwen3vl`: Qwen3-VL folders in, loadable MedMO repositories out, and back."""

import json
import os

import pytest
import torch
import transformers
from helpers import (
    auto_load_in_fresh_process,
    chat_inputs,
    random_image,
    run_python,
    user_message,
    write_qwen3vl_checkpoint,
)
from transformers import Qwen3VLForConditionalGeneration

from medmo import checkpoint
from medmo.checkpoint import CheckpointError, convert_qwen3vl_to_medmo, export_medmo_to_qwen3vl
from medmo.cli import main
from medmo.model_card import read_card_metadata


pytestmark = pytest.mark.compat


@pytest.fixture(scope="module")
def qwen_folder(tiny, tmp_path_factory):
    folder = tmp_path_factory.mktemp("qwen3vl-source")
    qwen = write_qwen3vl_checkpoint(*tiny, folder)
    return folder, qwen


def reference_logits(model, processor):
    inputs = chat_inputs(processor, user_message("Describe the findings.", [random_image(96, 64)]))
    if not transformers.__version__.startswith("5"):
        inputs.pop("mm_token_type_ids", None)
    with torch.no_grad():
        return model(**inputs).logits


def test_source_fixture_is_a_sharded_stock_checkpoint(qwen_folder):
    folder, _ = qwen_folder
    index = json.loads((folder / "model.safetensors.index.json").read_text())
    assert len(set(index["weight_map"].values())) > 2
    assert json.loads((folder / "config.json").read_text())["model_type"] == "qwen3_vl"
    assert not list(folder.glob("*.py"))


def test_convert_writes_a_complete_medmo_repository(qwen_folder, tmp_path):
    source, _ = qwen_folder
    out = convert_qwen3vl_to_medmo(source, tmp_path / "medmo")
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "medmo"
    assert config["architectures"] == ["MedMOForConditionalGeneration"]
    assert set(config["auto_map"]) == {"AutoConfig", "AutoModel", "AutoModelForImageTextToText", "AutoModelForVision2Seq"}
    for name in ("configuration_medmo.py", "modeling_medmo.py", "processing_medmo.py", "chat_template.jinja",
                 "generation_config.json", "model.safetensors.index.json", "README.md"):
        assert (out / name).is_file(), name
    card = read_card_metadata(out / "README.md")
    assert card["license"] == "apache-2.0"  # carried over from the source card, not invented
    assert card["base_model"] == "Qwen/Qwen3-VL-8B-Instruct"
    assert card["pipeline_tag"] == "image-text-to-text"
    assert "medical" in card["tags"]
    processor_config = json.loads((out / "processor_config.json").read_text())
    assert processor_config["auto_map"] == {"AutoProcessor": "processing_medmo.MedMOProcessor"}


def test_convert_hard_links_shards_and_never_rewrites_them(qwen_folder, tmp_path):
    source, _ = qwen_folder
    out = convert_qwen3vl_to_medmo(source, tmp_path / "linked")
    copied = convert_qwen3vl_to_medmo(source, tmp_path / "copied", link=False)
    for shard in source.glob("*.safetensors"):
        assert os.stat(out / shard.name).st_ino == shard.stat().st_ino
        assert os.stat(copied / shard.name).st_ino != shard.stat().st_ino
        assert (copied / shard.name).read_bytes() == shard.read_bytes()


def test_converted_folder_loads_with_bit_identical_logits(qwen_folder, tiny, tmp_path):
    source, qwen = qwen_folder
    out = convert_qwen3vl_to_medmo(source, tmp_path / "medmo")
    report, logits, _ = auto_load_in_fresh_process(out, tmp_path / "logits.safetensors")
    assert report["model"] == "MedMOForConditionalGeneration" and report["processor"] == "MedMOProcessor"
    assert torch.equal(logits, reference_logits(Qwen3VLForConditionalGeneration.from_pretrained(source).eval(), tiny[1]))


def test_export_round_trips_to_a_plain_qwen3vl_folder(qwen_folder, tiny, tmp_path):
    source, _ = qwen_folder
    medmo_folder = convert_qwen3vl_to_medmo(source, tmp_path / "medmo")
    exported = export_medmo_to_qwen3vl(medmo_folder, tmp_path / "qwen")
    config = json.loads((exported / "config.json").read_text())
    assert config["model_type"] == "qwen3_vl" and "auto_map" not in config
    assert not list(exported.glob("*.py"))
    result = run_python(
        f"""
        from transformers import AutoModelForImageTextToText
        print(type(AutoModelForImageTextToText.from_pretrained({str(exported)!r})).__name__)
        """
    )
    assert result.stdout.strip().endswith("Qwen3VLForConditionalGeneration")
    original = reference_logits(Qwen3VLForConditionalGeneration.from_pretrained(source).eval(), tiny[1])
    assert torch.equal(reference_logits(Qwen3VLForConditionalGeneration.from_pretrained(exported).eval(), tiny[1]), original)


def test_not_a_qwen3vl_folder_is_refused(tmp_path):
    source = tmp_path / "llama"
    source.mkdir()
    (source / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 8}))
    with pytest.raises(CheckpointError, match="model_type 'llama'"):
        convert_qwen3vl_to_medmo(source, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_missing_config_and_missing_folder_are_refused(tmp_path):
    with pytest.raises(CheckpointError, match="not a folder"):
        convert_qwen3vl_to_medmo(tmp_path / "nowhere", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="config.json is missing"):
        convert_qwen3vl_to_medmo(tmp_path / "empty", tmp_path / "out")


def _broken_copy(qwen_folder, tmp_path, name):
    import shutil

    source, _ = qwen_folder
    broken = tmp_path / name
    shutil.copytree(source, broken)
    return broken


def test_missing_shard_is_named_and_nothing_is_written(qwen_folder, tmp_path):
    broken = _broken_copy(qwen_folder, tmp_path, "missing-shard")
    shard = sorted(broken.glob("model-*.safetensors"))[1]
    shard.unlink()
    with pytest.raises(CheckpointError, match=shard.name):
        convert_qwen3vl_to_medmo(broken, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]


def test_index_naming_an_absent_file_is_refused(qwen_folder, tmp_path):
    broken = _broken_copy(qwen_folder, tmp_path, "bad-index")
    index_path = broken / "model.safetensors.index.json"
    index = json.loads(index_path.read_text())
    first_key = next(iter(index["weight_map"]))
    index["weight_map"][first_key] = "model-99999-of-99999.safetensors"
    index_path.write_text(json.dumps(index))
    with pytest.raises(CheckpointError, match="model-99999-of-99999"):
        convert_qwen3vl_to_medmo(broken, tmp_path / "out")


def test_pickled_weights_are_refused_with_the_fix(tmp_path, qwen_folder):
    source, _ = qwen_folder
    folder = tmp_path / "pickled"
    folder.mkdir()
    (folder / "config.json").write_text((source / "config.json").read_text())
    (folder / "pytorch_model.bin").write_bytes(b"\x80\x04")
    with pytest.raises(CheckpointError, match="safetensors"):
        convert_qwen3vl_to_medmo(folder, tmp_path / "out")


def test_non_empty_output_is_refused(qwen_folder, tmp_path):
    source, _ = qwen_folder
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("user data")
    with pytest.raises(CheckpointError, match="not empty"):
        convert_qwen3vl_to_medmo(source, tmp_path / "busy")
    assert (tmp_path / "busy" / "keep.txt").read_text() == "user data"


def test_a_failure_half_way_leaves_no_output(qwen_folder, tmp_path, monkeypatch):
    source, _ = qwen_folder

    def fail_after_weights(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint, "_processor_files_to_medmo", fail_after_weights)
    with pytest.raises(OSError, match="disk full"):
        convert_qwen3vl_to_medmo(source, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_export_refuses_a_folder_that_is_not_medmo(qwen_folder, tmp_path):
    source, _ = qwen_folder
    with pytest.raises(CheckpointError, match="expected 'medmo'"):
        export_medmo_to_qwen3vl(source, tmp_path / "out")


def test_cli_reports_errors_with_exit_code_2(tmp_path, capsys):
    assert main(["convert", str(tmp_path / "nowhere"), str(tmp_path / "out")]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_cli_converts(qwen_folder, tmp_path, capsys):
    source, _ = qwen_folder
    assert main(["convert", str(source), str(tmp_path / "out"), "--copy"]) == 0
    assert "MedMO repository written" in capsys.readouterr().out
    assert json.loads((tmp_path / "out" / "config.json").read_text())["model_type"] == "medmo"
