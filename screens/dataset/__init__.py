"""The Dataset screen (key 1), one file per job.

screen.py is the screen: open a folder, the clip table, filters and sorting, the keys. The screen is built
from mixins, each for one part of it: summary.py (the side panel: counts, split, histogram, problems),
clip_detail.py (the highlighted clip: waveform and problems), sample.py (generate and open the sample
data), review.py (edit a labelled dataset's transcripts, accept, undo), label.py (label a folder of
recordings), import_offer.py (import a folder in another format). report.py is the validation report modal.
"""
