"""CodeConnections' API, in the JSON protocol of whichever of its two names the request was made with.

moto parses the request and serializes the answer from that name's botocore model (``codeconnections`` or
``codestar-connections``), errors included, so shapes and error codes are the model's. botocore speaks JSON to both
(it prefers ``json`` to ``smithy-rpc-v2-cbor``, the other protocol codeconnections' model lists); a CBOR request
answers ``UnknownOperationException`` (``urls.py``).
"""

from __future__ import annotations

from typing import Any

from botocore.model import OperationNotFoundError
from moto.core.responses import ActionResult, BaseResponse

from smbundle.local.codeconnections.models import CodeConnectionsBackend, codeconnections_backends

# X-Amz-Target prefixes (the models' targetPrefix) -> the service's name.
TARGET_PREFIXES = {
    "com.amazonaws.codeconnections.": "codeconnections",
    "com.amazonaws.codestar.connections.": "codestar-connections",
}


def service_of(headers: Any) -> str:
    """Which of the two names a request was made with: by its X-Amz-Target, else its signature's scope."""
    target = headers.get("X-Amz-Target") or ""
    for prefix, service in TARGET_PREFIXES.items():
        if target.startswith(prefix):
            return service
    authorization = headers.get("Authorization") or ""
    if "/codestar-connections/aws4_request" in authorization:
        return "codestar-connections"
    return "codeconnections"


class CodeConnectionsResponse(BaseResponse):
    def __init__(self) -> None:
        super().__init__(service_name="codeconnections")
        self.automated_parameter_parsing = True

    def setup_class(self, request: Any, *args: Any, **kwargs: Any) -> None:
        self.service_name = service_of(request.headers)  # before the parameters are parsed with its model
        super().setup_class(request, *args, **kwargs)

    def parse_parameters(self, request: Any) -> None:
        try:
            super().parse_parameters(request)
        except OperationNotFoundError:  # not an operation of the model: answered as unknown by call_action
            self.params = {}

    def serialized(self, action_result: ActionResult) -> Any:
        # moto takes the content type from the model's first protocol: codeconnections' is CBOR, the body JSON.
        status, headers, body = super().serialized(action_result)
        headers["Content-Type"] = "application/x-amz-json-1.0"  # both models' jsonVersion
        return status, headers, body

    @property
    def backend(self) -> CodeConnectionsBackend:
        if self.region not in codeconnections_backends[self.current_account]:
            raise NotImplementedError(
                f"CodeConnections is not served in {self.region}: botocore's endpoint data does not list it there"
            )
        return codeconnections_backends[self.current_account][self.region]

    def create_connection(self) -> ActionResult:
        connection = self.backend.create_connection(
            self.service_name,
            name=self._get_param("ConnectionName"),
            provider_type=self._get_param("ProviderType"),
            host_arn=self._get_param("HostArn"),
            provider_endpoint=self._get_param("ProviderEndpoint"),
            tags=self._get_param("Tags"),
        )
        result: dict[str, Any] = {"ConnectionArn": connection.arn}
        if connection.tags:
            result["Tags"] = _tag_list(connection.tags)
        return ActionResult(result)

    def get_connection(self) -> ActionResult:
        connection = self.backend.get_connection(self._get_param("ConnectionArn"))
        return ActionResult({"Connection": connection.describe()})

    def list_connections(self) -> ActionResult:
        connections, token = self.backend.list_connections(
            self.service_name,
            provider_type=self._get_param("ProviderTypeFilter"),
            host_arn=self._get_param("HostArnFilter"),
            max_results=self._get_param("MaxResults"),
            next_token=self._get_param("NextToken"),
        )
        return ActionResult({"Connections": [c.describe() for c in connections], "NextToken": token})

    def delete_connection(self) -> ActionResult:
        self.backend.delete_connection(self._get_param("ConnectionArn"))
        return ActionResult({})

    def tag_resource(self) -> ActionResult:
        self.backend.tag_resource(
            self.service_name, self._get_param("ResourceArn"), self._get_param("Tags") or []
        )
        return ActionResult({})

    def untag_resource(self) -> ActionResult:
        self.backend.untag_resource(self._get_param("ResourceArn"), self._get_param("TagKeys") or [])
        return ActionResult({})

    def list_tags_for_resource(self) -> ActionResult:
        tags = self.backend.list_tags_for_resource(self._get_param("ResourceArn"))
        return ActionResult({"Tags": _tag_list(tags)})


def _tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]
