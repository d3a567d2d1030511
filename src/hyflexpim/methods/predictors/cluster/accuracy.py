"""The accuracy half of the cluster predictor: k-means over each head's keys, queries score clusters by centroid.

Per sequence and key head, ``clusters`` centroids start at evenly spaced valid keys and take ``iterations`` Lloyd passes
(Euclidean, over the valid keys only); each key then scores a query as q·c(k), the centroid of its cluster, so
every key of a cluster ties and the shared selection (``hyflexpim.sim.sparse_attention.select``: ties broken by
position) keeps whole clusters in order of score, the last one cut at the keep budget. With as many clusters as
keys every key is its own centroid and the order is the exact one. In a causal block the clustering sees every
key of the block (ClusterKV clusters the prompt's keys once; the causal mask still holds in the selection).
"""

from __future__ import annotations

import torch

from hyflexpim.methods.predictors.cluster.config import ClusterAttentionConfig
from hyflexpim.sim.sparse_attention import Context, Predictor


def kmeans(key: torch.Tensor, valid: torch.Tensor, clusters: int, iterations: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(centroids [B, H, C, D], assignment [B, H, S]) of keys [B, H, S, D]; ``valid`` [B|1, 1, S] marks the keys
    that count (the others are assigned but move no centroid). C = min(clusters, S)."""
    B, H, S, D = key.shape
    C = min(clusters, S)
    x = key.float()
    v = valid.expand(B, 1, S)[:, 0]
    start = []
    for b in range(B):  # the first centroids: evenly spaced valid keys of each sequence
        pos = v[b].nonzero().flatten() if bool(v[b].any()) else torch.arange(S)
        start.append(pos[torch.linspace(0, len(pos) - 1, C).round().long()])
    cent = torch.gather(x, 2, torch.stack(start)[:, None, :, None].expand(B, H, C, D)).clone()
    w = valid.expand(B, H, S).float()
    for _ in range(iterations + 1):
        assign = torch.cdist(x, cent).argmin(-1)  # [B, H, S]
        if _ == iterations:
            break
        onehot = torch.nn.functional.one_hot(assign, C).float() * w[..., None]  # [B, H, S, C]
        count = onehot.sum(-2)  # [B, H, C]
        total = onehot.transpose(-1, -2) @ x  # [B, H, C, D]
        cent = torch.where(count[..., None] > 0, total / count.clamp_min(1)[..., None], cent)
    return cent, assign


def score(query: torch.Tensor, key: torch.Tensor, cfg: ClusterAttentionConfig, ctx: Context) -> torch.Tensor:
    """q·c(k) [B, Hq, Sq, Sk]: each key scored by the centroid of its cluster."""
    valid = ctx.valid.any(-2).any(1, keepdim=True)  # [B|1, 1, Sk]: a key some query may see
    cent, assign = kmeans(key.detach(), valid, cfg.clusters, cfg.iterations)
    B, Hq, Sq, D = query.shape
    Hk, Sk = key.shape[1], key.shape[2]
    q = query.float().reshape(B, Hk, Hq // Hk, Sq, D)  # grouped query heads share their key head's clusters
    per_cluster = q @ cent[:, :, None].transpose(-1, -2)  # [B, Hk, n_rep, Sq, C]
    index = assign[:, :, None, None, :].expand(B, Hk, Hq // Hk, Sq, Sk)
    return torch.gather(per_cluster, -1, index).reshape(B, Hq, Sq, Sk)


PREDICTOR = Predictor(score, logits=True)  # q·c is a logit (the key replaced by its centroid): thresholds apply
