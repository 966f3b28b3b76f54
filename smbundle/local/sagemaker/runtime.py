"""A SageMaker runtime that serves real predictions, with serverless semantics.

InvokeEndpoint resolves endpoint -> endpoint config -> variant -> model -> model package -> ``model.tar.gz`` in the
embedded S3, loads ``xgboost-model`` once and answers ``text/csv`` predictions, one per input row.

A **serverless** variant admits at most ``MaxConcurrency`` requests at once; the rest get ``ThrottlingException``
(as SageMaker answers, and as boto3's retry modes treat as a throttle). A request that finds no warm copy pays a
cold start: after ``SMBUNDLE_IDLE_SECONDS`` (default 300) without requests the endpoint scales back to its
``ProvisionedConcurrency`` warm copies, and each concurrent request beyond the warm copies starts a new one,
paying ``SMBUNDLE_COLD_START_SECONDS`` (default 0.5). Payloads over 4 MB are rejected. An **instance** variant has
no concurrency limit and no cold start.
"""

from __future__ import annotations

import io
import json
import math
import os
import tarfile
import threading
import time
from dataclasses import dataclass, field

from moto.sagemaker.models import sagemaker_backends
from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

from smbundle.local.s3 import objects

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
    booster: object
    features: int
    serverless: dict | None
    lock: threading.Lock = field(default_factory=threading.Lock)
    in_flight: int = 0
    warm: int = 0
    last_active: float = 0.0
    invocations: int = 0
    throttles: int = 0
    cold_starts: int = 0

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

    def predict(self, body: bytes) -> str:
        import numpy as np

        try:
            rows = [
                [float(v) for v in line.split(",")] for line in body.decode().splitlines() if line.strip()
            ]
        except ValueError as exc:
            raise _model_error(f"Unable to parse the CSV payload: {exc}") from None
        if not rows:
            raise _model_error("Empty payload: send one CSV row per prediction")
        widths = {len(row) for row in rows}
        if widths != {self.features}:
            raise _model_error(f"Feature shape mismatch, expected: {self.features}, got {sorted(widths)}")
        predictions = self.booster.inplace_predict(np.asarray(rows, dtype=np.float32))
        return "".join(
            f"{value:.6g}\n" if math.isfinite(value) else "nan\n" for value in predictions.tolist()
        )


def _model_error(message: str) -> InvocationError:
    return InvocationError(
        424,
        "ModelError",
        f'Received client error (400) from primary with message "{message}"',
        {"OriginalStatusCode": 400, "OriginalMessage": message},
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
        model = backend._models[variant["ModelName"]]
        container = model.primary_container or (model.containers or [{}])[0]
        model_data = container.get("ModelDataUrl")
        if container.get("ModelPackageName"):
            arn = backend.model_package_name_mapping.get(
                container["ModelPackageName"], container["ModelPackageName"]
            )
            package = backend.model_packages[arn]
            model_data = package.inference_specification["Containers"][0]["ModelDataUrl"]
        if not model_data:
            raise InvocationError(
                424, "ModelError", f"model {variant['ModelName']} has no model data to serve"
            )
        booster = _load_booster(model_data, account_id)
        runtime = EndpointRuntime(
            config_name=endpoint.endpoint_config_name,
            booster=booster,
            features=booster.num_features(),
            serverless=variant.get("ServerlessConfig"),
        )
        _runtimes[key] = runtime
        return runtime


def _load_booster(model_data_url: str, account_id: str):
    import xgboost

    archive = objects.get_bytes(model_data_url, account_id)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        member = next((m for m in tar.getmembers() if os.path.basename(m.name) == "xgboost-model"), None)
        if member is None:
            raise InvocationError(424, "ModelError", f"{model_data_url} holds no xgboost-model file")
        raw = tar.extractfile(member).read()
    booster = xgboost.Booster()
    booster.load_model(bytearray(raw))
    return booster


def runtime_for(account_id: str, region: str, endpoint_name: str) -> EndpointRuntime:
    """The runtime serving an endpoint now (for tests and the lifecycle summary)."""
    return _load_runtime(account_id, region, endpoint_name)


def invoke(account_id: str, region: str, endpoint_name: str, body: bytes) -> str:
    runtime = _load_runtime(account_id, region, endpoint_name)
    if runtime.serverless is not None and len(body) > MAX_SERVERLESS_PAYLOAD:
        raise InvocationError(
            400, "ValidationError", "Request payload exceeds the 4 MB limit of serverless endpoints"
        )
    cold = runtime.admit(float(os.environ.get("SMBUNDLE_IDLE_SECONDS", "300")))
    try:
        if cold:
            time.sleep(float(os.environ.get("SMBUNDLE_COLD_START_SECONDS", "0.5")))
        return runtime.predict(body)
    finally:
        runtime.release()


def invoke_endpoint(self: SageMakerRuntimeResponse):
    endpoint_name = self.path.split("/")[2]
    body = self.body if isinstance(self.body, bytes) else (self.body or "").encode()
    try:
        answer = invoke(self.current_account, self.region, endpoint_name, body)
    except InvocationError as error:
        return error.response()
    return 200, {"Content-Type": "text/csv", "x-Amzn-Invoked-Production-Variant": "AllTraffic"}, answer


def reset() -> None:
    with _runtimes_lock:
        _runtimes.clear()


def apply() -> None:
    SageMakerRuntimeResponse.invoke_endpoint = invoke_endpoint
