"""Is there an embedded AWS at a URL? Asked once, quickly, before a local run relies on it."""

from __future__ import annotations

import urllib.error
import urllib.request

from smbundle.cli import Failure, unreachable_hint


def check_embedded(url: str, source: str, timeout_s: float = 5.0) -> None:
    """Raise Failure unless ``url`` answers as a moto server (the embedded AWS of scripts/local_aws.py)."""
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/moto-api/config", timeout=timeout_s) as answer:
            answer.read(1)
    except urllib.error.HTTPError as exc:
        raise Failure(
            f"{url} ({source}) answered HTTP {exc.code} but is not an embedded AWS: run_local.py only runs "
            "against scripts/local_aws.py (or without an endpoint, on its own embedded AWS)"
        ) from None
    except (urllib.error.URLError, OSError, ValueError):
        raise Failure(unreachable_hint(url, source)) from None


def export_line(url: str, region: str) -> str:
    """What to export for the AWS CLI (v1 reads only AWS_DEFAULT_REGION) and boto3; the keys can be anything."""
    return (
        f"export AWS_ENDPOINT_URL={url} AWS_REGION={region} AWS_DEFAULT_REGION={region} "
        "AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing"
    )


def check_project_name_free(url: str, region: str, project_name: str) -> None:
    """A kept-running embedded AWS may hold a project of that name from an earlier run: say so before starting."""
    import boto3
    from botocore.exceptions import ClientError

    sagemaker = boto3.session.Session(region_name=region).client("sagemaker", endpoint_url=url)
    try:
        sagemaker.describe_project(ProjectName=project_name)
    except ClientError:
        return
    raise Failure(
        f"project {project_name} already exists on the embedded AWS at {url}: pass another --project-name, "
        f"or delete it first with scripts/delete_project.py --project-name {project_name}"
    )
