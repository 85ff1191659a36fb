"""Event and attribute names of module provenance (a public contract, see DESIGN.md)."""

from __future__ import annotations

from mcptrace.sensor.events import ATTRIBUTION, FILE_PATH, MODULE_IMPORT, MODULE_NAME, NONE

__all__ = ["ATTRIBUTION", "FILE_PATH", "MODULE_IMPORT", "MODULE_NAME", "NONE"]

# one log record per process: the modules loaded outside tool calls, summarized
MODULE_SUMMARY = "mcptrace.module.summary"

# on every mcptrace.module.import event
MODULE_SHA256 = "mcptrace.module.sha256"
MODULE_DISTRIBUTION = "mcptrace.module.distribution"
MODULE_VERSION = "mcptrace.module.version"
MODULE_VERIFICATION = "mcptrace.module.verification"
# the .pyc the importer actually ran instead of file.path, when there is one
BYTECODE_PATH = "mcptrace.module.bytecode.path"
BYTECODE_SHA256 = "mcptrace.module.bytecode.sha256"
# (no verification for it: RECORD lists .pyc files without a hash, so it would always be
# "unrecorded"; every attribute costs on each of the hundreds of start-up records)

# on mcptrace.module.summary
SUMMARY_COUNT = "mcptrace.module.count"
SUMMARY_DISTRIBUTIONS = "mcptrace.module.distributions"  # ["name==version", ...]
SUMMARY_VERIFIED = "mcptrace.module.verified.count"
SUMMARY_MISMATCH = "mcptrace.module.mismatch.count"
SUMMARY_UNRECORDED = "mcptrace.module.unrecorded.count"
SUMMARY_MISMATCHES = "mcptrace.module.mismatches"  # file paths
SUMMARY_HASHED = "mcptrace.module.hashed.count"  # files read and hashed by this process
SUMMARY_CACHE_HITS = "mcptrace.module.cache.hits"
SUMMARY_SKIPPED = "mcptrace.module.skipped.count"  # not described (exit budget, limit)
SUMMARY_CACHE_STATE = "mcptrace.module.cache.state"  # ok | rebuilt | unavailable | off

# verification values
VERIFIED = "verified"
MISMATCH = "mismatch"
UNRECORDED = "unrecorded"
