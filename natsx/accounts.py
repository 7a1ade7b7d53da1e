"""Accounts. natsx serves one account today, nats-server's global account; this is the seam where
named accounts (their own Sublist, imports/exports, limits) and $SYS will live."""
from __future__ import annotations

# nats-server's globalAccountName: every connection's account while no accounts are configured.
GLOBAL_ACCOUNT = "$G"

# The accounts natsx serves, as /accountz lists them. No system account ($SYS) yet: /varz and
# /accountz leave "system_account" out, as nats-server does when it runs without one.
SERVED_ACCOUNTS: tuple[str, ...] = (GLOBAL_ACCOUNT,)
