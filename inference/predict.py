# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""`medmo predict`: a trained MedMO on your own unlabeled studies.

    medmo predict --model runs/medmo-8b --inputs studies/ --task grounding --out predictions/ --dicom-sr

Inputs are folders (searched recursively), tables (`.csv` / `.jsonl` with an `image` or `path`
column, relative to the table, and optional `id` and `prompt` columns) or single files. Every image
(PNG, JPEG, TIFF, BMP, ...), DICOM file, DICOM series folder (a folder whose DICOM slices all
belong to one series with slice positions) and NIfTI volume is read with the processor's readers
(`--window`, `--frame`, `--axis`, `--slices`, `--num-slices`, as in chat messages; each chosen
slice of a volume is its own prediction). Anything else is counted and named in the summary, and
a file that cannot be read is reported with the reason; neither stops the run.

Writes to `--out`:

- `predictions.jsonl`: one record per image or slice (the evaluation harness's record: `id`,
  `prompt`, `images`, `image_size`, `prediction`, and for grounding `predicted_boxes` in original
  pixels), appended and synced per batch. A rerun skips what is already there (a run killed
  mid-write loses at most the batch being written);
- `overlays/`: each grounding prediction drawn on its image;
- `sr/<StudyInstanceUID>.dcm` with `--dicom-sr`: a DICOM SR per study (`medmo.inference.dicom_sr`);
- `summary.json`: what was found, predicted, resumed, skipped and could not be read, and why.
"""

import csv
import dataclasses
import hashlib
import json
import logging
import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from medmo.files import JsonlAppender, atomic_writer, read_jsonl, write_text_atomic


logger = logging.getLogger(__name__)

# `--task` -> (record kind, which the evaluation harness's generation lengths and metrics know).
TASKS = {"grounding": "grounding", "report": "report", "vqa": "open"}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp", ".pgm", ".ppm")
TABLE_SUFFIXES = (".csv", ".jsonl")
# Run settings that change predictions: a rerun into the same folder must use the same ones.
SETTINGS = ("model", "task", "prompt", "window", "frame", "axis", "slices", "num_slices", "quantization", "max_new_tokens")


class PredictError(ValueError):
    """Bad input to `medmo predict`; the message names the fix."""


@dataclass
class Study:
    """One input: an image file, a DICOM file, a DICOM series folder or a NIfTI volume."""

    id: str
    path: Path
    kind: str  # "image" | "dicom" | "series" | "volume"
    prompt: str | None = None  # a table row's own prompt


@dataclass
class Skipped:
    """An input that is not an image, or could not be read: where it is and why."""

    location: str
    reason: str


@dataclass
class ReadOptions:
    """How medical files are read: as in chat-message image and volume items."""

    window: object = None
    frame: int | None = None
    axis: str = "axial"
    slices: list[int] | None = None
    num_slices: int | None = None


@dataclass
class Summary:
    found: Counter = field(default_factory=Counter)
    predicted: int = 0
    resumed: int = 0
    overlays: int = 0
    not_images: list[Skipped] = field(default_factory=list)
    unreadable: list[Skipped] = field(default_factory=list)
    sr_files: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "studies_found": dict(self.found),
            "predictions_new": self.predicted,
            "predictions_resumed": self.resumed,
            "overlays_new": self.overlays,
            "not_images": {"count": len(self.not_images), "files": [dataclasses.asdict(s) for s in self.not_images]},
            "unreadable": {"count": len(self.unreadable), "by_reason": dict(Counter(_reason_kind(s) for s in self.unreadable)),
                           "files": [dataclasses.asdict(s) for s in self.unreadable]},  # fmt: skip
            "dicom_sr": self.sr_files,
        }


def _reason_kind(item: Skipped) -> str:
    """A problem's reason without the file's name, so that equal problems count together."""
    return item.reason.replace(Path(item.location).name, "").strip(" :")[:100]


# --------------------------------------------------------------------------- finding inputs


def classify(path: Path) -> str | None:
    """"image", "dicom", "volume" (NIfTI) or None for a file that is none of these."""
    from medmo.medical_images import is_dicom_file, is_nifti

    if is_nifti(path):
        return "volume"
    if is_dicom_file(path):  # a DICOM suffix or the DICM preamble
        return "dicom"
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return "image"
    from PIL import Image, UnidentifiedImageError

    try:  # an image without a known suffix (reads the header only)
        with Image.open(path):
            return "image"
    except (UnidentifiedImageError, OSError, ValueError):
        return None


def _slice_header(path: Path) -> tuple[str, tuple | None] | None:
    """(SeriesInstanceUID, slice position or None when the file is not one positioned single-frame
    slice), or None when the header cannot be read."""
    import pydicom

    try:
        header = pydicom.dcmread(path, stop_before_pixels=True)
    except Exception:  # any damage: the file is then read as an image and its error reported there
        return None
    single = int(header.get("NumberOfFrames", 1) or 1) == 1 and "ImageOrientationPatient" in header
    position = tuple(float(v) for v in header.ImagePositionPatient) if single and "ImagePositionPatient" in header else None
    return str(header.get("SeriesInstanceUID", "")), position


def _folder_studies(folder: Path, root: Path, files: list[Path]) -> Iterator[Study | Skipped]:
    """The studies among one folder's files: a DICOM series folder (one series, two or more slices
    at distinct positions) is one study, else one study per file."""
    kinds = {path: classify(path) for path in files}
    dicoms = [path for path in files if kinds[path] == "dicom"]
    headers = [_slice_header(path) for path in dicoms]
    series = (len(dicoms) >= 2 and all(headers) and len({uid for uid, _ in headers}) == 1 and all(position for _, position in headers)
              and len({position for _, position in headers}) == len(headers))  # fmt: skip
    if series:
        yield Study(_relative(folder, root), folder, "series")
    for path in files:
        if kinds[path] is None:
            yield Skipped(_relative(path, root), f"not an image, DICOM or NIfTI file ({path.suffix or 'no suffix'})")
        elif not (series and kinds[path] == "dicom"):
            yield Study(_relative(path, root), path, kinds[path])


def _relative(path: Path, root: Path) -> str:
    try:
        name = path.relative_to(root).as_posix()
    except ValueError:
        name = path.as_posix()
    return name if name != "." else path.name


def _walk(folder: Path, exclude: Path | None) -> Iterator[Study | Skipped]:
    root = folder.parent
    for directory, subdirectories, names in os.walk(folder):
        directory = Path(directory)
        subdirectories[:] = sorted(d for d in subdirectories if exclude is None or (directory / d).resolve() != exclude)
        yield from _folder_studies(directory, root, [directory / name for name in sorted(names)])


def _table(path: Path) -> Iterator[Study | Skipped]:
    """Rows of a `.csv` / `.jsonl` table: `image` or `path` (relative to the table), `id`, `prompt`."""
    rows = []
    if path.suffix.lower() == ".csv":
        with open(path, newline="", encoding="utf-8") as file:
            reader = csv.DictReader(file)
            rows = [(reader.line_num, row) for row in reader]
    else:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                yield Skipped(f"{path.name}:{number}", "not a JSON object")
                continue
            rows.append((number, row))
    for number, row in rows:
        where = f"{path.name}:{number}"
        target = (row.get("image") or row.get("path") or "") if isinstance(row, dict) else ""
        if not target:
            yield Skipped(where, "no `image` or `path` column")
            continue
        file = (path.parent / str(target)).resolve() if not Path(str(target)).is_absolute() else Path(str(target))
        study_id = str(row.get("id") or target)
        if file.is_dir():
            yield Study(study_id, file, "series", row.get("prompt"))
        elif not file.is_file():
            yield Skipped(where, f"file not found: {target}")
        elif (kind := classify(file)) is None:
            yield Skipped(where, f"not an image, DICOM or NIfTI file: {target}")
        else:
            yield Study(study_id, file, kind, row.get("prompt"))


def discover(inputs: list[str | Path], out_dir: str | Path | None = None) -> tuple[list[Study], list[Skipped]]:
    """Every study in `inputs` (folders, tables, files) and every input that is not an image.

    Raises `PredictError` for an input path that does not exist, and for two studies with one id.
    """
    exclude = Path(out_dir).resolve() if out_dir else None
    studies, skipped = [], []
    for given in inputs:
        path = Path(given)
        if path.is_dir():
            found = _walk(path, exclude)
        elif path.is_file() and path.name.lower().endswith(TABLE_SUFFIXES):
            found = _table(path)
        elif path.is_file():
            kind = classify(path)
            found = [Study(path.name, path, kind) if kind else Skipped(path.name, f"not an image, DICOM or NIfTI file ({path.suffix or 'no suffix'})")]
        else:
            raise PredictError(f"--inputs {given}: no such file or folder.")
        for item in found:
            (studies if isinstance(item, Study) else skipped).append(item)
    duplicates = [name for name, count in Counter(s.id for s in studies).items() if count > 1]
    if duplicates:
        raise PredictError(f"Two inputs share the id {duplicates[0]!r}; give folders or tables with distinct names (or an `id` column).")
    return studies, skipped


# --------------------------------------------------------------------------- reading studies


def _sample(study: Study, sample_id: str, image, kind: str, prompt: str, meta: dict):
    from medmo.evaluation.tasks import Sample

    return Sample(sample_id, "predict", kind, prompt, None, [image], image_size=list(image.size),
                  meta={"study": study.id, "source": str(study.path), "input": study.kind, **meta})  # fmt: skip


def read_study(study: Study, options: ReadOptions, kind: str, prompt: str) -> list:
    """The samples of one study (PIL images in `images`): one per image, one per chosen slice.
    Raises ValueError / ImportError / OSError with the reason when the study cannot be read."""
    from medmo.medical_images import load_image, load_volume_slices, read_dicom, read_dicom_series_datasets

    prompt = study.prompt or prompt
    if study.kind == "image":
        return [_sample(study, study.id, load_image(study.path, window=options.window), kind, prompt, {})]
    if study.kind == "dicom":
        dataset = read_dicom(study.path)
        image = load_image(dataset, window=options.window, frame=options.frame)
        frames = int(dataset.get("NumberOfFrames", 1) or 1)
        frame = (frames // 2 if options.frame is None else options.frame) + 1 if frames > 1 else None
        return [_sample(study, study.id, image, kind, prompt, {"dicom": {"file": str(study.path), "frame": frame}})]
    slices = load_volume_slices(study.path, axis=options.axis, slices=options.slices, num_slices=options.num_slices, window=options.window)
    sources = [None] * len(slices)
    if study.kind == "series":  # where each shown slice's pixels are in the series' files, for the SR
        from .dicom_sr import series_slice_sources

        paths, datasets, affine = read_dicom_series_datasets(study.path)
        sources = series_slice_sources(datasets, affine, options.axis, [index for index, _ in slices])
        sources = [{"file": str(paths[source[0]]), "frame": None, "display_to_source": source[1]} if source else None for source in sources]
    samples = []
    for (index, image), source in zip(slices, sources):
        meta = {"axis": options.axis, "slice": index, **({"dicom": source} if source else {})}
        samples.append(_sample(study, f"{study.id}#{options.axis}-{index}", image, kind, prompt, meta))
    return samples


# --------------------------------------------------------------------------- outputs


def overlay_name(sample_id: str) -> str:
    """A file name for a sample's overlay: readable, unique (a hash of the id), no folders."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", sample_id).strip("._")[-80:]
    return f"{readable}-{hashlib.sha1(sample_id.encode('utf-8')).hexdigest()[:8]}.png"


