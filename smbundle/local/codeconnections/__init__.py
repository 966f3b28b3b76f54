"""The embedded AWS CodeConnections (moto has none): connections, their tags, under both of the service's names.

AWS renamed CodeStar Connections to CodeConnections; botocore models both (``codeconnections``, 2023-12-01, and
``codestar-connections``, 2019-12-01) with the same operations, and both are served here over one store of
connections per account and Region: a connection made through one name is listed, read, tagged and deleted through
either, and keeps the ARN of the name it was made with (``arn:aws:codeconnections:...`` or
``arn:aws:codestar-connections:...``), as on AWS. Served: CreateConnection, GetConnection, ListConnections,
DeleteConnection, TagResource, UntagResource, ListTagsForResource; any other operation (hosts, repository links,
sync configurations) answers ``UnknownOperationException``.

A connection stays ``PENDING``: on AWS it becomes ``AVAILABLE`` only through the handshake with the provider in the
console, which has no local counterpart (a pipeline's source action through a connection cannot fetch locally
anyway, ``codepipeline/executor.py``). Its tags are what the embedded IAM reads for ``aws:ResourceTag/...``
(``iam/resource_state.py``), and its requests are authorized as every other service's (``iam/enforcement.py``).
"""
