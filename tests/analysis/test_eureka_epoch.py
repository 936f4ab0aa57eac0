"""The Eureka-moment epoch of a validation-accuracy history."""

import pytest

from qdsformer.analysis.eureka import EUREKA_THRESHOLD, eureka_epoch


def test_first_epoch_past_the_plateau_is_returned_1_based():
    plateau_then_jump = [0.30, 0.48, 0.51, 0.52, 0.51, 0.64, 0.86, 0.89, 0.90]
    assert eureka_epoch(plateau_then_jump) == 7
    assert eureka_epoch(plateau_then_jump, threshold=0.6) == 6


def test_no_eureka_moment_is_none():
    assert eureka_epoch([0.45, 0.5, 0.53, 0.55, 0.54]) is None
    assert eureka_epoch([]) is None


def test_sustain_skips_a_one_epoch_spike():
    spike = [0.5, 0.72, 0.52, 0.55, 0.8, 0.85, 0.9]
    assert eureka_epoch(spike) == 2
    assert eureka_epoch(spike, sustain=2) == 5
    assert eureka_epoch([0.5, 0.8], sustain=3) is None


def test_threshold_is_reached_inclusively_and_default_is_documented():
    assert EUREKA_THRESHOLD == 0.7
    assert eureka_epoch([0.5, 0.7]) == 2


@pytest.mark.parametrize("kwargs, match", [
    ({"val_acc_history": [0.5, 89.0]}, "fractions"),
    ({"val_acc_history": [0.5], "threshold": 70}, "threshold"),
    ({"val_acc_history": [0.5], "sustain": 0}, "sustain"),
])
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        eureka_epoch(**kwargs)
