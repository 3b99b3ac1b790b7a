# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Files MedMO writes and later reads back, safe against a crash at any moment.

Two patterns cover every such file:

- **Appended JSONL** (`medmo eval` predictions, `medmo predict` outputs): records go out in
  batches, each batch flushed and synced to disk before the next starts, so a crash (power loss,
  OOM kill, Ctrl-C) can only cut the line being written. Reading drops such an incomplete last
  line with a warning (the resumed run writes it again); any other unreadable line is an error
  naming the file and line. Reopening for append first cuts an incomplete last line off, so the
  next record never lands glued to half of one.
- **Whole files** (converted data, summaries, reports, results): written to a temporary name in
  the same folder and renamed into place, so a reader sees the old file or the new one, never
  half of one.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "predictions.jsonl"
>>> with JsonlAppender(path) as out:
...     out.write([{"id": "a"}, {"id": "b"}])
>>> _ = path.open("a").write('{"id": "c", "predic')  # what a kill during a write leaves
>>> [record["id"] for _, record in read_jsonl(path)]
['a', 'b']
"""

import json
import logging
import os
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path


logger = logging.getLogger(__name__)


class CorruptFileError(ValueError):
    """A file MedMO wrote is damaged in a way an interrupted write cannot explain; the message
    names the file, the line and what to do."""


def _incomplete_tail(data: bytes) -> bool:
    """Whether `data` (a whole JSONL file) ends inside a record: no final newline, and the text
    after the last newline is not a complete JSON value (a record written in full but for its
    newline is complete)."""
    if not data or data.endswith(b"\n"):
        return False
    tail = data[data.rfind(b"\n") + 1 :]
    try:
        json.loads(tail)
    except ValueError:
        return True
    return False


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict]]:
    """(line number, record) for each record of a JSONL file MedMO appended to.

    An incomplete last line (a crash during its write) is skipped with a warning. Any other line
    that is not a JSON object raises `CorruptFileError` naming file and line.
    """
    path = Path(path)
    with open(path, "rb") as file:
        data = file.read()
    lines = data.split(b"\n")
    incomplete = _incomplete_tail(data)
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if incomplete and number == len(lines):
            logger.warning("%s: dropped the incomplete last line (line %d), left by an interrupted write; "
                           "it is written again when the run resumes.", path, number)  # fmt: skip
            return
        try:
            record = json.loads(line)
        except ValueError as error:
            raise CorruptFileError(
                f"{path}:{number}: not a complete JSON record ({error}). An interrupted write only ever damages the last "
                "line, so this file was changed by something else: delete that line (its sample is generated again on "
                "resume) or delete the file to start over."
            ) from None
        if not isinstance(record, dict):
            raise CorruptFileError(f"{path}:{number}: a record must be a JSON object; delete that line or the file to start over.")
        yield number, record


class JsonlAppender:
    """Append records to a JSONL file in crash-safe batches (see the module docstring).

    Use as a context manager; `write(records)` writes one batch and syncs it to disk.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._file = None

    def __enter__(self) -> "JsonlAppender":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._cut_incomplete_tail()
        self._file = open(self.path, "a", encoding="utf-8")
        return self

    def _cut_incomplete_tail(self) -> None:
        if not self.path.exists():
            return
        with open(self.path, "r+b") as file:
            data = file.read()
            if _incomplete_tail(data):
                file.truncate(data.rfind(b"\n") + 1)
            elif data and not data.endswith(b"\n"):  # a complete record that lacks only its newline
                file.write(b"\n")

    def write(self, records: Iterable[dict]) -> None:
        self._file.write("".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records))
        self._file.flush()
        os.fsync(self._file.fileno())

    def __exit__(self, *exc_info) -> None:
        self._file.close()


@contextmanager
def atomic_writer(path: str | Path, mode: str = "w"):
    """An open file that becomes `path` only when the block finishes without an error.

    The data goes to a hidden temporary file beside `path`, is synced, then renamed over it; on
    an error the temporary file is removed and `path` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A unique name opened with "x" (not mkstemp, whose 0600 mode would stick to the result).
    temporary = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.partial")
    try:
        with open(temporary, mode.replace("w", "x"), **({} if "b" in mode else {"encoding": "utf-8"})) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write `text` to `path` so that a crash leaves either the old file or the new one."""
    with atomic_writer(path) as file:
        file.write(text)
    return Path(path)


__all__ = ["CorruptFileError", "JsonlAppender", "atomic_writer", "read_jsonl", "write_text_atomic"]
