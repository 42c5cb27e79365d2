"""Feed-token rotation through real servers (two gunicorn processes on one database): however
many rotations of one private feed run at once, afterwards exactly one of the URLs they
returned works (200) and every other answers 404, and it is the URL the API shows as current."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from booking.extensions import db
from booking.models import FeedToken
from tests.integration import test_races

pytestmark = pytest.mark.slow
servers = test_races.servers  # the race tests' two gunicorn servers, three workers each
ROTATIONS = 6
ROUNDS = 3  # a lost revocation needs an unlucky interleaving: give it a few chances


def _call(url: str, method: str = "GET", token: str | None = None) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(
        url, data=b"" if method == "POST" else None, method=method, headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _rotate_at_once(urls: list[str], path: str, token: str) -> list[tuple[int, bytes]]:
    barrier = threading.Barrier(ROTATIONS)
    results: list = [None] * ROTATIONS

    def client(i: int) -> None:
        barrier.wait()
        results[i] = _call(urls[i % len(urls)] + path, "POST", token)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(ROTATIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def _feed_path(body: bytes) -> str:
    return urlsplit(json.loads(body)["feed_url"]).path


def _check_one_working_url(urls: list[str], path: str, token: str, live_tokens) -> None:
    for _ in range(ROUNDS):
        answers = _rotate_at_once(urls, path, token)
        assert [status for status, _ in answers] == [201] * ROTATIONS, answers
        feeds = [_feed_path(body) for _, body in answers]
        assert len(set(feeds)) == ROTATIONS, "every rotation issues a URL of its own"
        # each URL asked of both servers: no worker may still know a revoked token
        statuses = {feed: {_call(url + feed)[0] for url in urls} for feed in feeds}
        working = [feed for feed, got in statuses.items() if got == {200}]
        assert len(working) == 1, statuses
        assert all(got == {404} for feed, got in statuses.items() if feed != working[0]), statuses
        status, current = _call(urls[0] + path, "GET", token)
        assert status == 200 and _feed_path(current) == working[0]
        db.session.rollback()  # a fresh snapshot of what the servers committed
        assert live_tokens() == 1


def test_concurrent_feed_rotations_leave_one_working_url(servers, make):
    # both kinds of private feed in one test: starting the servers is what takes the time
    organization = make.organization()
    member = make.member(organization)
    janitor = make.janitor(make.building())

    def live_tokens(subject) -> int:
        return db.session.scalar(
            select(func.count()).select_from(FeedToken).where(subject, FeedToken.revoked_at.is_(None))
        )

    _check_one_working_url(
        servers,
        f"/api/v1/organizations/{organization.id}/feed-token",
        member.token,
        lambda: live_tokens(FeedToken.organization_id == organization.id),
    )
    _check_one_working_url(
        servers,
        "/api/v1/me/feed-token",
        janitor.token,
        lambda: live_tokens(FeedToken.user_id == janitor.user.id),
    )
