"""Public pages: a booking page at /{handle}/{slug}, and a visitor's booking."""

from __future__ import annotations

from flask import Blueprint, abort, render_template

from calmesh.auth import signing
from calmesh.services import booking_pages, bookings

public = Blueprint("public", __name__)


@public.route("/<handle>/<slug>")
def booking_page(handle: str, slug: str):
    page = booking_pages.public_page(slug)
    if page is None or page.user.handle != handle:
        abort(404)
    return render_template("public/booking_page.html", page=page)


@public.route("/b/<uid>")
def manage_booking(uid: str):
    from flask import request

    try:
        booking = bookings.by_manage_token(uid, request.args.get("token", ""))
    except signing.BadToken as exc:
        abort(403, str(exc))
    return render_template("public/manage.html", booking=booking)
