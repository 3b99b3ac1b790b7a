"""Medical image inputs on real files that installed packages ship (read at test time, never committed)."""

import logging
import os
from pathlib import Path

import nibabel
import numpy as np
import pydicom
import pytest
import skimage
from PIL import Image
from pydicom.data import get_testdata_file

from medmo import medical_images
from medmo.medical_images import (
    WINDOW_PRESETS,
    apply_window,
    load_image,
    load_volume_slices,
    read_volume,
    resolve_window,
)


NIFTI_DIR = Path(nibabel.__file__).parent / "tests" / "data"
SKIMAGE_DATA = Path(skimage.data.__file__).parent


def gray(image) -> np.ndarray:
    array = np.asarray(image)
    assert image.mode == "RGB" and array.dtype == np.uint8
    assert (array[..., 0] == array[..., 1]).all() and (array[..., 1] == array[..., 2]).all()
    return array[..., 0]


class TestDicom:
    def test_ct_hounsfield_units_through_the_modality_lut(self):
        dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
        hu = medical_images.dicom_pixels(dataset)
        np.testing.assert_array_equal(hu, dataset.pixel_array.astype(np.float64) * 1 - 1024)
        assert -1000 < hu.min() < -800 and abs(np.median(hu)) < 50  # air-ish background, soft tissue

    @pytest.mark.parametrize("preset", sorted(WINDOW_PRESETS))
    def test_named_ct_windows_map_hu_by_the_dicom_formula(self, preset):
        dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
        hu = dataset.pixel_array.astype(np.float64) - 1024
        center, width = WINDOW_PRESETS[preset]
        expected = np.clip((hu - (center - 0.5)) / (width - 1) + 0.5, 0, 1) * 255 + 0.5
        np.testing.assert_array_equal(gray(load_image(get_testdata_file("CT_small.dcm"), window=preset)), expected.astype(np.uint8))

    def test_lung_and_bone_windows_differ_as_expected(self):
        path = get_testdata_file("CT_small.dcm")
        lung, bone = gray(load_image(path, window="lung")), gray(load_image(path, window="bone"))
        soft_tissue = np.abs(medical_images.dicom_pixels(pydicom.dcmread(path)) - 40) < 40
        assert lung[soft_tissue].mean() > 200  # soft tissue is near white in a lung window
        assert bone[soft_tissue].mean() < 120  # and mid-dark in a bone window

    def test_explicit_window_and_window_from_tags_agree(self):
        path = get_testdata_file("MR_small.dcm")  # WindowCenter 600, WindowWidth 1600
        np.testing.assert_array_equal(gray(load_image(path)), gray(load_image(path, window=(600, 1600))))
        np.testing.assert_array_equal(gray(load_image(path)), gray(load_image(path, window={"center": 600, "width": 1600})))

    def test_monochrome1_is_inverted_and_keeps_its_size(self):
        path = get_testdata_file("RG1_UNCR.dcm")  # CR 1841x1955, MONOCHROME1, window 15000/30000
        dataset = pydicom.dcmread(path)
        image = load_image(path)
        assert image.size == (dataset.Columns, dataset.Rows) == (1841, 1955)
        direct = apply_window(dataset.pixel_array, 15000, 30000)
        np.testing.assert_array_equal(gray(image), 255 - direct)

    def test_voi_lut_sequence_is_applied(self):
        path = get_testdata_file("vlut_04.dcm")
        dataset = pydicom.dcmread(path)
        lut = pydicom.pixels.apply_voi_lut(dataset.pixel_array, dataset)
        expected = apply_window(lut, center=2**15, width=2**16)
        np.testing.assert_array_equal(gray(load_image(path)), expected)

    @pytest.mark.parametrize("compressed", ["MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm"])
    def test_lossless_compressed_files_decode_to_the_uncompressed_image(self, compressed):
        reference = np.asarray(load_image(get_testdata_file("MR_small.dcm")))
        np.testing.assert_array_equal(np.asarray(load_image(get_testdata_file(compressed))), reference)

    def test_colour_dicom_stays_colour(self):
        image = load_image(get_testdata_file("SC_rgb_jpeg_dcmtk.dcm"))  # YBR_FULL JPEG -> RGB
        array = np.asarray(image)
        assert image.size == (100, 100) and not (array[..., 0] == array[..., 2]).all()

    def test_multi_frame_picks_a_frame(self):
        path = get_testdata_file("emri_small.dcm")  # 10 frames of 64x64
        frames = pydicom.dcmread(path).pixel_array
        middle, third = gray(load_image(path)), gray(load_image(path, frame=3))
        assert np.corrcoef(middle.ravel(), frames[5].ravel())[0, 1] > 0.99
        assert np.corrcoef(third.ravel(), frames[3].ravel())[0, 1] > 0.99
        with pytest.raises(ValueError, match="10 frames"):
            load_image(path, frame=10)

    def test_dataset_objects_are_accepted(self):
        dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
        np.testing.assert_array_equal(np.asarray(load_image(dataset)), np.asarray(load_image(get_testdata_file("CT_small.dcm"))))

    def test_missing_codec_names_the_package(self, monkeypatch):
        decoder = pydicom.pixels.get_decoder(pydicom.uid.JPEGLSLossless)
        monkeypatch.setattr(decoder, "_available", {})
        with pytest.raises(ImportError, match="pip install pyjpegls"):
            load_image(get_testdata_file("MR_small_jpeg_ls_lossless.dcm"))

    def test_no_pixel_data_is_a_clear_error_without_patient_identifiers(self, tmp_path, caplog):
        dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
        patient = str(dataset.PatientName)
        del dataset.PixelData
        path = tmp_path / "report.dcm"
        dataset.save_as(path)
        with caplog.at_level(logging.DEBUG), pytest.raises(ValueError, match="no pixel data") as error:
            load_image(path)
        assert patient not in str(error.value) and patient not in caplog.text

    def test_truncated_dicom_is_a_clear_error(self, tmp_path):
        data = Path(get_testdata_file("CT_small.dcm")).read_bytes()
        path = tmp_path / "cut.dcm"
        path.write_bytes(data[: len(data) // 2])
        with pytest.raises(ValueError, match="cut.dcm"):
            load_image(path)

    def test_not_dicom_with_a_dicom_suffix(self, tmp_path):
        path = tmp_path / "fake.dcm"
        path.write_bytes(b"hello, I am not a DICOM file" * 20)
        with pytest.raises(ValueError, match="fake.dcm"):
            load_image(path)


class TestRasterImages:
    def test_fundus_photograph(self):
        image = load_image(SKIMAGE_DATA / "retina.jpg")
        assert image.mode == "RGB" and image.size == Image.open(SKIMAGE_DATA / "retina.jpg").size

    def test_sixteen_bit_png_is_scaled_from_its_range(self, tmp_path):
        values = np.linspace(1000, 4095, 64 * 32).reshape(32, 64).astype(np.uint16)  # 12-bit data in 16 bits
        Image.fromarray(values).save(tmp_path / "xray16.png")
        loaded = gray(load_image(tmp_path / "xray16.png"))
        assert loaded.min() == 0 and loaded.max() == 255 and loaded.shape == (32, 64)

    def test_sixteen_bit_tiff_with_an_explicit_window(self, tmp_path):
        values = np.full((8, 8), 3000, dtype=np.uint16)
        Image.fromarray(values).save(tmp_path / "slide.tiff")
        assert gray(load_image(tmp_path / "slide.tiff", window=(3000, 2001))).mean() == pytest.approx(128, abs=1)

    def test_palette_cmyk_and_alpha_images(self, tmp_path):
        Image.new("P", (10, 10), 3).save(tmp_path / "palette.png")
        Image.new("CMYK", (10, 10), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg")
        rgba = Image.new("RGBA", (10, 10), (255, 255, 255, 0))
        rgba.save(tmp_path / "alpha.png")
        for name in ("palette.png", "cmyk.jpg", "alpha.png"):
            assert load_image(tmp_path / name).mode == "RGB"
        assert np.asarray(load_image(tmp_path / "alpha.png")).max() == 0  # transparent -> black background
        assert np.asarray(load_image(tmp_path / "cmyk.jpg"))[0, 0, 0] > 200  # CMYK red stays red

    def test_arrays(self):
        assert load_image(np.zeros((5, 7), dtype=np.float32)).size == (7, 5)
        assert load_image(np.full((4, 4, 3), 200, dtype=np.uint8)).getpixel((0, 0)) == (200, 200, 200)
        ct = np.array([[-1000.0, 40.0]])
        # mediastinum window (50, 350): 40 HU -> ((40 - 49.5) / 349 + 0.5) * 255 = 120.6 -> 121
        assert gray(load_image(ct, window="mediastinum")).tolist() == [[0, 121]]

    def test_truncated_png_is_a_clear_error(self, tmp_path):
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8)).save(tmp_path / "full.png")
        data = (tmp_path / "full.png").read_bytes()
        (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
        with pytest.raises(ValueError, match="cut.png.*truncated"):
            load_image(tmp_path / "cut.png")

    def test_garbage_file_is_a_clear_error(self, tmp_path):
        (tmp_path / "noise.png").write_bytes(os.urandom(300))
        with pytest.raises(ValueError, match="noise.png"):
            load_image(tmp_path / "noise.png")

    def test_decompression_bomb_guard(self, tmp_path):
        Image.new("1", (20000, 10000)).save(tmp_path / "bomb.png")  # 200M pixels in a few kB
        with pytest.raises(ValueError, match="pixels"):
            load_image(tmp_path / "bomb.png")
        with pytest.raises(ValueError, match="max_pixels"):
            load_image(np.zeros((100, 100)), max_pixels=5000)

    @pytest.mark.parametrize(
        ("array", "message"),
        [
            (np.zeros((0, 10)), "empty"),
            (np.array([[1.0, np.nan]]), "NaN"),
            (np.zeros((2, 3, 4, 5)), "shape"),
            (np.array([["a", "b"]]), "dtype"),
        ],
    )
    def test_bad_arrays(self, array, message):
        with pytest.raises(ValueError, match=message):
            load_image(array)

    def test_unknown_window_lists_the_presets(self):
        with pytest.raises(ValueError, match="lung"):
            resolve_window("soft tissue please")
        with pytest.raises(ValueError, match="positive width"):
            resolve_window((40, 0))

    def test_missing_file(self, tmp_path):
        with pytest.raises(ValueError, match="not found"):
            load_image(tmp_path / "nowhere.png")


def marker_volume(affine: np.ndarray) -> nibabel.Nifti1Image:
    """A 20x30x40 volume, bright at the patient's right, anterior, superior corner region."""
    shape = (20, 30, 40)
    data = np.zeros(shape, dtype=np.float32)
    inverse = np.linalg.inv(affine)
    corners = np.array([[i, j, k, 1] for i in (0, shape[0] - 1) for j in (0, shape[1] - 1) for k in (0, shape[2] - 1)])
    world = corners @ affine.T
    target = np.array([world[:, 0].max(), world[:, 1].max(), world[:, 2].max(), 1.0])  # most R, A, S
    index = np.rint(inverse @ target)[:3].astype(int)
    data[tuple(index)] = 100.0
    return nibabel.Nifti1Image(data, affine)


class TestVolumes:
    def test_nifti_slices(self):
        path = NIFTI_DIR / "anatomical.nii"  # 33x41x25
        slices = load_volume_slices(path, num_slices=5)
        assert [index for index, _ in slices] == [2, 7, 12, 17, 22]
        assert all(image.size == (33, 41) for _, image in slices)
        assert load_volume_slices(path, axis="coronal")[0][1].size == (33, 25)
        assert load_volume_slices(path, axis="sagittal", slices=[0, 32])[1][0] == 32

    @pytest.mark.parametrize(
        "affine",
        [
            np.diag([1.0, 1.0, 1.0, 1.0]),  # RAS
            np.diag([-1.0, -1.0, 1.0, 1.0]),  # LPS (DICOM-like)
            np.array([[0, 0, 2.0, 0], [1.0, 0, 0, 0], [0, -1.0, 0, 0], [0, 0, 0, 1]]),  # permuted and flipped
        ],
    )
    def test_orientation_is_canonical_whatever_the_stored_axes(self, affine, tmp_path):
        path = tmp_path / "marker.nii.gz"
        nibabel.save(marker_volume(affine), path)
        volume, stored_affine, _ = read_volume(path)
        canonical = medical_images.canonical(volume, stored_affine)
        count, plane = medical_images.volume_planes(canonical, "axial")
        top = plane(count - 1)  # most superior slice
        row, column = np.unravel_index(np.argmax(top), top.shape)
        # radiological display: anterior at the top (row 0), patient's right on the viewer's left (column 0)
        assert (row, column) == (0, 0)
        coronal_count, coronal = medical_images.volume_planes(canonical, "coronal")
        front = coronal(coronal_count - 1)
        assert np.unravel_index(np.argmax(front), front.shape) == (0, 0)  # superior at the top, right on the left

    def test_dicom_series_folder_is_sorted_by_position(self, tmp_path):
        template = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
        positions = [30.0, 0.0, 20.0, 10.0]  # written out of order
        for number, z in enumerate(positions):
            dataset = template.copy()
            dataset.ImagePositionPatient = [-158.1, -179.0, z]
            dataset.InstanceNumber = number + 1
            pixels = np.full((128, 128), 1024 + int(z), dtype=np.int16)  # HU = z
            dataset.PixelData = pixels.tobytes()
            dataset.save_as(tmp_path / f"slice{number}.dcm")
        volume, affine, _ = read_volume(tmp_path)
        canonical = medical_images.canonical(volume, affine)
        assert [float(canonical[0, 0, k]) for k in range(4)] == [0.0, 10.0, 20.0, 30.0]  # inferior -> superior

    def test_multi_frame_dicom_as_a_volume(self):
        slices = load_volume_slices(get_testdata_file("emri_small.dcm"), num_slices=2)
        assert [index for index, _ in slices] == [2, 7] and slices[0][1].size == (64, 64)

    def test_bad_volume_requests(self, tmp_path):
        path = NIFTI_DIR / "anatomical.nii"
        with pytest.raises(ValueError, match="outside"):
            load_volume_slices(path, slices=[99])
        with pytest.raises(ValueError, match="axis"):
            load_volume_slices(path, axis="oblique")
        with pytest.raises(ValueError, match="volume"):
            load_image(path)
        (tmp_path / "cut.nii.gz").write_bytes((NIFTI_DIR / "example4d.nii.gz").read_bytes()[:200])
        with pytest.raises(ValueError, match="cut.nii.gz"):
            load_volume_slices(tmp_path / "cut.nii.gz")
