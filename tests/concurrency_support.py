"""Running actions in threads released at the same instant, as concurrent workers would."""
import threading


def at_once(actions, expected: tuple[type[BaseException], ...] = ()) -> list:
    """Each action's result, or the `expected` exception it raised; any other error is re-raised
    in the test's own thread."""
    start = threading.Barrier(len(actions))
    results: list = [None] * len(actions)
    errors: list[BaseException] = []

    def run(n, action):
        try:
            start.wait(timeout=10)
            results[n] = action()
        except expected as refused:
            results[n] = refused
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n, a)) for n, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    if errors:
        raise errors[0]
    return results
