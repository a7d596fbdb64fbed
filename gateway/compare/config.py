"""`[experiments.NAME]` configuration (imports only msgspec: gateway.settings imports this)."""

from __future__ import annotations

from collections.abc import Collection, Mapping

import msgspec


class ExperimentSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One experiment: a weighted split of live traffic between providers, plus shadows."""

    variants: dict[str, float]
    """Provider name -> weight (e.g. `{withoutbg = 50, backgrounderase = 50}`)."""
    shadow: tuple[str, ...] = ()
    """Providers that get a copy of a sample of the traffic after the answer went out."""
    shadow_share: float = 0.1
    """Share of the experiment's successful requests copied to the shadow providers."""
    fallback: bool | None = None
    """May a failing variant fall back to another provider (None: the routing default)."""
    enabled: bool = True


def experiment_problems(
    experiments: Mapping[str, ExperimentSettings], providers: Collection[str]
) -> list[str]:
    """Start-up checks: one `config key …: why` message per problem (empty when valid)."""
    problems = []
    for name, experiment in experiments.items():
        where = f"config key `experiments.{name}"
        if not experiment.variants:
            problems.append(f"{where}.variants`: name at least one provider")
        for provider, weight in experiment.variants.items():
            if provider not in providers:
                problems.append(f"{where}.variants`: unknown provider {provider!r}")
            if not weight > 0:
                problems.append(f"{where}.variants.{provider}`: the weight must be > 0")
        for provider in experiment.shadow:
            if provider not in providers:
                problems.append(f"{where}.shadow`: unknown provider {provider!r}")
            if provider in experiment.variants:
                problems.append(f"{where}.shadow`: {provider!r} is also a variant")
        if not 0.0 <= experiment.shadow_share <= 1.0:
            problems.append(f"{where}.shadow_share`: must be in [0, 1]")
    return problems
