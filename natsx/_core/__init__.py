"""Cython kernels of the hot path: protocol parser, subject matching, accounts and permissions,
client connections, message log, ack bitmaps."""
