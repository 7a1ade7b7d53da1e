"""Client authentication: user/password, token, a users list, no_auth_user.

NKeys, JWT accounts, permissions and TLS come later; `Identity` leaves room for them
(the permissions travel with the identity to the connection).
"""
from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Any

from natsx.accounts import GLOBAL_ACCOUNT
from natsx.options import User
from natsx.permissions import Permissions


@dataclass
class Identity:
    user: str = ""
    permissions: Permissions | None = None
    account: str = GLOBAL_ACCOUNT


@dataclass
class Authenticator:
    user: str | None = None
    password: str | None = None
    token: str | None = None
    users: list[User] = field(default_factory=list)
    no_auth_user: str | None = None

    @property
    def required(self) -> bool:
        return bool(self.user or self.token or self.users)

    def authenticate(self, connect: dict[str, Any]) -> Identity | None:
        """The identity a CONNECT proves, or None (Authorization Violation)."""
        if not self.required:
            return Identity()
        user = connect.get("user") or ""
        password = connect.get("pass") or ""
        token = connect.get("auth_token") or ""
        if self.token:
            return Identity() if _same(token, self.token) else None
        if not user and not password and not token and self.no_auth_user:
            entry = self._user_entry(self.no_auth_user)
            return Identity(user=self.no_auth_user, permissions=entry.permissions if entry else None)
        if self.user:
            if _same(user, self.user) and _check_password(password, self.password or ""):
                return Identity(user=user)
            if not self.users:
                return None
        entry = self._user_entry(user)
        if entry is not None and _check_password(password, entry.password):
            return Identity(user=user, permissions=entry.permissions)
        return None

    def _user_entry(self, user: str) -> User | None:
        for entry in self.users:
            if entry.user == user:
                return entry
        return None


def _utf8(s: str) -> bytes:
    # surrogatepass: a lone surrogate compares as its bytes instead of raising (Go compares bytes).
    return s.encode("utf-8", "surrogatepass")


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(_utf8(a), _utf8(b))


def _check_password(given: str, stored: str) -> bool:
    # nats-server accepts bcrypt hashes ("$2a$...") in place of plain passwords.
    if stored.startswith("$2"):
        try:
            import bcrypt
        except ImportError:
            return False
        try:
            return bcrypt.checkpw(_utf8(given), _utf8(stored))
        except ValueError:     # not a valid bcrypt hash: nothing matches it
            return False
    return _same(given, stored)