def _write_overlay(path: Path, image, boxes) -> None:
    from medmo.boxes import draw_boxes

    with atomic_writer(path, "wb") as file:
        draw_boxes(image, boxes).save(file, format="PNG", compress_level=1)  # 4x faster than the default, a little larger


class _OutputWriter:
    """Writes a batch's overlays on a background thread while the next batch generates, then its
    records: a record reaches `predictions.jsonl` (synced) only after its overlay is on disk, so a
    crash can lose the batches in flight but never leave a record without its overlay."""

    def __init__(self, appender: JsonlAppender):
        from concurrent.futures import ThreadPoolExecutor

        self.appender, self.executor, self.waiting = appender, ThreadPoolExecutor(max_workers=1), None

    def submit(self, records: list[dict], drawings: list) -> None:
        self._finish_waiting()
        futures = [self.executor.submit(_write_overlay, *drawing) for drawing in drawings]
        self.waiting = (records, futures)

    def _finish_waiting(self) -> None:
        if self.waiting is not None:
            records, futures = self.waiting
            self.waiting = None
            for future in futures:
                future.result()  # an overlay that failed to write stops the run before its record is written
            self.appender.write(records)

    def __enter__(self) -> "_OutputWriter":
        return self

    def __exit__(self, exc_type, *exc_info) -> None:
        try:
            if exc_type is None:
                self._finish_waiting()
        finally:
            self.executor.shutdown(wait=True)


