#!/usr/bin/env python3
"""Delete a SageMaker project created from this template without leaving endpoints billing.

Deletes the staging and prod endpoint stacks (created by the deploy pipeline, so deleting the project alone leaves
them running), the SageMaker Pipelines the builds created (the model build's and the data-quality check's),
optionally the model packages, then the project, and optionally the artifact bucket (retained on delete). Honours AWS_PROFILE, AWS_REGION and AWS_ENDPOINT_URL.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from smbundle import cli, validation  # noqa: E402
from smbundle.cleanup import CleanupError, cleanup  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = cli.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project-name", required=True)
    parser.add_argument(
        "--delete-bucket", action="store_true", help="empty (all versions) and delete the artifact bucket"
    )
    parser.add_argument(
        "--delete-model-packages", action="store_true", help="delete the project's model packages"
    )
    parser.add_argument("--dry-run", action="store_true", help="list what would be deleted; delete nothing")
    parser.add_argument(
        "--region", default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    )
    parser.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL"))
    parser.add_argument("--profile", default=os.environ.get("AWS_PROFILE"))
    parser.add_argument("--json", action="store_true")
    return parser.parse_args(argv)


def line(action: dict) -> str:
    detail = f" ({action['detail']})" if action["detail"] else ""
    return f"{action['status']:<13} {action['action']:<20} {action['resource']}{detail}"


def main(argv=None) -> int:
    args = parse_args(argv)
    return cli.run(lambda: delete(args), endpoint_url=args.endpoint_url)


def delete(args) -> int:
    validation.project_name(args.project_name)
    validation.region(args.region, required=False)
    validation.endpoint_url(args.endpoint_url, cli.endpoint_source(args.endpoint_url))
    session = cli.aws_session(args.profile, args.region)
    # Each action is printed as it happens (on stderr with --json, whose stdout is the report).
    show = cli.progress if args.json else (lambda text: print(text, flush=True))
    try:
        report = cleanup(
            session,
            args.project_name,
            delete_bucket=args.delete_bucket,
            delete_model_packages=args.delete_model_packages,
            dry_run=args.dry_run,
            endpoint_url=args.endpoint_url,
            progress=lambda action: show(line(action)),
        )
    except CleanupError as exc:
        raise cli.Failure(str(exc)) from None
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
