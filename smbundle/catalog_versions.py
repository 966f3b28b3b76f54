"""Which provisioning artifact serves a content version, and what to write so that it is the active, newest one.

Studio offers a product's active provisioning artifacts, newest first. Publishing content that matches an older
artifact must therefore not just say "up to date": when that artifact was deprecated it is reactivated, and when a
newer artifact is active it is published again as a new copy (the old copy is deprecated), so the content being
published is what a new project gets.
"""

from __future__ import annotations

from datetime import UTC, datetime

from smbundle import packaging

NEW = "(new provisioning artifact)"
_LATEST = datetime.max.replace(tzinfo=UTC)


def created_time(artifact: dict):
    created = artifact.get("CreatedTime")
    if created is None or artifact["Id"] == NEW:
        return _LATEST
    if isinstance(created, int | float):
        return datetime.fromtimestamp(created, UTC)
    return created if created.tzinfo else created.replace(tzinfo=UTC)


def deprecate(publisher, catalog, product_id: str, artifact: dict, why: str = "") -> None:
    """Deactivate and deprecate one provisioning artifact (Studio stops offering it), as a publisher write."""
    publisher.write(
        f"deprecate provisioning artifact {artifact['Name']} ({artifact['Id']}){why}",
        catalog.update_provisioning_artifact,
        ProductId=product_id,
        ProvisioningArtifactId=artifact["Id"],
        Active=False,
        Guidance="DEPRECATED",
    )


def _active(artifact: dict) -> bool:
    return artifact.get("Active", True) and artifact.get("Guidance", "DEFAULT") != "DEPRECATED"


def ensure_artifact(
    publisher, product_id: str, version: str, parameters: dict, artifacts: list[dict]
) -> tuple[str, list[dict]]:
    """Make ``version`` the product's newest active artifact; returns its id and the artifact list as it will be
    after this run (with a placeholder for one a dry run would create)."""
    catalog = publisher.client("servicecatalog")
    copies = sorted((a for a in artifacts if a["Name"] == version), key=created_time)
    newest = copies[-1] if copies else None
    newer = [
        a
        for a in artifacts
        if newest is not None
        and a["Name"] != version
        and _active(a)
        and created_time(a) > created_time(newest)
    ]
    if newest is None or newer:
        why = f" again: {newer[-1]['Name']} is newer" if newer else ""
        answer = publisher.write(
            f"add provisioning artifact {version} to {product_id}{why}",
            catalog.create_provisioning_artifact,
            ProductId=product_id,
            Parameters=parameters,
            # A re-publication needs its own token, or the service would return the first copy.
            IdempotencyToken=_token("artifact", product_id, version, *(a["Id"] for a in copies)),
        )
        new_id = answer["ProvisioningArtifactDetail"]["Id"] if answer else NEW
        after = [dict(a) for a in artifacts]
        for old in copies:
            if _active(old):
                deprecate(publisher, catalog, product_id, old, ": replaced by its new copy")
                next(a for a in after if a["Id"] == old["Id"]).update(Active=False, Guidance="DEPRECATED")
        after.append({"Id": new_id, "Name": version, "Active": True, "Guidance": "DEFAULT"})
        return new_id, after
    if not _active(newest):
        publisher.write(
            f"reactivate provisioning artifact {version} ({newest['Id']})",
            catalog.update_provisioning_artifact,
            ProductId=product_id,
            ProvisioningArtifactId=newest["Id"],
            Active=True,
            Guidance="DEFAULT",
        )
        after = [dict(a, Active=True, Guidance="DEFAULT") if a is newest else a for a in artifacts]
        return newest["Id"], after
    return newest["Id"], artifacts


def _token(*parts: str) -> str:
    return packaging.content_hash(*(p.encode() for p in parts))[:32]
