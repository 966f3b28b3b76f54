#!/usr/bin/env python3
"""Serve the embedded AWS (moto plus our extensions) on 127.0.0.1 until SIGINT or SIGTERM.

Prints one line AWS_ENDPOINT_URL=http://127.0.0.1:N when ready; point the AWS CLI, boto3 or our scripts at it.
The account is prepared like one whose Studio domain has SageMaker projects enabled, and the project roles'
AWS-managed policies are enforced on every call made as a role (--iam off lets everything through).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from smbundle.local import server  # noqa: E402
from smbundle.local.server import STUDIO_EXECUTION_ROLE_NAME  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument(
        "--iam",
        choices=("on", "off"),
        default="on",
        help="enforce the project roles' IAM policies (default: on; off is for exploring only)",
    )
    args = parser.parse_args(argv)
    try:
        aws = server.start(port=args.port, region=args.region, iam=args.iam == "on")
    except OSError as exc:
        print(
            f"error: cannot listen on 127.0.0.1:{args.port}: {exc.strerror}; choose another --port",
            file=sys.stderr,
        )
        return 1
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    print(f"AWS_ENDPOINT_URL={aws.url}", flush=True)
    print(f"# Studio execution role: {aws.roles[STUDIO_EXECUTION_ROLE_NAME]}", flush=True)
    stop.wait()
    aws.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
