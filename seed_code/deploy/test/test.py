#!/usr/bin/env python3
"""Staging test: really invoke the staging endpoint, then decide whether the model may go to production.

Phases:
  1. wait (bounded) until the endpoint is InService;
  2. functional: the shipped sample records (test/sample-payload.csv: raw abalone records as a client has them,
     sex and 7 measurements, no label), one request each; every answer must be one finite number of rings in a
     plausible range;
  3. replay: the model package's held-out test split (CustomerMetadataProperties TestDataS3Uri: raw records, the
     label last) is sent without its label, in batches, and the MSE the endpoint answers with must agree with the
     registered test MSE (ModelMetrics ModelQuality Statistics) within --mse-tolerance. When there is nothing to
     replay (no package name, no TestDataS3Uri, no statistics) the replay is "skipped" with the reason, in the
     results and on the PASSED/FAILED line, and the test FAILS unless --allow-replay-skip true
     (ALLOW_REPLAY_SKIP in test/buildspec.yml) says the project accepts a staging test without replay;
  4. load (optional, --rate-per-minute and --duration-s): paced, concurrency-bounded invocations, counting
     successes, errors and throttles (ThrottlingException: retried with backoff up to --max-throttle-retries).

The results JSON (--export-test-results) is also what scripts/estimate_cost.py --from-test-results reads.
Exit code 1 when the test did not pass.
"""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import json
import math
import os
import random
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

HERE = Path(__file__).resolve().parent
SAMPLE_FILE = HERE / "sample-payload.csv"
MAX_PAYLOAD_BYTES = 4 * 1024 * 1024  # serverless request and response limit
READ_TIMEOUT_S = 70  # above the 60 s invocation limit, so the service answers before the client gives up
PLAUSIBLE_RANGE = (0.0, 100.0)  # abalone rings
THROTTLE_CODES = {"ThrottlingException", "Throttling", "TooManyRequestsException"}


class TestFailure(Exception):
    """The endpoint cannot be tested (missing, failed, misconfigured)."""


def runtime_config(concurrency: int) -> Config:
    # Throttles are retried (and counted) by this script, not hidden inside botocore.
    return Config(
        read_timeout=READ_TIMEOUT_S,
        connect_timeout=10,
        retries={"mode": "standard", "total_max_attempts": 1},
        max_pool_connections=max(10, concurrency),
    )


def endpoint_from_build_config(path: Path) -> tuple[str, dict]:
    try:
        parameters = json.loads(path.read_text())["Parameters"]
        return f"{parameters['SageMakerProjectName']}-{parameters['StageName']}", parameters
    except FileNotFoundError:
        raise TestFailure(
            f"build config {path} does not exist: run build.py first (it writes the stage exports)"
        ) from None
    except (json.JSONDecodeError, KeyError) as exc:
        raise TestFailure(f"build config {path} is not a stage export of build.py: {exc}") from None


