"""Issue 23, lean training: the frame budget (a batch over it trains in pieces with the same gradient), the
attention implementation transformers picks for Whisper, and the memory estimate's printed form."""

from __future__ import annotations

import re

import pytest

from whisper_tui.training import batching


def _batch(torch, n: int, frames: int, d_model: int, widths: list[int]):
    from transformers.modeling_outputs import BaseModelOutput

    g = torch.Generator().manual_seed(0)
    labels = torch.full((n, max(widths)), -100, dtype=torch.long)
    for row, w in enumerate(widths):
        labels[row, :w] = torch.randint(5, 50, (w,), generator=g)
    hidden = torch.randn(n, frames, d_model, generator=g)
    return {"encoder_outputs": BaseModelOutput(last_hidden_state=hidden), "labels": labels}


def test_budget_positions_default_is_the_batch_at_10_s():
    assert batching.budget_positions(0, 8) == 8 * 10 * 50
    assert batching.budget_positions(60, 8) == 60 * 50


def test_a_30_s_batch_runs_in_pieces_that_hold_what_a_10_s_batch_holds():
    import torch

    budget = batching.budget_positions(0, 8)
    at_10 = _batch(torch, 8, 500, 4, [3] * 8)
    at_30 = _batch(torch, 8, 1500, 4, [3] * 8)
    assert batching.clips_per_piece(at_10, budget) == 8
    pieces = batching.split_batch(at_30, batching.clips_per_piece(at_30, budget))
    assert [p["labels"].shape[0] for p in pieces] == [2, 2, 2, 2]
    assert all(p["labels"].shape[0] * batching.positions_per_clip(p) <= budget for p in pieces)


def test_pieces_of_different_sizes_give_the_whole_batch_gradient(tiny_whisper_dir):
    """Uneven pieces (3 clips into 2 + 1) and transcripts of different lengths: the weighted piece losses add
    up to the whole batch's mean loss, and so do their gradients."""
    import torch
    from transformers import WhisperForConditionalGeneration

    from whisper_tui.training.trainer import label_positions_loss

    model = WhisperForConditionalGeneration.from_pretrained(tiny_whisper_dir)
    model.eval()  # no dropout: both sides draw nothing
    cfg = model.config
    batch = _batch(torch, 3, cfg.max_source_positions, cfg.d_model, [6, 2, 4])

    model.zero_grad()
    whole = label_positions_loss(model, batch)
    whole.backward()
    want = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    model.zero_grad()
    positions = batching.positions_per_clip(batch)
    pieces = batching.split_batch(batch, batching.clips_per_piece(batch, 2 * positions))
    assert [p["labels"].shape[0] for p in pieces] == [2, 1]
    assert pieces[1]["labels"].shape[1] == 4  # padding columns of every clip of the piece are cut
    tokens = sum(batching.label_tokens(p) for p in pieces)
    total = 0.0
    for piece in pieces:
        loss = label_positions_loss(model, piece, tokens=tokens)
        loss.backward()
        total += float(loss.detach())
    assert total == pytest.approx(float(whole), rel=1e-5)
    for name, grad in want.items():
        got = dict(model.named_parameters())[name].grad
        assert torch.allclose(got, grad, rtol=1e-4, atol=1e-6), name


def test_whisper_loads_with_sdpa_attention(tiny_whisper_dir):
    """transformers 5 picks torch's scaled_dot_product_attention for Whisper (no seq x seq matrix kept for the
    backward pass on CPU or CUDA); the engine's loader keeps it."""
    from whisper_tui.models.loading import load_model

    model = load_model(str(tiny_whisper_dir))[0]
    assert model.config._attn_implementation == "sdpa"
    attn = model.model.encoder.layers[0].self_attn
    assert attn.config._attn_implementation == "sdpa"


def test_return_freed_memory_applies_on_linux():
    import sys

    applied = batching.return_freed_memory()
    assert applied or not sys.platform.startswith("linux")
    assert batching.return_freed_memory() == applied  # twice is harmless
