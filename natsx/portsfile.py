"""The ports file (``--ports_file_dir``), as nats-server writes it: ``<program>_<pid>.ports`` holding
compact JSON ``{"nats": [...], "monitoring": [...]}``, one URL per address a listener can be reached
on (every interface's address for a listener bound to all of them), removed again at shutdown."""
from __future__ import annotations

import array
import fcntl
import ipaddress
import json
import os
import socket
import struct
import sys

SIOCGIFCONF = 0x8912   # Linux: list the IPv4 addresses of all interfaces
IFREQ_SIZE = 40        # struct ifreq on 64-bit Linux: 16-byte name, 24-byte union
MAX_IPV4_ADDRESSES = 512


def program_name() -> str:
    """basename(argv[0]), as nats-server names the file; `python -m natsx` is named after the package."""
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else "natsx"
    if os.path.basename(argv0) == "__main__.py":
        return os.path.basename(os.path.dirname(os.path.abspath(argv0)))
    return os.path.basename(argv0)


def path_in(directory: str) -> str:
    return os.path.join(directory, f"{program_name()}_{os.getpid()}.ports")


def listener_urls(scheme: str, sock: socket.socket) -> list[str]:
    """URLs for one listening socket; a wildcard address expands to every interface's address
    (nats-server's resolveHostPorts)."""
    host, port = sock.getsockname()[:2]
    hosts = interface_addresses() if ipaddress.ip_address(host).is_unspecified else [host]
    return [f"{scheme}://[{h}]:{port}" if ":" in h else f"{scheme}://{h}:{port}" for h in hosts]


def interface_addresses() -> list[str]:
    """Every address of every interface: interfaces in index order, IPv4 before IPv6 within each,
    as Go's net.Interfaces and Addrs list them. Linux only; elsewhere just the loopback address."""
    try:
        by_interface = _ipv4_by_interface()
        for name, address in _ipv6_addresses():
            by_interface.setdefault(name, []).append(address)
        order = [name for _, name in sorted(socket.if_nameindex())]
    except OSError:
        return ["127.0.0.1"]
    return [address for name in order for address in by_interface.get(name, [])] or ["127.0.0.1"]


def _ipv4_by_interface() -> dict[str, list[str]]:
    buf = array.array("B", bytes(IFREQ_SIZE * MAX_IPV4_ADDRESSES))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = struct.pack("iL", len(buf), buf.buffer_info()[0])   # struct ifconf
        length = struct.unpack("iL", fcntl.ioctl(s.fileno(), SIOCGIFCONF, request))[0]
    raw = buf.tobytes()[:length]
    out: dict[str, list[str]] = {}
    for off in range(0, length, IFREQ_SIZE):
        label = raw[off:off + 16].split(b"\0", 1)[0].decode()
        # the union holds a sockaddr_in: family, port, then the address at byte 4
        address = socket.inet_ntoa(raw[off + 20:off + 24])
        out.setdefault(label.split(":", 1)[0], []).append(address)   # "eth0:1" aliases belong to eth0
    return out


def _ipv6_addresses() -> list[tuple[str, str]]:
    try:
        with open("/proc/net/if_inet6") as f:
            rows = [line.split() for line in f]
    except FileNotFoundError:   # IPv6 disabled
        return []
    return [(row[5], str(ipaddress.IPv6Address(bytes.fromhex(row[0])))) for row in rows if len(row) == 6]


def write(directory: str, listeners: dict[str, tuple[str, socket.socket]]) -> str:
    """Write the file for `listeners` (key -> (URL scheme, listening socket)); returns its path."""
    ports = {key: listener_urls(scheme, sock) for key, (scheme, sock) in listeners.items()}
    path = path_in(directory)
    with open(path, "w") as f:
        f.write(json.dumps(ports, separators=(",", ":")))
    return path
