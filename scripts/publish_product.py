#!/usr/bin/env python3
"""Publish (or update) the SageMaker project template: seed code and template to S3, then a Service Catalog
product tagged for Studio with one provisioning artifact per content version, or an S3 project template.

Safe to re-run: everything is find-or-create, and a new version is added only when the content changed.
Each write is printed as it happens, so a failure shows what was already written.
Honours AWS_PROFILE, AWS_REGION and AWS_ENDPOINT_URL (e.g. the embedded AWS of scripts/local_aws.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from smbundle import cli, validation  # noqa: E402
from smbundle.publish import (  # noqa: E402
    DEFAULT_PORTFOLIO_NAME,
    DEFAULT_PRODUCT_NAME,
    PublishError,
    PublishOptions,
    publish,
    slug,
)

REPO_ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv=None) -> argparse.Namespace:
    parser = cli.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--target",
        choices=["servicecatalog", "s3"],
        default="servicecatalog",
        help="Service Catalog product (default) or SageMaker S3 project template",
    )
    parser.add_argument("--product-name", default=DEFAULT_PRODUCT_NAME, help="default: %(default)s")
    portfolio = parser.add_mutually_exclusive_group()
    portfolio.add_argument("--portfolio-id", help="use this existing portfolio")
    portfolio.add_argument(
        "--portfolio-name", help=f"find or create by name (default: {DEFAULT_PORTFOLIO_NAME})"
    )
    parser.add_argument(
        "--bucket", help="bucket for template and seed code (default: one named from account and region)"
    )
    parser.add_argument(
        "--principal-arn",
        action="append",
        default=[],
        help="Studio execution role to grant the portfolio to (repeatable); with --target s3, a Studio role whose "
        "permissions to create projects from the template are checked",
    )
    parser.add_argument(
        "--launch-role-arn",
        help="launch constraint role (default: service-role/AmazonSageMakerServiceCatalogProductsLaunchRole); with "
        "--target s3: the RoleARN projects are created with, a role that trusts cloudformation.amazonaws.com (the "
        "managed launch role does not; --roles custom gives one)",
    )
    parser.add_argument(
        "--roles",
        choices=["managed", "custom"],
        default="managed",
        help="managed (default): the roles SageMaker creates when projects are enabled; custom: deploy or update "
        "the product's own roles stack (service_catalog/roles.yaml, change-set preview) and publish with its "
        "launch role and its roles as the role parameters' defaults (docs/publish.md, Custom roles)",
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
    return parser.parse_args(argv)


def check_args(args: argparse.Namespace) -> None:
    """Values AWS would reject, and flags that would be ignored, before anything is read or written (exit 2)."""
    validation.text(args.product_name, "--product-name", 8191)
    if not slug(args.product_name):
        raise validation.UsageError(
            "--product-name needs at least one letter or digit (it names the S3 prefix)"
        )
    if args.portfolio_name is not None:
        validation.text(args.portfolio_name, "--portfolio-name", 100)
    if args.portfolio_id is not None:
        validation.portfolio_id(args.portfolio_id)
    if args.bucket is not None:
        validation.bucket_name(args.bucket)
    for arn in args.principal_arn:
        validation.iam_arn(arn, "--principal-arn")
    if args.launch_role_arn is not None:
        validation.iam_arn(args.launch_role_arn, "--launch-role-arn", kinds=("role",))
    if args.roles == "custom" and args.launch_role_arn is not None:
        raise validation.UsageError(
            "--launch-role-arn and --roles custom both choose the launch role (custom: the roles stack's); drop one"
        )
    if args.keep_versions is not None and args.keep_versions < 1:
        raise validation.UsageError(f"--keep-versions must be at least 1, got {args.keep_versions}")
    validation.text(args.owner, "--owner", 8191)
    if args.support_email is not None:
        validation.email(args.support_email)
    if args.support_url is not None:
        validation.url(args.support_url, "--support-url")
    if args.target == "s3":
        if not args.domain_id:
            raise validation.UsageError("--target s3 needs --domain-id (see aws sagemaker list-domains)")
        validation.domain_id(args.domain_id)
        for flag in ("portfolio_id", "portfolio_name", "keep_versions"):
            if getattr(args, flag) is not None:
                raise validation.UsageError(
                    f"--{flag.replace('_', '-')} applies to --target servicecatalog only; drop it with --target s3"
                )
    elif args.domain_id is not None:
        raise validation.UsageError(
            "--domain-id applies to --target s3 only (a Service Catalog product is found through its portfolio); "
            "add --target s3 or drop --domain-id"
        )
    validation.region(args.region, required=False)
    validation.endpoint_url(args.endpoint_url, cli.endpoint_source(args.endpoint_url))


def main(argv=None) -> int:
    args = parse_args(argv)
    return cli.run(lambda: run(args), endpoint_url=args.endpoint_url)


def run(args: argparse.Namespace) -> int:
    check_args(args)
    session = cli.aws_session(args.profile, args.region)
    region = session.region_name
    options = PublishOptions(
        repo_root=REPO_ROOT,
        product_name=args.product_name,
        portfolio_name=args.portfolio_name or DEFAULT_PORTFOLIO_NAME,
        portfolio_id=args.portfolio_id,
        bucket=args.bucket,
        principal_arns=args.principal_arn,
        launch_role_arn=args.launch_role_arn,
        keep_versions=args.keep_versions,
        target=args.target,
        domain_id=args.domain_id,
        region=region,
        endpoint_url=args.endpoint_url,
        profile=args.profile,
        dry_run=args.dry_run,
        skip_permission_check=args.skip_permission_check,
        roles=args.roles,
        owner=args.owner,
        support_email=args.support_email,
        support_url=args.support_url,
    )
    # Each write is reported as soon as it is done (on stderr with --json, whose stdout is the result).
    show = cli.progress if args.json else (lambda text: print(text, flush=True))
    try:
        result = publish(options, session=session, progress=lambda step: show(f"did: {step}"), say=show)
    except PublishError as exc:
        for warning in getattr(exc, "warnings", []):
            cli.warning(warning)
        raise cli.Failure(str(exc)) from None
    for warning in result["warnings"]:
        cli.warning(warning)
    if args.json:
        print(json.dumps(result, indent=2, default=str))
        return 0
    if args.dry_run:
        for step in result["plan"]:
            print(f"would: {step}")
    if not result["plan"]:
        print(f"up to date: version {result['version']} is already published")
    print(f"version {result['version']}  template {result['template_url']}")
    if isinstance(result.get("roles"), dict):
        roles = result["roles"]
        print(
            f"roles: stack {roles['stack_name']} in {roles['region']} {roles['status']}; launch role {roles['role_arns']['LaunchRoleArn']}"
        )
    if result["target"] == "servicecatalog":
        print(
            f"portfolio {result['portfolio_id']}  product {result['product_id']}  "
            f"provisioning artifact {result['provisioning_artifact_id']}"
        )
        print(
            f"existing projects stay on their version; preview their update: {result['rollout']['preview']}"
        )
        print(f"then update them: {result['rollout']['update']}")
    else:
        role = result.get("launch_role_arn")
        print(
            f"S3 project template {result['template_name']!r} in {result['templates_location']}; projects are created "
            + (
                f"with RoleARN {role}"
                if role
                else "without a RoleARN (as their creator: see docs/publish.md)"
            )
        )
        print(f"existing projects keep their stack; preview their update: {result['rollout']['preview']}")
        print(f"then update them: {result['rollout']['update']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
