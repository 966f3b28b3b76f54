"""A SageMaker runtime that serves real predictions, with serverless semantics.

InvokeEndpoint resolves endpoint -> endpoint config -> variant -> model -> model package -> the container: its
``ModelDataUrl`` (model.tar.gz in the embedded S3) and its ``Environment``. The container is loaded once per endpoint
config by ``serving`` (the XGBoost image's algorithm mode, or script mode when the environment names a
``SAGEMAKER_PROGRAM``: the script's model_fn / input_fn / predict_fn / output_fn) and answers each request with the
request's ContentType and Accept. An error answered by the container reaches the caller as SageMaker returns it:
``ModelError`` (HTTP 424) naming the container's status and message.

A **serverless** variant admits at most ``MaxConcurrency`` requests at once; the rest get ``ThrottlingException``
(as SageMaker answers, and as boto3's retry modes treat as a throttle). A request that finds no warm copy pays a
cold start, modelled from documented parameters (``cold_starts``: container start plus the model artifact's
download): after ``SMBUNDLE_IDLE_SECONDS`` (default 300) without requests the endpoint scales back to its
``ProvisionedConcurrency`` warm copies, and each concurrent request beyond the warm copies starts a new one. Payloads
over 4 MB are rejected. An **instance** variant has no concurrency limit and no cold start.

An endpoint config with a ``DataCaptureConfig`` captures its invocations (``capture``): sampled, buffered and
written to ``DestinationS3Uri`` as the model's execution role.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import zlib
from dataclasses import dataclass, field

from moto.sagemaker.models import sagemaker_backends
from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

from smbundle.local.s3 import objects
from smbundle.local.sagemaker import capture, serving
from smbundle.local.sagemaker.cold_starts import ColdStartModel

log = logging.getLogger(__name__)

MAX_SERVERLESS_PAYLOAD = 4 * 1024 * 1024


class InvocationError(Exception):
    def __init__(self, status: int, code: str, message: str, extra: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.extra = status, code, extra or {}

    def response(self):
        body = {"__type": self.code, "message": str(self), **self.extra}
        return (
            self.status,
            {"status": self.status, "x-amzn-ErrorType": self.code, "Content-Type": "application/json"},
            json.dumps(body),
        )


@dataclass
class EndpointRuntime:
    """What serves one endpoint's current config: the model, and the serverless capacity state."""

    config_name: str
    container: serving.Container | None
    serverless: dict | None
    load_error: serving.ServingError | None = None
    capture: capture.CaptureWriter | None = None
    model_bytes: int = 0  # the model artifact (and source archive) a new copy downloads
    log: tuple | None = None  # (account, region, endpoint, variant, the model's role) for the endpoint's logs
    lock: threading.Lock = field(default_factory=threading.Lock)
    in_flight: int = 0
    warm: int = 0
    last_active: float = 0.0
    invocations: int = 0
    throttles: int = 0
    cold_starts: int = 0
    cold_start_seconds: float = 0.0  # simulated, in total

    def admit(self, idle_seconds: float) -> bool:
        """Take a slot; returns whether this request pays a cold start. Raises when over MaxConcurrency."""
        if self.serverless is None:
            with self.lock:
                self.invocations += 1
            return False
        provisioned = int(self.serverless.get("ProvisionedConcurrency") or 0)
        with self.lock:
            now = time.monotonic()
            if self.last_active == 0.0 or now - self.last_active > idle_seconds:
                self.warm = provisioned
            self.last_active = now
            if self.in_flight >= int(self.serverless["MaxConcurrency"]):
                self.throttles += 1
                raise InvocationError(
                    400,
                    "ThrottlingException",
                    f"Rate exceeded: the endpoint's MaxConcurrency ({self.serverless['MaxConcurrency']}) is in use",
                )
            self.in_flight += 1
            self.invocations += 1
            cold = self.in_flight > self.warm
            if cold:
                self.warm += 1
                self.cold_starts += 1
            return cold

    def release(self) -> None:
        if self.serverless is None:
            return
        with self.lock:
            self.in_flight -= 1
            self.last_active = time.monotonic()

    def answer(self, body: bytes, content_type: str | None, accept: str | None) -> serving.Answer:
        try:
            if self.load_error is not None:
                raise self.load_error
            return self.container.invoke(body, content_type, accept)
        except serving.ServingError as error:
            self.write_log([f"ERROR - the request failed: {error}"])
            raise _model_error(str(error), error.status) from None

    def write_log(self, lines: list[str]) -> None:
        """The serving container's log lines in ``/aws/sagemaker/Endpoints/<endpoint>`` (stream
        ``<variant>/<instance id>``), written as the model's execution role, as SageMaker writes them; a role that
        may not is logged here, and the request is answered all the same."""
        if self.log is None:
            return
        from smbundle.local.iam import enforcement
        from smbundle.local.iam.principals import Principal
        from smbundle.local.logs import writer

        account, region, endpoint, variant, role = self.log
        moment = writer.now_ms()
        try:
            writer.write(
                Principal(role, "SageMaker") if role else None,
                region,
                account,
                f"/aws/sagemaker/Endpoints/{endpoint}",
                f"{variant}/i-{zlib.crc32(self.config_name.encode()):017x}",
                [(moment, line) for line in lines],
            )
        except enforcement.AccessDenied as denial:
            log.warning("endpoint %s cannot write its logs: %s", endpoint, denial)


