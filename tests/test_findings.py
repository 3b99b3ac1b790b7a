"""The findings extractor: negation and uncertainty rules, the labelled sentence sets, real IU X-Ray reports."""

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medmo.clinical.findings import FindingsExtractor, extract_findings, load_lexicon, normalize_label
from medmo.sources.iu_xray import extractor_half, read_reports, split_of, torchxrayvision_reports_archive


DATA = Path(__file__).parent / "data"
CHEXPERT = ["No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion", "Edema",
            "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion", "Pleural Other",
            "Fracture", "Support Devices"]  # fmt: skip
NIH_OTHERS = ["Mass", "Nodule", "Emphysema", "Fibrosis", "Pleural Thickening", "Hernia", "Infiltration"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # pre-negation applies to a whole list
        ("No effusion, pneumothorax, or consolidation.", {"Pleural Effusion": "negative", "Pneumothorax": "negative", "Consolidation": "negative"}),
        # post-negation reaches back
        ("Effusion is not seen.", {"Pleural Effusion": "negative"}),
        ("The pneumothorax has resolved.", {"Pneumothorax": "negative"}),
        # uncertainty before and after
        ("Possible right lower lobe pneumonia.", {"Pneumonia": "uncertain"}),
        ("Consolidation cannot be excluded.", {"Consolidation": "uncertain"}),
        # "versus" hedges both sides
        ("Atelectasis versus pneumonia at the left base.", {"Atelectasis": "uncertain", "Pneumonia": "uncertain"}),
        # a terminator ends the negation's scope
        ("No pneumothorax, but there is a small left effusion.", {"Pneumothorax": "negative", "Pleural Effusion": "positive"}),
        # historical mentions are not current findings
        ("History of pneumonia.", {}),
        # a pseudo-trigger is not a negation
        ("No change in the large left pleural effusion.", {"Pleural Effusion": "positive"}),
        # sentence scope: a negation does not cross the full stop
        ("No effusion. Small apical pneumothorax.", {"Pleural Effusion": "negative", "Pneumothorax": "positive"}),
        # whole-study normal statement
        ("No acute cardiopulmonary process.", {"No Finding": "positive"}),
        # ... which a positive pathology overrides, but a support device does not
        ("Large effusion. No acute cardiopulmonary process otherwise.", {"Pleural Effusion": "positive"}),
        ("ET tube in good position. No acute cardiopulmonary process.", {"Support Devices": "positive", "No Finding": "positive"}),
        # statements that deny by themselves
        ("Heart size is normal.", {"Cardiomegaly": "negative"}),
        # positive beats uncertain beats negative across mentions
        ("No right effusion. Small left effusion.", {"Pleural Effusion": "positive"}),
        # plurals and case
        ("Multiple pulmonary NODULES and Masses.", {"Nodule": "positive", "Mass": "positive"}),
        # empty and non-text input
        ("", {}),
    ],
)
def test_rules(text, expected):
    assert extract_findings(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the IU X-Ray sentences: an old fracture is still on the image
        ("The skeletal structures show several old rib fractures", {"Fracture": "positive"}),
        ("Old right clavicular fracture is again noted", {"Fracture": "positive"}),
        ("Old fractures seen the left 9th rib", {"Fracture": "positive"}),
        ("Multiple healed posterior right rib fractures.", {"Fracture": "positive"}),
        # a chronic modifier between a past-episode trigger and the finding keeps the finding present
        ("History of pneumonia. Old healed left rib fractures.", {"Fracture": "positive"}),
        ("Prior granulomatous infection with scattered calcified nodules.", {"Nodule": "positive"}),
        ("Known hiatal hernia.", {"Hernia": "positive"}),
        # ... only for the finding it describes: the pneumonia is still a past episode
        ("History of pneumonia with old rib fractures.", {"Fracture": "positive"}),
        # ... and it leaves negation and uncertainty alone
        ("No old fracture.", {"Fracture": "negative"}),
        ("Possible old left rib fracture.", {"Fracture": "uncertain"}),
        # a finding only asked about is not reported
        ("Evaluation for pneumothorax is limited by positioning.", {}),
    ],
)
def test_chronic_findings_are_present(text, expected):
    assert extract_findings(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # past episodes are not current findings (held before the chronic rule and still hold)
        ("History of pneumonia.", {}),
        ("Status post right thoracentesis.", {}),
        ("Prior fracture of the left clavicle. No pleural effusion.", {"Pleural Effusion": "negative"}),
        ("Prior effusion has resolved.", {"Pleural Effusion": "negative"}),
    ],
)
def test_past_episodes_are_not_current(text, expected):
    assert extract_findings(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the report: the rib fracture was dropped as historical ("healed", "remote") and the
        # shoulder's own "negative for fracture" was the only fracture left; no scope crossed a full stop
        ("Negative for pneumothorax or pleural effusion. Healed remote left 9th rib fracture.",
         {"Pneumothorax": "negative", "Pleural Effusion": "negative", "Fracture": "positive"}),
        ("Negative for pneumothorax or pleural effusion. Healed remote left 9th rib fracture. "
         "Right shoulder: negative for fracture or dislocation.",
         {"Pneumothorax": "negative", "Pleural Effusion": "negative", "Fracture": "positive"}),
        # a full stop without a space after it still ends the negation's scope
        ("No pleural effusion.Small left apical pneumothorax.", {"Pleural Effusion": "negative", "Pneumothorax": "positive"}),
        # ... but a decimal point does not end a sentence
        ("No effusion or 2.5 cm nodule.", {"Pleural Effusion": "negative", "Nodule": "negative"}),
    ],
)
def test_negation_stops_at_sentence_end(text, expected):
    assert extract_findings(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # words of degree inside a finding phrase
        ("The heart size is mildly enlarged.", {"Cardiomegaly": "positive"}),
        ("Heart is moderately enlarged, unchanged.", {"Cardiomegaly": "positive"}),
        # phrasings of the IU X-Ray misses (dev half)
        ("Prominence of the central pulmonary vasculature.", {"Edema": "positive"}),
        ("Mild fissural thickening on the right.", {"Pleural Thickening": "positive"}),
        ("Right middle lobe collapse.", {"Atelectasis": "positive"}),
        ("Cardiac pacing leads in stable position.", {"Support Devices": "positive"}),
        ("Cholecystectomy clips in the right upper quadrant.", {"Support Devices": "positive"}),
        # a removed device is not there
        ("Interval removal of the right PICC.", {"Support Devices": "negative"}),
        ("The left chest tube has been removed. No pneumothorax.", {"Support Devices": "negative", "Pneumothorax": "negative"}),
        # hedges
        ("Bibasilar opacities may reflect atelectasis.", {"Lung Opacity": "positive", "Atelectasis": "uncertain"}),
        ("Small bilateral pleural effusions suspected.", {"Pleural Effusion": "uncertain"}),
        ("A pulmonary nodule is not entirely excluded.", {"Nodule": "uncertain"}),
        ("Differential diagnosis including edema or atypical infection.", {"Edema": "uncertain"}),
        # "without interval change" is not a negation
        ("Without significant interval change of left basilar atelectasis.", {"Atelectasis": "positive"}),
        # phrases that carry a finding's word but name something else
        ("Large pericardial effusion.", {}),
        ("Sclerotic lesion in the left clavicle.", {}),
        # whole-study normal statements
        ("No acute radiographic cardiopulmonary process.", {"No Finding": "positive"}),
        ("Heart size is normal. No acute findings.", {"Cardiomegaly": "negative", "No Finding": "positive"}),
    ],
)
def test_lexicon_fixes_from_iu_xray_misses(text, expected):
    assert extract_findings(text) == expected


