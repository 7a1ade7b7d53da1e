# An account: a namespace of subjects with its own sublist. Every connection routes through its
# account's sublist (Connection.acc); ServerCore holds the global account $G. The security issue's
# accounts, imports and exports (natsx/accounts.py, the control plane's side) hang off this class,
# not off a second routing path.
from natsx._core.sublist cimport Sublist


cdef class Account:
    cdef readonly str name
    cdef readonly Sublist sublist
