"""Embedded AWS extensions and local executors for codebuild."""
