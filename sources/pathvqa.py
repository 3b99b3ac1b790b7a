# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""PathVQA, as released on the Hub.

Published layout: Parquet shards `data/{train,validation,test}-NNNNN-of-NNNNN.parquet` (or at the
root) with columns `image` ({bytes, path}: the encoded image), `question` and `answer`. The
original release's pickles are not read: unpickling runs code.

One question record per row; its image is the embedded one (an `ImageRef` over the bytes), named
`<shard>-<row>`, which is also its id.
"""

from collections.abc import Iterator
from pathlib import Path

from medmo.clinical.answers import answer_type

from .base import IMAGE_PROBLEM, MISSING_QA, Problem, Record, size_of, split_name, wanted
from .images import ImageRef


SOURCE = "pathvqa"


def shards(root: Path) -> list[Path]:
    """The release's Parquet files (under `data/` when it has one)."""
    folder = root / "data" if (root / "data").is_dir() else root
    return sorted(folder.glob("*.parquet"))


def read(root: Path, splits=None) -> Iterator[Record | Problem]:
    """The QA pairs of the selected splits; the split is the shard name's prefix."""
    import pyarrow.parquet as parquet

    root = Path(root)
    files = [path for path in shards(root) if wanted(split_name(path.name.split("-")[0]), splits)]
    if not files:
        raise FileNotFoundError(f"no {'/'.join(splits or ['*'])}*.parquet shards under {root / 'data'} or {root}")
    for path in files:
        split = split_name(path.name.split("-")[0])
        number = 0
        for batch in parquet.ParquetFile(path).iter_batches(batch_size=256, columns=["image", "question", "answer"]):
            for record in batch.to_pylist():
                where, name = f"{path.name}[{number}]", f"{path.stem}-{number:06d}"
                number += 1
                question, answer = str(record.get("question") or "").strip(), record.get("answer")
                if not question or answer is None or not str(answer).strip():
                    yield Problem(where, MISSING_QA)
                    continue
                data = (record.get("image") or {}).get("bytes")
                image = ImageRef(data, name=name)
                if data is None or size_of(image) is None:
                    yield Problem(where, IMAGE_PROBLEM)
                    continue
                answer = str(answer).strip()
                yield Record(f"{SOURCE}-{name}", SOURCE, split, answer_type(answer), where, images=[image], question=question, answer=answer)


__all__ = ["read", "shards"]
