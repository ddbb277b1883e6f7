"""What the machine's network allows the WebRTC tests to do."""

from __future__ import annotations

import socket


def non_loopback_address() -> str | None:
    """ICE needs an interface other than lo (aioice skips loopback, Chrome ignores lo)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # UDP connect sends no packet
            address = probe.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") else address
