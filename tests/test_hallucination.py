"""hallucination.signs: each kind on a clear case, and ordinary speech that must not be flagged."""

from __future__ import annotations

import pytest

from conftest import JFK_TEXT
from whisper_tui.inference.hallucination import KINDS, count_signs, describe, flagged, signs, signs_per_clip

ORDINARY = [
    "The weather is very very nice today.",
    "No, no, I said the blue one.",
    "Thank you, thank you so much for coming.",
    "She takes amlodipine every morning and hydrochlorothiazide at night.",
    "Install webpack first, then configure Terraform on the staging server.",
    "It is what it is.",
    "Ha ha, that's funny.",
    "We had had enough of it by then.",
    "Bye bye, see you tomorrow.",
    JFK_TEXT,
]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_speech_is_not_flagged(text):
    assert signs(text, text) == ()
    assert signs(None, text) == ()
    assert signs(None, text, duration_s=len(text.split()) / 3.0) == ()


def test_ordinary_hypotheses_with_plain_errors_are_not_flagged():
    assert signs("Please close the door.", "Please close a door") == ()
    assert signs("Please close the door.", "Lease clothes the floor, please.") == ()
    assert signs("The patient was discharged on Monday.", "") == ("empty",)  # wrong, but not a loop


@pytest.mark.parametrize("hyp", [
    "the the the the",                                           # one word four times
    "Please close the door door door door.",
    "thank you thank you thank you",                             # a 2-gram three times
    "I am going I am going I am going home",                    # a 3-gram three times
    "we will see you we will see you we will see you",          # a 4-gram three times
    "please close the front door please close the front door",  # a 5-word phrase twice
    "you thank you thank you thank",                             # the stretch starts mid-phrase
])
def test_loops_are_found_with_and_without_a_reference(hyp):
    assert "loop" in signs("Please close the front door.", hyp)
    assert "loop" in signs(None, hyp)


def test_below_the_thresholds_is_speech():
    assert signs(None, "no no no") == ()                        # a word three times
    assert signs(None, "thank you thank you") == ()             # a 2-gram twice
    assert signs(None, "we will see you we will see you") == () # a 4-gram twice


def test_a_repetition_the_speaker_made_is_not_a_loop():
    ref = "No no no no, not that one."
    assert signs(ref, "no no no no not that one") == ()
    assert signs(ref, "no no no no no not that one") == ()       # one extra "no" is an error, not a loop
    assert "loop" in signs(ref, "no no no no no no no no not that one")
    chant = "Thank you thank you thank you."
    assert signs(chant, "thank you thank you thank you") == ()
    assert signs(chant, "you thank you thank you thank") == ()   # a rotation of what was said


def test_a_long_repeated_sentence_is_a_loop():
    ref = "The migration finished on the staging server last night."
    hyp = " ".join([ref] * 3)
    assert signs(ref, hyp) == ("loop", "long")
    assert signs(None, hyp) == ("loop",)


def test_highly_compressible_output_is_a_loop():
    # a phrase that comes back with a new last word each time is no back-to-back run, but it compresses
    hyp = " ".join(f"and then we went to the {place}" for place in
                   ("market", "shop", "park", "bank", "school", "beach", "zoo"))
    assert signs(None, hyp) == ("loop",)
    assert signs(hyp, hyp) == ()  # unless the speaker said so
    paragraph = ("Fine-tune Whisper Tiny on your own audio, watch it train, then transcribe and measure accuracy "
                 "from the keyboard, in a terminal, locally or over SSH. Everything works offline.")
    assert signs(None, paragraph) == ()


def test_empty():
    assert signs("Hello there.", "") == ("empty",)
    assert signs("Hello there.", "  ...  ") == ("empty",)       # punctuation only normalises to nothing
    assert signs("Hello there.", "Um, uh.") == ("empty",)       # fillers too
    assert signs(None, "") == ()                               # no reference: nothing to miss
    assert signs("", "") == ()                                 # a silent clip, rightly silent


def test_long():
    ref = "Close the door."                                    # 3 words: more than 9 is long
    assert signs(ref, "close the door and then open all the windows") == ()   # 9 words
    assert signs(ref, "close the door and then open all of the windows") == ("long",)  # 10 words
    assert signs("", "this is not silence at all") == ("long",)
    assert signs("", "okay thanks") == ()
    assert signs(None, "a b c d e f g h i j k l m n o p") == ()  # no reference: no length check


def test_too_many_words_needs_no_reference_and_a_duration():
    fast = "apple bread cheese dates eggs figs grapes honey ice jam kale lemon mango nuts oats"  # 15 words
    assert signs(None, fast, duration_s=2.0) == ("too_many_words",)  # 15 words > 6*2 + 2
    assert signs(None, fast, duration_s=3.0) == ()                   # 5 words/s
    assert signs(None, fast) == ()
    assert signs(None, "yes please", duration_s=0.2) == ()           # short clips get a slack
    assert "too_many_words" not in signs(fast, fast, duration_s=1.0)  # with a reference, "long" is the check


def test_totals_and_description():
    refs = ["Close the door.", "Hello there.", "Close the door.", "Good morning."]
    hyps = ["close the door", "", "close close close close the door", ""]
    per_clip = signs_per_clip(refs, hyps)
    assert per_clip == [(), ("empty",), ("loop",), ("empty",)]
    counts = count_signs(refs, hyps)
    assert list(counts) == list(KINDS)
    assert counts == {"loop": 1, "empty": 2, "long": 0, "too_many_words": 0}
    assert flagged(refs, hyps) == 3
    assert describe(counts) == "1 loop, 2 empty"
    assert describe({"loop": 2, "empty": 1, "long": 1}) == "2 loops, 1 empty, 1 too long"
    assert describe(count_signs(["a"], ["a"])) == "none"
    assert count_signs([None], ["we can do it all today and go home now"], [0.5])["too_many_words"] == 1
    with pytest.raises(ValueError):
        count_signs(["a", "b"], ["a"])
