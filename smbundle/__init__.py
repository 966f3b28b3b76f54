"""Tooling behind the scripts: publishing, template handling, cost planning and the embedded AWS."""
