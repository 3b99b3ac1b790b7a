# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""`medmo demo`: build a tiny MedMO from scratch, save it as a repository folder, and load it back
through the transformers Auto classes in a fresh process that runs the folder's own code.

    medmo demo [--output runs/demo]

The model is random (this shows the plumbing, not medicine); the image is the fundus photograph
scikit-image ships.
"""

import subprocess
import sys
import time
from pathlib import Path

from .tiny import save_tiny


DEFAULT_OUTPUT = Path("runs/demo")


def sample_image() -> Path:
    import skimage

    return Path(skimage.data.__file__).parent / "retina.jpg"


def run(output_dir: Path = DEFAULT_OUTPUT) -> None:
    start = time.perf_counter()
    model_dir = output_dir / "tiny-medmo"
    if model_dir.exists():
        import shutil

        shutil.rmtree(model_dir)
    save_tiny(model_dir)
    print(f"[demo] tiny MedMO repository written to {model_dir} ({time.perf_counter() - start:.1f}s)")
    quickstart = Path(__file__).with_name("quickstart.py")
    command = [sys.executable, str(quickstart), str(model_dir), str(sample_image()), "--max-new-tokens", "12"]
    print(f"[demo] fresh process: {' '.join(command[1:])}")
    subprocess.run(command, check=True)
    print(f"[demo] done in {time.perf_counter() - start:.1f}s")
