"""Embedded-AWS extensions of Service Catalog (artifacts, portfolios, constraints, provisioning)."""
