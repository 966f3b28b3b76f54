"""test/test.py against scripted endpoint answers: successes, bad answers, errors and throttles."""

from __future__ import annotations

import importlib.util
import io
import json
import threading
from pathlib import Path

import pytest
import yaml
from botocore.exceptions import ClientError

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("staging_test", REPO / "test" / "test.py")
staging_test = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(staging_test)

PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/demo-p-1/3"


class FakeRuntime:
    """Answers InvokeEndpoint from a script: a number per row, or an error code."""

    def __init__(self, script):
        self.script = script
        self.lock = threading.Lock()
        self.calls = 0
        self.payloads = []

    def invoke_endpoint(self, EndpointName, ContentType, Accept, Body):
        with self.lock:
            self.calls += 1
            self.payloads.append(Body)
            answer = self.script(self.calls, Body)
        if isinstance(answer, str) and answer.endswith("Exception"):
            raise ClientError({"Error": {"Code": answer, "Message": "scripted"}}, "InvokeEndpoint")
        return {"Body": io.BytesIO(answer.encode())}


class FakeSageMaker:
    def __init__(self, status="InService", package=None):
        self.status = status
        self.package = package or {}

    def describe_endpoint(self, EndpointName):
        return {
            "EndpointName": EndpointName,
            "EndpointStatus": self.status,
            "ProductionVariants": [
                {"CurrentServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 20}}
            ],
        }

    def describe_model_package(self, ModelPackageName):
        return self.package


class FakeS3:
    def __init__(self, objects):
        self.objects = objects

    def get_object(self, Bucket, Key):
        if f"s3://{Bucket}/{Key}" not in self.objects:
            raise ClientError({"Error": {"Code": "NoSuchKey", "Message": "no such key"}}, "GetObject")
        return {"Body": io.BytesIO(self.objects[f"s3://{Bucket}/{Key}"])}


@pytest.fixture
def endpoint(monkeypatch, tmp_path):
    """Install fakes; returns a function that sets the runtime script and the package."""
    state = {}

    class Session:
        region_name = "us-east-1"

        def __init__(self, *a, **kw):
            pass

        def client(self, service, **kw):
            return {
                "sagemaker": state["sagemaker"],
                "s3": state["s3"],
                "sagemaker-runtime": state["runtime"],
            }[service]

    monkeypatch.setattr(staging_test.boto3.session, "Session", Session)
    config = tmp_path / "staging-config-export.json"
    config.write_text(
        json.dumps(
            {
                "Parameters": {
                    "SageMakerProjectName": "demo",
                    "StageName": "staging",
                    "ModelPackageName": PACKAGE,
                }
            }
        )
    )

    def configure(script, package=None, objects=None, status="InService"):
        state["runtime"] = FakeRuntime(script)
        state["sagemaker"] = FakeSageMaker(status, package)
        state["s3"] = FakeS3(objects or {})
        return state["runtime"]

    configure.config = config
    configure.results = tmp_path / "results.json"
    return configure


SKIP_ALLOWED = (
    "--allow-replay-skip",
    "true",
)  # for tests of the other phases (their fake package has no split)

RAW_SPLIT = (  # held-out records as the build seed writes them: sex, 7 measurements, the label (rings) last
    b"M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15,15\nF,0.53,0.42,0.135,0.677,0.2565,0.1415,0.21,9\n"
)
PACKAGE_WITH_SPLIT = {
    "CustomerMetadataProperties": {"TestDataS3Uri": "s3://b/test/test.csv"},
    "ModelMetrics": {"ModelQuality": {"Statistics": {"S3Uri": "s3://b/evaluation.json"}}},
}


def split_objects(registered_mse: float) -> dict:
    return {
        "s3://b/test/test.csv": RAW_SPLIT,
        "s3://b/evaluation.json": json.dumps(
            {"regression_metrics": {"mse": {"value": registered_mse}}}
        ).encode(),
    }


def run(endpoint, *extra):
    code = staging_test.main(
        [
            "--import-build-config",
            str(endpoint.config),
            "--export-test-results",
            str(endpoint.results),
            *extra,
        ]
    )
    results = json.loads(endpoint.results.read_text()) if endpoint.results.exists() else None
    return code, results


def answer_per_row(value="9.5"):
    return lambda call, body: "\n".join(value for _ in body.strip().splitlines())


def test_functional_phase_sends_every_sample_record_raw(endpoint):
    runtime = endpoint(answer_per_row())
    code, results = run(endpoint, *SKIP_ALLOWED)
    rows = (REPO / "test" / "sample-payload.csv").read_text().strip().splitlines()
    assert code == 0
    assert runtime.calls == len(rows) == results["invocations"]
    assert [p.strip() for p in runtime.payloads] == rows
    assert all(len(row.split(",")) == 8 for row in rows)  # sex and 7 measurements: a record without its label
    assert rows[0].split(",")[0] in ("F", "I", "M")
    assert results["passed"] is True
    assert results["endpoint_name"] == "demo-staging"
    assert results["memory_size_mb"] == 2048 and results["max_concurrency"] == 20
    assert set(results["latency_ms"]) >= {"p50", "p95", "p99", "max"}
    assert results["first_request_ms"] is not None


def test_implausible_answer_fails_the_test(endpoint):
    endpoint(lambda call, body: "nan" if call == 3 else "9.0")
    code, results = run(endpoint, *SKIP_ALLOWED)
    assert code == 1
    assert results["passed"] is False
    assert "row 2: prediction nan outside the plausible range" in results["functional"]["failures"][0]


def test_errors_fail_the_test_unless_allowed(endpoint):
    endpoint(lambda call, body: "ModelError" + "Exception" if call == 2 else "9.0")
    code, results = run(endpoint, *SKIP_ALLOWED)
    assert (code, results["errors"]) == (1, 1)
    assert results["checks"]["error_rate"] is False


def test_throttles_are_counted_and_retried(endpoint):
    endpoint(lambda call, body: "ThrottlingException" if call in (1, 2, 5) else "10.0")
    code, results = run(endpoint, "--max-throttle-retries", "3", *SKIP_ALLOWED)
    assert code == 0
    assert results["throttles"] == 3
    assert results["errors"] == 0


def test_throttles_beyond_the_retry_bound_are_errors(endpoint):
    endpoint(lambda call, body: "ThrottlingException")
    code, results = run(endpoint, "--max-throttle-retries", "1", *SKIP_ALLOWED)
    assert code == 1
    assert results["errors"] == results["invocations"] > 0
    assert results["throttles"] == 2 * results["invocations"]


def test_load_phase_is_paced_and_bounded(endpoint):
    runtime = endpoint(answer_per_row())
    code, results = run(
        endpoint, "--rate-per-minute", "12000", "--duration-s", "0.5", "--concurrency", "4", *SKIP_ALLOWED
    )
    assert code == 0
    assert results["load"]["requests"] == 100
    assert results["load"]["succeeded"] == 100
    assert runtime.calls == 100 + results["functional"]["rows"]
    assert 0 < results["throughput_per_min"] <= 12000 * 1.05


def test_p99_threshold(endpoint):
    endpoint(answer_per_row())
    code, results = run(endpoint, "--max-p99-ms", "0", *SKIP_ALLOWED)
    assert code == 1 and results["checks"]["p99"] is False


def test_replay_sends_the_held_out_records_without_their_label(endpoint, capsys):
    runtime = endpoint(
        answer_per_row("12.0"), PACKAGE_WITH_SPLIT, split_objects(10.0)
    )  # errors 3 and 3: MSE 9
    code, results = run(endpoint, "--mse-tolerance", "0.15")
    replay_payload = runtime.payloads[-1]
    assert (
        replay_payload
        == "M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15\nF,0.53,0.42,0.135,0.677,0.2565,0.1415,0.21\n"
    )
    assert results["replay"]["status"] == "passed"
    assert results["replay"]["measured_mse"] == pytest.approx(9.0)
    assert results["replay"]["rows"] == 2
    assert code == 0
    assert "replay passed: MSE 9.0000 on 2 held-out records, registered 10.0000" in capsys.readouterr().out


def test_replay_fails_when_the_endpoint_disagrees_with_the_registered_mse(endpoint, capsys):
    endpoint(answer_per_row("12.0"), PACKAGE_WITH_SPLIT, split_objects(4.0))
    code, results = run(endpoint)
    assert code == 1
    assert results["checks"]["replay"] is False
    assert results["replay"]["status"] == "failed"
    assert (
        "the endpoint's MSE 9.0000 differs from the registered 4.0000 by 125.0%"
        in results["replay"]["reason"]
    )
    assert "FAILED" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("package", "build_config", "reason"),
    [
        ({}, {}, "records no held-out test split (CustomerMetadataProperties TestDataS3Uri)"),
        (
            {"CustomerMetadataProperties": {"TestDataS3Uri": "s3://b/test/test.csv"}},
            {},
            "has no registered metrics (ModelMetrics ModelQuality Statistics)",
        ),
        (PACKAGE_WITH_SPLIT, {"ModelPackageName": None}, "the build config names no model package"),
    ],
)
def test_a_skipped_replay_is_visible_and_fails_the_test(endpoint, capsys, package, build_config, reason):
    endpoint(answer_per_row(), package, split_objects(1.0))
    parameters = json.loads(endpoint.config.read_text())["Parameters"]
    parameters.update(build_config)
    endpoint.config.write_text(json.dumps({"Parameters": {k: v for k, v in parameters.items() if v}}))
    code, results = run(endpoint)
    assert code == 1
    assert results["replay"]["status"] == "skipped"
    assert reason in results["replay"]["reason"]
    assert results["replay"]["allowed"] is False
    assert results["checks"] == {"functional": True, "replay": False, "error_rate": True, "p99": True}
    captured = capsys.readouterr()
    (line,) = [line for line in captured.out.splitlines() if line.startswith("demo-staging: ")]
    assert "FAILED" in line and "replay skipped (not allowed): " in line and reason in line
    assert 'set ALLOW_REPLAY_SKIP: "true" in test/buildspec.yml' in captured.err


