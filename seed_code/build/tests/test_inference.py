"""inference.py, called as the XGBoost container calls it: raw abalone records in, predicted rings out."""

from __future__ import annotations

import json
import tarfile

import numpy as np
import pytest
from pipelines.abalone import inference, preprocess

RECORD = "M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15"


@pytest.fixture
def served(abalone_csv, tmp_path, build_model):
    """The packaged model, extracted as the container extracts it, loaded by model_fn; and the preprocess output."""
    out, packaged = build_model(abalone_csv, tmp_path)
    model_dir = tmp_path / "opt-ml-model"
    with tarfile.open(packaged / "model.tar.gz") as tar:
        tar.extractall(model_dir)
    return inference.model_fn(str(model_dir)), out


def invoke(model, body, content_type="text/csv", accept="text/csv"):
    """One request through the contract, as the serving toolkit runs it."""
    data = inference.input_fn(body, content_type)
    return inference.output_fn(inference.predict_fn(data, model), accept)


def test_a_raw_record_gets_its_predicted_rings(served):
    model, _ = served
    (answer,) = invoke(model, RECORD).split()
    assert 3 < float(answer) < 25
    body = RECORD + "\nI,0.33,0.255,0.08,0.205,0.0895,0.0395,0.055\n\n"  # blank lines are ignored
    assert len(invoke(model, body.encode()).split()) == 2  # bytes (other content types) are read too
    assert json.loads(invoke(model, RECORD, accept="application/json"))["predictions"][0] == pytest.approx(
        float(answer), rel=1e-5
    )


def test_serving_features_are_the_training_features(served, abalone_csv):
    """The same raw training records, transformed by inference.py from preprocessing.json, give train.csv."""
    model, out = served
    data = preprocess.read_input(abalone_csv.parent)
    raw = preprocess.split(data, 42)["train"]
    body = raw[preprocess.COLUMNS[:-1]].to_csv(header=False, index=False, na_rep="")
    features = model.features(inference.input_fn(body, "text/csv"))
    train = np.loadtxt(out / "train" / "train.csv", delimiter=",")
    assert features.shape == (len(train), 10)
    assert np.allclose(features, train[:, 1:], atol=1e-6)


def test_an_empty_field_is_imputed_as_in_training(served):
    model, out = served
    parameters = json.loads((out / "preprocessing" / "preprocessing.json").read_text())
    median_length = parameters["numeric"]["median"][0]
    without = invoke(model, "M,,0.365,0.095,0.514,0.2245,0.101,0.15")
    with_median = invoke(model, f"M,{median_length},0.365,0.095,0.514,0.2245,0.101,0.15")
    assert without == with_median
    measurements = RECORD.partition(",")[2]
    most_frequent = parameters["sex"]["most_frequent"]
    assert invoke(model, "," + measurements) == invoke(model, f"{most_frequent},{measurements}")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "X,0.455,0.365,0.095,0.514,0.2245,0.101,0.15",
            "line 1, column sex: 'X' is not a code the model knows",
        ),
        (
            RECORD + "\nM,0.455,abc,0.095,0.514,0.2245,0.101,0.15",
            "line 2, column diameter: 'abc' is not a number",
        ),
        ("M,0.455,0.365,nan,0.514,0.2245,0.101,0.15", "line 1, column height: 'nan' is not a finite number"),
        (RECORD + ",15", "line 1: 9 values, expected 8 (sex,length,"),
        ("\n\n", "empty request"),
    ],
)
def test_records_the_model_cannot_answer_are_named(served, body, message):
    with pytest.raises(inference.RecordError, match=message.replace("(", r"\(")):
        invoke(served[0], body)


def test_unsupported_content_types_are_named(served):
    with pytest.raises(inference.RecordError, match="content type 'application/json' is not supported"):
        invoke(served[0], "[1, 2]", content_type="application/json")
    with pytest.raises(inference.RecordError, match="accept 'application/x-npy' is not supported"):
        invoke(served[0], RECORD, accept="application/x-npy")


def test_a_preprocessing_file_of_another_schema_is_refused(served, tmp_path):
    model_dir = tmp_path / "opt-ml-model"
    (model_dir / "preprocessing.json").write_text(json.dumps({"schema": "abalone-preprocessing/0"}))
    with pytest.raises(ValueError, match="expected abalone-preprocessing/1"):
        inference.model_fn(str(model_dir))
