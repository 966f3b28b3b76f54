"""The embedded runtime runs a model's serving container as SageMaker does: script mode from the container's
environment (model_fn / input_fn / predict_fn / output_fn from code/ in model.tar.gz), errors as ModelError."""

from __future__ import annotations

import io
import json
import tarfile
import textwrap

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from smbundle.local import server
from smbundle.local.sagemaker import runtime
from tests._local_helpers import SCRIPT_MODE, abalone_artifact, deploy_endpoint, model_artifact, tar_gz

RECORD = "M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15"

# A serving script unrelated to abalone: the runtime must not know our model.
DOUBLER = textwrap.dedent(
    """
    import json, os
    LOADS = []

    def model_fn(model_dir):
        LOADS.append(model_dir)
        with open(os.path.join(model_dir, "factor.txt")) as handle:
            return float(handle.read())

    def input_fn(request_body, request_content_type):
        assert isinstance(request_body, str), "a JSON body reaches input_fn decoded"
        if request_content_type != "application/json":
            raise ValueError(f"send application/json, not {request_content_type}")
        return json.loads(request_body)["x"]

    def predict_fn(data, model):
        return [model * v for v in data]

    def output_fn(prediction, accept):
        return json.dumps({"y": prediction, "accept": accept, "loads": len(LOADS)}), "application/x-doubled"
    """
)


@pytest.fixture(scope="module")
def embedded():
    with server.start() as aws:
        yield aws


@pytest.fixture(autouse=True)
def no_cold_start(monkeypatch):
    monkeypatch.setenv("SMBUNDLE_COLD_START_SECONDS", "0")


def client(aws):
    return boto3.session.Session(region_name="us-east-1").client(
        "sagemaker-runtime",
        endpoint_url=aws.url,
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )


def invoke(aws, name, body, content_type="text/csv", **extra):
    response = client(aws).invoke_endpoint(EndpointName=name, ContentType=content_type, Body=body, **extra)
    return response["Body"].read().decode(), response["ContentType"]


def model_error(aws, name, body, content_type="text/csv") -> dict:
    with pytest.raises(ClientError) as error:
        invoke(aws, name, body, content_type)
    response = error.value.response
    assert response["Error"]["Code"] == "ModelError"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 424
    return response


def script_artifact(script: str, **files: str) -> bytes:
    return tar_gz({"code/inference.py": script.encode(), **{k: v.encode() for k, v in files.items()}})


def test_script_mode_follows_the_serving_contract(embedded):
    deploy_endpoint(
        "doubler",
        {"MemorySizeInMB": 1024, "MaxConcurrency": 5},
        endpoint_url=embedded.url,
        artifact=script_artifact(DOUBLER, **{"factor.txt": "2"}),
        environment=dict(SCRIPT_MODE, SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT="text/plain"),
    )
    body, content_type = invoke(embedded, "doubler", '{"x": [1, 2.5]}', "application/json", Accept="a/b")
    assert json.loads(body) == {"y": [2.0, 5.0], "accept": "a/b", "loads": 1}
    assert content_type == "application/x-doubled"  # output_fn's (body, content type) tuple
    body, _ = invoke(embedded, "doubler", '{"x": [3]}', "application/json")
    assert json.loads(body) == {
        "y": [6.0],
        "accept": "text/plain",
        "loads": 1,
    }  # no Accept: the default; one load


def test_the_toolkit_default_accept_is_json(embedded):
    environment = {k: v for k, v in SCRIPT_MODE.items() if k != "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT"}
    deploy_endpoint(
        "default-accept",
        None,
        endpoint_url=embedded.url,
        artifact=script_artifact(DOUBLER, **{"factor.txt": "1"}),
        environment=environment,
    )
    body, _ = invoke(embedded, "default-accept", '{"x": [1]}', "application/json")
    assert json.loads(body)["accept"] == "application/json"


def test_a_script_error_is_a_model_error_and_the_endpoint_keeps_serving(embedded):
    deploy_endpoint(
        "script-error",
        {"MemorySizeInMB": 1024, "MaxConcurrency": 5},
        endpoint_url=embedded.url,
        artifact=script_artifact(DOUBLER, **{"factor.txt": "3"}),
        environment=SCRIPT_MODE,
    )
    response = model_error(embedded, "script-error", "1,2\n", "text/csv")
    assert response["Error"]["Message"] == (
        'Received server error (500) from primary with message "ValueError: send application/json, not text/csv"'
    )
    assert response["OriginalStatusCode"] == 500
    body, _ = invoke(embedded, "script-error", '{"x": [1]}', "application/json")
    assert json.loads(body)["y"] == [3.0]


def test_a_script_with_only_model_fn_gets_the_xgboost_defaults(embedded):
    script = textwrap.dedent(
        """
        import os, xgboost

        def model_fn(model_dir):
            booster = xgboost.Booster()
            booster.load_model(os.path.join(model_dir, "xgboost-model"))
            return booster
        """
    )
    artifact = tar_gz({"code/inference.py": script.encode(), **_members(model_artifact())})
    deploy_endpoint("defaults", None, endpoint_url=embedded.url, artifact=artifact, environment=SCRIPT_MODE)
    body, _ = invoke(embedded, "defaults", "1.0,0,0,0,0,0,0,0,0,1\n-1.0,0,0,0,0,0,0,0,0,1\n")
    high, low = map(float, body.split())
    assert high > 11 and low < 9


