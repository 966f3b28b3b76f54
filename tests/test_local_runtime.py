"""The embedded serverless runtime: real predictions, MaxConcurrency throttling, cold starts, errors."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from smbundle.local import server
from smbundle.local.sagemaker import cold_starts, runtime
from tests._local_helpers import deploy_endpoint

ROW = "1.0,0,0,0,0,0,0,0,0,1\n"


@pytest.fixture(scope="module")
def embedded():
    with server.start() as aws:
        yield aws


def client(aws, retries=1):
    return boto3.session.Session(region_name="us-east-1").client(
        "sagemaker-runtime",
        endpoint_url=aws.url,
        config=Config(retries={"mode": "standard", "total_max_attempts": retries}),
    )


def invoke(aws, name, body=ROW):
    return (
        client(aws)
        .invoke_endpoint(EndpointName=name, ContentType="text/csv", Body=body)["Body"]
        .read()
        .decode()
    )


def test_serves_the_model_from_the_package_artifact(embedded, monkeypatch):
    monkeypatch.setenv("SMBUNDLE_COLD_START_SECONDS", "0")
    deploy_endpoint("predict", {"MemorySizeInMB": 2048, "MaxConcurrency": 5}, endpoint_url=embedded.url)
    answers = invoke(embedded, "predict", ROW + "-1.0,0,0,0,0,0,0,0,0,1\n").split()
    high, low = map(float, answers)
    assert high > 11 and low < 9  # the model learned y = 10 + 2 x0


def test_bad_payloads_and_unknown_endpoints(embedded, monkeypatch):
    monkeypatch.setenv("SMBUNDLE_COLD_START_SECONDS", "0")
    deploy_endpoint("errors", {"MemorySizeInMB": 2048, "MaxConcurrency": 5}, endpoint_url=embedded.url)
    with pytest.raises(ClientError) as error:
        invoke(embedded, "errors", "1,2,3\n")
    assert error.value.response["Error"]["Code"] == "ModelError"
    assert "expected: 10, got [3]" in error.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as error:
        invoke(embedded, "errors", "a,b\n")
    assert error.value.response["Error"]["Code"] == "ModelError"
    with pytest.raises(ClientError) as error:
        invoke(embedded, "no-such-endpoint")
    assert error.value.response["Error"]["Code"] == "ValidationError"
    with pytest.raises(ClientError) as error:
        invoke(embedded, "errors", ROW * 300_000)
    assert "4 MB" in error.value.response["Error"]["Message"]


def test_serverless_throttles_beyond_max_concurrency(embedded, monkeypatch):
    monkeypatch.setenv("SMBUNDLE_COLD_START_SECONDS", "1.0")  # keeps the admitted requests in flight
    deploy_endpoint("throttled", {"MemorySizeInMB": 2048, "MaxConcurrency": 2}, endpoint_url=embedded.url)
    clients = [client(embedded) for _ in range(6)]
    barrier = threading.Barrier(6)

    def call(index):
        barrier.wait()
        try:
            clients[index].invoke_endpoint(EndpointName="throttled", ContentType="text/csv", Body=ROW)
            return "ok"
        except ClientError as exc:
            return exc.response["Error"]["Code"]

    with ThreadPoolExecutor(6) as pool:
        outcomes = list(pool.map(call, range(6)))
    assert outcomes.count("ok") == 2
    assert outcomes.count("ThrottlingException") == 4
    state = runtime.runtime_for("123456789012", "us-east-1", "throttled")
    assert state.throttles == 4 and state.cold_starts == 2


def test_boto3_sees_a_retryable_throttle(embedded, monkeypatch):
    monkeypatch.setenv("SMBUNDLE_COLD_START_SECONDS", "0")
    # boto3 retries without its backoff sleeps (up to 1 s and 2 s): what is tested is the embedded AWS's answer
    monkeypatch.setattr("botocore.retries.standard.ExponentialBackoff.delay_amount", lambda self, context: 0)
    deploy_endpoint("retryable", {"MemorySizeInMB": 1024, "MaxConcurrency": 1}, endpoint_url=embedded.url)
    state = runtime.runtime_for("123456789012", "us-east-1", "retryable")
    state.in_flight = 1  # the only slot is taken
    try:
        with pytest.raises(ClientError) as error:
            client(embedded, retries=3).invoke_endpoint(
                EndpointName="retryable", ContentType="text/csv", Body=ROW
            )
        assert error.value.response["Error"]["Code"] == "ThrottlingException"
        assert error.value.response["ResponseMetadata"]["RetryAttempts"] == 2  # standard mode retried it
    finally:
        state.in_flight = 0


def test_cold_start_after_idle_and_warm_otherwise(embedded, monkeypatch):
    monkeypatch.setenv("SMBUNDLE_COLD_START_SECONDS", "0")
    deploy_endpoint("cold", {"MemorySizeInMB": 2048, "MaxConcurrency": 5}, endpoint_url=embedded.url)
    state = runtime.runtime_for("123456789012", "us-east-1", "cold")
    invoke(embedded, "cold")
    invoke(embedded, "cold")
    assert state.cold_starts == 1
    monkeypatch.setenv("SMBUNDLE_IDLE_SECONDS", "0")
    invoke(embedded, "cold")
    assert state.cold_starts == 2


def test_provisioned_concurrency_keeps_copies_warm(embedded, monkeypatch):
    monkeypatch.setenv("SMBUNDLE_COLD_START_SECONDS", "0")
    serverless = {"MemorySizeInMB": 2048, "MaxConcurrency": 5, "ProvisionedConcurrency": 1}
    deploy_endpoint("provisioned", serverless, endpoint_url=embedded.url)
    invoke(embedded, "provisioned")
    assert runtime.runtime_for("123456789012", "us-east-1", "provisioned").cold_starts == 0


def test_instance_endpoint_has_no_concurrency_limit(embedded, monkeypatch):
    monkeypatch.setenv("SMBUNDLE_COLD_START_SECONDS", "5")
    deploy_endpoint("instance", None, endpoint_url=embedded.url)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: invoke(embedded, "instance"), range(16)))
    assert len(answers) == 16
    state = runtime.runtime_for("123456789012", "us-east-1", "instance")
    assert state.throttles == 0 and state.cold_starts == 0


def test_cold_start_is_container_start_plus_model_download(embedded, monkeypatch):
    """Without a fixed override, a cold start costs the container start plus the artifact's download at the
    documented rate; the simulated seconds are kept with the runtime (and labelled local where reported)."""
    monkeypatch.delenv("SMBUNDLE_COLD_START_SECONDS", raising=False)
    monkeypatch.setenv("SMBUNDLE_COLD_START_BASE_SECONDS", "0.05")
    monkeypatch.setenv("SMBUNDLE_COLD_START_DOWNLOAD_MB_PER_SECOND", "2")
    deploy_endpoint("modelled", {"MemorySizeInMB": 2048, "MaxConcurrency": 5}, endpoint_url=embedded.url)
    invoke(embedded, "modelled")
    invoke(embedded, "modelled")  # warm
    size = embedded.client("s3").head_object(Bucket="models", Key="modelled/model.tar.gz")["ContentLength"]
    state = runtime.runtime_for("123456789012", "us-east-1", "modelled")
    assert state.model_bytes == size
    assert state.cold_starts == 1
    assert state.cold_start_seconds == pytest.approx(0.05 + size / 2_000_000)


def test_cold_start_defaults_come_from_the_documented_model():
    model = cold_starts.ColdStartModel.from_environment({})
    assert model.seconds(100_000) == pytest.approx(1.0 + 0.002)  # 1 s container start, 100 KB at 50 MB/s
    assert model.idle_seconds == 300
    assert (
        cold_starts.ColdStartModel.from_environment({"SMBUNDLE_COLD_START_SECONDS": "3"}).seconds(10**9) == 3
    )
    with pytest.raises(cold_starts.BadSetting, match="SMBUNDLE_COLD_START_BASE_SECONDS='-1'"):
        cold_starts.check({"SMBUNDLE_COLD_START_BASE_SECONDS": "-1"})
    with pytest.raises(cold_starts.BadSetting, match="not a number"):
        cold_starts.check({"SMBUNDLE_IDLE_SECONDS": "soon"})