def test_canonical_names_are_chexpert_plus_nih():
    assert load_lexicon().names == CHEXPERT + NIH_OTHERS


@pytest.mark.parametrize(("label", "canonical"), [("Pleural effusions", "Pleural Effusion"), ("NODULE", "Nodule"),
                                                  ("enlarged heart", "Cardiomegaly"), ("infiltrates", "Infiltration"),
                                                  ("bacteria", "bacteria"), ("  Cell   nucleus ", "cell nucleus")])  # fmt: skip
def test_normalize_label(label, canonical):
    assert normalize_label(label) == canonical


def score(path: Path):
    items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    hit, predicted, gold, exact = {}, {}, {}, 0
    for item in items:
        prediction = extract_findings(item["text"])
        exact += prediction == item["findings"]
        for name in set(prediction) | set(item["findings"]):
            p, g = prediction.get(name), item["findings"].get(name)
            predicted[p] = predicted.get(p, 0) + 1
            gold[g] = gold.get(g, 0) + 1
            if p == g:
                hit[g] = hit.get(g, 0) + 1
    precision = {s: hit.get(s, 0) / predicted[s] for s in ("positive", "negative", "uncertain")}
    recall = {s: hit.get(s, 0) / gold[s] for s in ("positive", "negative", "uncertain")}
    return precision, recall, exact / len(items), len(items)


