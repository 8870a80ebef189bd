"""The one answer to "who is the client?", used by every rate limit and by the access log.

Without a reverse proxy (FUNKWHALE_REVERSE_PROXY=none) it is the TCP peer, whatever the request's headers say.
Behind one, and only when the peer is one of FUNKWHALE_TRUSTED_PROXIES (or a UNIX socket), it is the address
the proxy saw: its X-Real-IP, else the rightmost X-Forwarded-For hop that is not a trusted proxy. The
client's own X-Forwarded-For entries sit left of the proxy's and are never reached."""

from __future__ import annotations

import functools
import ipaddress
from typing import Any

from funkwhale.config import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_ip(text: str) -> IPAddress | None:
    """An address in its canonical form (an IPv4-mapped IPv6 address as IPv4), or None."""
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


@functools.lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _trusted(address: IPAddress, settings: Settings) -> bool:
    return any(address in network for network in _networks(settings.trusted_proxies))


def client_address(request: Any, settings: Settings) -> str:
    """The client's address as text (canonical), "unknown" for a peer without one outside a proxy setup."""
    peer_text = getattr(request.getClientAddress(), "host", None) or ""
    peer = parse_ip(peer_text)
    if settings.reverse_proxy == "none" or (peer is not None and not _trusted(peer, settings)):
        return str(peer) if peer else peer_text or "unknown"
    # A trusted proxy (or a UNIX socket, which only local processes reach) is in front.
    real = parse_ip((request.getHeader(b"x-real-ip") or b"").decode("latin-1"))
    if real is not None:
        return str(real)
    client = peer
    for hop in reversed((request.getHeader(b"x-forwarded-for") or b"").decode("latin-1").split(",")):
        address = parse_ip(hop)
        if address is None:
            break  # written by the client: the last trusted hop is as far as we can see
        client = address
        if not _trusted(address, settings):
            break
    return str(client) if client else "unknown"
