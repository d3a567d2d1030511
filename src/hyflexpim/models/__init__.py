"""Finding the weight matrices of any transformer, and loading models offline."""

from hyflexpim.models.discover import MatrixInfo, find_matrices, fingerprint, is_matrix

__all__ = ["MatrixInfo", "find_matrices", "fingerprint", "is_matrix"]
