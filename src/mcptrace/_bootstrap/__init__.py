"""Start-up for processes launched by ``mcptrace run`` (see sitecustomize.py here)."""

import os

BOOTSTRAP_DIR = os.path.dirname(os.path.abspath(__file__))
