"""The embedded CodeConnections, under both of its names (moto has none): connections stay PENDING, their tags are
what the embedded IAM reads, every request is authorized as the caller, and errors are the service model's."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from smbundle.local import boto_sessions, served, server
from smbundle.local.iam import resource_state, sessions

ACCOUNT = "123456789012"
PIPELINE_ROLE = (
    f"arn:aws:iam::{ACCOUNT}:role/service-role/AmazonSageMakerServiceCatalogProductsCodePipelineRole"
)
SERVICES = ("codeconnections", "codestar-connections")
SERVED = [
    "CreateConnection",
    "DeleteConnection",
    "GetConnection",
    "ListConnections",
    "ListTagsForResource",
    "TagResource",
    "UntagResource",
]


@pytest.fixture(scope="module")
def embedded():
    with server.start() as aws:
        yield aws


def client(embedded, service: str, region: str = "us-east-1"):
    """An administrator's client; a Region of its own keeps a test's connections apart from the others'."""
    return boto_sessions.session(region).client(service, endpoint_url=embedded.url)


def error(raised) -> tuple[str, str, int]:
    response = raised.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def test_a_connection_is_created_pending_and_read_back(embedded):
    connections = client(embedded, "codeconnections")
    created = connections.create_connection(
        ConnectionName="ml-team-github", ProviderType="GitHub", Tags=[{"Key": "sagemaker", "Value": "true"}]
    )
    arn = created["ConnectionArn"]
    assert re.fullmatch(rf"arn:aws:codeconnections:us-east-1:{ACCOUNT}:connection/[0-9a-f-]{{36}}", arn)
    assert created["Tags"] == [{"Key": "sagemaker", "Value": "true"}]
    assert connections.get_connection(ConnectionArn=arn)["Connection"] == {
        "ConnectionName": "ml-team-github",
        "ConnectionArn": arn,
        "ProviderType": "GitHub",
        "OwnerAccountId": ACCOUNT,
        "ConnectionStatus": "PENDING",  # only the console's handshake with the provider makes it AVAILABLE
    }
    untagged = connections.create_connection(ConnectionName="no-tags", ProviderType="Bitbucket")
    assert "Tags" not in untagged


def test_list_filters_by_provider_and_host_and_pages(embedded):
    connections = client(embedded, "codeconnections", region="eu-west-2")
    providers = ["GitHub", "GitLab", "GitHub", "Bitbucket", "GitHub", "AzureDevOps"]
    arns = [
        connections.create_connection(ConnectionName=f"c{i}", ProviderType=p)["ConnectionArn"]
        for i, p in enumerate(providers)
    ]
    listed = connections.list_connections()
    assert [c["ConnectionArn"] for c in listed["Connections"]] == arns
    assert "NextToken" not in listed
    github = connections.list_connections(ProviderTypeFilter="GitHub")["Connections"]
    assert [c["ConnectionArn"] for c in github] == [arns[0], arns[2], arns[4]]
    assert {c["ProviderType"] for c in github} == {"GitHub"}
    host = f"arn:aws:codeconnections:eu-west-2:{ACCOUNT}:host/my-ghes-1234abcd"
    assert connections.list_connections(HostArnFilter=host)["Connections"] == []  # none is on a host

    pages, token, tokens = [], None, []
    while True:
        page = connections.list_connections(MaxResults=4, **({"NextToken": token} if token else {}))
        pages.append([c["ConnectionArn"] for c in page["Connections"]])
        token = page.get("NextToken")
        if not token:
            break
        tokens.append(token)
    assert pages == [arns[:4], arns[4:]]
    first = connections.list_connections(ProviderTypeFilter="GitHub", MaxResults=2)
    assert [c["ConnectionArn"] for c in first["Connections"]] == [arns[0], arns[2]]
    rest = connections.list_connections(
        ProviderTypeFilter="GitHub", MaxResults=2, NextToken=first["NextToken"]
    )
    assert [c["ConnectionArn"] for c in rest["Connections"]] == [arns[4]] and "NextToken" not in rest

    # A token stays good when the connection its page would start with is deleted meanwhile.
    connections.delete_connection(ConnectionArn=arns[4])
    rest = connections.list_connections(MaxResults=4, NextToken=tokens[0])
    assert [c["ConnectionArn"] for c in rest["Connections"]] == [arns[5]]

    with pytest.raises(ClientError) as bad_token:
        connections.list_connections(NextToken="not-a-token")
    assert error(bad_token)[0] == "InvalidInputException"
    with pytest.raises(ClientError) as too_many:
        connections.list_connections(MaxResults=101)
    assert error(too_many)[0] == "InvalidInputException"


