"""Builders the inference tests share: DICOM studies and series from pydicom's test files, a folder
mixing every input kind, a scripted generation backend, a free loopback port."""

import copy
import shutil
import socket
from pathlib import Path

import numpy as np
from PIL import Image


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ct_dataset():
    import pydicom
    from pydicom.data import get_testdata_file

    return pydicom.dcmread(get_testdata_file("CT_small.dcm"))


def write_series(folder: Path, slices: int = 3, orientation=(1.0, 0.0, 0.0, 0.0, 1.0, 0.0), marker=None) -> list[Path]:
    """A DICOM series of `slices` CT slices (CT_small's pixels, one new series, positions 5 mm apart
    along the slice normal). `marker = (slice, (x1, y1, x2, y2))` makes that rectangle of that
    slice much brighter than anything else, to find it again in a rendered view."""
    from pydicom.uid import generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    source = ct_dataset()
    series_uid, normal = generate_uid(), np.cross(orientation[:3], orientation[3:])
    paths = []
    for index in range(slices):
        dataset = copy.deepcopy(source)  # a shallow copy shares data elements with the source
        dataset.SeriesInstanceUID, dataset.SOPInstanceUID, dataset.InstanceNumber = series_uid, generate_uid(), index + 1
        dataset.ImageOrientationPatient = list(orientation)
        dataset.ImagePositionPatient = [float(v) for v in np.asarray(source.ImagePositionPatient, dtype=float) + 5.0 * index * normal]
        pixels = source.pixel_array.copy()
        if marker is not None and marker[0] == index:
            x1, y1, x2, y2 = marker[1]
            pixels[y1:y2, x1:x2] = pixels.max() + 2000
        dataset.PixelData = pixels.tobytes()
        # written in reverse so that only positions, not file names, give the order
        paths.append(folder / f"slice-{slices - index:02d}.dcm")
        dataset.save_as(paths[-1])
    return paths


def mixed_folder(root: Path) -> Path:
    """Every input kind `medmo predict` meets, plus two that are not images."""
    import nibabel
    from pydicom.data import get_testdata_file

    (root / "photos").mkdir(parents=True)
    Image.new("RGB", (300, 200), (60, 60, 60)).save(root / "photos" / "wide.png")
    Image.fromarray((np.arange(64 * 80).reshape(64, 80) * 9).astype(np.uint16)).save(root / "photos" / "gray16.png")
    (root / "photos" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really")
    (root / "dicom").mkdir()
    shutil.copy(get_testdata_file("CT_small.dcm"), root / "dicom" / "ct.dcm")
    shutil.copy(get_testdata_file("MR_small.dcm"), root / "dicom" / "mr.dcm")
    write_series(root / "series")
    (root / "volumes").mkdir()
    shutil.copy(Path(nibabel.__file__).parent / "tests" / "data" / "anatomical.nii", root / "volumes" / "head.nii")
    (root / "notes.txt").write_text("not an image")
    return root


class ScriptedBackend:
    """Generation that answers `answer(sample)` for each sample: a stand-in model whose boxes are known."""

    def __init__(self, answer):
        self.answer, self.batches = answer, []

    def __call__(self, samples, max_new_tokens=None):
        self.batches.append(len(samples))
        return [self.answer(sample) for sample in samples]
