#!/usr/bin/env python3
"""Benchmark: prod scaling out under load, and a bad model rolled back by its alarm (printed figures, no pass/fail).

Runs ``scripts/run_local.py --prod-load 30`` and ``scripts/run_local.py --bad-model`` as a user would (each a whole
lifecycle first) and prints, from their summaries: each run's wall time (target: under 30 s), how long prod took to
scale out after the load began and to scale back in after the peak, and how long the bad version's prod deploy took
until SageMaker had rolled it back and the pipeline had failed. All are local figures, with AWS's clocks running
``SMBUNDLE_TIME_SCALE`` (120) times faster: the AWS-time equivalents are printed beside them; neither is an AWS
measurement.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_S = 30.0


def run(*flags: str) -> tuple[float, dict]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    with tempfile.TemporaryDirectory() as work:
        summary = Path(work) / "summary.json"
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, str(REPO / "scripts" / "run_local.py"), *flags, "--summary", str(summary)],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        wall = time.monotonic() - started
        if done.returncode != 0:
            sys.exit(f"run_local.py {' '.join(flags)} failed: {done.stderr.strip().splitlines()[-1:]}")
        return wall, json.loads(summary.read_text())


def flag(ok: bool) -> str:
    return "ok" if ok else "BELOW TARGET"


def main() -> int:
    wall, summary = run("--prod-load", "30")
    load = summary["prod_load"]
    scale = load["time_scale"]
    counts = load["instance_counts"]
    out = next(point for point in counts[1:] if point["instances"] > counts[0]["instances"])
    back = counts[-1]
    print(
        f"prod load:  run_local.py --prod-load 30: {wall:5.1f} s wall (target < {TARGET_S:.0f} s: {flag(wall < TARGET_S)})"
    )
    print(
        f"            scale-out {counts[0]['instances']} -> {out['instances']} instances {out['aws_minute'] * 60 / scale:4.1f} s "
        f"after the load began ({out['aws_minute']:.1f} AWS minutes at SMBUNDLE_TIME_SCALE={scale:g}: local figure)"
    )
    print(
        f"            back to {back['instances']} {(back['aws_minute'] - 8) * 60 / scale:4.1f} s after the peak "
        f"({back['aws_minute'] - 8:.1f} AWS minutes: local figure)"
    )
    wall, summary = run("--bad-model")
    bad = summary["bad_model"]
    deploy = summary["stages"].get("ModelDeploy.v2.DeployProd", {})
    seconds = deploy.get("seconds") or 0.0
    print(
        f"bad model:  run_local.py --bad-model: {wall:5.1f} s wall (target < {TARGET_S:.0f} s: {flag(wall < TARGET_S)})"
    )
    print(
        f"            prod deploy to rollback and a failed pipeline: {seconds:4.1f} s "
        f"({seconds * bad['time_scale'] / 60:.1f} AWS minutes at SMBUNDLE_TIME_SCALE={bad['time_scale']:g}: local "
        f"figure); {bad['traffic']['errors']} of {bad['traffic']['requests']} prod requests failed"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
