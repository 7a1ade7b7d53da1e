"""Cython kernels of the hot path: protocol parser, subject matching, message log, ack bitmaps."""
