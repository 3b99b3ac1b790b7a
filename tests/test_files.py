"""Crash-safe files: appended JSONL read back after an interrupted write, whole files renamed into place."""

import json
import os
import stat

import pytest

from medmo.files import CorruptFileError, JsonlAppender, atomic_writer, read_jsonl, write_text_atomic


def lines(*records) -> bytes:
    return b"".join(json.dumps(record).encode() + b"\n" for record in records)


def test_an_incomplete_last_line_is_dropped_with_a_warning(tmp_path, caplog):
    path = tmp_path / "p.jsonl"
    path.write_bytes(lines({"id": 1}, {"id": 2}) + b'{"id": 3, "text": "cut he')
    assert [record["id"] for _, record in read_jsonl(path)] == [1, 2]
    assert "dropped the incomplete last line (line 3)" in caplog.text


def test_a_complete_record_missing_only_its_newline_is_kept(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_bytes(lines({"id": 1}) + b'{"id": 2}')
    assert [record["id"] for _, record in read_jsonl(path)] == [1, 2]


@pytest.mark.parametrize("damage", [b'{"id": 2, "te\n', b"[1, 2]\n", b"\x00\x00\x00\n"])
def test_damage_before_the_last_line_names_file_and_line(tmp_path, damage):
    path = tmp_path / "p.jsonl"
    path.write_bytes(lines({"id": 1}) + damage + lines({"id": 3}))
    with pytest.raises(CorruptFileError, match=rf"{path.name}:2: .*delete that line"):
        list(read_jsonl(path))


def test_appending_after_a_cut_line_never_glues_records_together(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_bytes(lines({"id": 1}) + b'{"id": 2, "te')
    with JsonlAppender(path) as out:
        out.write([{"id": 2}, {"id": 3}])
    assert path.read_bytes() == lines({"id": 1}, {"id": 2}, {"id": 3})


def test_appending_after_a_record_without_its_newline_keeps_it(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_bytes(lines({"id": 1}) + b'{"id": 2}')
    with JsonlAppender(path) as out:
        out.write([{"id": 3}])
    assert [record["id"] for _, record in read_jsonl(path)] == [1, 2, 3]


def test_each_batch_is_on_disk_before_the_next_starts(tmp_path):
    path = tmp_path / "p.jsonl"
    with JsonlAppender(path) as out:
        out.write([{"id": 1}])
        assert path.read_bytes() == lines({"id": 1})  # visible to another reader without closing
        out.write([{"id": 2}, {"id": 3}])
        assert path.read_bytes() == lines({"id": 1}, {"id": 2}, {"id": 3})


def test_an_atomic_write_that_fails_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "summary.json"
    path.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_writer(path) as file:
            file.write("half of the new")
            raise RuntimeError("crash")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_an_atomic_write_replaces_the_file_with_the_usual_permissions(tmp_path):
    path = write_text_atomic(tmp_path / "results.json", "new")
    assert path.read_text() == "new"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
