"""The address students type or scan to join the class's server."""

from __future__ import annotations

import socket


def network_address() -> str:
    """This machine's address on its network (what Streamlit prints as the Network URL), else 127.0.0.1.

    Connecting a UDP socket only picks the interface a packet would leave by: nothing is sent.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
            return probe.getsockname()[0]
        except OSError:
            return "127.0.0.1"


def join_url(port: int, address: str | None = None) -> str:
    """The address students type (or scan) to join: http://<network address>:<port>/."""
    return f"http://{address or network_address()}:{port}/"
