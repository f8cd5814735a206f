"""`flask --app wsgi qr ...`: create, list, show and count parametric QR codes."""
import click
from flask.cli import AppGroup


@click.group("qr", help="Parametric QR codes: create, list, show, stats.", cls=AppGroup)
def qr_cli():
    pass
