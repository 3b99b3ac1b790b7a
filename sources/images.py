# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Images of records that are not plain files, and where they are written when a file is needed.

Most releases ship image files, which records name by path. Some do not: PathVQA and MMMU embed
encoded images in Parquet, DeepLesion's 16-bit slices need a per-slice window, the phantoms and
instance-mask sets are drawn or stored as arrays. A reader describes such an image as an
`ImageRef` (its data and the window to read it with); `medmo.medical_images.load_image` reads
it, so training and evaluation see the same pixels.

Consumers that need a file (JSONL training rows, evaluation predictions) materialise a record
(`medmo.sources.base.materialise`): the data converters write its images next to their output,
evaluation into a cache
(`cache_dir()`: `$MEDMO_CACHE`, else `$XDG_CACHE_HOME/medmo`, else `~/.cache/medmo`), named by a
hash of the content and window so that two releases never share a cached file. Nothing is ever
written into a user's benchmark folder.
"""

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from medmo.files import atomic_writer
from medmo.medical_images import image_size, load_image


@dataclass(frozen=True, eq=False)
class ImageRef:
    """An image to read with `load_image`: `data` is a file path, an encoded file's bytes, an array
    or a PIL image; `window` is `(center, width)` in the data's own units (None: the file's tags or
    min..max); `name` is a readable stem for the written file."""

    data: object
    window: tuple[float, float] | None = None
    name: str = "image"

    def load(self) -> Image.Image:
        """The image as RGB 8-bit at its original size."""
        return load_image(self.data, window=self.window)

    def size(self) -> tuple[int, int]:
        """Its original `(width, height)` (ValueError when unreadable)."""
        return image_size(self.data)

    def digest(self) -> str:
        """SHA-256 of the image data and the window: equal for the same pixels read the same way."""
        hasher = hashlib.sha256(repr(self.window).encode())
        data = self.data
        if isinstance(data, (str, os.PathLike)):
            with open(data, "rb") as file:
                for chunk in iter(lambda: file.read(1 << 20), b""):
                    hasher.update(chunk)
        elif isinstance(data, Image.Image):
            hasher.update(f"{data.mode}{data.size}".encode() + data.tobytes())
        elif isinstance(data, np.ndarray):
            hasher.update(f"{data.dtype}{data.shape}".encode() + np.ascontiguousarray(data).tobytes())
        else:
            hasher.update(bytes(data))
        return hasher.hexdigest()


def cache_dir() -> Path:
    """Where evaluation writes images it has to make (`$MEDMO_CACHE`, `$XDG_CACHE_HOME/medmo` or
    `~/.cache/medmo`)."""
    if os.environ.get("MEDMO_CACHE"):
        return Path(os.environ["MEDMO_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "medmo"


def write_image(image: ImageRef, folder: Path, name: str | None = None) -> Path:
    """`image` as a PNG file in `folder`, named `name` (default: its content hash), written once
    and atomically. Raises ValueError when the data cannot be decoded."""
    path = Path(folder) / f"{name or image.digest()}.png"
    if not path.exists():
        pixels = image.load()
        with atomic_writer(path, "wb") as file:
            pixels.save(file, format="PNG")
    return path


__all__ = ["ImageRef", "cache_dir", "write_image"]
