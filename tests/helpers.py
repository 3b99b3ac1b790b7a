"""Small builders shared by the tests: images, chat messages, model inputs, subprocess runs."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
from PIL import Image


# A MIMIC-CXR free-text report in the released layout (header, sections), made up for the fixtures.
MIMIC_REPORT = """                                 FINAL REPORT
 EXAMINATION:  CHEST (PA AND LAT)

 INDICATION:  ___F with cough

 FINDINGS:
 There is a small left pleural effusion.  No pneumothorax.

 IMPRESSION:
 Small left effusion.
"""


def random_image(width: int, height: int, seed: int = 0) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def user_message(text: str, images=()) -> list[dict]:
    content = [{"type": "image", "image": image} for image in images] + [{"type": "text", "text": text}]
    return [{"role": "user", "content": content}]


def chat_inputs(processor, conversations, **kwargs):
    """Tokenized, batched model inputs for one or several conversations."""
    return processor.apply_chat_template(
        conversations, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt", **kwargs
    )


def for_stock_qwen3vl(inputs) -> dict:
    """MedMO processor outputs for a stock `Qwen3VLForConditionalGeneration`, which does not take the
    `image_sizes` (original sizes) MedMO's processor adds."""
    return {key: value for key, value in inputs.items() if key != "image_sizes"}


def run_python(code: str, python: str | None = None, cwd=None, env=None, check=True) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter (no state shared with the test process)."""
    process_env = {**os.environ, **(env or {})}
    result = subprocess.run(
        [python or sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=process_env,
        stdin=subprocess.DEVNULL,
        timeout=600,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"subprocess failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def last_json_line(text: str):
    return json.loads([line for line in text.splitlines() if line.startswith("{")][-1])


TESTS_DIR = os.path.dirname(os.path.abspath(__file__))

# Loads a MedMO folder through the Auto classes in a fresh interpreter (nothing imported from
# `medmo`), runs one fixed image+text input and saves the logits and the generated ids.
AUTO_LOAD_SCRIPT = """
import json, sys, torch
sys.path.insert(0, {tests_dir!r})
import transformers
from safetensors.torch import save_file
from helpers import chat_inputs, random_image, user_message
folder, auto_class, out, processor_folder = {folder!r}, {auto_class!r}, {out!r}, {processor_folder!r}
model = getattr(transformers, auto_class).from_pretrained(folder, trust_remote_code=True).eval()
processor = transformers.AutoProcessor.from_pretrained(processor_folder, trust_remote_code=True)
inputs = chat_inputs(processor, user_message("Describe the findings.", [random_image(96, 64)]))
if not transformers.__version__.startswith("5"):
    inputs.pop("mm_token_type_ids", None)
if type(model).__name__.startswith("Qwen3VL"):  # a stock Qwen3-VL model does not take MedMO's image_sizes
    inputs.pop("image_sizes")
with torch.no_grad():
    logits = model(**inputs).logits
    generated = model.generate(**inputs, max_new_tokens=6, do_sample=False)
save_file({{"logits": logits.contiguous(), "generated": generated.contiguous()}}, out)
print(json.dumps({{"model": type(model).__name__, "module": type(model).__module__,
                  "processor": type(processor).__name__, "version": transformers.__version__}}))
"""


def auto_load_in_fresh_process(folder, out_file, auto_class="AutoModelForImageTextToText", python=None, processor_folder=None):
    """Load `folder` in a new interpreter; returns (its report, its logits, its generated ids).

    `processor_folder` (default `folder`) supplies the processor: a plain Qwen3-VL folder's stock
    processor needs torchvision, which this stack does not install.
    """
    from safetensors.torch import load_file

    code = AUTO_LOAD_SCRIPT.format(tests_dir=TESTS_DIR, folder=str(folder), auto_class=auto_class, out=str(out_file),
                                   processor_folder=str(processor_folder or folder))
    report = last_json_line(run_python(code, python=python, cwd=TESTS_DIR).stdout)
    tensors = load_file(str(out_file))
    return report, tensors["logits"], tensors["generated"]


def write_qwen3vl_checkpoint(medmo_model, processor, folder, max_shard_size="100KB"):
    """Save the tiny model as a stock, sharded Qwen3-VL checkpoint (what the Hub serves for MedMO-8B)."""
    import json
    from pathlib import Path

    from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration

    folder = Path(folder)
    settings = {k: v for k, v in medmo_model.config.to_dict().items() if k not in ("model_type", "auto_map", "architectures")}
    qwen = Qwen3VLForConditionalGeneration(Qwen3VLConfig(**settings))
    qwen.load_state_dict(medmo_model.state_dict())
    qwen.generation_config = medmo_model.generation_config
    qwen.save_pretrained(folder, max_shard_size=max_shard_size, safe_serialization=True)
    processor.save_pretrained(folder)
    for path in folder.glob("*.py"):
        path.unlink()
    for name in ("processor_config.json", "preprocessor_config.json", "tokenizer_config.json"):
        path = folder / name
        if path.exists():
            settings = json.loads(path.read_text())
            settings.pop("auto_map", None)
            if "processor_class" in settings:
                settings["processor_class"] = "Qwen3VLProcessor"
            if isinstance(settings.get("image_processor"), dict):
                settings["image_processor"].pop("auto_map", None)
            path.write_text(json.dumps(settings))
    (folder / "README.md").write_text("---\nlicense: apache-2.0\nbase_model: Qwen/Qwen3-VL-8B-Instruct\n---\n# MedMO-8B\n")
    return qwen.eval()
