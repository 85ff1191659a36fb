"""Run under ``mcptrace run``: record a file open, then replace the process at once.

    python exec_after_recording.py WORK_DIR

Nothing runs after ``os.execv``: no atexit, no background export.  What reaches the spool
was flushed by the sensor from inside the audit hook, before the image was replaced.
"""

from __future__ import annotations

import os
import sys


def main(work: str) -> None:
    open(os.path.join(work, "before-exec.txt"), "w").close()
    os.execv("/bin/true", ["/bin/true", "replaced"])


if __name__ == "__main__":
    main(sys.argv[1])
