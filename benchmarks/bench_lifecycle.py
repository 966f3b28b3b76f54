#!/usr/bin/env python3
"""Benchmarks of the local lifecycle (printed figures, no pass/fail on time).

1. scripts/run_local.py from start to prod InService: wall time and the breakdown by stage, with the embedded
   IAM enforcing the project roles' policies and without it (--iam off), alternately; the enforcement's cost
   is the difference of the medians (target: at most 10 % of the wall time).
2. The deploy seed's staging load test against the local serverless endpoint (MaxConcurrency 20), signed with
   the CodeBuild role's credentials as in CodeBuild (so every invocation is authorized): sustained invocations
   per minute, errors, throttles, p50 and p99.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def bench_lifecycle(workdir: Path, iam: str = "on") -> dict:
    started = time.monotonic()
    completed = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "run_local.py"),
            "--workdir",
            str(workdir),
            "--json",
            "--iam",
            iam,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.monotonic() - started
    if completed.returncode != 0:
        sys.exit(f"run_local.py failed:\n{completed.stderr[-3000:]}")
    summary = json.loads(completed.stdout)
    return {"wall_seconds": round(wall, 2), "stages": summary["stages"], "summary": summary}


def bench_load(rate_per_minute: int, duration_s: int, concurrency: int, workdir: Path) -> dict:
    """Run a lifecycle to staging in-process, then drive the staging test's load phase at it."""
    import boto3

    from smbundle.local import server as embedded
    from smbundle.local.iam import sessions
    from smbundle.local.lifecycle import LocalRunOptions, run_lifecycle

    with embedded.start() as aws:
        options = LocalRunOptions(workdir=workdir, endpoint_url=aws.url, stop_before_prod=True)
        run_lifecycle(options, lambda *args: None)
        (export,) = list(
            workdir.glob("pipelines/*modeldeploy/Build/*/output/BuildArtifact/staging-config-export.json")
        )
        results = workdir / "load-results.json"
        build_role = sessions.assume(
            boto3.session.Session(region_name=options.region),
            aws.url,
            aws.roles["AmazonSageMakerServiceCatalogProductsCodeBuildRole"],
            "codebuild.amazonaws.com",
        )
        env = {
            "AWS_ENDPOINT_URL": aws.url,
            **build_role.credentials.environment(),
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
    parser.add_argument(
        "--runs", type=int, default=2, help="lifecycle runs with IAM on and with it off, each"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="smbundle-bench-") as tmp:
        walls: dict[str, list[float]] = {"on": [], "off": []}
        fastest = None
        for run in range(args.runs):
            for iam in ("on", "off"):
                result = bench_lifecycle(Path(tmp) / f"lifecycle-{iam}-{run}", iam)
                walls[iam].append(result["wall_seconds"])
                if iam == "on" and (fastest is None or result["wall_seconds"] < fastest["wall_seconds"]):
                    fastest = result
        on, off = statistics.median(walls["on"]), statistics.median(walls["off"])
        cost = (on - off) / on * 100 if on else 0.0
        print(
            f"lifecycle: start to prod InService, median of {args.runs}: {on:.2f} s wall with IAM enforced, "
            f"{off:.2f} s with --iam off"
        )
        flag = "" if cost <= 10 else "   BELOW TARGET"
        print(f"IAM enforcement cost: {cost:.1f} % of the wall time (target <= 10 %){flag}")
        print("fastest run with IAM enforced, by stage:")
        for name, entry in fastest["stages"].items():
            print(f"  {name:<40} {entry['status']:<10} {entry['seconds']:7.2f} s")
        load = bench_load(args.rate_per_minute, args.duration_s, args.concurrency, Path(tmp) / "load")
        latency = load.get("latency_ms", {})
        print(
            f"load test: {load.get('invocations')} invocations in {args.duration_s} s at target "
            f"{args.rate_per_minute}/min, concurrency {args.concurrency}: "
            f"{load.get('throughput_per_min'):.0f}/min achieved, {load.get('errors')} errors, "
            f"{load.get('throttles')} throttles, p50 {latency.get('p50')} ms, p99 {latency.get('p99')} ms "
            "(target >= 20,000/min, 0 errors)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
