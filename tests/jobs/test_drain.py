"""The bounded pool that works through due rows: every due row once, a claim
refused is skipped, one group never takes more than its share of threads, a
failing row does not stop the others, leases are renewed while rows run, and
no new rows are taken once the budget is spent.

Synchronised with events and barriers, not with sleeps: the same on a busy
machine as on an idle one."""

from __future__ import annotations

import threading

import pytest

from calmesh.jobs import drain as drain_module
from calmesh.jobs.drain import drain


class Rows:
    """Due rows (id -> group) and what happened to them; thread-safe."""

    def __init__(self, groups: dict[int, str]) -> None:
        self.groups, self.lock = dict(groups), threading.Lock()
        self.done: list[int] = []
        self.running: set[int] = set()
        self.most_at_once: dict[str, int] = {}

    def fetch(self, running: set[int], limit: int) -> list[tuple[int, str]]:
        with self.lock:
            due = [(i, g) for i, g in self.groups.items() if i not in running]
        return due[:limit]

    def claim(self, row_id: int) -> bool:
        return True

    def work(self, row_id: int) -> None:
        with self.lock:
            self.running.add(row_id)
            group = self.groups[row_id]
            now = sum(1 for i in self.running if self.groups[i] == group)
            self.most_at_once[group] = max(self.most_at_once.get(group, 0), now)
        try:
            self.body(row_id)
        finally:
            with self.lock:
                self.running.discard(row_id)
                self.done.append(row_id)
                del self.groups[row_id]

    def body(self, row_id: int) -> None:
        pass


def test_every_due_row_runs_once(app):
    rows = Rows({i: f"g{i}" for i in range(10)})

    assert drain(app, fetch=rows.fetch, claim=rows.claim, work=rows.work, workers=3) == 10
    assert sorted(rows.done) == list(range(10))


def test_a_row_claimed_elsewhere_is_skipped(app):
    rows = Rows({1: "a", 2: "b", 3: "c"})
    taken_elsewhere = {2}

    def claim(row_id: int) -> bool:
        if row_id in taken_elsewhere:
            rows.groups.pop(row_id)  # the other scheduler works it off
            return False
        return True

    assert drain(app, fetch=rows.fetch, claim=claim, work=rows.work, workers=2) == 2
    assert sorted(rows.done) == [1, 3]


def test_one_group_holds_at_most_its_share_of_threads(app):
    """Four slow rows of one receiver and one of another: the other's runs
    while the slow ones hold their two threads (of four)."""
    rows = Rows({1: "slow", 2: "slow", 3: "slow", 4: "slow", 5: "quick"})
    quick_done = threading.Event()

    def body(row_id: int) -> None:
        if row_id == 5:
            quick_done.set()
        else:
            assert quick_done.wait(60), "the quick row waited behind the slow ones"

    rows.body = body
    drain(app, fetch=rows.fetch, claim=rows.claim, work=rows.work, workers=4, per_group=2)

    assert sorted(rows.done) == [1, 2, 3, 4, 5]
    assert rows.most_at_once["slow"] <= 2


def test_a_failing_row_is_logged_and_the_others_still_run(app, caplog):
    rows = Rows({1: "a", 2: "b", 3: "c"})

    def body(row_id: int) -> None:
        if row_id == 2:
            raise RuntimeError("receiver exploded")

    rows.body = body
    assert drain(app, fetch=rows.fetch, claim=rows.claim, work=rows.work, workers=1) == 3
    assert sorted(rows.done) == [1, 2, 3]
    assert "row 2 failed: receiver exploded" in caplog.text


def test_running_rows_have_their_leases_renewed(app, monkeypatch):
    monkeypatch.setattr(drain_module, "IDLE_WAIT_SECONDS", 0.01)
    rows = Rows({1: "a"})
    renewed: list[list[int]] = []
    release = threading.Event()

    def renew(ids) -> None:
        renewed.append(list(ids))
        release.set()

    rows.body = lambda row_id: release.wait(60)
    drain(
        app,
        fetch=rows.fetch,
        claim=rows.claim,
        work=rows.work,
        renew=renew,
        renew_every=0.0,
        workers=1,
    )
    assert renewed and renewed[0] == [1]


@pytest.mark.parametrize("budget", [0.0, -1.0])
def test_no_row_is_taken_once_the_budget_is_spent(app, budget):
    rows = Rows({1: "a", 2: "b"})

    assert (
        drain(app, fetch=rows.fetch, claim=rows.claim, work=rows.work, workers=2, budget=budget)
        == 0
    )
    assert rows.done == []
