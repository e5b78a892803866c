"""The mail log: what CalMesh e-mailed (or kept here without SMTP), and failed deliveries."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import abort, current_app, flash, redirect, request, url_for
from flask_login import current_user, login_required

from calmesh.effects import outbox
from calmesh.models import OutboxItem
from calmesh.services import mail
from calmesh.web import render, web

LOG_SIZE = 100
RETRIED = "Queued again: the next delivery attempt runs within seconds."


def _failed():
    return (
        OutboxItem.select()
        .where((OutboxItem.user == current_user) & (OutboxItem.status == "failed"))
        .order_by(OutboxItem.id.desc())
    )


def _local(dt: datetime) -> datetime:
    return dt.astimezone(ZoneInfo(current_user.timezone))


@web.route("/mail")
@login_required
def mail_log():
    return render(
        "mail/index.html",
        messages=mail.recent_for(current_user, LOG_SIZE),
        failed=_failed(),
        smtp=bool(current_app.config["CALMESH"]["mail.host"]),
        log_size=LOG_SIZE,
        local=_local,
        zone=current_user.timezone,
    )


@web.route("/mail/outbox/<int:item_id>/retry", methods=["POST"])
@login_required
def retry_outbox_item(item_id: int):
    item = OutboxItem.get_or_none((OutboxItem.id == item_id) & (OutboxItem.user == current_user))
    if item is None:
        abort(404)
    if item.status == "failed":  # a second click, after the first requeued it, does nothing
        outbox.retry_now(item)
    if request.headers.get("HX-Request"):
        return render("mail/_outbox.html", failed=_failed(), local=_local, notice=RETRIED)
    flash(RETRIED)
    return redirect(url_for("web.mail_log"))
