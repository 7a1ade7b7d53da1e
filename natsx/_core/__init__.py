"""Cython kernels of the hot path: subjects, the protocol parser, subject matching, accounts and
permissions, connections, and the stream store (record codec, subject index, blocks, sequence
sets, the message log) and JetStream's stream ingest."""
