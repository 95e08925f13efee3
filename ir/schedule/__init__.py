"""The scheduler: folding, cycle estimates."""

from .estimate import estimate
from .folding import ChooseFolding, FoldingError, folding_from_json, folding_to_json, layer_cycles

__all__ = ["ChooseFolding", "FoldingError", "estimate", "folding_from_json", "folding_to_json", "layer_cycles"]
