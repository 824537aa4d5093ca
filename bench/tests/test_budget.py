from harness.scenarios import Case, fit


def case(timeout: float, budget: float) -> Case:
    return Case("k", "t", {"connect_budget_s": budget}, timeout)


def test_a_case_that_fits_runs_unchanged() -> None:
    """With time to spare the case keeps its connect budget and timeout."""
    original = case(100, 25)
    assert fit(original, 500) is original


def test_a_case_short_of_time_gets_a_shorter_connect_budget() -> None:
    """20 s short: the connect budget shrinks by 20 s and the timeout is what is left."""
    fitted = fit(case(100, 40), 80)
    assert fitted.spec["connect_budget_s"] == 20
    assert fitted.timeout_s == 80


def test_a_case_that_cannot_fit_is_skipped() -> None:
    """When even a 10-second budget would not fit, the timeout is 0: skip it."""
    assert fit(case(100, 25), 60).timeout_s == 0
