"""Kept for natsx/cli.py's config digest, which imports go_json from here; natsx.gofmt defines it."""
from natsx.gofmt import go_json

__all__ = ["go_json"]
