"""WCAG 2.1 AA in real Chromium (issue 15): axe-core checks every page of the site as the role
that sees it (anonymous, member, janitor, admin), in bokmål and English, at desktop (1366 px) and
phone (390 px) widths, and no page is wider than a 390 px phone. A full-page screenshot of every
page, role, language and width goes to ``test-output/e2e/a11y-*.png`` for a reviewer to look at.

axe-core is the npm package in ``tests/js`` (``scripts/install-test-deps.sh`` installs it). One
browser context per role, logged in once; the language is switched with ``?lang=`` and the width
with the viewport, so the whole file runs in a few minutes.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.conftest import OUTPUT, ROOT, SECRET_KEY
from tests.e2e.test_browser import log_in

AXE = ROOT / "tests" / "js" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
WIDTHS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
LANGUAGES = ("nb", "en")

RUN_AXE = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    targets: v.nodes.slice(0, 8).map(n => n.target.join(' ')),
    summary: (v.nodes[0] && v.nodes[0].failureSummary || '').split('\\n').slice(0, 3).join(' '),
    count: v.nodes.length,
  }));
}"""

# The page's width against the window's, and the outermost elements that stick out (not those
# inside a box that scrolls or clips them), the widest first.
OVERFLOW = """() => {
  const width = window.innerWidth;
  const path = el => {
    const parts = [];
    for (let e = el; e && e.nodeType === 1 && parts.length < 4; e = e.parentElement) {
      const classes = typeof e.className === 'string' ? e.className.trim().split(/\\s+/) : [];
      parts.unshift(e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
        + classes.filter(Boolean).map(c => '.' + c).join(''));
    }
    return parts.join(' > ');
  };
  const contained = el => {
    for (let e = el.parentElement; e && e !== document.body; e = e.parentElement) {
      if (getComputedStyle(e).overflowX !== 'visible') return true;
    }
    return false;
  };
  const all = [...document.body.querySelectorAll('*')]
    .filter(el => el.getBoundingClientRect().right > width + 0.5);
  // An absolutely positioned element escapes a scrolling box that is not positioned: if nothing
  // else sticks out, list those too.
  const free = all.filter(el => !contained(el));
  const out = new Set(free.length ? free : all);
  const widest = [...out].filter(el => !out.has(el.parentElement))
    .map(el => ({el, right: el.getBoundingClientRect().right}))
    .sort((a, b) => b.right - a.right).slice(0, 6)
    .map(x => `${path(x.el)} (right edge ${Math.round(x.right)} px)`);
  return {scrollWidth: document.documentElement.scrollWidth, width, widest};
}"""


def _ids(database_url: str) -> dict:
    """Ids of the demo's things the pages are about, read from the scenario's database as it is
    when the test runs (another test may have approved a request already)."""
    connection = sqlite3.connect(database_url.removeprefix("sqlite:///"))
    try:

        def first(sql: str, *args):
            row = connection.execute(sql, args).fetchone()
            assert row, f"the demo has nothing for: {sql}"
            return row[0]

        bekkestua = first("SELECT id FROM buildings WHERE name = 'Bekkestua kulturhus'")
        ids = {
            "building": bekkestua,
            "room": first("SELECT id FROM rooms WHERE building_id = ? AND name = 'Storsalen'", bekkestua),
            "user": first("SELECT id FROM users WHERE email = 'korps@demo.test'"),
            "janitor": first("SELECT id FROM users WHERE email = 'vaktmester@demo.test'"),
            "round": first("SELECT id FROM rounds ORDER BY id"),
            "pending": first("SELECT id FROM bookings WHERE status = 'pending' ORDER BY id"),
            "organization": first("SELECT id FROM organizations WHERE name = 'Bekkestua Skolekorps'"),
            "own_booking": first(
                "SELECT b.id FROM bookings b JOIN organizations o ON o.id = b.organization_id"
                " WHERE o.name = 'Bekkestua Skolekorps' AND b.status = 'confirmed' AND b.start > ?"
                " ORDER BY b.start",
                datetime.now(UTC).isoformat(sep=" ")[:19],
            ),
        }
        ids["series"] = connection.execute(
            "SELECT s.id FROM series s JOIN organizations o ON o.id = s.organization_id"
            " WHERE o.name = 'Bekkestua Skolekorps' ORDER BY s.id"
        ).fetchone()
        return ids
    finally:
        connection.close()


