"""Text primitives shared by the router, the offline model and the scenario assertions.

Each concept lives here once: fenced code (`fences`), sentence and clause splitting (`sentences`), the
tokeniser with its stop words and stemmer (`tokens`), and BM25 ranking (`bm25`). Pure Python and cheap
to import, so the route path can use them.
"""

from crossroads.text.bm25 import BM25
from crossroads.text.fences import code_blocks, has_code, strip_code, unwrap_fenced
from crossroads.text.sentences import clauses, segments, sentences
from crossroads.text.tokens import STOP, stem, tokens

__all__ = [
    "BM25",
    "STOP",
    "clauses",
    "code_blocks",
    "has_code",
    "segments",
    "sentences",
    "stem",
    "strip_code",
    "tokens",
    "unwrap_fenced",
]