def _model_error(message: str, status: int = 400) -> InvocationError:
    kind = "client" if status < 500 else "server"
    return InvocationError(
        424,
        "ModelError",
        f'Received {kind} error ({status}) from primary with message "{message}"',
        {"OriginalStatusCode": status, "OriginalMessage": message},
    )


_runtimes: dict[tuple[str, str, str], EndpointRuntime] = {}
_runtimes_lock = threading.Lock()


def _load_runtime(account_id: str, region: str, endpoint_name: str) -> EndpointRuntime:
    backend = sagemaker_backends[account_id][region]
    endpoint = backend.endpoints.get(endpoint_name)
    if endpoint is None:
        raise InvocationError(
            400, "ValidationError", f"Endpoint {endpoint_name} of account {account_id} not found."
        )
    key = (account_id, region, endpoint_name)
    cached = _runtimes.get(key)
    if cached is not None and cached.config_name == endpoint.endpoint_config_name:
        return cached
    with _runtimes_lock:
        cached = _runtimes.get(key)
        if cached is not None and cached.config_name == endpoint.endpoint_config_name:
            return cached
        config = backend.endpoint_configs[endpoint.endpoint_config_name]
        variant = config.production_variants[0]
        model_data, environment, _ = container_of(backend, variant["ModelName"])
        if not model_data:
            raise InvocationError(
                424, "ModelError", f"model {variant['ModelName']} has no model data to serve"
            )
        container, load_error, sizes = None, None, []

        def fetch(uri: str) -> bytes:
            data = objects.get_bytes(uri, account_id)
            sizes.append(len(data))
            return data

        try:
            container = serving.load(model_data, environment, fetch)
        except serving.ServingError as error:  # answered to every request, as a container that cannot serve
            log.warning("endpoint %s: the container cannot serve: %s", endpoint_name, error)
            load_error = error
        model = backend._models.get(variant["ModelName"])
        runtime = EndpointRuntime(
            config_name=endpoint.endpoint_config_name,
            container=container,
            serverless=variant.get("ServerlessConfig"),
            load_error=load_error,
            capture=_capture_writer(backend, account_id, region, endpoint_name, config, variant),
            model_bytes=sum(sizes),
            log=(
                account_id,
                region,
                endpoint_name,
                variant.get("VariantName") or "AllTraffic",
                getattr(model, "execution_role_arn", None),
            ),
        )
        runtime.write_log(
            [
                f"the model of {variant['ModelName']} is loaded ({runtime.model_bytes} bytes); serving /invocations"
            ]
            if load_error is None
            else [f"ERROR - the container cannot serve: {load_error}"]
        )
        _runtimes[key] = runtime
        return runtime


