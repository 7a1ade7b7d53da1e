"""natsx: a NATS + JetStream server whose hot path is Cython/C."""

from natsx.version import NATS_SERVER_VERSION, __version__

__all__ = ["Server", "__version__", "NATS_SERVER_VERSION"]


def __getattr__(name: str):
    if name == "Server":
        from natsx.server import Server

        return Server
    raise AttributeError(name)
