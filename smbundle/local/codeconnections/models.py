"""Connections, per account and Region, and their tags; the rules the service models state.

Every error code is one of the service model's error shapes; values are checked against the model's constraints
(``ProviderType``'s enum, ``ConnectionName``'s length, ``MaxResults``'s range, at most 200 tags), which botocore does
not check on the client.
"""

from __future__ import annotations

import base64
import binascii
import itertools
from dataclasses import dataclass, field

from moto.core.base_backend import BackendDict, BaseBackend
from moto.core.exceptions import ServiceException
from moto.core.utils import get_service_model
from moto.moto_api._internal import mock_random

# The service's two names (botocore's): the one a request is made with names the ARN of what it creates.
SERVICE_NAMES = ("codeconnections", "codestar-connections")
PENDING = "PENDING"  # a connection made through the API; only the console's handshake makes it AVAILABLE
MAX_TAGS = 200
DEFAULT_PAGE = 100  # MaxResults' maximum in the model


class ResourceNotFoundException(ServiceException):
    code = "ResourceNotFoundException"


class ResourceUnavailableException(ServiceException):
    code = "ResourceUnavailableException"


class InvalidInputException(ServiceException):
    code = "InvalidInputException"


class UnsupportedProviderTypeException(ServiceException):
    code = "UnsupportedProviderTypeException"


class LimitExceededException(ServiceException):
    code = "LimitExceededException"


def shape(service: str, name: str):
    return get_service_model(service).shape_for(name)


def provider_types(service: str) -> list[str]:
    """The ProviderType values of ``service``'s model (codestar-connections' lacks the newer ones)."""
    return list(shape(service, "ProviderType").enum)


def _check_provider_type(service: str, value: str | None, member: str) -> None:
    if value is not None and value not in provider_types(service):
        raise UnsupportedProviderTypeException(
            f"Value '{value}' at '{member}' failed to satisfy constraint: Member must satisfy enum value set: "
            f"[{', '.join(provider_types(service))}]"
        )


def _check_length(service: str, shape_name: str, value: str, member: str) -> None:
    metadata = shape(service, shape_name).metadata
    if not metadata.get("min", 0) <= len(value) <= metadata.get("max", len(value)):
        raise InvalidInputException(
            f"Value '{value}' at '{member}' failed to satisfy constraint: Member must have length between "
            f"{metadata.get('min', 0)} and {metadata['max']}"
        )


