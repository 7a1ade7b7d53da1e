"""Accounts (see account.pxd). Today there is one, nats-server's global account (natsx.accounts)."""
from natsx._core.sublist cimport Sublist


cdef class Account:
    def __init__(self, str name not None, Sublist sublist=None):
        self.name = name
        self.sublist = sublist if sublist is not None else Sublist()

    def __repr__(self):
        return f"<Account {self.name!r} subscriptions={self.sublist.count}>"