def _mail_links(scenario, email: str) -> dict[str, str]:
    """The paths of the confirmation and password reset mails' links to ``email``, made as the
    mail worker makes them, with the server's key (no worker runs in these tests)."""
    from booking import create_app
    from booking.extensions import db
    from booking.models import User
    from booking.models.types import utcnow
    from booking.services import accounts

    app = create_app({"SQLALCHEMY_DATABASE_URI": scenario.database_url, "SECRET_KEY": SECRET_KEY})
    with app.app_context():
        user = db.session.execute(db.select(User).filter_by(email=email)).scalar_one()
        links = {
            purpose: "/" + accounts.mail_link(user, purpose, utcnow()).split("/", 3)[3]
            for purpose in (accounts.CONFIRM, accounts.RESET)
        }
        db.session.remove()
        db.engine.dispose()
    return links


def _pages(role: str, ids: dict, scenario) -> list[tuple[str, str, str | None]]:
    """(name, path, form) of every page ``role`` sees: the web blueprint's HTML pages, each as the
    role that can open it (the public pages as everyone). With a form (a CSS selector), the page
    is checked once more after that form is sent empty: the error summary and the fields marked
    invalid (nothing is changed by an empty form)."""
    day = (scenario.busy_day or (datetime.now(UTC).date() + timedelta(days=21))).isoformat()
    when = f"date={day}&start=18:00&length=120"
    room = f"/rooms/{ids['room']}?{when}"
    public = [("search", "/", None), ("search-results", f"/?{when}&capacity=10", None), ("room", room, None)]
    public.append(("building-public", f"/buildings/{ids['building']}", None))
    rounds = [("rounds", "/rounds", None), ("round", f"/rounds/{ids['round']}", None)]
    if role == "anonymous":
        links = _mail_links(scenario, "dans@demo.test")
        return (
            public
            + rounds
            + [("login", "/login", None), ("register", "/register", None)]
            + [("password-reset", "/password-reset", None)]
            + [("confirm-email-link", links["confirm"], None), ("password-reset-link", links["reset"], None)]
        )
    if role == "member":
        return (
            public
            + [("room-errors", room, "#booking-form")]
            + rounds
            + [("my", "/my", None), ("cancel", f"/my/bookings/{ids['own_booking']}/cancel", None)]
            + ([("cancel-series", f"/my/series/{ids['series'][0]}/cancel", None)] if ids["series"] else [])
        )
    if role == "janitor":
        return [
            ("search", "/", None),
            ("janitor", "/janitor", None),
            ("janitor-day", f"/janitor/{ids['building']}?date={day}", None),
            ("janitor-all", f"/janitor/all?date={day}", None),
        ]
    return [
        ("search", "/", None),
        ("room", room, None),
        ("admin", "/admin", None),
        ("approve", f"/admin/bookings/{ids['pending']}/approve", None),
        ("reprice", f"/admin/organizations/{ids['organization']}/reprice", None),
        ("buildings", "/admin/buildings", None),
        ("buildings-errors", "/admin/buildings", "form[method=post][action$='/admin/buildings']"),
        ("building", f"/admin/buildings/{ids['building']}", None),
        ("room-new", f"/admin/buildings/{ids['building']}/rooms", None),
        ("room-admin", f"/admin/rooms/{ids['room']}", None),
        ("price-lists", "/admin/price-lists", None),
        ("users", "/admin/users", None),
        ("users-errors", "/admin/users", "form[method=post][action$='/admin/users']"),
        ("user", f"/admin/users/{ids['user']}", None),
        ("user-janitor", f"/admin/users/{ids['janitor']}", None),
        ("audit", "/admin/audit", None),
        ("invoices", "/admin/invoices", None),
        ("support", "/admin/support", None),
        ("rounds", "/rounds", None),
        ("round", f"/rounds/{ids['round']}", None),
        ("janitor", "/janitor", None),
        ("janitor-day", f"/janitor/{ids['building']}?date={day}", None),
        ("janitor-all", f"/janitor/all?date={day}", None),
    ]


