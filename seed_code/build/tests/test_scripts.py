"""The processing scripts run on a laptop on abalone-schema data: preprocess, package, evaluate, as the pipeline."""

from __future__ import annotations

import io
import json
import subprocess
import sys
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


# Run as a user runs them on a laptop (python pipelines/abalone/<script> ...), with an input that is not there: one
# line on stderr saying what is missing and how to get it, exit code 1 (2 for a bad flag), and no traceback.
def fake_training_output(directory: Path) -> Path:
    """A directory as a training job leaves it: model.tar.gz holding xgboost-model (package.py does not load it)."""
    directory.mkdir(parents=True, exist_ok=True)
    with tarfile.open(directory / "model.tar.gz", "w:gz") as tar:
        info = tarfile.TarInfo("xgboost-model")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    return directory


def layout(tmp_path: Path, *names: str) -> None:
    """Make the named inputs under tmp_path: empty directories, an empty file, a training output, a test split."""
    for name in names:
        if name == "empty-dir":
            (tmp_path / name).mkdir()
        elif name == "empty-file":
            (tmp_path / name).mkdir()
            (tmp_path / name / "abalone.csv").write_text("")
        elif name == "model":
            fake_training_output(tmp_path / name)
        elif name == "packaged":
            (tmp_path / name).mkdir()
            (tmp_path / name / "model.tar.gz").write_bytes(b"not a tar archive")
        elif name == "test":
            (tmp_path / name).mkdir()
            (tmp_path / name / "test.csv").write_text("M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15,15\n")
        elif name == "empty-test":
            (tmp_path / name).mkdir()
            (tmp_path / name / "test.csv").write_text("\n")
        elif name == "preprocessing":
            (tmp_path / name).mkdir()
            (tmp_path / name / "preprocessing.json").write_text("{}")


MISSING_INPUTS = {
    "preprocess: no input directory": (["preprocess.py", "--input-dir", "data"], [], "input directory data"),
    "preprocess: an empty input directory": (
        ["preprocess.py", "--input-dir", "empty-dir"],
        ["empty-dir"],
        "no input files in empty-dir",
    ),
    "preprocess: only an empty file": (
        ["preprocess.py", "--input-dir", "empty-file"],
        ["empty-file"],
        "input files in empty-file hold no records",
    ),
    "package: no model directory": (
        [
            "package.py",
            "--model-dir",
            "model",
            "--preprocessing-dir",
            "preprocessing",
            "--code-dir",
            str(ABALONE),
        ],
        ["preprocessing"],
        "model directory model does not exist",
    ),
    "package: an empty model directory": (
        [
            "package.py",
            "--model-dir",
            "empty-dir",
            "--preprocessing-dir",
            "preprocessing",
            "--code-dir",
            str(ABALONE),
        ],
        ["empty-dir", "preprocessing"],
        "no model.tar.gz or xgboost-model in empty-dir",
    ),
    "package: no preprocessing.json": (
        [
            "package.py",
            "--model-dir",
            "model",
            "--preprocessing-dir",
            "empty-dir",
            "--code-dir",
            str(ABALONE),
        ],
        ["model", "empty-dir"],
        "no preprocessing.json in empty-dir",
    ),
    "package: no serving script": (
        [
            "package.py",
            "--model-dir",
            "model",
            "--preprocessing-dir",
            "preprocessing",
            "--code-dir",
            "empty-dir",
        ],
        ["model", "preprocessing", "empty-dir"],
        "no inference.py in empty-dir",
    ),
    "evaluate: no model directory": (
        ["evaluate.py", "--model-dir", "out/packaged", "--test-dir", "test"],
        ["test"],
        "model directory out/packaged does not exist",
    ),
    "evaluate: an empty model directory": (
        ["evaluate.py", "--model-dir", "empty-dir", "--test-dir", "test"],
        ["empty-dir", "test"],
        "no model.tar.gz in empty-dir",
    ),
    "evaluate: a model.tar.gz that is not an archive": (
        ["evaluate.py", "--model-dir", "packaged", "--test-dir", "test"],
        ["packaged", "test"],
        "packaged/model.tar.gz is not a model archive",
    ),
    "evaluate: no test directory": (
        ["evaluate.py", "--model-dir", "model", "--test-dir", "out/test"],
        ["model"],
        "test directory out/test does not exist",
    ),
    "evaluate: an empty test split": (
        ["evaluate.py", "--model-dir", "model", "--test-dir", "empty-test"],
        ["model", "empty-test"],
        "empty-test/test.csv holds no records",
    ),
}


