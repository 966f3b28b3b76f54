"""Data capture of the embedded runtime: what SageMaker writes for an endpoint config's DataCaptureConfig.

Plain moto captures nothing: every test here finds no object under the destination against it.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError

from smbundle.local import server
from smbundle.local.sagemaker import capture
from tests._local_helpers import deploy_endpoint

ROW = "1.0,0,0,0,0,0,0,0,0,1\n"
BUCKET = "sagemaker-capture-test"  # a name the execution role (AmazonSageMakerFullAccess) may write to
KEY = re.compile(
    r"^datacapture/(?P<endpoint>[^/]+)/AllTraffic/(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/(?P<h>\d{2})/"
    r"\d{2}-\d{2}-\d{3}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.jsonl$"
)


@pytest.fixture(scope="module")
def embedded():
    with server.start() as aws:
        aws.client("s3").create_bucket(Bucket=BUCKET)
        yield aws


def config(percentage=100, modes=("Input", "Output"), csv=True, enabled=True, bucket=BUCKET):
    data = {
        "EnableCapture": enabled,
        "InitialSamplingPercentage": percentage,
        "DestinationS3Uri": f"s3://{bucket}/datacapture",
        "CaptureOptions": [{"CaptureMode": m} for m in modes],
    }
    if csv:
        data["CaptureContentTypeHeader"] = {"CsvContentTypes": ["text/csv"]}
    return data


def invoke(aws, name, body=ROW, **extra):
    runtime = boto3.session.Session(region_name="us-east-1").client("sagemaker-runtime", endpoint_url=aws.url)
    return runtime.invoke_endpoint(EndpointName=name, ContentType="text/csv", Body=body, **extra)[
        "Body"
    ].read()


def captured(aws, name, bucket=BUCKET) -> dict[str, list[dict]]:
    """{key: records} of the endpoint's capture files, after delivering what is buffered."""
    capture.flush(endpoint_name=name)
    s3 = aws.client("s3")
    keys = [
        o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=f"datacapture/{name}/").get("Contents", [])
    ]
    return {
        key: [
            json.loads(line)
            for line in s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()
        ]
        for key in keys
    }


def test_records_land_as_json_lines_under_endpoint_variant_and_hour(embedded, monkeypatch):
    monkeypatch.setenv("SMBUNDLE_CAPTURE_FLUSH_SECONDS", "3600")
    deploy_endpoint("cap-layout", None, endpoint_url=embedded.url, data_capture=config())
    before = datetime.now(UTC).replace(microsecond=0)
    answers = [invoke(embedded, "cap-layout") for _ in range(2)]
    answers.append(invoke(embedded, "cap-layout", InferenceId="order-17"))
    files = captured(embedded, "cap-layout")
    assert len(files) == 1  # buffered and written in one batch, not one object per request
    ((key, records),) = files.items()
    match = KEY.match(key)
    assert match and match["endpoint"] == "cap-layout"
    assert len(records) == 3
    for record, answer in zip(records, answers, strict=True):
        assert record["eventVersion"] == "0"
        assert record["captureData"]["endpointInput"] == {
            "observedContentType": "text/csv",
            "mode": "INPUT",
            "data": ROW,
            "encoding": "CSV",
        }
        output = record["captureData"]["endpointOutput"]
        assert (output["mode"], output["encoding"], output["data"]) == ("OUTPUT", "CSV", answer.decode())
        assert output["observedContentType"] == "text/csv"
        metadata = record["eventMetadata"]
        assert re.fullmatch(r"[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}", metadata["eventId"])
        moment = datetime.strptime(metadata["inferenceTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert before <= moment <= datetime.now(UTC) + timedelta(seconds=1)
        assert f"{moment:%Y/%m/%d/%H}" == "/".join(match.group("y", "m", "d", "h"))
    assert len({r["eventMetadata"]["eventId"] for r in records}) == 3
    assert [r["eventMetadata"].get("inferenceId") for r in records] == [None, None, "order-17"]


def test_sampling_percentage_is_honoured_exactly(embedded):
    deploy_endpoint("cap-sampled", None, endpoint_url=embedded.url, data_capture=config(percentage=40))
    for _ in range(10):
        invoke(embedded, "cap-sampled")
    records = [r for rs in captured(embedded, "cap-sampled").values() for r in rs]
    assert len(records) == 4


def test_input_only_without_content_type_header_is_base64(embedded):
    deploy_endpoint(
        "cap-input", None, endpoint_url=embedded.url, data_capture=config(modes=("Input",), csv=False)
    )
    invoke(embedded, "cap-input")
    (record,) = [r for rs in captured(embedded, "cap-input").values() for r in rs]
    assert set(record["captureData"]) == {"endpointInput"}
    section = record["captureData"]["endpointInput"]
    assert section["encoding"] == "BASE64"
    assert base64.b64decode(section["data"]).decode() == ROW


def test_disabled_capture_and_failed_invocations_write_nothing(embedded):
    deploy_endpoint("cap-off", None, endpoint_url=embedded.url, data_capture=config(enabled=False))
    invoke(embedded, "cap-off")
    assert captured(embedded, "cap-off") == {}
    deploy_endpoint("cap-errors", None, endpoint_url=embedded.url, data_capture=config())
    with pytest.raises(ClientError):
        invoke(embedded, "cap-errors", body="1,2,3\n")  # the model answers ModelError
    assert captured(embedded, "cap-errors") == {}


def test_writes_as_the_models_execution_role(embedded):
    """The execution role (AmazonSageMakerFullAccess) may write to *sagemaker* buckets only: capture to another
    bucket is denied by the embedded IAM and the records are dropped, while the endpoint keeps answering."""
    embedded.client("s3").create_bucket(Bucket="capture-elsewhere")
    deploy_endpoint(
        "cap-denied", None, endpoint_url=embedded.url, data_capture=config(bucket="capture-elsewhere")
    )
    assert invoke(embedded, "cap-denied")
    assert captured(embedded, "cap-denied", bucket="capture-elsewhere") == {}
    (writer,) = capture.writers("cap-denied")
    assert writer.dropped == 1 and writer.files_written == 0