def _capture_writer(
    backend, account_id, region, endpoint_name, config, variant
) -> capture.CaptureWriter | None:
    settings = capture.CaptureSettings.of(getattr(config, "data_capture_config", None))
    if settings is None:
        return None
    model = backend._models.get(variant["ModelName"])
    return capture.writer_for(
        settings,
        account_id,
        region,
        endpoint_name,
        variant.get("VariantName") or "AllTraffic",
        config.endpoint_config_name,
        getattr(model, "execution_role_arn", None),
    )


def container_of(backend, model_name: str) -> tuple[str | None, dict, str | None]:
    """The model's container, (model data, environment, image): a model package's (with the model's own
    Environment on top), or its own."""
    model = backend._models[model_name]
    container = model.primary_container or (model.containers or [{}])[0]
    model_data, image = container.get("ModelDataUrl"), container.get("Image")
    environment = {}
    if container.get("ModelPackageName"):
        arn = backend.model_package_name_mapping.get(
            container["ModelPackageName"], container["ModelPackageName"]
        )
        package_container = backend.model_packages[arn].inference_specification["Containers"][0]
        model_data, image = package_container.get("ModelDataUrl"), package_container.get("Image")
        environment.update(package_container.get("Environment") or {})
    environment.update(container.get("Environment") or {})
    return model_data, environment, image


def runtime_for(account_id: str, region: str, endpoint_name: str) -> EndpointRuntime:
    """The runtime serving an endpoint now (for tests and the lifecycle summary)."""
    return _load_runtime(account_id, region, endpoint_name)


def invoke(
    account_id: str,
    region: str,
    endpoint_name: str,
    body: bytes,
    content_type: str | None = "text/csv",
    accept: str | None = None,
    inference_id: str | None = None,
    custom_attributes: str | None = None,
) -> serving.Answer:
    runtime = _load_runtime(account_id, region, endpoint_name)
    if runtime.serverless is not None and len(body) > MAX_SERVERLESS_PAYLOAD:
        raise InvocationError(
            400, "ValidationError", "Request payload exceeds the 4 MB limit of serverless endpoints"
        )
    cold_starts = ColdStartModel.from_environment()
    cold = runtime.admit(cold_starts.idle_seconds)
    try:
        if cold:
            seconds = cold_starts.seconds(runtime.model_bytes)
            with runtime.lock:
                runtime.cold_start_seconds += seconds
            time.sleep(seconds)
        answer = runtime.answer(body, content_type, accept)
    finally:
        runtime.release()
    if runtime.capture is not None:
        runtime.capture.record(
            body, content_type, answer.body, answer.content_type, inference_id, custom_attributes
        )
    return answer


def invoke_endpoint(self: SageMakerRuntimeResponse):
    endpoint_name = self.path.split("/")[2]
    body = self.body if isinstance(self.body, bytes) else (self.body or "").encode()
    headers = {k.lower(): v for k, v in self.headers.items()}
    try:
        answer = invoke(
            self.current_account,
            self.region,
            endpoint_name,
            body,
            headers.get("content-type"),
            headers.get("accept"),
            headers.get("x-amzn-sagemaker-inference-id"),
            headers.get("x-amzn-sagemaker-custom-attributes"),
        )
    except InvocationError as error:
        return error.response()
    return (
        200,
        {"Content-Type": answer.content_type, "x-Amzn-Invoked-Production-Variant": "AllTraffic"},
        answer.body,
    )


def reset() -> None:
    """Write buffered captures, unload every endpoint's container and remove its model directory."""
    with _runtimes_lock:
        for runtime in _runtimes.values():
            if runtime.container is not None:
                runtime.container.workdir.cleanup()
        _runtimes.clear()
    capture.reset()


def apply() -> None:
    SageMakerRuntimeResponse.invoke_endpoint = invoke_endpoint
