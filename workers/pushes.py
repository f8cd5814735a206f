"""Finishing pushes the webhook acknowledged without an answer (bot/overload.py)."""
from bot.overload import finish_deferred
from workers import runtime


def finish_push(slug: str, xml: str) -> None:
    """Run the turn of a deferred push; its answer leaves by the outbound policy. Safe to run
    twice: only the first claim of the push runs it."""
    flask_app = runtime.app()
    with flask_app.app_context():
        finish_deferred(flask_app, slug, xml)
