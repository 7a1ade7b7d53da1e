"""natsx's version and the nats-server feature level it implements (a leaf module: the server and
the monitor read these without importing the natsx package's lazy Server)."""

__version__ = "0.1.0"

# The nats-server feature level natsx implements; clients gate features on INFO's "version".
NATS_SERVER_VERSION = "2.12.0"