def _check_settings(out_dir: Path, settings: dict) -> None:
    """A rerun resumes only with the settings that made the existing predictions."""
    path = out_dir / "settings.json"
    if path.exists():
        previous = json.loads(path.read_text(encoding="utf-8"))
        changed = [key for key in SETTINGS if previous.get(key) != settings.get(key)]
        if changed:
            raise PredictError(f"{out_dir} holds predictions made with other settings ({', '.join(changed)}: "
                               f"{', '.join(f'{previous.get(k)!r} -> {settings.get(k)!r}' for k in changed)}); use another --out "
                               "or the same settings to resume.")  # fmt: skip
    else:
        out_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, json.dumps(settings, indent=2) + "\n")


def model_identity(model: str, revision: str | None = None) -> tuple[str, str]:
    """`(name, revision)` to record in SRs: the Hub id or folder name, and the given revision, the
    Hub snapshot's commit, or a hash of the folder's config and weight-file sizes."""
    path = Path(model)
    if not path.exists():
        return model, revision or "main"
    path = path.resolve()
    if revision:
        return path.name, revision
    if path.parent.name == "snapshots":  # a Hub cache snapshot: the folder name is the commit
        return path.parent.parent.name.removeprefix("models--").replace("--", "/"), path.name
    digest = hashlib.sha256()
    for file in sorted(path.glob("*.json")) + sorted(path.glob("*.safetensors")):
        digest.update(file.name.encode() + (file.read_bytes() if file.suffix == ".json" else str(file.stat().st_size).encode()))
    return path.name, f"sha256-{digest.hexdigest()[:16]}"


