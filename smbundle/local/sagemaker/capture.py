"""SageMaker data capture for the embedded runtime: what an endpoint config's ``DataCaptureConfig`` asks for.

For an endpoint whose config captures data (``EnableCapture`` true, ``InitialSamplingPercentage`` above 0), each
successful invocation that the sampling picks becomes one JSON Lines record, as SageMaker writes them::

    {"captureData": {"endpointInput":  {"observedContentType": "text/csv", "mode": "INPUT",
                                         "data": "M,0.455,...", "encoding": "CSV"},
                     "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT",
                                         "data": "9.05047\\n", "encoding": "CSV"}},
     "eventMetadata": {"eventId": "<uuid>", "inferenceTime": "2026-11-28T10:11:12Z"},
     "eventVersion": "0"}

- ``CaptureOptions`` decides which of ``endpointInput`` / ``endpointOutput`` a record carries.
- ``CaptureContentTypeHeader`` decides the encoding: a content type listed in ``CsvContentTypes`` is kept as text
  (``CSV``), one in ``JsonContentTypes`` as text (``JSON``); anything else, and everything when the header is not
  configured, is base64-encoded (``BASE64``), as SageMaker does. Types are compared without their parameters
  (``text/csv; charset=utf-8`` is ``text/csv``).
- ``InitialSamplingPercentage`` is honoured exactly and deterministically: of every 100 invocations, exactly that
  many are captured, evenly spread (SageMaker samples at random; the share is the same).
- A request's ``InferenceId`` / ``CustomAttributes`` headers go to ``eventMetadata`` as ``inferenceId`` /
  ``customAttributes``.
- Failed invocations (a ``ModelError``, a throttle) are not captured.

Files land under ``<DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/`` (UTC hour of the records' inference
time), named ``<minute>-<second>-<millisecond>-<uuid>.jsonl`` after their first record, as on AWS. Records are
buffered and written in batches (at most every ``SMBUNDLE_CAPTURE_FLUSH_SECONDS``, default 5, or when
``SMBUNDLE_CAPTURE_MAX_RECORDS`` (default 1000) are waiting; :func:`flush` writes at once), so capture costs the
request path a dictionary and a list append, never an S3 write. SageMaker also delivers captures with a delay (a
couple of minutes, by its documentation). Locally, listing the destination bucket delivers what is buffered first
(``s3/capture_delivery.py``): a job or a person who looks finds every record captured so far, where on AWS they
would wait the delivery delay out. Each file is written as the endpoint's model execution role
(``s3:PutObject``, authorized by the embedded IAM); a denied write is logged and its records are dropped, as a
capture that cannot be delivered is lost on AWS too.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from smbundle.local.iam import enforcement
from smbundle.local.iam.principals import Principal
from smbundle.local.s3 import objects

log = logging.getLogger(__name__)

CSV, JSON, BASE64 = "CSV", "JSON", "BASE64"
EVENT_VERSION = "0"


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


@dataclass(frozen=True)
class CaptureSettings:
    """What an endpoint config's DataCaptureConfig asks for (None from :meth:`of` when nothing is captured)."""

    destination: str
    sampling_percentage: int
    capture_input: bool
    capture_output: bool
    csv_types: frozenset[str] = frozenset()
    json_types: frozenset[str] = frozenset()

    @classmethod
    def of(cls, config: dict | None) -> CaptureSettings | None:
        if not config or not config.get("DestinationS3Uri"):
            return None
        enabled = config.get("EnableCapture", True)
        if isinstance(enabled, str):
            enabled = enabled.lower() == "true"
        percentage = int(config.get("InitialSamplingPercentage", 0) or 0)
        modes = {str(o.get("CaptureMode", "")).lower() for o in config.get("CaptureOptions") or []}
        if not enabled or percentage <= 0 or not modes & {"input", "output"}:
            return None
        header = config.get("CaptureContentTypeHeader") or {}
        return cls(
            destination=str(config["DestinationS3Uri"]).rstrip("/"),
            sampling_percentage=min(100, percentage),
            capture_input="input" in modes,
            capture_output="output" in modes,
            csv_types=frozenset(_media_type(t) for t in header.get("CsvContentTypes") or []),
            json_types=frozenset(_media_type(t) for t in header.get("JsonContentTypes") or []),
        )

    def encode(self, body: bytes, content_type: str | None) -> tuple[str, str]:
        """(encoding, data) for a payload of this content type."""
        kind = _media_type(content_type)
        if kind in self.csv_types or kind in self.json_types:
            try:
                return (CSV if kind in self.csv_types else JSON), body.decode("utf-8")
            except UnicodeDecodeError:
                pass  # not text after all: kept as bytes
        return BASE64, base64.b64encode(body).decode("ascii")


def _section(settings: CaptureSettings, mode: str, body: bytes, content_type: str | None) -> dict:
    encoding, data = settings.encode(body, content_type)
    return {"observedContentType": content_type or "", "mode": mode, "data": data, "encoding": encoding}


