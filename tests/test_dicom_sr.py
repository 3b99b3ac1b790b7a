"""DICOM SR output: read back with pydicom and highdicom, boxes as SCOORD on the source image,
the research-use statement, the model's name and revision, and only the required patient data."""

import logging
import shutil

import highdicom as hd
import numpy as np
import pydicom
import pytest
from inference_helpers import ScriptedBackend, ct_dataset, write_series
from pydicom.data import get_testdata_file

from medmo.inference.dicom_sr import PATIENT_ATTRIBUTES, RESEARCH_USE, SERIES_DESCRIPTION, build_study_report, map_box, series_slice_sources
from medmo.inference.predict import predict
from medmo.medical_images import load_volume_slices, read_dicom_series_datasets


COMPREHENSIVE_3D_SR = "1.2.840.10008.5.1.4.1.1.88.34"


def rectangle(box):
    x1, y1, x2, y2 = box
    return [[x1, y1], [x2, y1], [x2, y2], [x1, y2], [x1, y1]]


def brightest(datasets):
    """The slice holding the marker and the marker's value after the modality LUT (what windows see)."""
    from pydicom.pixels import apply_modality_lut

    marked = max(datasets, key=lambda ds: ds.pixel_array.max())
    return marked, float(apply_modality_lut(marked.pixel_array, marked).max())


def roi_groups(document):
    return hd.sr.Comprehensive3DSR.from_dataset(document).content.get_planar_roi_measurement_groups()


@pytest.fixture
def source():
    """CT_small with patient data beyond what an SR needs (which must not be copied)."""
    dataset = ct_dataset()
    dataset.OtherPatientIDs, dataset.PatientAddress, dataset.PatientAge, dataset.PatientWeight = "OTHER-77", "1 Hidden Road", "045Y", 70
    return dataset


def test_sr_reads_back_with_boxes_on_the_source_image(source, tmp_path, caplog):
    findings = [{"label": "Nodule", "box": [10.5, 20.0, 60.25, 80.0]}, {"label": "Mass", "box": [0.0, 0.0, 128.0, 30.0]}]
    caplog.set_level(logging.DEBUG)
    document = build_study_report([(source, findings, None)], "medmo-test-8b", "3f2c1ab", "Detect the findings.")
    document.save_as(tmp_path / "sr.dcm", enforce_file_format=True)
    back = pydicom.dcmread(tmp_path / "sr.dcm")

    assert back.SOPClassUID == COMPREHENSIVE_3D_SR and back.StudyInstanceUID == source.StudyInstanceUID
    assert back.Modality == "SR" and back.SeriesDescription == SERIES_DESCRIPTION
    assert back.VerificationFlag == "UNVERIFIED" and back.PreliminaryFlag == "PRELIMINARY"
    groups = roi_groups(back)
    assert [g.finding_type.meaning for g in groups] == ["Nodule", "Mass"]
    for group, finding in zip(groups, findings):
        assert group.roi.graphic_type == hd.sr.GraphicTypeValues.POLYLINE
        assert group.roi.value.tolist() == rectangle(finding["box"])  # (column, row) pairs in the source's pixels
        (reference,) = group.roi.ContentSequence[0].ReferencedSOPSequence
        assert reference.ReferencedSOPInstanceUID == source.SOPInstanceUID and reference.ReferencedSOPClassUID == source.SOPClassUID
    texts = [element.value for element in back.iterall() if element.keyword == "TextValue"]
    assert RESEARCH_USE in texts and "medmo-test-8b" in texts and "3f2c1ab" in texts  # the comment, algorithm name and version
    text = str(back)

    # Patient Module Type 2 attributes as in the source; nothing else about the patient
    assert all(back.get(keyword) == source.get(keyword) for keyword in PATIENT_ATTRIBUTES)
    assert {element.keyword for element in back if element.tag.group == 0x0010} == set(PATIENT_ATTRIBUTES)
    assert "OTHER-77" not in text and "Hidden Road" not in text
    assert str(source.PatientName) not in caplog.text and str(source.PatientID) not in caplog.text


def test_an_image_without_findings_is_reported_as_analysed(source):
    document = build_study_report([(source, [], None)], "m", "r", "p")
    content = hd.sr.Comprehensive3DSR.from_dataset(document).content
    assert content.get_planar_roi_measurement_groups() == []
    (group,) = content.get_image_measurement_groups()
    codes = {item.ConceptNameCodeSequence[0].CodeMeaning: item.ConceptCodeSequence[0].CodeMeaning for item in group[0].ContentSequence if item.ValueType == "CODE"}
    assert codes["Finding"] == "No finding reported by the model"
    (image,) = [item for item in group[0].ContentSequence if item.ValueType == "IMAGE"]
    assert image.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID


