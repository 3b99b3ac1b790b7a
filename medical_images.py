# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Medical images in: DICOM, NIfTI, 16-bit and palette images, arrays -> 8-bit RGB for the model.

Everything the processor accepts as an image passes through `load_image`, and every volume
through `load_volume_slices`. The output is always an RGB 8-bit PIL image of the *original* size
(windowing never resizes), so boxes mapped back to it are in the pixels of the user's image.

Intensity handling:

- DICOM: the modality LUT (rescale slope / intercept, giving Hounsfield units for CT), then the
  file's own VOI LUT or window tags, a named CT window, or an explicit `(center, width)`;
  MONOCHROME1 is inverted so that air is dark, as radiologists read it.
- other 16-bit / float data: a named or explicit window, or by default the data's min..max.

`window` is `None` (the file's tags, else min..max), a preset name from `WINDOW_PRESETS`, or
`(center, width)`. DICOM readers never log or raise with patient identifiers: messages name the
file, its transfer syntax and technical tags only.

pydicom (DICOM) and nibabel (NIfTI) are optional: `pip install pydicom nibabel`.
"""

import io
import logging
import os
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError


# Optional readers. Imported here inside `try` so that the Hub's dynamic-module loader does not
# list them as required: a checkpoint loads without them, and only reading such a file needs them.
try:
    import pydicom
    from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi_lut, get_decoder
except ImportError:
    pydicom = None
try:
    import nibabel
    import nibabel.orientations
except ImportError:
    nibabel = None


logger = logging.getLogger(__name__)

# CT windows as (center, width) in Hounsfield units; values from Radiopaedia's "Windowing (CT)".
WINDOW_PRESETS: dict[str, tuple[float, float]] = {
    "lung": (-600.0, 1500.0),
    "mediastinum": (50.0, 350.0),
    "abdomen": (40.0, 400.0),
    "liver": (30.0, 150.0),
    "bone": (400.0, 1800.0),
    "brain": (40.0, 80.0),
}
# The most pixels one image (or one volume) may have: PIL's own decompression-bomb limit.
MAX_IMAGE_PIXELS = 178_956_970
MAX_VOLUME_VOXELS = 1 << 30
AXES = ("axial", "coronal", "sagittal")
DICOM_SUFFIXES = (".dcm", ".dicom", ".ima")
NIFTI_SUFFIXES = (".nii", ".nii.gz")

# Which package decodes which DICOM transfer syntax (pydicom's pixel data handlers).
CODEC_PACKAGES = {
    "1.2.840.10008.1.2.4.50": "pylibjpeg pylibjpeg-libjpeg (or pillow)",
    "1.2.840.10008.1.2.4.51": "pylibjpeg pylibjpeg-libjpeg",
    "1.2.840.10008.1.2.4.57": "pylibjpeg pylibjpeg-libjpeg",
    "1.2.840.10008.1.2.4.70": "pylibjpeg pylibjpeg-libjpeg",
    "1.2.840.10008.1.2.4.80": "pyjpegls",
    "1.2.840.10008.1.2.4.81": "pyjpegls",
    "1.2.840.10008.1.2.4.90": "pylibjpeg pylibjpeg-openjpeg (or pillow)",
    "1.2.840.10008.1.2.4.91": "pylibjpeg pylibjpeg-openjpeg (or pillow)",
    "1.2.840.10008.1.2.4.201": "pylibjpeg pylibjpeg-openjpeg",
    "1.2.840.10008.1.2.4.202": "pylibjpeg pylibjpeg-openjpeg",
    "1.2.840.10008.1.2.4.203": "pylibjpeg pylibjpeg-openjpeg",
    "1.2.840.10008.1.2.5": "pylibjpeg pylibjpeg-rle",
}


# --------------------------------------------------------------------------- intensities


def resolve_window(window) -> tuple[float, float] | None:
    """`(center, width)` for a preset name or an explicit pair; `None` stays `None`."""
    if window is None:
        return None
    if isinstance(window, str):
        key = window.strip().lower()
        if key not in WINDOW_PRESETS:
            raise ValueError(f"Unknown window {window!r}; use one of {sorted(WINDOW_PRESETS)} or (center, width).")
        return WINDOW_PRESETS[key]
    if isinstance(window, dict):
        window = (window.get("center"), window.get("width"))
    try:
        center, width = (float(value) for value in window)
    except (TypeError, ValueError):
        raise ValueError(f"A window is a preset name or (center, width), got {window!r}.") from None
    if not (np.isfinite(center) and np.isfinite(width) and width > 0):
        raise ValueError(f"A window needs a finite center and a positive width, got {window!r}.")
    return center, width


def apply_window(values: np.ndarray, center: float, width: float) -> np.ndarray:
    """DICOM's linear VOI function (PS3.3 C.11.2.1.2) onto 0..255, as uint8."""
    values = values.astype(np.float32, copy=False)
    if width <= 1:
        scaled = np.where(values > center - 0.5, 1.0, 0.0)
    else:
        scaled = (values - (center - 0.5)) / (width - 1.0) + 0.5
    return (np.clip(scaled, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _check_finite(values: np.ndarray, what: str) -> None:
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        bad = int((~np.isfinite(values)).sum())
        raise ValueError(f"{what} has {bad} NaN or infinite value(s); replace them (e.g. np.nan_to_num) first.")


def to_uint8(values: np.ndarray, window=None, what: str = "The image") -> np.ndarray:
    """Scale gray or colour data to uint8: a window when given, else min..max (uint8 kept as is)."""
    _check_finite(values, what)
    bounds = resolve_window(window)
    if bounds is not None:
        return apply_window(values, *bounds)
    if values.dtype == np.uint8:
        return values
    if values.dtype == bool:
        return values.astype(np.uint8) * 255
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    return apply_window(values, center=(low + high) / 2 + 0.5, width=high - low + 1.0)


def _check_size(width: int, height: int, what: str, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise ValueError(f"{what} is empty ({width}x{height} pixels).")
    if width * height > max_pixels:
        raise ValueError(
            f"{what} has {width}x{height} = {width * height:,} pixels, above the limit of {max_pixels:,} "
            "(a guard against decompression bombs). Pass max_pixels=... to allow it."
        )


def array_to_image(array: np.ndarray, window=None, what: str = "The array", max_pixels: int = MAX_IMAGE_PIXELS) -> Image.Image:
    """An RGB 8-bit image from a 2-D gray array or an (H, W, 3|4) colour array."""
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (3, 4)):
        raise ValueError(
            f"{what} has shape {array.shape}; expected (H, W), (H, W, 3) or (H, W, 4). "
            "For a volume use load_volume_slices or a {'type': 'volume', ...} message item."
        )
    _check_size(array.shape[1], array.shape[0], what, max_pixels)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{what} has dtype {array.dtype}; expected numbers.")
    if array.ndim == 3 and array.shape[-1] == 4:
        alpha = array[..., 3:].astype(np.float32) / (255.0 if array.dtype == np.uint8 else max(float(array[..., 3].max()), 1.0))
        array = array[..., :3].astype(np.float32) * alpha  # composite onto black, like film on a lightbox
        _check_finite(array, what)
        array = np.clip(array, 0, None)
    pixels = to_uint8(array, window, what)
    return Image.fromarray(pixels).convert("RGB")


# --------------------------------------------------------------------------- PIL images and files


def pil_to_rgb(image: Image.Image, window=None, what: str = "The image", max_pixels: int = MAX_IMAGE_PIXELS) -> Image.Image:
    """RGB 8-bit from any PIL mode: 16-bit and float gray are windowed, palettes and CMYK converted,
    alpha composited onto black."""
    _check_size(image.width, image.height, what, max_pixels)
    if image.mode == "RGB" and window is None:
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F") or (window is not None and image.mode in ("L", "I")):
        return array_to_image(np.asarray(image), window, what, max_pixels)
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _open_raster(file, name: str, window, max_pixels: int) -> Image.Image:
    """A PNG / JPEG / TIFF / BMP (a path or an open binary file) as RGB, named `name` in errors."""
    try:
        with Image.open(file) as image:
            _check_size(image.width, image.height, name, max_pixels)
            image.load()
            return pil_to_rgb(image, window, name, max_pixels)
    except Image.DecompressionBombError as error:
        raise ValueError(f"{name}: {error} Pass max_pixels=... to allow it.") from None
    except UnidentifiedImageError:
        raise ValueError(f"{name} is not an image file PIL can read (nor DICOM or NIfTI).") from None
    except OSError as error:  # truncated or corrupt data
        raise ValueError(f"{name} could not be decoded ({error}); the file may be truncated or corrupt.") from None


def _load_bytes(data: bytes, window, frame, max_pixels: int) -> Image.Image:
    """An image file's contents held in memory (images embedded in Parquet releases): DICOM when it
    has the DICM preamble, else whatever PIL reads."""
    name = "The embedded image"
    if data[128:132] == b"DICM":
        _pydicom()
        try:
            dataset = pydicom.dcmread(io.BytesIO(data))
        except (pydicom.errors.InvalidDicomError, OSError, EOFError, ValueError, KeyError, struct.error) as error:
            raise ValueError(f"{name} could not be read as DICOM ({type(error).__name__}); it may be truncated.") from None
        return dicom_to_image(dataset, window=window, frame=frame, max_pixels=max_pixels, name=name)
    return _open_raster(io.BytesIO(data), name, window, max_pixels)


def is_dicom_file(path: Path) -> bool:
    if path.suffix.lower() in DICOM_SUFFIXES:
        return True
    try:
        with open(path, "rb") as file:
            file.seek(128)
            return file.read(4) == b"DICM"
    except OSError:
        return False


def is_nifti(path: Path) -> bool:
    return path.name.lower().endswith(NIFTI_SUFFIXES)


def load_image(source, window=None, frame: int | None = None, max_pixels: int = MAX_IMAGE_PIXELS) -> Image.Image:
    """Any supported image as RGB 8-bit PIL, at its original size.

    `source` is a PIL image, a numpy array, a pydicom `Dataset`, a path to a PNG / JPEG / TIFF /
    BMP file or a DICOM file, or such a file's bytes (images embedded in Parquet releases).
    `window` sets the intensity window (see the module docstring); `frame` picks one frame of a
    multi-frame DICOM (default: the middle one).
    """
    if isinstance(source, Image.Image):
        return pil_to_rgb(source, window, max_pixels=max_pixels)
    if isinstance(source, np.ndarray):
        return array_to_image(source, window, max_pixels=max_pixels)
    if _is_pydicom_dataset(source):
        return dicom_to_image(source, window=window, frame=frame, max_pixels=max_pixels)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _load_bytes(bytes(source), window, frame, max_pixels)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise ValueError(f"Image file not found: {path}")
        if is_nifti(path):
            raise ValueError(
                f"{path.name} is a NIfTI volume; pass it as {{'type': 'volume', 'volume': ...}} or use load_volume_slices."
            )
        if is_dicom_file(path):
            return dicom_to_image(read_dicom(path), window=window, frame=frame, max_pixels=max_pixels, name=path.name)
        return _open_raster(path, path.name, window, max_pixels)
    if hasattr(source, "__array__"):
        return array_to_image(np.asarray(source), window, max_pixels=max_pixels)
    raise ValueError(f"Unsupported image input of type {type(source).__name__}; pass a PIL image, array or file path.")


def image_size(source) -> tuple[int, int]:
    """The `(width, height)` `load_image(source)` returns, read from the file's header where there is
    one (no pixel decoding). Raises ValueError when `source` is missing or not a readable image."""
    if isinstance(source, Image.Image):
        return source.size
    if isinstance(source, np.ndarray):
        return int(source.shape[1]), int(source.shape[0])
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if data[128:132] == b"DICM":
            _pydicom()
            return _dicom_size(pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True), "The embedded image")
        return _raster_size(io.BytesIO(data), "The embedded image")
    path = Path(source)
    if not path.is_file():
        raise ValueError(f"Image file not found: {path}")
    if is_nifti(path):
        raise ValueError(f"{path.name} is a NIfTI volume, not an image.")
    if is_dicom_file(path):
        _pydicom()
        try:
            dataset = pydicom.dcmread(path, stop_before_pixels=True)
        except (pydicom.errors.InvalidDicomError, OSError, EOFError, ValueError, KeyError, struct.error):
            raise ValueError(f"{path.name} could not be read as DICOM.") from None
        return _dicom_size(dataset, path.name)
    return _raster_size(path, path.name)


def _raster_size(file, name: str) -> tuple[int, int]:
    try:
        with Image.open(file) as image:
            return image.size
    except (OSError, ValueError, Image.DecompressionBombError):  # UnidentifiedImageError is an OSError
        raise ValueError(f"{name} is not an image file PIL can read.") from None


def _dicom_size(dataset, name: str) -> tuple[int, int]:
    rows, columns = int(dataset.get("Rows", 0) or 0), int(dataset.get("Columns", 0) or 0)
    if not rows or not columns:
        raise ValueError(f"{name} has no image (no Rows / Columns).")
    return columns, rows


# --------------------------------------------------------------------------- DICOM


def _pydicom():
    if pydicom is None:
        raise ImportError("Reading DICOM needs pydicom: pip install pydicom")
    return pydicom


def _is_pydicom_dataset(source) -> bool:
    return type(source).__name__ in ("Dataset", "FileDataset") and hasattr(source, "file_meta")


def read_dicom(path: str | os.PathLike):
    """A pydicom dataset, or a ValueError naming the file when it is not readable DICOM."""
    _pydicom()
    path = Path(path)
    try:
        return pydicom.dcmread(path)
    except pydicom.errors.InvalidDicomError:
        raise ValueError(f"{path.name} is not a DICOM file (no DICM preamble, no valid header).") from None
    except (OSError, EOFError, ValueError, KeyError, struct.error) as error:
        raise ValueError(f"{path.name} could not be read as DICOM ({type(error).__name__}); it may be truncated.") from None


def _transfer_syntax(dataset) -> str:
    meta = getattr(dataset, "file_meta", None)
    return str(getattr(meta, "TransferSyntaxUID", "") or "")


def _check_codec(dataset, name: str) -> None:
    uid = _transfer_syntax(dataset)
    if not uid:
        return
    try:
        decoder = get_decoder(uid)
    except NotImplementedError:
        raise ValueError(f"{name}: pydicom cannot decode transfer syntax {uid}.") from None
    if not decoder.is_available:
        package = CODEC_PACKAGES.get(uid, "a pydicom pixel-data plugin")
        raise ImportError(f"{name} is compressed with {decoder.UID.name} ({uid}); to decode it, pip install {package}")


def dicom_pixels(dataset, name: str = "DICOM dataset", max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """Decoded pixel data with the modality LUT applied (HU for CT): `(frames?, rows, cols[, 3])`."""
    _pydicom()
    if "PixelData" not in dataset and "FloatPixelData" not in dataset and "DoubleFloatPixelData" not in dataset:
        raise ValueError(f"{name} has no pixel data (it may be a report, a presentation state or a waveform).")
    rows, columns = int(dataset.get("Rows", 0) or 0), int(dataset.get("Columns", 0) or 0)
    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    _check_size(columns, rows, name, max_pixels)
    if rows * columns * frames > MAX_VOLUME_VOXELS:
        raise ValueError(f"{name} holds {frames} frames of {columns}x{rows}: above {MAX_VOLUME_VOXELS:,} voxels.")
    _check_codec(dataset, name)
    try:
        pixels = dataset.pixel_array
    except Exception as error:  # pydicom raises many types for damaged data; all mean "cannot decode"
        raise ValueError(f"{name}: the pixel data could not be decoded ({type(error).__name__}: {error}).") from None
    if not str(dataset.get("PhotometricInterpretation", "MONOCHROME2")).startswith("MONOCHROME"):
        return pixels  # colour: RGB (pydicom converts YBR) or palette indices, no modality LUT
    return apply_modality_lut(pixels, dataset)


def dicom_to_image(dataset, window=None, frame: int | None = None, max_pixels: int = MAX_IMAGE_PIXELS, name: str | None = None) -> Image.Image:
    """One DICOM frame as RGB 8-bit: modality LUT, then the window, then MONOCHROME1 inversion."""
    name = name or "DICOM dataset"
    pixels = dicom_pixels(dataset, name, max_pixels)
    photometric = str(dataset.get("PhotometricInterpretation", "MONOCHROME2"))
    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        index = frames // 2 if frame is None else frame
        if not 0 <= index < frames:
            raise ValueError(f"{name} has {frames} frames; frame={frame} is out of range.")
        pixels = pixels[index]
    elif frame not in (None, 0):
        raise ValueError(f"{name} has a single frame; frame={frame} is out of range.")
    if photometric == "PALETTE COLOR":
        return array_to_image(apply_color_lut(pixels, dataset), window, name, max_pixels)
    if not photometric.startswith("MONOCHROME"):  # RGB / YBR: pydicom already returns RGB
        return array_to_image(pixels, window, name, max_pixels)
    gray = _dicom_window(pixels, dataset, window, name)
    if photometric == "MONOCHROME1":
        gray = 255 - gray
    return Image.fromarray(gray).convert("RGB")


def _first(value) -> float:
    """The first value of a possibly multi-valued DICOM element."""
    try:
        return float(value[0])
    except TypeError:
        return float(value)


def _dicom_window(values: np.ndarray, dataset, window, name: str) -> np.ndarray:
    """Gray values after the modality LUT -> uint8: explicit window, else the file's VOI, else min..max."""
    if window is not None:
        return to_uint8(values, window, name)
    if "VOILUTSequence" in dataset:
        bits = int(dataset.VOILUTSequence[0].LUTDescriptor[2])
        lut_output = apply_voi_lut(values, dataset, index=0, prefer_lut=True)
        return apply_window(lut_output, center=2 ** (bits - 1), width=2**bits)
    if "WindowCenter" in dataset and "WindowWidth" in dataset:
        center, width = _first(dataset.WindowCenter), _first(dataset.WindowWidth)
        function = str(dataset.get("VOILUTFunction", "LINEAR") or "LINEAR").upper()
        if function == "SIGMOID":  # PS3.3 C.11.2.1.3.1
            sigmoid = 1.0 / (1.0 + np.exp(-4.0 * (values.astype(np.float32) - center) / width))
            return (sigmoid * 255.0 + 0.5).astype(np.uint8)
        if function == "LINEAR_EXACT":  # PS3.3 C.11.2.1.3.2
            return apply_window(values, center + 0.5, width + 1.0)
        return apply_window(values, center, width)
    return to_uint8(values, None, name)


# --------------------------------------------------------------------------- volumes


def _nibabel():
    if nibabel is None:
        raise ImportError("Reading NIfTI and DICOM volumes needs nibabel: pip install nibabel")
    return nibabel


def read_nifti(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Voxels (float32, scaled) and the 4x4 voxel-to-RAS affine of a NIfTI file."""
    _nibabel()
    path = Path(path)
    try:
        image = nibabel.load(str(path))
        shape = image.shape
        if int(np.prod(shape)) > MAX_VOLUME_VOXELS:
            raise ValueError(f"{path.name} has {int(np.prod(shape)):,} voxels, above {MAX_VOLUME_VOXELS:,}.")
        data = np.asarray(image.dataobj, dtype=np.float32)
    except nibabel.filebasedimages.ImageFileError:
        raise ValueError(f"{path.name} is not a NIfTI file nibabel can read.") from None
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(f"{path.name} could not be read ({error}); it may be truncated.") from None
    if data.ndim == 4:
        data = data[..., 0]
    if data.ndim != 3:
        raise ValueError(f"{path.name} has shape {data.shape}; expected a 3-D volume.")
    return data, np.asarray(image.affine, dtype=np.float64)


def _dicom_affine(dataset) -> np.ndarray | None:
    """Voxel (column, row, slice) to RAS affine of one slice, or None without geometry tags."""
    try:
        orientation = np.asarray(dataset.ImageOrientationPatient, dtype=np.float64)
        position = np.asarray(dataset.ImagePositionPatient, dtype=np.float64)
        row_spacing, column_spacing = (float(v) for v in dataset.PixelSpacing)
    except (AttributeError, TypeError, ValueError):
        return None
    row_direction, column_direction = orientation[:3], orientation[3:]
    normal = np.cross(row_direction, column_direction)
    lps = np.eye(4)
    lps[:3, 0] = row_direction * column_spacing
    lps[:3, 1] = column_direction * row_spacing
    lps[:3, 2] = normal
    lps[:3, 3] = position
    return np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps  # DICOM patient space is LPS; NIfTI's is RAS


def read_dicom_series_datasets(folder: str | os.PathLike) -> tuple[list[Path], list, np.ndarray | None]:
    """The single-frame DICOM slices of a series folder in the order `read_dicom_series` stacks
    them (by position along the slice normal, else by instance number): `(paths, datasets, affine)`,
    the affine mapping voxel (column, row, slice) to RAS, or None without geometry tags."""
    folder = Path(folder)
    found = []
    for path in sorted(folder.iterdir()):
        if path.is_file() and is_dicom_file(path):
            dataset = read_dicom(path)
            if "PixelData" in dataset:
                found.append((path, dataset))
    if not found:
        raise ValueError(f"{folder} holds no DICOM slices with pixel data.")
    affine = _dicom_affine(found[0][1])
    if affine is not None:
        normal = affine[:3, 2] * np.array([-1.0, -1.0, 1.0])  # back to LPS for the projection
        found.sort(key=lambda item: float(np.dot(normal, np.asarray(item[1].ImagePositionPatient, dtype=np.float64))))
        first, last = (np.asarray(item[1].ImagePositionPatient, dtype=np.float64) for item in (found[0], found[-1]))
        if len(found) > 1:
            step = (last - first) / (len(found) - 1)
            affine[:3, 2] = np.diag([-1.0, -1.0, 1.0]) @ step
    else:
        found.sort(key=lambda item: int(item[1].get("InstanceNumber", 0) or 0))
    return [path for path, _ in found], [dataset for _, dataset in found], affine


def read_dicom_series(folder: str | os.PathLike) -> tuple[np.ndarray, np.ndarray | None]:
    """A folder of single-frame DICOM slices as one volume `(columns, rows, slices)`, sorted by position."""
    folder = Path(folder)
    _, datasets, affine = read_dicom_series_datasets(folder)
    shapes = {(int(ds.Rows), int(ds.Columns)) for ds in datasets}
    if len(shapes) != 1:
        raise ValueError(f"{folder} mixes slice sizes {sorted(shapes)}; pass one series per folder.")
    slices = [dicom_pixels(ds, f"{folder.name} slice").astype(np.float32) for ds in datasets]
    volume = np.stack([s.T for s in slices], axis=-1)  # (columns, rows, slices) = voxel (i, j, k)
    return volume, affine


def canonical(volume: np.ndarray, affine: np.ndarray | None) -> np.ndarray:
    """Reorder and flip voxel axes to RAS+ (x: left->right, y: posterior->anterior, z: inferior->superior)."""
    if affine is None:
        return volume
    _nibabel()
    orientation = nibabel.orientations.io_orientation(affine)
    return nibabel.orientations.apply_orientation(volume, orientation)


def _display(plane: np.ndarray) -> np.ndarray:
    """A RAS+ plane, `(first axis, second axis)`, as radiologists view it: both axes reversed and
    transposed, so the patient's right is on the viewer's left (axial, coronal), anterior on the
    left (sagittal), and anterior (axial) or superior (coronal, sagittal) at the top."""
    return plane.T[::-1, ::-1]


def volume_planes(volume: np.ndarray, axis: str = "axial") -> tuple[int, callable]:
    """Number of slices along `axis` of a RAS+ volume and a function from index to display plane."""
    if axis not in AXES:
        raise ValueError(f"Unknown axis {axis!r}; use one of {AXES}.")
    dimension = {"sagittal": 0, "coronal": 1, "axial": 2}[axis]
    count = volume.shape[dimension]

    def plane(index: int) -> np.ndarray:
        return _display(np.take(volume, index, axis=dimension))

    return count, plane


def choose_slices(count: int, slices: Sequence[int] | None, num_slices: int | None) -> list[int]:
    """Explicit slice indices (checked), or `num_slices` evenly spaced ones (default: the middle one)."""
    if slices is not None:
        chosen = [int(index) for index in slices]
        bad = [index for index in chosen if not 0 <= index < count]
        if bad:
            raise ValueError(f"Slice indices {bad} are outside the volume's {count} slices.")
        return chosen
    if num_slices is None:
        return [count // 2]
    if num_slices < 1:
        raise ValueError(f"num_slices must be at least 1, got {num_slices}.")
    if num_slices >= count:
        return list(range(count))
    # Centres of num_slices equal parts: avoids the often empty first and last slices.
    return [int((part + 0.5) * count / num_slices) for part in range(num_slices)]


def read_volume(source) -> tuple[np.ndarray, np.ndarray | None, str]:
    """`(voxels, affine or None, name)` of a NIfTI file, a multi-frame DICOM, a DICOM folder or an array."""
    if isinstance(source, np.ndarray):
        if source.ndim != 3:
            raise ValueError(f"A volume array must be 3-D, got shape {source.shape}.")
        _check_finite(source, "The volume")
        return source.astype(np.float32, copy=False), None, "array"
    if _is_pydicom_dataset(source):
        return _multiframe(source, "DICOM dataset")
    path = Path(source)
    if path.is_dir():
        volume, affine = read_dicom_series(path)
        return volume, affine, path.name
    if not path.is_file():
        raise ValueError(f"Volume not found: {path}")
    if is_nifti(path):
        volume, affine = read_nifti(path)
        return volume, affine, path.name
    if is_dicom_file(path):
        return _multiframe(read_dicom(path), path.name)
    raise ValueError(f"{path.name} is neither NIfTI (.nii, .nii.gz), multi-frame DICOM, nor a folder of DICOM slices.")


def _multiframe(dataset, name: str) -> tuple[np.ndarray, None, str]:
    pixels = dicom_pixels(dataset, name).astype(np.float32)
    if pixels.ndim != 3 or int(dataset.get("NumberOfFrames", 1) or 1) < 2:
        raise ValueError(f"{name} is a single image, not a multi-frame volume; load it as an image.")
    # Frames are stacked as acquired; without per-frame geometry no reorientation is possible, so
    # the stack is laid out such that its "axial" slices show each frame as stored.
    return np.transpose(pixels[:, ::-1, ::-1], (2, 1, 0)), None, name


def load_volume_slices(
    source,
    axis: str = "axial",
    slices: Sequence[int] | None = None,
    num_slices: int | None = None,
    window=None,
) -> list[tuple[int, Image.Image]]:
    """`(slice index, RGB image)` pairs from a volume, reoriented to RAS+ and shown radiologically.

    `slices` picks indices along `axis`; otherwise `num_slices` evenly spaced ones (default: the
    middle slice). Without a window, the whole volume's 0.5th..99.5th percentiles set the scale,
    so every slice shares one intensity mapping.
    """
    volume, affine, name = read_volume(source)
    volume = canonical(volume, affine)
    count, plane = volume_planes(volume, axis)
    chosen = choose_slices(count, slices, num_slices)
    bounds = resolve_window(window)
    if bounds is None:
        low, high = (float(v) for v in np.percentile(volume, [0.5, 99.5]))
        bounds = ((low + high) / 2 + 0.5, max(high - low + 1.0, 1.0))
    return [(index, Image.fromarray(apply_window(plane(index), *bounds)).convert("RGB")) for index in chosen]


__all__ = [
    "AXES",
    "MAX_IMAGE_PIXELS",
    "WINDOW_PRESETS",
    "apply_window",
    "array_to_image",
    "dicom_to_image",
    "canonical",
    "image_size",
    "is_dicom_file",
    "is_nifti",
    "load_image",
    "load_volume_slices",
    "read_dicom",
    "read_dicom_series_datasets",
    "read_volume",
    "resolve_window",
    "volume_planes",
]
