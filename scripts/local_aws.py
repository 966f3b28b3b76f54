#!/usr/bin/env python3
"""Serve the embedded AWS (moto plus our extensions) on 127.0.0.1 until SIGINT or SIGTERM.

Prints one line AWS_ENDPOINT_URL=http://127.0.0.1:N when ready; point the AWS CLI, boto3 or our scripts at it.
The account is prepared like one whose Studio domain has SageMaker projects enabled: the project roles, a Studio
execution role and a Studio domain exist; their ARN and id are printed next. The project roles' AWS-managed
policies are enforced on every call made as a role (--iam off lets everything through). The account is a new
customer's: SageMaker Model Monitor and Debugger, closed to new customers, are refused (--existing-customer makes it
an account that already uses them).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# A local tool: it never uses real AWS, so no profile is read (a missing one, e.g. a left-over "admin", cannot fail
# it). Done before any import, as the embedded AWS's modules may start botocore sessions when imported.
for _name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
    os.environ.pop(_name, None)

from smbundle import cli, validation  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = cli.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument(
        "--region",
        default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        help="Region the printed commands use (default: AWS_REGION, else us-east-1)",
    )
    parser.add_argument(
        "--iam",
        choices=("on", "off"),
        default="on",
        help="enforce the project roles' IAM policies (default: on; off is for exploring only)",
    )
    parser.add_argument(
        "--existing-customer",
        action="store_true",
        help="an account that already uses SageMaker Model Monitor and Debugger (default: a new customer's, "
        "which cannot: both are closed to new customers)",
    )
    parser.add_argument(
        "--served",
        metavar="SERVICE",
        help="print the operations the embedded AWS answers for SERVICE (botocore's name, e.g. sagemaker) and exit",
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    return cli.run(lambda: serve(args))


def serve(args: argparse.Namespace) -> int:
    if args.served is not None:
        return list_served(args.served)
    validation.port(args.port)
    validation.region(args.region)
    validation.runtime_settings()
    if args.port:
        _port_free(args.port)  # answered before the second of imports the server needs
    from smbundle.local import server
    from smbundle.local.probe import export_line
    from smbundle.local.server import STUDIO_EXECUTION_ROLE_NAME

    try:
        aws = server.start(
            port=args.port,
            region=args.region,
            iam=args.iam == "on",
            existing_customer=args.existing_customer,
        )
    except OSError as exc:
        raise _cannot_listen(args.port, exc) from None
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    print(f"AWS_ENDPOINT_URL={aws.url}", flush=True)
    print(f"# Studio execution role: {aws.roles[STUDIO_EXECUTION_ROLE_NAME]}", flush=True)
    print(f"# Studio domain: {aws.domain_id} (SageMaker projects enabled)", flush=True)
    customer = "an existing customer of" if args.existing_customer else "a new customer: no"
    print(f"# Account: {customer} SageMaker Model Monitor and Debugger", flush=True)
    print(f"# AWS CLI (v1 and v2) and boto3: {export_line(aws.url, args.region)}", flush=True)
    stop.wait()
    aws.stop()
    return 0


def _cannot_listen(port: int, exc: OSError) -> cli.Failure:
    return cli.Failure(
        f"cannot listen on 127.0.0.1:{port}: {exc.strerror}; choose another --port (or 0 for a free one)"
    )


def _port_free(port: int) -> None:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise _cannot_listen(port, exc) from None


def list_served(service: str) -> int:
    from smbundle.local import served

    try:
        operations = served.served_operations(service)
    except served.UnknownService as exc:
        raise validation.UsageError(f"--served: {exc}") from None
    print("\n".join(operations))
    return 0


if __name__ == "__main__":
    cli.exit_at_once(main())