def test_a_project_can_opt_out_of_the_replay_explicitly(endpoint, capsys, monkeypatch):
    endpoint(answer_per_row())
    code, results = run(endpoint, "--allow-replay-skip", "true")
    assert code == 0
    assert results["replay"]["status"] == "skipped" and results["replay"]["allowed"] is True
    assert "PASSED" in capsys.readouterr().out
    monkeypatch.setenv("ALLOW_REPLAY_SKIP", "TRUE")  # the buildspec's variable, when not passed as a flag
    assert run(endpoint)[0] == 0
    monkeypatch.setenv("ALLOW_REPLAY_SKIP", "yes")
    with pytest.raises(SystemExit):  # neither true nor false: a usage error, not a silent default
        run(endpoint)


def test_an_unreadable_test_split_fails_the_replay(endpoint):
    endpoint(answer_per_row(), PACKAGE_WITH_SPLIT, {})  # the objects are not there
    code, results = run(endpoint)
    assert code == 1
    assert results["replay"] == {
        "status": "failed",
        "reason": "cannot read s3://b/test/test.csv: no such key",
    }


def test_the_staging_buildspec_replays_unless_the_project_opts_out():
    spec = yaml.safe_load((REPO / "test" / "buildspec.yml").read_text())
    assert spec["env"]["variables"]["ALLOW_REPLAY_SKIP"] == "false"
    command = " ".join(spec["phases"]["build"]["commands"])
    assert '--allow-replay-skip "$ALLOW_REPLAY_SKIP"' in command


def test_endpoint_not_in_service_is_a_clear_error(endpoint, capsys):
    endpoint(answer_per_row(), status="Failed")
    code, results = run(endpoint)
    assert code == 1 and results is None
    assert capsys.readouterr().err.strip() == "error: endpoint demo-staging is Failed: no FailureReason given"
