"""`steward ab plan | readout`: plan a fixed-horizon A/B test, and read one without peeking."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from steward.cli._output import fields_grid, indented, print_json, stdout
from steward.errors import InvalidInput

app = typer.Typer(
    name="ab",
    help="A/B tests: the sample a fixed-horizon test needs, and a readout that gives the "
    "planned verdict only once the plan is reached, beside an always-valid sequential "
    "p-value (mSPRT) and the probability that B beats A.",
    no_args_is_help=True,
)

MetricOption = Annotated[
    str, typer.Option("--metric", help="proportion (a rate such as conversion) or mean.")
]
Baseline = Annotated[float, typer.Option(help="Arm A's rate or mean today.")]
Mde = Annotated[
    float, typer.Option(help="The smallest difference worth detecting (absolute; see --relative).")
]
Sd = Annotated[float | None, typer.Option(help="The metric's standard deviation (means only).")]
Alpha = Annotated[float, typer.Option(help="False-positive rate, two-sided.")]
Power = Annotated[float, typer.Option(help="Chance to detect a difference of --mde.")]
Relative = Annotated[bool, typer.Option(help="Read --mde as a share of --baseline.")]


def _metric(value: str) -> Literal["proportion", "mean"]:
    if value not in ("proportion", "mean"):
        raise InvalidInput(f"--metric is 'proportion' or 'mean'; got {value!r}.")
    return "proportion" if value == "proportion" else "mean"


@app.command("plan")
def plan(
    baseline: Baseline,
    mde: Mde,
    metric: MetricOption = "proportion",
    sd: Sd = None,
    alpha: Alpha = 0.05,
    power: Power = 0.8,
    relative: Relative = False,
    deployment: Annotated[
        str | None,
        typer.Option(
            help="Store the plan for this A/B deployment (before the test starts): its web "
            "page then shows progress toward the plan and holds the verdict until reached."
        ),
    ] = None,
    control: Annotated[
        str | None, typer.Option(help="With --deployment: the route that is arm A.")
    ] = None,
    treatment: Annotated[
        str | None, typer.Option(help="With --deployment: the route that is arm B.")
    ] = None,
    restart: Annotated[
        bool,
        typer.Option(
            help="With --deployment: start a new test from now (the earlier plan's requests "
            "stop counting). Without it, a changed plan keeps the test's start."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
) -> None:
    """Print how many observations each arm needs before the test may be read.

    Example:

    ```
    steward ab plan --baseline 0.10 --mde 0.02            # 3,841 per arm
    steward ab plan --metric mean --baseline 42 --mde 1.5 --sd 12 --power 0.9
    steward ab plan --baseline 0.10 --mde 0.02 --deployment churn-ab   # stored
    ```
    """
    from steward.iterate import plan_ab_test, set_ab_plan

    if (control or treatment or restart) and not deployment:
        raise InvalidInput(
            "--control, --treatment and --restart apply to a --deployment's plan; add it."
        )
    made = plan_ab_test(
        _metric(metric), baseline, mde, sd=sd, alpha=alpha, power=power, relative=relative
    )
    if deployment:
        made.control, made.treatment = control, treatment
        made = set_ab_plan(deployment, made, restart=restart)
    if as_json:
        print_json(made.model_dump(mode="json"))
        return
    stdout().print(made.describe() + ".")
    if deployment:
        stdout().print(f"Stored as the plan of deployment {deployment!r}.")


def _arm(text: str, metric: str, which: str) -> object:
    from steward.iterate import Arm

    parts = text.split(":")
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        numbers = []
    if metric == "proportion" and len(numbers) == 2:
        return Arm(n=int(numbers[0]), total=numbers[1])
    if metric == "mean" and len(numbers) == 3:
        n, mean, sd = int(numbers[0]), numbers[1], numbers[2]
        return Arm(n=n, total=n * mean, total_sq=(n - 1) * sd**2 + n * mean**2)
    shape = (
        "N:SUCCESSES, e.g. 4000:400" if metric == "proportion" else "N:MEAN:SD, e.g. 250:41.8:12"
    )
    raise InvalidInput(f"--{which} {text!r} is not {shape}.")


@app.command("readout")
def readout(
    baseline: Annotated[
        float | None, typer.Option(help="Arm A's rate or mean today (not with --deployment).")
    ] = None,
    mde: Annotated[
        float | None,
        typer.Option(help="The smallest difference worth detecting (not with --deployment)."),
    ] = None,
    a: Annotated[str | None, typer.Option("--a", help="Arm A: N:SUCCESSES (or N:MEAN:SD).")] = None,
    b: Annotated[str | None, typer.Option("--b", help="Arm B: N:SUCCESSES (or N:MEAN:SD).")] = None,
    deployment: Annotated[
        str | None,
        typer.Option(
            help="Read a live A/B deployment instead: its stored plan (`ab plan "
            "--deployment`) against the rewards its routes got through /feedback."
        ),
    ] = None,
    metric: MetricOption = "proportion",
    sd: Sd = None,
    alpha: Alpha = 0.05,
    power: Power = 0.8,
    relative: Relative = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the readout as JSON.")] = False,
) -> None:
    """Read an A/B test against its plan: the fixed-horizon verdict once the planned sample
    is reached (not before), the always-valid sequential p-value, the Bayesian readout.

    Example:

    ```
    steward ab readout --baseline 0.10 --mde 0.02 --a 4000:400 --b 4000:470
    steward ab readout --metric mean --baseline 42 --mde 1.5 --sd 12 --a 900:42.1:12 --b 900:43.9:12.4
    steward ab readout --deployment churn-ab      # the stored plan, the logged rewards
    ```
    """
    from steward.iterate import Arm, ab_readout, analyze_ab_test, plan_ab_test

    options = {"--baseline": baseline, "--mde": mde, "--a": a, "--b": b}
    if deployment:
        extra = [name for name, value in options.items() if value is not None]
        if extra:
            raise InvalidInput(
                "--deployment reads the stored plan and the logged rewards; drop "
                f"{', '.join(extra)}."
            )
        result = ab_readout(deployment)
        made, arm_a, arm_b = result.plan, result.a, result.b
        alpha = made.alpha
    else:
        missing = [name for name, value in options.items() if value is None]
        if missing:
            raise InvalidInput(
                f"Give {', '.join(missing)} (the plan and both arms), or --deployment NAME to "
                "read a live A/B deployment."
            )
        assert baseline is not None and mde is not None and a is not None and b is not None
        kind = _metric(metric)
        made = plan_ab_test(kind, baseline, mde, sd=sd, alpha=alpha, power=power, relative=relative)
        parsed_a, parsed_b = _arm(a, kind, "a"), _arm(b, kind, "b")
        assert isinstance(parsed_a, Arm) and isinstance(parsed_b, Arm)
        arm_a, arm_b = parsed_a, parsed_b
        result = analyze_ab_test(made, arm_a, arm_b)
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    fixed, seq, bayes = result.fixed, result.sequential, result.bayesian
    facts = [
        ("plan", made.describe()),
        ("A", f"{arm_a.n:,} observed, mean {arm_a.mean:.4g}"),
        ("B", f"{arm_b.n:,} observed, mean {arm_b.mean:.4g}"),
        ("fixed horizon", fixed.message),
    ]
    if fixed.ready and fixed.ci_low is not None and fixed.ci_high is not None:
        facts.append(
            (f"{1 - alpha:.0%} interval", f"B - A in [{fixed.ci_low:+.4g}, {fixed.ci_high:+.4g}]")
        )
    facts += [
        (
            "sequential (mSPRT)",
            f"always-valid p = {seq.p_value:.3g}"
            + (" — significant, safe to stop" if seq.significant else " — keep going"),
        ),
        ("P(B beats A)", f"{bayes.prob_b_beats_a:.1%}"),
        (
            "expected loss",
            f"choosing A {bayes.expected_loss_choosing_a:.4g}, "
            f"choosing B {bayes.expected_loss_choosing_b:.4g}",
        ),
    ]
    stdout().print(indented(fields_grid(facts)))
