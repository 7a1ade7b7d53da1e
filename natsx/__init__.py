"""natsx: a NATS + JetStream server whose hot path is Cython/C."""

__version__ = "0.1.0"

# The nats-server feature level natsx implements; clients gate features on INFO's "version".
NATS_SERVER_VERSION = "2.12.0"

__all__ = ["Server", "__version__", "NATS_SERVER_VERSION"]


def __getattr__(name: str):
    if name == "Server":
        from natsx.server import Server

        return Server
    raise AttributeError(name)
