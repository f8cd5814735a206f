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