@dataclass
class CaptureWriter:
    """Samples, buffers and writes the captured records of one endpoint variant."""

    settings: CaptureSettings
    account_id: str
    region: str
    endpoint_name: str
    variant_name: str
    role_arn: str | None
    lock: threading.Lock = field(default_factory=threading.Lock)
    seen: int = 0
    captured: int = 0
    files_written: int = 0
    dropped: int = 0
    _pending: list[tuple[datetime, str]] = field(default_factory=list)

    def sample(self) -> bool:
        """Whether this invocation is captured: exactly ``sampling_percentage`` of every 100, evenly spread."""
        percentage = self.settings.sampling_percentage
        with self.lock:
            self.seen += 1
            return self.seen * percentage // 100 > (self.seen - 1) * percentage // 100

    def record(
        self,
        body: bytes,
        content_type: str | None,
        answer_body: bytes,
        answer_type: str | None,
        inference_id: str | None = None,
        custom_attributes: str | None = None,
    ) -> None:
        if not self.sample():
            return
        now = datetime.now(UTC)
        capture = {}
        if self.settings.capture_input:
            capture["endpointInput"] = _section(self.settings, "INPUT", body, content_type)
        if self.settings.capture_output:
            capture["endpointOutput"] = _section(self.settings, "OUTPUT", answer_body, answer_type)
        metadata = {"eventId": str(uuid.uuid4()), "inferenceTime": now.strftime("%Y-%m-%dT%H:%M:%SZ")}
        if inference_id:
            metadata["inferenceId"] = inference_id
        if custom_attributes:
            metadata["customAttributes"] = custom_attributes
        line = json.dumps(
            {"captureData": capture, "eventMetadata": metadata, "eventVersion": EVENT_VERSION},
            separators=(",", ":"),
        )
        with self.lock:
            self._pending.append((now, line))
            self.captured += 1
            full = len(self._pending) >= _max_records()
        if full:
            self.flush()

    def flush(self) -> int:
        """Write what is buffered: one file per hour of inference time. Returns the number of files written."""
        with self.lock:
            pending, self._pending = self._pending, []
        if not pending:
            return 0
        by_hour: dict[str, list[tuple[datetime, str]]] = {}
        for moment, line in pending:
            by_hour.setdefault(moment.strftime("%Y/%m/%d/%H"), []).append((moment, line))
        written = 0
        for hour, records in by_hour.items():
            first = records[0][0]
            name = f"{first:%M-%S}-{first.microsecond // 1000:03d}-{uuid.uuid4()}.jsonl"
            uri = f"{self.settings.destination}/{self.endpoint_name}/{self.variant_name}/{hour}/{name}"
            try:
                if self.role_arn:
                    enforcement.authorize(
                        Principal(self.role_arn, "SageMaker"),
                        "s3:PutObject",
                        "arn:aws:s3:::" + uri[len("s3://") :],
                        None,
                        self.region,
                    )
                objects.put_bytes(
                    uri, ("\n".join(line for _, line in records) + "\n").encode(), self.account_id
                )
            except (
                Exception
            ) as exc:  # denied, or no such bucket: the records are lost, the endpoint serves on
                with self.lock:
                    self.dropped += len(records)
                log.warning(
                    "data capture of endpoint %s could not write %s, %d record(s) dropped: %s",
                    self.endpoint_name,
                    uri,
                    len(records),
                    exc,
                )
                continue
            written += 1
        with self.lock:
            self.files_written += written
        return written


def _max_records() -> int:
    return int(os.environ.get("SMBUNDLE_CAPTURE_MAX_RECORDS", "1000"))


def _interval() -> float:
    return float(os.environ.get("SMBUNDLE_CAPTURE_FLUSH_SECONDS", "5"))


_writers: dict[tuple[str, str, str, str], CaptureWriter] = {}
_writers_lock = threading.Lock()
_flusher: threading.Thread | None = None


def writer_for(
    settings: CaptureSettings,
    account_id: str,
    region: str,
    endpoint_name: str,
    variant_name: str,
    config_name: str,
    role_arn: str | None,
) -> CaptureWriter:
    """The writer of one endpoint config's variant (the same one for as long as the config serves)."""
    global _flusher
    key = (account_id, region, endpoint_name, config_name)
    with _writers_lock:
        writer = _writers.get(key)
        if writer is None:
            writer = CaptureWriter(settings, account_id, region, endpoint_name, variant_name, role_arn)
            _writers[key] = writer
        if _flusher is None or not _flusher.is_alive():
            _flusher = threading.Thread(target=_flush_periodically, name="data-capture-flusher", daemon=True)
            _flusher.start()
    return writer


def _flush_periodically() -> None:
    while True:
        time.sleep(_interval())
        try:
            flush()
        except Exception:  # the flusher must survive anything one write does
            log.exception("data capture flush failed")


def flush(account_id: str | None = None, endpoint_name: str | None = None) -> int:
    """Write every buffered record now (of one endpoint, when named); returns the number of files written."""
    with _writers_lock:
        writers = [
            w
            for (account, _, endpoint, _), w in _writers.items()
            if (account_id is None or account == account_id)
            and (endpoint_name is None or endpoint == endpoint_name)
        ]
    return sum(writer.flush() for writer in writers)


def flush_bucket(bucket: str) -> int:
    """Write now what is buffered for captures that land in ``bucket`` (when someone lists it)."""
    with _writers_lock:
        found = [w for w in _writers.values() if w.settings.destination.startswith(f"s3://{bucket}/")]
    return sum(writer.flush() for writer in found)


def writers(endpoint_name: str | None = None) -> list[CaptureWriter]:
    with _writers_lock:
        return [w for (_, _, e, _), w in _writers.items() if endpoint_name in (None, e)]


def reset() -> None:
    """Write what is buffered and forget every writer (a new embedded AWS starts with none)."""
    flush()
    with _writers_lock:
        _writers.clear()
