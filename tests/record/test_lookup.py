"""``record.lookup.attribute`` answers exactly what ``getattr`` does, over pydantic models of
every shape a result can take (mcp's own, extra fields, private attributes, properties,
aliases, a ``__getattr__`` of their own, values set outside the fields) and non-models."""

from __future__ import annotations

import types
from typing import Any

import mcp.types as mt
import pytest
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, RootModel

from mcptrace.record import lookup
from mcptrace.record.lookup import attribute


class Plain(BaseModel):
    content: list[str] = []


class Extra(BaseModel):
    model_config = ConfigDict(extra="allow")
    content: str = "c"


class WithProperty(BaseModel):
    content: str = "c"

    @property
    def contents(self) -> str:
        return "from a property"


class Private(BaseModel):
    _secret: str = PrivateAttr(default="hidden")
    _unset: str = PrivateAttr()


class OwnGetattr(BaseModel):
    content: str = "c"

    def __getattr__(self, name: str) -> Any:
        if name == "messages":
            return "made up"
        return super().__getattr__(name)  # type: ignore[misc]


class Aliased(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    structured_content: dict[str, Any] | None = Field(default=None, alias="structuredContent")
    is_error: bool = Field(default=False, alias="isError")


class Wrapped(RootModel[mt.CallToolResult]):
    pass


class Slotted:
    __slots__ = ("content",)

    def __init__(self) -> None:
        self.content = "slot"


class Dynamic:
    def __getattr__(self, name: str) -> Any:
        if name.startswith("is"):
            return True
        raise AttributeError(name)


def _values() -> list[Any]:
    answer = mt.CallToolResult(
        content=[mt.TextContent(type="text", text="hello")], structured_content={"r": "x"}
    )
    failed = mt.CallToolResult(content=[], is_error=True)
    extra = Extra(contents="extra contents", isError=True, root="extra root")
    set_outside = Plain()
    object.__setattr__(set_outside, "messages", "set outside the fields")
    return [
        answer,
        failed,
        answer.content[0],
        mt.ReadResourceResult(contents=[mt.TextResourceContents(uri="file:///a", text="t")]),
        mt.GetPromptResult(
            messages=[mt.PromptMessage(role="user", content=mt.TextContent(type="text", text="m"))]
        ),
        Plain(),
        extra,
        Extra(),
        WithProperty(),
        Private(),
        OwnGetattr(),
        Aliased(structuredContent={"a": 1}, isError=True),
        Aliased(),
        Wrapped(answer),
        set_outside,
        Plain.model_construct(),
        Extra.model_construct(contents="constructed"),
        {"content": [1], "isError": True},
        None,
        object(),
        Slotted(),
        Dynamic(),
        types.SimpleNamespace(root="ns root", content=None),
        "a string",
        42,
    ]


NAMES = [
    "root",
    "content",
    "contents",
    "messages",
    "structured_content",
    "structuredContent",
    "isError",
    "is_error",
    "_secret",
    "_unset",
    "model_dump",
    "__pydantic_extra__",
    "text",
    "missing",
]
DEFAULT = object()


@pytest.mark.parametrize("name", NAMES)
def test_attribute_equals_getattr(name: str) -> None:
    for value in _values():
        for default in (None, DEFAULT):
            for _ in range(2):  # the second read is decided by the remembered answer
                try:
                    expected: Any = getattr(value, name, default)
                except Exception as error:  # e.g. an unset private attribute
                    with pytest.raises(type(error)):
                        attribute(value, name, default)
                    continue
                got = attribute(value, name, default)
                assert got is expected or (got == expected and type(got) is type(expected)), (
                    type(value).__name__,
                    name,
                )


def test_the_fast_path_is_what_reads_mcp_results() -> None:
    """Without this, the test above could pass with every name sent through ``getattr``."""
    result = mt.CallToolResult(content=[])
    for name in ("root", "contents", "messages", "structuredContent", "isError"):
        attribute(result, name)
        assert lookup._PLAIN_MISS[(mt.CallToolResult, name)] is True, name
    for kind, name in ((WithProperty, "contents"), (OwnGetattr, "messages"), (Private, "_secret")):
        attribute(kind(), name)
        assert lookup._PLAIN_MISS[(kind, name)] is False, (kind, name)
