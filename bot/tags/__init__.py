"""Fan tags: ours are the truth, WeChat's copy follows (workers/tags.py mirrors them).

    fan_tags.py  giving tags, the limits, what WeChat should carry for one fan
    cli.py       `tags list|reconcile`: our tags against WeChat's
"""
