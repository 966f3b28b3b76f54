"""CodeCommit repositories with content: real git repositories (``git_store``), seeded from ``Code.S3``.

moto's CodeCommit knows only repository metadata. Here every repository is also a bare git repository: one created
by CloudFormation with ``Code`` gets the seed zip as its first commit on ``Code.BranchName`` (read from the embedded
S3, as CodeCommit does at creation: a missing object fails the stack); one created with the API starts empty. The
API reads and writes it through git (``content``, ``commits``), ``git clone`` and ``git push`` reach it through the
repository's ``cloneUrlHttp`` (``git_http``), and the pipelines' source action archives a commit of it, as
CodePipeline's does (``extract``).

``cloneUrlHttp`` is the embedded AWS's own URL, ``http://127.0.0.1:<port>/git-codecommit.<region>.amazonaws.com/v1/
repos/<name>`` (AWS's host name kept as the path's first segment), so git reaches the embedded repository.

A stack update changes the repository in place: a new ``RepositoryName`` renames it (UpdateRepositoryName, its
content kept), a new description is set. ``Code`` is used only when the repository is created, as CloudFormation
documents: an update with other seed code leaves the branch and its commits as they are.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

from moto.codecommit.models import CodeCommitBackend, codecommit_backends
from moto.codecommit.responses import CodeCommitResponse
from moto.core.common_models import CloudFormationModel

from smbundle.local.cfn_support import refresh_model_map
from smbundle.local.codecommit import git_store
from smbundle.local.s3 import objects


def clone_url(region: str, name: str) -> str:
    from smbundle.local.codepipeline.executions import settings

    host = f"git-codecommit.{region}.amazonaws.com"
    if settings.endpoint_url:
        return f"{settings.endpoint_url}/{host}/v1/repos/{name}"
    return f"https://{host}/v1/repos/{name}"


class SeededRepository(CloudFormationModel):
    __module__ = "moto.codecommit.cfn_ext"

    def __init__(self, account_id: str, region: str, name: str, metadata: dict):
        self.account_id, self.region, self.name, self.metadata = account_id, region, name, metadata

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CodeCommit::Repository"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "RepositoryName"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("Arn", "Name", "CloneUrlHttp", "CloneUrlSsh")

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return {
            "Arn": self.metadata["Arn"],
            "Name": self.name,
            "CloneUrlHttp": self.metadata["cloneUrlHttp"],
            "CloneUrlSsh": self.metadata["cloneUrlSsh"],
        }[attribute_name]

    @property
    def physical_resource_id(self) -> str:
        return self.metadata["repositoryId"]

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        properties = cloudformation_json["Properties"]
        name = properties.get("RepositoryName", resource_name)
        backend = codecommit_backends[account_id][region_name]
        code = properties.get("Code")
        seed = None
        if code:
            s3 = code["S3"]
            uri = f"s3://{s3['Bucket']}/{s3['Key']}"
            seed = objects.get_bytes(uri, account_id)  # fails the stack when the seed is missing, as on AWS
            zipfile.ZipFile(io.BytesIO(seed)).testzip()
        metadata = backend.create_repository(name, properties.get("RepositoryDescription", ""))
        if seed is not None:
            from smbundle.local.codecommit import commits

            branch = code.get("BranchName", "main")
            created = git_store.seed(account_id, region_name, name, seed, branch)
            metadata["defaultBranch"] = branch
            commits.reference_changed(account_id, region_name, name, branch, None, created)
        return cls(account_id, region_name, name, metadata)

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    ):
        properties = cloudformation_json["Properties"]
        backend = codecommit_backends[account_id][region_name]
        name = properties.get("RepositoryName", original_resource.name)
        repository = backend.repositories[original_resource.name]
        metadata = repository.repository_metadata
        if name != original_resource.name:  # UpdateRepositoryName: same repository, id and content
            fresh = _original_create(backend, name, metadata["repositoryDescription"])
            del backend.repositories[name]
            for key in ("repositoryName", "cloneUrlSsh", "Arn"):
                metadata[key] = fresh[key]
            metadata["cloneUrlHttp"] = clone_url(region_name, name)
            backend.repositories[name] = backend.repositories.pop(original_resource.name)
            git_store.rename(account_id, region_name, original_resource.name, name)
        metadata["repositoryDescription"] = properties.get("RepositoryDescription", "")
        return cls(account_id, region_name, name, metadata)

    def delete(self, account_id: str, region_name: str) -> None:
        codecommit_backends[account_id][region_name].delete_repository(self.name)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        codecommit_backends[account_id][region_name].delete_repository(resource_name)


def list_repositories(self: CodeCommitResponse) -> Any:
    repositories = sorted(
        self.codecommit_backend.repositories.values(), key=lambda r: r.repository_metadata["repositoryName"]
    )
    order = self._get_param("order") or "ascending"
    if order == "descending":
        repositories.reverse()
    return json.dumps(
        {
            "repositories": [
                {
                    "repositoryName": r.repository_metadata["repositoryName"],
                    "repositoryId": r.repository_metadata["repositoryId"],
                }
                for r in repositories
            ]
        }
    )


def extract(account_id: str, region: str, repository_name: str, commit_id: str, target: Path) -> int:
    """Write a commit's files into ``target``, as CodePipeline's source action archives it (inside AWS, not through
    the public API: the pipeline role is authorized for the archive by the caller); returns the count."""
    if repository_name not in codecommit_backends[account_id][region].repositories:
        raise KeyError(f"repository {repository_name} does not exist")
    return git_store.archive(account_id, region, repository_name, commit_id, target)


def head(account_id: str, region: str, repository_name: str, branch: str) -> str | None:
    """The branch's commit, or None (no such repository or branch)."""
    if repository_name not in codecommit_backends[account_id][region].repositories:
        return None
    return git_store.branches(account_id, region, repository_name).get(branch)


_original_create = CodeCommitBackend.create_repository
_original_delete = CodeCommitBackend.delete_repository
_applied = False


def _create_repository(self, repository_name: str, repository_description: str) -> dict:
    metadata = _original_create(self, repository_name, repository_description)
    git_store.create(self.account_id, self.region_name, repository_name)
    metadata["cloneUrlHttp"] = clone_url(self.region_name, repository_name)
    return metadata


def _delete_repository(self, repository_name: str):
    answer = _original_delete(self, repository_name)
    if answer is not None:
        git_store.delete(self.account_id, self.region_name, repository_name)
    return answer


def _get_repository(self, repository_name: str) -> dict:
    """GetRepository: defaultBranch is the first branch a repository got (CodeCommit's rule), once it has one."""
    metadata = _original_get(self, repository_name)
    branch = git_store.default_branch(self.account_id, self.region_name, repository_name)
    if branch:
        metadata["defaultBranch"] = branch
    return metadata


_original_get = CodeCommitBackend.get_repository


def apply() -> None:
    global _applied
    if _applied:
        return
    CodeCommitBackend.create_repository = _create_repository
    CodeCommitBackend.delete_repository = _delete_repository
    CodeCommitBackend.get_repository = _get_repository
    CodeCommitResponse.list_repositories = list_repositories
    refresh_model_map()
    _applied = True
