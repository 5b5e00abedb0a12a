from typing import Any

import numpy as np

def sums(
    arrays: Any,
    candidates: np.ndarray,
    places: np.ndarray,
    shares: np.ndarray,
    required: np.ndarray,
    spans: np.ndarray,
    said: np.ndarray | None,
) -> tuple[np.ndarray, ...]: ...
