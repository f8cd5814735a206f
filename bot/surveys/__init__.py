"""Surveys guides send from the chat.

    definition.py  reading and checking a survey file (errors by line)
    answers.py     what the server checks in a page of answers: choices, scales, required, skip logic
    catalog.py     loading surveys, and which are open (dates, stores, quota)
    links.py       a guide's link for (survey, guide, group) and its signed token
    responses.py   one response per person per link: saving pages, completing once, paying once
    results.py     per link, per question, the completion list and CSV, scoped by who asks
    cli.py         flask surveys load|list|results

The pages are server-rendered WeUI forms (h5/survey.py), not SurveyJS: survey-core 3.1.1's
survey.core.min.js alone is 1,482,836 bytes (326,526 gzipped), before the survey-js-ui renderer
and its 514 KB theme CSS; a survey page here loads weui.min.css + h5.css + h5.js, 88 KB (9.6 KB
gzipped), shared with the mall and cached. The server must check every answer anyway (choices,
scales, required, skip logic: answers.py), so a client-side engine would only duplicate it.
"""
