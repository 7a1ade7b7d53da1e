"""Permissions as nats-server declares them (server/auth.go: Permissions, SubjectPermission,
ResponsePermission), typed. natsx.options parses them from a config; natsx does not enforce them
yet, so a config or embedding that sets any is refused (fail closed) - this is the shape the
enforcement (a compiled allow/deny per connection) will take as input."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

# nats-server's DEFAULT_ALLOW_RESPONSE_MAX_MSGS / DEFAULT_ALLOW_RESPONSE_EXPIRATION.
DEFAULT_ALLOW_RESPONSE_MAX_MSGS = 1
DEFAULT_ALLOW_RESPONSE_EXPIRATION = 120.0   # seconds


@dataclass(frozen=True)
class SubjectPermission:
    """Subjects allowed and denied. allow None: not restricted; an empty allow: nothing allowed
    (what allow_responses sets for publish when it has no allow of its own)."""

    allow: Optional[tuple[str, ...]] = None
    deny: Optional[tuple[str, ...]] = None


@dataclass(frozen=True)
class ResponsePermission:
    """allow_responses: publishing to a request's reply subject, this many times within expires
    (negative: unlimited)."""

    max_msgs: int = DEFAULT_ALLOW_RESPONSE_MAX_MSGS
    expires: float = DEFAULT_ALLOW_RESPONSE_EXPIRATION   # seconds


@dataclass(frozen=True)
class Permissions:
    publish: Optional[SubjectPermission] = None
    subscribe: Optional[SubjectPermission] = None
    responses: Optional[ResponsePermission] = None