def test_tags_are_set_removed_and_read_by_the_embedded_iam(embedded):
    connections = client(embedded, "codeconnections")
    arn = connections.create_connection(
        ConnectionName="tagged", ProviderType="GitLab", Tags=[{"Key": "team", "Value": "ml"}]
    )["ConnectionArn"]
    assert resource_state.resource_tags(arn, "us-east-1") == {"team": "ml"}
    connections.tag_resource(
        ResourceArn=arn, Tags=[{"Key": "sagemaker", "Value": "true"}, {"Key": "team", "Value": "data"}]
    )
    assert connections.list_tags_for_resource(ResourceArn=arn)["Tags"] == [
        {"Key": "team", "Value": "data"},
        {"Key": "sagemaker", "Value": "true"},
    ]
    assert resource_state.resource_tags(arn, "us-east-1") == {"team": "data", "sagemaker": "true"}
    connections.untag_resource(ResourceArn=arn, TagKeys=["team", "absent"])
    assert connections.list_tags_for_resource(ResourceArn=arn)["Tags"] == [
        {"Key": "sagemaker", "Value": "true"}
    ]
    assert resource_state.resource_tags(arn, "us-east-1") == {"sagemaker": "true"}
    connections.delete_connection(ConnectionArn=arn)
    assert resource_state.resource_tags(arn, "us-east-1") is None

    many = [{"Key": f"k{i}", "Value": "v"} for i in range(201)]
    with pytest.raises(ClientError) as limit:
        connections.create_connection(ConnectionName="too-many-tags", ProviderType="GitHub", Tags=many)
    assert error(limit)[0] == "LimitExceededException"


def test_a_deleted_or_unknown_connection_is_not_found(embedded):
    connections = client(embedded, "codeconnections")
    arn = connections.create_connection(ConnectionName="short-lived", ProviderType="GitHub")["ConnectionArn"]
    connections.delete_connection(ConnectionArn=arn)
    unknown = f"arn:aws:codeconnections:us-east-1:{ACCOUNT}:connection/00000000-0000-0000-0000-000000000000"
    calls = [
        lambda a: connections.get_connection(ConnectionArn=a),
        lambda a: connections.delete_connection(ConnectionArn=a),
        lambda a: connections.tag_resource(ResourceArn=a, Tags=[{"Key": "k", "Value": "v"}]),
        lambda a: connections.untag_resource(ResourceArn=a, TagKeys=["k"]),
        lambda a: connections.list_tags_for_resource(ResourceArn=a),
    ]
    for target in (arn, unknown):
        for call in calls:
            with pytest.raises(ClientError) as missing:
                call(target)
            code, message, status = error(missing)
            assert (code, status) == ("ResourceNotFoundException", 404)  # the model's httpStatusCode
            assert target in message
    assert arn not in {c["ConnectionArn"] for c in connections.list_connections()["Connections"]}


def test_invalid_input_answers_the_models_errors(embedded):
    connections = client(embedded, "codeconnections")
    with pytest.raises(ClientError) as bad_provider:
        connections.create_connection(ConnectionName="bad", ProviderType="SourceForge")
    code, message, status = error(bad_provider)
    assert (code, status) == ("UnsupportedProviderTypeException", 400)
    assert "Member must satisfy enum value set: [Bitbucket, GitHub, GitHubEnterpriseServer, GitLab" in message
    assert connections.exceptions.UnsupportedProviderTypeException is type(bad_provider.value)
    with pytest.raises(ClientError) as bad_filter:
        connections.list_connections(ProviderTypeFilter="SourceForge")
    assert error(bad_filter)[0] == "UnsupportedProviderTypeException"
    with pytest.raises(ClientError) as neither:
        connections.create_connection(ConnectionName="neither")
    assert error(neither)[:2] == (
        "InvalidInputException",
        "You must specify either a ProviderType or a HostArn.",
    )
    with pytest.raises(ClientError) as no_host:  # the embedded AWS serves no hosts
        connections.create_connection(
            ConnectionName="on-host", HostArn=f"arn:aws:codeconnections:us-east-1:{ACCOUNT}:host/ghes-1234"
        )
    assert error(no_host)[0] == "ResourceUnavailableException"
    with pytest.raises(ClientError) as long_name:
        connections.create_connection(ConnectionName="x" * 33, ProviderType="GitHub")
    assert error(long_name)[0] == "InvalidInputException"
    with pytest.raises(ClientError) as no_endpoint:
        connections.create_connection(ConnectionName="ghe", ProviderType="GitHubEnterpriseCloudDataResidency")
    assert error(no_endpoint)[0] == "InvalidInputException"
    residency = connections.create_connection(
        ConnectionName="ghe",
        ProviderType="GitHubEnterpriseCloudDataResidency",
        ProviderEndpoint="https://octo.ghe.com",
    )["ConnectionArn"]
    assert connections.get_connection(ConnectionArn=residency)["Connection"]["ProviderEndpoint"] == (
        "https://octo.ghe.com"
    )


