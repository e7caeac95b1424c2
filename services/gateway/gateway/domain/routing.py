"""The public API's routing table: which upstream service answers which path, and which paths
may be called without an access token."""

API_PREFIX = "/api/v1"
JWKS_PATH = "/.well-known/jwks.json"

# The first path segment after /api/v1 names the resource; each resource has one owner.
RESOURCE_OWNERS: dict[str, str] = {
    "auth": "identity",
    "me": "identity",
    "members": "identity",
    "invites": "identity",
    "distributors": "orgs",
    "integrators": "orgs",
    "customers": "orgs",
    "products": "entitlements",
    "entitlements": "entitlements",
    "licenses": "entitlements",
    "activations": "entitlements",
    "transfers": "transfers",
    "transactions": "transfers",
    "audit-events": "audit",
    "notifications": "notify",
    "device": "devices",
    "license-keys": "devices",
    "devices": "devices",
    "license-users": "devices",
    "plans": "billing",
    "subscriptions": "billing",
    "claims": "billing",
    "invoices": "billing",
}

# Exact (method, path) pairs: the ways to obtain a token, and the keys that verify one.
PUBLIC_ENDPOINTS: frozenset[tuple[str, str]] = frozenset(
    {
        ("POST", f"{API_PREFIX}/auth/login"),
        ("POST", f"{API_PREFIX}/auth/refresh"),
        ("POST", f"{API_PREFIX}/invites/accept"),
        # The accept page's look at a link before its form; the token is the credential.
        ("GET", f"{API_PREFIX}/invites/accept"),
        # Sign-out takes the refresh token alone: the access token may have expired meanwhile.
        ("POST", f"{API_PREFIX}/auth/logout"),
        ("GET", JWKS_PATH),
        ("HEAD", JWKS_PATH),
    }
)


def upstream_for(path: str) -> str | None:
    """The service that owns a (decoded) request path, or None when no service does.

    Paths with '.' or '..' segments belong to no one: an upstream could resolve them to a
    different resource than the one the token check and the routing looked at.
    """
    if path == JWKS_PATH:
        return "identity"
    if not path.startswith(f"{API_PREFIX}/"):
        return None
    segments = path[len(API_PREFIX) + 1 :].split("/")
    if any(segment in (".", "..") for segment in segments):
        return None
    return RESOURCE_OWNERS.get(segments[0])


# Paths under these prefixes take no member token: the licensed software's API, authenticated by
# the license key (and limited per key and per address) by the devices service itself.
PUBLIC_PREFIXES: tuple[str, ...] = (f"{API_PREFIX}/device/",)


def is_public(method: str, path: str) -> bool:
    return (method.upper(), path) in PUBLIC_ENDPOINTS or path.startswith(PUBLIC_PREFIXES)
