"""The one decision of the engine (`idp.authn.policy.next_step`), without HTTP: each rule, and properties."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from idp.authn.journey import Demand
from idp.authn.policy import Done, Next, Session, next_step
from idp.oauth.acr import LOA1, LOA2, LOA3

NOW_SESSION = Session("sid-1", LOA1, 10**10)


def demand(level: int = 1, prompts: str = "", max_age: int | None = None) -> Demand:
    return Demand(level, frozenset(prompts.split()), max_age)


def test_no_session_means_sign_in_or_login_required() -> None:
    assert next_step(demand(), None, Done(), False) == Next("login")
    assert next_step(demand(prompts="none"), None, Done(), False).error == "login_required"


def test_a_level_above_the_session_is_a_step_up_never_a_code() -> None:
    assert next_step(demand(2), NOW_SESSION, Done(), False) == Next("stepup")
    assert next_step(demand(2, "none"), NOW_SESSION, Done(), False).error == "interaction_required"
    declined = Done(stepup_declined_sid="sid-1")
    assert next_step(demand(2), NOW_SESSION, declined, False).error == "unmet_authentication_requirements"


def test_consent_is_asked_when_missing_or_prompted_and_once_per_journey() -> None:
    assert next_step(demand(), NOW_SESSION, Done(), True) == Next("consent")
    assert next_step(demand(prompts="consent"), NOW_SESSION, Done(), False) == Next("consent")
    assert next_step(demand(prompts="consent"), NOW_SESSION, Done(consented_sid="sid-1"), False) == Next("issue")
    # A consent given under another session does not count for this one.
    assert next_step(demand(), NOW_SESSION, Done(consented_sid="sid-0"), True) == Next("consent")
    assert next_step(demand(prompts="none"), NOW_SESSION, Done(), True).error == "consent_required"


def test_prompt_login_and_max_age_ask_again_unless_this_journey_just_signed_in() -> None:
    old = Session("sid-1", LOA1, 1000)
    assert next_step(demand(prompts="login"), NOW_SESSION, Done(), False) == Next("login")
    assert next_step(demand(max_age=60), old, Done(), False) == Next("login")
    assert next_step(demand(max_age=60), old, Done(fresh_sid="sid-1"), False) == Next("issue")


levels = st.sampled_from([LOA1, LOA2, LOA3])


@given(
    wanted=st.integers(1, 3),
    have=levels,
    prompts=st.sets(st.sampled_from(["none", "login", "consent"])),
    missing=st.booleans(),
    fresh=st.booleans(),
    consented=st.booleans(),
)
def test_a_code_is_only_ever_issued_at_the_demanded_level_with_consent(
    wanted: int, have: str, prompts: set[str], missing: bool, fresh: bool, consented: bool
) -> None:
    login = Session("sid", have, 10**10)
    done = Done(fresh_sid="sid" if fresh else None, consented_sid="sid" if consented else None)
    decision = next_step(Demand(wanted, frozenset(prompts), None), login, done, missing)
    if decision.step == "issue":
        assert [LOA1, LOA2, LOA3].index(have) + 1 >= wanted
        assert consented or (not missing and "consent" not in prompts)
        assert fresh or "login" not in prompts
    if "none" in prompts:
        assert decision.step in ("issue", "error")
