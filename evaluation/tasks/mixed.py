# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Sets of mixed kinds: your own benchmark (the generic layout) and the phantoms."""

from pathlib import Path

from medmo.sources import generic as generic_source, phantom as phantom_source

from .common import samples


def generic(root: Path):
    """Your own benchmark: test.jsonl with questions, reports or boxes (sources.generic)."""
    return samples(generic_source.read(root, file="test.jsonl" if Path(root).is_dir() else None, default_split="test", source="generic"), "generic")


def phantom(root: Path):
    """The phantoms' held-out split: boxes, report and four questions per image (sources.phantom)."""
    return samples(phantom_source.read(root), "phantom")


__all__ = ["generic", "phantom"]
