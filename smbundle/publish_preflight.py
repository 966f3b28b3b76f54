"""Preflight checks of where the publisher writes: the portfolio it was told to use and the Studio domain of an
S3 template must exist before anything is written (read-only calls; each problem is one line with its fix)."""

from __future__ import annotations

from botocore.exceptions import ClientError

NOT_FOUND = ("ResourceNotFoundException", "ResourceNotFound", "ValidationException", "ValidationError")


def target_problems(publisher) -> list[str]:
    options = publisher.options
    problems = []
    if options.target == "servicecatalog" and options.portfolio_id:
        try:
            found = publisher.client("servicecatalog").describe_portfolio(Id=options.portfolio_id)
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in NOT_FOUND:
                raise
            found = {}
        if not found.get("PortfolioDetail"):
            problems.append(
                f"portfolio {options.portfolio_id} does not exist in {publisher.region}: check the id with aws "
                "servicecatalog list-portfolios, or pass --portfolio-name to find or create one by name"
            )
    if options.target == "s3" and options.domain_id:
        try:
            publisher.client("sagemaker").describe_domain(DomainId=options.domain_id)
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in NOT_FOUND:
                raise
            problems.append(
                f"Studio domain {options.domain_id} does not exist in {publisher.region}: check the id with aws "
                "sagemaker list-domains"
            )
    return problems
