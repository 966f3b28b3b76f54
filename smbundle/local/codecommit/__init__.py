"""Embedded-AWS extensions of CodeCommit (repositories seeded by CloudFormation, with content)."""
