#!/usr/bin/env python3
"""How fast InvokeEndpoint answers: the embedded serverless runtime, and moto's own request path as a yardstick.

Drives ``--concurrency`` client threads, in a process of their own, that invoke an endpoint back to back for
``--seconds``, and prints invocations per minute. ``moto`` mode starts a plain moto server (none of our extensions)
whose InvokeEndpoint answers a canned result: the cost of moto's HTTP and dispatch path alone, which bounds what any
runtime behind it can reach on this machine.

    python benchmarks/bench_invoke.py --endpoint-url URL --endpoint-name NAME --body 'M,0.455,...'
    python benchmarks/bench_invoke.py --moto
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import threading
import time

import boto3
from botocore.config import Config


def drive(endpoint_url: str, endpoint_name: str, body: bytes, concurrency: int, seconds: float) -> dict:
    """Invoke back to back from ``concurrency`` threads; returns counts and the rate."""
    session = boto3.session.Session(region_name="us-east-1")
    client = session.client(
        "sagemaker-runtime",
        endpoint_url=endpoint_url,
        config=Config(max_pool_connections=concurrency * 2, retries={"total_max_attempts": 1}),
    )
    counts = {"ok": 0, "errors": 0}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def worker() -> None:
        ok = errors = 0
        while time.monotonic() < deadline:
            try:
                client.invoke_endpoint(EndpointName=endpoint_name, ContentType="text/csv", Body=body)[
                    "Body"
                ].read()
                ok += 1
            except Exception:
                errors += 1
        with lock:
            counts["ok"] += ok
            counts["errors"] += errors

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    return {**counts, "per_minute": round(counts["ok"] / elapsed * 60)}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def moto_baseline(concurrency: int, seconds: float) -> dict:
    """A plain moto server (no extensions) answering InvokeEndpoint with its canned result."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        sagemaker = boto3.session.Session(region_name="us-east-1").client("sagemaker", endpoint_url=url)
        for _ in range(100):
            try:
                sagemaker.list_endpoints()
                break
            except Exception:
                time.sleep(0.1)
        return measure_in_process_of_its_own(url, "canned", b"1,2,3", concurrency, seconds)
    finally:
        server.terminate()
        server.wait(timeout=10)


def measure_in_process_of_its_own(url: str, name: str, body: bytes, concurrency: int, seconds: float) -> dict:
    """Run the client in another process, as a load generator would be."""
    completed = subprocess.run(
        [
            sys.executable,
            __file__,
            "--endpoint-url",
            url,
            "--endpoint-name",
            name,
            "--body",
            body.decode(),
            "--concurrency",
            str(concurrency),
            "--seconds",
            str(seconds),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(completed.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--endpoint-url")
    parser.add_argument("--endpoint-name")
    parser.add_argument("--body", default="M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument(
        "--moto", action="store_true", help="measure a plain moto server's canned InvokeEndpoint"
    )
    args = parser.parse_args()
    if args.moto:
        print(json.dumps(moto_baseline(args.concurrency, args.seconds)))
        return 0
    print(
        json.dumps(
            drive(args.endpoint_url, args.endpoint_name, args.body.encode(), args.concurrency, args.seconds)
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
