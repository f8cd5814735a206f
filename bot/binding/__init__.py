"""Phone binding: a fan becomes a member (or staff) by a verified phone.

    membership.py  binding a phone, the returning member, naming a referrer
    verify.py      verification codes: issue, resend, check, the daily caps
    sms.py         sending a code by SMS (console or HTTP backend)
    unbind.py      `members unbind`: the operator frees a phone held by a fan
    roles.py       粉丝 / 会员 / 员工, and the menu-role tag that shows it on WeChat
"""
