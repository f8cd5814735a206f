"""`flask --app wsgi db upgrade`: the database schema."""
import click
from flask import current_app
from flask.cli import AppGroup

from models.migrate import upgrade


@click.group("db", help="Database schema.", cls=AppGroup)
def db_cli():
    pass


@db_cli.command("upgrade", help="Apply every migration (creates the schema on a new database).")
def db_upgrade():
    upgrade(current_app.extensions["engine"])
    click.echo("database is at the latest revision")
