"""A frame budget per forward pass: memory that does not grow with the encoder window.

A training step's activations grow with clips x encoder positions: a batch of 8 clips at a 30 s window holds
three times the frames of the same batch at 10 s (on a CPU, 4.8 GiB peak against 2.6 GiB for cpu-quick). So a
batch whose clips x window exceeds the budget (`training.frame_budget_s`, audio seconds of window per pass;
0 = the batch size x 10 s) runs in pieces: each piece's forward and backward pass, one after the other, with
the gradients summed. The optimizer step, the schedule and what a step means stay those of the whole batch.

The loss is weighted so the sum is exactly the whole batch's: Whisper's loss is the mean cross-entropy over
every label token of the batch, so each piece contributes its token *sum* divided by the whole batch's token
count (pieces of different sizes or transcript lengths weigh what their tokens weigh, not 1/pieces each).
"""

from __future__ import annotations

from whisper_tui.models.window import POSITIONS_PER_SECOND

AUTO_SECONDS_PER_CLIP = 10  # frame_budget_s = 0: what a batch of the same clip count costs at a 10 s window


def budget_positions(frame_budget_s: float, batch_size: int) -> int:
    """Encoder positions (clips x window positions) one forward pass may hold."""
    seconds = float(frame_budget_s) if frame_budget_s and frame_budget_s > 0 \
        else max(1, int(batch_size)) * AUTO_SECONDS_PER_CLIP
    return max(1, int(round(seconds * POSITIONS_PER_SECOND)))


def positions_per_clip(batch: dict) -> int:
    """Encoder positions of one clip of `batch` at its window (log-mel frames are two per position)."""
    if batch.get("input_features") is not None:
        return int(batch["input_features"].shape[-1]) // 2
    return int(batch["encoder_outputs"].last_hidden_state.shape[1])


def clips_per_piece(batch: dict, budget: int) -> int:
    """How many of the batch's clips one forward pass may hold (at least one)."""
    return max(1, budget // max(1, positions_per_clip(batch)))


def split_batch(batch: dict, size: int) -> list[dict]:
    """`batch` cut along the clip axis into pieces of at most `size` clips; [batch] when it fits."""
    from transformers.modeling_outputs import BaseModelOutput

    n = int(batch["labels"].shape[0])
    if size >= n:
        return [batch]
    pieces = []
    for start in range(0, n, size):
        piece = {}
        for key, value in batch.items():
            if isinstance(value, BaseModelOutput):
                piece[key] = BaseModelOutput(last_hidden_state=value.last_hidden_state[start:start + size])
            elif hasattr(value, "shape") and len(value.shape) and value.shape[0] == n:
                piece[key] = value[start:start + size]
            else:
                piece[key] = value
        labels = piece["labels"]
        # columns that are padding for every clip of the piece: no token, no decoder work
        real = (labels != -100).any(dim=0).nonzero()
        width = int(real.max()) + 1 if real.numel() else 1
        piece["labels"] = labels[:, :width]
        if piece.get("decoder_input_ids") is not None:  # a prompted batch's own decoder input (collator.py)
            piece["decoder_input_ids"] = piece["decoder_input_ids"][:, :width]
        pieces.append(piece)
    return pieces


def label_tokens(batch: dict) -> int:
    """Label tokens the loss averages over (labels != -100)."""
    return int((batch["labels"] != -100).sum())


# glibc malloc settings for a training process (mallopt parameters, malloc.h)
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
MMAP_THRESHOLD_BYTES = 1 * 2**20
_applied = False


def return_freed_memory() -> bool:
    """Make glibc hand large freed blocks back to the system at once (Linux; a no-op elsewhere).

    A step's activations are tensors of megabytes, freed after the backward pass. By default glibc raises its
    mmap threshold as such blocks are freed, so later ones come from the heap, and with one heap (arena) per
    thread the freed space stays in the process: on cpu-quick the peak RSS was 2.8 GiB for 1.7 GiB that was ever
    live at once. Blocks of 1 MiB and more always mmapped (freed = returned) and one arena bring the peak to the
    live size at the same step time (benchmarks/RESULTS.md, sections 12 and 14d). The threshold was 4 MiB until a
    heap trace (mallinfo2) of a whole run showed ~460 MiB of blocks under 4 MiB freed but kept in the heap from
    step 11 on (which tensors was not traced; frame-budget pieces of longer-window batches are the likely source):
    at 1 MiB a 33-step run peaks at 1.76 GiB instead of 2.01, at the same step time.
    Returns whether the settings applied.
    """
    global _applied
    if _applied:
        return True
    import ctypes
    import ctypes.util
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False  # not glibc (musl has no mallopt)
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(mallopt(_M_ARENA_MAX, 1))
    _applied = ok
    return ok
