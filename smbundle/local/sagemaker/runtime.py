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
over 4 MB are rejected. An **instance** variant has no cold start; it serves with as many model workers as its
instances run (``CurrentInstanceCount`` times the instance type's vCPUs, the model server's default worker count, or
the container's ``SAGEMAKER_MODEL_SERVER_WORKERS``): concurrent requests beyond them queue, so a scaled-out
variant serves more at once.

Every request the model answers counts in the endpoint's CloudWatch metrics (``cloudwatch/endpoint_metrics``).
While a blue/green deployment runs (``deployments``), each request goes to the old or the new config's fleet with
the deployment step's share, and is answered by that fleet's model.

An endpoint config with a ``DataCaptureConfig`` captures its invocations (``capture``): sampled, buffered and
written to ``DestinationS3Uri`` as the model's execution role.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import zlib
from dataclasses import dataclass, field

from moto.sagemaker.models import sagemaker_backends
from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

from smbundle.local.cloudwatch import endpoint_metrics
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
    workers_per_instance: int = 2
    busy: threading.Condition = field(default_factory=threading.Condition)
    working: int = 0
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

    def work(self, instances: int):
        """A model worker of this fleet (``instances`` instances): waits while all are busy. A serverless
        endpoint's copies are its admitted requests (MaxConcurrency bounds them): no wait."""
        if self.serverless is not None:
            return contextlib.nullcontext()
        return _Worker(self, max(int(instances), 1) * self.workers_per_instance)

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


class _Worker:
    def __init__(self, runtime: EndpointRuntime, limit: int):
        self.runtime, self.limit = runtime, limit

    def __enter__(self):
        with self.runtime.busy:
            while self.runtime.working >= self.limit:
                self.runtime.busy.wait()
            self.runtime.working += 1

    def __exit__(self, *exc):
        with self.runtime.busy:
            self.runtime.working -= 1
            self.runtime.busy.notify()


def workers_per_instance(instance_type: str | None, environment: dict) -> int:
    """The model server's workers on one instance: SAGEMAKER_MODEL_SERVER_WORKERS, else one per vCPU of the
    instance type (large 2, xlarge 4, Nxlarge 4N, medium 1)."""
    configured = str(environment.get("SAGEMAKER_MODEL_SERVER_WORKERS") or "")
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    size = (instance_type or "ml.m5.large").rsplit(".", 1)[-1]
    if size == "medium":
        return 1
    if size == "large":
        return 2
    if size.endswith("xlarge"):
        multiple = size[: -len("xlarge")]
        return 4 * (int(multiple) if multiple.isdigit() else 1)
    return 2


def _model_error(message: str, status: int = 400) -> InvocationError:
    kind = "client" if status < 500 else "server"
    return InvocationError(
        424,
        "ModelError",
        f'Received {kind} error ({status}) from primary with message "{message}"',
        {"OriginalStatusCode": status, "OriginalMessage": message},
    )


_runtimes: dict[tuple[str, str, str, str], EndpointRuntime] = {}
_runtimes_lock = threading.Lock()


def _load_runtime(
    account_id: str, region: str, endpoint_name: str, config_name: str | None = None
) -> EndpointRuntime:
    backend = sagemaker_backends[account_id][region]
    endpoint = backend.endpoints.get(endpoint_name)
    if endpoint is None:
        raise InvocationError(
            400, "ValidationError", f"Endpoint {endpoint_name} of account {account_id} not found."
        )
    config_name = config_name or endpoint.endpoint_config_name
    key = (account_id, region, endpoint_name, config_name)
    cached = _runtimes.get(key)
    if cached is not None:
        return cached
    with _runtimes_lock:
        cached = _runtimes.get(key)
        if cached is not None:
            return cached
        config = backend.endpoint_configs[config_name]
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
            config_name=config_name,
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
            workers_per_instance=workers_per_instance(variant.get("InstanceType"), environment),
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


def _current_instances(account_id: str, region: str, endpoint_name: str) -> int:
    endpoint = sagemaker_backends[account_id][region].endpoints.get(endpoint_name)
    variants = getattr(endpoint, "production_variants", None) or [{}]
    return int(variants[0].get("CurrentInstanceCount") or 1)


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
    from smbundle.local.sagemaker import deployments

    started = time.perf_counter()
    config_name, instances = deployments.route(account_id, region, endpoint_name)
    runtime = _load_runtime(account_id, region, endpoint_name, config_name)
    if instances is None:
        instances = _current_instances(account_id, region, endpoint_name)
    if runtime.serverless is not None and len(body) > MAX_SERVERLESS_PAYLOAD:
        raise InvocationError(
            400, "ValidationError", "Request payload exceeds the 4 MB limit of serverless endpoints"
        )
    cold_starts = ColdStartModel.from_environment()
    cold = runtime.admit(cold_starts.idle_seconds)
    setup = model_seconds = 0.0
    status = None
    try:
        if cold:
            setup = cold_starts.seconds(runtime.model_bytes)
            with runtime.lock:
                runtime.cold_start_seconds += setup
            time.sleep(setup)
        with runtime.work(instances):
            answering = time.perf_counter()
            try:
                answer = runtime.answer(body, content_type, accept)
            except InvocationError as error:
                status = int(error.extra.get("OriginalStatusCode") or 500)
                raise
            finally:
                model_seconds = time.perf_counter() - answering
    finally:
        runtime.release()
        if model_seconds:
            endpoint_metrics.record(
                account_id,
                region,
                endpoint_name,
                runtime.log[3] if runtime.log else "AllTraffic",
                instances=instances,
                model_seconds=model_seconds,
                overhead_seconds=max(time.perf_counter() - started - model_seconds - setup, 0.0),
                status=status,
                setup_seconds=setup if runtime.serverless is not None else None,
            )
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
    endpoint_metrics.reset()


def apply() -> None:
    SageMakerRuntimeResponse.invoke_endpoint = invoke_endpoint