def _members(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


@pytest.mark.parametrize(
    ("name", "artifact", "environment", "message"),
    [
        (
            "no-model-fn",
            {"code/inference.py": "X = 1\n"},
            SCRIPT_MODE,
            "model_fn failed: NotImplementedError",
        ),
        (
            "syntax",
            {"code/inference.py": "def model_fn(:\n"},
            SCRIPT_MODE,
            "importing inference.py failed: SyntaxError",
        ),
        (
            "no-script",
            {"xgboost-model": ""},
            SCRIPT_MODE,
            "SAGEMAKER_PROGRAM inference.py is not in the submit directory",
        ),
        (
            "outside",
            {"code/inference.py": DOUBLER},
            dict(SCRIPT_MODE, SAGEMAKER_SUBMIT_DIRECTORY="/opt/ml/code"),
            "SAGEMAKER_SUBMIT_DIRECTORY '/opt/ml/code' is neither under /opt/ml/model",
        ),
        (
            "both",
            {
                "code/inference.py": DOUBLER
                + "\ndef transform_fn(model, data, content_type, accept):\n    return data\n"
            },
            SCRIPT_MODE,
            "cannot use transform_fn together with input_fn",
        ),
    ],
)
def test_a_container_that_cannot_serve_answers_every_request_with_the_reason(
    embedded, name, artifact, environment, message
):
    members = {k: v.encode() for k, v in artifact.items()}
    deploy_endpoint(name, None, endpoint_url=embedded.url, artifact=tar_gz(members), environment=environment)
    for _ in range(2):
        assert message in model_error(embedded, name, "1\n")["Error"]["Message"]


@pytest.mark.parametrize(
    ("name", "artifact", "message"),
    [
        ("not-a-tar", b"plain bytes", "is not a tar.gz archive"),
        (
            "bad-booster",
            tar_gz({"xgboost-model": b"not a model"}),
            "cannot load xgboost-model of s3://models/",
        ),
        ("escaping", tar_gz({"../x": b"1"}), "refusing archive member '../x'"),
    ],
    # Stable ids across xdist workers (the archives hold timestamps).
    ids=["not-a-tar", "bad-booster", "escaping"],
)
def test_model_data_the_container_cannot_load_is_a_model_error(embedded, name, artifact, message):
    deploy_endpoint(name, None, endpoint_url=embedded.url, artifact=artifact)
    assert message in model_error(embedded, name, "1,2\n")["Error"]["Message"]


def test_the_script_can_come_from_an_s3_source_archive(embedded):
    s3 = boto3.session.Session(region_name="us-east-1").client("s3", endpoint_url=embedded.url)
    s3.create_bucket(Bucket="code")
    s3.put_object(Bucket="code", Key="sourcedir.tar.gz", Body=tar_gz({"inference.py": DOUBLER.encode()}))
    deploy_endpoint(
        "s3-code",
        None,
        endpoint_url=embedded.url,
        artifact=tar_gz({"factor.txt": b"4"}),
        environment=dict(SCRIPT_MODE, SAGEMAKER_SUBMIT_DIRECTORY="s3://code/sourcedir.tar.gz"),
    )
    body, _ = invoke(embedded, "s3-code", '{"x": [1]}', "application/json")
    assert json.loads(body)["y"] == [4.0]


@pytest.fixture(scope="module")
def abalone(embedded, tmp_path_factory):
    """The build seed's packaged model (preprocess, train, package), deployed serverless as the pipeline
    registers it."""
    artifact, _ = abalone_artifact(tmp_path_factory.mktemp("abalone"))
    deploy_endpoint(
        "abalone",
        {"MemorySizeInMB": 2048, "MaxConcurrency": 20},
        endpoint_url=embedded.url,
        artifact=artifact,
        environment=SCRIPT_MODE,
    )
    return "abalone"


def test_a_raw_abalone_record_gets_a_number_of_rings(embedded, abalone):
    body, content_type = invoke(embedded, abalone, RECORD)
    assert content_type == "text/csv"
    assert 3 < float(body) < 25
    batch, _ = invoke(embedded, abalone, f"{RECORD}\nI,0.33,0.255,0.08,0.205,0.0895,0.0395,0.055\n")
    assert len(batch.split()) == 2 and batch.split()[0] == body.strip()
    state = runtime.runtime_for("123456789012", "us-east-1", abalone)
    assert state.container.mode == "script"


def test_a_missing_value_is_answered_with_the_training_imputation(embedded, abalone):
    body, _ = invoke(
        embedded,
        abalone,
        "M,0.455,,0.095,0.514,0.2245,0.101,0.15\n,0.455,0.365,0.095,0.514,0.2245,0.101,0.15",
    )
    assert all(3 < float(v) < 25 for v in body.split())


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "X,0.455,0.365,0.095,0.514,0.2245,0.101,0.15",
            "line 1, column sex: 'X' is not a code the model knows (F, I, M)",
        ),
        (
            f"{RECORD}\nM,0.455,big,0.095,0.514,0.2245,0.101,0.15",
            "line 2, column diameter: 'big' is not a number",
        ),
        (f"{RECORD},15", "line 1: 9 values, expected 8"),
    ],
)
def test_a_record_the_model_cannot_answer_is_a_model_error_naming_it(embedded, abalone, body, message):
    response = model_error(embedded, abalone, body)
    assert message in response["Error"]["Message"]
    assert response["Error"]["Message"].startswith(
        'Received server error (500) from primary with message "RecordError'
    )
    assert 3 < float(invoke(embedded, abalone, RECORD)[0]) < 25  # and the endpoint still serves