def wait_in_service(sagemaker, endpoint_name: str, timeout_s: float, poll_s: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            endpoint = sagemaker.describe_endpoint(EndpointName=endpoint_name)
        except ClientError as exc:
            raise TestFailure(f"endpoint {endpoint_name}: {exc.response['Error']['Message']}") from None
        status = endpoint["EndpointStatus"]
        if status == "InService":
            return endpoint
        if status in ("Failed", "OutOfService", "Deleting"):
            raise TestFailure(
                f"endpoint {endpoint_name} is {status}: {endpoint.get('FailureReason', 'no FailureReason given')}"
            )
        if time.monotonic() > deadline:
            raise TestFailure(f"endpoint {endpoint_name} still {status} after {timeout_s:.0f} s")
        time.sleep(poll_s)


def read_rows(text: str) -> list[list[str]]:
    return [row for row in csv.reader(io.StringIO(text)) if row]


def to_payload(rows: list[list[str]]) -> str:
    return "".join(",".join(row) + "\n" for row in rows)


def parse_predictions(body: bytes) -> list[float]:
    text = body.decode().strip()
    return [float(value) for value in text.replace("\n", ",").split(",") if value.strip()]


class Invoker:
    """Invokes the endpoint, measuring latency and counting throttles.

    One boto3 client serves every thread (boto3 clients are thread-safe; its pool holds a connection per thread):
    a client per thread would parse botocore's service models once per thread, seconds of CPU for a load phase.
    """

    def __init__(self, endpoint_name: str, concurrency: int, max_throttle_retries: int, region: str | None):
        self.endpoint_name = endpoint_name
        self.config = runtime_config(concurrency)
        self.max_throttle_retries = max_throttle_retries
        self.region = region
        self.lock = threading.Lock()
        self._client = None
        self.latencies_ms: list[float] = []
        self.invocations = 0
        self.errors = 0
        self.throttles = 0
        self.error_messages: list[str] = []

    def client(self):
        with self.lock:  # made once, by the first thread that needs it (a session is not thread-safe)
            if self._client is None:
                session = boto3.session.Session(region_name=self.region)
                self._client = session.client("sagemaker-runtime", config=self.config)
            return self._client

    def invoke(self, payload: str) -> bytes | None:
        """One logical request: retried on throttles with backoff; None when it finally failed."""
        if len(payload.encode()) > MAX_PAYLOAD_BYTES:
            raise TestFailure(f"payload of {len(payload)} bytes exceeds the 4 MB serverless limit")
        for attempt in range(self.max_throttle_retries + 1):
            started = time.perf_counter()
            try:
                response = self.client().invoke_endpoint(
                    EndpointName=self.endpoint_name, ContentType="text/csv", Accept="text/csv", Body=payload
                )
                body = response["Body"].read()
                elapsed = (time.perf_counter() - started) * 1000
                with self.lock:
                    self.invocations += 1
                    self.latencies_ms.append(elapsed)
                return body
            except ClientError as exc:
                code = exc.response["Error"].get("Code", "")
                if code in THROTTLE_CODES:
                    with self.lock:
                        self.throttles += 1
                    if attempt < self.max_throttle_retries:
                        time.sleep(min(2.0, 0.05 * 2**attempt) * (0.5 + random.random()))
                        continue
                self._error(f"{code}: {exc.response['Error'].get('Message', '')}")
                return None
            except BotoCoreError as exc:
                self._error(str(exc))
                return None
        return None

    def _error(self, message: str) -> None:
        with self.lock:
            self.invocations += 1
            self.errors += 1
            if len(self.error_messages) < 5:
                self.error_messages.append(message)


def functional_phase(invoker: Invoker, rows: list[list[str]]) -> dict:
    failures = []
    for index, row in enumerate(rows):
        body = invoker.invoke(to_payload([row]))
        if body is None:
            failures.append(f"row {index}: request failed")
            continue
        try:
            (value,) = parse_predictions(body)
        except ValueError:
            failures.append(f"row {index}: answer {body[:60]!r} is not one number")
            continue
        low, high = PLAUSIBLE_RANGE
        if not math.isfinite(value) or not low <= value <= high:
            failures.append(f"row {index}: prediction {value} outside the plausible range {low}..{high}")
    return {"rows": len(rows), "failures": failures, "passed": not failures}


class NothingToReplay(Exception):
    """Why the replay is skipped (the model package does not say what to replay)."""


def registered_test_split(sagemaker, s3, package_arn: str | None) -> tuple[list[list[str]], float]:
    """The held-out raw records (label last) and the registered test MSE of the package.

    Raises NothingToReplay when the package does not record them, TestFailure when they cannot be read.
    """
    if not package_arn:
        raise NothingToReplay("the build config names no model package (ModelPackageName)")
    package = sagemaker.describe_model_package(ModelPackageName=package_arn)
    uri = (package.get("CustomerMetadataProperties") or {}).get("TestDataS3Uri")
    statistics_uri = (
        ((package.get("ModelMetrics") or {}).get("ModelQuality") or {}).get("Statistics") or {}
    ).get("S3Uri")
    if not uri:
        raise NothingToReplay(
            f"model package {package_arn} records no held-out test split (CustomerMetadataProperties TestDataS3Uri)"
        )
    if not statistics_uri:
        raise NothingToReplay(
            f"model package {package_arn} has no registered metrics (ModelMetrics ModelQuality Statistics)"
        )
    rows = read_rows(_read_s3(s3, uri).decode())
    if not rows:
        raise TestFailure(f"the held-out test split {uri} holds no records")
    try:
        registered_mse = float(json.loads(_read_s3(s3, statistics_uri))["regression_metrics"]["mse"]["value"])
    except (ValueError, KeyError, TypeError) as exc:
        raise TestFailure(f"{statistics_uri} has no regression_metrics.mse.value: {exc}") from None
    return rows, registered_mse


def _read_s3(s3, uri: str) -> bytes:
    bucket, _, key = uri[len("s3://") :].partition("/")
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        raise TestFailure(f"cannot read {uri}: {exc.response['Error'].get('Message', exc)}") from None


def replay_phase(invoker: Invoker, rows: list[list[str]], registered_mse: float, tolerance: float) -> dict:
    """Send the held-out records without their label (the last column); compare the MSE with the registered one."""
    try:
        labels = [float(row[-1]) for row in rows]
    except ValueError as exc:
        return {"status": "failed", "rows": len(rows), "reason": f"a label is not a number: {exc}"}
    records = [row[:-1] for row in rows]
    predictions: list[float] = []
    batch = max(1, int(MAX_PAYLOAD_BYTES * 0.5 / max(1, len(to_payload(records[:1])))))
    for start in range(0, len(records), batch):
        body = invoker.invoke(to_payload(records[start : start + batch]))
        if body is None:
            return {"status": "failed", "rows": len(rows), "reason": "a replay request failed"}
        predictions.extend(parse_predictions(body))
    if len(predictions) != len(labels):
        return {
            "status": "failed",
            "rows": len(rows),
            "reason": f"{len(predictions)} answers for {len(labels)} records",
        }
    measured = statistics.fmean((p - y) ** 2 for p, y in zip(predictions, labels, strict=True))
    difference = abs(measured - registered_mse) / max(registered_mse, 1e-9)
    passed = difference <= tolerance
    result = {
        "status": "passed" if passed else "failed",
        "rows": len(rows),
        "measured_mse": measured,
        "registered_mse": registered_mse,
        "relative_difference": difference,
        "tolerance": tolerance,
    }
    if not passed:
        result["reason"] = (
            f"the endpoint's MSE {measured:.4f} differs from the registered {registered_mse:.4f} by "
            f"{difference:.1%} (tolerance {tolerance:.0%})"
        )
    return result


def replay(invoker: Invoker, sagemaker, s3, package_arn: str | None, args) -> dict:
    try:
        rows, registered_mse = registered_test_split(sagemaker, s3, package_arn)
    except NothingToReplay as reason:
        return {"status": "skipped", "reason": str(reason), "allowed": args.allow_replay_skip}
    except TestFailure as exc:
        return {"status": "failed", "reason": str(exc)}
    except ClientError as exc:
        return {
            "status": "failed",
            "reason": f"cannot describe {package_arn}: {exc.response['Error'].get('Message')}",
        }
    return replay_phase(invoker, rows, registered_mse, args.mse_tolerance)


def replay_summary(replay_result: dict) -> str:
    status = replay_result["status"]
    if status == "skipped":
        allowed = "allowed by ALLOW_REPLAY_SKIP" if replay_result["allowed"] else "not allowed"
        return f"replay skipped ({allowed}): {replay_result['reason']}"
    if "measured_mse" in replay_result:
        return (
            f"replay {status}: MSE {replay_result['measured_mse']:.4f} on {replay_result['rows']} held-out records, "
            f"registered {replay_result['registered_mse']:.4f}"
        )
    return f"replay {status}: {replay_result['reason']}"


def load_phase(
    invoker: Invoker, rows: list[list[str]], rate_per_minute: float, duration_s: float, concurrency: int
):
    """Requests scheduled at a fixed rate; at most ``concurrency`` in flight; late requests are sent at once."""
    interval = 60.0 / rate_per_minute
    total = int(duration_s * rate_per_minute / 60.0)
    counter = itertools.count()
    payloads = [to_payload([row]) for row in rows]
    started = time.perf_counter()
    before = (invoker.invocations, invoker.errors, invoker.throttles, len(invoker.latencies_ms))

    def worker() -> None:
        while True:
            index = next(counter)
            if index >= total:
                return
            delay = started + index * interval - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            invoker.invoke(payloads[index % len(payloads)])

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for future in [pool.submit(worker) for _ in range(concurrency)]:
            future.result()
    elapsed = time.perf_counter() - started
    succeeded = len(invoker.latencies_ms) - before[3]
    return {
        "target_rate_per_minute": rate_per_minute,
        "duration_s": round(elapsed, 3),
        "requests": total,
        "succeeded": succeeded,
        "errors": invoker.errors - before[1],
        "throttles": invoker.throttles - before[2],
        "throughput_per_min": round(succeeded / elapsed * 60.0, 1) if elapsed > 0 else 0.0,
        "concurrency": concurrency,
    }


def percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))
    return round(ordered[index], 2)


