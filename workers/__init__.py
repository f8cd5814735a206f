"""rq jobs: every WeChat API call, notifications and slow work. Jobs take ids and are idempotent."""
