"""The command table: every operator command group (`flask --app wsgi ...`, DESIGN.md), one module
per group here or in its feature package. This module and bot/routes.py are the only modules of bot/
that import feature packages (menus/, handlers/, workers/, h5/); tests/test_import_rules.py holds it."""
from flask import Flask

from bot.admin.cli import admin_cli
from bot.admin.operators_cli import operators_cli
from bot.binding.unbind import members_unbind
from bot.commands.accounts import accounts_cli
from bot.commands.common import mirror_all_to_sandbox  # noqa: F401  (create_app mirrors accounts at start)
from bot.commands.db import db_cli
from bot.commands.demo import demo
from bot.commands.keywords import keywords_cli
from bot.cs.canned import canned_cli
from bot.cs.cli import cs_cli
from bot.mall.cli import mall_cli
from bot.mass.cli import mass_cli
from bot.org.cli import members_cli, staff_cli, stores_cli
from bot.points.cli import integrations_cli, points_cli
from bot.qr.cli import qr_cli
from bot.qr.move import fans_cli
from bot.qr.stats_cli import qr_stats
from bot.reports.cli import reports_cli
from bot.sandbox.chat import sandbox_cli
from bot.serve import serve
from bot.tag_rules.cli import rules_cli
from bot.surveys.cli import surveys_cli
from bot.tags.cli import tags_cli
from menus.push import menus_cli


def register_commands(app: Flask) -> None:
    members_cli.add_command(members_unbind)
    cs_cli.add_command(canned_cli)            # cs canned add|list (快捷 N)
    qr_cli.add_command(qr_stats)
    tags_cli.add_command(rules_cli)           # tags rules load|list|preview|run
    for group in (db_cli, accounts_cli, keywords_cli, sandbox_cli, points_cli, integrations_cli,
                  stores_cli, staff_cli, members_cli, menus_cli, qr_cli, fans_cli, tags_cli, cs_cli,
                  mall_cli, mass_cli, reports_cli, operators_cli, admin_cli, surveys_cli):
        app.cli.add_command(group)
    app.cli.add_command(demo)
    app.cli.add_command(serve)
