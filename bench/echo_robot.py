"""The baseline: a bare werobot robot answering a text with the same text.

Same token / EncodingAESKey / AppID as the benchmark account and mounted at the same path
(`/wechat/bench`), so the very same pre-generated requests work against it. It does what any
webhook must do (check the signature, decrypt, parse, render, encrypt) and nothing else: no
database, no Redis, no dedup.

    gunicorn -w 2 -b 127.0.0.1:8002 --pythonpath bench echo_robot:app

The view is werobot.contrib.flask.make_view's, except that it decides per request whether to
encrypt the reply (werobot switches a robot to "always encrypt" the first time it decrypts
anything, which would encrypt plaintext-mode replies after the first safe-mode push).
"""
import html
import os

from flask import Flask, make_response, request
from werobot import WeRoBot

TOKEN = os.environ.get("BENCH_TOKEN", "benchtoken")
AES_KEY = os.environ.get("BENCH_AES_KEY", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")
APPID = os.environ.get("BENCH_APPID", "wxbench00000000001")
SLUG = os.environ.get("BENCH_SLUG", "bench")

robot = WeRoBot(token=TOKEN, encoding_aes_key=AES_KEY, app_id=APPID, SESSION_STORAGE=False)


@robot.text
def echo(message):
    return message.content


def view():
    args = request.args
    timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
    if not robot.check_signature(timestamp, nonce, args.get("signature", "")):
        return robot.make_error_page(html.escape(request.url)), 403
    if request.method == "GET":
        return args.get("echostr", "")
    message = robot.parse_message(request.get_data(), timestamp=timestamp, nonce=nonce,
                                  msg_signature=args.get("msg_signature", ""))
    reply = robot.get_reply(message)
    if not reply:
        return "success"
    if args.get("encrypt_type") == "aes":
        body = robot.crypto.encrypt_message(reply)
    else:
        body = reply.render()
    response = make_response(body)
    response.mimetype = "text/xml"
    return response


app = Flask(__name__)
app.add_url_rule(f"/wechat/{SLUG}", endpoint="werobot", view_func=view, methods=["GET", "POST"])
