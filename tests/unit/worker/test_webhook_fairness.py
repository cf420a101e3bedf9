"""The sweep's hand-out rule: free slots go to the workspace serving the fewest endpoints, each
workspace's endpoints in the fair order of the due query, never past the per-workspace share."""

from __future__ import annotations

from collections import Counter

from models.outbox import DueEndpoint
from worker.webhooks.sweep import pick


def due(*pairs: str) -> list[DueEndpoint]:
    return [DueEndpoint(p.split("/")[1], p.split("/")[0]) for p in pairs]


def test_a_busy_workspace_leaves_the_free_slot_to_another() -> None:
    # A's endpoints waited longest and come first; A already holds two slots.
    waiting = due("A/a3", "A/a4", "A/a5", "B/b1")
    chosen = pick(waiting, {"a1", "a2"}, Counter({"A": 2}), room=2, share=3)
    assert [d.endpoint_id for d in chosen] == ["b1", "a3"]


def test_no_workspace_takes_more_than_its_share_even_with_room_left() -> None:
    chosen = pick(due("A/a1", "A/a2", "A/a3", "A/a4"), set(), Counter(), room=4, share=3)
    assert [d.endpoint_id for d in chosen] == ["a1", "a2", "a3"]


def test_workspaces_alternate_and_endpoints_already_served_are_skipped() -> None:
    waiting = due("A/a1", "A/a2", "B/b1", "B/b2", "C/c1")
    chosen = pick(waiting, {"a1"}, Counter({"A": 1}), room=4, share=3)
    assert [d.endpoint_id for d in chosen] == ["b1", "c1", "a2", "b2"]