def test_multiframe_images_reference_their_frame(tmp_path):
    frames = pydicom.dcmread(get_testdata_file("emri_small.dcm"))
    document = build_study_report([(frames, [{"label": "Lesion", "box": [1, 2, 30, 40]}], 6)], "m", "r", "p")
    (group,) = roi_groups(document)
    assert group.roi.ContentSequence[0].ReferencedSOPSequence[0].ReferencedFrameNumber == 6


def test_the_same_findings_give_the_same_uids():
    findings = [{"label": "Nodule", "box": [1, 2, 3, 4]}]
    first, again = (build_study_report([(ct_dataset(), findings, None)], "m", "r", "p") for _ in range(2))
    moved = build_study_report([(ct_dataset(), [{"label": "Nodule", "box": [1, 2, 3, 5]}], None)], "m", "r", "p")
    assert first.SOPInstanceUID == again.SOPInstanceUID != moved.SOPInstanceUID
    assert first.SeriesInstanceUID == moved.SeriesInstanceUID


def test_highdicom_missing_names_the_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "highdicom", None)
    with pytest.raises(ImportError, match="pip install highdicom"):
        build_study_report([(ct_dataset(), [], None)], "m", "r", "p")


# --------------------------------------------------------------------------- series geometry


MARKER = (1, (30, 40, 46, 50))  # slice 1, columns 30..46, rows 40..50
# (orientation, the viewing axis whose planes are the acquired slices)
ACQUISITIONS = [((1, 0, 0, 0, 1, 0), "axial"), ((0, 1, 0, 1, 0, 0), "axial"), ((1, 0, 0, 0, 0, -1), "coronal"), ((0, 1, 0, 0, 0, -1), "sagittal")]


@pytest.mark.parametrize("orientation,axis", ACQUISITIONS)
def test_series_boxes_map_back_to_the_source_slice(tmp_path, orientation, axis):
    paths = write_series(tmp_path / "series", orientation=orientation, marker=MARKER)
    files, datasets, affine = read_dicom_series_datasets(tmp_path / "series")
    marked, top = brightest(datasets)
    # shown with a window that turns only the marker white: where it lands on screen
    for index, image in load_volume_slices(tmp_path / "series", axis=axis, slices=[0, 1, 2], window=(top - 1, 1)):
        white = np.argwhere(np.asarray(image)[..., 0] == 255)
        source = series_slice_sources(datasets, affine, axis, [index])[0]
        assert source is not None
        if white.size:
            (y1, x1), (y2, x2) = white.min(axis=0), white.max(axis=0) + 1
            assert datasets[source[0]].SOPInstanceUID == marked.SOPInstanceUID
            assert map_box([x1, y1, x2, y2], source[1]) == [float(v) for v in MARKER[1]]
    assert len(paths) == len(files) == 3


def test_planes_across_slices_have_no_single_source(tmp_path):
    write_series(tmp_path / "series")
    _, datasets, affine = read_dicom_series_datasets(tmp_path / "series")
    assert series_slice_sources(datasets, affine, "coronal", [64]) == [None]


def test_predict_writes_series_boxes_onto_the_marked_slice(tiny, tmp_path):
    _, processor = tiny
    write_series(tmp_path / "in" / "series", orientation=(0, 1, 0, 1, 0, 0), marker=MARKER)
    shutil.copy(get_testdata_file("CT_small.dcm"), tmp_path / "in" / "ct.dcm")
    _, datasets, affine = read_dicom_series_datasets(tmp_path / "in" / "series")
    marked, top = brightest(datasets)
    ((index, image),) = load_volume_slices(tmp_path / "in" / "series", slices=[1], window=(top - 1, 1))
    white = np.argwhere(np.asarray(image)[..., 0] == 255)
    (y1, x1), (y2, x2) = white.min(axis=0), white.max(axis=0) + 1
    # a 128x128 slice is the model's input size too: the scripted box is the marker as shown
    answer = f"Marker <box>[[{x1}, {y1}, {x2}, {y2}]]</box>"
    summary = predict("tiny", [tmp_path / "in"], tmp_path / "out", generate=ScriptedBackend(lambda s: answer), processor=processor, dicom_sr=True,
                      options=None, progress=False, revision="rev-1")  # fmt: skip
    (path,) = summary["dicom_sr"]  # the series and ct.dcm are one study
    document = pydicom.dcmread(tmp_path / "out" / path)
    groups = {g.roi.ContentSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID: g for g in roi_groups(document)}
    assert set(groups) == {marked.SOPInstanceUID, ct_dataset().SOPInstanceUID}
    assert groups[marked.SOPInstanceUID].roi.value.tolist() == rectangle([float(v) for v in MARKER[1]])
    assert "rev-1" in [element.value for element in document.iterall() if element.keyword == "TextValue"]
