"""The sandbox: a local stand-in for WeChat's servers, used by `make run` and the tests.

It plays api.weixin.qq.com (`api.api_blueprint`) and the OAuth authorize page of
open.weixin.qq.com (`api.oauth_blueprint`), enforces the platform's rules as
docs/WECHAT-PLATFORM.md §4 and §5 describe them, and records every call. All of its state lives
in Redis under "sandbox:" keys (`state.SandboxWeChat`), so every process sees one WeChat.
"""
