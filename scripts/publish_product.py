#!/usr/bin/env python3
"""Publish (or update) the SageMaker project template: seed code and template to S3, then a Service Catalog
product tagged for Studio with one provisioning artifact per content version, or an S3 project template.

Safe to re-run: everything is find-or-create, and a new version is added only when the content changed.
Honours AWS_PROFILE, AWS_REGION and AWS_ENDPOINT_URL (e.g. the embedded AWS of scripts/local_aws.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError  # noqa: E402

from smbundle.publish import (  # noqa: E402
    DEFAULT_PORTFOLIO_NAME,
    DEFAULT_PRODUCT_NAME,
    PublishError,
    PublishOptions,
    publish,
)

REPO_ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--target",
        choices=["servicecatalog", "s3"],
        default="servicecatalog",
        help="Service Catalog product (default) or SageMaker S3 project template",
    )
    parser.add_argument("--product-name", default=DEFAULT_PRODUCT_NAME)
    portfolio = parser.add_mutually_exclusive_group()
    portfolio.add_argument("--portfolio-id", help="use this existing portfolio")
    portfolio.add_argument("--portfolio-name", default=DEFAULT_PORTFOLIO_NAME, help="find or create by name")
    parser.add_argument(
        "--bucket", help="bucket for template and seed code (default: one named from account and region)"
    )
    parser.add_argument(
        "--principal-arn",
        action="append",
        default=[],
        help="Studio execution role to grant the portfolio to (repeatable)",
    )
    parser.add_argument(
        "--launch-role-arn",
        help="launch constraint role (default: service-role/AmazonSageMakerServiceCatalogProductsLaunchRole)",
    )
    parser.add_argument(
        "--keep-versions", type=int, help="deprecate all but the newest N provisioning artifacts"
    )
    parser.add_argument(
        "--domain-id", help="Studio domain to tag with the S3 templates location (--target s3)"
    )
    parser.add_argument("--owner", default="ML platform team")
    parser.add_argument("--support-email")
    parser.add_argument("--support-url")
    parser.add_argument(
        "--region", default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    )
    parser.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL"))
    parser.add_argument("--profile", default=os.environ.get("AWS_PROFILE"))
    parser.add_argument("--dry-run", action="store_true", help="print the plan; call no write API")
    parser.add_argument(
        "--skip-permission-check",
        action="store_true",
        help="do not ask iam:SimulatePrincipalPolicy whether the project roles may do what the template needs",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    if args.keep_versions is not None and args.keep_versions < 1:
        parser.error("--keep-versions must be at least 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    options = PublishOptions(
        repo_root=REPO_ROOT,
        product_name=args.product_name,
        portfolio_name=args.portfolio_name,
        portfolio_id=args.portfolio_id,
        bucket=args.bucket,
        principal_arns=args.principal_arn,
        launch_role_arn=args.launch_role_arn,
        keep_versions=args.keep_versions,
        target=args.target,
        domain_id=args.domain_id,
        region=args.region,
        endpoint_url=args.endpoint_url,
        profile=args.profile,
        dry_run=args.dry_run,
        skip_permission_check=args.skip_permission_check,
        owner=args.owner,
        support_email=args.support_email,
        support_url=args.support_url,
    )
    try:
        result = publish(options)
    except PublishError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except NoCredentialsError:
        print(
            "error: no AWS credentials: set AWS_PROFILE or run aws configure (or use AWS_ENDPOINT_URL for the embedded AWS)",
            file=sys.stderr,
        )
        return 1
    except (ClientError, BotoCoreError) as exc:
        print(f"error: AWS call failed: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, indent=2, default=str))
        return 0
    verb = "would" if args.dry_run else "did"
    for step in result["plan"]:
        print(f"{verb}: {step}")
    if not result["plan"]:
        print(f"up to date: version {result['version']} is already published")
    print(f"version {result['version']}  template {result['template_url']}")
    if result["target"] == "servicecatalog":
        print(
            f"portfolio {result['portfolio_id']}  product {result['product_id']}  "
            f"provisioning artifact {result['provisioning_artifact_id']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
