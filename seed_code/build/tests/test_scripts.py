"""The processing scripts run on a laptop on abalone-schema data: preprocess, package, evaluate, as the pipeline."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
from pipelines.abalone import evaluate, package, preprocess

ABALONE = Path(preprocess.__file__).parent


def run_preprocess(input_dir: Path, out: Path) -> dict:
    preprocess.main(["--input-dir", str(input_dir), "--output-dir", str(out)])
    splits = {name: np.loadtxt(out / name / f"{name}.csv", delimiter=",") for name in ("train", "validation")}
    splits["test"] = [line.split(",") for line in (out / "test" / "test.csv").read_text().splitlines()]
    return splits


def test_preprocess_writes_model_features_for_training_and_raw_records_for_testing(abalone_csv, tmp_path):
    splits = run_preprocess(abalone_csv.parent, tmp_path / "out")
    assert [len(splits[n]) for n in ("train", "validation", "test")] == [840, 180, 180]
    train = splits["train"]
    assert train.shape[1] == 11  # rings + 7 scaled measurements + 3 one-hot sex columns
    assert (train[:, 0] >= 1).all()  # the label comes first
    # Fitted on the training split: there (and only there) the scaled measurements have mean 0 and std 1.
    assert np.allclose(train[:, 1:8].mean(axis=0), 0, atol=1e-6)
    assert np.allclose(train[:, 1:8].std(axis=0), 1, atol=1e-6)
    one_hot = train[:, 8:]
    assert set(np.unique(one_hot)) <= {0.0, 1.0} and (one_hot.sum(axis=1) == 1).all()
    # The test records are what a client has: sex code, 7 measurements, and the label last.
    record = splits["test"][0]
    assert len(record) == 9 and record[0] in ("F", "I", "M") and float(record[-1]) >= 1
    source = {",".join(map(str, row)) for row in _rows(abalone_csv)}
    assert ",".join(record) in source


def _rows(path: Path) -> list[list[str]]:
    return [line.split(",") for line in path.read_text().splitlines()]


def test_preprocessing_is_fitted_on_the_training_split_only(abalone_csv, tmp_path):
    """Changing only records that land in validation and test changes neither the parameters nor the train split."""
    first = run_preprocess(abalone_csv.parent, tmp_path / "first")
    held_out = {",".join(r) for r in first["test"]}
    rows = _rows(abalone_csv)
    for row in rows:
        if ",".join(row) in held_out:
            row[1:8] = [str(float(v) * 3) for v in row[1:8]]  # absurd sizes in the test split
    changed = tmp_path / "changed" / "abalone.csv"
    changed.parent.mkdir()
    changed.write_text("".join(",".join(r) + "\n" for r in rows))
    second = run_preprocess(changed.parent, tmp_path / "second")
    parameters = [
        json.loads((tmp_path / run / "preprocessing" / "preprocessing.json").read_text())
        for run in ("first", "second")
    ]
    assert parameters[0] == parameters[1]
    assert parameters[0]["fitted_on"] == {"split": "train", "rows": 840}
    assert np.array_equal(first["train"], second["train"])
    assert first["test"] != second["test"]


def test_preprocess_imputes_missing_values_and_drops_unusable_rows(abalone_csv, tmp_path):
    rows = _rows(abalone_csv)
    rows[0][0:2] = ["", ""]  # no sex, no length: imputed
    rows[1][0] = "X"  # not a sex code the model can learn: dropped
    rows[2][8] = ""  # no label: dropped
    abalone_csv.write_text("".join(",".join(r) + "\n" for r in rows))
    splits = run_preprocess(abalone_csv.parent, tmp_path / "out")
    assert sum(len(splits[n]) for n in splits) == 1198
    assert not np.isnan(np.vstack([splits["train"], splits["validation"]])).any()


def run_evaluate(out: Path, packaged: Path) -> dict:
    evaluate.main(
        [
            "--model-dir",
            str(packaged),
            "--test-dir",
            str(out / "test"),
            "--output-dir",
            str(out / "evaluation"),
        ]
    )
    return json.loads((out / "evaluation" / "evaluation.json").read_text())


def test_package_holds_the_model_its_preprocessing_and_the_serving_code(abalone_csv, tmp_path, build_model):
    out, packaged = build_model(abalone_csv, tmp_path)
    with tarfile.open(packaged / "model.tar.gz") as tar:
        names = sorted(tar.getnames())
        shipped = tar.extractfile("code/inference.py").read()
        parameters = json.loads(tar.extractfile("preprocessing.json").read())
    assert names == ["code/inference.py", "preprocessing.json", "xgboost-model"]
    assert shipped == (ABALONE / "inference.py").read_bytes()
    assert parameters == json.loads((out / "preprocessing" / "preprocessing.json").read_text())


def test_package_without_a_trained_model_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "preprocessing.json").write_text("{}")
    arguments = [
        "--preprocessing-dir",
        str(tmp_path),
        "--code-dir",
        str(ABALONE),
        "--output-dir",
        str(tmp_path),
    ]
    with pytest.raises(SystemExit, match="no model.tar.gz or xgboost-model in"):
        package.main(["--model-dir", str(tmp_path / "empty"), *arguments])


def test_evaluate_scores_raw_records_and_the_model_passes_the_gate(abalone_csv, tmp_path, build_model):
    out, packaged = build_model(abalone_csv, tmp_path)
    report = run_evaluate(out, packaged)
    mse = report["regression_metrics"]["mse"]
    assert 0 < mse["value"] <= 6.0  # the pipeline's default MseThreshold
    assert mse["standard_deviation"] > 0
    assert report["rows"] == 180


def test_evaluate_goes_through_the_packaged_serving_code(abalone_csv, tmp_path, build_model):
    """The MSE is the serving script's: a package whose script answers 0 for every record scores mean(rings^2)."""
    code = tmp_path / "code"
    code.mkdir()
    source = (ABALONE / "inference.py").read_text()
    (code / "inference.py").write_text(
        source + "\n\ndef predict_fn(input_data, model):\n    return np.zeros(len(input_data))\n"
    )
    out, packaged = build_model(abalone_csv, tmp_path, code_dir=code)
    labels = np.array([float(r[-1]) for r in _rows(out / "test" / "test.csv")])
    report = run_evaluate(out, packaged)
    assert report["regression_metrics"]["mse"]["value"] == pytest.approx(float(np.mean(labels**2)))


def test_evaluate_reports_a_bad_model_honestly(abalone_csv, tmp_path, build_model):
    out, packaged = build_model(abalone_csv, tmp_path, shuffle_labels=True)
    assert run_evaluate(out, packaged)["regression_metrics"]["mse"]["value"] > 6.0


def test_evaluate_refuses_an_archive_that_escapes_its_directory(tmp_path):
    archive = tmp_path / "model" / "model.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("../escape.py")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "test.csv").write_text("M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15,15\n")
    with pytest.raises(SystemExit, match="refusing member '../escape.py'"):
        evaluate.main(["--model-dir", str(archive.parent), "--test-dir", str(tmp_path / "test")])
    assert not (tmp_path / "escape.py").exists()