def test_the_older_name_serves_the_same_connections(embedded):
    codestar = client(embedded, "codestar-connections", region="ap-south-1")
    codeconnections = client(embedded, "codeconnections", region="ap-south-1")
    old = codestar.create_connection(
        ConnectionName="old-name", ProviderType="Bitbucket", Tags=[{"Key": "team", "Value": "ml"}]
    )["ConnectionArn"]
    assert re.fullmatch(rf"arn:aws:codestar-connections:ap-south-1:{ACCOUNT}:connection/[0-9a-f-]{{36}}", old)
    assert codestar.get_connection(ConnectionArn=old)["Connection"]["ConnectionStatus"] == "PENDING"
    new = codeconnections.create_connection(ConnectionName="new-name", ProviderType="AzureDevOps")[
        "ConnectionArn"
    ]
    assert new.startswith("arn:aws:codeconnections:ap-south-1:")
    # One store: each name lists and reads both, whatever the name a connection was made with.
    for connections in (codestar, codeconnections):
        assert [c["ConnectionArn"] for c in connections.list_connections()["Connections"]] == [old, new]
        assert connections.get_connection(ConnectionArn=new)["Connection"]["ConnectionName"] == "new-name"
    assert [
        c["ConnectionArn"] for c in codestar.list_connections(ProviderTypeFilter="Bitbucket")["Connections"]
    ] == [old]
    codestar.tag_resource(ResourceArn=old, Tags=[{"Key": "sagemaker", "Value": "true"}])
    assert codeconnections.list_tags_for_resource(ResourceArn=old)["Tags"] == [
        {"Key": "team", "Value": "ml"},
        {"Key": "sagemaker", "Value": "true"},
    ]
    assert resource_state.resource_tags(old, "ap-south-1") == {"team": "ml", "sagemaker": "true"}
    codestar.untag_resource(ResourceArn=old, TagKeys=["team"])
    assert codestar.list_tags_for_resource(ResourceArn=old)["Tags"] == [{"Key": "sagemaker", "Value": "true"}]

    with pytest.raises(ClientError) as newer_provider:  # not in codestar-connections' enum
        codestar.create_connection(ConnectionName="azure", ProviderType="AzureDevOps")
    code, message, _ = error(newer_provider)
    assert code == "UnsupportedProviderTypeException"
    assert message.endswith("[Bitbucket, GitHub, GitHubEnterpriseServer, GitLab, GitLabSelfManaged]")
    with pytest.raises(ClientError) as missing:
        codestar.get_connection(ConnectionArn=old.replace("connection/", "connection/0"))
    assert error(missing)[0] == "ResourceNotFoundException"
    assert codestar.exceptions.ResourceNotFoundException is type(missing.value)

    codestar.delete_connection(ConnectionArn=old)
    codeconnections.delete_connection(ConnectionArn=new)
    assert codestar.list_connections()["Connections"] == []


def test_only_the_connection_operations_are_served(embedded):
    assert served.served_operations("codeconnections") == SERVED
    assert served.served_operations("codestar-connections") == SERVED
    for service in SERVICES:
        with pytest.raises(ClientError) as unknown:
            client(embedded, service).list_hosts()
        assert error(unknown)[0] == "UnknownOperationException"
        assert error(unknown)[2] == 400


def test_a_cbor_request_is_an_unknown_operation_not_an_html_page(embedded):
    """codeconnections' model also lists smithy-rpc-v2-cbor (botocore speaks JSON to it): such a request is
    answered as an operation the embedded AWS does not serve."""
    url = f"{embedded.url}/service/CodeConnections_20231201/operation/ListConnections"
    request = AWSRequest(
        method="POST",
        url=url,
        data=b"\xa0",
        headers={
            "smithy-protocol": "rpc-v2-cbor",
            "Content-Type": "application/cbor",
            "Accept": "application/cbor",
        },
    )
    SigV4Auth(Credentials("testing", "testing"), "codeconnections", "us-east-1").add_auth(request)
    prepared = request.prepare()
    raw = urllib.request.Request(url, data=prepared.body, headers=dict(prepared.headers), method="POST")
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(raw, timeout=10)
    assert answer.value.code == 400
    body = json.loads(answer.value.read())
    assert body["__type"] == "UnknownOperationException"
    assert "ListConnections is not served" in body["message"]


