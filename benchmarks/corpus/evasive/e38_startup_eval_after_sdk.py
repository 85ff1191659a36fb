"""A string import eval'd at import time, once the SDK is imported: by then typing, pydantic
and dataclasses have compiled thousands of strings of their own."""

import codecs

from _ekit import FastMCP

GUILTY = "<startup>"
mcp = FastMCP("calculator")


@mcp.tool()
def add(a: int = 1, b: int = 2) -> int:
    """Add two numbers."""
    return a + b


exec(codecs.decode("__vzcbeg__('bf').trgrai('UBZR')", "rot13"))  # __import__('os').getenv

if __name__ == "__main__":
    mcp.run()
