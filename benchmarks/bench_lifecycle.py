#!/usr/bin/env python3
"""Benchmarks of the local lifecycle (printed figures, no pass/fail on time).

1. scripts/run_local.py from start to prod InService, run alternately with the embedded IAM enforcing the project
   roles' policies and without it (--iam off): the median wall time with IAM (target < 15 s), the breakdown by
   stage of the fastest such run, and the enforcement's cost, the difference of the medians (target <= 10 %).
2. The deploy seed's staging load test against the local serverless endpoint (MaxConcurrency 20), signed with the
   CodeBuild role's credentials as in CodeBuild (so every invocation is authorized): sustained invocations per
   minute, errors, throttles, p50 and p99 (target >= 20,000/min, 0 errors).

Progress is shown as it goes; a figure that misses its target is flagged "BELOW TARGET" and counted at the end.
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
sys.path.insert(0, str(REPO / "benchmarks"))

import bench_invoke  # noqa: E402

LIFECYCLE_TARGET_S = 15.0
IAM_COST_TARGET_PCT = 10.0
LOAD_TARGET_PER_MIN = 20_000
RAW_RECORD = b"M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15"


def bench_lifecycle(workdir: Path, iam: str = "on") -> dict:
    started = time.monotonic()
    completed = subprocess.run(  # progress lines stream to the terminal (stderr); the summary is stdout
        [
            sys.executable,
            str(REPO / "scripts" / "run_local.py"),
            "--workdir",
            str(workdir),
            "--json",
            "--iam",
            iam,
        ],
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    wall = time.monotonic() - started
    if completed.returncode != 0:
        sys.exit("run_local.py failed (its error is above)")
    summary = json.loads(completed.stdout)
    return {"wall_seconds": round(wall, 2), "stages": summary["stages"]}


def bench_load(rate_per_minute: int, duration_s: int, concurrency: int, workdir: Path) -> dict:
    """Run a lifecycle to staging in-process, then drive the staging test's load phase at it."""

    from smbundle.local import server as embedded
    from smbundle.local.iam import sessions
    from smbundle.local.lifecycle import LocalRunOptions, run_lifecycle

    with embedded.start() as aws:
        options = LocalRunOptions(workdir=workdir, endpoint_url=aws.url, stop_before_prod=True)
        print("load test: deploying a staging endpoint ...", flush=True)
        run_lifecycle(options, lambda *args: None)
        print(
            f"load test: {duration_s} s at {rate_per_minute}/min, concurrency {concurrency} ...", flush=True
        )
        # The deploy build's output artifact (the newest: the first run on creation fails before writing one).
        export = max(
            workdir.glob("pipelines/*-modeldeploy/*/Build/*/output/BuildArtifact/staging-config-export.json"),
            key=lambda path: path.stat().st_mtime,
        )
        results = workdir / "load-results.json"
        build_role = sessions.assume(
            options.region,
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
        answer = json.loads(results.read_text())
        print("load test: unpaced, ours then moto's canned InvokeEndpoint ...", flush=True)
        answer["unpaced"] = bench_invoke.measure_in_process_of_its_own(
            aws.url, "serverless-demo-staging", RAW_RECORD, concurrency, 10
        )
    answer["moto"] = bench_invoke.moto_baseline(concurrency, 10)
    return answer


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
        "--runs", type=int, default=3, help="lifecycle runs with IAM on, and with it off (default 3)"
    )
    args = parser.parse_args()

    misses = []

    def flag(missed: bool, what: str) -> str:
        if missed:
            misses.append(what)
            return "  <-- BELOW TARGET"
        return ""

    with tempfile.TemporaryDirectory(prefix="smbundle-bench-") as tmp:
        walls: dict[str, list[float]] = {"on": [], "off": []}
        fastest = None
        for run in range(args.runs):
            for iam in ("on", "off"):
                print(f"lifecycle: run {run + 1} of {args.runs} with --iam {iam} ...", flush=True)
                result = bench_lifecycle(Path(tmp) / f"lifecycle-{iam}-{run}", iam)
                walls[iam].append(result["wall_seconds"])
                if iam == "on" and (fastest is None or result["wall_seconds"] < fastest["wall_seconds"]):
                    fastest = result
        on, off = statistics.median(walls["on"]), statistics.median(walls["off"])
        cost = (on - off) / on * 100 if on else 0.0
        print(
            f"lifecycle: start to prod InService, median of {args.runs}: {on:.2f} s wall with IAM enforced "
            f"(target < {LIFECYCLE_TARGET_S:.0f} s)"
            + flag(on >= LIFECYCLE_TARGET_S, f"lifecycle wall time {on:.2f} s")
        )
        print(
            f"IAM enforcement cost: {cost:.1f} % of the wall time ({on:.2f} s enforced, {off:.2f} s with --iam off; "
            f"target <= {IAM_COST_TARGET_PCT:.0f} %)"
            + flag(cost > IAM_COST_TARGET_PCT, f"IAM cost {cost:.1f} %")
        )
        print("fastest run with IAM enforced, by stage:")
        for name, entry in fastest["stages"].items():
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
            f"(target >= {LOAD_TARGET_PER_MIN:,}/min, 0 errors)"
            + flag(rate < LOAD_TARGET_PER_MIN, f"load test throughput {rate:.0f}/min")
            + flag(errors > 0, f"load test errors {errors}")
        )
        ours, moto = load["unpaced"], load["moto"]
        print(
            f"InvokeEndpoint unpaced, {args.concurrency} clients in their own process, 10 s: ours "
            f"{ours['per_minute']:,}/min ({ours['errors']} errors), moto's canned answer {moto['per_minute']:,}/min; "
            f"ours is {ours['per_minute'] / max(moto['per_minute'], 1):.0%} of moto's request path"
        )
    if misses:
        print(f"{len(misses)} figure(s) BELOW TARGET: {'; '.join(misses)}", file=sys.stderr)
    else:
        print("every figure meets its target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
