"""A worker killed with SIGKILL mid-run: a new worker finishes and nobody gets
anything twice or is left stuck."""

from __future__ import annotations

from collections import Counter

from superflow.crashtest import run_crash_round


def test_sigkill_mid_batch_leaves_every_effect_exactly_once(sf_config):
    report = run_crash_round(sf_config, persons=150, kill_after=60)
    assert 0 < report.killed_after_emails < 150, "the kill must land in the middle of the run"
    assert report.emails == 150 and report.duplicate_emails == 0
    assert report.sms == 150 and report.duplicate_sms == 0
    assert report.crm_writes == Counter({1: 150})
    assert report.completed == 150 and report.stuck == 0
