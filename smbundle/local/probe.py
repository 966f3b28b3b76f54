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
