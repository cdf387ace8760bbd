"""Group subtitle cues into training segments of at most 30 s, never cutting inside a cue.

Cues are taken in time order and merged while the segment stays within `max_s` and the pause
before the next cue is shorter than `max_gap_s` (a longer pause is a natural place to cut; a
segment that spans one would teach the model to expect speech in silence). A VTT speaker change
also starts a new segment. A cue longer than `max_s` cannot become a clip without being split, so
it is left out and reported, and no segment reaches across it (its audio would be in the clip with
no words for it). Cues with no spoken text (`[Music]`) or impossible times are left out too.
Each segment is padded by up to `pad_s` on each side (subtitle times are often tight on the
words), never into a neighbouring cue and never past `max_s`.
"""

from __future__ import annotations

from dataclasses import dataclass

from whisper_tui.data.metadata import MAX_CLIP_SECONDS
from whisper_tui.data.importers.subtitles import Cue

MAX_GAP_S = 1.5
PAD_S = 0.2
TOO_LONG, NO_TEXT, BAD_TIMES, PAST_END = "cue longer than", "no spoken text", "end not after start", \
    "after the end of the recording"


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str
    cues: tuple[Cue, ...]
    speaker: str = ""

    @property
    def duration(self) -> float:
        return self.end - self.start


def _close(group: list[int], cues: list[Cue], max_s: float, pad_s: float, duration: float | None) -> Segment:
    start, end = cues[group[0]].start, max(cues[i].end for i in group)
    before = cues[group[0] - 1].end if group[0] > 0 else 0.0
    after = cues[group[-1] + 1].start if group[-1] + 1 < len(cues) else (duration if duration else end + pad_s)
    spare = max(0.0, max_s - (end - start))
    lead = max(0.0, min(pad_s, spare / 2, start - before))
    trail = max(0.0, min(pad_s, spare - lead, after - end))
    speakers = {cues[i].speaker for i in group}
    speaker = speakers.pop() if len(speakers) == 1 else ""
    return Segment(round(start - lead, 3), round(end + trail, 3), " ".join(cues[i].text for i in group),
                   tuple(cues[i] for i in group), speaker)


def segment_cues(cues: list[Cue], *, max_s: float = MAX_CLIP_SECONDS, max_gap_s: float = MAX_GAP_S,
                 pad_s: float = PAD_S, duration: float | None = None) -> tuple[list[Segment], list[tuple[Cue, str]]]:
    """(segments, [(cue, why it was left out)]); `duration` is the recording's length when known."""
    timed, left_out = [], []
    for cue in cues:
        if cue.end <= cue.start:
            left_out.append((cue, BAD_TIMES))
        elif duration is not None and cue.start >= duration:
            left_out.append((cue, PAST_END))
        else:
            timed.append(cue if duration is None or cue.end <= duration else
                         Cue(cue.start, duration, cue.text, cue.speaker, cue.line))
    timed.sort(key=lambda c: (c.start, c.end))
    segments: list[Segment] = []
    group: list[int] = []

    def close() -> None:
        if group:
            segments.append(_close(group, timed, max_s, pad_s, duration))
            group.clear()

    for i, cue in enumerate(timed):
        if cue.end - cue.start > max_s:
            left_out.append((cue, f"{TOO_LONG} {max_s:g} s ({cue.end - cue.start:.1f} s)"))
            close()  # nothing reaches across a cue that is left out for its length
            continue
        if not cue.text:
            left_out.append((cue, NO_TEXT))
            continue
        if group:
            seg_start = timed[group[0]].start
            seg_end = max(timed[j].end for j in group)
            speaker = timed[group[-1]].speaker
            fits = max(seg_end, cue.end) - seg_start <= max_s
            if not fits or cue.start - seg_end >= max_gap_s or (speaker and cue.speaker and speaker != cue.speaker):
                close()
        group.append(i)
    close()
    left_out.sort(key=lambda item: (item[0].start, item[0].line))
    return segments, left_out
