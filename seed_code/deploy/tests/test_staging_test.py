"""test/test.py against scripted endpoint answers: successes, bad answers, errors and throttles."""

from __future__ import annotations

import importlib.util
import io
import json
import threading
from pathlib import Path

import pytest
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


def test_functional_phase_really_invokes_every_sample_row(endpoint):
    runtime = endpoint(answer_per_row())
    code, results = run(endpoint)
    rows = (REPO / "test" / "sample-payload.csv").read_text().strip().splitlines()
    assert code == 0
    assert runtime.calls == len(rows) == results["invocations"]
    assert [p.strip() for p in runtime.payloads] == rows
    assert results["passed"] is True
    assert results["endpoint_name"] == "demo-staging"
    assert results["memory_size_mb"] == 2048 and results["max_concurrency"] == 20
    assert set(results["latency_ms"]) >= {"p50", "p95", "p99", "max"}
    assert results["first_request_ms"] is not None
    assert results["replay"]["skipped"]


def test_implausible_answer_fails_the_test(endpoint):
    endpoint(lambda call, body: "nan" if call == 3 else "9.0")
    code, results = run(endpoint)
    assert code == 1
    assert results["passed"] is False
    assert "row 2: prediction nan outside the plausible range" in results["functional"]["failures"][0]


def test_errors_fail_the_test_unless_allowed(endpoint):
    endpoint(lambda call, body: "ModelError" + "Exception" if call == 2 else "9.0")
    code, results = run(endpoint)
    assert (code, results["errors"]) == (1, 1)
    assert results["checks"]["error_rate"] is False


def test_throttles_are_counted_and_retried(endpoint):
    endpoint(lambda call, body: "ThrottlingException" if call in (1, 2, 5) else "10.0")
    code, results = run(endpoint, "--max-throttle-retries", "3")
    assert code == 0
    assert results["throttles"] == 3
    assert results["errors"] == 0


def test_throttles_beyond_the_retry_bound_are_errors(endpoint):
    endpoint(lambda call, body: "ThrottlingException")
    code, results = run(endpoint, "--max-throttle-retries", "1")
    assert code == 1
    assert results["errors"] == results["invocations"] > 0
    assert results["throttles"] == 2 * results["invocations"]


def test_load_phase_is_paced_and_bounded(endpoint):
    runtime = endpoint(answer_per_row())
    code, results = run(endpoint, "--rate-per-minute", "6000", "--duration-s", "1", "--concurrency", "4")
    assert code == 0
    assert results["load"]["requests"] == 100
    assert results["load"]["succeeded"] == 100
    assert runtime.calls == 100 + results["functional"]["rows"]
    assert 0 < results["throughput_per_min"] <= 6000 * 1.05


def test_p99_threshold(endpoint):
    endpoint(answer_per_row())
    code, results = run(endpoint, "--max-p99-ms", "0")
    assert code == 1 and results["checks"]["p99"] is False


def test_replay_of_the_registered_test_split(endpoint):
    package = {
        "CustomerMetadataProperties": {"TestDataS3Uri": "s3://b/test/test.csv"},
        "ModelMetrics": {"ModelQuality": {"Statistics": {"S3Uri": "s3://b/evaluation.json"}}},
    }
    rows = b"10,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0,1,0\n8,0.1,0.2,0.3,0.4,0.5,0.6,0.7,1,0,0\n"
    objects = {
        "s3://b/test/test.csv": rows,
        "s3://b/evaluation.json": json.dumps({"regression_metrics": {"mse": {"value": 1.0}}}).encode(),
    }
    endpoint(answer_per_row("9.0"), package, objects)  # errors of 1 and 1: MSE 1.0
    code, results = run(endpoint)
    assert code == 0
    assert results["replay"]["measured_mse"] == pytest.approx(1.0)
    assert results["replay"]["passed"] is True
    endpoint(answer_per_row("12.0"), package, objects)  # errors 2 and 4: MSE 10.0
    code, results = run(endpoint)
    assert code == 1
    assert results["checks"]["replay"] is False


def test_endpoint_not_in_service_is_a_clear_error(endpoint, capsys):
    endpoint(answer_per_row(), status="Failed")
    code, results = run(endpoint)
    assert code == 1 and results is None
    assert capsys.readouterr().err.strip() == "error: endpoint demo-staging is Failed: no FailureReason given"
