#!/usr/bin/env python3
"""Roll a published version of the product out to the SageMaker projects created from it.

For each project (all of the product's, all of an S3 project template's with --template-url, or each --project-name,
whatever it was created from): its current version and the target (for a Service Catalog project --to-version,
default the product's newest active one; for an S3-template project the template now at its TemplateURL, or at
--template-url), then a preview of the update: the CloudFormation change set of the project's stack
for the target template with the project's current parameter values (new parameters take their defaults, removed
ones are dropped, --parameter overrides), each change as Add / Modify / Remove and whether it replaces the resource
(and which properties make it). A replacement or deletion of a stateful resource (a repository, the artifact bucket,
a model package group) is flagged. --dry-run stops there. Otherwise each project whose preview loses nothing is
updated (SageMaker UpdateProject), all at once, and each is reported when it finishes; the others are skipped with
the reason unless --allow-replacement. Exit code 1 when an update failed, 2 when the command line is wrong.
Honours AWS_PROFILE, AWS_REGION and AWS_ENDPOINT_URL (e.g. the embedded AWS of scripts/local_aws.py).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from smbundle import cli, validation  # noqa: E402
from smbundle.project_updates import (  # noqa: E402
    ProjectPlan,
    ResourceChange,
    RolloutError,
    RolloutOptions,
    RolloutReport,
    roll_out,
)
from smbundle.publish import DEFAULT_PRODUCT_NAME  # noqa: E402

_VERSION = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
_TEMPLATE_URL = re.compile(r"^https://[^/\s]+/\S+$")  # SageMaker's CfnTemplateURL: (https)://([^/]+)/(.+)


def parse_args(argv=None) -> argparse.Namespace:
    parser = cli.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--project-name",
        action="append",
        default=[],
        help="a project to update (repeatable; default: every project of the product, or of --template-url); "
        "its product or template is found from the project",
    )
    parser.add_argument(
        "--to-version", help="version label (v-...) or provisioning artifact id (default: the newest active)"
    )
    parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set a template parameter for every project updated (repeatable)",
    )
    parser.add_argument(
        "--product-name",
        help=f"the Service Catalog product (default: the named projects' own, or {DEFAULT_PRODUCT_NAME!r})",
    )
    parser.add_argument(
        "--template-url",
        help="an S3 project template (https://<bucket>.s3.<region>.amazonaws.com/<key>) to update S3-template "
        "projects to; without --project-name, every project created from it (default: each project's own "
        "TemplateURL, as it is now)",
    )
    parser.add_argument("--dry-run", action="store_true", help="preview only; update nothing")
    parser.add_argument(
        "--allow-replacement",
        action="store_true",
        help="update even when a repository, the artifact bucket or a model package group is replaced or deleted",
    )
    parser.add_argument(
        "--wait-seconds",
        type=float,
        default=3600,
        help="how long to wait for the updates (default %(default)s)",
    )
    parser.add_argument(
        "--region", default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    )
    parser.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL"))
    parser.add_argument("--profile", default=os.environ.get("AWS_PROFILE"))
    parser.add_argument("--json", action="store_true", help="print the report as JSON (progress on stderr)")
    return parser.parse_args(argv)


def parameters(values: list[str]) -> dict[str, str]:
    parsed = {}
    for value in values:
        key, equals, setting = value.partition("=")
        if not equals or not key.strip():
            raise validation.UsageError(
                f"--parameter {value!r} is not KEY=VALUE (e.g. StagingMaxConcurrency=50)"
            )
        parsed[key.strip()] = setting
    return parsed


def check_args(args: argparse.Namespace) -> RolloutOptions:
    """Values that cannot work, before anything is read or written (exit 2)."""
    for name in args.project_name:
        validation.project_name(name)
    if args.to_version is not None and not _VERSION.fullmatch(args.to_version):
        raise validation.UsageError(
            f"--to-version {args.to_version!r} is not a version label (v-...) or a provisioning artifact id (pa-...)"
        )
    if args.product_name is not None:
        validation.text(args.product_name, "--product-name", 8191)
    if args.template_url is not None and not (
        _TEMPLATE_URL.fullmatch(args.template_url) and len(args.template_url) <= 1024
    ):
        raise validation.UsageError(
            f"--template-url {args.template_url!r} is not an HTTPS URL of an S3 object "
            "(https://<bucket>.s3.<region>.amazonaws.com/<key>)"
        )
    if args.wait_seconds <= 0:
        raise validation.UsageError(f"--wait-seconds must be positive, got {args.wait_seconds:g}")
    validation.region(args.region, required=False)
    validation.endpoint_url(args.endpoint_url, cli.endpoint_source(args.endpoint_url))
    return RolloutOptions(
        product_name=args.product_name,
        project_names=args.project_name,
        to_version=args.to_version,
        template_url=args.template_url,
        parameters=parameters(args.parameter),
        dry_run=args.dry_run,
        allow_replacement=args.allow_replacement,
        wait_seconds=args.wait_seconds,
        region=args.region,
        endpoint_url=args.endpoint_url,
        profile=args.profile,
    )


# -- what is printed as it goes -------------------------------------------------------------------------------
def change_line(change: ResourceChange) -> str:
    return change.line()


def parameter_line(plan: ProjectPlan) -> str | None:
    parameters = plan.parameters
    if parameters is None:
        return None
    parts = [f"{len(parameters.kept)} kept"]
    if parameters.added:
        parts.append(
            "new, with their defaults: " + ", ".join(f"{k}={v}" for k, v in parameters.added.items())
        )
    if parameters.dropped:
        parts.append("dropped: " + ", ".join(parameters.dropped))
    if parameters.overridden:
        parts.append("set: " + ", ".join(f"{k}={v}" for k, v in parameters.overridden.items()))
    return "  parameters: " + "; ".join(parts)


def progress_lines(event: str, report: RolloutReport, plan: ProjectPlan | None) -> list[str]:
    if event == "target":
        lines = []
        if report.product_id is not None:
            newest = ", the newest active version" if report.target_is_newest else ""
            projects = report.planned - sum(t.projects for t in report.templates)
            lines.append(
                f"product {report.product_name!r} ({report.product_id}): target {report.target_version} "
                f"({report.target_artifact_id}{newest}); {projects} project(s)"
            )
        lines += [f"template {t.url}: target {t.version}; {t.projects} project(s)" for t in report.templates]
        return lines
    if event == "preview":
        if plan.outcome == "up to date":
            return [f"{plan.name} ({plan.project_id}): already on {plan.current_version}, nothing to do"]
        lines = [f"{plan.name} ({plan.project_id}): {plan.current_version} -> {plan.target_version}"]
        if plan.current_template_url != plan.target_template_url:
            lines.append(f"  template: {plan.current_template_url} -> {plan.target_template_url}")
        lines += [change_line(change) for change in plan.changes] or ["  no resource changes"]
        lines += [line for line in [parameter_line(plan)] if line]
        if report.dry_run:
            lines.append(f"  would skip: {plan.reason}" if plan.reason else "  would update")
        return lines
    if event == "skipped":
        head = [] if plan.changes or plan.parameters else [f"{plan.name} ({plan.project_id}):"]
        return [*head, f"  skipped: {plan.reason}"]
    if event == "updating":
        return [f"  updating: UpdateProject to {plan.target_version} started"]
    if event == "finished":
        if plan.outcome == "updated":
            return [
                f"{plan.name}: updated to {plan.current_version} in {plan.seconds:.1f} s "
                f"(project {plan.project_status}, stack {plan.stack_status})"
            ]
        return [f"{plan.name}: FAILED: {plan.reason}"]
    return []


def summary_line(report: RolloutReport) -> str:
    counts = report.counts()
    if report.dry_run:
        previewed = counts.get("previewed", 0)
        would_skip = sum(1 for p in report.projects if p.outcome == "previewed" and p.reason)
        parts = [
            f"{previewed - would_skip} would be updated",
            f"{would_skip + counts.get('skipped', 0)} would be skipped",
            f"{counts.get('up to date', 0)} up to date",
            f"{counts.get('failed', 0)} failed",
        ]
        return "dry run: " + ", ".join(parts) + "; nothing was changed"
    order = ("updated", "skipped", "failed", "up to date")
    return "summary: " + ", ".join(f"{counts.get(name, 0)} {name}" for name in order)


def main(argv=None) -> int:
    args = parse_args(argv)
    return cli.run(lambda: run(args), endpoint_url=args.endpoint_url)


def run(args: argparse.Namespace) -> int:
    options = check_args(args)
    session = cli.aws_session(args.profile, args.region)
    options.region = session.region_name
    # Progress as it goes (on stderr with --json, whose stdout is the report).
    show = cli.progress if args.json else (lambda text: print(text, flush=True))

    def progress(event: str, report: RolloutReport, plan: ProjectPlan | None) -> None:
        for line in progress_lines(event, report, plan):
            show(line)

    try:
        report = roll_out(options, session=session, progress=progress)
    except RolloutError as exc:
        raise cli.Failure(str(exc)) from None
    show(summary_line(report))
    if args.json:
        print(json.dumps(report.as_dict(), indent=2, default=str))
    return cli.EXIT_FAILURE if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
