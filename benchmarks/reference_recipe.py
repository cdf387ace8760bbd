"""The seed tool's fine-tuning recipe, written with plain Hugging Face code: the baseline of issue #4.

What the seed does (its README, /work/shared/seed): WhisperProcessor + WhisperForConditionalGeneration,
features computed up front for every clip (the `dataset.map(prepare_dataset)` step of HF's Whisper
fine-tuning guide), a padding collator, `Seq2SeqTrainer`, and for the recommended setup a frozen
encoder, gradient checkpointing and LoRA r16 (alpha 32, dropout 0.05) on the decoder's q_proj/v_proj,
learning rate 1e-3, batch 4, fp32 on a CPU. Nothing here imports the whisper-tui training engine;
the benchmark only shares the data split, the bundled model folder and the WER scorer with it, so
both sides train and are scored on exactly the same clips.

One deliberate difference from the widely copied collator: it strips the leading
<|startoftranscript|> by comparing with `decoder_start_token_id` (the copied version compares with
`bos_token_id`, never matches, and trains on a doubled start token: transformers#29973). The baseline
is the recipe done right, so the comparison is about speed, not about a bug.
"""

from __future__ import annotations

from dataclasses import dataclass

DECODER_QV = r".*model\.decoder\.layers\.\d+\.(self_attn|encoder_attn)\.(q_proj|v_proj)$"


class SpeechDataset:
    """Log-mel features and token ids computed once, like `datasets.map(prepare_dataset)`."""

    def __init__(self, clips, processor):
        import soundfile as sf

        self.items = []
        for clip in clips:
            audio, sr = sf.read(str(clip.path), dtype="float32", always_2d=True)
            audio = audio.mean(axis=1)
            if sr != 16000:
                import torch
                import torchaudio

                audio = torchaudio.functional.resample(torch.from_numpy(audio), sr, 16000).numpy()
            features = processor.feature_extractor(audio, sampling_rate=16000).input_features[0]
            labels = processor.tokenizer(clip.transcription).input_ids
            self.items.append({"input_features": features, "labels": labels})

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        return self.items[i]


@dataclass
class DataCollatorSpeechSeq2SeqWithPadding:
    processor: object
    decoder_start_token_id: int

    def __call__(self, features: list[dict]) -> dict:
        input_features = [{"input_features": f["input_features"]} for f in features]
        batch = self.processor.feature_extractor.pad(input_features, return_tensors="pt")
        label_features = [{"input_ids": f["labels"]} for f in features]
        labels_batch = self.processor.tokenizer.pad(label_features, return_tensors="pt")
        labels = labels_batch["input_ids"].masked_fill(labels_batch.attention_mask.ne(1), -100)
        if (labels[:, 0] == self.decoder_start_token_id).all().cpu().item():
            labels = labels[:, 1:]
        batch["labels"] = labels
        return batch


def build_model(model_dir, *, strategy: str = "lora", freeze_encoder: bool = True, gradient_checkpointing: bool = True,
                r: int = 16, alpha: int = 32, dropout: float = 0.05):
    from transformers import WhisperForConditionalGeneration, WhisperProcessor

    processor = WhisperProcessor.from_pretrained(str(model_dir))
    model = WhisperForConditionalGeneration.from_pretrained(str(model_dir))
    model.config.use_cache = False
    model.generation_config.forced_decoder_ids = None
    if freeze_encoder:
        model.model.encoder.requires_grad_(False)
    if gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    if strategy == "lora":
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout,
                                                 target_modules=DECODER_QV, bias="none"))
    return model, processor


def make_trainer(model, processor, train_ds, output_dir, *, epochs: float = 3, lr: float = 1e-3, batch: int = 4,
                 warmup: float = 0.1, scheduler: str = "linear", weight_decay: float = 0.0, seed: int = 42,
                 callbacks=()):
    from transformers import PrinterCallback, Seq2SeqTrainer, Seq2SeqTrainingArguments

    args = Seq2SeqTrainingArguments(
        output_dir=str(output_dir), per_device_train_batch_size=batch, learning_rate=lr, num_train_epochs=epochs,
        warmup_steps=warmup, lr_scheduler_type=scheduler, weight_decay=weight_decay, fp16=False, use_cpu=True,
        eval_strategy="no", save_strategy="no", logging_steps=10, report_to=[], remove_unused_columns=False,
        label_names=["labels"], seed=seed, disable_tqdm=True, dataloader_num_workers=0)
    collator = DataCollatorSpeechSeq2SeqWithPadding(processor, model.config.decoder_start_token_id)
    trainer = Seq2SeqTrainer(model=model, args=args, train_dataset=train_ds, data_collator=collator,
                             processing_class=processor.feature_extractor, callbacks=list(callbacks))
    trainer.remove_callback(PrinterCallback)  # keep the benchmark's table readable
    return trainer


def merged_for_inference(model):
    """The trained model as a plain Whisper for evaluation (LoRA merged, cache back on)."""
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    if getattr(model, "is_gradient_checkpointing", False):
        model.gradient_checkpointing_disable()
    model.config.use_cache = True
    model.eval()
    return model
