"""Tests for the progress helpers."""

from datn_tf.progress import fmt_time


def test_fmt_time():
    assert fmt_time(0) == "0:00"
    assert fmt_time(59.9) == "0:59"
    assert fmt_time(75) == "1:15"
    assert fmt_time(3599) == "59:59"
    assert fmt_time(3600) == "1:00:00"
    assert fmt_time(7 * 3600 + 5 * 60 + 3) == "7:05:03"
    assert fmt_time(-5) == "0:00"  # an ETA cannot be negative