def run(args) -> dict:
    endpoint_name, parameters = endpoint_from_build_config(Path(args.import_build_config))
    # CodeBuild sets AWS_REGION and AWS_DEFAULT_REGION; honour AWS_REGION alone too, as the AWS CLI does.
    session = boto3.session.Session(region_name=os.environ.get("AWS_REGION") or None)
    sagemaker = session.client("sagemaker", config=Config(retries={"mode": "standard"}))
    endpoint = wait_in_service(sagemaker, endpoint_name, args.wait_timeout_s, args.poll_s)
    serverless = (endpoint.get("ProductionVariants") or [{}])[0].get("CurrentServerlessConfig") or {}
    invoker = Invoker(endpoint_name, args.concurrency, args.max_throttle_retries, session.region_name)

    sample_rows = read_rows(Path(args.sample_file).read_text())
    functional = functional_phase(invoker, sample_rows)
    first_request_ms = round(invoker.latencies_ms[0], 2) if invoker.latencies_ms else None

    replay_result = replay(invoker, sagemaker, session.client("s3"), parameters.get("ModelPackageName"), args)

    load = None
    if args.rate_per_minute and args.duration_s:
        load = load_phase(invoker, sample_rows, args.rate_per_minute, args.duration_s, args.concurrency)

    latencies = invoker.latencies_ms
    error_rate = invoker.errors / invoker.invocations if invoker.invocations else 1.0
    p99 = percentile(latencies, 0.99)
    checks = {
        "functional": functional["passed"],
        "replay": replay_result["status"] == "passed"
        or (replay_result["status"] == "skipped" and args.allow_replay_skip),
        "error_rate": error_rate <= args.max_error_rate,
        "p99": args.max_p99_ms is None or (p99 is not None and p99 <= args.max_p99_ms),
    }
    return {
        "endpoint_name": endpoint_name,
        "memory_size_mb": serverless.get("MemorySizeInMB"),
        "max_concurrency": serverless.get("MaxConcurrency"),
        "invocations": invoker.invocations,
        "errors": invoker.errors,
        "throttles": invoker.throttles,
        "error_rate": round(error_rate, 6),
        "latency_ms": {
            "mean": round(statistics.fmean(latencies), 2) if latencies else None,
            "p50": percentile(latencies, 0.50),
            "p95": percentile(latencies, 0.95),
            "p99": p99,
            "max": round(max(latencies), 2) if latencies else None,
        },
        "throughput_per_min": load["throughput_per_min"] if load else None,
        "first_request_ms": first_request_ms,
        "functional": functional,
        "replay": replay_result,
        "load": load,
        "error_samples": invoker.error_messages,
        "thresholds": {"max_error_rate": args.max_error_rate, "max_p99_ms": args.max_p99_ms},
        "checks": checks,
        "passed": all(checks.values()),
    }


