"""Open the Transcribe console on a model: one path for every screen that offers "transcribe with this".

The app's `open_transcribe` does it (switch mode, select the model, pre-fill the audio, compare with the
base); a host app without it (a screen tested on its own) gets the plain mode switch and model selection.
"""

from __future__ import annotations

import inspect


async def open_in_console(screen, model, audio=None, compare: bool = True) -> None:
    app = screen.app
    opener = getattr(app, "open_transcribe", None)
    if callable(opener):
        result = opener(model, audio=audio, compare=compare)
        if inspect.isawaitable(result):
            await result
        return
    await app.switch_mode("transcribe")
    select_model = getattr(app.screen, "select_model", None)
    if callable(select_model):
        select_model(model)
