"""The HF Seq2SeqTrainer, taught to train from cached encoder outputs.

Using the stock Trainer (not a home-made loop) keeps multi-GPU (torchrun/accelerate), mixed
precision, checkpoint/resume and schedulers as transformers does them. Additions:
- when the cache holds the output of frozen layer K < all, the top encoder layers run here, with
  grad, before the decoder sees the hidden states;
- when a batch carries the decoder's frozen cross-attention keys/values (`cross_kv.py`), the
  cross-attention runs from them instead of projecting 1500 frames per layer;
- an any-window model (`model.windows`) is evaluated with each clip at its own shortest window
  (`get_eval_dataloader`), the window the saved model transcribes it at;
- the loss projects only real label positions onto the 51k-token vocabulary (the largest matmul
  left once the encoder is cached); padded positions were computed and then ignored;
- a batch over the frame budget (`batching.py`, `training.frame_budget_s`) runs its forward and backward
  passes in pieces with the gradients summed, so a step's memory does not grow with the encoder window;
- an evaluation can be cancelled between batches (`EvaluationCancelled`): the Trainer then saves
  a checkpoint of the step just trained and stops, as a cancel between steps does;
- an evaluation that fails (a generate error on one batch, a metric that cannot be computed) returns no
  metrics and is handed to `on_evaluation_failed` instead of ending training: the run reports it and
  goes on (issue 24: a run that trained to the end lost its final/ to its last evaluation);
- with `distill` (distill.BaseTeacher, `training.distill_weight`) the loss adds a KL term to the base
  model's token distribution at the same label positions, the base run first, without gradients.
"""

from __future__ import annotations

import contextlib

from transformers import Seq2SeqTrainer

from whisper_tui.models.parts import base_of, encoder_of


class EvaluationCancelled(Exception):
    """Raised by a callback's on_prediction_step to stop an evaluation between batches."""


class EvaluationFailed(Exception):
    """An evaluation's own work (generating, scoring) raised `cause`; raised out of `evaluation_loop` only."""

    def __init__(self, cause: Exception):
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.cause = cause


