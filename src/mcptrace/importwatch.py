"""A cheap watch over imports: run a callback just before, or just after, a module loads.

Usage::

    from mcptrace import importwatch
    importwatch.before("mcp", activate)          # before ``import mcp`` finds its module
    importwatch.after("subprocess", patch_popen)  # once ``subprocess`` has executed

A ``before`` callback runs inside ``find_spec``, where importlib holds its global import
lock: it must not wait for another thread (that thread may be importing).  It may return a
second callable instead, which runs just before the module's body executes, holding only
that module's lock: the place to wait.

What ``wrapt.register_post_import_hook`` does, without importing wrapt (a tenth of a second
at every interpreter start): one finder at the front of ``sys.meta_path`` that looks up the
name in a dict and otherwise steps aside.  A module already imported gets its ``after``
callback at once.  Callbacks run once each; an exception in one is reported and swallowed,
the import goes on.  When nothing is watched any more the finder leaves ``sys.meta_path``.
"""

from __future__ import annotations

import _thread
import sys

TYPE_CHECKING = False  # not typing's: importing typing costs every process start-up
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType

    Callback = Callable[[], "Callable[[], None] | None"]
    ModuleCallback = Callable[[ModuleType], None]


def _report(name: str, exc: BaseException) -> None:
    from mcptrace._stderr import say

    say(f"mcptrace: instrumenting {name} failed ({exc!r})")


class _ChainedLoader:
    """Runs the real loader, then the ``after`` callbacks; puts the real loader back on the
    module so nothing downstream sees this one."""

    def __init__(
        self, loader: object, watch: _Watch, name: str, first: list[Callable[[], None]]
    ) -> None:
        self.loader = loader
        self.watch = watch
        self.name = name
        self.first = first  # run before the body (what a ``before`` callback deferred)
        if hasattr(loader, "create_module"):
            self.create_module = loader.create_module

    def _restore(self, module: ModuleType) -> None:
        try:
            if getattr(module, "__loader__", None) is self:
                module.__loader__ = self.loader
            spec = getattr(module, "__spec__", None)
            if spec is not None and spec.loader is self:
                spec.loader = self.loader
        except Exception:
            pass

    def _run_first(self) -> None:
        first, self.first = self.first, []
        for callback in first:
            try:
                callback()
            except Exception as exc:
                _report(self.name, exc)

    def exec_module(self, module: ModuleType) -> None:
        self._restore(module)
        self._run_first()
        self.loader.exec_module(module)  # type: ignore[attr-defined]
        self.watch.loaded(self.name, module)

    def load_module(self, fullname: str) -> ModuleType:  # loaders without exec_module
        self._run_first()
        module: ModuleType = self.loader.load_module(fullname)  # type: ignore[attr-defined]
        self._restore(module)
        self.watch.loaded(self.name, module)
        return module


class _Watch:
    def __init__(self) -> None:
        self.before: dict[str, list[Callback]] = {}
        self.after: dict[str, list[ModuleCallback]] = {}
        self.lock = _thread.RLock()
        self.finding: set[tuple[int, str]] = set()
        self.installed = False

    def _install(self) -> None:
        if not self.installed:
            self.installed = True
            sys.meta_path.insert(0, self)

    def _uninstall_if_idle(self) -> None:
        if self.installed and not self.before and not self.after:
            self.installed = False
            try:
                sys.meta_path.remove(self)
            except ValueError:
                pass

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: object = None
    ) -> ModuleSpec | None:
        if fullname not in self.before and fullname not in self.after:
            return None
        key = (_thread.get_ident(), fullname)
        if key in self.finding:
            return None  # our own lookup below, or a callback importing the same name
        self.finding.add(key)
        try:
            with self.lock:
                early = self.before.pop(fullname, [])
            deferred: list[Callable[[], None]] = []
            for callback in early:
                try:
                    later = callback()
                except Exception as exc:
                    _report(fullname, exc)
                    continue
                if later is not None:
                    deferred.append(later)
            spec = self._find_elsewhere(fullname, path, target)
            if spec is None or spec.loader is None:
                for later in deferred:  # nothing will execute: run them here after all
                    later()
                return spec
            if deferred or fullname in self.after:
                chained = _ChainedLoader(spec.loader, self, fullname, deferred)
                spec.loader = chained  # type: ignore[assignment]
            return spec
        finally:
            self.finding.discard(key)
            with self.lock:
                self._uninstall_if_idle()

    def _find_elsewhere(
        self, fullname: str, path: Sequence[str] | None, target: object
    ) -> ModuleSpec | None:
        # the finders after us, including any a ``before`` callback just added (wrapt's)
        for finder in list(sys.meta_path):
            if finder is self:
                continue
            find = getattr(finder, "find_spec", None)
            if find is None:
                continue
            spec: ModuleSpec | None = find(fullname, path, target)
            if spec is not None:
                return spec
        return None

    def loaded(self, name: str, module: ModuleType) -> None:
        with self.lock:
            callbacks = self.after.pop(name, [])
            self._uninstall_if_idle()
        for callback in callbacks:
            try:
                callback(module)
            except Exception as exc:
                _report(name, exc)


_watch = _Watch()


def before(name: str, callback: Callback) -> None:
    """Run ``callback`` just before ``name`` is first looked for (now if it is loaded)."""
    if name in sys.modules:
        later = callback()
        if later is not None:
            later()
        return
    with _watch.lock:
        _watch.before.setdefault(name, []).append(callback)
        _watch._install()


def after(name: str, callback: ModuleCallback) -> None:
    """Run ``callback(module)`` once ``name`` has executed (now if it already has)."""
    module = sys.modules.get(name)
    if module is not None:
        callback(module)
        return
    with _watch.lock:
        _watch.after.setdefault(name, []).append(callback)
        _watch._install()


def forget(name: str) -> None:
    """Drop every callback still waiting for ``name``."""
    with _watch.lock:
        _watch.before.pop(name, None)
        _watch.after.pop(name, None)
        _watch._uninstall_if_idle()
