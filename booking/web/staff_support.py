"""``/admin/support``: the support report of SPEC §15 for a chosen period, as a table (per
organisation, subtotals per category, a grand total), a bar chart drawn on the server (inline
SVG, its figures also in the table) and a CSV download. The figures come from
``booking.services.reports``; this module reads the period and lays out the chart."""

from __future__ import annotations

from datetime import date

from flask import Response, request, url_for
from flask_babel import gettext as _

from booking.services import reports
from booking.services.access import require_admin
from booking.web.common import category_name, render, require_login
from booking.web.forms import Form, today
from booking.web.i18n import money

# The chart's drawing: a label column, bars up to BAR_WIDTH, the amount after each bar.
LABEL_WIDTH, BAR_WIDTH, CHART_WIDTH, ROW_HEIGHT = 170, 190, 480, 30
TOP_ORGANIZATIONS = 10


def _period(args) -> tuple[Form, tuple[date, date] | None]:
    """The period asked for; without one, the current calendar year."""
    form = Form(args)
    this_year = today().year
    from_date = form.date("from", default=date(this_year, 1, 1))
    to_date = form.date("to", default=date(this_year, 12, 31))
    if from_date and to_date:
        if to_date < from_date:
            form.error("to", _("The end of the period must not be before its start."))
        elif (to_date - from_date).days + 1 > reports.MAX_PERIOD_DAYS:
            form.error("to", _("A period covers at most %(days)s days.", days=reports.MAX_PERIOD_DAYS))
    return form, (from_date, to_date) if form.ok else None


def _label(text: str, limit: int = 20) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bar_chart(items: list[tuple[str, int]]) -> dict:
    """Geometry of a horizontal bar chart of amounts in øre (negative amounts draw no bar)."""
    largest = max([amount for _, amount in items] + [1])
    bars = []
    for n, (label, amount) in enumerate(items):
        width = BAR_WIDTH * max(amount, 0) // largest
        bars.append(
            {
                "label": _label(label),
                "full_label": label,
                "amount": money(amount),
                "y": n * ROW_HEIGHT,
                "width": width,
                "text_x": LABEL_WIDTH + width + 6,
            }
        )
    return {
        "bars": bars,
        "width": CHART_WIDTH,
        "height": max(len(bars), 1) * ROW_HEIGHT,
        "label_width": LABEL_WIDTH,
        "row_height": ROW_HEIGHT,
    }


def support_page():
    who = require_login()
    require_admin(who)
    form, period = _period(request.args)
    report = reports.support_report(who, *period) if period else None
    charts = None
    if report is not None:
        charts = {
            "categories": bar_chart(
                [(category_name(c.category).capitalize(), c.total.support_ore) for c in report.categories]
            ),
            "organizations": bar_chart(
                [
                    (o.organization_name, o.support_ore)
                    for _category, o in report.top_organizations(TOP_ORGANIZATIONS)
                ]
            ),
        }
    return render(
        "staff_support.html",
        200 if form.ok else 422,
        form=form,
        report=report,
        charts=charts,
        top_count=TOP_ORGANIZATIONS,
        csv_url=url_for("web.support_csv", **{"from": period[0].isoformat(), "to": period[1].isoformat()})
        if period
        else None,
    )


def support_csv():
    who = require_login()
    require_admin(who)
    form, period = _period(request.args)
    if period is None:
        return support_page()
    report = reports.support_report(who, *period)
    name = f"support-{period[0].isoformat()}-{period[1].isoformat()}.csv"
    return Response(
        reports.support_csv(report),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


URLS: list[tuple] = [  # path, endpoint, view, methods (added to the pages' blueprint)
    ("/admin/support", "support_page", support_page, ["GET"]),
    ("/admin/support.csv", "support_csv", support_csv, ["GET"]),
]
