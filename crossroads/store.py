"""Deprecated: the trace store moved to `crossroads.storage`; this re-export is kept for one release.

`crossroads.store.TraceStore(path)` is, as before, the SQLite store; new code uses
`crossroads.storage.open_store(url_or_path)` and the `crossroads.storage.TraceStore` interface.
"""

from crossroads.storage import TraceSummary
from crossroads.storage.sqlite import SQLiteTraceStore as TraceStore

__all__ = ["TraceStore", "TraceSummary"]