def test_labelled_sentences():
    # 281 sentences written to the labelling spec (tests/data/findings_sentences.jsonl); the rules
    # were corrected on this set, so it guards against regressions. Measured: 279/281; s269 and s277
    # label old healed fractures as not present, the convention the chronic rule retired.
    precision, recall, exact, count = score(DATA / "findings_sentences.jsonl")
    assert count >= 150
    assert min(precision.values()) >= 0.98 and min(recall.values()) >= 0.98 and exact >= 0.97


def test_held_out_sentences():
    # 150 sentences written later, by someone else, to the same spec; never used to change rules.
    # Measured: 143/150 items exactly right (143 before the chronic rule too: h050 and h101 are now
    # right, h141 "known ... nodule is unchanged" and h142 "old healed ... fractures" are labelled to
    # the retired convention that drops them); floors leave room only for small lexicon changes.
    precision, recall, exact, count = score(DATA / "findings_sentences_heldout.jsonl")
    assert count == 150
    assert min(precision.values()) >= 0.95 and min(recall.values()) >= 0.95 and exact >= 0.93


def iu_xray_reports():
    archive = torchxrayvision_reports_archive()
    assert archive is not None, "make setup installs torchxrayvision (--no-deps) for its IU X-Ray reports"
    for report in read_reports(archive):
        text = f"{report['findings']} {report['impression']}".strip()
        if text and report["mesh_major"] not in ([], ["No Indexing"]):
            yield report, text


def test_agreement_with_iu_xray_mesh_terms():
    # Scored on the test half, which rules are never corrected on (bench/findings.py prints it per finding).
    hit = predicted = gold = 0
    for report, text in iu_xray_reports():
        if extractor_half(report["id"]) != "test":
            continue
        positives = {n for n, s in extract_findings(text).items() if s == "positive"} - {"No Finding"}
        truth = set(report["mesh_findings"]) - {"No Finding"}
        hit, predicted, gold = hit + len(positives & truth), predicted + len(positives), gold + len(truth)
    # measured: precision 0.902, recall 0.887 over 1,332 MeSH-indexed findings in 1,914 test-half reports
    assert gold > 1200 and hit / predicted >= 0.88 and hit / gold >= 0.86


def test_iu_xray_fractures_are_found():
    # The issue: 42 reports MeSH indexes with a bone fracture had no positive Fracture (40 dropped as
    # "old" / "healed"). Measured now: 79 of 84 positive, 3 hedged ("probable old rib fractures"), 2 missed.
    statuses = [extract_findings(text).get("Fracture") for report, text in iu_xray_reports() if "Fracture" in report["mesh_findings"]]
    assert len(statuses) > 80 and statuses.count("positive") >= 0.9 * len(statuses)


def test_extractor_halves_are_fixed_and_separate_from_the_training_split():
    # The halves must never move (rules are corrected on one, the other is reported): pin their sizes.
    archive = torchxrayvision_reports_archive()
    assert archive is not None, "make setup installs torchxrayvision (--no-deps) for its IU X-Ray reports"
    identifiers = [report["id"] for report in read_reports(archive)]
    halves = [extractor_half(identifier) for identifier in identifiers]
    assert (halves.count("dev"), halves.count("test")) == (1973, 1982)
    # salted apart from the converter's split: its test reports fall in both halves
    assert {extractor_half(i) for i in identifiers if split_of(i) == "test"} == {"dev", "test"}


def test_lexicon_extends_to_other_modalities(tmp_path):
    extra = tmp_path / "fundus.yaml"
    extra.write_text("findings:\n  Microaneurysm: [microaneurysm]\n  Pneumothorax: [ptx]\ntriggers:\n  pre_negation: [no sign whatsoever of]\n")
    extractor = FindingsExtractor(load_lexicon(extra_yaml=extra))
    assert extractor("Scattered microaneurysms. No sign whatsoever of PTX.") == {"Microaneurysm": "positive", "Pneumothorax": "negative"}
    bad = tmp_path / "bad.yaml"
    bad.write_text("triggers:\n  maybe_negation: [x]\n")
    with pytest.raises(ValueError, match="maybe_negation"):
        load_lexicon(extra_yaml=bad)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_never_raises(text):
    assert set(extract_findings(text).values()) <= {"positive", "negative", "uncertain"}