SEND_EMPTY = """(selector) => {
  const form = document.querySelector(selector);
  form.noValidate = true;  // the server's answer to an empty form, not the browser's bubble
  for (const field of form.querySelectorAll('input:not([type=hidden]):not([type=checkbox]), textarea')) {
    field.value = '';
  }
  form.requestSubmit();
}"""


def _open(page, path: str, form: str | None):
    """Open ``path`` (and send ``form`` empty); the response of what is shown."""
    response = page.goto(path)
    if form:
        with page.expect_navigation() as sent:
            page.evaluate(SEND_EMPTY, form)
        response = sent.value
    if path.startswith("/rooms/"):
        page.wait_for_load_state("networkidle")  # the live quote (JavaScript) has come
    return response


ROLES = {
    "anonymous": None,
    "member": "korps@demo.test",
    "janitor": "vaktmester@demo.test",
    "admin": "admin@demo.test",
}


def _describe(violations: list[dict]) -> str:
    return "; ".join(
        f"{v['id']} ({v['impact']}, {v['count']}×: {v['help']}) at {', '.join(v['targets'])} – {v['summary']}"
        for v in violations
    )


@pytest.mark.parametrize("role", list(ROLES))
def test_every_page_passes_axe_and_fits_a_phone(browser, scenario, role):
    assert AXE.exists(), f"{AXE} is missing: run `bash scripts/install-test-deps.sh` (npm ci in tests/js)"
    ids = _ids(scenario.database_url)
    context = browser.new_context(
        base_url=scenario.base_url,
        locale="nb-NO",
        timezone_id="Europe/Oslo",
        viewport=WIDTHS["desktop"],
    )
    context.set_default_timeout(15_000)
    # An init script, not a <script> tag: the pages' Content-Security-Policy allows no inline script.
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    problems: list[str] = []
    checked = 0
    try:
        if ROLES[role]:
            log_in(page, ROLES[role])
            page.wait_for_url(lambda url: "/login" not in url)
        for language in LANGUAGES:
            page.goto(f"/?lang={language}")
            for name, path, form in _pages(role, ids, scenario):
                for width, viewport in WIDTHS.items():
                    page.set_viewport_size(viewport)
                    response = _open(page, path, form)
                    where = f"{role} {language} {width} {path}{' (' + form + ' sent empty)' if form else ''}"
                    expected = 422 if form else 200
                    if response is None or response.status != expected:
                        status = response.status if response else "none"
                        problems.append(f"{where}: HTTP {status}, not {expected}")
                        continue
                    assert page.evaluate("document.documentElement.lang") == language, where
                    violations = page.evaluate(RUN_AXE, WCAG_AA)
                    if violations:
                        problems.append(f"{where}: {_describe(violations)}")
                    if width == "phone":
                        fit = page.evaluate(OVERFLOW)
                        if fit["scrollWidth"] > fit["width"]:
                            problems.append(
                                f"{where}: {fit['scrollWidth']} px wide in a {fit['width']} px window; "
                                f"widest: {'; '.join(fit['widest'])}"
                            )
                    page.screenshot(
                        path=str(OUTPUT / f"a11y-{role}-{name}-{language}-{width}.png"), full_page=True
                    )
                    checked += 1
    finally:
        context.close()
    assert checked, "no page was checked"
    assert not problems, f"{len(problems)} of {checked} page views fail:\n" + "\n".join(problems)


def test_axe_finds_what_it_should(browser, scenario):
    """The checks can fail: an unlabelled field, faint grey text and a box wider than the phone
    are found."""
    context = browser.new_context(base_url=scenario.base_url, viewport=WIDTHS["phone"])
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    try:
        page.goto("/login")
        page.evaluate(
            """() => {
              document.querySelector('label[for=email]').remove();
              const p = document.createElement('p'); p.textContent = 'Faint text';
              p.style.color = '#ccc'; document.querySelector('main').append(p);
              const wide = document.createElement('div'); wide.style.width = '600px';
              wide.textContent = 'x'; document.querySelector('main').append(wide);
            }"""
        )
        found = {v["id"] for v in page.evaluate(RUN_AXE, WCAG_AA)}
        assert {"label", "color-contrast"} <= found, found
        fit = page.evaluate(OVERFLOW)
        assert fit["scrollWidth"] > fit["width"] and any("div" in w for w in fit["widest"]), fit
    finally:
        context.close()