def test_requests_are_authorized_as_the_caller_with_the_connections_tags(embedded):
    iam = boto_sessions.session("us-east-1").client("iam", endpoint_url=embedded.url)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "codebuild.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role_arn = iam.create_role(RoleName="ConnectionsReader", AssumeRolePolicyDocument=json.dumps(trust))[
        "Role"
    ]["Arn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["codeconnections:GetConnection", "codeconnections:ListTagsForResource"],
                "Resource": "arn:aws:codeconnections:*:*:connection/*",
                "Condition": {"StringEquals": {"aws:ResourceTag/team": "ml"}},
            }
        ],
    }
    iam.put_role_policy(RoleName="ConnectionsReader", PolicyName="read-ml", PolicyDocument=json.dumps(policy))
    admin = client(embedded, "codeconnections")
    ours = admin.create_connection(
        ConnectionName="ml", ProviderType="GitHub", Tags=[{"Key": "team", "Value": "ml"}]
    )["ConnectionArn"]
    theirs = admin.create_connection(ConnectionName="other", ProviderType="GitHub")["ConnectionArn"]

    role = sessions.assume("us-east-1", embedded.url, role_arn, "codebuild.amazonaws.com")
    connections = role.client("codeconnections")
    assert connections.get_connection(ConnectionArn=ours)["Connection"]["ConnectionName"] == "ml"
    with pytest.raises(ClientError) as denied:
        connections.get_connection(ConnectionArn=theirs)
    assert error(denied)[:2] == (
        "AccessDeniedException",
        f"User: {role.principal_arn} is not authorized to perform: codeconnections:GetConnection on resource: "
        f"{theirs} because no identity-based policy allows the codeconnections:GetConnection action",
    )
    admin.tag_resource(ResourceArn=theirs, Tags=[{"Key": "team", "Value": "ml"}])  # TagResource's tags count
    assert connections.get_connection(ConnectionArn=theirs)["Connection"]["ConnectionName"] == "other"
    admin.untag_resource(ResourceArn=theirs, TagKeys=["team"])
    with pytest.raises(ClientError, match="AccessDeniedException"):
        connections.list_tags_for_resource(ResourceArn=theirs)

    with pytest.raises(ClientError) as no_list:  # a role without codeconnections:ListConnections
        connections.list_connections()
    code, message, _ = error(no_list)
    assert code == "AccessDeniedException"
    assert (
        f"User: {role.principal_arn} is not authorized to perform: codeconnections:ListConnections" in message
    )
    listing = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "codeconnections:ListConnections", "Resource": "*"}],
    }
    iam.put_role_policy(RoleName="ConnectionsReader", PolicyName="list", PolicyDocument=json.dumps(listing))
    assert {ours, theirs} <= {c["ConnectionArn"] for c in connections.list_connections()["Connections"]}
    with pytest.raises(ClientError) as no_create:
        connections.create_connection(ConnectionName="mine", ProviderType="GitHub")
    assert error(no_create)[0] == "AccessDeniedException"
    with pytest.raises(ClientError) as old_name:  # the older name is its own IAM service prefix
        role.client("codestar-connections").get_connection(ConnectionArn=ours)
    assert "codestar-connections:GetConnection" in error(old_name)[1]


def test_the_pipeline_role_may_use_a_connection_once_it_is_tagged_sagemaker_true(embedded):
    """The project's pipeline role (its AWS managed policy) uses only connections tagged sagemaker=true: the tag
    set with TagResource is the one its source action is authorized with."""
    admin = client(embedded, "codeconnections")
    arn = admin.create_connection(ConnectionName="ml-source", ProviderType="GitHub")["ConnectionArn"]
    pipeline = sessions.assume("us-east-1", embedded.url, PIPELINE_ROLE, "codepipeline.amazonaws.com")
    with pytest.raises(sessions.Denied, match=f"codeconnections:UseConnection on resource: {re.escape(arn)}"):
        pipeline.authorize("codeconnections:UseConnection", arn)
    admin.tag_resource(ResourceArn=arn, Tags=[{"Key": "sagemaker", "Value": "true"}])
    pipeline.authorize("codeconnections:UseConnection", arn)
