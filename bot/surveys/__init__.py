"""Surveys guides send from the chat (issue #16).

    definition.py  reading and checking a survey file (errors by line)
    answers.py     what the server checks in a page of answers: choices, scales, required, skip logic
    catalog.py     loading surveys, and which are open (dates, stores, quota)
    links.py       a guide's link for (survey, guide, group) and its signed token
    responses.py   one response per person per link: saving pages, completing once, paying once
    results.py     per link, per question, the completion list and CSV, scoped by who asks
    cli.py         flask surveys load|list|results
"""
