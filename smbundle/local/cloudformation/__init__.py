"""Embedded-AWS extensions of CloudFormation."""
