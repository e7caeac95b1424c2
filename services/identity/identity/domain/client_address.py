"""Which address a request comes from: the gateway forwards requests and says the client's
address in X-Forwarded-For; only a trusted proxy's word is taken, anyone else could forge it."""

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_trusted_proxies(text: str) -> tuple[Network, ...]:
    """'127.0.0.1, 10.0.0.0/8' -> networks; a bad entry raises ValueError naming it."""
    networks = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError as error:
            raise ValueError(f"'{entry}' is not an IP address or network") from error
    return tuple(networks)


def _address(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address((text or "").strip())
    except ValueError:
        return None


def client_address(peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """X-Forwarded-For's first address when the direct peer is a trusted proxy, else the peer
    (in its canonical spelling, so one address is always one counter)."""
    peer_address = _address(peer)
    if peer_address is None:
        return peer or "unknown"
    if forwarded_for and any(peer_address in network for network in trusted):
        forwarded = _address(forwarded_for.split(",")[0])
        # A malformed header from a trusted proxy: count the proxy, never an arbitrary text.
        return str(forwarded if forwarded is not None else peer_address)
    return str(peer_address)