# --------------------------------------------------------------------------- the run


def predict(
    model: str,
    inputs: list[str | Path],
    out_dir: str | Path,
    task: str = "grounding",
    prompt: str | None = None,
    options: ReadOptions | None = None,
    batch_size: int = 8,
    max_new_tokens: int | None = None,
    overlays: bool = True,
    dicom_sr: bool = False,
    backend: str = "transformers",
    device: str | None = None,
    quantization: str | None = None,
    revision: str | None = None,
    progress: bool = True,
    generate=None,
    processor=None,
) -> dict:
    """Run `model` on every study in `inputs`; returns the summary it writes to `out_dir`.

    `generate(samples, max_new_tokens) -> texts` and `processor` may be given (a loaded backend,
    e.g. in the benches); otherwise the model is loaded here with `backend`, `device` and
    `quantization`.
    """
    from medmo.evaluation.runner import MAX_NEW_TOKENS, prediction_record

    if task not in TASKS:
        raise PredictError(f"Unknown --task {task!r}; use one of {', '.join(TASKS)}.")
    if dicom_sr and task != "grounding":
        raise PredictError("--dicom-sr writes boxes as DICOM SR: it needs --task grounding.")
    if dicom_sr:
        from .dicom_sr import _highdicom

        _highdicom()  # fail before any generation when highdicom is missing
    from medmo.clinical.prompts import evaluation_prompt

    options = options or ReadOptions()
    kind = TASKS[task]
    prompt = prompt or (evaluation_prompt(task) if task != "vqa" else None)
    out_dir = Path(out_dir)
    studies, skipped = discover(inputs, out_dir)
    if not studies:
        raise PredictError(f"No images, DICOM files or volumes found in {', '.join(map(str, inputs))}.")
    unasked = [study.id for study in studies if not (study.prompt or prompt)]
    if unasked:
        raise PredictError(f"--task vqa needs a question for every input ({unasked[0]} has none): pass --prompt, or a `prompt` column in an input table.")
    settings = {"model": str(model), "task": task, "prompt": prompt, **dataclasses.asdict(options), "quantization": quantization,
                "max_new_tokens": max_new_tokens}  # fmt: skip
    _check_settings(out_dir, json.loads(json.dumps(settings)))  # compared as stored: tuples become lists
    summary = Summary(found=Counter(s.kind for s in studies), not_images=skipped)
    if skipped:
        logger.warning("%d input(s) are not images and were skipped (listed in summary.json)", len(skipped))
    path = out_dir / "predictions.jsonl"
    done = {record["id"]: record for _, record in read_jsonl(path)} if path.exists() else {}
    # A study is done when all its samples are (a volume's count is only known once it was read).
    written = Counter(record["meta"]["study"] for record in done.values())
    expected = {record["meta"]["study"]: record["meta"]["study_samples"] for record in done.values()}
    todo = [study for study in studies if written[study.id] < expected.get(study.id, 1)]
    summary.resumed = sum(written[study.id] for study in studies) - sum(written[study.id] for study in todo)

    if generate is None:
        from medmo.evaluation.runner import TransformersBackend, VLLMBackend
        from medmo.loading import load_processor

        from .quantization import load_for_inference

        if backend == "vllm":
            processor = load_processor(model)
            generate = VLLMBackend(model, processor)
        else:
            loaded, processor = load_for_inference(model, device=device, quantization=quantization)
            generate = TransformersBackend(loaded, processor)
    tokens = max_new_tokens or MAX_NEW_TOKENS[kind]

    pending: list = []
    with JsonlAppender(path) as appender, _OutputWriter(appender) as writer:

        def flush() -> None:
            texts = generate(list(pending), tokens)
            records, drawings = [], []
            for sample, text in zip(pending, texts):
                record = prediction_record(dataclasses.replace(sample, images=[sample.meta["source"]]), text, processor)
                if kind == "grounding" and overlays:
                    record["overlay"] = f"overlays/{overlay_name(sample.id)}"
                    drawings.append((out_dir / record["overlay"], sample.images[0], record["predicted_boxes"]))
                records.append(record)
            writer.submit(records, drawings)
            done.update((record["id"], record) for record in records)
            summary.predicted += len(records)
            summary.overlays += len(drawings)
            pending.clear()

        for study in tqdm(todo, desc="medmo predict", unit=" studies", disable=not progress):
            try:
                samples = read_study(study, options, kind, prompt)
            except (ValueError, ImportError, OSError) as error:  # the readers' messages name the file and the problem
                summary.unreadable.append(Skipped(study.id, str(error)))
                logger.warning("could not read %s: %s", study.id, error)
                continue
            except Exception as error:  # anything else a damaged or odd input raises must not stop the other studies
                summary.unreadable.append(Skipped(study.id, f"{type(error).__name__}: {error}"))
                logger.warning("could not read %s: %s: %s", study.id, type(error).__name__, error)
                continue
            for sample in samples:
                sample.meta["study_samples"] = len(samples)
                if sample.id in done:
                    summary.resumed += 1
                    continue
                pending.append(sample)
                if len(pending) >= batch_size:
                    flush()
        if pending:
            flush()

    if dicom_sr:
        from .dicom_sr import write_study_reports

        name, model_revision = model_identity(str(model), revision)
        chosen = {s.id for s in studies}
        records = [record for record in done.values() if record["meta"]["study"] in chosen]
        summary.sr_files = [p.relative_to(out_dir).as_posix() for p in write_study_reports(records, out_dir / "sr", name, model_revision)]
    result = summary.as_dict()
    write_text_atomic(out_dir / "summary.json", json.dumps(result, indent=2) + "\n")
    return result


def format_summary(summary: dict, out_dir: str | Path) -> str:
    """The summary as a few lines for the terminal."""
    found = ", ".join(f"{count} {kind}" for kind, count in sorted(summary["studies_found"].items())) or "none"
    lines = [f"studies found: {found}",
             f"predictions: {summary['predictions_new']} new, {summary['predictions_resumed']} already in {Path(out_dir) / 'predictions.jsonl'}",
             f"not images: {summary['not_images']['count']}" + "".join(f"\n  {s['location']}: {s['reason']}" for s in summary["not_images"]["files"]),
             f"could not be read: {summary['unreadable']['count']}" + "".join(f"\n  {s['location']}: {s['reason']}" for s in summary["unreadable"]["files"])]  # fmt: skip
    if summary["dicom_sr"]:
        lines.append(f"DICOM SR: {len(summary['dicom_sr'])} file(s) in {Path(out_dir) / 'sr'}")
    return "\n".join(lines)


__all__ = ["ReadOptions", "Study", "PredictError", "TASKS", "classify", "discover", "format_summary", "model_identity", "predict", "read_study"]
