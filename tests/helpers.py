"""Small builders shared by the tests: images, chat messages, model inputs, subprocess runs."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
from PIL import Image


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
