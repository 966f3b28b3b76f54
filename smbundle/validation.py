"""Checks of command-line values, made before anything is read or written, with AWS's own rules.

Every check raises :class:`UsageError` with one line that says what is wrong and how to fix it; the scripts turn
it into exit code 2. Names follow the rules AWS applies (S3 bucket names, SageMaker project and domain ids,
Service Catalog ids, IAM ARNs), so a value AWS would reject is rejected here, not half way through a run.
"""

from __future__ import annotations

import functools
import math
import os
import re
from pathlib import Path
from urllib.parse import urlparse

COMMERCIAL_PARTITION = "aws"


class UsageError(ValueError):
    """A command-line value that cannot work; the message is one line with the fix."""


# -- regions and endpoints --------------------------------------------------------------------------------------
@functools.cache
def commercial_regions() -> tuple[str, ...]:
    """The commercial Regions this botocore knows SageMaker in (its bundled endpoint data: offline, and without
    reading any profile, so a missing AWS_PROFILE cannot break the check). Read once per process: every command
    checks its --region with it."""
    from botocore.loaders import create_loader
    from botocore.regions import EndpointResolver

    resolver = EndpointResolver(create_loader().load_data("endpoints"))
    # "api.sagemaker" is the endpoint prefix of the sagemaker service in that data.
    return tuple(resolver.get_available_endpoints("api.sagemaker", partition_name=COMMERCIAL_PARTITION))


def region(value: str | None, flag: str = "--region", *, required: bool = True) -> str | None:
    if not value:
        if required:
            raise UsageError(
                f"no AWS Region: pass {flag} or set AWS_REGION (for example AWS_REGION=us-east-1)"
            )
        return None
    known = commercial_regions()
    if value not in known:
        kind = (
            "is not a commercial AWS Region"
            if value.startswith(("cn-", "us-gov-", "us-iso"))
            else "is not an AWS Region with SageMaker"
        )
        raise UsageError(
            f"{flag} {value} {kind}: use one like us-east-1 or eu-west-1 ({len(known)} known to this boto3; "
            "upgrade boto3 if the Region is new)"
        )
    return value


def endpoint_url(value: str | None, source: str = "--endpoint-url") -> str | None:
    """Syntax only (scheme, host, port); whether something answers there is checked by the caller."""
    if value is None:
        return None
    parsed = urlparse(value)
    try:
        port = parsed.port
    except ValueError:
        port = -1
    if parsed.scheme not in ("http", "https") or not parsed.hostname or port == -1:
        raise UsageError(
            f"{source} {value!r} is not an endpoint URL: give http://HOST:PORT "
            "(scripts/local_aws.py prints the one of the embedded AWS)"
        )
    return value


def port(value: int) -> int:
    if not 0 <= value <= 65535:
        raise UsageError(f"--port must be between 1 and 65535 (0 picks a free one), got {value}")
    return value


# -- names AWS would reject -----------------------------------------------------------------------------------
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def bucket_name_problem(name: str) -> str | None:
    """Why S3 would reject ``name`` as a general purpose bucket name (None when it is valid)."""
    if not 3 <= len(name) <= 63:
        return "must be 3 to 63 characters long"
    if not _BUCKET.match(name):
        return "may contain only lowercase letters, digits, dots and hyphens, and must begin and end with a letter or digit"
    if ".." in name or ".-" in name or "-." in name:
        return "must not contain two adjacent periods or a period next to a hyphen"
    if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", name):
        return "must not be formatted as an IP address"
    if name.startswith(_BUCKET_PREFIXES) or name.endswith(_BUCKET_SUFFIXES):
        return "uses a prefix or suffix S3 reserves"
    return None


def bucket_name(value: str, flag: str = "--bucket") -> str:
    problem = bucket_name_problem(value)
    if problem:
        raise UsageError(f"{flag} {value!r} is not a valid S3 bucket name: it {problem}")
    return value


# SageMaker's ProjectName pattern, which the product template's parameter uses too (a leading digit is allowed).
_PROJECT_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}$")


def project_name(value: str, flag: str = "--project-name") -> str:
    """A SageMaker project name (what the product template accepts too)."""
    if not _PROJECT_NAME.match(value or ""):
        raise UsageError(
            f"{flag} {value!r} is not a valid SageMaker project name: 1 to 32 letters, digits and hyphens, "
            "starting with a letter or digit, not ending with a hyphen"
        )
    return value


_DOMAIN_ID = re.compile(r"^d-(-*[a-z0-9]){1,61}$")


def domain_id(value: str, flag: str = "--domain-id") -> str:
    if not _DOMAIN_ID.match(value):
        raise UsageError(
            f"{flag} {value!r} is not a SageMaker domain id (d-xxxxxxxxxxxx): see aws sagemaker list-domains"
        )
    return value


_SERVICE_CATALOG_ID = re.compile(r"^[a-zA-Z0-9_-]{1,100}$")