class WhisperTrainer(Seq2SeqTrainer):
    def __init__(self, *args, cached_top_from: int | None = None, fast_cross=None, frame_budget: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        self.cached_top_from = cached_top_from
        self.fast_cross = fast_cross  # cross_kv.FastCrossAttention, installed on the model, or None
        self.frame_budget = int(frame_budget)  # encoder positions per forward pass (batching.py); 0 = no limit
        self.pieces_run = 0  # forward passes of batches that were split (for the tests and the log)
        self.eval_scope = contextlib.nullcontext  # merge_strength.SavedStrength.applied: evaluate what is saved
        # on_evaluation_failed(exc, metric_key_prefix): told of an evaluation that failed (None: it raises)
        self.on_evaluation_failed = None
        self.teacher = None  # distill.BaseTeacher when training.distill_weight > 0 (set_distillation)
        self.distill_weight = 0.0
        self.distill_temperature = 1.0

    def set_distillation(self, teacher, weight: float, temperature: float) -> None:
        self.teacher, self.distill_weight, self.distill_temperature = teacher, float(weight), float(temperature)

    def training_step(self, model, inputs, num_items_in_batch=None):
        """The Trainer's step, in pieces when the batch is over the frame budget (batching.py)."""
        from whisper_tui.training import batching

        if (self.frame_budget <= 0 or not _plain_model(model) or "labels" not in inputs
                or batching.clips_per_piece(inputs, self.frame_budget) >= int(inputs["labels"].shape[0])):
            return super().training_step(model, inputs, num_items_in_batch=num_items_in_batch)
        import torch

        model.train()
        if hasattr(self.optimizer, "train") and callable(self.optimizer.train):
            self.optimizer.train()
        inputs = self._prepare_inputs(inputs)
        pieces = batching.split_batch(inputs, batching.clips_per_piece(inputs, self.frame_budget))
        del inputs
        tokens = sum(batching.label_tokens(p) for p in pieces)
        # scaled as the Trainer scales a whole batch's loss (divided by the accumulation steps unless it says not)
        scaled = getattr(self, "loss_is_scaled_for_ga", None)
        if scaled is None:
            scaled = (self.model_accepts_loss_kwargs and num_items_in_batch is not None) \
                or self.compute_loss_func is not None
        scale = 1.0 if scaled else 1.0 / self.current_gradient_accumulation_steps
        total = torch.zeros((), device=self.args.device)
        while pieces:
            piece = pieces.pop(0)
            with self.compute_loss_context_manager():
                loss = self._loss(model, piece, tokens) * scale  # the pieces add up to the batch's mean
            self.accelerator.backward(loss)
            total += loss.detach()
            self.pieces_run += 1
            del piece, loss
        return total

    def _loss(self, model, inputs, tokens: int | None = None):
        """The label positions' cross-entropy (`label_positions_loss`), plus the KL term to the base model when
        distilling; `inputs` as the collator made them (cached layer outputs not yet run through the top). With
        `tokens` (a piece of a batch of that many label tokens) the sum is divided by it, else by its own."""
        inputs = dict(inputs)
        kv = inputs.pop("cross_kv", None)
        teacher_logits = self._teacher_logits(model, inputs)
        expanded = self._student_inputs(inputs, kv)
        if teacher_logits is None:
            return label_positions_loss(model, expanded, self.args, tokens=tokens)
        import torch.nn.functional as F

        from whisper_tui.training.distill import kl_to_base

        logits, targets = label_positions_logits(model, expanded, self.args)
        loss = F.cross_entropy(logits.float(), targets, reduction="sum") \
            + self.distill_weight * kl_to_base(logits, teacher_logits, self.distill_temperature)
        return loss / max(1, int(tokens if tokens is not None else targets.numel()))

    def _student_inputs(self, inputs, kv):
        """`inputs` with the cached layer's top run (with grad) and the cross-attention set to this batch's cached
        keys/values `kv` (or to the stock code when it has none)."""
        expanded = self._expand_cached(inputs)
        if self.fast_cross is not None:
            if kv is not None:
                self.fast_cross.set_batch(expanded["encoder_outputs"].last_hidden_state, kv)
            else:
                self.fast_cross.clear()
        return expanded

    def _teacher_logits(self, model, inputs):
        """The base model's logits at the label positions of `inputs` (None when not distilling). Runs the stock
        cross-attention: the cached keys/values (cross_kv.py) carry the adapters' share when they are on."""
        if self.teacher is None or self.distill_weight <= 0:
            return None
        if self.fast_cross is not None:
            self.fast_cross.clear()
        with self.teacher.run(model) as base_model:
            expanded = self._expand_cached(inputs, encoder_of(base_model))
            logits, _ = label_positions_logits(base_model, expanded, self.args)
        return logits

    def evaluate(self, *args, **kwargs):
        """As the Trainer's, with two differences.

        A cancelled evaluation returns no metrics and, during training, makes the Trainer save the
        current step's checkpoint and stop (it saves after evaluating, see
        Trainer._maybe_log_save_evaluate). Without it a cancel would wait for the whole test set.

        An evaluation leaves the random generators as it found them (building its data loader draws
        from torch's): training then draws the same dropout masks whether or not, and however far,
        an evaluation ran, so a run cancelled and resumed at any point trains exactly as one that
        was not (benchmarks/soak_cancel.py).

        It measures the model at the merge strength it will be saved with (`eval_scope`).

        An evaluation whose generating or scoring raises returns no metrics once `on_evaluation_failed`
        has been told (training goes on); without that hook the error is raised as before. Errors of the
        `on_evaluate` callbacks (saving best/, a full disk) are not evaluation failures and are raised.
        """
        saved = _rng_state()
        try:
            with self.eval_scope():
                return super().evaluate(*args, **kwargs)
        except EvaluationCancelled:
            if self.state.global_step > 0:
                self.control.should_save = True
                self.control.should_training_stop = True
            return {}
        except EvaluationFailed as failed:
            if self.on_evaluation_failed is None:
                raise failed.cause from None
            self.on_evaluation_failed(failed.cause, kwargs.get("metric_key_prefix", "eval"))
            return {}
        finally:
            _restore_rng_state(saved)

    def evaluation_loop(self, *args, **kwargs):
        """The Trainer's loop; what it raises (except a cancel) comes out as `EvaluationFailed` for `evaluate`."""
        from whisper_tui.training.run_control import Cancelled

        try:
            return super().evaluation_loop(*args, **kwargs)
        except (EvaluationCancelled, Cancelled, EvaluationFailed):
            raise
        except Exception as exc:
            raise EvaluationFailed(exc) from exc

    def _expand_cached(self, inputs, enc=None):
        if self.cached_top_from is None or "encoder_outputs" not in inputs:
            return inputs
        from transformers.modeling_outputs import BaseModelOutput

        from whisper_tui.training.encoder_cache import encode_top

        enc = encoder_of(self.model) if enc is None else enc
        param = next(enc.parameters())
        hidden = inputs["encoder_outputs"].last_hidden_state.to(param.device)
        hidden = encode_top(enc, hidden, self.cached_top_from)
        inputs = dict(inputs)
        inputs["encoder_outputs"] = BaseModelOutput(last_hidden_state=hidden)
        return inputs

    def get_eval_dataloader(self, eval_dataset=None):
        """The Trainer's, except for an evaluation set of an any-window model in one process: its batches then
        hold clips of one window each (`window_mix.WindowedExamples.eval_batches`), so every clip is scored at
        the window the saved model transcribes it at, and best/ is chosen by that WER. Batches of consecutive
        clips would run whole at their longest clip's window. Under torchrun the Trainer's own loader stays (its
        sharding and gathering assume batches of one size)."""
        dataset = self.eval_dataset if eval_dataset is None else eval_dataset
        if isinstance(dataset, str):
            dataset = self.eval_dataset[dataset]
        windows = getattr(self.data_collator, "windows", None)
        batches = None
        if windows is not None and self.args.world_size <= 1 and hasattr(dataset, "eval_batches"):
            batches = dataset.eval_batches(self.args.eval_batch_size, windows.windows)
        if not batches:
            return super().get_eval_dataloader(eval_dataset)
        from torch.utils.data import DataLoader

        loader = DataLoader(dataset, batch_sampler=batches, collate_fn=self.data_collator,
                            num_workers=self.args.dataloader_num_workers, pin_memory=self.args.dataloader_pin_memory)
        return self.accelerator.prepare(loader)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if not return_outputs and "labels" in inputs and _plain_model(model):
            return self._loss(model, inputs)
        inputs = dict(inputs)
        kv = inputs.pop("cross_kv", None)
        return super().compute_loss(model, self._student_inputs(inputs, kv), return_outputs=return_outputs,
                                    num_items_in_batch=num_items_in_batch)

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None, **gen_kwargs):
        import torch

        inputs = dict(inputs)
        inputs.pop("cross_kv", None)
        if self.fast_cross is not None:
            self.fast_cross.clear()
        if self.cached_top_from is not None and "encoder_outputs" in inputs:
            with torch.no_grad():
                inputs = self._expand_cached(inputs)
        from whisper_tui.models.any_window import one_segment

        # every test clip is one window (longer clips are left out of a run): one decoding pass each (one_segment)
        gen_kwargs = one_segment({**getattr(self, "_gen_kwargs", {}), **gen_kwargs})
        return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys=ignore_keys, **gen_kwargs)


