#!/usr/bin/env python3
"""Benchmarks of the local lifecycle (printed figures, no pass/fail on time).

1. scripts/run_local.py from start to prod InService: wall time and the breakdown by stage (target < 30 s).
2. The deploy seed's staging load test against the local serverless endpoint (MaxConcurrency 20):
   sustained invocations per minute, errors, throttles, p50 and p99 (target >= 20,000/min, 0 errors).

Progress is shown as it goes; a figure that misses its target is flagged "BELOW TARGET" and counted at the end.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def bench_lifecycle(workdir: Path) -> dict:
    started = time.monotonic()
    completed = subprocess.run(  # progress lines stream to the terminal (stderr); the summary is stdout
        [sys.executable, str(REPO / "scripts" / "run_local.py"), "--workdir", str(workdir), "--json"],
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    wall = time.monotonic() - started
    if completed.returncode != 0:
        sys.exit("run_local.py failed (its output is above)")
    summary = json.loads(completed.stdout)
    return {"wall_seconds": round(wall, 2), "stages": summary["stages"], "summary": summary}


def bench_load(rate_per_minute: int, duration_s: int, concurrency: int, workdir: Path) -> dict:
    """Run a lifecycle to staging in-process, then drive the staging test's load phase at it."""
    from smbundle.local import server as embedded
    from smbundle.local.lifecycle import LocalRunOptions, run_lifecycle

    with embedded.start() as aws:
        options = LocalRunOptions(workdir=workdir, endpoint_url=aws.url, stop_before_prod=True)
        print("load test: deploying a staging endpoint ...", flush=True)
        run_lifecycle(options, lambda *args: None)
        print(
            f"load test: {duration_s} s at {rate_per_minute}/min, concurrency {concurrency} ...", flush=True
        )
        (export,) = list(workdir.glob("pipelines/*modeldeploy/BuildArtifact/staging-config-export.json"))
        results = workdir / "load-results.json"
        env = {
            "AWS_ENDPOINT_URL": aws.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": options.region,
            "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
        }
        completed = subprocess.run(
            [
                sys.executable,
                str(REPO / "seed_code" / "deploy" / "test" / "test.py"),
                "--import-build-config",
                str(export),
                "--export-test-results",
                str(results),
                "--rate-per-minute",
                str(rate_per_minute),
                "--duration-s",
                str(duration_s),
                "--concurrency",
                str(concurrency),
            ],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if not results.is_file():
            sys.exit(f"staging test wrote no results:\n{completed.stderr[-3000:]}")
        return json.loads(results.read_text())


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rate-per-minute",
        type=int,
        default=22000,
        help="target rate (a little above the 20,000 to sustain)",
    )
    parser.add_argument("--duration-s", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()

    misses = []

    def flag(missed: bool, what: str) -> str:
        if missed:
            misses.append(what)
            return "  <-- BELOW TARGET"
        return ""

    with tempfile.TemporaryDirectory(prefix="smbundle-bench-") as tmp:
        lifecycle = bench_lifecycle(Path(tmp) / "lifecycle")
        wall = lifecycle["wall_seconds"]
        print(
            f"lifecycle: start to prod InService in {wall:.2f} s wall (target < 30 s)"
            + flag(wall >= 30, f"lifecycle wall time {wall:.2f} s")
        )
        for name, entry in lifecycle["stages"].items():
            print(f"  {name:<40} {entry['status']:<10} {entry['seconds']:7.2f} s")
        load = bench_load(args.rate_per_minute, args.duration_s, args.concurrency, Path(tmp) / "load")
        latency = load.get("latency_ms", {})
        rate = load.get("throughput_per_min") or 0.0
        errors = load.get("errors") or 0
        print(
            f"load test: {load.get('invocations')} invocations in {args.duration_s} s at target "
            f"{args.rate_per_minute}/min, concurrency {args.concurrency}: "
            f"{rate:.0f}/min achieved, {errors} errors, "
            f"{load.get('throttles')} throttles, p50 {latency.get('p50')} ms, p99 {latency.get('p99')} ms "
            "(target >= 20,000/min, 0 errors)"
            + flag(rate < 20_000, f"load test throughput {rate:.0f}/min")
            + flag(errors > 0, f"load test errors {errors}")
        )
    if misses:
        print(f"{len(misses)} figure(s) BELOW TARGET: {'; '.join(misses)}", file=sys.stderr)
    else:
        print("every figure meets its target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