def portfolio_id(value: str, flag: str = "--portfolio-id") -> str:
    if not _SERVICE_CATALOG_ID.match(value):
        raise UsageError(
            f"{flag} {value!r} is not a Service Catalog portfolio id (port-xxxxxxxxxxxxx): "
            "see aws servicecatalog list-portfolios"
        )
    return value


_IAM_ARN = re.compile(r"^arn:aws:iam::(\d{12}):(role|user|group)/([\w+=,.@/-]+)$")


def iam_arn(value: str, flag: str, kinds: tuple[str, ...] = ("role", "user", "group")) -> str:
    match = _IAM_ARN.match(value)
    if not match or match.group(2) not in kinds:
        example = "arn:aws:iam::111122223333:role/service-role/NAME"
        raise UsageError(f"{flag} {value!r} is not an IAM {' or '.join(kinds)} ARN (like {example})")
    return value


def text(value: str, flag: str, maximum: int) -> str:
    if not value or not value.strip():
        raise UsageError(f"{flag} must not be empty")
    if len(value) > maximum:
        raise UsageError(f"{flag} is {len(value)} characters long; AWS allows at most {maximum}")
    return value


def email(value: str, flag: str = "--support-email") -> str:
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
        raise UsageError(f"{flag} {value!r} is not an e-mail address")
    return value


def url(value: str, flag: str) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise UsageError(f"{flag} {value!r} is not an http(s) URL")
    return value


# -- numbers --------------------------------------------------------------------------------------------------
def number(value: float | None, flag: str, *, positive: bool = False) -> float | None:
    """Finite and not negative (or strictly positive)."""
    if value is None:
        return None
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        kind = "positive" if positive else "zero or positive"
        raise UsageError(f"{flag} must be a finite {kind} number, got {value:g}")
    return value


# -- files ----------------------------------------------------------------------------------------------------
def output_file(path: Path, flag: str, *, create_parents: bool = False) -> Path:
    """A file we are going to write: not a directory, somewhere we can write to."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{flag} {path} is a directory; give a file name")
    if not create_parents and not path.parent.is_dir():
        raise UsageError(f"{flag} {path}: directory {path.parent} does not exist")
    _writable_ancestor(path.parent, flag, path)
    if path.exists() and not os.access(path, os.W_OK):
        raise UsageError(f"{flag} {path} is not writable; choose another file")
    return path


def output_directory(path: Path, flag: str) -> Path:
    """A directory we are going to create or fill."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{flag} {path} exists and is not a directory")
    _writable_ancestor(path, flag, path)
    return path


def input_file(path: Path, flag: str) -> Path:
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{flag} {path} is a directory; give a file")
    if not path.is_file():
        raise UsageError(f"{flag} {path} does not exist")
    if not os.access(path, os.R_OK):
        raise UsageError(f"{flag} {path} is not readable")
    return path


def _writable_ancestor(directory: Path, flag: str, path: Path) -> None:
    """The nearest existing ancestor of ``directory`` must be a directory we may write in."""
    ancestor = Path(os.path.abspath(directory))
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UsageError(f"{flag} {path}: {ancestor} is not a directory")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {path}: cannot write in {ancestor}; choose a writable location")


# -- the embedded runtime's environment ---------------------------------------------------------------------------
# The staging test's load phase on the embedded AWS, in seconds, instead of the local default (docs/local.md).
LOAD_DURATION_VARIABLE = "SMBUNDLE_LOAD_DURATION_SECONDS"


def load_duration_problem(raw: str | None) -> str | None:
    """Why a value of SMBUNDLE_LOAD_DURATION_SECONDS cannot be used (None: unset, or a positive number)."""
    if raw in (None, ""):
        return None
    try:
        value = float(raw)
    except ValueError:
        return f"{LOAD_DURATION_VARIABLE}={raw!r} is not a number"
    if not 0 < value < float("inf"):
        return f"{LOAD_DURATION_VARIABLE}={raw!r} must be a positive number of seconds"
    return None


def runtime_settings(environ=os.environ) -> None:
    """The cold-start variables of the embedded serverless runtime, the staging test's load-phase duration and the
    switch of the builds' warm Python (docs/local.md), checked before it starts."""
    from smbundle.local.codebuild import warm_python
    from smbundle.local.sagemaker import cold_starts

    problem = load_duration_problem(environ.get(LOAD_DURATION_VARIABLE))
    if problem:
        raise UsageError(f"{problem} (the staging test's load phase on the embedded AWS; see docs/local.md)")
    problem = warm_python.switch_problem(environ)
    if problem:
        raise UsageError(f"{problem} (whether local build commands start warm; see docs/local.md)")

    try:
        cold_starts.check(environ)
    except cold_starts.BadSetting as exc:
        raise UsageError(f"{exc} (a cold-start setting of the embedded runtime; see docs/local.md)") from None
    from smbundle.local import time_scale

    problem = time_scale.problem(environ.get(time_scale.VARIABLE))
    if problem:
        raise UsageError(f"{problem} (how fast AWS's periods run on the embedded AWS; see docs/local.md)")
