"""The two seeds agree: what the deploy seed's staging test sends is what the build seed's model answers, and the
MSE its replay measures is the MSE the build registered."""

from __future__ import annotations

import importlib.util
import io
import json
import tarfile
from pathlib import Path

import pytest

from tests._local_helpers import REPO, abalone_artifact, load_seed_module

SAMPLE = REPO / "seed_code" / "deploy" / "test" / "sample-payload.csv"


class ServedModel:
    """The packaged model as the serving container runs it: extracted, code/inference.py imported, model_fn."""

    def __init__(self, archive: bytes, directory: Path):
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(directory, filter="data")
        spec = importlib.util.spec_from_file_location("served_inference", directory / "code" / "inference.py")
        self.script = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(self.script)
        self.model = self.script.model_fn(str(directory))

    def invoke(self, payload: str) -> bytes:
        data = self.script.input_fn(payload, "text/csv")
        return self.script.output_fn(self.script.predict_fn(data, self.model), "text/csv").encode()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("contract")
    archive, out = abalone_artifact(tmp / "build")
    (tmp / "packaged").mkdir()
    (tmp / "packaged" / "model.tar.gz").write_bytes(archive)
    return archive, out, tmp


@pytest.fixture(scope="module")
def staging_test():
    return load_seed_module("deploy/test/test.py", "staging_test_contract")


def test_every_sample_record_gets_a_plausible_number_of_rings(built, staging_test, tmp_path):
    archive, _, _ = built
    served = ServedModel(archive, tmp_path / "model")
    rows = staging_test.read_rows(SAMPLE.read_text())
    assert len(rows) >= 20
    low, high = staging_test.PLAUSIBLE_RANGE
    for row in rows:
        (value,) = staging_test.parse_predictions(served.invoke(staging_test.to_payload([row])))
        assert low <= value <= high and 2 < value < 25, row


def test_the_replay_measures_exactly_the_registered_mse(built, staging_test, tmp_path):
    """evaluate.py's MSE (registered) and test.py's replay of the same held-out records through the same model."""
    archive, out, tmp = built
    evaluate = load_seed_module("build/pipelines/abalone/evaluate.py", "evaluate_contract")
    evaluate.main(
        ["--model-dir", str(tmp / "packaged"), "--test-dir", str(out / "test"), "--output-dir", str(tmp_path)]
    )
    registered = json.loads((tmp_path / "evaluation.json").read_text())["regression_metrics"]["mse"]["value"]
    assert registered < 6.0  # the build's default gate
    rows = staging_test.read_rows((out / "test" / "test.csv").read_text())
    replay = staging_test.replay_phase(
        ServedModel(archive, tmp_path / "model"), rows, registered, tolerance=1e-9
    )
    assert replay["status"] == "passed"
    assert replay["measured_mse"] == pytest.approx(registered, rel=1e-12)
    assert replay["rows"] == len(rows) == 225
