"""OFT and BOFT network modules (Qiu et al. 2023; Liu et al. 2024) as A1111's built-in Lora extension
merges them: the module's weight is rotated per output channel block, W' = R W, with R block-diagonal
and orthogonal: the Cayley transform (I + Q)(I - Q)^-1 of the skew-symmetric part Q of the file's
`oft_blocks` (its norm capped at alpha * out_features), or the old LyCORIS `oft_diag` taken as R itself.
BOFT (4-d `oft_blocks`) chains `m` such rotations through butterfly permutations. A `rescale` vector
scales the rotated weight per output channel. The merged difference is W' - W (A1111 applies no
alpha / rank scale to it)."""
from __future__ import annotations

import torch

OFT_KEYS = ("oft_blocks", "oft_diag", "rescale")


def _cayley(blocks: torch.Tensor, constraint: float) -> torch.Tensor:
    eye = torch.eye(blocks.shape[-1], dtype=blocks.dtype)
    q = blocks - blocks.transpose(-1, -2)
    if constraint != 0:
        norm = torch.norm(q.flatten())
        q = q * ((torch.clamp(norm, max=constraint) + 1e-8) / (norm + 1e-8))
    return (eye + q) @ torch.linalg.inv(eye - q)


def _butterfly(weight: torch.Tensor, rotations: torch.Tensor) -> torch.Tensor:
    """BOFT: rotation i acts on blocks of output channels gathered 2^i * b/2 apart."""
    shape, (m, _, b, _) = weight.shape, rotations.shape
    x = weight
    for i in range(m):
        k = 2 ** i * (b // 2)
        x = x.reshape(-1, 2, k, *shape[1:]).transpose(1, 2).reshape(shape)      # (c g k) -> (c k g)
        x = torch.einsum("dij,dj...->di...", rotations[i], x.reshape(-1, b, *shape[1:])).reshape(shape)
        x = x.reshape(-1, k, 2, *shape[1:]).transpose(1, 2).reshape(shape)      # (c k g) -> (c g k)
    return x


def oft_delta(parts: dict[str, torch.Tensor], weight: torch.Tensor) -> torch.Tensor:
    """W' - W for an OFT/BOFT module over the module's current `weight`."""
    w = weight.float()
    out_dim = w.shape[0]
    if "oft_blocks" in parts:
        blocks = parts["oft_blocks"].float()
        alpha = parts.get("alpha")
        rotations = _cayley(blocks, 0.0 if alpha is None else float(alpha) * out_dim)
    else:                                   # old LyCORIS: the rotations themselves
        rotations = parts["oft_diag"].float()
    if rotations.dim() == 4:
        merged = _butterfly(w, rotations)
    else:
        n, b = rotations.shape[0], rotations.shape[-1]
        if n * b != out_dim:
            raise ValueError(f"OFT blocks {tuple(rotations.shape)} do not tile {out_dim} output channels")
        merged = torch.einsum("knm,kn...->km...", rotations, w.reshape(n, b, *w.shape[1:])).reshape(w.shape)
    if "rescale" in parts:
        merged = parts["rescale"].float().reshape(-1, *[1] * (w.dim() - 1)) * merged
    return merged - w
