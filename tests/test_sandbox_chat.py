"""`flask sandbox chat`: a person's phone in the terminal, through the real webhook."""


def chat(app, tmp_path, *lines, mode="safe"):
    script = tmp_path / "script.txt"
    script.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["sandbox", "chat", "--account", "hq", "--as", "alice",
                                                "--mode", mode, "--script", str(script)])
    assert result.exit_code == 0, result.output
    return result.output


def test_a_scripted_chat_reads_like_a_transcript(app, account, tmp_path):
    output = chat(app, tmp_path, "/follow", "帮助", "# a comment is skipped", "/click NOPE", "你好",
                  "/unfollow", "/quit", "never sent")
    assert "on hq, safe mode" in output
    assert output.index("alice> /follow\n  欢迎关注总部服务号！") < output.index("alice> 帮助\n  您可以")
    assert "alice> /click NOPE\n  这个功能还在准备中" in output
    assert "alice> 你好\n  没太明白" in output
    assert "alice> /unfollow\n  (no reply)" in output
    assert "never sent" not in output and "comment" not in output


def test_bad_commands_are_explained_not_fatal(app, account, tmp_path):
    output = chat(app, tmp_path, "/teleport", "/scan", "/location north", "/image /nowhere.png",
                  "{code}", "你好", mode="plain")
    assert "alice> /teleport\n  ? unknown command /teleport; /help lists the commands\n" in output
    assert "alice> /scan\n  ? usage: /scan SCENE\n" in output
    assert "alice> /location north\n  ? usage: /location LAT LNG\n" in output
    assert "alice> /image /nowhere.png\n  ? no file /nowhere.png\n" in output
    assert "alice> {code}\n  ? no SMS code has arrived yet" in output
    assert "Traceback" not in output and "commands:" not in output
    assert "alice> 你好\n  没太明白" in output


def test_unknown_account_and_missing_aes_key_are_refused(app, make_account, tmp_path):
    make_account(slug="plain", appid="wx00000000000000b2", aes_key=None)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["sandbox", "chat", "--account", "nope", "--as", "a"])
    assert result.exit_code != 0 and "no account nope" in result.output
    result = runner.invoke(args=["sandbox", "chat", "--account", "plain", "--as", "a", "--aes"])
    assert result.exit_code != 0 and "has no EncodingAESKey" in result.output


def test_url_of_a_server_that_is_down_is_one_line(app, account):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]          # nothing listens there once closed
    result = app.test_cli_runner().invoke(args=["sandbox", "chat", "--account", "hq", "--as", "a",
                                                "--url", f"http://127.0.0.1:{port}"])
    assert result.exit_code == 1
    assert result.output == (f"Error: nothing answers at http://127.0.0.1:{port}: start the service "
                             "(make run) or leave out --url\n")


def test_image_and_voice_go_up_as_the_persons_media_and_arrive_as_pushes(app, account, world, tmp_path):
    picture, voice, text = tmp_path / "photo.png", tmp_path / "hello.amr", tmp_path / "notes.txt"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 64)
    voice.write_bytes(b"#!AMR\n" + b"0" * 64)
    text.write_text("not a picture")
    output = chat(app, tmp_path, "/follow", f"/image {picture}", f"/voice {voice}", f"/image {text}", "/image",
                  mode="plain")
    pushes = [c for c in world.calls() if c["path"] == "/cgi-bin/media/upload"]
    assert pushes == []                      # the person's media is theirs, not an upload by the bot
    from models import Event
    assert f"alice> /image {text}\n  ? WeChat refuses that image: " in output
    assert "alice> /image\n  ? usage: /image PATH\n" in output
    assert "Traceback" not in output
    with app.extensions["db"]() as db:
        events = db.query(Event).order_by(Event.id).all()
    assert [e.type for e in events][-2:] == ["image", "voice"]
    assert world.media(account.appid, events[-2].data.get("media_id") or events[-2].data.get("MediaId")
                       or "")["filename"] == "photo.png"


def test_an_image_the_bot_sends_is_saved_and_its_path_shown(app, account, world, tmp_path):
    from bot.sandbox.outbox import Watch
    from bot.sandbox.phone import sandbox_openid
    openid = sandbox_openid("hq", "alice")
    world.user_event(account.appid, openid, "follow")
    watch = Watch(world, account.appid, openid, tmp_path / "sandbox")
    png = b"\x89PNG\r\n\x1a\n" + b"poster" * 10
    media_id = world.media_store.upload(account.appid, "image", "poster.png", "image/png", len(png), png)["media_id"]
    world.messages.custom_send(account.appid, {"touser": openid, "msgtype": "image", "image": {"media_id": media_id}})
    world.messages.custom_send(account.appid, {"touser": openid, "msgtype": "text", "text": {"content": "好"}})
    image, text = watch.new()
    assert (tmp_path / "sandbox" / f"{media_id[:16]}.png").read_bytes() == png
    assert image.line() == f"  [客服消息 图片] {tmp_path / 'sandbox' / (media_id[:16] + '.png')}"
    assert text.line() == "  [客服消息] 好"
    assert watch.new() == []


def test_the_oauth_page_knows_which_phone_opened_it(app, account):
    """snsapi_base is silent for the phone's person, as in WeChat (straight back with a code);
    snsapi_userinfo asks, with that person filled in."""
    client = app.test_client()
    client.set_cookie("sandbox_openid", "o_phone_person")
    query = {"appid": account.appid, "redirect_uri": "http://127.0.0.1:5000/h5/", "response_type": "code",
             "scope": "snsapi_base", "state": "s1"}
    silent = client.get("/sandbox/open/connect/oauth2/authorize", query_string=query)
    assert silent.status_code == 302 and "code=" in silent.location and "state=s1" in silent.location
    page = client.get("/sandbox/open/connect/oauth2/authorize", query_string={**query, "scope": "snsapi_userinfo"})
    assert page.status_code == 200 and 'value="o_phone_person"' in page.get_data(as_text=True)
