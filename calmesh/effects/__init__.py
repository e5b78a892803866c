"""Side effects: what a change queues in its own transaction, and how the
scheduler delivers it.

Why a package of its own beside ``services/`` (and not inside it): side
effects are one flat subsystem that services *call into* and never the other
way round. Services (bookings, polls, webhooks, sync) import the kind module
whose ``queue`` they need; nothing here imports a service that queues work,
so the import graph stays a tree: web/api → services → effects → (models,
engine, providers, and the lower services that deliver through them:
``services.calendars`` for the written-event cache, ``services.sync`` for a
connection's provider, ``services.mail`` for SMTP).

The modules, top to bottom:

* :mod:`~calmesh.effects.outbox` — the queue and its one retry state: rows
  added inside the caller's transaction, claimed with a lease, retried with
  back-off, given up after ``outbox.retry_hours``.
* one module per outbox kind, all of the same shape — ``KIND`` and ``LANE``;
  ``queue(...)`` adds the row (call it inside the change's write
  transaction); ``deliver(payload, context)`` does the work once, raising
  :class:`~calmesh.effects.outbox.Retry` or :class:`~calmesh.effects.outbox.GiveUp`;
  ``gave_up(payload, error, context)`` runs in the transaction that marks the
  item failed:

  - :mod:`~calmesh.effects.mail` (``mail``): a mail rendered when queued;
  - :mod:`~calmesh.effects.booking_mail` (``booking.mail``): a booking's mail,
    queued as an intent and rendered (text and ``.ics``) at delivery;
  - :mod:`~calmesh.effects.booking_writeback` (``booking.writeback``) and
    :mod:`~calmesh.effects.poll_writeback` (``poll.writeback``): the calendar
    write-back, both through :mod:`~calmesh.effects.writeback`;
  - :mod:`~calmesh.effects.webhook` (``webhook.deliver``): one signed POST.

* :mod:`~calmesh.effects.kinds` — the explicit table from kind to module.
* :mod:`~calmesh.effects.delivery` — runs one item through its module.

Delivery takes a :class:`~calmesh.effects.outbox.Context` (the settings and
the link builder), never ``flask.current_app``; the scheduler's runner
(:mod:`calmesh.jobs.outbox`) builds it.
"""
