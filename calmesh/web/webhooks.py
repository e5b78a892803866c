"""Webhooks in the dashboard: create (the secret shown once), status, the delivery
log with redeliver buttons, ping, pause, rotate the secret, delete."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, request, url_for
from flask_login import current_user, login_required

from calmesh.inputs.webhooks import NEW_WEBHOOK
from calmesh.models import Webhook, WebhookDelivery
from calmesh.models.webhooks import EVENTS
from calmesh.schema import Invalid
from calmesh.services import webhooks as service
from calmesh.web import render, web

LOG_PAGE = 50


def _settings():
    return current_app.config["CALMESH"]


def _owned(webhook_id: int) -> Webhook:
    webhook = service.get_for(current_user, webhook_id)
    if webhook is None:
        abort(404)
    return webhook


def _parse_form() -> tuple[dict[str, Any], dict[str, str]]:
    """The URL and the ticked events, checked by the API's declaration."""
    raw = {"url": request.form.get("url", ""), "events": request.form.getlist("events")}
    try:
        return NEW_WEBHOOK.parse(raw), {}
    except Invalid as exc:
        # "events[2]" is the checkbox list as a whole to a person
        return raw, {d["field"].split("[")[0]: d["message"] for d in exc.details}


def _index(errors: dict | None = None, values: dict | None = None, status: int = 200, **extra):
    rows = Webhook.for_user(current_user).order_by(Webhook.id)
    return render(
        "webhooks/index.html",
        webhooks=rows,
        events=EVENTS,
        errors=errors or {},
        values=values or {"events": []},
        **extra,
    ), status


@web.route("/webhooks", methods=["GET", "POST"])
@login_required
def webhooks():
    if request.method == "GET":
        return _index()
    values, errors = _parse_form()
    if not errors:
        try:
            webhook, secret = service.create(
                current_user, values["url"], values["events"], settings=_settings()
            )
        except service.WebhookError as exc:
            errors = {"url": str(exc)}
        else:
            # Rendered, not redirected: the secret must not travel in a flash cookie.
            return _index(created=webhook, secret=secret)
    return _index(errors, values, 400)


def _log(webhook: Webhook) -> tuple[list[WebhookDelivery], int | None]:
    """A page of the delivery log, newest first, and the id to read older ones from."""
    query = service.deliveries_of(webhook)
    before = request.args.get("before", type=int)
    if before:
        query = query.where(WebhookDelivery.id < before)
    rows = list(query.order_by(WebhookDelivery.id.desc()).limit(LOG_PAGE + 1))
    older = rows[LOG_PAGE - 1].id if len(rows) > LOG_PAGE else None
    return rows[:LOG_PAGE], older


def _detail(webhook: Webhook, status: int = 200, errors: dict | None = None, **extra):
    deliveries, older = _log(webhook)
    return render(
        "webhooks/detail.html",
        "webhooks/_deliveries.html",
        webhook=webhook,
        deliveries=deliveries,
        older=older,
        events=EVENTS,
        errors=errors or {},
        **extra,
    ), status


@web.route("/webhooks/<int:webhook_id>", methods=["GET", "POST"])
@login_required
def webhook_detail(webhook_id: int):
    webhook = _owned(webhook_id)
    if request.method == "GET":
        return _detail(webhook)
    values, errors = _parse_form()
    if not errors:
        try:
            service.update(
                webhook, url=values["url"], events=values["events"], settings=_settings()
            )
        except service.WebhookError as exc:
            errors = {"url": str(exc)}
        else:
            flash("Saved the webhook.")
            return redirect(url_for("web.webhook_detail", webhook_id=webhook.id))
    return _detail(_owned(webhook_id), 400, errors)


@web.route("/webhooks/<int:webhook_id>/deliveries")
@login_required
def webhook_deliveries(webhook_id: int):
    """The delivery log alone; htmx polls it while deliveries are pending."""
    webhook = _owned(webhook_id)
    deliveries, older = _log(webhook)
    return render("webhooks/_deliveries.html", webhook=webhook, deliveries=deliveries, older=older)


def _back_to_log(webhook: Webhook, message: str):
    """htmx swaps in the log (which shows what changed); a plain form gets the page."""
    if request.headers.get("HX-Request"):
        return webhook_deliveries(webhook.id)
    flash(message)
    return redirect(url_for("web.webhook_detail", webhook_id=webhook.id))


@web.route("/webhooks/<int:webhook_id>/deliveries/<delivery_id>/redeliver", methods=["POST"])
@login_required
def redeliver(webhook_id: int, delivery_id: str):
    webhook = _owned(webhook_id)
    delivery = service.get_delivery(webhook, delivery_id)
    if delivery is None:
        abort(404)
    try:
        service.redeliver(delivery)
    except service.WebhookError as exc:
        return _back_to_log(webhook, str(exc))
    return _back_to_log(webhook, f"{delivery.event} {delivery.delivery_id} is queued again.")


@web.route("/webhooks/<int:webhook_id>/redeliver-failed", methods=["POST"])
@login_required
def redeliver_failed(webhook_id: int):
    webhook = _owned(webhook_id)
    try:
        count = service.redeliver_failed(webhook)
    except service.WebhookError as exc:
        return _back_to_log(webhook, str(exc))
    return _back_to_log(webhook, f"{count} failed deliveries are queued again.")


@web.route("/webhooks/<int:webhook_id>/ping", methods=["POST"])
@login_required
def ping_webhook(webhook_id: int):
    webhook = _owned(webhook_id)
    try:
        service.ping(webhook)
    except service.WebhookError as exc:
        return _back_to_log(webhook, str(exc))
    return _back_to_log(webhook, "A ping is queued; it is sent within seconds.")


@web.route("/webhooks/<int:webhook_id>/active", methods=["POST"])
@login_required
def toggle_webhook(webhook_id: int):
    webhook = _owned(webhook_id)
    service.update(webhook, active=request.form.get("active") == "1", settings=_settings())
    flash("Webhook resumed." if webhook.active else "Webhook paused: it receives nothing.")
    return redirect(url_for("web.webhook_detail", webhook_id=webhook.id))


@web.route("/webhooks/<int:webhook_id>/rotate", methods=["POST"])
@login_required
def rotate_secret(webhook_id: int):
    webhook, secret = service.update(_owned(webhook_id), rotate_secret=True, settings=_settings())
    return _detail(webhook, secret=secret)


@web.route("/webhooks/<int:webhook_id>/delete", methods=["POST"])
@login_required
def delete_webhook(webhook_id: int):
    webhook = _owned(webhook_id)
    service.delete(webhook)
    flash(f"Deleted the webhook to {webhook.url} and its delivery log.")
    return redirect(url_for("web.webhooks"))
