"""The run's one line on forgetting: which controls it used and what general speech did.

Issue 22: a user who fine-tunes on their domain must be told how the tool kept the model from getting
worse at everything else, and with what result, in the words of the profile keys that set it:
"forgetting control: replay 21 everyday clips (data.replay_share 0.25), merge strength 0.75
(finetuning.merge_strength): validation WER 0.190, general speech 4.5% vs 4.8% before training".
The job logs it at the end and sends it as RunFinished.metrics["forgetting_control"]; the dashboard's
summary shows it. Engine module: no Textual, no torch.
"""

from __future__ import annotations


def forgetting_control_line(*, replay_clips: int, replay_share: float, strength: float | None, chosen: bool,
                            wer: float | None, keep_wer: float | None, base_keep_wer: float | None) -> str:
    """What kept general speech, and the figures of the model saved as final/ (None figures are left out)."""
    controls = []
    if replay_clips:
        controls.append(f"replay {replay_clips} everyday clip{'s' if replay_clips != 1 else ''} "
                        f"(data.replay_share {replay_share:g})")
    if strength is not None and strength < 1.0:
        how = "chosen on validation + general speech (finetuning.choose_merge_strength)" if chosen \
            else "finetuning.merge_strength"
        controls.append(f"merge strength {strength:g} ({how})")
    line = "forgetting control: " + (", ".join(controls) if controls else
                                     "none (data.replay_share 0, finetuning.merge_strength 1)")
    figures = []
    if wer is not None:
        figures.append(f"validation WER {wer:.3f}")
    if keep_wer is not None:
        figures.append(f"general speech {100 * keep_wer:.1f}%"
                       + (f" vs {100 * base_keep_wer:.1f}% before training" if base_keep_wer is not None else ""))
    return line + (": " + ", ".join(figures) if figures else "")
