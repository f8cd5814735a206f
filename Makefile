# The two commands of the README: `make run` and `make test`. Only Python 3.11 and make needed.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app wsgi
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: run test setup bench bench-inprocess bench-points bench-cs bench-soak bench-burst chat clean

# The venv is rebuilt when the requirements change (the stamp is newer than both files).
$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

setup: $(VENV)/.installed

# Embedded defaults: SQLite and a Redis server under instance/, an rq worker and the cron
# scheduler as children of the server, sandbox on.
run: setup
	$(FLASK) db upgrade
	$(FLASK) demo
	$(FLASK) serve --host $(HOST) --port $(PORT)

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Chat with the demo account from a terminal: the sandbox phone, with the webhook in-process.
chat: setup
	$(FLASK) db upgrade
	$(FLASK) demo
	$(FLASK) sandbox chat --account demo --as alice

bench: setup
	$(BIN)/python -m bench.webhook $(BENCH_ARGS)

bench-inprocess: setup
	$(BIN)/python -m bench.inprocess $(BENCH_ARGS)

bench-soak: setup
	$(BIN)/python -m bench.soak $(BENCH_ARGS)

bench-burst: setup
	$(BIN)/python -m bench.burst $(BENCH_ARGS)

bench-points: setup
	$(BIN)/python -m bench.points $(BENCH_ARGS)

bench-cs: setup
	$(BIN)/python -m bench.cs $(BENCH_ARGS)

clean:
	rm -rf $(VENV) instance
