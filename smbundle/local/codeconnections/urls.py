"""CodeConnections' URLs, under both of its names (moto's server reaches them through ``service.py``)."""

from __future__ import annotations

from typing import Any

from smbundle.local.codeconnections.responses import CodeConnectionsResponse

url_bases = [
    r"https?://codeconnections\.(.+)\.amazonaws\.com",
    r"https?://codestar-connections\.(.+)\.amazonaws\.com",
]


def rpc_v2_cbor(request: Any, full_url: str, headers: Any) -> Any:
    """codeconnections' model also lists the smithy-rpc-v2-cbor protocol (``POST /service/<service>/operation/
    <operation>``), which moto cannot parse: an unknown operation (the embedded AWS's answer to what it does not
    serve), never an HTML page. botocore speaks JSON to it."""
    raise NotImplementedError("the smithy-rpc-v2-cbor protocol is not served for CodeConnections (JSON is)")


url_paths = {
    "{0}/$": CodeConnectionsResponse.dispatch,
    "{0}/service/(?P<service>[^/]+)/operation/(?P<operation>[^/]+)$": rpc_v2_cbor,
}
