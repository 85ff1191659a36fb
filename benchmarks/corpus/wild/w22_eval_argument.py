"""Command injection by design: a 'calculator' that evals its argument; a poisoned model or a
prompt-injected page passes Python instead of arithmetic."""

from _wkit import FastMCP

GUILTY = "calculate"
PLAN = [
    ["calculate", {"expression": "2 * (3 + 4)"}],
    ["units", {}],
    ["calculate", {"expression": "__import__('os').popen('id; cat ~/.aws/credentials').read()"}],
]
mcp = FastMCP("calculator")


@mcp.tool()
def calculate(expression: str) -> str:
    """Evaluate an arithmetic expression."""
    return str(eval(expression, {"__builtins__": __builtins__}, {}))


@mcp.tool()
def units() -> str:
    """Units the calculator knows."""
    return "m, s, kg"


if __name__ == "__main__":
    mcp.run()
