"""Product-quantization codebooks of the ``pq`` predictor: fitted once, offline, by k-means (faiss) on
calibration keys per layer, key head and sub-space; stored as safetensors beside the plan or in a run folder
(``attention/codebooks-<variant>-M<M>K<K>.safetensors``)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from hyflexpim.errors import UserError
from hyflexpim.sim.digital_attention import attention_hook, float_attention, valid_keys


def fit_pq_codebooks(model: Any, batches: Iterable[Any], subspaces: int = 8, centroids: int = 16, n_batches: int = 8,
                     max_keys: int = 8192, seed: int = 0) -> dict[int, torch.Tensor]:
    """k-means (faiss) on calibration keys, per layer, key head and sub-space: layer -> [Hkv, M, K, D/M]."""
    import faiss
    import numpy as np

    keys: dict[int, list[torch.Tensor]] = {}

    def collect(module: Any, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                attention_mask: torch.Tensor | None, scaling: float | None = None, dropout: float = 0.0,
                **kw: Any) -> tuple[torch.Tensor, torch.Tensor]:
        rows = key.detach().transpose(1, 2)  # [B, Sk, Hkv, D]
        if attention_mask is not None:  # the keys some query may attend to: padding (and ParT's padded particles) out
            valid = valid_keys(attention_mask, (query.shape[-2], key.shape[-2]), False)
            real = valid.expand(key.shape[0], -1, -1, -1).any(1).any(1)  # [B, Sk]
            rows = rows[real]
        else:
            rows = rows.reshape(-1, *rows.shape[2:])
        keys.setdefault(module._hyflexpim_layer, []).append(rows)
        return float_attention(query, key, value, attention_mask, scaling, bool(getattr(module, "is_causal", False)))

    with attention_hook(model, "hyflexpim_keys", collect), torch.inference_mode():
        for j, b in enumerate(batches):
            if j >= n_batches:
                break
            model(**{k: v for k, v in b.items() if k != "labels"})
    if not keys:
        raise UserError("pq codebooks: the calibration data gave no batches")
    out = {}
    for layer, chunks in keys.items():
        x = torch.cat(chunks)  # [N, Hkv, D]
        N, Hk, D = x.shape
        if D % subspaces:
            raise UserError(f"hardware.attention.subspaces: {subspaces} must divide the head size {D}")
        if max_keys < N:
            x = x[torch.randperm(N, generator=torch.Generator().manual_seed(seed))[:max_keys]]
        d = D // subspaces
        k = min(centroids, x.shape[0])
        books = torch.zeros(Hk, subspaces, centroids, d)
        for h in range(Hk):
            for s in range(subspaces):
                data = np.ascontiguousarray(x[:, h, s * d:(s + 1) * d].float().numpy())
                km = faiss.Kmeans(d, k, niter=25, seed=seed + 1000 * h + s, verbose=False)
                km.train(data)
                books[h, s, :k] = torch.from_numpy(km.centroids)
                if k < centroids:  # fewer keys than centroids: repeat (ties never win over a real one)
                    books[h, s, k:] = books[h, s, :1]
        out[layer] = books
    return out


def save_codebooks(books: dict[int, torch.Tensor], path: str | Path) -> None:
    from safetensors.torch import save_file

    from hyflexpim.atomic import atomic_path

    with atomic_path(Path(path)) as tmp:
        save_file({f"layer{l}": t.contiguous() for l, t in books.items()}, str(tmp))


def load_codebooks(path: str | Path) -> dict[int, torch.Tensor]:
    from safetensors.torch import load_file

    try:
        data = load_file(str(path))
    except (OSError, Exception) as e:  # safetensors raises its own error types on a bad file
        raise UserError(f"cannot read codebooks {path}: {str(e).splitlines()[0]}") from None
    return {int(k[5:]): v for k, v in data.items()}
