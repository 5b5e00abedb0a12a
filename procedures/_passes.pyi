# The signatures of the numpy twins in procedures/search.py, written out: a stub that
# re-exported those would make mypyc call the twins directly instead of the compiled passes.
from typing import Any

import numpy as np

def best_docs(
    postings: list[np.ndarray],
    weights: list[float],
    priors: np.ndarray,
    allowed: set[int] | None,
    size: int,
) -> list[int]: ...
def surface_bounds(
    arrays: Any,
    candidates: np.ndarray,
    held_words: tuple[np.ndarray, ...],
    said: np.ndarray | None,
    slots: tuple[np.ndarray, ...],
    asked: tuple[str, bool, float, float, float, float, int, bool, int, float],
    weights: tuple[float, ...],
    priors: np.ndarray,
    factors: np.ndarray,
) -> tuple[np.ndarray, ...]: ...
def text_scores(
    keys: np.ndarray,
    starts: np.ndarray,
    weights: np.ndarray,
    span: int,
    numbers: np.ndarray,
    docs: np.ndarray,
) -> list[float]: ...
def likeliest(
    known: np.ndarray,
    rarities: np.ndarray,
    holders: np.ndarray,
    groups: np.ndarray,
    weights: np.ndarray,
    norms: np.ndarray,
    span: int,
    numbers: np.ndarray,
    excluded: list[int],
) -> int: ...
