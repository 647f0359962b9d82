"""URLs from users: whether one can be an http(s) endpoint, and what of it may be written down."""

from __future__ import annotations

import re
from urllib.parse import urlsplit


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be an http(s) endpoint, or None when it can. Never quotes the URL
    (it may carry credentials)."""
    if any(ord(c) <= 32 or ord(c) == 127 for c in url):
        return "not a URL: it contains spaces or control characters"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:  # a port out of 0-65535 or not a number, a broken [IPv6] host (not quoted)
        return "not a valid URL: " + ("the port is not a number in 1-65535" if "port" in str(e).lower()
                                      else "a malformed host")
    if parts.scheme.lower() not in ("http", "https"):
        return "not an http:// or https:// URL" + (f" (scheme '{parts.scheme}')" if parts.scheme else "")
    if not parts.hostname:
        return "not a valid URL: no host"
    if port is not None and not 1 <= port <= 65535:
        return f"not a valid URL: port {port} is not in 1-65535"
    return None


def scrub_url(url: str | None) -> str | None:
    """Drop credentials (up to the authority's last @), query strings and fragments, which may
    carry keys, from a URL."""
    if not url:
        return url
    url = re.split(r"[?#]", url, maxsplit=1)[0]
    scheme, sep, rest = url.partition("://") if "://" in url else ("", "", url)
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        authority = authority.rsplit("@", 1)[1]
    elif "@" in path and ":" in authority and not authority.rpartition(":")[2].isdigit():  # user:pa/ss@host: a slash in the password
        authority, slash, path = path.rsplit("@", 1)[1].partition("/")
    return f"{scheme}{sep}{authority}{slash}{path}"
