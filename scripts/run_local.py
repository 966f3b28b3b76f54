#!/usr/bin/env python3
"""Run the whole project lifecycle on the embedded AWS: publish, create a project, build, approve, deploy.

No AWS account is used: the embedded AWS (moto plus our extensions) is started in this process, or an already
running one is used with --endpoint-url / AWS_ENDPOINT_URL (scripts/local_aws.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from smbundle.local.lifecycle import LifecycleFailed, LocalRunOptions, run_lifecycle  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--project-name", default="serverless-demo", help="SageMaker project name (default: %(default)s)"
    )
    parser.add_argument(
        "--input-data",
        type=Path,
        help="CSV in the abalone schema (no header; sex, 7 measurements, rings). "
        "Default: a generated synthetic sample of that schema",
    )
    parser.add_argument("--workdir", type=Path, help="keep pipeline artifacts, exports and test results here")
    parser.add_argument(
        "--summary", type=Path, help="write the run summary JSON here (default: <workdir>/summary.json)"
    )
    parser.add_argument("--region", default=os.environ.get("AWS_REGION", "us-east-1"))
    parser.add_argument(
        "--endpoint-url",
        default=os.environ.get("AWS_ENDPOINT_URL"),
        help="use an already running embedded AWS (scripts/local_aws.py) instead of starting one",
    )
    approval = parser.add_mutually_exclusive_group()
    approval.add_argument(
        "--auto-approve", action="store_true", default=True, help="grant the manual approval (default)"
    )
    approval.add_argument(
        "--stop-before-prod", action="store_true", help="stop at the manual approval before production"
    )
    parser.add_argument(
        "--project-parameter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a parameter of the product template chosen at project creation, as in Studio (repeatable)",
    )
    parser.add_argument(
        "--iam",
        choices=("on", "off"),
        default="on",
        help="enforce the project roles' IAM policies (default: on; off is for exploring only, and a run that "
        "passes with it off says nothing about AWS)",
    )
    parser.add_argument(
        "--serve", action="store_true", help="keep the embedded AWS up afterwards (Ctrl-C stops it)"
    )
    parser.add_argument(
        "--json", action="store_true", help="print the summary JSON instead of progress lines"
    )
    return parser.parse_args(argv)


class Progress:
    """One line per stage and action as it starts and ends, like the CodePipeline console."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.started = time.monotonic()

    def __call__(self, event: str, name: str, status: str | None, seconds: float | None) -> None:
        if self.quiet:
            return
        clock = f"[{time.monotonic() - self.started:6.1f}s]"
        if event == "start":
            print(f"{clock} {name:<62} InProgress", flush=True)
        else:
            took = f"{seconds:.2f} s" if seconds is not None else ""
            print(f"{clock} {name:<62} {status:<10} {took}", flush=True)


def main(argv=None) -> int:
    args = parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="smbundle-local-"))
    summary_path = args.summary or workdir / "summary.json"
    parameters = {}
    for pair in args.project_parameter:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            print(f"error: --project-parameter {pair!r} must look like KEY=VALUE", file=sys.stderr)
            return 2
        parameters[key] = value
    if args.input_data and not args.input_data.is_file():
        print(
            f"error: --input-data {args.input_data} does not exist; give a CSV in the abalone schema",
            file=sys.stderr,
        )
        return 2
    progress = Progress(quiet=args.json)
    server = None
    endpoint_url = args.endpoint_url
    if not endpoint_url:
        from smbundle.local import server as embedded

        server = embedded.start(region=args.region, iam=args.iam == "on")
        endpoint_url = server.url
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
            "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
        }
    )
    options = LocalRunOptions(
        workdir=workdir,
        project_name=args.project_name,
        region=args.region,
        endpoint_url=endpoint_url,
        input_data=args.input_data,
        stop_before_prod=args.stop_before_prod,
        project_parameters=parameters,
    )
    try:
        summary = run_lifecycle(options, progress)
    except LifecycleFailed as failure:
        print(f"error: stage {failure.stage} failed: {failure}", file=sys.stderr)
        if failure.action:
            print(f"  action:  {failure.action}", file=sys.stderr)
        if failure.command:
            print(f"  command: {failure.command}", file=sys.stderr)
        for line in failure.log_tail:
            print(f"  | {line}", file=sys.stderr)
        print(f"  logs and artifacts: {workdir}", file=sys.stderr)
        if server:
            server.stop()
        return 1
    summary_path.parent.mkdir(parents=True, exist_ok=True)
    summary_path.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        print_digest(summary, summary_path)
    if args.serve:
        print(f"AWS_ENDPOINT_URL={endpoint_url}", flush=True)
        print(
            f"try: AWS_ENDPOINT_URL={endpoint_url} aws sagemaker describe-endpoint "
            f"--endpoint-name {args.project_name}-staging",
            flush=True,
        )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    if server:
        server.stop()
    return 0


def print_digest(summary: dict, summary_path: Path) -> None:
    staging = (summary.get("staging") or {}).get("DescribeEndpoint", {})
    prod = (summary.get("prod") or {}).get("DescribeEndpointConfig", {})
    results = summary.get("test_results") or {}
    print()
    mse = (
        ((summary["model_package"].get("metrics") or {}).get("regression_metrics") or {}).get("mse") or {}
    ).get("value")
    print(
        f"model package:  {summary['model_package']['ModelPackageArn']} "
        f"({summary['model_package']['ModelApprovalStatus']})"
        + (f", test MSE {mse:.4f}" if mse is not None else "")
    )
    if staging:
        serverless = staging["ProductionVariants"][0].get("CurrentServerlessConfig")
        print(
            f"staging:        {staging['EndpointName']} {staging['EndpointStatus']} serverless {json.dumps(serverless)}"
        )
    if prod:
        variant = prod["ProductionVariants"][0]
        capture = prod.get("DataCaptureConfig", {})
        print(
            f"prod:           {variant.get('InstanceType')} x{variant.get('InitialInstanceCount')}, "
            f"data capture {'on' if capture.get('EnableCapture') else 'off'} "
            f"({capture.get('InitialSamplingPercentage')} %)"
        )
    if results:
        latency = results.get("latency_ms", {})
        print(
            f"staging test:   {'passed' if results.get('passed') else 'FAILED'}, "
            f"{results.get('invocations')} invocations, {results.get('errors')} errors, "
            f"{results.get('throttles')} throttles, p50 {latency.get('p50')} ms, p99 {latency.get('p99')} ms"
        )
        replay = results.get("replay") or {}
        if "measured_mse" in replay:
            print(
                f"replay:         {replay['status']}, the endpoint's MSE {replay['measured_mse']:.4f} on "
                f"{replay['rows']} held-out raw records (registered {replay['registered_mse']:.4f})"
            )
        elif replay:
            print(f"replay:         {replay.get('status')}: {replay.get('reason')}")
    estimate = summary.get("cost_estimate") or {}
    if "recommendation" in estimate:
        print(
            f"cost at {estimate['seconds_per_inference'] * 1000:.1f} ms measured: {estimate['recommendation']}"
        )
    for label, run in (summary.get("first_runs") or {}).items():
        outcome = (
            run["status"]
            if "failed_action" not in run
            else f"{run['status']} at {run['failed_action']}: {run['reason']}"
        )
        print(f"{label} pipeline's run on creation: {outcome}")
    print(f"summary:        {summary_path}")


if __name__ == "__main__":
    sys.exit(main())