def _tag_dict(tags: list[dict] | None, service: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for tag in tags or []:
        key, value = str(tag.get("Key", "")), str(tag.get("Value", ""))
        _check_length(service, "TagKey", key, "tags.member.key")
        _check_length(service, "TagValue", value, "tags.member.value")
        found[key] = value
    return found


@dataclass
class Connection:
    arn: str
    name: str
    owner_account_id: str
    provider_type: str | None
    host_arn: str | None = None
    provider_endpoint: str | None = None
    status: str = PENDING
    tags: dict[str, str] = field(default_factory=dict)
    sequence: int = 0  # the order of creation, which ListConnections' pages follow

    def describe(self) -> dict:
        """The model's ``Connection`` (the serializer leaves out what a service's model lacks, ProviderEndpoint in
        codestar-connections')."""
        return {
            "ConnectionName": self.name,
            "ConnectionArn": self.arn,
            "ProviderType": self.provider_type,
            "OwnerAccountId": self.owner_account_id,
            "ConnectionStatus": self.status,
            "HostArn": self.host_arn,
            "ProviderEndpoint": self.provider_endpoint,
        }


class CodeConnectionsBackend(BaseBackend):
    def __init__(self, region_name: str, account_id: str):
        super().__init__(region_name, account_id)
        self.connections: dict[str, Connection] = {}
        self._sequence = itertools.count(1)

    # -- connections ----------------------------------------------------------------------------------------
    def create_connection(
        self,
        service: str,
        name: str,
        provider_type: str | None,
        host_arn: str | None,
        provider_endpoint: str | None,
        tags: list[dict] | None,
    ) -> Connection:
        _check_length(service, "ConnectionName", name, "connectionName")
        _check_provider_type(service, provider_type, "providerType")
        if host_arn:
            # The embedded AWS serves no hosts (CreateHost): no host ARN names one.
            raise ResourceUnavailableException(
                f"Host {host_arn} not found. Verify the ARN for the host resource and try again."
            )
        if provider_type is None:
            raise InvalidInputException("You must specify either a ProviderType or a HostArn.")
        if (provider_type == "GitHubEnterpriseCloudDataResidency") != bool(provider_endpoint):
            raise InvalidInputException(
                "ProviderEndpoint is required for the ProviderType GitHubEnterpriseCloudDataResidency, and only "
                "for it."
            )
        tag_map = _tag_dict(tags, service)
        if len(tag_map) > MAX_TAGS:
            raise LimitExceededException(f"A resource can have at most {MAX_TAGS} tags.")
        arn = f"arn:{self.partition}:{service}:{self.region_name}:{self.account_id}:connection/{mock_random.uuid4()}"
        connection = Connection(
            arn=arn,
            name=name,
            owner_account_id=self.account_id,
            provider_type=provider_type,
            provider_endpoint=provider_endpoint or None,
            tags=tag_map,
            sequence=next(self._sequence),
        )
        self.connections[arn] = connection
        return connection

    def get_connection(self, arn: str) -> Connection:
        connection = self.connections.get(arn)
        if connection is None:
            raise ResourceNotFoundException(
                f"Connection {arn} not found. Verify the connection resource ARN and try again."
            )
        return connection

    def list_connections(
        self,
        service: str,
        provider_type: str | None,
        host_arn: str | None,
        max_results: int | None,
        next_token: str | None,
    ) -> tuple[list[Connection], str | None]:
        _check_provider_type(service, provider_type, "providerTypeFilter")
        page_size = max_results or DEFAULT_PAGE
        if not 0 <= page_size <= DEFAULT_PAGE:
            raise InvalidInputException(
                f"Value '{max_results}' at 'maxResults' failed to satisfy constraint: Member must have value "
                f"less than or equal to {DEFAULT_PAGE}"
            )
        start = _decode_token(next_token) if next_token else 0
        matching = [
            c
            for c in sorted(self.connections.values(), key=lambda c: c.sequence)
            if c.sequence >= start
            and (provider_type is None or c.provider_type == provider_type)
            and (host_arn is None or c.host_arn == host_arn)
        ]
        page, rest = matching[:page_size], matching[page_size:]
        return page, (_encode_token(rest[0].sequence) if rest else None)

    def delete_connection(self, arn: str) -> None:
        self.get_connection(arn)
        del self.connections[arn]

    # -- tags -----------------------------------------------------------------------------------------------
    def _resource(self, arn: str) -> Connection:
        """The tagged resource: a connection (hosts and repository links are not served)."""
        connection = self.connections.get(arn)
        if connection is None:
            raise ResourceNotFoundException(
                f"Resource {arn} not found. Verify the resource ARN and try again."
            )
        return connection

    def tag_resource(self, service: str, arn: str, tags: list[dict]) -> None:
        resource = self._resource(arn)
        tag_map = _tag_dict(tags, service)
        if len({**resource.tags, **tag_map}) > MAX_TAGS:
            raise LimitExceededException(f"A resource can have at most {MAX_TAGS} tags.")
        resource.tags.update(tag_map)

    def untag_resource(self, arn: str, keys: list[str]) -> None:
        resource = self._resource(arn)
        for key in keys:
            resource.tags.pop(key, None)

    def list_tags_for_resource(self, arn: str) -> dict[str, str]:
        return dict(self._resource(arn).tags)


def _encode_token(sequence: int) -> str:
    return base64.urlsafe_b64encode(f"connection:{sequence}".encode()).decode()


def _decode_token(token: str) -> int:
    try:
        kind, _, sequence = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if kind == "connection" and sequence.isdigit():
            return int(sequence)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise InvalidInputException(f"Invalid NextToken: {token}")


def backend(account_id: str, region: str) -> CodeConnectionsBackend:
    return codeconnections_backends[account_id][region]


def connection_tags(account_id: str, region: str, arn: str) -> dict[str, str] | None:
    """The tags of the connection ``arn`` (None when there is none): what ``aws:ResourceTag/...`` reads."""
    connection = backend(account_id, region).connections.get(arn)
    return dict(connection.tags) if connection is not None else None


# Regions: botocore's endpoint data lists codestar-connections' (it lists none for codeconnections).
codeconnections_backends = BackendDict(CodeConnectionsBackend, "codestar-connections")