def _rng_state() -> dict:
    import random

    import numpy as np
    import torch

    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _restore_rng_state(state: dict) -> None:
    import random

    import numpy as np
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state:
        torch.cuda.set_rng_state_all(state["cuda"])


def _plain_model(model) -> bool:
    """False under DDP/FSDP/DeepSpeed wrappers: their gradient sync needs the wrapper's own forward."""
    return not hasattr(model, "module")


def label_positions_loss(model, inputs, args=None, tokens: int | None = None):
    """Whisper's seq2seq loss (mean cross-entropy over labels != -100), with logits for those positions only.
    With `tokens` the summed cross-entropy is divided by it instead (a piece of a batch of `tokens` label tokens).

    Same value as `WhisperForConditionalGeneration(..., labels=labels).loss`, computed by calling
    the inner encoder-decoder and the output projection ourselves.
    """
    import torch.nn.functional as F

    logits, targets = label_positions_logits(model, inputs, args)
    if tokens is not None:
        return F.cross_entropy(logits.float(), targets, reduction="sum") / max(1, int(tokens))
    return F.cross_entropy(logits.float(), targets)


def label_positions_logits(model, inputs, args=None):
    """(logits, labels) at the label positions (labels != -100) only. Under CUDA mixed precision the Trainer's
    autocast wraps the outer model's forward, which this bypasses, so it is applied here."""
    import contextlib

    import torch
    from transformers.models.whisper.modeling_whisper import shift_tokens_right

    base = base_of(model)
    labels = inputs["labels"]
    decoder_input_ids = inputs.get("decoder_input_ids")  # a batch with previous text brings its own (collator.py)
    if decoder_input_ids is None:
        decoder_input_ids = shift_tokens_right(labels, base.config.pad_token_id, base.config.decoder_start_token_id)
    dtype = torch.bfloat16 if args is not None and args.bf16 else torch.float16 if args is not None and args.fp16 \
        else None
    device_type = labels.device.type
    amp = torch.autocast(device_type, dtype=dtype) if dtype is not None else contextlib.nullcontext()
    with amp:
        outputs = base.model(input_features=inputs.get("input_features"), encoder_outputs=inputs.get("encoder_outputs"),
                             decoder_input_ids=decoder_input_ids, use_cache=False)
        keep = labels != -100
        logits = base.proj_out(outputs.last_hidden_state[keep])
    return logits, labels[keep]