def _boolean(value: str) -> bool:
    if str(value).strip().lower() in ("true", "false"):
        return str(value).strip().lower() == "true"
    raise argparse.ArgumentTypeError(f"{value!r} is neither true nor false")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        print(f"error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def _check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Values that cannot work, and files that cannot be read or written, before any request (exit 2)."""
    bounds = {
        "wait_timeout_s": (0, False),
        "poll_s": (0, False),
        "rate_per_minute": (0, True),
        "duration_s": (0, True),
        "max_p99_ms": (0, True),
        "mse_tolerance": (0, True),
    }
    for name, (low, inclusive) in bounds.items():
        value = getattr(args, name)
        if value is not None and (
            not math.isfinite(value) or value < low or (value == low and not inclusive)
        ):
            kind = "zero or more" if inclusive else "more than zero"
            parser.error(f"--{name.replace('_', '-')} must be a finite number {kind}, got {value:g}")
    if not 0 <= args.max_error_rate <= 1:
        parser.error(f"--max-error-rate is a fraction between 0 and 1, got {args.max_error_rate:g}")
    if args.max_throttle_retries < 0:
        parser.error(f"--max-throttle-retries must be zero or more, got {args.max_throttle_retries}")
    if not Path(args.sample_file).is_file():
        parser.error(f"--sample-file {args.sample_file} is not a file")
    export = Path(args.export_test_results)
    if export.is_dir() or not export.parent.is_dir() or not os.access(export.parent, os.W_OK):
        parser.error(f"--export-test-results {export}: not a writable file in an existing directory")


def parse_args(argv=None) -> argparse.Namespace:
    parser = _Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--import-build-config", default=os.environ.get("BUILD_CONFIG", "staging-config-export.json")
    )
    parser.add_argument(
        "--export-test-results", default=os.environ.get("EXPORT_TEST_RESULTS", "test-results.json")
    )
    parser.add_argument("--sample-file", default=str(SAMPLE_FILE))
    parser.add_argument("--wait-timeout-s", type=float, default=1800.0, help="bound on waiting for InService")
    parser.add_argument("--poll-s", type=float, default=15.0)
    parser.add_argument(
        "--rate-per-minute", type=float, default=0.0, help="load phase rate (0: no load phase)"
    )
    parser.add_argument("--duration-s", type=float, default=0.0, help="load phase duration")
    parser.add_argument(
        "--concurrency", type=int, default=10, help="client concurrency (keep <= MaxConcurrency)"
    )
    parser.add_argument("--max-throttle-retries", type=int, default=6)
    parser.add_argument("--max-error-rate", type=float, default=0.0)
    parser.add_argument("--max-p99-ms", type=float)
    parser.add_argument(
        "--allow-replay-skip",
        type=_boolean,
        default=os.environ.get("ALLOW_REPLAY_SKIP", "false"),
        help='"true": a model package without a test split to replay may pass (default "false", env ALLOW_REPLAY_SKIP)',
    )
    parser.add_argument(
        "--mse-tolerance",
        type=float,
        default=0.05,
        help="allowed relative difference between the replayed and the registered MSE (default 5%%)",
    )
    args = parser.parse_args(argv)
    if args.concurrency < 1 or args.rate_per_minute < 0 or args.duration_s < 0:
        parser.error("--concurrency must be >= 1; --rate-per-minute and --duration-s must be >= 0")
    _check_args(parser, args)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        results = run(args)
    except TestFailure as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (ClientError, BotoCoreError) as exc:
        print(f"error: AWS call failed: {exc}", file=sys.stderr)
        return 1
    Path(args.export_test_results).write_text(json.dumps(results, indent=2) + "\n")
    latency = results["latency_ms"]
    print(
        f"{results['endpoint_name']}: {'PASSED' if results['passed'] else 'FAILED'} "
        f"{results['invocations']} invocations, {results['errors']} errors, {results['throttles']} throttles, "
        f"p50 {latency['p50']} ms, p99 {latency['p99']} ms, first request {results['first_request_ms']} ms; "
        f"{replay_summary(results['replay'])}"
    )
    if not results["passed"]:
        failed = [name for name, ok in results["checks"].items() if not ok]
        print(f"error: staging test failed checks: {', '.join(failed)}", file=sys.stderr)
        if results["replay"]["status"] == "skipped" and not results["replay"]["allowed"]:
            print(
                "error: nothing was replayed; register the model with its test split and metrics (the build "
                'seed does), or set ALLOW_REPLAY_SKIP: "true" in test/buildspec.yml to accept that',
                file=sys.stderr,
            )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