def run_script(tmp_path: Path, script: str, *args: str) -> subprocess.CompletedProcess:
    """``python <script> <args>`` in ``tmp_path``, run in this interpreter (the libraries are imported once) with
    what the interpreter does at exit: SystemExit's code, or its text on stderr and 1, or a traceback and 1.
    test_the_interpreter_answers_as_run_script_says keeps this honest against a real interpreter."""
    import contextlib
    import io
    import os
    import runpy
    import traceback

    out, err = io.StringIO(), io.StringIO()
    argv, cwd = sys.argv, os.getcwd()
    code = 0
    try:
        sys.argv = [str(ABALONE / script), *args]
        os.chdir(tmp_path)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                runpy.run_path(str(ABALONE / script), run_name="__main__")
            except SystemExit as exit_:
                if exit_.code is None or isinstance(exit_.code, int):
                    code = exit_.code or 0
                else:
                    print(exit_.code, file=sys.stderr)
                    code = 1
            except Exception:  # as the interpreter reports an uncaught exception
                traceback.print_exc()
                code = 1
    finally:
        sys.argv = argv
        os.chdir(cwd)
    return subprocess.CompletedProcess(sys.argv, code, out.getvalue(), err.getvalue())


def run_interpreter(tmp_path: Path, script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ABALONE / script), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("script, args", [("package.py", []), ("evaluate.py", ["--no-such-flag"])])
def test_the_interpreter_answers_as_run_script_says(script, args, tmp_path):
    real, emulated = run_interpreter(tmp_path, script, *args), run_script(tmp_path, script, *args)
    assert (real.returncode, real.stdout, real.stderr) == (
        emulated.returncode,
        emulated.stdout,
        emulated.stderr,
    )


def assert_one_error_line(run: subprocess.CompletedProcess, code: int) -> str:
    assert run.returncode == code, (run.returncode, run.stderr[-2000:])
    assert "Traceback" not in run.stderr
    assert run.stdout == ""
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), run.stderr[-2000:]
    return lines[0]


@pytest.mark.parametrize("case", MISSING_INPUTS)
def test_a_missing_input_is_one_line_that_says_how_to_get_it(case, tmp_path):
    (script, *args), inputs, missing = MISSING_INPUTS[case]
    layout(tmp_path, *inputs)
    line = assert_one_error_line(run_script(tmp_path, script, *args), 1)
    assert missing in line
    # Then how to fix it, in parentheses: the flag that names the input.
    fix = line.split(missing, 1)[1]
    assert "(" in fix and line.endswith(")") and " --" in fix, line


@pytest.mark.skipif(Path("/opt/ml/processing").exists(), reason="runs inside a processing container")
@pytest.mark.parametrize(
    "script, flag",
    [("preprocess.py", "--input-dir"), ("package.py", "--model-dir"), ("evaluate.py", "--model-dir")],
)
def test_without_flags_off_sagemaker_the_container_path_is_named_with_the_flag_to_use(script, flag, tmp_path):
    line = assert_one_error_line(run_script(tmp_path, script), 1)
    assert "/opt/ml/processing/" in line and flag in line


@pytest.mark.parametrize(
    "script, args",
    [
        ("preprocess.py", ["--seed", "forty-two"]),
        ("preprocess.py", ["--input"]),
        ("package.py", ["--program", "../inference.py"]),
        ("evaluate.py", ["--program", "code/inference.py"]),
        ("evaluate.py", ["--no-such-flag"]),
    ],
)
def test_a_bad_flag_is_one_line_and_exit_code_2(script, args, tmp_path):
    line = assert_one_error_line(run_script(tmp_path, script, *args), 2)
    assert f"see {script} --help" in line
