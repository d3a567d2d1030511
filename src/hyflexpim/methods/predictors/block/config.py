"""The settings of the ``block`` kind: block size and how a key block is scored."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from hyflexpim.config.attention import SparseAttentionBase


class BlockAttentionConfig(SparseAttentionBase):
    """Block-sparse attention: key blocks chosen per query block, computed by a kernel that skips the rest."""

    config_name = "hardware.attention (block)"
    kind: Literal["block"] = "block"
    exact: Literal["digital", "float"] = Field("float", description="precision of the exact attention on the kept "
                                               "blocks: float (the block kernel: fast) or the digital-PIM datapath "
                                               "(as a mask over the dense scores: the chip's precisions, not fast)")
    block: int = Field(64, ge=1, description="tokens per block (queries and keys)")
    score: Literal["quest", "centroid", "exact"] = Field("quest", description="how a key block is scored for a "
                                                         "query block: Quest's min/max bound, the block's mean key, "
                                                         "or the exact attention mass (oracle)")
